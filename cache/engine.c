/*
 * The engine's public operations, in memcached's terms.
 *
 * Items are immutable once published: every change (set, append, incr,
 * touch, ...) writes a new version into the calling thread's open segment
 * and then swings the index slot to it under the key's bucket locks. A
 * conditional change reads the current version without locks, builds the
 * new one, and commits only if the slot still holds what it read (else it
 * retries), so bucket locks are never held while values are copied.
 *
 * Time is Unix seconds from the cache's clock, read once per call.
 */
#include <errno.h>
#include <sys/mman.h>
#include <time.h>

#include "cache_internal.h"
#include "simd.h"

/* Stands for "whatever the slot holds" when committing a plain set. */
#define ANY_LOC UINT64_MAX

static uint32_t realtime_clock(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint32_t)ts.tv_sec;
}

void cc_params_init(struct cc_params *p)
{
	*p = (struct cc_params){
		.memory_limit = 64u << 20,
		.item_max = 1u << 20,
		.segment_size = 0,
		.index_power = 0,
		.max_threads = 64,
		.hugepages = true,
		.clock = NULL,
		.clock_arg = NULL,
	};
}

static pthread_once_t simd_once = PTHREAD_ONCE_INIT;

static void simd_setup(void)
{
	simd_init();
}

static unsigned default_index_power(size_t memory_limit)
{
	uint64_t buckets = memory_limit / 64 / CC_BUCKET_SLOTS;
	unsigned power = 1;

	while (power < CC_INDEX_POWER_MAX && (1ull << power) < buckets)
		power++;
	return power;
}

int cc_create(const struct cc_params *p, struct cc_cache **out)
{
	struct cc_cache *c;
	size_t index_bytes;
	int rc;

	if (p->max_threads == 0 || p->index_power > CC_INDEX_POWER_MAX)
		return -EINVAL;
	pthread_once(&simd_once, simd_setup);
	c = aligned_alloc(CC_CACHE_LINE, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->clock = p->clock != NULL ? p->clock : realtime_clock;
	c->clock_arg = p->clock_arg;
	c->max_threads = p->max_threads;
	c->index_power = p->index_power != 0 ? p->index_power
					     : default_index_power(p->memory_limit);
	c->index_mask = (1ull << c->index_power) - 1;
	atomic_init(&c->epoch, 1);

	rc = cc_segments_init(c, p);
	if (rc < 0)
		goto free_cache;
	index_bytes = (size_t)sizeof(struct cc_bucket) << c->index_power;
	c->index = mmap(NULL, index_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->index == MAP_FAILED) {
		rc = -ENOMEM;
		goto deinit_segments;
	}
	(void)madvise(c->index, index_bytes, MADV_HUGEPAGE);
	c->threads = calloc(c->max_threads, sizeof(*c->threads));
	if (c->threads == NULL) {
		rc = -ENOMEM;
		goto unmap_index;
	}
	*out = c;
	return 0;

unmap_index:
	munmap(c->index, index_bytes);
deinit_segments:
	cc_segments_deinit(c);
free_cache:
	free(c);
	return rc;
}

void cc_destroy(struct cc_cache *c)
{
	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->max_threads; i++)
		free(c->threads[i]);
	free(c->threads);
	munmap(c->index, (size_t)sizeof(struct cc_bucket) << c->index_power);
	cc_segments_deinit(c);
	free(c);
}

uint32_t cc_now(const struct cc_cache *c)
{
	return c->clock(c->clock_arg);
}

