/*
 * The writing side of memcached's meta protocol: ms, md and ma, answered
 * byte for byte as memcached 1.6.18 answers them (see proto_meta.c for
 * how flags are applied in order against the engine, which has no item
 * lock to hold while a reply is written).
 *
 * ms reads its value block in place. Until the whole block has arrived
 * it returns PROTO_CMD_AGAIN having changed nothing (a b key is decoded
 * into the request, not over the line), so the dispatcher can offer the
 * same bytes again; a request refused once its length is known has its
 * block swallowed, one refused earlier does not, as in memcached.
 */
#include <errno.h>
#include <limits.h>

#include "proto_meta_internal.h"

/* ---- ms ---- */

/* An error that leaves the value block unread: memcached discards it. */
static enum proto_cmd_result swallow_error(struct proto_req *r,
					   const char *s, size_t total)
{
	r->c->swallow = total;
	return proto_error(r, s);
}

/* The meta protocol's words for proto_store_result's first four. */
static const char store_status[][3] = {
	[PROTO_STORED] = "HD",
	[PROTO_EXISTS] = "EX",
	[PROTO_NOT_FOUND] = "NF",
	[PROTO_NOT_STORED] = "NS",
};

static enum proto_cmd_result ms_store(struct proto_req *r,
				      const struct meta_req *m,
				      struct cc_store_req *sr)
{
	uint64_t cas = 0;
	char *start;
	enum proto_stored res = proto_store_result(proto_store(r, sr, &cas),
						   sr->mode);

	/* memcached drops the old value so it does not outlive a write
	 * that failed, whatever the mode. */
	if (res == PROTO_TOO_LARGE || res == PROTO_NO_MEMORY) {
		proto_store_error(r, sr->key, sr->key_len, res, true);
		return PROTO_CMD_DONE;
	}
	if (res == PROTO_STORED && m->quiet)
		return PROTO_CMD_DONE;
	start = meta_line_begin(r);
	if (!start)
		return PROTO_CMD_DONE;
	memcpy(start, store_status[res], 2);
	/* A refused store has no new CAS: memcached says c0. A too-long
	 * opaque was refused before the store, so the echo is whole. */
	if (res != PROTO_STORED)
		cas = 0;
	meta_line_end(r, start, meta_put_echo(start + 2, m, &cas));
	return PROTO_CMD_DONE;
}

enum proto_cmd_result meta_set(struct proto_req *r,
			       struct proto_token *tok, unsigned ntok)
{
	const char *err = "CLIENT_ERROR bad command line format";
	struct cc_store_req sr = { .mode = CC_SET };
	enum proto_cmd_result res;
	struct meta_req m;
	const char *value;
	int32_t vlen;
	size_t total;
	bool bad = false;

	if (ntok < 2)
		return proto_error(r, "ERROR");
	/* Refused before the length is known: the block is not swallowed
	 * and memcached reads it as commands. */
	if (proto_key_too_long(&tok[1]) || ntok == 2)
		return proto_error(r, "CLIENT_ERROR bad command line format");
	if (ntok + 1 > META_TOKENS_MAX)
		return proto_error(r, "CLIENT_ERROR options flags too long");
	/* memcached's safe_strtol truncates to 32 bits: a length of
	 * 4294967297 is 1. */
	if (!proto_parse_i32(tok[2].s, &vlen) || vlen < 0 ||
	    vlen > INT_MAX - 2)
		return proto_error(r, "CLIENT_ERROR bad command line format");
	total = (size_t)vlen + 2;

	if (meta_parse(&m, tok, ntok, 3, &err) != 0)
		return swallow_error(r, err, total);
	if (m.bad_opaque < m.nflag) {
		err = "CLIENT_ERROR opaque token too long";
		bad = true;
	}
	switch (m.mode) {
	case 0: case 'S':
		break;
	case 'E':
		sr.mode = CC_ADD;
		break;
	case 'A':
		sr.mode = CC_APPEND;
		break;
	case 'P':
		sr.mode = CC_PREPEND;
		break;
	case 'R':
		sr.mode = CC_REPLACE;
		break;
	default:
		/* Modes are upper case only in 1.6.18. */
		return swallow_error(r,
			"CLIENT_ERROR invalid mode for ms M token", total);
	}
	if (bad)
		return swallow_error(r, err, total);
	/* A CAS turns set and replace into cas; append and prepend check
	 * it (0 checks nothing); add ignores it. */
	if (m.has_cas) {
		if (sr.mode == CC_SET || sr.mode == CC_REPLACE)
			sr.mode = CC_CAS;
		if (sr.mode != CC_ADD)
			sr.cas = m.cas;
	}

