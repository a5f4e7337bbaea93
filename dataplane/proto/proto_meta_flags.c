/*
 * The meta protocol's request flags and the pieces its replies are made
 * of: memcached's flag pre-parse, its base64 for binary keys, its clock
 * arithmetic for t/T/N/R, the `me` debug figures, and the reply line
 * every command builds (status, echoed flags, quiet mode).
 *
 * The pre-parse is kept apart from the commands because memcached runs
 * one pre-parse for all four of them: every command accepts every flag
 * it knows (mg takes an F, ms a v), refuses an unknown one, and refuses
 * a repeated first byte; only the message differs per command. Matching
 * that in one place is what keeps mg, ms, md and ma consistent with
 * each other and with memcached.
 *
 * Nothing here allocates or writes into the request line: a b key is
 * decoded into the request's own buffer, so a storage command whose data
 * has not arrived can be parsed again from the same bytes.
 */
#include <errno.h>

#include "proto_meta_internal.h"

/* memcached's REALTIME_MAXDELTA: longer exptimes are absolute. */
#define META_REALTIME_MAXDELTA CC_TTL_RELATIVE_MAX
/* memcached sets process_started this many seconds before its start
 * (ITEM_UPDATE_INTERVAL + 2), so its relative clock never reads 0. */
#define META_CLOCK_HEADSTART 62

/* The flags memcached's pre-parse takes without reading a number. */
static bool flag_plain(unsigned char c)
{
	switch (c) {
	case 'O': case 'P': case 'L':          /* opaque, proxy hints */
	case 'k': case 's': case 't': case 'c': case 'f':
		return true;
	default:
		return false;
	}
}

static int parse_one(struct meta_req *m, const struct proto_token *t,
		     const struct proto_token *key, const char **err,
		     bool *bad)
{
	unsigned char c = (unsigned char)t->s[0];
	const char *num = t->s + 1;

	switch (c) {
	case 'b':
		m->key_len = meta_base64_decode(key->s, key->len, m->keybuf,
						sizeof(m->keybuf));
		m->key = m->keybuf;
		m->binary = true;
		if (m->key_len == 0) {
			*err = "CLIENT_ERROR error decoding key";
			*bad = true;
		}
		return 0;
	case 'N':
		m->locked = m->vivify = true;
		if (!proto_parse_i32(num, &m->vivify_ttl)) {
			*err = "CLIENT_ERROR bad token in command line format";
			*bad = true;
		}
		return 0;
	case 'T':
		m->locked = true;
		if (!proto_parse_i32(num, &m->ttl)) {
			*err = "CLIENT_ERROR bad token in command line format";
			*bad = true;
		} else {
			m->has_ttl = true;
		}
		return 0;
	case 'R':
		m->locked = true;
		if (!proto_parse_i32(num, &m->recache_ttl)) {
			*err = "CLIENT_ERROR bad token in command line format";
			*bad = true;
		}
		return 0;
	case 'l': case 'h':
		m->locked = true;
		return 0;
	case 'v':
		m->value = true;
		return 0;
	case 'u':
		m->no_bump = true;
		return 0;
	case 'q':
		m->quiet = true;
		return 0;
	case 'F':
		/* memcached keeps its caller's message for a bad F. */
		if (!proto_parse_u32(num, &m->client_flags))
			*bad = true;
		return 0;
	case 'C':
		if (!proto_parse_u64(num, &m->cas)) {
			*err = "CLIENT_ERROR bad token in command line format";
			*bad = true;
		} else {
			m->has_cas = true;
		}
		return 0;
	case 'M':
		if (t->len != 2) {
			*err = "CLIENT_ERROR incorrect length for M token";
			*bad = true;
		} else {
			m->mode = t->s[1];
		}
		return 0;
	case 'J':
		if (!proto_parse_u64(num, &m->initial)) {
			*err = "CLIENT_ERROR invalid numeric initial value";
			*bad = true;
		}
		return 0;
	case 'D':
		if (!proto_parse_u64(num, &m->delta)) {
			*err = "CLIENT_ERROR invalid numeric delta value";
			*bad = true;
		}
		return 0;
	case 'I':
		m->invalidate = true;
		return 0;
	default:
		if (flag_plain(c))
			return 0;
		/* memcached 1.6.18 knows no E (explicit CAS) and no x (md
		 * value removal): later versions added them. */
		*err = "CLIENT_ERROR invalid flag";
		return -EINVAL;
	}
}

