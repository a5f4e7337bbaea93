/*
 * memcached's meta protocol: mg, ms, md, ma, me and mn, answered byte for
 * byte as memcached 1.6.18 answers them. Every behaviour here, odd ones
 * included, was checked against a running memcached 1.6.18; the oddities
 * are noted where they are matched. Flags are read by meta_parse
 * (proto_meta_flags.c), which all four commands share, as in memcached.
 * This file dispatches and serves the reading side (mg, me, mn);
 * proto_meta_store.c serves the writing side (ms, md, ma).
 *
 * memcached runs a meta command under its item lock and applies the
 * flags while it writes the reply, in request order: "mg k t T30" prints
 * the old TTL and sets the new one, "mg k T30 t" prints the new one. The
 * engine here has no such lock, so a command reads the item once, walks
 * the flags in order against that copy (tracking the TTL as the flags
 * change it), and then applies what the walk decided: a touch, a win
 * token (cc_meta_win, which hands it out once per version even when two
 * clients race for it). A too-long opaque ends the walk with an error,
 * as in memcached, keeping what the flags before it did.
 *
 * Quiet mode (q) follows 1.6.18 exactly, which is narrower than the
 * protocol text: mg hides only EN, ms only HD, md only HD, ma only a
 * successful HD/VA on an existing item (a vivified one is still shown).
 * Errors are never hidden. A client sends mn to learn that everything
 * before it has been answered.
 *
 * Engine views are copied or pinned (proto_out_value) before a command
 * returns, so the server may pass a quiescent point after proto_process.
 */
#include <errno.h>

#include "proto_meta_internal.h"

/* ---- mg ---- */

/*
 * mg N on a miss: the empty item memcached creates, holding the win
 * token (unless the reply is to fail on a long opaque: memcached hands
 * the token out only once the reply is written). memcached bumps it as
 * it would a hit, so it is FETCHED for the next reader. If another
 * client created it first, this one reads that item instead.
 */
static int mg_vivify(struct proto_req *r, const struct meta_req *m,
		     unsigned lookup, uint32_t now, struct cc_view *v)
{
	struct cc_store_req sr = {
		.mode = CC_ADD,
		.key = m->key,
		.key_len = m->key_len,
		.value = "",
		.exptime = meta_created_exptime(m),
	};
	uint64_t cas = 0;
	int err;

	if (m->bad_opaque == m->nflag)
		sr.meta |= CC_META_WIN_SENT;
	if (!(lookup & CC_LOOKUP_NO_BUMP))
		sr.meta |= CC_META_FETCHED;
	err = proto_store(r, &sr, &cas);
	if (err == -EEXIST)
		return cc_lookup(proto_thread(r), m->key, m->key_len, lookup, v)
		       == 0 ? 0 : -ENOENT;
	if (err != 0)
		return err;
	memset(v, 0, sizeof(*v));
	v->cas = cas;
	v->atime = now;
	return 1;
}

static enum proto_cmd_result mg_miss(struct proto_req *r,
				     const struct meta_req *m)
{
	proto_count(&r->w->counters.cmd_get, 1);
	proto_count(&r->w->counters.get_misses, 1);
	return meta_echo_reply(r, m, "EN", m->quiet);
}

/* The flags' output and effects in request order, from the item as it
 * was read (created: just vivified). */
struct mg_walk {
	uint32_t expiry;  /* the item's expiry as the flags change it */
	bool touched;     /* a T was applied */
	bool won;         /* N vivified, or R found the TTL short */
};

