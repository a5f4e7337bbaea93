/*
 * corecached's control plane: one table of options that feeds the command
 * line, --help, the configuration file, `config get`/`config set` and the
 * exporter; the layered configuration (defaults < file < flags < runtime
 * changes); the control socket's wire format and commands; logging and
 * systemd readiness. Options that memcached has keep its letters, long
 * names and meaning.
 *
 * Control socket wire format (also in README.md). A request is one line
 * of at most CTL_LINE_MAX bytes ending in "\n" (a "\r" before it is
 * dropped): words separated by spaces or tabs. The first or the last word
 * "json" asks for a JSON reply. Every reply is framed:
 *
 *     OK <length>\n   or   ERR <length>\n
 *
 * followed by exactly <length> bytes of body: text lines each ending in
 * "\n", or one JSON document and "\n". A client may send the next request
 * before reading the reply; replies come in order.
 *
 * Threads: the configuration is parsed by main before the workers start.
 * A struct ctl_daemon is shared by main (SIGHUP reloads) and the control
 * thread; its lock serialises every change. Logging is safe from any
 * thread.
 *
 * Errors: functions return 0 or a negative errno value; parsers also
 * write a one-line message into the caller's buffer.
 */
#ifndef CORECACHE_CTL_H
#define CORECACHE_CTL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto.h"
#include "uring.h"

/* String options are stored in the configuration itself, so configs copy
 * by assignment and a reload never frees what a reader holds. */
#define CTL_ADDR_MAX 256
#define CTL_PATH_MAX 108   /* sun_path, NUL included */
#define CTL_NAME_MAX 64
#define CTL_FILE_MAX 4096
#define CTL_LISTEN_MAX (CTL_ADDR_MAX + 8)  /* address, ':', port */
#define CTL_EAL_MAX 1024   /* --dpdk's EAL arguments */
/* A repeatable option's values, in the order given, stored in place. */
#define CTL_LIST_MAX 16
#define CTL_ITEM_MAX 256
struct ctl_list {
	char v[CTL_LIST_MAX][CTL_ITEM_MAX];
	unsigned n;
};

struct ctl_config {
	uint16_t tcp_port;         /* -p; 0: no TCP */
	uint16_t udp_port;         /* -U; 0: no UDP */
	char listen_addr[CTL_ADDR_MAX];   /* -l */
	uint32_t memory_mb;        /* -m, MiB */
	uint32_t memory_max_mb;    /* --memory-max, MiB; 0: memory_mb */
	uint32_t threads;          /* -t */
	uint32_t max_connections;  /* -c */
	uint64_t item_max;         /* -I, bytes */
	uint32_t verbosity;        /* -v, once per v */
	bool shutdown_enabled;     /* -A */
	bool flush_enabled;        /* cleared by -F */
	uint64_t zero_copy_min;    /* --zero-copy-min, bytes; 0: never */
	bool pin;                  /* cleared by --no-pin */
	char control_socket[CTL_PATH_MAX];  /* "": no control socket */
	char control_group[CTL_NAME_MAX];   /* "": owner only (0600) */
	char config_file[CTL_FILE_MAX];     /* --config; "": none */
	char metrics_listen[CTL_LISTEN_MAX]; /* --metrics-listen ADDR:PORT;
					      * "" or "off": no exporter */
	/* The DPDK path (control/dpdk_opts.c): on when a port is given. */
	char dpdk_eal[CTL_EAL_MAX];  /* --dpdk: EAL arguments, space separated */
	struct ctl_list dpdk_ports;  /* --dpdk-port */
	uint32_t dpdk_workers;       /* --dpdk-workers; 0: every EAL worker */
	uint32_t udp_amplification;  /* --udp-amplification; 0: no limit */
	struct ctl_list udp_allow;   /* --udp-allow CIDRs */
	bool dpdk_no_bulk;           /* --dpdk-no-bulk-get */
	bool help, version;        /* -h, -V: print and exit */
};

enum ctl_kind {
	CTL_PORT,     /* uint16_t, 0..65535 */
	CTL_UINT,     /* uint32_t within [min, max] */
	CTL_SIZE,     /* uint64_t bytes, k/m suffix, within [min, max] */
	CTL_STRING,   /* char[max]: at most max - 1 bytes */
	CTL_SET,      /* bool set true, no value on the command line */
	CTL_CLEAR,    /* bool set false, no value on the command line */
	CTL_COUNT,    /* uint32_t incremented per flag, up to max; a number
		       * in [min, max] in the file and at run time */
	CTL_LISTEN,   /* char[max] as CTL_STRING, holding ADDR:PORT,
		       * [IPV6]:PORT, :PORT (every interface), or "" / "off" */
	CTL_LIST,     /* struct ctl_list: each value's space-separated
		       * words appended (the flag once per use; the file
		       * and config set give all of them at once) */
};

