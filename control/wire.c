/*
 * The control socket's wire format, shared by corecached and
 * corecachectl: where the socket is by default, request parsing, reply
 * framing ("OK <length>\n" or "ERR <length>\n", then the body; see ctl.h)
 * and the small text and JSON buffer replies are built in.
 *
 * Requests are parsed strictly: a known verb, the arguments it takes and
 * nothing else, so a typo is an error rather than a different command.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

void ctl_default_socket(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0)
		snprintf(buf, len, "/run/corecache/corecached.sock");
	else if (xdg && xdg[0] == '/' &&
		 strlen(xdg) + sizeof("/corecached.sock") <= len)
		snprintf(buf, len, "%s/corecached.sock", xdg);
	else
		snprintf(buf, len, "/tmp/corecache-%u/corecached.sock",
			 (unsigned)geteuid());
}

const struct ctl_cmd_help ctl_cmd_helps[] = {
	{ "help", "this list" },
	{ "stats [settings|items|slabs|reset]",
	  "memcached's statistics, the same figures as its stats command" },
	{ "config get [name]", "running configuration (name = value)" },
	{ "config set <name> <value>",
	  "change an option while running (verbose, conn-limit, "
	  "zero-copy-min, memory-limit, udp-amplification, udp-allow; the "
	  "others need a restart)" },
	{ "flush [delay]", "invalidate every item, now or in delay seconds" },
	{ "workers", "per worker: cpu, node, connections, requests, bytes" },
	{ "ports", "DPDK ports: address, link, queues, counters" },
	{ "memory", "item memory: limit, use, segments, index" },
	{ "reload", "re-read the configuration file" },
	{ "shutdown [graceful]",
	  "stop now (as SIGTERM), or refuse new connections and stop once "
	  "the clients have left (at most 30 s)" },
};
const size_t ctl_ncmd_helps = sizeof(ctl_cmd_helps) / sizeof(ctl_cmd_helps[0]);


/* Splits line in place at spaces and tabs; returns the number of words,
 * or -1 when there are more than max. */
