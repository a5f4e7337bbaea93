/*
 * corecached's DPDK path, from the options to a running dataplane: the
 * port and network specs parsed, the EAL initialised from --dpdk, the
 * dataplane created over the ports, and its workers' protocol state added
 * to the server's, so that `stats` counts what they serve.
 *
 * Set-up only: everything here runs on the control thread before and
 * after the workers, never on the request path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "dpdk.h"
#include "numa.h"
#include "proto.h"

/* Most EAL arguments --dpdk may hold. */
#define EAL_ARGS_MAX 64

struct ctl_dpdk {
	struct dp_dpdk *dp;
	struct numa_plan *plan;   /* NULL when the EAL arguments chose */
	char lcore_arg[256], main_arg[16];
	struct proto_server *ps;
	/* ps->workers as the io_uring server made them, restored before it
	 * frees them; `all` holds those and the DPDK workers'. */
	struct proto_worker **saved;
	uint32_t saved_n;
	struct proto_worker **all;
	char *eal_buf;
	/* The allow-list the workers use, as configured: what
	 * ctl_dpdk_apply compares with (control thread only). */
	struct ctl_list allow;
};


int ctl_parse_cidr(const char *s, uint32_t *addr, uint32_t *mask,
		   char *err, size_t errlen)
{
	const char *slash = strchr(s, '/');
	char buf[INET_ADDRSTRLEN];
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix = 32;
	struct in_addr a;
	char *end;

	if (n == 0 || n >= sizeof(buf))
		goto bad;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		goto bad;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9')
			goto bad;
		prefix = strtoul(slash + 1, &end, 10);
		if (*end || prefix > 32)
			goto bad;
	}
	*mask = prefix ? ~0u << (32 - prefix) : 0;
	*addr = ntohl(a.s_addr) & *mask;
	return 0;
bad:
	return ctl_fail(err, errlen, "'%s' is not an IPv4 network (A.B.C.D/P, "
		    "P from 0 to 32)", s);
}

int ctl_parse_dpdk_port(const char *spec, unsigned index, char *devargs,
			size_t devargs_len, uint32_t *addr, uint8_t *prefix,
			char *iface, size_t iface_len, char *err,
			size_t errlen)
{
	const char *comma = strrchr(spec, ','), *net;
	size_t n = strlen(spec), len;
	char msg[128], buf[64];
	struct in_addr in;
	uint32_t a, mask;

	snprintf(iface, iface_len, "cc-exc%u", index);
	if (comma && !strncmp(comma + 1, "exception=", 10)) {
		const char *name = comma + 11;

		if (!*name || strlen(name) >= iface_len || strlen(name) > 15)
			return ctl_fail(err, errlen, "--dpdk-port '%s': bad "
				    "exception interface name", spec);
		snprintf(iface, iface_len, "%s", name);
		n = (size_t)(comma - spec);
		comma = n ? memrchr(spec, ',', n) : NULL;
	}
	if (!comma || comma == spec)
		return ctl_fail(err, errlen, "--dpdk-port '%s': want "
			    "<devargs>,<ipv4>/<prefix>", spec);
	net = comma + 1;
	len = n - (size_t)(net - spec);
	if (len >= sizeof(buf) || !memchr(net, '/', len))
		return ctl_fail(err, errlen, "--dpdk-port '%s': want "
			    "<devargs>,<ipv4>/<prefix>", spec);
	memcpy(buf, net, len);
	buf[len] = '\0';
	if (ctl_parse_cidr(buf, &a, &mask, msg, sizeof(msg)))
		return ctl_fail(err, errlen, "--dpdk-port '%s': %s", spec, msg);
	/* Our address is the one given, not its network's. */
	buf[strcspn(buf, "/")] = '\0';
	inet_pton(AF_INET, buf, &in);
	a = ntohl(in.s_addr);
	if ((size_t)(comma - spec) >= devargs_len)
		return ctl_fail(err, errlen, "--dpdk-port '%s': device "
			    "arguments too long", spec);
	memcpy(devargs, spec, (size_t)(comma - spec));
	devargs[comma - spec] = '\0';
	*addr = a;
	*prefix = (uint8_t)__builtin_popcount(mask);
	return 0;
}

