/*
 * Segments: where items live, and how memory comes back.
 *
 * Memory is one region of equal segments; the memory limit is a count of
 * them, so item memory can never exceed it. Each thread appends to its own
 * open segment per TTL class: items with close expiry times share
 * segments, which then expire whole (proactive expiry), and appends need
 * no atomics. A full segment is sealed into its class's FIFO queue, from
 * which eviction (evict.c) takes it. The emptied segments retire; a
 * retired segment is reused only after every online thread has passed a
 * quiescent point (so no reader still looks at it) and no zero-copy
 * reference pins it.
 *
 * A writer that finds no free segment must still make progress: a cache
 * at its limit evicts and stores, as memcached does, and refuses only when
 * memory truly cannot be had. What stands in its way is the grace period:
 * the segments it evicts come back only after every online thread,
 * itself included, has passed a quiescent point. So the writer
 *   - passes that point itself when it holds no view (the engine knows:
 *     holds_views), pinning with a reference the one segment it still
 *     reads from (the version it replaces) until its commit is decided;
 *   - waits, bounded in time (cc_params.grace_wait_ms), for the other
 *     threads, which
 *     pass their points between request batches, and for segments other
 *     threads are draining;
 *   - evicts only when nothing is already on its way back, so threads
 *     starving at once do not empty the cache between them;
 *   - seals its own spare open segments first if nothing else is sealed,
 *     and waits (bounded again) when the other threads hold every
 *     segment open, which they seal as they fill them.
 * A writer that holds views can neither pass a quiescent point nor wait
 * (its stale epoch would hold back everyone's grace period): it evicts
 * once if nothing is on its way and returns -ENOMEM, and its caller
 * retries after a quiescent point, when that memory is its to wait for.
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

void cc_queue_push(struct cc_cache *c, struct cc_seg_queue *q, int32_t id)
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

void cc_queue_remove(struct cc_cache *c, struct cc_seg_queue *q, int32_t id)
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

/* pool_lock held: the eviction batch for the current limit. One segment
 * per eviction for every 16, at most CC_EVICT_BATCH: what threads hold
 * while they drain stays a small share of a small cache, however many
 * evict at once. */
static void size_evict_batch_locked(struct cc_cache *c)
{
	uint32_t limit = atomic_load_explicit(&c->seg_limit, memory_order_relaxed);

	c->evict_batch = limit / 16;
	if (c->evict_batch < 1)
		c->evict_batch = 1;
	if (c->evict_batch > CC_EVICT_BATCH)
		c->evict_batch = CC_EVICT_BATCH;
}