static int split(char *line, char **words, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return -1;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

static bool parse_delay(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > CC_TTL_RELATIVE_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

struct verb_spec {
	const char *word;
	enum ctl_verb verb;
	unsigned min_args, max_args;
};

static const struct verb_spec verbs[] = {
	{ "help", CTL_CMD_HELP, 0, 0 },
	{ "stats", CTL_CMD_STATS, 0, 1 },
	{ "flush", CTL_CMD_FLUSH, 0, 1 },
	{ "workers", CTL_CMD_WORKERS, 0, 0 },
	{ "ports", CTL_CMD_PORTS, 0, 0 },
	{ "memory", CTL_CMD_MEMORY, 0, 0 },
	{ "reload", CTL_CMD_RELOAD, 0, 0 },
	{ "shutdown", CTL_CMD_SHUTDOWN, 0, 1 },
};

static int parse_config(char **w, int n, struct ctl_cmd *cmd, char *err,
			size_t errlen)
{
	if (n >= 2 && !strcmp(w[1], "get")) {
		if (n > 3)
			return ctl_fail(err, errlen, "usage: config get [name]");
		cmd->verb = CTL_CMD_CONFIG_GET;
	} else if (n >= 2 && !strcmp(w[1], "set")) {
		if (n != 4)
			return ctl_fail(err, errlen,
				   "usage: config set <name> <value>");
		cmd->verb = CTL_CMD_CONFIG_SET;
	} else {
		return ctl_fail(err, errlen, "usage: config get [name] | config "
			   "set <name> <value>");
	}
	cmd->nargs = (unsigned)n - 2;
	for (int i = 2; i < n; i++)
		cmd->args[i - 2] = w[i];
	return 0;
}

int ctl_cmd_parse(char *line, struct ctl_cmd *cmd, char *err, size_t errlen)
{
	char *w[CTL_ARGS_MAX + 3];
	const struct verb_spec *v = NULL;
	int n;

	memset(cmd, 0, sizeof(*cmd));
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return ctl_fail(err, errlen, "request contains a control "
				   "byte (0x%02x)", *p);
	n = split(line, w, (int)(sizeof(w) / sizeof(w[0])));
	if (n < 0)
		return ctl_fail(err, errlen, "too many words");
	/* corecachectl --json adds a prefix to what the user typed, which
	 * may end in "json" too: both are taken. */
	if (n > 0 && !strcmp(w[0], "json")) {
		cmd->json = true;
		memmove(w, w + 1, (size_t)--n * sizeof(w[0]));
	}
	if (n > 1 && !strcmp(w[n - 1], "json")) {
		cmd->json = true;
		n--;
	}
	if (n == 0)
		return ctl_fail(err, errlen, "empty request (try help)");
	if (!strcmp(w[0], "config"))
		return parse_config(w, n, cmd, err, errlen);
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(w[0], verbs[i].word))
			v = &verbs[i];
	if (!v)
		return ctl_fail(err, errlen, "unknown command '%.64s' (try help)",
			   w[0]);
	if ((unsigned)n - 1 < v->min_args || (unsigned)n - 1 > v->max_args)
		return ctl_fail(err, errlen, "%s: wrong number of arguments "
			   "(try help)", v->word);
	cmd->verb = v->verb;
	cmd->nargs = (unsigned)n - 1;
	for (int i = 1; i < n; i++)
		cmd->args[i - 1] = w[i];
	if (v->verb == CTL_CMD_FLUSH && n == 2 &&
	    !parse_delay(w[1], &cmd->delay))
		return ctl_fail(err, errlen, "flush: '%.32s' is not a delay in "
			   "seconds (0 to %d)", w[1], CC_TTL_RELATIVE_MAX);
	if (v->verb == CTL_CMD_SHUTDOWN && n == 2) {
		if (strcmp(w[1], "graceful"))
			return ctl_fail(err, errlen, "usage: shutdown [graceful]");
		cmd->graceful = true;
	}
	return 0;
}

/* ---- reply buffer ---- */

static bool reserve(struct ctl_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + n + 1)
		cap *= 2;
	if (cap > CTL_REPLY_MAX + 1 || !(p = realloc(b->p, cap))) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void ctl_buf_add(struct ctl_buf *b, const void *p, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* Formatted straight into the free space, and again only when it
	 * did not fit: the exporter writes thousands of short lines. */
	if (!reserve(b, 128))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->p[b->len] = '\0';
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (!reserve(b, (size_t)n)) {
			b->p[b->len] = '\0';
			return;
		}
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void ctl_buf_json_str(struct ctl_buf *b, const char *s)
{
	ctl_buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			ctl_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			ctl_buf_printf(b, "\\u%04x", c);
		else
			ctl_buf_add(b, s, 1);
	}
	ctl_buf_add(b, "\"", 1);
}

/* A JSON number: optional '-', digits without a leading zero (unless
 * alone), optional fraction. */
static bool is_json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' &&
				     s[1] <= '9'))
		return false;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

void ctl_buf_json_value(struct ctl_buf *b, const char *s)
{
	if (is_json_number(s))
		ctl_buf_add(b, s, strlen(s));
	else
		ctl_buf_json_str(b, s);
}

void ctl_buf_free(struct ctl_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- framing ---- */

size_t ctl_frame_header(char *buf, bool ok, size_t body_len)
{
	return (size_t)snprintf(buf, 32, "%s %zu\n", ok ? "OK" : "ERR",
				body_len);
}

int ctl_frame_parse(const char *buf, size_t len, bool *ok, size_t *body_len,
		    size_t *header_len)
{
	const char *nl = memchr(buf, '\n', len < 32 ? len : 32);
	const char *p;
	uint64_t v = 0;

	if (!nl)
		return len < 32 ? -EAGAIN : -EPROTO;
	if (nl - buf > 3 && !memcmp(buf, "OK ", 3)) {
		*ok = true;
		p = buf + 3;
	} else if (nl - buf > 4 && !memcmp(buf, "ERR ", 4)) {
		*ok = false;
		p = buf + 4;
	} else {
		return -EPROTO;
	}
	if (p == nl)
		return -EPROTO;
	for (; p < nl; p++) {
		if (*p < '0' || *p > '9')
			return -EPROTO;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > CTL_REPLY_MAX)
			return -EPROTO;
	}
	*body_len = (size_t)v;
	*header_len = (size_t)(nl - buf) + 1;
	return 0;
}
