/*
 * The libFuzzer targets' shared fixture (see fuzz_fixture.h). The cache is
 * small (32 MiB, 64 KiB items) so eviction runs often, and values of 512
 * bytes or more are queued by reference, so the fuzzer also drives the
 * pinned-value path of the reply queue. Every reply byte is read as a
 * send would read it, so a reply pointing at freed or unpinned memory is
 * reported by the address sanitizer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"

#define FUZZ_IOV_MAX 64
#define FUZZ_DGRAMS_MAX 64

static struct fuzz_fixture *fixture;

struct fuzz_fixture *fuzz_fixture_get(void)
{
	struct fuzz_fixture *f;
	struct cc_params p;

	if (fixture)
		return fixture;
	f = calloc(1, sizeof(*f));
	if (!f)
		abort();
	cc_params_init(&p);
	p.memory_limit = 32u << 20;
	p.item_max = 64u << 10;
	p.max_threads = 2;
	p.hugepages = false;
	if (cc_create(&p, &f->cache) != 0)
		abort();
	f->server.cache = f->cache;
	f->server.settings.item_max = p.item_max;
	f->server.settings.zero_copy_min = 512;
	f->server.settings.max_connections = 16;
	f->server.settings.threads = 1;
	f->server.settings.tcp_port = 21300;
	f->server.settings.udp_port = 21300;
	f->server.settings.shutdown_enabled = true;
	f->server.settings.flush_enabled = true;
	f->server.settings.version = "fuzz";
	f->server.nworkers = 1;
	f->workers[0] = &f->worker;
	f->server.workers = f->workers;
	f->worker.server = &f->server;
	if (cc_thread_register(f->cache, &f->worker.thread) != 0)
		abort();
	proto_out_init(&f->out);
	proto_out_init(&f->scratch);
	fixture = f;
	return f;
}

/* Reads every queued byte through the iovecs a send would use, then
 * drops them; returns a checksum so the reads are not optimised away. */
static unsigned drain(struct fuzz_fixture *f, struct proto_out *o)
{
	struct iovec iov[FUZZ_IOV_MAX];
	unsigned sum = 0;

	while (proto_out_pending(o)) {
		unsigned n = proto_out_iov(o, iov, FUZZ_IOV_MAX);
		size_t bytes = 0;

		if (n == 0)
			abort();
		for (unsigned i = 0; i < n; i++) {
			const unsigned char *p = iov[i].iov_base;

			for (size_t j = 0; j < iov[i].iov_len; j++)
				sum += p[j];
			bytes += iov[i].iov_len;
		}
		if (proto_out_consume(o, f->cache, bytes, NULL) != 0)
			abort();
	}
	return sum;
}

static volatile unsigned sink;

void fuzz_feed_tcp(struct fuzz_fixture *f, const uint8_t *data, size_t len,
		   size_t chunk)
{
	struct proto_conn conn;
	char *pending = NULL;
	size_t npending = 0, fed = 0;

	proto_conn_init(&conn, PROTO_TCP);
	for (;;) {
		size_t take = len - fed, consumed = 0, need = 0;
		enum proto_status st;
		char *buf;

		if (chunk && take > chunk)
			take = chunk;
		if (npending + take == 0)
			break;
		/* Exactly the unconsumed bytes, in a buffer of their size. */
		buf = malloc(npending + take);
		if (!buf)
			abort();
		if (npending)
			memcpy(buf, pending, npending);
		if (take)
			memcpy(buf + npending, data + fed, take);
		fed += take;
		free(pending);
		pending = NULL;
		st = proto_process(&f->worker, &conn, buf, npending + take,
				   &f->out, &consumed, &need);
		sink += drain(f, &f->out);
		cc_thread_quiescent(f->worker.thread);
		if (consumed > npending + take)
			abort();
		npending = npending + take - consumed;
		if (npending) {
			pending = malloc(npending);
			if (!pending)
				abort();
			memcpy(pending, buf + consumed, npending);
		}
		free(buf);
		if (st == PROTO_CLOSE || st == PROTO_SHUTDOWN)
			break;
		/* Nothing consumed and nothing more to come: an incomplete
		 * request that will never complete. */
		if (st == PROTO_MORE && consumed == 0 && fed == len)
			break;
	}
	free(pending);
	proto_out_consume(&f->out, f->cache, proto_out_pending(&f->out), NULL);
	cc_thread_quiescent(f->worker.thread);
}

void fuzz_feed_udp(struct fuzz_fixture *f, const uint8_t *data, size_t len)
{
	uint16_t lens[FUZZ_DGRAMS_MAX];
	char *dgram = malloc(len ? len : 1);
	size_t total = 0;
	int n;

	if (!dgram)
		abort();
	memcpy(dgram, data, len);
	n = proto_udp_serve(&f->worker, dgram, len, &f->scratch, &f->out,
			    lens, FUZZ_DGRAMS_MAX);
	if (n < 0 && n != -ENOMEM)
		abort();
	for (int i = 0; i < n; i++) {
		/* Every datagram carries its frame header and fits. */
		if (lens[i] < PROTO_UDP_HEADER_LEN ||
		    lens[i] > PROTO_UDP_DATAGRAM_MAX)
			abort();
		total += lens[i];
	}
	if (n > 0 && total != proto_out_pending(&f->out))
		abort();
	if (proto_out_pending(&f->scratch))
		abort();
	sink += drain(f, &f->out);
	cc_thread_quiescent(f->worker.thread);
	free(dgram);
}
