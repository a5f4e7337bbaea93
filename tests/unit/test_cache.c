/*
 * Unit tests of the corecache engine's public contract (cache/corecache.h).
 *
 * Every test runs against a small cache of its own (4 MiB in 32 segments of
 * 128 KiB, values up to 64 KiB) with a fake clock, so TTL and flush tests
 * move time by assignment instead of sleeping. One thread is registered;
 * the tests are single-threaded and call cc_thread_quiescent() after every
 * operation that leaves no view in use, because the engine cannot reuse a
 * segment until each online thread has passed a quiescent point.
 *
 * Where the header refers to memcached semantics (TTL rules, incr/decr
 * padding, flush_all, CAS) the tests check memcached's documented
 * behaviour. Boundaries that memcached itself treats loosely (the exact
 * second an item expires) are checked one second on either side.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "corecache.h"

/* A plausible "now" well above CC_TTL_RELATIVE_MAX, so relative and
 * absolute exptimes can be told apart. */
#define T0 1700000000u

#define SMALL_LIMIT   ((size_t)4 << 20)
#define SMALL_ITEMMAX ((size_t)64 << 10)
#define SMALL_SEGMENT ((size_t)128 << 10)

struct fx {
	struct cc_params p;
	struct cc_cache *c;
	struct cc_thread *t;
	uint32_t now;
};

/* ---- fixture ---- */

static uint32_t fake_clock(void *arg)
{
	const struct fx *f = arg;

	return f->now;
}

static void small_params(struct fx *f)
{
	cc_params_init(&f->p);
	f->p.memory_limit = SMALL_LIMIT;
	f->p.item_max = SMALL_ITEMMAX;
	f->p.segment_size = SMALL_SEGMENT;
	f->p.max_threads = 4;
	f->p.hugepages = false;
	f->p.clock = fake_clock;
	f->p.clock_arg = f;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = T0;
	small_params(f);
	assert_int_equal(cc_create(&f->p, &f->c), 0);
	assert_int_equal(cc_thread_register(f->c, &f->t), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	cc_thread_unregister(f->t);
	cc_destroy(f->c);
	free(f);
	return 0;
}

/* ---- helpers (functions: a failed assertion ends the test) ---- */

static struct cc_store_req req_bin(enum cc_store_mode mode, const void *key,
				   size_t key_len, const void *val,
				   size_t val_len)
{
	struct cc_store_req r;

	memset(&r, 0, sizeof(r));
	r.mode = mode;
	r.key = key;
	r.key_len = key_len;
	r.value = val;
	r.value_len = val_len;
	return r;
}

static struct cc_store_req req_str(enum cc_store_mode mode, const char *key,
				   const char *val)
{
	return req_bin(mode, key, strlen(key), val, strlen(val));
}

/* Stores and passes a quiescent point; returns cc_store's result. */
static int store_q(struct fx *f, const struct cc_store_req *r, uint64_t *cas)
{
	int rc = cc_store(f->t, r, cas);

	cc_thread_quiescent(f->t);
	return rc;
}

static void set_ok(struct fx *f, const char *key, const char *val)
{
	struct cc_store_req r = req_str(CC_SET, key, val);

	assert_int_equal(store_q(f, &r, NULL), 0);
}

/* Returns the item's metadata; the value pointer is cleared because the
 * view ends at the quiescent point taken here. */
static struct cc_view meta_of(struct fx *f, const char *key)
{
	struct cc_view v;

	assert_int_equal(cc_get(f->t, key, strlen(key), &v), 0);
	cc_thread_quiescent(f->t);
	v.value = NULL;
	return v;
}

static void expect_bin(struct fx *f, const void *key, size_t key_len,
		       const void *val, size_t len)
{
	struct cc_view v;

	assert_int_equal(cc_get(f->t, key, key_len, &v), 0);
	if (v.value_len != len ||
	    (len > 0 && memcmp(v.value, val, len) != 0))
		print_error("key \"%.*s\": got %u bytes \"%.*s\", expected "
			    "%zu bytes \"%.*s\"\n", (int)key_len,
			    (const char *)key, v.value_len,
			    (int)(v.value_len < 64 ? v.value_len : 64),
			    (const char *)v.value, len,
			    (int)(len < 64 ? len : 64), (const char *)val);
	assert_int_equal(v.value_len, len);
	if (len > 0)
		assert_memory_equal(v.value, val, len);
	cc_thread_quiescent(f->t);
}

static void expect_str(struct fx *f, const char *key, const char *val)
{
	expect_bin(f, key, strlen(key), val, strlen(val));
}

static void expect_absent(struct fx *f, const char *key)
{
	struct cc_view v;

	assert_int_equal(cc_get(f->t, key, strlen(key), &v), -ENOENT);
	cc_thread_quiescent(f->t);
}

static struct cc_stats stats_of(struct fx *f)
{
	struct cc_stats s;

	cc_stats_read(f->c, &s);
	return s;
}

/* Deterministic bytes for a value, different for each seed. */
static void fill_pattern(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)(x >> 24);
	}
}

static void assert_within_limit(struct fx *f)
{
	struct cc_stats s = stats_of(f);

	assert_true(s.segments_free <= s.segments_total);
	assert_true((s.segments_total - s.segments_free) * s.segment_size <=
		    s.limit_bytes);
	assert_true(s.limit_bytes <= f->p.memory_limit);
}

/*
 * Stores count unique keys "<prefix>:<i>" (i from first) with vlen-byte
 * pattern values, passing a quiescent point after each store and checking
 * the memory bound every 1000 stores. With hot_every nonzero, every
 * hot_every-th item is read once after its store, so eviction has items
 * to keep (merges write segments too). Returns how many stores failed
 * with -ENOMEM; any other failure ends the test.
 */
static unsigned fill_ex(struct fx *f, const char *prefix, unsigned first,
			unsigned count, size_t vlen, unsigned hot_every)
{
	unsigned char *val = malloc(vlen);
	unsigned enomem = 0;
	char key[64];

	assert_non_null(val);
	for (unsigned i = first; i < first + count; i++) {
		int n = snprintf(key, sizeof(key), "%s:%u", prefix, i);
		struct cc_store_req r;
		struct cc_view v;
		int rc;

		fill_pattern(val, vlen, i);
		r = req_bin(CC_SET, key, (size_t)n, val, vlen);
		rc = store_q(f, &r, NULL);
		if (rc == -ENOMEM)
			enomem++;
		else
			assert_int_equal(rc, 0);
		if (rc == 0 && hot_every != 0 && i % hot_every == 0) {
			assert_int_equal(cc_get(f->t, key, (size_t)n, &v), 0);
			cc_thread_quiescent(f->t);
		}
		if ((i - first) % 1000 == 999)
			assert_within_limit(f);
	}
	free(val);
	return enomem;
}

static unsigned fill(struct fx *f, const char *prefix, unsigned first,
		     unsigned count, size_t vlen)
{
	return fill_ex(f, prefix, first, count, vlen, 0);
}

/* Stores and pins n values with ~100 KB of other items between them, so
 * the pinned bytes lie at different offsets and in different segments
 * (a reused segment need not be written everywhere, nor at once). */
static void pin_spread(struct fx *f, unsigned n, size_t vlen,
		       struct cc_view *v, unsigned char **want)
{
	for (unsigned i = 0; i < n; i++) {
		struct cc_store_req r;
		char key[32];
		int len = snprintf(key, sizeof(key), "pin:%u", i);

		want[i] = malloc(vlen);
		assert_non_null(want[i]);
		fill_pattern(want[i], vlen, 4242 + i);
		r = req_bin(CC_SET, key, (size_t)len, want[i], vlen);
		assert_int_equal(store_q(f, &r, NULL), 0);
		assert_int_equal(cc_get(f->t, key, (size_t)len, &v[i]), 0);
		cc_ref_get(f->t, &v[i]);
		cc_thread_quiescent(f->t);
		assert_int_equal(fill(f, "gap", i * 100, 100, 1000), 0);
	}
}

