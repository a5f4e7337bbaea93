/*
 * The control socket server: a UNIX stream socket served by one control
 * thread of its own, never by a worker.
 *
 * Access: the socket file is mode 0600 (0660 with control-group, whose
 * group it then gets), and each client's credentials are checked again
 * with SO_PEERCRED (and SO_PEERGROUPS for the group), so a socket file
 * whose mode someone loosened still admits only root, corecached's own
 * user and the group. A refused client gets one ERR reply and is closed.
 *
 * Nothing a client does can stall the thread or grow its memory without
 * bound: everything is non-blocking under one poll; at most
 * CTL_CLIENTS_MAX clients (the next one gets ERR and is closed); a
 * request line longer than CTL_LINE_MAX is answered ERR and the client
 * closed; a client that sends nothing for CTL_IDLE_MS is closed; a client
 * that does not read its reply is not read from until it does (one reply
 * in flight per client, each bounded by CTL_REPLY_MAX).
 *
 * The thread is registered with the cache (flush needs it) and stays
 * offline except while a command runs, so it never holds back memory
 * reclamation. The poll ticks every CTL_TICK_MS for idle clients and
 * for a graceful shutdown in progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define CTL_CLIENTS_MAX 16
#define CTL_IDLE_MS (10 * 60 * 1000)
#define CTL_TICK_MS 100
#define CTL_PEER_GROUPS_MAX 256

struct ctl_client {
	int fd;
	char in[CTL_LINE_MAX];
	size_t in_len;
	struct ctl_buf out;
	size_t out_off;
	uint64_t last_ms;
	bool close_after;   /* close once out is sent */
};

struct ctl_server {
	struct ctl_daemon *d;
	int listen_fd, stop_fd;
	pthread_t thread;
	bool started;
	gid_t gid;
	bool has_group;
	dev_t dev;          /* the socket file we bound, removed only if */
	ino_t ino;          /* it is still ours */
	char path[CTL_PATH_MAX];
	struct cc_thread *t;
	struct proto_worker *pw;
	struct ctl_client clients[CTL_CLIENTS_MAX];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int resolve_group(const char *name, gid_t *gid)
{
	char buf[4096];
	struct group gr, *res = NULL;
	char *end;
	unsigned long v;

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
		*gid = res->gr_gid;
		return 0;
	}
	v = strtoul(name, &end, 10);
	if (*name >= '0' && *name <= '9' && !*end && v < (gid_t)-1) {
		*gid = (gid_t)v;
		return 0;
	}
	return -ENOENT;
}

/* The default socket's directory is made here (0755 for root's
 * /run/corecache, 0700 for a user's /tmp one, which must then be ours
 * and not a link); a configured path's directory must exist. */
static int make_default_dir(const char *path)
{
	char dir[CTL_PATH_MAX];
	char *slash;
	struct stat st;
	bool tmp = !strncmp(path, "/tmp/", 5);

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, tmp ? 0700 : 0755) && errno != EEXIST)
		return -errno;
	if (!tmp)
		return 0;
	if (lstat(dir, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 0077))
		return -EPERM;
	return 0;
}

