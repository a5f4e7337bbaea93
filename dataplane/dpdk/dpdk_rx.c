/*
 * The worker's receive side: classify each packet of a burst and answer
 * what the dataplane answers itself.
 *
 * Order of the checks, cheapest first, each packet read once:
 *   - ARP request for the port's address: answered in place. Any other
 *     ARP (replies to the kernel's own requests included) goes to the
 *     kernel, which keeps its neighbour table from them.
 *   - IPv4 to the port's address: ICMP echo answered in place; UDP to the
 *     memcached port checked (fragments, IP options, lengths, checksums,
 *     the memcached frame header) and queued for the burst's UDP step.
 *   - everything else (TCP, other UDP ports, IPv6, broadcasts, ICMP other
 *     than echo, fragments we cannot classify) goes to the kernel through
 *     the port's exception TAP: the kernel stack then serves TCP (the
 *     io_uring server), SSH, DHCP on the same address, and what it sends
 *     back is read from the TAP and sent out of the port.
 * A packet whose headers are cut short or contradict each other is
 * dropped and counted: nothing in them is trusted beyond the bytes the
 * mbuf holds.
 */
#include <rte_arp.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "dpdk_internal.h"

#define ETH_LEN ((uint16_t)sizeof(struct rte_ether_hdr))
#define IP_LEN ((uint16_t)sizeof(struct rte_ipv4_hdr))
#define UDP_LEN ((uint16_t)sizeof(struct rte_udp_hdr))

void dp_dpdk_flush(struct dp_dpdk_worker *w, unsigned pi)
{
	struct dp_dpdk_port *port = &w->d->ports[pi];
	struct dp_dpdk_qcounters *k = &w->counters[pi];
	struct dp_dpdk_txq *q = &w->tx[pi];
	uint16_t sent;

	if (q->n) {
		sent = rte_eth_tx_burst(port->id, (uint16_t)w->id, q->pkts,
					(uint16_t)q->n);
		dp_dpdk_count(&k->tx, sent);
		if (sent < q->n) {
			dp_dpdk_count(&k->drop_tx_full, q->n - sent);
			rte_pktmbuf_free_bulk(q->pkts + sent, q->n - sent);
		}
		q->n = 0;
	}
	q = &w->exc[pi];
	if (q->n) {
		sent = rte_eth_tx_burst(port->exc_id, (uint16_t)w->id,
					q->pkts, (uint16_t)q->n);
		dp_dpdk_count(&k->exceptions, sent);
		if (sent < q->n) {
			dp_dpdk_count(&k->drop_tx_full, q->n - sent);
			rte_pktmbuf_free_bulk(q->pkts + sent, q->n - sent);
		}
		q->n = 0;
	}
}

void dp_dpdk_stage(struct dp_dpdk_worker *w, unsigned pi, struct rte_mbuf *m)
{
	struct dp_dpdk_txq *q = &w->tx[pi];

	if (q->n == DP_DPDK_TX_MAX)
		dp_dpdk_flush(w, pi);
	q->pkts[q->n++] = m;
}

static void drop(struct rte_mbuf *m, _Atomic uint64_t *counter)
{
	dp_dpdk_count(counter, 1);
	rte_pktmbuf_free(m);
}

static void to_kernel(struct dp_dpdk_worker *w, struct dp_dpdk_port *port,
		      struct rte_mbuf *m)
{
	unsigned pi = (unsigned)(port - w->d->ports);
	struct dp_dpdk_txq *q = &w->exc[pi];

	if (!port->has_exc) {
		drop(m, &w->counters[pi].drop_no_exception);
		return;
	}
	if (q->n == DP_DPDK_TX_MAX)
		dp_dpdk_flush(w, pi);
	/* The kernel computes its own checksums: no offload flags stay. */
	m->ol_flags &= ~RTE_MBUF_F_TX_OFFLOAD_MASK;
	q->pkts[q->n++] = m;
}

/* Who-has our address: the request becomes the reply, in place. */
static bool arp_answer(struct dp_dpdk_port *port, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	struct rte_arp_ipv4 *a = &arp->arp_data;

	if (arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
	    arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4 ||
	    arp->arp_opcode != RTE_BE16(RTE_ARP_OP_REQUEST) ||
	    a->arp_tip != port->addr_be)
		return false;
	arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	a->arp_tha = a->arp_sha;
	a->arp_tip = a->arp_sip;
	a->arp_sha = port->mac;
	a->arp_sip = port->addr_be;
	eth->dst_addr = eth->src_addr;
	eth->src_addr = port->mac;
	return true;
}

