/*
 * The worker's memcached UDP step: a burst's requests in, reply datagrams
 * out, built in the request mbufs.
 *
 * Two ways through:
 *   - runs of plain "get <key>\r\n" requests (the common case, one key,
 *     nothing else in the datagram) are looked up together with
 *     cc_get_bulk, which hashes every key, prefetches the buckets and then
 *     the items before comparing any. Their replies are written here,
 *     byte for byte what the protocol layer frames for them.
 *   - everything else goes through proto_udp_serve one datagram at a time,
 *     in arrival order (a run of gets is served before the request that
 *     ends it, so a set followed by a get sees its own write).
 * A reply's first datagram reuses the request's mbuf (headers swapped,
 * payload rewritten); further ones come from the port's pool with a copy
 * of the headers. A value of zero_copy_min bytes or more in a batched get
 * is not copied: its datagrams chain an mbuf whose external buffer points
 * into cache memory, holding an engine reference that the last of those
 * mbufs releases when the driver frees it (dp_dpdk_zc_free). That needs a
 * PMD that sends chained mbufs, IOVA-as-VA addressing, and for now a
 * virtual device (a NIC would need the segments DMA-mapped, see
 * dpdk.c); elsewhere values are copied.
 *
 * Amplification guard: a reply larger than `amplification` times the
 * request's UDP payload, to a source outside the allow-list, is not sent
 * (counted). A reply is sent whole or not at all.
 */
#include <string.h>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "dpdk_internal.h"

#define HDR_LEN (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + \
		 sizeof(struct rte_udp_hdr))
#define FRAME_LEN (HDR_LEN + PROTO_UDP_HEADER_LEN)
#define PAYLOAD_MAX (PROTO_UDP_DATAGRAM_MAX - PROTO_UDP_HEADER_LEN)

/* A reply message in up to three pieces: the VALUE line (copied), the
 * value (copied, or by reference when zc is set) and the trailer. */
struct piece {
	const char *p;
	uint32_t len;
	bool ref;
};

static struct rte_ipv4_hdr *ip_of(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *,
				       sizeof(struct rte_ether_hdr));
}

void dp_dpdk_udp_headers(const struct dp_dpdk_port *port, struct rte_mbuf *m,
			 uint16_t payload_len)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = ip_of(m);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint32_t addr = ip->src_addr;
	uint16_t sport = udp->src_port;

	eth->dst_addr = eth->src_addr;
	eth->src_addr = port->mac;
	ip->src_addr = port->addr_be;
	ip->dst_addr = addr;
	ip->time_to_live = 64;
	ip->fragment_offset = 0;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) +
					    sizeof(*udp) + payload_len));
	udp->src_port = udp->dst_port;
	udp->dst_port = sport;
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) +
					  payload_len));
}

/* The sum of a datagram's UDP payload, segment by segment, added to sum.
 * DPDK 22.11's rte_ipv4_udptcp_cksum_mbuf drops the carries of a segment
 * that starts at an odd offset (it byte-swaps the unfolded sum cut to 16
 * bits), and the VALUE line before a zero-copy value has any length; so
 * each segment's sum is folded first, then swapped when it starts odd. */
static uint16_t chain_cksum(const struct rte_mbuf *m, uint32_t sum)
{
	uint32_t off = 0, skip = HDR_LEN;

	for (const struct rte_mbuf *s = m; s; s = s->next) {
		const char *p = rte_pktmbuf_mtod(s, const char *);
		uint32_t len = s->data_len;
		uint16_t part;

		if (skip) {  /* the first segment: from the payload on */
			p += skip;
			len -= skip;
			skip = 0;
		}
		part = dp_dpdk_cksum(p, len);
		sum += off & 1 ? rte_bswap16(part) : part;
		off += len;
	}
	return dp_dpdk_fold(sum);
}

/* Sets a datagram's lengths (payload_len UDP payload bytes) and its
 * checksums, once every segment is in place. */
