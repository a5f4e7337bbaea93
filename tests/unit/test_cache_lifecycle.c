/*
 * Unit tests of the corecache engine's lifecycle (cache/corecache.h):
 * parameter defaults, the configurations cc_create refuses, the largest
 * item a cache takes, creation options, and the registered-thread limit.
 * Each test builds caches of its own; none uses the shared fixture's
 * cache, only its helpers.
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
	/* 4 segments is the minimum: memcached's -m 8 with -I 1m. */
	assert_int_equal(create_with(4 * 128 * kib, 64 * kib, 128 * kib,
				     &st), 0);
	assert_int_equal(st.segments_total, 4);
	assert_int_equal(create_with(4 * 128 * kib - 1, 64 * kib, 128 * kib,
				     NULL), -EINVAL);
	assert_int_equal(create_with(256 * kib, 64 * kib, 128 * kib, NULL),
			 -EINVAL);
	assert_int_equal(create_with(8 * 1024 * kib, 1024 * kib, 0, &st), 0);
	assert_int_equal(st.segments_total, 4);
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
	/* The engine's largest header: info, meta and key length, 4 bytes
	 * of value length, flags, expiry, and a CAS code of up to 10 bytes. */
	const size_t item_max = seg - 3 - 4 - 4 - 4 - 10 - CC_KEY_MAX;
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

int main(void)
{
	const struct CMUnitTest lifecycle[] = {
		cmocka_unit_test(test_params_defaults),
		cmocka_unit_test(test_create_refusals),
		cmocka_unit_test(test_create_options),
		cmocka_unit_test(test_exact_fit),
		cmocka_unit_test(test_thread_limit),
	};

	return cmocka_run_group_tests_name("lifecycle", lifecycle, NULL, NULL);
}
