/*
 * Unit tests of the engine's live memory limit (cc_set_memory_limit):
 * raising it up to the reserve gives room at once; lowering it parks the
 * free segments at once and evicts the rest down to the new limit through
 * cc_maintain, even with no writer; limits out of range are refused; and
 * writers on other threads keep storing and reading correct values while
 * the limit moves under them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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

#define VLEN 8192u

/* Stores "<prefix>:<i>" for i in [first, first + count) with VLEN-byte
 * pattern values; every store must succeed. */
static void fill(struct fx *f, const char *prefix, unsigned first,
		 unsigned count)
{
	static unsigned char val[VLEN];
	char key[64];

	for (unsigned i = first; i < first + count; i++) {
		int n = snprintf(key, sizeof(key), "%s:%u", prefix, i);
		struct cc_store_req r;

		fill_pattern(val, VLEN, i);
		r = req_bin(CC_SET, key, (size_t)n, val, VLEN);
		assert_int_equal(store_q(f, &r, NULL), 0);
	}
}

/* How many of the keys fill stored are still there; each one present
 * must hold its own value. */
static unsigned count_live(struct fx *f, const char *prefix, unsigned first,
			   unsigned count)
{
	static unsigned char want[VLEN];
	unsigned live = 0;
	char key[64];

	for (unsigned i = first; i < first + count; i++) {
		int n = snprintf(key, sizeof(key), "%s:%u", prefix, i);
		struct cc_view v;

		if (cc_get(f->t, key, (size_t)n, &v) == 0) {
			fill_pattern(want, VLEN, i);
			assert_int_equal(v.value_len, VLEN);
			assert_memory_equal(v.value, want, VLEN);
			live++;
		}
		cc_thread_quiescent(f->t);
	}
	return live;
}

/* Runs maintenance until the pool is back within the limit; at most
 * rounds calls (each is bounded work). Returns the calls it took. */
static unsigned maintain_until_within(struct fx *f, unsigned rounds)
{
	for (unsigned i = 1; i <= rounds; i++) {
		struct cc_stats s;

		cc_maintain(f->t);
		cc_thread_quiescent(f->t);
		s = stats_of(f);
		if (s.segments_total * s.segment_size <= s.limit_bytes)
			return i;
	}
	fail_msg("the pool did not shrink to its limit in %u rounds", rounds);
	return rounds;
}

static void limit_out_of_range(void **state)
{
	struct fx *f = *state;
	struct cc_stats s;

	assert_int_equal(cc_set_memory_limit(f->c, 3 * SMALL_SEGMENT), -EINVAL);
	assert_int_equal(cc_set_memory_limit(f->c, 0), -EINVAL);
	assert_int_equal(cc_set_memory_limit(f->c, SMALL_RESERVE + SMALL_SEGMENT),
			 -ERANGE);
	s = stats_of(f);
	assert_int_equal(s.limit_bytes, SMALL_LIMIT);
	/* The smallest and the largest accepted, rounded to segments. */
	assert_int_equal(cc_set_memory_limit(f->c, 4 * SMALL_SEGMENT + 1), 0);
	assert_int_equal(stats_of(f).limit_bytes, 4 * SMALL_SEGMENT);
	assert_int_equal(cc_set_memory_limit(f->c, SMALL_RESERVE), 0);
	assert_int_equal(stats_of(f).limit_bytes, SMALL_RESERVE);
}

/* Without a reserve the limit can go down and back, never above. */
static void no_reserve_no_raise(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cc_set_memory_limit(f->c, 2 * SMALL_LIMIT), -ERANGE);
	assert_int_equal(cc_set_memory_limit(f->c, SMALL_LIMIT / 2), 0);
	assert_int_equal(stats_of(f).segments_total * SMALL_SEGMENT,
			 SMALL_LIMIT / 2);
	assert_int_equal(cc_set_memory_limit(f->c, SMALL_LIMIT), 0);
	assert_int_equal(stats_of(f).segments_total * SMALL_SEGMENT, SMALL_LIMIT);
}

static void raise_gives_room(void **state)
{
	struct fx *f = *state;
	unsigned fits = (unsigned)(2 * SMALL_LIMIT / VLEN);
	struct cc_stats before, after;

	/* Twice the limit's worth: the cache evicts at 4 MiB. */
	fill(f, "a", 0, fits);
	before = stats_of(f);
	assert_true(before.evictions > 0);
	assert_int_equal(before.segments_total * SMALL_SEGMENT, SMALL_LIMIT);

	assert_int_equal(cc_set_memory_limit(f->c, SMALL_RESERVE), 0);
	after = stats_of(f);
	assert_int_equal(after.limit_bytes, SMALL_RESERVE);
	assert_int_equal(after.segments_total * SMALL_SEGMENT, SMALL_RESERVE);
	assert_int_equal(after.segments_free,
			 before.segments_free +
				 (SMALL_RESERVE - SMALL_LIMIT) / SMALL_SEGMENT);

	/* 8 MiB more now fits beside what is left: nothing evicted. */
	fill(f, "b", 0, fits);
	after = stats_of(f);
	assert_int_equal(after.evictions, before.evictions);
	assert_int_equal(count_live(f, "b", 0, fits), fits);
}

