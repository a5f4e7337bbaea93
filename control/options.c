/*
 * The option table, the command-line parser built from it, and the
 * value parsing and formatting the configuration file, `config get` and
 * `config set` share.
 *
 * Every option is declared once, in ctl_options: its letter, its long
 * name (also its key in the file and at run time), the field it sets, its
 * range, its help line and whether it can change while corecached runs.
 * getopt_long's short string and long table are generated from it,
 * --help prints it, and the file and the control socket look options up
 * in it by name, so an option cannot exist in one place and be missing
 * from another.
 *
 * Values are parsed strictly (memcached's atoi takes "3x" as 3; here it is
 * an error), ranges are memcached's where it has them (-I between 1 KiB
 * and 1 GiB and at most half of -m, -t and -c above 0).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "ctl.h"

#define FIELD(f) offsetof(struct ctl_config, f)
#define KIB 1024ull
#define MIB (1024ull * 1024)

const struct ctl_option ctl_options[] = {
	{ 'p', "port", CTL_PORT, FIELD(tcp_port), 0, 65535, "<num>",
	  "TCP port to listen on (default: 11211, 0: off)", 0, NULL },
	{ 'U', "udp-port", CTL_PORT, FIELD(udp_port), 0, 65535, "<num>",
	  "UDP port to listen on (default: 0, off)", 0, NULL },
	{ 'l', "listen", CTL_STRING, FIELD(listen_addr), 0, CTL_ADDR_MAX,
	  "<addr>", "interface to listen on (default: 127.0.0.1; memcached's "
	  "default is every interface, give 0.0.0.0 or :: for that)", 0,
	  NULL },
	{ 'm', "memory-limit", CTL_UINT, FIELD(memory_mb), 1, 1u << 22,
	  "<num>", "item memory in megabytes (default: 64); lowering it "
	  "live evicts down to the new limit", CTL_OPT_LIVE, NULL },
	{ 0, "memory-max", CTL_UINT, FIELD(memory_max_mb), 0, 1u << 22,
	  "<num>", "highest memory-limit a live change may raise it to, in "
	  "megabytes: address space reserved at start, memory only once "
	  "used (hugetlbfs pages are reserved for all of it) (default: 0, "
	  "the starting memory-limit)", 0, NULL },
	{ 't', "threads", CTL_UINT, FIELD(threads), 1, 256, "<num>",
	  "number of worker threads (default: 4)", 0, NULL },
	{ 'c', "conn-limit", CTL_UINT, FIELD(max_connections), 1,
	  1u << 24, "<num>", "max simultaneous connections (default: 1024)",
	  CTL_OPT_LIVE, "max-connections" },
	{ 'I', "max-item-size", CTL_SIZE, FIELD(item_max), KIB, 1024 * MIB,
	  "<num>", "max item size, k or m suffix (default: 1m, min: 1k, "
	  "max: 1024m)", 0, NULL },
	{ 'v', "verbose", CTL_COUNT, FIELD(verbosity), 0, 2, NULL,
	  "verbose: errors, warnings and start-up; -vv also connections "
	  "(in the file: verbose = 0, 1 or 2)", CTL_OPT_LIVE, "verbosity" },
	{ 'A', "enable-shutdown", CTL_SET, FIELD(shutdown_enabled), 0, 0,
	  NULL, "enable ascii \"shutdown\" command", 0, NULL },
	{ 'F', "disable-flush-all", CTL_CLEAR, FIELD(flush_enabled), 0, 0,
	  NULL, "disable flush_all command", 0, NULL },
	{ 0, "zero-copy-min", CTL_SIZE, FIELD(zero_copy_min), 0, 1024 * MIB,
	  "<num>", "send values of this size or more from cache memory, "
	  "zero-copy where the kernel can, k or m suffix (default: 16k, "
	  "0: never)", CTL_OPT_LIVE, NULL },
	{ 0, "no-pin", CTL_CLEAR, FIELD(pin), 0, 0, NULL,
	  "do not pin worker threads to CPUs (they are pinned, one per "
	  "CPU, when there are at least as many CPUs as threads)", 0, NULL },
	{ 0, "control-socket", CTL_STRING, FIELD(control_socket), 0,
	  CTL_PATH_MAX, "<path>", "UNIX socket for corecachectl (default: "
	  "/run/corecache/corecached.sock as root, else "
	  "$XDG_RUNTIME_DIR/corecached.sock or "
	  "/tmp/corecache-<uid>/corecached.sock; empty: none)",
	  CTL_OPT_EMPTY, NULL },
	{ 0, "control-group", CTL_STRING, FIELD(control_group), 0,
	  CTL_NAME_MAX, "<group>", "group also allowed on the control "
	  "socket, which is then mode 0660 (default: none, mode 0600: root "
	  "and corecached's user only)", CTL_OPT_EMPTY, NULL },
	{ 0, "config", CTL_STRING, FIELD(config_file), 0, CTL_FILE_MAX,
	  "<file>", "read options from this INI file (keys are the long "
	  "option names); flags win over it; SIGHUP and corecachectl reload "
	  "re-read it", CTL_OPT_CMDLINE, NULL },
	{ 0, "metrics-listen", CTL_LISTEN, FIELD(metrics_listen), 0,
	  CTL_LISTEN_MAX, "<ip:port>", "serve Prometheus metrics (/metrics) "
	  "and /healthz over HTTP there; [addr]:port for IPv6, :port for "
	  "every interface (default: 127.0.0.1:9180, \"\" or off: none)",
	  CTL_OPT_EMPTY, NULL },
	{ 0, "dpdk", CTL_STRING, FIELD(dpdk_eal), 0, CTL_EAL_MAX, "<args>",
	  "DPDK EAL arguments, space separated (e.g. \"-a 0000:03:00.0\"; "
	  "without -l the NUMA plan picks the lcores); used when "
	  "--dpdk-port is given", CTL_OPT_EMPTY, NULL },
	{ 0, "dpdk-port", CTL_LIST, FIELD(dpdk_ports), 0, CTL_ITEM_MAX,
	  "<spec>", "serve memcached UDP (-U) on a DPDK port; <spec> is "
	  "<devargs>,<ipv4>/<prefix>[,exception=<iface>]: other traffic "
	  "goes to the kernel through TAP <iface> (default cc-exc<n>, "
	  "none: dropped); repeatable", CTL_OPT_EMPTY, NULL },
	{ 0, "dpdk-workers", CTL_UINT, FIELD(dpdk_workers), 0, 64, "<num>",
	  "DPDK worker lcores (default: 0: every worker lcore of --dpdk's "
	  "-l, or 1 placed by the NUMA plan when --dpdk has no -l)", 0, NULL },
	{ 0, "dpdk-no-bulk-get", CTL_SET, FIELD(dpdk_no_bulk), 0, 0, NULL,
	  "serve DPDK gets one by one, not in batches", 0, NULL },
	{ 0, "udp-amplification", CTL_UINT, FIELD(udp_amplification), 0,
	  1u << 20, "<num>", "DPDK UDP replies may be at most this many "
	  "times the request's size (default: 10, 0: no limit)",
	  CTL_OPT_LIVE, NULL },
	{ 0, "udp-allow", CTL_LIST, FIELD(udp_allow), 0, CTL_ITEM_MAX, "<cidr>",
	  "sources exempt from --udp-amplification; repeatable",
	  CTL_OPT_EMPTY | CTL_OPT_LIVE, NULL },
	{ 'V', "version", CTL_SET, FIELD(version), 0, 0, NULL,
	  "print version and exit", CTL_OPT_CMDLINE, NULL },
	{ 'h', "help", CTL_SET, FIELD(help), 0, 0, NULL,
	  "print this help and exit", CTL_OPT_CMDLINE, NULL },
};

const size_t ctl_noptions = sizeof(ctl_options) / sizeof(ctl_options[0]);
_Static_assert(sizeof(ctl_options) / sizeof(ctl_options[0]) <=
	       CTL_OPTIONS_MAX, "struct ctl_layers has a slot per option");

const char ctl_metrics_listen_default[] = "127.0.0.1:9180";

void ctl_config_init(struct ctl_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tcp_port = 11211;
	snprintf(cfg->listen_addr, sizeof(cfg->listen_addr), "127.0.0.1");
	cfg->memory_mb = 64;
	cfg->threads = 4;
	cfg->max_connections = 1024;
	cfg->item_max = MIB;
	cfg->flush_enabled = true;
	cfg->zero_copy_min = 16 * KIB;
	cfg->pin = true;
	ctl_default_socket(cfg->control_socket, sizeof(cfg->control_socket));
	snprintf(cfg->metrics_listen, sizeof(cfg->metrics_listen), "%s",
		 ctl_metrics_listen_default);
	cfg->udp_amplification = 10;
}

int ctl_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int ctl_listen_split(const char *value, char *host, size_t hostlen,
		     char *port, size_t portlen, char *err, size_t errlen)
{
	const char *colon, *h = value;
	size_t hlen;
	uint64_t v = 0;

	if (!*value || strcmp(value, "off") == 0)
		return 1;
	if (*value == '[') {
		const char *close = strchr(value, ']');

		if (!close || close[1] != ':')
			return ctl_fail(err, errlen, "'%s': an IPv6 address is "
				    "written [addr]:port", value);
		h = value + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(value, ':');
		if (!colon)
			return ctl_fail(err, errlen, "'%s' is not addr:port",
				    value);
		if (memchr(value, ':', (size_t)(colon - value)))
			return ctl_fail(err, errlen, "'%s': an IPv6 address is "
				    "written [addr]:port", value);
		hlen = (size_t)(colon - value);
	}
	if (hlen >= hostlen || strlen(colon + 1) >= portlen)
		return ctl_fail(err, errlen, "'%s' is too long", value);
	if (colon[1] < '0' || colon[1] > '9' || strlen(colon + 1) > 5 ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    (v = strtoull(colon + 1, NULL, 10)) == 0 || v > 65535)
		return ctl_fail(err, errlen, "'%s': the port must be a number "
			    "from 1 to 65535", value);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

/* Digits only, then for sizes an optional k or m; no sign, no space. */
static bool parse_number(const char *s, bool size, uint64_t *out)
{
	uint64_t v = 0, unit = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (size && (*p == 'k' || *p == 'K'))
		unit = KIB, p++;
	else if (size && (*p == 'm' || *p == 'M'))
		unit = MIB, p++;
	if (*p || v > UINT64_MAX / unit)
		return false;
	*out = v * unit;
	return true;
}

