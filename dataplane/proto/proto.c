/*
 * The dispatcher: frames request lines, picks a command handler by the
 * first token, and carries the per-connection state memcached keeps
 * between reads (a refused value still to discard, malformed requests in a
 * row). Also what the text and the meta protocol must do alike, kept here
 * once so that they cannot drift apart: memcached's number parsing, the
 * reply helpers, and the storage path with memcached's item size rule.
 *
 * Framing follows memcached's try_read_command_ascii: a line ends at '\n';
 * a '\r' before it is dropped unless the line is nothing but "\r\n" (then
 * the '\r' stays, and the command "\r" is answered ERROR, as memcached
 * does). The command is read up to its first NUL byte, since memcached
 * measures it with strlen. A line with no '\n' within PROTO_LINE_MAX bytes
 * closes the connection unless it is a get/gets, which may run up to
 * PROTO_MULTIGET_LINE_MAX.
 *
 * A storage command whose data block has not fully arrived returns
 * PROTO_CMD_AGAIN before doing anything; the dispatcher then puts back the
 * bytes the tokenizer overwrote, so the same request can be offered again
 * with more input after it. Nothing is allocated here: the only memory is
 * the reply queue's.
 */
#include <ctype.h>
#include <errno.h>

#include "proto_internal.h"

void proto_conn_init(struct proto_conn *c, enum proto_transport t)
{
	memset(c, 0, sizeof(*c));
	c->transport = t;
}

void proto_counters_read(const struct proto_server *s,
			 struct proto_counters *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (uint32_t i = 0; i < s->nworkers; i++) {
		const struct proto_counters *k = &s->workers[i]->counters;

#define PROTO_COUNTER_SUM(name, help)                                  \
		atomic_store_explicit(&sum->name,                      \
			atomic_load_explicit(&sum->name,               \
					     memory_order_relaxed) +   \
			atomic_load_explicit(&k->name,                 \
					     memory_order_relaxed),    \
			memory_order_relaxed);
		PROTO_COUNTERS(PROTO_COUNTER_SUM)
#undef PROTO_COUNTER_SUM
	}
}

/* ---- numbers, memcached's util.c way ---- */

/*
 * What strtoull/strtoll leave for memcached to judge, for a C locale:
 * leading white space, an optional sign, at least one digit; the number
 * must end at white space or the string's end. mag gets the digits' value;
 * false on no digits, a bad end, or a magnitude past 2^64 - 1 (ERANGE).
 */
static bool parse_digits(const char *s, uint64_t *mag, bool *neg)
{
	const unsigned char *p = (const unsigned char *)s;
	uint64_t v = 0;
	bool any = false;

	while (isspace(*p))
		p++;
	*neg = false;
	if (*p == '+' || *p == '-') {
		*neg = *p == '-';
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		any = true;
	}
	if (!any || (*p != '\0' && !isspace(*p)))
		return false;
	*mag = v;
	return true;
}

/* safe_strtoull: strtoull negates a '-' number modulo 2^64, and memcached
 * refuses the result only if it looks negative as a signed number, so
 * "-0" is 0 and "-18446744073709551615" is 1. */
bool proto_parse_u64(const char *s, uint64_t *out)
{
	uint64_t mag;
	bool neg;

	*out = 0;
	if (!parse_digits(s, &mag, &neg))
		return false;
	if (neg)
		mag = (uint64_t)0 - mag;
	if (neg && (int64_t)mag < 0)
		return false;
	*out = mag;
	return true;
}

/* safe_strtoul: the same parse into a 64-bit unsigned long, then stored
 * into 32 bits, so "4294967296" is 0 (memcached truncates silently). */
