/*
 * UDP frame layer: memcached's 8-byte frame header around the text
 * protocol, shared by the io_uring and DPDK paths.
 *
 * A datagram carries one or more complete text requests after its header.
 * They are run one command at a time (the datagram is all the input there
 * will ever be), the replies go to an unframed scratch queue, and each
 * reply is then cut into framed datagrams in the caller's queue. Replies
 * are copied into the datagrams rather than sent by reference: a value
 * must be split at datagram boundaries, and UDP replies are short-lived
 * anyway. A reply is framed whole or not at all: one that needs more
 * datagrams than the caller has room for is dropped entirely (and
 * counted), never cut in the middle of a message.
 *
 * memcached 1.6 (checked against 1.6.18 -U, byte for byte) frames every
 * response object on its own: each command's reply, and each key of a
 * multiget, is a message with sequence numbers from 0 and its own total,
 * every datagram at most 1400 bytes with the 8-byte header counted inside
 * (1392 payload bytes). It queues the response objects and transmits them
 * at flush points: after a retrieval command (get, gets, gat, gats, bget)
 * that reached its END, after mn and quit, and when the datagram's input
 * runs out. Its odd corners, reproduced here:
 *   - a datagram of 8 bytes or fewer is dropped, and so is one whose
 *     header claims more than one datagram (total != 1), silently: the
 *     "SERVER_ERROR multi-packet request not supported" of older releases
 *     is gone. The sequence number and the reserved field are ignored.
 *   - a command line ends at its first NUL byte (the rest, up to '\n', is
 *     ignored), as the parser sees it.
 *   - in a multiget, "END\r\n" rides with the last key's value when the
 *     last key hit, and is a message of its own when it missed (gat with
 *     a past time on a key named twice: the second one misses).
 *   - a multiget key that misses, and quit, leave an empty response
 *     object. Only one at the head of the transmit queue is sent (a bare
 *     header, total 0): when nothing but quiet replies came before it
 *     since the last flush. Every other empty one is swallowed when the
 *     datagram before it completes.
 *   - quit ends the datagram: what follows it is not run.
 *   - replies still queued (not flushed) are discarded when the input
 *     makes memcached close (an HTTP request line, a line over 2048 bytes
 *     with no '\n' that is not a get), when the datagram ends inside a
 *     data block or inside a refused value memcached is swallowing (it
 *     waits for more input that never comes), and when a retrieval
 *     command fails with "CLIENT_ERROR bad command line format" (it culls
 *     the queue before that error).
 *   - malformed lines never end the datagram: each gets its ERROR.
 * Not reproduced: memcached 1.6.18 keeps a worker's UDP state across
 * datagrams after some of these (quit leaves it closing after every later
 * flush, so later datagrams lose their commands after a get; a refused
 * value or a cut data block makes it read the next datagrams as data).
 * Each datagram here starts afresh, as in memcached -t 1 before any of
 * them.
 */
#include <errno.h>
#include <string.h>

#include "proto_internal.h"

#define UDP_PAYLOAD_MAX (PROTO_UDP_DATAGRAM_MAX - PROTO_UDP_HEADER_LEN)

/* "VALUE " + key + flags + length + cas, each space separated: the longest
 * header line of a retrieval reply. */
#define UDP_VALUE_LINE_MAX (6 + CC_KEY_MAX + 3 * 21 + 2)

/* A retrieval command's reply when a key is too long: memcached culls its
 * unsent replies before queueing it. */
#define UDP_BAD_FORMAT "CLIENT_ERROR bad command line format\r\n"

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
	bool over;   /* the reply needs more than max datagrams */
	int err;
	/* out's queued bytes on entry, and at the last flush point (with
	 * the datagram count then): what memcached may still discard. */
	size_t base, flushed;
	unsigned flushed_n;
};

/* What a request line asks, as far as the framing cares. */
enum udp_kind { UDP_OTHER, UDP_GET, UDP_NOOP, UDP_QUIT };

static void put_be16(char *p, uint16_t v)
{
	p[0] = (char)(v >> 8);
	p[1] = (char)(v & 0xff);
}

static uint16_t get_be16(const char *p)
{
	return (uint16_t)(((uint8_t)p[0] << 8) | (uint8_t)p[1]);
}

/* Drops n unframed bytes: a reply that is not sent or could not be
 * framed. */
static void udp_drop(struct udp_frame *f, size_t n)
{
	proto_out_consume(f->reply, f->w->server->cache, n, NULL);
}

/* Takes back every datagram framed since out held `queued` bytes and n
 * datagrams. The framed queue holds copies only, never pinned values, so
 * its tail is dropped by shortening its byte count; consuming nothing then
 * lets a queue left empty give back a large buffer, as a drained one
 * does. */
