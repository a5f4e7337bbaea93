/*
 * Unit tests of the corecache engine's commands (cache/corecache.h): what
 * value and flags a key holds after get, get_bulk, set, add, replace,
 * append, prepend, delete, incr and decr, and the statistics counters
 * those commands move.
 *
 * Versions and lifetimes (CAS, touch, TTL, flush) are tested in
 * test_cache_cas_ttl.c, memory and lifecycle in test_cache_memory.c; the
 * small cache and helpers all three share are in cache_fixture.c.
 *
 * Where the header refers to memcached semantics (incr/decr padding, the
 * store modes) the tests check memcached's documented behaviour.
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

/* ---- keys and values ---- */

static void test_set_get_roundtrip(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "alpha", "hello world");
	struct cc_view v;
	uint64_t cas = 0;

	r.flags = 0xdeadbeef;
	assert_int_equal(store_q(f, &r, &cas), 0);
	assert_int_not_equal(cas, 0);
	assert_int_equal(cc_get(f->t, "alpha", 5, &v), 0);
	assert_int_equal(v.value_len, 11);
	assert_memory_equal(v.value, "hello world", 11);
	assert_int_equal(v.flags, 0xdeadbeef);
	assert_int_equal(v.cas, cas);
	assert_int_equal(v.expiry, 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "alph");
	expect_absent(f, "alphaa");
	assert_int_equal(cc_now(f->c), T0);
}

static void test_overwrite(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "k", "first");
	uint64_t c1, c2;

	r.flags = 1;
	assert_int_equal(store_q(f, &r, &c1), 0);
	r = req_str(CC_SET, "k", "second, longer value");
	r.flags = 2;
	assert_int_equal(store_q(f, &r, &c2), 0);
	assert_int_not_equal(c1, c2);
	expect_str(f, "k", "second, longer value");
	assert_int_equal(meta_of(f, "k").flags, 2);
	assert_int_equal(stats_of(f).curr_items, 1);
}

static void test_empty_value(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_bin(CC_SET, "empty", 5, "", 0);
	struct cc_view v;

	r.flags = 42;
	assert_int_equal(store_q(f, &r, NULL), 0);
	assert_int_equal(cc_get(f->t, "empty", 5, &v), 0);
	assert_int_equal(v.value_len, 0);
	assert_int_equal(v.flags, 42);
	cc_thread_quiescent(f->t);
}

static void test_key_lengths(void **state)
{
	struct fx *f = *state;
	char key[CC_KEY_MAX + 2];
	struct cc_store_req r;
	struct cc_view v;
	uint64_t n;

	memset(key, 'k', sizeof(key));
	r = req_bin(CC_SET, key, 1, "one", 3);
	assert_int_equal(store_q(f, &r, NULL), 0);
	r = req_bin(CC_SET, key, CC_KEY_MAX, "max", 3);
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_bin(f, key, 1, "one", 3);
	expect_bin(f, key, CC_KEY_MAX, "max", 3);

	/* Empty and overlong keys are refused by every operation. */
	r = req_bin(CC_SET, key, 0, "x", 1);
	assert_int_equal(store_q(f, &r, NULL), -EINVAL);
	r = req_bin(CC_SET, key, CC_KEY_MAX + 1, "x", 1);
	assert_int_equal(store_q(f, &r, NULL), -ENAMETOOLONG);
	assert_int_equal(cc_get(f->t, key, 0, &v), -EINVAL);
	assert_int_equal(cc_get(f->t, key, CC_KEY_MAX + 1, &v), -ENAMETOOLONG);
	assert_int_equal(cc_delete(f->t, key, 0, 0), -EINVAL);
	assert_int_equal(cc_delete(f->t, key, CC_KEY_MAX + 1, 0),
			 -ENAMETOOLONG);
	assert_int_equal(cc_touch(f->t, key, 0, 10), -EINVAL);
	assert_int_equal(cc_touch(f->t, key, CC_KEY_MAX + 1, 10),
			 -ENAMETOOLONG);
	assert_int_equal(cc_get_touch(f->t, key, 0, 10, &v), -EINVAL);
	assert_int_equal(cc_get_touch(f->t, key, CC_KEY_MAX + 1, 10, &v),
			 -ENAMETOOLONG);
	assert_int_equal(arith_call(f->t, key, 0, false, 1, &n, NULL),
			 -EINVAL);
	assert_int_equal(arith_call(f->t, key, CC_KEY_MAX + 1, false, 1, &n,
				    NULL), -ENAMETOOLONG);
	cc_thread_quiescent(f->t);
	assert_int_equal(stats_of(f).curr_items, 2);
}

