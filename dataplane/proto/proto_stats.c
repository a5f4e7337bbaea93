/*
 * The `stats` command: memcached's general statistics, `stats settings`,
 * `stats items`, `stats slabs`, `stats sizes` and `stats reset`, built
 * from the engine's counters (cc_stats_read) and the workers' protocol
 * counters (proto_counters_read).
 *
 * Keys keep memcached's names and order where the number means the same
 * thing here; memcached keys with no counterpart (libevent, LRU crawler,
 * slab mover, extstore ...) are left out rather than faked, and corecache's
 * own figures follow memcached's keys. Where a figure comes from is said
 * at the line that writes it.
 *
 * `stats reset` keeps a snapshot in the proto_server that later reads
 * subtract, as memcached zeroes its counters; gauges (connections, items,
 * bytes) are never reset. The snapshot is under a lock: this is the
 * control path, never the hot one.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "proto_internal.h"

/* One lock per process is enough: stats readers are rare. */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

/* The figures one `stats` reply prints, reset baseline subtracted. */
struct stats_now {
#define STATS_NOW_PROTO(name, help) uint64_t name;
	struct {
		PROTO_COUNTERS(STATS_NOW_PROTO)
	} p;
#undef STATS_NOW_PROTO
	struct cc_stats c;
};

static void stats_read(struct proto_server *s, struct stats_now *n)
{
	struct proto_counters sum;
	struct cc_stats cs;

	proto_counters_read(s, &sum);
	cc_stats_read(s->cache, &cs);
	pthread_mutex_lock(&stats_lock);
#define STATS_SUB_PROTO(name, help)                                        \
	n->p.name = atomic_load_explicit(&sum.name, memory_order_relaxed) - \
		atomic_load_explicit(&s->stats_base.name,                    \
				     memory_order_relaxed);
	PROTO_COUNTERS(STATS_SUB_PROTO)
#undef STATS_SUB_PROTO
#define STATS_SUB_CACHE(name, help) cs.name -= s->cache_base.name;
	CC_STATS(STATS_SUB_CACHE)
#undef STATS_SUB_CACHE
	pthread_mutex_unlock(&stats_lock);
	/* Gauges are never reset (stats_reset leaves them out of the
	 * engine's baseline). */
	n->p.curr_connections = atomic_load_explicit(&sum.curr_connections,
						     memory_order_relaxed);
	n->c = cs;
}

static void stats_reset(struct proto_server *s)
{
	struct proto_counters sum;
	struct cc_stats cs;

	proto_counters_read(s, &sum);
	cc_stats_read(s->cache, &cs);
	pthread_mutex_lock(&stats_lock);
#define STATS_BASE_PROTO(name, help)                                       \
	atomic_store_explicit(&s->stats_base.name,                         \
		atomic_load_explicit(&sum.name, memory_order_relaxed),     \
		memory_order_relaxed);
	PROTO_COUNTERS(STATS_BASE_PROTO)
#undef STATS_BASE_PROTO
	s->cache_base = cs;
	s->cache_base.curr_items = 0;
	s->cache_base.curr_bytes = 0;
	pthread_mutex_unlock(&stats_lock);
}

/* ---- reply lines ---- */

static void stat_line(struct proto_req *r, const char *name, const char *v)
{
	size_t nl = strlen(name), vl = strlen(v);
	char *p = proto_out_reserve(r->out, 5 + nl + 1 + vl + 2);

	if (!p) {
		r->failed = true;
		return;
	}
	memcpy(p, "STAT ", 5);
	memcpy(p + 5, name, nl);
	p[5 + nl] = ' ';
	memcpy(p + 6 + nl, v, vl);
	memcpy(p + 6 + nl + vl, "\r\n", 2);
	proto_out_commit(r->out, 5 + nl + 1 + vl + 2);
}

static void stat_u64(struct proto_req *r, const char *name, uint64_t v)
{
	char num[21];

	*proto_utoa(v, num) = '\0';
	stat_line(r, name, num);
}

static void stat_yes(struct proto_req *r, const char *name, bool yes)
{
	stat_line(r, name, yes ? "yes" : "no");
}

static void stat_rusage(struct proto_req *r, const char *name,
			const struct timeval *tv)
{
	char v[48];

	snprintf(v, sizeof(v), "%ld.%06ld", (long)tv->tv_sec,
		 (long)tv->tv_usec);
	stat_line(r, name, v);
}

/* ---- groups ---- */

