/*
 * The DPDK amplification guard's live settings (dataplane/dpdk/
 * dpdk_guard.c), on plain threads standing in for the DPDK workers: the
 * allow-list matches what was published; readers that check every list
 * they see while the writer swaps hundreds of lists never see a torn or
 * freed one (the sanitizers see any read of freed memory or a race with
 * the writer); a list is freed as soon as every reader passed a
 * quiescent point, kept while one has not, and freed later or at
 * destroy. Needs no DPDK.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dpdk_guard_internal.h"

#define READERS 3
#define SWAPS 300
#define NETS_MAX 16

static uint32_t ip(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d;
}

static void test_match_and_factor(void **state)
{
	struct dp_dpdk_cidr nets[2] = {
		{ ip(10, 0, 0, 0), 0xff000000u },
		{ ip(192, 168, 1, 7), 0xffffffffu },
	};
	struct dp_dpdk_guard *g = calloc(1, sizeof(*g));

	(void)state;
	assert_non_null(g);
	assert_int_equal(dp_dpdk_guard_init(g, 2, false, 10, nets, 2), 0);
	assert_int_equal(dp_dpdk_guard_amplification(g), 10);
	assert_true(dp_dpdk_guard_allowed(g, ip(10, 9, 8, 7)));
	assert_true(dp_dpdk_guard_allowed(g, ip(192, 168, 1, 7)));
	assert_false(dp_dpdk_guard_allowed(g, ip(192, 168, 1, 8)));
	assert_false(dp_dpdk_guard_allowed(g, ip(11, 0, 0, 1)));
	dp_dpdk_guard_set_amplification(g, 0);
	assert_int_equal(dp_dpdk_guard_amplification(g), 0);
	/* Readers offline: the old list goes at once. */
	assert_int_equal(dp_dpdk_guard_set_allow(g, &nets[1], 1, 0), 0);
	assert_null(g->retired);
	assert_false(dp_dpdk_guard_allowed(g, ip(10, 9, 8, 7)));
	assert_true(dp_dpdk_guard_allowed(g, ip(192, 168, 1, 7)));
	assert_int_equal(dp_dpdk_guard_set_allow(g, NULL, 0, 0), 0);
	assert_false(dp_dpdk_guard_allowed(g, ip(192, 168, 1, 7)));
	dp_dpdk_guard_destroy(g);
	assert_int_equal(dp_dpdk_guard_init(g, DP_DPDK_WORKERS_MAX + 1, false,
					    0, NULL, 0), -EINVAL);
	free(g);
}

struct reader {
	struct dp_dpdk_guard *g;
	unsigned id;
	_Atomic bool *stop;
	unsigned long lists, bad;
};

/* Every published list of n entries holds the network ALWAYS first,
 * then n - 1 copies of {n, ~0}: a reader that sees anything else saw a
 * list torn or reused, and ALWAYS's addresses are allowed whichever list
 * it finds. */
#define ALWAYS 0xdead0000u
static void *reader_main(void *arg)
{
	struct reader *r = arg;

	dp_dpdk_guard_online(r->g, r->id);
	while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
		const struct dp_dpdk_allow *a = atomic_load_explicit(
			&r->g->allow, memory_order_acquire);

		if (a->n < 1 || a->net[0].addr != ALWAYS ||
		    a->net[0].mask != 0xffff0000u)
			r->bad++;
		for (unsigned i = 1; i < a->n; i++)
			if (a->net[i].addr != a->n ||
			    a->net[i].mask != 0xffffffffu)
				r->bad++;
		if (!dp_dpdk_guard_allowed(r->g, ALWAYS | 0x1234))
			r->bad++;
		r->lists++;
		dp_dpdk_guard_quiescent(r->g, r->id);
	}
	dp_dpdk_guard_offline(r->g, r->id);
	return NULL;
}

static void test_swaps_under_readers(void **state)
{
	struct dp_dpdk_guard *g = calloc(1, sizeof(*g));
	struct dp_dpdk_cidr nets[NETS_MAX];
	struct reader r[READERS];
	pthread_t t[READERS];
	_Atomic bool stop = false;

	(void)state;
	assert_non_null(g);
	nets[0] = (struct dp_dpdk_cidr){ ALWAYS, 0xffff0000u };
	assert_int_equal(dp_dpdk_guard_init(g, READERS, false, 10, nets, 1),
			 0);
	for (unsigned i = 0; i < READERS; i++) {
		r[i] = (struct reader){ .g = g, .id = i, .stop = &stop };
		assert_int_equal(pthread_create(&t[i], NULL, reader_main,
						&r[i]), 0);
	}
	/* Every reader online before the first swap, so that each swap
	 * waits for all of them. */
	for (unsigned i = 0; i < READERS; i++)
		while (atomic_load_explicit(&g->readers[i].seen,
					    memory_order_relaxed) ==
		       DP_DPDK_GUARD_OFFLINE)
			sched_yield();
	for (unsigned s = 0; s < SWAPS; s++) {
		unsigned n = 1 + s % NETS_MAX;

		for (unsigned i = 1; i < n; i++)
			nets[i] = (struct dp_dpdk_cidr){ n, 0xffffffffu };
		assert_int_equal(dp_dpdk_guard_set_allow(g, nets, n, 10000),
				 0);
		/* Every reader passed (or left): nothing kept. */
		assert_null(g->retired);
	}
	atomic_store_explicit(&stop, true, memory_order_relaxed);
	for (unsigned i = 0; i < READERS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(r[i].bad, 0);
		/* Each swap waited for a quiescent point of each. */
		assert_true(r[i].lists >= SWAPS);
	}
	dp_dpdk_guard_destroy(g);
	free(g);
}

static void test_stalled_reader(void **state)
{
	struct dp_dpdk_cidr net = { ip(10, 1, 0, 0), 0xffff0000u };
	struct dp_dpdk_guard *g = calloc(1, sizeof(*g));

	(void)state;
	assert_non_null(g);
	/* Online at generation 0 (a polled dataplane) and never polled. */
	assert_int_equal(dp_dpdk_guard_init(g, 2, true, 10, NULL, 0), 0);
	dp_dpdk_guard_quiescent(g, 1);
	assert_int_equal(dp_dpdk_guard_set_allow(g, &net, 1, 5), 0);
	assert_non_null(g->retired);     /* reader 0 may hold it */
	assert_true(dp_dpdk_guard_allowed(g, ip(10, 1, 2, 3)));
	assert_int_equal(dp_dpdk_guard_set_allow(g, NULL, 0, 5), 0);
	assert_non_null(g->retired);
	assert_non_null(g->retired->retired_next);
	/* Reader 0 passes: the next change frees all three kept lists. */
	dp_dpdk_guard_quiescent(g, 0);
	dp_dpdk_guard_quiescent(g, 1);
	dp_dpdk_guard_offline(g, 0);
	dp_dpdk_guard_offline(g, 1);
	assert_int_equal(dp_dpdk_guard_set_allow(g, &net, 1, 5), 0);
	assert_null(g->retired);
	/* Kept lists at destroy: freed there (the leak checker sees). */
	dp_dpdk_guard_online(g, 0);
	assert_int_equal(dp_dpdk_guard_set_allow(g, NULL, 0, 1), 0);
	assert_non_null(g->retired);
	dp_dpdk_guard_offline(g, 0);
	dp_dpdk_guard_destroy(g);
	free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_and_factor),
		cmocka_unit_test(test_swaps_under_readers),
		cmocka_unit_test(test_stalled_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
