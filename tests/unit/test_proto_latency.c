/*
 * Unit tests of the request latency histograms (dataplane/proto,
 * proto_latency.c and the recording in proto.c): bucket edges at the
 * exact powers of two, the classifier's table, sums and counts over
 * workers, the request clock's conversion to nanoseconds, the dispatcher timing each request of a pipelined batch once
 * in its own class, and a reader summing while the owner writes (the
 * thread-sanitizer build runs this one too).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "proto_fixture.h"

static struct proto_worker *worker_new(void)
{
	struct proto_worker *w = aligned_alloc(64, sizeof(*w));

	assert_non_null(w);
	memset(w, 0, sizeof(*w));
	return w;
}

/* Requests of class cls recorded in the summed histogram. */
static uint64_t class_count(const struct proto_server *s,
			    enum proto_class cls)
{
	struct proto_latency_sum sum;

	proto_latency_read(s, &sum);
	return sum.count[cls];
}

static void test_bucket_edges(void **state)
{
	(void)state;
	assert_int_equal(proto_latency_bucket(0), 0);
	assert_int_equal(proto_latency_bucket(1), 0);
	assert_int_equal(proto_latency_bucket(250), 0);
	assert_int_equal(proto_latency_bucket(251), 1);
	assert_int_equal(proto_latency_bucket(500), 1);
	assert_int_equal(proto_latency_bucket(501), 2);
	assert_int_equal(proto_latency_bucket(1000), 2);
	assert_int_equal(proto_latency_bucket(1001), 3);
	for (unsigned i = 1; i < PROTO_LATENCY_BUCKETS; i++) {
		uint64_t bound = proto_latency_bound_ns(i);

		assert_int_equal(proto_latency_bound_ns(i - 1) * 2, bound);
		/* le is inclusive: the bound itself is in bucket i. */
		assert_int_equal(proto_latency_bucket(bound), i);
		assert_int_equal(proto_latency_bucket(bound - 1), i);
		assert_int_equal(proto_latency_bucket(bound + 1),
				 i + 1 < PROTO_LATENCY_BUCKETS ?
				 i + 1 : PROTO_LATENCY_BUCKETS);
	}
	/* Every power of two of microseconds is a bound, up to 2^20 us,
	 * about a second. */
	assert_int_equal(proto_latency_bound_ns(2), 1000);
	assert_int_equal(proto_latency_bound_ns(PROTO_LATENCY_BUCKETS - 1),
			 1048576000ull);
	assert_int_equal(proto_latency_bucket(5000000000ull),
			 PROTO_LATENCY_BUCKETS);
	assert_int_equal(proto_latency_bucket(UINT64_MAX),
			 PROTO_LATENCY_BUCKETS);
}

static void test_classify(void **state)
{
	static const struct {
		const char *cmd;
		enum proto_class cls;
	} cases[] = {
		{ "get", PROTO_CLASS_get }, { "gets", PROTO_CLASS_get },
		{ "set", PROTO_CLASS_set }, { "add", PROTO_CLASS_set },
		{ "replace", PROTO_CLASS_set }, { "append", PROTO_CLASS_set },
		{ "prepend", PROTO_CLASS_set }, { "cas", PROTO_CLASS_set },
		{ "delete", PROTO_CLASS_delete },
		{ "incr", PROTO_CLASS_incr_decr },
		{ "decr", PROTO_CLASS_incr_decr },
		{ "touch", PROTO_CLASS_touch }, { "gat", PROTO_CLASS_touch },
		{ "gats", PROTO_CLASS_touch },
		{ "mg", PROTO_CLASS_mg }, { "ms", PROTO_CLASS_ms },
		{ "md", PROTO_CLASS_md }, { "ma", PROTO_CLASS_ma },
		{ "mn", PROTO_CLASS_other }, { "me", PROTO_CLASS_other },
		{ "stats", PROTO_CLASS_other },
		{ "flush_all", PROTO_CLASS_other },
		{ "version", PROTO_CLASS_other }, { "GET", PROTO_CLASS_other },
		{ "gett", PROTO_CLASS_other }, { "m", PROTO_CLASS_other },
		{ "", PROTO_CLASS_other },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum proto_class got = proto_classify(cases[i].cmd,
						      strlen(cases[i].cmd));

		if (got != cases[i].cls)
			fail_msg("'%s': class %s, expected %s", cases[i].cmd,
				 proto_class_name(got),
				 proto_class_name(cases[i].cls));
	}
	assert_string_equal(proto_class_name(PROTO_CLASS_incr_decr),
			    "incr_decr");
	assert_string_equal(proto_class_name(PROTO_CLASS_other), "other");
}

/* Two workers' histograms add up bucket by bucket; the count is the
 * buckets' sum and the sum the durations'. */
static void test_sum_over_workers(void **state)
{
	struct proto_worker *w[2] = { worker_new(), worker_new() };
	struct proto_server s = { .nworkers = 2, .workers = w };
	struct proto_latency_sum sum;

	(void)state;
	proto_latency_record(&w[0]->latency, PROTO_CLASS_get, 200);
	proto_latency_record(&w[0]->latency, PROTO_CLASS_get, 3000);
	proto_latency_record(&w[1]->latency, PROTO_CLASS_get, 3300);
	proto_latency_record(&w[1]->latency, PROTO_CLASS_set, 2000000000ull);
	proto_latency_read(&s, &sum);

	assert_int_equal(sum.count[PROTO_CLASS_get], 3);
	assert_int_equal(sum.sum_ns[PROTO_CLASS_get], 6500);
	assert_int_equal(sum.bucket[PROTO_CLASS_get][0], 1);
	assert_int_equal(sum.bucket[PROTO_CLASS_get][4], 2);  /* <= 4 us */
	assert_int_equal(sum.count[PROTO_CLASS_set], 1);
	assert_int_equal(sum.bucket[PROTO_CLASS_set][PROTO_LATENCY_BUCKETS],
			 1);
	assert_int_equal(sum.sum_ns[PROTO_CLASS_set], 2000000000ull);
	assert_int_equal(sum.count[PROTO_CLASS_delete], 0);
	free(w[0]);
	free(w[1]);
}