int cc_thread_register(struct cc_cache *c, struct cc_thread **out)
{
	struct cc_thread *t = aligned_alloc(CC_CACHE_LINE, sizeof(*t));
	int rc = -EUSERS;

	if (t == NULL)
		return -ENOMEM;
	memset(t, 0, sizeof(*t));
	t->cache = c;
	for (unsigned k = 0; k < CC_TTL_CLASSES; k++)
		t->open_seg[k] = t->merge_seg[k] = -1;
	atomic_init(&t->qs_epoch, atomic_load(&c->epoch));
	pthread_mutex_lock(&c->pool_lock);
	for (unsigned i = 0; i < c->max_threads; i++) {
		if (c->threads[i] == NULL) {
			t->id = i;
			c->threads[i] = t;
			atomic_fetch_add(&c->nthreads, 1);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&c->pool_lock);
	if (rc < 0) {
		free(t);
		return rc;
	}
	cc_thread_online(t);
	*out = t;
	return 0;
}

static void counters_add(struct cc_counters *to, const struct cc_counters *from)
{
#define CC_COUNTER_ADD(name, help)                                          \
	atomic_store_explicit(&to->name,                                    \
			      atomic_load_explicit(&to->name, memory_order_relaxed) + \
			      atomic_load_explicit(&from->name, memory_order_relaxed), \
			      memory_order_relaxed);
	CC_STATS(CC_COUNTER_ADD)
#undef CC_COUNTER_ADD
}

void cc_thread_unregister(struct cc_thread *t)
{
	struct cc_cache *c = t->cache;

	cc_seg_release_open(t);
	pthread_mutex_lock(&c->pool_lock);
	counters_add(&c->departed, &t->counters);
	c->threads[t->id] = NULL;
	atomic_fetch_sub(&c->nthreads, 1);
	pthread_mutex_unlock(&c->pool_lock);
	free(t);
}

/* Reads the clock and fires a pending delayed flush whose time came. */
static void thread_tick(struct cc_thread *t)
{
	struct cc_cache *c = t->cache;
	uint32_t at;

	t->now = c->clock(c->clock_arg);
	at = atomic_load_explicit(&c->flush_at, memory_order_relaxed);
	if (cc_unlikely(at != 0 && t->now >= at) &&
	    atomic_compare_exchange_strong(&c->flush_at, &at, 0))
		atomic_fetch_add(&c->flush_epoch, 1);
}

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
static int op_begin(struct cc_thread *t, const void *key, size_t key_len,
		    struct cc_hashed *h)
{
	int rc = check_key(key_len);

	if (rc < 0)
		return rc;
	thread_tick(t);
	cc_hash_key(t->cache, key, key_len, h);
	return 0;
}

/* memcached's exptime rules. Returns false if the item is born expired. */
static bool expiry_of(int64_t exptime, uint32_t now, uint32_t *expiry)
{
	int64_t at;

	*expiry = 0;
	if (exptime == 0)
		return true;
	if (exptime < 0)
		return false;
	at = exptime <= CC_TTL_RELATIVE_MAX ? (int64_t)now + exptime : exptime;
	if (at <= now)
		return false;
	*expiry = at > UINT32_MAX ? UINT32_MAX : (uint32_t)at;
	return true;
}

/* The current version of a key as seen by a lock-free lookup. */
struct current {
	uint64_t loc;     /* 0 if absent */
	bool live;        /* present, not expired, not flushed */
	struct cc_item it;
};

static void find_current(struct cc_thread *t, const struct cc_hashed *h,
			 const void *key, uint8_t key_len, struct current *cur)
{
	struct cc_cache *c = t->cache;

	cur->loc = cc_index_find(c, h, key, key_len);
	cur->live = false;
	if (cur->loc == 0)
		return;
	cc_item_decode(cc_loc_ptr(c, cur->loc), &cur->it);
	cur->live = cc_item_state(c, cur->loc, &cur->it, t->now) == CC_ITEM_LIVE;
}

/* What a new version holds: the value in up to two pieces (append and
 * prepend join old and new) followed by pad spaces (a shrinking decr),
 * flags, expiry and, if explicit, CAS. */
struct version {
	const void *v1;
	size_t l1;
	const void *v2;
	size_t l2;
	size_t pad;
	uint32_t flags;
	uint32_t expiry;
	uint64_t cas;     /* 0: derived from the location */
};

static uint32_t version_size(uint8_t key_len, const struct version *v)
{
	return cc_item_size(key_len, (uint32_t)(v->l1 + v->l2 + v->pad), v->flags != 0,
			    v->expiry != 0, v->cas != 0 ? CC_CAS_BYTES_MAX : 0);
}

static void version_write(const struct cc_cache *c, uint64_t loc,
			  const void *key, uint8_t key_len,
			  const struct version *v)
{
	uint8_t *p = cc_loc_ptr(c, loc);
	uint32_t vlen = (uint32_t)(v->l1 + v->l2 + v->pad);
	unsigned vb = cc_vlen_bytes(vlen);
	uint8_t *q = p + 2;

	p[0] = (uint8_t)(((vb - 1) << CC_ITEM_VLEN_SHIFT) |
			 (v->flags != 0 ? CC_ITEM_HAS_FLAGS : 0) |
			 (v->expiry != 0 ? CC_ITEM_HAS_EXPIRY : 0) |
			 (v->cas != 0 ? CC_ITEM_HAS_CAS : 0));
	p[1] = key_len;
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
 * Writes a new version of key and points the index at it, provided the
 * slot still holds `expect` (ANY_LOC: whatever it holds). Returns 0 and
 * the new CAS, -EAGAIN if the key changed meanwhile, or -ENOMEM.
 */
static int commit(struct cc_thread *t, const struct cc_hashed *h,
		  const void *key, uint8_t key_len, uint64_t expect,
		  const struct version *v, uint64_t *cas_out)
{
	struct cc_cache *c = t->cache;
	struct cc_index_lock lk;
	uint64_t loc, cur, dropped;
	uint32_t size = version_size(key_len, v);
	int rc;

	rc = cc_seg_append(t, size, v->expiry, &loc);
	if (rc < 0)
		return rc;
	version_write(c, loc, key, key_len, v);

	cc_index_lock(c, h, &lk);
	cur = cc_index_find_locked(c, h, &lk, key, key_len);
	if (expect != ANY_LOC && cur != expect) {
		cc_index_unlock(&lk);
		atomic_fetch_or_explicit(cc_item_info(cc_loc_ptr(c, loc)),
					 CC_ITEM_DEAD, memory_order_relaxed);
		return -EAGAIN;
	}
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

	if (cas_out != NULL)
		*cas_out = v->cas != 0 ? v->cas : cc_loc_cas(c, loc);
	return 0;
}

/* Removes key if the slot still holds `expect`. -EAGAIN if it changed. */
static int remove_if(struct cc_thread *t, const struct cc_hashed *h,
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

static void view_fill(struct cc_thread *t, uint64_t loc,
		      const struct cc_item *it, struct cc_view *out)
{
	struct cc_cache *c = t->cache;

	out->value = it->value;
	out->value_len = it->value_len;
	out->flags = it->flags;
	out->cas = cc_item_cas(c, loc, it);
	out->expiry = it->expiry;
	out->segment = cc_loc_seg(c, loc);
}

/* Marks a hit for eviction. A plain load and store, not an atomic add:
 * losing a racing increment costs nothing, a locked instruction per hit
 * would. Only the counter bits change after publication. */
static void note_hit(struct cc_cache *c, uint64_t loc)
{
	_Atomic uint8_t *info = cc_item_info(cc_loc_ptr(c, loc));
	uint8_t v = atomic_load_explicit(info, memory_order_relaxed);

	if ((v & CC_ITEM_FREQ_MASK) != CC_ITEM_FREQ_MASK)
		atomic_store_explicit(info, (uint8_t)(v + 1), memory_order_relaxed);
}

static int lookup(struct cc_thread *t, const struct cc_hashed *h,
		  const void *key, uint8_t key_len, struct cc_view *out)
{
	struct cc_cache *c = t->cache;
	uint64_t loc = cc_index_find(c, h, key, key_len);
	struct cc_item it;

	cc_count(&t->counters.get_cmds, 1);
	if (loc == 0) {
		cc_count(&t->counters.get_misses, 1);
		return -ENOENT;
	}
	cc_item_decode(cc_loc_ptr(c, loc), &it);
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
	view_fill(t, loc, &it, out);
	note_hit(c, loc);
	cc_count(&t->counters.get_hits, 1);
	return 0;
}

int cc_get(struct cc_thread *t, const void *key, size_t key_len,
	   struct cc_view *out)
{
	struct cc_hashed h;
	int rc = op_begin(t, key, key_len, &h);

	if (rc < 0)
		return rc;
	return lookup(t, &h, key, (uint8_t)key_len, out);
}

unsigned cc_get_bulk(struct cc_thread *t, unsigned n,
		     const struct cc_key keys[], struct cc_view views[],
		     int results[])
{
	struct cc_cache *c = t->cache;
	struct cc_hashed h[CC_BULK_CHUNK];
	unsigned hits = 0;

	thread_tick(t);
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
						   (uint8_t)k->len,
						   &views[base + i]);
			hits += results[base + i] == 0;
		}
	}
	return hits;
}