static void test_value_sizes(void **state)
{
	struct fx *f = *state;
	unsigned char *val = malloc(SMALL_ITEMMAX + 1);
	char key[CC_KEY_MAX];
	struct cc_store_req r;

	assert_non_null(val);
	fill_pattern(val, SMALL_ITEMMAX + 1, 7);
	memset(key, 'b', sizeof(key));
	/* The largest value fits even under the longest key. */
	r = req_bin(CC_SET, key, CC_KEY_MAX, val, SMALL_ITEMMAX);
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_bin(f, key, CC_KEY_MAX, val, SMALL_ITEMMAX);
	r = req_bin(CC_SET, "big", 3, val, SMALL_ITEMMAX + 1);
	assert_int_equal(store_q(f, &r, NULL), -E2BIG);
	expect_absent(f, "big");
	r.mode = CC_ADD;
	assert_int_equal(store_q(f, &r, NULL), -E2BIG);
	free(val);
}

static void test_binary_keys_values(void **state)
{
	struct fx *f = *state;
	static const char k1[] = { 'a', '\0', 'b', ' ', 'c', '\r', '\n' };
	static const char k2[] = { 'a', '\0', 'b', ' ', 'c', '\r', '\0' };
	static const char v1[] = { '\0', '\0', 'x', ' ', '\0', '\n', '\xff' };
	static const char v2[] = { ' ', '\0' };
	struct cc_store_req r;

	r = req_bin(CC_SET, k1, sizeof(k1), v1, sizeof(v1));
	assert_int_equal(store_q(f, &r, NULL), 0);
	r = req_bin(CC_SET, k2, sizeof(k2), v2, sizeof(v2));
	assert_int_equal(store_q(f, &r, NULL), 0);
	/* "a" and "a\0" are different keys from "a\0b...". */
	r = req_bin(CC_SET, "a", 1, "A", 1);
	assert_int_equal(store_q(f, &r, NULL), 0);
	r = req_bin(CC_SET, "a\0", 2, "A0", 2);
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_bin(f, k1, sizeof(k1), v1, sizeof(v1));
	expect_bin(f, k2, sizeof(k2), v2, sizeof(v2));
	expect_bin(f, "a", 1, "A", 1);
	expect_bin(f, "a\0", 2, "A0", 2);
	assert_int_equal(cc_delete(f->t, k1, sizeof(k1), 0), 0);
	cc_thread_quiescent(f->t);
	expect_bin(f, k2, sizeof(k2), v2, sizeof(v2));
}