	sr.key = m.key;
	sr.key_len = m.key_len;
	sr.value_len = (size_t)vlen;
	sr.flags = m.client_flags;
	sr.exptime = m.ttl;
	/* memcached takes C0 as no CAS: a cas with it fails, I or not. */
	sr.invalidate = m.invalidate && sr.mode == CC_CAS && m.cas != 0;
	/* A base64 key marks the item, so that mg k echoes it in base64.
	 * memcached marks the request's item, which append and prepend
	 * only copy from: the joined item is unmarked. */
	if (m.binary && sr.mode != CC_APPEND && sr.mode != CC_PREPEND)
		sr.meta |= CC_META_BINARY_KEY;

	/* memcached's one size rule, as for the text protocol's stores; a
	 * refusal here drops the key's old value too, whatever the mode,
	 * and swallows the block. */
	if (proto_too_large(r, m.key_len, sr.value_len, m.client_flags)) {
		r->c->swallow = total;
		proto_store_error(r, m.key, m.key_len, PROTO_TOO_LARGE, true);
		return PROTO_CMD_DONE;
	}
	/* A bad chunk's error shows even when quiet. */
	res = proto_take_block(r, sr.value_len, total, &value);
	if (!value)
		return res;
	sr.value = value;
	return ms_store(r, &m, &sr);
}

/* ---- md and ma ---- */

/* The line checks md and ma share, in memcached's order; they keep one
 * message for every flag error. False with *res set when the request was
 * answered with an error. */
static bool md_ma_parse(struct proto_req *r, struct proto_token *tok,
			unsigned ntok, struct meta_req *m,
			enum proto_cmd_result *res)
{
	const char *err = NULL;

	if (ntok < 2)
		*res = proto_error(r, "ERROR");
	else if (proto_key_too_long(&tok[1]))
		*res = proto_error(r, "CLIENT_ERROR bad command line format");
	else if (ntok + 1 > META_TOKENS_MAX)
		*res = proto_error(r, "CLIENT_ERROR options flags too long");
	else if (meta_parse(m, tok, ntok, 2, &err) != 0)
		*res = proto_error(r, "CLIENT_ERROR invalid or duplicate flag");
	else
		return true;
	return false;
}

/* ---- md ---- */

enum proto_cmd_result meta_delete(struct proto_req *r,
				  struct proto_token *tok, unsigned ntok)
{
	enum proto_cmd_result res;
	struct meta_req m;
	struct cc_view v;
	uint64_t cas;
	int rc;

	if (!md_ma_parse(r, tok, ntok, &m, &res))
		return res;
	if (m.bad_opaque < m.nflag)
		return proto_error(r, "CLIENT_ERROR opaque token too long");

	cas = m.has_cas ? m.cas : 0;
	if (m.has_cas && cas == 0) {
		/* memcached compares C0 with the item's CAS, never 0. */
		rc = cc_lookup(proto_thread(r), m.key, m.key_len,
			       CC_LOOKUP_NO_BUMP, &v) == 0 ? -ESTALE : -ENOENT;
	} else if (m.invalidate) {
		rc = cc_invalidate(proto_thread(r), m.key, m.key_len, cas,
				   m.has_ttl, m.ttl, 0);
	} else {
		rc = cc_delete(proto_thread(r), m.key, m.key_len, cas);
	}
	switch (rc) {
	case 0:
		return meta_echo_reply(r, &m, "HD", m.quiet);
	case -ESTALE:
		return meta_echo_reply(r, &m, "EX", false);
	default:
		return meta_echo_reply(r, &m, "NF", false);
	}
}

/* ---- ma ---- */

/* memcached refuses an empty value as not a number before it compares
 * the CAS; cc_arith compares first. */
static bool empty_value(struct proto_req *r, const struct meta_req *m)
{
	struct cc_view v;

	return cc_lookup(proto_thread(r), m->key, m->key_len,
			 CC_LOOKUP_NO_BUMP, &v) == 0 && v.value_len == 0;
}

/* ma N on a miss: the item memcached creates holds J as its value. */
static int ma_vivify(struct proto_req *r, const struct meta_req *m,
		     uint64_t *cas)
{
	char num[21];
	struct cc_store_req sr = {
		.mode = CC_ADD,
		.key = m->key,
		.key_len = m->key_len,
		.value = num,
		.value_len = (size_t)(proto_utoa(m->initial, num) - num),
		.exptime = meta_created_exptime(m),
	};

	return proto_store(r, &sr, cas);
}

