/*
 * memcached's text protocol: storage, retrieval, delete, incr/decr, touch,
 * flush_all and the small administrative commands, answered byte for byte
 * as memcached 1.6.18 answers them (each oddity is noted where it is
 * matched; all were checked against a running memcached).
 *
 * Token counts follow memcached's process_command_ascii, which counts a
 * terminal empty token: its "6 or 7 tokens" for set is 5 or 6 here. A
 * command with the wrong count is answered ERROR. noreply is honoured only
 * as the last token of the commands that accept it, and it silences every
 * reply of that request, errors included, as in memcached.
 *
 * The storage commands share their path with ms (proto.c: memcached's one
 * item size rule, the append/prepend checks, the outcome of a store), so
 * the two protocols refuse and store alike; only the words differ.
 *
 * Engine views obtained here are either copied into the reply queue or
 * pinned by it (proto_out_value) before the command returns, so the
 * server may pass a quiescent point as soon as proto_process returns.
 */
#include <errno.h>
#include <limits.h>

#include "proto_internal.h"

/* memcached's set_noreply_maybe: the last token, exactly "noreply". */
static void noreply_maybe(struct proto_req *r, const struct proto_token *tok,
			  unsigned ntok)
{
	if (ntok > 0 && PROTO_TOKEN_IS(&tok[ntok - 1], "noreply"))
		r->noreply = true;
}

static const struct proto_settings *settings_of(const struct proto_req *r)
{
	return &r->w->server->settings;
}

/* ---- storage: set add replace append prepend cas ---- */

/* The text protocol's words for proto_store_result's first four. */
static const char *const store_status[] = {
	[PROTO_STORED] = "STORED",
	[PROTO_EXISTS] = "EXISTS",
	[PROTO_NOT_FOUND] = "NOT_FOUND",
	[PROTO_NOT_STORED] = "NOT_STORED",
};

static void store_reply(struct proto_req *r, const struct cc_store_req *sr,
			int err)
{
	enum proto_stored res = proto_store_result(err, sr->mode);

	/* memcached drops the old value when a set fails, so a stale copy
	 * does not outlive the write; other modes keep it. */
	if (res == PROTO_TOO_LARGE || res == PROTO_NO_MEMORY) {
		proto_store_error(r, sr->key, sr->key_len, res,
				  sr->mode == CC_SET);
		return;
	}
	proto_reply(r, store_status[res], strlen(store_status[res]));
}

static enum proto_cmd_result cmd_store(struct proto_req *r,
				       struct proto_token *tok, unsigned ntok,
				       enum cc_store_mode mode)
{
	struct cc_store_req sr = { .mode = mode };
	uint32_t flags;
	int32_t exptime, vlen;
	enum proto_cmd_result res;
	const char *value;
	size_t total;
	bool is_cas = mode == CC_CAS;

	if (ntok != (is_cas ? 6u : 5u) && ntok != (is_cas ? 7u : 6u))
		return proto_error(r, "ERROR");
	noreply_maybe(r, tok, ntok);
	/* memcached refuses a long key before reading the value and does
	 * not swallow it: the data line is then read as a command. */
	if (proto_key_too_long(&tok[1]))
		return proto_error(r, "CLIENT_ERROR bad command line format");
	if (!proto_parse_u32(tok[2].s, &flags) ||
	    !proto_parse_i32(tok[3].s, &exptime) ||
	    !proto_parse_i32(tok[4].s, &vlen))
		return proto_error(r, "CLIENT_ERROR bad command line format");
	if (is_cas && !proto_parse_u64(tok[5].s, &sr.cas))
		return proto_error(r, "CLIENT_ERROR bad command line format");
	/* A negative length is refused without swallowing anything too. */
	if (vlen < 0 || vlen > INT_MAX - 2)
		return proto_error(r, "CLIENT_ERROR bad command line format");

	sr.key = tok[1].s;
	sr.key_len = tok[1].len;
	sr.flags = flags;
	sr.exptime = exptime;
	sr.value_len = (size_t)vlen;
	total = (size_t)vlen + 2;