static void expect_pinned(unsigned n, size_t vlen, const struct cc_view *v,
			  unsigned char **want)
{
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(v[i].value_len, vlen);
		assert_memory_equal(v[i].value, want[i], vlen);
	}
}

static void expect_filled(struct fx *f, const char *prefix, unsigned i,
			  size_t vlen)
{
	unsigned char *val = malloc(vlen);
	char key[64];
	int n = snprintf(key, sizeof(key), "%s:%u", prefix, i);

	assert_non_null(val);
	fill_pattern(val, vlen, i);
	expect_bin(f, key, (size_t)n, val, vlen);
	free(val);
}

/* ---- keys and values ---- */

static void test_set_get_roundtrip(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "alpha", "hello world");
	struct cc_view v;
	uint64_t cas = 0;

	r.flags = 0xdeadbeef;
	assert_int_equal(store_q(f, &r, &cas), 0);
	assert_int_not_equal(cas, 0);
	assert_int_equal(cc_get(f->t, "alpha", 5, &v), 0);
	assert_int_equal(v.value_len, 11);
	assert_memory_equal(v.value, "hello world", 11);
	assert_int_equal(v.flags, 0xdeadbeef);
	assert_int_equal(v.cas, cas);
	assert_int_equal(v.expiry, 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "alph");
	expect_absent(f, "alphaa");
	assert_int_equal(cc_now(f->c), T0);
}

static void test_overwrite(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "k", "first");
	uint64_t c1, c2;

	r.flags = 1;
	assert_int_equal(store_q(f, &r, &c1), 0);
	r = req_str(CC_SET, "k", "second, longer value");
	r.flags = 2;
	assert_int_equal(store_q(f, &r, &c2), 0);
	assert_int_not_equal(c1, c2);
	expect_str(f, "k", "second, longer value");
	assert_int_equal(meta_of(f, "k").flags, 2);
	assert_int_equal(stats_of(f).curr_items, 1);
}

static void test_empty_value(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_bin(CC_SET, "empty", 5, "", 0);
	struct cc_view v;

	r.flags = 42;
	assert_int_equal(store_q(f, &r, NULL), 0);
	assert_int_equal(cc_get(f->t, "empty", 5, &v), 0);
	assert_int_equal(v.value_len, 0);
	assert_int_equal(v.flags, 42);
	cc_thread_quiescent(f->t);
}

static void test_key_lengths(void **state)
{
	struct fx *f = *state;
	char key[CC_KEY_MAX + 2];
	struct cc_store_req r;
	struct cc_view v;
	uint64_t n;

	memset(key, 'k', sizeof(key));
	r = req_bin(CC_SET, key, 1, "one", 3);
	assert_int_equal(store_q(f, &r, NULL), 0);
	r = req_bin(CC_SET, key, CC_KEY_MAX, "max", 3);
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_bin(f, key, 1, "one", 3);
	expect_bin(f, key, CC_KEY_MAX, "max", 3);

	/* Empty and overlong keys are refused by every operation. */
	r = req_bin(CC_SET, key, 0, "x", 1);
	assert_int_equal(store_q(f, &r, NULL), -EINVAL);
	r = req_bin(CC_SET, key, CC_KEY_MAX + 1, "x", 1);
	assert_int_equal(store_q(f, &r, NULL), -ENAMETOOLONG);
	assert_int_equal(cc_get(f->t, key, 0, &v), -EINVAL);
	assert_int_equal(cc_get(f->t, key, CC_KEY_MAX + 1, &v), -ENAMETOOLONG);
	assert_int_equal(cc_delete(f->t, key, 0, 0), -EINVAL);
	assert_int_equal(cc_delete(f->t, key, CC_KEY_MAX + 1, 0),
			 -ENAMETOOLONG);
	assert_int_equal(cc_touch(f->t, key, 0, 10), -EINVAL);
	assert_int_equal(cc_touch(f->t, key, CC_KEY_MAX + 1, 10),
			 -ENAMETOOLONG);
	assert_int_equal(cc_get_touch(f->t, key, 0, 10, &v), -EINVAL);
	assert_int_equal(cc_get_touch(f->t, key, CC_KEY_MAX + 1, 10, &v),
			 -ENAMETOOLONG);
	assert_int_equal(cc_arith(f->t, key, 0, false, 1, &n, NULL), -EINVAL);
	assert_int_equal(cc_arith(f->t, key, CC_KEY_MAX + 1, false, 1, &n,
				  NULL), -ENAMETOOLONG);
	cc_thread_quiescent(f->t);
	assert_int_equal(stats_of(f).curr_items, 2);
}

static void test_value_sizes(void **state)
{
	struct fx *f = *state;
	unsigned char *val = malloc(SMALL_ITEMMAX + 1);
	char key[CC_KEY_MAX];
	struct cc_store_req r;

	assert_non_null(val);
	fill_pattern(val, SMALL_ITEMMAX + 1, 7);
	memset(key, 'b', sizeof(key));
	/* The largest value fits even under the longest key. */
	r = req_bin(CC_SET, key, CC_KEY_MAX, val, SMALL_ITEMMAX);
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_bin(f, key, CC_KEY_MAX, val, SMALL_ITEMMAX);
	r = req_bin(CC_SET, "big", 3, val, SMALL_ITEMMAX + 1);
	assert_int_equal(store_q(f, &r, NULL), -E2BIG);
	expect_absent(f, "big");
	r.mode = CC_ADD;
	assert_int_equal(store_q(f, &r, NULL), -E2BIG);
	free(val);
}

static void test_binary_keys_values(void **state)
{
	struct fx *f = *state;
	static const char k1[] = { 'a', '\0', 'b', ' ', 'c', '\r', '\n' };
	static const char k2[] = { 'a', '\0', 'b', ' ', 'c', '\r', '\0' };
	static const char v1[] = { '\0', '\0', 'x', ' ', '\0', '\n', '\xff' };
	static const char v2[] = { ' ', '\0' };
	struct cc_store_req r;

	r = req_bin(CC_SET, k1, sizeof(k1), v1, sizeof(v1));
	assert_int_equal(store_q(f, &r, NULL), 0);
	r = req_bin(CC_SET, k2, sizeof(k2), v2, sizeof(v2));
	assert_int_equal(store_q(f, &r, NULL), 0);
	/* "a" and "a\0" are different keys from "a\0b...". */
	r = req_bin(CC_SET, "a", 1, "A", 1);
	assert_int_equal(store_q(f, &r, NULL), 0);
	r = req_bin(CC_SET, "a\0", 2, "A0", 2);
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_bin(f, k1, sizeof(k1), v1, sizeof(v1));
	expect_bin(f, k2, sizeof(k2), v2, sizeof(v2));
	expect_bin(f, "a", 1, "A", 1);
	expect_bin(f, "a\0", 2, "A0", 2);
	assert_int_equal(cc_delete(f->t, k1, sizeof(k1), 0), 0);
	cc_thread_quiescent(f->t);
	expect_bin(f, k2, sizeof(k2), v2, sizeof(v2));
}

