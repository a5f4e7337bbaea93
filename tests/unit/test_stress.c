/*
 * Multi-threaded stress tests of the corecache engine.
 *
 * Writers and readers share 1000 keys in a cache so small (1 MiB) that
 * eviction and segment reuse never stop. Every value is a sequence of
 * self-checking records (format in stress_values.h), so a reader can tell
 * a torn, mixed or reused value from a good one whatever mix of set,
 * append and prepend produced it. The cache, the key space and the
 * per-thread tallies are the fixture in stress_fixture.h; this file holds
 * the threads and the tests.
 *
 * Tests:
 *   readers_writers  2 writers (set, append, prepend, add, delete, cas,
 *                    meta invalidation, stale cas stores, a flush now
 *                    and then) and 2 readers (get, gat, lookup without
 *                    bump, get_bulk, recache token claims, maintain,
 *                    offline/online) on 1000 keys; every view read is
 *                    checked before the next quiescent point, and no
 *                    version's recache token is won twice.
 *   ref_across_churn one thread pins two views with cc_ref_get while the
 *                    writers turn the pool over many times; the pinned
 *                    bytes never change; nested references; cc_ref_put
 *                    from an unregistered thread.
 *   atomic_updates   4 threads incr one counter, cas-increment another
 *                    and append records to a third: no update is lost.
 *
 * Worker threads never call cmocka assertions (they unwind with longjmp
 * and are not thread-safe): they count, and the main thread asserts.
 * The amount of work is a fixed operation count, smaller under
 * ThreadSanitizer; CC_STRESS_OPS overrides the per-writer count.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
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

#include "corecache.h"
#include "stress_fixture.h"
#include "stress_values.h"

#define BULK_MAX 48u
/* Recache tokens a reader remembers winning, for the once-only check. */
#define WIN_LOG_MAX 65536u

struct win {
	uint64_t cas;
	unsigned key;
};

/* Tokens won, per worker id; each log written by its worker only, read
 * by the main thread after the join. */
static struct win win_log[4][WIN_LOG_MAX];
static unsigned win_count[4];

/* The cache a plain (unregistered) helper thread works on. */
static struct cc_cache *stress_cache;

/* ---- worker helpers ---- */

static const int64_t stress_ttls[8] = { 0, 0, 0, 0, 1, 2, 3600, 100000 };

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* One random writer operation on key k; counts codes it did not expect. */
static void write_one(struct worker *w, struct cc_thread *t, uint64_t *rng,
		      uint32_t seq, unsigned char *buf)
{
	unsigned k = (unsigned)(rng_next(rng) % NKEYS);
	unsigned op = (unsigned)(rng_next(rng) % 100);
	uint32_t len = REC_MIN + (uint32_t)(rng_next(rng) %
					    (REC_MAX - REC_MIN + 1));
	struct cc_store_req r;
	struct cc_view v;
	char key[32];
	size_t klen;
	int rc;

	key_name(key, sizeof(key), k, &klen);
	make_record(buf, len, k, w->id, seq);
	memset(&r, 0, sizeof(r));
	r.key = key;
	r.key_len = klen;
	r.value = buf;
	r.value_len = len;
	r.flags = k;
	/* Mostly no TTL; some expire within the test (real clock), some
	 * much later: items of several TTL classes share the pool. */
	r.exptime = stress_ttls[rng_next(rng) % 8];

	if (op < 55) {
		r.mode = CC_SET;
	} else if (op < 67) {
		r.mode = CC_APPEND;
	} else if (op < 75) {
		r.mode = CC_PREPEND;
	} else if (op < 80) {
		r.mode = CC_ADD;
	} else if (op < 86) {
		rc = cc_delete(t, key, klen, 0);
		cc_thread_quiescent(t);
		if (rc != 0 && rc != -ENOENT) {
			w->errors++;
			problem(w, "delete failed", k, rc);
		}
		return;
	} else if (op < 90) {
		/* meta md I, with a new TTL half the time. */
		rc = cc_invalidate(t, key, klen, 0, op & 1, 3600, 0);
		cc_thread_quiescent(t);
		if (rc == -ENOMEM)
			w->enomem++;
		else if (rc != 0 && rc != -ENOENT) {
			w->errors++;
			problem(w, "invalidate failed", k, rc);
		}
		return;
	} else {
		rc = cc_get(t, key, klen, &v);
		if (rc == 0) {
			verify(w, &v, k);
			/* meta ms I: an older CAS stores a stale version. */
			r.invalidate = op >= 95;
			r.cas = v.cas - (r.invalidate && (op & 1));
		}
		cc_thread_quiescent(t);
		if (rc == -ENOENT)
			return;
		if (rc != 0) {
			w->errors++;
			problem(w, "get failed", k, rc);
			return;
		}
		r.mode = CC_CAS;
	}

	rc = store_retry(w, t, &r);
	if (rc == -E2BIG && (r.mode == CC_APPEND || r.mode == CC_PREPEND)) {
		r.mode = CC_SET;
		rc = store_retry(w, t, &r);
	}
	if (rc == 0 || (rc == -ENOENT && r.mode != CC_SET &&
			r.mode != CC_ADD) ||
	    (rc == -EEXIST && r.mode == CC_ADD) ||
	    (rc == -ESTALE && r.mode == CC_CAS))
		return;
	w->errors++;
	problem(w, "store failed", k, rc);
}

