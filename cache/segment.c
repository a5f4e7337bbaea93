/*
 * Segments: where items live, and how memory comes back.
 *
 * Memory is one region of equal segments; the memory limit is a count of
 * them, so item memory can never exceed it. Each thread appends to its own
 * open segment per TTL class: items with close expiry times share
 * segments, which then expire whole (proactive expiry), and appends need
 * no atomics. A full segment is sealed into its class's FIFO queue.
 *
 * Eviction takes the oldest CC_EVICT_BATCH sealed segments at once, S3-FIFO
 * style at segment granularity: fresh writes wait in a small probation
 * tier; evicting there promotes the items that were hit into the evicting
 * thread's open merge segment in the main tier, and drops the rest, so
 * items read once never occupy main memory. Main segments are evicted the
 * same way, keeping what was hit since the last pass. The emptied
 * segments retire.
 * A retired segment is reused only after every online thread has passed a
 * quiescent point (so no reader still looks at it) and no zero-copy
 * reference pins it.
 *
 * pool_lock guards the free list and the queues. It is taken once per
 * segment opened, sealed or reclaimed, never per request; the per-item
 * work of eviction runs outside it.
 */
#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#include "cache_internal.h"

#define CC_HUGEPAGE_SIZE (2u << 20)

/* Upper bounds of remaining TTL for classes 1..CC_TTL_CLASSES-1; class 0
 * holds items that never expire. */
static const uint32_t ttl_class_bound[CC_TTL_CLASSES - 1] = {
	60, 300, 1800, 7200, 43200, 259200, UINT32_MAX,
};

static unsigned ttl_class(uint32_t expiry, uint32_t now)
{
	uint32_t remaining = expiry > now ? expiry - now : 0;
	unsigned k = 0;

	if (expiry == 0)
		return 0;
	while (remaining > ttl_class_bound[k])
		k++;
	return k + 1;
}

static void queue_init(struct cc_seg_queue *q)
{
	q->head = q->tail = -1;
	q->count = 0;
}

static void queue_push(struct cc_cache *c, struct cc_seg_queue *q, int32_t id)
{
	struct cc_seg *s = &c->segs[id];

	s->next = -1;
	s->prev = q->tail;
	if (q->tail >= 0)
		c->segs[q->tail].next = id;
	else
		q->head = id;
	q->tail = id;
	q->count++;
}

static void queue_remove(struct cc_cache *c, struct cc_seg_queue *q, int32_t id)
{
	struct cc_seg *s = &c->segs[id];

	if (s->prev >= 0)
		c->segs[s->prev].next = s->next;
	else
		q->head = s->next;
	if (s->next >= 0)
		c->segs[s->next].prev = s->prev;
	else
		q->tail = s->prev;
	s->prev = s->next = -1;
	q->count--;
}

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

static int region_map(struct cc_cache *c, bool try_hugetlb)
{
	void *p = MAP_FAILED;

	if (try_hugetlb) {
		size_t bytes = round_up(c->region_bytes, CC_HUGEPAGE_SIZE);

		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p != MAP_FAILED) {
			c->region_bytes = bytes;
			c->region_hugetlb = true;
		}
	}
	if (p == MAP_FAILED) {
		p = mmap(NULL, c->region_bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return -ENOMEM;
		/* Transparent huge pages when hugetlbfs has none: fewer TLB
		 * misses on random item reads. Advisory, so failure is fine. */
		(void)madvise(p, c->region_bytes, MADV_HUGEPAGE);
	}
	c->region = p;
	return 0;
}