static void test_get_bulk(void **state)
{
	struct fx *f = *state;
	enum { N = 100 };
	struct cc_key keys[N + 2];
	struct cc_view views[N + 2];
	int results[N + 2];
	char names[N][16];
	char vals[N][16];
	struct cc_stats s0, s1;

	for (unsigned i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "bulk%u", i);
		snprintf(vals[i], sizeof(vals[i]), "value-%u", i * 3);
		keys[i].data = names[i];
		keys[i].len = strlen(names[i]);
		if (i % 3 != 1)
			set_ok(f, names[i], vals[i]);
	}
	s0 = stats_of(f);
	assert_int_equal(cc_get_bulk(f->t, N, keys, views, results),
			 N - N / 3);
	for (unsigned i = 0; i < N; i++) {
		if (i % 3 == 1) {
			assert_int_equal(results[i], -ENOENT);
			continue;
		}
		assert_int_equal(results[i], 0);
		assert_int_equal(views[i].value_len, strlen(vals[i]));
		assert_memory_equal(views[i].value, vals[i], strlen(vals[i]));
	}
	cc_thread_quiescent(f->t);
	s1 = stats_of(f);
	assert_int_equal(s1.get_cmds - s0.get_cmds, N);
	assert_int_equal(s1.get_hits - s0.get_hits, N - N / 3);
	assert_int_equal(s1.get_misses - s0.get_misses, N / 3);

	/* n = 0 looks up nothing. */
	assert_int_equal(cc_get_bulk(f->t, 0, keys, views, results), 0);

	/* Bad keys fail alone; a key may repeat. */
	keys[0].len = 0;
	keys[1].data = names[2];
	keys[1].len = strlen(names[2]);
	keys[2].len = CC_KEY_MAX + 1;
	keys[3].data = names[2];
	keys[3].len = strlen(names[2]);
	assert_int_equal(cc_get_bulk(f->t, 4, keys, views, results), 2);
	assert_int_equal(results[0], -EINVAL);
	assert_int_equal(results[1], 0);
	assert_int_equal(results[2], -ENAMETOOLONG);
	assert_int_equal(results[3], 0);
	assert_memory_equal(views[1].value, vals[2], strlen(vals[2]));
	assert_memory_equal(views[3].value, vals[2], strlen(vals[2]));
	cc_thread_quiescent(f->t);
}

/* ---- store modes ---- */

static void test_add(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_ADD, "a", "one");
	struct cc_stats s0 = stats_of(f);

	assert_int_equal(store_q(f, &r, NULL), 0);
	r = req_str(CC_ADD, "a", "two");
	assert_int_equal(store_q(f, &r, NULL), -EEXIST);
	expect_str(f, "a", "one");
	assert_int_equal(stats_of(f).store_refused - s0.store_refused, 1);

	/* An expired item counts as absent. */
	r = req_str(CC_SET, "e", "old");
	r.exptime = 10;
	assert_int_equal(store_q(f, &r, NULL), 0);
	f->now += 11;
	r = req_str(CC_ADD, "e", "new");
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_str(f, "e", "new");
	/* So does a deleted one. */
	assert_int_equal(cc_delete(f->t, "a", 1, 0), 0);
	r = req_str(CC_ADD, "a", "three");
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_str(f, "a", "three");
}

static void test_replace(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_REPLACE, "r", "x");

	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	expect_absent(f, "r");
	set_ok(f, "r", "before");
	r = req_str(CC_REPLACE, "r", "after");
	r.flags = 5;
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_str(f, "r", "after");
	assert_int_equal(meta_of(f, "r").flags, 5);

	r = req_str(CC_SET, "e", "old");
	r.exptime = 10;
	assert_int_equal(store_q(f, &r, NULL), 0);
	f->now += 11;
	r = req_str(CC_REPLACE, "e", "new");
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	expect_absent(f, "e");
}

static void test_append_prepend(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "ap", "middle");
	uint64_t c0, c1, c2;
	struct cc_view m;

	r.flags = 7;
	r.exptime = 100;
	assert_int_equal(store_q(f, &r, &c0), 0);
	r = req_str(CC_APPEND, "ap", "-tail");
	r.flags = 9;      /* ignored: flags and TTL are kept */
	r.exptime = 5;
	assert_int_equal(store_q(f, &r, &c1), 0);
	r = req_str(CC_PREPEND, "ap", "head-");
	r.flags = 11;
	r.exptime = -1;
	assert_int_equal(store_q(f, &r, &c2), 0);
	expect_str(f, "ap", "head-middle-tail");
	m = meta_of(f, "ap");
	assert_int_equal(m.flags, 7);
	assert_int_equal(m.expiry, T0 + 100);
	assert_int_equal(m.cas, c2);
	assert_int_not_equal(c0, c1);
	assert_int_not_equal(c1, c2);
	assert_int_not_equal(c0, c2);
	f->now += 50;
	expect_str(f, "ap", "head-middle-tail");

	r = req_str(CC_APPEND, "none", "x");
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	r.mode = CC_PREPEND;
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	expect_absent(f, "none");

	/* An empty value appends nothing but still makes a new version. */
	r = req_bin(CC_APPEND, "ap", 2, "", 0);
	assert_int_equal(store_q(f, &r, &c0), 0);
	assert_int_not_equal(c0, c2);
	expect_str(f, "ap", "head-middle-tail");
}

static void test_append_too_big(void **state)
{
	struct fx *f = *state;
	unsigned char *val = malloc(SMALL_ITEMMAX);
	struct cc_store_req r;

	assert_non_null(val);
	fill_pattern(val, SMALL_ITEMMAX, 3);
	r = req_bin(CC_SET, "big", 3, val, SMALL_ITEMMAX - 2);
	assert_int_equal(store_q(f, &r, NULL), 0);
	r = req_bin(CC_APPEND, "big", 3, val + SMALL_ITEMMAX - 3, 3);
	assert_int_equal(store_q(f, &r, NULL), -E2BIG);
	r.mode = CC_PREPEND;
	assert_int_equal(store_q(f, &r, NULL), -E2BIG);
	expect_bin(f, "big", 3, val, SMALL_ITEMMAX - 2);
	/* Exactly item_max is fine. */
	r = req_bin(CC_APPEND, "big", 3, val + SMALL_ITEMMAX - 2, 2);
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_bin(f, "big", 3, val, SMALL_ITEMMAX);
	free(val);
}

/* ---- CAS ---- */

static void test_cas(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "c", "v1");
	struct cc_stats s0 = stats_of(f), s1;
	uint64_t c1, c2;

	assert_int_equal(store_q(f, &r, &c1), 0);
	assert_int_equal(meta_of(f, "c").cas, c1);
	r = req_str(CC_CAS, "c", "v2");
	r.cas = c1;
	r.flags = 3;
	assert_int_equal(store_q(f, &r, &c2), 0);
	assert_int_not_equal(c2, c1);
	expect_str(f, "c", "v2");
	assert_int_equal(meta_of(f, "c").cas, c2);
	assert_int_equal(meta_of(f, "c").flags, 3);

	/* The old CAS no longer matches. */
	r = req_str(CC_CAS, "c", "v3");
	r.cas = c1;
	assert_int_equal(store_q(f, &r, NULL), -ESTALE);
	expect_str(f, "c", "v2");
	r = req_str(CC_CAS, "absent", "v");
	r.cas = c2;
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	expect_absent(f, "absent");

	s1 = stats_of(f);
	assert_int_equal(s1.cas_hits - s0.cas_hits, 1);
	assert_int_equal(s1.cas_badval - s0.cas_badval, 1);
	assert_int_equal(s1.cas_misses - s0.cas_misses, 1);
}

static void test_expired_is_absent(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "e", "5");
	uint64_t cas, n;

	/* Once expired, an item is absent to every operation. */
	r.exptime = 10;
	assert_int_equal(store_q(f, &r, &cas), 0);
	f->now += 11;
	r = req_str(CC_CAS, "e", "6");
	r.cas = cas;
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	r.mode = CC_APPEND;
	assert_int_equal(store_q(f, &r, NULL), -ENOENT);
	assert_int_equal(cc_arith(f->t, "e", 1, false, 1, &n, NULL), -ENOENT);
	assert_int_equal(cc_delete(f->t, "e", 1, 0), -ENOENT);
	assert_int_equal(cc_delete(f->t, "e", 1, cas), -ENOENT);
	cc_thread_quiescent(f->t);
	expect_absent(f, "e");
}