/* Echo request to us, headers already checked: the request becomes the
 * reply. The ICMP checksum is recomputed whole (the payload is the
 * client's), the IP one too: both are a few dozen bytes. */
static bool icmp_answer(struct dp_dpdk_port *port, struct rte_mbuf *m,
			struct rte_ipv4_hdr *ip, uint16_t ip_len)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)(ip + 1);
	uint16_t len = (uint16_t)(ip_len - IP_LEN);
	uint32_t addr;

	if (len < sizeof(*icmp) || icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST ||
	    icmp->icmp_code != 0)
		return false;
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~dp_dpdk_cksum(icmp, len);
	addr = ip->src_addr;
	ip->src_addr = port->addr_be;
	ip->dst_addr = addr;
	ip->time_to_live = 64;
	ip->fragment_offset = 0;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = (uint16_t)~dp_dpdk_fold(dp_dpdk_ip_sum(ip));
	eth->dst_addr = eth->src_addr;
	eth->src_addr = port->mac;
	m->ol_flags &= ~RTE_MBUF_F_TX_OFFLOAD_MASK;
	return true;
}

/* Where a packet goes. */
enum rx_verdict { RX_KERNEL, RX_SENT, RX_UDP, RX_DROPPED };

/* A UDP datagram's (nonzero) checksum verifies: the sum over the pseudo
 * header and the datagram, checksum included, is all ones. */
static bool udp_cksum_ok(const struct rte_ipv4_hdr *ip,
			 const struct rte_udp_hdr *udp, uint16_t len)
{
	return dp_dpdk_fold(dp_dpdk_phdr_sum(ip, len) +
			    dp_dpdk_cksum(udp, len)) == 0xffff;
}

/* An IPv4/UDP packet to our memcached port: checked down to the frame
 * header, trimmed to the UDP length. */
static enum rx_verdict udp_check(struct dp_dpdk_worker *w,
				 struct dp_dpdk_qcounters *k, struct rte_mbuf *m,
				 struct rte_ipv4_hdr *ip, uint16_t ip_len,
				 struct dp_dpdk_udp_req *req)
{
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint16_t udp_len = rte_be_to_cpu_16(udp->dgram_len);
	char *payload = (char *)(udp + 1);
	uint16_t len;

	if (rte_ipv4_hdr_len(ip) != IP_LEN) {
		drop(m, &k->drop_ip_options);
		return RX_DROPPED;
	}
	if (dp_dpdk_fold(dp_dpdk_ip_sum(ip)) != 0xffff ||
	    (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) ==
	    RTE_MBUF_F_RX_IP_CKSUM_BAD) {
		drop(m, &k->drop_malformed);
		return RX_DROPPED;
	}
	/* A UDP length past the IP payload is a lie; one short of it
	 * leaves trailing bytes the kernel would ignore too. */
	if (udp_len < UDP_LEN || udp_len > ip_len - IP_LEN) {
		drop(m, &k->drop_bad_udp);
		return RX_DROPPED;
	}
	if (udp_len < ip_len - IP_LEN) {
		ip->total_length = rte_cpu_to_be_16((uint16_t)(IP_LEN + udp_len));
		rte_pktmbuf_trim(m, (uint16_t)(ip_len - IP_LEN - udp_len));
	}
	if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
	    RTE_MBUF_F_RX_L4_CKSUM_BAD ||
	    (udp->dgram_cksum != 0 &&
	     (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) !=
	     RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
	     !udp_cksum_ok(ip, udp, udp_len))) {
		drop(m, &k->drop_bad_udp);
		return RX_DROPPED;
	}
	len = (uint16_t)(udp_len - UDP_LEN);
	/* memcached drops a datagram of 8 bytes or fewer, and one whose
	 * header claims several datagrams: refused, silently. */
	if (len <= PROTO_UDP_HEADER_LEN || payload[4] != 0 || payload[5] != 1) {
		proto_count(&w->pw->counters.bytes_read, len);
		proto_count(&w->pw->counters.udp_refused, 1);
		drop(m, &k->drop_bad_frame);
		return RX_DROPPED;
	}
	req->m = m;
	req->payload = payload;
	req->len = len;
	return RX_UDP;
}

