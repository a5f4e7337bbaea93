/*
 * Unit tests of the UDP frame layer (dataplane/proto/proto_udp.c): frame
 * headers, splitting into 1400-byte datagrams, memcached 1.6's framing
 * per response object, and what is dropped without a reply. The expected
 * datagrams were taken from memcached 1.6.18 -U answering the same
 * requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

#define MAX_DGRAMS 64

struct fx {
	struct cc_cache *c;
	struct proto_server s;
	struct proto_worker w;
	struct proto_worker *workers[1];
	struct proto_out scratch, out;
	uint16_t lens[MAX_DGRAMS];
	char big[5001];
};

/* One reply datagram, as sent. */
struct dgram {
	uint16_t id, seq, total, reserved;
	const char *payload;
	size_t len;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cc_params p;

	cc_params_init(&p);
	p.memory_limit = 32u << 20;
	p.hugepages = false;
	assert_int_equal(cc_create(&p, &f->c), 0);
	f->s.cache = f->c;
	f->s.settings.item_max = p.item_max;
	/* Large values are queued by reference: framing must copy them
	 * out of cache memory. */
	f->s.settings.zero_copy_min = 1024;
	f->s.settings.version = "1.6.18";
	f->s.settings.flush_enabled = true;
	f->s.nworkers = 1;
	f->workers[0] = &f->w;
	f->s.workers = f->workers;
	f->w.server = &f->s;
	assert_int_equal(cc_thread_register(f->c, &f->w.thread), 0);
	proto_out_init(&f->scratch);
	proto_out_init(&f->out);
	memset(f->big, 'x', 5000);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	proto_out_deinit(&f->scratch, f->c);
	proto_out_deinit(&f->out, f->c);
	cc_thread_unregister(f->w.thread);
	cc_destroy(f->c);
	free(f);
	return 0;
}

/* Serves header + payload; returns the datagram count. */
static int serve_raw(struct fx *f, const void *frame, size_t len,
		     unsigned max)
{
	char *buf = malloc(len + 1);
	int n;

	proto_out_consume(&f->out, f->c, proto_out_pending(&f->out), NULL);
	memcpy(buf, frame, len);
	n = proto_udp_serve(&f->w, buf, len, &f->scratch, &f->out, f->lens,
			    max);
	cc_thread_quiescent(f->w.thread);
	assert_int_equal(proto_out_pending(&f->scratch), 0);
	free(buf);
	return n;
}

static int serve(struct fx *f, uint16_t id, const char *req)
{
	size_t len = strlen(req);
	char *frame = malloc(8 + len);
	int n;

	frame[0] = (char)(id >> 8);
	frame[1] = (char)id;
	memcpy(frame + 2, "\0\0\0\1\0\0", 6);
	memcpy(frame + 8, req, len);
	n = serve_raw(f, frame, 8 + len, MAX_DGRAMS);
	free(frame);
	return n;
}

static uint16_t be16(const char *p)
{
	return (uint16_t)(((uint8_t)p[0] << 8) | (uint8_t)p[1]);
}

/* Datagram i of the last reply; the caller frees payload. */
static struct dgram dgram_at(struct fx *f, int i)
{
	size_t off = 0;
	struct dgram d;
	char hdr[8];
	char *payload;

	for (int k = 0; k < i; k++)
		off += f->lens[k];
	proto_out_copy(&f->out, off, 8, hdr);
	d.id = be16(hdr);
	d.seq = be16(hdr + 2);
	d.total = be16(hdr + 4);
	d.reserved = be16(hdr + 6);
	d.len = f->lens[i] - 8u;
	payload = malloc(d.len + 1);
	proto_out_copy(&f->out, off + 8, d.len, payload);
	payload[d.len] = '\0';
	d.payload = payload;
	return d;
}

