/*
 * The engine's public operations, in memcached's terms: reads, stores
 * and deletes here; those that rewrite a version from the engine's own
 * copy of it (incr/decr, touch, gat, meta invalidation) in rewrite.c.
 *
 * Items are immutable once published: every change (set, append, incr,
 * touch, ...) writes a new version into the calling thread's open segment
 * and then swings the index slot to it under the key's bucket locks. A
 * conditional change reads the current version without locks, builds the
 * new one, and commits only if the slot still holds what it read (else it
 * retries), so bucket locks are never held while values are copied.
 *
 * Time is Unix seconds from the cache's clock, read once per call.
 *
 * The meta protocol's per-item state (CC_META_* and the access tick, see
 * the meta byte in cache_internal.h) follows memcached 1.6: a new value
 * starts with the bits the request gives; touch, gat and an incr or decr
 * whose result fits the old length change an item in place in memcached,
 * so their new versions keep the old bits; meta invalidation and a stale
 * CAS store set STALE.
 */
#include <errno.h>

#include "cache_internal.h"

/* Stands for "whatever the slot holds" when committing a plain set. */
#define ANY_LOC UINT64_MAX

static int check_key(size_t key_len)
{
	if (key_len == 0)
		return -EINVAL;
	if (key_len > CC_KEY_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* What every single-key operation does first: refuse a bad key, read the
 * clock, hash. */
int cc_op_begin(struct cc_thread *t, const void *key, size_t key_len,
		struct cc_hashed *h)
{
	int rc = check_key(key_len);

	if (rc < 0)
		return rc;
	cc_thread_tick(t);
	cc_hash_key(t->cache, key, key_len, h);
	return 0;
}

void cc_find_current(struct cc_thread *t, const struct cc_hashed *h,
		     const void *key, uint8_t key_len, struct cc_current *cur)
{
	struct cc_cache *c = t->cache;

	cur->loc = cc_index_find(c, h, key, key_len);
	cur->live = false;
	if (cur->loc == 0)
		return;
	cc_item_decode(cc_loc_ptr(c, cur->loc), &cur->it);
	cur->live = cc_item_state(c, cur->loc, &cur->it, t->now) == CC_ITEM_LIVE;
}

static uint32_t version_size(uint8_t key_len, const struct cc_version *v)
{
	return cc_item_size(key_len, (uint32_t)(v->l1 + v->l2 + v->pad), v->flags != 0,
			    v->expiry != 0, v->cas != 0 ? CC_CAS_BYTES_MAX : 0);
}

static void version_write(const struct cc_cache *c, uint64_t loc,
			  const void *key, uint8_t key_len,
			  const struct cc_version *v)
{
	uint8_t *p = cc_loc_ptr(c, loc);
	uint32_t vlen = (uint32_t)(v->l1 + v->l2 + v->pad);
	unsigned vb = cc_vlen_bytes(vlen);
	uint8_t *q = p + CC_ITEM_FIXED;

	p[0] = (uint8_t)(((vb - 1) << CC_ITEM_VLEN_SHIFT) |
			 (v->flags != 0 ? CC_ITEM_HAS_FLAGS : 0) |
			 (v->expiry != 0 ? CC_ITEM_HAS_EXPIRY : 0) |
			 (v->cas != 0 ? CC_ITEM_HAS_CAS : 0));
	atomic_store_explicit(cc_item_meta(p), v->meta, memory_order_relaxed);
	p[2] = key_len;
	for (unsigned i = 0; i < vb; i++)
		*q++ = (uint8_t)(vlen >> (8 * i));
	if (v->flags != 0) {
		memcpy(q, &v->flags, 4);
		q += 4;
	}
	if (v->expiry != 0) {
		memcpy(q, &v->expiry, 4);
		q += 4;
	}
	if (v->cas != 0) {
		/* The size was fixed before the location was known, so the
		 * code takes its padded width. */
		cc_cas_code_put(q, cc_cas_code(cc_loc_cas(c, loc), v->cas),
				CC_CAS_BYTES_MAX);
		q += CC_CAS_BYTES_MAX;
	}
	memcpy(q, key, key_len);
	q += key_len;
	if (v->l1 != 0)
		memcpy(q, v->v1, v->l1);
	if (v->l2 != 0)
		memcpy(q + v->l1, v->v2, v->l2);
	memset(q + v->l1 + v->l2, ' ', v->pad);
}

/*
 * The flags v->inherit names, taken from the version at old (indexed, its
 * bucket locked, about to be replaced) into the new one at loc (not yet
 * published). When WIN_SENT is inherited it is also set on the old
 * version in the same atomic step, so a client claiming the token there
 * from now on loses, and the token cannot go out once for each version.
 * Only a version that is being replaced under the lock is marked so
 * (here and in a merge), so no version inherits such a mark as a win.
 */
static void inherit_meta(struct cc_cache *c, uint64_t old, uint64_t loc,
			 uint8_t inherit)
{
	_Atomic uint8_t *from = cc_item_meta(cc_loc_ptr(c, old));
	uint8_t m = (inherit & CC_META_WIN_SENT)
			    ? atomic_fetch_or_explicit(from, CC_META_WIN_SENT,
						       memory_order_relaxed)
			    : atomic_load_explicit(from, memory_order_relaxed);

	atomic_fetch_or_explicit(cc_item_meta(cc_loc_ptr(c, loc)),
				 (uint8_t)(m & inherit), memory_order_relaxed);
}

/* A CAS that no item version has yet, above every derived one: for a
 * store dropped at once because its TTL is already past (memcached stores
 * such an item expired and reports its CAS: ms c, mg N with a past T),
 * and for a version whose derived CAS would not follow its key's current
 * one (commit). Taken from the counter that segments' CAS ranges are
 * carved from, so no range includes it. A shared atomic, but only on
 * these rare paths. */
static uint64_t orphan_cas(struct cc_cache *c)
{
	return atomic_fetch_add_explicit(&c->cas_next, 1, memory_order_relaxed);
}

/* Whether a version at loc with a derived CAS (cc_loc_cas) would come
 * after the version at old in CAS order. */
static bool cas_follows(const struct cc_cache *c, uint64_t old, uint64_t loc)
{
	struct cc_item it;

	cc_item_decode(cc_loc_ptr(c, old), &it);
	return cc_loc_cas(c, loc) > cc_item_cas(c, old, &it);
}

/*
 * Writes a new version of key and points the index at it, provided the
 * slot still holds `expect` (ANY_LOC: whatever it holds). Returns 0, the
 * new CAS and (loc_out, if not NULL) its location, -EAGAIN if the key
 * changed meanwhile, or -ENOMEM. v may copy from the version at expect:
 * if finding room passes a quiescent point for this thread (segment.c),
 * that segment stays pinned until the decision, so it is neither
 * overwritten while read nor reused at the same location meanwhile.
 *
 * A key's versions get increasing CAS values, as memcached's counter
 * gives them (meta ms I compares them: "is my CAS older?"). A derived
 * CAS grows with the segment's opening and the offset in it, so a version
 * written to a segment opened before the one holding the current version
 * (another thread's, another TTL class's) would go backwards; it is then
 * written again with a fresh explicit CAS, above every derived one. That
 * costs a second append and 10 bytes for such items only.
 */
int cc_commit(struct cc_thread *t, const struct cc_hashed *h,
	      const void *key, uint8_t key_len, uint64_t expect,
	      const struct cc_version *v, uint64_t *cas_out, uint64_t *loc_out)
{
	struct cc_cache *c = t->cache;
	struct cc_seg_src src = { .loc = expect != ANY_LOC ? expect : 0 };
	struct cc_index_lock lk;
	struct cc_version fresh;
	uint64_t loc, cur, dropped;
	uint32_t size;
	int rc;

again:
	size = version_size(key_len, v);
	rc = cc_seg_append(t, size, v->expiry, &src, &loc);
	if (rc < 0) {
		cc_seg_unpin(c, &src);
		return rc;
	}
	version_write(c, loc, key, key_len, v);

	cc_index_lock(c, h, &lk);
	cur = cc_index_find_locked(c, h, &lk, key, key_len);
	if ((expect != ANY_LOC && cur != expect) ||
	    (v->cas == 0 && cur != 0 && !cas_follows(c, cur, loc))) {
		bool moved = expect != ANY_LOC && cur != expect;

		cc_index_unlock(&lk);
		atomic_fetch_or_explicit(cc_item_info(cc_loc_ptr(c, loc)),
					 CC_ITEM_DEAD, memory_order_relaxed);
		if (!moved) {
			fresh = *v;
			fresh.cas = orphan_cas(c);
			v = &fresh;
			goto again;
		}
		cc_seg_unpin(c, &src);
		return -EAGAIN;
	}
	if (v->inherit != 0 && cur != 0)
		inherit_meta(c, cur, loc, v->inherit);
	cc_index_put_locked(c, h, &lk, cur, loc, &dropped);
	if (cur != 0)
		cc_item_unlinked(t, cc_loc_ptr(c, cur));
	cc_count(&t->counters.curr_items, 1);
	cc_count(&t->counters.curr_bytes, size);
	if (dropped != 0) {
		cc_item_unlinked(t, cc_loc_ptr(c, dropped));
		cc_count(&t->counters.index_evictions, 1);
	}
	cc_index_unlock(&lk);
	cc_seg_unpin(c, &src);

	if (cas_out != NULL)
		*cas_out = v->cas != 0 ? v->cas : cc_loc_cas(c, loc);
	if (loc_out != NULL)
		*loc_out = loc;
	return 0;
}

/* Removes key if the slot still holds `expect`. -EAGAIN if it changed. */
int cc_remove_if(struct cc_thread *t, const struct cc_hashed *h,
		 const void *key, uint8_t key_len, uint64_t expect)
{
	struct cc_cache *c = t->cache;
	struct cc_index_lock lk;
	uint64_t cur;

	cc_index_lock(c, h, &lk);
	cur = cc_index_find_locked(c, h, &lk, key, key_len);
	if (cur != expect) {
		cc_index_unlock(&lk);
		return -EAGAIN;
	}
	if (cur != 0) {
		cc_index_remove_locked(h, &lk, cur);
		cc_item_unlinked(t, cc_loc_ptr(c, cur));
	}
	cc_index_unlock(&lk);
	return 0;
}

/* lookup's own flag beside the public CC_LOOKUP_*: fill the view's
 * access time. */
#define LOOKUP_ATIME 0x100u

/* The meta byte a read leaves: FETCHED, and the access tick of now. */
static inline uint8_t meta_read(uint8_t meta, uint32_t now)
{
	return (uint8_t)((meta & CC_ITEM_META_FLAGS) | CC_META_FETCHED |
			 cc_atime_bits(now));
}

/* The first read of an item, or the first in a new tick: a
 * compare-exchange, so a concurrent WIN_SENT is never overwritten. Out
 * of line (measured: inlined, the loop slowed every GET): a hot item
 * takes it once per 64-second tick. */
static __attribute__((noinline)) void note_access(uint8_t *p, uint8_t seen,
						   uint32_t now)
{
	uint8_t want = meta_read(seen, now);

	while (seen != want &&
	       !atomic_compare_exchange_weak_explicit(cc_item_meta(p), &seen, want,
						      memory_order_relaxed,
						      memory_order_relaxed))
		want = meta_read(seen, now);
}

/* Marks a read: a hit for eviction, and the meta state. The hit counter
 * takes a plain load and store, not an atomic add: losing a racing
 * increment costs nothing, a locked instruction per hit would. */
static inline void note_read(uint8_t *p, const struct cc_item *it,
			     uint32_t now)
{
	if ((it->info & CC_ITEM_FREQ_MASK) != CC_ITEM_FREQ_MASK)
		atomic_store_explicit(cc_item_info(p), (uint8_t)(it->info + 1),
				      memory_order_relaxed);
	if (cc_unlikely(it->meta != meta_read(it->meta, now)))
		note_access(p, it->meta, now);
}

static int lookup(struct cc_thread *t, const struct cc_hashed *h,
		  const void *key, uint8_t key_len, unsigned flags,
		  struct cc_view *out)
{
	struct cc_cache *c = t->cache;
	uint64_t loc = cc_index_find(c, h, key, key_len);
	struct cc_item it;
	uint8_t *p;

	cc_count(&t->counters.get_cmds, 1);
	if (loc == 0) {
		cc_count(&t->counters.get_misses, 1);
		return -ENOENT;
	}
	p = cc_loc_ptr(c, loc);
	cc_item_decode(p, &it);
	switch (cc_item_state(c, loc, &it, t->now)) {
	case CC_ITEM_LIVE:
		break;
	case CC_ITEM_EXPIRED:
		cc_count(&t->counters.get_expired, 1);
		cc_count(&t->counters.get_misses, 1);
		return -ENOENT;
	case CC_ITEM_FLUSHED:
		cc_count(&t->counters.get_flushed, 1);
		cc_count(&t->counters.get_misses, 1);
		return -ENOENT;
	}
	cc_view_fill(t, loc, &it, flags & LOOKUP_ATIME, out);
	if (!(flags & CC_LOOKUP_NO_BUMP))
		note_read(p, &it, t->now);
	cc_count(&t->counters.get_hits, 1);
	return 0;
}

int cc_lookup(struct cc_thread *t, const void *key, size_t key_len,
	      unsigned flags, struct cc_view *out)
{
	struct cc_hashed h;
	int rc = cc_op_begin(t, key, key_len, &h);

	if (rc < 0)
		return rc;
	return lookup(t, &h, key, (uint8_t)key_len,
		      (flags & CC_LOOKUP_NO_BUMP) | LOOKUP_ATIME, out);
}

/* The plain get path does not report the access time: decoding it cost
 * about 4% of the GET rate (measured), and no plain get reads it. */
int cc_get(struct cc_thread *t, const void *key, size_t key_len,
	   struct cc_view *out)
{
	struct cc_hashed h;
	int rc = cc_op_begin(t, key, key_len, &h);

	if (rc < 0)
		return rc;
	return lookup(t, &h, key, (uint8_t)key_len, 0, out);
}

unsigned cc_get_bulk(struct cc_thread *t, unsigned n,
		     const struct cc_key keys[], struct cc_view views[],
		     int results[])
{
	struct cc_cache *c = t->cache;
	struct cc_hashed h[CC_BULK_CHUNK];
	unsigned hits = 0;

	cc_thread_tick(t);
	for (unsigned base = 0; base < n; base += CC_BULK_CHUNK) {
		unsigned m = n - base < CC_BULK_CHUNK ? n - base : CC_BULK_CHUNK;

		/* Stage 1: hash every key and start loading its bucket. */
		for (unsigned i = 0; i < m; i++) {
			const struct cc_key *k = &keys[base + i];

			results[base + i] = check_key(k->len);
			if (results[base + i] < 0)
				continue;
			cc_hash_key(c, k->data, k->len, &h[i]);
			cc_index_prefetch(c, &h[i]);
		}
		/* Stage 2: with buckets arriving, start loading the items
		 * their tags point at, and the secondary buckets of keys
		 * that did not match in their primary but may have moved. */
		uint32_t secondary = 0;

		for (unsigned i = 0; i < m; i++)
			if (results[base + i] == 0 && cc_index_prefetch_items(c, &h[i]))
				secondary |= 1u << i;
		/* Stage 2b: items of those secondary buckets. */
		for (uint32_t s = secondary; s != 0; s &= s - 1)
			cc_index_prefetch_secondary_items(c, &h[__builtin_ctz(s)]);
		/* Stage 3: the lookups proper, mostly from cache now. */
		for (unsigned i = 0; i < m; i++) {
			const struct cc_key *k = &keys[base + i];

			if (results[base + i] < 0)
				continue;
			results[base + i] = lookup(t, &h[i], k->data,
						   (uint8_t)k->len, 0,
						   &views[base + i]);
			hits += results[base + i] == 0;
		}
	}
	return hits;
}

/*
 * memcached's CAS_STALE (ms with I and an older CAS): the value is stored
 * but marked stale, and it keeps the current version's TTL and whether
 * the recache token went out. memcached counts it as a cas hit.
 */
static void stale_store(struct cc_version *v, const struct cc_item *cur)
{
	v->expiry = cur->expiry;
	v->meta |= CC_META_STALE;
	v->inherit = CC_META_WIN_SENT;
}

int cc_store(struct cc_thread *t, const struct cc_store_req *req,
	     uint64_t *cas_out)
{
	struct cc_cache *c = t->cache;
	bool joins = req->mode == CC_APPEND || req->mode == CC_PREPEND;
	struct cc_hashed h;
	struct cc_current cur;
	struct cc_version base, v;
	uint8_t key_len = (uint8_t)req->key_len;
	uint64_t item_cas;
	bool base_live, born_live;
	int rc = check_key(req->key_len);

	if (rc < 0)
		return rc;
	if (req->value_len > c->item_max)
		return -E2BIG;
	cc_thread_tick(t);
	cc_count(&t->counters.set_cmds, 1);
	cc_hash_key(c, req->key, req->key_len, &h);
	base = (struct cc_version){
		.v1 = req->value, .l1 = req->value_len,
		.flags = req->flags, .cas = req->new_cas,
		.meta = (uint8_t)((req->meta & CC_ITEM_META_FLAGS) |
				  cc_atime_bits(t->now)),
	};
	base_live = cc_expiry_of(req->exptime, t->now, &base.expiry);

	if (req->mode == CC_SET && base_live)
		return cc_commit(t, &h, req->key, key_len, ANY_LOC, &base, cas_out,
			      NULL);
	for (;;) {
		/* A retry starts over: a stale store rewrote v last time. */
		v = base;
		born_live = base_live;
		cc_find_current(t, &h, req->key, key_len, &cur);
		switch (req->mode) {
		case CC_SET:
			break;
		case CC_ADD:
			if (cur.live)
				goto refused_exists;
			break;
		case CC_REPLACE:
			if (!cur.live)
				goto refused_absent;
			break;
		case CC_APPEND:
		case CC_PREPEND:
			if (!cur.live)
				goto refused_absent;
			/* Compared with the version the commit then requires
			 * in the slot, under its bucket lock: atomic. No
			 * cas_badval, as in memcached, which also checks the
			 * CAS before the joined size. */
			if (req->cas != 0 &&
			    cc_item_cas(c, cur.loc, &cur.it) != req->cas) {
				cc_count(&t->counters.store_refused, 1);
				return -ESTALE;
			}
			break;
		case CC_CAS:
			if (!cur.live) {
				cc_count(&t->counters.cas_misses, 1);
				goto refused_absent;
			}
			item_cas = cc_item_cas(c, cur.loc, &cur.it);
			if (req->invalidate && req->cas < item_cas) {
				stale_store(&v, &cur.it);
				born_live = true;
				break;
			}
			if (item_cas != req->cas) {
				cc_count(&t->counters.cas_badval, 1);
				cc_count(&t->counters.store_refused, 1);
				return -ESTALE;
			}
			break;
		default:
			return -EINVAL;
		}
		if (joins) {
			if ((size_t)cur.it.value_len + req->value_len > c->item_max) {
				cc_count(&t->counters.store_refused, 1);
				return -E2BIG;
			}
			v.flags = cur.it.flags;
			v.expiry = cur.it.expiry;
			v.v1 = req->mode == CC_APPEND ? cur.it.value : req->value;
			v.l1 = req->mode == CC_APPEND ? cur.it.value_len : req->value_len;
			v.v2 = req->mode == CC_APPEND ? req->value : cur.it.value;
			v.l2 = req->mode == CC_APPEND ? req->value_len : cur.it.value_len;
			born_live = true;
		}
		rc = born_live ? cc_commit(t, &h, req->key, key_len, cur.loc, &v,
					cas_out, NULL)
			       : cc_remove_if(t, &h, req->key, key_len, cur.loc);
		if (rc != -EAGAIN)
			break;
	}
	if (rc == 0 && !born_live && cas_out != NULL)
		*cas_out = req->new_cas != 0 ? req->new_cas : orphan_cas(c);
	if (rc == 0 && req->mode == CC_CAS)
		cc_count(&t->counters.cas_hits, 1);
	return rc;

refused_exists:
	cc_count(&t->counters.store_refused, 1);
	return -EEXIST;
refused_absent:
	cc_count(&t->counters.store_refused, 1);
	return -ENOENT;
}

int cc_delete(struct cc_thread *t, const void *key, size_t key_len,
	      uint64_t cas)
{
	struct cc_hashed h;
	struct cc_current cur;
	int rc = cc_op_begin(t, key, key_len, &h);

	if (rc < 0)
		return rc;
	do {
		cc_find_current(t, &h, key, (uint8_t)key_len, &cur);
		if (!cur.live) {
			cc_count(&t->counters.delete_misses, 1);
			return -ENOENT;
		}
		if (cas != 0 && cc_item_cas(t->cache, cur.loc, &cur.it) != cas)
			return -ESTALE;
		rc = cc_remove_if(t, &h, key, (uint8_t)key_len, cur.loc);
	} while (rc == -EAGAIN);
	cc_count(&t->counters.delete_hits, 1);
	return 0;
}