static void test_get_bulk(void **state)
{
	struct fx *f = *state;
	enum { N = 100 };
	struct cc_key keys[N + 2];
	struct cc_view views[N + 2];
	int results[N + 2];
	char names[N][16];
	char vals[N][16];
	struct cc_stats s0, s1;

	for (unsigned i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "bulk%u", i);
		snprintf(vals[i], sizeof(vals[i]), "value-%u", i * 3);
		keys[i].data = names[i];
		keys[i].len = strlen(names[i]);
		if (i % 3 != 1)
			set_ok(f, names[i], vals[i]);
	}
	s0 = stats_of(f);
	assert_int_equal(cc_get_bulk(f->t, N, keys, views, results),
			 N - N / 3);
	for (unsigned i = 0; i < N; i++) {
		if (i % 3 == 1) {
			assert_int_equal(results[i], -ENOENT);
			continue;
		}
		assert_int_equal(results[i], 0);
		assert_int_equal(views[i].value_len, strlen(vals[i]));
		assert_memory_equal(views[i].value, vals[i], strlen(vals[i]));
	}
	cc_thread_quiescent(f->t);
	s1 = stats_of(f);
	assert_int_equal(s1.get_cmds - s0.get_cmds, N);
	assert_int_equal(s1.get_hits - s0.get_hits, N - N / 3);
	assert_int_equal(s1.get_misses - s0.get_misses, N / 3);

	/* n = 0 looks up nothing. */
	assert_int_equal(cc_get_bulk(f->t, 0, keys, views, results), 0);

	/* Bad keys fail alone; a key may repeat. */
	keys[0].len = 0;
	keys[1].data = names[2];
	keys[1].len = strlen(names[2]);
	keys[2].len = CC_KEY_MAX + 1;
	keys[3].data = names[2];
	keys[3].len = strlen(names[2]);
	assert_int_equal(cc_get_bulk(f->t, 4, keys, views, results), 2);
	assert_int_equal(results[0], -EINVAL);
	assert_int_equal(results[1], 0);
	assert_int_equal(results[2], -ENAMETOOLONG);
	assert_int_equal(results[3], 0);
	assert_memory_equal(views[1].value, vals[2], strlen(vals[2]));
	assert_memory_equal(views[3].value, vals[2], strlen(vals[2]));
	cc_thread_quiescent(f->t);
}

/* ---- store modes ---- */

static void test_add(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_ADD, "a", "one");
	struct cc_stats s0 = stats_of(f);

	assert_int_equal(store_q(f, &r, NULL), 0);
	r = req_str(CC_ADD, "a", "two");
	assert_int_equal(store_q(f, &r, NULL), -EEXIST);
	expect_str(f, "a", "one");
	assert_int_equal(stats_of(f).store_refused - s0.store_refused, 1);

	/* An expired item counts as absent. */
	r = req_str(CC_SET, "e", "old");
	r.exptime = 10;
	assert_int_equal(store_q(f, &r, NULL), 0);
	f->now += 11;
	r = req_str(CC_ADD, "e", "new");
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_str(f, "e", "new");
	/* So does a deleted one. */
	assert_int_equal(cc_delete(f->t, "a", 1, 0), 0);
	r = req_str(CC_ADD, "a", "three");
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_str(f, "a", "three");
}

static void test_replace(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_REPLACE, "r", "x");

	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	expect_absent(f, "r");
	set_ok(f, "r", "before");
	r = req_str(CC_REPLACE, "r", "after");
	r.flags = 5;
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_str(f, "r", "after");
	assert_int_equal(meta_of(f, "r").flags, 5);

	r = req_str(CC_SET, "e", "old");
	r.exptime = 10;
	assert_int_equal(store_q(f, &r, NULL), 0);
	f->now += 11;
	r = req_str(CC_REPLACE, "e", "new");
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	expect_absent(f, "e");
}

