/*
 * The DPDK path's private state, shared by its files: the dataplane, its
 * ports and its workers, and the functions of the hot loop.
 *
 * A worker owns queue `id` of every port (and of every port's exception
 * TAP), its protocol state, its reply scratch queues and its counters:
 * nothing in it is written by another thread, so it needs no lock. The
 * counters are atomics only so that the control plane may read them while
 * the worker writes: relaxed loads and stores, no locked instruction.
 */
#ifndef CORECACHE_DPDK_INTERNAL_H
#define CORECACHE_DPDK_INTERNAL_H

#include <stdatomic.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dpdk.h"
#include "dpdk_guard_internal.h"

/* Packets per RX burst, and the most reply datagrams one request may
 * have: memcached splits a reply of item_max bytes in about
 * item_max / 1392 datagrams; the default 1 MiB item takes 755. */
#define DP_DPDK_BURST 32
#define DP_DPDK_DGRAMS_MAX 1024
/* TX staging: a burst's replies and their extra datagrams are sent as
 * soon as this many are waiting. */
#define DP_DPDK_TX_MAX 128

struct dp_dpdk_qcounters {
#define DP_DPDK_QCOUNTER_FIELD(name, help) _Atomic uint64_t name;
	DP_DPDK_COUNTERS(DP_DPDK_QCOUNTER_FIELD)
#undef DP_DPDK_QCOUNTER_FIELD
} __attribute__((aligned(64)));

/* The owning worker's add: see the top of the file. */
static inline void dp_dpdk_count(_Atomic uint64_t *c, uint64_t delta)
{
	atomic_store_explicit(c,
		atomic_load_explicit(c, memory_order_relaxed) + delta,
		memory_order_relaxed);
}

struct dp_dpdk_port {
	uint16_t id;            /* ethdev port id */
	uint16_t exc_id;        /* the exception TAP's port id */
	bool has_exc;
	bool tx_cksum;          /* the PMD computes IPv4 and UDP checksums */
	bool rx_cksum;          /* the PMD checks them and flags bad ones */
	bool zero_copy;         /* the PMD sends chained mbufs */
	int socket;
	uint32_t addr_be;       /* our IPv4 address, network byte order */
	uint8_t prefix;         /* its network's prefix length */
	struct rte_ether_addr mac;
	struct rte_mempool *pool;     /* packets, on the port's socket */
	struct rte_mempool *zc_pool;  /* zero-copy holders */
	char name[RTE_ETH_NAME_MAX_LEN];
	char exc_name[RTE_ETH_NAME_MAX_LEN];
	char exc_iface[32];     /* its kernel interface */
};

/* A zero-copy value in flight: the mbufs that point into cache memory
 * share its shinfo; the last one freed calls dp_dpdk_zc_free, which drops
 * the engine reference. It comes from a mempool, so it may be released by
 * any thread the driver frees mbufs on. */
struct dp_dpdk_zc {
	struct rte_mbuf_ext_shared_info shinfo;
	struct cc_view view;
	struct cc_cache *cache;
	struct rte_mempool *pool;
};

/* A packet the worker sends out of a port, staged until the next flush. */
struct dp_dpdk_txq {
	struct rte_mbuf *pkts[DP_DPDK_TX_MAX];
	unsigned n;
};

struct dp_dpdk_worker {
	struct dp_dpdk *d;
	unsigned id;                /* the queue it owns on every port */
	unsigned lcore;
	struct proto_worker *pw;
	struct proto_out reply;     /* proto_udp_serve's scratch */
	struct proto_out out;       /* framed datagrams of one request */
	uint16_t lens[DP_DPDK_DGRAMS_MAX];
	struct rte_mbuf *dgrams[DP_DPDK_DGRAMS_MAX];  /* one reply's */
	uint64_t maintained;        /* TSC of the last cc_maintain */
	struct dp_dpdk_txq tx[DP_DPDK_PORTS_MAX];
	struct dp_dpdk_txq exc[DP_DPDK_PORTS_MAX];
	struct dp_dpdk_qcounters counters[DP_DPDK_PORTS_MAX];
} __attribute__((aligned(64)));

struct dp_dpdk {
	struct proto_server *ps;
	struct dp_dpdk_port ports[DP_DPDK_PORTS_MAX];
	unsigned nports;
	struct dp_dpdk_worker *workers[DP_DPDK_WORKERS_MAX];
	unsigned nworkers;
	uint16_t udp_port_be;
	/* The amplification factor and allow-list, live (config set). */
	struct dp_dpdk_guard guard;
	bool guard_ready;
	bool bulk_get;
	bool polled;        /* driven by dp_dpdk_poll, no lcores launched */
	bool running;
	/* Set by dp_dpdk_stop; the workers poll it once per loop. Relaxed:
	 * it orders nothing, the workers only need to see it eventually. */
	_Atomic bool stop;
};

