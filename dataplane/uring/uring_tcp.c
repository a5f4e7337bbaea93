/*
 * TCP connections of one worker: accept, receive, parse, send, close.
 *
 * Receiving: one multishot receive per connection draws buffers from the
 * worker's provided-buffer ring. Requests are parsed straight from that
 * buffer, which goes back to the ring at once; only the tail of a request
 * split across receives is copied, into the connection's carry buffer,
 * sized from what the parser says the request needs, so a connection in
 * steady state allocates nothing.
 *
 * Sending: the replies a batch queued go out in one sendmsg gathering the
 * reply queue's iovecs, one send in flight per connection. When the
 * queue holds pinned values and the kernel has zero-copy send, the send
 * is IORING_OP_SENDMSG_ZC: the pins move to a slot of the connection and
 * are released on the kernel's notification. The queue's own buffer is
 * reused as soon as bytes are consumed, so the reply text of a zero-copy
 * send is first copied to the slot's stash; values (the large part) go
 * from segment memory untouched.
 *
 * Limits: the backlog of a client that does not read is bounded by
 * PROTO_OUT_HIGH (the parser stops, the receive is cancelled until the
 * backlog halves); malformed input closes only its own connection; past
 * max_connections a new connection gets memcached's "ERROR Too many open
 * connections" and is closed.
 *
 * A connection is freed once nothing of its own is in the kernel: no
 * receive, no send, no pending zero-copy notification.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uring_internal.h"

static const char too_many_conns[] = "ERROR Too many open connections\r\n";

static struct cc_cache *conn_cache(const struct dp_conn *c)
{
	return c->w->srv->ps->cache;
}

static void conn_mark(struct dp_conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->next_dirty = c->w->dirty;
	c->w->dirty = c;
}

/* Cancels everything of the connection in the kernel, then closes it once
 * the completions are in (conn_finish). */
static void conn_close(struct dp_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->closing)
		return;
	c->closing = true;
	if ((c->recv_armed || c->sending) && (sqe = dp_sqe(c->w))) {
		io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, DP_OP_IGNORE);
	}
	conn_mark(c);
}

static void conn_cancel_recv(struct dp_conn *c)
{
	struct io_uring_sqe *sqe;

	if (!c->recv_armed || c->recv_cancel)
		return;
	sqe = dp_sqe(c->w);
	if (!sqe) {
		conn_close(c);
		return;
	}
	io_uring_prep_cancel64(sqe, DP_UD(c, DP_OP_RECV), 0);
	io_uring_sqe_set_data64(sqe, DP_OP_IGNORE);
	c->recv_cancel = true;
}

static void conn_arm_recv(struct dp_conn *c)
{
	struct io_uring_sqe *sqe = dp_sqe(c->w);

	if (!sqe) {
		conn_close(c);
		return;
	}
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = DP_TCP_BGID;
	io_uring_sqe_set_data64(sqe, DP_UD(c, DP_OP_RECV));
	c->recv_armed = true;
	c->recv_cancel = false;
}

/* ---- input ---- */

/* Runs the complete requests at the front of in; returns the bytes used. */
static size_t conn_process(struct dp_conn *c, char *in, size_t len)
{
	struct proto_worker *pw = c->w->pw;
	size_t consumed = 0, need = 0;
	enum proto_status st;

	st = proto_process(pw, &c->pc, in, len, &c->out, &consumed, &need);
	/* Replies hold copies or pinned references, never views. */
	cc_thread_quiescent(pw->thread);
	c->need = need;
	switch (st) {
	case PROTO_MORE:
		break;
	case PROTO_BLOCKED:
		c->blocked = true;
		conn_cancel_recv(c);
		break;
	case PROTO_CLOSE:
		c->quit = true;
		conn_cancel_recv(c);
		break;
	case PROTO_SHUTDOWN:
		dp_server_stop(c->w->srv);
		break;
	}
	if (proto_out_pending(&c->out))
		conn_mark(c);
	return consumed;
}

/* Appends to the carry buffer, growing it to what the request at its
 * front needs (one allocation per oversized request, not per read). */
