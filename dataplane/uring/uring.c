/*
 * The io_uring server: sockets, worker threads and their event loop.
 *
 * Each worker owns a ring, a SO_REUSEPORT TCP listener, a SO_REUSEPORT UDP
 * socket and the connections its listener accepted; the kernel spreads new
 * connections and datagrams over the workers. One loop iteration submits
 * everything queued and waits in a single io_uring_enter (at most
 * DP_TICK_MS), handles the batch of completions, then services the
 * connections the batch touched: sends their gathered replies and
 * re-arms their receives. The worker is offline for the engine while it
 * waits, so an idle worker never holds back memory reclamation, and it
 * reports a quiescent point after each request batch it parses.
 *
 * Stopping: one eventfd, polled by every ring (and by the control thread),
 * becomes readable on dp_server_stop. Workers then stop accepting and
 * reading, send what they owe for at most DP_DRAIN_MS, and exit.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "numa.h"
#include "uring_internal.h"

uint64_t dp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void dp_log(const struct dp_worker *w, unsigned level, const char *fmt, ...)
{
	va_list ap;

	if (atomic_load_explicit(&w->srv->ps->settings.verbosity,
				 memory_order_relaxed) < level)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* A submission slot; when the queue is full, what is queued is submitted
 * first. NULL only if the kernel refuses submissions altogether. */
struct io_uring_sqe *dp_sqe(struct dp_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	for (int tries = 0; !sqe && tries < 2; tries++) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

/* ---- sockets ---- */

/* Binds a socket to the listen address. SO_REUSEPORT lets every worker
 * have its own; a probe binds first without it, so that a port another
 * process holds is an error, not silently shared (same-user processes may
 * join a reuseport group). */
static int bind_socket(const struct dp_params *p, uint16_t port, int type,
		       bool probe)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = type,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *ai;
	char service[8];
	int fd, one = 1, err;

	snprintf(service, sizeof(service), "%u", (unsigned)port);
	if (getaddrinfo(p->listen_addr, service, &hints, &ai) != 0)
		return -EINVAL;
	fd = socket(ai->ai_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out_free;
	}
	/* SO_REUSEADDR lets TCP bind over TIME_WAIT; on UDP it would let
	 * the probe share a bound port, so the probe goes without. */
	if ((type == SOCK_STREAM || !probe) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto out_errno;
	if (!probe &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto out_errno;
	/* Accepted sockets inherit it, as memcached relies on. */
	if (type == SOCK_STREAM &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		goto out_errno;
	if (type == SOCK_DGRAM) {
		/* Best effort, like memcached's maximize_sndbuf: the kernel
		 * clamps it to wmem_max / rmem_max. */
		int size = 4 << 20;

		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen))
		goto out_errno;
	if (probe) {
		close(fd);
		freeaddrinfo(ai);
		return 0;
	}
	if (type == SOCK_STREAM && listen(fd, 1024))
		goto out_errno;
	freeaddrinfo(ai);
	return fd;

out_errno:
	err = -errno;
	close(fd);
out_free:
	freeaddrinfo(ai);
	return err;
}

/* ---- provided buffer rings ---- */

/* liburing 2.3 has no io_uring_setup_buf_ring: the ring is page-aligned
 * memory of our own, registered by hand. */
int dp_buf_ring_setup(struct dp_worker *w, unsigned bgid, unsigned n,
		      size_t size, struct io_uring_buf_ring **br_out,
		      char **bufs_out)
{
	size_t ring_bytes = n * sizeof(struct io_uring_buf);
	struct io_uring_buf_reg reg = { 0 };
	struct io_uring_buf_ring *br;
	char *bufs;
	int err;

	br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
		  MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED)
		return -ENOMEM;
	bufs = mmap(NULL, n * size, PROT_READ | PROT_WRITE,
		    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (bufs == MAP_FAILED) {
		munmap(br, ring_bytes);
		return -ENOMEM;
	}
	reg.ring_addr = (uint64_t)(uintptr_t)br;
	reg.ring_entries = n;
	reg.bgid = (uint16_t)bgid;
	err = io_uring_register_buf_ring(&w->ring, &reg, 0);
	if (err) {
		munmap(bufs, n * size);
		munmap(br, ring_bytes);
		return err;
	}
	io_uring_buf_ring_init(br);
	for (unsigned i = 0; i < n; i++)
		io_uring_buf_ring_add(br, bufs + i * size, (unsigned)size,
				      (unsigned short)i,
				      io_uring_buf_ring_mask(n), (int)i);
	io_uring_buf_ring_advance(br, (int)n);
	*br_out = br;
	*bufs_out = bufs;
	return 0;
}

void dp_buf_ring_free(struct io_uring_buf_ring *br, char *bufs, unsigned n,
		      size_t size)
{
	if (bufs)
		munmap(bufs, n * size);
	if (br)
		munmap(br, n * sizeof(struct io_uring_buf));
}

/* ---- the worker ---- */

static int ring_init(struct dp_worker *w)
{
	/* Newest first: one submitter and task work run only when the
	 * worker enters the kernel anyway (6.1), then cooperative task
	 * work (5.19), then nothing special. */
	static const unsigned flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	int err = -EINVAL;

	for (unsigned i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]);
	     i++) {
		struct io_uring_params p = { 0 };

		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = DP_CQ_ENTRIES;
		err = io_uring_queue_init_params(DP_SQ_ENTRIES, &w->ring, &p);
		if (err == 0) {
			w->ring_ready = true;
			return 0;
		}
	}
	return err;
}