static void stats_general(struct proto_req *r)
{
	struct proto_server *s = r->w->server;
	const struct proto_settings *set = &s->settings;
	struct stats_now n;
	struct rusage ru;
	/* The cache's clock: the real time in service, the fake one in
	 * tests. */
	time_t now = (time_t)cc_now(s->cache);

	stats_read(s, &n);
	getrusage(RUSAGE_SELF, &ru);

	stat_u64(r, "pid", (uint64_t)getpid());
	stat_u64(r, "uptime", (uint64_t)(now > s->started ? now - s->started
							  : 0));
	stat_u64(r, "time", (uint64_t)now);
	stat_line(r, "version", set->version ? set->version : "");
	stat_u64(r, "pointer_size", 8 * sizeof(void *));
	stat_rusage(r, "rusage_user", &ru.ru_utime);
	stat_rusage(r, "rusage_system", &ru.ru_stime);
	stat_u64(r, "max_connections",
		 atomic_load_explicit(&set->max_connections,
				      memory_order_relaxed));
	stat_u64(r, "curr_connections", n.p.curr_connections);
	stat_u64(r, "total_connections", n.p.total_connections);
	stat_u64(r, "rejected_connections", n.p.rejected_connections);
	/* Retrievals and stores as the protocol saw them; memcached counts
	 * gat/gats under cmd_touch and touch_*, not under cmd_get. */
	stat_u64(r, "cmd_get", n.p.cmd_get);
	stat_u64(r, "cmd_set", n.p.cmd_set);
	stat_u64(r, "cmd_flush", n.p.cmd_flush);
	stat_u64(r, "cmd_touch", n.p.cmd_touch);
	stat_u64(r, "cmd_meta", n.p.cmd_meta);
	stat_u64(r, "get_hits", n.p.get_hits);
	stat_u64(r, "get_misses", n.p.get_misses);
	/* The engine tells apart the misses that found an expired or a
	 * flushed item. */
	stat_u64(r, "get_expired", n.c.get_expired);
	stat_u64(r, "get_flushed", n.c.get_flushed);
	stat_u64(r, "delete_misses", n.c.delete_misses);
	stat_u64(r, "delete_hits", n.c.delete_hits);
	stat_u64(r, "incr_misses", n.c.incr_misses);
	stat_u64(r, "incr_hits", n.c.incr_hits);
	stat_u64(r, "decr_misses", n.c.decr_misses);
	stat_u64(r, "decr_hits", n.c.decr_hits);
	stat_u64(r, "cas_misses", n.c.cas_misses);
	stat_u64(r, "cas_hits", n.c.cas_hits);
	stat_u64(r, "cas_badval", n.c.cas_badval);
	stat_u64(r, "touch_hits", n.c.touch_hits);
	stat_u64(r, "touch_misses", n.c.touch_misses);
	stat_u64(r, "store_too_large", n.p.store_too_large);
	stat_u64(r, "store_no_memory", n.p.store_no_memory);
	stat_u64(r, "bytes_read", n.p.bytes_read);
	stat_u64(r, "bytes_written", n.p.bytes_written);
	stat_u64(r, "limit_maxbytes", n.c.limit_bytes);
	stat_u64(r, "accepting_conns", 1);
	stat_u64(r, "threads", set->threads);
	stat_u64(r, "hash_bytes", n.c.index_bytes);
	stat_u64(r, "hash_is_expanding", 0);
	stat_u64(r, "bytes", n.c.curr_bytes);
	stat_u64(r, "curr_items", n.c.curr_items);
	/* Stores that took effect: every store less the refused ones. */
	stat_u64(r, "total_items",
		 n.c.set_cmds - n.c.store_refused - n.c.out_of_memory);
	/* Free segments are memcached's global page pool: memory not yet
	 * given to any class. */
	stat_u64(r, "slab_global_page_pool", n.c.segments_free);
	stat_u64(r, "evictions", n.c.evictions);
	/* Expired items whose memory went back to use. */
	stat_u64(r, "reclaimed", n.c.expirations);
	/* corecache's own, after memcached's. */
	stat_u64(r, "protocol_errors", n.p.protocol_errors);
	stat_u64(r, "conn_closed_errors", n.p.conn_closed_errors);
	stat_u64(r, "udp_requests", n.p.udp_requests);
	stat_u64(r, "udp_refused", n.p.udp_refused);
	stat_u64(r, "zero_copy_values", n.p.zero_copy_values);
	stat_u64(r, "merged_items", n.c.merged_items);
	stat_u64(r, "index_evictions", n.c.index_evictions);
	stat_u64(r, "segments_evicted", n.c.segments_evicted);
	stat_u64(r, "segments_expired", n.c.segments_expired);
	stat_u64(r, "segment_size", n.c.segment_size);
	stat_u64(r, "segments_total", n.c.segments_total);
	stat_u64(r, "segments_free", n.c.segments_free);
	stat_u64(r, "hugetlb", n.c.hugetlb);
}

