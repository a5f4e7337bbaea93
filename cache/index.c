/*
 * The hash index: 2^n buckets of 64 bytes, 10 slots each.
 *
 * Every key has two buckets. It goes to its primary bucket when there is
 * room, else to its secondary, and the primary counts how many of its keys
 * live next door, so a lookup reads one cache line unless that count is
 * non-zero. When both are full, one resident is moved to its own other
 * bucket (a single cuckoo step, which takes 10M keys into 2^20 buckets
 * with <0.1% loss), and only when that fails does the coldest resident
 * leave the index. Losing an item is allowed: this is a cache.
 *
 * Readers take no lock: they read a bucket's word, match tags a bucket at a
 * time with SIMD, and re-read the word before trusting a location; a
 * writer holds the lock bit for its whole update and bumps the version
 * when done. Writers lock a key's two buckets in index order; a third
 * bucket (cuckoo step) is only ever try-locked, so no lock cycle forms.
 */
#include <immintrin.h>

#include "cache_internal.h"
#include "simd.h"

void cc_hash_key(const struct cc_cache *c, const void *key, size_t key_len,
		 struct cc_hashed *out)
{
	uint64_t h = simd_hash(key, key_len);
	uint64_t secondary = (h >> 30) & c->index_mask;
	uint8_t tag = (uint8_t)(h >> 56);

	/* Bits 0..25, 30..55 and 56..63 are disjoint for index_power <= 26,
	 * so the two buckets and the tag are independent. */
	out->primary = h & c->index_mask;
	out->secondary = secondary != out->primary ? secondary : secondary ^ 1;
	out->tag = tag != 0 ? tag : 1;
}

static inline uint32_t bucket_match(const struct cc_bucket *b, uint8_t tag)
{
#ifdef CC_TSAN
	/* ThreadSanitizer cannot tell a vector load checked by a seqlock
	 * from a race, so sanitizer builds match tags with atomic loads. */
	uint32_t m = 0;

	for (unsigned i = 0; i < CC_BUCKET_SLOTS; i++)
		if (atomic_load_explicit(&b->tag[i], memory_order_relaxed) == tag)
			m |= 1u << i;
	return m;
#else
	return simd_ops.tag_match((const uint8_t *)b->tag, tag);
#endif
}

static inline uint64_t slot_loc(const struct cc_bucket *b, unsigned i)
{
	/* acquire: pairs with the release in slot_set, so the item bytes
	 * written before publication are visible. */
	uint32_t lo = atomic_load_explicit(&b->loc_lo[i], memory_order_acquire);
	uint8_t hi = atomic_load_explicit(&b->loc_hi[i], memory_order_relaxed);

	return ((uint64_t)hi << 32) | lo;
}

static inline void slot_set(struct cc_bucket *b, unsigned i, uint8_t tag,
			    uint64_t loc)
{
	atomic_store_explicit(&b->loc_hi[i], (uint8_t)(loc >> 32),
			      memory_order_relaxed);
	atomic_store_explicit(&b->loc_lo[i], (uint32_t)loc,
			      memory_order_release);
	atomic_store_explicit(&b->tag[i], tag, memory_order_relaxed);
}

static inline void slot_clear(struct cc_bucket *b, unsigned i)
{
	atomic_store_explicit(&b->tag[i], 0, memory_order_relaxed);
}

static inline uint8_t slot_tag(const struct cc_bucket *b, unsigned i)
{
	return atomic_load_explicit(&b->tag[i], memory_order_relaxed);
}

static inline unsigned bucket_overflow(uint32_t word)
{
	return word >> CC_WORD_OVF_SHIFT;
}

static void bucket_lock(struct cc_bucket *b)
{
	for (;;) {
		uint32_t w = atomic_load_explicit(&b->word, memory_order_relaxed);

		if (!(w & CC_WORD_LOCK) &&
		    atomic_compare_exchange_weak_explicit(&b->word, &w,
							  w | CC_WORD_LOCK,
							  memory_order_acquire,
							  memory_order_relaxed))
			break;
		_mm_pause();
	}
	/* release fence: slot stores after this point cannot become visible
	 * before the lock bit, so a reader that sees them also sees the word
	 * change when it validates. */
	cc_fence(memory_order_release);
}

static bool bucket_trylock(struct cc_bucket *b)
{
	uint32_t w = atomic_load_explicit(&b->word, memory_order_relaxed);

	if (w & CC_WORD_LOCK)
		return false;
	if (!atomic_compare_exchange_strong_explicit(&b->word, &w,
						     w | CC_WORD_LOCK,
						     memory_order_acquire,
						     memory_order_relaxed))
		return false;
	cc_fence(memory_order_release);
	return true;
}