/* Splits --dpdk's value on blanks into argv (argv[0] = program). */
static int eal_args(const char *s, char **buf, char **argv, int *argc,
		    char *err, size_t errlen)
{
	char *save = NULL, *tok;

	*buf = strdup(s ? s : "");
	if (!*buf)
		return ctl_fail(err, errlen, "out of memory");
	argv[0] = "corecached";
	*argc = 1;
	for (tok = strtok_r(*buf, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (*argc == EAL_ARGS_MAX - 1)
			return ctl_fail(err, errlen, "--dpdk: more than %d "
				    "arguments", EAL_ARGS_MAX - 2);
		argv[(*argc)++] = tok;
	}
	argv[*argc] = NULL;
	return 0;
}

/* Whether the EAL arguments choose the lcores themselves. */
static bool eal_has_lcores(char **argv, int argc)
{
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "-l", 2) || !strncmp(argv[i], "-c", 2) ||
		    !strncmp(argv[i], "--lcores", 8))
			return true;
	return false;
}

/* A PCI device (what the EAL names "DDDD:BB:DD.F"), which has a node;
 * a vdev ("net_...") has none. */
static bool is_pci(const char *devargs)
{
	size_t n = strcspn(devargs, ",");

	return strncmp(devargs, "net_", 4) && memchr(devargs, ':', n) &&
	       memchr(devargs, '.', n);
}

/* numa/'s plan for the DPDK workers: their CPUs (one lcore each, next to
 * the ports' nodes), the control thread's CPU (the EAL main lcore) and
 * each port's pool node; added to the EAL arguments as -l and
 * --main-lcore. */
static int plan_lcores(const struct ctl_config *cfg, struct ctl_dpdk *d,
		       struct dp_dpdk_port_params *ports, unsigned nports,
		       const cpu_set_t *allowed, unsigned *lcores,
		       unsigned *nl, char **argv, int *argc, char *err,
		       size_t errlen)
{
	struct numa_port_req preq[CTL_LIST_MAX];
	struct numa_topology *topo;
	struct numa_plan_req req;
	char msg[200];
	size_t used;
	int rc;

	rc = numa_topology_load(NULL, &topo, msg, sizeof(msg));
	if (rc)
		return ctl_fail(err, errlen, "DPDK placement: %s", msg);
	numa_plan_req_init(&req);
	req.workers = cfg->dpdk_workers ? cfg->dpdk_workers : 1;
	req.allowed = CPU_COUNT(allowed) ? allowed : NULL;
	req.main = NUMA_MAIN_KEEP;
	for (unsigned i = 0; i < nports; i++)
		preq[i] = (struct numa_port_req){
			.pci_addr = is_pci(ports[i].devargs) ?
				    ports[i].devargs : NULL,
		};
	req.ports = preq;
	req.nports = nports;
	rc = numa_plan_create(topo, &req, &d->plan, msg, sizeof(msg));
	numa_topology_destroy(topo);
	if (rc)
		return ctl_fail(err, errlen, "DPDK placement: %s", msg);
	*nl = numa_plan_workers(d->plan);
	used = (size_t)snprintf(d->lcore_arg, sizeof(d->lcore_arg), "%d",
				numa_plan_main_cpu(d->plan));
	for (unsigned w = 0; w < *nl && used < sizeof(d->lcore_arg); w++) {
		lcores[w] = (unsigned)numa_plan_worker_cpu(d->plan, w);
		used += (size_t)snprintf(d->lcore_arg + used,
					 sizeof(d->lcore_arg) - used, ",%u",
					 lcores[w]);
	}
	if (used >= sizeof(d->lcore_arg) || *argc + 4 >= EAL_ARGS_MAX)
		return ctl_fail(err, errlen, "DPDK placement: too many lcores");
	for (unsigned i = 0; i < nports; i++) {
		ports[i].pool_placed = true;
		ports[i].pool_socket = numa_plan_port_pool_node(d->plan, i);
	}
	snprintf(d->main_arg, sizeof(d->main_arg), "%d",
		 numa_plan_main_cpu(d->plan));
	argv[(*argc)++] = "-l";
	argv[(*argc)++] = d->lcore_arg;
	argv[(*argc)++] = "--main-lcore";
	argv[(*argc)++] = d->main_arg;
	argv[*argc] = NULL;
	if (cfg->verbosity)
		numa_plan_print(d->plan, stderr);
	return 0;
}