static void stats_settings(struct proto_req *r)
{
	struct proto_server *s = r->w->server;
	const struct proto_settings *set = &s->settings;
	struct cc_stats cs;

	cc_stats_read(s->cache, &cs);
	stat_u64(r, "maxbytes", cs.limit_bytes);
	stat_u64(r, "maxconns", atomic_load_explicit(&set->max_connections,
						     memory_order_relaxed));
	stat_u64(r, "tcpport", set->tcp_port);
	stat_u64(r, "udpport", set->udp_port);
	stat_u64(r, "verbosity",
		 atomic_load_explicit(&set->verbosity, memory_order_relaxed));
	stat_line(r, "evictions", "on");
	stat_yes(r, "shutdown_command", set->shutdown_enabled);
	stat_u64(r, "num_threads", set->threads);
	stat_yes(r, "cas_enabled", true);
	/* Only the text and meta protocols are spoken (memcached -B ascii). */
	stat_line(r, "binding_protocol", "ascii");
	stat_u64(r, "item_size_max", set->item_max);
	stat_yes(r, "flush_enabled", set->flush_enabled);
	stat_u64(r, "zero_copy_min",
		 atomic_load_explicit(&set->zero_copy_min,
				      memory_order_relaxed));
	stat_u64(r, "segment_size", cs.segment_size);
}

/*
 * Segments stand in for memcached's slab class: every item lives in one
 * kind of fixed-size segment, so there is a single class, numbered 1,
 * whose chunk and page are both a segment. total_pages is the segments
 * in use; the free ones are the global page pool in `stats`. As in
 * memcached, a class with nothing in it is not listed.
 */
static void stats_slabs(struct proto_req *r)
{
	struct stats_now n;
	uint64_t used;

	stats_read(r->w->server, &n);
	used = n.c.segments_total - n.c.segments_free;
	if (used) {
		stat_u64(r, "1:chunk_size", n.c.segment_size);
		stat_u64(r, "1:chunks_per_page", 1);
		stat_u64(r, "1:total_pages", used);
		stat_u64(r, "1:total_chunks", used);
		stat_u64(r, "1:used_chunks", used);
		stat_u64(r, "1:free_chunks", 0);
		stat_u64(r, "1:free_chunks_end", 0);
		stat_u64(r, "1:get_hits", n.p.get_hits);
		stat_u64(r, "1:cmd_set", n.p.cmd_set);
		stat_u64(r, "1:delete_hits", n.c.delete_hits);
		stat_u64(r, "1:incr_hits", n.c.incr_hits);
		stat_u64(r, "1:decr_hits", n.c.decr_hits);
		stat_u64(r, "1:cas_hits", n.c.cas_hits);
		stat_u64(r, "1:cas_badval", n.c.cas_badval);
		stat_u64(r, "1:touch_hits", n.c.touch_hits);
	}
	stat_u64(r, "active_slabs", used ? 1 : 0);
	stat_u64(r, "total_malloced", used * n.c.segment_size);
}

/* The same single class, item side: its items, their bytes, and what
 * left it by eviction or expiry. */
static void stats_items(struct proto_req *r)
{
	struct stats_now n;

	stats_read(r->w->server, &n);
	if (!n.c.curr_items)
		return;
	stat_u64(r, "items:1:number", n.c.curr_items);
	stat_u64(r, "items:1:mem_requested", n.c.curr_bytes);
	stat_u64(r, "items:1:evicted", n.c.evictions);
	stat_u64(r, "items:1:outofmemory", n.c.out_of_memory);
	stat_u64(r, "items:1:reclaimed", n.c.expirations);
}

enum proto_cmd_result proto_stats_command(struct proto_req *r,
					  struct proto_token *tok,
					  unsigned ntok)
{
	const struct proto_token *g = &tok[1];

	/* memcached looks at the group word only; words after it are
	 * ignored ("stats reset now" resets). */
	if (ntok == 1) {
		stats_general(r);
	} else if (PROTO_TOKEN_IS(g, "reset")) {
		stats_reset(r->w->server);
		PROTO_REPLY(r, "RESET");
		return PROTO_CMD_DONE;
	} else if (PROTO_TOKEN_IS(g, "settings")) {
		stats_settings(r);
	} else if (PROTO_TOKEN_IS(g, "items")) {
		stats_items(r);
	} else if (PROTO_TOKEN_IS(g, "slabs")) {
		stats_slabs(r);
	} else if (PROTO_TOKEN_IS(g, "sizes")) {
		/* Item sizes are not tracked: memcached's answer when its
		 * size histogram is off. */
		stat_line(r, "sizes_status", "disabled");
	} else {
		return proto_error(r, "ERROR");
	}
	PROTO_REPLY(r, "END");
	return PROTO_CMD_DONE;
}
