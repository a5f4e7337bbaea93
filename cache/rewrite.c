/*
 * Operations that rewrite a key's current version from the engine's own
 * copy of it: incr and decr (memcached's reading of the stored number),
 * touch and gat, meta invalidation, and the meta protocol's recache
 * token. Like every change (engine.c), each writes a new version and
 * commits it only if the key still holds the version it read.
 */
#include <errno.h>
#include <stdio.h>

#include "cache_internal.h"

int cc_invalidate(struct cc_thread *t, const void *key, size_t key_len,
		  uint64_t cas, bool set_ttl, int64_t exptime, uint64_t new_cas)
{
	struct cc_hashed h;
	struct cc_current cur;
	int rc = cc_op_begin(t, key, key_len, &h);

	if (rc < 0)
		return rc;
	do {
		struct cc_version v;
		bool born_live = true;

		/* memcached 1.6.18 counts a miss as a delete miss, and a
		 * success as nothing at all (not a delete hit). */
		cc_find_current(t, &h, key, (uint8_t)key_len, &cur);
		if (!cur.live) {
			cc_count(&t->counters.delete_misses, 1);
			return -ENOENT;
		}
		if (cas != 0 && cc_item_cas(t->cache, cur.loc, &cur.it) != cas)
			return -ESTALE;
		/* memcached changes the item in place: FETCHED and the access
		 * time stay; WIN_SENT goes so the next client can win. */
		v = (struct cc_version){
			.v1 = cur.it.value, .l1 = cur.it.value_len,
			.flags = cur.it.flags, .expiry = cur.it.expiry,
			.cas = new_cas,
			.meta = (uint8_t)((cur.it.meta & ~CC_ITEM_META_FLAGS) |
					  CC_META_STALE),
			.inherit = CC_META_FETCHED,
		};
		if (set_ttl)
			born_live = cc_expiry_of(exptime, t->now, &v.expiry);
		rc = born_live ? cc_commit(t, &h, key, (uint8_t)key_len, cur.loc, &v,
					NULL, NULL)
			       : cc_remove_if(t, &h, key, (uint8_t)key_len, cur.loc);
	} while (rc == -EAGAIN);
	return rc;
}

int cc_meta_win(struct cc_thread *t, const void *key, size_t key_len,
		uint64_t cas)
{
	struct cc_hashed h;
	struct cc_current cur;
	uint8_t before;
	int rc = cc_op_begin(t, key, key_len, &h);

	if (rc < 0)
		return rc;
	cc_find_current(t, &h, key, (uint8_t)key_len, &cur);
	if (!cur.live)
		return -ENOENT;
	if (cc_item_cas(t->cache, cur.loc, &cur.it) != cas)
		return -ESTALE;
	/* One atomic step decides the winner. The version may be replaced
	 * meanwhile; a replacement that keeps the token takes it from here
	 * in the same kind of step (inherit_meta, merge_copy), so it is
	 * still handed out once. */
	before = atomic_fetch_or_explicit(cc_item_meta(cc_loc_ptr(t->cache, cur.loc)),
					  CC_META_WIN_SENT, memory_order_relaxed);
	return (before & CC_META_WIN_SENT) ? 0 : 1;
}

/* isspace() of the C locale. */
static bool space_byte(uint8_t b)
{
	return b == ' ' || (b >= '\t' && b <= '\r');
}

/*
 * The value as memcached 1.6.18's incr/decr reads it (asked, not
 * guessed): safe_strtoull on the data, which it keeps followed by "\r\n".
 * White space first is skipped, a sign is allowed, a digit needed; the
 * number ends at white space, a NUL or the value's end (" 10", "99 1a"
 * are numbers, "12abc" is not); past 2^64 - 1 it is none. A '-' number
 * is negated modulo 2^64 and refused only if that looks negative as a
 * signed number ("-0" is 0, "-18446744073709551615" is 1, "-1" none).
 */