/* Through the dispatcher: each request of one pipelined batch is timed
 * once, in its class; an incomplete storage request is not timed until
 * its data arrives, and a malformed line is "other". */
static void test_dispatch_records(void **state)
{
	struct pfx *f = *state;
	const struct proto_server *s = &f->srv;

	pfx_feed(f, "set a 0 0 1\r\n1\r\nget a\r\nget b c\r\ngets a\r\n"
		 "incr a 5\r\ndecr a 1\r\ntouch a 10\r\ndelete a\r\n"
		 "mn\r\nbogus\r\nmg a v\r\nms a 1\r\nx\r\nma a\r\nmd a\r\n");
	assert_int_equal(class_count(s, PROTO_CLASS_set), 1);
	assert_int_equal(class_count(s, PROTO_CLASS_get), 3);
	assert_int_equal(class_count(s, PROTO_CLASS_incr_decr), 2);
	assert_int_equal(class_count(s, PROTO_CLASS_touch), 1);
	assert_int_equal(class_count(s, PROTO_CLASS_delete), 1);
	assert_int_equal(class_count(s, PROTO_CLASS_other), 2);
	assert_int_equal(class_count(s, PROTO_CLASS_mg), 1);
	assert_int_equal(class_count(s, PROTO_CLASS_ms), 1);
	assert_int_equal(class_count(s, PROTO_CLASS_ma), 1);
	assert_int_equal(class_count(s, PROTO_CLASS_md), 1);

	pfx_feed(f, "set big 0 0 10\r\n12345");
	assert_int_equal(class_count(s, PROTO_CLASS_set), 1);
	pfx_feed(f, "67890\r\n");
	assert_int_equal(class_count(s, PROTO_CLASS_set), 2);
	assert_string_equal(f->reply + f->reply_len - 8, "STORED\r\n");
}

/* The request clock against CLOCK_MONOTONIC over one interval: the
 * TSC's measured rate converts it to within 1% (the interval's length
 * does not matter, only that both clocks saw the same one). */
static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void test_clock(void **state)
{
	struct timespec pause = { .tv_nsec = 20000000 };
	uint64_t m0a, m0b, m1a, m1b, c0, c1, ns;
	uint64_t saved = proto_tsc_mult;

	(void)state;
	print_message("request clock: %s\n", proto_tsc_mult ?
		      "TSC" : "clock_gettime");
	/* Each reading of the request clock between two monotonic ones:
	 * its interval lies between the inner and the outer one, however
	 * long the thread is preempted. */
	m0a = monotonic_ns();
	c0 = proto_clock();
	m0b = monotonic_ns();
	nanosleep(&pause, NULL);
	m1a = monotonic_ns();
	c1 = proto_clock();
	m1b = monotonic_ns();
	ns = proto_clock_ns(c1 - c0);
	assert_true(ns * 100 >= (m1a - m0b) * 99);
	assert_true(ns * 100 <= (m1b - m0a) * 101);

	/* The conversion itself, with a 2 GHz TSC (0.5 ns a tick): short
	 * intervals exactly, long ones (past 2^32 ticks) to 16 bits. */
	proto_tsc_mult = 1ull << 31;
	assert_int_equal(proto_clock_ns(1000), 500);
	assert_int_equal(proto_clock_ns(0xffffffffull), 0x7fffffffull);
	assert_int_equal(proto_clock_ns(1ull << 40), 1ull << 39);
	proto_tsc_mult = saved;
}

/* A reader summing while the owner records: counts never go down, never
 * pass what was written, and end exactly at it. */
#define WRITES 200000

static void *writer(void *arg)
{
	struct proto_worker *w = arg;

	for (uint64_t i = 0; i < WRITES; i++)
		proto_latency_record(&w->latency, PROTO_CLASS_get,
				     (i % 4096) * 977);
	return NULL;
}

static void test_read_while_writing(void **state)
{
	struct proto_worker *w = worker_new();
	struct proto_server s = { .nworkers = 1, .workers = &w };
	struct proto_latency_sum sum;
	uint64_t last = 0, expect_ns = 0;
	pthread_t t;

	(void)state;
	assert_int_equal(pthread_create(&t, NULL, writer, w), 0);
	do {
		proto_latency_read(&s, &sum);
		assert_true(sum.count[PROTO_CLASS_get] >= last);
		assert_true(sum.count[PROTO_CLASS_get] <= WRITES);
		last = sum.count[PROTO_CLASS_get];
	} while (last < WRITES);
	assert_int_equal(pthread_join(t, NULL), 0);

	for (uint64_t i = 0; i < WRITES; i++)
		expect_ns += (i % 4096) * 977;
	proto_latency_read(&s, &sum);
	assert_int_equal(sum.count[PROTO_CLASS_get], WRITES);
	assert_int_equal(sum.sum_ns[PROTO_CLASS_get], expect_ns);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_edges),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_sum_over_workers),
		cmocka_unit_test(test_clock),
		cmocka_unit_test_setup_teardown(test_dispatch_records,
						pfx_setup, pfx_teardown),
		cmocka_unit_test(test_read_while_writing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