	/* Refused before the block is read, which is then swallowed. */
	if (proto_too_large(r, sr.key_len, sr.value_len, flags)) {
		r->c->swallow = total;
		proto_store_error(r, sr.key, sr.key_len, PROTO_TOO_LARGE,
				  mode == CC_SET);
		return PROTO_CMD_DONE;
	}
	res = proto_take_block(r, sr.value_len, total, &value);
	if (!value)
		return res;
	sr.value = value;
	store_reply(r, &sr, proto_store(r, &sr, NULL));
	return PROTO_CMD_DONE;
}

/* ---- retrieval: get gets gat gats ---- */

/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n". A value below
 * zero_copy_min goes in with its header in one reservation (the common,
 * small case); a larger one is queued by reference (proto_out_value). */
static void value_reply(struct proto_req *r, const struct proto_token *key,
			const struct cc_view *v, bool with_cas)
{
	uint32_t zmin = atomic_load_explicit(&settings_of(r)->zero_copy_min,
					     memory_order_relaxed);
	bool copy = zmin == 0 || v->value_len < zmin;
	size_t room = key->len + 6 + 11 + 11 + 21 + 2;
	char *p, *start;

	if (copy)
		room += (size_t)v->value_len + 2;
	p = proto_out_reserve(r->out, room);
	if (!p) {
		r->failed = true;
		return;
	}
	start = p;
	memcpy(p, "VALUE ", 6);
	p += 6;
	memcpy(p, key->s, key->len);
	p += key->len;
	*p++ = ' ';
	p = proto_utoa(v->flags, p);
	*p++ = ' ';
	p = proto_utoa(v->value_len, p);
	if (with_cas) {
		*p++ = ' ';
		p = proto_utoa(v->cas, p);
	}
	*p++ = '\r';
	*p++ = '\n';
	if (copy) {
		memcpy(p, v->value, v->value_len);
		p += v->value_len;
		*p++ = '\r';
		*p++ = '\n';
		proto_out_commit(r->out, (size_t)(p - start));
		return;
	}
	proto_out_commit(r->out, (size_t)(p - start));
	proto_reply_data(r, v);
}

/* Serves keys[0, n): a batched lookup for get/gets, one gat per key;
 * without reply, only their effects (touches, hit marks, counts). */
static void get_keys(struct proto_req *r, struct proto_token *keys,
		     unsigned n, bool with_cas, bool touch, int64_t exptime,
		     bool reply)
{
	struct cc_key k[PROTO_TOKENS_MAX];
	struct cc_view views[PROTO_TOKENS_MAX];
	int results[PROTO_TOKENS_MAX];
	struct proto_counters *cnt = &r->w->counters;
	unsigned hits;

	if (n == 0)
		return;
	if (touch) {
		for (unsigned i = 0; i < n; i++) {
			results[i] = cc_get_touch(proto_thread(r), keys[i].s,
						  keys[i].len, exptime,
						  &views[i]);
		}
		/* memcached counts gat and gats as touches only: neither
		 * cmd_get nor get_hits/get_misses move. */
		proto_count(&cnt->cmd_touch, n);
	} else {
		for (unsigned i = 0; i < n; i++) {
			k[i].data = keys[i].s;
			k[i].len = keys[i].len;
		}
		hits = cc_get_bulk(proto_thread(r), n, k, views, results);
		proto_count(&cnt->cmd_get, n);
		proto_count(&cnt->get_hits, hits);
		proto_count(&cnt->get_misses, n - hits);
	}
	for (unsigned i = 0; i < n && reply; i++)
		if (results[i] == 0)
			value_reply(r, &keys[i], &views[i], with_cas);
	if (r->c->get_nkeys == 0)
		r->c->get_first_hit = results[0] == 0;
	r->c->get_last_hit = results[n - 1] == 0;
	r->c->get_nkeys += n;
}

/* True if a space-separated word of s[0, len) is longer than a key may
 * be. memcached runs a multiget's keys up to such a key (a gat's touches
 * happen) and then discards the whole reply, so the line is checked
 * before anything is queued, and the keys before it then run without
 * one. (memcached in fact drops every reply it has not written yet,
 * those of earlier pipelined requests included; which ones depends on
 * its write timing, so that is not copied: only this request's reply is
 * replaced.) */