/* Option flags. */
#define CTL_OPT_LIVE 1u     /* changes while running (config set, reload) */
#define CTL_OPT_CMDLINE 2u  /* command line only: not in the file, not in
			     * config get */
#define CTL_OPT_EMPTY 4u    /* a string that may be empty */

struct ctl_option {
	char short_name;    /* 0: long form only */
	const char *name;   /* long form; also the configuration key */
	enum ctl_kind kind;
	size_t offset;      /* the field in struct ctl_config */
	uint64_t min, max;
	const char *arg;    /* the value's name in --help; NULL: none */
	const char *help;
	unsigned flags;     /* CTL_OPT_* */
	const char *alias;  /* another name config get/set and the file
			     * accept (memcached's word for it); NULL: none */
};

extern const struct ctl_option ctl_options[];
extern const size_t ctl_noptions;
#define CTL_OPTIONS_MAX 32

/* The exporter's default address. A bind failure there is a warning
 * (another daemon may hold the port); on another address it is an
 * error. */
extern const char ctl_metrics_listen_default[];

/* Splits a CTL_LISTEN value into host ("" for every interface) and port
 * (digits, 1 to 65535). Returns 0, 1 for "" or "off" (disabled), or
 * -EINVAL with a message. */
int ctl_listen_split(const char *value, char *host, size_t hostlen,
		     char *port, size_t portlen, char *err, size_t errlen);

/* Options whose value is text stored in place (char[max]). */
static inline bool ctl_kind_text(enum ctl_kind k)
{
	return k == CTL_STRING || k == CTL_LISTEN;
}

/* Writes a one-line message into err (errlen bytes, may be 0) and
 * returns -EINVAL: how the parsers here report bad input. */
int ctl_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The defaults: memcached's, except listening on 127.0.0.1 only; the
 * control socket at ctl_default_socket(). */
void ctl_config_init(struct ctl_config *cfg);

/* The option called name (or by its alias), or NULL. */
const struct ctl_option *ctl_option_find(const char *name);

/* Applies one option's command-line value (NULL for options without
 * one). Messages name the option as a flag (-p/--port). */
int ctl_option_set(struct ctl_config *cfg, const struct ctl_option *o,
		   const char *value, char *err, size_t errlen);

/* Applies a value from the file or `config set`: every kind takes one
 * (yes/no, true/false, on/off, 1/0 for booleans; a number for counts).
 * Messages name the option by its key. */
int ctl_option_parse(struct ctl_config *cfg, const struct ctl_option *o,
		     const char *value, char *err, size_t errlen);

/* Writes the option's value as the file and `config get` spell it. */
void ctl_option_format(const struct ctl_config *cfg,
		       const struct ctl_option *o, char *buf, size_t len);

/* Whether the option's value differs between a and b. */
bool ctl_option_differs(const struct ctl_config *a, const struct ctl_config *b,
			const struct ctl_option *o);

/* Copies the option's value from src to dst. */
void ctl_option_copy(struct ctl_config *dst, const struct ctl_config *src,
		     const struct ctl_option *o);

/* Parses the command line into cfg; given[i] (if not NULL) is set for
 * each option i it names. Unknown options, missing or bad values, and
 * stray arguments are errors. */
int ctl_parse_args(struct ctl_config *cfg, bool *given, int argc,
		   char **argv, char *err, size_t errlen);

/* Checks what no single option can: -I against -m. */
int ctl_config_check(const struct ctl_config *cfg, char *err,
		     size_t errlen);

/* Prints --help: every option of the table, with its default. */
void ctl_usage(FILE *f, const char *prog);

/* ---- the configuration file and the layers ---- */

/* Reads an INI file into cfg over what it holds. Keys are the options'
 * long names, before any section or under [corecached]; '#' or ';'
 * start a comment line, " ;" an inline comment. lines[i] gets the line
 * that set option i. Errors (-EINVAL, or -errno when the file cannot be
 * read) come as "FILE:LINE: message": unknown keys and sections, bad
 * values, out-of-range numbers, keys given twice, lines that are not
 * "key = value", lines over 198 bytes. */