static void finish(const struct dp_dpdk_port *port, uint16_t port_be,
		   struct rte_mbuf *m, uint16_t payload_len)
{
	struct rte_ipv4_hdr *ip = ip_of(m);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint32_t sum, addr;
	uint16_t len_be;

	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) +
					    sizeof(*udp) + payload_len));
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) +
					  payload_len));
	ip->hdr_checksum = 0;
	udp->dgram_cksum = 0;
	if (port->tx_cksum) {
		m->l2_len = sizeof(struct rte_ether_hdr);
		m->l3_len = sizeof(*ip);
		m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_TX_OFFLOAD_MASK) |
			      RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
			      RTE_MBUF_F_TX_UDP_CKSUM;
		udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
		return;
	}
	m->ol_flags &= ~RTE_MBUF_F_TX_OFFLOAD_MASK;
	/* The headers' sums from the values dp_dpdk_udp_headers wrote (a
	 * 20-byte header, TOS 0, TTL 64, no fragment bits), not read back:
	 * the compiler merges adjacent field loads into wider ones, which
	 * wait for the narrower stores just made (store forwarding). Only
	 * fields nobody wrote, and whole ones, are read. */
	addr = ip->dst_addr;
	sum = (port->addr_be & 0xffff) + (port->addr_be >> 16) +
	      (addr & 0xffff) + (addr >> 16);
	ip->hdr_checksum = (uint16_t)~dp_dpdk_fold(sum +
		dp_dpdk_pair(0x45, 0) + dp_dpdk_pair(64, IPPROTO_UDP) +
		rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + sizeof(*udp) +
					    payload_len)) + ip->packet_id);
	/* Pseudo-header, UDP header, then the payload from memory. */
	len_be = rte_cpu_to_be_16((uint16_t)(sizeof(*udp) + payload_len));
	sum += dp_dpdk_pair(0, IPPROTO_UDP) + 2 * (uint32_t)len_be +
	       port_be + udp->dst_port;
	sum = m->nb_segs == 1 ?
		sum + dp_dpdk_cksum(udp + 1, payload_len) : chain_cksum(m, sum);
	sum = (uint16_t)~dp_dpdk_fold(sum);
	/* 0 means "no checksum" in UDP over IPv4. */
	udp->dgram_cksum = (uint16_t)(sum ? sum : 0xffff);
}

void dp_dpdk_zc_free(void *addr, void *opaque)
{
	struct dp_dpdk_zc *zc = opaque;

	(void)addr;
	cc_ref_put(zc->cache, &zc->view);
	rte_mempool_put(zc->pool, zc);
}

/* The guard: true when the reply may go. */
static bool amplification_ok(struct dp_dpdk_worker *w, unsigned pi,
			     struct rte_mbuf *m, uint16_t req_len,
			     size_t reply_len)
{
	const struct dp_dpdk_guard *g = &w->d->guard;
	uint32_t factor = dp_dpdk_guard_amplification(g);

	if (!factor || reply_len <= (uint64_t)factor * req_len ||
	    dp_dpdk_guard_allowed(g, rte_be_to_cpu_32(ip_of(m)->src_addr)))
		return true;
	dp_dpdk_count(&w->counters[pi].drop_amplification, 1);
	return false;
}

/* Datagram i of a reply: the request mbuf for the first, else a new mbuf
 * with a copy of the first's headers. NULL when the pool is empty. */
static struct rte_mbuf *dgram_mbuf(struct dp_dpdk_port *port,
				   struct rte_mbuf *first, unsigned i)
{
	struct rte_mbuf *m;

	if (i == 0) {
		first->data_len = (uint16_t)FRAME_LEN;
		first->pkt_len = FRAME_LEN;
		return first;
	}
	m = rte_pktmbuf_alloc(port->pool);
	if (!m)
		return NULL;
	memcpy(rte_pktmbuf_mtod(m, char *), rte_pktmbuf_mtod(first, char *),
	       HDR_LEN);
	m->data_len = (uint16_t)FRAME_LEN;
	m->pkt_len = FRAME_LEN;
	return m;
}

static void put_frame(struct rte_mbuf *m, uint16_t request_id, uint16_t seq,
		      uint16_t total)
{
	/* One 8-byte store: the checksum reads these bytes back a word at a
	 * time. */
	const uint16_t f[4] = { rte_cpu_to_be_16(request_id),
				rte_cpu_to_be_16(seq),
				rte_cpu_to_be_16(total), 0 };

	memcpy(rte_pktmbuf_mtod_offset(m, void *, HDR_LEN), f, sizeof(f));
}

/* Frees the first n datagrams of a reply that will not be sent (the first
 * is the request's mbuf), or the request's mbuf alone when none was
 * built. */
static void unbuild(struct dp_dpdk_worker *w, unsigned pi,
		    struct rte_mbuf *req_m, unsigned n)
{
	dp_dpdk_count(&w->counters[pi].drop_no_mbuf, 1);
	if (n == 0)
		rte_pktmbuf_free(req_m);
	else
		rte_pktmbuf_free_bulk(w->dgrams, n);
}

/* Appends [p, p + len) to the datagram head whose last segment is *tail:
 * copied, or (ref) as an external buffer sharing zc's shinfo. */