int cc_segments_init(struct cc_cache *c, const struct cc_params *p)
{
	size_t largest = (size_t)CC_ITEM_HEADER_MAX + CC_KEY_MAX + p->item_max;
	size_t seg_size = p->segment_size;
	size_t nsegs, limit;
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
	limit = p->memory_limit / seg_size;
	nsegs = p->memory_reserve > p->memory_limit ? p->memory_reserve / seg_size
						    : limit;
	c->seg_size = (uint32_t)seg_size;
	c->seg_shift = (unsigned)__builtin_ctzl(seg_size);
	if (limit < CC_MIN_SEGMENTS ||
	    nsegs >= (1ull << (CC_LOC_BITS - c->seg_shift)))
		return -EINVAL;
	c->nsegs = (uint32_t)nsegs;
	atomic_init(&c->seg_limit, (uint32_t)limit);
	size_evict_batch_locked(c);
	c->item_max = (uint32_t)p->item_max;
	c->grace_wait_ns = (uint64_t)p->grace_wait_ms * 1000000;
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
	/* The first limit segments are free, the rest of the reserve parked
	 * (never touched, so it costs nothing). */
	for (uint32_t i = 0; i < c->nsegs; i++) {
		c->segs[i].state = CC_SEG_FREE;
		c->segs[i].prev = -1;
		c->segs[i].next = i + 1 < c->nsegs && i + 1 != limit ?
				  (int32_t)i + 1 : -1;
	}
	c->free_head = 0;
	atomic_init(&c->free_count, (uint32_t)limit);
	c->parked_head = limit < nsegs ? (int32_t)limit : -1;
	c->parked = c->nsegs - (uint32_t)limit;
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

/* pool_lock held: a segment nobody uses any more goes back to the free
 * list, or is parked while the pool holds more than the limit. Parking
 * gives the memory back with madvise, a system call under the lock: it
 * happens only while a lowered limit is being reached, once per segment
 * (on hugetlbfs pages it would not free anything, so it is skipped). */
static void free_locked(struct cc_cache *c, int32_t id)
{
	struct cc_seg *s = &c->segs[id];
	uint32_t limit = atomic_load_explicit(&c->seg_limit, memory_order_relaxed);

	s->state = CC_SEG_FREE;
	if (c->nsegs - c->parked > limit) {
		if (!c->region_hugetlb)
			(void)madvise(c->region + ((size_t)id << c->seg_shift),
				      c->seg_size, MADV_DONTNEED);
		s->next = c->parked_head;
		c->parked_head = id;
		c->parked++;
		return;
	}
	s->next = c->free_head;
	c->free_head = id;
	atomic_fetch_add_explicit(&c->free_count, 1, memory_order_relaxed);
}

/* pool_lock held: retired segments past their grace period and unpinned
 * go back to the free list (free_locked). Returns the oldest quiescent epoch they were
 * judged by (UINT64_MAX when nothing was retired). */
uint64_t cc_reclaim_locked(struct cc_cache *c)
{
	uint64_t safe;
	int32_t id;

	if (c->retired.count == 0)
		return UINT64_MAX;
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
			cc_queue_remove(c, &c->retired, id);
			free_locked(c, id);
			atomic_fetch_sub_explicit(&c->pending, 1,
						  memory_order_relaxed);
		}
		id = next;
	}
	return safe;
}

/* pool_lock held: a free segment, or -1. */
int32_t cc_free_pop_locked(struct cc_cache *c)
{
	int32_t id = c->free_head;

	if (id < 0)
		return -1;
	c->free_head = c->segs[id].next;
	c->segs[id].next = -1;
	atomic_fetch_sub_explicit(&c->free_count, 1, memory_order_relaxed);
	return id;
}

int cc_segments_set_limit(struct cc_cache *c, uint32_t limit)
{
	if (limit < CC_MIN_SEGMENTS)
		return -EINVAL;
	if (limit > c->nsegs)
		return -ERANGE;
	pthread_mutex_lock(&c->pool_lock);
	atomic_store_explicit(&c->seg_limit, limit, memory_order_relaxed);
	size_evict_batch_locked(c);
	while (c->nsegs - c->parked > limit) {
		int32_t id = cc_free_pop_locked(c);

		if (id < 0)
			break;
		free_locked(c, id);
	}
	while (c->nsegs - c->parked < limit) {
		int32_t id = c->parked_head;

		c->parked_head = c->segs[id].next;
		c->parked--;
		c->segs[id].next = c->free_head;
		c->free_head = id;
		atomic_fetch_add_explicit(&c->free_count, 1,
					  memory_order_relaxed);
	}
	pthread_mutex_unlock(&c->pool_lock);
	return 0;
}

/* Segments still to be evicted to reach a lowered limit, beyond those on
 * their way back (which park when they arrive). */
static uint32_t over_limit(struct cc_cache *c)
{
	uint32_t usable, coming, limit;

	pthread_mutex_lock(&c->pool_lock);
	usable = c->nsegs - c->parked;
	coming = atomic_load_explicit(&c->pending, memory_order_relaxed);
	limit = atomic_load_explicit(&c->seg_limit, memory_order_relaxed);
	pthread_mutex_unlock(&c->pool_lock);
	return usable > limit + coming ? usable - limit - coming : 0;
}

/* Prepares a popped segment for appending. */
void cc_seg_start(struct cc_cache *c, int32_t id, unsigned ttl_class_id)
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