static void test_explicit_cas(void **state)
{
	struct fx *f = *state;
	const uint64_t want = 0x123456789abcull;
	struct cc_store_req r = req_str(CC_SET, "x", "v");
	uint64_t got = 0;

	r.new_cas = want;
	assert_int_equal(store_q(f, &r, &got), 0);
	assert_int_equal(got, want);
	assert_int_equal(meta_of(f, "x").cas, want);

	/* A CAS store may also carry the CAS of its new version. */
	r = req_str(CC_CAS, "x", "w");
	r.cas = want;
	r.new_cas = want + 1000;
	assert_int_equal(store_q(f, &r, &got), 0);
	assert_int_equal(got, want + 1000);
	assert_int_equal(meta_of(f, "x").cas, want + 1000);
	expect_str(f, "x", "w");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void test_cas_unique(void **state)
{
	struct fx *f = *state;
	enum { N = 10000 };
	uint64_t *cas = calloc(N, sizeof(*cas));
	char key[32], val[32];

	assert_non_null(cas);
	for (unsigned i = 0; i < N; i++) {
		/* Half to one key, half spread over 97 keys, some appends. */
		unsigned k = (i & 1) ? i % 97 : 1000;
		struct cc_store_req r;

		snprintf(key, sizeof(key), "u%u", k);
		snprintf(val, sizeof(val), "%u", i);
		r = req_str(i % 10 == 3 && i > 200 ? CC_APPEND : CC_SET, key,
			    val);
		assert_int_equal(store_q(f, &r, &cas[i]), 0);
		assert_int_not_equal(cas[i], 0);
		if (i % 101 == 0)
			assert_int_equal(meta_of(f, key).cas, cas[i]);
	}
	qsort(cas, N, sizeof(*cas), cmp_u64);
	for (unsigned i = 1; i < N; i++)
		assert_int_not_equal(cas[i - 1], cas[i]);
	free(cas);
}

static void test_touch(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "t", "val");
	struct cc_stats s0 = stats_of(f), s1;
	struct cc_view m;
	uint64_t c;

	r.exptime = 10;
	r.flags = 77;
	assert_int_equal(store_q(f, &r, &c), 0);
	assert_int_equal(cc_touch(f->t, "t", 1, 100), 0);
	cc_thread_quiescent(f->t);
	m = meta_of(f, "t");
	assert_int_equal(m.cas, c);
	assert_int_equal(m.expiry, T0 + 100);
	assert_int_equal(m.flags, 77);
	f->now += 50;
	expect_str(f, "t", "val");
	/* Touch to 0: never expires. */
	assert_int_equal(cc_touch(f->t, "t", 1, 0), 0);
	assert_int_equal(meta_of(f, "t").expiry, 0);
	f->now += 1000;
	expect_str(f, "t", "val");
	assert_int_equal(cc_touch(f->t, "nope", 4, 10), -ENOENT);
	cc_thread_quiescent(f->t);
	/* An expired item cannot be touched back to life. */
	r = req_str(CC_SET, "short", "v");
	r.exptime = 10;
	assert_int_equal(store_q(f, &r, NULL), 0);
	f->now += 11;
	assert_int_equal(cc_touch(f->t, "short", 5, 100), -ENOENT);
	cc_thread_quiescent(f->t);
	expect_absent(f, "short");
	s1 = stats_of(f);
	assert_int_equal(s1.touch_hits - s0.touch_hits, 2);
	assert_int_equal(s1.touch_misses - s0.touch_misses, 2);
}

static void test_get_touch(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "g", "gat-value");
	struct cc_view v;
	uint64_t c;

	r.exptime = 10;
	r.flags = 12;
	assert_int_equal(store_q(f, &r, &c), 0);
	f->now += 5;
	assert_int_equal(cc_get_touch(f->t, "g", 1, 100, &v), 0);
	assert_int_equal(v.value_len, 9);
	assert_memory_equal(v.value, "gat-value", 9);
	assert_int_equal(v.cas, c);
	assert_int_equal(v.flags, 12);
	assert_int_equal(v.expiry, T0 + 5 + 100);
	cc_thread_quiescent(f->t);
	f->now += 50;  /* past the first TTL, inside the new one */
	expect_str(f, "g", "gat-value");
	assert_int_equal(meta_of(f, "g").cas, c);
	assert_int_equal(cc_get_touch(f->t, "zz", 2, 100, &v), -ENOENT);
	cc_thread_quiescent(f->t);
}

/* ---- delete ---- */

static void test_delete(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0 = stats_of(f), s1;
	uint64_t c;
	struct cc_store_req r = req_str(CC_SET, "d", "v");

	set_ok(f, "a", "1");
	assert_int_equal(stats_of(f).curr_items, 1);
	assert_int_equal(cc_delete(f->t, "a", 1, 0), 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "a");
	assert_int_equal(stats_of(f).curr_items, 0);
	assert_int_equal(cc_delete(f->t, "a", 1, 0), -ENOENT);

	assert_int_equal(store_q(f, &r, &c), 0);
	assert_int_equal(cc_delete(f->t, "d", 1, c + 1), -ESTALE);
	cc_thread_quiescent(f->t);
	expect_str(f, "d", "v");
	assert_int_equal(cc_delete(f->t, "d", 1, c), 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "d");
	assert_int_equal(cc_delete(f->t, "d", 1, c), -ENOENT);
	cc_thread_quiescent(f->t);

	s1 = stats_of(f);
	assert_int_equal(s1.delete_hits - s0.delete_hits, 2);
	assert_int_equal(s1.delete_misses - s0.delete_misses, 2);
}

/* ---- incr / decr ---- */