static void arm_stop(struct dp_worker *w)
{
	struct io_uring_sqe *sqe = dp_sqe(w);

	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, w->srv->stop_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, DP_UD(w, DP_OP_STOP));
}

static int worker_setup(struct dp_worker *w)
{
	struct dp_server *s = w->srv;
	int err;

	err = cc_thread_register(s->ps->cache, &w->pw->thread);
	if (err)
		return err;
	err = ring_init(w);
	if (err)
		return err;
	w->zc_ok = s->zc_ok;
	if (w->listen_fd >= 0) {
		err = dp_buf_ring_setup(w, DP_TCP_BGID, DP_TCP_BUFS,
				     DP_TCP_BUF_SIZE, &w->tcp_br,
				     &w->tcp_bufs);
		if (err)
			return err;
		dp_tcp_arm_accept(w);
	}
	if (w->udp_fd >= 0) {
		err = dp_udp_init(w);
		if (err)
			return err;
		dp_udp_arm(w);
	}
	arm_stop(w);
	w->now_ms = dp_now_ms();
	w->next_tick_ms = w->now_ms + DP_TICK_MS;
	return io_uring_submit(&w->ring) < 0 ? -EIO : 0;
}

static void worker_begin_stop(struct dp_worker *w)
{
	struct io_uring_sqe *sqe;

	if (w->stopping)
		return;
	w->stopping = true;
	w->stop_deadline_ms = dp_now_ms() + DP_DRAIN_MS;
	if (w->listen_fd >= 0) {
		if (w->accept_armed && (sqe = dp_sqe(w))) {
			io_uring_prep_cancel64(sqe, DP_UD(w, DP_OP_ACCEPT), 0);
			io_uring_sqe_set_data64(sqe, DP_OP_IGNORE);
		}
		/* The pending accept holds its own file reference; closing
		 * now resets connections still queued on this listener. */
		close(w->listen_fd);
		w->listen_fd = -1;
	}
	if (w->udp_armed && (sqe = dp_sqe(w))) {
		io_uring_prep_cancel64(sqe, DP_UD(w, DP_OP_UDP_RECV), 0);
		io_uring_sqe_set_data64(sqe, DP_OP_IGNORE);
	}
	dp_tcp_stop(w);
}

static void handle_cqe(struct dp_worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);

	switch (DP_UD_OP(ud)) {
	case DP_OP_ACCEPT:
		dp_tcp_on_accept(w, cqe);
		break;
	case DP_OP_RECV:
		dp_tcp_on_recv(DP_UD_PTR(ud), cqe);
		break;
	case DP_OP_SEND:
	case DP_OP_SEND_ZC:
		dp_tcp_on_send(DP_UD_PTR(ud), cqe);
		break;
	case DP_OP_STOP:
		worker_begin_stop(w);
		break;
	case DP_OP_UDP_RECV:
		dp_udp_on_recv(w, cqe);
		break;
	case DP_OP_UDP_SEND:
		dp_udp_on_send(DP_UD_PTR(ud), cqe);
		break;
	default:
		break;
	}
}

/* Work done every DP_TICK_MS, never per request. */
static void worker_tick(struct dp_worker *w)
{
	w->next_tick_ms = w->now_ms + DP_TICK_MS;
	if (w->id == 0)
		cc_maintain(w->pw->thread);
	if (w->accept_retry && !w->stopping) {
		w->accept_retry = false;
		dp_tcp_arm_accept(w);
	}
	if (w->stopping && w->now_ms >= w->stop_deadline_ms)
		dp_tcp_abort_all(w);
}

static bool worker_finished(const struct dp_worker *w)
{
	if (!w->stopping)
		return false;
	if (w->now_ms >= w->stop_deadline_ms + DP_TICK_MS)
		return true;  /* the kernel is slow to give things back */
	return !w->conns && !w->accept_armed && dp_udp_idle(w);
}