void cc_seal_locked(struct cc_cache *c, int32_t id)
{
	struct cc_seg *s = &c->segs[id];

	CC_ASSERT(s->state == CC_SEG_OPEN);
	s->state = CC_SEG_SEALED;
	s->seal_seq = ++c->seal_seq;
	cc_queue_push(c, &c->sealed[s->ttl_class][s->tier], id);
}

static void seal(struct cc_cache *c, int32_t id)
{
	pthread_mutex_lock(&c->pool_lock);
	cc_seal_locked(c, id);
	pthread_mutex_unlock(&c->pool_lock);
}

/*
 * Whether to evict ahead. Free segments are capacity nobody uses, so the
 * reserve is only what the next moments need: one merge segment for the
 * next eviction and one segment per registered thread, whose grace period
 * then has time to pass before anyone waits on it. Segments already on
 * their way back (draining, retired) count: threads finding the pool low
 * together must not each evict a batch.
 */
static bool pool_low(const struct cc_cache *c)
{
	uint32_t reserve = 1 + atomic_load_explicit(&c->nthreads, memory_order_relaxed);
	uint32_t limit = atomic_load_explicit(&c->seg_limit, memory_order_relaxed);

	if (reserve > limit / 8)
		reserve = limit / 8 > 2 ? limit / 8 : 2;
	return atomic_load_explicit(&c->free_count, memory_order_relaxed) +
	       atomic_load_explicit(&c->pending, memory_order_relaxed) < reserve;
}

/* ---- a writer without a free segment ---- */

/* What a starving writer could still get, counted under pool_lock. */
struct room {
	uint64_t min;        /* oldest quiescent epoch of an online thread */
	uint32_t waitable;   /* retired, unpinned: back after a grace period
			      * (the writer passes its own point each round) */
	uint32_t pending;    /* draining or retired */
	uint32_t draining;
	bool stalled;        /* min is where a wait timed out before */
};

static void room_locked(struct cc_cache *c, uint64_t min, struct room *r)
{
	r->min = min;
	r->waitable = 0;
	for (int32_t id = c->retired.head; id >= 0; id = c->segs[id].next)
		if (atomic_load_explicit(&c->segs[id].refs,
					 memory_order_relaxed) == 0)
			r->waitable++;
	r->pending = atomic_load_explicit(&c->pending, memory_order_relaxed);
	r->draining = r->pending - c->retired.count;
	r->stalled = r->waitable > 0 && c->stalled_min == min;
}

/* One pause of a bounded wait for other threads; false once the time is
 * up. It sleeps rather than yields: threads spinning on sched_yield keep
 * the scheduler's favour (they use little CPU) over the very thread they
 * wait for, as measured with more threads than CPUs. From 20 us up to
 * 1 ms, doubling. */
static bool wait_step(const struct cc_cache *c, struct timespec *start,
		      unsigned *rounds)
{
	struct timespec now;
	uint64_t waited, pause;

	if ((*rounds)++ == 0)
		clock_gettime(CLOCK_MONOTONIC, start);
	clock_gettime(CLOCK_MONOTONIC, &now);
	waited = (uint64_t)(now.tv_sec - start->tv_sec) * 1000000000ull +
		 (uint64_t)now.tv_nsec - (uint64_t)start->tv_nsec;
	if (waited > c->grace_wait_ns)
		return false;
	pause = *rounds < 7 ? 20000ull << (*rounds - 1) : 1000000ull;
	nanosleep(&(struct timespec){ .tv_nsec = (long)pause }, NULL);
	return true;
}

/* Before t opens one more segment: seals what it holds beyond its share
 * (cc_seg_share), which shrinks as threads register, so that together
 * the threads leave a small cache's segments to eviction. */
