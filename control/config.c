/*
 * The configuration file and the layers of configuration.
 *
 * The file is INI, read with libinih (Debian's libinih, built without
 * line numbers in its callback): a reader of our own hands inih one line
 * at a time and counts them, so the callback knows the line it is
 * called for and every message can say FILE:LINE. inih is told to stop
 * at the first error, to take no continuation lines (an indented line is
 * a line of its own), and its fixed line buffer decides the longest line
 * (longer ones are an error here, not silently split).
 *
 * Layers: a configuration is always rebuilt from scratch, defaults then
 * file then flags then runtime changes, so a reload sees exactly what a
 * fresh start would, with the operator's later word still winning.
 */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

/* What the callback needs: the target, the line being read and the
 * first error. */
struct load_ctx {
	struct ctl_config *cfg;
	unsigned *lines;
	const char *path;
	FILE *f;
	unsigned line;
	bool failed;
	char *err;
	size_t errlen;
};

static void load_fail(struct load_ctx *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void load_fail(struct load_ctx *x, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (x->failed)
		return;
	x->failed = true;
	n = (size_t)snprintf(x->err, x->errlen, "%s:%u: ", x->path, x->line);
	if (n >= x->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - n, fmt, ap);
	va_end(ap);
}

/* inih's reader: one whole line per call, or the end. A line that does
 * not fit inih's buffer ends the parse with an error. */
static char *read_line(char *str, int num, void *stream)
{
	struct load_ctx *x = stream;
	size_t len;

	if (x->failed || !fgets(str, num, x->f))
		return NULL;
	x->line++;
	len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(x->f)) {
		load_fail(x, "line longer than %d bytes", num - 2);
		return NULL;
	}
	return str;
}

static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct load_ctx *x = user;
	const struct ctl_option *o;
	size_t i;

	if (*section && strcmp(section, "corecached")) {
		load_fail(x, "unknown section [%s] (options go before any "
			  "section or under [corecached])", section);
		return 0;
	}
	o = ctl_option_find(name);
	if (!o) {
		load_fail(x, "unknown option '%s'", name);
		return 0;
	}
	if (o->flags & CTL_OPT_CMDLINE) {
		load_fail(x, "'%s' is a command-line option, not a "
			  "configuration key", name);
		return 0;
	}
	i = (size_t)(o - ctl_options);
	if (x->lines[i]) {
		load_fail(x, "'%s' is already set on line %u", o->name,
			  x->lines[i]);
		return 0;
	}
	if (ctl_option_parse(x->cfg, o, value, x->err, x->errlen)) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", x->err);
		load_fail(x, "%s", msg);
		return 0;
	}
	x->lines[i] = x->line;
	return 1;
}

int ctl_config_load(struct ctl_config *cfg, unsigned *lines,
		    const char *path, char *err, size_t errlen)
{
	struct ctl_config tmp = *cfg;
	unsigned tmp_lines[CTL_OPTIONS_MAX] = { 0 };
	struct load_ctx x = {
		.cfg = &tmp, .lines = tmp_lines, .path = path, .err = err,
		.errlen = errlen,
	};
	struct stat st;
	int at, ret = 0;

	x.f = fopen(path, "re");
	if (!x.f) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot read: %s", path,
			 strerror(errno));
		return ret;
	}
	if (fstat(fileno(x.f), &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory", path);
		ret = -EISDIR;
		goto out_file;
	}
	/* Process-wide switches of Debian's inih; set on every load, before
	 * any thread but the caller parses. */
	ini_stop_on_first_error = true;
	ini_allow_multiline = false;
	ini_allow_no_value = false;
	at = ini_parse_stream(read_line, &x, on_key, &x);
	if (!x.failed && ferror(x.f)) {
		load_fail(&x, "read error");
	} else if (!x.failed && at > 0) {
		x.line = (unsigned)at;
		load_fail(&x, "expected 'key = value', a [section] or a "
			  "comment");
	} else if (!x.failed && at < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		ret = -ENOMEM;
		goto out_file;
	}
	if (x.failed) {
		ret = -EINVAL;
		goto out_file;
	}
	*cfg = tmp;
	memcpy(lines, tmp_lines, sizeof(tmp_lines));
out_file:
	fclose(x.f);
	return ret;
}

void ctl_layers_init(struct ctl_layers *l)
{
	memset(l, 0, sizeof(*l));
	ctl_config_init(&l->args);
	ctl_config_init(&l->runtime);
}

int ctl_config_build(struct ctl_layers *l, struct ctl_config *out,
		     char *err, size_t errlen)
{
	unsigned lines[CTL_OPTIONS_MAX] = { 0 };
	struct ctl_config cfg;
	int ret;

	ctl_config_init(&cfg);
	if (l->args.config_file[0]) {
		ret = ctl_config_load(&cfg, lines, l->args.config_file, err,
				      errlen);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < ctl_noptions; i++) {
		if (l->args_set[i])
			ctl_option_copy(&cfg, &l->args, &ctl_options[i]);
		if (l->runtime_set[i])
			ctl_option_copy(&cfg, &l->runtime, &ctl_options[i]);
	}
	ret = ctl_config_check(&cfg, err, errlen);
	if (ret && l->args.config_file[0]) {
		/* Say where the values may have come from. */
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", err);
		snprintf(err, errlen, "%s: %s", l->args.config_file, msg);
	}
	if (ret)
		return ret;
	memcpy(l->file_line, lines, sizeof(lines));
	*out = cfg;
	return 0;
}

enum ctl_source ctl_option_source(const struct ctl_layers *l,
				  const struct ctl_option *o)
{
	size_t i = (size_t)(o - ctl_options);

	if (l->runtime_set[i])
		return CTL_SRC_RUNTIME;
	if (l->args_set[i])
		return CTL_SRC_FLAG;
	return l->file_line[i] ? CTL_SRC_FILE : CTL_SRC_DEFAULT;
}

const char *ctl_source_name(enum ctl_source s)
{
	static const char *const names[] = { "default", "file", "flag",
					     "runtime" };

	return names[s];
}