int ctl_config_load(struct ctl_config *cfg, unsigned *lines,
		    const char *path, char *err, size_t errlen);

/* Where each option's value comes from. */
enum ctl_source { CTL_SRC_DEFAULT, CTL_SRC_FILE, CTL_SRC_FLAG,
		  CTL_SRC_RUNTIME };

struct ctl_layers {
	struct ctl_config args;       /* the command line */
	bool args_set[CTL_OPTIONS_MAX];
	struct ctl_config runtime;    /* config set */
	bool runtime_set[CTL_OPTIONS_MAX];
	unsigned file_line[CTL_OPTIONS_MAX];  /* 0: not in the file */
};

/* Zero layers: nothing set anywhere. */
void ctl_layers_init(struct ctl_layers *l);

/* out = defaults, then the file (args.config_file, if any), then the
 * flags, then the runtime changes; checked with ctl_config_check. On
 * success l->file_line is updated; on failure l and out are untouched
 * and err says why (a file error as FILE:LINE: message). */
int ctl_config_build(struct ctl_layers *l, struct ctl_config *out,
		     char *err, size_t errlen);

enum ctl_source ctl_option_source(const struct ctl_layers *l,
				  const struct ctl_option *o);
const char *ctl_source_name(enum ctl_source s);

/* Where the control socket is by default: /run/corecache/corecached.sock
 * for root, $XDG_RUNTIME_DIR/corecached.sock, else
 * /tmp/corecache-<uid>/corecached.sock. */
void ctl_default_socket(char *buf, size_t len);

/* ---- logging ---- */

enum ctl_log_level { CTL_LOG_ERROR, CTL_LOG_WARNING, CTL_LOG_INFO,
		     CTL_LOG_DEBUG };

/* Errors and warnings always go to stderr; info from verbosity 1 (-v),
 * debug from 2 (-vv). The verbosity is read from *level, which the
 * verbosity command and config set change live; call before other
 * threads start. Lines are prefixed with the syslog priority ("<3>")
 * when stderr is the journal (JOURNAL_STREAM), else with prog. */
