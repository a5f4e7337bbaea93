/*
 * io_uring server internals shared by the worker loop (uring.c), the TCP
 * connections (uring_tcp.c) and the UDP socket (uring_udp.c). Never
 * included outside dataplane/uring.
 *
 * Every submission carries the object it belongs to in its user_data,
 * with the operation in the low bits (objects are 64-byte aligned), so a
 * completion finds its connection without a lookup. An object is freed
 * only once no submission of its own is still in the kernel.
 */
#ifndef CORECACHE_URING_INTERNAL_H
#define CORECACHE_URING_INTERNAL_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "uring.h"

/* liburing 2.3 predates these (kernel 6.2): ask the notification to say
 * whether the kernel had to copy after all (loopback always does). */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

/* Ring sizes: submissions per batch, completions (multishot receives post
 * many per submission). */
#define DP_SQ_ENTRIES 1024
#define DP_CQ_ENTRIES 8192

/* Provided receive buffers of a worker's TCP connections: a connection
 * holds one only while its completion is handled. */
#define DP_TCP_BGID 0
#define DP_TCP_BUFS 256
#define DP_TCP_BUF_SIZE (16 * 1024)

/* UDP: a buffer holds the recvmsg header, the source address and the
 * largest datagram. Buffers wait while every reply slot is busy. */
#define DP_UDP_BGID 1
#define DP_UDP_BUFS 64
#define DP_UDP_PAYLOAD_MAX 65536
#define DP_UDP_BUF_SIZE (sizeof(struct io_uring_recvmsg_out) + \
			 sizeof(struct sockaddr_storage) + DP_UDP_PAYLOAD_MAX)
#define DP_UDP_SLOTS 32
/* Datagrams in one reply. A reply is sent whole or not at all, so the
 * bound is what a request may sanely ask for: a multiget of about 200 keys
 * (what a 1400-byte datagram names) at the largest item size, rounded up
 * to DP_UDP_REPLY_ITEMS items; never below one datagram for each command
 * or key of the largest request (every one may be its own message), never
 * above DP_UDP_DGRAMS_CAP (5.8 GB of reply; an item of the largest -I,
 * 1 GiB, still fits five times). The lengths array is sized for the bound
 * once per worker; its pages are touched only as far as replies reach. */
#define DP_UDP_REPLY_ITEMS 256
#define DP_UDP_DGRAMS_MIN (DP_UDP_PAYLOAD_MAX / 2)
#define DP_UDP_DGRAMS_CAP (1u << 22)
/* A reply slot keeps the send arrays of replies up to this many datagrams
 * (1.4 MB); larger ones are freed when sent, as proto_out frees its large
 * buffers, so one huge reply does not pin memory on an idle slot. */
#define DP_UDP_KEEP_DGRAMS 1024

/* iovecs gathered into one send. */
#define DP_IOV_MAX 64
/* Zero-copy sends of one connection whose notification is pending. */
#define DP_ZC_SLOTS 4
/* Bytes of reply text (not values) a zero-copy send copies aside, since
 * the reply queue reuses its buffer before the kernel lets go. */
#define DP_ZC_STASH (16 * 1024)
/* A blocked connection reads again once its backlog is below this. */
#define DP_OUT_LOW (PROTO_OUT_HIGH / 2)
/* A carry buffer larger than this is freed once empty. */
#define DP_RBUF_KEEP (64 * 1024)
/* Loop tick: engine upkeep, deferred re-arms, the stop deadline. */
#define DP_TICK_MS 100

enum dp_op {
	DP_OP_IGNORE,    /* cancel requests: nothing to do */
	DP_OP_ACCEPT,
	DP_OP_RECV,
	DP_OP_SEND,      /* plain sendmsg */
	DP_OP_SEND_ZC,   /* zero-copy sendmsg; slot in bits 3-4 */
	DP_OP_STOP,      /* poll on the stop eventfd */
	DP_OP_UDP_RECV,
	DP_OP_UDP_SEND,
};
#define DP_OP_MASK 7u
#define DP_UD(ptr, op) ((uint64_t)(uintptr_t)(ptr) | (uint64_t)(op))
#define DP_UD_PTR(ud) ((void *)(uintptr_t)((ud) & ~(uint64_t)63))
#define DP_UD_OP(ud) ((unsigned)((ud) & DP_OP_MASK))
#define DP_UD_SLOT(ud) ((unsigned)(((ud) >> 3) & 3))

struct dp_worker;

/* Pinned values and reply text of one zero-copy send, kept until the
 * kernel's notification. */
struct dp_zc_slot {
	struct proto_refs hold;
	char *stash;
	bool busy;
};