/* A socket file already at path: in use (a daemon answers) or stale. */
static int clear_stale(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, err;

	if (lstat(sa->sun_path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (err == 0)
		return -EADDRINUSE;
	return unlink(sa->sun_path) && errno != ENOENT ? -errno : 0;
}

static int bind_socket(struct ctl_server *s, const char *path,
		       bool is_default)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_mask;
	int fd, err;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (is_default && (err = make_default_dir(path)))
		return err;
	err = clear_stale(&sa);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Created 0600 from the start: no moment when others may connect.
	 * The control thread does not run yet and workers create no
	 * files, so changing the process's umask here is safe. */
	old_mask = umask(0177);
	err = bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (err) {
		err = -errno;
		goto out_close;
	}
	if ((s->has_group && (chown(path, (uid_t)-1, s->gid) ||
			      chmod(path, 0660))) ||
	    listen(fd, CTL_CLIENTS_MAX) || stat(path, &st)) {
		err = -errno;
		goto out_unlink;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->listen_fd = fd;
	return 0;
out_unlink:
	unlink(path);
out_close:
	close(fd);
	return err;
}

int ctl_server_create(struct ctl_daemon *d, struct ctl_server **out)
{
	const struct ctl_config *cfg = &d->cfg;
	char def[CTL_PATH_MAX];
	struct ctl_server *s;
	bool is_default;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->d = d;
	s->listen_fd = -1;
	for (unsigned i = 0; i < CTL_CLIENTS_MAX; i++)
		s->clients[i].fd = -1;
	snprintf(s->path, sizeof(s->path), "%s", cfg->control_socket);
	ctl_default_socket(def, sizeof(def));
	is_default = !strcmp(def, s->path);
	if (cfg->control_group[0]) {
		s->has_group = true;
		if (resolve_group(cfg->control_group, &s->gid)) {
			ctl_log(CTL_LOG_ERROR, "control-group: no group '%s'",
				cfg->control_group);
			err = -ENOENT;
			goto out_free;
		}
	}
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		err = -errno;
		goto out_free;
	}
	err = bind_socket(s, s->path, is_default);
	if (err) {
		ctl_log(CTL_LOG_ERROR, "control socket %s: %s", s->path,
			err == -EADDRINUSE ? "another corecached is serving "
			"it (set control-socket to another path, or empty "
			"for none)" : err == -EEXIST ? "exists and is not a "
			"socket" : strerror(-err));
		goto out_stop_fd;
	}
	*out = s;
	return 0;
out_stop_fd:
	close(s->stop_fd);
out_free:
	free(s);
	return err;
}

/* ---- clients ---- */

static void client_close(struct ctl_client *c)
{
	close(c->fd);
	c->fd = -1;
	ctl_buf_free(&c->out);
	c->in_len = c->out_off = 0;
	c->close_after = false;
}

/* Queues a framed reply. */
static void client_reply(struct ctl_client *c, bool ok, const char *body,
			 size_t len)
{
	char hdr[32];

	ctl_buf_add(&c->out, hdr, ctl_frame_header(hdr, ok, len));
	ctl_buf_add(&c->out, body, len);
	if (c->out.oom)
		c->close_after = true;
}

/* Sends what is queued; false when the client is gone. */
static bool client_flush(struct ctl_client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off,
				 c->out.len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0) {
			client_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	c->out.len = c->out_off = 0;
	if (c->close_after) {
		client_close(c);
		return false;
	}
	return true;
}

static void client_command(struct ctl_server *s, struct ctl_client *c,
			   char *line)
{
	struct ctl_buf body = { 0 };
	struct ctl_cmd cmd;
	char err[256];
	int ret;

	ret = ctl_cmd_parse(line, &cmd, err, sizeof(err));
	if (ret) {
		ctl_buf_printf(&body, "%s\n", err);
	} else {
		ret = ctl_execute(s->d, s->t, s->pw, &cmd, &body);
	}
	client_reply(c, ret == 0, body.p ? body.p : "", body.len);
	ctl_buf_free(&body);
}

/* Runs the complete lines in c->in while no reply is pending. */
static void client_input(struct ctl_server *s, struct ctl_client *c)
{
	char *nl;

	while (c->out.len == 0 && !c->close_after &&
	       (nl = memchr(c->in, '\n', c->in_len))) {
		size_t used = (size_t)(nl - c->in) + 1, len = used - 1;

		*nl = '\0';
		if (len && c->in[len - 1] == '\r')
			c->in[--len] = '\0';
		if (memchr(c->in, '\0', len)) {
			static const char msg[] = "request contains a "
						  "control byte (0x00)\n";

			client_reply(c, false, msg, sizeof(msg) - 1);
		} else {
			client_command(s, c, c->in);
		}
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
	if (c->out.len == 0 && c->in_len == sizeof(c->in)) {
		static const char msg[] = "request line longer than 1024 "
					  "bytes\n";

		_Static_assert(CTL_LINE_MAX == 1024, "message says 1024");
		client_reply(c, false, msg, sizeof(msg) - 1);
		c->close_after = true;
	}
}

/* Runs requests and sends their replies until the client's input holds
 * no complete line or its socket takes no more. */
static void client_pump(struct ctl_server *s, struct ctl_client *c)
{
	for (;;) {
		client_input(s, c);
		if (c->close_after && !c->out.len) {
			/* Out of memory before anything was queued. */
			client_close(c);
			return;
		}
		if (!c->out.len || !client_flush(c) || c->out.len)
			return;
	}
}

static void client_read(struct ctl_server *s, struct ctl_client *c)
{
	ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
			 MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	c->last_ms = now_ms();
	client_pump(s, c);
}

/* Root, corecached's own user, or the control group (primary or
 * supplementary) may talk to the socket. */
static bool peer_allowed(const struct ctl_server *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[CTL_PEER_GROUPS_MAX];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	if (!s->has_group)
		return false;
	if (cred.gid == s->gid)
		return true;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == s->gid)
			return true;
	return false;
}

/* Best effort: a refused client gets one reply if its buffer takes it. */
static void refuse(int fd, const char *why)
{
	char msg[160];
	size_t n = strlen(why);
	size_t h = ctl_frame_header(msg, false, n + 1);
	ssize_t sent;

	snprintf(msg + h, sizeof(msg) - h, "%s\n", why);
	sent = send(fd, msg, h + n + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)sent;
	close(fd);
}

static void accept_clients(struct ctl_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *c = NULL;

		if (fd < 0)
			return;
		if (!peer_allowed(s, fd)) {
			ctl_log(CTL_LOG_WARNING, "control socket: refused a "
				"client without permission");
			refuse(fd, "permission denied");
			continue;
		}
		for (unsigned i = 0; i < CTL_CLIENTS_MAX && !c; i++)
			if (s->clients[i].fd < 0)
				c = &s->clients[i];
		if (!c) {
			refuse(fd, "too many control clients");
			continue;
		}
		c->fd = fd;
		c->in_len = c->out_off = 0;
		c->last_ms = now_ms();
	}
}

