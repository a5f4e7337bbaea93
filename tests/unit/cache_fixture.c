/*
 * The cache engine's unit-test fixture: one small cache per test with a
 * fake clock, and the store/get/expect helpers all the engine's test
 * programs use (declared, with their contracts, in cache_fixture.h).
 *
 * It is compiled into each of those programs rather than copied into
 * them, so the configuration under test and the way a value is checked
 * cannot drift apart between them.
 */
#include <errno.h>
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

static int setup_with_reserve(void **state, size_t reserve)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = T0;
	small_params(f);
	f->p.memory_reserve = reserve;
	assert_int_equal(cc_create(&f->p, &f->c), 0);
	assert_int_equal(cc_thread_register(f->c, &f->t), 0);
	*state = f;
	return 0;
}

int fx_setup(void **state)
{
	return setup_with_reserve(state, 0);
}

int fx_setup_reserved(void **state)
{
	return setup_with_reserve(state, SMALL_RESERVE);
}

int fx_teardown(void **state)
{
	struct fx *f = *state;

	cc_thread_unregister(f->t);
	cc_destroy(f->c);
	free(f);
	return 0;
}

/* ---- helpers (functions: a failed assertion ends the test) ---- */

struct cc_store_req req_bin(enum cc_store_mode mode, const void *key,
			    size_t key_len, const void *val, size_t val_len)
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

struct cc_store_req req_str(enum cc_store_mode mode, const char *key,
			    const char *val)
{
	return req_bin(mode, key, strlen(key), val, strlen(val));
}

int store_q(struct fx *f, const struct cc_store_req *r, uint64_t *cas)
{
	int rc = cc_store(f->t, r, cas);

	cc_thread_quiescent(f->t);
	return rc;
}

void set_ok(struct fx *f, const char *key, const char *val)
{
	struct cc_store_req r = req_str(CC_SET, key, val);

	assert_int_equal(store_q(f, &r, NULL), 0);
}

struct cc_view meta_of(struct fx *f, const char *key)
{
	struct cc_view v;

	assert_int_equal(cc_get(f->t, key, strlen(key), &v), 0);
	cc_thread_quiescent(f->t);
	v.value = NULL;
	return v;
}

void expect_bin(struct fx *f, const void *key, size_t key_len,
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

void expect_str(struct fx *f, const char *key, const char *val)
{
	expect_bin(f, key, strlen(key), val, strlen(val));
}

void expect_absent(struct fx *f, const char *key)
{
	struct cc_view v;

	assert_int_equal(cc_get(f->t, key, strlen(key), &v), -ENOENT);
	cc_thread_quiescent(f->t);
}

struct cc_stats stats_of(struct fx *f)
{
	struct cc_stats s;

	cc_stats_read(f->c, &s);
	return s;
}

int arith_call(struct cc_thread *t, const void *key, size_t key_len,
	       bool decr, uint64_t delta, uint64_t *value_out,
	       uint64_t *cas_out)
{
	struct cc_arith_req r = {
		.key = key, .key_len = key_len, .decr = decr, .delta = delta,
	};

	return cc_arith(t, &r, value_out, cas_out);
}

void fill_pattern(unsigned char *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)(x >> 24);
	}
}