int meta_parse(struct meta_req *m, struct proto_token *tok, unsigned ntok,
	       unsigned first, const char **err)
{
	uint64_t seen[2] = { 0, 0 };
	bool bad = false;

	memset(m, 0, offsetof(struct meta_req, keybuf));
	m->key = tok[1].s;
	m->key_len = tok[1].len;
	m->delta = 1;
	m->flag = tok + first;
	m->nflag = ntok > first ? ntok - first : 0;
	m->bad_opaque = m->nflag;

	for (unsigned i = 0; i < m->nflag; i++) {
		const struct proto_token *t = &m->flag[i];
		unsigned char c = (unsigned char)t->s[0];

		/* memcached's seen[] table has 127 entries: a byte past it
		 * is reported as a duplicate, as it does. */
		if (c >= 127 || ((seen[c >> 6] >> (c & 63)) & 1)) {
			*err = "CLIENT_ERROR duplicate flag";
			return -EINVAL;
		}
		seen[c >> 6] |= (uint64_t)1 << (c & 63);
		if (parse_one(m, t, &tok[1], err, &bad) != 0)
			return -EINVAL;
		if (c == 'O' && t->len > META_OPAQUE_MAX &&
		    m->bad_opaque == m->nflag)
			m->bad_opaque = i;
	}
	return bad ? -EINVAL : 0;
}

/* ---- base64 ---- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A byte's 6-bit value; '=' counts as 0 (it still fills its block);
 * -1 for bytes outside the alphabet, which decoding skips. */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	if (c == '=')
		return 0;
	return -1;
}

size_t meta_base64_decode(const char *src, size_t len, char *out,
			  size_t cap)
{
	unsigned char block[4];
	size_t count = 0, n = 0;
	unsigned pad = 0;

	for (size_t i = 0; i < len; i++)
		count += b64_value((unsigned char)src[i]) >= 0;
	if (count == 0 || count % 4 != 0 || count / 4 * 3 > cap)
		return 0;

	count = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)src[i]);

		if (v < 0)
			continue;
		pad += src[i] == '=';
		block[count++] = (unsigned char)v;
		if (count < 4)
			continue;
		out[n++] = (char)((block[0] << 2) | (block[1] >> 4));
		out[n++] = (char)((block[1] << 4) | (block[2] >> 2));
		out[n++] = (char)((block[2] << 6) | block[3]);
		count = 0;
		if (pad) {
			/* One or two '=' trim the block; more is refused. */
			if (pad > 2)
				return 0;
			n -= pad;
			break;
		}
	}
	return n;
}

size_t meta_base64_encode(const char *src, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n = 0, i = 0;

	for (; len - i >= 3; i += 3) {
		out[n++] = b64_alphabet[s[i] >> 2];
		out[n++] = b64_alphabet[((s[i] & 0x03) << 4) | (s[i + 1] >> 4)];
		out[n++] = b64_alphabet[((s[i + 1] & 0x0f) << 2) |
					(s[i + 2] >> 6)];
		out[n++] = b64_alphabet[s[i + 2] & 0x3f];
	}
	if (len - i == 1) {
		out[n++] = b64_alphabet[s[i] >> 2];
		out[n++] = b64_alphabet[(s[i] & 0x03) << 4];
		out[n++] = '=';
		out[n++] = '=';
	} else if (len - i == 2) {
		out[n++] = b64_alphabet[s[i] >> 2];
		out[n++] = b64_alphabet[((s[i] & 0x03) << 4) | (s[i + 1] >> 4)];
		out[n++] = b64_alphabet[(s[i + 1] & 0x0f) << 2];
		out[n++] = '=';
	}
	return n;
}

/* ---- memcached's clock ---- */

uint32_t meta_expiry(const struct proto_req *r, int32_t exptime,
		     uint32_t now)
{
	int64_t started = (int64_t)r->w->server->started -
			  META_CLOCK_HEADSTART;

	if (exptime == 0)
		return 0;
	if (exptime < 0 ||
	    (exptime > META_REALTIME_MAXDELTA && exptime <= started))
		return (uint32_t)(started + 1);
	if (exptime <= META_REALTIME_MAXDELTA)
		return now + (uint32_t)exptime;
	return (uint32_t)exptime;
}

/* ---- reply pieces ---- */

char *meta_put_num(char *p, char c, uint64_t v)
{
	*p++ = ' ';
	*p++ = c;
	return proto_utoa(v, p);
}