static void trim_to_share(struct cc_thread *t)
{
	struct cc_cache *c = t->cache;
	unsigned share = cc_seg_share(c), open = 0, merge = 0;
	unsigned budget = share > 0 ? share : 1;

	for (unsigned k = 0; k < CC_TTL_CLASSES; k++) {
		open += t->open_seg[k] >= 0;
		merge += t->merge_seg[k] >= 0;
	}
	for (unsigned k = 0; k < CC_TTL_CLASSES; k++) {
		if (open >= budget && t->open_seg[k] >= 0) {
			seal(c, t->open_seg[k]);
			t->open_seg[k] = -1;
			open--;
		}
		if (merge > share && t->merge_seg[k] >= 0) {
			seal(c, t->merge_seg[k]);
			t->merge_seg[k] = -1;
			merge--;
		}
	}
}

/* Nothing is sealed: seals the fullest of t's other open segments (other
 * TTL classes, merges), so that eviction can have it. Many threads
 * writing many TTL classes can hold a small cache's every segment open.
 * Whether it sealed one. */
static bool release_spare(struct cc_thread *t)
{
	struct cc_cache *c = t->cache;
	int32_t *best = NULL;

	for (unsigned k = 0; k < CC_TTL_CLASSES; k++) {
		int32_t *own[2] = { &t->open_seg[k], &t->merge_seg[k] };

		for (unsigned i = 0; i < 2; i++)
			if (*own[i] >= 0 &&
			    (best == NULL || c->segs[*own[i]].write_offset >
					     c->segs[*best].write_offset))
				best = own[i];
	}
	if (best == NULL)
		return false;
	seal(c, *best);
	*best = -1;
	return true;
}

/* Keeps the segment src still reads from beyond t's own quiescent point. */
static void pin_src(struct cc_cache *c, struct cc_seg_src *src)
{
	if (src->loc == 0 || src->pinned)
		return;
	/* relaxed: the release store of t's quiescent point, which follows,
	 * publishes it to the reclaimer, whose acquire load of the epoch
	 * comes before its load of refs. */
	atomic_fetch_add_explicit(&c->segs[cc_loc_seg(c, src->loc)].refs, 1,
				  memory_order_relaxed);
	src->pinned = true;
}

void cc_seg_unpin(struct cc_cache *c, struct cc_seg_src *src)
{
	if (!src->pinned)
		return;
	/* release: the reads of the source happen before its reuse. */
	atomic_fetch_sub_explicit(&c->segs[cc_loc_seg(c, src->loc)].refs, 1,
				  memory_order_release);
	src->pinned = false;
}

/* The pool is empty: get a segment the ways the top of this file gives. */
static int seg_open_slow(struct cc_thread *t, struct cc_seg_src *src,
			 int32_t *out)
{
	struct cc_cache *c = t->cache;
	struct timespec start;
	unsigned rounds = 0;

	for (;;) {
		bool self = !t->holds_views;
		struct room r;
		uint64_t min;

		if (self) {
			pin_src(c, src);
			cc_thread_quiescent(t);
		}
		pthread_mutex_lock(&c->pool_lock);
		min = cc_reclaim_locked(c);
		*out = cc_free_pop_locked(c);
		if (*out < 0)
			room_locked(c, min, &r);
		pthread_mutex_unlock(&c->pool_lock);
		if (*out >= 0)
			return 0;

		/* Holding views, the thread may not wait either: its stale
		 * epoch would hold back every other thread's grace period
		 * meanwhile. What is on its way (or one batch evicted now)
		 * is its own after its next quiescent point; evicting more
		 * would only empty the cache. */
		if (!self) {
			if (r.pending == 0)
				cc_evict_batch(t, false);
			break;
		}
		if (r.waitable > 0 || r.draining > 0) {
			if (r.stalled && rounds == 0)
				break;
			if (wait_step(c, &start, &rounds))
				continue;
			if (r.waitable > 0) {
				pthread_mutex_lock(&c->pool_lock);
				c->stalled_min = r.min;
				pthread_mutex_unlock(&c->pool_lock);
			}
			break;
		}
		if (cc_evict_batch(t, false))
			continue;
		if (release_spare(t))
			continue;
		/* Another thread took what was sealed since the count
		 * above, or every segment is open in other threads (a
		 * cache of few segments, many writers): wait, bounded, for
		 * it to come back or for them to seal theirs as they fill
		 * (they are writing, so they do soon). */
		if (!wait_step(c, &start, &rounds))
			break;
	}
	cc_count(&t->counters.out_of_memory, 1);
	return -ENOMEM;
}