static void worker_loop(struct dp_worker *w)
{
	struct cc_thread *t = w->pw->thread;

	while (!worker_finished(w)) {
		struct __kernel_timespec ts = {
			.tv_nsec = DP_TICK_MS * 1000000LL,
		};
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		/* Holds no view here: every batch ended in a quiescent
		 * point, and values still being sent are pinned. */
		cc_thread_offline(t);
		io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
		cc_thread_online(t);

		io_uring_for_each_cqe(&w->ring, head, cqe) {
			handle_cqe(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring, n);

		/* Buffers handed back during the batch go back to the
		 * kernel before any receive is re-armed. */
		if (w->tcp_br_added) {
			io_uring_buf_ring_advance(w->tcp_br,
						  (int)w->tcp_br_added);
			w->tcp_br_added = 0;
		}
		dp_udp_service(w);
		dp_tcp_service(w);

		w->now_ms = dp_now_ms();
		if (w->now_ms >= w->next_tick_ms)
			worker_tick(w);
	}
}

static void worker_teardown(struct dp_worker *w)
{
	if (w->ring_ready) {
		io_uring_queue_exit(&w->ring);
		w->ring_ready = false;
	}
	dp_tcp_free_all(w);
	dp_udp_deinit(w);
	dp_buf_ring_free(w->tcp_br, w->tcp_bufs, DP_TCP_BUFS, DP_TCP_BUF_SIZE);
	w->tcp_br = NULL;
	w->tcp_bufs = NULL;
	if (w->listen_fd >= 0) {
		close(w->listen_fd);
		w->listen_fd = -1;
	}
	if (w->pw->thread) {
		cc_thread_unregister(w->pw->thread);
		w->pw->thread = NULL;
	}
}

static void *worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dp_server *s = w->srv;
	int err = worker_setup(w);

	pthread_mutex_lock(&s->lock);
	s->ready++;
	if (err && !s->start_err)
		s->start_err = err;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (!err)
		worker_loop(w);
	worker_teardown(w);
	return NULL;
}

/* ---- the server ---- */

int dp_server_create(struct proto_server *ps, const struct dp_params *p,
		     struct dp_server **out)
{
	struct dp_server *s;
	int err = -ENOMEM;

	if (p->threads == 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ps = ps;
	s->params = *p;
	s->stop_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->workers = calloc(p->threads, sizeof(*s->workers));
	ps->workers = calloc(p->threads, sizeof(*ps->workers));
	if (!s->workers || !ps->workers)
		goto fail;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		err = -errno;
		goto fail;
	}
	if ((p->tcp_port &&
	     (err = bind_socket(p, p->tcp_port, SOCK_STREAM, true))) ||
	    (p->udp_port &&
	     (err = bind_socket(p, p->udp_port, SOCK_DGRAM, true))))
		goto fail;
	err = -ENOMEM;
	for (unsigned i = 0; i < p->threads; i++) {
		struct dp_worker *w;
		struct proto_worker *pw;

		if (posix_memalign((void **)&w, 64, sizeof(*w)))
			goto fail;
		memset(w, 0, sizeof(*w));
		w->listen_fd = w->udp_fd = -1;
		s->workers[s->nworkers++] = w;
		if (posix_memalign((void **)&pw, 64, sizeof(*pw)))
			goto fail;
		memset(pw, 0, sizeof(*pw));
		pw->server = ps;
		pw->id = i;
		ps->workers[i] = pw;
		ps->nworkers = i + 1;
		w->srv = s;
		w->pw = pw;
		w->id = i;
		w->cpu = -1;
		if (p->tcp_port) {
			w->listen_fd = bind_socket(p, p->tcp_port,
						   SOCK_STREAM, false);
			if (w->listen_fd < 0) {
				err = w->listen_fd;
				goto fail;
			}
		}
		if (p->udp_port) {
			w->udp_fd = bind_socket(p, p->udp_port, SOCK_DGRAM,
						false);
			if (w->udp_fd < 0) {
				err = w->udp_fd;
				goto fail;
			}
		}
	}
	*out = s;
	return 0;

fail:
	dp_server_destroy(s);
	return err;
}

/* Where the workers run: numa/'s plan over the CPUs the process may use
 * (no ports: the kernel spreads clients), whole cores before hyper-thread
 * siblings, nodes taking turns, and one CPU left to the control thread
 * when there is one to spare. With more workers than CPUs nobody is
 * pinned: two workers pinned to one CPU take turns, and one preempted
 * while online holds every grace period of the engine (and so every
 * store needing a segment) until its next turn. */