int ctl_dpdk_create(const struct ctl_config *cfg, struct proto_server *ps,
		    struct ctl_dpdk **out, char *err, size_t errlen)
{
	char devargs[CTL_LIST_MAX][512], ifaces[CTL_LIST_MAX][32];
	struct dp_dpdk_port_params ports[CTL_LIST_MAX];
	struct dp_dpdk_cidr allow[CTL_LIST_MAX];
	struct dp_dpdk_params p = {
		.ports = ports, .nports = cfg->dpdk_ports.n,
		.workers = cfg->dpdk_workers, .udp_port = cfg->udp_port,
		.amplification = cfg->udp_amplification, .allow = allow,
		.nallow = cfg->udp_allow.n, .bulk_get = !cfg->dpdk_no_bulk,
	};
	unsigned lcores[DP_DPDK_WORKERS_MAX];
	char *argv[EAL_ARGS_MAX];
	struct ctl_dpdk *d;
	cpu_set_t cpus;
	int argc, rc;

	if (cfg->udp_port == 0)
		return ctl_fail(err, errlen, "--dpdk-port needs -U/--udp-port: "
			    "the memcached UDP port it serves");
	for (unsigned i = 0; i < cfg->dpdk_ports.n; i++) {
		ports[i] = (struct dp_dpdk_port_params){ .devargs = devargs[i] };
		rc = ctl_parse_dpdk_port(cfg->dpdk_ports.v[i], i, devargs[i],
					 sizeof(devargs[i]), &ports[i].addr,
					 &ports[i].prefix, ifaces[i],
					 sizeof(ifaces[i]), err, errlen);
		if (rc)
			return rc;
		if (strcmp(ifaces[i], "none"))
			ports[i].exception_iface = ifaces[i];
	}
	for (unsigned i = 0; i < cfg->udp_allow.n; i++) {
		char msg[128];

		if (ctl_parse_cidr(cfg->udp_allow.v[i], &allow[i].addr,
				   &allow[i].mask, msg, sizeof(msg)))
			return ctl_fail(err, errlen, "--udp-allow: %s", msg);
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return ctl_fail(err, errlen, "out of memory");
	d->ps = ps;
	d->allow = cfg->udp_allow;
	rc = eal_args(cfg->dpdk_eal, &d->eal_buf, argv, &argc, err, errlen);
	if (rc)
		goto free_d;
	/* The EAL pins the calling thread to the main lcore; the io_uring
	 * workers started after this inherit the control thread's CPUs, so
	 * give it back the ones it had (less the planned DPDK workers'). */
	if (pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus))
		CPU_ZERO(&cpus);
	if (!eal_has_lcores(argv, argc)) {
		rc = plan_lcores(cfg, d, ports, cfg->dpdk_ports.n, &cpus,
				 lcores, &p.nlcores, argv, &argc, err, errlen);
		if (rc)
			goto free_d;
		p.lcores = lcores;
	}
	rc = dp_dpdk_eal_init(argc, argv, err, errlen);
	if (rc)
		goto free_d;
	if (CPU_COUNT(&cpus)) {
		/* Planned workers poll their CPUs flat out: the io_uring
		 * workers keep off them when any other CPU is left. */
		cpu_set_t rest = cpus;

		for (unsigned w = 0; w < p.nlcores; w++)
			CPU_CLR(lcores[w], &rest);
		pthread_setaffinity_np(pthread_self(), sizeof(cpus),
				       CPU_COUNT(&rest) ? &rest : &cpus);
	}
	rc = dp_dpdk_create(ps, &p, &d->dp, err, errlen);
	if (rc)
		goto free_d;
	*out = d;
	return 0;
free_d:
	numa_plan_destroy(d->plan);
	free(d->eal_buf);
	free(d);
	return rc;
}

int ctl_dpdk_add_workers(struct ctl_dpdk *d)
{
	struct proto_server *ps = d->ps;
	unsigned n = dp_dpdk_nworkers(d->dp);

	d->all = calloc(ps->nworkers + n, sizeof(*d->all));
	if (!d->all)
		return -ENOMEM;
	memcpy(d->all, ps->workers, ps->nworkers * sizeof(*d->all));
	for (unsigned i = 0; i < n; i++)
		d->all[ps->nworkers + i] = dp_dpdk_proto_worker(d->dp, i);
	d->saved = ps->workers;
	d->saved_n = ps->nworkers;
	ps->workers = d->all;
	ps->nworkers += n;
	return 0;
}

int ctl_dpdk_start(struct ctl_dpdk *d)
{
	return dp_dpdk_start(d->dp);
}