static void test_append_prepend(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "ap", "middle");
	uint64_t c0, c1, c2;
	struct cc_view m;

	r.flags = 7;
	r.exptime = 100;
	assert_int_equal(store_q(f, &r, &c0), 0);
	r = req_str(CC_APPEND, "ap", "-tail");
	r.flags = 9;      /* ignored: flags and TTL are kept */
	r.exptime = 5;
	assert_int_equal(store_q(f, &r, &c1), 0);
	r = req_str(CC_PREPEND, "ap", "head-");
	r.flags = 11;
	r.exptime = -1;
	assert_int_equal(store_q(f, &r, &c2), 0);
	expect_str(f, "ap", "head-middle-tail");
	m = meta_of(f, "ap");
	assert_int_equal(m.flags, 7);
	assert_int_equal(m.expiry, T0 + 100);
	assert_int_equal(m.cas, c2);
	assert_int_not_equal(c0, c1);
	assert_int_not_equal(c1, c2);
	assert_int_not_equal(c0, c2);
	f->now += 50;
	expect_str(f, "ap", "head-middle-tail");

	r = req_str(CC_APPEND, "none", "x");
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	r.mode = CC_PREPEND;
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	expect_absent(f, "none");

	/* An empty value appends nothing but still makes a new version. */
	r = req_bin(CC_APPEND, "ap", 2, "", 0);
	assert_int_equal(store_q(f, &r, &c0), 0);
	assert_int_not_equal(c0, c2);
	expect_str(f, "ap", "head-middle-tail");
}

static void test_append_too_big(void **state)
{
	struct fx *f = *state;
	unsigned char *val = malloc(SMALL_ITEMMAX);
	struct cc_store_req r;

	assert_non_null(val);
	fill_pattern(val, SMALL_ITEMMAX, 3);
	r = req_bin(CC_SET, "big", 3, val, SMALL_ITEMMAX - 2);
	assert_int_equal(store_q(f, &r, NULL), 0);
	r = req_bin(CC_APPEND, "big", 3, val + SMALL_ITEMMAX - 3, 3);
	assert_int_equal(store_q(f, &r, NULL), -E2BIG);
	r.mode = CC_PREPEND;
	assert_int_equal(store_q(f, &r, NULL), -E2BIG);
	expect_bin(f, "big", 3, val, SMALL_ITEMMAX - 2);
	/* Exactly item_max is fine. */
	r = req_bin(CC_APPEND, "big", 3, val + SMALL_ITEMMAX - 2, 2);
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_bin(f, "big", 3, val, SMALL_ITEMMAX);
	free(val);
}

static void test_append_cas(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "ac", "mid");
	struct cc_stats s0, s1;
	uint64_t c0, c1;

	/* memcached's ms with MA or MP and C: the join happens only on the
	 * version with that CAS; EX (-ESTALE) otherwise, no cas_badval. */
	assert_int_equal(store_q(f, &r, &c0), 0);
	s0 = stats_of(f);
	r = req_str(CC_APPEND, "ac", "-end");
	r.cas = c0 + 1;
	assert_int_equal(store_q(f, &r, NULL), -ESTALE);
	r.mode = CC_PREPEND;
	assert_int_equal(store_q(f, &r, NULL), -ESTALE);
	expect_str(f, "ac", "mid");
	r.cas = c0;
	r.value = "start-";
	r.value_len = 6;
	assert_int_equal(store_q(f, &r, &c1), 0);
	expect_str(f, "ac", "start-mid");
	/* The version it matched is gone now. */
	r = req_str(CC_APPEND, "ac", "-end");
	r.cas = c0;
	assert_int_equal(store_q(f, &r, NULL), -ESTALE);
	r.cas = c1;
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_str(f, "ac", "start-mid-end");
	s1 = stats_of(f);
	assert_int_equal(s1.cas_badval, s0.cas_badval);
	assert_int_equal(s1.store_refused - s0.store_refused, 3);

	/* The CAS is judged before the joined size, as in memcached. */
	r = req_bin(CC_SET, "acb", 3, "x", 1);
	assert_int_equal(store_q(f, &r, &c0), 0);
	r = req_bin(CC_APPEND, "acb", 3, "", SMALL_ITEMMAX);
	r.value = malloc(SMALL_ITEMMAX);
	assert_non_null(r.value);
	r.cas = c0 + 1;
	assert_int_equal(store_q(f, &r, NULL), -ESTALE);
	r.cas = c0;
	assert_int_equal(store_q(f, &r, NULL), -E2BIG);
	free((void *)r.value);
	/* Absent stays absent, whatever the CAS. */
	r = req_str(CC_APPEND, "acnone", "x");
	r.cas = 5;
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
}

