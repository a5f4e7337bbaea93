/*
 * UDP frame layer: memcached's 8-byte frame header around the text
 * protocol, shared by the io_uring and DPDK paths.
 *
 * A datagram carries one or more complete text requests after its header.
 * They are run one command at a time (the datagram is all the input there
 * will ever be: an incomplete request at its end is dropped), the replies
 * go to an unframed scratch queue, and each reply is then cut into framed
 * datagrams in the caller's queue. Replies are copied into the datagrams
 * rather than sent by reference: a value must be split at datagram
 * boundaries, and UDP replies are short-lived anyway.
 *
 * memcached 1.6 (checked against 1.6.18 -U, byte for byte) frames every
 * response object on its own: each command's reply, and each key of a
 * multiget, is a message with sequence numbers from 0 and its own total,
 * every datagram at most 1400 bytes with the 8-byte header counted inside
 * (1392 payload bytes). Its odd corners, reproduced here:
 *   - a datagram of 8 bytes or fewer is dropped, and so is one whose
 *     header claims more than one datagram (total != 1), silently: the
 *     "SERVER_ERROR multi-packet request not supported" of older releases
 *     is gone. The sequence number and the reserved field are ignored.
 *   - in a multiget, "END\r\n" rides with the last key's value when the
 *     last key hit, and is a message of its own when it missed.
 *   - a multiget key that misses leaves an empty response object. Only
 *     one at the head of the transmit queue is sent (a bare header, total
 *     0): the first key of a multiget, when nothing but quiet replies came
 *     before it since the queue was last flushed (gets and mn flush it).
 *     Every other empty one is swallowed when the datagram before it
 *     completes.
 */
#include <errno.h>
#include <string.h>

#include "proto_internal.h"

#define UDP_PAYLOAD_MAX (PROTO_UDP_DATAGRAM_MAX - PROTO_UDP_HEADER_LEN)

/* "VALUE " + key + flags + length + cas, each space separated: the longest
 * header line of a retrieval reply. */
#define UDP_VALUE_LINE_MAX (6 + CC_KEY_MAX + 3 * 21 + 2)

/* Framing state of one request datagram. */
struct udp_frame {
	struct proto_worker *w;
	struct proto_out *reply;  /* unframed replies, drained as framed */
	struct proto_out *out;    /* framed datagrams */
	uint16_t *lens;
	unsigned n, max;
	uint16_t request_id;
	/* Every response since the transmit queue was last flushed was
	 * quiet: an empty response object would be sent. */
	bool quiet;
	int err;
};

/* A multiget's keys as the request named them: the first and last, to
 * tell which of them hit from the reply alone. */
struct udp_get {
	bool is_get;
	unsigned nkeys;
	char first[CC_KEY_MAX], last[CC_KEY_MAX];
	size_t first_len, last_len;
};

static void put_be16(char *p, uint16_t v)
{
	p[0] = (char)(v >> 8);
	p[1] = (char)(v & 0xff);
}

static uint16_t get_be16(const char *p)
{
	return (uint16_t)(((uint8_t)p[0] << 8) | (uint8_t)p[1]);
}

/* Drops n unframed bytes: a reply past max_dgrams or one that could not
 * be framed. */
static void udp_drop(struct udp_frame *f, size_t n)
{
	proto_out_consume(f->reply, f->w->server->cache, n, NULL);
}

/* Frames the first n unframed bytes as one message: ceil(n / 1392)
 * datagrams, or for n == 0 a bare header with total 0 (memcached's empty
 * response object). memcached clamps the total at 65535 and keeps
 * counting sequence numbers; so does this. */
