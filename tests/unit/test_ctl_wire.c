/*
 * The control socket's wire format: request parsing (every command, the
 * json prefix and suffix, every refusal with its message), reply framing
 * (headers written and read back, partial and malformed headers) and the
 * JSON text the replies are built with.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"

/* Parses text (copied: parsing splits in place); returns the code. */
static int parse(const char *text, struct ctl_cmd *cmd, char *err,
		 size_t errlen)
{
	static char line[CTL_LINE_MAX];

	snprintf(line, sizeof(line), "%s", text);
	err[0] = '\0';
	return ctl_cmd_parse(line, cmd, err, errlen);
}

static void expect_cmd(const char *text, enum ctl_verb verb, bool json,
		       unsigned nargs, const char *arg0, const char *arg1)
{
	struct ctl_cmd cmd;
	char err[256];

	if (parse(text, &cmd, err, sizeof(err)))
		fail_msg("'%s' refused: %s", text, err);
	assert_int_equal(cmd.verb, verb);
	assert_int_equal(cmd.json, json);
	assert_int_equal(cmd.nargs, nargs);
	if (arg0)
		assert_string_equal(cmd.args[0], arg0);
	if (arg1)
		assert_string_equal(cmd.args[1], arg1);
}

static void expect_refused(const char *text, const char *msg)
{
	struct ctl_cmd cmd;
	char err[256];

	assert_int_equal(parse(text, &cmd, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, msg);
}

static void test_commands(void **state)
{
	struct ctl_cmd cmd;
	char err[256];

	(void)state;
	expect_cmd("help", CTL_CMD_HELP, false, 0, NULL, NULL);
	expect_cmd("stats", CTL_CMD_STATS, false, 0, NULL, NULL);
	expect_cmd("stats json", CTL_CMD_STATS, true, 0, NULL, NULL);
	expect_cmd("json stats", CTL_CMD_STATS, true, 0, NULL, NULL);
	expect_cmd("json stats json", CTL_CMD_STATS, true, 0, NULL, NULL);
	expect_cmd("stats settings json", CTL_CMD_STATS, true, 1, "settings",
		   NULL);
	expect_cmd("  config\tget   ", CTL_CMD_CONFIG_GET, false, 0, NULL,
		   NULL);
	expect_cmd("config get verbose", CTL_CMD_CONFIG_GET, false, 1,
		   "verbose", NULL);
	expect_cmd("json config set conn-limit 10", CTL_CMD_CONFIG_SET, true,
		   2, "conn-limit", "10");
	expect_cmd("workers", CTL_CMD_WORKERS, false, 0, NULL, NULL);
	expect_cmd("ports json", CTL_CMD_PORTS, true, 0, NULL, NULL);
	expect_cmd("memory", CTL_CMD_MEMORY, false, 0, NULL, NULL);
	expect_cmd("reload", CTL_CMD_RELOAD, false, 0, NULL, NULL);

	expect_cmd("flush", CTL_CMD_FLUSH, false, 0, NULL, NULL);
	assert_int_equal(parse("flush 2592000", &cmd, err, sizeof(err)), 0);
	assert_int_equal(cmd.delay, 2592000);
	assert_int_equal(parse("shutdown", &cmd, err, sizeof(err)), 0);
	assert_false(cmd.graceful);
	assert_int_equal(parse("shutdown graceful", &cmd, err, sizeof(err)),
			 0);
	assert_int_equal(cmd.verb, CTL_CMD_SHUTDOWN);
	assert_true(cmd.graceful);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refused("", "empty request (try help)");
	expect_refused("   ", "empty request (try help)");
	expect_refused("json", "empty request (try help)");
	expect_refused("bogus", "unknown command 'bogus' (try help)");
	expect_refused("STATS", "unknown command 'STATS' (try help)");
	expect_refused("help me", "help: wrong number of arguments "
		       "(try help)");
	expect_refused("stats a b", "stats: wrong number of arguments "
		       "(try help)");
	expect_refused("workers 1", "workers: wrong number of arguments "
		       "(try help)");
	expect_refused("config", "usage: config get [name] | config set "
		       "<name> <value>");
	expect_refused("config get a b", "usage: config get [name]");
	expect_refused("config set verbose", "usage: config set <name> "
		       "<value>");
	expect_refused("config set a b c", "usage: config set <name> "
		       "<value>");
	expect_refused("flush -1", "flush: '-1' is not a delay in seconds "
		       "(0 to 2592000)");
	expect_refused("flush 2592001", "flush: '2592001' is not a delay in "
		       "seconds (0 to 2592000)");
	expect_refused("flush 1x", "flush: '1x' is not a delay in seconds "
		       "(0 to 2592000)");
	expect_refused("shutdown now", "usage: shutdown [graceful]");
	expect_refused("stats\x01", "request contains a control byte (0x01)");
	expect_refused("\x1b[A", "request contains a control byte (0x1b)");
	expect_refused("a b c d e f g", "too many words");
}

static void test_framing(void **state)
{
	char buf[64];
	size_t n, body, hlen;
	bool ok;

	(void)state;
	n = ctl_frame_header(buf, true, 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "OK 0\n", 5);
	n = ctl_frame_header(buf, false, 1234);
	assert_memory_equal(buf, "ERR 1234\n", n);

	assert_int_equal(ctl_frame_parse(buf, n, &ok, &body, &hlen), 0);
	assert_false(ok);
	assert_int_equal(body, 1234);
	assert_int_equal(hlen, n);
	/* The body that follows is not part of the header. */
	assert_int_equal(ctl_frame_parse("OK 3\nabc", 8, &ok, &body, &hlen),
			 0);
	assert_true(ok);
	assert_int_equal(body, 3);
	assert_int_equal(hlen, 5);

	/* Not yet a line: wait for more. */
	assert_int_equal(ctl_frame_parse("OK 12", 5, &ok, &body, &hlen),
			 -EAGAIN);
	assert_int_equal(ctl_frame_parse("", 0, &ok, &body, &hlen), -EAGAIN);
	/* Never a header. */
	assert_int_equal(ctl_frame_parse("OK\n", 3, &ok, &body, &hlen),
			 -EPROTO);
	assert_int_equal(ctl_frame_parse("OK \n", 4, &ok, &body, &hlen),
			 -EPROTO);
	assert_int_equal(ctl_frame_parse("OK 1a\n", 6, &ok, &body, &hlen),
			 -EPROTO);
	assert_int_equal(ctl_frame_parse("YES 1\n", 6, &ok, &body, &hlen),
			 -EPROTO);
	assert_int_equal(ctl_frame_parse("OK -1\n", 6, &ok, &body, &hlen),
			 -EPROTO);
	snprintf(buf, sizeof(buf), "OK %u\n", CTL_REPLY_MAX + 1);
	assert_int_equal(ctl_frame_parse(buf, strlen(buf), &ok, &body,
					 &hlen), -EPROTO);
	memset(buf, '1', sizeof(buf));
	memcpy(buf, "OK ", 3);
	assert_int_equal(ctl_frame_parse(buf, sizeof(buf), &ok, &body,
					 &hlen), -EPROTO);
}

static void test_json(void **state)
{
	struct ctl_buf b = { 0 };

	(void)state;
	ctl_buf_json_str(&b, "a\"b\\c\n\x01");
	ctl_buf_add(&b, " ", 1);
	ctl_buf_json_value(&b, "12");
	ctl_buf_add(&b, " ", 1);
	ctl_buf_json_value(&b, "-0.250");
	ctl_buf_add(&b, " ", 1);
	ctl_buf_json_value(&b, "007");
	ctl_buf_add(&b, " ", 1);
	ctl_buf_json_value(&b, "1.");
	ctl_buf_add(&b, " ", 1);
	ctl_buf_json_value(&b, "1.6.18");
	ctl_buf_add(&b, " ", 1);
	ctl_buf_json_value(&b, "");
	assert_false(b.oom);
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\u000a\\u0001\" 12 -0.250 "
			    "\"007\" \"1.\" \"1.6.18\" \"\"");
	ctl_buf_free(&b);

	/* A reply past CTL_REPLY_MAX is refused, not truncated. */
	for (unsigned i = 0; i <= CTL_REPLY_MAX / 1000 && !b.oom; i++)
		ctl_buf_printf(&b, "%01000d", 0);
	assert_true(b.oom);
	ctl_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests_name("ctl_wire", tests, NULL, NULL);
}
