/*
 * The UDP socket of one worker: memcached's UDP protocol over io_uring.
 *
 * One multishot recvmsg draws datagrams (with their source address) from
 * a provided-buffer ring of its own. Each datagram is served by
 * proto_udp_serve into a reply slot, whose datagrams then go out as one
 * sendmsg each, all in the next submission. A slot is busy until its last
 * send completes, since the sends point into its reply queue. When every
 * slot is busy, received datagrams wait in their buffers (not returned to
 * the ring); if the ring runs dry, the kernel's socket buffer takes the
 * overflow and, past it, drops datagrams, which UDP clients expect.
 *
 * A reply goes out whole: every datagram of it, however many (memcached
 * sends a multiget of large values in thousands), up to a bound sized from
 * the item size limit (uring_internal.h); past the bound proto_udp_serve
 * drops the reply and counts it. The send arrays grow to the largest reply
 * a slot has carried, up to DP_UDP_KEEP_DGRAMS, so steady traffic
 * allocates nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uring_internal.h"

/* The most datagrams one reply may have (see DP_UDP_REPLY_ITEMS): an item
 * of item_max bytes, with its VALUE line and END, takes at most
 * item_max / 1392 + 2 of them. */
static unsigned udp_dgrams_max(size_t item_max)
{
	size_t per_item = item_max /
		(PROTO_UDP_DATAGRAM_MAX - PROTO_UDP_HEADER_LEN) + 2;
	size_t n = per_item * DP_UDP_REPLY_ITEMS;

	if (n < DP_UDP_DGRAMS_MIN)
		n = DP_UDP_DGRAMS_MIN;
	if (n > DP_UDP_DGRAMS_CAP)
		n = DP_UDP_DGRAMS_CAP;
	return (unsigned)n;
}

int dp_udp_init(struct dp_worker *w)
{
	int err;

	err = dp_buf_ring_setup(w, DP_UDP_BGID, DP_UDP_BUFS, DP_UDP_BUF_SIZE,
				&w->udp_br, &w->udp_bufs);
	if (err)
		return err;
	w->udp_lens_max = udp_dgrams_max(w->srv->ps->settings.item_max);
	w->udp_lens = malloc(w->udp_lens_max * sizeof(*w->udp_lens));
	if (!w->udp_lens)
		return -ENOMEM;
	memset(&w->udp_msg, 0, sizeof(w->udp_msg));
	w->udp_msg.msg_namelen = sizeof(struct sockaddr_storage);
	proto_out_init(&w->udp_scratch);
	if (posix_memalign((void **)&w->udp_slots, 64,
			   DP_UDP_SLOTS * sizeof(*w->udp_slots)))
		return -ENOMEM;
	memset(w->udp_slots, 0, DP_UDP_SLOTS * sizeof(*w->udp_slots));
	for (unsigned i = 0; i < DP_UDP_SLOTS; i++) {
		struct dp_udp_slot *slot = &w->udp_slots[i];

		slot->w = w;
		proto_out_init(&slot->out);
		slot->next_free = w->udp_free;
		w->udp_free = slot;
	}
	return 0;
}

void dp_udp_deinit(struct dp_worker *w)
{
	struct cc_cache *cache = w->srv->ps->cache;

	if (w->udp_slots) {
		for (unsigned i = 0; i < DP_UDP_SLOTS; i++) {
			struct dp_udp_slot *slot = &w->udp_slots[i];

			proto_out_deinit(&slot->out, cache);
			free(slot->msgs);
			free(slot->iovs);
		}
		free(w->udp_slots);
		w->udp_slots = NULL;
		w->udp_free = NULL;
	}
	proto_out_deinit(&w->udp_scratch, cache);
	free(w->udp_lens);
	w->udp_lens = NULL;
	dp_buf_ring_free(w->udp_br, w->udp_bufs, DP_UDP_BUFS, DP_UDP_BUF_SIZE);
	w->udp_br = NULL;
	w->udp_bufs = NULL;
	if (w->udp_fd >= 0) {
		close(w->udp_fd);
		w->udp_fd = -1;
	}
}

