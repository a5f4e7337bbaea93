/*
 * Unit tests of the corecache engine's memory management
 * (cache/corecache.h): the memory limit under eviction, references that
 * pin a segment, quiescent points that gate segment reuse, reclamation by
 * cc_maintain and flush, a full index, writers on many threads at the
 * limit. The lifecycle's tests are in test_cache_lifecycle.c.
 *
 * These tests fill the pool many times over, so their helpers (fill,
 * pin_spread, the limit check) live here and not in cache_fixture.c,
 * which holds only what every engine test program uses.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache_fixture.h"

/* ---- helpers for filling the pool ---- */

static void assert_within_limit(struct fx *f)
{
	struct cc_stats s = stats_of(f);

	assert_true(s.segments_free <= s.segments_total);
	assert_true((s.segments_total - s.segments_free) * s.segment_size <=
		    s.limit_bytes);
	assert_true(s.limit_bytes <= f->p.memory_limit);
}

/*
 * Stores count unique keys "<prefix>:<i>" (i from first) with vlen-byte
 * pattern values, passing a quiescent point after each store and checking
 * the memory bound every 1000 stores. With hot_every nonzero, every
 * hot_every-th item is read once after its store, so eviction has items
 * to keep (merges write segments too). Returns how many stores failed
 * with -ENOMEM; any other failure ends the test.
 */
static unsigned fill_ex(struct fx *f, const char *prefix, unsigned first,
			unsigned count, size_t vlen, unsigned hot_every)
{
	unsigned char *val = malloc(vlen);
	unsigned enomem = 0;
	char key[64];

	assert_non_null(val);
	for (unsigned i = first; i < first + count; i++) {
		int n = snprintf(key, sizeof(key), "%s:%u", prefix, i);
		struct cc_store_req r;
		struct cc_view v;
		int rc;

		fill_pattern(val, vlen, i);
		r = req_bin(CC_SET, key, (size_t)n, val, vlen);
		rc = store_q(f, &r, NULL);
		if (rc == -ENOMEM)
			enomem++;
		else
			assert_int_equal(rc, 0);
		if (rc == 0 && hot_every != 0 && i % hot_every == 0) {
			assert_int_equal(cc_get(f->t, key, (size_t)n, &v), 0);
			cc_thread_quiescent(f->t);
		}
		if ((i - first) % 1000 == 999)
			assert_within_limit(f);
	}
	free(val);
	return enomem;
}

static unsigned fill(struct fx *f, const char *prefix, unsigned first,
		     unsigned count, size_t vlen)
{
	return fill_ex(f, prefix, first, count, vlen, 0);
}

/* Stores and pins n values with ~100 KB of other items between them, so
 * the pinned bytes lie at different offsets and in different segments
 * (a reused segment need not be written everywhere, nor at once). */
static void pin_spread(struct fx *f, unsigned n, size_t vlen,
		       struct cc_view *v, unsigned char **want)
{
	for (unsigned i = 0; i < n; i++) {
		struct cc_store_req r;
		char key[32];
		int len = snprintf(key, sizeof(key), "pin:%u", i);

		want[i] = malloc(vlen);
		assert_non_null(want[i]);
		fill_pattern(want[i], vlen, 4242 + i);
		r = req_bin(CC_SET, key, (size_t)len, want[i], vlen);
		assert_int_equal(store_q(f, &r, NULL), 0);
		assert_int_equal(cc_get(f->t, key, (size_t)len, &v[i]), 0);
		cc_ref_get(f->t, &v[i]);
		cc_thread_quiescent(f->t);
		assert_int_equal(fill(f, "gap", i * 100, 100, 1000), 0);
	}
}

static void expect_pinned(unsigned n, size_t vlen, const struct cc_view *v,
			  unsigned char **want)
{
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(v[i].value_len, vlen);
		assert_memory_equal(v[i].value, want[i], vlen);
	}
}

