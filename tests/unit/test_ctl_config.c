/*
 * The configuration: the option table, the INI file (every kind of error
 * reported with its file and line, nothing applied from a bad file) and
 * the layers (defaults < file < flags < runtime changes).
 *
 * Each case writes its file into a temporary directory of its own and
 * compares the whole message, path and line included, since the message
 * is what an operator acts on.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_ctl_config.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/corecached.conf", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(const struct fixture *f, const char *text)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/* Loads text over the defaults; returns the error code, the message in
 * err and the configuration in cfg. */
static int load(const struct fixture *f, const char *text,
		struct ctl_config *cfg, unsigned *lines, char *err,
		size_t errlen)
{
	write_file(f, text);
	ctl_config_init(cfg);
	memset(lines, 0, CTL_OPTIONS_MAX * sizeof(*lines));
	err[0] = '\0';
	return ctl_config_load(cfg, lines, f->path, err, errlen);
}

/* text must fail with exactly "PATH:line: msg", leaving cfg as it was. */
static void expect_error(const struct fixture *f, const char *text,
			 unsigned line, const char *msg)
{
	struct ctl_config cfg, before;
	unsigned lines[CTL_OPTIONS_MAX];
	char err[512], want[512];

	ctl_config_init(&before);
	assert_int_equal(load(f, text, &cfg, lines, err, sizeof(err)),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s:%u: %s", f->path, line, msg);
	assert_string_equal(err, want);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_good_file(void **state)
{
	struct fixture *f = *state;
	struct ctl_config cfg;
	unsigned lines[CTL_OPTIONS_MAX];
	char err[256];

	assert_int_equal(load(f,
		"\xef\xbb\xbf# corecached\n"
		"; another comment\n"
		"port = 11311\n"
		"\n"
		"[corecached]\n"
		"  udp-port=11312\n"
		"listen = ::1 ; inline comment\n"
		"memory-limit = 128\n"
		"max-item-size = 2m\n"
		"zero-copy-min = 0\n"
		"verbosity = 2\n"
		"enable-shutdown = yes\n"
		"disable-flush-all = On\n"
		"no-pin = false\n"
		"control-socket =\n"
		"control-group = adm\n", &cfg, lines, err, sizeof(err)), 0);
	assert_int_equal(cfg.tcp_port, 11311);
	assert_int_equal(cfg.udp_port, 11312);
	assert_string_equal(cfg.listen_addr, "::1");
	assert_int_equal(cfg.memory_mb, 128);
	assert_int_equal(cfg.item_max, 2u << 20);
	assert_int_equal(cfg.zero_copy_min, 0);
	assert_int_equal(cfg.verbosity, 2);
	assert_true(cfg.shutdown_enabled);
	assert_false(cfg.flush_enabled);
	assert_true(cfg.pin);
	assert_string_equal(cfg.control_socket, "");
	assert_string_equal(cfg.control_group, "adm");
	/* What is not in the file keeps its default. */
	assert_int_equal(cfg.threads, 4);
	assert_int_equal(cfg.max_connections, 1024);
	assert_int_equal(lines[ctl_option_find("port") - ctl_options], 3);
	assert_int_equal(lines[ctl_option_find("verbose") - ctl_options], 11);
	assert_int_equal(lines[ctl_option_find("threads") - ctl_options], 0);
}

static void test_errors_with_lines(void **state)
{
	struct fixture *f = *state;

	expect_error(f, "port = 1\n\nbogus = 2\n", 3,
		     "unknown option 'bogus'");
	expect_error(f, "# ok\nport = 65536\n", 2,
		     "port: 65536 is out of range (0 to 65535)");
	expect_error(f, "threads = 0\n", 1,
		     "threads: 0 is out of range (1 to 256)");
	expect_error(f, "memory-limit = 12x\n", 1,
		     "memory-limit: '12x' is not a number");
	expect_error(f, "memory-limit = -1\n", 1,
		     "memory-limit: '-1' is not a number");
	expect_error(f, "max-item-size = 1g\n", 1,
		     "max-item-size: '1g' is not a size (a number, "
		     "optionally followed by k or m)");
	expect_error(f, "max-item-size = 512\n", 1,
		     "max-item-size: 512 is out of range (1024 to "
		     "1073741824)");
	expect_error(f, "conn-limit = 99999999999999999999999\n", 1,
		     "conn-limit: '99999999999999999999999' is not a number");
	expect_error(f, "\n\nverbose = 3\n", 3,
		     "verbose: 3 is out of range (0 to 2)");
	expect_error(f, "enable-shutdown = maybe\n", 1,
		     "enable-shutdown: 'maybe' is not yes or no");
	expect_error(f, "listen =\n", 1, "listen: empty value");
	expect_error(f, "port = 1\nthreads = 2\nport = 3\n", 3,
		     "'port' is already set on line 1");
	expect_error(f, "verbose = 1\nverbosity = 2\n", 2,
		     "'verbose' is already set on line 1");
	expect_error(f, "port = 1\njust words\n", 2,
		     "expected 'key = value', a [section] or a comment");
	expect_error(f, "[corecached\nport = 1\n", 1,
		     "expected 'key = value', a [section] or a comment");
	expect_error(f, "port = 1\n[other]\nthreads = 2\n", 3,
		     "unknown section [other] (options go before any section "
		     "or under [corecached])");
	expect_error(f, "help = yes\n", 1, "'help' is a command-line "
		     "option, not a configuration key");
	expect_error(f, "config = /etc/x\n", 1, "'config' is a command-line "
		     "option, not a configuration key");
}

static void test_long_line(void **state)
{
	struct fixture *f = *state;
	struct ctl_config cfg;
	unsigned lines[CTL_OPTIONS_MAX];
	char text[400], err[256];

	/* 198 bytes and the newline fit inih's line buffer ... */
	snprintf(text, sizeof(text), "listen = %0*d\n", 189, 0);
	assert_int_equal(load(f, text, &cfg, lines, err, sizeof(err)), 0);
	assert_int_equal(strlen(cfg.listen_addr), 189);
	/* ... one more byte does not, and is not read as two lines. */
	snprintf(text, sizeof(text), "port = 1\nlisten = %0*d\n", 190, 0);
	expect_error(f, text, 2, "line longer than 198 bytes");
}

static void test_unreadable(void **state)
{
	struct fixture *f = *state;
	struct ctl_config cfg;
	unsigned lines[CTL_OPTIONS_MAX] = { 0 };
	char err[256], want[256];

	ctl_config_init(&cfg);
	unlink(f->path);
	assert_int_equal(ctl_config_load(&cfg, lines, f->path, err,
					 sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot read: %s", f->path,
		 strerror(ENOENT));
	assert_string_equal(err, want);
	assert_int_equal(ctl_config_load(&cfg, lines, f->dir, err,
					 sizeof(err)), -EISDIR);
}

/* defaults < file < flags < runtime, and each option's source. */
static void test_precedence(void **state)
{
	struct fixture *f = *state;
	struct ctl_layers l;
	struct ctl_config cfg;
	char *argv[] = { "corecached", "--config", f->path, "-t", "3", "-vv",
			 NULL };
	char err[256];

	write_file(f, "port = 1\nthreads = 2\nverbose = 1\n"
		   "conn-limit = 10\n");
	ctl_layers_init(&l);
	assert_int_equal(ctl_parse_args(&l.args, l.args_set, 6, argv, err,
					 sizeof(err)), 0);
	assert_int_equal(ctl_config_build(&l, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.memory_mb, 64);        /* default */
	assert_int_equal(cfg.tcp_port, 1);          /* file */
	assert_int_equal(cfg.max_connections, 10);  /* file */
	assert_int_equal(cfg.threads, 3);           /* flag over file */
	assert_int_equal(cfg.verbosity, 2);         /* flag over file */

	/* A runtime change wins over the file and the flags. */
	assert_int_equal(ctl_option_parse(&l.runtime,
					  ctl_option_find("max-connections"),
					  "20", err, sizeof(err)), 0);
	l.runtime_set[ctl_option_find("conn-limit") - ctl_options] = true;
	assert_int_equal(ctl_config_build(&l, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.max_connections, 20);
	assert_int_equal(ctl_option_source(&l, ctl_option_find("memory-limit")),
			 CTL_SRC_DEFAULT);
	assert_int_equal(ctl_option_source(&l, ctl_option_find("port")),
			 CTL_SRC_FILE);
	assert_int_equal(ctl_option_source(&l, ctl_option_find("threads")),
			 CTL_SRC_FLAG);
	assert_int_equal(ctl_option_source(&l, ctl_option_find("conn-limit")),
			 CTL_SRC_RUNTIME);

	/* The file changes: rebuilt from scratch, the later layers still
	 * win; a key removed from the file falls back to its default. */
	write_file(f, "threads = 5\nconn-limit = 30\nmemory-limit = 32\n");
	assert_int_equal(ctl_config_build(&l, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.tcp_port, 11211);
	assert_int_equal(cfg.memory_mb, 32);
	assert_int_equal(cfg.threads, 3);
	assert_int_equal(cfg.max_connections, 20);

	/* A bad file leaves the layers and the output alone. */
	write_file(f, "threads = 5\nport = x\n");
	cfg.tcp_port = 4242;
	assert_int_equal(ctl_config_build(&l, &cfg, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, ":2: port: 'x' is not a number"));
	assert_int_equal(cfg.tcp_port, 4242);
	assert_int_equal(l.file_line[ctl_option_find("memory-limit") -
				     ctl_options], 3);
}

/* What no single line can say: -I against -m, with the file named. */
static void test_combination(void **state)
{
	struct fixture *f = *state;
	struct ctl_layers l;
	struct ctl_config cfg;
	char *argv[] = { "corecached", "--config", f->path, NULL };
	char err[256];

	write_file(f, "memory-limit = 2\nmax-item-size = 2m\n");
	ctl_layers_init(&l);
	assert_int_equal(ctl_parse_args(&l.args, l.args_set, 3, argv, err,
					 sizeof(err)), 0);
	assert_int_equal(ctl_config_build(&l, &cfg, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, f->path));
	assert_non_null(strstr(err, "more than half of -m"));
}

static void test_table(void **state)
{
	char buf[CTL_FILE_MAX];
	struct ctl_config a, b;
	char err[128];

	(void)state;
	assert_true(ctl_noptions <= CTL_OPTIONS_MAX);
	for (size_t i = 0; i < ctl_noptions; i++) {
		const struct ctl_option *o = &ctl_options[i];

		assert_ptr_equal(ctl_option_find(o->name), o);
		if (o->alias)
			assert_ptr_equal(ctl_option_find(o->alias), o);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(o->name, ctl_options[j].name);
		/* String options are stored in place, sized by max. */
		if (ctl_kind_text(o->kind))
			assert_true(o->max >= 2);
	}
	assert_null(ctl_option_find("nope"));

	/* Formatting gives back what parsing takes. */
	ctl_config_init(&a);
	for (size_t i = 0; i < ctl_noptions; i++) {
		const struct ctl_option *o = &ctl_options[i];

		if (o->flags & CTL_OPT_CMDLINE)
			continue;
		ctl_config_init(&b);
		b.listen_addr[0] = 'x';
		ctl_option_format(&a, o, buf, sizeof(buf));
		if (!buf[0] && !(o->flags & CTL_OPT_EMPTY))
			fail_msg("%s formats empty", o->name);
		assert_int_equal(ctl_option_parse(&b, o, buf, err,
						  sizeof(err)), 0);
		assert_false(ctl_option_differs(&a, &b, o));
	}
	assert_int_equal(ctl_option_parse(&b, ctl_option_find("port"), "",
					  err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "port: '' is not a number");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_errors_with_lines, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unreadable, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_precedence, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_combination, setup,
						teardown),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests_name("ctl_config", tests, NULL, NULL);
}
