/*
 * Eviction: how sealed segments are emptied to give memory back.
 *
 * Eviction takes the oldest sealed segments of one queue at once (a batch
 * of up to CC_EVICT_BATCH, fewer in a small cache, see cc_segments_init),
 * S3-FIFO style at segment granularity: fresh writes wait in a small
 * probation tier; evicting there promotes the items that were hit into
 * the evicting thread's merge segment in the main tier, and drops the
 * rest, so items read once never occupy main memory. Main segments are
 * evicted the same way, keeping what was hit since the last pass. The
 * emptied segments retire, and segment.c gives them back to the free
 * list after a grace period.
 *
 * A merge segment is opened only when a batch has something to keep: a
 * thread that evicts items nobody read holds no segment for it, which
 * matters in a small cache shared by many threads.
 *
 * The per-item work runs without pool_lock: the batch belongs to the
 * evicting thread alone while it drains (state DRAINING).
 */
#include "cache_internal.h"

static bool seg_dead(const struct cc_cache *c, const struct cc_seg *s,
		     uint32_t now)
{
	return cc_seg_flushed(c, s) || (s->expire_at != 0 && s->expire_at <= now);
}

/* pool_lock held: takes sealed segment id out of its queue to drain. */
static void take_locked(struct cc_cache *c, int32_t id, int32_t *batch,
			unsigned *n)
{
	struct cc_seg *s = &c->segs[id];

	CC_ASSERT(s->state == CC_SEG_SEALED);
	cc_queue_remove(c, &c->sealed[s->ttl_class][s->tier], id);
	s->state = CC_SEG_DRAINING;
	atomic_fetch_add_explicit(&c->pending, 1, memory_order_relaxed);
	batch[(*n)++] = id;
}

/* pool_lock held: the TTL class whose queue of tier has the oldest head,
 * or -1 if that tier is empty. */
static int oldest_class_locked(const struct cc_cache *c, unsigned tier)
{
	int best = -1;

	for (unsigned k = 0; k < CC_TTL_CLASSES; k++) {
		int32_t id = c->sealed[k][tier].head;

		if (id >= 0 && (best < 0 || c->segs[id].seal_seq <
					    c->segs[c->sealed[best][tier].head].seal_seq))
			best = (int)k;
	}
	return best;
}

/*
 * pool_lock held: takes up to c->evict_batch sealed segments to drain.
 * Dead ones (all expired or flushed) at a queue head come first; with
 * dead_only, nothing else. Otherwise probation while it holds more than
 * its share of the segments, else main; in the tier, the oldest queue.
 */
static unsigned pick_batch_locked(struct cc_cache *c, uint32_t now,
				  bool dead_only, int32_t *batch, bool *dead)
{
	unsigned n = 0, probation = 0, tier;
	int k;

	for (unsigned cls = 0; cls < CC_TTL_CLASSES; cls++) {
		for (unsigned tr = 0; tr < CC_SEG_TIERS; tr++) {
			int32_t id = c->sealed[cls][tr].head;

			while (id >= 0 && n < c->evict_batch &&
			       seg_dead(c, &c->segs[id], now)) {
				int32_t next = c->segs[id].next;

				take_locked(c, id, batch, &n);
				id = next;
			}
		}
		probation += c->sealed[cls][CC_TIER_PROBATION].count;
	}
	*dead = n > 0 || dead_only;
	if (*dead)
		return n;
	tier = probation * 100 > (uint64_t)atomic_load_explicit(&c->seg_limit,
				memory_order_relaxed) * CC_PROBATION_SHARE
		       ? CC_TIER_PROBATION : CC_TIER_MAIN;
	k = oldest_class_locked(c, tier);
	if (k < 0) {
		tier = tier == CC_TIER_MAIN ? CC_TIER_PROBATION : CC_TIER_MAIN;
		k = oldest_class_locked(c, tier);
	}
	if (k < 0)
		return 0;
	while (n < c->evict_batch && c->sealed[k][tier].head >= 0)
		take_locked(c, c->sealed[k][tier].head, batch, &n);
	return n;
}

