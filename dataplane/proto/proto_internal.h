/*
 * Protocol layer internals shared by the text, meta, stats and UDP files:
 * the request being served, the tokenizer, memcached's number parsing,
 * and the steps the text and meta commands have in common (key checks,
 * error and value replies, and the storage path with memcached's one item
 * size rule), so that the two protocols cannot drift apart on them.
 * Never included outside dataplane/proto.
 */
#ifndef CORECACHE_PROTO_INTERNAL_H
#define CORECACHE_PROTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"

/* memcached splits a command line into at most this many tokens; the last
 * one holds the unsplit rest (a long multiget is served in pieces). */
#define PROTO_TOKENS_MAX 24

struct proto_token {
	char *s;     /* NUL-terminated in place */
	size_t len;
};

/* One command line being served. The line is NUL-terminated in place
 * (its "\r\n" or "\n" overwritten); data points just past the line's
 * '\n', with data_avail bytes of input after it. */
struct proto_req {
	struct proto_worker *w;
	struct proto_conn *c;
	struct proto_out *out;
	char *line;
	size_t line_len;
	char *data;
	size_t data_avail;
	/* Set by the command: bytes of data it consumed (a value block), or,
	 * when it returns PROTO_CMD_AGAIN, the total bytes from the start of
	 * the line it needs before it can run. */
	size_t data_used;
	size_t need;
	/* Set by the command: proto_reply queues nothing (memcached's
	 * noreply; the flag lasts for this request only). */
	bool noreply;
	/* Set when a reply could not be queued (no memory): the dispatcher
	 * closes the connection, as memcached does when it cannot start a
	 * response. Commands that queue with proto_out_* directly set it. */
	bool failed;
};

enum proto_cmd_result {
	PROTO_CMD_DONE,      /* reply queued (or suppressed), go on */
	PROTO_CMD_AGAIN,     /* its data block is incomplete: r->need set */
	PROTO_CMD_CLOSE,     /* reply queued; close after sending it */
	PROTO_CMD_SHUTDOWN,  /* shutdown accepted */
};

/* Command handlers, each in its own file. The dispatcher (proto.c) frames
 * the line and picks one by the first token. */
enum proto_cmd_result proto_text_command(struct proto_req *r,
					 struct proto_token *tok,
					 unsigned ntok);
enum proto_cmd_result proto_meta_command(struct proto_req *r,
					 struct proto_token *tok,
					 unsigned ntok);
/* `stats [group]`: general, settings, items, slabs, sizes, conns, reset. */
enum proto_cmd_result proto_stats_command(struct proto_req *r,
					  struct proto_token *tok,
					  unsigned ntok);

/* Splits line (NUL-terminated, length len) on spaces, memcached's way:
 * runs of spaces separate tokens; at most max - 1 tokens are split off and,
 * if more text follows, the last token is the unsplit rest (so callers can
 * continue a long multiget). Writes NULs in place. Returns the count. */
static inline unsigned proto_tokenize(char *line, size_t len,
				      struct proto_token *tok, unsigned max)
{
	char *s = line, *end = line + len;
	unsigned n = 0;

	while (s < end && n < max) {
		char *e;

		while (s < end && *s == ' ')
			s++;
		if (s == end)
			break;
		if (n == max - 1) {
			tok[n].s = s;
			tok[n].len = (size_t)(end - s);
			n++;
			break;
		}
		e = memchr(s, ' ', (size_t)(end - s));
		if (!e)
			e = end;
		*e = '\0';
		tok[n].s = s;
		tok[n].len = (size_t)(e - s);
		n++;
		s = e + 1;
	}
	return n;
}

/* memcached's number parsing (util.c): decimal, optional leading space,
 * ends at a space or the token's end; a '-' on an unsigned number that
 * wraps negative is refused. Each returns false on bad input. */
bool proto_parse_u64(const char *s, uint64_t *out);
bool proto_parse_u32(const char *s, uint32_t *out);
bool proto_parse_i64(const char *s, int64_t *out);
bool proto_parse_i32(const char *s, int32_t *out);

/* Queues a whole reply line: s then "\r\n". */
int proto_reply(struct proto_req *r, const char *s, size_t len);
#define PROTO_REPLY(r, lit) proto_reply((r), lit, sizeof(lit) - 1)

/* Answers a malformed request: counts it (protocol_errors, and on the
 * connection, which the dispatcher closes after PROTO_ERRORS_MAX in a
 * row) and queues the line s, which noreply silences as it silences
 * every reply. */
enum proto_cmd_result proto_error(struct proto_req *r, const char *s);

/* Queues an item's value and the "\r\n" after it (a VALUE or VA
 * reply's data block): copied, or pinned and queued by reference at
 * zero_copy_min and above. Marks the request failed when memory is
 * short. */
void proto_reply_data(struct proto_req *r, const struct cc_view *v);

