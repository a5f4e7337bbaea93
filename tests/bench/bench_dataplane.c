/*
 * corecache-bench dataplane: GET replies per second of one DPDK worker
 * core, against the packet-I/O limit of the same harness.
 *
 * The harness: net_pcap replaying a file of memcached UDP "get <key>"
 * requests forever (infinite_rx=1), every key a hit in a cache of --items
 * items (16-byte keys), transmit dropped (net_pcap with no TX file frees
 * what it is given). The worker is polled on the EAL main lcore, CPU 0.
 * Three runs: 32-byte values with the batched gets, the same served one by
 * one through the protocol layer (does batching help?), and 1 KiB values
 * sent zero-copy (an external mbuf into cache memory per reply). The
 * limit: dpdk-testpmd --forward-mode=macswap, its one forwarding lcore on
 * CPU 0, over the same file: receive, swap MACs, transmit.
 *
 * Every reply the worker sends is counted by the dataplane; a run fails
 * (exit 1) unless every get hit. The summary line is
 *   dataplane mrps=X testpmd_macswap_mrps=X ratio=X zero_copy_mrps=X
 * with ratio = mrps / testpmd_macswap_mrps. Nothing here fails for being
 * slow.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "bench.h"
#include "corecache.h"
#include "dpdk.h"
#include "proto.h"

#define DP_REQUESTS 16384       /* distinct requests in the file */
#define DP_BIG_VALUE 1024
#define DP_SERVER 0x0a000001u   /* 10.0.0.1 */
#define DP_CLIENT 0x0a000002u

struct dp_cfg {
	uint64_t items;
	uint64_t seconds;
	bool quick;
	bool help;
};

static const struct bench_opt dp_opts[] = {
	{ "items", "N", BENCH_OPT_U64, offsetof(struct dp_cfg, items), 1000,
	  10000000, "items in the cache, all hit (default 1000000, --quick "
	  "100000)" },
	{ "seconds", "S", BENCH_OPT_U64, offsetof(struct dp_cfg, seconds), 1,
	  600, "length of each timed run (default 5, --quick 1)" },
	{ "quick", NULL, BENCH_OPT_FLAG, offsetof(struct dp_cfg, quick), 0, 0,
	  "small sizes for smoke runs" },
	{ "help", NULL, BENCH_OPT_FLAG, offsetof(struct dp_cfg, help), 0, 0,
	  "show this text" },
};

#define DP_NOPTS (sizeof(dp_opts) / sizeof(dp_opts[0]))
#define DP_USAGE "corecache-bench dataplane [--items N] [--seconds S] " \
		 "[--quick]"

static void put32le(FILE *f, uint32_t v)
{
	fwrite(&v, 4, 1, f);  /* pcap files here are written little endian */
}

/* The request file: DP_REQUESTS gets of uniformly drawn items. */
static int write_requests(const char *path, uint64_t items)
{
	struct bench_rng rng;
	FILE *f = fopen(path, "wb");

	if (!f)
		return -errno;
	bench_rng_seed(&rng, 42);
	put32le(f, 0xa1b2c3d4);
	put32le(f, 2 | (4u << 16));
	put32le(f, 0);
	put32le(f, 0);
	put32le(f, 65535);
	put32le(f, 1);
	for (unsigned i = 0; i < DP_REQUESTS; i++) {
		uint8_t fr[128] = { 0 };
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(fr + 14);
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
		char *p = (char *)(udp + 1);
		uint16_t len = 8 + 4 + BENCH_KEY_LEN + 2;

		memset(fr, 0x02, 12);
		fr[5] = 1;
		fr[12] = 0x08;
		p[0] = (char)(i >> 8);
		p[1] = (char)i;
		p[5] = 1;
		memcpy(p + 8, "get ", 4);
		bench_key_make(bench_rng_below(&rng, items), p + 12);
		memcpy(p + 12 + BENCH_KEY_LEN, "\r\n", 2);
		ip->version_ihl = 0x45;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(28 + len));
		ip->time_to_live = 64;
		ip->next_proto_id = IPPROTO_UDP;
		ip->src_addr = rte_cpu_to_be_32(DP_CLIENT);
		ip->dst_addr = rte_cpu_to_be_32(DP_SERVER);
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp->src_port = rte_cpu_to_be_16((uint16_t)(40000 + i % 1024));
		udp->dst_port = rte_cpu_to_be_16(11211);
		udp->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + len));
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
		put32le(f, 0);
		put32le(f, i);
		put32le(f, 60u > 42u + len ? 60u : 42u + len);
		put32le(f, 60u > 42u + len ? 60u : 42u + len);
		fwrite(fr, 1, 60u > 42u + len ? 60u : 42u + len, f);
	}
	if (fclose(f))
		return -errno;
	return 0;
}

