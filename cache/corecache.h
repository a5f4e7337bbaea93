/*
 * corecache engine: public API.
 *
 * An in-memory key-value cache with memcached semantics, embeddable in any
 * program. Items live in fixed-size segments appended to by one thread each;
 * a 64-byte-bucket hash index locates them. Readers never lock; writers lock
 * one or two buckets. Memory is reclaimed in whole segments, and only after
 * every registered thread has passed a quiescent point and no zero-copy
 * reference remains, so a view returned by a get stays valid until the
 * calling thread's next cc_thread_quiescent().
 *
 * Threads: every thread that calls an operation registers first and passes
 * its struct cc_thread to every call. Operations on one struct cc_thread are
 * not reentrant; different threads may call anything concurrently.
 *
 * Errors: functions return 0 (or a count) on success and a negative errno
 * value on failure; they never set errno. Each refusal has its own code:
 *
 *   -EINVAL        empty key, bad parameter
 *   -ENAMETOOLONG  key longer than CC_KEY_MAX bytes
 *   -E2BIG         value (or the result of append/prepend) above item_max
 *   -ENOENT        no such live item (replace, append, prepend, cas, delete,
 *                  incr/decr, touch, get)
 *   -EEXIST        add: a live item already exists
 *   -ESTALE        cas (or append/prepend, delete, incr/decr, invalidate,
 *                  meta_win with a cas): the item exists with another CAS
 *   -EDOM          incr/decr: the stored value is not a decimal number
 *   -ENOMEM        no memory could be had for a write: every segment is
 *                  open (being written by a thread), pinned by a
 *                  reference, or held back by a thread that has not
 *                  passed a quiescent point for a while (the writer waits
 *                  up to about 500 ms for one). A thread that holds views
 *                  gets it sooner: the engine cannot pass a quiescent
 *                  point for it, so it evicts and returns -ENOMEM, and a
 *                  retry after cc_thread_quiescent() gets that memory
 *   -EUSERS        cc_thread_register: max_threads already registered
 */
#ifndef CORECACHE_H
#define CORECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* memcached's limit on key length. */
#define CC_KEY_MAX 250

/* Relative TTLs up to this many seconds count from now; larger ones are
 * absolute Unix times (memcached's rule). */
#define CC_TTL_RELATIVE_MAX (60 * 60 * 24 * 30)

struct cc_cache;
struct cc_thread;

/* Creation parameters. Fill with cc_params_init(), then override. */
struct cc_params {
	/* Hard limit on item memory in bytes (segments). Default 64 MiB.
	 * cc_set_memory_limit changes it while the cache runs. */
	size_t memory_limit;
	/* Address space reserved for segments, up to which
	 * cc_set_memory_limit may raise the limit; 0 (default) or less than
	 * memory_limit: memory_limit. Segments beyond the limit are never
	 * touched, so the reserve costs no memory, except that hugetlbfs
	 * pages (hugepages below) are reserved for all of it at creation.
	 * The index is sized for memory_limit, not the reserve. */
	size_t memory_reserve;
	/* Largest value in bytes. Default 1 MiB. */
	size_t item_max;
	/* Segment size in bytes, a power of two that holds one item_max
	 * item; 0 picks the smallest such size of at least 1 MiB. */
	size_t segment_size;
	/* log2 of the number of index buckets (10 slots each); 0 sizes the
	 * index for memory_limit / 64 items. */
	unsigned index_power;
	/* Most threads registered at once. Default 64. */
	unsigned max_threads;
	/* Try hugetlbfs pages for segments before normal pages. Default on. */
	bool hugepages;
	/* Current Unix time in seconds; NULL uses CLOCK_REALTIME_COARSE.
	 * Tests inject a clock here. */
	uint32_t (*clock)(void *arg);
	void *clock_arg;
};

/* A read-only view of an item. value points into segment memory: valid
 * until the thread that obtained it calls cc_thread_quiescent(), or until
 * cc_ref_put() if a reference was taken with cc_ref_get(). */
struct cc_view {
	const void *value;
	uint32_t value_len;
	uint32_t flags;
	uint64_t cas;
	uint32_t expiry;   /* absolute Unix seconds; 0 = never */
	uint32_t segment;  /* engine-private: what a reference pins */
	uint32_t atime;    /* last access, Unix seconds, coarse: see below;
			    * 0 from cc_get and cc_get_bulk */
	uint8_t meta;      /* CC_META_* bits as they were before this access */
};

