/*
 * Unit tests of the per-item state the meta protocol reads and changes
 * (cache/corecache.h): FETCHED and the access time as cc_lookup reports
 * them, with and without CC_LOOKUP_NO_BUMP; the recache token of
 * cc_meta_win, once per version even with claimers racing each other and
 * a writer; STALE from cc_invalidate and from a CAS store with
 * invalidate; which operations keep the bits (touch, gat, incr that fits,
 * a merge) and which start afresh (set, append, a growing incr).
 *
 * The expectations come from memcached 1.6.18 as it answers (its h, l, X,
 * W and Z flags after the same commands), except the access time, which
 * the engine keeps as a 64-second tick (see the meta byte in
 * cache_internal.h); those checks move the fixture's fake clock and
 * allow the tick's rounding. Fixture and helpers: cache_fixture.c.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache_fixture.h"

#define ALL_META (CC_META_FETCHED | CC_META_STALE | CC_META_WIN_SENT)
/* The engine's access-time resolution, documented in corecache.h. */
#define TICK 64u

/* A view without side effects (mg u); the value pointer is cleared
 * because the view ends at the quiescent point taken here. */
static struct cc_view peek(struct fx *f, const char *key)
{
	struct cc_view v;

	assert_int_equal(cc_lookup(f->t, key, strlen(key), CC_LOOKUP_NO_BUMP,
				   &v), 0);
	cc_thread_quiescent(f->t);
	v.value = NULL;
	return v;
}

/* A normal read (mg): returns what it reported, i.e. the state before. */
static struct cc_view fetch(struct fx *f, const char *key)
{
	struct cc_view v;

	assert_int_equal(cc_lookup(f->t, key, strlen(key), 0, &v), 0);
	cc_thread_quiescent(f->t);
	v.value = NULL;
	return v;
}

static uint64_t set_cas(struct fx *f, const char *key, const char *val,
			int64_t exptime)
{
	struct cc_store_req r = req_str(CC_SET, key, val);
	uint64_t cas = 0;

	r.exptime = exptime;
	assert_int_equal(store_q(f, &r, &cas), 0);
	return cas;
}

/* ---- FETCHED and cc_lookup ---- */

static void test_fetched(void **state)
{
	struct fx *f = *state;

	set_cas(f, "k", "v", 0);
	/* h reports the state before the access: 0, then 1. */
	assert_int_equal(fetch(f, "k").meta, 0);
	assert_int_equal(fetch(f, "k").meta, CC_META_FETCHED);
	assert_int_equal(fetch(f, "k").meta, CC_META_FETCHED);
	/* cc_get is a normal read too; it reports meta but no atime. */
	set_cas(f, "g", "v", 0);
	assert_int_equal(meta_of(f, "g").meta, 0);
	assert_int_equal(meta_of(f, "g").atime, 0);
	assert_int_equal(peek(f, "g").meta, CC_META_FETCHED);
	assert_int_equal(peek(f, "g").atime, T0);
	/* A new value starts unread. */
	set_cas(f, "k", "v2", 0);
	assert_int_equal(peek(f, "k").meta, 0);
	expect_str(f, "k", "v2");
}

static void test_no_bump(void **state)
{
	struct fx *f = *state;
	struct cc_view v;

	set_cas(f, "u", "value", 0);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(peek(f, "u").meta, 0);
	assert_int_equal(fetch(f, "u").meta, 0);
	assert_int_equal(peek(f, "u").meta, CC_META_FETCHED);

	/* Same results and fields as a normal read otherwise. */
	assert_int_equal(cc_lookup(f->t, "u", 1, CC_LOOKUP_NO_BUMP, &v), 0);
	assert_int_equal(v.value_len, 5);
	assert_memory_equal(v.value, "value", 5);
	cc_thread_quiescent(f->t);
	assert_int_equal(cc_lookup(f->t, "none", 4, CC_LOOKUP_NO_BUMP, &v),
			 -ENOENT);
	assert_int_equal(cc_lookup(f->t, "none", 4, 0, &v), -ENOENT);
	assert_int_equal(cc_lookup(f->t, "", 0, 0, &v), -EINVAL);
	assert_int_equal(cc_lookup(f->t, "u", CC_KEY_MAX + 1, 0, &v),
			 -ENAMETOOLONG);
	cc_thread_quiescent(f->t);
}

