/*
 * corecached's kernel path: memcached over TCP and UDP through io_uring.
 *
 * N worker threads, each pinned to a CPU, each with its own ring, its own
 * SO_REUSEPORT listener and UDP socket, and its own connections: a request
 * is read, parsed, run and answered by one thread, with no lock and no
 * shared state on the way. The protocol itself is dataplane/proto's; this
 * module moves bytes (provided-buffer multishot receives, gathered sends,
 * zero-copy sends of large values) and keeps connections within their
 * limits.
 *
 * Threads: create, start, join and destroy from one control thread;
 * dp_server_stop from anywhere, signal handlers included.
 *
 * Errors: functions return 0 or a negative errno value.
 */
#ifndef CORECACHE_URING_H
#define CORECACHE_URING_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct dp_server;

struct dp_params {
	/* Address to listen on: numeric IPv4 or IPv6, or a host name
	 * (the first address it resolves to). */
	const char *listen_addr;
	uint16_t tcp_port;         /* 0: no TCP listener */
	uint16_t udp_port;         /* 0: no UDP socket */
	unsigned threads;          /* worker threads, at least 1 */
	uint32_t max_connections;  /* open TCP connections over all workers */
	bool pin;                  /* numa/-planned pinning, if CPUs suffice */
};

/* Binds every worker's sockets, so a bad address or a port in use shows
 * here, before any thread starts; allocates the workers' protocol state
 * and fills ps->workers and ps->nworkers. ps->settings and ps->cache must
 * be set; ps must outlive the server. Errors: -EINVAL (address does not
 * resolve), -EADDRINUSE and the other errors of socket/bind/listen,
 * -ENOMEM. */
int dp_server_create(struct proto_server *ps, const struct dp_params *p,
		     struct dp_server **out);

/* Starts the workers and waits until each has its ring running. Errors:
 * the first worker's failure (-ENOSYS without io_uring, -EUSERS when the
 * engine has no thread slot left, ...); then no worker runs. */
int dp_server_start(struct dp_server *s);

/* Asks every worker to stop: they stop accepting and reading, send what
 * they owe (for at most DP_DRAIN_MS), close and exit. One write to an
 * eventfd: safe from a signal handler. The shutdown command calls it. */
void dp_server_stop(struct dp_server *s);

/* Readable once a stop was asked, by dp_server_stop or by the shutdown
 * command, for the control thread's poll. */
int dp_server_stop_fd(const struct dp_server *s);

/* Waits for every worker to exit. */
void dp_server_join(struct dp_server *s);

/* Frees the server and the workers' protocol state (clears ps->workers).
 * Joins first if the workers run. */
void dp_server_destroy(struct dp_server *s);

/* How long stopping workers keep sending what they owe. */
#define DP_DRAIN_MS 500

/* Whether the kernel takes zero-copy sends (IORING_OP_SENDMSG_ZC), as
 * probed by dp_server_start. */
bool dp_server_zero_copy(const struct dp_server *s);

#endif