static void *writer_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	unsigned char *buf = malloc(REC_MAX);
	uint64_t rng = 0x1234567ull + w->id * 0x9e3779b97f4a7c15ull;
	struct cc_thread *t;
	int rc;

	while (!atomic_load_explicit(&sh->pinned, memory_order_acquire))
		sched_yield();
	rc = cc_thread_register(sh->c, &t);
	if (rc != 0 || buf == NULL) {
		w->errors++;
		problem(w, "register or malloc failed", 0, rc);
		free(buf);
		atomic_fetch_add(&sh->writers_done, 1);
		return NULL;
	}
	for (unsigned long i = 0; i < sh->ops; i++) {
		write_one(w, t, &rng, (uint32_t)i, buf);
		/* Now and then everything goes at once, under the readers. */
		if (sh->flush_every != 0 && w->id == 0 &&
		    i % sh->flush_every == sh->flush_every - 1) {
			cc_flush(t, 0);
			cc_thread_quiescent(t);
		}
	}
	cc_thread_unregister(t);
	free(buf);
	atomic_fetch_add_explicit(&sh->writers_done, 1, memory_order_release);
	return NULL;
}

/* Claims the recache token of the version read (meta mg N/R). */
static void claim(struct worker *w, struct cc_thread *t, const char *key,
		  size_t klen, unsigned k, uint64_t cas)
{
	int rc = cc_meta_win(t, key, klen, cas);

	if (rc == 1 && win_count[w->id] < WIN_LOG_MAX)
		win_log[w->id][win_count[w->id]++] = (struct win){ cas, k };
	else if (rc < 0 && rc != -ENOENT && rc != -ESTALE) {
		w->errors++;
		problem(w, "meta_win failed", k, rc);
	}
}

static void read_single(struct worker *w, struct cc_thread *t, uint64_t *rng)
{
	unsigned k = (unsigned)(rng_next(rng) % NKEYS);
	unsigned pick = (unsigned)(rng_next(rng) % 16);
	struct cc_view v;
	char key[32];
	size_t klen;
	int rc;

	key_name(key, sizeof(key), k, &klen);
	/* Now and then a gat, which rewrites the item from its old copy,
	 * or a lookup that leaves the item as it is. */
	if (pick == 0)
		rc = cc_get_touch(t, key, klen, 0, &v);
	else if (pick == 1)
		rc = cc_lookup(t, key, klen, CC_LOOKUP_NO_BUMP, &v);
	else
		rc = cc_get(t, key, klen, &v);
	if (rc == 0) {
		verify(w, &v, k);
		if (pick >= 10)
			claim(w, t, key, klen, k, v.cas);
	} else if (rc == -ENOMEM)  /* gat writes: transient, like a store */
		w->enomem++;
	else if (rc != -ENOENT) {
		w->errors++;
		problem(w, "get failed", k, rc);
	}
	cc_thread_quiescent(t);
}