static void arith_ok(struct fx *f, const char *key, bool decr, uint64_t d,
		     uint64_t want)
{
	uint64_t got = ~want;

	assert_int_equal(cc_arith(f->t, key, strlen(key), decr, d, &got,
				  NULL), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(got, want);
}

static void test_arith_basic(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0 = stats_of(f), s1;
	uint64_t n;

	set_ok(f, "n", "10");
	arith_ok(f, "n", false, 5, 15);
	expect_str(f, "n", "15");
	arith_ok(f, "n", false, 85, 100);
	expect_str(f, "n", "100");  /* a longer result grows the value */
	arith_ok(f, "n", true, 1, 99);
	expect_str(f, "n", "99 ");  /* memcached pads to the old length */
	arith_ok(f, "n", true, 90, 9);
	expect_str(f, "n", "9  ");
	arith_ok(f, "n", false, 1, 10);  /* trailing spaces still parse */
	arith_ok(f, "n", true, 1000, 0);  /* decr stops at 0 */
	arith_ok(f, "n", true, 1, 0);
	arith_ok(f, "n", false, 0, 0);

	assert_int_equal(cc_arith(f->t, "gone", 4, false, 1, &n, NULL),
			 -ENOENT);
	assert_int_equal(cc_arith(f->t, "gone", 4, true, 1, &n, NULL),
			 -ENOENT);
	cc_thread_quiescent(f->t);
	expect_absent(f, "gone");

	set_ok(f, "s", "abc");
	assert_int_equal(cc_arith(f->t, "s", 1, false, 1, &n, NULL), -EDOM);
	set_ok(f, "s", "12ab");
	assert_int_equal(cc_arith(f->t, "s", 1, true, 1, &n, NULL), -EDOM);
	set_ok(f, "s", "-5");
	assert_int_equal(cc_arith(f->t, "s", 1, false, 1, &n, NULL), -EDOM);
	cc_thread_quiescent(f->t);
	expect_str(f, "s", "-5");

	s1 = stats_of(f);
	assert_int_equal(s1.incr_hits - s0.incr_hits, 4);
	assert_int_equal(s1.decr_hits - s0.decr_hits, 4);
	assert_int_equal(s1.incr_misses - s0.incr_misses, 1);
	assert_int_equal(s1.decr_misses - s0.decr_misses, 1);
}

static void test_arith_wrap(void **state)
{
	struct fx *f = *state;
	struct cc_view v;

	set_ok(f, "w", "18446744073709551614");
	arith_ok(f, "w", false, 1, UINT64_MAX);
	expect_str(f, "w", "18446744073709551615");
	arith_ok(f, "w", false, 1, 0);  /* incr wraps at 2^64 */
	assert_int_equal(cc_get(f->t, "w", 1, &v), 0);
	/* "0" padded with spaces to the old length of 20. */
	assert_int_equal(v.value_len, 20);
	assert_memory_equal(v.value, "0                   ", 20);
	cc_thread_quiescent(f->t);
	set_ok(f, "w", "18446744073709551615");
	arith_ok(f, "w", false, 10, 9);
	arith_ok(f, "w", true, 9, 0);
}

static void test_arith_padding(void **state)
{
	struct fx *f = *state;
	char longv[48];

	set_ok(f, "z", "007");
	arith_ok(f, "z", false, 1, 8);
	expect_str(f, "z", "8  ");
	/* Trailing spaces of any length parse, and the result keeps the
	 * old length however long it was. */
	memset(longv, ' ', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	longv[0] = '5';
	set_ok(f, "l", longv);
	arith_ok(f, "l", false, 1, 6);
	longv[0] = '6';
	expect_str(f, "l", longv);
}

static void test_arith_cas_flags_ttl(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_SET, "m", "41");
	uint64_t c0, c1 = 0, c2 = 0, n;
	struct cc_view m;

	r.flags = 99;
	r.exptime = 100;
	assert_int_equal(store_q(f, &r, &c0), 0);
	assert_int_equal(cc_arith(f->t, "m", 1, false, 1, &n, &c1), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(n, 42);
	assert_int_not_equal(c1, 0);
	assert_int_not_equal(c1, c0);
	assert_int_equal(cc_arith(f->t, "m", 1, true, 2, &n, &c2), 0);
	cc_thread_quiescent(f->t);
	assert_int_not_equal(c2, c1);
	m = meta_of(f, "m");
	assert_int_equal(m.cas, c2);
	assert_int_equal(m.flags, 99);
	assert_int_equal(m.expiry, T0 + 100);
	expect_str(f, "m", "40");
}

/* ---- TTL ---- */

static void store_ttl(struct fx *f, const char *key, int64_t exptime)
{
	struct cc_store_req r = req_str(CC_SET, key, "ttl-value");

	r.exptime = exptime;
	assert_int_equal(store_q(f, &r, NULL), 0);
}

static void test_ttl_relative(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0;

	store_ttl(f, "forever", 0);
	store_ttl(f, "ten", 10);
	assert_int_equal(meta_of(f, "forever").expiry, 0);
	assert_int_equal(meta_of(f, "ten").expiry, T0 + 10);
	f->now = T0 + 9;
	expect_str(f, "ten", "ttl-value");
	f->now = T0 + 11;
	s0 = stats_of(f);
	expect_absent(f, "ten");
	assert_int_equal(stats_of(f).get_misses - s0.get_misses, 1);
	assert_int_equal(stats_of(f).get_expired - s0.get_expired, 1);
	f->now = T0 + 10 * CC_TTL_RELATIVE_MAX;
	expect_str(f, "forever", "ttl-value");

	/* The largest relative TTL still counts from now. */
	store_ttl(f, "month", CC_TTL_RELATIVE_MAX);
	assert_int_equal(meta_of(f, "month").expiry,
			 f->now + CC_TTL_RELATIVE_MAX);
}

static void test_ttl_absolute(void **state)
{
	struct fx *f = *state;

	store_ttl(f, "abs", (int64_t)T0 + 100);
	assert_int_equal(meta_of(f, "abs").expiry, T0 + 100);
	f->now = T0 + 99;
	expect_str(f, "abs", "ttl-value");
	f->now = T0 + 101;
	expect_absent(f, "abs");

	/* One past the relative maximum is an absolute time in 1970. */
	set_ok(f, "past", "old");
	store_ttl(f, "past", CC_TTL_RELATIVE_MAX + 1);
	expect_absent(f, "past");
	store_ttl(f, "past2", (int64_t)f->now - 100);
	expect_absent(f, "past2");
}

static void test_ttl_negative(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r;

	store_ttl(f, "neg", -1);
	expect_absent(f, "neg");
	set_ok(f, "existing", "value");
	assert_int_equal(stats_of(f).curr_items, 1);
	r = req_str(CC_SET, "existing", "replacement");
	r.exptime = -1;
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_absent(f, "existing");
	assert_int_equal(stats_of(f).curr_items, 0);
	/* Touching into the past also removes. */
	set_ok(f, "tp", "v");
	assert_int_equal(cc_touch(f->t, "tp", 2, -1), 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "tp");
}

/* ---- flush ---- */

static void test_flush_now(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0;

	set_ok(f, "a", "1");
	set_ok(f, "b", "2");
	cc_flush(f->t, 0);
	cc_thread_quiescent(f->t);
	s0 = stats_of(f);
	expect_absent(f, "a");
	assert_int_equal(stats_of(f).get_flushed - s0.get_flushed, 1);
	expect_absent(f, "b");
	/* Stored after the flush, in the same second: visible. */
	set_ok(f, "c", "3");
	expect_str(f, "c", "3");
	set_ok(f, "a", "again");
	expect_str(f, "a", "again");
	f->now += 5;
	expect_str(f, "c", "3");
	set_ok(f, "d", "4");
	expect_str(f, "d", "4");
}

static void test_flush_delayed(void **state)
{
	struct fx *f = *state;

	set_ok(f, "a", "1");
	cc_flush(f->t, 10);
	cc_thread_quiescent(f->t);
	f->now = T0 + 5;
	set_ok(f, "b", "2");  /* before the flush time: flushed too */
	f->now = T0 + 9;
	expect_str(f, "a", "1");
	expect_str(f, "b", "2");
	f->now = T0 + 11;
	expect_absent(f, "a");
	expect_absent(f, "b");
	set_ok(f, "c", "3");
	expect_str(f, "c", "3");
	f->now = T0 + 100;
	expect_str(f, "c", "3");
}

static void test_flush_replaced(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r;

	set_ok(f, "a", "1");
	cc_flush(f->t, 10);
	cc_flush(f->t, 100);  /* replaces the pending flush */
	cc_thread_quiescent(f->t);
	f->now = T0 + 50;
	expect_str(f, "a", "1");
	f->now = T0 + 101;
	expect_absent(f, "a");

	/* An immediate flush replaces a pending one as well. */
	set_ok(f, "b", "2");
	cc_flush(f->t, 100);
	cc_flush(f->t, 0);
	cc_thread_quiescent(f->t);
	expect_absent(f, "b");
	r = req_str(CC_ADD, "b", "added");
	assert_int_equal(store_q(f, &r, NULL), 0);
	f->now = T0 + 301;
	expect_str(f, "b", "added");
}

/* ---- statistics ---- */

static void test_stats_counters(void **state)
{
	struct fx *f = *state;
	struct cc_store_req r = req_str(CC_ADD, "s1", "dup");
	struct cc_stats s0 = stats_of(f), s1;
	struct cc_view v;

	assert_int_equal(s0.curr_items, 0);
	assert_int_equal(s0.curr_bytes, 0);
	assert_int_equal(s0.segment_size, SMALL_SEGMENT);
	assert_true(s0.segments_total >= 16);
	assert_true(s0.segments_total * s0.segment_size <= SMALL_LIMIT);
	assert_true(s0.limit_bytes <= SMALL_LIMIT);
	assert_true(s0.limit_bytes >= 16 * SMALL_SEGMENT);
	assert_true(s0.index_bytes > 0);
	assert_int_equal(s0.hugetlb, 0);

	set_ok(f, "s1", "one");
	set_ok(f, "s2", "two");
	set_ok(f, "s2", "two again");
	assert_int_equal(store_q(f, &r, NULL), -EEXIST);
	s1 = stats_of(f);
	assert_int_equal(s1.set_cmds - s0.set_cmds, 4);
	assert_int_equal(s1.store_refused - s0.store_refused, 1);
	assert_int_equal(s1.curr_items, 2);
	assert_true(s1.curr_bytes >= 3 + 9 + 2 + 2);

	assert_int_equal(cc_get(f->t, "s1", 2, &v), 0);
	assert_int_equal(cc_get(f->t, "s2", 2, &v), 0);
	assert_int_equal(cc_get(f->t, "s3", 2, &v), -ENOENT);
	cc_thread_quiescent(f->t);
	s1 = stats_of(f);
	assert_int_equal(s1.get_cmds - s0.get_cmds, 3);
	assert_int_equal(s1.get_hits - s0.get_hits, 2);
	assert_int_equal(s1.get_misses - s0.get_misses, 1);

	assert_int_equal(cc_delete(f->t, "s1", 2, 0), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(stats_of(f).curr_items, 1);
	assert_int_equal(cc_delete(f->t, "s2", 2, 0), 0);
	cc_thread_quiescent(f->t);
	s1 = stats_of(f);
	assert_int_equal(s1.curr_items, 0);
	assert_int_equal(s1.curr_bytes, 0);
	assert_int_equal(s1.evictions, 0);
	assert_int_equal(s1.out_of_memory, 0);
}

/* ---- memory ---- */

static void test_memory_limit(void **state)
{
	struct fx *f = *state;
	const size_t vlen = 1000;
	const unsigned n = (unsigned)(20 * SMALL_LIMIT / vlen);
	const unsigned tail = (unsigned)(SMALL_LIMIT / 10 / (vlen + 100));
	struct cc_stats s;

	assert_int_equal(fill(f, "mem", 0, n, vlen), 0);
	assert_within_limit(f);
	for (unsigned i = n - tail; i < n; i++)
		expect_filled(f, "mem", i, vlen);
	expect_absent(f, "mem:0");
	s = stats_of(f);
	assert_true(s.evictions > 0);
	assert_true(s.segments_evicted > 0);
	assert_int_equal(s.out_of_memory, 0);
	assert_true(s.curr_items * vlen <= s.limit_bytes);
	assert_true(s.curr_items >= tail);
	assert_true(s.curr_bytes <= s.limit_bytes);
}

static void test_ref_pins_segment(void **state)
{
	struct fx *f = *state;
	enum { NPIN = 4 };
	const size_t vlen = 3000;
	const unsigned per_limit = (unsigned)(SMALL_LIMIT / 1000);
	unsigned char *want[NPIN];
	struct cc_view v[NPIN];

	pin_spread(f, NPIN, vlen, v, want);
	/* Turn the whole pool over several times around the pinned ones,
	 * with some items read so that merges rewrite segments as well. */
	assert_int_equal(fill_ex(f, "churn", 0, 8 * per_limit, 1000, 3), 0);
	assert_true(stats_of(f).segments_evicted >
		    2 * stats_of(f).segments_total);
	assert_true(stats_of(f).merged_items > 0);
	expect_pinned(NPIN, vlen, v, want);
	for (unsigned i = 0; i < NPIN; i++)
		cc_ref_put(f->c, &v[i]);

	/* Released: filling goes on, and the bound still holds. */
	assert_int_equal(fill(f, "after", 0, 4 * per_limit, 1000), 0);
	expect_filled(f, "after", 4 * per_limit - 1, 1000);
	for (unsigned i = 0; i < NPIN; i++)
		free(want[i]);
}

static void test_ref_nested(void **state)
{
	struct fx *f = *state;
	enum { NPIN = 3 };
	const size_t vlen = 2000;
	const unsigned per_limit = (unsigned)(SMALL_LIMIT / 1000);
	unsigned char *want[NPIN];
	struct cc_view v[NPIN];

	/* Two references on each: after one put, the other still pins. */
	pin_spread(f, NPIN, vlen, v, want);
	for (unsigned i = 0; i < NPIN; i++)
		cc_ref_get(f->t, &v[i]);
	for (unsigned i = 0; i < NPIN; i++)
		cc_ref_put(f->c, &v[i]);
	assert_int_equal(fill_ex(f, "n", 0, 6 * per_limit, 1000, 3), 0);
	expect_pinned(NPIN, vlen, v, want);
	for (unsigned i = 0; i < NPIN; i++) {
		cc_ref_put(f->c, &v[i]);
		free(want[i]);
	}
	assert_int_equal(fill(f, "m", 0, 2 * per_limit, 1000), 0);
}

static void test_silent_thread_blocks_reuse(void **state)
{
	struct fx *f = *state;
	const unsigned per_limit = (unsigned)(SMALL_LIMIT / 1000);
	struct cc_thread *other;
	struct cc_store_req r;
	unsigned char want[2000];
	struct cc_view held;
	unsigned enomem;

	/* Another online thread holds a view and never passes a quiescent
	 * point: no segment may be reused, so stores end in -ENOMEM, never
	 * above the limit, and the held view stays intact. */
	fill_pattern(want, sizeof(want), 99);
	r = req_bin(CC_SET, "held", 4, want, sizeof(want));
	assert_int_equal(store_q(f, &r, NULL), 0);
	assert_int_equal(cc_thread_register(f->c, &other), 0);
	assert_int_equal(cc_get(other, "held", 4, &held), 0);
	enomem = fill(f, "blk", 0, 2 * per_limit, 1000);
	assert_true(enomem > 0);
	assert_int_equal(stats_of(f).out_of_memory, enomem);
	assert_within_limit(f);
	assert_int_equal(held.value_len, sizeof(want));
	assert_memory_equal(held.value, want, sizeof(want));

	/* Once it is offline, memory is reclaimed again. */
	cc_thread_offline(other);
	assert_int_equal(fill(f, "go", 0, 4 * per_limit, 1000), 0);
	cc_thread_online(other);
	cc_thread_quiescent(other);
	cc_thread_unregister(other);
	assert_int_equal(fill(f, "go2", 0, 2 * per_limit, 1000), 0);
	expect_filled(f, "go2", 2 * per_limit - 1, 1000);
}

static void test_maintain_expires(void **state)
{
	struct fx *f = *state;
	const unsigned n = (unsigned)(SMALL_LIMIT * 6 / 10 / 1000);
	unsigned char val[1000];
	struct cc_stats s0, s1;
	char key[32];
	unsigned i;

	for (i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "exp:%u", i);
		struct cc_store_req r;

		fill_pattern(val, sizeof(val), i);
		r = req_bin(CC_SET, key, (size_t)len, val, sizeof(val));
		r.exptime = 5;
		assert_int_equal(store_q(f, &r, NULL), 0);
	}
	s0 = stats_of(f);
	assert_true(s0.segments_total - s0.segments_free >= 8);
	f->now += 10;
	for (i = 0; i < 100; i++) {
		cc_maintain(f->t);
		cc_thread_quiescent(f->t);
		s1 = stats_of(f);
		if (s1.segments_free >= s0.segments_free + 8)
			break;
	}
	assert_true(s1.segments_free >= s0.segments_free + 8);
	assert_true(s1.expirations > s0.expirations ||
		    s1.segments_expired > s0.segments_expired);
	assert_int_equal(s1.evictions, 0);
	expect_absent(f, "exp:0");
	expect_absent(f, "exp:100");
	/* Reclaimed expired items leave the gauges. */
	for (i = 0; i < 100 && stats_of(f).curr_items > 0; i++) {
		cc_maintain(f->t);
		cc_thread_quiescent(f->t);
	}
	assert_true(stats_of(f).curr_items < n / 4);
}

static void test_hot_item_kept_with_cas(void **state)
{
	struct fx *f = *state;
	const unsigned n = (unsigned)(20 * SMALL_LIMIT / 1000);
	unsigned char want[500], val[1000];
	struct cc_store_req r;
	struct cc_view v;
	uint64_t cas;
	char key[32];

	/* An item read often survives eviction (it is merged), and a merge
	 * is not a new version: value, flags and CAS stay. */
	fill_pattern(want, sizeof(want), 5150);
	r = req_bin(CC_SET, "hot", 3, want, sizeof(want));
	r.flags = 0x5a5a;
	assert_int_equal(store_q(f, &r, &cas), 0);
	for (unsigned i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "cold:%u", i);

		fill_pattern(val, sizeof(val), i);
		r = req_bin(CC_SET, key, (size_t)len, val, sizeof(val));
		assert_int_equal(store_q(f, &r, NULL), 0);
		if (i % 20 == 0) {
			assert_int_equal(cc_get(f->t, "hot", 3, &v), 0);
			assert_int_equal(v.cas, cas);
			assert_int_equal(v.flags, 0x5a5a);
			assert_int_equal(v.value_len, sizeof(want));
			assert_memory_equal(v.value, want, sizeof(want));
			cc_thread_quiescent(f->t);
		}
	}
	assert_true(stats_of(f).merged_items > 0);
	assert_true(stats_of(f).segments_evicted > stats_of(f).segments_total);
	r = req_bin(CC_CAS, "hot", 3, "new", 3);
	r.cas = cas;
	assert_int_equal(store_q(f, &r, NULL), 0);
	expect_str(f, "hot", "new");
}

static void test_memory_mixed_ttl(void **state)
{
	struct fx *f = *state;
	static const int64_t ttls[8] = { 0,    30,     120,    600,
					 3600, 20000, 100000, 1000000 };
	const unsigned n = (unsigned)(20 * SMALL_LIMIT / 1000);
	unsigned char val[1000];
	struct cc_stats s;
	char key[32];
	unsigned i;

	/* Items of every TTL class share the pool: the limit holds, no
	 * store fails, and the newest of every class are readable. */
	for (i = 0; i < n; i++) {
		int len = snprintf(key, sizeof(key), "mix:%u", i);
		struct cc_store_req r;

		fill_pattern(val, sizeof(val), i);
		r = req_bin(CC_SET, key, (size_t)len, val, sizeof(val));
		r.exptime = ttls[i % 8];
		assert_int_equal(store_q(f, &r, NULL), 0);
		if (i % 1000 == 999)
			assert_within_limit(f);
		if (i % 4096 == 4095)
			f->now += 1;
	}
	for (i = n - 16; i < n; i++)
		expect_filled(f, "mix", i, sizeof(val));
	s = stats_of(f);
	assert_true(s.evictions > 0);
	assert_int_equal(s.out_of_memory, 0);
	assert_true(s.curr_bytes <= s.limit_bytes);
}

static void test_index_full(void **state)
{
	struct fx *f = *state;
	struct cc_stats s;
	unsigned hits = 0;
	char key[32], val[32];

	/* A 16-bucket index (160 slots) for 1000 keys: keys are dropped
	 * from the index, but a hit is always the right value and the
	 * gauge counts exactly the keys that can still be found. */
	cc_thread_unregister(f->t);
	cc_destroy(f->c);
	f->p.index_power = 4;
	assert_int_equal(cc_create(&f->p, &f->c), 0);
	assert_int_equal(cc_thread_register(f->c, &f->t), 0);

	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 1000; i++) {
			snprintf(key, sizeof(key), "ix:%u", i);
			snprintf(val, sizeof(val), "v%u.%u", i, round);
			set_ok(f, key, val);
		}
	}
	for (unsigned i = 0; i < 1000; i++) {
		struct cc_view v;
		int rc;

		snprintf(key, sizeof(key), "ix:%u", i);
		snprintf(val, sizeof(val), "v%u.2", i);
		rc = cc_get(f->t, key, strlen(key), &v);
		if (rc == 0) {
			hits++;
			assert_int_equal(v.value_len, strlen(val));
			assert_memory_equal(v.value, val, strlen(val));
		} else {
			assert_int_equal(rc, -ENOENT);
		}
		cc_thread_quiescent(f->t);
	}
	s = stats_of(f);
	assert_true(hits > 0);
	assert_true(hits <= 160);
	assert_true(s.index_evictions > 0);
	assert_int_equal(s.curr_items, hits);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "ix:%u", i);
		(void)cc_delete(f->t, key, strlen(key), 0);
		cc_thread_quiescent(f->t);
	}
	s = stats_of(f);
	assert_int_equal(s.curr_items, 0);
	assert_int_equal(s.curr_bytes, 0);
}