static void udp_emit(struct udp_frame *f, size_t n)
{
	size_t total = n / UDP_PAYLOAD_MAX + (n % UDP_PAYLOAD_MAX != 0);
	uint16_t seq = 0;

	if (total > UINT16_MAX)
		total = UINT16_MAX;
	do {
		size_t chunk = n < UDP_PAYLOAD_MAX ? n : UDP_PAYLOAD_MAX;
		char *p;

		if (f->err || f->n == f->max) {
			udp_drop(f, n);
			return;
		}
		p = proto_out_reserve(f->out, PROTO_UDP_HEADER_LEN + chunk);
		if (!p) {
			f->err = -ENOMEM;
			udp_drop(f, n);
			return;
		}
		put_be16(p, f->request_id);
		put_be16(p + 2, seq++);
		put_be16(p + 4, (uint16_t)total);
		put_be16(p + 6, 0);
		proto_out_copy(f->reply, 0, chunk, p + PROTO_UDP_HEADER_LEN);
		proto_out_commit(f->out, PROTO_UDP_HEADER_LEN + chunk);
		udp_drop(f, chunk);
		f->lens[f->n++] = (uint16_t)(PROTO_UDP_HEADER_LEN + chunk);
		n -= chunk;
	} while (n);
}

/* Copies n unframed bytes from offset off into dst when there are that
 * many. */
static bool udp_peek(const struct proto_out *o, size_t off, size_t n,
		     char *dst)
{
	if (off + n > proto_out_pending(o))
		return false;
	proto_out_copy(o, off, n, dst);
	return true;
}

/* Reads the request line's keys when it is a retrieval command (get,
 * gets, gat, gats), before the parser writes into it. */
static void udp_get_scan(const char *line, size_t len, struct udp_get *g)
{
	const char *s = line, *end = line + len;
	unsigned tok = 0, first_key = 1;

	g->is_get = false;
	g->nkeys = 0;
	if (end > line && end[-1] == '\r')
		end--;
	while (s < end) {
		const char *e;
		size_t n;

		while (s < end && *s == ' ')
			s++;
		if (s == end)
			break;
		e = memchr(s, ' ', (size_t)(end - s));
		if (!e)
			e = end;
		n = (size_t)(e - s);
		if (tok == 0) {
			if (n == 3 && !memcmp(s, "get", 3))
				first_key = 1;
			else if (n == 4 && !memcmp(s, "gets", 4))
				first_key = 1;
			else if (n == 3 && !memcmp(s, "gat", 3))
				first_key = 2;
			else if (n == 4 && !memcmp(s, "gats", 4))
				first_key = 2;
			else
				return;
			g->is_get = true;
		} else if (tok >= first_key && n <= CC_KEY_MAX) {
			if (g->nkeys == 0) {
				memcpy(g->first, s, n);
				g->first_len = n;
			}
			memcpy(g->last, s, n);
			g->last_len = n;
			g->nkeys++;
		} else if (tok >= first_key) {
			g->nkeys++;
			g->last_len = 0;
		}
		tok++;
		s = e;
	}
}

/* Parses the "VALUE <key> <flags> <bytes> [<cas>]\r\n" header at the
 * front of the unframed queue: the whole block's length (line, value,
 * "\r\n") and where its key is in line. False when it is not one. */
static bool udp_value_block(struct udp_frame *f, size_t avail, char *line,
			    size_t *block, const char **key, size_t *key_len)
{
	size_t n = avail < UDP_VALUE_LINE_MAX ? avail : UDP_VALUE_LINE_MAX;
	char *eol, *p, *k;
	uint64_t bytes = 0;

	if (n < 6 || !udp_peek(f->reply, 0, n, line) ||
	    memcmp(line, "VALUE ", 6))
		return false;
	eol = memchr(line, '\n', n);
	if (!eol)
		return false;
	k = line + 6;
	p = memchr(k, ' ', (size_t)(eol - k));
	if (!p)
		return false;
	*key = k;
	*key_len = (size_t)(p - k);
	p = memchr(p + 1, ' ', (size_t)(eol - p - 1));  /* past the flags */
	if (!p)
		return false;
	for (p++; p < eol && *p >= '0' && *p <= '9'; p++)
		bytes = bytes * 10 + (uint64_t)(*p - '0');
	*block = (size_t)(eol + 1 - line) + bytes + 2;
	return *block <= avail;
}

/* Frames a retrieval command's reply the way memcached splits it into
 * response objects (see the top of the file). */