static int append(struct dp_dpdk_port *port, struct rte_mbuf *head,
		  struct rte_mbuf **tail, const char *p, uint16_t len,
		  bool ref, struct dp_dpdk_zc *zc, unsigned *attached)
{
	struct rte_mbuf *t = *tail, *x;

	if (!ref && !RTE_MBUF_HAS_EXTBUF(t) && rte_pktmbuf_tailroom(t) >= len) {
		memcpy(rte_pktmbuf_mtod_offset(t, char *, t->data_len), p,
		       len);
		t->data_len = (uint16_t)(t->data_len + len);
		head->pkt_len += len;
		return 0;
	}
	x = rte_pktmbuf_alloc(port->pool);
	if (!x)
		return -ENOMEM;
	if (ref) {
		/* No mbuf can be freed before the reply is staged, so the
		 * count is ours alone until then. */
		if ((*attached)++ == 0)
			rte_mbuf_ext_refcnt_set(&zc->shinfo, 1);
		else
			rte_mbuf_ext_refcnt_update(&zc->shinfo, 1);
		rte_pktmbuf_attach_extbuf(x, (void *)(uintptr_t)p,
					  (rte_iova_t)(uintptr_t)p, len,
					  &zc->shinfo);
	} else {
		memcpy(rte_pktmbuf_mtod(x, char *), p, len);
	}
	x->data_len = len;
	t->next = x;
	*tail = x;
	head->nb_segs++;
	head->pkt_len += len;
	return 0;
}

/* Sends one message (its pieces in order) as ceil(total / 1392)
 * datagrams framed with the request's id, the first in the request's
 * mbuf. The reply is sent whole, or dropped whole and counted; either way
 * the request's mbuf and zc (NULL when nothing is by reference) are
 * given up. */
static void send_message(struct dp_dpdk_worker *w, unsigned pi,
			 const struct dp_dpdk_udp_req *req,
			 const struct piece *pc, unsigned npc,
			 struct dp_dpdk_zc *zc)
{
	struct dp_dpdk_port *port = &w->d->ports[pi];
	uint16_t request_id = (uint16_t)(((uint8_t)req->payload[0] << 8) |
					 (uint8_t)req->payload[1]);
	unsigned ndg, built = 0, attached = 0, p = 0;
	uint32_t off = 0;  /* bytes of pc[p] already placed */
	size_t total = 0;

	for (unsigned i = 0; i < npc; i++)
		total += pc[i].len;
	ndg = (unsigned)((total + PAYLOAD_MAX - 1) / PAYLOAD_MAX);
	if (ndg > DP_DPDK_DGRAMS_MAX) {
		/* As the protocol layer does for a reply this long. */
		proto_count(&w->pw->counters.udp_replies_dropped, 1);
		rte_pktmbuf_free(req->m);
		goto release;
	}
	if (!amplification_ok(w, pi, req->m, req->len,
			      total + ndg * PROTO_UDP_HEADER_LEN)) {
		rte_pktmbuf_free(req->m);
		goto release;
	}
	dp_dpdk_udp_headers(port, req->m, 0);
	for (; built < ndg; built++) {
		struct rte_mbuf *m = dgram_mbuf(port, req->m, built), *tail;
		uint32_t room = PAYLOAD_MAX;

		if (!m)
			goto unbuild;
		w->dgrams[built] = m;
		tail = m;
		put_frame(m, request_id, (uint16_t)built, (uint16_t)ndg);
		while (room && p < npc) {
			uint32_t n = pc[p].len - off;

			if (n > room)
				n = room;
			if (n && append(port, m, &tail, pc[p].p + off,
					(uint16_t)n, pc[p].ref, zc,
					&attached)) {
				built++;
				goto unbuild;
			}
			room -= n;
			off += n;
			if (off == pc[p].len) {
				p++;
				off = 0;
			}
		}
		finish(port, w->d->udp_port_be, m, (uint16_t)(m->pkt_len - HDR_LEN));
	}
	for (unsigned i = 0; i < ndg; i++)
		dp_dpdk_stage(w, pi, w->dgrams[i]);
	dp_dpdk_count(&w->counters[pi].udp_replies, ndg);
	dp_dpdk_count(&w->counters[pi].zero_copy, attached);
	proto_count(&w->pw->counters.bytes_written,
		    total + ndg * PROTO_UDP_HEADER_LEN);
	if (zc && !attached)
		goto release;
	return;
unbuild:
	unbuild(w, pi, req->m, built);
release:
	/* Once attached, the reference goes with the last mbuf freed. */
	if (zc && !attached)
		dp_dpdk_zc_free(NULL, zc);
}

/* A datagram that is exactly "get <key>\r\n": one key of printable
 * bytes, nothing else. */