/* A key read only with NO_BUMP has no hits, so eviction drops it; one
 * read normally is kept (merged) with the same reads and writes. */
static void test_no_bump_leaves_hit_counter(void **state)
{
	struct fx *f = *state;
	const unsigned n = (unsigned)(20 * SMALL_LIMIT / 1000);
	unsigned char val[1000];
	bool peeked_gone = false;
	struct cc_view v;
	char key[32];

	set_cas(f, "hot", "h", 0);
	set_cas(f, "peeked", "p", 0);
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "cold:%u", i);
		struct cc_store_req r;

		fill_pattern(val, sizeof(val), i);
		r = req_bin(CC_SET, key, (size_t)len, val, sizeof(val));
		assert_int_equal(store_q(f, &r, NULL), 0);
		if (i % 20 != 0)
			continue;
		assert_int_equal(cc_lookup(f->t, "hot", 3, 0, &v), 0);
		if (!peeked_gone)
			peeked_gone = cc_lookup(f->t, "peeked", 6,
						CC_LOOKUP_NO_BUMP, &v) == -ENOENT;
		cc_thread_quiescent(f->t);
	}
	assert_true(stats_of(f).segments_evicted > stats_of(f).segments_total);
	assert_true(peeked_gone);
	expect_str(f, "hot", "h");
}

/* ---- the recache token ---- */

static void test_win_once(void **state)
{
	struct fx *f = *state;
	uint64_t cas = set_cas(f, "w", "v", 0);
	struct cc_store_req r;

	assert_int_equal(cc_meta_win(f->t, "w", 1, cas + 1), -ESTALE);
	assert_int_equal(cc_meta_win(f->t, "w", 1, cas), 1);
	assert_int_equal(cc_meta_win(f->t, "w", 1, cas), 0);
	assert_int_equal(cc_meta_win(f->t, "w", 1, cas), 0);
	assert_int_equal(cc_meta_win(f->t, "none", 4, cas), -ENOENT);
	assert_int_equal(cc_meta_win(f->t, "", 0, cas), -EINVAL);
	cc_thread_quiescent(f->t);
	/* Winning is not a read: FETCHED stays clear; the token shows. */
	assert_int_equal(peek(f, "w").meta, CC_META_WIN_SENT);
	assert_int_equal(peek(f, "w").cas, cas);
	/* An expired item is gone. */
	cas = set_cas(f, "e", "v", 10);
	f->now += 10;
	assert_int_equal(cc_meta_win(f->t, "e", 1, cas), -ENOENT);
	cc_thread_quiescent(f->t);
	/* A new value can be won again; one stored with WIN_SENT (an item
	 * vivified by mg N, whose creator holds the token) cannot. */
	cas = set_cas(f, "w", "v2", 0);
	assert_int_equal(cc_meta_win(f->t, "w", 1, cas), 1);
	r = req_str(CC_SET, "w", "");
	r.meta = CC_META_WIN_SENT;
	assert_int_equal(store_q(f, &r, &cas), 0);
	assert_int_equal(peek(f, "w").meta, CC_META_WIN_SENT);
	assert_int_equal(cc_meta_win(f->t, "w", 1, cas), 0);
	cc_thread_quiescent(f->t);
}

#define RACE_ROUNDS 300
#define RACE_TRIES 40

struct race {
	struct cc_cache *c;
	pthread_barrier_t start, done;
	_Atomic uint64_t cas;   /* this round's version */
	_Atomic int stop;
	unsigned wins[2];
	_Atomic unsigned errors;
};

