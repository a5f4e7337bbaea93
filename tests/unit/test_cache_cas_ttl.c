/*
 * Unit tests of item versions and lifetimes in the corecache engine
 * (cache/corecache.h): CAS values and compare-and-swap, touch and
 * get-and-touch, relative, absolute and negative TTLs, and flush_all now
 * or delayed.
 *
 * These are the tests that move the fixture's fake clock across an
 * expiry or a flush deadline, and that read the cas and expiry fields of
 * a view; they check memcached's documented rules. Boundaries memcached
 * itself treats loosely (the exact second an item expires) are checked
 * one second on either side. Fixture and helpers: cache_fixture.c.
 */
#include <errno.h>
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

/* ---- CAS ---- */

static void test_cas(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "c", "v1");
	struct cc_stats s0 = stats_of(f), s1;
	uint64_t c1, c2;

	assert_int_equal(store_q(f, &r, &c1), 0);
	assert_int_equal(meta_of(f, "c").cas, c1);
	r = req_str(CC_CAS, "c", "v2");
	r.cas = c1;
	r.flags = 3;
	assert_int_equal(store_q(f, &r, &c2), 0);
	assert_int_not_equal(c2, c1);
	expect_str(f, "c", "v2");
	assert_int_equal(meta_of(f, "c").cas, c2);
	assert_int_equal(meta_of(f, "c").flags, 3);

	/* The old CAS no longer matches. */
	r = req_str(CC_CAS, "c", "v3");
	r.cas = c1;
	assert_int_equal(store_q(f, &r, NULL), -ESTALE);
	expect_str(f, "c", "v2");
	r = req_str(CC_CAS, "absent", "v");
	r.cas = c2;
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	expect_absent(f, "absent");

	s1 = stats_of(f);
	assert_int_equal(s1.cas_hits - s0.cas_hits, 1);
	assert_int_equal(s1.cas_badval - s0.cas_badval, 1);
	assert_int_equal(s1.cas_misses - s0.cas_misses, 1);
}

static void test_expired_is_absent(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "e", "5");
	uint64_t cas, n;

	/* Once expired, an item is absent to every operation. */
	r.exptime = 10;
	assert_int_equal(store_q(f, &r, &cas), 0);
	f->now += 11;
	r = req_str(CC_CAS, "e", "6");
	r.cas = cas;
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	r.mode = CC_APPEND;
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	assert_int_equal(arith_call(f->t, "e", 1, false, 1, &n, NULL), -ENOENT);
	assert_int_equal(cc_delete(f->t, "e", 1, 0), -ENOENT);
	assert_int_equal(cc_delete(f->t, "e", 1, cas), -ENOENT);
	cc_thread_quiescent(f->t);
	expect_absent(f, "e");
}

static void test_explicit_cas(void **state)
{
	struct fx *f = *state;
	const uint64_t want = 0x123456789abcull;
	struct cc_store_req r = req_str(CC_SET, "x", "v");
	uint64_t got = 0;

	r.new_cas = want;
	assert_int_equal(store_q(f, &r, &got), 0);
	assert_int_equal(got, want);
	assert_int_equal(meta_of(f, "x").cas, want);

	/* A CAS store may also carry the CAS of its new version. */
	r = req_str(CC_CAS, "x", "w");
	r.cas = want;
	r.new_cas = want + 1000;
	assert_int_equal(store_q(f, &r, &got), 0);
	assert_int_equal(got, want + 1000);
	assert_int_equal(meta_of(f, "x").cas, want + 1000);
	expect_str(f, "x", "w");
}

/* Explicit CAS values are stored as a distance from the CAS the item's
 * location implies: the extremes of the 64-bit range must survive that
 * encoding, through set, touch (which keeps the CAS) and eviction merges
 * (which move the item and keep its CAS). */