static void test_flush_reclaims(void **state)
{
	struct fx *f = *state;
	struct cc_stats s0, s1;
	unsigned i;

	assert_int_equal(fill(f, "fl", 0, (unsigned)(SMALL_LIMIT / 2 / 1000),
			      1000), 0);
	s0 = stats_of(f);
	cc_flush(f->t, 0);
	cc_thread_quiescent(f->t);
	for (i = 0; i < 100; i++) {
		cc_maintain(f->t);
		cc_thread_quiescent(f->t);
		s1 = stats_of(f);
		if (s1.segments_free + 1 >= s1.segments_total)
			break;
	}
	/* Everything but the open segment came back, without eviction. */
	assert_true(s1.segments_free + 1 >= s1.segments_total);
	assert_true(s1.segments_expired > s0.segments_expired);
	assert_int_equal(s1.evictions, 0);
	assert_true(s1.curr_items < s0.curr_items / 4);
	expect_absent(f, "fl:0");
}

static void test_stats_after_unregister(void **state)
{
	struct fx *f = *state;
	struct cc_thread *other;
	struct cc_store_req r = req_str(CC_SET, "o", "x");
	struct cc_stats s0 = stats_of(f), s1;
	struct cc_view v;

	/* A departed thread's counters stay in the sums. */
	assert_int_equal(cc_thread_register(f->c, &other), 0);
	assert_int_equal(cc_store(other, &r, NULL), 0);
	assert_int_equal(cc_get(other, "o", 1, &v), 0);
	assert_int_equal(cc_get(other, "p", 1, &v), -ENOENT);
	cc_thread_quiescent(other);
	cc_thread_unregister(other);
	s1 = stats_of(f);
	assert_int_equal(s1.set_cmds - s0.set_cmds, 1);
	assert_int_equal(s1.get_hits - s0.get_hits, 1);
	assert_int_equal(s1.get_misses - s0.get_misses, 1);
	assert_int_equal(s1.curr_items, 1);
	expect_str(f, "o", "x");
	assert_int_equal(cc_delete(f->t, "o", 1, 0), 0);
	cc_thread_quiescent(f->t);
	assert_int_equal(stats_of(f).curr_items, 0);
}

