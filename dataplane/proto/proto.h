/*
 * memcached protocol layer: text and meta commands and the UDP frame header,
 * shared by the io_uring path and the DPDK path.
 *
 * The layer is transport-free. A path hands it the bytes it received for one
 * connection (or one UDP datagram's payload) and a reply queue; the layer
 * parses requests in place, runs them against the engine and appends the
 * replies. It never allocates per request: the reply queue grows only when a
 * connection's backlog outgrows every earlier one, and values at or above
 * zero_copy_min are queued as references into cache memory rather than
 * copied, so the path sends them straight from segments (writev, or
 * zero-copy send holding the reference until the kernel lets go).
 *
 * Threads: a struct proto_worker belongs to one thread (it carries that
 * thread's engine handle and counters). A struct proto_conn and a struct
 * proto_out belong to the worker that serves the connection. Only
 * proto_server fields documented as atomic change while workers run.
 *
 * Errors: functions return 0 or a negative errno value.
 */
#ifndef CORECACHE_PROTO_H
#define CORECACHE_PROTO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include "corecache.h"

/* memcached: a command line with no '\n' within this many bytes closes the
 * connection, unless it is a get/gets (multigets may be long). */
#define PROTO_LINE_MAX 2048
/* Longest multiget line accepted before the connection is closed. */
#define PROTO_MULTIGET_LINE_MAX (1u << 20)

/* UDP frame: request id, sequence number, datagram count, reserved (all
 * big endian), then at most PROTO_UDP_DATAGRAM_MAX - 8 payload bytes. */
#define PROTO_UDP_HEADER_LEN 8
#define PROTO_UDP_DATAGRAM_MAX 1400

/* Settings read by every worker. Set before the workers start; the fields
 * marked atomic may change while they run (control plane). */
struct proto_settings {
	size_t item_max;              /* -I: largest item, key and memcached's
				       * 59-byte header (63 with flags)
				       * included: see proto_too_large */
	/* Values this long or longer are queued by reference, not copied.
	 * Atomic (relaxed: a reply reads it once or twice and either
	 * answer is right) because the control plane changes it live. */
	_Atomic uint32_t zero_copy_min;
	/* -c: open TCP connections over every worker, enforced at accept.
	 * Atomic (relaxed, read once per accept) for the same reason. */
	_Atomic uint32_t max_connections;
	uint32_t threads;             /* -t, for stats */
	uint16_t tcp_port;            /* -p, for stats settings */
	uint16_t udp_port;            /* -U, 0 = off */
	bool shutdown_enabled;        /* -A: the shutdown command works */
	bool flush_enabled;           /* not -F: flush_all works */
	_Atomic uint32_t verbosity;   /* -v count; the verbosity command */
	const char *version;          /* the VERSION reply's text */
};

/* Per-worker counters of the protocol and transport, beyond the engine's
 * own (cc_stats). One list feeds the struct, `stats` and the exporters. */
#define PROTO_COUNTERS(X)                                                   \
	X(cmd_get, "get, gets, gat, gats and mg requests, per key")        \
	X(cmd_set, "storage requests of every kind")                         \
	X(cmd_flush, "flush_all requests")                                   \
	X(cmd_touch, "touch, gat and gats requests, per key")                \
	X(cmd_meta, "meta protocol requests")                                \
	X(get_hits, "keys found by retrieval requests")                      \
	X(get_misses, "keys not found by retrieval requests")                \
	X(store_too_large, "stores refused for an oversize value")           \
	X(store_no_memory, "stores refused for lack of memory")              \
	X(protocol_errors, "requests answered ERROR or CLIENT_ERROR")        \
	X(bytes_read, "bytes received from clients")                         \
	X(bytes_written, "bytes sent to clients")                            \
	X(curr_connections, "open client connections (gauge)")              \
	X(total_connections, "connections accepted")                         \
	X(rejected_connections, "connections refused at the -c limit")       \
	X(conn_closed_errors, "connections closed for malformed input")      \
	X(udp_requests, "UDP datagrams served")                              \
	X(udp_refused, "UDP datagrams refused (bad or multi-datagram frame)") \
	X(udp_replies_dropped, "UDP replies dropped whole: too many datagrams") \
	X(zero_copy_values, "values queued by reference, not copied")

struct proto_counters {
#define PROTO_COUNTER_FIELD(name, help) _Atomic uint64_t name;
	PROTO_COUNTERS(PROTO_COUNTER_FIELD)
#undef PROTO_COUNTER_FIELD
};