void cc_item_unlinked(struct cc_thread *t, const uint8_t *item_ptr)
{
	struct cc_item it;

	cc_item_decode(item_ptr, &it);
	atomic_fetch_or_explicit(cc_item_info((uint8_t *)item_ptr), CC_ITEM_DEAD,
				 memory_order_relaxed);
	cc_count(&t->counters.curr_items, (uint64_t)-1);
	cc_count(&t->counters.curr_bytes, -(uint64_t)it.size);
}

/*
 * Who stays in a merge: hit counts from the top down, as long as a whole
 * level fits in the room left (levels >= full); then the next level down
 * (partial) fills what room remains. Items never hit are never kept.
 */
struct keep_rule {
	unsigned full;
	unsigned partial;  /* 0: none */
	uint64_t room;     /* bytes kept at most */
	bool keeps;        /* some item qualifies: a merge segment is needed */
};

static struct keep_rule keep_rule_for(struct cc_cache *c, const int32_t *batch,
				      unsigned n, uint32_t room)
{
	uint64_t bytes_at[CC_ITEM_FREQ_MASK + 1] = { 0 };
	uint64_t kept = 0;
	unsigned level;

	for (unsigned b = 0; b < n; b++) {
		const struct cc_seg *s = &c->segs[batch[b]];
		const uint8_t *base = c->region + ((size_t)batch[b] << c->seg_shift);

		for (uint32_t off = batch[b] == 0 ? 1 : 0; off < s->write_offset;) {
			struct cc_item it;

			cc_item_decode(base + off, &it);
			if (!(it.info & CC_ITEM_DEAD))
				/* + 4: the short CAS code a copy typically adds. */
				bytes_at[it.info & CC_ITEM_FREQ_MASK] += it.size + 4;
			off += it.size;
		}
	}
	for (level = CC_ITEM_FREQ_MASK; level >= 1; level--) {
		if (kept + bytes_at[level] > room)
			break;
		kept += bytes_at[level];
	}
	return (struct keep_rule){
		.full = level + 1, .partial = level, .room = room,
		.keeps = kept > 0 || (level >= 1 && bytes_at[level] > 0),
	};
}

/*
 * Copies a kept item into the merge segment with its CAS made explicit
 * (a merge must not change it; the location is known here, so the code
 * takes its short form) and its hit counter cleared. Its meta byte is
 * filled in by drain_item when the copy replaces the original. Returns
 * the new location, or 0 if it does not fit; *size gets the copy's size.
 */
static uint64_t merge_copy(struct cc_cache *c, int32_t dest, uint64_t loc,
			   const struct cc_item *it, uint32_t *size)
{
	struct cc_seg *d = &c->segs[dest];
	uint64_t new_loc = cc_loc_make(c, (uint32_t)dest, d->write_offset);
	uint64_t code = cc_cas_code(cc_loc_cas(c, new_loc), cc_item_cas(c, loc, it));
	unsigned code_bytes = cc_cas_code_bytes(code);
	uint8_t *out = cc_loc_ptr(c, new_loc);
	const uint8_t *src = cc_loc_ptr(c, loc);
	uint32_t fixed = CC_ITEM_FIXED + ((it->info >> CC_ITEM_VLEN_SHIFT) & 3) + 1 +
			 ((it->info & CC_ITEM_HAS_FLAGS) ? 4 : 0) +
			 ((it->info & CC_ITEM_HAS_EXPIRY) ? 4 : 0);

	*size = it->size - it->cas_bytes + code_bytes;
	if (d->write_offset + *size > c->seg_size)
		return 0;
	memcpy(out + 2, src + 2, fixed - 2);
	out[0] = (uint8_t)((it->info & ~(CC_ITEM_FREQ_MASK | CC_ITEM_DEAD)) |
			   CC_ITEM_HAS_CAS);
	atomic_store_explicit(cc_item_meta(out), 0, memory_order_relaxed);
	cc_cas_code_put(out + fixed, code, code_bytes);
	memcpy(out + fixed + code_bytes, it->key,
	       (size_t)it->key_len + it->value_len);
	cc_seg_note_expiry(d, it->expiry);
	d->write_offset += *size;
	return new_loc;
}