static void test_offline_online(void **state)
{
	struct fx *f = *state;

	cc_thread_offline(f->t);
	cc_thread_online(f->t);
	set_ok(f, "after", "online");
	expect_str(f, "after", "online");
}

/* ---- lifecycle (no fixture) ---- */

static void test_params_defaults(void **state)
{
	struct cc_params p;

	(void)state;
	memset(&p, 0xa5, sizeof(p));
	cc_params_init(&p);
	assert_int_equal(p.memory_limit, (size_t)64 << 20);
	assert_int_equal(p.item_max, (size_t)1 << 20);
	assert_int_equal(p.segment_size, 0);
	assert_int_equal(p.index_power, 0);
	assert_int_equal(p.max_threads, 64);
	assert_true(p.hugepages);
	assert_null(p.clock);
}

static int create_with(size_t limit, size_t item_max, size_t segment,
		       struct cc_stats *st)
{
	struct cc_params p;
	struct cc_cache *c = NULL;
	int rc;

	cc_params_init(&p);
	p.memory_limit = limit;
	p.item_max = item_max;
	p.segment_size = segment;
	p.hugepages = false;
	rc = cc_create(&p, &c);
	if (rc == 0) {
		assert_non_null(c);
		if (st != NULL)
			cc_stats_read(c, st);
		cc_destroy(c);
	}
	return rc;
}