struct dp_conn {
	struct dp_worker *w;
	int fd;
	struct proto_conn pc;
	struct proto_out out;
	/* Input carried across receives: an incomplete request, or
	 * requests waiting while the connection is blocked. */
	char *rbuf;
	size_t rlen, rcap, need;
	struct dp_conn *next_dirty;
	struct dp_conn *prev, *next;      /* the worker's connections */
	unsigned notifs;                  /* zero-copy notifications due */
	bool recv_armed;    /* a multishot receive is in the kernel */
	bool recv_cancel;   /* and its cancellation too */
	bool sending;       /* a send is in the kernel */
	bool dirty;         /* on the worker's list to service */
	bool blocked;       /* backlog over PROTO_OUT_HIGH: not reading */
	bool eof;           /* the client closed its side */
	bool quit;          /* quit or bad input: send, then close */
	bool closing;       /* no more sends; close once the kernel is done */
	struct msghdr msg;
	struct iovec iov[DP_IOV_MAX];
	struct dp_zc_slot zc[DP_ZC_SLOTS];
} __attribute__((aligned(64)));

struct dp_udp_slot {
	struct dp_worker *w;
	struct proto_out out;
	struct msghdr *msgs;
	struct iovec *iovs;
	unsigned cap;        /* entries of msgs and of iovs / 2 */
	unsigned inflight;   /* sends in the kernel */
	struct dp_udp_slot *next_free;
	struct sockaddr_storage addr;
	socklen_t addr_len;
} __attribute__((aligned(64)));

/* A received datagram waiting for a free reply slot. */
struct dp_udp_wait {
	uint16_t bid;
	int len;
};

struct dp_worker {
	struct dp_server *srv;
	struct proto_worker *pw;
	struct io_uring ring;
	bool ring_ready;
	pthread_t thread;
	unsigned id;
	int cpu;            /* -1: not pinned */
	int listen_fd, udp_fd;

	struct io_uring_buf_ring *tcp_br;
	char *tcp_bufs;
	unsigned tcp_br_added;   /* buffers returned since the last advance */

	struct io_uring_buf_ring *udp_br;
	char *udp_bufs;
	unsigned udp_br_added;
	struct msghdr udp_msg;   /* the multishot recvmsg's template */
	struct dp_udp_slot *udp_slots, *udp_free;
	struct proto_out udp_scratch;
	/* Datagram lengths of the reply being served, read only while its
	 * sends are queued, so one array serves every slot. */
	uint16_t *udp_lens;
	unsigned udp_lens_max;
	struct dp_udp_wait udp_wait[DP_UDP_BUFS];
	unsigned udp_wait_n;
	unsigned udp_busy;       /* reply slots with sends in the kernel */

	struct dp_conn *conns;   /* open connections */
	struct dp_conn *dirty;   /* to service at the end of the batch */
	bool accept_armed, accept_retry, udp_armed;
	bool stopping, done;
	uint64_t now_ms, next_tick_ms, stop_deadline_ms;
	bool zc_ok;              /* zero-copy sends: probed, not refused */
	bool zc_copied_seen;
} __attribute__((aligned(64)));

struct dp_server {
	struct proto_server *ps;
	struct dp_params params;
	struct dp_worker **workers;
	unsigned nworkers;
	int stop_fd;
	bool zc_ok;
	bool started, joined;
	uint16_t tcp_port, udp_port;
	/* Open TCP connections over every worker, for the -c limit: one
	 * atomic add per accept and close, never per request. */
	_Atomic uint32_t conns;
	/* Start-up handshake: workers report their ring is ready. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned ready;
	int start_err;
};

/* uring.c */
struct io_uring_sqe *dp_sqe(struct dp_worker *w);
int dp_buf_ring_setup(struct dp_worker *w, unsigned bgid, unsigned n,
		      size_t size, struct io_uring_buf_ring **br_out,
		      char **bufs_out);
void dp_buf_ring_free(struct io_uring_buf_ring *br, char *bufs, unsigned n,
		      size_t size);
uint64_t dp_now_ms(void);
void dp_log(const struct dp_worker *w, unsigned level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* uring_tcp.c */
void dp_tcp_arm_accept(struct dp_worker *w);
void dp_tcp_on_accept(struct dp_worker *w, const struct io_uring_cqe *cqe);
void dp_tcp_on_recv(struct dp_conn *c, const struct io_uring_cqe *cqe);
void dp_tcp_on_send(struct dp_conn *c, const struct io_uring_cqe *cqe);
void dp_tcp_service(struct dp_worker *w);
void dp_tcp_stop(struct dp_worker *w);
void dp_tcp_abort_all(struct dp_worker *w);
void dp_tcp_free_all(struct dp_worker *w);

/* uring_udp.c */
int dp_udp_init(struct dp_worker *w);
void dp_udp_deinit(struct dp_worker *w);
void dp_udp_arm(struct dp_worker *w);
void dp_udp_on_recv(struct dp_worker *w, const struct io_uring_cqe *cqe);
void dp_udp_on_send(struct dp_udp_slot *slot, const struct io_uring_cqe *cqe);
void dp_udp_service(struct dp_worker *w);
bool dp_udp_idle(const struct dp_worker *w);

#endif