static bool has_long_key(const char *s, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		run = s[i] == ' ' || s[i] == '\0' ? 0 : run + 1;
		if (run > CC_KEY_MAX)
			return true;
	}
	return false;
}

/* How many of keys[0, n) come before the first one too long. */
static unsigned short_keys(const struct proto_token *keys, unsigned n)
{
	unsigned i = 0;

	while (i < n && keys[i].len <= CC_KEY_MAX)
		i++;
	return i;
}

static enum proto_cmd_result cmd_get(struct proto_req *r,
				     struct proto_token *tok, unsigned ntok,
				     bool with_cas, bool touch)
{
	int32_t exptime = 0;
	unsigned first = 1;
	bool long_key;

	r->c->get_nkeys = 0;
	if (ntok < 2)
		return proto_error(r, "ERROR");
	if (touch) {
		if (!proto_parse_i32(tok[1].s, &exptime))
			return proto_error(r,
				"CLIENT_ERROR invalid exptime argument");
		first = 2;
	}
	long_key = ntok > first &&
		   has_long_key(tok[first].s,
				(size_t)(r->line + r->line_len - tok[first].s));

	/* memcached tokenizes a long multiget 24 tokens at a time; the last
	 * token holds the rest of the line, split again here. */
	while (ntok == PROTO_TOKENS_MAX) {
		struct proto_token *rest = &tok[PROTO_TOKENS_MAX - 1];
		unsigned n = PROTO_TOKENS_MAX - 1 - first;
		unsigned ok = short_keys(tok + first, n);

		get_keys(r, tok + first, ok, with_cas, touch, exptime,
			 !long_key);
		if (ok < n)
			goto too_long;
		ntok = proto_tokenize(rest->s, rest->len, tok,
				      PROTO_TOKENS_MAX);
		first = 0;
	}
	if (ntok > first)
		get_keys(r, tok + first, short_keys(tok + first, ntok - first),
			 with_cas, touch, exptime, !long_key);
	if (long_key)
		goto too_long;
	PROTO_REPLY(r, "END");
	return PROTO_CMD_DONE;

too_long:
	return proto_error(r, "CLIENT_ERROR bad command line format");
}

/* ---- delete, incr/decr, touch ---- */

static enum proto_cmd_result cmd_delete(struct proto_req *r,
					struct proto_token *tok, unsigned ntok)
{
	if (ntok < 2 || ntok > 4)
		return proto_error(r, "ERROR");
	/* memcached still takes the hold time of old clients, but only
	 * "0": "delete k 0", "delete k noreply", "delete k 0 noreply". */
	if (ntok > 2) {
		bool zero = PROTO_TOKEN_IS(&tok[2], "0");
		bool valid;

		noreply_maybe(r, tok, ntok);
		valid = (ntok == 3 && (zero || r->noreply)) ||
			(ntok == 4 && zero && r->noreply);
		if (!valid)
			return proto_error(r, "CLIENT_ERROR bad command line "
					   "format.  Usage: delete <key> "
					   "[noreply]");
	}
	if (proto_key_too_long(&tok[1]))
		return proto_error(r, "CLIENT_ERROR bad command line format");
	if (cc_delete(proto_thread(r), tok[1].s, tok[1].len, 0) == 0)
		PROTO_REPLY(r, "DELETED");
	else
		PROTO_REPLY(r, "NOT_FOUND");
	return PROTO_CMD_DONE;
}

static enum proto_cmd_result cmd_arith(struct proto_req *r,
				       struct proto_token *tok, unsigned ntok,
				       bool decr)
{
	struct cc_arith_req ar = { .decr = decr };
	uint64_t value;
	char num[21];

	if (ntok != 3 && ntok != 4)
		return proto_error(r, "ERROR");
	noreply_maybe(r, tok, ntok);
	if (proto_key_too_long(&tok[1]))
		return proto_error(r, "CLIENT_ERROR bad command line format");
	if (!proto_parse_u64(tok[2].s, &ar.delta))
		return proto_error(r,
			"CLIENT_ERROR invalid numeric delta argument");
	ar.key = tok[1].s;
	ar.key_len = tok[1].len;
	switch (proto_arith(r, &ar, &value, NULL)) {
	case 0:
		proto_reply(r, num, (size_t)(proto_utoa(value, num) - num));
		break;
	case -ENOENT:
		PROTO_REPLY(r, "NOT_FOUND");
		break;
	case -EDOM:
		return proto_error(r, "CLIENT_ERROR cannot increment or "
				   "decrement non-numeric value");
	default:
		PROTO_REPLY(r, "SERVER_ERROR out of memory");
		break;
	}
	return PROTO_CMD_DONE;
}

