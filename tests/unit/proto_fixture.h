/*
 * Shared fixture and helpers of the protocol layer's unit tests
 * (test_proto_text.c, test_proto_meta.c, test_proto_meta_store.c).
 *
 * Every protocol test talks to the layer the way a transport does: bytes
 * go in through proto_process, what it leaves unconsumed is offered again
 * with the next bytes after it, the reply queue is drained after every
 * call and the worker passes a quiescent point. Doing that in one place
 * means the text and the meta tests exercise the same server setup (a
 * 64 MiB cache, 1 MiB items, one worker, a fake clock) through the same
 * feeding loop, and a change to either is made once.
 *
 * Replies are compared in two ways: exactly (pfx_expect), or against a
 * pattern in which '#' stands for a decimal number (pfx_say), for replies
 * that carry a CAS, which differs between servers; the numbers a pattern
 * matched are kept in num[] so a test can check them against a later
 * request.
 *
 * Helpers are plain functions: a failed cmocka assertion inside one ends
 * the test, so none of them needs a macro that hides a return.
 */
#ifndef PROTO_FIXTURE_H
#define PROTO_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* A plausible "now" well above CC_TTL_RELATIVE_MAX. */
#define T0 1700000000u
/* The server started this long before T0: memcached's clock then reads
 * 1062 at T0 (it counts from 62 seconds before its start). */
#define UPTIME 1000u
/* -I, for the engine and the protocol alike. */
#define ITEM_MAX ((size_t)1 << 20)
/* Connections to the one worker. */
#define PFX_CLIENTS 2
#define PFX_NUMS_MAX 8

/* memcached's error lines, as the tests expect them. */
#define E_FORMAT "CLIENT_ERROR bad command line format\r\n"
#define E_BIG "SERVER_ERROR object too large for cache\r\n"
#define E_CHUNK "CLIENT_ERROR bad data chunk\r\n"
#define E_FLAG "CLIENT_ERROR invalid flag\r\n"
#define E_DUP "CLIENT_ERROR duplicate flag\r\n"
#define E_TOKEN "CLIENT_ERROR bad token in command line format\r\n"
#define E_FLAGS "CLIENT_ERROR invalid or duplicate flag\r\n"
#define E_OPAQUE "CLIENT_ERROR opaque token too long\r\n"
#define E_MANY "CLIENT_ERROR options flags too long\r\n"
#define E_KEY "CLIENT_ERROR error decoding key\r\n"
#define E_NUMBER \
	"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
/* An opaque one byte longer than memcached takes (32, the O included). */
#define OPQ "O11111111111111111111111111111111"

/* One connection: its parser state, its reply queue, and the bytes it
 * received that proto_process has not consumed yet. */
struct pfx_client {
	struct proto_conn conn;
	struct proto_out out;
	char *in;
	size_t in_len, in_cap;
	enum proto_status last;  /* proto_process's last status */
	size_t need;             /* and the *need it reported */
};

struct pfx {
	struct cc_params p;
	struct cc_cache *cache;
	struct proto_server srv;
	struct proto_worker *w;
	struct proto_worker *workers[1];
	struct pfx_client cl[PFX_CLIENTS];
	uint32_t now;            /* the cache's clock */
	/* Replies drained since the last pfx_clear, NUL-terminated. */
	char *reply;
	size_t reply_len, reply_cap;
	/* The numbers the last pattern matched, in order. */
	uint64_t num[PFX_NUMS_MAX];
	unsigned nnum;
};

/* A fresh cache at time T0, a server started UPTIME seconds before with
 * one worker, and PFX_CLIENTS open connections. */
struct pfx *pfx_new(void);
void pfx_free(struct pfx *f);

/* cmocka setup and teardown: pfx_new into *state, pfx_free of it. */
int pfx_setup(void **state);
int pfx_teardown(void **state);

/* Client who receives len more bytes: proto_process runs every complete
 * request, is called again after draining while it reports
 * PROTO_BLOCKED, and the replies are appended to f->reply. Returns the
 * last status; a closed connection must not be fed again. */
enum proto_status pfx_feed_bytes(struct pfx *f, unsigned who,
				 const void *data, size_t len);
/* The same for a string, as client 0. */
enum proto_status pfx_feed(struct pfx *f, const char *s);

/* Moves every reply queued for client who to f->reply. */
void pfx_drain(struct pfx *f, unsigned who);
void pfx_clear(struct pfx *f);

/* Feeds req as client 0; the replies must be exactly want. Clears them. */
void pfx_expect(struct pfx *f, const char *req, const char *want);

/* Clears the replies, then feeds len bytes as client who; the connection
 * must stay open. */
void pfx_send(struct pfx *f, unsigned who, const void *data, size_t len);

/* Does f->reply match pat, where '#' stands for a decimal number? The
 * numbers go to f->num. */
bool pfx_matches(struct pfx *f, const char *pat);

/* Sends in (a string) as client who; the reply must match pat. */
void pfx_say(struct pfx *f, unsigned who, const char *in, const char *pat);

/* Sends line, len bytes of 'x', then tail, as client 0; the reply must
 * match pat. */
void pfx_say_value(struct pfx *f, const char *line, size_t len,
		   const char *tail, const char *pat);

/* One exchange of a script: who sends what, and the reply pattern. */
struct pfx_step {
	unsigned who;
	const char *in;
	const char *out;
};

/* Runs a script. The error count is cleared between steps: corecache
 * closes a connection after PROTO_ERRORS_MAX malformed requests in a row
 * (memcached does not), and a script of error cases is not such a
 * client. */
void pfx_run(struct pfx *f, const struct pfx_step *s, size_t n);
#define PFX_RUN(f, steps) \
	pfx_run((f), (steps), sizeof(steps) / sizeof((steps)[0]))

/* The key's CAS, through "mg <key> c u" (which leaves the item as it
 * was). */
uint64_t pfx_cas_of(struct pfx *f, const char *key);

/* A string of n bytes c (free it). */
char *pfx_repeat(char c, size_t n);

#endif /* PROTO_FIXTURE_H */
