/*
 * corecachectl: corecached's control client.
 *
 *     corecachectl [--socket PATH] [--json] [command ...]
 *
 * With a command it sends that one request and prints the reply; without
 * one it reads commands from standard input, a line each, with a prompt
 * when standard input is a terminal ("quit" or end of input ends it).
 * Replies are framed ("OK <length>" or "ERR <length>", then the body; see
 * ctl.h), so the client knows where each ends without guessing. The body
 * of an OK goes to standard output, an ERR's to standard error.
 *
 * Exit status: 0 when every command succeeded, 1 when one failed (an ERR
 * reply, no daemon on the socket, a broken reply), 2 for a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

static const char prog[] = "corecachectl";

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [--socket PATH] [--json] [command ...]\n\n"
		"  -s, --socket PATH  corecached's control socket (default: "
		"the one corecached\n"
		"                     uses by default for this user, else "
		"/run/corecache/corecached.sock)\n"
		"  -j, --json         ask for JSON replies\n"
		"  -h, --help         this help\n\n"
		"Without a command, commands are read from standard input, one "
		"per line.\nCommands (the daemon's 'help' says the same):\n",
		prog);
	for (size_t i = 0; i < ctl_ncmd_helps; i++)
		fprintf(f, "  %-34s %s\n", ctl_cmd_helps[i].usage,
			ctl_cmd_helps[i].help);
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", prog, msg, prog);
	return 2;
}

/* The user's default, else root's when that one exists: an operator in
 * the control group talks to the system daemon without --socket. */
static void default_socket(char *buf, size_t len)
{
	struct stat st;

	ctl_default_socket(buf, len);
	if (stat(buf, &st) && !stat("/run/corecache/corecached.sock", &st))
		snprintf(buf, len, "/run/corecache/corecached.sock");
}

static int connect_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: socket path too long: %s\n", prog, path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "%s: cannot connect to %s: %s\n", prog, path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one framed reply: 0 OK, 1 ERR, -1 broken (said why). */
static int read_reply(int fd, struct ctl_buf *body)
{
	char hdr[32];
	size_t have = 0, hlen, blen;
	bool ok;
	int r;

	for (;;) {
		ssize_t n = recv(fd, hdr + have, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "%s: corecached closed the connection"
				"%s\n", prog, have ? " mid-reply" : "");
			return -1;
		}
		have++;
		r = ctl_frame_parse(hdr, have, &ok, &blen, &hlen);
		if (r == 0)
			break;
		if (r != -EAGAIN) {
			fprintf(stderr, "%s: not a corecached reply\n", prog);
			return -1;
		}
	}
	body->len = 0;
	while (body->len < blen) {
		char chunk[4096];
		size_t want = blen - body->len;
		ssize_t n = recv(fd, chunk, want < sizeof(chunk) ?
				 want : sizeof(chunk), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "%s: reply cut short\n", prog);
			return -1;
		}
		ctl_buf_add(body, chunk, (size_t)n);
	}
	if (body->oom) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return -1;
	}
	return ok ? 0 : 1;
}

/* Sends one command line and prints the reply; 0 OK, 1 failed. */
static int run(int fd, const char *line, bool json)
{
	struct ctl_buf req = { 0 }, body = { 0 };
	int r;

	ctl_buf_printf(&req, "%s%s\n", json ? "json " : "", line);
	if (req.oom || req.len > CTL_LINE_MAX) {
		fprintf(stderr, "%s: command longer than %d bytes\n", prog,
			CTL_LINE_MAX - 1);
		ctl_buf_free(&req);
		return 1;
	}
	/* A daemon that refuses the client says why before it closes:
	 * read that even when the request could not be sent. */
	if (send_all(fd, req.p, req.len))
		shutdown(fd, SHUT_WR);
	ctl_buf_free(&req);
	r = read_reply(fd, &body);
	if (r == 0) {
		fwrite(body.p ? body.p : "", 1, body.len, stdout);
		fflush(stdout);
	} else if (r == 1) {
		fprintf(stderr, "%s: %.*s", prog, (int)body.len,
			body.p ? body.p : "");
		if (!body.len || body.p[body.len - 1] != '\n')
			fputc('\n', stderr);
	}
	ctl_buf_free(&body);
	return r == 0 ? 0 : 1;
}

static int interactive(int fd, bool json)
{
	bool tty = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t cap = 0;
	int status = 0;

	for (;;) {
		ssize_t n;
		char *p;

		if (tty) {
			fputs("corecache> ", stdout);
			fflush(stdout);
		}
		n = getline(&line, &cap, stdin);
		if (n < 0)
			break;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (!*p)
			continue;
		if (!strcmp(p, "quit") || !strcmp(p, "exit"))
			break;
		if (run(fd, p, json))
			status = 1;
	}
	if (tty)
		fputc('\n', stdout);
	free(line);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char path[CTL_PATH_MAX + 1] = "";
	struct ctl_buf cmd = { 0 };
	bool json = false;
	int c, fd, status;

	opterr = 0;
	/* '+': the command's own words may look like options. */
	while ((c = getopt_long(argc, argv, "+:s:jh", longs, NULL)) != -1) {
		char msg[128];

		switch (c) {
		case 's':
			if (!*optarg || strlen(optarg) >= CTL_PATH_MAX)
				return usage_error("--socket: empty or too "
						   "long a path");
			snprintf(path, sizeof(path), "%s", optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			snprintf(msg, sizeof(msg), "option '%s' needs a value",
				 argv[optind - 1]);
			return usage_error(msg);
		default:
			snprintf(msg, sizeof(msg), "unknown option '%s'",
				 argv[optind - 1]);
			return usage_error(msg);
		}
	}
	if (!path[0])
		default_socket(path, sizeof(path));
	for (int i = optind; i < argc; i++)
		ctl_buf_printf(&cmd, "%s%s", i > optind ? " " : "", argv[i]);
	fd = connect_socket(path);
	if (fd < 0) {
		ctl_buf_free(&cmd);
		return 1;
	}
	status = optind < argc ? run(fd, cmd.p, json) : interactive(fd, json);
	ctl_buf_free(&cmd);
	close(fd);
	return status;
}
