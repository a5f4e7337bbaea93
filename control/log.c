/*
 * Logging with levels to stderr, which systemd hands to the journal.
 *
 * One write per line (the line is formatted first), so lines from the
 * control thread and main never interleave mid-line. Under systemd the
 * line starts with its syslog priority ("<3>" for an error), which
 * journald turns into the entry's priority; elsewhere with the program's
 * name and the level, as a person reads it.
 *
 * The verbosity is the protocol's own atomic (the memcached verbosity
 * command, -v, config set), read relaxed: a log line racing a change may
 * go either way.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

static const char *log_prog = "corecached";
static _Atomic uint32_t default_level;
static _Atomic uint32_t *log_level = &default_level;
static bool log_journal;

/* JOURNAL_STREAM is "device:inode" of the journal's stream; stderr is
 * that stream only when they match (a child whose stderr was redirected
 * inherits the variable but not the stream). */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	       fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void ctl_log_init(const char *prog, _Atomic uint32_t *level)
{
	log_prog = prog;
	if (level)
		log_level = level;
	log_journal = stderr_is_journal();
}

void ctl_log(enum ctl_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info",
					     "debug" };
	/* syslog priorities: err, warning, info, debug. */
	static const int prio[] = { 3, 4, 6, 7 };
	uint32_t verbosity = atomic_load_explicit(log_level,
						  memory_order_relaxed);
	char line[1024];
	size_t n;
	va_list ap;
	ssize_t w;

	if (lvl >= CTL_LOG_INFO && verbosity < (uint32_t)lvl - 1)
		return;
	if (log_journal)
		n = (size_t)snprintf(line, sizeof(line), "<%d>", prio[lvl]);
	else
		n = (size_t)snprintf(line, sizeof(line), "%s: %s: ", log_prog,
				     names[lvl]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n == sizeof(line) - 1)
		n--;
	line[n++] = '\n';
	w = write(STDERR_FILENO, line, n);
	(void)w;
}