struct claimer {
	struct race *r;
	unsigned id;
};

/* Claims each round's token RACE_TRIES times. */
static void *claim_thread(void *arg)
{
	struct claimer *cl = arg;
	struct race *r = cl->r;
	struct cc_thread *t;

	if (cc_thread_register(r->c, &t) != 0)
		return NULL;
	for (unsigned round = 0; round < RACE_ROUNDS; round++) {
		pthread_barrier_wait(&r->start);
		for (unsigned i = 0; i < RACE_TRIES; i++) {
			int rc = cc_meta_win(t, "race", 4, atomic_load(&r->cas));

			if (rc == 1)
				r->wins[cl->id]++;
			else if (rc != 0)
				r->errors++;
			cc_thread_quiescent(t);
		}
		pthread_barrier_wait(&r->done);
	}
	cc_thread_unregister(t);
	return NULL;
}

/* Keeps replacing the item with touches (same CAS, same token). */
static void *touch_thread(void *arg)
{
	struct race *r = arg;
	struct cc_thread *t;

	if (cc_thread_register(r->c, &t) != 0)
		return NULL;
	while (!atomic_load(&r->stop)) {
		int rc = cc_touch(t, "race", 4, 0);

		if (rc != 0 && rc != -ENOENT && rc != -ENOMEM)
			r->errors++;
		cc_thread_quiescent(t);
	}
	cc_thread_unregister(t);
	return NULL;
}

/* Two claimers, one toucher replacing the version under them: each
 * round's token goes out exactly once. */
static void test_win_race(void **state)
{
	struct fx *f = *state;
	struct race r = { .c = f->c };
	struct claimer cl[2] = { { &r, 0 }, { &r, 1 } };
	pthread_t th[3];
	unsigned total = 0;

	assert_int_equal(pthread_barrier_init(&r.start, NULL, 3), 0);
	assert_int_equal(pthread_barrier_init(&r.done, NULL, 3), 0);
	assert_int_equal(pthread_create(&th[0], NULL, claim_thread, &cl[0]), 0);
	assert_int_equal(pthread_create(&th[1], NULL, claim_thread, &cl[1]), 0);
	assert_int_equal(pthread_create(&th[2], NULL, touch_thread, &r), 0);
	for (unsigned round = 0; round < RACE_ROUNDS; round++) {
		unsigned before = r.wins[0] + r.wins[1];

		atomic_store(&r.cas, set_cas(f, "race", "v", 0));
		pthread_barrier_wait(&r.start);
		pthread_barrier_wait(&r.done);
		total = r.wins[0] + r.wins[1];
		if (total != before + 1)
			print_error("round %u: %u winners\n", round, total - before);
		assert_int_equal(total, before + 1);
	}
	atomic_store(&r.stop, 1);
	for (unsigned i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.done);
	assert_int_equal(r.errors, 0);
	assert_int_equal(total, RACE_ROUNDS);
}

/* ---- STALE ---- */