static void bucket_unlock(struct cc_bucket *b)
{
	uint32_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
	uint32_t version = ((w & CC_WORD_VERSION_MASK) + 2) & CC_WORD_VERSION_MASK;

	/* release: every slot store of this update is visible before the
	 * new version. */
	atomic_store_explicit(&b->word,
			      (w & ~(CC_WORD_VERSION_MASK | CC_WORD_LOCK)) | version,
			      memory_order_release);
}

/* Lock held: adjusts the overflow count, keeping the word odd. */
static bool bucket_overflow_add(struct cc_bucket *b, int delta)
{
	uint32_t w = atomic_load_explicit(&b->word, memory_order_relaxed);
	unsigned ovf = bucket_overflow(w);

	if ((delta > 0 && ovf == 255) || (delta < 0 && ovf == 0))
		return false;
	w = (w & ((1u << CC_WORD_OVF_SHIFT) - 1)) |
	    ((uint32_t)(ovf + delta) << CC_WORD_OVF_SHIFT);
	atomic_store_explicit(&b->word, w, memory_order_relaxed);
	return true;
}

static inline bool item_key_equal(const struct cc_cache *c, uint64_t loc,
				  const void *key, uint8_t key_len)
{
	uint8_t kl;
	const uint8_t *k = cc_item_key(cc_loc_ptr(c, loc), &kl);

	return kl == key_len && simd_ops.key_equal(k, key, key_len);
}

/* Lock-free scan of one bucket whose word was `word`. Sets *changed and
 * returns 0 if the bucket changed under us. */
static uint64_t bucket_find(struct cc_cache *c, struct cc_bucket *b,
			    uint32_t word, uint8_t tag, const void *key,
			    uint8_t key_len, bool *changed)
{
	uint32_t m = bucket_match(b, tag);

	while (m != 0) {
		unsigned i = (unsigned)__builtin_ctz(m);
		uint64_t loc = slot_loc(b, i);

		m &= m - 1;
		/* A location is trusted only once the word shows that no
		 * writer touched the bucket meanwhile: a torn hi/lo pair is
		 * never dereferenced. */
		cc_fence(memory_order_acquire);
		if (atomic_load_explicit(&b->word, memory_order_relaxed) != word) {
			*changed = true;
			return 0;
		}
		CC_DEBUG_ASSERT(cc_loc_seg(c, loc) < c->nsegs);
		if (item_key_equal(c, loc, key, key_len))
			return loc;
	}
	return 0;
}

static bool bucket_unchanged(const struct cc_bucket *b, uint32_t word)
{
	cc_fence(memory_order_acquire);
	return atomic_load_explicit(&b->word, memory_order_relaxed) == word;
}

uint64_t cc_index_find(struct cc_cache *c, const struct cc_hashed *h,
		       const void *key, uint8_t key_len)
{
	struct cc_bucket *p = &c->index[h->primary];
	struct cc_bucket *s = &c->index[h->secondary];

	for (;;) {
		uint32_t wp = atomic_load_explicit(&p->word, memory_order_acquire);
		uint32_t ws = 0;
		bool changed = false;
		uint64_t loc;

		if (wp & CC_WORD_LOCK) {
			_mm_pause();
			continue;
		}
		loc = bucket_find(c, p, wp, h->tag, key, key_len, &changed);
		if (loc != 0)
			return loc;
		if (changed)
			continue;
		if (bucket_overflow(wp) != 0) {
			ws = atomic_load_explicit(&s->word, memory_order_acquire);
			if (ws & CC_WORD_LOCK) {
				_mm_pause();
				continue;
			}
			loc = bucket_find(c, s, ws, h->tag, key, key_len, &changed);
			if (loc != 0)
				return loc;
			if (changed || !bucket_unchanged(s, ws))
				continue;
		}
		if (bucket_unchanged(p, wp))
			return 0;
	}
}

void cc_index_prefetch(const struct cc_cache *c, const struct cc_hashed *h)
{
	__builtin_prefetch(&c->index[h->primary]);
}

/* Prefetches the lines the key compare reads of items whose tags match
 * in b: the header and key, about the first 32 bytes, which at a random
 * byte offset cross a line boundary half the time. Hints only: a torn
 * location just prefetches a useless line. */
static void prefetch_matching_items(const struct cc_cache *c,
				    const struct cc_bucket *b, uint32_t m)
{
	while (m != 0) {
		uint64_t loc = slot_loc(b, (unsigned)__builtin_ctz(m));
		uintptr_t item = (uintptr_t)c->region +
				 (uintptr_t)(loc & ((1ull << CC_LOC_BITS) - 1));

		m &= m - 1;
		__builtin_prefetch((const void *)item);
		if ((item & (CC_CACHE_LINE - 1)) > CC_CACHE_LINE - 32)
			__builtin_prefetch((const void *)(item + 32));
	}
}