/*
 * Per-item state of memcached's meta protocol, reported in cc_view.meta
 * (and atime) as it was BEFORE the access that filled the view.
 *
 * atime (mg l = now - atime) deviates from memcached: an item has one
 * spare byte for all of this, so it keeps its last access (a read without
 * CC_LOOKUP_NO_BUMP, gat, touch, or a write) as a 64-second tick on a
 * 1024-second ring, and atime reads back as the end of that tick, or now
 * while the tick lasts. So:
 *   - accessed in the current 64-second tick: atime = now (l = 0);
 *   - idle for d < ~1024 s: l = d minus 0..63 s;
 *   - idle for longer: l = d modulo ~1024 s (the ring wraps).
 * memcached's own figure is coarse as well (it refreshes the time on the
 * second fetch and then at most once a minute). Meta invalidation does
 * not count as an access; eviction moving an item keeps it. cc_lookup and
 * cc_get_touch report atime; cc_get and cc_get_bulk, the plain get path,
 * leave it 0 (decoding it there cost about 4% of the GET rate).
 *
 * What each change does to the bits, as memcached 1.6.18 does:
 *   store (any mode)      starts with cc_store_req.meta (set clears all)
 *   store, invalidate     STALE, keeps WIN_SENT (see cc_store_req)
 *   touch, gat            keep all, set FETCHED
 *   cc_touch_flags with CC_LOOKUP_NO_BUMP   keep all, access time too
 *   incr/decr             keep all if the number fits the old length
 *                         (memcached rewrites in place), else clear all
 *   cc_invalidate         set STALE, clear WIN_SENT, keep FETCHED
 *   eviction moving it    keeps all
 */
#define CC_META_FETCHED  0x01  /* read before this access (mg h) */
#define CC_META_STALE    0x02  /* invalidated (meta I): still served, flagged X */
#define CC_META_WIN_SENT 0x04  /* a client was handed the recache token (W);
				* others get Z */
#define CC_META_BINARY_KEY 0x08 /* stored by meta ms with a base64 key (b):
				 * mg k echoes the key in base64. Only the
				 * store's cc_store_req.meta sets it; kept as
				 * the other bits are */

/* cc_lookup flags. */
#define CC_LOOKUP_NO_BUMP 0x1  /* mg u: leave hit counter, FETCHED, atime */

/* A key for the bulk API. */
struct cc_key {
	const void *data;
	size_t len;
};

enum cc_store_mode {
	CC_SET,
	CC_ADD,      /* only if absent */
	CC_REPLACE,  /* only if present */
	CC_APPEND,   /* present: value appended; flags and TTL kept */
	CC_PREPEND,  /* present: value prepended; flags and TTL kept */
	CC_CAS,      /* present and its CAS equals cas */
};

struct cc_store_req {
	enum cc_store_mode mode;
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
	uint32_t flags;
	/* memcached exptime: 0 never, <= CC_TTL_RELATIVE_MAX relative,
	 * larger absolute Unix time, negative already expired. */
	int64_t exptime;
	/* CC_CAS: the CAS the item must have. CC_APPEND, CC_PREPEND:
	 * nonzero, the CAS the item must have (else -ESTALE, checked
	 * atomically with the join and before its size, as memcached's
	 * meta ms with MA/MP and C does). Other modes ignore it. */
	uint64_t cas;
	/* Nonzero: the new version takes this CAS instead of a fresh one
	 * (meta protocol's explicit CAS). */
	uint64_t new_cas;
	/* CC_META_* bits the new version starts with (e.g. WIN_SENT for an
	 * item vivified empty by mg N). A normal store clears the rest. */
	uint8_t meta;
	/* CC_CAS only (meta ms I): if the item's CAS is higher than cas,
	 * store anyway but as a STALE version that keeps the old exptime
	 * and WIN_SENT bit (memcached's CAS_STALE). */
	bool invalidate;
};

/* incr/decr request (memcached incr, decr and meta ma). */
struct cc_arith_req {
	const void *key;
	size_t key_len;
	bool decr;
	uint64_t delta;
	uint64_t cas;      /* nonzero: must match, else -ESTALE */
	uint64_t new_cas;  /* nonzero: the new version's CAS */
};

/* Statistics: one list feeds the struct, the per-thread counters and every
 * exporter. Counters only grow; curr_items and curr_bytes are gauges. */
