/*
 * libFuzzer target: the DPDK path's packet classifier and UDP request
 * path. A net_ring port (rings this program owns) feeds each input to a
 * polled dataplane worker as one received frame; every frame the worker
 * transmits is then taken off the TX ring, checked (IPv4 and UDP lengths
 * agree with the frame, checksums verify, a memcached datagram is at most
 * 1400 bytes) and freed, which also releases zero-copy values.
 *
 * Input: the first byte chooses how the rest becomes a frame. Bit 0 clear:
 * the rest is the frame, raw. Bit 0 set: the rest is a memcached UDP
 * payload wrapped in valid Ethernet/IPv4/UDP headers to the server's port
 * (so the fuzzer reaches the protocol without forging checksums); bit 1
 * then also overwrites one header byte with the payload's first two bytes
 * (offset, value), to reach the header checks with otherwise valid frames.
 */
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "corecache.h"
#include "dpdk.h"
#include "proto.h"

#define HDRS (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + \
	      sizeof(struct rte_udp_hdr))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct proto_server ps;
	struct dp_dpdk *d;
	struct rte_ring *rx, *tx;
	struct rte_mempool *pool;
} fx;

/* At exit: the workers' reply queues live in DPDK memory, which the leak
 * checker does not scan, so they are freed rather than left to exit. */
static void fixture_deinit(void)
{
	dp_dpdk_destroy(fx.d);
	cc_destroy(fx.ps.cache);
}

static void fixture_init(void)
{
	char *eal[] = { "fuzz_packet", "--no-huge", "-m", "256", "--no-pci",
			"--no-shconf", "--no-telemetry", "-l", "0",
			"--log-level=error" };
	struct dp_dpdk_port_params port = { .addr = 0x0a000001,
					    .prefix = 24 };
	static char name[RTE_ETH_NAME_MAX_LEN];
	struct dp_dpdk_params p = { .ports = &port, .nports = 1,
				    .workers = 1, .udp_port = 11211,
				    .amplification = 10, .bulk_get = true,
				    .polled = true };
	struct cc_params cp;
	char err[256];
	int id;

	if (dp_dpdk_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal, err,
			     sizeof(err)))
		abort();
	fx.rx = rte_ring_create("fuzz_rx", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	fx.tx = rte_ring_create("fuzz_tx", 4096, 0,
				RING_F_SP_ENQ | RING_F_SC_DEQ);
	fx.pool = rte_pktmbuf_pool_create("fuzz_in", 255, 0, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (!fx.rx || !fx.tx || !fx.pool)
		abort();
	/* The dataplane finds the port by its name, already probed. */
	id = rte_eth_from_rings("fuzzring", &fx.rx, 1, &fx.tx, 1, 0);
	if (id < 0 || rte_eth_dev_get_name_by_port((uint16_t)id, name))
		abort();
	port.devargs = name;
	cc_params_init(&cp);
	cp.memory_limit = 32u << 20;
	cp.hugepages = false;
	if (cc_create(&cp, &fx.ps.cache))
		abort();
	fx.ps.settings.item_max = 1 << 20;
	fx.ps.settings.zero_copy_min = 64;
	fx.ps.settings.flush_enabled = true;
	fx.ps.settings.udp_port = 11211;
	fx.ps.settings.version = "1.6.18";
	if (dp_dpdk_create(&fx.ps, &p, &fx.d, err, sizeof(err)))
		abort();
	atexit(fixture_deinit);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Valid headers from 10.0.0.2:40000 to 10.0.0.1:11211 around len bytes. */
static void wrap(uint8_t *f, size_t len)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + 14);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);

	memset(f, 0, HDRS);
	memset(f, 0x02, 12);
	put16(f + 12, RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(28 + len));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(0x0a000002);
	ip->dst_addr = rte_cpu_to_be_32(0x0a000001);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(40000);
	udp->dst_port = rte_cpu_to_be_16(11211);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + len));
	udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

/* What the worker sent must be well formed. */
static void check_reply(struct rte_mbuf *m)
{
	uint8_t buf[2048];
	const uint8_t *f;
	const struct rte_ipv4_hdr *ip;
	const struct rte_udp_hdr *udp;
	uint16_t ip_len;

	if (m->pkt_len > sizeof(buf))
		abort();
	f = rte_pktmbuf_read(m, 0, m->pkt_len, buf);
	if (!f || m->pkt_len < 14)
		abort();
	if (f[12] != 0x08 || f[13] != 0x00)
		return;  /* ARP: fixed size, checked by the golden test */
	ip = (const struct rte_ipv4_hdr *)(f + 14);
	ip_len = rte_be_to_cpu_16(ip->total_length);
	if (ip_len + 14u > m->pkt_len || rte_raw_cksum(ip, 20) != 0xffff)
		abort();
	if (ip->next_proto_id != IPPROTO_UDP)
		return;
	udp = (const struct rte_udp_hdr *)(ip + 1);
	if (rte_be_to_cpu_16(udp->dgram_len) != ip_len - 20u ||
	    ip_len - 28u > PROTO_UDP_DATAGRAM_MAX)
		abort();
	if (udp->dgram_cksum) {
		uint32_t sum = rte_ipv4_phdr_cksum(ip, 0);

		sum += rte_raw_cksum(udp, ip_len - 20u);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		if (sum != 0xffff)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rte_mbuf *m, *out[64];
	unsigned n;
	uint8_t *f;
	size_t len;

	if (!fx.d)
		fixture_init();
	if (size < 1 || size > 1500)
		return 0;
	m = rte_pktmbuf_alloc(fx.pool);
	if (!m)
		abort();
	f = rte_pktmbuf_mtod(m, uint8_t *);
	len = size - 1;
	if (data[0] & 1) {
		memcpy(f + HDRS, data + 1, len);
		wrap(f, len);
		if ((data[0] & 2) && len >= 2)
			f[data[1] % HDRS] = data[2];
		len += HDRS;
	} else {
		memcpy(f, data + 1, len);
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	if (rte_ring_enqueue(fx.rx, m))
		abort();
	dp_dpdk_poll(fx.d, 0);
	while ((n = rte_ring_dequeue_burst(fx.tx, (void **)out, 64, NULL))) {
		for (unsigned i = 0; i < n; i++) {
			check_reply(out[i]);
			rte_pktmbuf_free(out[i]);
		}
	}
	/* Every reply is freed: no engine reference may be left. */
	if (dp_dpdk_zero_copy_in_flight(fx.d))
		abort();
	return 0;
}