static void expect_filled(struct fx *f, const char *prefix, unsigned i,
			  size_t vlen)
{
	unsigned char *val = malloc(vlen);
	char key[64];
	int n = snprintf(key, sizeof(key), "%s:%u", prefix, i);

	assert_non_null(val);
	fill_pattern(val, vlen, i);
	expect_bin(f, key, (size_t)n, val, vlen);
	free(val);
}

/* ---- memory ---- */

static void test_memory_limit(void **state)
{
	struct fx *f = *state;
	const size_t vlen = 1000;
	const unsigned n = (unsigned)(20 * SMALL_LIMIT / vlen);
	const unsigned tail = (unsigned)(SMALL_LIMIT / 10 / (vlen + 100));
	struct cc_stats s;

	assert_int_equal(fill(f, "mem", 0, n, vlen), 0);
	assert_within_limit(f);
	for (unsigned i = n - tail; i < n; i++)
		expect_filled(f, "mem", i, vlen);
	expect_absent(f, "mem:0");
	s = stats_of(f);
	assert_true(s.evictions > 0);
	assert_true(s.segments_evicted > 0);
	assert_int_equal(s.out_of_memory, 0);
	assert_true(s.curr_items * vlen <= s.limit_bytes);
	assert_true(s.curr_items >= tail);
	assert_true(s.curr_bytes <= s.limit_bytes);
}

static void test_ref_pins_segment(void **state)
{
	struct fx *f = *state;
	enum { NPIN = 4 };
	const size_t vlen = 3000;
	const unsigned per_limit = (unsigned)(SMALL_LIMIT / 1000);
	unsigned char *want[NPIN];
	struct cc_view v[NPIN];

	pin_spread(f, NPIN, vlen, v, want);
	/* Turn the whole pool over several times around the pinned ones,
	 * with some items read so that merges rewrite segments as well. */
	assert_int_equal(fill_ex(f, "churn", 0, 8 * per_limit, 1000, 3), 0);
	assert_true(stats_of(f).segments_evicted >
		    2 * stats_of(f).segments_total);
	assert_true(stats_of(f).merged_items > 0);
	expect_pinned(NPIN, vlen, v, want);
	for (unsigned i = 0; i < NPIN; i++)
		cc_ref_put(f->c, &v[i]);

	/* Released: filling goes on, and the bound still holds. */
	assert_int_equal(fill(f, "after", 0, 4 * per_limit, 1000), 0);
	expect_filled(f, "after", 4 * per_limit - 1, 1000);
	for (unsigned i = 0; i < NPIN; i++)
		free(want[i]);
}

static void test_ref_nested(void **state)
{
	struct fx *f = *state;
	enum { NPIN = 3 };
	const size_t vlen = 2000;
	const unsigned per_limit = (unsigned)(SMALL_LIMIT / 1000);
	unsigned char *want[NPIN];
	struct cc_view v[NPIN];

	/* Two references on each: after one put, the other still pins. */
	pin_spread(f, NPIN, vlen, v, want);
	for (unsigned i = 0; i < NPIN; i++)
		cc_ref_get(f->t, &v[i]);
	for (unsigned i = 0; i < NPIN; i++)
		cc_ref_put(f->c, &v[i]);
	assert_int_equal(fill_ex(f, "n", 0, 6 * per_limit, 1000, 3), 0);
	expect_pinned(NPIN, vlen, v, want);
	for (unsigned i = 0; i < NPIN; i++) {
		cc_ref_put(f->c, &v[i]);
		free(want[i]);
	}
	assert_int_equal(fill(f, "m", 0, 2 * per_limit, 1000), 0);
}