#define CC_STATS(X)                                                         \
	X(get_cmds, "get operations (each key counts once)")               \
	X(get_hits, "gets that found a live item")                          \
	X(get_misses, "gets that found nothing live")                       \
	X(get_expired, "gets that found an expired item")                   \
	X(get_flushed, "gets that found an item invalidated by flush")      \
	X(set_cmds, "store operations of every mode")                       \
	X(store_refused, "stores not done (exists, not found, bad cas)")   \
	X(delete_hits, "deletes that removed an item")                      \
	X(delete_misses, "deletes of absent items")                         \
	X(incr_hits, "incr on a live numeric item")                         \
	X(incr_misses, "incr on an absent item")                            \
	X(decr_hits, "decr on a live numeric item")                         \
	X(decr_misses, "decr on an absent item")                            \
	X(cas_hits, "cas that stored")                                      \
	X(cas_misses, "cas on an absent item")                              \
	X(cas_badval, "cas refused for a different CAS value")              \
	X(touch_hits, "touch or gat on a live item")                        \
	X(touch_misses, "touch or gat on an absent item")                   \
	X(evictions, "live items dropped to make room")                    \
	X(expirations, "expired items reclaimed")                           \
	X(merged_items, "items kept by eviction and rewritten")             \
	X(index_evictions, "items dropped because both buckets were full")  \
	X(segments_evicted, "segments reclaimed by eviction")               \
	X(segments_expired, "segments reclaimed because all items expired") \
	X(out_of_memory, "stores refused with -ENOMEM")                     \
	X(curr_items, "live items (gauge)")                                 \
	X(curr_bytes, "bytes of live items, headers included (gauge)")

struct cc_stats {
#define CC_STATS_FIELD(name, help) uint64_t name;
	CC_STATS(CC_STATS_FIELD)
#undef CC_STATS_FIELD
	/* Segment pool, read from the pool itself. */
	uint64_t limit_bytes;
	uint64_t segment_size;
	uint64_t segments_total;
	uint64_t segments_free;
	uint64_t index_bytes;
	uint64_t hugetlb;  /* 1 if segments sit on hugetlbfs pages */
};

/* ---- Lifecycle (any thread, not concurrently with other calls on c) ---- */

void cc_params_init(struct cc_params *p);

/* Creates a cache. Errors: -EINVAL for inconsistent parameters (segment
 * smaller than one item_max item, fewer than 4 segments, ...), -ENOMEM. */
int cc_create(const struct cc_params *p, struct cc_cache **out);

/* Frees everything. No thread may be inside an operation; outstanding
 * references become invalid. */
void cc_destroy(struct cc_cache *c);

/* Changes the memory limit while threads run (any thread, registered or
 * not; e.g. the control plane's). Rounded down to whole segments.
 * Raising it takes effect at once, up to cc_params.memory_reserve.
 * Lowering it returns the free segments' memory to the system at once
 * (except on hugetlbfs pages, which stay mapped but unused) and leaves
 * the rest to eviction: writers finding the pool short evict ahead, and
 * each cc_maintain call evicts a few batches toward the new limit, so an
 * idle cache shrinks too. Items evicted this way count as evictions.
 * Errors: -EINVAL below CC_MIN_SEGMENTS segments (a quarter of what
 * cc_create accepts would leave writers starving), -ERANGE above the
 * reserve. */
int cc_set_memory_limit(struct cc_cache *c, size_t bytes);

/* ---- Threads ---- */

/* Registers the calling thread. The new thread starts online and quiescent. */
int cc_thread_register(struct cc_cache *c, struct cc_thread **out);

/* Unregisters; the thread's views become invalid. */
void cc_thread_unregister(struct cc_thread *t);

/* Reports a quiescent point: the thread holds no view obtained before this
 * call (except through cc_ref_get). Cheap: two stores to the thread's own
 * lines. Call it between batches; memory cannot be reused while any
 * online thread does not. A write that needs memory back passes one on
 * the thread's behalf when the thread has obtained no view since its last
 * one, so a thread that quiesces before its writes never sees a
 * transient -ENOMEM. */
void cc_thread_quiescent(struct cc_thread *t);

/* A thread about to block (I/O wait, sleep) goes offline so it does not
 * hold back reclamation; it holds no views while offline. */
void cc_thread_offline(struct cc_thread *t);
void cc_thread_online(struct cc_thread *t);

/* ---- Operations (registered, online thread) ---- */

/* 0 and *out filled, or -ENOENT, -EINVAL, -ENAMETOOLONG. */
int cc_get(struct cc_thread *t, const void *key, size_t key_len,
	   struct cc_view *out);

/* cc_get with flags (CC_LOOKUP_*), for the meta protocol. Without
 * CC_LOOKUP_NO_BUMP a hit counts for eviction, marks the item FETCHED and
 * refreshes its access time, as cc_get does; out->meta and out->atime
 * are the values from before. Same returns as cc_get. */
int cc_lookup(struct cc_thread *t, const void *key, size_t key_len,
	      unsigned flags, struct cc_view *out);

/* Looks up n keys at once, overlapping their memory accesses. results[i]
 * is what cc_get would return for keys[i]. Returns the number of hits. */