static void test_invalidate(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0 = stats_of(f), s1;
	uint64_t cas = set_cas(f, "s", "old", 100), c2, c3;
	struct cc_view v;

	fetch(f, "s");
	assert_int_equal(cc_meta_win(f->t, "s", 1, cas), 1);
	assert_int_equal(cc_invalidate(f->t, "s", 1, cas + 1, false, 0, 0),
			 -ESTALE);
	assert_int_equal(cc_invalidate(f->t, "none", 4, 0, false, 0, 0),
			 -ENOENT);
	assert_int_equal(cc_invalidate(f->t, "", 0, 0, false, 0, 0), -EINVAL);
	/* Marked stale, still served, token free again, new CAS, same TTL
	 * and flags; FETCHED stays (memcached changes the item in place). */
	assert_int_equal(cc_invalidate(f->t, "s", 1, cas, false, 0, 0), 0);
	cc_thread_quiescent(f->t);
	v = peek(f, "s");
	assert_int_equal(v.meta, CC_META_FETCHED | CC_META_STALE);
	assert_int_not_equal(v.cas, cas);
	assert_int_equal(v.expiry, T0 + 100);
	expect_str(f, "s", "old");
	c2 = peek(f, "s").cas;
	assert_int_equal(cc_meta_win(f->t, "s", 1, cas), -ESTALE);
	assert_int_equal(cc_meta_win(f->t, "s", 1, c2), 1);
	/* Again, any version (cas 0), with a new TTL and an explicit CAS. */
	assert_int_equal(cc_invalidate(f->t, "s", 1, 0, true, 30, 777), 0);
	cc_thread_quiescent(f->t);
	v = peek(f, "s");
	assert_int_equal(v.cas, 777);
	assert_int_equal(v.expiry, T0 + 30);
	assert_int_equal(v.meta, CC_META_FETCHED | CC_META_STALE);
	/* memcached counts md I on a live item as no delete at all. */
	s1 = stats_of(f);
	assert_int_equal(s1.delete_hits - s0.delete_hits, 0);
	assert_int_equal(s1.delete_misses - s0.delete_misses, 1);
	/* A plain set ends the staleness. */
	c3 = set_cas(f, "s", "fresh", 0);
	assert_int_not_equal(c3, 777);
	assert_int_equal(peek(f, "s").meta, 0);
	/* A TTL already past removes it, as touch does. */
	assert_int_equal(cc_invalidate(f->t, "s", 1, 0, true, -1, 0), 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "s");
}

static void test_cas_invalidate(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0 = stats_of(f), s1;
	uint64_t cas = set_cas(f, "ci", "v1", 100), c2;
	struct cc_store_req r;
	struct cc_view v;

	fetch(f, "ci");
	assert_int_equal(cc_meta_win(f->t, "ci", 2, cas), 1);
	/* Without invalidate an older CAS is refused as ever. */
	r = req_str(CC_CAS, "ci", "v2");
	r.cas = cas - 1;
	assert_int_equal(store_q(f, &r, NULL), -ESTALE);
	/* A newer CAS is refused even with invalidate. */
	r.invalidate = true;
	r.cas = cas + 1;
	assert_int_equal(store_q(f, &r, NULL), -ESTALE);
	/* An older one stores a stale version that keeps the TTL and the
	 * token (memcached CAS_STALE); FETCHED starts clear: new item. */
	r.cas = cas - 1;
	r.exptime = 5;
	r.flags = 8;
	assert_int_equal(store_q(f, &r, &c2), 0);
	assert_int_not_equal(c2, cas);
	v = peek(f, "ci");
	assert_int_equal(v.meta, CC_META_STALE | CC_META_WIN_SENT);
	assert_int_equal(v.expiry, T0 + 100);
	assert_int_equal(v.flags, 8);
	assert_int_equal(v.cas, c2);
	expect_str(f, "ci", "v2");
	assert_int_equal(cc_meta_win(f->t, "ci", 2, c2), 0);
	/* Without a token sent before, none is kept. */
	cas = set_cas(f, "cj", "w1", 0);
	r = req_str(CC_CAS, "cj", "w2");
	r.cas = cas - 1;
	r.invalidate = true;
	r.new_cas = 4242;
	assert_int_equal(store_q(f, &r, &c2), 0);
	assert_int_equal(c2, 4242);
	assert_int_equal(peek(f, "cj").meta, CC_META_STALE);
	/* The matching CAS is a normal CAS store: not stale. */
	r = req_str(CC_CAS, "cj", "w3");
	r.cas = 4242;
	r.invalidate = true;
	assert_int_equal(store_q(f, &r, NULL), 0);
	assert_int_equal(peek(f, "cj").meta, 0);
	s1 = stats_of(f);
	assert_int_equal(s1.cas_hits - s0.cas_hits, 3);
	assert_int_equal(s1.cas_badval - s0.cas_badval, 2);
}

/* ---- which changes keep the bits ---- */