static enum rx_verdict ipv4_classify(struct dp_dpdk_worker *w,
				     struct dp_dpdk_port *port,
				     struct dp_dpdk_qcounters *k,
				     struct rte_mbuf *m, uint16_t len,
				     struct dp_dpdk_udp_req *req)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m,
		struct rte_ipv4_hdr *, ETH_LEN);
	uint16_t ihl, ip_len, frag;

	if (len < ETH_LEN + IP_LEN || (ip->version_ihl >> 4) != 4) {
		drop(m, &k->drop_malformed);
		return RX_DROPPED;
	}
	ihl = rte_ipv4_hdr_len(ip);
	ip_len = rte_be_to_cpu_16(ip->total_length);
	if (ihl < IP_LEN || ip_len < ihl || ip_len > len - ETH_LEN) {
		drop(m, &k->drop_malformed);
		return RX_DROPPED;
	}
	if (ip->dst_addr != port->addr_be)
		return RX_KERNEL;
	frag = rte_be_to_cpu_16(ip->fragment_offset);
	/* A later fragment carries no port to classify by: the kernel
	 * reassembles or drops it. */
	if (frag & RTE_IPV4_HDR_OFFSET_MASK)
		return RX_KERNEL;
	if (ip->next_proto_id == IPPROTO_UDP) {
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)
			((char *)ip + ihl);

		if (ip_len < ihl + UDP_LEN) {
			drop(m, &k->drop_malformed);
			return RX_DROPPED;
		}
		if (udp->dst_port != w->d->udp_port_be)
			return RX_KERNEL;
		if (frag & RTE_IPV4_HDR_MF_FLAG) {
			drop(m, &k->drop_fragment);
			return RX_DROPPED;
		}
		return udp_check(w, k, m, ip, ip_len, req);
	}
	if (ip->next_proto_id == IPPROTO_ICMP && ihl == IP_LEN &&
	    !(frag & RTE_IPV4_HDR_MF_FLAG) &&
	    dp_dpdk_fold(dp_dpdk_ip_sum(ip)) == 0xffff) {
		rte_pktmbuf_trim(m, (uint16_t)(len - ETH_LEN - ip_len));
		if (icmp_answer(port, m, ip, ip_len)) {
			dp_dpdk_count(&k->icmp, 1);
			return RX_SENT;
		}
	}
	return RX_KERNEL;
}

static enum rx_verdict classify(struct dp_dpdk_worker *w,
				struct dp_dpdk_port *port,
				struct dp_dpdk_qcounters *k, struct rte_mbuf *m,
				struct dp_dpdk_udp_req *req)
{
	uint16_t len = rte_pktmbuf_data_len(m);
	struct rte_ether_hdr *eth;

	if (m->nb_segs != 1 || len < ETH_LEN) {
		drop(m, &k->drop_malformed);
		return RX_DROPPED;
	}
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4))
		return ipv4_classify(w, port, k, m, len, req);
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
		if (len < ETH_LEN + sizeof(struct rte_arp_hdr)) {
			drop(m, &k->drop_malformed);
			return RX_DROPPED;
		}
		if (arp_answer(port, m)) {
			dp_dpdk_count(&k->arp, 1);
			return RX_SENT;
		}
	}
	return RX_KERNEL;
}

void dp_dpdk_rx_burst(struct dp_dpdk_worker *w, struct dp_dpdk_port *port,
		      struct rte_mbuf **pkts, unsigned n)
{
	unsigned pi = (unsigned)(port - w->d->ports);
	struct dp_dpdk_qcounters *k = &w->counters[pi];
	struct dp_dpdk_udp_req reqs[DP_DPDK_BURST];
	unsigned nreq = 0;

	dp_dpdk_count(&k->rx, n);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		switch (classify(w, port, k, m, &reqs[nreq])) {
		case RX_KERNEL:
			to_kernel(w, port, m);
			break;
		case RX_SENT:
			dp_dpdk_stage(w, pi, m);
			break;
		case RX_UDP:
			nreq++;
			break;
		case RX_DROPPED:
			break;
		}
	}
	if (nreq) {
		dp_dpdk_count(&k->udp_requests, nreq);
		dp_dpdk_udp_serve(w, port, reqs, nreq);
	}
	dp_dpdk_flush(w, pi);
}