static int conn_keep(struct dp_conn *c, const char *p, size_t n)
{
	size_t want = c->rlen + n;

	if (want > c->rcap) {
		size_t cap = c->rcap ? c->rcap * 2 : 4096;
		char *b;

		if (cap < want)
			cap = want;
		if (cap < c->need)
			cap = c->need;
		b = realloc(c->rbuf, cap);
		if (!b) {
			conn_close(c);
			return -ENOMEM;
		}
		c->rbuf = b;
		c->rcap = cap;
	}
	memcpy(c->rbuf + c->rlen, p, n);
	c->rlen += n;
	return 0;
}

static void conn_run_rbuf(struct dp_conn *c)
{
	size_t used;

	/* Still short of the request's length: nothing to parse yet. */
	if (c->need > c->rlen)
		return;
	used = conn_process(c, c->rbuf, c->rlen);
	if (c->quit)
		used = c->rlen;
	c->rlen -= used;
	memmove(c->rbuf, c->rbuf + used, c->rlen);
	if (c->rlen == 0 && c->rcap > DP_RBUF_KEEP) {
		free(c->rbuf);
		c->rbuf = NULL;
		c->rcap = 0;
	}
}

static void conn_input(struct dp_conn *c, char *data, size_t len)
{
	if (c->quit || c->closing)
		return;  /* memcached ignores what follows a quit */
	if (c->rlen == 0 && !c->blocked) {
		size_t used = conn_process(c, data, len);

		if (used < len && !c->quit)
			conn_keep(c, data + used, len - used);
		return;
	}
	if (conn_keep(c, data, len) == 0 && !c->blocked)
		conn_run_rbuf(c);
}

/* ---- output ---- */

static int zc_slot_take(struct dp_conn *c)
{
	for (int i = 0; i < DP_ZC_SLOTS; i++) {
		struct dp_zc_slot *z = &c->zc[i];

		if (z->busy)
			continue;
		if (!z->stash && !(z->stash = malloc(DP_ZC_STASH)))
			return -1;
		z->busy = true;
		return i;
	}
	return -1;
}

/* Moves the reply text among the first n iovecs to the slot's stash;
 * returns how many iovecs the send takes (fewer if the stash fills). */
static unsigned zc_stash(struct dp_conn *c, struct dp_zc_slot *z, unsigned n)
{
	uintptr_t lo = (uintptr_t)c->out.buf, hi = lo + c->out.cap;
	size_t used = 0;

	for (unsigned i = 0; i < n; i++) {
		uintptr_t b = (uintptr_t)c->iov[i].iov_base;
		size_t len = c->iov[i].iov_len;

		if (b < lo || b >= hi)
			continue;  /* a pinned value: sent in place */
		if (used == DP_ZC_STASH)
			return i;
		if (len > DP_ZC_STASH - used) {
			len = DP_ZC_STASH - used;
			c->iov[i].iov_len = len;
			n = i + 1;
		}
		memcpy(z->stash + used, c->iov[i].iov_base, len);
		c->iov[i].iov_base = z->stash + used;
		used += len;
	}
	return n;
}

