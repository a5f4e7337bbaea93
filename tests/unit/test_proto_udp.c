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
/* Room for the largest reply a test asks for (three 700 KiB values). */
#define LENS_MAX 2048

struct fx {
	struct cc_cache *c;
	struct proto_server s;
	struct proto_worker w;
	struct proto_worker *workers[1];
	struct proto_out scratch, out;
	uint16_t lens[LENS_MAX];
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

/* Test buffers: a failed allocation ends the run. */
__attribute__((malloc, returns_nonnull))
static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		abort();
	return p;
}

/* Serves header + payload; returns the datagram count. */
static int serve_raw(struct fx *f, const void *frame, size_t len,
		     unsigned max)
{
	char *buf = xmalloc(len + 1);
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

/* Serves req (len bytes, NULs allowed) framed with request id id. */
static int serve_len(struct fx *f, uint16_t id, const char *req, size_t len,
		     unsigned max)
{
	char *frame = xmalloc(8 + len);
	int n;

	frame[0] = (char)(id >> 8);
	frame[1] = (char)id;
	memcpy(frame + 2, "\0\0\0\1\0\0", 6);
	memcpy(frame + 8, req, len);
	n = serve_raw(f, frame, 8 + len, max);
	free(frame);
	return n;
}

static int serve(struct fx *f, uint16_t id, const char *req)
{
	return serve_len(f, id, req, strlen(req), MAX_DGRAMS);
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
	payload = xmalloc(d.len + 1);
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
	size_t len = strlen(value);
	char *req = xmalloc(len + 300);

	sprintf(req, "set %s 0 0 %zu noreply\r\n%s\r\n", key, len, value);
	assert_int_equal(serve(f, 1, req), 0);
	free(req);
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
	char *reply = xmalloc(6000), *at = reply;

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
	/* A key named twice whose second lookup misses (gat with a time
	 * already past expires it): what decides is the lookup, not the
	 * name (memcached 1.6.18). */
	assert_int_equal(serve(f, 2, "gat 1000000000 small small\r\n"), 2);
	expect_dgram(f, 0, 2, 0, 1, "VALUE small 0 3\r\nabc\r\n");
	expect_dgram(f, 1, 2, 0, 1, "END\r\n");
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
	/* Every command of a datagram is answered. (memcached 1.6.18 with
	 * several threads seems to answer only the first get of a datagram
	 * at times: that is a worker whose UDP state an earlier quit left
	 * closing after every flush; a fresh memcached answers all.) */
	assert_int_equal(serve(f, 4, "get small\r\nget small\r\n"), 2);
	assert_int_equal(serve(f, 4, "get small\r\nset small 0 0 1\r\nz\r\n"),
			 2);
	expect_dgram(f, 1, 4, 0, 1, "STORED\r\n");
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

/* A reply is framed whole or not at all: one that needs more datagrams
 * than the caller has room for is dropped entirely and counted. */
static void test_reply_over_max_dropped_whole(void **state)
{
	struct fx *f = *state;
	char frame[] = "\0\6\0\0\0\1\0\0get big\r\n";

	store(f, "small", "abc");
	store(f, "big", f->big);
	/* The scratch queue is empty (serve_raw checks), nothing framed. */
	assert_int_equal(serve_raw(f, frame, sizeof(frame) - 1, 3), 0);
	assert_int_equal(proto_out_pending(&f->out), 0);
	assert_int_equal(f->w.counters.udp_replies_dropped, 1);
	/* Its first message would fit, the second would not. */
	assert_int_equal(serve_len(f, 6, "get small big\r\n", 15, 4), 0);
	assert_int_equal(proto_out_pending(&f->out), 0);
	assert_int_equal(f->w.counters.udp_replies_dropped, 2);
	/* With room for every datagram, all of it. */
	assert_int_equal(serve_len(f, 6, "get small big\r\n", 15, 5), 5);
	expect_dgram(f, 0, 6, 0, 1, "VALUE small 0 3\r\nabc\r\n");
	assert_int_equal(f->w.counters.udp_replies_dropped, 2);
}

/* memcached 1.6.18 sends a multiget of large values in full, each value a
 * message of its own: "get k3 k1 k10 k10 k10 k9" with k10 700 KiB is 1548
 * datagrams (1 + 1 + 3 * 515 + 1). */
static void test_large_multiget_whole(void **state)
{
	struct fx *f = *state;
	size_t vlen = 700 * 1024, msg = 20 + vlen + 2;
	char *v = xmalloc(vlen + 1);
	int n, at = 2;

	memset(v, 'y', vlen);
	v[vlen] = '\0';
	store(f, "k3", "three");
	store(f, "k1", "one");
	store(f, "k10", v);
	n = serve_len(f, 8, "get k3 k1 k10 k10 k10 k9\r\n", 26, LENS_MAX);
	assert_int_equal(n, 1548);
	expect_dgram(f, 0, 8, 0, 1, "VALUE k3 0 5\r\nthree\r\n");
	expect_dgram(f, 1, 8, 0, 1, "VALUE k1 0 3\r\none\r\n");
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 515; i++, at++) {
			struct dgram d = dgram_at(f, at);

			assert_int_equal(d.seq, i);
			assert_int_equal(d.total, 515);
			assert_int_equal(d.len, i < 514 ? 1392 : msg - 514 * 1392);
			if (i == 0)
				assert_memory_equal(d.payload,
						    "VALUE k10 0 716800\r\nyy", 22);
			free((void *)d.payload);
		}
	}
	assert_int_equal(f->lens[2 + 514], 8 + 1334);
	expect_dgram(f, 1547, 8, 0, 1, "END\r\n");
	assert_int_equal(f->w.counters.udp_replies_dropped, 0);
	free(v);
}