static void plan_cpus(struct dp_server *s)
{
	struct numa_topology *t;
	struct numa_plan *plan;
	struct numa_plan_req req;
	unsigned usable = 0;
	char err[256], *text;
	cpu_set_t set;
	size_t len;

	if (!s->params.pin || sched_getaffinity(0, sizeof(set), &set))
		return;
	if (numa_topology_load(NULL, &t, err, sizeof(err))) {
		dp_log(s->workers[0], 1, "not pinning workers: %s\n", err);
		return;
	}
	for (int c = 0; c < NUMA_MAX_CPUS; c++)
		usable += CPU_ISSET(c, &set) &&
			  numa_topology_cpu_node(t, c) != NUMA_NO_NODE;
	if (usable < s->nworkers) {
		dp_log(s->workers[0], 1, "%u workers on %u CPUs: not "
		       "pinning them\n", s->nworkers, usable);
		goto destroy_topology;
	}
	numa_plan_req_init(&req);
	req.workers = s->nworkers;
	req.allowed = &set;
	req.main = usable > s->nworkers ? NUMA_MAIN_KEEP : NUMA_MAIN_SHARE;
	if (numa_plan_create(t, &req, &plan, err, sizeof(err))) {
		dp_log(s->workers[0], 1, "not pinning workers: %s\n", err);
		goto destroy_topology;
	}
	for (unsigned i = 0; i < s->nworkers; i++)
		s->workers[i]->cpu = numa_plan_worker_cpu(plan, i);
	len = numa_plan_format(plan, NULL, 0);
	text = malloc(len + 1);
	if (text) {
		numa_plan_format(plan, text, len + 1);
		dp_log(s->workers[0], 2, "%s", text);
		free(text);
	}
	numa_plan_destroy(plan);
destroy_topology:
	numa_topology_destroy(t);
}

static bool probe_zero_copy(void)
{
	struct io_uring_probe *probe = io_uring_get_probe();
	bool ok;

	if (!probe)
		return false;
	ok = io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC);
	io_uring_free_probe(probe);
	return ok;
}

int dp_server_start(struct dp_server *s)
{
	unsigned started = 0;
	int err = 0;

	s->zc_ok = probe_zero_copy();
	plan_cpus(s);
	for (; started < s->nworkers; started++) {
		struct dp_worker *w = s->workers[started];
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		/* Pinned before the thread runs, so the ring and buffers it
		 * allocates land on its own node. */
		err = w->cpu >= 0 ? numa_pin_attr(&attr, w->cpu) : 0;
		if (!err)
			err = -pthread_create(&w->thread, &attr, worker_main,
					      w);
		pthread_attr_destroy(&attr);
		if (err)
			break;
	}
	s->started = started > 0;
	pthread_mutex_lock(&s->lock);
	while (s->ready < started)
		pthread_cond_wait(&s->cond, &s->lock);
	if (!err)
		err = s->start_err;
	pthread_mutex_unlock(&s->lock);
	if (err) {
		/* The workers that did start see the stop and exit. */
		dp_server_stop(s);
		for (unsigned i = 0; i < started; i++)
			pthread_join(s->workers[i]->thread, NULL);
		s->started = false;
	}
	return err;
}

void dp_server_stop(struct dp_server *s)
{
	uint64_t one = 1;
	ssize_t n;

	/* Never read: the eventfd stays readable for every ring. */
	n = write(s->stop_fd, &one, sizeof(one));
	(void)n;
}

int dp_server_stop_fd(const struct dp_server *s)
{
	return s->stop_fd;
}

bool dp_server_zero_copy(const struct dp_server *s)
{
	return s->zc_ok;
}

void dp_server_join(struct dp_server *s)
{
	if (!s->started || s->joined)
		return;
	for (unsigned i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i]->thread, NULL);
	s->joined = true;
}

void dp_server_destroy(struct dp_server *s)
{
	struct proto_server *ps = s->ps;

	if (s->started && !s->joined) {
		dp_server_stop(s);
		dp_server_join(s);
	}
	for (unsigned i = 0; i < s->nworkers; i++) {
		struct dp_worker *w = s->workers[i];

		if (w->listen_fd >= 0)
			close(w->listen_fd);
		if (w->udp_fd >= 0)
			close(w->udp_fd);
		free(w);
	}
	if (ps->workers) {
		for (unsigned i = 0; i < ps->nworkers; i++)
			free(ps->workers[i]);
		free(ps->workers);
		ps->workers = NULL;
		ps->nworkers = 0;
	}
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s->workers);
	free(s);
}
