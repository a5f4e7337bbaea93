/*
 * The `stats` command (proto_stats.c): memcached's keys in memcached's
 * order, the counters behind them as memcached counts them (gat and gats
 * as touches, not gets), `stats reset` keeping the gauges, and `stats
 * settings`, driven through proto_process on the protocol tests' shared
 * fixture (proto_fixture.h).
 *
 * Figures that depend on the process (pid, rusage) are checked for
 * presence and order only; the rest are exact, the clock being fake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto_fixture.h"

static const char *stat_value(struct pfx *t, const char *name)
{
	static char v[64];
	char key[80], *p, *e;

	snprintf(key, sizeof(key), "STAT %s ", name);
	p = strstr(t->reply, key);
	if (!p)
		return NULL;
	p += strlen(key);
	e = strstr(p, "\r\n");
	assert_non_null(e);
	snprintf(v, sizeof(v), "%.*s", (int)(e - p), p);
	return v;
}

static void test_stats(void **state)
{
	struct pfx *t = *state;
	static const char *order[] = {
		"pid", "uptime", "time", "version", "pointer_size",
		"rusage_user", "rusage_system", "max_connections",
		"curr_connections", "total_connections",
		"rejected_connections", "cmd_get", "cmd_set", "cmd_flush",
		"cmd_touch", "cmd_meta", "get_hits", "get_misses",
		"get_expired", "get_flushed", "delete_misses", "delete_hits",
		"incr_misses", "incr_hits", "decr_misses", "decr_hits",
		"cas_misses", "cas_hits", "cas_badval", "touch_hits",
		"touch_misses", "store_too_large", "store_no_memory",
		"bytes_read", "bytes_written", "limit_maxbytes", "threads",
		"bytes", "curr_items", "total_items", "evictions",
		"reclaimed",
	};
	const char *prev = NULL;

	pfx_feed(t, "set a 0 0 1\r\nx\r\nset b 0 0 2\r\nyy\r\nget a b c\r\n"
		"gat 0 a c\r\ntouch c 0\r\ndelete c\r\nincr a 1\r\n"
		"add a 0 0 1\r\nx\r\n");
	pfx_clear(t);
	pfx_feed(t, "stats\r\n");
	assert_non_null(strstr(t->reply, "STAT pid "));
	assert_int_equal(strcmp(t->reply + t->reply_len - 5, "END\r\n"), 0);
	/* memcached's keys come in memcached's order. */
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		char key[64];
		const char *at;

		snprintf(key, sizeof(key), "STAT %s ", order[i]);
		at = strstr(t->reply, key);
		if (!at)
			fail_msg("no %s", order[i]);
		assert_true(at > prev);
		prev = at;
	}
	assert_string_equal(stat_value(t, "version"), "1.6.18");
	assert_string_equal(stat_value(t, "uptime"), "1000");
	/* gat counts as touches only, as in memcached. */
	assert_string_equal(stat_value(t, "cmd_get"), "3");
	assert_string_equal(stat_value(t, "get_hits"), "2");
	assert_string_equal(stat_value(t, "get_misses"), "1");
	assert_string_equal(stat_value(t, "cmd_touch"), "3");
	assert_string_equal(stat_value(t, "cmd_set"), "3");
	assert_string_equal(stat_value(t, "curr_items"), "2");
	assert_string_equal(stat_value(t, "total_items"), "2");
	assert_string_equal(stat_value(t, "delete_misses"), "1");
	assert_string_equal(stat_value(t, "incr_hits"), "0");
	assert_string_equal(stat_value(t, "limit_maxbytes"), "67108864");
	pfx_clear(t);

	pfx_expect(t, "stats reset\r\n", "RESET\r\n");
	pfx_feed(t, "stats\r\n");
	assert_string_equal(stat_value(t, "cmd_get"), "0");
	assert_string_equal(stat_value(t, "cmd_set"), "0");
	assert_string_equal(stat_value(t, "total_items"), "0");
	assert_string_equal(stat_value(t, "curr_items"), "2");
	pfx_clear(t);
	pfx_expect(t, "get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n");
	pfx_feed(t, "stats\r\n");
	assert_string_equal(stat_value(t, "cmd_get"), "1");
	pfx_clear(t);

	pfx_feed(t, "stats items\r\n");
	assert_string_equal(stat_value(t, "items:1:number"), "2");
	pfx_clear(t);
	pfx_feed(t, "stats slabs\r\n");
	assert_string_equal(stat_value(t, "active_slabs"), "1");
	assert_non_null(stat_value(t, "1:chunk_size"));
	pfx_clear(t);
}

static void test_stats_settings(void **state)
{
	struct pfx *t = *state;

	pfx_feed(t, "stats settings\r\n");
	assert_string_equal(stat_value(t, "maxbytes"), "67108864");
	assert_string_equal(stat_value(t, "maxconns"), "1024");
	assert_string_equal(stat_value(t, "tcpport"), "11211");
	assert_string_equal(stat_value(t, "udpport"), "0");
	assert_string_equal(stat_value(t, "verbosity"), "0");
	assert_string_equal(stat_value(t, "num_threads"), "1");
	assert_string_equal(stat_value(t, "item_size_max"), "1048576");
	assert_string_equal(stat_value(t, "cas_enabled"), "yes");
	assert_string_equal(stat_value(t, "flush_enabled"), "yes");
	assert_string_equal(stat_value(t, "shutdown_command"), "no");
	assert_int_equal(strcmp(t->reply + t->reply_len - 5, "END\r\n"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, pfx_setup, pfx_teardown)
		T(test_stats),
		T(test_stats_settings),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