static void test_kept_or_reset(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r;
	uint64_t cas, n;
	struct cc_view v;

	/* touch and gat: in place in memcached, and both count as a fetch. */
	cas = set_cas(f, "t", "v", 0);
	assert_int_equal(cc_meta_win(f->t, "t", 1, cas), 1);
	assert_int_equal(cc_invalidate(f->t, "t", 1, 0, false, 0, 0), 0);
	cas = peek(f, "t").cas;
	assert_int_equal(cc_meta_win(f->t, "t", 1, cas), 1);
	assert_int_equal(cc_touch(f->t, "t", 1, 100), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(peek(f, "t").meta, ALL_META);
	set_cas(f, "gt", "v", 0);
	assert_int_equal(cc_get_touch(f->t, "gt", 2, 100, &v), 0);
	assert_int_equal(v.meta, 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(peek(f, "gt").meta, CC_META_FETCHED);

	/* incr whose result fits the old length: in place, bits kept. */
	cas = set_cas(f, "n", "5", 0);
	fetch(f, "n");
	assert_int_equal(cc_meta_win(f->t, "n", 1, cas), 1);
	assert_int_equal(cc_invalidate(f->t, "n", 1, 0, false, 0, 0), 0);
	assert_int_equal(cc_meta_win(f->t, "n", 1, peek(f, "n").cas), 1);
	assert_int_equal(arith_call(f->t, "n", 1, false, 1, &n, NULL), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(n, 6);
	assert_int_equal(peek(f, "n").meta, ALL_META);
	/* A longer result is a new item in memcached: bits clear. */
	assert_int_equal(arith_call(f->t, "n", 1, false, 10, &n, NULL), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(n, 16);
	assert_int_equal(peek(f, "n").meta, 0);

	/* append and prepend make a new item. */
	cas = set_cas(f, "a", "x", 0);
	fetch(f, "a");
	assert_int_equal(cc_invalidate(f->t, "a", 1, 0, false, 0, 0), 0);
	r = req_str(CC_APPEND, "a", "y");
	assert_int_equal(store_q(f, &r, NULL), 0);
	assert_int_equal(peek(f, "a").meta, 0);
	expect_str(f, "a", "xy");
}

static void test_arith_cas(void **state)
{
	struct fx *f = *state;
	uint64_t cas = set_cas(f, "m", "41", 0), c2 = 0, n = 0;
	struct cc_arith_req a = {
		.key = "m", .key_len = 1, .delta = 1, .cas = cas + 1,
	};

	assert_int_equal(cc_arith(f->t, &a, &n, &c2), -ESTALE);
	a.cas = cas;
	a.new_cas = 9000;
	assert_int_equal(cc_arith(f->t, &a, &n, &c2), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(n, 42);
	assert_int_equal(c2, 9000);
	assert_int_equal(peek(f, "m").cas, 9000);
	/* Without new_cas the CAS is fresh; without cas any version goes. */
	a.cas = 0;
	a.new_cas = 0;
	a.decr = true;
	a.delta = 2;
	assert_int_equal(cc_arith(f->t, &a, &n, &c2), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(n, 40);
	assert_int_not_equal(c2, 9000);
	assert_int_equal(peek(f, "m").cas, c2);
	a.cas = 9000;
	assert_int_equal(cc_arith(f->t, &a, &n, &c2), -ESTALE);
	cc_thread_quiescent(f->t);
	expect_str(f, "m", "40");
}

/* Meta bits, access tick and CAS stay when eviction moves an item. */
static void test_meta_survives_merge(void **state)
{
	struct fx *f = *state;
	const unsigned n = (unsigned)(20 * SMALL_LIMIT / 1000);
	unsigned char val[1000];
	uint64_t cas, warm_cas;
	uint32_t first_seg, warm_seg;
	struct cc_view v;
	char key[32];

	/* "hot" has every bit; "warm" all but the token, which a merge
	 * must not hand out on its behalf. */
	set_cas(f, "hot", "h", 0);
	fetch(f, "hot");
	assert_int_equal(cc_invalidate(f->t, "hot", 3, 0, false, 0, 0), 0);
	cas = peek(f, "hot").cas;
	assert_int_equal(cc_meta_win(f->t, "hot", 3, cas), 1);
	first_seg = peek(f, "hot").segment;
	set_cas(f, "warm", "w", 0);
	fetch(f, "warm");
	assert_int_equal(cc_invalidate(f->t, "warm", 4, 0, false, 0, 0), 0);
	warm_cas = peek(f, "warm").cas;
	warm_seg = peek(f, "warm").segment;
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "cold:%u", i);
		struct cc_store_req r;

		fill_pattern(val, sizeof(val), i);
		r = req_bin(CC_SET, key, (size_t)len, val, sizeof(val));
		assert_int_equal(store_q(f, &r, NULL), 0);
		if (i % 20 == 0) {
			fetch(f, "hot");
			fetch(f, "warm");
		}
	}
	assert_true(stats_of(f).merged_items > 0);
	/* Read last at T0; 200 s later the tick still says T0's. */
	f->now = T0 + 200;
	v = peek(f, "hot");
	assert_int_not_equal(v.segment, first_seg);
	assert_int_equal(v.meta, ALL_META);
	assert_int_equal(v.cas, cas);
	assert_true(v.atime >= T0 && v.atime < T0 + TICK);
	assert_int_equal(cc_meta_win(f->t, "hot", 3, cas), 0);
	v = peek(f, "warm");
	assert_int_not_equal(v.segment, warm_seg);
	assert_int_equal(v.meta, CC_META_FETCHED | CC_META_STALE);
	assert_int_equal(v.cas, warm_cas);
	assert_int_equal(cc_meta_win(f->t, "warm", 4, warm_cas), 1);
	cc_thread_quiescent(f->t);
	expect_str(f, "hot", "h");
	expect_str(f, "warm", "w");
}

/* ---- access time ---- */

static void expect_atime_near(struct cc_view v, uint32_t accessed)
{
	/* Reported as the end of the access's tick: never before the
	 * access, less than a tick after it. */
	if (v.atime < accessed || v.atime >= accessed + TICK)
		print_error("atime %u, accessed at %u\n", v.atime, accessed);
	assert_true(v.atime >= accessed && v.atime < accessed + TICK);
}

static void test_atime(void **state)
{
	struct fx *f = *state;
	struct cc_view v;

	/* A write is an access; right after it the age is 0, as in
	 * memcached. */
	f->now = T0 + 5;
	set_cas(f, "a", "v", 0);
	assert_int_equal(peek(f, "a").atime, T0 + 5);
	f->now = T0 + 300;
	expect_atime_near(peek(f, "a"), T0 + 5);
	/* NO_BUMP does not move it. */
	expect_atime_near(peek(f, "a"), T0 + 5);
	/* A read reports the time before, then moves it. */
	expect_atime_near(fetch(f, "a"), T0 + 5);
	assert_int_equal(peek(f, "a").atime, T0 + 300);
	f->now = T0 + 1000;
	expect_atime_near(peek(f, "a"), T0 + 300);
	/* Within the ring, the age reads back to the tick. */
	f->now = T0 + 300 + 900;
	expect_atime_near(peek(f, "a"), T0 + 300);
	/* Invalidation is no access; touch is (memcached bumps it). */
	assert_int_equal(cc_invalidate(f->t, "a", 1, 0, false, 0, 0), 0);
	cc_thread_quiescent(f->t);
	expect_atime_near(peek(f, "a"), T0 + 300);
	assert_int_equal(cc_touch(f->t, "a", 1, 0), 0);
	cc_thread_quiescent(f->t);
	v = peek(f, "a");
	assert_int_equal(v.atime, f->now);
	/* The view of gat reports the time before, as mg does. */
	f->now += 500;
	assert_int_equal(cc_get_touch(f->t, "a", 1, 0, &v), 0);
	cc_thread_quiescent(f->t);
	expect_atime_near(v, T0 + 1200);
	assert_int_equal(peek(f, "a").atime, f->now);
	/* A hot item read again within its tick keeps the same tick. */
	f->now = T0 + 64 * 100;
	fetch(f, "a");
	for (unsigned i = 0; i < 63; i++) {
		f->now++;
		fetch(f, "a");
		assert_int_equal(peek(f, "a").atime, f->now);
	}
}

/* The documented limit of the tick: an item idle for longer than the
 * 1024-second ring reads as idle for that time modulo 1024 s. */
static void test_atime_ring(void **state)
{
	struct fx *f = *state;

	f->now = T0;
	set_cas(f, "r", "v", 0);
	f->now = T0 + 1024 + 100;
	expect_atime_near(peek(f, "r"), T0 + 1024);
	/* Past the ring in the same tick, the read-back is now. */
	f->now = T0 + 1024 + 10;
	assert_int_equal(peek(f, "r").atime, f->now);
}

static void test_touch_no_bump(void **state)
{
	struct fx *f = *state;
	struct cc_view v;
	uint64_t cas;

	/* memcached's mg with T and u, and ma with T: a new TTL without a
	 * fetch. FETCHED and the access time stay as they were, and so do
	 * the CAS, STALE and the token. */
	f->now = T0 + 5;
	cas = set_cas(f, "nb", "v", 0);
	f->now = T0 + 600;
	assert_int_equal(cc_touch_flags(f->t, "nb", 2, 100, CC_LOOKUP_NO_BUMP), 0);
	cc_thread_quiescent(f->t);
	v = peek(f, "nb");
	assert_int_equal(v.meta, 0);
	expect_atime_near(v, T0 + 5);
	assert_int_equal(v.expiry, T0 + 700);
	assert_int_equal(v.cas, cas);

	/* Kept bits stay kept. */
	assert_int_equal(cc_invalidate(f->t, "nb", 2, 0, false, 0, 0), 0);
	cas = peek(f, "nb").cas;
	assert_int_equal(cc_meta_win(f->t, "nb", 2, cas), 1);
	assert_int_equal(cc_touch_flags(f->t, "nb", 2, 0, CC_LOOKUP_NO_BUMP), 0);
	cc_thread_quiescent(f->t);
	v = peek(f, "nb");
	assert_int_equal(v.meta, CC_META_STALE | CC_META_WIN_SENT);
	assert_int_equal(v.expiry, 0);
	expect_atime_near(v, T0 + 5);

	/* Without the flag it is cc_touch: a fetch. */
	assert_int_equal(cc_touch_flags(f->t, "nb", 2, 0, 0), 0);
	cc_thread_quiescent(f->t);
	v = peek(f, "nb");
	assert_int_equal(v.meta, ALL_META);
	assert_int_equal(v.atime, f->now);
	assert_int_equal(cc_touch_flags(f->t, "none", 4, 0, CC_LOOKUP_NO_BUMP),
			 -ENOENT);
}

/* ---- groups ---- */

#define FX(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest reads[] = {
		FX(test_fetched), FX(test_no_bump),
		FX(test_no_bump_leaves_hit_counter),
		FX(test_atime), FX(test_atime_ring),
	};
	const struct CMUnitTest token_stale[] = {
		FX(test_win_once), FX(test_win_race),
		FX(test_invalidate), FX(test_cas_invalidate),
	};
	const struct CMUnitTest versions[] = {
		FX(test_kept_or_reset), FX(test_touch_no_bump),
		FX(test_arith_cas),
		FX(test_meta_survives_merge),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("reads", reads, NULL, NULL);
	failed += cmocka_run_group_tests_name("token_stale", token_stale,
					      NULL, NULL);
	failed += cmocka_run_group_tests_name("versions", versions, NULL, NULL);
	return failed == 0 ? 0 : 1;
}