/*
 * pool_lock held: t's merge segment in slot ttl_class_id (see
 * cc_seg_class_slot), which stays open across evictions until an item
 * does not fit (full), so main segments are sealed full rather than
 * sparse. Called only when there is something to keep; -1 if no segment
 * is free (the batch then keeps nothing).
 */
static int32_t merge_dest_locked(struct cc_thread *t, unsigned ttl_class_id,
				 bool full)
{
	struct cc_cache *c = t->cache;
	int32_t dest = t->merge_seg[ttl_class_id];

	if (dest >= 0 &&
	    (full || cc_seg_flushed(c, &c->segs[dest]))) {
		cc_seal_locked(c, dest);
		dest = -1;
	}
	if (dest < 0) {
		dest = cc_free_pop_locked(c);
		if (dest >= 0) {
			cc_seg_start(c, dest, ttl_class_id);
			c->segs[dest].tier = CC_TIER_MAIN;
		}
	}
	t->merge_seg[ttl_class_id] = dest;
	return dest;
}

/*
 * Bucket lock held, before a merge copy replaces the original: the copy
 * gets the original's meta byte (flags and access tick) as it is now,
 * and the original gets WIN_SENT in the same atomic step. A client
 * claiming the recache token on the original from here on is told
 * someone has it, so the token is not handed out once for each copy; the
 * lock orders this against every other replacement of the key. If the
 * original is no longer indexed the move then fails, and nobody reads its
 * meta byte as the current one again. A read's FETCHED or tick landing on
 * the original meanwhile is lost, as a hit is.
 */
static void carry_meta(struct cc_cache *c, uint64_t from, uint64_t to)
{
	uint8_t m = atomic_fetch_or_explicit(cc_item_meta(cc_loc_ptr(c, from)),
					     CC_META_WIN_SENT,
					     memory_order_relaxed);

	atomic_store_explicit(cc_item_meta(cc_loc_ptr(c, to)), m,
			      memory_order_relaxed);
}

/* One item of a draining segment: kept (copied to t's merge segment in
 * slot cls and re-pointed) or unlinked. */
static void drain_item(struct cc_thread *t, unsigned cls, uint64_t loc,
		       const struct cc_item *it, bool keep, bool expired)
{
	struct cc_cache *c = t->cache;
	struct cc_hashed h;
	struct cc_index_lock lk;
	uint64_t new_loc = 0;
	uint32_t new_size = 0;

	/* The copy is made before locking: bucket locks are never held
	 * while a value is copied. */
	if (keep && t->merge_seg[cls] >= 0) {
		new_loc = merge_copy(c, t->merge_seg[cls], loc, it, &new_size);
		if (new_loc == 0) {
			pthread_mutex_lock(&c->pool_lock);
			merge_dest_locked(t, cls, true);
			pthread_mutex_unlock(&c->pool_lock);
			if (t->merge_seg[cls] >= 0)
				new_loc = merge_copy(c, t->merge_seg[cls], loc, it,
						     &new_size);
		}
	}
	cc_hash_key(c, it->key, it->key_len, &h);
	cc_index_lock(c, &h, &lk);
	if (new_loc != 0)
		carry_meta(c, loc, new_loc);
	if (new_loc != 0 && cc_index_move_locked(&h, &lk, loc, new_loc)) {
		cc_index_unlock(&lk);
		/* Settled: the second pass of drain must not see it again. */
		atomic_fetch_or_explicit(cc_item_info(cc_loc_ptr(c, loc)),
					 CC_ITEM_DEAD, memory_order_relaxed);
		cc_count(&t->counters.merged_items, 1);
		cc_count(&t->counters.curr_bytes, (uint64_t)new_size - it->size);
		return;
	}
	if (cc_index_remove_locked(&h, &lk, loc)) {
		cc_item_unlinked(t, cc_loc_ptr(c, loc));
		cc_count(expired ? &t->counters.expirations : &t->counters.evictions, 1);
	}
	cc_index_unlock(&lk);
	if (new_loc != 0)
		atomic_fetch_or_explicit(cc_item_info(cc_loc_ptr(c, new_loc)),
					 CC_ITEM_DEAD, memory_order_relaxed);
}

