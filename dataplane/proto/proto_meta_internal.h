/*
 * Meta protocol internals shared by its three files: proto_meta_flags.c
 * (memcached's flag pre-parse, base64 keys, the clock arithmetic behind
 * the t, T, N and R flags, the pieces of a reply line), proto_meta.c
 * (dispatch and the reading side: mg, me, mn) and proto_meta_store.c
 * (the writing side: ms, md, ma). Never included outside dataplane/proto.
 */
#ifndef CORECACHE_PROTO_META_INTERNAL_H
#define CORECACHE_PROTO_META_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto_internal.h"

/* memcached's MFLAG_MAX_OPT_LENGTH: a meta line is refused when its
 * tokens, plus the empty terminal token memcached's tokenizer counts,
 * number more than this. */
#define META_TOKENS_MAX 20
/* memcached's MFLAG_MAX_OPAQUE_LENGTH: longest O token, the 'O' included. */
#define META_OPAQUE_MAX 32

/* Room for any meta reply line: status, value length, each flag a line
 * may carry once (the longest a key echo: 'k' and 250 bytes, or 248 of
 * base64 and " b"), the Z/X/W markers, ma's number and the "\r\n"s;
 * well under 500 bytes. */
#define META_LINE_MAX 1024

/* A meta request's flags, as memcached's _meta_flag_preparse reads them.
 * Numbers are kept raw (memcached exptimes, not yet converted), so the
 * commands can apply them in token order as memcached does. */
struct meta_req {
	struct proto_token *flag;   /* the flag tokens, in request order */
	unsigned nflag;
	/* Index of the first O token longer than META_OPAQUE_MAX, or nflag.
	 * memcached notices it while writing the reply, so what the flags
	 * before it did stays done. */
	unsigned bad_opaque;
	const char *key;            /* the key the engine sees (decoded) */
	size_t key_len;
	bool binary;                /* b: the key came base64 encoded */
	bool value;                 /* v */
	bool no_bump;               /* u */
	bool quiet;                 /* q */
	bool locked;                /* N T R h l: memcached bumps late */
	bool has_ttl;               /* T */
	bool vivify;                /* N */
	bool has_cas;               /* C */
	bool invalidate;            /* I */
	char mode;                  /* M, 0 when absent */
	int32_t ttl;                /* T */
	int32_t vivify_ttl;         /* N */
	int32_t recache_ttl;        /* R */
	uint32_t client_flags;      /* F */
	uint64_t cas;               /* C */
	uint64_t delta;             /* D, default 1 */
	uint64_t initial;           /* J */
	char keybuf[CC_KEY_MAX];    /* the decoded key of a b request */
};

/*
 * Reads tok[first, ntok) as flags of the request whose key is tok[1]
 * (memcached's _meta_flag_preparse): every flag's first byte may appear
 * once; numbers are checked; b decodes the key into m->keybuf. The key
 * token itself is left untouched, so a request may be parsed again.
 * Returns 0, or -EINVAL with *err set to memcached's message (a
 * literal); *err is left alone for the errors memcached reports with the
 * caller's default message (a bad F token).
 */
int meta_parse(struct meta_req *m, struct proto_token *tok, unsigned ntok,
	       unsigned first, const char **err);

/* memcached's base64 (its base64.c rules, restated): decode skips bytes
 * outside the alphabet, needs a nonzero multiple of four alphabet bytes
 * and stops after the first block holding '='; returns the decoded
 * length, 0 when the input is refused or out (cap bytes) is too small. */
size_t meta_base64_decode(const char *src, size_t len, char *out,
			  size_t cap);
/* Writes the padded encoding of src at out; returns its length, at most
 * 4 * ((len + 2) / 3). */
size_t meta_base64_encode(const char *src, size_t len, char *out);

/*
 * memcached's clock, rebuilt from Unix time. memcached counts time from
 * process_started, set at start-up to 62 seconds before the real start,
 * and a token's exptime goes through realtime(): 0 never; negative, or
 * an absolute time not after process_started, becomes 1 (expired); up to
 * 30 days is relative to now; larger is absolute. meta_expiry returns
 * the result as a Unix time (0 = never), so the t flag and `me` can
 * print exactly what memcached prints, wrap-around included, for an
 * expiry set by the same request.
 */
uint32_t meta_expiry(const struct proto_req *r, int32_t exptime,
		     uint32_t now);

/* ---- pieces of a reply line; each writes at p and returns the end ---- */

/* " <c><number>" */
char *meta_put_num(char *p, char c, uint64_t v);
/* " t<seconds left>", or " t-1" for no expiry; memcached prints an
 * expired time as an unsigned 32-bit difference. */
char *meta_put_ttl(char *p, uint32_t expiry, uint32_t now);
/* mg's and ma's T: the new TTL, with no fetch (memcached sets the
 * expiry field alone; mg's own lookup did the bump, or not with u). */
void meta_touch(struct proto_req *r, const struct meta_req *m);

/* " k<key>", or " k<base64 key> b" for a binary key. */
char *meta_put_key(char *p, const char *key, size_t len, bool binary);
/* " <token>" (the O flag comes back as sent). */
char *meta_put_token(char *p, const struct proto_token *t);
/* A hit's status: "VA <len>" when the value is returned (v), else "HD". */
char *meta_put_status(char *p, bool value, size_t len);
/* The O and k flags in request order (all memcached echoes on a miss or
 * a refusal), and c with *cas when cas is not NULL. NULL at a too-long
 * opaque. */
char *meta_put_echo(char *p, const struct meta_req *m, const uint64_t *cas);

/* memcached's debug line for `me`: the slab class an item of this size
 * (proto_item_size) falls in with memcached's default slab table. */
unsigned meta_slab_class(size_t size);

/* ---- the commands' shared steps ---- */

/* Room for one reply line (META_LINE_MAX) at the end of the queue, or
 * NULL with the request marked failed. Nothing is queued until
 * meta_line_end writes "\r\n" at p, so a line may still be dropped
 * (quiet mode) or replaced by an error. */
char *meta_line_begin(struct proto_req *r);
void meta_line_end(struct proto_req *r, char *start, char *p);

/* A two-letter status followed by the request's O and k flags in order,
 * as memcached answers a miss or a refusal; not queued when quiet. A
 * too-long opaque turns it into memcached's error. */
enum proto_cmd_result meta_echo_reply(struct proto_req *r,
				      const struct meta_req *m,
				      const char *status, bool quiet);

/* The exptime memcached gives an item a meta command creates (mg N, ma
 * N): 0, then each N or T before a too-long opaque, the last winning. */
int32_t meta_created_exptime(const struct meta_req *m);

/* The storage side, in proto_meta_store.c. */
enum proto_cmd_result meta_set(struct proto_req *r, struct proto_token *tok,
			       unsigned ntok);
enum proto_cmd_result meta_delete(struct proto_req *r,
				  struct proto_token *tok, unsigned ntok);
enum proto_cmd_result meta_arith(struct proto_req *r,
				 struct proto_token *tok, unsigned ntok);

#endif
