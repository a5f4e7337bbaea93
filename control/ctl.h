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

/* A repeatable option's values, in the order given. */
#define CTL_LIST_MAX 16
struct ctl_list {
	const char *v[CTL_LIST_MAX];
	unsigned n;
};

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
	/* The DPDK path (control/dpdk_opts.c): on when a port is given. */
	const char *dpdk_eal;      /* --dpdk: EAL arguments, space separated */
	struct ctl_list dpdk_ports;  /* --dpdk-port */
	uint32_t dpdk_workers;     /* --dpdk-workers; 0: every EAL worker */
	uint32_t udp_amplification;  /* --udp-amplification; 0: no limit */
	struct ctl_list udp_allow;   /* --udp-allow CIDRs */
	bool dpdk_no_bulk;         /* --dpdk-no-bulk-get */
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
	CTL_LIST,     /* struct ctl_list, one value appended per use */
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

/* ---- the DPDK path (control/dpdk_opts.c, built with libdpdk) ---- */

struct proto_server;
struct ctl_dpdk;

/* Parses an IPv4 network "A.B.C.D/P" (or an address alone, /32) into
 * host-order addr and mask. -EINVAL and a message when it is not one. */
int ctl_parse_cidr(const char *s, uint32_t *addr, uint32_t *mask,
		   char *err, size_t errlen);

/* Parses --dpdk-port "<devargs>,<ipv4>/<prefix>[,exception=<iface>]":
 * the device's own arguments, then our address, then the exception TAP's
 * interface name (default cc-exc<index>; "none": no exception path).
 * devargs, iface: copied into the caller's buffers. */
int ctl_parse_dpdk_port(const char *spec, unsigned index, char *devargs,
			size_t devargs_len, uint32_t *addr, uint8_t *prefix,
			char *iface, size_t iface_len, char *err,
			size_t errlen);

/* Initialises the EAL from cfg->dpdk_eal and creates the DPDK dataplane
 * over cfg's ports (and their exception TAPs, so their addresses exist
 * before the io_uring server binds). */
int ctl_dpdk_create(const struct ctl_config *cfg, struct proto_server *ps,
		    struct ctl_dpdk **out, char *err, size_t errlen);
/* Adds the DPDK workers' protocol state to ps->workers, which the io_uring
 * server filled, so `stats` counts both; before any worker starts.
 * -ENOMEM. */
int ctl_dpdk_add_workers(struct ctl_dpdk *d);
int ctl_dpdk_start(struct ctl_dpdk *d);
/* Prints each port's counters (dp_dpdk_counters_read), one line a port,
 * "dpdk port N: name=value ...": at exit with -v. */
void ctl_dpdk_log(const struct ctl_dpdk *d, FILE *f);
void ctl_dpdk_stop(struct ctl_dpdk *d);
/* Joins, frees the dataplane and gives ps->workers back as it was. */
void ctl_dpdk_destroy(struct ctl_dpdk *d);

#endif