int cc_segments_init(struct cc_cache *c, const struct cc_params *p)
{
	size_t largest = (size_t)CC_ITEM_HEADER_MAX + CC_KEY_MAX + p->item_max;
	size_t seg_size = p->segment_size;
	size_t nsegs;
	int rc;

	if (p->item_max == 0 || p->item_max > (1u << 30))
		return -EINVAL;
	if (seg_size == 0) {
		seg_size = 1u << 20;
		while (seg_size < largest)
			seg_size <<= 1;
	}
	if ((seg_size & (seg_size - 1)) != 0 || seg_size < largest ||
	    seg_size > (1u << 31))
		return -EINVAL;
	nsegs = p->memory_limit / seg_size;
	c->seg_size = (uint32_t)seg_size;
	c->seg_shift = (unsigned)__builtin_ctzl(seg_size);
	if (nsegs < CC_MIN_SEGMENTS ||
	    nsegs >= (1ull << (CC_LOC_BITS - c->seg_shift)))
		return -EINVAL;
	c->nsegs = (uint32_t)nsegs;
	c->item_max = (uint32_t)p->item_max;
	c->region_bytes = nsegs * seg_size;

	rc = region_map(c, p->hugepages);
	if (rc < 0)
		return rc;
	c->segs = calloc(nsegs, sizeof(*c->segs));
	if (c->segs == NULL) {
		munmap(c->region, c->region_bytes);
		return -ENOMEM;
	}
	rc = pthread_mutex_init(&c->pool_lock, NULL);
	if (rc != 0) {
		free(c->segs);
		munmap(c->region, c->region_bytes);
		return -rc;
	}
	for (uint32_t i = 0; i < c->nsegs; i++) {
		c->segs[i].state = CC_SEG_FREE;
		c->segs[i].prev = -1;
		c->segs[i].next = i + 1 < c->nsegs ? (int32_t)i + 1 : -1;
	}
	c->free_head = 0;
	atomic_init(&c->free_count, c->nsegs);
	for (unsigned k = 0; k < CC_TTL_CLASSES; k++)
		for (unsigned tier = 0; tier < CC_SEG_TIERS; tier++)
			queue_init(&c->sealed[k][tier]);
	queue_init(&c->retired);
	atomic_init(&c->cas_next, 1);
	return 0;
}

void cc_segments_deinit(struct cc_cache *c)
{
	pthread_mutex_destroy(&c->pool_lock);
	free(c->segs);
	munmap(c->region, c->region_bytes);
}

/* pool_lock held: retired segments past their grace period and unpinned
 * go back to the free list. */
static void reclaim_locked(struct cc_cache *c)
{
	uint64_t safe;
	int32_t id;

	if (c->retired.count == 0)
		return;
	safe = cc_qsbr_min(c);
	id = c->retired.head;
	while (id >= 0) {
		struct cc_seg *s = &c->segs[id];
		int32_t next = s->next;

		/* acquire: the last cc_ref_put's reads of the value happen
		 * before the segment is written again. */
		if (s->retire_epoch <= safe &&
		    atomic_load_explicit(&s->refs, memory_order_acquire) == 0) {
			CC_ASSERT(s->state == CC_SEG_RETIRED);
			queue_remove(c, &c->retired, id);
			s->state = CC_SEG_FREE;
			s->next = c->free_head;
			c->free_head = id;
			atomic_fetch_add_explicit(&c->free_count, 1,
						  memory_order_relaxed);
		}
		id = next;
	}
}

/* pool_lock held: a free segment, or -1. */
static int32_t free_pop_locked(struct cc_cache *c)
{
	int32_t id = c->free_head;

	if (id < 0)
		return -1;
	c->free_head = c->segs[id].next;
	c->segs[id].next = -1;
	atomic_fetch_sub_explicit(&c->free_count, 1, memory_order_relaxed);
	return id;
}

/* Prepares a popped segment for appending. */
static void seg_start(struct cc_cache *c, int32_t id, unsigned ttl_class_id)
{
	struct cc_seg *s = &c->segs[id];

	CC_ASSERT(s->state == CC_SEG_FREE);
	s->state = CC_SEG_OPEN;
	/* Location 0 means "none" in the index, so segment 0 skips a byte. */
	s->write_offset = id == 0 ? 1 : 0;
	s->cas_base = atomic_fetch_add_explicit(&c->cas_next, c->seg_size,
						memory_order_relaxed);
	s->expire_at = 0;
	s->flush_epoch = atomic_load_explicit(&c->flush_epoch,
					      memory_order_relaxed);
	s->ttl_class = (uint8_t)ttl_class_id;
	s->tier = CC_TIER_PROBATION;
}