static void test_explicit_cas_extremes(void **state)
{
	struct fx *f = *state;
	const uint64_t wants[] = {
		1, 2, 0x7fffffffffffffffull, 0x8000000000000000ull,
		0xfffffffffffffffeull, 0xffffffffffffffffull,
	};
	char key[16];
	char filler[1000];

	memset(filler, 'f', sizeof(filler));
	for (unsigned i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		struct cc_store_req r;
		uint64_t got = 0;

		snprintf(key, sizeof(key), "edge%u", i);
		r = req_str(CC_SET, key, "v");
		r.new_cas = wants[i];
		assert_int_equal(store_q(f, &r, &got), 0);
		assert_true(got == wants[i]);
		assert_int_equal(cc_touch(f->t, key, strlen(key), 0), 0);
		cc_thread_quiescent(f->t);
		assert_true(meta_of(f, key).cas == wants[i]);
	}
	/* Churn the pool, reading the edge keys so eviction keeps them; each
	 * survivor must still show its CAS. */
	for (unsigned n = 0; n < 20000; n++) {
		char fk[24];
		struct cc_store_req r;

		snprintf(fk, sizeof(fk), "fill%u", n);
		r = req_bin(CC_SET, fk, strlen(fk), filler, sizeof(filler));
		assert_int_equal(store_q(f, &r, NULL), 0);
		for (unsigned i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
			struct cc_view v;

			snprintf(key, sizeof(key), "edge%u", i);
			if (cc_get(f->t, key, strlen(key), &v) == 0)
				assert_true(v.cas == wants[i]);
		}
		cc_thread_quiescent(f->t);
	}
	assert_true(stats_of(f).merged_items > 0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void test_cas_unique(void **state)
{
	struct fx *f = *state;
	enum { N = 10000 };
	uint64_t *cas = calloc(N, sizeof(*cas));
	char key[32], val[32];

	assert_non_null(cas);
	for (unsigned i = 0; i < N; i++) {
		/* Half to one key, half spread over 97 keys, some appends. */
		unsigned k = (i & 1) ? i % 97 : 1000;
		struct cc_store_req r;

		snprintf(key, sizeof(key), "u%u", k);
		snprintf(val, sizeof(val), "%u", i);
		r = req_str(i % 10 == 3 && i > 200 ? CC_APPEND : CC_SET, key,
			    val);
		assert_int_equal(store_q(f, &r, &cas[i]), 0);
		assert_int_not_equal(cas[i], 0);
		if (i % 101 == 0)
			assert_int_equal(meta_of(f, key).cas, cas[i]);
	}
	qsort(cas, N, sizeof(*cas), cmp_u64);
	for (unsigned i = 1; i < N; i++)
		assert_int_not_equal(cas[i - 1], cas[i]);
	free(cas);
}

static void test_touch(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "t", "val");
	struct cc_stats s0 = stats_of(f), s1;
	struct cc_view m;
	uint64_t c;

	r.exptime = 10;
	r.flags = 77;
	assert_int_equal(store_q(f, &r, &c), 0);
	assert_int_equal(cc_touch(f->t, "t", 1, 100), 0);
	cc_thread_quiescent(f->t);
	m = meta_of(f, "t");
	assert_int_equal(m.cas, c);
	assert_int_equal(m.expiry, T0 + 100);
	assert_int_equal(m.flags, 77);
	f->now += 50;
	expect_str(f, "t", "val");
	/* Touch to 0: never expires. */
	assert_int_equal(cc_touch(f->t, "t", 1, 0), 0);
	assert_int_equal(meta_of(f, "t").expiry, 0);
	f->now += 1000;
	expect_str(f, "t", "val");
	assert_int_equal(cc_touch(f->t, "nope", 4, 10), -ENOENT);
	cc_thread_quiescent(f->t);
	/* An expired item cannot be touched back to life. */
	r = req_str(CC_SET, "short", "v");
	r.exptime = 10;
	assert_int_equal(store_q(f, &r, NULL), 0);
	f->now += 11;
	assert_int_equal(cc_touch(f->t, "short", 5, 100), -ENOENT);
	cc_thread_quiescent(f->t);
	expect_absent(f, "short");
	s1 = stats_of(f);
	assert_int_equal(s1.touch_hits - s0.touch_hits, 2);
	assert_int_equal(s1.touch_misses - s0.touch_misses, 2);
}

static void test_get_touch(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "g", "gat-value");
	struct cc_view v;
	uint64_t c;

	r.exptime = 10;
	r.flags = 12;
	assert_int_equal(store_q(f, &r, &c), 0);
	f->now += 5;
	assert_int_equal(cc_get_touch(f->t, "g", 1, 100, &v), 0);
	assert_int_equal(v.value_len, 9);
	assert_memory_equal(v.value, "gat-value", 9);
	assert_int_equal(v.cas, c);
	assert_int_equal(v.flags, 12);
	assert_int_equal(v.expiry, T0 + 5 + 100);
	cc_thread_quiescent(f->t);
	f->now += 50;  /* past the first TTL, inside the new one */
	expect_str(f, "g", "gat-value");
	assert_int_equal(meta_of(f, "g").cas, c);
	assert_int_equal(cc_get_touch(f->t, "zz", 2, 100, &v), -ENOENT);
	cc_thread_quiescent(f->t);
}

/* ---- TTL ---- */

static void store_ttl(struct fx *f, const char *key, int64_t exptime)
{
	struct cc_store_req r = req_str(CC_SET, key, "ttl-value");

	r.exptime = exptime;
	assert_int_equal(store_q(f, &r, NULL), 0);
}

static void test_ttl_relative(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0;

	store_ttl(f, "forever", 0);
	store_ttl(f, "ten", 10);
	assert_int_equal(meta_of(f, "forever").expiry, 0);
	assert_int_equal(meta_of(f, "ten").expiry, T0 + 10);
	f->now = T0 + 9;
	expect_str(f, "ten", "ttl-value");
	f->now = T0 + 11;
	s0 = stats_of(f);
	expect_absent(f, "ten");
	assert_int_equal(stats_of(f).get_misses - s0.get_misses, 1);
	assert_int_equal(stats_of(f).get_expired - s0.get_expired, 1);
	f->now = T0 + 10 * CC_TTL_RELATIVE_MAX;
	expect_str(f, "forever", "ttl-value");

	/* The largest relative TTL still counts from now. */
	store_ttl(f, "month", CC_TTL_RELATIVE_MAX);
	assert_int_equal(meta_of(f, "month").expiry,
			 f->now + CC_TTL_RELATIVE_MAX);
}