void ctl_log_init(const char *prog, _Atomic uint32_t *level);
void ctl_log(enum ctl_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- systemd ---- */

/* Sends state ("READY=1", "STOPPING=1", ...) to $NOTIFY_SOCKET. 0 when
 * sent or when there is no such socket (not under systemd). */
int ctl_notify(const char *state);

/* ---- wire: requests, replies ---- */

#define CTL_LINE_MAX 1024            /* request line, "\n" included */
#define CTL_REPLY_MAX (1u << 20)     /* reply body */
#define CTL_ARGS_MAX 3

enum ctl_verb { CTL_CMD_HELP, CTL_CMD_STATS, CTL_CMD_CONFIG_GET,
		CTL_CMD_CONFIG_SET, CTL_CMD_FLUSH, CTL_CMD_WORKERS,
		CTL_CMD_PORTS, CTL_CMD_MEMORY, CTL_CMD_RELOAD,
		CTL_CMD_SHUTDOWN };

struct ctl_cmd {
	enum ctl_verb verb;
	bool json;
	unsigned nargs;
	const char *args[CTL_ARGS_MAX];  /* words after the verb, in line */
	uint32_t delay;                  /* flush: seconds */
	bool graceful;                   /* shutdown graceful */
};

/* Parses one request line (without its "\n"), splitting it in place.
 * -EINVAL and a message for an empty line, an unknown command, wrong
 * arguments or bytes that are not printable. */
int ctl_cmd_parse(char *line, struct ctl_cmd *cmd, char *err, size_t errlen);

/* The commands and their one-line help, for `help`. */
struct ctl_cmd_help {
	const char *usage, *help;
};
extern const struct ctl_cmd_help ctl_cmd_helps[];
extern const size_t ctl_ncmd_helps;

/* A growing reply buffer; a failed allocation sticks in oom. */
struct ctl_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ctl_buf_add(struct ctl_buf *b, const void *p, size_t n);
/* s as a JSON string, quotes included. */
void ctl_buf_json_str(struct ctl_buf *b, const char *s);
/* s as a JSON number when it is one (digits, optional sign and
 * fraction), else as a string. */
void ctl_buf_json_value(struct ctl_buf *b, const char *s);
void ctl_buf_free(struct ctl_buf *b);

/* Writes a reply's header line into buf (at least 32 bytes); returns its
 * length. */
size_t ctl_frame_header(char *buf, bool ok, size_t body_len);

/* Reads a reply header from the start of buf. 0: *ok, *body_len and
 * *header_len filled; -EAGAIN: no complete line yet; -EPROTO: not a
 * header, or a body longer than CTL_REPLY_MAX. */
int ctl_frame_parse(const char *buf, size_t len, bool *ok, size_t *body_len,
		    size_t *header_len);

/* ---- the running daemon ---- */

struct ctl_dpdk;

struct ctl_daemon {
	struct proto_server *ps;
	struct dp_server *srv;
	struct cc_cache *cache;
	struct ctl_dpdk *dpdk;      /* NULL: no DPDK path */
	pthread_mutex_t lock;       /* layers, cfg */
	struct ctl_layers layers;
	struct ctl_config cfg;      /* the running configuration */
	uint32_t start_memory_mb;   /* the reserve when memory-max is 0 */
	/* shutdown graceful: new connections are refused and the workers
	 * stop when the last client leaves or at drain_deadline_ms.
	 * Written and read by the control thread only. */
	bool draining;
	uint64_t drain_deadline_ms;
};

/* How long `shutdown graceful` waits for clients to leave. */
#define CTL_DRAIN_MAX_MS 30000

/* Fills d around a running configuration (lock initialised). */
int ctl_daemon_init(struct ctl_daemon *d, const struct ctl_layers *l,
		    const struct ctl_config *cfg);
void ctl_daemon_deinit(struct ctl_daemon *d);

/* The values the workers read while running, from cfg (before they
 * start, or live). */
void ctl_daemon_apply(struct ctl_daemon *d, const struct ctl_config *cfg);

/* config set: a list option's value replaces the running list, its
 * values comma separated ("none": empty). -EINVAL (bad name or value, or
 * a memory limit the engine refuses), -EPERM (cannot change live: needs
 * a restart; nothing applied). out gets the reply text. */
int ctl_daemon_set(struct ctl_daemon *d, const char *name, const char *value,
		   struct ctl_buf *out);

/* Re-reads the configuration file: live options that changed are
 * applied, the others listed as needing a restart and not applied. A bad
 * file keeps the running configuration: -EINVAL and out says why. */
int ctl_daemon_reload(struct ctl_daemon *d, struct ctl_buf *out);

/* Runs one parsed command from the control thread, which registered
 * thread t with the cache and owns worker pw (for stats). Returns 0 (OK)
 * or a negative errno (ERR); out gets the body. */
int ctl_execute(struct ctl_daemon *d, struct cc_thread *t,
		struct proto_worker *pw, const struct ctl_cmd *cmd,
		struct ctl_buf *out);

/* ---- the control socket server ---- */

struct ctl_server;

/* Binds the control socket (d->cfg.control_socket, mode 0600, or 0660
 * with d->cfg.control_group as its group). A live socket at the path is
 * -EADDRINUSE, a stale one is replaced. Errors are logged. */
int ctl_server_create(struct ctl_daemon *d, struct ctl_server **out);

/* Starts the control thread. */
int ctl_server_start(struct ctl_server *s);

/* Stops and joins the control thread, closes the clients, removes the
 * socket if it is still the one bound, frees s. */
void ctl_server_destroy(struct ctl_server *s);

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
/* `ports`: each DPDK port (index, ethdev name, address, link, queues)
 * with its counters summed over queues, then each queue's, as text or
 * JSON. d NULL (or built without DPDK): no ports. Reads the workers'
 * counters without a lock (dp_dpdk_counters_read). */
void ctl_dpdk_ports(const struct ctl_dpdk *d, struct ctl_buf *out,
		    bool json);
/* /metrics: corecache_dpdk_<counter>_total{port,queue} for every
 * counter of DP_DPDK_COUNTERS and queue, and each port's PMD xstats as
 * corecache_dpdk_port_xstat{port,name}. Nothing when d is NULL. */
void ctl_dpdk_metrics(const struct ctl_dpdk *d, struct ctl_buf *out);
/* Applies cfg's udp-amplification and udp-allow to the running workers
 * (the allow-list only when it changed). -EINVAL with a message for a
 * network that is not one (nothing applied), -ENOMEM. d NULL: 0. */
int ctl_dpdk_apply(struct ctl_dpdk *d, const struct ctl_config *cfg,
		   char *err, size_t errlen);
/* Joins, frees the dataplane and gives ps->workers back as it was. */
void ctl_dpdk_destroy(struct ctl_dpdk *d);

#endif