static void seal_locked(struct cc_cache *c, int32_t id)
{
	struct cc_seg *s = &c->segs[id];

	CC_ASSERT(s->state == CC_SEG_OPEN);
	s->state = CC_SEG_SEALED;
	s->seal_seq = ++c->seal_seq;
	queue_push(c, &c->sealed[s->ttl_class][s->tier], id);
}

static void seal(struct cc_cache *c, int32_t id)
{
	pthread_mutex_lock(&c->pool_lock);
	seal_locked(c, id);
	pthread_mutex_unlock(&c->pool_lock);
}

static bool seg_dead(const struct cc_cache *c, const struct cc_seg *s,
		     uint32_t now)
{
	return cc_seg_flushed(c, s) || (s->expire_at != 0 && s->expire_at <= now);
}

/* pool_lock held: takes sealed segment id out of its queue to drain. */
static void take_locked(struct cc_cache *c, int32_t id, int32_t *batch,
			unsigned *n)
{
	struct cc_seg *s = &c->segs[id];

	CC_ASSERT(s->state == CC_SEG_SEALED);
	queue_remove(c, &c->sealed[s->ttl_class][s->tier], id);
	s->state = CC_SEG_DRAINING;
	batch[(*n)++] = id;
}

/* pool_lock held: the TTL class whose queue of tier has the oldest head,
 * or -1 if that tier is empty. */
static int oldest_class_locked(const struct cc_cache *c, unsigned tier)
{
	int best = -1;

	for (unsigned k = 0; k < CC_TTL_CLASSES; k++) {
		int32_t id = c->sealed[k][tier].head;

		if (id >= 0 && (best < 0 || c->segs[id].seal_seq <
					    c->segs[c->sealed[best][tier].head].seal_seq))
			best = (int)k;
	}
	return best;
}

/*
 * pool_lock held: takes up to CC_EVICT_BATCH sealed segments to drain.
 * Dead ones (all expired or flushed) at a queue head come first; with
 * dead_only, nothing else. Otherwise probation while it holds more than
 * its share of the segments, else main; in the tier, the oldest queue.
 */
static unsigned pick_batch_locked(struct cc_cache *c, uint32_t now,
				  bool dead_only, int32_t *batch, bool *dead)
{
	unsigned n = 0, probation = 0, tier;
	int k;

	for (unsigned cls = 0; cls < CC_TTL_CLASSES; cls++) {
		for (unsigned tr = 0; tr < CC_SEG_TIERS; tr++) {
			int32_t id = c->sealed[cls][tr].head;

			while (id >= 0 && n < CC_EVICT_BATCH &&
			       seg_dead(c, &c->segs[id], now)) {
				int32_t next = c->segs[id].next;

				take_locked(c, id, batch, &n);
				id = next;
			}
		}
		probation += c->sealed[cls][CC_TIER_PROBATION].count;
	}
	*dead = n > 0 || dead_only;
	if (*dead)
		return n;
	tier = probation * 100 > (uint64_t)c->nsegs * CC_PROBATION_SHARE
		       ? CC_TIER_PROBATION : CC_TIER_MAIN;
	k = oldest_class_locked(c, tier);
	if (k < 0) {
		tier = tier == CC_TIER_MAIN ? CC_TIER_PROBATION : CC_TIER_MAIN;
		k = oldest_class_locked(c, tier);
	}
	if (k < 0)
		return 0;
	while (n < CC_EVICT_BATCH && c->sealed[k][tier].head >= 0)
		take_locked(c, c->sealed[k][tier].head, batch, &n);
	return n;
}

