/*
 * corecache-bench engine, miss ratio: corecache against an exact LRU.
 *
 * A fast cache that keeps the wrong items loses more than it gains, so
 * the engine benchmark also replays one Zipf 0.99 trace (10 requests per
 * key) on a fresh cache sized to hold 10% of the keys, and on an exact
 * LRU of the same capacity (bench_lru in bench_util.c), and reports both
 * miss ratios; the first 10% of the trace only warms the caches up.
 * Every hit's value is compared with what was stored, so a cache cannot
 * lower its miss ratio by returning the wrong bytes.
 *
 * This part is apart from bench_engine.c because it shares nothing with
 * the rate measurements but the item format: it builds its own small
 * cache after the large one is gone, and it times nothing.
 */
#include "bench.h"
#include "corecache.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

/* Replays trace on a fresh small cache: GET, and SET on a miss. */
static int replay_cache(const uint32_t *trace, size_t len, size_t keys,
			uint64_t *misses_out)
{
	size_t cap_bytes =
		(size_t)ceil(0.10 * (double)keys * BENCH_ITEM_BYTES);
	size_t seg = 64u << 10, warm = len / 10;
	uint64_t misses = 0, retries = 0;
	struct cc_params p;
	struct cc_cache *c;
	struct cc_thread *t;
	struct cc_stats st;
	unsigned wrong = 0;
	int rc;

	/* cc_create wants at least 16 segments; smaller segments keep the
	 * capacity equal to the LRU's rather than inflating it. */
	while (bench_round_up(cap_bytes, seg) / seg < 16 && seg > 4096)
		seg /= 2;
	cc_params_init(&p);
	p.segment_size = seg;
	p.memory_limit = bench_round_up(cap_bytes, seg);
	p.item_max = 1024;
	p.index_power = bench_index_power_for(0.10 * (double)keys * 2.0);
	p.max_threads = 4;
	rc = cc_create(&p, &c);
	if (rc < 0) {
		printf("error: miss ratio: cc_create: %s\n", strerror(-rc));
		return rc;
	}
	rc = cc_thread_register(c, &t);
	if (rc < 0) {
		printf("error: miss ratio: cc_thread_register: %s\n",
		       strerror(-rc));
		goto destroy;
	}
	printf("miss cache: memory_limit %zu KiB, segment %zu KiB, "
	       "index_power %u\n", p.memory_limit >> 10, seg >> 10,
	       p.index_power);
	for (size_t i = 0; i < len; i++) {
		unsigned char expect[BENCH_VALUE_LEN];
		char key[BENCH_KEY_LEN];
		struct cc_view v;

		bench_key_make(trace[i], key);
		rc = cc_get(t, key, sizeof(key), &v);
		if (rc == 0) {
			bench_value_make(trace[i], expect);
			if (v.value_len != BENCH_VALUE_LEN ||
			    memcmp(v.value, expect, BENCH_VALUE_LEN) != 0)
				wrong++;
		} else if (rc == -ENOENT) {
			misses += i >= warm;
			rc = bench_store_item(t, trace[i], &retries);
			if (rc < 0) {
				printf("error: miss ratio: cc_store: %s\n",
				       strerror(-rc));
				goto unregister;
			}
		} else {
			printf("error: miss ratio: cc_get: %s\n", strerror(-rc));
			goto unregister;
		}
		if (i % BENCH_BATCH == BENCH_BATCH - 1)
			cc_thread_quiescent(t);
	}
	rc = 0;
	cc_thread_quiescent(t);
	cc_stats_read(c, &st);
	printf("miss cache: curr_items %" PRIu64 " (LRU holds %zu), "
	       "evictions %" PRIu64 ", merged_items %" PRIu64
	       ", index_evictions %" PRIu64 ", -ENOMEM retries %" PRIu64
	       ", wrong values %u\n", st.curr_items, keys / 10, st.evictions,
	       st.merged_items, st.index_evictions, retries, wrong);
	if (wrong) {
		printf("error: miss ratio: %u hits returned wrong values\n",
		       wrong);
		rc = -EIO;
	}
	*misses_out = misses;
unregister:
	cc_thread_unregister(t);
destroy:
	cc_destroy(c);
	return rc;
}

int bench_miss_run(bool quick, struct bench_miss_result *out)
{
	size_t keys = quick ? 100000 : 1000000;
	size_t len = quick ? 1000000 : 10000000;
	size_t warm = len / 10;
	uint64_t misses = 0, lru_misses = 0;
	struct bench_lru *lru;
	struct bench_zipf z;
	uint32_t *trace;
	int rc;

	trace = malloc(len * sizeof(*trace));
	if (!trace) {
		printf("error: miss ratio: no memory for the trace\n");
		return -ENOMEM;
	}
	bench_zipf_init(&z, keys, BENCH_ZIPF_S);
	bench_seq_zipf(trace, len, &z, 0x5000);

	rc = replay_cache(trace, len, keys, &misses);
	if (rc < 0)
		goto free_trace;
	rc = bench_lru_create(keys / 10, &lru);
	if (rc < 0) {
		printf("error: miss ratio: LRU: %s\n", strerror(-rc));
		goto free_trace;
	}
	for (size_t i = 0; i < len; i++)
		if (!bench_lru_access(lru, trace[i]))
			lru_misses += i >= warm;
	bench_lru_destroy(lru);

	out->miss_ratio = (double)misses / (double)(len - warm);
	out->lru_miss_ratio = (double)lru_misses / (double)(len - warm);
	printf("miss ratio (%zu keys, %zu zipf0.99 requests, 10%% capacity, "
	       "first 10%% warm-up): corecache %.4f, exact LRU %.4f\n", keys,
	       len, out->miss_ratio, out->lru_miss_ratio);
free_trace:
	free(trace);
	return rc;
}