static bool parse_number(const uint8_t *p, uint32_t len, uint64_t *out)
{
	uint64_t v = 0;
	uint32_t i = 0, digits;
	bool neg = false;

	while (i < len && space_byte(p[i]))
		i++;
	if (i < len && (p[i] == '+' || p[i] == '-'))
		neg = p[i++] == '-';
	for (digits = i; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
		unsigned d = p[i] - '0';

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (i == digits)
		return false;
	if (i < len && !space_byte(p[i]) && p[i] != '\0')
		return false;
	if (neg) {
		v = (uint64_t)0 - v;
		if ((int64_t)v < 0)
			return false;
	}
	*out = v;
	return true;
}

int cc_arith(struct cc_thread *t, const struct cc_arith_req *req,
	     uint64_t *value_out, uint64_t *cas_out)
{
	_Atomic uint64_t *hit = req->decr ? &t->counters.decr_hits
					  : &t->counters.incr_hits;
	_Atomic uint64_t *miss = req->decr ? &t->counters.decr_misses
					   : &t->counters.incr_misses;
	const void *key = req->key;
	uint8_t key_len = (uint8_t)req->key_len;
	struct cc_hashed h;
	struct cc_current cur;
	char digits[32];
	int rc = cc_op_begin(t, key, req->key_len, &h);

	if (rc < 0)
		return rc;
	do {
		uint64_t n, delta = req->delta;
		int len;

		cc_find_current(t, &h, key, key_len, &cur);
		if (!cur.live) {
			cc_count(miss, 1);
			return -ENOENT;
		}
		/* memcached 1.6.18's order: an empty or overlong value is
		 * no number before the CAS is compared, any other after. */
		if (cur.it.value_len == 0 ||
		    (req->number_max[0] != 0 &&
		     cur.it.value_len > req->number_max[cur.it.flags != 0]))
			return -EDOM;
		if (req->cas != 0 && cc_item_cas(t->cache, cur.loc, &cur.it) != req->cas)
			return -ESTALE;
		if (!parse_number(cur.it.value, cur.it.value_len, &n))
			return -EDOM;
		n = req->decr ? (n > delta ? n - delta : 0) : n + delta;
		len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
		/* memcached keeps the old length when the number shrinks,
		 * padding with spaces. It rewrites such an item in place,
		 * keeping its meta flags; a longer number is a new item. */
		bool in_place = (uint32_t)len <= cur.it.value_len;
		struct cc_version v = {
			.v1 = digits, .l1 = (size_t)len,
			.pad = in_place ? cur.it.value_len - (uint32_t)len : 0,
			.flags = cur.it.flags, .expiry = cur.it.expiry,
			.cas = req->new_cas,
			.meta = cc_atime_bits(t->now),
			.inherit = in_place ? CC_ITEM_META_FLAGS : 0,
		};
		rc = cc_commit(t, &h, key, key_len, cur.loc, &v, cas_out, NULL);
		if (rc == 0 && value_out != NULL)
			*value_out = n;
	} while (rc == -EAGAIN);
	if (rc == 0)
		cc_count(hit, 1);
	return rc;
}

/* touch and gat: a new version with the same value, flags, CAS and meta
 * flags; a fetch in memcached (FETCHED, access time) unless flags has
 * CC_LOOKUP_NO_BUMP. A gat's view is of the new version (the old one may
 * be gone after the commit, see commit), with the old one's meta bits
 * and access time, as they were before this access. */
static int retouch(struct cc_thread *t, const void *key, size_t key_len,
		   int64_t exptime, unsigned flags, struct cc_view *out)
{
	struct cc_cache *c = t->cache;
	struct cc_hashed h;
	struct cc_current cur;
	uint64_t loc = 0;
	int rc = cc_op_begin(t, key, key_len, &h);

	if (rc < 0)
		return rc;
	do {
		bool bump = !(flags & CC_LOOKUP_NO_BUMP);
		struct cc_version v;
		bool born_live;

		cc_find_current(t, &h, key, (uint8_t)key_len, &cur);
		if (!cur.live) {
			cc_count(&t->counters.touch_misses, 1);
			return -ENOENT;
		}
		v = (struct cc_version){
			.v1 = cur.it.value, .l1 = cur.it.value_len,
			.flags = cur.it.flags,
			.cas = cc_item_cas(c, cur.loc, &cur.it),
			.meta = bump ? (uint8_t)(CC_META_FETCHED |
						 cc_atime_bits(t->now))
				     : (uint8_t)(cur.it.meta & ~CC_ITEM_META_FLAGS),
			.inherit = CC_ITEM_META_FLAGS,
		};
		born_live = cc_expiry_of(exptime, t->now, &v.expiry);
		rc = born_live ? cc_commit(t, &h, key, (uint8_t)key_len, cur.loc, &v,
					NULL, &loc)
			       : cc_remove_if(t, &h, key, (uint8_t)key_len, cur.loc);
	} while (rc == -EAGAIN);
	if (rc < 0)
		return rc;
	cc_count(&t->counters.touch_hits, 1);
	if (out != NULL) {
		struct cc_item it;

		if (loc != 0)
			cc_item_decode(cc_loc_ptr(c, loc), &it);
		cc_view_fill(t, loc != 0 ? loc : cur.loc, loc != 0 ? &it : &cur.it,
			  false, out);
		out->meta = cur.it.meta & CC_ITEM_META_FLAGS;
		out->atime = cc_atime_decode(cur.it.meta, t->now);
		out->expiry = loc != 0 ? it.expiry : cur.it.expiry;
	}
	return 0;
}

int cc_touch(struct cc_thread *t, const void *key, size_t key_len,
	     int64_t exptime)
{
	return retouch(t, key, key_len, exptime, 0, NULL);
}

int cc_touch_flags(struct cc_thread *t, const void *key, size_t key_len,
		   int64_t exptime, unsigned flags)
{
	return retouch(t, key, key_len, exptime, flags, NULL);
}

int cc_get_touch(struct cc_thread *t, const void *key, size_t key_len,
		 int64_t exptime, struct cc_view *out)
{
	return retouch(t, key, key_len, exptime, 0, out);
}
