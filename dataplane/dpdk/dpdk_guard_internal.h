/*
 * The amplification guard's settings, changeable while the DPDK workers
 * run without a lock on their path: the factor is one atomic word; the
 * allow-list is an immutable array published by pointer (RCU style). A
 * new list is stored with a release exchange, then the writer bumps a
 * generation and waits until every worker has passed a quiescent point
 * (the end of a poll) since, at which point no worker can still hold the
 * old list, and frees it.
 *
 * No DPDK header here: the unit test builds this file alone and runs its
 * readers on plain threads (under the thread sanitizer).
 *
 * Threads: dp_dpdk_guard_set_* from one control thread at a time (the
 * daemon's lock serialises config set); dp_dpdk_guard_allowed,
 * _quiescent, _online and _offline from reader `r` only.
 */
#ifndef CORECACHE_DPDK_GUARD_INTERNAL_H
#define CORECACHE_DPDK_GUARD_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dpdk.h"

/* A published allow-list: never written once readers may see it. */
struct dp_dpdk_allow {
	struct dp_dpdk_allow *retired_next;  /* the writer's, see below */
	unsigned n;
	struct dp_dpdk_cidr net[];
};

/* A reader that is not polling (not started, or returned). */
#define DP_DPDK_GUARD_OFFLINE UINT64_MAX

struct dp_dpdk_guard_reader {
	/* The generation this reader saw at its last quiescent point. */
	_Atomic uint64_t seen;
} __attribute__((aligned(64)));

struct dp_dpdk_guard {
	_Atomic uint32_t amplification;  /* 0: no limit */
	_Atomic(const struct dp_dpdk_allow *) allow;
	_Atomic uint64_t gen;
	/* Lists whose readers did not all pass within the writer's wait
	 * (a polled dataplane nobody polls): freed at destroy, or once a
	 * later change sees every reader pass. Writer only. */
	struct dp_dpdk_allow *retired;
	unsigned nreaders;
	struct dp_dpdk_guard_reader readers[DP_DPDK_WORKERS_MAX];
};

/* Readers start offline (online == false) or at generation 0. -ENOMEM,
 * -EINVAL (more than DP_DPDK_WORKERS_MAX readers). */
int dp_dpdk_guard_init(struct dp_dpdk_guard *g, unsigned nreaders,
		       bool online, uint32_t amplification,
		       const struct dp_dpdk_cidr *allow, unsigned nallow);
void dp_dpdk_guard_destroy(struct dp_dpdk_guard *g);

/* Relaxed: a worker that applies the old factor for one more burst does
 * nothing wrong, and the factor orders nothing else. */
static inline void dp_dpdk_guard_set_amplification(struct dp_dpdk_guard *g,
						   uint32_t factor)
{
	atomic_store_explicit(&g->amplification, factor, memory_order_relaxed);
}

static inline uint32_t dp_dpdk_guard_amplification(
	const struct dp_dpdk_guard *g)
{
	return atomic_load_explicit(&g->amplification, memory_order_relaxed);
}

/* Publishes a copy of allow[0, n) and frees the list it replaces once no
 * reader can hold it; waits at most about wait_ms for the readers (then
 * the old list is kept until later). -ENOMEM (nothing changed). */
int dp_dpdk_guard_set_allow(struct dp_dpdk_guard *g,
			    const struct dp_dpdk_cidr *allow, unsigned n,
			    unsigned wait_ms);

/* Whether addr (host byte order) is in the published list. Acquire:
 * pairs with the writer's release exchange, so the entries read are the
 * ones written before publishing. */
static inline bool dp_dpdk_guard_allowed(const struct dp_dpdk_guard *g,
					 uint32_t addr)
{
	const struct dp_dpdk_allow *a =
		atomic_load_explicit(&g->allow, memory_order_acquire);

	for (unsigned i = 0; i < a->n; i++)
		if ((addr & a->net[i].mask) == a->net[i].addr)
			return true;
	return false;
}

/* Reader r holds no list from here: once per poll loop, never per
 * packet. Acquire load of the generation (it follows the writer's
 * exchange), release store of seen (the reader's list reads before it
 * happen before the writer's free, which loads seen with acquire). Plain
 * loads and stores on x86: no locked instruction. */
static inline void dp_dpdk_guard_quiescent(struct dp_dpdk_guard *g,
					   unsigned r)
{
	atomic_store_explicit(&g->readers[r].seen,
			      atomic_load_explicit(&g->gen,
						   memory_order_acquire),
			      memory_order_release);
}

/* A reader's start and end (not per loop). Going online is a seq_cst
 * store and fence, the writer's exchange and scan are seq_cst: a writer
 * that saw the reader still offline exchanged the list before the
 * reader's fence in that total order, so the reader's first list read
 * finds the new list. */
void dp_dpdk_guard_online(struct dp_dpdk_guard *g, unsigned r);
void dp_dpdk_guard_offline(struct dp_dpdk_guard *g, unsigned r);

#endif
