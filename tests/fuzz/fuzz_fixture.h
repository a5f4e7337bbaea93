/*
 * What the libFuzzer targets share: one small cache and one protocol
 * worker, created on the first input and kept for the whole run (so state
 * left by one input, items and pending flushes, meets the next), and the
 * loops that feed an input to the TCP or the UDP entry point the way the
 * io_uring path does, draining every reply.
 */
#ifndef CORECACHE_FUZZ_FIXTURE_H
#define CORECACHE_FUZZ_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct fuzz_fixture {
	struct cc_cache *cache;
	struct proto_server server;
	struct proto_worker worker;
	struct proto_worker *workers[1];
	struct proto_out out;      /* a connection's reply queue */
	struct proto_out scratch;  /* UDP: the unframed replies */
};

/* The fixture, created on first use; aborts if it cannot be. */
struct fuzz_fixture *fuzz_fixture_get(void);

/*
 * Feeds data to a fresh TCP connection in pieces of at most chunk bytes
 * (0: all at once), as reads would bring it: each call of proto_process
 * sees exactly the bytes not yet consumed (in a buffer of that size, so
 * the sanitizer catches a read past them), replies are drained after each
 * call (the bytes read, as a send would), and the worker passes a
 * quiescent point. Stops when the connection would be closed.
 */
void fuzz_feed_tcp(struct fuzz_fixture *f, const uint8_t *data, size_t len,
		   size_t chunk);

/* Serves data as one UDP datagram and drains the reply datagrams. */
void fuzz_feed_udp(struct fuzz_fixture *f, const uint8_t *data, size_t len);

#endif