char *meta_put_ttl(char *p, uint32_t expiry, uint32_t now)
{
	if (expiry == 0) {
		memcpy(p, " t-1", 4);
		return p + 4;
	}
	return meta_put_num(p, 't', (uint32_t)(expiry - now));
}

void meta_touch(struct proto_req *r, const struct meta_req *m)
{
	cc_touch_flags(proto_thread(r), m->key, m->key_len, m->ttl,
		       CC_LOOKUP_NO_BUMP);
}

char *meta_put_key(char *p, const char *key, size_t len, bool binary)
{
	*p++ = ' ';
	*p++ = 'k';
	if (!binary) {
		memcpy(p, key, len);
		return p + len;
	}
	p += meta_base64_encode(key, len, p);
	memcpy(p, " b", 2);
	return p + 2;
}

char *meta_put_token(char *p, const struct proto_token *t)
{
	*p++ = ' ';
	memcpy(p, t->s, t->len);
	return p + t->len;
}

char *meta_put_status(char *p, bool value, size_t len)
{
	if (!value) {
		memcpy(p, "HD", 2);
		return p + 2;
	}
	memcpy(p, "VA ", 3);
	return proto_utoa(len, p + 3);
}

/* ---- `me` figures ---- */

/* memcached's chunk sizes with its defaults (-n 48, -f 1.25, 1 MiB
 * pages), as `memcached -vv` lists them. Larger items are chunked and
 * reported in the last class. */
static const uint32_t slab_chunk[] = {
	96, 120, 152, 192, 240, 304, 384, 480, 600, 752, 944, 1184, 1480,
	1856, 2320, 2904, 3632, 4544, 5680, 7104, 8880, 11104, 13880, 17352,
	21696, 27120, 33904, 42384, 52984, 66232, 82792, 103496, 129376,
	161720, 202152, 252696, 315872, 394840, 524288,
};

unsigned meta_slab_class(size_t size)
{
	unsigned n = sizeof(slab_chunk) / sizeof(slab_chunk[0]);

	for (unsigned i = 0; i < n; i++)
		if (size <= slab_chunk[i])
			return i + 1;
	return n;
}

/* ---- reply lines ---- */

/* Room for one reply line at the end of the queue; NULL (and the request
 * marked failed) when memory is short. Nothing is queued until
 * meta_line_end, so a line may be dropped (quiet mode) or replaced by an
 * error. */
char *meta_line_begin(struct proto_req *r)
{
	char *p = proto_out_reserve(r->out, META_LINE_MAX);

	if (!p)
		r->failed = true;
	return p;
}

void meta_line_end(struct proto_req *r, char *start, char *p)
{
	memcpy(p, "\r\n", 2);
	proto_out_commit(r->out, (size_t)(p + 2 - start));
}

char *meta_put_echo(char *p, const struct meta_req *m, const uint64_t *cas)
{
	for (unsigned i = 0; i < m->nflag; i++) {
		const struct proto_token *t = &m->flag[i];

		if (i == m->bad_opaque)
			return NULL;
		if (t->s[0] == 'O')
			p = meta_put_token(p, t);
		else if (t->s[0] == 'k')
			p = meta_put_key(p, m->key, m->key_len, m->binary);
		else if (t->s[0] == 'c' && cas)
			p = meta_put_num(p, 'c', *cas);
	}
	return p;
}

/* A two-letter status with the echoed flags; dropped when quiet. */
enum proto_cmd_result meta_echo_reply(struct proto_req *r,
				      const struct meta_req *m,
				      const char *status, bool quiet)
{
	char *start = meta_line_begin(r), *p;

	if (!start)
		return PROTO_CMD_DONE;
	memcpy(start, status, 2);
	p = meta_put_echo(start + 2, m, NULL);
	if (!p)
		return proto_error(r, "CLIENT_ERROR opaque token too long");
	if (!quiet)
		meta_line_end(r, start, p);
	return PROTO_CMD_DONE;
}

/* The exptime memcached gives an item a command creates: 0 at first,
 * then each N or T before a too-long opaque, the last one winning. */
int32_t meta_created_exptime(const struct meta_req *m)
{
	int32_t exptime = 0;

	for (unsigned i = 0; i < m->bad_opaque; i++) {
		if (m->flag[i].s[0] == 'N')
			exptime = m->vivify_ttl;
		else if (m->flag[i].s[0] == 'T')
			exptime = m->ttl;
	}
	return exptime;
}