void cc_item_unlinked(struct cc_thread *t, const uint8_t *item_ptr)
{
	struct cc_item it;

	cc_item_decode(item_ptr, &it);
	atomic_fetch_or_explicit(cc_item_info((uint8_t *)item_ptr), CC_ITEM_DEAD,
				 memory_order_relaxed);
	cc_count(&t->counters.curr_items, (uint64_t)-1);
	cc_count(&t->counters.curr_bytes, -(uint64_t)it.size);
}

/*
 * Who stays in a merge: hit counts from the top down, as long as a whole
 * level fits in the room left (levels >= full); then the next level down
 * (partial) fills what room remains. Items never hit are never kept.
 */
struct keep_rule {
	unsigned full;
	unsigned partial;  /* 0: none */
	uint64_t room;     /* bytes kept at most */
};

static struct keep_rule keep_rule_for(struct cc_cache *c, const int32_t *batch,
				      unsigned n, uint32_t room)
{
	uint64_t bytes_at[CC_ITEM_FREQ_MASK + 1] = { 0 };
	uint64_t kept = 0;
	unsigned level;

	for (unsigned b = 0; b < n; b++) {
		const struct cc_seg *s = &c->segs[batch[b]];
		const uint8_t *base = c->region + ((size_t)batch[b] << c->seg_shift);

		for (uint32_t off = batch[b] == 0 ? 1 : 0; off < s->write_offset;) {
			struct cc_item it;

			cc_item_decode(base + off, &it);
			if (!(it.info & CC_ITEM_DEAD))
				/* + 4: the short CAS code a copy typically adds. */
				bytes_at[it.info & CC_ITEM_FREQ_MASK] += it.size + 4;
			off += it.size;
		}
	}
	for (level = CC_ITEM_FREQ_MASK; level >= 1; level--) {
		if (kept + bytes_at[level] > room)
			break;
		kept += bytes_at[level];
	}
	return (struct keep_rule){ .full = level + 1, .partial = level, .room = room };
}

/*
 * Copies a kept item into the merge segment with its CAS made explicit
 * (a merge must not change it; the location is known here, so the code
 * takes its short form) and its hit counter cleared. Its meta byte is
 * filled in by drain_item when the copy replaces the original. Returns
 * the new location, or 0 if it does not fit; *size gets the copy's size.
 */
static uint64_t merge_copy(struct cc_cache *c, int32_t dest, uint64_t loc,
			   const struct cc_item *it, uint32_t *size)
{
	struct cc_seg *d = &c->segs[dest];
	uint64_t new_loc = cc_loc_make(c, (uint32_t)dest, d->write_offset);
	uint64_t code = cc_cas_code(cc_loc_cas(c, new_loc), cc_item_cas(c, loc, it));
	unsigned code_bytes = cc_cas_code_bytes(code);
	uint8_t *out = cc_loc_ptr(c, new_loc);
	const uint8_t *src = cc_loc_ptr(c, loc);
	uint32_t fixed = CC_ITEM_FIXED + ((it->info >> CC_ITEM_VLEN_SHIFT) & 3) + 1 +
			 ((it->info & CC_ITEM_HAS_FLAGS) ? 4 : 0) +
			 ((it->info & CC_ITEM_HAS_EXPIRY) ? 4 : 0);

	*size = it->size - it->cas_bytes + code_bytes;
	if (d->write_offset + *size > c->seg_size)
		return 0;
	memcpy(out + 2, src + 2, fixed - 2);
	out[0] = (uint8_t)((it->info & ~(CC_ITEM_FREQ_MASK | CC_ITEM_DEAD)) |
			   CC_ITEM_HAS_CAS);
	atomic_store_explicit(cc_item_meta(out), 0, memory_order_relaxed);
	cc_cas_code_put(out + fixed, code, code_bytes);
	memcpy(out + fixed + code_bytes, it->key,
	       (size_t)it->key_len + it->value_len);
	if (it->expiry > d->expire_at)
		d->expire_at = it->expiry;
	d->write_offset += *size;
	return new_loc;
}