static enum proto_cmd_result cmd_touch(struct proto_req *r,
				       struct proto_token *tok, unsigned ntok)
{
	int32_t exptime;

	if (ntok != 3 && ntok != 4)
		return proto_error(r, "ERROR");
	noreply_maybe(r, tok, ntok);
	if (proto_key_too_long(&tok[1]))
		return proto_error(r, "CLIENT_ERROR bad command line format");
	if (!proto_parse_i32(tok[2].s, &exptime))
		return proto_error(r, "CLIENT_ERROR invalid exptime argument");
	proto_count(&r->w->counters.cmd_touch, 1);
	if (cc_touch(proto_thread(r), tok[1].s, tok[1].len, exptime) == 0)
		PROTO_REPLY(r, "TOUCHED");
	else
		PROTO_REPLY(r, "NOT_FOUND");
	return PROTO_CMD_DONE;
}

/* ---- flush_all, version, verbosity, quit, shutdown ---- */

static enum proto_cmd_result cmd_flush(struct proto_req *r,
				       struct proto_token *tok, unsigned ntok)
{
	int32_t when = 0;
	uint32_t delay = 0, now;

	if (ntok > 3)
		return proto_error(r, "ERROR");
	noreply_maybe(r, tok, ntok);
	proto_count(&r->w->counters.cmd_flush, 1);
	if (!settings_of(r)->flush_enabled)
		return proto_error(r, "CLIENT_ERROR flush_all not allowed");
	/* memcached reads the delay whenever the line is not just
	 * "flush_all [noreply]", so "flush_all 1 2" flushes in 1 second. */
	if (ntok != (r->noreply ? 2u : 1u) &&
	    !proto_parse_i32(tok[1].s, &when))
		return proto_error(r, "CLIENT_ERROR invalid exptime argument");
	/* Zero or negative: now. Past 30 days: an absolute time. */
	if (when > CC_TTL_RELATIVE_MAX) {
		now = proto_now(r);
		delay = (uint32_t)when > now ? (uint32_t)when - now : 0;
	} else if (when > 0) {
		delay = (uint32_t)when;
	}
	cc_flush(proto_thread(r), delay);
	PROTO_REPLY(r, "OK");
	return PROTO_CMD_DONE;
}

static enum proto_cmd_result cmd_version(struct proto_req *r)
{
	const char *v = settings_of(r)->version ? settings_of(r)->version : "";
	size_t n = strlen(v);
	char *p = proto_out_reserve(r->out, 8 + n + 2);

	if (!p) {
		r->failed = true;
		return PROTO_CMD_DONE;
	}
	memcpy(p, "VERSION ", 8);
	memcpy(p + 8, v, n);
	memcpy(p + 8 + n, "\r\n", 2);
	proto_out_commit(r->out, 8 + n + 2);
	return PROTO_CMD_DONE;
}

/* memcached caps the level at 2 (MAX_VERBOSITY_LEVEL). */
static enum proto_cmd_result cmd_verbosity(struct proto_req *r,
					   struct proto_token *tok,
					   unsigned ntok)
{
	struct proto_settings *s = &r->w->server->settings;
	uint32_t level;

	if (ntok != 2 && ntok != 3)
		return proto_error(r, "ERROR");
	noreply_maybe(r, tok, ntok);
	if (!proto_parse_u32(tok[1].s, &level))
		return proto_error(r, "CLIENT_ERROR bad command line format");
	atomic_store_explicit(&s->verbosity, level > 2 ? 2 : level,
			      memory_order_relaxed);
	PROTO_REPLY(r, "OK");
	return PROTO_CMD_DONE;
}