static void read_bulk(struct worker *w, struct cc_thread *t, uint64_t *rng)
{
	unsigned n = 1 + (unsigned)(rng_next(rng) % BULK_MAX);
	struct cc_key keys[BULK_MAX];
	struct cc_view views[BULK_MAX];
	int results[BULK_MAX];
	unsigned idx[BULK_MAX];
	char names[BULK_MAX][32];
	unsigned hits, counted = 0;

	for (unsigned i = 0; i < n; i++) {
		idx[i] = (unsigned)(rng_next(rng) % NKEYS);
		key_name(names[i], sizeof(names[i]), idx[i], &keys[i].len);
		keys[i].data = names[i];
	}
	hits = cc_get_bulk(t, n, keys, views, results);
	for (unsigned i = 0; i < n; i++) {
		if (results[i] == 0) {
			counted++;
			verify(w, &views[i], idx[i]);
		} else if (results[i] != -ENOENT) {
			w->errors++;
			problem(w, "bulk result", idx[i], results[i]);
		}
	}
	cc_thread_quiescent(t);
	if (hits != counted) {
		w->errors++;
		problem(w, "bulk hit count differs from results", 0,
			(int)hits);
	}
}

static void *reader_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	uint64_t rng = 0xabcdef12345ull + w->id * 0x2545f4914f6cdd1dull;
	struct cc_thread *t;
	int rc = cc_thread_register(sh->c, &t);

	if (rc != 0) {
		w->errors++;
		problem(w, "register failed", 0, rc);
		return NULL;
	}
	/* Read until every writer is done, and at least a minimum. */
	for (unsigned long i = 0;
	     i < sh->ops / 4 ||
	     atomic_load_explicit(&sh->writers_done, memory_order_acquire) < 2;
	     i++) {
		if (rng_next(&rng) & 1)
			read_single(w, t, &rng);
		else
			read_bulk(w, t, &rng);
		if (w->id == 2 && i % 64 == 0) {
			cc_maintain(t);
			cc_thread_quiescent(t);
		}
		if (i % 512 == 511) {
			cc_thread_offline(t);
			sched_yield();
			cc_thread_online(t);
		}
	}
	cc_thread_unregister(t);
	return NULL;
}

/* ---- tests ---- */

static int win_order(const void *a, const void *b)
{
	const struct win *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->cas < y->cas ? -1 : x->cas > y->cas;
}

/* Every (key, CAS) version's token went out at most once; returns how
 * many were won. */
static unsigned check_wins(void)
{
	unsigned n = 0, twice = 0;
	struct win *all = malloc(sizeof(win_log));

	assert_non_null(all);
	for (unsigned i = 0; i < 4; i++) {
		memcpy(all + n, win_log[i], win_count[i] * sizeof(*all));
		n += win_count[i];
	}
	qsort(all, n, sizeof(*all), win_order);
	for (unsigned i = 1; i < n; i++) {
		if (all[i].key == all[i - 1].key && all[i].cas == all[i - 1].cas) {
			if (twice++ == 0)
				print_error("token of key %u cas %" PRIu64
					    " won twice\n", all[i].key, all[i].cas);
		}
	}
	free(all);
	assert_int_equal(twice, 0);
	return n;
}

static void test_readers_writers(void **state)
{
	struct shared sh;
	struct worker w[5];
	pthread_t th[4];
	struct cc_stats s;
	unsigned long verified = 0, bad = 0, errors = 0, stores = 0;

	(void)state;
	create_cache(&sh);
	memset(w, 0, sizeof(w));
	memset(win_count, 0, sizeof(win_count));
	for (unsigned i = 0; i < 5; i++) {
		w[i].sh = &sh;
		w[i].id = i;
	}
	sh.flush_every = sh.ops / 8 + 1;
	atomic_store(&sh.pinned, true);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL,
						i < 2 ? writer_main
						      : reader_main,
						&w[i]), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	check_all_keys(&sh, &w[4]);
	report(w, 5);
	print_message("  recache tokens won %u\n", check_wins());
	assert_true(win_count[2] > 0 && win_count[3] > 0);

	cc_stats_read(sh.c, &s);
	print_message("  segments_evicted %" PRIu64 " evictions %" PRIu64
		      " merged %" PRIu64 " out_of_memory %" PRIu64
		      " curr_items %" PRIu64 "\n", s.segments_evicted,
		      s.evictions, s.merged_items, s.out_of_memory,
		      s.curr_items);
	for (unsigned i = 0; i < 5; i++) {
		verified += w[i].verified;
		bad += w[i].mismatches;
		errors += w[i].errors;
		stores += w[i].stores;
	}
	assert_int_equal(bad, 0);
	assert_int_equal(errors, 0);
	assert_true(verified > 0);
	assert_true(w[2].verified > 0 && w[3].verified > 0);
	assert_true(stores > sh.ops);
	assert_true(s.segments_evicted > 0);
	assert_true(s.curr_items <= NKEYS);
	assert_true((s.segments_total - s.segments_free) * s.segment_size <=
		    s.limit_bytes);
	cc_destroy(sh.c);
}