/*
 * pool_lock held: t's merge segment for a class, which stays open across
 * evictions until an item does not fit (full), so main segments are
 * sealed full rather than sparse. None is opened for a batch of one
 * segment: a merge would gain nothing.
 */
static int32_t merge_dest_locked(struct cc_thread *t, unsigned ttl_class_id,
				 unsigned n, bool full)
{
	struct cc_cache *c = t->cache;
	int32_t dest = t->merge_seg[ttl_class_id];

	if (dest >= 0 &&
	    (full || cc_seg_flushed(c, &c->segs[dest]))) {
		seal_locked(c, dest);
		dest = -1;
	}
	if (dest < 0 && n > 1) {
		dest = free_pop_locked(c);
		if (dest >= 0) {
			seg_start(c, dest, ttl_class_id);
			c->segs[dest].tier = CC_TIER_MAIN;
		}
	}
	t->merge_seg[ttl_class_id] = dest;
	return dest;
}

/*
 * Bucket lock held, before a merge copy replaces the original: the copy
 * gets the original's meta byte (flags and access tick) as it is now,
 * and the original gets WIN_SENT in the same atomic step. A client
 * claiming the recache token on the original from here on is told
 * someone has it, so the token is not handed out once for each copy; the
 * lock orders this against every other replacement of the key. If the
 * original is no longer indexed the move then fails, and nobody reads its
 * meta byte as the current one again. A read's FETCHED or tick landing on
 * the original meanwhile is lost, as a hit is.
 */
static void carry_meta(struct cc_cache *c, uint64_t from, uint64_t to)
{
	uint8_t m = atomic_fetch_or_explicit(cc_item_meta(cc_loc_ptr(c, from)),
					     CC_META_WIN_SENT,
					     memory_order_relaxed);

	atomic_store_explicit(cc_item_meta(cc_loc_ptr(c, to)), m,
			      memory_order_relaxed);
}

/* One item of a draining segment: kept (copied to dest and re-pointed)
 * or unlinked. */
static void drain_item(struct cc_thread *t, uint64_t loc,
		       const struct cc_item *it, unsigned n, bool keep,
		       bool expired)
{
	unsigned cls = t->cache->segs[cc_loc_seg(t->cache, loc)].ttl_class;
	struct cc_cache *c = t->cache;
	struct cc_hashed h;
	struct cc_index_lock lk;
	uint64_t new_loc = 0;
	uint32_t new_size = 0;

	/* The copy is made before locking: bucket locks are never held
	 * while a value is copied. */
	if (keep && t->merge_seg[cls] >= 0) {
		new_loc = merge_copy(c, t->merge_seg[cls], loc, it, &new_size);
		if (new_loc == 0) {
			pthread_mutex_lock(&c->pool_lock);
			merge_dest_locked(t, cls, n, true);
			pthread_mutex_unlock(&c->pool_lock);
			if (t->merge_seg[cls] >= 0)
				new_loc = merge_copy(c, t->merge_seg[cls], loc, it,
						     &new_size);
		}
	}
	cc_hash_key(c, it->key, it->key_len, &h);
	cc_index_lock(c, &h, &lk);
	if (new_loc != 0)
		carry_meta(c, loc, new_loc);
	if (new_loc != 0 && cc_index_move_locked(&h, &lk, loc, new_loc)) {
		cc_index_unlock(&lk);
		/* Settled: the second pass of drain must not see it again. */
		atomic_fetch_or_explicit(cc_item_info(cc_loc_ptr(c, loc)),
					 CC_ITEM_DEAD, memory_order_relaxed);
		cc_count(&t->counters.merged_items, 1);
		cc_count(&t->counters.curr_bytes, (uint64_t)new_size - it->size);
		return;
	}
	if (cc_index_remove_locked(&h, &lk, loc)) {
		cc_item_unlinked(t, cc_loc_ptr(c, loc));
		cc_count(expired ? &t->counters.expirations : &t->counters.evictions, 1);
	}
	cc_index_unlock(&lk);
	if (new_loc != 0)
		atomic_fetch_or_explicit(cc_item_info(cc_loc_ptr(c, new_loc)),
					 CC_ITEM_DEAD, memory_order_relaxed);
}