static void lower_evicts_down_to_limit(void **state)
{
	struct fx *f = *state;
	unsigned n = (unsigned)(3 * SMALL_LIMIT / VLEN);
	size_t low = SMALL_LIMIT / 2;
	struct cc_stats s;
	unsigned live;

	assert_int_equal(cc_set_memory_limit(f->c, SMALL_RESERVE), 0);
	fill(f, "k", 0, n);
	assert_int_equal(stats_of(f).evictions, 0);

	assert_int_equal(cc_set_memory_limit(f->c, low), 0);
	s = stats_of(f);
	assert_int_equal(s.limit_bytes, low);
	/* Free segments parked at once; the used ones wait for eviction. */
	assert_int_equal(s.segments_free, 0);
	assert_true(s.segments_total * SMALL_SEGMENT > low);

	/* No writer: maintenance alone brings the pool down. */
	maintain_until_within(f, 200);
	s = stats_of(f);
	assert_true(s.evictions > 0);
	assert_true(s.curr_bytes <= low);
	live = count_live(f, "k", 0, n);
	assert_true(live > 0);
	assert_true((size_t)live * VLEN <= low);

	/* And the smaller cache still takes new items, within its limit. */
	fill(f, "after", 0, 600);
	s = stats_of(f);
	assert_true((s.segments_total - s.segments_free) * SMALL_SEGMENT <= low);
	assert_true(count_live(f, "after", 590, 10) == 10);
}

/* ---- the limit moving under concurrent writers ---- */

#define WRITERS 2
#define WRITER_OPS 20000u

struct writer {
	struct cc_cache *c;
	unsigned id;
	unsigned long enomem, wrong;
	_Atomic bool done;  /* release: the counts above are final */
};

/* A value that names its key, so a reader can tell a wrong one. */
static size_t writer_value(char *buf, size_t cap, const char *key, unsigned i)
{
	size_t len = 64 + (i * 2654435761u) % 3000;
	size_t klen = strlen(key);

	for (size_t j = 0; j < len && j < cap; j++)
		buf[j] = key[j % klen];
	return len < cap ? len : cap;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	static _Thread_local char val[4096], want[4096];
	struct cc_thread *t;
	char key[48];

	/* No cmocka assertion off the main thread: failures are counted. */
	if (cc_thread_register(w->c, &t) != 0) {
		w->wrong++;
		return NULL;
	}
	for (unsigned i = 0; i < WRITER_OPS; i++) {
		unsigned k = (i * 7919u) % 5000;
		int n = snprintf(key, sizeof(key), "w%u:%u", w->id, k);
		size_t len = writer_value(val, sizeof(val), key, k);
		struct cc_store_req r = req_bin(CC_SET, key, (size_t)n, val, len);
		struct cc_view v;
		int rc = cc_store(t, &r, NULL);

		if (rc == -ENOMEM)
			w->enomem++;
		else if (rc != 0)
			w->wrong++;
		cc_thread_quiescent(t);
		n = snprintf(key, sizeof(key), "w%u:%u", w->id, (k * 31) % 5000);
		if (cc_get(t, key, (size_t)n, &v) == 0) {
			len = writer_value(want, sizeof(want), key, (k * 31) % 5000);
			if (v.value_len != len || memcmp(v.value, want, len) != 0)
				w->wrong++;
		}
		cc_thread_quiescent(t);
		if (i % 256 == 0)
			cc_maintain(t);
	}
	cc_thread_unregister(t);
	atomic_store_explicit(&w->done, true, memory_order_release);
	return NULL;
}

static bool writers_done(struct writer *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!atomic_load_explicit(&w[i].done, memory_order_acquire))
			return false;
	return true;
}

static void limit_moves_under_writers(void **state)
{
	struct fx *f = *state;
	static const size_t limits[] = {
		SMALL_RESERVE, SMALL_LIMIT / 2, 2 * SMALL_LIMIT,
		SMALL_LIMIT / 4, SMALL_RESERVE, SMALL_LIMIT,
	};
	struct writer w[WRITERS];
	pthread_t th[WRITERS];

	/* The fixture's thread would hold back every grace period while it
	 * only sleeps here. */
	cc_thread_offline(f->t);
	for (unsigned i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .c = f->c, .id = i };
		atomic_init(&w[i].done, false);
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	/* The control thread is not registered: cc_set_memory_limit needs
	 * no thread handle. */
	for (unsigned r = 0; r < 40 || !writers_done(w, WRITERS); r++) {
		struct timespec pause = { .tv_nsec = 2 * 1000 * 1000 };

		assert_int_equal(cc_set_memory_limit(f->c,
				 limits[r % (sizeof(limits) / sizeof(limits[0]))]), 0);
		nanosleep(&pause, NULL);
	}
	for (unsigned i = 0; i < WRITERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].wrong, 0);
		assert_int_equal(w[i].enomem, 0);
	}
	cc_thread_online(f->t);
	assert_int_equal(cc_set_memory_limit(f->c, SMALL_LIMIT / 4), 0);
	maintain_until_within(f, 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(limit_out_of_range,
						fx_setup_reserved, fx_teardown),
		cmocka_unit_test_setup_teardown(no_reserve_no_raise, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(raise_gives_room,
						fx_setup_reserved, fx_teardown),
		cmocka_unit_test_setup_teardown(lower_evicts_down_to_limit,
						fx_setup_reserved, fx_teardown),
		cmocka_unit_test_setup_teardown(limit_moves_under_writers,
						fx_setup_reserved, fx_teardown),
	};

	return cmocka_run_group_tests_name("cache_limit", tests, NULL, NULL);
}