/* items items of value_len bytes each (item idx's value starts with its
 * index, so each differs). */
static int load(struct cc_cache *c, uint64_t items, uint32_t value_len)
{
	static unsigned char value[DP_BIG_VALUE];
	struct cc_thread *t;
	int rc;

	rc = cc_thread_register(c, &t);
	if (rc)
		return rc;
	for (uint64_t i = 0; i < items && !rc; i++) {
		char key[BENCH_KEY_LEN];
		struct cc_store_req req = {
			.mode = CC_SET, .key = key, .key_len = BENCH_KEY_LEN,
			.value = value, .value_len = value_len,
		};

		bench_key_make(i, key);
		memcpy(value, &i, sizeof(i));
		do {
			cc_thread_quiescent(t);
			rc = cc_store(t, &req, NULL);
		} while (rc == -ENOMEM);
	}
	cc_thread_unregister(t);
	return rc;
}

struct dp_run {
	const char *name;
	uint32_t value_len;
	bool bulk;
	bool zero_copy;
	double mrps;
};

/* CPU time of the calling thread, ns: on a shared machine the worker is
 * preempted, and replies per CPU-second show what the core does alone. */
static uint64_t thread_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	       1000000000ull + (uint64_t)(ru.ru_utime.tv_usec +
					  ru.ru_stime.tv_usec) * 1000ull;
}

/* One timed run on a fresh cache and a fresh port (vdev name net_pcap<k>).
 * 0, -EIO when a get missed, or a set-up error. */
static int run_one(const struct dp_cfg *cfg, const char *file, unsigned k,
		   struct dp_run *r)
{
	struct dp_dpdk_port_params port = { .addr = DP_SERVER, .prefix = 24 };
	struct dp_dpdk_params p = {
		.ports = &port, .nports = 1, .workers = 1, .polled = true,
		.udp_port = 11211, .bulk_get = r->bulk,
		.pool_extra = 2 * DP_REQUESTS,
	};
	struct dp_dpdk_counters k0, k1;
	struct proto_counters before, after;
	struct proto_worker *pw;
	struct proto_server ps;
	struct cc_params cp;
	struct dp_dpdk *d;
	char devargs[256], err[256];
	uint64_t t0, t1, end, cpu0;
	int rc;

