/*
 * Test driver of the DPDK path over net_pcap: one polled worker reads every
 * packet of a pcap file, serves it, and writes its replies to another pcap
 * file; then the port is closed (which flushes the file) and the counters
 * are printed, one "name=value" a line, for the test to check.
 *
 *   dpdk_pcap_run IN.pcap OUT.pcap [--no-bulk] [--zero-copy-min N]
 *                 [--allow A.B.C.D/P] [--amplification N]
 *                 [--queue2 IN2.pcap OUT2.pcap]
 *
 * With --queue2 the port has two RX/TX queue pairs (net_pcap makes one
 * per file pair), served by two polled workers taking turns; the counters
 * printed are the port's sums, then queue 1's prefixed "q1_".
 *
 * No hugepages, no PCI, no NIC: the EAL keeps no shared files (--no-shconf), so
 * several of these may run at once.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corecache.h"
#include "dpdk.h"
#include "proto.h"

/* pcap ends: the worker has seen nothing for this many polls. */
#define IDLE_POLLS 2000

static int parse_cidr(const char *s, struct dp_dpdk_cidr *c)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	struct in_addr a;
	unsigned prefix = 32;

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -1;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	prefix = (unsigned)atoi(slash + 1);
	if (inet_pton(AF_INET, buf, &a) != 1 || prefix > 32)
		return -1;
	c->mask = prefix ? ~0u << (32 - prefix) : 0;
	c->addr = ntohl(a.s_addr) & c->mask;
	return 0;
}

int main(int argc, char **argv)
{
	char *eal[] = { argv[0], "--no-huge", "-m", "256", "--no-pci",
			"--no-shconf", "--no-telemetry", "-l", "0",
			"--log-level=warning" };
	struct dp_dpdk_params p = { .udp_port = 11211, .amplification = 10,
				    .bulk_get = true, .polled = true,
				    .workers = 1 };
	struct dp_dpdk_port_params port = { .addr = 0x0a000001, .prefix = 24 };
	struct dp_dpdk_cidr allow[4];
	struct dp_dpdk_counters k;
	struct proto_server ps;
	struct proto_counters pk;
	struct cc_params cp;
	struct dp_dpdk *d;
	char devargs[1024], err[256];
	const char *rx2 = NULL, *tx2 = NULL;
	unsigned idle = 0;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: %s IN.pcap OUT.pcap [options]\n",
			argv[0]);
		return 2;
	}
	memset(&ps, 0, sizeof(ps));
	ps.settings.item_max = 1 << 20;
	ps.settings.zero_copy_min = UINT32_MAX;
	ps.settings.flush_enabled = true;
	ps.settings.udp_port = 11211;
	ps.settings.version = "1.6.18";
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--no-bulk")) {
			p.bulk_get = false;
		} else if (!strcmp(argv[i], "--zero-copy-min") && i + 1 < argc) {
			ps.settings.zero_copy_min = (uint32_t)atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--queue2") && i + 2 < argc) {
			rx2 = argv[++i];
			tx2 = argv[++i];
			p.workers = 2;
		} else if (!strcmp(argv[i], "--amplification") &&
			   i + 1 < argc) {
			p.amplification = (uint32_t)atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--allow") && i + 1 < argc &&
			   p.nallow < 4 &&
			   parse_cidr(argv[++i], &allow[p.nallow]) == 0) {
			p.nallow++;
		} else {
			fprintf(stderr, "%s: bad option %s\n", argv[0],
				argv[i]);
			return 2;
		}
	}
	p.allow = allow;
	if (rx2)
		snprintf(devargs, sizeof(devargs), "net_pcap0,rx_pcap=%s,"
			 "tx_pcap=%s,rx_pcap=%s,tx_pcap=%s", argv[1], argv[2],
			 rx2, tx2);
	else
		snprintf(devargs, sizeof(devargs), "net_pcap0,rx_pcap=%s,"
			 "tx_pcap=%s", argv[1], argv[2]);
	port.devargs = devargs;
	p.ports = &port;
	p.nports = 1;

	if (dp_dpdk_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal, err,
			     sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	cc_params_init(&cp);
	cp.memory_limit = 64u << 20;
	cp.hugepages = false;
	rc = cc_create(&cp, &ps.cache);
	if (rc) {
		fprintf(stderr, "cc_create: %d\n", rc);
		return 1;
	}
	rc = dp_dpdk_create(&ps, &p, &d, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err);
		cc_destroy(ps.cache);
		return 1;
	}
	while (idle < IDLE_POLLS) {
		unsigned got = 0;

		for (unsigned w = 0; w < p.workers; w++)
			got += dp_dpdk_poll(d, w);
		idle = got ? 0 : idle + 1;
	}
	rc = dp_dpdk_counters_read(d, 0, -1, &k);
	/* net_pcap frees what it sends at once: nothing may still hold a
	 * value. */
	printf("zero_copy_in_flight=%u\n", dp_dpdk_zero_copy_in_flight(d));
#define PRINT(name, help) printf(#name "=%llu\n", (unsigned long long)k.name);
	DP_DPDK_COUNTERS(PRINT)
#undef PRINT
	if (rx2) {
		struct dp_dpdk_counters k1;

		rc |= dp_dpdk_counters_read(d, -1, 1, &k1);
#define PRINT_Q1(name, help) \
	printf("q1_" #name "=%llu\n", (unsigned long long)k1.name);
		DP_DPDK_COUNTERS(PRINT_Q1)
#undef PRINT_Q1
	}
	memset(&pk, 0, sizeof(pk));
	ps.workers = (struct proto_worker *[]){ dp_dpdk_proto_worker(d, 0),
						dp_dpdk_proto_worker(d, 1) };
	ps.nworkers = p.workers;
	proto_counters_read(&ps, &pk);
	printf("proto_udp_requests=%llu\nproto_udp_refused=%llu\n"
	       "proto_get_hits=%llu\nproto_get_misses=%llu\n",
	       (unsigned long long)pk.udp_requests,
	       (unsigned long long)pk.udp_refused,
	       (unsigned long long)pk.get_hits,
	       (unsigned long long)pk.get_misses);
	dp_dpdk_destroy(d);
	cc_destroy(ps.cache);
	return rc ? 1 : 0;
}