static void option_label(const struct ctl_option *o, char *buf, size_t len)
{
	if (o->short_name)
		snprintf(buf, len, "-%c/--%s", o->short_name, o->name);
	else
		snprintf(buf, len, "--%s", o->name);
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = true, true;
		if (!strcasecmp(s, no[i]))
			return *out = false, true;
	}
	return false;
}

/* Parses value into the option's field; label names the option in
 * messages. A flag without a value (value NULL) sets, clears or
 * counts. */
static int set_value(struct ctl_config *cfg, const struct ctl_option *o,
		     const char *value, const char *label, char *err,
		     size_t errlen)
{
	char *field = (char *)cfg + o->offset;
	uint64_t v = 0;
	bool b;

	switch (o->kind) {
	case CTL_SET:
	case CTL_CLEAR:
		if (value && !parse_bool(value, &b))
			return ctl_fail(err, errlen, "%s: '%s' is not yes or no",
				    label, value);
		*(bool *)field = (value ? b : true) == (o->kind == CTL_SET);
		return 0;
	case CTL_COUNT:
		if (!value) {
			if (*(uint32_t *)field < o->max)
				(*(uint32_t *)field)++;
			return 0;
		}
		break;
	case CTL_LISTEN: {
		char host[256], port[8], msg[192];

		if (value && ctl_listen_split(value, host, sizeof(host), port,
					      sizeof(port), err, errlen) < 0) {
			snprintf(msg, sizeof(msg), "%s", err);
			return ctl_fail(err, errlen, "%s: %s", label, msg);
		}
		/* Valid: kept as text, as a CTL_STRING. */
	}
		/* fall through */
	case CTL_STRING:
		if (!value || (!*value && !(o->flags & CTL_OPT_EMPTY)))
			return ctl_fail(err, errlen, "%s: empty value", label);
		if (strlen(value) >= o->max)
			return ctl_fail(err, errlen, "%s: longer than %llu bytes",
				    label, (unsigned long long)o->max - 1);
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case CTL_LIST: {
		struct ctl_list *l = (struct ctl_list *)field;
		const char *w = value ? value : "";
		size_t n;

		if (!*w && !(o->flags & CTL_OPT_EMPTY))
			return ctl_fail(err, errlen, "%s: empty value", label);
		for (;;) {
			while (*w == ' ' || *w == '\t')
				w++;
			if (!*w)
				break;
			n = strcspn(w, " \t");
			if (l->n == CTL_LIST_MAX)
				return ctl_fail(err, errlen, "%s: more than %d given",
					    label, CTL_LIST_MAX);
			if (n >= o->max)
				return ctl_fail(err, errlen, "%s: a value longer "
					    "than %llu bytes", label,
					    (unsigned long long)o->max - 1);
			memcpy(l->v[l->n], w, n);
			l->v[l->n++][n] = '\0';
			w += n;
		}
		return 0;
	}
	case CTL_PORT:
	case CTL_UINT:
	case CTL_SIZE:
		break;
	}
	if (!value || !parse_number(value, o->kind == CTL_SIZE, &v))
		return ctl_fail(err, errlen, "%s: '%s' is not a %s", label,
			    value ? value : "",
			    o->kind == CTL_SIZE ? "size (a number, optionally "
			    "followed by k or m)" : "number");
	if (v < o->min || v > o->max)
		return ctl_fail(err, errlen,
			    "%s: %s is out of range (%llu to %llu)", label,
			    value, (unsigned long long)o->min,
			    (unsigned long long)o->max);
	if (o->kind == CTL_PORT)
		*(uint16_t *)field = (uint16_t)v;
	else if (o->kind == CTL_SIZE)
		*(uint64_t *)field = v;
	else
		*(uint32_t *)field = (uint32_t)v;
	return 0;
}