/* shutdown graceful: stop the workers once no client is left or the
 * time is up. */
static void drain_tick(struct ctl_daemon *d, uint64_t now)
{
	uint64_t conns = 0;

	if (!d->draining)
		return;
	for (uint32_t i = 0; i < d->ps->nworkers; i++)
		conns += atomic_load_explicit(
			&d->ps->workers[i]->counters.curr_connections,
			memory_order_relaxed);
	if (conns != 0 && now < d->drain_deadline_ms)
		return;
	ctl_log(CTL_LOG_INFO, "graceful shutdown: %s, stopping",
		conns ? "time is up" : "every client has left");
	d->draining = false;
	dp_server_stop(d->srv);
}

static void serve(struct ctl_server *s)
{
	struct pollfd pfd[2 + CTL_CLIENTS_MAX];
	struct ctl_client *who[CTL_CLIENTS_MAX];

	for (;;) {
		unsigned n = 2, k = 0;
		uint64_t now;

		pfd[0] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = s->listen_fd,
					  .events = POLLIN };
		for (unsigned i = 0; i < CTL_CLIENTS_MAX; i++) {
			struct ctl_client *c = &s->clients[i];

			if (c->fd < 0)
				continue;
			who[k++] = c;
			pfd[n++] = (struct pollfd){
				.fd = c->fd,
				.events = c->out.len ? POLLOUT : POLLIN,
			};
		}
		if (poll(pfd, n, CTL_TICK_MS) < 0) {
			if (errno == EINTR)
				continue;
			ctl_log(CTL_LOG_ERROR, "control thread: poll: %s; the "
				"control socket stops answering",
				strerror(errno));
			return;
		}
		if (pfd[0].revents)
			return;
		for (unsigned i = 0; i < k; i++) {
			struct ctl_client *c = who[i];
			short re = pfd[2 + i].revents;

			if (c->fd < 0 || !re)
				continue;
			if (!c->out.len) {
				client_read(s, c);
			} else if (client_flush(c) && !c->out.len) {
				/* Requests that waited for this reply. */
				client_pump(s, c);
			}
		}
		/* After the clients: the slots of those that left are
		 * free for the newcomers. */
		if (pfd[1].revents)
			accept_clients(s);
		now = now_ms();
		for (unsigned i = 0; i < CTL_CLIENTS_MAX; i++)
			if (s->clients[i].fd >= 0 &&
			    now - s->clients[i].last_ms > CTL_IDLE_MS)
				client_close(&s->clients[i]);
		drain_tick(s->d, now);
	}
}

static void *control_main(void *arg)
{
	struct ctl_server *s = arg;
	int err;

	/* A protocol worker of our own for stats, and an engine thread for
	 * flush; without them the commands that need them fail, the
	 * others still work. */
	err = cc_thread_register(s->d->cache, &s->t);
	if (err) {
		ctl_log(CTL_LOG_WARNING, "control thread: no engine thread "
			"slot (%s)", strerror(-err));
		s->t = NULL;
	} else {
		cc_thread_offline(s->t);
	}
	s->pw->server = s->d->ps;
	s->pw->thread = s->t;
	s->pw->id = UINT32_MAX;
	serve(s);
	for (unsigned i = 0; i < CTL_CLIENTS_MAX; i++)
		if (s->clients[i].fd >= 0)
			client_close(&s->clients[i]);
	if (s->t)
		cc_thread_unregister(s->t);
	return NULL;
}

int ctl_server_start(struct ctl_server *s)
{
	int err;

	if (posix_memalign((void **)&s->pw, 64, sizeof(*s->pw)))
		return -ENOMEM;
	memset(s->pw, 0, sizeof(*s->pw));
	err = -pthread_create(&s->thread, NULL, control_main, s);
	if (err) {
		free(s->pw);
		s->pw = NULL;
		return err;
	}
	s->started = true;
	return 0;
}

void ctl_server_destroy(struct ctl_server *s)
{
	uint64_t one = 1;
	struct stat st;
	ssize_t n;

	if (!s)
		return;
	if (s->started) {
		n = write(s->stop_fd, &one, sizeof(one));
		(void)n;
		pthread_join(s->thread, NULL);
	}
	free(s->pw);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		if (stat(s->path, &st) == 0 && st.st_dev == s->dev &&
		    st.st_ino == s->ino)
			unlink(s->path);
	}
	close(s->stop_fd);
	free(s);
}