/* A fresh segment for t's class, evicting ahead if the pool runs low. */
static int seg_open(struct cc_thread *t, unsigned ttl_class_id,
		    struct cc_seg_src *src, int32_t *out)
{
	struct cc_cache *c = t->cache;
	int32_t id;

	trim_to_share(t);
	pthread_mutex_lock(&c->pool_lock);
	cc_reclaim_locked(c);
	id = cc_free_pop_locked(c);
	pthread_mutex_unlock(&c->pool_lock);
	if (id < 0 && seg_open_slow(t, src, &id) < 0)
		return -ENOMEM;
	cc_seg_start(c, id, ttl_class_id);
	/* Evict ahead so that retired segments finish their grace period
	 * before anyone needs them. */
	if (pool_low(c))
		cc_evict_batch(t, false);
	*out = id;
	return 0;
}

/*
 * Each thread keeps at most its share of segments open per kind (open,
 * merge): a quarter of the pool split between the registered threads.
 * Past it, an item whose class has no open segment goes into the nearest
 * class's, longer TTLs first: a segment expires whole only when its last
 * item does (cc_seg_note_expiry), so any mix is correct, and many threads
 * writing many TTL classes cannot hold a small cache's every segment
 * open. A thread always has one segment to write to; a merge segment
 * only if its share is one at least (evict.c keeps nothing otherwise).
 */
unsigned cc_seg_share(const struct cc_cache *c)
{
	unsigned threads = atomic_load_explicit(&c->nthreads, memory_order_relaxed);
	uint32_t limit = atomic_load_explicit(&c->seg_limit, memory_order_relaxed);

	return limit / 4 / (threads > 0 ? threads : 1);
}

unsigned cc_seg_class_slot(const struct cc_thread *t, const int32_t *slots,
			   unsigned k)
{
	unsigned share = cc_seg_share(t->cache);
	unsigned held = 0;

	if (slots[k] >= 0)
		return k;
	for (unsigned j = 0; j < CC_TTL_CLASSES; j++)
		held += slots[j] >= 0;
	if (held < (share > 0 ? share : 1))
		return k;
	for (unsigned j = k + 1; j < CC_TTL_CLASSES; j++)
		if (slots[j] >= 0)
			return j;
	for (unsigned j = k; j-- > 0;)
		if (slots[j] >= 0)
			return j;
	return k;
}

int cc_seg_append(struct cc_thread *t, uint32_t size, uint32_t expiry,
		  struct cc_seg_src *src, uint64_t *loc)
{
	struct cc_cache *c = t->cache;
	unsigned k = cc_seg_class_slot(t, t->open_seg, ttl_class(expiry, t->now));
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
		int rc = seg_open(t, k, src, &id);

		if (rc < 0)
			return rc;
		t->open_seg[k] = id;
	}
	s = &c->segs[id];
	*loc = cc_loc_make(c, (uint32_t)id, s->write_offset);
	s->write_offset += size;
	cc_seg_note_expiry(s, expiry);
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

	/* Bounded: a few batches of dead segments, a few toward a lowered
	 * limit, then one batch of eviction ahead if the pool is low. */
	for (unsigned i = 0; i < 4; i++)
		if (!cc_evict_batch(t, true))
			break;
	for (unsigned i = 0; i < 4 && over_limit(c) > 0; i++)
		if (!cc_evict_batch(t, false))
			break;
	if (pool_low(c))
		cc_evict_batch(t, false);
	pthread_mutex_lock(&c->pool_lock);
	cc_reclaim_locked(c);
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