static void test_silent_thread_blocks_reuse(void **state)
{
	struct fx *f = *state;
	const unsigned per_limit = (unsigned)(SMALL_LIMIT / 1000);
	struct cc_thread *other;
	struct cc_store_req r;
	unsigned char want[2000];
	struct cc_view held;
	unsigned enomem;

	/* Another online thread holds a view and never passes a quiescent
	 * point: no segment may be reused, so stores end in -ENOMEM, never
	 * above the limit, and the held view stays intact. */
	fill_pattern(want, sizeof(want), 99);
	r = req_bin(CC_SET, "held", 4, want, sizeof(want));
	assert_int_equal(store_q(f, &r, NULL), 0);
	assert_int_equal(cc_thread_register(f->c, &other), 0);
	assert_int_equal(cc_get(other, "held", 4, &held), 0);
	enomem = fill(f, "blk", 0, 2 * per_limit, 1000);
	assert_true(enomem > 0);
	assert_int_equal(stats_of(f).out_of_memory, enomem);
	assert_within_limit(f);
	assert_int_equal(held.value_len, sizeof(want));
	assert_memory_equal(held.value, want, sizeof(want));

	/* Once it is offline, memory is reclaimed again. */
	cc_thread_offline(other);
	assert_int_equal(fill(f, "go", 0, 4 * per_limit, 1000), 0);
	cc_thread_online(other);
	cc_thread_quiescent(other);
	cc_thread_unregister(other);
	assert_int_equal(fill(f, "go2", 0, 2 * per_limit, 1000), 0);
	expect_filled(f, "go2", 2 * per_limit - 1, 1000);
}

static void test_maintain_expires(void **state)
{
	struct fx *f = *state;
	const unsigned n = (unsigned)(SMALL_LIMIT * 6 / 10 / 1000);
	unsigned char val[1000];
	struct cc_stats s0, s1;
	char key[32];
	unsigned i;

	for (i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "exp:%u", i);
		struct cc_store_req r;

		fill_pattern(val, sizeof(val), i);
		r = req_bin(CC_SET, key, (size_t)len, val, sizeof(val));
		r.exptime = 5;
		assert_int_equal(store_q(f, &r, NULL), 0);
	}
	s0 = stats_of(f);
	assert_true(s0.segments_total - s0.segments_free >= 8);
	f->now += 10;
	for (i = 0; i < 100; i++) {
		cc_maintain(f->t);
		cc_thread_quiescent(f->t);
		s1 = stats_of(f);
		if (s1.segments_free >= s0.segments_free + 8)
			break;
	}
	assert_true(s1.segments_free >= s0.segments_free + 8);
	assert_true(s1.expirations > s0.expirations ||
		    s1.segments_expired > s0.segments_expired);
	assert_int_equal(s1.evictions, 0);
	expect_absent(f, "exp:0");
	expect_absent(f, "exp:100");
	/* Reclaimed expired items leave the gauges. */
	for (i = 0; i < 100 && stats_of(f).curr_items > 0; i++) {
		cc_maintain(f->t);
		cc_thread_quiescent(f->t);
	}
	assert_true(stats_of(f).curr_items < n / 4);
}

static void test_hot_item_kept_with_cas(void **state)
{
	struct fx *f = *state;
	const unsigned n = (unsigned)(20 * SMALL_LIMIT / 1000);
	unsigned char want[500], val[1000];
	struct cc_store_req r;
	struct cc_view v;
	uint64_t cas;
	char key[32];

	/* An item read often survives eviction (it is merged), and a merge
	 * is not a new version: value, flags and CAS stay. */
	fill_pattern(want, sizeof(want), 5150);
	r = req_bin(CC_SET, "hot", 3, want, sizeof(want));
	r.flags = 0x5a5a;
	assert_int_equal(store_q(f, &r, &cas), 0);
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "cold:%u", i);

		fill_pattern(val, sizeof(val), i);
		r = req_bin(CC_SET, key, (size_t)len, val, sizeof(val));
		assert_int_equal(store_q(f, &r, NULL), 0);
		if (i % 20 == 0) {
			assert_int_equal(cc_get(f->t, "hot", 3, &v), 0);
			assert_int_equal(v.cas, cas);
			assert_int_equal(v.flags, 0x5a5a);
			assert_int_equal(v.value_len, sizeof(want));
			assert_memory_equal(v.value, want, sizeof(want));
			cc_thread_quiescent(f->t);
		}
	}
	assert_true(stats_of(f).merged_items > 0);
	assert_true(stats_of(f).segments_evicted > stats_of(f).segments_total);
	r = req_bin(CC_CAS, "hot", 3, "new", 3);
	r.cas = cas;
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_str(f, "hot", "new");
}

