/*
 * The reply queue of one connection.
 *
 * Replies are mostly short lines and small values, so they are copied into
 * one growing byte buffer; a value of zero_copy_min bytes or more is not
 * copied but pinned (cc_ref_get) and recorded as a reference spliced into
 * the byte stream at an offset, so the transport sends it straight from
 * segment memory. The buffer only grows when a backlog outgrows every
 * earlier one and is reused from the front once drained, so a connection
 * in steady state allocates nothing. A partially sent value is tracked by
 * ref_sent; its pin is dropped only when its last byte has left (or, for a
 * zero-copy send, handed to the caller to drop on the kernel's notice).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* Smallest buffer; most connections never need more. */
#define OUT_MIN_CAP 4096
/* A drained buffer larger than this is freed: one huge reply must not pin
 * megabytes on an idle connection. */
#define OUT_KEEP_CAP (1u << 20)

void proto_out_init(struct proto_out *o)
{
	memset(o, 0, sizeof(*o));
}

static void release_refs(struct proto_out *o, struct cc_cache *c)
{
	for (uint32_t i = o->ref_head; i < o->ref_n; i++)
		cc_ref_put(c, &o->refs[i].view);
	o->ref_head = o->ref_n = 0;
	o->ref_bytes = o->ref_sent = 0;
}

void proto_out_deinit(struct proto_out *o, struct cc_cache *c)
{
	release_refs(o, c);
	free(o->buf);
	free(o->refs);
	memset(o, 0, sizeof(*o));
}

static bool out_empty(const struct proto_out *o)
{
	return o->head == o->len && o->ref_head == o->ref_n;
}

/* Moves the unsent bytes to the front so the space before them is reused;
 * offsets of pending refs move with them. */
static void compact(struct proto_out *o)
{
	size_t shift = o->head;

	if (shift == 0)
		return;
	memmove(o->buf, o->buf + shift, o->len - shift);
	o->len -= shift;
	o->head = 0;
	for (uint32_t i = o->ref_head; i < o->ref_n; i++)
		o->refs[i].at -= shift;
	if (o->ref_head > 0) {
		memmove(o->refs, o->refs + o->ref_head,
			(o->ref_n - o->ref_head) * sizeof(*o->refs));
		o->ref_n -= o->ref_head;
		o->ref_head = 0;
	}
}

char *proto_out_reserve(struct proto_out *o, size_t n)
{
	if (o->cap - o->len >= n)
		return o->buf + o->len;
	if (o->head > 0 && o->head >= o->len - o->head)
		compact(o);
	if (o->cap - o->len < n) {
		size_t cap = o->cap ? o->cap : OUT_MIN_CAP;
		char *buf;

		while (cap - o->len < n)
			cap *= 2;
		buf = realloc(o->buf, cap);
		if (!buf)
			return NULL;
		o->buf = buf;
		o->cap = cap;
	}
	return o->buf + o->len;
}

void proto_out_commit(struct proto_out *o, size_t n)
{
	o->len += n;
}

int proto_out_append(struct proto_out *o, const void *p, size_t n)
{
	char *dst = proto_out_reserve(o, n);

	if (!dst)
		return -ENOMEM;
	memcpy(dst, p, n);
	o->len += n;
	return 0;
}

static int push_ref(struct proto_out *o, const struct cc_view *v)
{
	if (o->ref_n == o->ref_cap) {
		uint32_t cap = o->ref_cap ? o->ref_cap * 2 : 16;
		struct proto_ref *refs;

		if (o->ref_head > 0) {
			compact(o);
			if (o->ref_n < o->ref_cap)
				goto room;
		}
		refs = realloc(o->refs, cap * sizeof(*refs));
		if (!refs)
			return -ENOMEM;
		o->refs = refs;
		o->ref_cap = cap;
	}
room:
	o->refs[o->ref_n].at = o->len;
	o->refs[o->ref_n].view = *v;
	o->ref_n++;
	o->ref_bytes += v->value_len;
	return 0;
}

int proto_out_value(struct proto_out *o, struct proto_worker *w,
		    const struct cc_view *v)
{
	uint32_t min = atomic_load_explicit(&w->server->settings.zero_copy_min,
					    memory_order_relaxed);

	if (min == 0 || v->value_len < min)
		return proto_out_append(o, v->value, v->value_len);
	if (push_ref(o, v) < 0)
		return -ENOMEM;
	cc_ref_get(w->thread, v);
	proto_count(&w->counters.zero_copy_values, 1);
	return 0;
}