static void *put_ref_main(void *arg)
{
	const struct cc_view *v = arg;

	/* cc_ref_put from a thread that never registered. */
	cc_ref_put(stress_cache, v);
	return NULL;
}

/* Pins a view, returning a private copy of its bytes. */
static unsigned char *pin(struct worker *w, struct cc_thread *t,
			  unsigned k, struct cc_view *v)
{
	unsigned char *copy;
	char key[32];
	size_t klen;
	int rc;

	key_name(key, sizeof(key), k, &klen);
	rc = cc_get(t, key, klen, v);
	if (rc != 0) {
		w->errors++;
		problem(w, "pin: get failed", k, rc);
		return NULL;
	}
	verify(w, v, k);
	copy = malloc(v->value_len);
	if (copy != NULL)
		memcpy(copy, v->value, v->value_len);
	cc_ref_get(t, v);
	return copy;
}

static void check_pinned(struct worker *w, const struct cc_view *v,
			 const unsigned char *copy, unsigned k)
{
	if (copy != NULL && memcmp(v->value, copy, v->value_len) == 0) {
		verify(w, v, k);
		return;
	}
	w->mismatches++;
	problem(w, "pinned bytes changed", k, 0);
}

static void test_ref_across_churn(void **state)
{
	struct shared sh;
	struct worker w[3];
	pthread_t th[2];
	struct cc_thread *t;
	struct cc_view va, vb;
	unsigned char *ca, *cb, buf[REC_MAX];
	struct cc_stats s0, s1;
	uint64_t rng = 77;
	unsigned long quiescent = 0;

	(void)state;
	create_cache(&sh);
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < 3; i++) {
		w[i].sh = &sh;
		w[i].id = i;
	}
	/* This thread seeds two keys and pins them: A twice, B once; then
	 * the writers start. */
	assert_int_equal(cc_thread_register(sh.c, &t), 0);
	for (unsigned k = 0; k < 2; k++) {
		struct cc_store_req r;
		char key[32];
		size_t klen;

		key_name(key, sizeof(key), k, &klen);
		make_record(buf, 1500 + k, k, 2, k);
		memset(&r, 0, sizeof(r));
		r.mode = CC_SET;
		r.key = key;
		r.key_len = klen;
		r.value = buf;
		r.value_len = 1500 + k;
		r.flags = k;
		assert_int_equal(store_retry(&w[2], t, &r), 0);
	}
	ca = pin(&w[2], t, 0, &va);
	cb = pin(&w[2], t, 1, &vb);
	assert_non_null(ca);
	assert_non_null(cb);
	cc_ref_get(t, &va);
	cc_thread_quiescent(t);
	cc_stats_read(sh.c, &s0);
	atomic_store_explicit(&sh.pinned, true, memory_order_release);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer_main,
						&w[i]), 0);

	/* Pass many quiescent points while the writers churn. */
	while (atomic_load_explicit(&sh.writers_done, memory_order_acquire) <
	       2) {
		read_single(&w[2], t, &rng);
		quiescent++;
		if (quiescent % 256 == 0) {
			check_pinned(&w[2], &va, ca, 0);
			check_pinned(&w[2], &vb, cb, 1);
		}
		sched_yield();
	}
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	check_pinned(&w[2], &va, ca, 0);
	check_pinned(&w[2], &vb, cb, 1);
	cc_ref_put(sh.c, &vb);
	cc_ref_put(sh.c, &va);

	/* A keeps one reference: churn alone, then check it again. */
	sh.ops = 8 * STRESS_LIMIT / 1000;
	for (unsigned long i = 0; i < sh.ops; i++)
		write_one(&w[2], t, &rng, (uint32_t)i, buf);
	check_pinned(&w[2], &va, ca, 0);
	stress_cache = sh.c;
	assert_int_equal(pthread_create(&th[0], NULL, put_ref_main, &va), 0);
	assert_int_equal(pthread_join(th[0], NULL), 0);
	for (unsigned long i = 0; i < sh.ops; i++)
		write_one(&w[2], t, &rng, (uint32_t)(i + sh.ops), buf);
	cc_stats_read(sh.c, &s1);
	cc_thread_unregister(t);
	report(w, 3);
	print_message("  quiescent points while pinned %lu, segments "
		      "evicted meanwhile %" PRIu64 " of %" PRIu64 "\n",
		      quiescent, s1.segments_evicted - s0.segments_evicted,
		      s1.segments_total);

	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(w[i].mismatches, 0);
		assert_int_equal(w[i].errors, 0);
	}
	assert_true(w[2].verified > 0);
	assert_true(quiescent > 0);
	/* The pool turned over more than twice around the pinned ones. */
	assert_true(s1.segments_evicted - s0.segments_evicted >
		    2 * s1.segments_total);
	free(ca);
	free(cb);
	cc_destroy(sh.c);
}