static void test_memory_mixed_ttl(void **state)
{
	struct fx *f = *state;
	static const int64_t ttls[8] = { 0,    30,     120,    600,
					 3600, 20000, 100000, 1000000 };
	const unsigned n = (unsigned)(20 * SMALL_LIMIT / 1000);
	unsigned char val[1000];
	struct cc_stats s;
	char key[32];
	unsigned i;

	/* Items of every TTL class share the pool: the limit holds, no
	 * store fails, and the newest of every class are readable. */
	for (i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "mix:%u", i);
		struct cc_store_req r;

		fill_pattern(val, sizeof(val), i);
		r = req_bin(CC_SET, key, (size_t)len, val, sizeof(val));
		r.exptime = ttls[i % 8];
		assert_int_equal(store_q(f, &r, NULL), 0);
		if (i % 1000 == 999)
			assert_within_limit(f);
		if (i % 4096 == 4095)
			f->now += 1;
	}
	for (i = n - 16; i < n; i++)
		expect_filled(f, "mix", i, sizeof(val));
	s = stats_of(f);
	assert_true(s.evictions > 0);
	assert_int_equal(s.out_of_memory, 0);
	assert_true(s.curr_bytes <= s.limit_bytes);
}

static void test_index_full(void **state)
{
	struct fx *f = *state;
	struct cc_stats s;
	unsigned hits = 0;
	char key[32], val[32];

	/* A 16-bucket index (160 slots) for 1000 keys: keys are dropped
	 * from the index, but a hit is always the right value and the
	 * gauge counts exactly the keys that can still be found. */
	cc_thread_unregister(f->t);
	cc_destroy(f->c);
	f->p.index_power = 4;
	assert_int_equal(cc_create(&f->p, &f->c), 0);
	assert_int_equal(cc_thread_register(f->c, &f->t), 0);

	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 1000; i++) {
			snprintf(key, sizeof(key), "ix:%u", i);
			snprintf(val, sizeof(val), "v%u.%u", i, round);
			set_ok(f, key, val);
		}
	}
	for (unsigned i = 0; i < 1000; i++) {
		struct cc_view v;
		int rc;

		snprintf(key, sizeof(key), "ix:%u", i);
		snprintf(val, sizeof(val), "v%u.2", i);
		rc = cc_get(f->t, key, strlen(key), &v);
		if (rc == 0) {
			hits++;
			assert_int_equal(v.value_len, strlen(val));
			assert_memory_equal(v.value, val, strlen(val));
		} else {
			assert_int_equal(rc, -ENOENT);
		}
		cc_thread_quiescent(f->t);
	}
	s = stats_of(f);
	assert_true(hits > 0);
	assert_true(hits <= 160);
	assert_true(s.index_evictions > 0);
	assert_int_equal(s.curr_items, hits);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "ix:%u", i);
		(void)cc_delete(f->t, key, strlen(key), 0);
		cc_thread_quiescent(f->t);
	}
	s = stats_of(f);
	assert_int_equal(s.curr_items, 0);
	assert_int_equal(s.curr_bytes, 0);
}