/* ---- the commands' shared steps ---- */

/* Is token t exactly the string literal lit? */
#define PROTO_TOKEN_IS(t, lit)              \
	((t)->len == sizeof(lit) - 1 &&     \
	 memcmp((t)->s, lit, sizeof(lit) - 1) == 0)

static inline struct cc_thread *proto_thread(const struct proto_req *r)
{
	return r->w->thread;
}

static inline uint32_t proto_now(const struct proto_req *r)
{
	return cc_now(r->w->server->cache);
}

/* memcached's KEY_MAX_LENGTH, checked on the key as sent, before the
 * rest of the line is read (so the value block of a refused storage
 * command is not swallowed: memcached reads it as a command). */
static inline bool proto_key_too_long(const struct proto_token *key)
{
	return key->len > CC_KEY_MAX;
}

/* ---- storage: one path for the text and the meta protocol ---- */

/*
 * memcached's size of an item (ITEM_ntotal on a 64-bit host, CAS on):
 * its 48-byte header, the 8-byte CAS, the key and a NUL, the value and
 * its "\r\n", and 4 bytes of client flags when they are not zero.
 */
size_t proto_item_size(size_t key_len, size_t value_len, uint32_t flags);

/*
 * memcached's one size rule, the same for every storage command of both
 * protocols (set, add, replace, append, prepend, cas, and ms in every
 * mode): a request is refused with "SERVER_ERROR object too large for
 * cache" when its item would be larger than -I, that is when
 *
 *	value_len + key_len + 59 (+ 4 with nonzero flags) > item_max
 *
 * with the request's own flags and key (a base64 key decoded). With -I 1m
 * and a 1-byte key, the largest value is 1048516 bytes, 1048512 with
 * flags. memcached judges the request alone, before its value is read;
 * what an append or prepend would grow into is judged by proto_store.
 */
bool proto_too_large(const struct proto_req *r, size_t key_len,
		     size_t value_len, uint32_t flags);

/* A storage command's data block (vlen value bytes then "\r\n", total
 * bytes in all), read once all of it is there, as memcached reads it:
 * PROTO_CMD_AGAIN with r->need set while it is incomplete; else the
 * block is consumed and counted (cmd_set), and *value points at it, or
 * is NULL when the block did not end in "\r\n" (then "CLIENT_ERROR bad
 * data chunk" is queued and what follows is read as the next command,
 * memcached's re-sync). */
enum proto_cmd_result proto_take_block(struct proto_req *r, size_t vlen,
				       size_t total, const char **value);

/*
 * Runs a store as memcached's do_store_item does. An append or prepend
 * builds a new item in memcached, so before it the existing item is
 * checked here: a nonzero CAS that does not match is -ESTALE (cc_store
 * checks the CAS only in CC_CAS mode), and a joined item over the size
 * rule (the existing item's flags count) is -E2BIG: memcached answers
 * NOT_STORED and keeps the old value. A write landing between that check
 * and the store is not seen; memcached's item lock closes that window.
 * Then cc_store, retried after a quiescent point while memory is short
 * (every view of the request is copied or pinned by then). Returns 0,
 * -ESTALE or -E2BIG from the checks above, or cc_store's negative errno;
 * *cas (may be NULL) gets the new CAS.
 */
int proto_store(struct proto_req *r, const struct cc_store_req *sr,
		uint64_t *cas);

/* cc_arith, retried after a quiescent point while memory is short. */
int proto_arith(struct proto_req *r, const struct cc_arith_req *ar,
		uint64_t *value, uint64_t *cas);

/* memcached's outcome of a store; each protocol words the first four
 * its own way (STORED / HD, EXISTS / EX, NOT_FOUND / NF, NOT_STORED /
 * NS) and both answer the last two alike (proto_store_error). */
enum proto_stored {
	PROTO_STORED,
	PROTO_EXISTS,      /* the CAS did not match */
	PROTO_NOT_FOUND,   /* a cas (C with set or replace) found no item */
	PROTO_NOT_STORED,  /* add found one, replace/append/prepend none, or
			    * an append or prepend would outgrow the limit */
	PROTO_TOO_LARGE,
	PROTO_NO_MEMORY,
};

/* The outcome of proto_store's result err for a store of this mode. */
enum proto_stored proto_store_result(int err, enum cc_store_mode mode);

/* Answers PROTO_TOO_LARGE ("SERVER_ERROR object too large for cache")
 * or PROTO_NO_MEMORY ("SERVER_ERROR out of memory storing object"),
 * counting it, and drops the key's old value when drop_old, as memcached
 * does so that a stale value does not outlive a write that failed (the
 * text protocol for set only, the meta protocol for every mode). */
void proto_store_error(struct proto_req *r, const char *key, size_t key_len,
		       enum proto_stored res, bool drop_old);

#endif
