/*
 * The protocol layer's unit-test fixture: one cache, server, worker and
 * set of connections per test, and the feed/expect helpers the text and
 * meta test programs use (declared, with their contracts, in
 * proto_fixture.h).
 *
 * It is compiled into each of those programs rather than copied into
 * them, so the server under test and the way bytes reach it cannot drift
 * apart between the text and the meta tests.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_fixture.h"

/* ---- fixture ---- */

static uint32_t fake_clock(void *arg)
{
	const struct pfx *f = arg;

	return f->now;
}

struct pfx *pfx_new(void)
{
	struct pfx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->now = T0;
	cc_params_init(&f->p);
	f->p.memory_limit = (size_t)64 << 20;
	f->p.item_max = ITEM_MAX;
	f->p.max_threads = 4;
	f->p.hugepages = false;
	f->p.clock = fake_clock;
	f->p.clock_arg = f;
	assert_int_equal(cc_create(&f->p, &f->cache), 0);

	f->w = aligned_alloc(64, sizeof(*f->w));
	assert_non_null(f->w);
	memset(f->w, 0, sizeof(*f->w));
	f->srv.settings.item_max = ITEM_MAX;
	f->srv.settings.zero_copy_min = 4096;
	f->srv.settings.max_connections = 1024;
	f->srv.settings.threads = 1;
	f->srv.settings.tcp_port = 11211;
	f->srv.settings.flush_enabled = true;
	f->srv.settings.version = "1.6.18";
	f->srv.cache = f->cache;
	f->srv.started = (time_t)(T0 - UPTIME);
	f->srv.nworkers = 1;
	f->workers[0] = f->w;
	f->srv.workers = f->workers;
	f->w->server = &f->srv;
	assert_int_equal(cc_thread_register(f->cache, &f->w->thread), 0);
	for (unsigned i = 0; i < PFX_CLIENTS; i++) {
		proto_conn_init(&f->cl[i].conn, PROTO_TCP);
		proto_out_init(&f->cl[i].out);
	}
	return f;
}

void pfx_free(struct pfx *f)
{
	for (unsigned i = 0; i < PFX_CLIENTS; i++) {
		proto_out_deinit(&f->cl[i].out, f->cache);
		free(f->cl[i].in);
	}
	cc_thread_unregister(f->w->thread);
	cc_destroy(f->cache);
	free(f->w);
	free(f->reply);
	free(f);
}

int pfx_setup(void **state)
{
	*state = pfx_new();
	return 0;
}

int pfx_teardown(void **state)
{
	pfx_free(*state);
	return 0;
}

/* ---- talking ---- */

static void grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	*cap = need * 2;
	*buf = realloc(*buf, *cap);
	assert_non_null(*buf);
}

void pfx_drain(struct pfx *f, unsigned who)
{
	struct proto_out *o = &f->cl[who].out;
	size_t n = proto_out_pending(o);

	grow(&f->reply, &f->reply_cap, f->reply_len + n + 1);
	proto_out_copy(o, 0, n, f->reply + f->reply_len);
	assert_int_equal(proto_out_consume(o, f->cache, n, NULL), 0);
	f->reply_len += n;
	f->reply[f->reply_len] = '\0';
}

void pfx_clear(struct pfx *f)
{
	f->reply_len = 0;
	if (f->reply)
		f->reply[0] = '\0';
}

enum proto_status pfx_feed_bytes(struct pfx *f, unsigned who,
				 const void *data, size_t len)
{
	struct pfx_client *cl = &f->cl[who];
	enum proto_status st;
	size_t used;

	assert_true(cl->last == PROTO_MORE || cl->last == PROTO_BLOCKED);
	grow(&cl->in, &cl->in_cap, cl->in_len + len + 1);
	memcpy(cl->in + cl->in_len, data, len);
	cl->in_len += len;
	for (;;) {
		st = proto_process(f->w, &cl->conn, cl->in, cl->in_len,
				   &cl->out, &used, &cl->need);
		assert_true(used <= cl->in_len);
		memmove(cl->in, cl->in + used, cl->in_len - used);
		cl->in_len -= used;
		pfx_drain(f, who);
		cc_thread_quiescent(f->w->thread);
		if (st != PROTO_BLOCKED)
			break;
	}
	cl->last = st;
	return st;
}

enum proto_status pfx_feed(struct pfx *f, const char *s)
{
	return pfx_feed_bytes(f, 0, s, strlen(s));
}

void pfx_expect(struct pfx *f, const char *req, const char *want)
{
	pfx_feed(f, req);
	assert_string_equal(f->reply ? f->reply : "", want);
	assert_int_equal(f->reply_len, strlen(want));
	pfx_clear(f);
}

void pfx_send(struct pfx *f, unsigned who, const void *data, size_t len)
{
	pfx_clear(f);
	assert_int_equal(pfx_feed_bytes(f, who, data, len), PROTO_MORE);
}

bool pfx_matches(struct pfx *f, const char *pat)
{
	const char *g = f->reply ? f->reply : "", *end = g + f->reply_len;

	f->nnum = 0;
	for (; *pat; pat++) {
		if (*pat == '#') {
			uint64_t v = 0;
			const char *start = g;

			while (g < end && isdigit((unsigned char)*g))
				v = v * 10 + (uint64_t)(*g++ - '0');
			if (g == start || f->nnum == PFX_NUMS_MAX)
				return false;
			f->num[f->nnum++] = v;
			continue;
		}
		if (g == end || *g != *pat)
			return false;
		g++;
	}
	return g == end;
}

static void print_escaped(const char *what, const char *s, size_t len)
{
	print_error("%s: \"", what);
	for (size_t i = 0; i < len && i < 600; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			print_error("\\r");
		else if (c == '\n')
			print_error("\\n");
		else if (c < 32 || c >= 127)
			print_error("\\x%02x", c);
		else
			print_error("%c", c);
	}
	print_error("\"\n");
}

static void expect_reply(struct pfx *f, const char *in, size_t in_len,
			 const char *pat)
{
	if (pfx_matches(f, pat))
		return;
	print_escaped("request ", in, in_len);
	print_escaped("got     ", f->reply ? f->reply : "", f->reply_len);
	print_escaped("expected", pat, strlen(pat));
	fail();
}

void pfx_say(struct pfx *f, unsigned who, const char *in, const char *pat)
{
	pfx_send(f, who, in, strlen(in));
	expect_reply(f, in, strlen(in), pat);
}

void pfx_say_value(struct pfx *f, const char *line, size_t len,
		   const char *tail, const char *pat)
{
	size_t ll = strlen(line), tl = strlen(tail);
	char *buf = malloc(ll + len + tl);

	assert_non_null(buf);
	memcpy(buf, line, ll);
	memset(buf + ll, 'x', len);
	memcpy(buf + ll + len, tail, tl);
	pfx_send(f, 0, buf, ll + len + tl);
	expect_reply(f, buf, ll, pat);
	free(buf);
}

void pfx_run(struct pfx *f, const struct pfx_step *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pfx_say(f, s[i].who, s[i].in, s[i].out);
		f->cl[s[i].who].conn.errors = 0;
	}
}

uint64_t pfx_cas_of(struct pfx *f, const char *key)
{
	char line[300];
	const char *c;

	snprintf(line, sizeof(line), "mg %s c u\r\n", key);
	pfx_send(f, 0, line, strlen(line));
	assert_memory_equal(f->reply, "HD c", 4);
	c = strstr(f->reply, " c");
	return strtoull(c + 2, NULL, 10);
}

char *pfx_repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}
