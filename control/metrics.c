/*
 * The Prometheus exporter: what /metrics prints, and /healthz.
 *
 * Every figure comes from the two X-macro lists, CC_STATS (engine,
 * cache/corecache.h) and PROTO_COUNTERS (protocol and transport,
 * dataplane/proto/proto.h), so a counter added to either appears here
 * without a change to this file:
 *
 *   - the figures memcached_exporter users look for get its names and
 *     labels (corecache_commands_total{command,status}, current items and
 *     bytes, evictions, connections, bytes read and written), from the
 *     table `named` below, whose entries name their source field (a
 *     renamed field breaks the build, not the dashboard);
 *   - every other engine figure is corecache_engine_<name>_total;
 *   - every protocol figure is also given per worker, with a worker
 *     label: corecache_worker_<name>_total{worker="N"};
 *   - a list entry whose help ends in "(gauge)" is a gauge, without
 *     _total, the others are counters.
 *
 * Latency: corecache_request_duration_seconds, a histogram per command
 * class summed over workers (proto_latency_read).
 *
 * DPDK (when it runs): the ports' per-queue counters and their PMDs'
 * xstats, written by the DPDK path (ctl_dpdk_metrics), so this file
 * needs no DPDK header.
 *
 * Cost to the workers: none but the cache lines read. Protocol counters
 * and histograms are per-worker relaxed atomics, read without a lock;
 * cc_stats_read takes the engine's segment pool lock for the time of its
 * sum (a few microseconds), which may delay a worker that is opening a
 * segment by that long, never one that reads. Figures are read one by
 * one while the workers run, so they are not one instant's: a request
 * may show in one counter and not yet in another.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "http_internal.h"
#include "metrics.h"

#ifndef CORECACHE_VERSION
#define CORECACHE_VERSION "unknown"
#endif

struct ctl_metrics {
	struct ctl_http *http;
	struct proto_server *ps;
	struct dp_server *srv;
	const struct ctl_dpdk *dpdk;
	/* corecache_commands_total{command="set"} as last printed: it is
	 * a difference of figures read at different instants, held from
	 * going backwards (only the HTTP thread touches it). */
	uint64_t set_hits;
};

enum source { ENGINE, PROTO, SET_HITS };

/* One figure under a memcached_exporter-style name. Entries of one
 * family are adjacent; the first carries its type and help. */
struct named {
	const char *family;
	const char *type;   /* NULL: same family as the entry before */
	const char *help;
	const char *labels;
	enum source src;
	size_t off;         /* in struct cc_stats or struct proto_counters */
};

#define ENG(f) ENGINE, offsetof(struct cc_stats, f)
#define PRO(f) PROTO, offsetof(struct proto_counters, f)
#define CMD(c, s) "command=\"" c "\",status=\"" s "\""

