/*
 * Private types of the cache engine, shared by the .c files of cache/ only.
 *
 * Memory map of a cache:
 *
 *   index   2^index_power buckets of 64 bytes (one cache line each)
 *   region  segments_total segments of segment_size bytes, items appended
 *   segs    one struct cc_seg per segment, kept apart from the data so that
 *           a segment is nothing but items
 *
 * An item is found through its location, 40 bits:
 *
 *   39                     seg_shift                        0
 *   +--------------------------+----------------------------+
 *   |       segment id         |   byte offset in segment   |
 *   +--------------------------+----------------------------+
 *
 * so a bucket slot costs 6 bytes and a bucket holds 10 of them; with the
 * 4-byte item header of a small item that keeps the whole per-item cost
 * near 11 bytes at full index load.
 */
#ifndef CORECACHE_CACHE_INTERNAL_H
#define CORECACHE_CACHE_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corecache.h"

#define CC_CACHE_LINE 64
#define CC_BUCKET_SLOTS 10
#define CC_LOC_BITS 40
#define CC_INDEX_POWER_MAX 26
#define CC_TTL_CLASSES 8
#define CC_EVICT_BATCH 4   /* segments one eviction takes, at most */
/* Fewest segments a cache may have: memcached's -m 8 with its default
 * -I 1m (segments of 2 MiB). Writers on more threads than that still
 * store (segment.c), though with little memory to keep items in. */
#define CC_MIN_SEGMENTS 4
#define CC_BULK_CHUNK 32

#if defined(__SANITIZE_THREAD__)
#define CC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CC_TSAN 1
#endif
#endif

/*
 * Memory fence. ThreadSanitizer does not model fences (gcc refuses them
 * with -fsanitize=thread), so its builds use a read-modify-write of a
 * thread-local atomic, which it does understand. The data these fences
 * order is all accessed through atomics, so the sanitizer still checks
 * every plain access to item memory.
 */
#ifdef CC_TSAN
static inline void cc_fence(memory_order order)
{
	static _Thread_local _Atomic int fence_word;

	atomic_fetch_add_explicit(&fence_word, 0, order);
}
#else
#define cc_fence(order) atomic_thread_fence(order)
#endif

#define cc_likely(x) __builtin_expect(!!(x), 1)
#define cc_unlikely(x) __builtin_expect(!!(x), 0)

