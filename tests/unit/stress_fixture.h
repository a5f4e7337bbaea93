/*
 * Shared fixture of the stress tests (test_stress.c): the small cache the
 * threads race on, the per-thread tallies, and the helpers both the worker
 * threads and the main thread use.
 *
 * Every test runs against the same cache, 1 MiB in segments of 32 KiB with
 * values up to 8 KiB, so small that eviction and segment reuse never stop
 * while 1000 keys are written. Keeping its configuration, the key space and
 * the way a thread records what it saw in one place means every test
 * stresses the same thing, and the tests file keeps only the threads and
 * the tests themselves.
 *
 * Worker threads never call cmocka assertions (they unwind with longjmp
 * and are not thread-safe): they count into their struct worker, and the
 * main thread asserts. key_name, problem, verify and store_retry are safe
 * from any thread on its own struct worker; create_cache, check_all_keys
 * and report assert or print through cmocka and belong to the main thread.
 */
#ifndef STRESS_FIXTURE_H
#define STRESS_FIXTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "corecache.h"

#define NKEYS 1000u

#define STRESS_LIMIT   ((size_t)1 << 20)
#define STRESS_ITEMMAX ((size_t)8 << 10)
#define STRESS_SEGMENT ((size_t)32 << 10)

struct shared {
	struct cc_cache *c;
	unsigned long ops;           /* per writer */
	unsigned long flush_every;   /* writer 0 flushes every so many ops */
	atomic_uint writers_done;
	atomic_bool pinned;          /* ref test: writers may start */
};

struct worker {
	struct shared *sh;
	unsigned id;
	unsigned long verified;      /* views checked and found good */
	unsigned long mismatches;    /* views found bad */
	unsigned long errors;        /* unexpected return codes */
	unsigned long enomem;        /* transient -ENOMEM, retried */
	unsigned long stores;
	char first_problem[200];
};

/* The name of key index k ("stress:0042") into buf, its length in *len. */
void key_name(char *buf, size_t size, unsigned k, size_t *len);

/* Records the thread's first problem; later ones are only counted. */
void problem(struct worker *w, const char *what, unsigned key, int rc);

/* Checks a view read under key index key (stress_values.h) and counts it
 * as verified or as a mismatch. */
void verify(struct worker *w, const struct cc_view *v, unsigned key);

/* cc_store, retrying a transient -ENOMEM after a quiescent point; passes
 * a quiescent point after every attempt. Returns cc_store's last result. */
int store_retry(struct worker *w, struct cc_thread *t,
		const struct cc_store_req *r);

/* Operations per writer: CC_STRESS_OPS when set, else a default that is
 * smaller under ThreadSanitizer. */
unsigned long ops_per_writer(void);

/* Creates the stress cache into sh->c and resets sh, with sh->ops set to
 * ops_per_writer(); any failure ends the test. */
void create_cache(struct shared *sh);

/* Every key is absent or valid, checked from a thread of its own; the
 * verdicts are counted into w. */
void check_all_keys(struct shared *sh, struct worker *w);

/* Prints the tallies of n workers and the first problem of each. */
void report(const struct worker *w, unsigned n);

#endif /* STRESS_FIXTURE_H */
