/*
 * Shared fixture and helpers of the cache engine's unit tests
 * (test_cache.c, test_cache_cas_ttl.c, test_cache_memory.c).
 *
 * The engine's tests are split by subject into several cmocka programs, but
 * they all run against the same small cache: 4 MiB in 32 segments of
 * 128 KiB, values up to 64 KiB, one registered thread and a fake clock that
 * a test moves by assigning to struct fx's now. Keeping that cache and the
 * helpers that talk to it in one place means every program tests the same
 * configuration, and a change to it is made once.
 *
 * Helpers are plain functions: a failed cmocka assertion inside one ends
 * the test (cmocka unwinds with longjmp), so none of them needs a macro
 * that hides a return. Each helper that reads or stores passes a quiescent
 * point before it returns, because the engine cannot reuse a segment until
 * each online thread has passed one; no view it obtained is left in use.
 */
#ifndef CACHE_FIXTURE_H
#define CACHE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corecache.h"

/* A plausible "now" well above CC_TTL_RELATIVE_MAX, so relative and
 * absolute exptimes can be told apart. */
#define T0 1700000000u

#define SMALL_LIMIT   ((size_t)4 << 20)
#define SMALL_ITEMMAX ((size_t)64 << 10)
#define SMALL_SEGMENT ((size_t)128 << 10)
#define SMALL_RESERVE (4 * SMALL_LIMIT)

/* One test's cache: its parameters (clock = the now field), the cache and
 * the one registered thread. */
struct fx {
	struct cc_params p;
	struct cc_cache *c;
	struct cc_thread *t;
	uint32_t now;
};

/* cmocka setup and teardown: a fresh small cache at time T0, with one
 * thread registered, in *state; teardown unregisters and destroys it. */
int fx_setup(void **state);
/* The same cache with SMALL_RESERVE reserved, so that its limit can be
 * raised up to four times (cc_set_memory_limit). */
int fx_setup_reserved(void **state);
int fx_teardown(void **state);

/* A store request with everything but mode, key and value zeroed. */
struct cc_store_req req_bin(enum cc_store_mode mode, const void *key,
			    size_t key_len, const void *val, size_t val_len);
struct cc_store_req req_str(enum cc_store_mode mode, const char *key,
			    const char *val);

/* Stores and passes a quiescent point; returns cc_store's result. */
int store_q(struct fx *f, const struct cc_store_req *r, uint64_t *cas);

/* Sets key to val; any failure ends the test. */
void set_ok(struct fx *f, const char *key, const char *val);

/* Returns the item's metadata; the value pointer is cleared because the
 * view ends at the quiescent point taken here. */
struct cc_view meta_of(struct fx *f, const char *key);

/* The key must be present with exactly this value. */
void expect_bin(struct fx *f, const void *key, size_t key_len,
		const void *val, size_t len);
void expect_str(struct fx *f, const char *key, const char *val);

/* The key must be absent (-ENOENT). */
void expect_absent(struct fx *f, const char *key);

struct cc_stats stats_of(struct fx *f);

/* cc_arith with the request built from plain arguments (no CAS check,
 * fresh CAS); returns cc_arith's result. */
int arith_call(struct cc_thread *t, const void *key, size_t key_len,
	       bool decr, uint64_t delta, uint64_t *value_out,
	       uint64_t *cas_out);

/* Deterministic bytes for a value, different for each seed. */
void fill_pattern(unsigned char *buf, size_t len, uint64_t seed);

#endif /* CACHE_FIXTURE_H */