static const struct named named[] = {
	{ "corecache_commands_total", "counter",
	  "Commands by command and status (set counts storage commands "
	  "other than cas; get counts keys)", CMD("get", "hit"),
	  PRO(get_hits) },
	{ "corecache_commands_total", NULL, NULL, CMD("get", "miss"),
	  PRO(get_misses) },
	{ "corecache_commands_total", NULL, NULL, CMD("set", "hit"),
	  SET_HITS, 0 },
	{ "corecache_commands_total", NULL, NULL, CMD("delete", "hit"),
	  ENG(delete_hits) },
	{ "corecache_commands_total", NULL, NULL, CMD("delete", "miss"),
	  ENG(delete_misses) },
	{ "corecache_commands_total", NULL, NULL, CMD("incr", "hit"),
	  ENG(incr_hits) },
	{ "corecache_commands_total", NULL, NULL, CMD("incr", "miss"),
	  ENG(incr_misses) },
	{ "corecache_commands_total", NULL, NULL, CMD("decr", "hit"),
	  ENG(decr_hits) },
	{ "corecache_commands_total", NULL, NULL, CMD("decr", "miss"),
	  ENG(decr_misses) },
	{ "corecache_commands_total", NULL, NULL, CMD("cas", "hit"),
	  ENG(cas_hits) },
	{ "corecache_commands_total", NULL, NULL, CMD("cas", "miss"),
	  ENG(cas_misses) },
	{ "corecache_commands_total", NULL, NULL, CMD("cas", "badval"),
	  ENG(cas_badval) },
	{ "corecache_commands_total", NULL, NULL, CMD("touch", "hit"),
	  ENG(touch_hits) },
	{ "corecache_commands_total", NULL, NULL, CMD("touch", "miss"),
	  ENG(touch_misses) },
	{ "corecache_commands_total", NULL, NULL, CMD("flush", "hit"),
	  PRO(cmd_flush) },
	{ "corecache_current_items", "gauge", "Live items", NULL,
	  ENG(curr_items) },
	{ "corecache_current_bytes", "gauge",
	  "Bytes of live items, headers included", NULL, ENG(curr_bytes) },
	{ "corecache_limit_bytes", "gauge",
	  "Item memory limit (-m), in whole segments", NULL,
	  ENG(limit_bytes) },
	{ "corecache_items_evicted_total", "counter",
	  "Live items dropped to make room", NULL, ENG(evictions) },
	{ "corecache_items_expired_total", "counter",
	  "Expired items whose memory was reclaimed (memcached's "
	  "reclaimed)", NULL, ENG(expirations) },
	{ "corecache_current_connections", "gauge",
	  "Open client connections", NULL, PRO(curr_connections) },
	{ "corecache_connections_total", "counter",
	  "Client connections accepted", NULL, PRO(total_connections) },
	{ "corecache_connections_refused_total", "counter",
	  "Client connections refused at the connection limit (-c)", NULL,
	  PRO(rejected_connections) },
	{ "corecache_read_bytes_total", "counter",
	  "Bytes received from clients", NULL, PRO(bytes_read) },
	{ "corecache_written_bytes_total", "counter",
	  "Bytes sent to clients", NULL, PRO(bytes_written) },
	{ "corecache_segment_size_bytes", "gauge",
	  "Size of one item segment", NULL, ENG(segment_size) },
	{ "corecache_segments", "gauge",
	  "Item segments the memory limit allows", NULL,
	  ENG(segments_total) },
	{ "corecache_segments_free", "gauge",
	  "Item segments holding no items", NULL, ENG(segments_free) },
	{ "corecache_index_bytes", "gauge", "Memory of the hash index", NULL,
	  ENG(index_bytes) },
	{ "corecache_hugetlb", "gauge",
	  "1 if segments sit on hugetlbfs pages", NULL, ENG(hugetlb) },
};

#define NNAMED (sizeof(named) / sizeof(named[0]))

static bool is_named(enum source src, size_t off)
{
	for (size_t i = 0; i < NNAMED; i++)
		if (named[i].src == src && named[i].off == off)
			return true;
	return false;
}

static uint64_t proto_value(const struct proto_counters *p, size_t off)
{
	return atomic_load_explicit(
		(const _Atomic uint64_t *)((const char *)p + off),
		memory_order_relaxed);
}

/* ---- text format ---- */

/* HELP text: backslash and newline escaped; a trailing "(gauge)" is
 * the lists' type marker, not help. */