/*
 * Empties the segments of a batch in two passes: the first settles every
 * item but those of the partial level, so that hotter items get the merge
 * room first; the second settles everything still unsettled, giving what
 * room is left to the partial level. Settled items carry the dead bit, so
 * an item whose hit count a reader bumped between the passes is still
 * settled exactly once, and none stays indexed in a retired segment.
 * Runs without pool_lock; the batch belongs to this thread alone.
 */
static void drain(struct cc_thread *t, const int32_t *batch, unsigned n,
		  int mslot, struct keep_rule rule, bool dead)
{
	struct cc_cache *c = t->cache;
	uint64_t kept = 0;

	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned b = 0; b < n; b++) {
			const struct cc_seg *s = &c->segs[batch[b]];

			for (uint32_t off = batch[b] == 0 ? 1 : 0; off < s->write_offset;) {
				uint64_t loc = cc_loc_make(c, (uint32_t)batch[b], off);
				struct cc_item it;
				unsigned freq;
				bool expired;

				cc_item_decode(cc_loc_ptr(c, loc), &it);
				off += it.size;
				if (it.info & CC_ITEM_DEAD)
					continue;
				freq = it.info & CC_ITEM_FREQ_MASK;
				expired = dead || cc_item_state(c, loc, &it, t->now) !=
							  CC_ITEM_LIVE;
				bool partial = !expired && rule.partial != 0 &&
					       freq == rule.partial;
				if (pass == 0 && partial)
					continue;
				bool keep = mslot >= 0 && !expired &&
					    (freq >= rule.full ||
					     (partial && kept + it.size + 4 <= rule.room));
				kept += keep ? it.size + 4 : 0;
				drain_item(t, (unsigned)mslot, loc, &it, keep,
					   expired);
			}
		}
	}
}

bool cc_evict_batch(struct cc_thread *t, bool dead_only)
{
	struct cc_cache *c = t->cache;
	int32_t batch[CC_EVICT_BATCH];
	struct keep_rule rule = { .full = CC_ITEM_FREQ_MASK + 1 };
	int mslot = -1;
	bool dead;
	unsigned n;
	uint64_t epoch;

	pthread_mutex_lock(&c->pool_lock);
	n = pick_batch_locked(c, t->now, dead_only, batch, &dead);
	pthread_mutex_unlock(&c->pool_lock);
	if (n == 0)
		return false;
	/* Kept items get a quarter of a segment for each one the batch
	 * holds: a batch of four frees at least three, a batch of one
	 * three quarters. The rule is judged first, so that a batch with
	 * nothing to keep takes no merge segment; in a cache too small to
	 * give each thread one (cc_seg_share), nothing is kept. */
	if (!dead && cc_seg_share(c) > 0) {
		rule = keep_rule_for(c, batch, n, c->seg_size / 4 * n);
		if (rule.keeps) {
			unsigned k = cc_seg_class_slot(t, t->merge_seg,
						       c->segs[batch[0]].ttl_class);

			pthread_mutex_lock(&c->pool_lock);
			if (merge_dest_locked(t, k, false) >= 0)
				mslot = (int)k;
			pthread_mutex_unlock(&c->pool_lock);
		}
	}
	drain(t, batch, n, mslot, rule, dead);

	pthread_mutex_lock(&c->pool_lock);
	epoch = cc_qsbr_retire(c);
	for (unsigned b = 0; b < n; b++) {
		CC_ASSERT(c->segs[batch[b]].state == CC_SEG_DRAINING);
		c->segs[batch[b]].state = CC_SEG_RETIRED;
		c->segs[batch[b]].retire_epoch = epoch;
		cc_queue_push(c, &c->retired, batch[b]);
	}
	cc_reclaim_locked(c);
	pthread_mutex_unlock(&c->pool_lock);
	cc_count(dead ? &t->counters.segments_expired
		      : &t->counters.segments_evicted, n);
	return true;
}