/* Adds to a counter of the calling worker's own: a relaxed load and store,
 * no locked instruction, because only the owner writes it. Readers sum
 * without stopping the workers. Gauges pass wrapping negative deltas. */
static inline void proto_count(_Atomic uint64_t *counter, uint64_t delta)
{
	atomic_store_explicit(counter,
		atomic_load_explicit(counter, memory_order_relaxed) + delta,
		memory_order_relaxed);
}

/* ---- request latency ----
 *
 * Each worker keeps, per command class, a histogram of the time its
 * requests spend in the protocol layer: from when the worker starts
 * framing a request until its reply is queued (parsing, the engine, the
 * reply's bytes). Time in the kernel, in the ring and in the send is not
 * in it. Pipelined requests are timed one by one: the end of one is the
 * start of the next, so a request costs one clock read.
 *
 * Buckets are log2-spaced: bucket i counts requests that took at most
 * 250 * 2^i nanoseconds (and more than half that), for i <
 * PROTO_LATENCY_BUCKETS: 0.25 us, 0.5 us, 1 us, 2 us ... 1.048576 s, so
 * every power of two of microseconds is a bound, and a get, which takes
 * well under a microsecond here, is not lumped into the first bucket.
 * The last one counts the slower ones (about a second and above). */
#define PROTO_LATENCY_BUCKETS 23
#define PROTO_LATENCY_BASE_NS 250

/* Command classes: label, what falls in it. One list feeds the enum,
 * the classifier's names and the exporter. */
#define PROTO_CLASSES(X)                                                \
	X(get, "get, gets")                                             \
	X(set, "set, add, replace, append, prepend, cas")               \
	X(delete, "delete")                                             \
	X(incr_decr, "incr, decr")                                      \
	X(touch, "touch, gat, gats")                                    \
	X(mg, "meta get")                                               \
	X(ms, "meta set")                                               \
	X(md, "meta delete")                                            \
	X(ma, "meta arithmetic")                                        \
	X(other, "every other command, and malformed requests")

enum proto_class {
#define PROTO_CLASS_ENUM(name, help) PROTO_CLASS_##name,
	PROTO_CLASSES(PROTO_CLASS_ENUM)
#undef PROTO_CLASS_ENUM
	PROTO_NCLASSES
};

/* One class's histogram: counts per bucket (not cumulative) and the sum
 * of the durations. The count is the buckets' sum, so the two never
 * disagree. Written like proto_counters: by the owner only. */
struct proto_latency_class {
	_Atomic uint64_t bucket[PROTO_LATENCY_BUCKETS + 1];
	_Atomic uint64_t sum_ns;
};

struct proto_latency {
	struct proto_latency_class cls[PROTO_NCLASSES];
} __attribute__((aligned(64)));

/* What the exporter reads: every worker's histograms summed, plainly. */
struct proto_latency_sum {
	uint64_t bucket[PROTO_NCLASSES][PROTO_LATENCY_BUCKETS + 1];
	uint64_t sum_ns[PROTO_NCLASSES];
	uint64_t count[PROTO_NCLASSES];
};

/*
 * The request clock: the TSC where it is invariant and cheaper to read
 * than clock_gettime, else CLOCK_MONOTONIC in nanoseconds. Chosen once at
 * start-up (proto_latency.c measures both: on the development VM rdtsc
 * costs about 12 ns and clock_gettime through the vDSO 26; with a
 * clocksource the vDSO cannot read, clock_gettime is a system call, and
 * under a hypervisor that traps rdtsc, rdtsc is the slow one).
 * proto_tsc_mult is then nanoseconds per tick in 32.32 fixed point, or 0
 * for clock_gettime; it is written before main runs and only read after.
 */
extern uint64_t proto_tsc_mult;