void dp_udp_arm(struct dp_worker *w)
{
	struct io_uring_sqe *sqe = dp_sqe(w);

	if (!sqe)
		return;  /* retried after the next batch */
	io_uring_prep_recvmsg_multishot(sqe, w->udp_fd, &w->udp_msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = DP_UDP_BGID;
	io_uring_sqe_set_data64(sqe, DP_UD(w, DP_OP_UDP_RECV));
	w->udp_armed = true;
}

static void buf_return(struct dp_worker *w, unsigned bid)
{
	io_uring_buf_ring_add(w->udp_br, w->udp_bufs + bid * DP_UDP_BUF_SIZE,
			      DP_UDP_BUF_SIZE, (unsigned short)bid,
			      io_uring_buf_ring_mask(DP_UDP_BUFS),
			      (int)w->udp_br_added++);
}

static void slot_release(struct dp_worker *w, struct dp_udp_slot *slot)
{
	proto_out_consume(&slot->out, w->srv->ps->cache,
			  proto_out_pending(&slot->out), NULL);
	if (slot->cap > DP_UDP_KEEP_DGRAMS) {
		free(slot->msgs);
		free(slot->iovs);
		slot->msgs = NULL;
		slot->iovs = NULL;
		slot->cap = 0;
	}
	slot->next_free = w->udp_free;
	w->udp_free = slot;
	w->udp_busy--;
}

static int slot_reserve(struct dp_udp_slot *slot, unsigned n)
{
	struct msghdr *msgs;
	struct iovec *iovs;

	if (n <= slot->cap)
		return 0;
	msgs = realloc(slot->msgs, n * sizeof(*msgs));
	if (!msgs)
		return -ENOMEM;
	slot->msgs = msgs;
	iovs = realloc(slot->iovs, 2 * n * sizeof(*iovs));
	if (!iovs)
		return -ENOMEM;
	slot->iovs = iovs;
	slot->cap = n;
	return 0;
}

/* Queues one sendmsg per datagram of the slot's reply. The framed bytes
 * are copies, normally one iovec; a datagram spanning two is allowed. */
static void slot_send(struct dp_worker *w, struct dp_udp_slot *slot,
		      unsigned n)
{
	struct iovec src[8];
	unsigned ns = proto_out_iov(&slot->out, src, 8), si = 0;
	size_t soff = 0;

	for (unsigned i = 0; i < n && si < ns; i++) {
		struct msghdr *msg = &slot->msgs[i];
		struct iovec *iov = &slot->iovs[2 * i];
		struct io_uring_sqe *sqe;
		size_t len = w->udp_lens[i];
		unsigned cnt = 0;

		while (len && cnt < 2 && si < ns) {
			size_t take = src[si].iov_len - soff;

			if (take > len)
				take = len;
			iov[cnt].iov_base = (char *)src[si].iov_base + soff;
			iov[cnt++].iov_len = take;
			soff += take;
			len -= take;
			if (soff == src[si].iov_len) {
				si++;
				soff = 0;
			}
		}
		if (len || !(sqe = dp_sqe(w)))
			break;
		memset(msg, 0, sizeof(*msg));
		msg->msg_name = &slot->addr;
		msg->msg_namelen = slot->addr_len;
		msg->msg_iov = iov;
		msg->msg_iovlen = cnt;
		io_uring_prep_sendmsg(sqe, w->udp_fd, msg, 0);
		io_uring_sqe_set_data64(sqe, DP_UD(slot, DP_OP_UDP_SEND));
		slot->inflight++;
	}
}

/* Serves one received datagram into the first free slot and hands its
 * buffer back. */
static void udp_serve(struct dp_worker *w, unsigned bid, int len)
{
	char *buf = w->udp_bufs + bid * DP_UDP_BUF_SIZE;
	struct io_uring_recvmsg_out *o;
	struct dp_udp_slot *slot = w->udp_free;
	socklen_t name_len;
	int n;

	o = io_uring_recvmsg_validate(buf, len, &w->udp_msg);
	if (!o || (o->flags & MSG_TRUNC))
		goto out;
	n = proto_udp_serve(w->pw, io_uring_recvmsg_payload(o, &w->udp_msg),
			    io_uring_recvmsg_payload_length(o, len,
							    &w->udp_msg),
			    &w->udp_scratch, &slot->out, w->udp_lens,
			    w->udp_lens_max);
	cc_thread_quiescent(w->pw->thread);
	/* An accepted shutdown over UDP stops the server, as in memcached
	 * 1.6.18, which sends no reply to it. */
	if (atomic_load_explicit(&w->pw->server->shutdown_requested,
				 memory_order_acquire))
		dp_server_stop(w->srv);
	if (n <= 0)
		goto out;
	if (slot_reserve(slot, (unsigned)n)) {
		proto_out_consume(&slot->out, w->srv->ps->cache,
				  proto_out_pending(&slot->out), NULL);
		goto out;
	}
	name_len = o->namelen < sizeof(slot->addr) ? o->namelen
						    : sizeof(slot->addr);
	memcpy(&slot->addr, io_uring_recvmsg_name(o), name_len);
	slot->addr_len = name_len;
	w->udp_free = slot->next_free;
	w->udp_busy++;
	slot->inflight = 0;
	slot_send(w, slot, (unsigned)n);
	if (slot->inflight == 0)
		slot_release(w, slot);
out:
	buf_return(w, bid);
}

void dp_udp_on_recv(struct dp_worker *w, const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		w->udp_armed = false;  /* re-armed by dp_udp_service */
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (res <= 0)
			buf_return(w, bid);
		else if (w->udp_free && w->udp_wait_n == 0)
			udp_serve(w, bid, res);
		else
			w->udp_wait[w->udp_wait_n++] =
				(struct dp_udp_wait){ (uint16_t)bid, res };
	}
	if (res < 0 && res != -ENOBUFS && res != -ECANCELED)
		dp_log(w, 1, "udp recvmsg: %s\n", strerror(-res));
}

void dp_udp_on_send(struct dp_udp_slot *slot, const struct io_uring_cqe *cqe)
{
	struct dp_worker *w = slot->w;

	if (cqe->res > 0)
		proto_count(&w->pw->counters.bytes_written,
			    (uint64_t)cqe->res);
	if (--slot->inflight == 0)
		slot_release(w, slot);
}

void dp_udp_service(struct dp_worker *w)
{
	unsigned done = 0;

	if (w->udp_fd < 0)
		return;
	while (done < w->udp_wait_n && w->udp_free) {
		udp_serve(w, w->udp_wait[done].bid, w->udp_wait[done].len);
		done++;
	}
	if (done) {
		w->udp_wait_n -= done;
		memmove(w->udp_wait, w->udp_wait + done,
			w->udp_wait_n * sizeof(w->udp_wait[0]));
	}
	if (w->udp_br_added) {
		io_uring_buf_ring_advance(w->udp_br, (int)w->udp_br_added);
		w->udp_br_added = 0;
	}
	if (!w->udp_armed && !w->stopping && w->udp_wait_n < DP_UDP_BUFS)
		dp_udp_arm(w);
}

bool dp_udp_idle(const struct dp_worker *w)
{
	return !w->udp_armed && w->udp_busy == 0 && w->udp_wait_n == 0;
}