void ctl_dpdk_log(const struct ctl_dpdk *d, FILE *f)
{
	for (unsigned i = 0; i < dp_dpdk_nports(d->dp); i++) {
		struct dp_dpdk_counters k;

		if (dp_dpdk_counters_read(d->dp, (int)i, -1, &k))
			continue;
		fprintf(f, "dpdk port %u:", i);
#define CTL_DPDK_PRINT(name, help) \
		fprintf(f, " " #name "=%llu", (unsigned long long)k.name);
		DP_DPDK_COUNTERS(CTL_DPDK_PRINT)
#undef CTL_DPDK_PRINT
		fputc('\n', f);
	}
}

static void counters_text(struct ctl_buf *out, const char *what,
			  const struct dp_dpdk_counters *k)
{
	ctl_buf_printf(out, "  %-8s", what);
#define CTL_DPDK_TEXT(name, help) \
	ctl_buf_printf(out, " " #name "=%llu", (unsigned long long)k->name);
	DP_DPDK_COUNTERS(CTL_DPDK_TEXT)
#undef CTL_DPDK_TEXT
	ctl_buf_add(out, "\n", 1);
}

/* The members of a JSON object, without its braces. */
static void counters_json(struct ctl_buf *out,
			  const struct dp_dpdk_counters *k)
{
	const char *sep = "";

#define CTL_DPDK_JSON(name, help)                                          \
	ctl_buf_printf(out, "%s\"" #name "\":%llu", sep,                      \
		       (unsigned long long)k->name);                         \
	sep = ",";
	DP_DPDK_COUNTERS(CTL_DPDK_JSON)
#undef CTL_DPDK_JSON
}

static void port_head(struct ctl_buf *out, unsigned i,
		      const struct dp_dpdk_port_info *pi, bool json)
{
	struct in_addr a = { .s_addr = htonl(pi->addr) };
	char addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a, addr, sizeof(addr));
	if (!json) {
		ctl_buf_printf(out, "port %u: %s %s/%u, link %s", i, pi->name,
			       addr, pi->prefix, pi->link_up ? "up" : "down");
		if (pi->speed_mbps)
			ctl_buf_printf(out, " %u Mb/s %s", pi->speed_mbps,
				       pi->full_duplex ? "full-duplex" :
				       "half-duplex");
		ctl_buf_printf(out, ", %u queue%s, exception %s\n",
			       pi->queues, pi->queues == 1 ? "" : "s",
			       pi->exception[0] ? pi->exception : "none");
		return;
	}
	ctl_buf_printf(out, "%s{\"port\":%u,\"name\":", i ? "," : "", i);
	ctl_buf_json_str(out, pi->name);
	ctl_buf_printf(out, ",\"ethdev_id\":%u,\"address\":\"%s\","
		       "\"prefix\":%u,\"link\":{\"up\":%s,\"speed_mbps\":%u,"
		       "\"full_duplex\":%s},\"queues\":%u,\"exception\":",
		       pi->port_id, addr, pi->prefix,
		       pi->link_up ? "true" : "false", pi->speed_mbps,
		       pi->full_duplex ? "true" : "false", pi->queues);
	if (pi->exception[0])
		ctl_buf_json_str(out, pi->exception);
	else
		ctl_buf_add(out, "null", 4);
}

void ctl_dpdk_ports(const struct ctl_dpdk *d, struct ctl_buf *out,
		    bool json)
{
	unsigned nports = d ? dp_dpdk_nports(d->dp) : 0;

	if (!nports) {
		ctl_buf_printf(out, json ? "{\"ports\":[]}\n" :
			       "no DPDK ports\n");
		return;
	}
	if (json)
		ctl_buf_add(out, "{\"ports\":[", 10);
	for (unsigned i = 0; i < nports; i++) {
		struct dp_dpdk_port_info pi;
		struct dp_dpdk_counters k;

		if (dp_dpdk_port_info(d->dp, i, &pi) ||
		    dp_dpdk_counters_read(d->dp, (int)i, -1, &k))
			continue;
		port_head(out, i, &pi, json);
		if (json) {
			ctl_buf_add(out, ",\"counters\":{", 13);
			counters_json(out, &k);
			ctl_buf_add(out, "},\"per_queue\":[", 15);
		} else {
			counters_text(out, "total", &k);
		}
		for (unsigned q = 0; q < pi.queues; q++) {
			char what[24];

			if (dp_dpdk_counters_read(d->dp, (int)i, (int)q, &k))
				continue;
			if (!json) {
				snprintf(what, sizeof(what), "queue %u", q);
				counters_text(out, what, &k);
				continue;
			}
			ctl_buf_printf(out, "%s{\"queue\":%u,", q ? "," : "",
				       q);
			counters_json(out, &k);
			ctl_buf_add(out, "}", 1);
		}
		if (json)
			ctl_buf_add(out, "]}", 2);
	}
	if (json)
		ctl_buf_add(out, "]}\n", 3);
}

/* One xstat as a sample; the PMD's name is a label value, escaped as
 * the exposition format wants. */
struct xstat_ctx {
	struct ctl_buf *out;
	unsigned port;
};

static void xstat_sample(void *arg, const char *name, uint64_t value)
{
	struct xstat_ctx *x = arg;

	ctl_buf_printf(x->out, "corecache_dpdk_port_xstat{port=\"%u\","
		       "name=\"", x->port);
	for (const char *c = name; *c; c++) {
		if (*c == '\\' || *c == '"')
			ctl_buf_add(x->out, "\\", 1);
		if (*c == '\n')
			ctl_buf_add(x->out, "\\n", 2);
		else
			ctl_buf_add(x->out, c, 1);
	}
	ctl_buf_printf(x->out, "\"} %llu\n", (unsigned long long)value);
}

void ctl_dpdk_metrics(const struct ctl_dpdk *d, struct ctl_buf *out)
{
	unsigned nports = d ? dp_dpdk_nports(d->dp) : 0;
	unsigned nq = d ? dp_dpdk_nworkers(d->dp) : 0;
	struct dp_dpdk_counters k;

	if (!nports)
		return;
#define CTL_DPDK_METRIC(name, help)                                        \
	ctl_buf_printf(out, "# HELP corecache_dpdk_" #name "_total DPDK "   \
		       "port queue: " help "\n# TYPE corecache_dpdk_" #name  \
		       "_total counter\n");                                  \
	for (unsigned p = 0; p < nports; p++)                                \
		for (unsigned q = 0; q < nq; q++)                            \
			if (!dp_dpdk_counters_read(d->dp, (int)p, (int)q,    \
						   &k))                      \
				ctl_buf_printf(out, "corecache_dpdk_" #name  \
					       "_total{port=\"%u\","         \
					       "queue=\"%u\"} %llu\n", p, q, \
					       (unsigned long long)k.name);
	DP_DPDK_COUNTERS(CTL_DPDK_METRIC)
#undef CTL_DPDK_METRIC
	ctl_buf_printf(out, "# HELP corecache_dpdk_port_xstat A DPDK port's "
		       "extended statistic as its driver names it "
		       "(rte_eth_xstats_get)\n# TYPE corecache_dpdk_port_xstat "
		       "gauge\n");
	for (unsigned p = 0; p < nports; p++) {
		struct xstat_ctx x = { .out = out, .port = p };

		dp_dpdk_xstats(d->dp, p, xstat_sample, &x);
	}
}

int ctl_dpdk_apply(struct ctl_dpdk *d, const struct ctl_config *cfg,
		   char *err, size_t errlen)
{
	struct dp_dpdk_cidr allow[CTL_LIST_MAX];
	bool same;
	int rc;

	if (!d)
		return 0;
	same = cfg->udp_allow.n == d->allow.n;
	for (unsigned i = 0; i < cfg->udp_allow.n; i++) {
		char msg[128];

		if (ctl_parse_cidr(cfg->udp_allow.v[i], &allow[i].addr,
				   &allow[i].mask, msg, sizeof(msg)))
			return ctl_fail(err, errlen, "udp-allow: %s", msg);
		if (same && strcmp(cfg->udp_allow.v[i], d->allow.v[i]))
			same = false;
	}
	if (!same) {
		rc = dp_dpdk_set_allow(d->dp, allow, cfg->udp_allow.n);
		if (rc) {
			ctl_fail(err, errlen, "udp-allow: out of memory");
			return rc;
		}
		d->allow = cfg->udp_allow;
	}
	dp_dpdk_set_amplification(d->dp, cfg->udp_amplification);
	return 0;
}

void ctl_dpdk_stop(struct ctl_dpdk *d)
{
	dp_dpdk_stop(d->dp);
}

void ctl_dpdk_destroy(struct ctl_dpdk *d)
{
	if (!d)
		return;
	dp_dpdk_destroy(d->dp);
	if (d->all) {
		d->ps->workers = d->saved;
		d->ps->nworkers = d->saved_n;
	}
	free(d->all);
	numa_plan_destroy(d->plan);
	free(d->eal_buf);
	free(d);
}