/* ---- read-modify-write atomicity ---- */

#define RMW_THREADS 4u
#define RMW_APPENDS 100u
#define LOG_KEY 0u

static const char ctr_key[] = "rmw:incr";
static const char cas_key[] = "rmw:cas";
static const char log_key[] = "rmw:log";

/* Capped so that every version fits the cache: no eviction may hide a
 * lost update. */
static unsigned long rmw_iterations(void)
{
	unsigned long n = ops_per_writer() / 15 + 1;

	return n < 100000 ? n : 100000;
}

/* Adds one to cas_key with gets + cas, retrying when another thread won. */
static void cas_increment(struct worker *w, struct cc_thread *t)
{
	for (;;) {
		struct cc_store_req r;
		struct cc_view v;
		char num[32];
		unsigned long long n;
		int rc = cc_get(t, cas_key, sizeof(cas_key) - 1, &v);
		size_t len;

		if (rc != 0 || v.value_len == 0 || v.value_len >= sizeof(num)) {
			cc_thread_quiescent(t);
			w->errors++;
			problem(w, "cas counter unreadable", 1, rc);
			return;
		}
		memcpy(num, v.value, v.value_len);
		num[v.value_len] = '\0';
		n = strtoull(num, NULL, 10);
		len = (size_t)snprintf(num, sizeof(num), "%llu", n + 1);
		memset(&r, 0, sizeof(r));
		r.mode = CC_CAS;
		r.key = cas_key;
		r.key_len = sizeof(cas_key) - 1;
		r.value = num;
		r.value_len = len;
		r.cas = v.cas;
		cc_thread_quiescent(t);
		rc = store_retry(w, t, &r);
		if (rc == 0)
			return;
		if (rc != -ESTALE) {
			w->errors++;
			problem(w, "cas store failed", 1, rc);
			return;
		}
	}
}

static void *rmw_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	unsigned char rec[REC_MIN];
	struct cc_thread *t;
	int rc = cc_thread_register(sh->c, &t);

	if (rc != 0) {
		w->errors++;
		problem(w, "register failed", 0, rc);
		return NULL;
	}
	for (unsigned long i = 0; i < sh->ops; i++) {
		struct cc_arith_req incr = {
			.key = ctr_key, .key_len = sizeof(ctr_key) - 1,
			.delta = 1,
		};
		uint64_t n;

		do {
			rc = cc_arith(t, &incr, &n, NULL);
			cc_thread_quiescent(t);
		} while (rc == -ENOMEM);
		if (rc != 0) {
			w->errors++;
			problem(w, "incr failed", 0, rc);
		}
		cas_increment(w, t);
		if (i < RMW_APPENDS) {
			struct cc_store_req r;

			make_record(rec, REC_MIN, LOG_KEY, w->id, (uint32_t)i);
			memset(&r, 0, sizeof(r));
			r.mode = CC_APPEND;
			r.key = log_key;
			r.key_len = sizeof(log_key) - 1;
			r.value = rec;
			r.value_len = REC_MIN;
			rc = store_retry(w, t, &r);
			if (rc != 0) {
				w->errors++;
				problem(w, "append failed", LOG_KEY, rc);
			}
		}
	}
	cc_thread_unregister(t);
	return NULL;
}