static enum proto_cmd_result cmd_shutdown(struct proto_req *r,
					  struct proto_token *tok,
					  unsigned ntok)
{
	struct proto_server *s = r->w->server;

	if (!s->settings.shutdown_enabled)
		return proto_error(r, "ERROR: shutdown not enabled");
	if (ntok == 1 || (ntok == 2 && PROTO_TOKEN_IS(&tok[1], "graceful"))) {
		atomic_store_explicit(&s->shutdown_requested, true,
				      memory_order_release);
		return PROTO_CMD_SHUTDOWN;
	}
	return proto_error(r, "CLIENT_ERROR invalid shutdown mode");
}

enum proto_cmd_result proto_text_command(struct proto_req *r,
					 struct proto_token *tok,
					 unsigned ntok)
{
	const struct proto_token *t = &tok[0];

	/* memcached answers an unknown command of these first letters
	 * ERROR at once; only the others reach its HTTP check below. */
	switch (t->s[0]) {
	case 'g':
		if (PROTO_TOKEN_IS(t, "get"))
			return cmd_get(r, tok, ntok, false, false);
		if (PROTO_TOKEN_IS(t, "gets"))
			return cmd_get(r, tok, ntok, true, false);
		if (PROTO_TOKEN_IS(t, "gat"))
			return cmd_get(r, tok, ntok, false, true);
		if (PROTO_TOKEN_IS(t, "gats"))
			return cmd_get(r, tok, ntok, true, true);
		return proto_error(r, "ERROR");
	case 's':
		if (PROTO_TOKEN_IS(t, "set"))
			return cmd_store(r, tok, ntok, CC_SET);
		if (PROTO_TOKEN_IS(t, "shutdown"))
			return cmd_shutdown(r, tok, ntok);
		return proto_error(r, "ERROR");
	case 'a':
		if (PROTO_TOKEN_IS(t, "add"))
			return cmd_store(r, tok, ntok, CC_ADD);
		if (PROTO_TOKEN_IS(t, "append"))
			return cmd_store(r, tok, ntok, CC_APPEND);
		return proto_error(r, "ERROR");
	case 'c':
		if (PROTO_TOKEN_IS(t, "cas"))
			return cmd_store(r, tok, ntok, CC_CAS);
		return proto_error(r, "ERROR");
	case 'i':
		if (PROTO_TOKEN_IS(t, "incr"))
			return cmd_arith(r, tok, ntok, false);
		return proto_error(r, "ERROR");
	case 'd':
		if (PROTO_TOKEN_IS(t, "delete"))
			return cmd_delete(r, tok, ntok);
		if (PROTO_TOKEN_IS(t, "decr"))
			return cmd_arith(r, tok, ntok, true);
		return proto_error(r, "ERROR");
	case 't':
		if (PROTO_TOKEN_IS(t, "touch"))
			return cmd_touch(r, tok, ntok);
		return proto_error(r, "ERROR");
	default:
		if (PROTO_TOKEN_IS(t, "prepend"))
			return cmd_store(r, tok, ntok, CC_PREPEND);
		if (PROTO_TOKEN_IS(t, "replace"))
			return cmd_store(r, tok, ntok, CC_REPLACE);
		/* memcached keeps the undocumented "bget" as a get. */
		if (PROTO_TOKEN_IS(t, "bget"))
			return cmd_get(r, tok, ntok, false, false);
		if (PROTO_TOKEN_IS(t, "flush_all"))
			return cmd_flush(r, tok, ntok);
		if (PROTO_TOKEN_IS(t, "version"))
			return cmd_version(r);
		if (PROTO_TOKEN_IS(t, "quit"))
			return PROTO_CMD_CLOSE;
		if (PROTO_TOKEN_IS(t, "verbosity"))
			return cmd_verbosity(r, tok, ntok);
		break;
	}
	/* memcached hangs up on what looks like an HTTP request line: its
	 * last word starts "HTTP/". */
	if (strncmp(tok[ntok - 1].s, "HTTP/", 5) == 0)
		return PROTO_CMD_CLOSE;
	return proto_error(r, "ERROR");
}
