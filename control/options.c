/*
 * The option table and the command-line parser built from it.
 *
 * Every option is declared once, in ctl_options: its letter, its long
 * name, the field it sets, its range and its help line. getopt_long's
 * short string and long table are generated from it, --help prints it,
 * and the configuration file will look options up in it by long name, so
 * an option cannot exist in one place and be missing from another.
 *
 * Values are parsed strictly (memcached's atoi takes "3x" as 3; here it is
 * an error), ranges are memcached's where it has them (-I between 1 KiB
 * and 1 GiB and at most half of -m, -t and -c above 0).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define FIELD(f) offsetof(struct ctl_config, f)
#define KIB 1024ull
#define MIB (1024ull * 1024)

const struct ctl_option ctl_options[] = {
	{ 'p', "port", CTL_PORT, FIELD(tcp_port), 0, 65535, "<num>",
	  "TCP port to listen on (default: 11211, 0: off)" },
	{ 'U', "udp-port", CTL_PORT, FIELD(udp_port), 0, 65535, "<num>",
	  "UDP port to listen on (default: 0, off)" },
	{ 'l', "listen", CTL_STRING, FIELD(listen_addr), 0, 0, "<addr>",
	  "interface to listen on (default: 127.0.0.1; memcached's default "
	  "is every interface, give 0.0.0.0 or :: for that)" },
	{ 'm', "memory-limit", CTL_UINT, FIELD(memory_mb), 1, 1u << 22,
	  "<num>", "item memory in megabytes (default: 64)" },
	{ 't', "threads", CTL_UINT, FIELD(threads), 1, 256, "<num>",
	  "number of worker threads (default: 4)" },
	{ 'c', "conn-limit", CTL_UINT, FIELD(max_connections), 1,
	  1u << 24, "<num>", "max simultaneous connections (default: 1024)" },
	{ 'I', "max-item-size", CTL_SIZE, FIELD(item_max), KIB, 1024 * MIB,
	  "<num>", "max item size, k or m suffix (default: 1m, min: 1k, "
	  "max: 1024m)" },
	{ 'v', "verbose", CTL_COUNT, FIELD(verbosity), 0, 0, NULL,
	  "verbose: errors and warnings; -vv also connections" },
	{ 'A', "enable-shutdown", CTL_SET, FIELD(shutdown_enabled), 0, 0,
	  NULL, "enable ascii \"shutdown\" command" },
	{ 'F', "disable-flush-all", CTL_CLEAR, FIELD(flush_enabled), 0, 0,
	  NULL, "disable flush_all command" },
	{ 0, "zero-copy-min", CTL_SIZE, FIELD(zero_copy_min), 0, 1024 * MIB,
	  "<num>", "send values of this size or more from cache memory, "
	  "zero-copy where the kernel can, k or m suffix (default: 16k, "
	  "0: never)" },
	{ 0, "no-pin", CTL_CLEAR, FIELD(pin), 0, 0, NULL,
	  "do not pin worker threads to CPUs (they are pinned, one per "
	  "CPU, when there are at least as many CPUs as threads)" },
	{ 0, "dpdk", CTL_STRING, FIELD(dpdk_eal), 0, 0, "<args>",
	  "DPDK EAL arguments, space separated (e.g. \"-a 0000:03:00.0\"; "
	  "without -l the NUMA plan picks the lcores); used when "
	  "--dpdk-port is given" },
	{ 0, "dpdk-port", CTL_LIST, FIELD(dpdk_ports), 0, 0,
	  "<spec>", "serve memcached UDP (-U) on a DPDK port; <spec> is "
	  "<devargs>,<ipv4>/<prefix>[,exception=<iface>]: other traffic "
	  "goes to the kernel through TAP <iface> (default cc-exc<n>, "
	  "none: dropped); repeatable" },
	{ 0, "dpdk-workers", CTL_UINT, FIELD(dpdk_workers), 0, 64, "<num>",
	  "DPDK worker lcores (default: 0: every worker lcore of --dpdk's "
	  "-l, or 1 placed by the NUMA plan when --dpdk has no -l)" },
	{ 0, "dpdk-no-bulk-get", CTL_SET, FIELD(dpdk_no_bulk), 0, 0, NULL,
	  "serve DPDK gets one by one, not in batches" },
	{ 0, "udp-amplification", CTL_UINT, FIELD(udp_amplification), 0,
	  1u << 20, "<num>", "DPDK UDP replies may be at most this many "
	  "times the request's size (default: 10, 0: no limit)" },
	{ 0, "udp-allow", CTL_LIST, FIELD(udp_allow), 0, 0, "<cidr>",
	  "sources exempt from --udp-amplification; repeatable" },
	{ 'V', "version", CTL_SET, FIELD(version), 0, 0, NULL,
	  "print version and exit" },
	{ 'h', "help", CTL_SET, FIELD(help), 0, 0, NULL,
	  "print this help and exit" },
};

const size_t ctl_noptions = sizeof(ctl_options) / sizeof(ctl_options[0]);

void ctl_config_init(struct ctl_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tcp_port = 11211;
	cfg->listen_addr = "127.0.0.1";
	cfg->memory_mb = 64;
	cfg->threads = 4;
	cfg->max_connections = 1024;
	cfg->item_max = MIB;
	cfg->flush_enabled = true;
	cfg->zero_copy_min = 16 * KIB;
	cfg->pin = true;
	cfg->udp_amplification = 10;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
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

int ctl_option_set(struct ctl_config *cfg, const struct ctl_option *o,
		   const char *value, char *err, size_t errlen)
{
	char *field = (char *)cfg + o->offset;
	char label[48];
	uint64_t v = 0;

	option_label(o, label, sizeof(label));
	switch (o->kind) {
	case CTL_SET:
	case CTL_CLEAR:
		*(bool *)field = o->kind == CTL_SET;
		return 0;
	case CTL_COUNT:
		(*(uint32_t *)field)++;
		return 0;
	case CTL_STRING:
		if (!value || !*value)
			return fail(err, errlen, "%s: empty value", label);
		*(const char **)field = value;
		return 0;
	case CTL_LIST: {
		struct ctl_list *l = (struct ctl_list *)field;

		if (!value || !*value)
			return fail(err, errlen, "%s: empty value", label);
		if (l->n == CTL_LIST_MAX)
			return fail(err, errlen, "%s: more than %d given",
				    label, CTL_LIST_MAX);
		l->v[l->n++] = value;
		return 0;
	}
	case CTL_PORT:
	case CTL_UINT:
	case CTL_SIZE:
		break;
	}
	if (!value || !parse_number(value, o->kind == CTL_SIZE, &v))
		return fail(err, errlen, "%s: '%s' is not a %s", label,
			    value ? value : "",
			    o->kind == CTL_SIZE ? "size (a number, optionally "
			    "followed by k or m)" : "number");
	if (v < o->min || v > o->max)
		return fail(err, errlen,
			    "%s: %s is out of range (%llu to %llu)", label,
			    value, (unsigned long long)o->min,
			    (unsigned long long)o->max);
	if (o->kind == CTL_PORT)
		*(uint16_t *)field = (uint16_t)v;
	else if (o->kind == CTL_UINT)
		*(uint32_t *)field = (uint32_t)v;
	else
		*(uint64_t *)field = v;
	return 0;
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

int ctl_parse_args(struct ctl_config *cfg, int argc, char **argv,
		   char *err, size_t errlen)
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
				return fail(err, errlen,
					    "option '%s' needs a value", what);
			if (c == ':')
				return fail(err, errlen,
					    "option '-%c' needs a value",
					    optopt);
			if (optopt && !is_long)
				return fail(err, errlen,
					    "unknown option '-%c'", optopt);
			return fail(err, errlen, "unknown option '%s'", what);
		}
		o = c >= 256 ? &ctl_options[c - 256] : find_short(c);
		if (!o)
			return fail(err, errlen, "unknown option '-%c'", c);
		err_code = ctl_option_set(cfg, o, o->arg ? optarg : NULL, err,
					  errlen);
		if (err_code)
			return err_code;
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s'",
			    argv[optind]);
	return 0;
}

int ctl_config_check(const struct ctl_config *cfg, char *err, size_t errlen)
{
	if (cfg->item_max > (uint64_t)cfg->memory_mb * MIB / 2)
		return fail(err, errlen,
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