/* Threads appending with the CAS they read, as a meta client does. The
 * compare is atomic with the join only if no version is appended to
 * twice: every success must name a different CAS. */
#define RACE_APPENDS 300u

struct cas_appender {
	struct cc_cache *c;
	char tag;
	unsigned done;
	uint64_t used[RACE_APPENDS];  /* the CAS each success named */
};

static void *cas_append_main(void *arg)
{
	struct cas_appender *a = arg;
	struct cc_thread *t;

	if (cc_thread_register(a->c, &t) != 0)
		return NULL;
	while (a->done < RACE_APPENDS) {
		struct cc_store_req r = req_bin(CC_APPEND, "race", 4, &a->tag, 1);
		struct cc_view v;

		if (cc_get(t, "race", 4, &v) == 0) {
			r.cas = v.cas;
			if (cc_store(t, &r, NULL) == 0)
				a->used[a->done++] = v.cas;
		}
		cc_thread_quiescent(t);
	}
	cc_thread_unregister(t);
	return NULL;
}

static void test_append_cas_race(void **state)
{
	struct fx *f = *state;
	static struct cas_appender a[2];
	pthread_t th[2];
	struct cc_view v;

	set_ok(f, "race", "");
	for (unsigned i = 0; i < 2; i++) {
		a[i] = (struct cas_appender){ .c = f->c, .tag = (char)('a' + i) };
		assert_int_equal(pthread_create(&th[i], NULL, cas_append_main,
						&a[i]), 0);
	}
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(a[i].done, RACE_APPENDS);
	}
	for (unsigned i = 0; i < RACE_APPENDS; i++)
		for (unsigned j = 0; j < RACE_APPENDS; j++)
			assert_true(a[0].used[i] != a[1].used[j]);
	assert_int_equal(cc_get(f->t, "race", 4, &v), 0);
	assert_int_equal(v.value_len, 2 * RACE_APPENDS);
	cc_thread_quiescent(f->t);
}

/* ---- delete ---- */

static void test_delete(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0 = stats_of(f), s1;
	uint64_t c;
	struct cc_store_req r = req_str(CC_SET, "d", "v");

	set_ok(f, "a", "1");
	assert_int_equal(stats_of(f).curr_items, 1);
	assert_int_equal(cc_delete(f->t, "a", 1, 0), 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "a");
	assert_int_equal(stats_of(f).curr_items, 0);
	assert_int_equal(cc_delete(f->t, "a", 1, 0), -ENOENT);

	assert_int_equal(store_q(f, &r, &c), 0);
	assert_int_equal(cc_delete(f->t, "d", 1, c + 1), -ESTALE);
	cc_thread_quiescent(f->t);
	expect_str(f, "d", "v");
	assert_int_equal(cc_delete(f->t, "d", 1, c), 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "d");
	assert_int_equal(cc_delete(f->t, "d", 1, c), -ENOENT);
	cc_thread_quiescent(f->t);

	s1 = stats_of(f);
	assert_int_equal(s1.delete_hits - s0.delete_hits, 2);
	assert_int_equal(s1.delete_misses - s0.delete_misses, 2);
}

/* ---- incr / decr ---- */