bool cc_index_prefetch_items(const struct cc_cache *c, const struct cc_hashed *h)
{
	const struct cc_bucket *p = &c->index[h->primary];
	uint32_t m = bucket_match(p, h->tag);

	prefetch_matching_items(c, p, m);
	if (m != 0 || bucket_overflow(atomic_load_explicit(&p->word,
							   memory_order_relaxed)) == 0)
		return false;
	__builtin_prefetch(&c->index[h->secondary]);
	return true;
}

void cc_index_prefetch_secondary_items(const struct cc_cache *c,
				       const struct cc_hashed *h)
{
	const struct cc_bucket *s = &c->index[h->secondary];

	prefetch_matching_items(c, s, bucket_match(s, h->tag));
}

void cc_index_lock(struct cc_cache *c, const struct cc_hashed *h,
		   struct cc_index_lock *lk)
{
	lk->primary = &c->index[h->primary];
	lk->secondary = &c->index[h->secondary];
	if (h->primary < h->secondary) {
		bucket_lock(lk->primary);
		bucket_lock(lk->secondary);
	} else {
		bucket_lock(lk->secondary);
		bucket_lock(lk->primary);
	}
}

void cc_index_unlock(struct cc_index_lock *lk)
{
	bucket_unlock(lk->secondary);
	bucket_unlock(lk->primary);
}

/* Lock held: slot of key in b, or -1. */
static int bucket_find_key_locked(struct cc_cache *c, struct cc_bucket *b,
				  uint8_t tag, const void *key, uint8_t key_len)
{
	uint32_t m = bucket_match(b, tag);

	while (m != 0) {
		unsigned i = (unsigned)__builtin_ctz(m);

		m &= m - 1;
		if (item_key_equal(c, slot_loc(b, i), key, key_len))
			return (int)i;
	}
	return -1;
}

/* Lock held: slot holding loc in b, or -1. */
static int bucket_find_loc_locked(struct cc_bucket *b, uint8_t tag,
				  uint64_t loc)
{
	uint32_t m = bucket_match(b, tag);

	while (m != 0) {
		unsigned i = (unsigned)__builtin_ctz(m);

		m &= m - 1;
		if (slot_loc(b, i) == loc)
			return (int)i;
	}
	return -1;
}

static int bucket_free_slot(const struct cc_bucket *b)
{
	for (unsigned i = 0; i < CC_BUCKET_SLOTS; i++)
		if (slot_tag(b, i) == 0)
			return (int)i;
	return -1;
}

uint64_t cc_index_find_locked(struct cc_cache *c, const struct cc_hashed *h,
			      const struct cc_index_lock *lk, const void *key,
			      uint8_t key_len)
{
	int i = bucket_find_key_locked(c, lk->primary, h->tag, key, key_len);

	if (i >= 0)
		return slot_loc(lk->primary, (unsigned)i);
	if (bucket_overflow(atomic_load_explicit(&lk->primary->word,
						 memory_order_relaxed)) == 0)
		return 0;
	i = bucket_find_key_locked(c, lk->secondary, h->tag, key, key_len);
	return i >= 0 ? slot_loc(lk->secondary, (unsigned)i) : 0;
}

/* The hash of the item in slot i of b, from its key. */
static void resident_hash(struct cc_cache *c, const struct cc_bucket *b,
			  unsigned i, struct cc_hashed *rh)
{
	uint8_t kl;
	const uint8_t *k = cc_item_key(cc_loc_ptr(c, slot_loc(b, i)), &kl);

	cc_hash_key(c, k, kl, rh);
}

/*
 * Lock held on both buckets: frees a slot in one of them by moving one
 * resident to its other bucket. Returns the bucket (primary or secondary
 * of the lock) with the freed slot in *slot, or NULL.
 */
static struct cc_bucket *cuckoo_step(struct cc_cache *c,
				     const struct cc_index_lock *lk,
				     unsigned nbuckets, unsigned *slot)
{
	struct cc_bucket *pair[2] = { lk->primary, lk->secondary };

	for (unsigned k = 0; k < nbuckets; k++) {
		struct cc_bucket *b = pair[k];
		uint64_t b_idx = (uint64_t)(b - c->index);

		for (unsigned i = 0; i < CC_BUCKET_SLOTS; i++) {
			struct cc_hashed rh;
			resident_hash(c, b, i, &rh);
			bool in_primary = rh.primary == b_idx;
			uint64_t other_idx = in_primary ? rh.secondary : rh.primary;
			struct cc_bucket *other = &c->index[other_idx];
			int j;

			if (other == lk->primary || other == lk->secondary)
				continue;
			if (!bucket_trylock(other))
				continue;
			j = bucket_free_slot(other);
			if (j >= 0 && (in_primary ? bucket_overflow_add(b, 1)
						  : bucket_overflow_add(other, -1))) {
				slot_set(other, (unsigned)j, rh.tag, slot_loc(b, i));
				slot_clear(b, i);
				bucket_unlock(other);
				*slot = i;
				return b;
			}
			bucket_unlock(other);
		}
	}
	return NULL;
}