static void test_flush_reclaims(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0, s1;
	unsigned i;

	assert_int_equal(fill(f, "fl", 0, (unsigned)(SMALL_LIMIT / 2 / 1000),
			      1000), 0);
	s0 = stats_of(f);
	cc_flush(f->t, 0);
	cc_thread_quiescent(f->t);
	for (i = 0; i < 100; i++) {
		cc_maintain(f->t);
		cc_thread_quiescent(f->t);
		s1 = stats_of(f);
		if (s1.segments_free + 1 >= s1.segments_total)
			break;
	}
	/* Everything but the open segment came back, without eviction. */
	assert_true(s1.segments_free + 1 >= s1.segments_total);
	assert_true(s1.segments_expired > s0.segments_expired);
	assert_int_equal(s1.evictions, 0);
	assert_true(s1.curr_items < s0.curr_items / 4);
	expect_absent(f, "fl:0");
}

static void test_offline_online(void **state)
{
	struct fx *f = *state;

	cc_thread_offline(f->t);
	cc_thread_online(f->t);
	set_ok(f, "after", "online");
	expect_str(f, "after", "online");
}

/* ---- many writers at the limit ---- */

/*
 * Threads storing through eviction into a cache far smaller than what
 * they write, as memcached's clients do: a cache at its limit evicts and
 * stores, and refuses nothing. Each writer passes a quiescent point after
 * each store, as a server does after each batch. Worker threads count;
 * the main thread asserts (cmocka is not thread-safe).
 */
struct writer {
	struct cc_cache *c;
	unsigned id;
	unsigned ops;           /* stores to make; 0 if it could not register */
	unsigned ttls;          /* TTL classes used, 1 = no TTL */
	bool hold_view;         /* read and keep a view across each store */
	unsigned long enomem;   /* stores finally refused */
	unsigned long retried;  /* -ENOMEM retried once after a quiescent point */
	unsigned long errors;   /* any other failure, or a held view changed */
};

#define WRITER_OPS 20000u
#define WRITER_VMAX 1000u

static size_t writer_vlen(unsigned id, unsigned i)
{
	return 100 + (id * 7919u + i * 104729u) % WRITER_VMAX;
}

/* Whether v still shows what writer id stored as its i-th value. */
static bool writer_value_ok(const struct cc_view *v, unsigned id, unsigned i)
{
	unsigned char want[100 + WRITER_VMAX];

	fill_pattern(want, writer_vlen(id, i), (uint64_t)id << 32 | i);
	return v->value_len == writer_vlen(id, i) &&
	       memcmp(v->value, want, v->value_len) == 0;
}

static void *writer_main(void *arg)
{
	static const int64_t ttls[8] = { 0, 30, 200, 1000, 5000, 20000,
					 100000, 1000000 };
	struct writer *w = arg;
	unsigned char val[100 + WRITER_VMAX];
	struct cc_thread *t;

	if (cc_thread_register(w->c, &t) != 0)
		w->ops = 0;
	for (unsigned i = 0; i < w->ops; i++) {
		char key[32], old[32];
		int n = snprintf(key, sizeof(key), "w%u:%u", w->id, i);
		size_t vlen = writer_vlen(w->id, i);
		struct cc_store_req r;
		struct cc_view held;
		bool holding = false;
		int rc;

		/* A pipelined get before the set: its view must outlive
		 * the store, so the engine may not reuse memory for it. */
		if (w->hold_view && i > 0) {
			int m = snprintf(old, sizeof(old), "w%u:%u", w->id, i - 1);

			holding = cc_get(t, old, (size_t)m, &held) == 0;
		}
		fill_pattern(val, vlen, (uint64_t)w->id << 32 | i);
		r = req_bin(CC_SET, key, (size_t)n, val, vlen);
		r.exptime = ttls[i % w->ttls];
		rc = cc_store(t, &r, NULL);
		if (holding && !writer_value_ok(&held, w->id, i - 1))
			w->errors++;
		if (rc == -ENOMEM && holding) {
			/* What a server does: retry after a quiescent point
			 * (the view is done with by then). */
			cc_thread_quiescent(t);
			w->retried++;
			rc = cc_store(t, &r, NULL);
		}
		if (rc == -ENOMEM)
			w->enomem++;
		else if (rc != 0)
			w->errors++;
		cc_thread_quiescent(t);
	}
	if (w->ops != 0)
		cc_thread_unregister(t);
	return NULL;
}