int ctl_option_set(struct ctl_config *cfg, const struct ctl_option *o,
		   const char *value, char *err, size_t errlen)
{
	char label[48];

	option_label(o, label, sizeof(label));
	return set_value(cfg, o, value, label, err, errlen);
}

int ctl_option_parse(struct ctl_config *cfg, const struct ctl_option *o,
		     const char *value, char *err, size_t errlen)
{
	return set_value(cfg, o, value ? value : "", o->name, err, errlen);
}

const struct ctl_option *ctl_option_find(const char *name)
{
	for (size_t i = 0; i < ctl_noptions; i++)
		if (!strcmp(ctl_options[i].name, name) ||
		    (ctl_options[i].alias && !strcmp(ctl_options[i].alias,
						     name)))
			return &ctl_options[i];
	return NULL;
}

static size_t field_size(const struct ctl_option *o)
{
	switch (o->kind) {
	case CTL_PORT:
		return sizeof(uint16_t);
	case CTL_UINT:
	case CTL_COUNT:
		return sizeof(uint32_t);
	case CTL_SIZE:
		return sizeof(uint64_t);
	case CTL_STRING:
	case CTL_LISTEN:
		return (size_t)o->max;
	case CTL_LIST:
		return sizeof(struct ctl_list);
	case CTL_SET:
	case CTL_CLEAR:
		break;
	}
	return sizeof(bool);
}