static enum proto_cmd_result ma_reply(struct proto_req *r,
				      const struct meta_req *m,
				      uint64_t value, uint64_t cas,
				      bool created)
{
	uint32_t now = proto_now(r), expiry = 0;
	char num[21], *start, *p;
	size_t len = (size_t)(proto_utoa(value, num) - num);
	bool touched = false;
	struct cc_view v;

	/* t needs the item's TTL, which cc_arith does not return. */
	for (unsigned i = 0; !created && i < m->bad_opaque; i++) {
		if (m->flag[i].s[0] == 't') {
			if (cc_lookup(proto_thread(r), m->key, m->key_len,
				      CC_LOOKUP_NO_BUMP, &v) == 0)
				expiry = v.expiry;
			break;
		}
	}
	start = meta_line_begin(r);
	if (!start)
		return PROTO_CMD_DONE;
	p = meta_put_status(start, m->value, len);
	for (unsigned i = 0; p && i < m->nflag; i++) {
		const struct proto_token *t = &m->flag[i];

		if (i == m->bad_opaque) {
			p = NULL;
			break;
		}
		switch (t->s[0]) {
		case 'c':
			p = meta_put_num(p, 'c', cas);
			break;
		case 't':
			p = meta_put_ttl(p, expiry, now);
			break;
		case 'T':
			/* ma's T sets the TTL, as mg's does. */
			expiry = meta_expiry(r, m->ttl, now);
			touched = true;
			break;
		case 'N':
			if (created)
				expiry = meta_expiry(r, m->vivify_ttl, now);
			break;
		case 'O':
			p = meta_put_token(p, t);
			break;
		case 'k':
			p = meta_put_key(p, m->key, m->key_len, m->binary);
			break;
		default:
			break;
		}
	}
	if (touched && !created)
		meta_touch(r, m);
	if (!p)
		return proto_error(r, "CLIENT_ERROR opaque token too long");
	/* Quiet hides a change to an existing item, not a creation. */
	if (m->quiet && !created)
		return PROTO_CMD_DONE;
	if (m->value) {
		memcpy(p, "\r\n", 2);
		memcpy(p + 2, num, len);
		p += 2 + len;
	}
	meta_line_end(r, start, p);
	return PROTO_CMD_DONE;
}

enum proto_cmd_result meta_arith(struct proto_req *r,
				 struct proto_token *tok, unsigned ntok)
{
	struct cc_arith_req ar = { .decr = false };
	enum proto_cmd_result res;
	struct meta_req m;
	uint64_t value = 0, cas = 0;
	bool created = false;
	int rc;

	if (!md_ma_parse(r, tok, ntok, &m, &res))
		return res;
	switch (m.mode) {
	case 0: case 'I': case '+':
		break;
	case 'D': case '-':
		ar.decr = true;
		break;
	default:
		return proto_error(r,
			"CLIENT_ERROR invalid mode for ma M token");
	}
	ar.key = m.key;
	ar.key_len = m.key_len;
	ar.delta = m.delta;
	/* Unlike md and ms, ma treats C0 as no CAS at all. */
	ar.cas = m.has_cas ? m.cas : 0;

	rc = proto_arith(r, &ar, &value, &cas);
	if (rc == -ENOENT && m.vivify) {
		rc = ma_vivify(r, &m, &cas);
		if (rc == 0) {
			created = true;
			value = m.initial;
		} else if (rc == -EEXIST) {
			/* Created by another client meanwhile. */
			rc = proto_arith(r, &ar, &value, &cas);
		} else {
			PROTO_REPLY(r, "SERVER_ERROR Out of memory allocating "
				    "new item");
			return PROTO_CMD_DONE;
		}
	}
	if (rc == -ESTALE && empty_value(r, &m))
		rc = -EDOM;
	switch (rc) {
	case 0:
		return ma_reply(r, &m, value, cas, created);
	case -ENOENT:
		return meta_echo_reply(r, &m, "NF", false);
	case -ESTALE:
		return meta_echo_reply(r, &m, "EX", false);
	case -EDOM:
		return proto_error(r, "CLIENT_ERROR cannot increment or "
				   "decrement non-numeric value");
	default:
		PROTO_REPLY(r, "SERVER_ERROR out of memory");
		return PROTO_CMD_DONE;
	}
}