static void udp_frame_get(struct udp_frame *f, const struct udp_get *g)
{
	char line[UDP_VALUE_LINE_MAX], tail[5];
	size_t avail = proto_out_pending(f->reply);
	bool first = true, flushes = false;

	if (avail == 5 && udp_peek(f->reply, 0, 5, tail) &&
	    !memcmp(tail, "END\r\n", 5)) {
		if (g->nkeys >= 2 && f->quiet)
			udp_emit(f, 0);
		udp_emit(f, 5);
		f->quiet = true;
		return;
	}
	while (avail) {
		const char *key;
		size_t block, key_len;
		bool last_hit;

		if (!udp_value_block(f, avail, line, &block, &key, &key_len)) {
			/* "END\r\n" after a last key that missed, or an error
			 * line: a response of its own. */
			udp_emit(f, avail);
			break;
		}
		flushes = true;
		if (first && g->nkeys >= 2 && f->quiet &&
		    (key_len != g->first_len ||
		     memcmp(key, g->first, key_len)))
			udp_emit(f, 0);
		first = false;
		last_hit = key_len == g->last_len &&
			   !memcmp(key, g->last, key_len);
		if (last_hit && avail - block == 5 &&
		    udp_peek(f->reply, block, 5, tail) &&
		    !memcmp(tail, "END\r\n", 5))
			block += 5;
		udp_emit(f, block);
		avail -= block;
	}
	f->quiet = flushes;
}

/* Frames whatever one command queued. */
static void udp_frame_reply(struct udp_frame *f, const struct udp_get *g,
			    bool noop)
{
	size_t n = proto_out_pending(f->reply);

	if (g->is_get) {
		udp_frame_get(f, g);
		return;
	}
	if (n == 0)
		return;  /* noreply or quiet mode: a skipped response */
	udp_emit(f, n);
	/* mn flushes memcached's transmit queue. */
	f->quiet = noop;
}

static bool udp_is_noop(const char *line, size_t len)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	while (len && *line == ' ') {
		line++;
		len--;
	}
	while (len && line[len - 1] == ' ')
		len--;
	return len == 2 && line[0] == 'm' && line[1] == 'n';
}

int proto_udp_serve(struct proto_worker *w, char *dgram, size_t len,
		    struct proto_out *reply, struct proto_out *out,
		    uint16_t *dgram_lens, unsigned max_dgrams)
{
	struct udp_frame f = {
		.w = w, .reply = reply, .out = out, .lens = dgram_lens,
		.max = max_dgrams, .quiet = true,
	};
	struct proto_conn conn;
	char *p, *end;

	proto_count(&w->counters.bytes_read, len);
	if (len <= PROTO_UDP_HEADER_LEN || get_be16(dgram + 4) != 1) {
		proto_count(&w->counters.udp_refused, 1);
		return 0;
	}
	proto_count(&w->counters.udp_requests, 1);
	f.request_id = get_be16(dgram);
	proto_conn_init(&conn, PROTO_UDP);
	p = dgram + PROTO_UDP_HEADER_LEN;
	end = dgram + len;
	while (p < end && !f.err) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		enum proto_status st;
		size_t take, consumed = 0, need = 0;
		struct udp_get g;
		bool noop;

		/* An incomplete line is dropped: memcached waits for the
		 * rest, which no later datagram provides. */
		if (!nl)
			break;
		take = (size_t)(nl + 1 - p);
		udp_get_scan(p, take - 1, &g);
		noop = !g.is_get && udp_is_noop(p, take);
		st = proto_process(w, &conn, p, take, reply, &consumed, &need);
		if (consumed == 0 && need > take) {
			if (need > (size_t)(end - p))
				break;  /* data block cut short: dropped */
			take = need;
			st = proto_process(w, &conn, p, take, reply,
					   &consumed, &need);
		}
		udp_frame_reply(&f, &g, noop);
		/* memcached 1.6.18 answers an accepted shutdown over UDP
		 * with nothing; the server sees shutdown_requested and
		 * stops. */
		if (st == PROTO_CLOSE || st == PROTO_SHUTDOWN || !consumed)
			break;
		p += consumed;
	}
	/* Anything left unframed (an error cut the loop short). */
	udp_drop(&f, proto_out_pending(reply));
	if (f.err && f.n == 0)
		return f.err;
	return (int)f.n;
}
