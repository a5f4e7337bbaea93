/*
 * corecached's kernel-bypass path: memcached UDP served by DPDK workers.
 *
 * Each port (any PMD: a NIC in production, net_pcap, net_tap, net_null or
 * net_ring here) has an IPv4 address and one RX/TX queue pair per worker;
 * RSS spreads UDP flows over the queues when the PMD can hash the 4-tuple.
 * A worker polls its queue of every port: it answers ARP requests and ICMP
 * echo for the port's address, serves memcached UDP requests through the
 * protocol layer (plain single-key gets of a burst in one batched lookup,
 * large values sent zero-copy from cache memory as external mbufs), and
 * hands every other packet to the kernel through the port's exception TAP,
 * whose replies it sends out of the port. The worker's hot loop takes no
 * lock, allocates nothing but mbufs from its port's pool and makes no
 * system call.
 *
 * Threads: dp_dpdk_eal_init, create, start, stop, join and destroy from one
 * control thread (the EAL main lcore). dp_dpdk_poll runs one worker's loop
 * once on the calling thread, for tests and benchmarks that drive a worker
 * themselves (never while dp_dpdk_start's workers run).
 * dp_dpdk_counters_read, dp_dpdk_port_info and dp_dpdk_xstats from any
 * thread; dp_dpdk_set_amplification and dp_dpdk_set_allow from one
 * control thread at a time, while the workers run.
 *
 * DPDK telemetry: /corecache/ports, /corecache/port_info,P and
 * /corecache/stats[,P[,Q]] show the last dataplane created, from its
 * creation to its destruction.
 *
 * Errors: functions return 0 or a negative errno value; the set-up ones
 * also write a one-line message into the caller's buffer.
 */
#ifndef CORECACHE_DPDK_H
#define CORECACHE_DPDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Most ports and workers one dataplane drives. */
#define DP_DPDK_PORTS_MAX 8
#define DP_DPDK_WORKERS_MAX 64

/* An IPv4 network: addr and mask in host byte order. */
struct dp_dpdk_cidr {
	uint32_t addr;
	uint32_t mask;
};

struct dp_dpdk_port_params {
	const char *devargs;   /* a vdev ("net_pcap0,rx_pcap=...") or a PCI
				* address the EAL probed ("0000:03:00.0") */
	uint32_t addr;         /* IPv4 address, host byte order */
	uint8_t prefix;        /* its network's prefix length */
	/* When pool_placed, the node of the port's mbuf pool (a placement
	 * plan's); else the port's socket as the PMD reports it, or the
	 * control thread's for a port on none. */
	bool pool_placed;
	int pool_socket;
	/* Name of the exception TAP interface created for the port (it gets
	 * the port's MAC so the kernel takes the frames it is given); NULL:
	 * no exception path, packets not for the cache are dropped and
	 * counted. */
	const char *exception_iface;
};

struct dp_dpdk_params {
	const struct dp_dpdk_port_params *ports;
	unsigned nports;
	/* Worker lcores: lcores[0, nlcores) in that order (worker i serves
	 * queue i of every port) when given (a placement plan), else the
	 * first `workers` worker lcores of the EAL's list (0: them all). */
	const unsigned *lcores;
	unsigned nlcores;
	unsigned workers;
	uint16_t udp_port;          /* memcached UDP port */
	/* A reply may be at most this many times the request's UDP payload
	 * bytes; 0: no limit. Sources in allow[] are exempt. */
	uint32_t amplification;
	const struct dp_dpdk_cidr *allow;
	unsigned nallow;
	/* Look the plain "get <key>" requests of a burst up together
	 * (cc_get_bulk) rather than one by one through the protocol
	 * layer. */
	bool bulk_get;
	/* The caller drives the workers with dp_dpdk_poll (tests,
	 * benchmarks): no worker lcore is needed or launched. */
	bool polled;
	uint16_t rx_desc, tx_desc;  /* ring sizes; 0: 1024 */
	/* mbufs added to each port's pool beyond what its rings and
	 * workers need (net_pcap's infinite_rx keeps its file there). */
	unsigned pool_extra;
};

/* Per-port, per-queue counters: one list for the struct, the readers and
 * the exporters. */
#define DP_DPDK_COUNTERS(X)                                                 \
	X(rx, "packets received from the port")                             \
	X(tx, "packets sent out of the port")                               \
	X(arp, "ARP requests answered")                                      \
	X(icmp, "ICMP echo requests answered")                               \
	X(udp_requests, "memcached UDP datagrams taken")                     \
	X(udp_replies, "memcached reply datagrams sent")                     \
	X(bulk_gets, "plain gets served by the batched lookup")              \
	X(zero_copy, "reply datagrams carrying a value by reference")        \
	X(exceptions, "packets handed to the kernel")                        \
	X(exception_tx, "packets from the kernel sent out of the port")      \
	X(drop_malformed, "dropped: truncated or bad Ethernet/IP header")    \
	X(drop_fragment, "dropped: an IP fragment for the memcached port")   \
	X(drop_ip_options, "dropped: IP options on a memcached request")     \
	X(drop_bad_udp, "dropped: bad UDP length or checksum")               \
	X(drop_bad_frame, "dropped: bad memcached UDP frame header")         \
	X(drop_amplification, "replies dropped by the amplification guard") \
	X(drop_no_exception, "dropped: not for the cache, no exception port") \
	X(drop_no_mbuf, "replies or packets lost for want of an mbuf")       \
	X(drop_tx_full, "packets the TX queue did not take")