/* Always on: control paths and invariants whose failure means corruption. */
#define CC_ASSERT(cond)                                                     \
	do {                                                                \
		if (cc_unlikely(!(cond))) {                                  \
			fprintf(stderr, "corecache: assertion failed: %s " \
				"(%s:%d)\n", #cond, __FILE__, __LINE__);   \
			abort();                                            \
		}                                                           \
	} while (0)

/* Hot paths: checked in debug builds, type-checked but free in release. */
#ifdef CC_DEBUG
#define CC_DEBUG_ASSERT(cond) CC_ASSERT(cond)
#else
#define CC_DEBUG_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

/*
 * Bucket: 64 bytes, one cache line.
 *
 *   0      4          14          24                              64
 *   +------+-----------+-----------+-------------------------------+
 *   | word | tag[10]   | loc_hi[10]| loc_lo[10] (u32 each)         |
 *   +------+-----------+-----------+-------------------------------+
 *
 * word:  bit 0 lock, bits 1..23 version (a seqlock), bits 24..31 the
 *        number of items whose primary bucket this is but which live in
 *        their secondary bucket (lookups skip the secondary when it is 0).
 * tag:   8 hash bits of the item in that slot; 0 = empty slot.
 * loc:   location, hi byte and lo word apart so each is a plain atomic.
 *
 * Readers never write a bucket. Writers lock it; a reader that saw the
 * word change (or odd) retries.
 */
struct cc_bucket {
	_Atomic uint32_t word;
	_Atomic uint8_t tag[CC_BUCKET_SLOTS];
	_Atomic uint8_t loc_hi[CC_BUCKET_SLOTS];
	_Atomic uint32_t loc_lo[CC_BUCKET_SLOTS];
};
static_assert(sizeof(struct cc_bucket) == 64, "a bucket is one cache line");
static_assert(CC_BULK_CHUNK <= 32, "cc_get_bulk tracks a chunk in a 32-bit mask");

#define CC_WORD_LOCK 1u
#define CC_WORD_VERSION_MASK 0x00fffffeu
#define CC_WORD_OVF_SHIFT 24

/*
 * Item, byte aligned inside a segment:
 *
 *   byte 0   info: bits 0-1 hit counter, 2 has flags, 3 has expiry,
 *            4 has cas, 5-6 value-length bytes minus one, 7 dead
 *   byte 1   meta:
 *              7       4   3     2     1       0
 *              +-------+-----+-----+-----+-------+
 *              | atime | BIN | WIN |STALE|FETCHED|
 *              +-------+-----+-----+-----+-------+
 *            bits 0-3 the CC_META_* bits of corecache.h, same values;
 *            bits 4-7 the access tick (see below)
 *   byte 2   key length
 *   1-4 B    value length, little endian
 *   [4 B flags] [4 B expiry] [1-10 B cas]  only when present
 *   key, then value
 *
 * The info and meta bytes are the only parts ever written after
 * publication, each with relaxed atomics on that byte alone. Readers bump
 * the hit counter with a plain load and store (a lost increment is
 * harmless); writers set the dead bit when they replace or remove the
 * item. The meta byte is never written that way: a lost WIN_SENT would
 * hand the recache token out twice, so every change to it is a
 * read-modify-write (fetch_or, or a compare-exchange), and readers make
 * one only when the byte would change (first fetch, new access tick), so
 * hot items do not dirty their line on every hit. The meta byte sits next
 * to the info byte, so reading it costs no extra cache miss. A version
 * that replaces another and keeps its recache token (touch, gat, incr in
 * place, a stale CAS store, a merge copy) takes the old meta byte under
 * the key's bucket lock, setting WIN_SENT on the old one in the same
 * fetch_or, so the token never goes out once for each copy.
 *
 * A full access time would cost 4 bytes an item, a third of the budget,
 * so the meta byte keeps a 4-bit tick instead: (Unix seconds >> 6) mod 16,
 * i.e. which 64-second interval of a 1024-second ring saw the last read
 * or write. It reads back as the end of the latest such interval not after
 * now (now itself for the current one), so an item accessed up to 15
 * ticks ago reads as idle for its idle time less 0 to 63 seconds; an item
 * idle for longer reads as idle for that time modulo the ring. memcached
 * itself refreshes the time only on a second fetch and then at most once
 * a minute, so its figure is coarse too.
 *
 * Without an explicit CAS, an item's CAS is its segment's cas_base plus
 * its offset: unique per version at no cost in bytes. An explicit CAS (an
 * item moved by eviction keeps its CAS; the meta protocol may set one) is
 * stored as the distance from that derived value, zigzag and LEB128
 * encoded: a merge copy knows its location and writes the short form
 * (about 4 bytes); a writer that does not know it yet pads to 10 bytes.
 */
#define CC_ITEM_FREQ_MASK 0x03u
#define CC_ITEM_HAS_FLAGS 0x04u
#define CC_ITEM_HAS_EXPIRY 0x08u
#define CC_ITEM_HAS_CAS 0x10u
#define CC_ITEM_VLEN_SHIFT 5
#define CC_ITEM_DEAD 0x80u
#define CC_ITEM_META_FLAGS 0x0fu
#define CC_ITEM_ATIME_SHIFT 4
#define CC_ATIME_TICK_SHIFT 6   /* 64-second ticks */
#define CC_ATIME_RING 16u       /* ticks the 4 bits tell apart */
#define CC_ITEM_FIXED 3         /* info, meta, key length */
#define CC_CAS_BYTES_MAX 10
#define CC_ITEM_HEADER_MAX (CC_ITEM_FIXED + 4 + 4 + 4 + CC_CAS_BYTES_MAX)

static_assert(CC_META_FETCHED == 0x01 && CC_META_STALE == 0x02 &&
	      CC_META_WIN_SENT == 0x04 && CC_META_BINARY_KEY == 0x08,
	      "the meta byte stores the public CC_META_* bits as they are");

struct cc_item {
	uint8_t info;
	uint8_t meta;
	uint8_t key_len;
	uint32_t value_len;
	uint32_t flags;
	uint32_t expiry;
	uint64_t cas_code;   /* zigzag distance to the derived CAS */
	uint8_t cas_bytes;   /* its encoded length; 0 without */
	const uint8_t *key;
	const uint8_t *value;
	uint32_t size;    /* header + key + value */
};

/* A segment's life; every transition is checked (CC_ASSERT, once per
 * segment, never per request). */
enum cc_seg_state {
	CC_SEG_FREE,
	CC_SEG_OPEN,      /* owned by one thread, appended to */
	CC_SEG_SEALED,    /* full, queued in its TTL class */
	CC_SEG_DRAINING,  /* being emptied by eviction or expiry */
	CC_SEG_RETIRED,   /* empty, waiting for a grace period and refs */
};

/*
 * Eviction tiers, S3-FIFO at segment granularity: segments of fresh writes
 * wait in a small probation FIFO; eviction there promotes only the items
 * that were hit into the main FIFO, so items read once never take main
 * memory. Main segments are evicted the same way, keeping what was hit.
 */
enum cc_seg_tier {
	CC_TIER_PROBATION,
	CC_TIER_MAIN,
	CC_SEG_TIERS,
};

/* Percent of segments probation may hold before eviction turns to it
 * (measured on Zipf 0.99 at 10% capacity: 5 beats 10, 20 and 30). */
#define CC_PROBATION_SHARE 5

/* Segment header. Written by the owner while OPEN, by the pool (under
 * pool_lock) otherwise; readers only read cas_base and flush_epoch, which
 * are set before any item of the segment is published. */
struct cc_seg {
	_Atomic uint32_t refs;       /* zero-copy references */
	uint32_t write_offset;
	uint64_t cas_base;
	uint64_t retire_epoch;
	uint64_t seal_seq;
	uint32_t expire_at;          /* latest item expiry; UINT32_MAX: an
				      * item never expires; 0: no item */
	uint32_t flush_epoch;
	int32_t prev, next;          /* queue links, pool_lock */
	uint8_t state;
	uint8_t ttl_class;
	uint8_t tier;
};

/* Per-thread counters: written only by the owner (relaxed load + store,
 * no lock prefix), read by anyone. Gauges are kept as wrapping deltas. */
struct cc_counters {
#define CC_COUNTER_FIELD(name, help) _Atomic uint64_t name;
	CC_STATS(CC_COUNTER_FIELD)
#undef CC_COUNTER_FIELD
};

struct cc_thread {
	/* Last global epoch seen at a quiescent point; UINT64_MAX offline.
	 * Alone on its line: the reclaimer polls it. */
	_Atomic uint64_t qs_epoch;
	char pad0[CC_CACHE_LINE - sizeof(uint64_t)];

	struct cc_cache *cache;
	unsigned id;
	uint32_t now;
	/* A view was handed out since the last quiescent point (written
	 * beside now, which every operation writes anyway). While it is
	 * false the engine may pass a quiescent point for the thread itself
	 * when it needs memory back (see segment.c). */
	bool holds_views;
	int32_t open_seg[CC_TTL_CLASSES];
	int32_t merge_seg[CC_TTL_CLASSES];  /* eviction's open main segments */
	struct cc_counters counters;
} __attribute__((aligned(CC_CACHE_LINE)));

struct cc_seg_queue {
	int32_t head, tail;
	uint32_t count;
};

struct cc_cache {
	/* Read-mostly, shared by every thread. */
	struct cc_bucket *index;
	uint64_t index_mask;
	unsigned index_power;
	uint8_t *region;
	size_t region_bytes;
	bool region_hugetlb;
	struct cc_seg *segs;
	uint32_t nsegs;              /* segments the region reserves */
	unsigned seg_shift;
	uint32_t seg_size;
	uint32_t item_max;
	uint64_t grace_wait_ns;      /* cc_params.grace_wait_ms */
	uint32_t evict_batch;        /* segments per eviction, for seg_limit;
				      * pool_lock */
	uint32_t (*clock)(void *arg);
	void *clock_arg;
	unsigned max_threads;

	/* Written rarely. */
	_Atomic uint32_t flush_epoch __attribute__((aligned(CC_CACHE_LINE)));
	_Atomic uint32_t flush_at;   /* pending delayed flush; 0 none */
	_Atomic uint64_t cas_next;

	/* QSBR: bumped once per retired batch. */
	_Atomic uint64_t epoch __attribute__((aligned(CC_CACHE_LINE)));

	/* Segment pool; taken once per segment, never per request. */
	pthread_mutex_t pool_lock __attribute__((aligned(CC_CACHE_LINE)));
	int32_t free_head;
	_Atomic uint32_t free_count;
	/* Segments on their way back: draining or retired. Read without
	 * the lock to judge whether eviction ahead is due. */
	_Atomic uint32_t pending;
	/* The memory limit, in segments: written under pool_lock, read
	 * without it (relaxed) where a stale value only delays a decision
	 * by one segment. Segments above it are parked: off the free list,
	 * their memory given back. Usable = nsegs - parked. */
	_Atomic uint32_t seg_limit;
	int32_t parked_head;
	uint32_t parked;
	/* The oldest quiescent epoch when a writer last gave up waiting for
	 * a grace period; while it has not moved, writers do not wait
	 * again (a thread stuck online must not cost every store a wait). */
	uint64_t stalled_min;
	/* Sealed segments by TTL class and tier (enum cc_seg_tier). */
	struct cc_seg_queue sealed[CC_TTL_CLASSES][CC_SEG_TIERS];
	struct cc_seg_queue retired;
	uint64_t seal_seq;
	struct cc_thread **threads;  /* max_threads slots, pool_lock */
	_Atomic uint32_t nthreads;   /* registered now */
	struct cc_counters departed; /* counters of unregistered threads */
};

/* ---- relaxed single-writer counters ---- */

static inline void cc_count(_Atomic uint64_t *counter, uint64_t delta)
{
	atomic_store_explicit(counter,
			      atomic_load_explicit(counter, memory_order_relaxed) + delta,
			      memory_order_relaxed);
}

/* Reads the clock and fires a pending delayed flush whose time came.
 * Every operation starts with it. */
static inline void cc_thread_tick(struct cc_thread *t)
{
	struct cc_cache *c = t->cache;
	uint32_t at;

	t->now = c->clock(c->clock_arg);
	at = atomic_load_explicit(&c->flush_at, memory_order_relaxed);
	if (cc_unlikely(at != 0 && t->now >= at) &&
	    atomic_compare_exchange_strong(&c->flush_at, &at, 0))
		atomic_fetch_add(&c->flush_epoch, 1);
}

/* ---- locations ---- */

static inline uint64_t cc_loc_make(const struct cc_cache *c, uint32_t seg,
				   uint32_t offset)
{
	return ((uint64_t)seg << c->seg_shift) | offset;
}

static inline uint32_t cc_loc_seg(const struct cc_cache *c, uint64_t loc)
{
	return (uint32_t)(loc >> c->seg_shift);
}

static inline uint32_t cc_loc_offset(const struct cc_cache *c, uint64_t loc)
{
	return (uint32_t)(loc & (c->seg_size - 1));
}

static inline uint8_t *cc_loc_ptr(const struct cc_cache *c, uint64_t loc)
{
	return c->region + ((size_t)cc_loc_seg(c, loc) << c->seg_shift) +
	       cc_loc_offset(c, loc);
}

/* ---- items ---- */

static inline _Atomic uint8_t *cc_item_info(uint8_t *p)
{
	return (_Atomic uint8_t *)p;
}

/* The meta byte: mutable after publication, read-modify-write only. */
static inline _Atomic uint8_t *cc_item_meta(uint8_t *p)
{
	return (_Atomic uint8_t *)(p + 1);
}

/* The access tick of time now, in the meta byte's position. */
static inline uint8_t cc_atime_bits(uint32_t now)
{
	return (uint8_t)(((now >> CC_ATIME_TICK_SHIFT) & (CC_ATIME_RING - 1))
			 << CC_ITEM_ATIME_SHIFT);
}

/* The access time a meta byte stands for at time now (see the item
 * layout above). */
static inline uint32_t cc_atime_decode(uint8_t meta, uint32_t now)
{
	uint32_t tick_now = now >> CC_ATIME_TICK_SHIFT;
	uint32_t back = (tick_now - (meta >> CC_ITEM_ATIME_SHIFT)) &
			(CC_ATIME_RING - 1);
	uint64_t end = ((uint64_t)(tick_now - back) << CC_ATIME_TICK_SHIFT) +
		       (1u << CC_ATIME_TICK_SHIFT) - 1;

	return end < now ? (uint32_t)end : now;
}

static inline unsigned cc_vlen_bytes(uint32_t value_len)
{
	return value_len < (1u << 8) ? 1 : value_len < (1u << 16) ? 2 :
	       value_len < (1u << 24) ? 3 : 4;
}

static inline uint32_t cc_item_size(uint8_t key_len, uint32_t value_len,
				    bool has_flags, bool has_expiry,
				    unsigned cas_bytes)
{
	return CC_ITEM_FIXED + cc_vlen_bytes(value_len) + (has_flags ? 4 : 0) +
	       (has_expiry ? 4 : 0) + cas_bytes + key_len + value_len;
}

/* ---- explicit CAS encoding ---- */

static inline uint64_t cc_cas_code(uint64_t derived, uint64_t cas)
{
	int64_t distance = (int64_t)(derived - cas);

	return ((uint64_t)distance << 1) ^ (uint64_t)(distance >> 63);
}

static inline unsigned cc_cas_code_bytes(uint64_t code)
{
	unsigned n = 1;

	while (code >= 0x80) {
		code >>= 7;
		n++;
	}
	return n;
}

/* Writes code in exactly width bytes (>= cc_cas_code_bytes(code)); LEB128
 * allows the redundant continuation bytes that padding needs. */
static inline void cc_cas_code_put(uint8_t *p, uint64_t code, unsigned width)
{
	for (unsigned i = 0; i + 1 < width; i++) {
		p[i] = (uint8_t)(code & 0x7f) | 0x80;
		code >>= 7;
	}
	p[width - 1] = (uint8_t)code;
}

/* Reads a code of at most CC_CAS_BYTES_MAX bytes; returns its length. */
static inline unsigned cc_cas_code_get(const uint8_t *p, uint64_t *code)
{
	uint64_t v = 0;
	unsigned i = 0;

	do {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
	} while ((p[i++] & 0x80) && i < CC_CAS_BYTES_MAX);
	*code = v;
	return i;
}

/* Decodes the header at p. Only the info and meta bytes may change
 * concurrently. */
static inline void cc_item_decode(const uint8_t *p, struct cc_item *it)
{
	uint8_t info = atomic_load_explicit(cc_item_info((uint8_t *)p),
					    memory_order_relaxed);
	unsigned vb = ((info >> CC_ITEM_VLEN_SHIFT) & 3) + 1;
	const uint8_t *q = p + CC_ITEM_FIXED;
	uint32_t vlen = 0;

	for (unsigned i = 0; i < vb; i++)
		vlen |= (uint32_t)q[i] << (8 * i);
	q += vb;
	it->info = info;
	it->meta = atomic_load_explicit(cc_item_meta((uint8_t *)p),
					memory_order_relaxed);
	it->key_len = p[2];
	it->value_len = vlen;
	it->flags = 0;
	it->expiry = 0;
	it->cas_code = 0;
	it->cas_bytes = 0;
	if (info & CC_ITEM_HAS_FLAGS) {
		memcpy(&it->flags, q, 4);
		q += 4;
	}
	if (info & CC_ITEM_HAS_EXPIRY) {
		memcpy(&it->expiry, q, 4);
		q += 4;
	}
	if (info & CC_ITEM_HAS_CAS) {
		it->cas_bytes = (uint8_t)cc_cas_code_get(q, &it->cas_code);
		q += it->cas_bytes;
	}
	it->key = q;
	it->value = q + it->key_len;
	it->size = (uint32_t)(it->value + vlen - p);
}

/* Key bytes of the item at p, without decoding the rest. */
static inline const uint8_t *cc_item_key(const uint8_t *p, uint8_t *key_len)
{
	uint8_t info = atomic_load_explicit(cc_item_info((uint8_t *)p),
					    memory_order_relaxed);
	unsigned skip = CC_ITEM_FIXED + ((info >> CC_ITEM_VLEN_SHIFT) & 3) + 1;

	skip += (info & CC_ITEM_HAS_FLAGS) ? 4 : 0;
	skip += (info & CC_ITEM_HAS_EXPIRY) ? 4 : 0;
	if (info & CC_ITEM_HAS_CAS) {
		uint64_t code;

		skip += cc_cas_code_get(p + skip, &code);
	}
	*key_len = p[2];
	return p + skip;
}

/* The CAS an item at loc has unless it carries an explicit one. */
static inline uint64_t cc_loc_cas(const struct cc_cache *c, uint64_t loc)
{
	return c->segs[cc_loc_seg(c, loc)].cas_base + cc_loc_offset(c, loc) + 1;
}

static inline uint64_t cc_item_cas(const struct cc_cache *c, uint64_t loc,
				   const struct cc_item *it)
{
	uint64_t code = it->cas_code;
	uint64_t distance = (code >> 1) ^ (0 - (code & 1));

	return (it->info & CC_ITEM_HAS_CAS) ? cc_loc_cas(c, loc) - distance
					    : cc_loc_cas(c, loc);
}

/* ---- hashing into the index ---- */

struct cc_hashed {
	uint64_t primary;
	uint64_t secondary;
	uint8_t tag;
};

void cc_hash_key(const struct cc_cache *c, const void *key, size_t key_len,
		 struct cc_hashed *out);

/* ---- index.c ---- */

/* Lock-free lookup. Returns the location of the item with this key, or 0
 * (no live location is 0: offset 0 of segment 0 holds an item, so the
 * engine never hands that out, see segment.c). */
uint64_t cc_index_find(struct cc_cache *c, const struct cc_hashed *h,
		       const void *key, uint8_t key_len);

/* Prefetches, stage by stage, what cc_index_find will touch: the primary
 * bucket; once it has arrived, the items its matching tags point at (and
 * the secondary bucket when the key may live there, which the return
 * value says); then the items of the secondary bucket. */
void cc_index_prefetch(const struct cc_cache *c, const struct cc_hashed *h);
bool cc_index_prefetch_items(const struct cc_cache *c, const struct cc_hashed *h);
void cc_index_prefetch_secondary_items(const struct cc_cache *c,
				       const struct cc_hashed *h);

/* Writer side: both buckets of h locked for the duration. */
struct cc_index_lock {
	struct cc_bucket *primary, *secondary;  /* secondary may equal primary */
};

void cc_index_lock(struct cc_cache *c, const struct cc_hashed *h,
		   struct cc_index_lock *lk);
void cc_index_unlock(struct cc_index_lock *lk);

/* With the lock held: the location for key, or 0. */
uint64_t cc_index_find_locked(struct cc_cache *c, const struct cc_hashed *h,
			      const struct cc_index_lock *lk, const void *key,
			      uint8_t key_len);

/* With the lock held: points key (which is at old_loc, or absent when
 * old_loc is 0) at new_loc. *dropped_loc gets the location of an item
 * pushed out because both buckets were full, or 0. */
void cc_index_put_locked(struct cc_cache *c, const struct cc_hashed *h,
			 const struct cc_index_lock *lk, uint64_t old_loc,
			 uint64_t new_loc, uint64_t *dropped_loc);

/* With the lock held: removes the slot holding loc. Returns whether it
 * was there. */
bool cc_index_remove_locked(const struct cc_hashed *h,
			    const struct cc_index_lock *lk, uint64_t loc);

/* With the lock held: replaces loc by new_loc if present. */
bool cc_index_move_locked(const struct cc_hashed *h,
			  const struct cc_index_lock *lk, uint64_t loc,
			  uint64_t new_loc);

/* ---- engine.c: versions of a key, shared with rewrite.c ---- */

/* memcached's exptime rules. Returns false if the item is born expired. */
static inline bool cc_expiry_of(int64_t exptime, uint32_t now, uint32_t *expiry)
{
	int64_t at;

	*expiry = 0;
	if (exptime == 0)
		return true;
	if (exptime < 0)
		return false;
	at = exptime <= CC_TTL_RELATIVE_MAX ? (int64_t)now + exptime : exptime;
	if (at <= now)
		return false;
	*expiry = at > UINT32_MAX ? UINT32_MAX : (uint32_t)at;
	return true;
}

/* The current version of a key as seen by a lock-free lookup. */
struct cc_current {
	uint64_t loc;     /* 0 if absent */
	bool live;        /* present, not expired, not flushed */
	struct cc_item it;
};

/* What a new version holds: the value in up to two pieces (append and
 * prepend join old and new) followed by pad spaces (a shrinking decr),
 * flags, expiry, if explicit, CAS, and its meta byte. */
struct cc_version {
	const void *v1;
	size_t l1;
	const void *v2;
	size_t l2;
	size_t pad;
	uint32_t flags;
	uint32_t expiry;
	uint64_t cas;     /* 0: derived from the location */
	uint8_t meta;     /* meta flags and access tick */
	/* Meta flags taken from the version replaced, read atomically when
	 * the commit is decided (see commit). */
	uint8_t inherit;
};

/* Fills a view; the access time only when asked (see cc_get). Notes that
 * the thread now holds a view, so the engine will not pass a quiescent
 * point for it (segment.c). Inlined by force: out of line (gcc's choice
 * once it grew) it cost 3% of the GET rate, measured. */
static inline __attribute__((always_inline)) void
cc_view_fill(struct cc_thread *t, uint64_t loc, const struct cc_item *it,
	     bool atime, struct cc_view *out)
{
	struct cc_cache *c = t->cache;

	out->value = it->value;
	out->value_len = it->value_len;
	out->flags = it->flags;
	out->cas = cc_item_cas(c, loc, it);
	out->expiry = it->expiry;
	out->segment = cc_loc_seg(c, loc);
	out->meta = it->meta & CC_ITEM_META_FLAGS;
	out->atime = atime ? cc_atime_decode(it->meta, t->now) : 0;
	t->holds_views = true;
}

/* What every single-key operation does first: refuse a bad key, read the
 * clock, hash. 0, -EINVAL or -ENAMETOOLONG. */
int cc_op_begin(struct cc_thread *t, const void *key, size_t key_len,
		struct cc_hashed *h);

/* The key's current version, read without locks. */
void cc_find_current(struct cc_thread *t, const struct cc_hashed *h,
		     const void *key, uint8_t key_len, struct cc_current *cur);

/* Writes v as the key's new version if the slot still holds expect (see
 * engine.c); 0, -EAGAIN (changed meanwhile: read again and retry) or
 * -ENOMEM. */
int cc_commit(struct cc_thread *t, const struct cc_hashed *h,
	      const void *key, uint8_t key_len, uint64_t expect,
	      const struct cc_version *v, uint64_t *cas_out, uint64_t *loc_out);

/* Removes the key if the slot still holds expect; 0 or -EAGAIN. */
int cc_remove_if(struct cc_thread *t, const struct cc_hashed *h,
		 const void *key, uint8_t key_len, uint64_t expect);

/* ---- segment.c ---- */

int cc_segments_init(struct cc_cache *c, const struct cc_params *p);
void cc_segments_deinit(struct cc_cache *c);
/* cc_set_memory_limit in segments; same returns. */
int cc_segments_set_limit(struct cc_cache *c, uint32_t limit);

/* Cache memory a writer still reads while it appends: the item a new
 * version copies its value from (append, touch), by location (0: none).
 * If making room needed a quiescent point of the writer itself, its
 * segment is pinned with a reference meanwhile (pinned set) until
 * cc_seg_unpin. */
struct cc_seg_src {
	uint64_t loc;
	bool pinned;
};

/* Reserves size bytes for an item expiring at expiry in one of t's open
 * segments. On success *loc is the new item's location. When no segment
 * is free it evicts and waits, bounded in time, for a grace period (see
 * segment.c); -ENOMEM if none can be had. */
int cc_seg_append(struct cc_thread *t, uint32_t size, uint32_t expiry,
		  struct cc_seg_src *src, uint64_t *loc);

/* How many open segments of each kind (open, merge) a thread may hold;
 * see segment.c. */
unsigned cc_seg_share(const struct cc_cache *c);

/* The open segment slot (TTL class index into slots, t->open_seg or
 * t->merge_seg) for an item of class k; see segment.c. */
unsigned cc_seg_class_slot(const struct cc_thread *t, const int32_t *slots,
			   unsigned k);

/* An item expiring at expiry (0: never) was written to s: s expires
 * whole only once its last item does. */
static inline void cc_seg_note_expiry(struct cc_seg *s, uint32_t expiry)
{
	uint32_t until = expiry != 0 ? expiry : UINT32_MAX;

	if (until > s->expire_at)
		s->expire_at = until;
}

/* Drops the pin cc_seg_append may have taken on src's segment. */
void cc_seg_unpin(struct cc_cache *c, struct cc_seg_src *src);

/* Seals t's open and merge segments (thread leaving). */
void cc_seg_release_open(struct cc_thread *t);

/* Drops expired and flushed segments, evicts ahead, reclaims; bounded. */
void cc_seg_maintain(struct cc_thread *t);

/* The pool's primitives, pool_lock held (segment.c), for eviction. */
void cc_queue_push(struct cc_cache *c, struct cc_seg_queue *q, int32_t id);
void cc_queue_remove(struct cc_cache *c, struct cc_seg_queue *q, int32_t id);
int32_t cc_free_pop_locked(struct cc_cache *c);
void cc_seg_start(struct cc_cache *c, int32_t id, unsigned ttl_class_id);
void cc_seal_locked(struct cc_cache *c, int32_t id);
/* Frees retired segments past their grace period and unpinned; returns
 * the oldest quiescent epoch it judged them by. */
uint64_t cc_reclaim_locked(struct cc_cache *c);

/* ---- evict.c ---- */

/* Drains one batch of sealed segments (the oldest, keeping what was hit)
 * and retires them. dead_only: only segments whose items all expired or
 * were flushed. Returns whether anything was drained. No lock held. */
bool cc_evict_batch(struct cc_thread *t, bool dead_only);

enum cc_item_state {
	CC_ITEM_LIVE,
	CC_ITEM_EXPIRED,
	CC_ITEM_FLUSHED,
};

/* Whether a segment was opened before the last flush: all its items are
 * then invisible, and nothing more may be appended to it. */
static inline bool cc_seg_flushed(const struct cc_cache *c, const struct cc_seg *s)
{
	return s->flush_epoch != atomic_load_explicit(&c->flush_epoch,
						      memory_order_relaxed);
}

/* Whether an indexed item is still visible: the one definition that
 * reads, writes and eviction share. */
static inline enum cc_item_state cc_item_state(const struct cc_cache *c,
					       uint64_t loc,
					       const struct cc_item *it,
					       uint32_t now)
{
	if (it->expiry != 0 && it->expiry <= now)
		return CC_ITEM_EXPIRED;
	if (cc_seg_flushed(c, &c->segs[cc_loc_seg(c, loc)]))
		return CC_ITEM_FLUSHED;
	return CC_ITEM_LIVE;
}

/* Item accounting when an item leaves the index; shared by engine and
 * eviction so gauges stay consistent. */
void cc_item_unlinked(struct cc_thread *t, const uint8_t *item_ptr);

/* ---- qsbr.c ---- */

/* Starts a grace period; memory retired now may be reused once every
 * online thread has a quiescent point with epoch >= the value returned. */
uint64_t cc_qsbr_retire(struct cc_cache *c);

/* Smallest epoch any online thread has reported; UINT64_MAX if none.
 * Caller holds pool_lock (the thread table is stable). */
uint64_t cc_qsbr_min(struct cc_cache *c);

#endif