static char *mg_flags(struct proto_req *r, const struct meta_req *m,
		      const struct cc_view *v, bool created, uint32_t now,
		      char *p, struct mg_walk *w)
{
	for (unsigned i = 0; i < m->nflag; i++) {
		const struct proto_token *t = &m->flag[i];

		if (i == m->bad_opaque)
			return NULL;
		switch (t->s[0]) {
		case 'T':
			w->expiry = meta_expiry(r, m->ttl, now);
			w->touched = true;
			break;
		case 'N':
			if (created) {
				w->expiry = meta_expiry(r, m->vivify_ttl, now);
				w->won = true;
			}
			break;
		case 'R':
			/* memcached compares with the TTL as set so far. */
			if (!(v->meta & CC_META_WIN_SENT) && !created &&
			    w->expiry != 0 &&
			    w->expiry < meta_expiry(r, m->recache_ttl, now))
				w->won = true;
			break;
		case 's':
			p = meta_put_num(p, 's', v->value_len);
			break;
		case 't':
			p = meta_put_ttl(p, w->expiry, now);
			break;
		case 'c':
			p = meta_put_num(p, 'c', v->cas);
			break;
		case 'f':
			p = meta_put_num(p, 'f', v->flags);
			break;
		case 'l':
			p = meta_put_num(p, 'l', (uint32_t)(now - v->atime));
			break;
		case 'h':
			p = meta_put_num(p, 'h',
					 (v->meta & CC_META_FETCHED) != 0);
			break;
		case 'O':
			p = meta_put_token(p, t);
			break;
		case 'k':
			/* As memcached: in base64 when the item was stored
			 * with b, whatever this request says (an item mg N
			 * created is not marked). */
			p = meta_put_key(p, m->key, m->key_len,
					 v->meta & CC_META_BINARY_KEY);
			break;
		default:
			break;
		}
	}
	return p;
}

static enum proto_cmd_result mg_hit(struct proto_req *r,
				    const struct meta_req *m,
				    const struct cc_view *v, bool created,
				    uint32_t now)
{
	struct mg_walk w = { .expiry = v->expiry };
	bool sent = v->meta & CC_META_WIN_SENT;
	bool stale = v->meta & CC_META_STALE;
	char *start = meta_line_begin(r), *p;

	if (!start)
		return PROTO_CMD_DONE;
	p = meta_put_status(start, m->value, v->value_len);
	p = mg_flags(r, m, v, created, now, p, &w);
	if (!p) {
		/* The T before the long opaque stays done; a vivified item
		 * was stored with its TTL already. */
		if (w.touched && !created)
			cc_touch(proto_thread(r), m->key, m->key_len, m->ttl);
		return proto_error(r, "CLIENT_ERROR opaque token too long");
	}

	/* A stale item's first reader wins the recache. */
	if (stale && !sent)
		w.won = true;
	/* The token is taken before the touch, which keeps it: a T that
	 * expires the item still shows the W memcached shows. */
	if (w.won && !created) {
		int got = cc_meta_win(proto_thread(r), m->key, m->key_len,
				      v->cas);

		/* Lost to a client that won since this one read the item:
		 * memcached, which serialises the two, shows this one Z. */
		if (got == 0)
			sent = true;
		w.won = got == 1;
	}
	if (w.touched && !created)
		cc_touch(proto_thread(r), m->key, m->key_len, m->ttl);
	/* memcached's order: Z, X, then W. */
	if (sent) {
		memcpy(p, " Z", 2);
		p += 2;
	}
	if (stale) {
		memcpy(p, " X", 2);
		p += 2;
	}
	if (w.won) {
		memcpy(p, " W", 2);
		p += 2;
	}
	meta_line_end(r, start, p);
	if (m->value)
		proto_reply_data(r, v);

	/* memcached counts an mg that set a TTL as a touch, not a get. */
	if (w.touched) {
		proto_count(&r->w->counters.cmd_touch, 1);
	} else {
		proto_count(&r->w->counters.cmd_get, 1);
		proto_count(&r->w->counters.get_hits, 1);
	}
	return PROTO_CMD_DONE;
}

static enum proto_cmd_result cmd_mg(struct proto_req *r,
				    struct proto_token *tok, unsigned ntok)
{
	const char *err = "CLIENT_ERROR bad command line format";
	struct meta_req m;
	struct cc_view v;
	unsigned lookup = 0;
	uint32_t now;
	int rc;

	if (ntok < 2)
		return proto_error(r, "ERROR");
	if (proto_key_too_long(&tok[1]))
		return proto_error(r, "CLIENT_ERROR bad command line format");
	if (ntok + 1 > META_TOKENS_MAX)
		return proto_error(r,
			"CLIENT_ERROR options flags are too long");
	if (meta_parse(&m, tok, ntok, 2, &err) != 0)
		return proto_error(r, err);

