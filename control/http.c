/*
 * The control plane's HTTP server (see http_internal.h for its bounds).
 *
 * One thread polls an eventfd (the stop), the listener and every client.
 * A client is first read until the blank line that ends its headers, then
 * answered in full from one buffer, then closed: no keep-alive, so a
 * client's whole life is one request and there is no state beyond the
 * bytes read and the bytes left to send. The handler builds the reply on
 * this thread, so a scrape costs the workers nothing but the cache
 * lines the exporter reads.
 *
 * Parsing is strict where it decides what to do (method, target, version)
 * and lenient elsewhere: header lines must hold a colon, their values are
 * ignored, a body is never read (the connection closes after the reply).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"

/* ---- server ---- */

struct http_client {
	int fd;                       /* -1: free slot */
	uint64_t deadline;            /* ms, monotonic: closed past it */
	size_t in_len;
	char in[CTL_HTTP_REQUEST_MAX + 1];
	char *out;                    /* NULL while reading the request */
	size_t out_len, out_sent;
};

struct ctl_http {
	int listen_fd, stop_fd;
	pthread_t thread;
	void (*handler)(void *arg, const char *path,
			struct ctl_http_reply *reply);
	void *arg;
	struct http_client clients[CTL_HTTP_CLIENTS];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void client_close(struct http_client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->in_len = c->out_len = c->out_sent = 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* Queues the whole response; the poll loop sends it. */
static void client_respond(struct http_client *c, int status,
			   const char *type, const char *body, size_t len,
			   bool head)
{
	struct ctl_buf b = { 0 };

	ctl_buf_printf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		       "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
		       status, reason(status), type, len,
		       status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head)
		ctl_buf_add(&b, body, len);
	if (b.oom) {
		ctl_buf_free(&b);
		client_close(c);
		return;
	}
	c->out = b.p;
	c->out_len = b.len;
	c->out_sent = 0;
	c->deadline = now_ms() + CTL_HTTP_IDLE_MS;
}

static void client_error(struct http_client *c, int status)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status,
			 reason(status));

	client_respond(c, status, "text/plain; charset=utf-8", body,
		       (size_t)n, false);
}

/* RFC 9110 token characters, for the method. */
static bool is_tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch);
}

/* The request in c->in[0, len) is complete (ends with a blank line,
 * NUL-terminated): parse it and queue the response. */
static void client_serve(struct ctl_http *h, struct http_client *c)
{
	char *line = c->in, *eol = strchr(line, '\n'), *sp1, *sp2, *q;
	struct ctl_http_reply reply = { 0 };
	bool head;

	*eol = '\0';
	if (eol > line && eol[-1] == '\r')
		eol[-1] = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 ||
	    strchr(sp2 + 1, ' ')) {
		client_error(c, 400);
		return;
	}
	*sp1 = *sp2 = '\0';
	for (const char *m = line; *m; m++) {
		if (!is_tchar(*m)) {
			client_error(c, 400);
			return;
		}
	}
	if (strncmp(sp2 + 1, "HTTP/", 5) != 0) {
		client_error(c, 400);
		return;
	}
	if (strcmp(sp2 + 1, "HTTP/1.0") != 0 &&
	    strcmp(sp2 + 1, "HTTP/1.1") != 0) {
		client_error(c, 505);
		return;
	}
	/* Every header line needs a name and a colon. */
	for (char *p = eol + 1; *p && *p != '\r' && *p != '\n';) {
		char *end = strchr(p, '\n'), *colon = strchr(p, ':');

		if (!end || !colon || colon > end || colon == p) {
			client_error(c, 400);
			return;
		}
		p = end + 1;
	}
	if (sp1[1] != '/') {
		client_error(c, 400);
		return;
	}
	head = strcmp(line, "HEAD") == 0;
	if (!head && strcmp(line, "GET") != 0) {
		client_error(c, 405);
		return;
	}
	q = strchr(sp1 + 1, '?');
	if (q)
		*q = '\0';
	reply.status = 500;
	reply.content_type = "text/plain; charset=utf-8";
	h->handler(h->arg, sp1 + 1, &reply);
	if (reply.body.oom) {
		ctl_buf_free(&reply.body);
		client_error(c, 500);
		return;
	}
	client_respond(c, reply.status, reply.content_type,
		       reply.body.p ? reply.body.p : "", reply.body.len, head);
	ctl_buf_free(&reply.body);
}

/* Whether the headers have ended: a "\r\n\r\n" or "\n\n" was read. */
static bool headers_done(const char *p, size_t len)
{
	for (size_t i = 1; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i - 1] == '\n' ||
		    (i >= 2 && p[i - 1] == '\r' && p[i - 2] == '\n'))
			return true;
	}
	return false;
}