unsigned cc_get_bulk(struct cc_thread *t, unsigned n,
		     const struct cc_key keys[], struct cc_view views[],
		     int results[]);

/* Get and set a new TTL (memcached gat); the CAS does not change. */
int cc_get_touch(struct cc_thread *t, const void *key, size_t key_len,
		 int64_t exptime, struct cc_view *out);

/* Stores one item. On success *cas_out (if not NULL) is the new CAS.
 * A store whose exptime is already past removes the key and succeeds;
 * its *cas_out is a CAS no version has (memcached stores such an item
 * expired, and reports its CAS). */
int cc_store(struct cc_thread *t, const struct cc_store_req *req,
	     uint64_t *cas_out);

/* Removes a key. cas 0 removes any version; otherwise only that one
 * (-ESTALE if another). */
int cc_delete(struct cc_thread *t, const void *key, size_t key_len,
	      uint64_t cas);

/* incr (req->decr false) or decr by req->delta, memcached semantics:
 * 64-bit unsigned, incr wraps, decr stops at 0, a shorter result is
 * padded with spaces to the old length. *value_out gets the new number,
 * *cas_out (if not NULL) the new CAS. -ESTALE if req->cas is nonzero and
 * differs from the item's. Flags and TTL stay; meta bits as above. */
int cc_arith(struct cc_thread *t, const struct cc_arith_req *req,
	     uint64_t *value_out, uint64_t *cas_out);

/* Hands out the recache token (meta mg W) once per version: atomically
 * sets CC_META_WIN_SENT on the live item whose CAS is cas. Returns 1 if
 * this call set it (the caller won), 0 if it was already set, -ENOENT if
 * the key is gone, -ESTALE if it has another CAS now. A claim racing
 * with a change that keeps the token (touch, gat, eviction moving the
 * item, both of which keep the CAS too) may get 0 although nobody holds
 * the token yet, so that it never goes out twice; a claim on the new
 * copy then wins. */
int cc_meta_win(struct cc_thread *t, const void *key, size_t key_len,
		uint64_t cas);

/* meta md I: instead of removing the item, marks it CC_META_STALE, clears
 * CC_META_WIN_SENT (so the next client can win the recache), gives it a
 * new CAS (new_cas if nonzero, else a fresh one) and, when set_ttl, the
 * TTL exptime (one already past removes the item). Value, flags, FETCHED
 * and the access time stay. cas nonzero: only that version (-ESTALE if
 * another). -ENOENT if absent (counted as a delete miss; a success counts
 * as no delete, as in memcached). */
int cc_invalidate(struct cc_thread *t, const void *key, size_t key_len,
		  uint64_t cas, bool set_ttl, int64_t exptime,
		  uint64_t new_cas);

/* Sets a new TTL; the CAS does not change. Counts as a fetch (FETCHED,
 * access time), as memcached's touch does. */
int cc_touch(struct cc_thread *t, const void *key, size_t key_len,
	     int64_t exptime);

/* cc_touch with flags (CC_LOOKUP_*). With CC_LOOKUP_NO_BUMP the item's
 * FETCHED bit and access time stay as they were: memcached's mg with T
 * and u, and ma with T, change the TTL without a fetch. Same returns as
 * cc_touch; counted as a touch either way. */
int cc_touch_flags(struct cc_thread *t, const void *key, size_t key_len,
		   int64_t exptime, unsigned flags);

/* Invalidates every item stored before now + delay seconds, once that time
 * comes (memcached flush_all). A later flush replaces a pending one. */
void cc_flush(struct cc_thread *t, uint32_t delay);

/* Proactive upkeep: drops segments whose items have all expired or were
 * flushed, and evicts ahead so writers rarely wait. Bounded work per call;
 * call it every few hundred milliseconds from any registered thread. */
void cc_maintain(struct cc_thread *t);

/* ---- Zero-copy references (any registered thread) ---- */

/* Pins the view's segment beyond the next quiescent point, e.g. while a
 * NIC or the kernel still reads the value. Pair with cc_ref_put. */
void cc_ref_get(struct cc_thread *t, const struct cc_view *v);

/* Releases a reference. Any thread, registered or not. */
void cc_ref_put(struct cc_cache *c, const struct cc_view *v);

/* ---- Introspection (any thread) ---- */

/* Sums the per-thread counters without stopping them. Takes the segment
 * pool lock for the duration of the sum (the thread table must not change
 * under it), so it may delay a thread that is opening a segment by that
 * long, never one that is reading. */
void cc_stats_read(struct cc_cache *c, struct cc_stats *out);

/* Now, on the cache's clock (Unix seconds). */
uint32_t cc_now(const struct cc_cache *c);

#ifdef __cplusplus
}
#endif

#endif