static inline uint64_t proto_clock(void)
{
	struct timespec ts;

#if defined(__x86_64__) || defined(__i386__)
	if (proto_tsc_mult)
		return __builtin_ia32_rdtsc();
#endif
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds in an interval of proto_clock() readings. */
static inline uint64_t proto_clock_ns(uint64_t ticks)
{
	if (!proto_tsc_mult)
		return ticks;
	/* The multiplier is below 2^32 (a TSC above 1 GHz); intervals
	 * past 2^32 ticks (a second or more) lose their low 16 bits. */
	if (ticks >> 32)
		return ((ticks >> 16) * proto_tsc_mult) >> 16;
	return (ticks * proto_tsc_mult) >> 32;
}

/* The bucket of a duration: the smallest i with ns <= 250 * 2^i, or
 * PROTO_LATENCY_BUCKETS past the last bound. */
static inline unsigned proto_latency_bucket(uint64_t ns)
{
	/* ceil(ns / 250): ns <= 250 k exactly when this is <= k. */
	uint64_t q = ns / PROTO_LATENCY_BASE_NS +
		     (ns % PROTO_LATENCY_BASE_NS != 0);
	unsigned i;

	if (q <= 1)
		return 0;
	i = 64u - (unsigned)__builtin_clzll(q - 1);
	return i < PROTO_LATENCY_BUCKETS ? i : PROTO_LATENCY_BUCKETS;
}

/* Bucket i's upper bound in nanoseconds (i < PROTO_LATENCY_BUCKETS). */
static inline uint64_t proto_latency_bound_ns(unsigned i)
{
	return (uint64_t)PROTO_LATENCY_BASE_NS << i;
}

/* Records one request of class cls that took ns nanoseconds; the calling
 * thread must own h. Relaxed load and store, as proto_count. */
static inline void proto_latency_record(struct proto_latency *h,
					enum proto_class cls, uint64_t ns)
{
	struct proto_latency_class *k = &h->cls[cls];

	proto_count(&k->bucket[proto_latency_bucket(ns)], 1);
	proto_count(&k->sum_ns, ns);
}

/* The class of a command by its first token (s, len bytes). */
enum proto_class proto_classify(const char *s, size_t len);

/* A class's label ("get", "mg", ...) and its description. */
const char *proto_class_name(enum proto_class cls);
const char *proto_class_help(enum proto_class cls);

/* Adds one histogram into sum (any thread, without stopping the owner:
 * each figure is read once, relaxed, so a request being recorded may be
 * in a bucket and not yet in the sum). */
void proto_latency_add(const struct proto_latency *h,
		       struct proto_latency_sum *sum);

struct proto_worker;

/* Process-wide state: one per server. */
struct proto_server {
	struct proto_settings settings;
	struct cc_cache *cache;
	time_t started;                 /* Unix time, for uptime */
	uint32_t nworkers;
	struct proto_worker **workers;  /* summed by `stats` */
	/* Set by the shutdown command; the server polls it. */
	_Atomic bool shutdown_requested;
	/* `stats reset`: the counters as they were at the last reset, which
	 * `stats` subtracts. Zero (never reset) when the server is zeroed;
	 * read and written only under proto_stats.c's lock. */
	struct proto_counters stats_base;
	struct cc_stats cache_base;
};

/* One per worker thread, cache-line aligned, allocated on its node. */
struct proto_worker {
	struct proto_server *server;
	struct cc_thread *thread;
	uint32_t id;
	struct proto_counters counters;
	struct proto_latency latency;
} __attribute__((aligned(64)));

/* Writes v in decimal at p; returns the end. At most 20 bytes. For a
 * path that writes replies itself (the DPDK path's batched gets). */
char *proto_utoa(uint64_t v, char *p);

/* Sums every worker's counters (any thread). */
void proto_counters_read(const struct proto_server *s,
			 struct proto_counters *sum);

/* Sums every worker's histograms into sum, zeroed first (any thread). */
void proto_latency_read(const struct proto_server *s,
			struct proto_latency_sum *sum);

/* ---- reply queue ---- */

/* A value queued by reference: sent from cache memory, pinned with
 * cc_ref_get until it has been sent (and, for a zero-copy send, until the
 * kernel's notification). */
struct proto_ref {
	size_t at;            /* byte offset in buf where it is sent */
	struct cc_view view;  /* value, value_len, and what the pin holds */
};

/* Pinned values whose bytes left the queue but that the kernel may still
 * read (zero-copy send): released with proto_refs_put. */
struct proto_refs {
	struct cc_view *views;
	uint32_t n, cap;
};

/* Replies waiting to be sent, in order: the bytes of buf[head, len) with
 * each ref's value spliced in at its offset. */
struct proto_out {
	char *buf;
	size_t head, len, cap;
	struct proto_ref *refs;
	uint32_t ref_head, ref_n, ref_cap;
	size_t ref_bytes;  /* value bytes of refs[ref_head, ref_n) */
	size_t ref_sent;   /* bytes of refs[ref_head] already sent */
};

void proto_out_init(struct proto_out *o);
/* Releases every pinned value and the buffers. */
void proto_out_deinit(struct proto_out *o, struct cc_cache *c);

/* Room for n more bytes at the end; NULL when memory is short. Write into
 * it, then proto_out_commit() the bytes actually written. */
char *proto_out_reserve(struct proto_out *o, size_t n);
void proto_out_commit(struct proto_out *o, size_t n);
int proto_out_append(struct proto_out *o, const void *p, size_t n);

/* Queues an item's value: copied below zero_copy_min, else pinned and
 * queued by reference. The caller writes the "\r\n" after it. */
int proto_out_value(struct proto_out *o, struct proto_worker *w,
		    const struct cc_view *v);

/* Bytes queued and not yet consumed. */
size_t proto_out_pending(const struct proto_out *o);

/* Fills up to max iovecs describing the queued bytes from the front;
 * returns how many it filled. */
unsigned proto_out_iov(const struct proto_out *o, struct iovec *iov,
		       unsigned max);

/* Drops n sent bytes from the front. Pinned values wholly sent are
 * released, or moved to hold when hold is not NULL (zero-copy send: the
 * caller releases them on the kernel's notification). Returns 0, or
 * -ENOMEM when hold could not grow; then nothing was consumed. */
int proto_out_consume(struct proto_out *o, struct cc_cache *c, size_t n,
		      struct proto_refs *hold);

/* Copies n queued bytes, starting offset bytes after the front, into dst
 * (UDP framing, tests). offset + n must not exceed proto_out_pending(). */
void proto_out_copy(const struct proto_out *o, size_t offset, size_t n,
		    void *dst);

void proto_refs_put(struct proto_refs *r, struct cc_cache *c);
void proto_refs_deinit(struct proto_refs *r, struct cc_cache *c);

/* ---- requests ---- */

enum proto_transport { PROTO_TCP, PROTO_UDP };

/* Per-connection parser state; zero it (proto_conn_init) when a connection
 * opens. */
struct proto_conn {
	enum proto_transport transport;
	uint64_t swallow;   /* bytes of a refused value still to discard */
	uint32_t errors;    /* malformed requests in a row */
	/* The last retrieval command (get, gets, gat, gats) as it ran: how
	 * many keys it looked up and whether its first and its last key
	 * hit. UDP framing splits the reply by them (proto_udp.c). */
	uint32_t get_nkeys;
	bool get_first_hit, get_last_hit;
};

void proto_conn_init(struct proto_conn *c, enum proto_transport t);

/* Malformed requests in a row after which the connection is closed. */
#define PROTO_ERRORS_MAX 16

enum proto_status {
	PROTO_MORE,      /* every complete request is done; read more */
	PROTO_BLOCKED,   /* stopped early: out is over PROTO_OUT_HIGH bytes;
			  * send, then call again with the rest */
	PROTO_CLOSE,     /* quit, or input that ends the connection: send
			  * what is queued, then close */
	PROTO_SHUTDOWN,  /* the shutdown command was accepted */
};

/* Output backlog past which proto_process stops taking requests, so a
 * client that does not read cannot make the server buffer without bound. */
#define PROTO_OUT_HIGH (256u * 1024)

/* Runs the complete requests at the start of in[0, len), which it may
 * modify (parsing in place), appending replies to out. *consumed gets the
 * bytes used; the rest (an incomplete request) must be offered again with
 * more input after it. *need, when nonzero, is the total length the
 * incomplete request at in + *consumed needs (a storage command's line
 * plus its data block), so the caller can size its buffer.
 * On return no engine view is held except through out's pinned values, so
 * the caller may (and should) call cc_thread_quiescent() right after. */
enum proto_status proto_process(struct proto_worker *w, struct proto_conn *c,
				char *in, size_t len, struct proto_out *out,
				size_t *consumed, size_t *need);

/* ---- UDP frame header ---- */

struct proto_udp_header {
	uint16_t request_id;
	uint16_t seq;
	uint16_t total;
	uint16_t reserved;
};

/* Serves one UDP datagram: checks its frame header, runs its requests and
 * queues the reply datagrams' bytes into out, each datagram at most
 * PROTO_UDP_DATAGRAM_MAX bytes (frame header included) and framed with the
 * request id, its sequence number and the total, split the way memcached
 * 1.6 splits them (one message per response object). reply is a scratch
 * queue of the worker's for the unframed replies: empty on entry, empty
 * on return. dgram_lens gets each datagram's length; a reply that needs
 * more than max_dgrams datagrams is dropped whole (never cut short) and
 * counted in udp_replies_dropped. Counts bytes_read, udp_requests and
 * udp_refused. Returns the number of datagrams, 0 when nothing is to be
 * sent back (quiet requests, a frame too short or claiming several
 * datagrams: memcached drops those silently), or -ENOMEM (then nothing
 * was queued). */
int proto_udp_serve(struct proto_worker *w, char *dgram, size_t len,
		    struct proto_out *reply, struct proto_out *out,
		    uint16_t *dgram_lens, unsigned max_dgrams);

#endif
