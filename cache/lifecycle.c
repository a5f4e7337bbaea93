/*
 * The engine's control side: parameters, creating and destroying a cache,
 * registering threads, flush, upkeep and statistics. None of it runs per
 * request; the operations themselves are in engine.c.
 */
#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#include "cache_internal.h"
#include "simd.h"

static uint32_t realtime_clock(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint32_t)ts.tv_sec;
}

void cc_params_init(struct cc_params *p)
{
	*p = (struct cc_params){
		.memory_limit = 64u << 20,
		.item_max = 1u << 20,
		.segment_size = 0,
		.index_power = 0,
		.max_threads = 64,
		.hugepages = true,
		.clock = NULL,
		.clock_arg = NULL,
	};
}

static pthread_once_t simd_once = PTHREAD_ONCE_INIT;

static void simd_setup(void)
{
	simd_init();
}

static unsigned default_index_power(size_t memory_limit)
{
	uint64_t buckets = memory_limit / 64 / CC_BUCKET_SLOTS;
	unsigned power = 1;

	while (power < CC_INDEX_POWER_MAX && (1ull << power) < buckets)
		power++;
	return power;
}

int cc_create(const struct cc_params *p, struct cc_cache **out)
{
	struct cc_cache *c;
	size_t index_bytes;
	int rc;

	if (p->max_threads == 0 || p->index_power > CC_INDEX_POWER_MAX)
		return -EINVAL;
	pthread_once(&simd_once, simd_setup);
	c = aligned_alloc(CC_CACHE_LINE, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->clock = p->clock != NULL ? p->clock : realtime_clock;
	c->clock_arg = p->clock_arg;
	c->max_threads = p->max_threads;
	c->index_power = p->index_power != 0 ? p->index_power
					     : default_index_power(p->memory_limit);
	c->index_mask = (1ull << c->index_power) - 1;
	atomic_init(&c->epoch, 1);

	rc = cc_segments_init(c, p);
	if (rc < 0)
		goto free_cache;
	index_bytes = (size_t)sizeof(struct cc_bucket) << c->index_power;
	c->index = mmap(NULL, index_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->index == MAP_FAILED) {
		rc = -ENOMEM;
		goto deinit_segments;
	}
	(void)madvise(c->index, index_bytes, MADV_HUGEPAGE);
	c->threads = calloc(c->max_threads, sizeof(*c->threads));
	if (c->threads == NULL) {
		rc = -ENOMEM;
		goto unmap_index;
	}
	*out = c;
	return 0;

unmap_index:
	munmap(c->index, index_bytes);
deinit_segments:
	cc_segments_deinit(c);
free_cache:
	free(c);
	return rc;
}

void cc_destroy(struct cc_cache *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->max_threads; i++)
		free(c->threads[i]);
	free(c->threads);
	munmap(c->index, (size_t)sizeof(struct cc_bucket) << c->index_power);
	cc_segments_deinit(c);
	free(c);
}

uint32_t cc_now(const struct cc_cache *c)
{
	return c->clock(c->clock_arg);
}

int cc_thread_register(struct cc_cache *c, struct cc_thread **out)
{
	struct cc_thread *t = aligned_alloc(CC_CACHE_LINE, sizeof(*t));
	int rc = -EUSERS;

	if (t == NULL)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->cache = c;
	for (unsigned k = 0; k < CC_TTL_CLASSES; k++)
		t->open_seg[k] = t->merge_seg[k] = -1;
	atomic_init(&t->qs_epoch, atomic_load(&c->epoch));
	pthread_mutex_lock(&c->pool_lock);
	for (unsigned i = 0; i < c->max_threads; i++) {
		if (c->threads[i] == NULL) {
			t->id = i;
			c->threads[i] = t;
			atomic_fetch_add(&c->nthreads, 1);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&c->pool_lock);
	if (rc < 0) {
		free(t);
		return rc;
	}
	cc_thread_online(t);
	*out = t;
	return 0;
}

static void counters_add(struct cc_counters *to, const struct cc_counters *from)
{
#define CC_COUNTER_ADD(name, help)                                          \
	atomic_store_explicit(&to->name,                                    \
			      atomic_load_explicit(&to->name, memory_order_relaxed) + \
			      atomic_load_explicit(&from->name, memory_order_relaxed), \
			      memory_order_relaxed);
	CC_STATS(CC_COUNTER_ADD)
#undef CC_COUNTER_ADD
}

void cc_thread_unregister(struct cc_thread *t)
{
	struct cc_cache *c = t->cache;

	cc_seg_release_open(t);
	pthread_mutex_lock(&c->pool_lock);
	counters_add(&c->departed, &t->counters);
	c->threads[t->id] = NULL;
	atomic_fetch_sub(&c->nthreads, 1);
	pthread_mutex_unlock(&c->pool_lock);
	free(t);
}

void cc_flush(struct cc_thread *t, uint32_t delay)
{
	struct cc_cache *c = t->cache;

	cc_thread_tick(t);
	if (delay == 0) {
		atomic_store(&c->flush_at, 0);
		atomic_fetch_add(&c->flush_epoch, 1);
		return;
	}
	atomic_store(&c->flush_at, t->now + delay);
}

void cc_maintain(struct cc_thread *t)
{
	cc_thread_tick(t);
	cc_seg_maintain(t);
}

int cc_set_memory_limit(struct cc_cache *c, size_t bytes)
{
	size_t segs = bytes >> c->seg_shift;

	return cc_segments_set_limit(c, segs > UINT32_MAX ? UINT32_MAX
							 : (uint32_t)segs);
}

void cc_stats_read(struct cc_cache *c, struct cc_stats *out)
{
	struct cc_counters sum;

	memset(&sum, 0, sizeof(sum));
	pthread_mutex_lock(&c->pool_lock);
	counters_add(&sum, &c->departed);
	for (unsigned i = 0; i < c->max_threads; i++)
		if (c->threads[i] != NULL)
			counters_add(&sum, &c->threads[i]->counters);
	pthread_mutex_unlock(&c->pool_lock);

	memset(out, 0, sizeof(*out));
#define CC_STATS_COPY(name, help)                                           \
	out->name = atomic_load_explicit(&sum.name, memory_order_relaxed);
	CC_STATS(CC_STATS_COPY)
#undef CC_STATS_COPY
	out->limit_bytes = (uint64_t)atomic_load_explicit(&c->seg_limit,
				memory_order_relaxed) * c->seg_size;
	out->segment_size = c->seg_size;
	pthread_mutex_lock(&c->pool_lock);
	out->segments_total = c->nsegs - c->parked;
	pthread_mutex_unlock(&c->pool_lock);
	out->segments_free = atomic_load_explicit(&c->free_count,
						  memory_order_relaxed);
	out->index_bytes = (uint64_t)sizeof(struct cc_bucket) << c->index_power;
	out->hugetlb = c->region_hugetlb;
}