static uint64_t read_number(struct cc_thread *t, const char *key)
{
	struct cc_view v;
	char num[32];

	assert_int_equal(cc_get(t, key, strlen(key), &v), 0);
	assert_true(v.value_len > 0 && v.value_len < sizeof(num));
	memcpy(num, v.value, v.value_len);
	num[v.value_len] = '\0';
	cc_thread_quiescent(t);
	return strtoull(num, NULL, 10);
}

/* The log holds every append exactly once, each writer's in order. */
static void check_log(struct cc_thread *t, struct worker *w)
{
	uint32_t next[RMW_THREADS + 1] = { 0 };
	const unsigned char *p;
	struct cc_view v;

	assert_int_equal(cc_get(t, log_key, sizeof(log_key) - 1, &v), 0);
	verify(w, &v, LOG_KEY);
	assert_int_equal(w->mismatches, 0);
	assert_int_equal(v.value_len, (RMW_THREADS * RMW_APPENDS + 1) * REC_MIN);
	p = v.value;
	for (uint32_t off = 0; off < v.value_len; off += REC_MIN) {
		unsigned writer = record_writer(p + off);

		assert_true(writer <= RMW_THREADS);
		assert_int_equal(record_seq(p + off), next[writer]);
		next[writer]++;
	}
	cc_thread_quiescent(t);
}

static void test_atomic_updates(void **state)
{
	struct shared sh;
	struct worker w[RMW_THREADS + 1];
	pthread_t th[RMW_THREADS];
	unsigned char rec[REC_MIN];
	struct cc_store_req r;
	struct cc_params p;
	struct cc_thread *t;
	struct cc_stats s;

	(void)state;
	/* Room for every version: nothing is evicted, so every update
	 * must be in the final values. */
	cc_params_init(&p);
	p.memory_limit = (size_t)32 << 20;
	p.item_max = (size_t)64 << 10;
	p.segment_size = (size_t)256 << 10;
	p.max_threads = 8;
	p.hugepages = false;
	memset(&sh, 0, sizeof(sh));
	assert_int_equal(cc_create(&p, &sh.c), 0);
	sh.ops = rmw_iterations();
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i <= RMW_THREADS; i++) {
		w[i].sh = &sh;
		w[i].id = i;
	}

	assert_int_equal(cc_thread_register(sh.c, &t), 0);
	memset(&r, 0, sizeof(r));
	r.mode = CC_SET;
	r.key = ctr_key;
	r.key_len = sizeof(ctr_key) - 1;
	r.value = "0";
	r.value_len = 1;
	assert_int_equal(cc_store(t, &r, NULL), 0);
	r.key = cas_key;
	r.key_len = sizeof(cas_key) - 1;
	assert_int_equal(cc_store(t, &r, NULL), 0);
	make_record(rec, REC_MIN, LOG_KEY, RMW_THREADS, 0);
	r.key = log_key;
	r.key_len = sizeof(log_key) - 1;
	r.value = rec;
	r.value_len = REC_MIN;
	assert_int_equal(cc_store(t, &r, NULL), 0);
	cc_thread_offline(t);

	for (unsigned i = 0; i < RMW_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, rmw_main, &w[i]),
				 0);
	for (unsigned i = 0; i < RMW_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	report(w, RMW_THREADS);
	for (unsigned i = 0; i < RMW_THREADS; i++)
		assert_int_equal(w[i].errors, 0);

	cc_thread_online(t);
	cc_stats_read(sh.c, &s);
	assert_int_equal(s.evictions, 0);
	assert_int_equal(s.index_evictions, 0);
	assert_int_equal(read_number(t, ctr_key), RMW_THREADS * sh.ops);
	assert_int_equal(read_number(t, cas_key), RMW_THREADS * sh.ops);
	assert_int_equal(s.cas_hits, RMW_THREADS * sh.ops);
	assert_int_equal(s.incr_hits, RMW_THREADS * sh.ops);
	check_log(t, &w[RMW_THREADS]);
	cc_thread_unregister(t);
	cc_destroy(sh.c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_writers),
		cmocka_unit_test(test_ref_across_churn),
		cmocka_unit_test(test_atomic_updates),
	};

	return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