	memset(&ps, 0, sizeof(ps));
	ps.settings.item_max = 1 << 20;
	ps.settings.zero_copy_min = r->zero_copy ? DP_BIG_VALUE : UINT32_MAX;
	ps.settings.version = "1.6.18";
	cc_params_init(&cp);
	cp.memory_limit = bench_round_up((size_t)(cfg->items *
		(BENCH_KEY_LEN + r->value_len + 16) * 2), 1u << 20) + (64u << 20);
	cp.hugepages = false;
	rc = cc_create(&cp, &ps.cache);
	if (rc)
		return rc;
	rc = load(ps.cache, cfg->items, r->value_len);
	if (rc)
		goto cache;
	snprintf(devargs, sizeof(devargs), "net_pcap%u,rx_pcap=%s,"
		 "infinite_rx=1", k, file);
	port.devargs = devargs;
	rc = dp_dpdk_create(&ps, &p, &d, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "corecache-bench dataplane: %s\n", err);
		goto cache;
	}
	pw = dp_dpdk_proto_worker(d, 0);
	ps.workers = &pw;
	ps.nworkers = 1;
	/* Warm-up: the file's packets into mbufs, the items into caches. */
	end = bench_now_ns() + 500000000ull;
	while (bench_now_ns() < end)
		for (unsigned i = 0; i < 256; i++)
			dp_dpdk_poll(d, 0);
	dp_dpdk_counters_read(d, 0, 0, &k0);
	proto_counters_read(&ps, &before);
	cpu0 = thread_cpu_ns();
	t0 = bench_now_ns();
	end = t0 + cfg->seconds * 1000000000ull;
	do {
		for (unsigned i = 0; i < 1024; i++)
			dp_dpdk_poll(d, 0);
		t1 = bench_now_ns();
	} while (t1 < end);
	dp_dpdk_counters_read(d, 0, 0, &k1);
	proto_counters_read(&ps, &after);
	r->mrps = bench_mops(k1.udp_replies - k0.udp_replies, t0, t1);
	printf("%-28s %7.2f M replies/s, %.2f M per CPU-second (%llu "
	       "requests, %llu hits, %llu zero-copy, %llu dropped)\n",
	       r->name, r->mrps, bench_mops(k1.udp_replies - k0.udp_replies,
					    cpu0, thread_cpu_ns()),
	       (unsigned long long)(k1.udp_requests - k0.udp_requests),
	       (unsigned long long)(after.get_hits - before.get_hits),
	       (unsigned long long)(k1.zero_copy - k0.zero_copy),
	       (unsigned long long)(k1.drop_tx_full - k0.drop_tx_full +
				    k1.drop_no_mbuf - k0.drop_no_mbuf));
	if (after.get_misses != before.get_misses ||
	    after.get_hits - before.get_hits !=
	    k1.udp_requests - k0.udp_requests ||
	    k1.udp_replies == k0.udp_replies ||
	    (r->zero_copy && k1.zero_copy == k0.zero_copy)) {
		fprintf(stderr, "corecache-bench dataplane: %s: not every "
			"request was a hit served as asked\n", r->name);
		rc = -EIO;
	}
	ps.workers = NULL;
	ps.nworkers = 0;
	dp_dpdk_destroy(d);
cache:
	cc_destroy(ps.cache);
	return rc;
}

/* dpdk-testpmd macswap over the same file, its forwarding lcore on CPU 0:
 * the median of its per-second RX rates after the first two. */