/* quit leaves an empty response object, sent like a missed multiget key's
 * (a bare header when only quiet replies came since the last flush), and
 * ends the datagram. */
static void test_quit(void **state)
{
	struct fx *f = *state;

	store(f, "k0", "v0");
	assert_int_equal(serve(f, 7, "quit\r\n"), 1);
	expect_dgram(f, 0, 7, 0, 0, "");
	assert_int_equal(serve(f, 7, " quit junk \r\n"), 1);
	expect_dgram(f, 0, 7, 0, 0, "");
	/* What follows quit is not run. */
	assert_int_equal(serve(f, 7, "quit\r\nset k0 0 0 1\r\nx\r\n"), 1);
	expect_dgram(f, 0, 7, 0, 0, "");
	assert_int_equal(serve(f, 7, "get k0\r\nquit\r\nget k0\r\n"), 2);
	expect_dgram(f, 0, 7, 0, 1, "VALUE k0 0 2\r\nv0\r\nEND\r\n");
	expect_dgram(f, 1, 7, 0, 0, "");
	assert_int_equal(serve(f, 7, "mn\r\nquit\r\n"), 2);
	expect_dgram(f, 1, 7, 0, 0, "");
	assert_int_equal(serve(f, 7, "set q 0 0 1 noreply\r\nz\r\nquit\r\n"),
			 1);
	expect_dgram(f, 0, 7, 0, 0, "");
	/* Behind a reply not yet flushed, it is swallowed. */
	assert_int_equal(serve(f, 7, "version\r\nquit\r\n"), 1);
	expect_dgram(f, 0, 7, 0, 1, "VERSION 1.6.18\r\n");
	assert_int_equal(serve(f, 7, "version\r\nmg k9 v q\r\nquit\r\n"), 1);
	/* A line without its '\n' is never run. */
	assert_int_equal(serve(f, 7, "quit"), 0);
}

/* A command line ends at its first NUL for the framing as for the parser:
 * "get k0\0junk k1" is a one-key get. */
static void test_nul_in_line(void **state)
{
	struct fx *f = *state;

	store(f, "k0", "v0");
	store(f, "k1", "v1");
	assert_int_equal(serve_len(f, 9, "get k0\0junk k1\r\n", 16,
				   MAX_DGRAMS), 1);
	expect_dgram(f, 0, 9, 0, 1, "VALUE k0 0 2\r\nv0\r\nEND\r\n");
	/* The last key is k1, which hit: END rides with it. */
	assert_int_equal(serve_len(f, 9, "get k0 k1\0 k0\r\n", 15, MAX_DGRAMS),
			 2);
	expect_dgram(f, 1, 9, 0, 1, "VALUE k1 0 2\r\nv1\r\nEND\r\n");
	assert_int_equal(serve_len(f, 9, "get k9\0junk k1\r\n", 16,
				   MAX_DGRAMS), 1);
	expect_dgram(f, 0, 9, 0, 1, "END\r\n");
	/* "mn\0x" is mn, a flush: the empty object after it is sent. */
	assert_int_equal(serve_len(f, 9, "mn\0x\r\nget k9 k0\r\n", 17,
				   MAX_DGRAMS), 3);
	expect_dgram(f, 1, 9, 0, 0, "");
	/* "mn\r\r\n" is not: its command is "mn\r", an error. */
	assert_int_equal(serve(f, 9, "mn\r\r\nget k9 k0\r\n"), 2);
	expect_dgram(f, 0, 9, 0, 1, "ERROR\r\n");
	assert_int_equal(serve_len(f, 9, "quit\0x\r\nversion\r\n", 17,
				   MAX_DGRAMS), 1);
	expect_dgram(f, 0, 9, 0, 0, "");
}