static bool plain_get(const struct dp_dpdk_udp_req *r, struct cc_key *key)
{
	const char *p = r->payload + PROTO_UDP_HEADER_LEN;
	size_t n = r->len - PROTO_UDP_HEADER_LEN, klen;

	if (n < 7 || memcmp(p, "get ", 4) || p[n - 2] != '\r' ||
	    p[n - 1] != '\n')
		return false;
	klen = n - 6;
	if (klen > CC_KEY_MAX)
		return false;
	for (size_t i = 0; i < klen; i++)
		if ((uint8_t)p[4 + i] <= ' ' || (uint8_t)p[4 + i] >= 0x7f)
			return false;
	key->data = p + 4;
	key->len = klen;
	return true;
}

/* A zero-copy holder for view v, pinned; NULL (copy instead) when the
 * pool is empty. */
static struct dp_dpdk_zc *zc_take(struct dp_dpdk_worker *w,
				  struct dp_dpdk_port *port,
				  const struct cc_view *v)
{
	struct dp_dpdk_zc *zc;

	if (rte_mempool_get(port->zc_pool, (void **)&zc))
		return NULL;
	zc->view = *v;
	zc->cache = w->d->ps->cache;
	zc->pool = port->zc_pool;
	zc->shinfo.free_cb = dp_dpdk_zc_free;
	zc->shinfo.fcb_opaque = zc;
	rte_mbuf_ext_refcnt_set(&zc->shinfo, 1);
	cc_ref_get(w->pw->thread, v);
	return zc;
}