static void test_ttl_absolute(void **state)
{
	struct fx *f = *state;

	store_ttl(f, "abs", (int64_t)T0 + 100);
	assert_int_equal(meta_of(f, "abs").expiry, T0 + 100);
	f->now = T0 + 99;
	expect_str(f, "abs", "ttl-value");
	f->now = T0 + 101;
	expect_absent(f, "abs");

	/* One past the relative maximum is an absolute time in 1970. */
	set_ok(f, "past", "old");
	store_ttl(f, "past", CC_TTL_RELATIVE_MAX + 1);
	expect_absent(f, "past");
	store_ttl(f, "past2", (int64_t)f->now - 100);
	expect_absent(f, "past2");
}

static void test_ttl_negative(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r;
	uint64_t old_cas, cas = 0, cas2 = 0;

	store_ttl(f, "neg", -1);
	expect_absent(f, "neg");
	set_ok(f, "existing", "value");
	assert_int_equal(stats_of(f).curr_items, 1);
	old_cas = meta_of(f, "existing").cas;
	r = req_str(CC_SET, "existing", "replacement");
	r.exptime = -1;
	assert_int_equal(store_q(f, &r, &cas), 0);
	expect_absent(f, "existing");
	assert_int_equal(stats_of(f).curr_items, 0);
	/* Such a store still reports a CAS, as memcached's (which stores
	 * the item expired) does: one no version has. */
	assert_true(cas != 0 && cas != old_cas);
	r = req_str(CC_ADD, "existing", "again");
	r.exptime = -1;
	assert_int_equal(store_q(f, &r, &cas2), 0);
	assert_true(cas2 != 0 && cas2 != cas);
	set_ok(f, "next", "v");
	assert_true(meta_of(f, "next").cas != cas2);
	r.new_cas = 777;
	assert_int_equal(store_q(f, &r, &cas2), 0);
	assert_int_equal(cas2, 777);
	/* Touching into the past also removes. */
	set_ok(f, "tp", "v");
	assert_int_equal(cc_touch(f->t, "tp", 2, -1), 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "tp");
}

/* ---- flush ---- */

static void test_flush_now(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0;

	set_ok(f, "a", "1");
	set_ok(f, "b", "2");
	cc_flush(f->t, 0);
	cc_thread_quiescent(f->t);
	s0 = stats_of(f);
	expect_absent(f, "a");
	assert_int_equal(stats_of(f).get_flushed - s0.get_flushed, 1);
	expect_absent(f, "b");
	/* Stored after the flush, in the same second: visible. */
	set_ok(f, "c", "3");
	expect_str(f, "c", "3");
	set_ok(f, "a", "again");
	expect_str(f, "a", "again");
	f->now += 5;
	expect_str(f, "c", "3");
	set_ok(f, "d", "4");
	expect_str(f, "d", "4");
}

static void test_flush_delayed(void **state)
{
	struct fx *f = *state;

	set_ok(f, "a", "1");
	cc_flush(f->t, 10);
	cc_thread_quiescent(f->t);
	f->now = T0 + 5;
	set_ok(f, "b", "2");  /* before the flush time: flushed too */
	f->now = T0 + 9;
	expect_str(f, "a", "1");
	expect_str(f, "b", "2");
	f->now = T0 + 11;
	expect_absent(f, "a");
	expect_absent(f, "b");
	set_ok(f, "c", "3");
	expect_str(f, "c", "3");
	f->now = T0 + 100;
	expect_str(f, "c", "3");
}

static void test_flush_replaced(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r;

	set_ok(f, "a", "1");
	cc_flush(f->t, 10);
	cc_flush(f->t, 100);  /* replaces the pending flush */
	cc_thread_quiescent(f->t);
	f->now = T0 + 50;
	expect_str(f, "a", "1");
	f->now = T0 + 101;
	expect_absent(f, "a");

	/* An immediate flush replaces a pending one as well. */
	set_ok(f, "b", "2");
	cc_flush(f->t, 100);
	cc_flush(f->t, 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "b");
	r = req_str(CC_ADD, "b", "added");
	assert_int_equal(store_q(f, &r, NULL), 0);
	f->now = T0 + 301;
	expect_str(f, "b", "added");
}

/* ---- groups ---- */

#define FX(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest cas[] = {
		FX(test_cas),   FX(test_explicit_cas), FX(test_explicit_cas_extremes),
		FX(test_cas_unique),
		FX(test_expired_is_absent),
		FX(test_touch), FX(test_get_touch),
	};
	const struct CMUnitTest ttl_flush[] = {
		FX(test_ttl_relative),  FX(test_ttl_absolute),
		FX(test_ttl_negative),  FX(test_flush_now),
		FX(test_flush_delayed), FX(test_flush_replaced),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("cas_touch", cas, NULL, NULL);
	failed += cmocka_run_group_tests_name("ttl_flush", ttl_flush, NULL,
					      NULL);
	return failed == 0 ? 0 : 1;
}
