/*
 * The amplification guard's live settings: publishing a new allow-list
 * and reclaiming the old one once every DPDK worker has passed a
 * quiescent point (dpdk_guard_internal.h explains the protocol). Runs on
 * the control thread; the workers only load, and store their generation
 * once per poll.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dpdk_guard_internal.h"

static struct dp_dpdk_allow *allow_new(const struct dp_dpdk_cidr *net,
				       unsigned n)
{
	struct dp_dpdk_allow *a = malloc(sizeof(*a) + n * sizeof(*net));

	if (!a)
		return NULL;
	a->retired_next = NULL;
	a->n = n;
	if (n)
		memcpy(a->net, net, n * sizeof(*net));
	return a;
}

int dp_dpdk_guard_init(struct dp_dpdk_guard *g, unsigned nreaders,
		       bool online, uint32_t amplification,
		       const struct dp_dpdk_cidr *allow, unsigned nallow)
{
	struct dp_dpdk_allow *a;

	if (nreaders > DP_DPDK_WORKERS_MAX)
		return -EINVAL;
	a = allow_new(allow, nallow);
	if (!a)
		return -ENOMEM;
	atomic_init(&g->amplification, amplification);
	atomic_init(&g->allow, a);
	atomic_init(&g->gen, 0);
	g->retired = NULL;
	g->nreaders = nreaders;
	for (unsigned r = 0; r < DP_DPDK_WORKERS_MAX; r++)
		atomic_init(&g->readers[r].seen,
			    online ? 0 : DP_DPDK_GUARD_OFFLINE);
	return 0;
}

static void free_chain(struct dp_dpdk_allow *a)
{
	while (a) {
		struct dp_dpdk_allow *next = a->retired_next;

		free(a);
		a = next;
	}
}

void dp_dpdk_guard_destroy(struct dp_dpdk_guard *g)
{
	/* Relaxed: the readers are gone (joined) by now. */
	free((void *)atomic_load_explicit(&g->allow, memory_order_relaxed));
	free_chain(g->retired);
	g->retired = NULL;
}

void dp_dpdk_guard_online(struct dp_dpdk_guard *g, unsigned r)
{
	atomic_store_explicit(&g->readers[r].seen,
			      atomic_load_explicit(&g->gen,
						   memory_order_seq_cst),
			      memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
}

void dp_dpdk_guard_offline(struct dp_dpdk_guard *g, unsigned r)
{
	/* Release: this reader's list reads happen before a writer that
	 * sees it offline frees the list. */
	atomic_store_explicit(&g->readers[r].seen, DP_DPDK_GUARD_OFFLINE,
			      memory_order_release);
}

/* Whether every reader is offline or passed a quiescent point at
 * generation gen or later. seq_cst: see dp_dpdk_guard_online. */
static bool all_passed(const struct dp_dpdk_guard *g, uint64_t gen)
{
	for (unsigned r = 0; r < g->nreaders; r++)
		if (atomic_load_explicit(&g->readers[r].seen,
					 memory_order_seq_cst) < gen)
			return false;
	return true;
}

int dp_dpdk_guard_set_allow(struct dp_dpdk_guard *g,
			    const struct dp_dpdk_cidr *allow, unsigned n,
			    unsigned wait_ms)
{
	const struct timespec pause = { .tv_nsec = 50 * 1000 };
	struct dp_dpdk_allow *a = allow_new(allow, n), *old;
	unsigned waited_us = 0;
	uint64_t gen;

	if (!a)
		return -ENOMEM;
	/* seq_cst: release for the entries written above, and a place in
	 * the total order before the generation and the scan. */
	old = (struct dp_dpdk_allow *)atomic_exchange_explicit(
		&g->allow, a, memory_order_seq_cst);
	gen = atomic_fetch_add_explicit(&g->gen, 1, memory_order_seq_cst) + 1;
	/* A worker passes a quiescent point every poll (microseconds). */
	while (!all_passed(g, gen) && waited_us < wait_ms * 1000u) {
		nanosleep(&pause, NULL);
		waited_us += 50;
	}
	old->retired_next = g->retired;
	g->retired = old;
	if (all_passed(g, gen)) {
		/* Every list retired earlier is older than this one. */
		free_chain(g->retired);
		g->retired = NULL;
	}
	return 0;
}