	now = proto_now(r);
	/* memcached bumps an item it had to lock (N T R h l) only after
	 * the reply is written, so not when a long opaque fails it. */
	if (m.no_bump || (m.locked && m.bad_opaque < m.nflag))
		lookup = CC_LOOKUP_NO_BUMP;
	rc = cc_lookup(proto_thread(r), m.key, m.key_len, lookup, &v);
	if (rc != 0 && m.vivify)
		rc = mg_vivify(r, &m, lookup, now, &v);
	if (rc < 0)
		return mg_miss(r, &m);
	return mg_hit(r, &m, &v, rc == 1, now);
}

/* ---- me, mn ---- */

static char *put_i32(char *p, int32_t v)
{
	if (v < 0) {
		*p++ = '-';
		return proto_utoa((uint64_t)0 - (uint64_t)(int64_t)v, p);
	}
	return proto_utoa((uint64_t)v, p);
}

/*
 * memcached's debug line: "ME <key> exp=<-seconds left, or -1> la=<idle
 * seconds> cas=<cas> fetch=<yes|no> cls=<slab class> size=<item bytes>".
 * exp is memcached's now minus the expiry, so a live item shows a
 * negative number. cls and size are what memcached with its default
 * slab sizes would report for this item; there are no slabs here.
 */
static enum proto_cmd_result cmd_me(struct proto_req *r,
				    struct proto_token *tok, unsigned ntok)
{
	char keybuf[CC_KEY_MAX];
	const char *key;
	size_t key_len, size;
	bool binary = false;
	struct cc_view v;
	uint32_t now;
	char *start, *p;

	if (ntok < 2 || proto_key_too_long(&tok[1]))
		return proto_error(r, "CLIENT_ERROR bad command line format");
	key = tok[1].s;
	key_len = tok[1].len;
	/* Only a third token of exactly "b" means a base64 key. */
	if (ntok >= 3 && PROTO_TOKEN_IS(&tok[2], "b")) {
		key_len = meta_base64_decode(key, key_len, keybuf,
					     sizeof(keybuf));
		if (key_len == 0)
			return proto_error(r,
				"CLIENT_ERROR bad command line format");
		key = keybuf;
		binary = true;
	}
	if (cc_lookup(proto_thread(r), key, key_len, CC_LOOKUP_NO_BUMP,
		      &v) != 0) {
		PROTO_REPLY(r, "EN");
		return PROTO_CMD_DONE;
	}
	now = proto_now(r);
	size = proto_item_size(key_len, v.value_len, v.flags);
	start = meta_line_begin(r);
	if (!start)
		return PROTO_CMD_DONE;
	memcpy(start, "ME ", 3);
	p = start + 3;
	/* memcached re-encodes the key of an item stored with b, whatever
	 * this request says; the engine keeps no such bit, so the request
	 * decides (as for mg's k). */
	if (binary) {
		p += meta_base64_encode(key, key_len, p);
	} else {
		memcpy(p, key, key_len);
		p += key_len;
	}
	memcpy(p, " exp=", 5);
	p = put_i32(p + 5, v.expiry ? (int32_t)(now - v.expiry) : -1);
	memcpy(p, " la=", 4);
	p = proto_utoa((uint32_t)(now - v.atime), p + 4);
	memcpy(p, " cas=", 5);
	p = proto_utoa(v.cas, p + 5);
	if (v.meta & CC_META_FETCHED) {
		memcpy(p, " fetch=yes", 10);
		p += 10;
	} else {
		memcpy(p, " fetch=no", 9);
		p += 9;
	}
	memcpy(p, " cls=", 5);
	p = proto_utoa(meta_slab_class(size), p + 5);
	memcpy(p, " size=", 6);
	p = proto_utoa(size, p + 6);
	meta_line_end(r, start, p);
	return PROTO_CMD_DONE;
}

enum proto_cmd_result proto_meta_command(struct proto_req *r,
					 struct proto_token *tok,
					 unsigned ntok)
{
	switch (tok[0].s[1]) {
	case 'g':
		return cmd_mg(r, tok, ntok);
	case 's':
		return meta_set(r, tok, ntok);
	case 'd':
		return meta_delete(r, tok, ntok);
	case 'a':
		return meta_arith(r, tok, ntok);
	case 'e':
		return cmd_me(r, tok, ntok);
	case 'n':
		/* Any tokens after mn are ignored, as in memcached. */
		PROTO_REPLY(r, "MN");
		return PROTO_CMD_DONE;
	default:
		return proto_error(r, "ERROR");
	}
}