/*
 * Lock held on both buckets, both full and no cuckoo step possible: the
 * coldest resident whose primary is one of the two locked buckets leaves
 * (so its overflow count is ours to fix). Returns its bucket and slot.
 */
static struct cc_bucket *index_victim(struct cc_cache *c,
				      const struct cc_index_lock *lk,
				      unsigned nbuckets, unsigned *slot,
				      uint64_t *victim_loc)
{
	struct cc_bucket *pair[2] = { lk->primary, lk->secondary };
	struct cc_bucket *best = NULL;
	unsigned best_slot = 0, best_freq = 4;

	for (unsigned k = 0; k < nbuckets; k++) {
		struct cc_bucket *b = pair[k];

		for (unsigned i = 0; i < CC_BUCKET_SLOTS; i++) {
			struct cc_hashed rh;
			resident_hash(c, b, i, &rh);
			struct cc_bucket *home = &c->index[rh.primary];
			unsigned freq;

			if (home != lk->primary && home != lk->secondary)
				continue;
			freq = atomic_load_explicit(
				       cc_item_info(cc_loc_ptr(c, slot_loc(b, i))),
				       memory_order_relaxed) & CC_ITEM_FREQ_MASK;
			if (freq < best_freq) {
				best = b;
				best_slot = i;
				best_freq = freq;
			}
		}
	}
	if (best == NULL)
		return NULL;
	struct cc_hashed rh;
	resident_hash(c, best, best_slot, &rh);
	if (rh.primary != (uint64_t)(best - c->index))
		bucket_overflow_add(&c->index[rh.primary], -1);
	*victim_loc = slot_loc(best, best_slot);
	slot_clear(best, best_slot);
	*slot = best_slot;
	return best;
}

void cc_index_put_locked(struct cc_cache *c, const struct cc_hashed *h,
			 const struct cc_index_lock *lk, uint64_t old_loc,
			 uint64_t new_loc, uint64_t *dropped_loc)
{
	struct cc_bucket *b;
	unsigned slot, nbuckets;
	int i;

	*dropped_loc = 0;
	if (old_loc != 0) {
		CC_ASSERT(cc_index_move_locked(h, lk, old_loc, new_loc));
		return;
	}
	i = bucket_free_slot(lk->primary);
	if (i >= 0) {
		slot_set(lk->primary, (unsigned)i, h->tag, new_loc);
		return;
	}
	i = bucket_free_slot(lk->secondary);
	if (i >= 0 && bucket_overflow_add(lk->primary, 1)) {
		slot_set(lk->secondary, (unsigned)i, h->tag, new_loc);
		return;
	}
	/* A primary whose overflow count is saturated (only crafted keys
	 * get there) may not place into its secondary: look at it alone. */
	nbuckets = bucket_overflow(atomic_load_explicit(&lk->primary->word,
							memory_order_relaxed)) < 255 ? 2 : 1;
	b = cuckoo_step(c, lk, nbuckets, &slot);
	if (b == NULL)
		b = index_victim(c, lk, nbuckets, &slot, dropped_loc);
	if (b == NULL) {
		/* Nothing can leave for it: the new item itself is the one
		 * the index drops, a miss later, never a wrong answer. */
		*dropped_loc = new_loc;
		return;
	}
	if (b == lk->secondary)
		CC_ASSERT(bucket_overflow_add(lk->primary, 1));
	slot_set(b, slot, h->tag, new_loc);
}

bool cc_index_remove_locked(const struct cc_hashed *h,
			    const struct cc_index_lock *lk, uint64_t loc)
{
	int i = bucket_find_loc_locked(lk->primary, h->tag, loc);

	if (i >= 0) {
		slot_clear(lk->primary, (unsigned)i);
		return true;
	}
	i = bucket_find_loc_locked(lk->secondary, h->tag, loc);
	if (i < 0)
		return false;
	slot_clear(lk->secondary, (unsigned)i);
	bucket_overflow_add(lk->primary, -1);
	return true;
}

bool cc_index_move_locked(const struct cc_hashed *h,
			  const struct cc_index_lock *lk, uint64_t loc,
			  uint64_t new_loc)
{
	struct cc_bucket *b = lk->primary;
	int i = bucket_find_loc_locked(b, h->tag, loc);

	if (i < 0) {
		b = lk->secondary;
		i = bucket_find_loc_locked(b, h->tag, loc);
	}
	if (i < 0)
		return false;
	slot_set(b, (unsigned)i, h->tag, new_loc);
	return true;
}
