/*
 * Unit tests of the reply queue (dataplane/proto/proto_out.c): bytes and
 * pinned values come out in order through iovecs and copies, partial sends
 * resume mid-piece, pins are dropped exactly when their bytes have left (or
 * handed over for a zero-copy send), and a drained queue is reused.
 *
 * Pins are observed through the engine: a pinned segment cannot be
 * reclaimed, so the tests check the queue's arithmetic and leave leak
 * detection to the ASan build (every pin must be put before cc_destroy).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

struct fx {
	struct cc_cache *c;
	struct proto_server s;
	struct proto_worker w;
	struct proto_out o;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cc_params p;

	cc_params_init(&p);
	p.memory_limit = 64u << 20;
	p.hugepages = false;
	assert_int_equal(cc_create(&p, &f->c), 0);
	f->s.cache = f->c;
	f->s.settings.zero_copy_min = 16;
	f->w.server = &f->s;
	assert_int_equal(cc_thread_register(f->c, &f->w.thread), 0);
	proto_out_init(&f->o);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	proto_out_deinit(&f->o, f->c);
	cc_thread_unregister(f->w.thread);
	cc_destroy(f->c);
	free(f);
	return 0;
}

/* Stores key = value and returns its view (valid until quiescent). */
static struct cc_view stored(struct fx *f, const char *key, const char *value)
{
	struct cc_store_req req = {
		.mode = CC_SET, .key = key, .key_len = strlen(key),
		.value = value, .value_len = strlen(value),
	};
	struct cc_view v;

	assert_int_equal(cc_store(f->w.thread, &req, NULL), 0);
	assert_int_equal(cc_get(f->w.thread, key, strlen(key), &v), 0);
	return v;
}

/* Everything pending, as one string (through proto_out_iov). */
static char *drain_view(struct proto_out *o)
{
	struct iovec iov[32];
	unsigned n = proto_out_iov(o, iov, 32);
	char *s = calloc(1, proto_out_pending(o) + 1);
	size_t at = 0;

	for (unsigned i = 0; i < n; i++) {
		memcpy(s + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	assert_int_equal(at, proto_out_pending(o));
	return s;
}

static const char big1[] = "0123456789abcdefghij";      /* pinned: >= 16 */
static const char big2[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

static void fill(struct fx *f)
{
	struct cc_view v1 = stored(f, "k1", big1);
	struct cc_view v2 = stored(f, "k2", big2);
	struct cc_view v3 = stored(f, "k3", "small");

	assert_int_equal(proto_out_append(&f->o, "A:", 2), 0);
	assert_int_equal(proto_out_value(&f->o, &f->w, &v1), 0);
	assert_int_equal(proto_out_append(&f->o, "|", 1), 0);
	assert_int_equal(proto_out_value(&f->o, &f->w, &v2), 0);
	assert_int_equal(proto_out_value(&f->o, &f->w, &v3), 0);
	assert_int_equal(proto_out_append(&f->o, ".", 1), 0);
	cc_thread_quiescent(f->w.thread);
}

static const char expect[] = "A:0123456789abcdefghij|"
			     "ABCDEFGHIJKLMNOPQRSTUVWXYZsmall.";

static void test_order_and_pins(void **state)
{
	struct fx *f = *state;
	char *s;

	fill(f);
	assert_int_equal(proto_out_pending(&f->o), strlen(expect));
	assert_int_equal(f->o.ref_n - f->o.ref_head, 2);
	assert_int_equal(f->w.counters.zero_copy_values, 2);
	s = drain_view(&f->o);
	assert_string_equal(s, expect);
	free(s);
}

static void test_partial_consume_every_split(void **state)
{
	struct fx *f = *state;
	size_t total = strlen(expect);

	/* Consume a prefix of every length, then check the rest. */
	for (size_t cut = 0; cut <= total; cut++) {
		char *s;

		fill(f);
		assert_int_equal(proto_out_consume(&f->o, f->c, cut, NULL), 0);
		assert_int_equal(proto_out_pending(&f->o), total - cut);
		s = drain_view(&f->o);
		assert_string_equal(s, expect + cut);
		free(s);
		assert_int_equal(proto_out_consume(&f->o, f->c, total - cut,
						   NULL), 0);
		assert_int_equal(proto_out_pending(&f->o), 0);
		assert_int_equal(f->o.ref_n, 0);
	}
}

static void test_copy_at_offsets(void **state)
{
	struct fx *f = *state;
	size_t total = strlen(expect);
	char buf[128];

	fill(f);
	assert_int_equal(proto_out_consume(&f->o, f->c, 5, NULL), 0);
	for (size_t off = 0; off + 5 <= total; off++) {
		for (size_t n = 0; off + 5 + n <= total; n += 7) {
			memset(buf, 0, sizeof(buf));
			proto_out_copy(&f->o, off, n, buf);
			assert_memory_equal(buf, expect + 5 + off, n);
		}
	}
	assert_int_equal(proto_out_consume(&f->o, f->c, total - 5, NULL), 0);
}

static void test_hold_takes_pins(void **state)
{
	struct fx *f = *state;
	struct proto_refs hold = { 0 };
	size_t total = strlen(expect);

	fill(f);
	/* Up to the middle of the second value: only the first is whole. */
	assert_int_equal(proto_out_consume(&f->o, f->c, 30, &hold), 0);
	assert_int_equal(hold.n, 1);
	assert_memory_equal(hold.views[0].value, big1, strlen(big1));
	assert_int_equal(proto_out_consume(&f->o, f->c, total - 30, &hold), 0);
	assert_int_equal(hold.n, 2);
	proto_refs_put(&hold, f->c);
	assert_int_equal(hold.n, 0);
	proto_refs_deinit(&hold, f->c);
}

static void test_growth_and_reuse(void **state)
{
	struct fx *f = *state;
	char line[1000];
	size_t cap;

	memset(line, 'x', sizeof(line));
	for (int i = 0; i < 100; i++)
		assert_int_equal(proto_out_append(&f->o, line, sizeof(line)), 0);
	assert_int_equal(proto_out_pending(&f->o), 100 * sizeof(line));
	cap = f->o.cap;
	assert_int_equal(proto_out_consume(&f->o, f->c, 100 * sizeof(line),
					   NULL), 0);
	/* Drained: the same buffer serves the next backlog. */
	for (int i = 0; i < 100; i++)
		assert_int_equal(proto_out_append(&f->o, line, sizeof(line)), 0);
	assert_int_equal(f->o.cap, cap);
	assert_int_equal(proto_out_consume(&f->o, f->c, 100 * sizeof(line),
					   NULL), 0);
}

/* Sending from the front while appending at the back reuses the space the
 * sent bytes left, so a steady stream needs no growth. */
static void test_steady_stream_compacts(void **state)
{
	struct fx *f = *state;
	char line[512];
	size_t cap = 0;

	memset(line, 'y', sizeof(line));
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(proto_out_append(&f->o, line, sizeof(line)), 0);
		if (proto_out_pending(&f->o) > 3000)
			assert_int_equal(proto_out_consume(&f->o, f->c, 2048,
							   NULL), 0);
		if (i == 100)
			cap = f->o.cap;
	}
	assert_int_equal(f->o.cap, cap);
	assert_int_equal(proto_out_consume(&f->o, f->c,
					   proto_out_pending(&f->o), NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_and_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_consume_every_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_at_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_takes_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_and_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steady_stream_compacts, setup, teardown),
	};

	return cmocka_run_group_tests_name("proto_out", tests, NULL, NULL);
}