static int run_testpmd(const char *file, uint64_t seconds, double *mpps)
{
	char vdev[300], line[512], buf[8192];
	double rates[64];
	unsigned nrates = 0;
	size_t have = 0;
	int out[2], status;
	pid_t pid;
	uint64_t end;

	snprintf(vdev, sizeof(vdev), "net_pcap0,rx_pcap=%s,infinite_rx=1",
		 file);
	if (pipe(out))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		dup2(devnull, 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		execlp("dpdk-testpmd", "dpdk-testpmd", "--no-huge", "-m", "1024",
		       "--no-pci", "--no-shconf", "--no-telemetry", "-l", "0,1",
		       "--main-lcore", "1", "--log-level=warning", "--vdev",
		       vdev, "--", "--forward-mode=macswap", "--nb-cores=1",
		       "--total-num-mbufs=65536", "--stats-period=1",
		       "--no-lsc-interrupt", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* Start-up takes a few seconds; the first rate is from before
	 * forwarding and the second from its start. */
	end = bench_now_ns() + (seconds + 8) * 1000000000ull;
	if (seconds < 3)
		end += (3 - seconds) * 1000000000ull;
	while (bench_now_ns() < end && nrates < 64) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		ssize_t n;
		char *nl;

		if (poll(&pfd, 1, 500) <= 0)
			continue;
		n = read(out[0], buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			size_t len = (size_t)(nl - buf);
			const char *p;

			memcpy(line, buf, len < sizeof(line) ? len :
			       sizeof(line) - 1);
			line[len < sizeof(line) ? len : sizeof(line) - 1] = 0;
			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
			buf[have] = '\0';
			p = strstr(line, "Rx-pps:");
			if (p)
				rates[nrates++] = strtod(p + 7, NULL) / 1e6;
		}
		if (have == sizeof(buf) - 1)
			have = 0;  /* a line too long to be a rate */
	}
	kill(pid, SIGINT);
	waitpid(pid, &status, 0);
	close(out[0]);
	if (nrates < 3) {
		fprintf(stderr, "corecache-bench dataplane: dpdk-testpmd gave "
			"%u rates (is it installed? package dpdk-dev)\n",
			nrates);
		return -EIO;
	}
	/* Median of the steady ones: insertion sort of a few dozen. */
	for (unsigned i = 3; i < nrates; i++)
		for (unsigned j = i; j > 2 && rates[j - 1] > rates[j]; j--) {
			double t = rates[j];

			rates[j] = rates[j - 1];
			rates[j - 1] = t;
		}
	*mpps = rates[2 + (nrates - 2) / 2];
	return 0;
}

int bench_dataplane_run(int argc, char **argv)
{
	struct dp_cfg cfg = { 0 };
	char *eal[] = { "corecache-bench", "--no-huge", "-m", "2048",
			"--no-pci", "--no-shconf", "--no-telemetry", "-l", "0",
			"--log-level=warning" };
	struct dp_run runs[] = {
		{ "batched gets, 32 B", BENCH_VALUE_LEN, true, false, 0 },
		{ "one by one, 32 B", BENCH_VALUE_LEN, false, false, 0 },
		{ "batched gets, 1 KiB zc", DP_BIG_VALUE, true, true, 0 },
	};
	char file[64], msg[160];
	double macswap = 0;
	int rc;

	if (bench_opts_parse(dp_opts, DP_NOPTS, argc, argv, &cfg, msg,
			     sizeof(msg)) < 0 || cfg.help) {
		if (!cfg.help)
			fprintf(stderr, "corecache-bench dataplane: %s\n", msg);
		bench_opts_usage(stderr, DP_USAGE, dp_opts, DP_NOPTS);
		return BENCH_EXIT_USAGE;
	}
	if (!cfg.items)
		cfg.items = cfg.quick ? 100000 : 1000000;
	if (!cfg.seconds)
		cfg.seconds = cfg.quick ? 1 : 5;
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(file, sizeof(file), "/tmp/corecache-bench-%d.pcap",
		 (int)getpid());
	rc = write_requests(file, cfg.items);
	if (rc) {
		fprintf(stderr, "corecache-bench dataplane: %s: %s\n", file,
			strerror(-rc));
		return BENCH_EXIT_FAIL;
	}
	if (dp_dpdk_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal, msg,
			     sizeof(msg))) {
		fprintf(stderr, "corecache-bench dataplane: %s\n", msg);
		rc = -EINVAL;
		goto out;
	}
	printf("dataplane: %llu items, %u distinct requests, %llu s per run, "
	       "worker on CPU 0\n", (unsigned long long)cfg.items,
	       DP_REQUESTS, (unsigned long long)cfg.seconds);
	for (unsigned i = 0; i < sizeof(runs) / sizeof(runs[0]) && !rc; i++)
		rc = run_one(&cfg, file, i, &runs[i]);
	if (!rc)
		rc = run_testpmd(file, cfg.seconds, &macswap);
	if (!rc) {
		printf("%-28s %7.2f M packets/s\n", "testpmd macswap", macswap);
		printf("dataplane mrps=%.2f testpmd_macswap_mrps=%.2f "
		       "ratio=%.2f zero_copy_mrps=%.2f\n", runs[0].mrps, macswap,
		       runs[0].mrps / macswap, runs[2].mrps);
	}
out:
	unlink(file);
	return rc ? BENCH_EXIT_FAIL : BENCH_EXIT_OK;
}