static void conn_send(struct dp_conn *c)
{
	struct dp_worker *w = c->w;
	struct io_uring_sqe *sqe = dp_sqe(w);
	unsigned n = proto_out_iov(&c->out, c->iov, DP_IOV_MAX);
	int slot = -1;

	if (!sqe) {
		conn_close(c);
		return;
	}
	if (w->zc_ok && c->out.ref_head < c->out.ref_n)
		slot = zc_slot_take(c);
	if (slot >= 0)
		n = zc_stash(c, &c->zc[slot], n);
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = n;
	if (slot >= 0) {
		io_uring_prep_sendmsg_zc(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
		sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
		io_uring_sqe_set_data64(sqe, DP_UD(c, DP_OP_SEND_ZC |
						   ((unsigned)slot << 3)));
	} else {
		io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
		io_uring_sqe_set_data64(sqe, DP_UD(c, DP_OP_SEND));
	}
	c->sending = true;
}

static void zc_notified(struct dp_conn *c, struct dp_zc_slot *z,
			const struct io_uring_cqe *cqe)
{
	struct dp_worker *w = c->w;

	if (((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED) &&
	    !w->zc_copied_seen) {
		w->zc_copied_seen = true;
		dp_log(w, 1, "zero-copy send: the kernel copied (loopback, "
		       "or a device without scatter-gather)\n");
	}
	proto_refs_put(&z->hold, conn_cache(c));
	z->busy = false;
	c->notifs--;
	conn_mark(c);
}

void dp_tcp_on_send(struct dp_conn *c, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	struct dp_zc_slot *z = NULL;
	bool notif_due = false;

	if (DP_UD_OP(ud) == DP_OP_SEND_ZC) {
		z = &c->zc[DP_UD_SLOT(ud)];
		if (cqe->flags & IORING_CQE_F_NOTIF) {
			zc_notified(c, z, cqe);
			return;
		}
		notif_due = cqe->flags & IORING_CQE_F_MORE;
		if (notif_due)
			c->notifs++;
	}
	c->sending = false;
	conn_mark(c);
	if (cqe->res < 0) {
		/* A kernel without the usage report refuses the flag:
		 * plain sends from now on. */
		if (z && cqe->res == -EINVAL && c->w->zc_ok) {
			c->w->zc_ok = false;
			dp_log(c->w, 1, "zero-copy send refused (%s); "
			       "using plain sends\n", strerror(EINVAL));
		} else {
			conn_close(c);
		}
	} else {
		proto_count(&c->w->pw->counters.bytes_written,
			    (uint64_t)cqe->res);
		if (proto_out_consume(&c->out, conn_cache(c), (size_t)cqe->res,
				      z ? &z->hold : NULL))
			conn_close(c);  /* out of memory: cannot track pins */
	}
	if (z && !notif_due) {
		proto_refs_put(&z->hold, conn_cache(c));
		z->busy = false;
	}
}

/* ---- accept, receive ---- */

void dp_tcp_arm_accept(struct dp_worker *w)
{
	struct io_uring_sqe *sqe = dp_sqe(w);

	if (!sqe) {
		w->accept_retry = true;
		return;
	}
	io_uring_prep_multishot_accept(sqe, w->listen_fd, NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, DP_UD(w, DP_OP_ACCEPT));
	w->accept_armed = true;
}

static void conn_open(struct dp_worker *w, int fd)
{
	struct proto_counters *k = &w->pw->counters;
	struct dp_conn *c;

	if (posix_memalign((void **)&c, 64, sizeof(*c))) {
		close(fd);
		atomic_fetch_sub_explicit(&w->srv->conns, 1,
					  memory_order_relaxed);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->fd = fd;
	proto_conn_init(&c->pc, PROTO_TCP);
	proto_out_init(&c->out);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	proto_count(&k->curr_connections, 1);
	proto_count(&k->total_connections, 1);
	dp_log(w, 2, "<%d new auto-negotiating client connection\n", fd);
	conn_arm_recv(c);
}

void dp_tcp_on_accept(struct dp_worker *w, const struct io_uring_cqe *cqe)
{
	struct dp_server *s = w->srv;
	int fd = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		w->accept_armed = false;
		/* Out of descriptors or memory: retry on the next tick
		 * rather than spin on the error. */
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS ||
		    fd == -ENOMEM)
			w->accept_retry = true;
		else if (!w->stopping && w->listen_fd >= 0)
			dp_tcp_arm_accept(w);
	}
	if (fd < 0) {
		if (fd != -ECANCELED)
			dp_log(w, 1, "accept: %s\n", strerror(-fd));
		return;
	}
	if (w->stopping) {
		close(fd);
		return;
	}
	/* The limit may change live (control plane): read it once. */
	if (atomic_fetch_add_explicit(&s->conns, 1, memory_order_relaxed) >=
	    atomic_load_explicit(&s->ps->settings.max_connections,
				 memory_order_relaxed)) {
		ssize_t n;

		atomic_fetch_sub_explicit(&s->conns, 1, memory_order_relaxed);
		/* What memcached (maxconns_fast) says before closing. */
		n = send(fd, too_many_conns, sizeof(too_many_conns) - 1,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)n;
		close(fd);
		proto_count(&w->pw->counters.rejected_connections, 1);
		return;
	}
	conn_open(w, fd);
}

void dp_tcp_on_recv(struct dp_conn *c, const struct io_uring_cqe *cqe)
{
	struct dp_worker *w = c->w;
	int res = cqe->res;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		char *buf = w->tcp_bufs + (size_t)bid * DP_TCP_BUF_SIZE;

		if (res > 0) {
			proto_count(&w->pw->counters.bytes_read,
				    (uint64_t)res);
			conn_input(c, buf, (size_t)res);
		}
		io_uring_buf_ring_add(w->tcp_br, buf, DP_TCP_BUF_SIZE,
				      (unsigned short)bid,
				      io_uring_buf_ring_mask(DP_TCP_BUFS),
				      (int)w->tcp_br_added++);
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		c->recv_armed = false;
		c->recv_cancel = false;
	}
	if (res == 0) {
		c->eof = true;
	} else if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
		dp_log(w, 2, "<%d read: %s\n", c->fd, strerror(-res));
		conn_close(c);
	}
	conn_mark(c);
}