static void udp_unqueue(struct udp_frame *f, size_t queued, unsigned n)
{
	f->out->len -= proto_out_pending(f->out) - queued;
	f->n = n;
	proto_out_consume(f->out, f->w->server->cache, 0, NULL);
}

/* memcached's transmit queue is flushed here: nothing framed so far can
 * be discarded any more, and an empty response object would be sent. */
static void udp_flushed(struct udp_frame *f)
{
	f->flushed = proto_out_pending(f->out);
	f->flushed_n = f->n;
	f->quiet = true;
}

/* Frames the first n unframed bytes as one message: ceil(n / 1392)
 * datagrams, or for n == 0 a bare header with total 0 (memcached's empty
 * response object). memcached clamps the total at 65535 and keeps
 * counting sequence numbers; so does this. */
static void udp_emit(struct udp_frame *f, size_t n)
{
	size_t total = n / UDP_PAYLOAD_MAX + (n % UDP_PAYLOAD_MAX != 0);
	size_t dgrams = total ? total : 1;
	uint16_t seq = 0;
	char *p;

	if (f->err || f->over) {
		udp_drop(f, n);
		return;
	}
	if (dgrams > f->max - f->n) {
		f->over = true;
		udp_drop(f, n);
		return;
	}
	p = proto_out_reserve(f->out, dgrams * PROTO_UDP_HEADER_LEN + n);
	if (!p) {
		f->err = -ENOMEM;
		udp_drop(f, n);
		return;
	}
	if (total > UINT16_MAX)
		total = UINT16_MAX;
	do {
		size_t chunk = n < UDP_PAYLOAD_MAX ? n : UDP_PAYLOAD_MAX;

		put_be16(p, f->request_id);
		put_be16(p + 2, seq++);
		put_be16(p + 4, (uint16_t)total);
		put_be16(p + 6, 0);
		proto_out_copy(f->reply, 0, chunk, p + PROTO_UDP_HEADER_LEN);
		udp_drop(f, chunk);
		p += PROTO_UDP_HEADER_LEN + chunk;
		f->lens[f->n++] = (uint16_t)(PROTO_UDP_HEADER_LEN + chunk);
		proto_out_commit(f->out, PROTO_UDP_HEADER_LEN + chunk);
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

/* The unframed reply is exactly s. */
static bool udp_reply_is(struct udp_frame *f, size_t avail, const char *s)
{
	char buf[sizeof(UDP_BAD_FORMAT)];
	size_t n = strlen(s);

	return avail == n && n <= sizeof(buf) &&
	       udp_peek(f->reply, 0, n, buf) && !memcmp(buf, s, n);
}

/* Reads a request line's command (without its '\n') the way the parser
 * will, before it writes into it: one '\r' before the '\n' dropped, cut
 * at the first NUL, words separated by spaces. */
static enum udp_kind udp_scan(const char *line, size_t len)
{
	const char *s = line, *end, *e;
	size_t n;

	if (len > 1 && line[len - 1] == '\r')
		len--;
	end = line + strnlen(line, len);
	while (s < end && *s == ' ')
		s++;
	e = memchr(s, ' ', (size_t)(end - s));
	n = (size_t)((e ? e : end) - s);
	if ((n == 3 && (!memcmp(s, "get", 3) || !memcmp(s, "gat", 3))) ||
	    (n == 4 && (!memcmp(s, "gets", 4) || !memcmp(s, "gats", 4) ||
			!memcmp(s, "bget", 4))))
		return UDP_GET;
	if (n == 2 && !memcmp(s, "mn", 2))
		return UDP_NOOP;
	if (n == 4 && !memcmp(s, "quit", 4))
		return UDP_QUIT;
	return UDP_OTHER;
}

/* Parses the "VALUE <key> <flags> <bytes> [<cas>]\r\n" header at the
 * front of the unframed queue (read into line): the whole block's length
 * (line, value, "\r\n"). False when it is not one. */
static bool udp_value_block(struct udp_frame *f, size_t avail, char *line,
			    size_t *block)
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
	p = memchr(k, ' ', (size_t)(eol - k));  /* past the key */
	if (!p)
		return false;
	p = memchr(p + 1, ' ', (size_t)(eol - p - 1));  /* past the flags */
	if (!p)
		return false;
	for (p++; p < eol && *p >= '0' && *p <= '9'; p++)
		bytes = bytes * 10 + (uint64_t)(*p - '0');
	*block = (size_t)(eol + 1 - line) + bytes + 2;
	return *block <= avail;
}

/* Frames a retrieval command's reply the way memcached splits it into
 * response objects (see the top of the file), knowing from the command
 * (g) how many keys it ran and whether the first and the last hit. True
 * when the command reached its END, a flush point. */
static bool udp_frame_get(struct udp_frame *f, const struct proto_conn *g)
{
	char line[UDP_VALUE_LINE_MAX], tail[5];
	size_t avail = proto_out_pending(f->reply);
	bool values = false;

	if (udp_reply_is(f, avail, "END\r\n")) {
		if (g->get_nkeys >= 2 && f->quiet)
			udp_emit(f, 0);
		udp_emit(f, 5);
		return true;
	}
	if (udp_reply_is(f, avail, UDP_BAD_FORMAT))
		udp_unqueue(f, f->flushed, f->flushed_n);
	while (avail) {
		size_t block;

		if (!udp_value_block(f, avail, line, &block)) {
			/* "END\r\n" after a last key that missed, or an error
			 * line: a response of its own. */
			udp_emit(f, avail);
			break;
		}
		if (!values && g->get_nkeys >= 2 && f->quiet &&
		    !g->get_first_hit)
			udp_emit(f, 0);
		values = true;
		if (g->get_last_hit && avail - block == 5 &&
		    udp_peek(f->reply, block, 5, tail) &&
		    !memcmp(tail, "END\r\n", 5))
			block += 5;
		udp_emit(f, block);
		avail -= block;
	}
	return values;
}

/* Frames whatever one command (of kind k, on conn) queued and follows
 * memcached's transmit queue: flushed, or holding a response that is not
 * quiet. */
static void udp_frame_reply(struct udp_frame *f, enum udp_kind k,
			    const struct proto_conn *conn)
{
	size_t n = proto_out_pending(f->reply);

	if (k == UDP_GET) {
		if (udp_frame_get(f, conn))
			udp_flushed(f);
		else
			f->quiet = false;
		return;
	}
	if (n == 0)
		return;  /* noreply or quiet mode: a skipped response */
	udp_emit(f, n);
	if (k == UDP_NOOP)
		udp_flushed(f);
	else
		f->quiet = false;
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
	bool cut = false;  /* unflushed replies are discarded */
	char *p, *end;

	proto_count(&w->counters.bytes_read, len);
	if (len <= PROTO_UDP_HEADER_LEN || get_be16(dgram + 4) != 1) {
		proto_count(&w->counters.udp_refused, 1);
		return 0;
	}
	proto_count(&w->counters.udp_requests, 1);
	f.request_id = get_be16(dgram);
	f.base = f.flushed = proto_out_pending(out);
	proto_conn_init(&conn, PROTO_UDP);
	p = dgram + PROTO_UDP_HEADER_LEN;
	end = dgram + len;
	while (p < end && !f.err) {
		size_t avail = (size_t)(end - p), take, consumed = 0, need = 0;
		enum udp_kind kind = UDP_OTHER;
		enum proto_status st;
		char *nl;

		if (conn.swallow) {
			/* The rest of a refused value: discarded unread. */
			take = conn.swallow < avail ? (size_t)conn.swallow
						    : avail;
			proto_process(w, &conn, p, take, reply, &consumed,
				      &need);
			p += take;
			continue;
		}
		nl = memchr(p, '\n', avail);
		take = nl ? (size_t)(nl + 1 - p) : avail;
		if (nl)
			kind = udp_scan(p, take - 1);
		/* No connection to close: memcached answers every bad line
		 * of a datagram. */
		conn.errors = 0;
		st = proto_process(w, &conn, p, take, reply, &consumed, &need);
		if (consumed == 0 && need > take) {
			if (need > avail) {
				/* A data block cut short: memcached waits for
				 * the rest. */
				cut = true;
				break;
			}
			take = need;
			st = proto_process(w, &conn, p, take, reply,
					   &consumed, &need);
		}
		if (!nl) {
			/* A line with no '\n': memcached waits for the rest
			 * of it, which never comes, and sends its replies;
			 * or, over 2048 bytes and not a get, closes. */
			cut = st == PROTO_CLOSE;
			break;
		}
		if (st == PROTO_CLOSE) {
			if (kind == UDP_QUIT && f.quiet)
				udp_emit(&f, 0);
			cut = kind != UDP_QUIT;
			break;
		}
		udp_frame_reply(&f, kind, &conn);
		/* memcached 1.6.18 answers an accepted shutdown over UDP
		 * with nothing; the server sees shutdown_requested and
		 * stops. */
		if (st == PROTO_SHUTDOWN || !consumed)
			break;
		p += consumed;
	}
	/* A refused value longer than the rest of the datagram: memcached
	 * goes on swallowing the next input. */
	if (conn.swallow)
		cut = true;
	if (cut)
		udp_unqueue(&f, f.flushed, f.flushed_n);
	/* Anything left unframed (the loop was cut short). */
	udp_drop(&f, proto_out_pending(reply));
	if (f.over || f.err) {
		udp_unqueue(&f, f.base, 0);
		if (f.err)
			return f.err;
		proto_count(&w->counters.udp_replies_dropped, 1);
	}
	return (int)f.n;
}