/*
 * Empties the segments of a batch in two passes: the first settles every
 * item but those of the partial level, so that hotter items get the merge
 * room first; the second settles everything still unsettled, giving what
 * room is left to the partial level. Settled items carry the dead bit, so
 * an item whose hit count a reader bumped between the passes is still
 * settled exactly once, and none stays indexed in a retired segment.
 * Runs without pool_lock; the batch belongs to this thread alone.
 */
static void drain(struct cc_thread *t, const int32_t *batch, unsigned n,
		  bool merging, struct keep_rule rule, bool dead)
{
	struct cc_cache *c = t->cache;
	uint64_t kept = 0;

	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned b = 0; b < n; b++) {
			const struct cc_seg *s = &c->segs[batch[b]];

			for (uint32_t off = batch[b] == 0 ? 1 : 0; off < s->write_offset;) {
				uint64_t loc = cc_loc_make(c, (uint32_t)batch[b], off);
				struct cc_item it;
				unsigned freq;
				bool expired;

				cc_item_decode(cc_loc_ptr(c, loc), &it);
				off += it.size;
				if (it.info & CC_ITEM_DEAD)
					continue;
				freq = it.info & CC_ITEM_FREQ_MASK;
				expired = dead || cc_item_state(c, loc, &it, t->now) !=
							  CC_ITEM_LIVE;
				bool partial = !expired && rule.partial != 0 &&
					       freq == rule.partial;
				if (pass == 0 && partial)
					continue;
				bool keep = merging && !expired &&
					    (freq >= rule.full ||
					     (partial && kept + it.size + 4 <= rule.room));
				kept += keep ? it.size + 4 : 0;
				drain_item(t, loc, &it, n, keep, expired);
			}
		}
	}
}

/*
 * Drains one batch. Returns whether anything was drained. dead_only limits
 * it to segments whose items all expired or were flushed.
 */
static bool evict_batch(struct cc_thread *t, bool dead_only)
{
	struct cc_cache *c = t->cache;
	int32_t batch[CC_EVICT_BATCH];
	int32_t dest = -1;
	struct keep_rule rule = { .full = CC_ITEM_FREQ_MASK + 1 };
	unsigned n;
	bool dead;
	uint64_t epoch;

	pthread_mutex_lock(&c->pool_lock);
	n = pick_batch_locked(c, t->now, dead_only, batch, &dead);
	if (n > 0 && !dead)
		dest = merge_dest_locked(t, c->segs[batch[0]].ttl_class, n, false);
	pthread_mutex_unlock(&c->pool_lock);
	if (n == 0)
		return false;
	/* Kept items get one segment for every three the batch holds beyond
	 * the first: a batch of four frees at least three. */
	if (dest >= 0)
		rule = keep_rule_for(c, batch, n, c->seg_size * (n - 1) / 3);
	drain(t, batch, n, dest >= 0, rule, dead);

	pthread_mutex_lock(&c->pool_lock);
	epoch = cc_qsbr_retire(c);
	for (unsigned b = 0; b < n; b++) {
		CC_ASSERT(c->segs[batch[b]].state == CC_SEG_DRAINING);
		c->segs[batch[b]].state = CC_SEG_RETIRED;
		c->segs[batch[b]].retire_epoch = epoch;
		queue_push(c, &c->retired, batch[b]);
	}
	reclaim_locked(c);
	pthread_mutex_unlock(&c->pool_lock);
	cc_count(dead ? &t->counters.segments_expired
		      : &t->counters.segments_evicted, n);
	return true;
}

