/*
 * Quiescent-state-based reclamation.
 *
 * Same contract as DPDK's rte_rcu_qsbr, without tying embedders to DPDK:
 * memory retired at epoch E may be reused once every online thread has
 * reported a quiescent point at an epoch >= E. Reporting is one store to a
 * line the thread owns; the cost is paid by the reclaimer, which scans the
 * thread table only when it wants segments back (once per batch of
 * segments, under pool_lock).
 */
#include "cache_internal.h"

uint64_t cc_qsbr_retire(struct cc_cache *c)
{
	/* seq_cst: the index updates that unlinked the retired memory are
	 * ordered before the new epoch, so a thread that reads the new
	 * epoch can no longer reach that memory. */
	return atomic_fetch_add(&c->epoch, 1) + 1;
}

uint64_t cc_qsbr_min(struct cc_cache *c)
{
	uint64_t min = UINT64_MAX;

	/* seq_cst fence: pairs with the one in cc_thread_online. Either this
	 * scan sees a thread's new epoch, or that thread's reads see every
	 * unlink made before the epoch this reclaimer waits for. */
	cc_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < c->max_threads; i++) {
		struct cc_thread *t = c->threads[i];

		if (t == NULL)
			continue;
		/* acquire: pairs with the release in cc_thread_quiescent, so
		 * the thread's reads of retired memory happen before reuse. */
		uint64_t e = atomic_load_explicit(&t->qs_epoch,
						  memory_order_acquire);
		if (e < min)
			min = e;
	}
	return min;
}

void cc_thread_quiescent(struct cc_thread *t)
{
	uint64_t e = atomic_load_explicit(&t->cache->epoch,
					  memory_order_acquire);

	/* release: every read this thread made of cache memory happens
	 * before a reclaimer that sees this epoch reuses it. */
	atomic_store_explicit(&t->qs_epoch, e, memory_order_release);
	t->holds_views = false;
}

void cc_thread_offline(struct cc_thread *t)
{
	atomic_store_explicit(&t->qs_epoch, UINT64_MAX, memory_order_release);
	t->holds_views = false;
}

void cc_thread_online(struct cc_thread *t)
{
	atomic_store_explicit(&t->qs_epoch,
			      atomic_load_explicit(&t->cache->epoch,
						   memory_order_acquire),
			      memory_order_relaxed);
	/* seq_cst fence: the store above must be visible to a reclaimer
	 * before this thread's next read of the index (store-load order),
	 * or a reclaimer that saw it offline could free what it reads. */
	cc_fence(memory_order_seq_cst);
}
