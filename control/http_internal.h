/*
 * A tiny HTTP/1.0 and 1.1 server for the control plane's read-only pages
 * (the Prometheus exporter): one thread, one poll loop, non-blocking
 * sockets, every response sent with "Connection: close".
 *
 * It is built to be left open on a network without harming the cache:
 * requests are bounded (CTL_HTTP_REQUEST_MAX bytes of request line and
 * headers), so are clients (CTL_HTTP_CLIENTS at once; past that the
 * longest-waiting one is dropped to make room), and a client that does
 * not finish its request, or does not read its response, within
 * CTL_HTTP_IDLE_MS of its last progress is closed. A slow client never
 * holds up another. Only GET and HEAD are served (anything else is 405);
 * what does not parse as an HTTP/1.x request is 400.
 *
 * Private to control/. Threads: start and stop from one control thread;
 * the handler runs on the server's own thread.
 */
#ifndef CORECACHE_HTTP_INTERNAL_H
#define CORECACHE_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "ctl.h"

#define CTL_HTTP_REQUEST_MAX 8192
#define CTL_HTTP_CLIENTS 32
#define CTL_HTTP_IDLE_MS 5000

/* What the handler answers: a status (200, 404, 503 ...), a content type
 * and a body it appends to the (empty) buffer given. */
struct ctl_http_reply {
	int status;
	const char *content_type;
	struct ctl_buf body;
};

struct ctl_http;

/* Binds host:port (host NULL or "": every interface; a name resolves to
 * its first address) and starts the server's thread. Errors: -EINVAL
 * (host does not resolve), the errors of socket/bind/listen
 * (-EADDRINUSE ...), of eventfd and of pthread_create, -ENOMEM.
 * handler is called for each GET or HEAD with the path (the query string
 * cut off), on the server's thread. */
int ctl_http_start(const char *host, const char *port,
		   void (*handler)(void *arg, const char *path,
				   struct ctl_http_reply *reply),
		   void *arg, struct ctl_http **out);

/* Stops the thread, closes every client and the listener, frees. */
void ctl_http_stop(struct ctl_http *h);

#endif