int cc_store(struct cc_thread *t, const struct cc_store_req *req,
	     uint64_t *cas_out)
{
	struct cc_cache *c = t->cache;
	bool joins = req->mode == CC_APPEND || req->mode == CC_PREPEND;
	struct cc_hashed h;
	struct current cur;
	struct version v;
	uint8_t key_len = (uint8_t)req->key_len;
	bool born_live;
	int rc = check_key(req->key_len);

	if (rc < 0)
		return rc;
	if (req->value_len > c->item_max)
		return -E2BIG;
	thread_tick(t);
	cc_count(&t->counters.set_cmds, 1);
	cc_hash_key(c, req->key, req->key_len, &h);
	v = (struct version){
		.v1 = req->value, .l1 = req->value_len,
		.flags = req->flags, .cas = req->new_cas,
	};
	born_live = expiry_of(req->exptime, t->now, &v.expiry);

	if (req->mode == CC_SET && born_live) {
		rc = commit(t, &h, req->key, key_len, ANY_LOC, &v, cas_out);
		return rc;
	}
	for (;;) {
		find_current(t, &h, req->key, key_len, &cur);
		switch (req->mode) {
		case CC_SET:
			break;
		case CC_ADD:
			if (cur.live)
				goto refused_exists;
			break;
		case CC_REPLACE:
		case CC_APPEND:
		case CC_PREPEND:
			if (!cur.live)
				goto refused_absent;
			break;
		case CC_CAS:
			if (!cur.live) {
				cc_count(&t->counters.cas_misses, 1);
				goto refused_absent;
			}
			if (cc_item_cas(c, cur.loc, &cur.it) != req->cas) {
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
		rc = born_live ? commit(t, &h, req->key, key_len, cur.loc, &v, cas_out)
			       : remove_if(t, &h, req->key, key_len, cur.loc);
		if (rc != -EAGAIN)
			break;
	}
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
	struct current cur;
	int rc = op_begin(t, key, key_len, &h);

	if (rc < 0)
		return rc;
	do {
		find_current(t, &h, key, (uint8_t)key_len, &cur);
		if (!cur.live) {
			cc_count(&t->counters.delete_misses, 1);
			return -ENOENT;
		}
		if (cas != 0 && cc_item_cas(t->cache, cur.loc, &cur.it) != cas)
			return -ESTALE;
		rc = remove_if(t, &h, key, (uint8_t)key_len, cur.loc);
	} while (rc == -EAGAIN);
	cc_count(&t->counters.delete_hits, 1);
	return 0;
}

/* memcached reads the number with strtoull and accepts trailing spaces
 * (left by an earlier shrinking decr). */
static bool parse_number(const uint8_t *p, uint32_t len, uint64_t *out)
{
	uint64_t v = 0;
	uint32_t i = 0;

	if (len == 0 || p[0] < '0' || p[0] > '9')
		return false;
	for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
		unsigned d = p[i] - '0';

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	for (; i < len; i++)
		if (p[i] != ' ')
			return false;
	*out = v;
	return true;
}

int cc_arith(struct cc_thread *t, const void *key, size_t key_len,
	     bool decr, uint64_t delta, uint64_t *value_out, uint64_t *cas_out)
{
	_Atomic uint64_t *hit = decr ? &t->counters.decr_hits : &t->counters.incr_hits;
	_Atomic uint64_t *miss = decr ? &t->counters.decr_misses : &t->counters.incr_misses;
	struct cc_hashed h;
	struct current cur;
	char digits[32];
	int rc = op_begin(t, key, key_len, &h);

	if (rc < 0)
		return rc;
	do {
		uint64_t n;
		int len;

		find_current(t, &h, key, (uint8_t)key_len, &cur);
		if (!cur.live) {
			cc_count(miss, 1);
			return -ENOENT;
		}
		if (!parse_number(cur.it.value, cur.it.value_len, &n))
			return -EDOM;
		n = decr ? (n > delta ? n - delta : 0) : n + delta;
		len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
		/* memcached keeps the old length when the number shrinks,
		 * padding with spaces. */
		struct version v = {
			.v1 = digits, .l1 = (size_t)len,
			.pad = (uint32_t)len < cur.it.value_len ? cur.it.value_len - (uint32_t)len : 0,
			.flags = cur.it.flags, .expiry = cur.it.expiry,
		};
		rc = commit(t, &h, key, (uint8_t)key_len, cur.loc, &v, cas_out);
		if (rc == 0 && value_out != NULL)
			*value_out = n;
	} while (rc == -EAGAIN);
	if (rc == 0)
		cc_count(hit, 1);
	return rc;
}

/* touch and gat: a new version with the same value, flags and CAS. */
static int retouch(struct cc_thread *t, const void *key, size_t key_len,
		   int64_t exptime, struct cc_view *out)
{
	struct cc_hashed h;
	struct current cur;
	int rc = op_begin(t, key, key_len, &h);

	if (rc < 0)
		return rc;
	do {
		struct version v;
		bool born_live;

		find_current(t, &h, key, (uint8_t)key_len, &cur);
		if (!cur.live) {
			cc_count(&t->counters.touch_misses, 1);
			return -ENOENT;
		}
		v = (struct version){
			.v1 = cur.it.value, .l1 = cur.it.value_len,
			.flags = cur.it.flags,
			.cas = cc_item_cas(t->cache, cur.loc, &cur.it),
		};
		born_live = expiry_of(exptime, t->now, &v.expiry);
		if (out != NULL) {
			view_fill(t, cur.loc, &cur.it, out);
			out->expiry = born_live ? v.expiry : cur.it.expiry;
		}
		rc = born_live ? commit(t, &h, key, (uint8_t)key_len, cur.loc, &v, NULL)
			       : remove_if(t, &h, key, (uint8_t)key_len, cur.loc);
	} while (rc == -EAGAIN);
	if (rc == 0)
		cc_count(&t->counters.touch_hits, 1);
	return rc;
}

int cc_touch(struct cc_thread *t, const void *key, size_t key_len,
	     int64_t exptime)
{
	return retouch(t, key, key_len, exptime, NULL);
}

int cc_get_touch(struct cc_thread *t, const void *key, size_t key_len,
		 int64_t exptime, struct cc_view *out)
{
	return retouch(t, key, key_len, exptime, out);
}

void cc_flush(struct cc_thread *t, uint32_t delay)
{
	struct cc_cache *c = t->cache;

	thread_tick(t);
	if (delay == 0) {
		atomic_store(&c->flush_at, 0);
		atomic_fetch_add(&c->flush_epoch, 1);
		return;
	}
	atomic_store(&c->flush_at, t->now + delay);
}

void cc_maintain(struct cc_thread *t)
{
	thread_tick(t);
	cc_seg_maintain(t);
}

void cc_stats_read(struct cc_cache *c, struct cc_stats *out)
{
	struct cc_counters sum;

	memset(&sum, 0, sizeof(sum));
	pthread_mutex_lock(&c->pool_lock);
	counters_add(&sum, &c->departed);
	for (unsigned i = 0; i < c->max_threads; i++)
		if (c->threads[i] != NULL)
			counters_add(&sum, &c->threads[i]->counters);
	pthread_mutex_unlock(&c->pool_lock);

	memset(out, 0, sizeof(*out));
#define CC_STATS_COPY(name, help)                                           \
	out->name = atomic_load_explicit(&sum.name, memory_order_relaxed);
	CC_STATS(CC_STATS_COPY)
#undef CC_STATS_COPY
	out->limit_bytes = (uint64_t)c->nsegs * c->seg_size;
	out->segment_size = c->seg_size;
	out->segments_total = c->nsegs;
	out->segments_free = atomic_load_explicit(&c->free_count,
						  memory_order_relaxed);
	out->index_bytes = (uint64_t)sizeof(struct cc_bucket) << c->index_power;
	out->hugetlb = c->region_hugetlb;
}