/* ---- closing, servicing ---- */

static void conn_free(struct dp_conn *c)
{
	struct dp_worker *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	proto_out_deinit(&c->out, conn_cache(c));
	for (int i = 0; i < DP_ZC_SLOTS; i++) {
		proto_refs_deinit(&c->zc[i].hold, conn_cache(c));
		free(c->zc[i].stash);
	}
	free(c->rbuf);
	free(c);
}

static void conn_close_fd(struct dp_conn *c)
{
	struct dp_worker *w = c->w;

	if (c->fd < 0)
		return;
	dp_log(w, 2, "<%d connection closed.\n", c->fd);
	close(c->fd);
	c->fd = -1;
	atomic_fetch_sub_explicit(&w->srv->conns, 1, memory_order_relaxed);
	proto_count(&w->pw->counters.curr_connections, (uint64_t)-1);
}

/* Closes the socket once no receive or send of it is in the kernel, and
 * frees the connection once its zero-copy notifications are in too
 * (closing the socket is what lets the last ones come). */
static void conn_finish(struct dp_conn *c)
{
	if (c->recv_armed || c->sending)
		return;
	conn_close_fd(c);
	if (c->notifs == 0)
		conn_free(c);
}

static void conn_service(struct dp_conn *c)
{
	bool stopping = c->w->stopping;

	if (c->closing) {
		conn_finish(c);
		return;
	}
	if (c->blocked && proto_out_pending(&c->out) < DP_OUT_LOW) {
		c->blocked = false;
		if (c->rlen)
			conn_run_rbuf(c);
	}
	if (c->closing)
		return;
	if (!c->sending && proto_out_pending(&c->out))
		conn_send(c);
	if (c->sending || c->closing)
		return;
	if (!c->blocked && (c->quit || c->eof || stopping)) {
		conn_close(c);
		return;
	}
	if (!c->recv_armed && !c->blocked && !c->quit && !c->eof &&
	    !stopping)
		conn_arm_recv(c);
}

void dp_tcp_service(struct dp_worker *w)
{
	while (w->dirty) {
		struct dp_conn *c = w->dirty;

		w->dirty = c->next_dirty;
		c->dirty = false;
		conn_service(c);
	}
}

/* Stop reading; each connection closes once it has sent what it owes. */
void dp_tcp_stop(struct dp_worker *w)
{
	for (struct dp_conn *c = w->conns; c; c = c->next) {
		conn_cancel_recv(c);
		conn_mark(c);
	}
}

/* The drain deadline passed: close whatever is left. */
void dp_tcp_abort_all(struct dp_worker *w)
{
	for (struct dp_conn *c = w->conns; c; c = c->next)
		conn_close(c);
}

/* After the ring is gone: nothing is in the kernel any more. */
void dp_tcp_free_all(struct dp_worker *w)
{
	w->dirty = NULL;
	while (w->conns) {
		struct dp_conn *c = w->conns;

		conn_close_fd(c);
		conn_free(c);
	}
}