static void test_create_refusals(void **state)
{
	const size_t kib = 1024;
	struct cc_stats st;

	(void)state;
	/* 16 segments is the minimum. */
	assert_int_equal(create_with(16 * 128 * kib, 64 * kib, 128 * kib,
				     &st), 0);
	assert_int_equal(st.segments_total, 16);
	assert_int_equal(create_with(15 * 128 * kib, 64 * kib, 128 * kib,
				     NULL), -EINVAL);
	assert_int_equal(create_with(1024 * kib, 64 * kib, 128 * kib, NULL),
			 -EINVAL);
	/* Not a power of two. */
	assert_int_equal(create_with(8192 * kib, 64 * kib, 192 * kib, NULL),
			 -EINVAL);
	/* Cannot hold an item_max item with its header. */
	assert_int_equal(create_with(8192 * kib, 64 * kib, 64 * kib, NULL),
			 -EINVAL);
	assert_int_equal(create_with(8192 * kib, 128 * kib, 64 * kib, NULL),
			 -EINVAL);

	/* 0 picks the smallest fitting power of two of at least 1 MiB. */
	assert_int_equal(create_with(32 * 1024 * kib, 64 * kib, 0, &st), 0);
	assert_int_equal(st.segment_size, 1024 * kib);
	assert_int_equal(create_with(32 * 1024 * kib, 1024 * kib, 0, &st), 0);
	assert_int_equal(st.segment_size, 2048 * kib);
	assert_int_equal(st.segments_total, 16);
}

static void test_exact_fit(void **state)
{
	const size_t seg = (size_t)64 << 10;
	const size_t item_max = seg - 2 - 4 - 4 - 4 - 8 - CC_KEY_MAX;
	unsigned char *val = malloc(item_max);
	char key[CC_KEY_MAX];
	struct cc_params p;
	struct cc_cache *c;
	struct cc_thread *t;
	struct cc_view v;

	(void)state;
	assert_non_null(val);
	cc_params_init(&p);
	p.memory_limit = 16 * seg;
	p.item_max = item_max;
	p.segment_size = seg;
	p.hugepages = false;
	assert_int_equal(cc_create(&p, &c), 0);
	assert_int_equal(cc_thread_register(c, &t), 0);
	/* The largest item, with flags, TTL and explicit CAS, fits a
	 * segment of its own, again and again around the whole pool. */
	for (unsigned i = 0; i < 64; i++) {
		struct cc_store_req r;

		memset(key, 'a' + i % 26, sizeof(key));
		fill_pattern(val, item_max, i);
		r = req_bin(CC_SET, key, sizeof(key), val, item_max);
		r.flags = i + 1;
		r.exptime = 1000;
		r.new_cas = 1000 + i;
		assert_int_equal(cc_store(t, &r, NULL), 0);
		assert_int_equal(cc_get(t, key, sizeof(key), &v), 0);
		assert_int_equal(v.value_len, item_max);
		assert_int_equal(v.flags, i + 1);
		assert_int_equal(v.cas, 1000 + i);
		assert_memory_equal(v.value, val, item_max);
		cc_thread_quiescent(t);
	}
	cc_thread_unregister(t);
	cc_destroy(c);
	free(val);
}

static void test_create_options(void **state)
{
	struct cc_params p;
	struct cc_cache *c;
	struct cc_thread *t;
	struct cc_stats st;
	struct cc_view v;
	struct cc_store_req r;

	(void)state;
	cc_params_init(&p);
	p.memory_limit = (size_t)4 << 20;
	p.item_max = 16 << 10;
	p.segment_size = 128 << 10;
	p.index_power = 27;
	assert_int_equal(cc_create(&p, &c), -EINVAL);
	p.max_threads = 0;
	p.index_power = 0;
	assert_int_equal(cc_create(&p, &c), -EINVAL);

	/* Hugepages requested: falls back to normal pages if there are
	 * none, and works either way. The real clock is used. */
	p.max_threads = 1;
	p.index_power = 12;
	p.hugepages = true;
	assert_int_equal(cc_create(&p, &c), 0);
	cc_stats_read(c, &st);
	assert_int_equal(st.index_bytes, (uint64_t)64 << 12);
	assert_true(st.hugetlb <= 1);
	assert_true(cc_now(c) > T0);
	assert_int_equal(cc_thread_register(c, &t), 0);
	r = req_str(CC_SET, "k", "real clock");
	r.exptime = 100;
	assert_int_equal(cc_store(t, &r, NULL), 0);
	assert_int_equal(cc_get(t, "k", 1, &v), 0);
	assert_true(v.expiry >= cc_now(c) + 99 && v.expiry <= cc_now(c) + 101);
	cc_thread_quiescent(t);
	cc_thread_unregister(t);
	cc_destroy(c);
}

static void test_thread_limit(void **state)
{
	struct cc_params p;
	struct cc_cache *c;
	struct cc_thread *t[3];

	(void)state;
	cc_params_init(&p);
	p.memory_limit = (size_t)2 << 20;
	p.item_max = 16 << 10;
	p.segment_size = 64 << 10;
	p.max_threads = 2;
	p.hugepages = false;
	assert_int_equal(cc_create(&p, &c), 0);
	assert_int_equal(cc_thread_register(c, &t[0]), 0);
	assert_int_equal(cc_thread_register(c, &t[1]), 0);
	assert_int_equal(cc_thread_register(c, &t[2]), -EUSERS);
	/* A slot freed by unregister can be taken again. */
	cc_thread_unregister(t[1]);
	assert_int_equal(cc_thread_register(c, &t[2]), 0);
	assert_int_equal(cc_thread_register(c, &t[1]), -EUSERS);
	cc_thread_unregister(t[2]);
	cc_thread_unregister(t[0]);
	cc_destroy(c);
}

/* ---- groups ---- */

#define FX(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest keys_values[] = {
		FX(test_set_get_roundtrip), FX(test_overwrite),
		FX(test_empty_value),       FX(test_key_lengths),
		FX(test_value_sizes),       FX(test_binary_keys_values),
		FX(test_get_bulk),
	};
	const struct CMUnitTest store_modes[] = {
		FX(test_add),        FX(test_replace),
		FX(test_append_prepend), FX(test_append_too_big),
		FX(test_delete),
	};
	const struct CMUnitTest cas[] = {
		FX(test_cas),   FX(test_explicit_cas), FX(test_cas_unique),
		FX(test_expired_is_absent),
		FX(test_touch), FX(test_get_touch),
	};
	const struct CMUnitTest arith[] = {
		FX(test_arith_basic), FX(test_arith_wrap),
		FX(test_arith_padding), FX(test_arith_cas_flags_ttl),
	};
	const struct CMUnitTest ttl_flush[] = {
		FX(test_ttl_relative),  FX(test_ttl_absolute),
		FX(test_ttl_negative),  FX(test_flush_now),
		FX(test_flush_delayed), FX(test_flush_replaced),
	};
	const struct CMUnitTest stats[] = {
		FX(test_stats_counters), FX(test_stats_after_unregister),
	};
	const struct CMUnitTest memory[] = {
		FX(test_memory_limit),     FX(test_memory_mixed_ttl),
		FX(test_ref_pins_segment), FX(test_ref_nested),
		FX(test_silent_thread_blocks_reuse),
		FX(test_offline_online),   FX(test_maintain_expires),
		FX(test_flush_reclaims),   FX(test_hot_item_kept_with_cas),
		FX(test_index_full),
	};
	const struct CMUnitTest lifecycle[] = {
		cmocka_unit_test(test_params_defaults),
		cmocka_unit_test(test_create_refusals),
		cmocka_unit_test(test_create_options),
		cmocka_unit_test(test_exact_fit),
		cmocka_unit_test(test_thread_limit),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("keys_values", keys_values,
					      NULL, NULL);
	failed += cmocka_run_group_tests_name("store_modes", store_modes,
					      NULL, NULL);
	failed += cmocka_run_group_tests_name("cas_touch", cas, NULL, NULL);
	failed += cmocka_run_group_tests_name("arith", arith, NULL, NULL);
	failed += cmocka_run_group_tests_name("ttl_flush", ttl_flush, NULL,
					      NULL);
	failed += cmocka_run_group_tests_name("stats", stats, NULL, NULL);
	failed += cmocka_run_group_tests_name("memory", memory, NULL, NULL);
	failed += cmocka_run_group_tests_name("lifecycle", lifecycle, NULL,
					      NULL);
	return failed == 0 ? 0 : 1;
}