/* bget is a get: framed per key. */
static void test_bget(void **state)
{
	struct fx *f = *state;

	store(f, "k0", "v0");
	store(f, "k1", "v1");
	assert_int_equal(serve(f, 10, "bget k0 k1\r\n"), 2);
	expect_dgram(f, 0, 10, 0, 1, "VALUE k0 0 2\r\nv0\r\n");
	expect_dgram(f, 1, 10, 0, 1, "VALUE k1 0 2\r\nv1\r\nEND\r\n");
	assert_int_equal(serve(f, 10, "bget k9 k8\r\n"), 2);
	expect_dgram(f, 0, 10, 0, 0, "");
	expect_dgram(f, 1, 10, 0, 1, "END\r\n");
}

/* Replies memcached has queued but not flushed (flushes: a retrieval
 * command's END, mn) are lost when the input makes it close, or leaves it
 * waiting for more input, or a retrieval command fails on a long key. */
static void test_unflushed_replies_discarded(void **state)
{
	struct fx *f = *state;
	char *req = xmalloc(4000), *val = xmalloc(2001);

	store(f, "k0", "v0");
	assert_int_equal(serve(f, 11, "version\r\nGET / HTTP/1.1\r\n"), 0);
	assert_int_equal(serve(f, 11, "mn\r\nversion\r\nGET / HTTP/1.1\r\n"
				      "version\r\n"), 1);
	expect_dgram(f, 0, 11, 0, 1, "MN\r\n");
	assert_int_equal(serve(f, 11, "get k0\r\nversion\r\nGET / HTTP/1.1\r\n"),
			 1);
	/* A line of more than 2048 bytes with no '\n': not a get, closed;
	 * a get, waited for (the replies before it are sent). */
	strcpy(req, "version\r\n");
	memset(req + 9, 'x', 3000);
	req[3009] = '\0';
	assert_int_equal(serve(f, 11, req), 0);
	memcpy(req + 9, "get k0 ", 7);
	assert_int_equal(serve(f, 11, req), 1);
	req[2000] = '\0';
	memcpy(req + 9, "xxxxxxx", 7);
	assert_int_equal(serve(f, 11, req), 1);
	/* A data block cut short. */
	assert_int_equal(serve(f, 11, "version\r\nset k0 0 0 10\r\nhi\r\n"), 0);
	assert_int_equal(serve(f, 11, "get k0\r\nversion\r\nms k0 10\r\nhi\r\n"),
			 1);
	expect_dgram(f, 0, 11, 0, 1, "VALUE k0 0 2\r\nv0\r\nEND\r\n");
	/* A refused value longer than the datagram: still swallowing. */
	assert_int_equal(serve(f, 11, "version\r\nset k0 0 0 2000000\r\nabc\r\n"),
			 0);
	assert_int_equal(serve(f, 11, "set k0 0 0 2000000\r\n"), 0);
	/* One that ends inside the datagram is answered, and what follows
	 * is run. */
	f->s.settings.item_max = 1024;
	assert_int_equal(serve(f, 11, "set k0 0 0 2000\r\n"), 0);
	memset(val, 'z', 2000);
	val[2000] = '\0';
	sprintf(req, "set k0 0 0 2000\r\n%s\r\nversion\r\n", val);
	assert_int_equal(serve(f, 11, req), 2);
	expect_dgram(f, 0, 11, 0, 1,
		     "SERVER_ERROR object too large for cache\r\n");
	expect_dgram(f, 1, 11, 0, 1, "VERSION 1.6.18\r\n");
	/* A retrieval command with a long key culls the queue first. */
	val[251] = '\0';
	sprintf(req, "version\r\nmn\r\nversion\r\nget k0 %s\r\n", val);
	assert_int_equal(serve(f, 11, req), 3);
	expect_dgram(f, 1, 11, 0, 1, "MN\r\n");
	expect_dgram(f, 2, 11, 0, 1, "CLIENT_ERROR bad command line format\r\n");
	/* Not a bad exptime, nor a get without a key. */
	assert_int_equal(serve(f, 11, "version\r\ngat abc k0\r\nversion\r\n"
				      "get\r\n"), 4);
	free(val);
	free(req);
}

/* memcached closes a connection after many bad lines; a datagram has none
 * to close, and every bad line in it gets its ERROR. */
static void test_bad_lines_all_answered(void **state)
{
	struct fx *f = *state;
	char req[200] = "";

	for (int i = 0; i < 20; i++)
		strcat(req, "bogus\r\n");
	assert_int_equal(serve(f, 12, req), 20);
	expect_dgram(f, 19, 12, 0, 1, "ERROR\r\n");
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
		cmocka_unit_test_setup_teardown(
			test_reply_over_max_dropped_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_multiget_whole,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_quit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_in_line, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bget, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_unflushed_replies_discarded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines_all_answered,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