/*
 * Whether to evict ahead. Free segments are capacity nobody uses, so the
 * reserve is only what the next moments need: one merge segment for the
 * next eviction and one segment per registered thread, whose grace period
 * then has time to pass before anyone waits on it.
 */
static bool pool_low(const struct cc_cache *c)
{
	uint32_t reserve = 1 + atomic_load_explicit(&c->nthreads, memory_order_relaxed);

	if (reserve > c->nsegs / 8)
		reserve = c->nsegs / 8 > 2 ? c->nsegs / 8 : 2;
	return atomic_load_explicit(&c->free_count, memory_order_relaxed) < reserve;
}

/* A fresh segment for t's class, evicting if the pool runs low. */
static int seg_open(struct cc_thread *t, unsigned ttl_class_id, int32_t *out)
{
	struct cc_cache *c = t->cache;
	int32_t id;

	for (unsigned attempt = 0;; attempt++) {
		pthread_mutex_lock(&c->pool_lock);
		reclaim_locked(c);
		id = free_pop_locked(c);
		pthread_mutex_unlock(&c->pool_lock);
		if (id >= 0)
			break;
		if (attempt >= 2 || !evict_batch(t, false)) {
			cc_count(&t->counters.out_of_memory, 1);
			return -ENOMEM;
		}
	}
	seg_start(c, id, ttl_class_id);
	/* Evict ahead so that retired segments finish their grace period
	 * before anyone needs them. */
	if (pool_low(c))
		evict_batch(t, false);
	*out = id;
	return 0;
}

int cc_seg_append(struct cc_thread *t, uint32_t size, uint32_t expiry,
		  uint64_t *loc)
{
	struct cc_cache *c = t->cache;
	unsigned k = ttl_class(expiry, t->now);
	int32_t id = t->open_seg[k];
	struct cc_seg *s;

	if (id >= 0) {
		s = &c->segs[id];
		if (s->write_offset + size > c->seg_size || cc_seg_flushed(c, s)) {
			seal(c, id);
			t->open_seg[k] = id = -1;
		}
	}
	if (id < 0) {
		int rc = seg_open(t, k, &id);

		if (rc < 0)
			return rc;
		t->open_seg[k] = id;
	}
	s = &c->segs[id];
	*loc = cc_loc_make(c, (uint32_t)id, s->write_offset);
	s->write_offset += size;
	if (expiry > s->expire_at)
		s->expire_at = expiry;
	return 0;
}

void cc_seg_release_open(struct cc_thread *t)
{
	for (unsigned k = 0; k < CC_TTL_CLASSES; k++) {
		if (t->open_seg[k] >= 0) {
			seal(t->cache, t->open_seg[k]);
			t->open_seg[k] = -1;
		}
		if (t->merge_seg[k] >= 0) {
			seal(t->cache, t->merge_seg[k]);
			t->merge_seg[k] = -1;
		}
	}
}

void cc_seg_maintain(struct cc_thread *t)
{
	struct cc_cache *c = t->cache;

	/* Bounded: a few batches of dead segments, then one batch of
	 * eviction ahead if the pool is low. */
	for (unsigned i = 0; i < 4; i++)
		if (!evict_batch(t, true))
			break;
	if (pool_low(c))
		evict_batch(t, false);
	pthread_mutex_lock(&c->pool_lock);
	reclaim_locked(c);
	pthread_mutex_unlock(&c->pool_lock);
}

void cc_ref_get(struct cc_thread *t, const struct cc_view *v)
{
	atomic_fetch_add_explicit(&t->cache->segs[v->segment].refs, 1,
				  memory_order_relaxed);
}

void cc_ref_put(struct cc_cache *c, const struct cc_view *v)
{
	/* release: reads of the value happen before the reclaimer's
	 * acquire load sees the count drop. */
	atomic_fetch_sub_explicit(&c->segs[v->segment].refs, 1,
				  memory_order_release);
}