struct dp_dpdk_counters {
#define DP_DPDK_COUNTER_FIELD(name, help) uint64_t name;
	DP_DPDK_COUNTERS(DP_DPDK_COUNTER_FIELD)
#undef DP_DPDK_COUNTER_FIELD
};

struct dp_dpdk;

/* Initialises the EAL with argv[0..argc) (argv[0] is the program name).
 * Once per process. Errors: the EAL's (-EINVAL bad arguments, -EALREADY,
 * ...). */
int dp_dpdk_eal_init(int argc, char **argv, char *err, size_t errlen);

/* Probes and starts the ports (and their exception TAPs), creates the
 * mbuf pools on each port's socket and the workers' protocol state
 * (registered with the engine). ps must outlive the dataplane; ps->cache
 * and ps->settings must be set. Errors: -EINVAL (a bad port, no worker
 * lcore), -ENODEV, -ENOMEM, the PMD's. */
int dp_dpdk_create(struct proto_server *ps, const struct dp_dpdk_params *p,
		   struct dp_dpdk **out, char *err, size_t errlen);

/* Launches one worker on each worker lcore. */
int dp_dpdk_start(struct dp_dpdk *d);

/* Asks the workers to stop (any thread, signal handlers included). */
void dp_dpdk_stop(struct dp_dpdk *d);

/* Waits for the workers to return. */
void dp_dpdk_join(struct dp_dpdk *d);

/* Stops and closes the ports, frees the pools and the workers' state.
 * Joins first if the workers run. */
void dp_dpdk_destroy(struct dp_dpdk *d);

/* Runs worker `worker`'s loop once on the calling thread: one RX burst on
 * each port and exception queue, served and sent. Returns the packets
 * received. */
unsigned dp_dpdk_poll(struct dp_dpdk *d, unsigned worker);

/* Sums the counters of port `port` (-1: all ports) and queue `queue`
 * (-1: all queues) into *out. -ERANGE for a port or queue that does not
 * exist. Workers keep counting while this reads; each field is read
 * whole. */
int dp_dpdk_counters_read(const struct dp_dpdk *d, int port, int queue,
			  struct dp_dpdk_counters *out);

/* Zero-copy values whose mbufs the drivers have not freed yet, over all
 * ports: each holds an engine reference. */
unsigned dp_dpdk_zero_copy_in_flight(const struct dp_dpdk *d);

/* What the control plane shows of a port. */
struct dp_dpdk_port_info {
	char name[64];          /* the ethdev's name ("net_tap0") */
	uint16_t port_id;       /* ethdev port id */
	uint32_t addr;          /* IPv4 address, host byte order */
	uint8_t prefix;
	bool link_up;
	uint32_t speed_mbps;    /* 0: unknown */
	bool full_duplex;
	unsigned queues;        /* RX/TX queue pairs: one per worker */
	char exception[32];     /* the exception TAP's kernel interface, ""
				 * if none */
};

/* Port `port`'s information; its link without waiting for it
 * (rte_eth_link_get_nowait). -ERANGE for a port that does not exist. */
int dp_dpdk_port_info(const struct dp_dpdk *d, unsigned port,
		      struct dp_dpdk_port_info *out);

/* Calls fn once per extended statistic of port `port` (the PMD's
 * xstats, rte_eth_xstats_get). 0, -ERANGE (no such port), -ENOMEM, or
 * the PMD's error. Takes no lock the workers take. */
int dp_dpdk_xstats(const struct dp_dpdk *d, unsigned port,
		   void (*fn)(void *arg, const char *name, uint64_t value),
		   void *arg);

/* The amplification guard, live: the factor (0: no limit) takes effect
 * at the workers' next request; the allow-list replaces the old one,
 * which is freed once every worker has passed a quiescent point (this
 * waits for that, at most about a second). -ENOMEM: nothing changed. */
void dp_dpdk_set_amplification(struct dp_dpdk *d, uint32_t factor);
int dp_dpdk_set_allow(struct dp_dpdk *d, const struct dp_dpdk_cidr *allow,
		      unsigned n);

unsigned dp_dpdk_nports(const struct dp_dpdk *d);
unsigned dp_dpdk_nworkers(const struct dp_dpdk *d);

/* The protocol state of worker i (its counters feed `stats`). */
struct proto_worker *dp_dpdk_proto_worker(struct dp_dpdk *d, unsigned i);

#endif