/* nthreads writers on a cache of nsegs 128 KiB segments; returns the
 * stores finally refused, after checking everything else. */
static unsigned long run_writers(unsigned nsegs, unsigned nthreads,
				 unsigned ttls, bool hold_view)
{
	struct writer w[8];
	pthread_t th[8];
	struct cc_params p;
	struct cc_cache *c;
	struct cc_stats st;
	unsigned long enomem = 0, retried = 0;

	cc_params_init(&p);
	p.memory_limit = (size_t)nsegs * SMALL_SEGMENT;
	p.item_max = SMALL_ITEMMAX;
	p.segment_size = SMALL_SEGMENT;
	p.max_threads = nthreads;
	p.hugepages = false;
	/* Every writer passes a quiescent point after each store, so none
	 * holds a grace period back for long, except when the machine is
	 * so loaded that the scheduler leaves it off a CPU for longer than
	 * the default wait. What is tested is progress, not timing. */
	p.grace_wait_ms = 60000;
	assert_int_equal(cc_create(&p, &c), 0);
	for (unsigned i = 0; i < nthreads; i++) {
		w[i] = (struct writer){ .c = c, .id = i, .ops = WRITER_OPS,
					.ttls = ttls, .hold_view = hold_view };
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < nthreads; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].ops, WRITER_OPS);
		assert_int_equal(w[i].errors, 0);
		enomem += w[i].enomem;
		retried += w[i].retried;
	}
	cc_stats_read(c, &st);
	print_message("%u segments, %u threads, %u TTL classes%s: %lu refused, "
		      "%lu retried, %llu segments evicted\n", nsegs, nthreads,
		      ttls, hold_view ? ", views held" : "", enomem, retried,
		      (unsigned long long)st.segments_evicted);
	/* Turned over many times, never above the limit. */
	assert_true(st.segments_evicted > 4 * st.segments_total);
	assert_true(st.curr_bytes <= st.limit_bytes);
	assert_int_equal(st.out_of_memory, enomem + retried);
	cc_destroy(c);
	return enomem;
}

static void test_writers_at_limit(void **state)
{
	(void)state;
	assert_int_equal(run_writers(16, 4, 1, false), 0);
	/* Every TTL class on every thread: more open segments than the
	 * cache has, unless threads share theirs between classes. */
	assert_int_equal(run_writers(16, 4, 8, false), 0);
	assert_int_equal(run_writers(16, 8, 8, false), 0);
	/* The smallest cache cc_create accepts. */
	assert_int_equal(run_writers(4, 4, 1, false), 0);
}

static void test_writers_holding_views(void **state)
{
	/* A thread holding a view cannot pass a quiescent point inside a
	 * store: it may be told -ENOMEM once, never after a retry, and
	 * the view stays intact. */
	(void)state;
	assert_int_equal(run_writers(16, 4, 1, true), 0);
	assert_int_equal(run_writers(16, 4, 8, true), 0);
	assert_int_equal(run_writers(4, 4, 8, true), 0);
}

/* ---- groups ---- */

#define FX(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest memory[] = {
		FX(test_memory_limit),     FX(test_memory_mixed_ttl),
		FX(test_ref_pins_segment), FX(test_ref_nested),
		FX(test_silent_thread_blocks_reuse),
		FX(test_offline_online),   FX(test_maintain_expires),
		FX(test_flush_reclaims),   FX(test_hot_item_kept_with_cas),
		FX(test_index_full),
		cmocka_unit_test(test_writers_at_limit),
		cmocka_unit_test(test_writers_holding_views),
	};

	return cmocka_run_group_tests_name("memory", memory, NULL, NULL);
}