bool ctl_option_differs(const struct ctl_config *a, const struct ctl_config *b,
			const struct ctl_option *o)
{
	const char *fa = (const char *)a + o->offset;
	const char *fb = (const char *)b + o->offset;

	if (ctl_kind_text(o->kind))
		return strcmp(fa, fb) != 0;
	if (o->kind == CTL_LIST) {
		const struct ctl_list *la = (const void *)fa, *lb = (const void *)fb;

		if (la->n != lb->n)
			return true;
		for (unsigned i = 0; i < la->n; i++)
			if (strcmp(la->v[i], lb->v[i]) != 0)
				return true;
		return false;
	}
	return memcmp(fa, fb, field_size(o)) != 0;
}

void ctl_option_copy(struct ctl_config *dst, const struct ctl_config *src,
		     const struct ctl_option *o)
{
	memcpy((char *)dst + o->offset, (const char *)src + o->offset,
	       field_size(o));
}

void ctl_option_format(const struct ctl_config *cfg,
		       const struct ctl_option *o, char *buf, size_t len)
{
	const char *field = (const char *)cfg + o->offset;

	switch (o->kind) {
	case CTL_PORT:
		snprintf(buf, len, "%u", *(const uint16_t *)field);
		break;
	case CTL_UINT:
	case CTL_COUNT:
		snprintf(buf, len, "%u", *(const uint32_t *)field);
		break;
	case CTL_SIZE:
		snprintf(buf, len, "%llu",
			 (unsigned long long)*(const uint64_t *)field);
		break;
	case CTL_STRING:
	case CTL_LISTEN:
		snprintf(buf, len, "%s", field);
		break;
	case CTL_LIST: {
		/* The words the file takes back, space separated. */
		const struct ctl_list *l = (const void *)field;
		size_t at = 0;

		buf[0] = '\0';
		for (unsigned i = 0; i < l->n && at < len; i++) {
			int n = snprintf(buf + at, len - at, "%s%s",
					 i ? " " : "", l->v[i]);

			if (n < 0)
				break;
			at += (size_t)n;
		}
		break;
	}
	case CTL_SET:
	case CTL_CLEAR:
		snprintf(buf, len, "%s", *(const bool *)field ==
			 (o->kind == CTL_SET) ? "yes" : "no");
		break;
	}
}