static unsigned digits(uint32_t v)
{
	unsigned n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* The common get: its reply (a miss, or a hit copied) fits one datagram
 * and is written straight into the request's mbuf, over the request's
 * own payload. The key moves first (memmove: "VALUE " is longer than
 * "get "). Returns false, having done nothing, when the reply does not
 * fit. */
static bool send_small_get(struct dp_dpdk_worker *w, unsigned pi,
			   const struct dp_dpdk_udp_req *req,
			   const struct cc_key *key, const struct cc_view *v)
{
	struct dp_dpdk_port *port = &w->d->ports[pi];
	struct rte_mbuf *m = req->m;
	uint16_t request_id = (uint16_t)(((uint8_t)req->payload[0] << 8) |
					 (uint8_t)req->payload[1]);
	size_t n = 5;  /* "END\r\n" */
	char *p;

	if (v)
		n = 6 + key->len + 1 + digits(v->flags) + 1 +
		    digits(v->value_len) + 2 + v->value_len + 7;
	if (n > PAYLOAD_MAX)
		return false;
	if (!amplification_ok(w, pi, m, req->len, n + PROTO_UDP_HEADER_LEN)) {
		rte_pktmbuf_free(m);
		return true;
	}
	p = rte_pktmbuf_mtod_offset(m, char *, FRAME_LEN);
	if (v) {
		memmove(p + 6, key->data, key->len);
		memcpy(p, "VALUE ", 6);
		p += 6 + key->len;
		*p++ = ' ';
		p = proto_utoa(v->flags, p);
		*p++ = ' ';
		p = proto_utoa(v->value_len, p);
		*p++ = '\r';
		*p++ = '\n';
		memcpy(p, v->value, v->value_len);
		memcpy(p + v->value_len, "\r\nEND\r\n", 7);
	} else {
		memcpy(p, "END\r\n", 5);
	}
	dp_dpdk_udp_headers(port, m, 0);
	put_frame(m, request_id, 0, 1);
	m->data_len = (uint16_t)(FRAME_LEN + n);
	m->pkt_len = m->data_len;
	finish(port, w->d->udp_port_be, m, (uint16_t)(PROTO_UDP_HEADER_LEN + n));
	dp_dpdk_stage(w, pi, m);
	dp_dpdk_count(&w->counters[pi].udp_replies, 1);
	proto_count(&w->pw->counters.bytes_written, n + PROTO_UDP_HEADER_LEN);
	return true;
}

/* A run of plain gets: looked up in one batch, answered as the protocol
 * layer answers a one-key get over UDP ("VALUE ...", the value, and END
 * riding with it in one message; "END" alone for a miss). */
static void serve_gets(struct dp_dpdk_worker *w, unsigned pi,
		       struct dp_dpdk_udp_req **run, const struct cc_key *keys,
		       unsigned n)
{
	struct dp_dpdk_port *port = &w->d->ports[pi];
	struct proto_counters *pc = &w->pw->counters;
	uint32_t zc_min = w->d->ps->settings.zero_copy_min;
	struct cc_view views[DP_DPDK_BURST];
	int results[DP_DPDK_BURST];
	unsigned hits;

	hits = cc_get_bulk(w->pw->thread, n, keys, views, results);
	proto_count(&pc->cmd_get, n);
	proto_count(&pc->get_hits, hits);
	proto_count(&pc->get_misses, n - hits);
	proto_count(&pc->udp_requests, n);
	dp_dpdk_count(&w->counters[pi].bulk_gets, n);
	for (unsigned i = 0; i < n; i++) {
		char line[6 + CC_KEY_MAX + 24], *e = line;
		struct dp_dpdk_zc *zc = NULL;
		const struct cc_view *v = &views[i];
		struct piece msg[3];

		proto_count(&pc->bytes_read, run[i]->len);
		if (results[i] != 0) {
			send_small_get(w, pi, run[i], &keys[i], NULL);
			continue;
		}
		if (!(port->zero_copy && v->value_len >= zc_min) &&
		    send_small_get(w, pi, run[i], &keys[i], v))
			continue;
		memcpy(e, "VALUE ", 6);
		e += 6;
		memcpy(e, keys[i].data, keys[i].len);
		e += keys[i].len;
		*e++ = ' ';
		e = proto_utoa(v->flags, e);
		*e++ = ' ';
		e = proto_utoa(v->value_len, e);
		*e++ = '\r';
		*e++ = '\n';
		if (port->zero_copy && v->value_len >= zc_min)
			zc = zc_take(w, port, v);
		msg[0] = (struct piece){ line, (uint32_t)(e - line), false };
		msg[1] = (struct piece){ v->value, v->value_len, zc != NULL };
		msg[2] = (struct piece){ "\r\nEND\r\n", 7, false };
		send_message(w, pi, run[i], msg, 3, zc);
	}
}

/* Any other request: the protocol layer frames its reply datagrams into
 * w->out, copied here one per mbuf. */
static void serve_one(struct dp_dpdk_worker *w, unsigned pi,
		      struct dp_dpdk_udp_req *req)
{
	struct dp_dpdk_port *port = &w->d->ports[pi];
	struct cc_cache *cache = w->d->ps->cache;
	size_t total, off = 0;
	unsigned built = 0;
	int n;

	n = proto_udp_serve(w->pw, req->payload, req->len, &w->reply, &w->out,
			    w->lens, DP_DPDK_DGRAMS_MAX);
	if (n <= 0) {
		if (n < 0)
			dp_dpdk_count(&w->counters[pi].drop_no_mbuf, 1);
		rte_pktmbuf_free(req->m);
		return;
	}
	total = proto_out_pending(&w->out);
	if (!amplification_ok(w, pi, req->m, req->len, total)) {
		rte_pktmbuf_free(req->m);
		goto consume;
	}
	dp_dpdk_udp_headers(port, req->m, 0);
	for (; built < (unsigned)n; built++) {
		struct rte_mbuf *m = dgram_mbuf(port, req->m, built);

		if (!m) {
			unbuild(w, pi, req->m, built);
			goto consume;
		}
		proto_out_copy(&w->out, off, w->lens[built],
			       rte_pktmbuf_mtod_offset(m, char *, HDR_LEN));
		m->data_len = (uint16_t)(HDR_LEN + w->lens[built]);
		m->pkt_len = m->data_len;
		finish(port, w->d->udp_port_be, m, w->lens[built]);
		off += w->lens[built];
		w->dgrams[built] = m;
	}
	for (unsigned i = 0; i < built; i++)
		dp_dpdk_stage(w, pi, w->dgrams[i]);
	dp_dpdk_count(&w->counters[pi].udp_replies, built);
	proto_count(&w->pw->counters.bytes_written, total);
consume:
	proto_out_consume(&w->out, cache, total, NULL);
}

void dp_dpdk_udp_serve(struct dp_dpdk_worker *w, struct dp_dpdk_port *port,
		       struct dp_dpdk_udp_req *reqs, unsigned n)
{
	unsigned pi = (unsigned)(port - w->d->ports);
	struct dp_dpdk_udp_req *run[DP_DPDK_BURST];
	struct cc_key keys[DP_DPDK_BURST];
	unsigned nrun = 0;

	for (unsigned i = 0; i < n; i++) {
		if (w->d->bulk_get && plain_get(&reqs[i], &keys[nrun])) {
			run[nrun++] = &reqs[i];
			continue;
		}
		if (nrun) {
			serve_gets(w, pi, run, keys, nrun);
			nrun = 0;
		}
		serve_one(w, pi, &reqs[i]);
	}
	if (nrun)
		serve_gets(w, pi, run, keys, nrun);
}