bool proto_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	*out = 0;
	if (!proto_parse_u64(s, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

/* safe_strtoll: the signed 64-bit range, else ERANGE. */
bool proto_parse_i64(const char *s, int64_t *out)
{
	uint64_t mag;
	bool neg;

	*out = 0;
	if (!parse_digits(s, &mag, &neg))
		return false;
	if (neg) {
		if (mag > (uint64_t)INT64_MAX + 1)
			return false;
		*out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN
						      : -(int64_t)mag;
	} else {
		if (mag > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)mag;
	}
	return true;
}

/* safe_strtol: a 64-bit long stored into 32 bits, so an exptime of
 * "4294967296" is 0 and "2147483648" is negative (memcached truncates). */
bool proto_parse_i32(const char *s, int32_t *out)
{
	int64_t v;

	*out = 0;
	if (!proto_parse_i64(s, &v))
		return false;
	*out = (int32_t)(uint32_t)(uint64_t)v;
	return true;
}

char *proto_utoa(uint64_t v, char *p)
{
	char tmp[20];
	unsigned n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* ---- replies ---- */

int proto_reply(struct proto_req *r, const char *s, size_t len)
{
	char *p;

	if (r->noreply)
		return 0;
	p = proto_out_reserve(r->out, len + 2);
	if (!p) {
		r->failed = true;
		return -ENOMEM;
	}
	memcpy(p, s, len);
	p[len] = '\r';
	p[len + 1] = '\n';
	proto_out_commit(r->out, len + 2);
	return 0;
}

enum proto_cmd_result proto_error(struct proto_req *r, const char *s)
{
	proto_count(&r->w->counters.protocol_errors, 1);
	r->c->errors++;
	proto_reply(r, s, strlen(s));
	return PROTO_CMD_DONE;
}

void proto_reply_data(struct proto_req *r, const struct cc_view *v)
{
	/* An empty value may have no bytes to point at (an item mg N just
	 * made), and memcpy from NULL is undefined even for 0 bytes. */
	if ((v->value_len && proto_out_value(r->out, r->w, v) != 0) ||
	    proto_out_append(r->out, "\r\n", 2) != 0)
		r->failed = true;
}

/* ---- storage ---- */

/* Stores retried after a quiescent point before giving up on -ENOMEM.
 * The engine waits for memory itself when the thread holds no views, as
 * here (see proto_store), so a retry is a last resort. */
#define STORE_RETRIES 2

size_t proto_item_size(size_t key_len, size_t value_len, uint32_t flags)
{
	return 48 + 8 + key_len + 1 + value_len + 2 + (flags ? 4 : 0);
}

bool proto_too_large(const struct proto_req *r, size_t key_len,
		     size_t value_len, uint32_t flags)
{
	return proto_item_size(key_len, value_len, flags) >
	       r->w->server->settings.item_max;
}

/* memcached's item size rule applied to the item an append or prepend
 * would make (see proto_store). A missing item, and a CAS that does not
 * match, are left to cc_store to report: memcached answers a bad CAS
 * before it judges the size, and the engine compares it atomically. */
static int join_check(struct proto_req *r, const struct cc_store_req *sr)
{
	struct cc_view v;

	if (sr->mode != CC_APPEND && sr->mode != CC_PREPEND)
		return 0;
	if (cc_lookup(proto_thread(r), sr->key, sr->key_len,
		      CC_LOOKUP_NO_BUMP, &v) != 0)
		return 0;
	if (sr->cas != 0 && v.cas != sr->cas)
		return 0;
	if (proto_too_large(r, sr->key_len,
			    (size_t)v.value_len + sr->value_len, v.flags))
		return -E2BIG;
	return 0;
}

int proto_store(struct proto_req *r, const struct cc_store_req *sr,
		uint64_t *cas)
{
	int err = join_check(r, sr);

	if (err != 0)
		return err;
	/* Replies hold copies or pinned references, never views, so the
	 * thread may pass a quiescent point here; with none held, a store
	 * that finds the cache full evicts and waits for memory instead of
	 * failing (corecache.h). */
	cc_thread_quiescent(proto_thread(r));
	err = cc_store(proto_thread(r), sr, cas);
	for (int i = 0; err == -ENOMEM && i < STORE_RETRIES; i++) {
		cc_thread_quiescent(proto_thread(r));
		err = cc_store(proto_thread(r), sr, cas);
	}
	return err;
}

enum proto_cmd_result proto_take_block(struct proto_req *r, size_t vlen,
				       size_t total, const char **value)
{
	*value = NULL;
	if (r->data_avail < total) {
		r->need = (size_t)(r->data - r->line) + total;
		return PROTO_CMD_AGAIN;
	}
	r->data_used = total;
	proto_count(&r->w->counters.cmd_set, 1);
	if (r->data[vlen] != '\r' || r->data[vlen + 1] != '\n')
		return proto_error(r, "CLIENT_ERROR bad data chunk");
	*value = r->data;
	return PROTO_CMD_DONE;
}

/* memcached stores an item in chunks past half the largest item size
 * (its slab_chunk_max with the default page), and refuses to incr or
 * decr a chunked item whatever it holds. The longest value that is not
 * chunked, without and with client flags. */
static void number_max(const struct proto_req *r, size_t key_len,
		       uint32_t out[2])
{
	size_t chunk_max = r->w->server->settings.item_max / 2;

	for (unsigned f = 0; f < 2; f++) {
		size_t head = proto_item_size(key_len, 0, f);

		out[f] = chunk_max > head ? (uint32_t)(chunk_max - head) : 1;
	}
}

int proto_arith(struct proto_req *r, const struct cc_arith_req *req,
		uint64_t *value, uint64_t *cas)
{
	struct cc_arith_req ar = *req;
	int err;

	number_max(r, ar.key_len, ar.number_max);
	/* As in proto_store. */
	cc_thread_quiescent(proto_thread(r));
	err = cc_arith(proto_thread(r), &ar, value, cas);

	for (int i = 0; err == -ENOMEM && i < STORE_RETRIES; i++) {
		cc_thread_quiescent(proto_thread(r));
		err = cc_arith(proto_thread(r), &ar, value, cas);
	}
	return err;
}

enum proto_stored proto_store_result(int err, enum cc_store_mode mode)
{
	switch (err) {
	case 0:
		return PROTO_STORED;
	case -ESTALE:
		return PROTO_EXISTS;
	case -ENOENT:
		return mode == CC_CAS ? PROTO_NOT_FOUND : PROTO_NOT_STORED;
	case -ENOMEM:
		return PROTO_NO_MEMORY;
	case -E2BIG:
		/* A joined item past the limit; any other store past it was
		 * refused by proto_too_large already, unless the engine's
		 * own limit is the smaller one. */
		if (mode == CC_APPEND || mode == CC_PREPEND)
			return PROTO_NOT_STORED;
		return PROTO_TOO_LARGE;
	default:
		/* -EEXIST: add found a live item. */
		return PROTO_NOT_STORED;
	}
}

void proto_store_error(struct proto_req *r, const char *key, size_t key_len,
		       enum proto_stored res, bool drop_old)
{
	if (drop_old)
		cc_delete(proto_thread(r), key, key_len, 0);
	if (res == PROTO_TOO_LARGE) {
		proto_count(&r->w->counters.store_too_large, 1);
		PROTO_REPLY(r, "SERVER_ERROR object too large for cache");
	} else {
		proto_count(&r->w->counters.store_no_memory, 1);
		PROTO_REPLY(r, "SERVER_ERROR out of memory storing object");
	}
}

/* ---- framing and dispatch ---- */

/*
 * No '\n' in avail bytes: is this still a request that may complete?
 * memcached gives up past PROTO_LINE_MAX bytes unless the line, after at
 * most 100 leading spaces, starts "get " or "gets ".
 */
static bool line_may_grow(const char *p, size_t avail)
{
	size_t sp = 0;

	if (avail <= PROTO_LINE_MAX)
		return true;
	if (avail > PROTO_MULTIGET_LINE_MAX)
		return false;
	while (sp < avail && p[sp] == ' ')
		sp++;
	if (sp > 100)
		return false;
	p += sp;
	avail -= sp;
	return (avail >= 4 && memcmp(p, "get ", 4) == 0) ||
	       (avail >= 5 && memcmp(p, "gets ", 5) == 0);
}

/* Runs one request; *cls gets its class for the latency histograms. */
static enum proto_cmd_result dispatch(struct proto_req *r,
				      enum proto_class *cls)
{
	struct proto_token tok[PROTO_TOKENS_MAX];
	unsigned ntok = proto_tokenize(r->line, r->line_len, tok,
				       PROTO_TOKENS_MAX);

	*cls = PROTO_CLASS_other;
	/* memcached: no command is shorter than two bytes. */
	if (ntok == 0 || tok[0].len < 2)
		return proto_error(r, "ERROR");
	*cls = proto_classify(tok[0].s, tok[0].len);
	if (tok[0].s[0] == 'm' && tok[0].len == 2) {
		switch (tok[0].s[1]) {
		case 'g': case 's': case 'd': case 'a': case 'n': case 'e':
			proto_count(&r->w->counters.cmd_meta, 1);
			return proto_meta_command(r, tok, ntok);
		default:
			return proto_error(r, "ERROR");
		}
	}
	if (PROTO_TOKEN_IS(&tok[0], "stats"))
		return proto_stats_command(r, tok, ntok);
	return proto_text_command(r, tok, ntok);
}

/* Puts back what the tokenizer and the framing overwrote: every NUL
 * inside the line was a space (the line was cut at its first NUL). */
static void unframe(char *line, size_t line_len, char *eol, char eol_byte)
{
	for (size_t i = 0; i < line_len; i++)
		if (line[i] == '\0')
			line[i] = ' ';
	*eol = eol_byte;
}

enum proto_status proto_process(struct proto_worker *w, struct proto_conn *c,
				char *in, size_t len, struct proto_out *out,
				size_t *consumed, size_t *need)
{
	enum proto_status st = PROTO_MORE;
	size_t pos = 0;
	/* When the request being framed started: read once per request,
	 * as the previous one's end (0: not read yet in this call). */
	uint64_t start = 0;

	*need = 0;
	while (pos < len) {
		struct proto_req r;
		enum proto_cmd_result res;
		enum proto_class cls;
		uint64_t end;
		char *p = in + pos, *nl, *eol, eol_byte;
		size_t avail = len - pos, full;
		uint32_t errors_before;

		if (c->swallow) {
			uint64_t n = c->swallow < avail ? c->swallow : avail;

			c->swallow -= n;
			pos += (size_t)n;
			continue;
		}
		if (proto_out_pending(out) > PROTO_OUT_HIGH) {
			st = PROTO_BLOCKED;
			break;
		}
		if (start == 0)
			start = proto_clock();
		nl = memchr(p, '\n', avail);
		if (!nl) {
			if (!line_may_grow(p, avail)) {
				proto_count(&w->counters.conn_closed_errors, 1);
				st = PROTO_CLOSE;
			}
			break;
		}
		full = (size_t)(nl - p);
		eol = nl;
		if (full > 1 && nl[-1] == '\r')
			eol = nl - 1;
		eol_byte = *eol;
		*eol = '\0';

		memset(&r, 0, sizeof(r));
		r.w = w;
		r.c = c;
		r.out = out;
		r.line = p;
		r.line_len = strnlen(p, (size_t)(eol - p));
		r.data = nl + 1;
		r.data_avail = avail - full - 1;
		errors_before = c->errors;

		res = dispatch(&r, &cls);
		if (res == PROTO_CMD_AGAIN) {
			unframe(p, r.line_len, eol, eol_byte);
			*need = r.need;
			break;
		}
		end = proto_clock();
		proto_latency_record(&w->latency, cls,
				     proto_clock_ns(end - start));
		start = end;
		pos += full + 1 + r.data_used;
		if (c->errors == errors_before)
			c->errors = 0;
		if (res == PROTO_CMD_SHUTDOWN) {
			st = PROTO_SHUTDOWN;
			break;
		}
		if (res == PROTO_CMD_CLOSE || r.failed ||
		    c->errors >= PROTO_ERRORS_MAX) {
			if (res != PROTO_CMD_CLOSE)
				proto_count(&w->counters.conn_closed_errors, 1);
			st = PROTO_CLOSE;
			break;
		}
	}
	*consumed = pos;
	return st;
}