/* The Internet checksum's folded 16-bit sum of [p, p + len), in memory
 * byte order like rte_raw_cksum (same result), but 8 bytes a step: DPDK
 * 22.11's sums 2 bytes a step, which was a tenth of the GET path. Summing
 * 32-bit halves into 64 bits cannot overflow below 2^32 words, and the
 * one's complement sum is the same whatever the word size once folded. */
static inline uint16_t dp_dpdk_cksum(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t sum = 0;
	uint16_t w16;

	for (; len >= 8; b += 8, len -= 8) {
		uint64_t w;

		memcpy(&w, b, 8);
		sum += (w & 0xffffffffu) + (w >> 32);
	}
	for (; len >= 2; b += 2, len -= 2) {
		memcpy(&w16, b, 2);
		sum += w16;
	}
	if (len) {
		w16 = 0;
		memcpy(&w16, b, 1);
		sum += w16;
	}
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Folds a 32-bit one's complement sum to 16 bits. */
static inline uint16_t dp_dpdk_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The IPv4 header's sum (20 bytes, checksum field counted as it is) and
 * the UDP pseudo-header's, from the fields read one by one, in memory
 * byte order like dp_dpdk_cksum. Reading each field at the width it was
 * written lets the loads take the value straight from the stores that
 * just built the header; reading the header back in 8-byte words made
 * each of them wait for those stores to reach the cache (a fifth of the
 * reply's cost). */
static inline uint32_t dp_dpdk_pair(uint8_t first, uint8_t second)
{
	/* Two bytes as the 16-bit word they make in memory. */
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
	return (uint32_t)first | (uint32_t)second << 8;
#else
	return (uint32_t)first << 8 | (uint32_t)second;
#endif
}

static inline uint32_t dp_dpdk_ip_sum(const struct rte_ipv4_hdr *ip)
{
	return dp_dpdk_pair(ip->version_ihl, ip->type_of_service) +
	       ip->total_length + ip->packet_id + ip->fragment_offset +
	       dp_dpdk_pair(ip->time_to_live, ip->next_proto_id) +
	       ip->hdr_checksum + (ip->src_addr & 0xffff) +
	       (ip->src_addr >> 16) + (ip->dst_addr & 0xffff) +
	       (ip->dst_addr >> 16);
}

static inline uint32_t dp_dpdk_phdr_sum(const struct rte_ipv4_hdr *ip,
					uint16_t l4_len)
{
	return (ip->src_addr & 0xffff) + (ip->src_addr >> 16) +
	       (ip->dst_addr & 0xffff) + (ip->dst_addr >> 16) +
	       dp_dpdk_pair(0, IPPROTO_UDP) + rte_cpu_to_be_16(l4_len);
}

/* The hot loop's steps (dpdk_rx.c, dpdk_udp.c). */
void dp_dpdk_rx_burst(struct dp_dpdk_worker *w, struct dp_dpdk_port *port,
		      struct rte_mbuf **pkts, unsigned n);
void dp_dpdk_flush(struct dp_dpdk_worker *w, unsigned port);
void dp_dpdk_stage(struct dp_dpdk_worker *w, unsigned port,
		   struct rte_mbuf *m);

/* A memcached UDP request in m: l3 is its IPv4 header (20 bytes, no
 * options), the UDP payload is payload[0, len). The requests of a burst are
 * given together so plain gets can be looked up in one batch. */
struct dp_dpdk_udp_req {
	struct rte_mbuf *m;
	char *payload;
	uint16_t len;
};
void dp_dpdk_udp_serve(struct dp_dpdk_worker *w, struct dp_dpdk_port *port,
		       struct dp_dpdk_udp_req *reqs, unsigned n);

/* Turns m (an IPv4/UDP packet from a client) into its reply's headers,
 * payload_len bytes of UDP payload after them, and fixes lengths and
 * checksums (offloaded when the port can). */
void dp_dpdk_udp_headers(const struct dp_dpdk_port *port, struct rte_mbuf *m,
			 uint16_t payload_len);

void dp_dpdk_zc_free(void *addr, void *opaque);

/* DPDK telemetry's /corecache/ commands (dpdk_telemetry.c) read d from
 * attach (end of create) to detach (start of destroy); the last
 * dataplane created is the one they show. */
void dp_dpdk_telemetry_attach(const struct dp_dpdk *d);
void dp_dpdk_telemetry_detach(const struct dp_dpdk *d);

#endif