static void arith_ok(struct fx *f, const char *key, bool decr, uint64_t d,
		     uint64_t want)
{
	uint64_t got = ~want;

	assert_int_equal(arith_call(f->t, key, strlen(key), decr, d, &got,
				    NULL), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(got, want);
}

static void test_arith_basic(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0 = stats_of(f), s1;
	uint64_t n;

	set_ok(f, "n", "10");
	arith_ok(f, "n", false, 5, 15);
	expect_str(f, "n", "15");
	arith_ok(f, "n", false, 85, 100);
	expect_str(f, "n", "100");  /* a longer result grows the value */
	arith_ok(f, "n", true, 1, 99);
	expect_str(f, "n", "99 ");  /* memcached pads to the old length */
	arith_ok(f, "n", true, 90, 9);
	expect_str(f, "n", "9  ");
	arith_ok(f, "n", false, 1, 10);  /* trailing spaces still parse */
	arith_ok(f, "n", true, 1000, 0);  /* decr stops at 0 */
	arith_ok(f, "n", true, 1, 0);
	arith_ok(f, "n", false, 0, 0);

	assert_int_equal(arith_call(f->t, "gone", 4, false, 1, &n, NULL),
			 -ENOENT);
	assert_int_equal(arith_call(f->t, "gone", 4, true, 1, &n, NULL),
			 -ENOENT);
	cc_thread_quiescent(f->t);
	expect_absent(f, "gone");

	set_ok(f, "s", "abc");
	assert_int_equal(arith_call(f->t, "s", 1, false, 1, &n, NULL), -EDOM);
	set_ok(f, "s", "12ab");
	assert_int_equal(arith_call(f->t, "s", 1, true, 1, &n, NULL), -EDOM);
	set_ok(f, "s", "-5");
	assert_int_equal(arith_call(f->t, "s", 1, false, 1, &n, NULL), -EDOM);
	cc_thread_quiescent(f->t);
	expect_str(f, "s", "-5");

	s1 = stats_of(f);
	assert_int_equal(s1.incr_hits - s0.incr_hits, 4);
	assert_int_equal(s1.decr_hits - s0.decr_hits, 4);
	assert_int_equal(s1.incr_misses - s0.incr_misses, 1);
	assert_int_equal(s1.decr_misses - s0.decr_misses, 1);
}

static void test_arith_wrap(void **state)
{
	struct fx *f = *state;
	struct cc_view v;

	set_ok(f, "w", "18446744073709551614");
	arith_ok(f, "w", false, 1, UINT64_MAX);
	expect_str(f, "w", "18446744073709551615");
	arith_ok(f, "w", false, 1, 0);  /* incr wraps at 2^64 */
	assert_int_equal(cc_get(f->t, "w", 1, &v), 0);
	/* "0" padded with spaces to the old length of 20. */
	assert_int_equal(v.value_len, 20);
	assert_memory_equal(v.value, "0                   ", 20);
	cc_thread_quiescent(f->t);
	set_ok(f, "w", "18446744073709551615");
	arith_ok(f, "w", false, 10, 9);
	arith_ok(f, "w", true, 9, 0);
}

static void test_arith_padding(void **state)
{
	struct fx *f = *state;
	char longv[48];

	set_ok(f, "z", "007");
	arith_ok(f, "z", false, 1, 8);
	expect_str(f, "z", "8  ");
	/* Trailing spaces of any length parse, and the result keeps the
	 * old length however long it was. */
	memset(longv, ' ', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	longv[0] = '5';
	set_ok(f, "l", longv);
	arith_ok(f, "l", false, 1, 6);
	longv[0] = '6';
	expect_str(f, "l", longv);
}

static void test_arith_cas_flags_ttl(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "m", "41");
	uint64_t c0, c1 = 0, c2 = 0, n;
	struct cc_view m;

	r.flags = 99;
	r.exptime = 100;
	assert_int_equal(store_q(f, &r, &c0), 0);
	assert_int_equal(arith_call(f->t, "m", 1, false, 1, &n, &c1), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(n, 42);
	assert_int_not_equal(c1, 0);
	assert_int_not_equal(c1, c0);
	assert_int_equal(arith_call(f->t, "m", 1, true, 2, &n, &c2), 0);
	cc_thread_quiescent(f->t);
	assert_int_not_equal(c2, c1);
	m = meta_of(f, "m");
	assert_int_equal(m.cas, c2);
	assert_int_equal(m.flags, 99);
	assert_int_equal(m.expiry, T0 + 100);
	expect_str(f, "m", "40");
}

static void test_arith_parse(void **state)
{
	/* What memcached 1.6.18 answers to "incr k 1" after "set k" with
	 * these values (asked, not guessed): safe_strtoull on the data. */
	static const struct {
		const char *stored;
		size_t len;
		const char *after;   /* NULL: not a number */
	} cases[] = {
		{ " 10", 3, "11 " },          { "99 1a", 5, "100  " },
		{ "10 ", 3, "11 " },          { "\t10", 3, "11 " },
		{ "10\t", 3, "11 " },         { "\n5", 2, "6 " },
		{ "5\r", 2, "6 " },           { "\v5", 2, "6 " },
		{ "  7  x", 6, "8     " },    { "1 2 3", 5, "2    " },
		{ "1\r\n2", 4, "2   " },      { "1\0", 2, "2 " },
		{ "+5", 2, "6 " },            { " +5", 3, "6  " },
		{ "-0", 2, "1 " },            { "+0", 2, "1 " },
		{ "007", 3, "8  " },
		{ "9223372036854775808", 19, "9223372036854775809" },
		{ "-18446744073709551615", 21, "2                    " },
		{ "18446744073709551615", 20, "0                   " },
		{ "", 0, NULL },               { " ", 1, NULL },
		{ "  ", 2, NULL },             { "+", 1, NULL },
		{ "1a", 2, NULL },             { "12abc", 5, NULL },
		{ "0x10", 4, NULL },           { "-5", 2, NULL },
		{ " -5", 3, NULL },            { "- 5", 3, NULL },
		{ "+-5", 3, NULL },            { "5-", 2, NULL },
		{ "-1", 2, NULL },             { "\0" "5", 2, NULL },
		{ "\xa0" "5", 2, NULL },
		{ "-9223372036854775808", 20, NULL },
		{ "18446744073709551616", 20, NULL },
		{ "99999999999999999999 1", 22, NULL },
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cc_store_req r = req_bin(CC_SET, "p", 1, cases[i].stored,
						cases[i].len);
		uint64_t n;
		int rc;

		assert_int_equal(store_q(f, &r, NULL), 0);
		rc = arith_call(f->t, "p", 1, false, 1, &n, NULL);
		cc_thread_quiescent(f->t);
		if (cases[i].after == NULL) {
			if (rc != -EDOM)
				print_error("case %zu: \"%.*s\" is no number\n",
					    i, (int)cases[i].len, cases[i].stored);
			assert_int_equal(rc, -EDOM);
			expect_bin(f, "p", 1, cases[i].stored, cases[i].len);
		} else {
			if (rc != 0)
				print_error("case %zu: \"%.*s\" is a number\n",
					    i, (int)cases[i].len, cases[i].stored);
			assert_int_equal(rc, 0);
			expect_str(f, "p", cases[i].after);
		}
	}
}

/* ---- statistics ---- */

static void test_stats_counters(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_ADD, "s1", "dup");
	struct cc_stats s0 = stats_of(f), s1;
	struct cc_view v;

	assert_int_equal(s0.curr_items, 0);
	assert_int_equal(s0.curr_bytes, 0);
	assert_int_equal(s0.segment_size, SMALL_SEGMENT);
	assert_true(s0.segments_total >= 16);
	assert_true(s0.segments_total * s0.segment_size <= SMALL_LIMIT);
	assert_true(s0.limit_bytes <= SMALL_LIMIT);
	assert_true(s0.limit_bytes >= 16 * SMALL_SEGMENT);
	assert_true(s0.index_bytes > 0);
	assert_int_equal(s0.hugetlb, 0);

	set_ok(f, "s1", "one");
	set_ok(f, "s2", "two");
	set_ok(f, "s2", "two again");
	assert_int_equal(store_q(f, &r, NULL), -EEXIST);
	s1 = stats_of(f);
	assert_int_equal(s1.set_cmds - s0.set_cmds, 4);
	assert_int_equal(s1.store_refused - s0.store_refused, 1);
	assert_int_equal(s1.curr_items, 2);
	assert_true(s1.curr_bytes >= 3 + 9 + 2 + 2);

	assert_int_equal(cc_get(f->t, "s1", 2, &v), 0);
	assert_int_equal(cc_get(f->t, "s2", 2, &v), 0);
	assert_int_equal(cc_get(f->t, "s3", 2, &v), -ENOENT);
	cc_thread_quiescent(f->t);
	s1 = stats_of(f);
	assert_int_equal(s1.get_cmds - s0.get_cmds, 3);
	assert_int_equal(s1.get_hits - s0.get_hits, 2);
	assert_int_equal(s1.get_misses - s0.get_misses, 1);

	assert_int_equal(cc_delete(f->t, "s1", 2, 0), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(stats_of(f).curr_items, 1);
	assert_int_equal(cc_delete(f->t, "s2", 2, 0), 0);
	cc_thread_quiescent(f->t);
	s1 = stats_of(f);
	assert_int_equal(s1.curr_items, 0);
	assert_int_equal(s1.curr_bytes, 0);
	assert_int_equal(s1.evictions, 0);
	assert_int_equal(s1.out_of_memory, 0);
}

static void test_stats_after_unregister(void **state)
{
	struct fx *f = *state;
	struct cc_thread *other;
	struct cc_store_req r = req_str(CC_SET, "o", "x");
	struct cc_stats s0 = stats_of(f), s1;
	struct cc_view v;

	/* A departed thread's counters stay in the sums. */
	assert_int_equal(cc_thread_register(f->c, &other), 0);
	assert_int_equal(cc_store(other, &r, NULL), 0);
	assert_int_equal(cc_get(other, "o", 1, &v), 0);
	assert_int_equal(cc_get(other, "p", 1, &v), -ENOENT);
	cc_thread_quiescent(other);
	cc_thread_unregister(other);
	s1 = stats_of(f);
	assert_int_equal(s1.set_cmds - s0.set_cmds, 1);
	assert_int_equal(s1.get_hits - s0.get_hits, 1);
	assert_int_equal(s1.get_misses - s0.get_misses, 1);
	assert_int_equal(s1.curr_items, 1);
	expect_str(f, "o", "x");
	assert_int_equal(cc_delete(f->t, "o", 1, 0), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(stats_of(f).curr_items, 0);
}

/* ---- groups ---- */

#define FX(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest keys_values[] = {
		FX(test_set_get_roundtrip), FX(test_overwrite),
		FX(test_empty_value),       FX(test_key_lengths),
		FX(test_value_sizes),       FX(test_binary_keys_values),
		FX(test_get_bulk),
	};
	const struct CMUnitTest store_modes[] = {
		FX(test_add),        FX(test_replace),
		FX(test_append_prepend), FX(test_append_too_big),
		FX(test_append_cas),     FX(test_append_cas_race),
		FX(test_delete),
	};
	const struct CMUnitTest arith[] = {
		FX(test_arith_basic), FX(test_arith_wrap),
		FX(test_arith_padding), FX(test_arith_cas_flags_ttl),
		FX(test_arith_parse),
	};
	const struct CMUnitTest stats[] = {
		FX(test_stats_counters), FX(test_stats_after_unregister),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("keys_values", keys_values,
					      NULL, NULL);
	failed += cmocka_run_group_tests_name("store_modes", store_modes,
					      NULL, NULL);
	failed += cmocka_run_group_tests_name("arith", arith, NULL, NULL);
	failed += cmocka_run_group_tests_name("stats", stats, NULL, NULL);
	return failed == 0 ? 0 : 1;
}