static void family(struct ctl_buf *b, const char *name, const char *type,
		   const char *help)
{
	size_t n = strlen(help);

	if (n >= 8 && strcmp(help + n - 8, " (gauge)") == 0)
		n -= 8;
	ctl_buf_printf(b, "# HELP %s ", name);
	for (size_t i = 0; i < n;) {
		size_t run = strcspn(help + i, "\\\n");

		if (run > n - i)
			run = n - i;
		ctl_buf_add(b, help + i, run);
		i += run;
		if (i < n) {
			ctl_buf_add(b, help[i] == '\n' ? "\\n" : "\\\\",
				       2);
			i++;
		}
	}
	ctl_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static void sample(struct ctl_buf *b, const char *name, const char *labels,
		   uint64_t v)
{
	if (labels)
		ctl_buf_printf(b, "%s{%s} %" PRIu64 "\n", name, labels, v);
	else
		ctl_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

/* Nanoseconds as decimal seconds, exactly, without trailing zeros. */
static const char *seconds(uint64_t ns, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%" PRIu64 ".%09" PRIu64,
			 ns / 1000000000u, ns % 1000000000u);

	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	return buf;
}

static bool is_gauge(const char *help)
{
	size_t n = strlen(help);

	return n >= 7 && strcmp(help + n - 7, "(gauge)") == 0;
}

/* ---- the page ---- */

static void render_named(struct ctl_metrics *m, struct ctl_buf *b,
			 const struct cc_stats *cs,
			 const struct proto_counters *pc)
{
	for (size_t i = 0; i < NNAMED; i++) {
		const struct named *e = &named[i];
		uint64_t v = 0;

		if (e->type)
			family(b, e->family, e->type, e->help);
		switch (e->src) {
		case ENGINE:
			v = *(const uint64_t *)((const char *)cs + e->off);
			break;
		case PROTO:
			v = proto_value(pc, e->off);
			break;
		case SET_HITS:
			/* memcached's cmd_set counts cas too; so does
			 * memcached_exporter's set, less the cas figures. */
			v = proto_value(pc, offsetof(struct proto_counters,
						     cmd_set));
			v -= cs->cas_hits + cs->cas_misses + cs->cas_badval;
			if ((int64_t)v < (int64_t)m->set_hits)
				v = m->set_hits;
			m->set_hits = v;
			break;
		}
		sample(b, e->family, e->labels, v);
	}
}

static void render_engine(struct ctl_buf *b, const struct cc_stats *cs)
{
	char name[96];

#define ENGINE_FIGURE(field, help)                                          \
	if (!is_named(ENGINE, offsetof(struct cc_stats, field))) {          \
		snprintf(name, sizeof(name), "corecache_engine_%s%s", #field, \
			 is_gauge(help) ? "" : "_total");                    \
		family(b, name, is_gauge(help) ? "gauge" : "counter", help); \
		sample(b, name, NULL, cs->field);                            \
	}
	CC_STATS(ENGINE_FIGURE)
#undef ENGINE_FIGURE
}

static void render_workers(struct ctl_buf *b, const struct proto_server *ps)
{
	char name[96], label[32];

#define WORKER_FIGURE(field, help)                                          \
	snprintf(name, sizeof(name), "corecache_worker_%s%s", #field,       \
		 is_gauge(help) ? "" : "_total");                            \
	family(b, name, is_gauge(help) ? "gauge" : "counter", help);         \
	for (uint32_t i = 0; i < ps->nworkers; i++) {                        \
		snprintf(label, sizeof(label), "worker=\"%u\"", i);          \
		sample(b, name, label, atomic_load_explicit(                 \
			&ps->workers[i]->counters.field,                     \
			memory_order_relaxed));                              \
	}
	PROTO_COUNTERS(WORKER_FIGURE)
#undef WORKER_FIGURE
}

static void render_latency(struct ctl_buf *b, const struct proto_server *ps)
{
	static const char name[] = "corecache_request_duration_seconds";
	struct proto_latency_sum *h = malloc(sizeof(*h));
	char le[32], sum[32];

	if (!h) {
		b->oom = true;
		return;
	}
	proto_latency_read(ps, h);
	family(b, name, "histogram", "Time from the start of a request's "
	       "parsing to its reply queued, by command class (not the "
	       "network: the time in the protocol layer and the engine)");
	for (unsigned c = 0; c < PROTO_NCLASSES; c++) {
		const char *cmd = proto_class_name((enum proto_class)c);
		uint64_t cum = 0;

		for (unsigned i = 0; i < PROTO_LATENCY_BUCKETS; i++) {
			cum += h->bucket[c][i];
			ctl_buf_printf(b, "%s_bucket{command=\"%s\",le=\"%s\"} "
				       "%" PRIu64 "\n", name, cmd,
				       seconds(proto_latency_bound_ns(i), le,
					       sizeof(le)), cum);
		}
		ctl_buf_printf(b, "%s_bucket{command=\"%s\",le=\"+Inf\"} "
			       "%" PRIu64 "\n", name, cmd, h->count[c]);
		ctl_buf_printf(b, "%s_sum{command=\"%s\"} %s\n", name, cmd,
			       seconds(h->sum_ns[c], sum, sizeof(sum)));
		ctl_buf_printf(b, "%s_count{command=\"%s\"} %" PRIu64 "\n",
			       name, cmd, h->count[c]);
	}
	free(h);
}

static void render_process(struct ctl_buf *b, const struct proto_server *ps)
{
	const struct proto_settings *set = &ps->settings;
	uint64_t now = cc_now(ps->cache);
	struct rusage ru;
	char label[160], v[32];
	long pages = 0, rss = 0;
	FILE *f;

	family(b, "corecache_build_info", "gauge",
	       "Always 1; the labels give corecache's version and the "
	       "memcached protocol version it speaks");
	snprintf(label, sizeof(label), "version=\"%s\",protocol=\"%s\"",
		 CORECACHE_VERSION, set->version ? set->version : "");
	sample(b, "corecache_build_info", label, 1);
	family(b, "corecache_uptime_seconds", "gauge",
	       "Seconds since the daemon started");
	sample(b, "corecache_uptime_seconds", NULL,
	       now > (uint64_t)ps->started ? now - (uint64_t)ps->started : 0);
	family(b, "corecache_max_connections", "gauge",
	       "Client connection limit (-c)");
	sample(b, "corecache_max_connections", NULL,
	       atomic_load_explicit(&set->max_connections, memory_order_relaxed));
	family(b, "corecache_worker_threads", "gauge", "Worker threads (-t)");
	sample(b, "corecache_worker_threads", NULL, ps->nworkers);

	getrusage(RUSAGE_SELF, &ru);
	family(b, "process_cpu_seconds_total", "counter",
	       "User and system CPU time spent");
	ctl_buf_printf(b, "process_cpu_seconds_total %s\n",
		       seconds(((uint64_t)ru.ru_utime.tv_sec +
				(uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
			       ((uint64_t)ru.ru_utime.tv_usec +
				(uint64_t)ru.ru_stime.tv_usec) * 1000u,
			       v, sizeof(v)));
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) == 2) {
			family(b, "process_resident_memory_bytes", "gauge",
			       "Resident memory size");
			sample(b, "process_resident_memory_bytes", NULL,
			       (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE));
		}
		fclose(f);
	}
	family(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since the Unix epoch");
	sample(b, "process_start_time_seconds", NULL, (uint64_t)ps->started);
}

static void render_metrics(struct ctl_metrics *m, struct ctl_buf *b)
{
	struct proto_counters pc;
	struct cc_stats cs;

	proto_counters_read(m->ps, &pc);
	cc_stats_read(m->ps->cache, &cs);
	render_named(m, b, &cs, &pc);
	render_engine(b, &cs);
	render_workers(b, m->ps);
	render_latency(b, m->ps);
	render_process(b, m->ps);
	ctl_dpdk_metrics(m->dpdk, b);
}

/* The workers run until a stop is asked: by a signal through main, or by
 * the shutdown command. The stop eventfd stays readable once written. */
static bool workers_running(const struct ctl_metrics *m)
{
	struct pollfd p = { .fd = dp_server_stop_fd(m->srv),
			    .events = POLLIN };

	if (atomic_load_explicit(&m->ps->shutdown_requested,
				 memory_order_relaxed))
		return false;
	return poll(&p, 1, 0) == 0;
}

static void handle(void *arg, const char *path, struct ctl_http_reply *r)
{
	struct ctl_metrics *m = arg;

	if (strcmp(path, "/metrics") == 0) {
		r->status = 200;
		r->content_type = "text/plain; version=0.0.4";
		render_metrics(m, &r->body);
	} else if (strcmp(path, "/healthz") == 0) {
		bool up = workers_running(m);

		r->status = up ? 200 : 503;
		ctl_buf_printf(&r->body, "%s\n", up ? "ok" : "stopping");
	} else {
		r->status = 404;
		ctl_buf_printf(&r->body, "not found; try /metrics or "
			       "/healthz\n");
	}
}

int ctl_metrics_start(const struct ctl_config *cfg, struct proto_server *ps,
		      struct dp_server *srv, const struct ctl_dpdk *dpdk,
		      struct ctl_metrics **out)
{
	char host[256], port[8], msg[256];
	struct ctl_metrics *m;
	int err;

	*out = NULL;
	err = ctl_listen_split(cfg->metrics_listen, host, sizeof(host), port,
			       sizeof(port), msg, sizeof(msg));
	if (err == 1)
		return 0;
	if (err) {
		fprintf(stderr, "corecached: --metrics-listen: %s\n", msg);
		return err;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->ps = ps;
	m->srv = srv;
	m->dpdk = dpdk;
	err = ctl_http_start(host, port, handle, m, &m->http);
	if (err) {
		bool dflt = strcmp(cfg->metrics_listen,
				   ctl_metrics_listen_default) == 0;

		fprintf(stderr, "corecached: %s: cannot serve metrics on %s: "
			"%s%s\n", dflt ? "warning" : "error",
			cfg->metrics_listen, err == -EINVAL ?
			"not an address this host resolves" : strerror(-err),
			dflt ? " (running without; --metrics-listen sets "
			"another address)" : "");
		free(m);
		return dflt ? 0 : err;
	}
	*out = m;
	return 0;
}

void ctl_metrics_stop(struct ctl_metrics *m)
{
	if (!m)
		return;
	ctl_http_stop(m->http);
	free(m);
}
