/*
 * corecached's configuration: one table of options that feeds the
 * command line, --help and (later) the configuration file and runtime
 * changes. Options that memcached has keep its letters, long names and
 * meaning.
 *
 * Threads: configuration is parsed by the control thread before the
 * workers start; nothing here is thread-safe.
 *
 * Errors: parsers return 0 or -EINVAL and write a one-line message,
 * naming the option, into the caller's buffer.
 */
#ifndef CORECACHE_CTL_H
#define CORECACHE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ctl_config {
	uint16_t tcp_port;         /* -p; 0: no TCP */
	uint16_t udp_port;         /* -U; 0: no UDP */
	const char *listen_addr;   /* -l */
	uint32_t memory_mb;        /* -m, MiB */
	uint32_t threads;          /* -t */
	uint32_t max_connections;  /* -c */
	uint64_t item_max;         /* -I, bytes */
	uint32_t verbosity;        /* -v, once per v */
	bool shutdown_enabled;     /* -A */
	bool flush_enabled;        /* cleared by -F */
	uint64_t zero_copy_min;    /* --zero-copy-min, bytes; 0: never */
	bool pin;                  /* cleared by --no-pin */
	const char *metrics_listen; /* --metrics-listen ADDR:PORT; "" or
				     * "off": no exporter */
	bool help, version;        /* -h, -V: print and exit */
};

enum ctl_kind {
	CTL_PORT,     /* uint16_t, 0..65535 */
	CTL_UINT,     /* uint32_t within [min, max] */
	CTL_SIZE,     /* uint64_t bytes, k/m suffix, within [min, max] */
	CTL_STRING,   /* const char * */
	CTL_SET,      /* bool set true, no value */
	CTL_CLEAR,    /* bool set false, no value */
	CTL_COUNT,    /* uint32_t incremented, no value */
	CTL_LISTEN,   /* const char * ADDR:PORT, [IPV6]:PORT, :PORT (every
		       * interface), or "" / "off" */
};

struct ctl_option {
	char short_name;    /* 0: long form only */
	const char *name;   /* long form; also the configuration key */
	enum ctl_kind kind;
	size_t offset;      /* the field in struct ctl_config */
	uint64_t min, max;
	const char *arg;    /* the value's name in --help; NULL: none */
	const char *help;
};

extern const struct ctl_option ctl_options[];
extern const size_t ctl_noptions;

/* The exporter's default address. A bind failure there is a warning
 * (another daemon may hold the port); on an address given by the
 * operator it is an error. */
extern const char ctl_metrics_listen_default[];

/* Splits a CTL_LISTEN value into host ("" for every interface) and port
 * (digits, 1 to 65535). Returns 0, 1 for "" or "off" (disabled), or
 * -EINVAL with a message. */
int ctl_listen_split(const char *value, char *host, size_t hostlen,
		     char *port, size_t portlen, char *err, size_t errlen);

/* The defaults: memcached's, except listening on 127.0.0.1 only. */
void ctl_config_init(struct ctl_config *cfg);

/* Applies one option's value (NULL for options without one). */
int ctl_option_set(struct ctl_config *cfg, const struct ctl_option *o,
		   const char *value, char *err, size_t errlen);

/* Parses the command line into cfg. Unknown options, missing or bad
 * values, and stray arguments are errors. */
int ctl_parse_args(struct ctl_config *cfg, int argc, char **argv,
		   char *err, size_t errlen);

/* Checks what no single option can: -I against -m. */
int ctl_config_check(const struct ctl_config *cfg, char *err,
		     size_t errlen);

/* Prints --help: every option of the table, with its default. */
void ctl_usage(FILE *f, const char *prog);

#endif