/* getopt_long's inputs, generated from the table: option i's long entry
 * returns 256 + i, its short letter itself. */
static void build_getopt(char *shorts, struct option *longs)
{
	size_t n = 0;

	shorts[n++] = ':';  /* report a missing value as ':' */
	for (size_t i = 0; i < ctl_noptions; i++) {
		const struct ctl_option *o = &ctl_options[i];

		if (o->short_name) {
			shorts[n++] = o->short_name;
			if (o->arg)
				shorts[n++] = ':';
		}
		longs[i] = (struct option){
			o->name, o->arg ? required_argument : no_argument,
			NULL, 256 + (int)i,
		};
	}
	shorts[n] = '\0';
	longs[ctl_noptions] = (struct option){ 0 };
}

static const struct ctl_option *find_short(int c)
{
	for (size_t i = 0; i < ctl_noptions; i++)
		if (ctl_options[i].short_name == c)
			return &ctl_options[i];
	return NULL;
}

int ctl_parse_args(struct ctl_config *cfg, bool *given, int argc,
		   char **argv, char *err, size_t errlen)
{
	char shorts[2 + 3 * sizeof(ctl_options) / sizeof(ctl_options[0])];
	struct option longs[sizeof(ctl_options) / sizeof(ctl_options[0]) + 1];
	int c, err_code;

	build_getopt(shorts, longs);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct ctl_option *o;

		if (c == '?' || c == ':') {
			const char *what = argv[optind - 1];
			bool is_long = what && what[0] == '-' &&
				       what[1] == '-';

			if (c == ':' && (optopt >= 256 || is_long))
				return ctl_fail(err, errlen,
					    "option '%s' needs a value", what);
			if (c == ':')
				return ctl_fail(err, errlen,
					    "option '-%c' needs a value",
					    optopt);
			if (optopt && !is_long)
				return ctl_fail(err, errlen,
					    "unknown option '-%c'", optopt);
			return ctl_fail(err, errlen, "unknown option '%s'", what);
		}
		o = c >= 256 ? &ctl_options[c - 256] : find_short(c);
		if (!o)
			return ctl_fail(err, errlen, "unknown option '-%c'", c);
		err_code = ctl_option_set(cfg, o, o->arg ? optarg : NULL, err,
					  errlen);
		if (err_code)
			return err_code;
		if (given)
			given[o - ctl_options] = true;
	}
	if (optind < argc)
		return ctl_fail(err, errlen, "unexpected argument '%s'",
			    argv[optind]);
	return 0;
}

int ctl_config_check(const struct ctl_config *cfg, char *err, size_t errlen)
{
	if (cfg->memory_max_mb && cfg->memory_max_mb < cfg->memory_mb)
		return ctl_fail(err, errlen,
			    "-m/--memory-limit: %u MiB is above --memory-max "
			    "(%u MiB)", cfg->memory_mb, cfg->memory_max_mb);
	if (cfg->item_max > (uint64_t)cfg->memory_mb * MIB / 2)
		return ctl_fail(err, errlen,
			    "-I/--max-item-size: %llu bytes is more than half "
			    "of -m/--memory-limit (%u MiB)",
			    (unsigned long long)cfg->item_max, cfg->memory_mb);
	return 0;
}

/* Prints text from column indent, wrapped at word boundaries before
 * column 79. */
static void print_wrapped(FILE *f, const char *text, int indent, int col)
{
	const char *p = text;

	while (*p) {
		const char *end = p, *space = NULL;

		while (*end && col + (end - p) < 79) {
			if (*end == ' ')
				space = end;
			end++;
		}
		if (*end && space)
			end = space;
		fprintf(f, "%.*s\n", (int)(end - p), p);
		p = *end == ' ' ? end + 1 : end;
		if (*p)
			fprintf(f, "%*s", indent, "");
		col = indent;
	}
}

void ctl_usage(FILE *f, const char *prog)
{
	fprintf(f, "Usage: %s [options]\n\n", prog);
	for (size_t i = 0; i < ctl_noptions; i++) {
		const struct ctl_option *o = &ctl_options[i];
		char left[64];

		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s",
				 o->short_name, o->name, o->arg ? "=" : "",
				 o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name,
				 o->arg ? "=" : "", o->arg ? o->arg : "");
		fprintf(f, "%-30s ", left);
		print_wrapped(f, o->help, 31, 31);
	}
}