/* Datagram i carries seq/total and exactly text. */
static void expect_dgram(struct fx *f, int i, uint16_t id, uint16_t seq,
			 uint16_t total, const char *text)
{
	struct dgram d = dgram_at(f, i);

	assert_int_equal(d.id, id);
	assert_int_equal(d.seq, seq);
	assert_int_equal(d.total, total);
	assert_int_equal(d.reserved, 0);
	assert_int_equal(d.len, strlen(text));
	assert_memory_equal(d.payload, text, d.len);
	free((void *)d.payload);
}

static void store(struct fx *f, const char *key, const char *value)
{
	char req[6000];

	snprintf(req, sizeof(req), "set %s 0 0 %zu noreply\r\n%s\r\n", key,
		 strlen(value), value);
	assert_int_equal(serve(f, 1, req), 0);
}

static void test_short_frames_dropped(void **state)
{
	struct fx *f = *state;
	char frame[9] = "\0\1\0\0\0\1\0\0\n";

	for (size_t len = 0; len <= 8; len++)
		assert_int_equal(serve_raw(f, frame, len, MAX_DGRAMS), 0);
	assert_int_equal(f->w.counters.udp_refused, 9);
	/* Nine bytes: a header and an empty line, answered ERROR. */
	assert_int_equal(serve_raw(f, frame, 9, MAX_DGRAMS), 1);
	expect_dgram(f, 0, 1, 0, 1, "ERROR\r\n");
}

static void test_multi_datagram_request_dropped(void **state)
{
	struct fx *f = *state;
	char frame[] = "\0\7\0\0\0\2\0\0version\r\n";

	/* total 2: memcached 1.6 drops it without a word. */
	assert_int_equal(serve_raw(f, frame, sizeof(frame) - 1, MAX_DGRAMS),
			 0);
	frame[5] = 0;
	assert_int_equal(serve_raw(f, frame, sizeof(frame) - 1, MAX_DGRAMS),
			 0);
	assert_int_equal(f->w.counters.udp_refused, 2);
	/* The sequence number and reserved field are not looked at. */
	frame[3] = 1;
	frame[5] = 1;
	frame[7] = 5;
	assert_int_equal(serve_raw(f, frame, sizeof(frame) - 1, MAX_DGRAMS),
			 1);
	expect_dgram(f, 0, 7, 0, 1, "VERSION 1.6.18\r\n");
}

static void test_single_reply(void **state)
{
	struct fx *f = *state;

	assert_int_equal(serve(f, 0xbeef, "set a 5 0 3\r\nabc\r\n"), 1);
	expect_dgram(f, 0, 0xbeef, 0, 1, "STORED\r\n");
	assert_int_equal(serve(f, 0xbeef, "get a\r\n"), 1);
	expect_dgram(f, 0, 0xbeef, 0, 1, "VALUE a 5 3\r\nabc\r\nEND\r\n");
	assert_int_equal(f->w.counters.udp_requests, 2);
}

static void test_split_large_value(void **state)
{
	struct fx *f = *state;
	char *reply = malloc(6000), *at = reply;

	store(f, "big", f->big);
	assert_int_equal(serve(f, 9, "get big\r\n"), 4);
	at += sprintf(at, "VALUE big 0 5000\r\n%s\r\nEND\r\n", f->big);
	/* 1392 payload bytes a datagram: the header counts in the 1400. */
	assert_int_equal(f->lens[0], 1400);
	assert_int_equal(f->lens[1], 1400);
	assert_int_equal(f->lens[2], 1400);
	assert_int_equal(f->lens[3], 8 + (at - reply) - 3 * 1392);
	for (int i = 0; i < 4; i++) {
		struct dgram d = dgram_at(f, i);

		assert_int_equal(d.seq, i);
		assert_int_equal(d.total, 4);
		assert_memory_equal(d.payload, reply + i * 1392, d.len);
		free((void *)d.payload);
	}
	free(reply);
}

