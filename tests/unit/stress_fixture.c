/*
 * The stress tests' fixture: the cache they share, and the helpers that
 * tally what each thread saw (declared, with their contracts, in
 * stress_fixture.h).
 *
 * It sits apart from test_stress.c so that the threads and the tests read
 * on their own: everything here is either configuration (how big, how many
 * operations) or bookkeeping (counting, retrying, reporting), none of it
 * the concurrency under test.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stress_fixture.h"
#include "stress_values.h"

/* Less work under ThreadSanitizer, which slows every memory access. */
#if defined(__SANITIZE_THREAD__)
#define STRESS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_TSAN 1
#endif
#endif

#ifdef STRESS_TSAN
#define STRESS_DEFAULT_OPS 100000u
#else
#define STRESS_DEFAULT_OPS 1000000u
#endif

#define ENOMEM_RETRIES 1000000ul

void key_name(char *buf, size_t size, unsigned k, size_t *len)
{
	int n = snprintf(buf, size, "stress:%04u", k);

	*len = (size_t)n;
}

void problem(struct worker *w, const char *what, unsigned key, int rc)
{
	if (w->first_problem[0] == '\0')
		snprintf(w->first_problem, sizeof(w->first_problem),
			 "thread %u key %u: %s (rc %d)", w->id, key, what, rc);
}

void verify(struct worker *w, const struct cc_view *v, unsigned key)
{
	const char *bad = check_value(v, key);

	if (bad == NULL) {
		w->verified++;
		return;
	}
	w->mismatches++;
	problem(w, bad, key, 0);
}

/* cc_store, retrying a transient -ENOMEM after a quiescent point. */
int store_retry(struct worker *w, struct cc_thread *t,
		const struct cc_store_req *r)
{
	for (unsigned long i = 0; i < ENOMEM_RETRIES; i++) {
		int rc = cc_store(t, r, NULL);

		cc_thread_quiescent(t);
		if (rc != -ENOMEM) {
			if (rc == 0)
				w->stores++;
			return rc;
		}
		w->enomem++;
		sched_yield();
	}
	return -ENOMEM;
}

unsigned long ops_per_writer(void)
{
	const char *env = getenv("CC_STRESS_OPS");

	if (env != NULL && *env != '\0')
		return strtoul(env, NULL, 10);
	return STRESS_DEFAULT_OPS;
}

void create_cache(struct shared *sh)
{
	struct cc_params p;

	cc_params_init(&p);
	p.memory_limit = STRESS_LIMIT;
	p.item_max = STRESS_ITEMMAX;
	p.segment_size = STRESS_SEGMENT;
	p.max_threads = 8;
	p.hugepages = false;
	memset(sh, 0, sizeof(*sh));
	assert_int_equal(cc_create(&p, &sh->c), 0);
	sh->ops = ops_per_writer();
	atomic_init(&sh->writers_done, 0);
	atomic_init(&sh->pinned, false);
}

/* Every key is absent or valid, checked from a thread of its own. */
void check_all_keys(struct shared *sh, struct worker *w)
{
	struct cc_thread *t;
	char key[32];
	size_t klen;

	assert_int_equal(cc_thread_register(sh->c, &t), 0);
	for (unsigned k = 0; k < NKEYS; k++) {
		struct cc_view v;
		int rc;

		key_name(key, sizeof(key), k, &klen);
		rc = cc_get(t, key, klen, &v);
		if (rc == 0)
			verify(w, &v, k);
		else
			assert_int_equal(rc, -ENOENT);
		cc_thread_quiescent(t);
	}
	cc_thread_unregister(t);
}

void report(const struct worker *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		print_message("  thread %u: verified %lu mismatches %lu "
			      "errors %lu enomem %lu stores %lu\n",
			      w[i].id, w[i].verified, w[i].mismatches,
			      w[i].errors, w[i].enomem, w[i].stores);
		if (w[i].first_problem[0] != '\0')
			print_message("    first problem: %s\n",
				      w[i].first_problem);
	}
}