static void client_write(struct http_client *c)
{
	ssize_t n = send(c->fd, c->out + c->out_sent,
			 c->out_len - c->out_sent, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->out_sent += (size_t)n;
	c->deadline = now_ms() + CTL_HTTP_IDLE_MS;
	if (c->out_sent == c->out_len) {
		shutdown(c->fd, SHUT_WR);
		client_close(c);
	}
}

static void client_read(struct ctl_http *h, struct http_client *c)
{
	ssize_t n = read(c->fd, c->in + c->in_len,
			 CTL_HTTP_REQUEST_MAX - c->in_len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	/* A NUL inside the request would cut it short for the parser. */
	if (memchr(c->in + c->in_len, '\0', (size_t)n)) {
		client_error(c, 400);
		return;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	if (headers_done(c->in, c->in_len)) {
		client_serve(h, c);
		/* Most replies fit the socket buffer: send without waiting
		 * for another poll. */
		if (c->fd >= 0 && c->out)
			client_write(c);
	} else if (c->in_len == CTL_HTTP_REQUEST_MAX)
		client_error(c, 431);
}

/* Takes every pending connection; when every slot is busy, the client
 * nearest its deadline (the one waiting longest) makes room. */
static void accept_clients(struct ctl_http *h)
{
	for (;;) {
		struct http_client *slot = NULL;
		int fd = accept4(h->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		for (unsigned i = 0; i < CTL_HTTP_CLIENTS; i++) {
			struct http_client *c = &h->clients[i];

			if (c->fd < 0) {
				slot = c;
				break;
			}
			if (!slot || c->deadline < slot->deadline)
				slot = c;
		}
		if (slot->fd >= 0)
			client_close(slot);
		slot->fd = fd;
		slot->deadline = now_ms() + CTL_HTTP_IDLE_MS;
	}
}

static void *http_main(void *arg)
{
	struct ctl_http *h = arg;
	struct pollfd pfd[2 + CTL_HTTP_CLIENTS];
	struct http_client *who[CTL_HTTP_CLIENTS];

	for (;;) {
		uint64_t now = now_ms(), next = now + 1000;
		unsigned n = 2;

		for (unsigned i = 0; i < CTL_HTTP_CLIENTS; i++) {
			struct http_client *c = &h->clients[i];

			if (c->fd < 0)
				continue;
			if (c->deadline <= now) {
				client_close(c);
				continue;
			}
			if (c->deadline < next)
				next = c->deadline;
			who[n - 2] = c;
			pfd[n++] = (struct pollfd){
				.fd = c->fd,
				.events = c->out ? POLLOUT : POLLIN,
			};
		}
		pfd[0] = (struct pollfd){ .fd = h->stop_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = h->listen_fd,
					  .events = POLLIN };
		if (poll(pfd, n, (int)(next - now)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			break;
		for (unsigned i = 2; i < n; i++) {
			struct http_client *c = who[i - 2];

			if (!pfd[i].revents || c->fd < 0)
				continue;
			if (c->out)
				client_write(c);
			else
				client_read(h, c);
		}
		if (pfd[1].revents & POLLIN)
			accept_clients(h);
	}
	return NULL;
}

static int listen_on(const char *host, const char *port)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	}, *ai;
	int fd, one = 1, err;

	if (getaddrinfo(host && *host ? host : NULL, port, &hints, &ai))
		return -EINVAL;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		err = -errno;
		goto out_ai;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		goto out_ai;
	}
	err = fd;
out_ai:
	freeaddrinfo(ai);
	return err;
}

int ctl_http_start(const char *host, const char *port,
		   void (*handler)(void *arg, const char *path,
				   struct ctl_http_reply *reply),
		   void *arg, struct ctl_http **out)
{
	struct ctl_http *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	h->handler = handler;
	h->arg = arg;
	for (unsigned i = 0; i < CTL_HTTP_CLIENTS; i++)
		h->clients[i].fd = -1;
	h->listen_fd = listen_on(host, port);
	if (h->listen_fd < 0) {
		err = h->listen_fd;
		goto out_free;
	}
	h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->stop_fd < 0) {
		err = -errno;
		goto out_listen;
	}
	err = -pthread_create(&h->thread, NULL, http_main, h);
	if (err)
		goto out_stop_fd;
	*out = h;
	return 0;

out_stop_fd:
	close(h->stop_fd);
out_listen:
	close(h->listen_fd);
out_free:
	free(h);
	return err;
}

void ctl_http_stop(struct ctl_http *h)
{
	uint64_t one = 1;
	ssize_t n;

	if (!h)
		return;
	/* Adding 1 to a fresh eventfd cannot fail or block. */
	n = write(h->stop_fd, &one, sizeof(one));
	(void)n;
	pthread_join(h->thread, NULL);
	for (unsigned i = 0; i < CTL_HTTP_CLIENTS; i++)
		if (h->clients[i].fd >= 0)
			client_close(&h->clients[i]);
	close(h->stop_fd);
	close(h->listen_fd);
	free(h);
}