size_t proto_out_pending(const struct proto_out *o)
{
	return (o->len - o->head) + o->ref_bytes - o->ref_sent;
}

unsigned proto_out_iov(const struct proto_out *o, struct iovec *iov,
		       unsigned max)
{
	size_t pos = o->head;
	size_t skip = o->ref_sent;
	unsigned n = 0;

	for (uint32_t i = o->ref_head; i < o->ref_n && n < max; i++) {
		const struct proto_ref *r = &o->refs[i];

		if (r->at > pos) {
			iov[n].iov_base = o->buf + pos;
			iov[n].iov_len = r->at - pos;
			pos = r->at;
			if (++n == max)
				return n;
		}
		if (r->view.value_len > skip) {
			iov[n].iov_base = (char *)r->view.value + skip;
			iov[n].iov_len = r->view.value_len - skip;
			n++;
		}
		skip = 0;
	}
	if (n < max && o->len > pos) {
		iov[n].iov_base = o->buf + pos;
		iov[n].iov_len = o->len - pos;
		n++;
	}
	return n;
}

static int refs_reserve(struct proto_refs *r, uint32_t more)
{
	struct cc_view *views;
	uint32_t cap = r->cap ? r->cap : 16;

	if (r->cap - r->n >= more)
		return 0;
	while (cap - r->n < more)
		cap *= 2;
	views = realloc(r->views, cap * sizeof(*views));
	if (!views)
		return -ENOMEM;
	r->views = views;
	r->cap = cap;
	return 0;
}

int proto_out_consume(struct proto_out *o, struct cc_cache *c, size_t n,
		      struct proto_refs *hold)
{
	if (hold && refs_reserve(hold, o->ref_n - o->ref_head) < 0)
		return -ENOMEM;
	while (n > 0) {
		struct proto_ref *r = o->ref_head < o->ref_n ?
				      &o->refs[o->ref_head] : NULL;

		if (r && r->at == o->head) {
			size_t left = r->view.value_len - o->ref_sent;
			size_t take = n < left ? n : left;

			o->ref_sent += take;
			n -= take;
			if (o->ref_sent < r->view.value_len)
				break;
			if (hold)
				hold->views[hold->n++] = r->view;
			else
				cc_ref_put(c, &r->view);
			o->ref_bytes -= r->view.value_len;
			o->ref_sent = 0;
			o->ref_head++;
			continue;
		}
		size_t limit = r ? r->at : o->len;
		size_t take = limit - o->head;

		if (take > n)
			take = n;
		o->head += take;
		n -= take;
		if (take == 0)
			break;
	}
	if (out_empty(o)) {
		o->head = o->len = 0;
		o->ref_head = o->ref_n = 0;
		if (o->cap > OUT_KEEP_CAP) {
			free(o->buf);
			o->buf = NULL;
			o->cap = 0;
		}
	}
	return 0;
}

void proto_out_copy(const struct proto_out *o, size_t offset, size_t n,
		    void *dst)
{
	size_t pos = o->head;
	size_t skip = o->ref_sent;
	char *d = dst;

	/* Walks the pieces in order, dropping offset bytes, copying n. */
	for (uint32_t i = o->ref_head; i <= o->ref_n && n > 0; i++) {
		const struct proto_ref *r = i < o->ref_n ? &o->refs[i] : NULL;
		size_t end = r ? r->at : o->len;
		const char *piece[2] = { o->buf + pos, NULL };
		size_t plen[2] = { end - pos, 0 };

		if (r) {
			piece[1] = (const char *)r->view.value + skip;
			plen[1] = r->view.value_len - skip;
		}
		for (int k = 0; k < 2 && n > 0; k++) {
			size_t take;

			if (offset >= plen[k]) {
				offset -= plen[k];
				continue;
			}
			take = plen[k] - offset;
			if (take > n)
				take = n;
			memcpy(d, piece[k] + offset, take);
			d += take;
			n -= take;
			offset = 0;
		}
		pos = end;
		skip = 0;
	}
}

void proto_refs_put(struct proto_refs *r, struct cc_cache *c)
{
	for (uint32_t i = 0; i < r->n; i++)
		cc_ref_put(c, &r->views[i]);
	r->n = 0;
}

void proto_refs_deinit(struct proto_refs *r, struct cc_cache *c)
{
	proto_refs_put(r, c);
	free(r->views);
	memset(r, 0, sizeof(*r));
}