static void test_multiget_per_key(void **state)
{
	struct fx *f = *state;

	store(f, "small", "abc");
	store(f, "big", f->big);
	/* Last key hit: END rides with its value. */
	assert_int_equal(serve(f, 2, "get big small\r\n"), 5);
	assert_int_equal(f->lens[3], 8 + 5020 - 3 * 1392);
	expect_dgram(f, 4, 2, 0, 1, "VALUE small 0 3\r\nabc\r\nEND\r\n");
	/* Last key missed: END alone. */
	assert_int_equal(serve(f, 2, "get small miss\r\n"), 2);
	expect_dgram(f, 0, 2, 0, 1, "VALUE small 0 3\r\nabc\r\n");
	expect_dgram(f, 1, 2, 0, 1, "END\r\n");
	/* Empty response objects between hits are swallowed. */
	assert_int_equal(serve(f, 2, "gets small miss miss small\r\n"), 2);
}

static void test_first_key_miss_bare_header(void **state)
{
	struct fx *f = *state;

	store(f, "small", "abc");
	assert_int_equal(serve(f, 3, "get miss small\r\n"), 2);
	expect_dgram(f, 0, 3, 0, 0, "");
	expect_dgram(f, 1, 3, 0, 1, "VALUE small 0 3\r\nabc\r\nEND\r\n");
	assert_int_equal(serve(f, 3, "get miss1 miss2 miss3\r\n"), 2);
	expect_dgram(f, 0, 3, 0, 0, "");
	expect_dgram(f, 1, 3, 0, 1, "END\r\n");
	/* One key: its END is not empty. */
	assert_int_equal(serve(f, 3, "get miss\r\n"), 1);
	expect_dgram(f, 0, 3, 0, 1, "END\r\n");
}

static void test_commands_in_one_datagram(void **state)
{
	struct fx *f = *state;

	store(f, "small", "abc");
	/* A get flushes memcached's queue: the empty object that follows
	 * is at its head and sent. */
	assert_int_equal(serve(f, 4, "get small\r\nget miss small\r\n"), 3);
	expect_dgram(f, 1, 4, 0, 0, "");
	/* So does mn. */
	assert_int_equal(serve(f, 4, "mn\r\nget miss small\r\n"), 3);
	expect_dgram(f, 0, 4, 0, 1, "MN\r\n");
	expect_dgram(f, 1, 4, 0, 0, "");
	/* An error reply does not: the empty object is swallowed. */
	assert_int_equal(serve(f, 4, "bogus\r\nget miss small\r\n"), 2);
	expect_dgram(f, 0, 4, 0, 1, "ERROR\r\n");
	/* A quiet reply leaves the queue empty: sent. */
	assert_int_equal(serve(f, 4, "set q 0 0 1 noreply\r\nz\r\n"
				     "get miss small\r\n"), 2);
	expect_dgram(f, 0, 4, 0, 0, "");
}

static void test_quiet_and_incomplete(void **state)
{
	struct fx *f = *state;

	assert_int_equal(serve(f, 5, "set n 0 0 2 noreply\r\nhi\r\n"), 0);
	assert_int_equal(serve(f, 5, "get n"), 0);
	assert_int_equal(serve(f, 5, "set u 0 0 10\r\nhi\r\n"), 0);
	assert_int_equal(serve(f, 5, "get n\r\nget n"), 1);
	expect_dgram(f, 0, 5, 0, 1, "VALUE n 0 2\r\nhi\r\nEND\r\n");
}

static void test_max_dgrams(void **state)
{
	struct fx *f = *state;
	char frame[] = "\0\6\0\0\0\1\0\0get big\r\n";

	store(f, "big", f->big);
	/* The rest of the reply is dropped; the scratch queue is empty
	 * (serve_raw checks). */
	assert_int_equal(serve_raw(f, frame, sizeof(frame) - 1, 2), 2);
	assert_int_equal(proto_out_pending(&f->out), 2 * 1400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_short_frames_dropped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_multi_datagram_request_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_reply, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_large_value, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_multiget_per_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_first_key_miss_bare_header, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_commands_in_one_datagram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet_and_incomplete,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_dgrams, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
