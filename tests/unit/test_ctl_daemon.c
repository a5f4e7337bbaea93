/*
 * The running configuration and the control commands against a real
 * cache and protocol state (no sockets, no workers): config set changes
 * exactly the value the workers read, refuses what cannot change live
 * and leaves everything as it was when it refuses; reload applies the
 * live changes of the file, reports the others, keeps everything on a
 * bad file and lets runtime changes outlive it; the commands answer in
 * text and JSON.
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
	char dir[64], path[128];
	struct cc_cache *cache;
	struct cc_thread *t;
	struct proto_server ps;
	struct proto_worker *pw;
	struct ctl_daemon d;
};

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* A daemon started as "corecached --config FILE -t 2" with the file
 * holding text. */
static struct fixture *start(const char *text)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *argv[] = { "corecached", "--config", NULL, "-t", "2", NULL };
	struct ctl_layers l;
	struct ctl_config cfg;
	struct cc_params p;
	char err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_ctl_daemon.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/c.conf", f->dir);
	write_file(f->path, text);
	argv[2] = f->path;
	ctl_layers_init(&l);
	assert_int_equal(ctl_parse_args(&l.args, l.args_set, 5, argv, err,
					 sizeof(err)), 0);
	if (ctl_config_build(&l, &cfg, err, sizeof(err)))
		fail_msg("%s", err);

	cc_params_init(&p);
	p.memory_limit = (size_t)cfg.memory_mb << 20;
	p.memory_reserve = (size_t)cfg.memory_max_mb << 20;
	p.hugepages = false;
	assert_int_equal(cc_create(&p, &f->cache), 0);
	assert_int_equal(cc_thread_register(f->cache, &f->t), 0);
	f->ps.cache = f->cache;
	f->ps.settings.version = "1.6.18";
	atomic_init(&f->ps.settings.verbosity, cfg.verbosity);
	atomic_init(&f->ps.settings.max_connections, cfg.max_connections);
	atomic_init(&f->ps.settings.zero_copy_min, 16384);
	assert_int_equal(posix_memalign((void **)&f->pw, 64, sizeof(*f->pw)),
			 0);
	memset(f->pw, 0, sizeof(*f->pw));
	f->pw->server = &f->ps;
	f->pw->thread = f->t;
	assert_int_equal(ctl_daemon_init(&f->d, &l, &cfg), 0);
	f->d.ps = &f->ps;
	f->d.cache = f->cache;
	return f;
}

static void stop(struct fixture *f)
{
	ctl_daemon_deinit(&f->d);
	free(f->pw);
	cc_thread_unregister(f->t);
	cc_destroy(f->cache);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
}

/* Runs a control request; returns its code, the body in f's buffer. */
static int request(struct fixture *f, const char *text, struct ctl_buf *out)
{
	char line[CTL_LINE_MAX], err[256];
	struct ctl_cmd cmd;

	snprintf(line, sizeof(line), "%s", text);
	if (ctl_cmd_parse(line, &cmd, err, sizeof(err)))
		fail_msg("%s: %s", text, err);
	out->len = 0;
	return ctl_execute(&f->d, f->t, f->pw, &cmd, out);
}

static void expect_reply(struct fixture *f, const char *text, int code,
			 const char *body)
{
	struct ctl_buf out = { 0 };

	assert_int_equal(request(f, text, &out), code);
	assert_string_equal(out.p ? out.p : "", body);
	ctl_buf_free(&out);
}

static void expect_contains(struct fixture *f, const char *text, int code,
			    const char *needle)
{
	struct ctl_buf out = { 0 };

	assert_int_equal(request(f, text, &out), code);
	if (!out.p || !strstr(out.p, needle))
		fail_msg("%s: '%s' lacks '%s'", text, out.p ? out.p : "",
			 needle);
	ctl_buf_free(&out);
}

static uint32_t setting(_Atomic uint32_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void test_set_live(void **state)
{
	struct fixture *f = start("conn-limit = 100\n");
	struct cc_stats cs;

	(void)state;
	expect_reply(f, "config set verbosity 2", 0, "verbose = 2 (was 0)\n");
	assert_int_equal(setting(&f->ps.settings.verbosity), 2);
	expect_reply(f, "config set conn-limit 5", 0,
		     "conn-limit = 5 (was 100)\n");
	assert_int_equal(setting(&f->ps.settings.max_connections), 5);
	expect_reply(f, "config set zero-copy-min 1k", 0,
		     "zero-copy-min = 1024 (was 16384)\n");
	assert_int_equal(setting(&f->ps.settings.zero_copy_min), 1024);
	/* 0 means never by reference: the largest threshold. */
	expect_reply(f, "config set zero-copy-min 0", 0,
		     "zero-copy-min = 0 (was 1024)\n");
	assert_int_equal(setting(&f->ps.settings.zero_copy_min), UINT32_MAX);
	expect_reply(f, "config set memory-limit 32", 0,
		     "memory-limit = 32 (was 64)\n");
	cc_stats_read(f->cache, &cs);
	assert_int_equal(cs.limit_bytes, 32u << 20);
	expect_reply(f, "json config get conn-limit", 0,
		     "{\"conn-limit\":{\"value\":5,\"source\":\"runtime\","
		     "\"live\":true}}\n");
	/* memcached's verbosity command moves the same value. */
	atomic_store_explicit(&f->ps.settings.verbosity, 1,
			      memory_order_relaxed);
	expect_reply(f, "config get verbose", 0, "verbose = 1\n");
	stop(f);
}

static void test_set_refused(void **state)
{
	struct fixture *f = start("");
	struct cc_stats cs;

	(void)state;
	expect_reply(f, "config set threads 8", -EPERM,
		     "threads cannot change while corecached runs: set it in "
		     "the configuration file or on the command line and "
		     "restart (not applied)\n");
	expect_reply(f, "config set help 1", -EINVAL,
		     "unknown option 'help'\n");
	expect_reply(f, "config set nope 1", -EINVAL,
		     "unknown option 'nope'\n");
	expect_reply(f, "config set conn-limit 0", -EINVAL,
		     "conn-limit: 0 is out of range (1 to 16777216)\n");
	expect_reply(f, "config set verbose 3", -EINVAL,
		     "verbose: 3 is out of range (0 to 2)\n");
	/* The engine's refusal: above the reserve (the starting limit). */
	expect_reply(f, "config set memory-limit 128", -EINVAL,
		     "memory-limit: 128 MiB is above what was reserved at "
		     "start (memory-max, default the starting memory-limit: "
		     "64 MiB) (not applied)\n");
	/* -I against -m, as at start. */
	expect_contains(f, "config set memory-limit 1", -EINVAL,
			"more than half of -m/--memory-limit (1 MiB)");
	cc_stats_read(f->cache, &cs);
	assert_int_equal(cs.limit_bytes, 64u << 20);
	expect_reply(f, "json config set threads 3", -EPERM,
		     "{\"error\":\"threads cannot change while corecached "
		     "runs: set it in the configuration file or on the "
		     "command line and restart (not applied)\"}\n");
	for (size_t i = 0; i < ctl_noptions; i++)
		assert_false(f->d.layers.runtime_set[i]);
	assert_int_equal(setting(&f->ps.settings.max_connections), 1024);
	stop(f);
}

static void test_reload(void **state)
{
	struct fixture *f = start("conn-limit = 100\nverbose = 1\n"
				  "threads = 1\n");
	struct ctl_buf out = { 0 };
	char want[1024];

	(void)state;
	expect_reply(f, "config set verbose 2", 0, "verbose = 2 (was 1)\n");
	write_file(f->path, "conn-limit = 50\nverbose = 0\nthreads = 3\n"
		   "port = 1234\nmemory-limit = 32\n");
	assert_int_equal(ctl_daemon_reload(&f->d, &out), 0);
	/* threads came from a flag and verbose from config set: neither is
	 * the file's to change. */
	snprintf(want, sizeof(want),
		 "needs a restart (not applied): port = 1234 (running: "
		 "11211)\n"
		 "applied: memory-limit = 32 (was 64)\n"
		 "applied: conn-limit = 50 (was 100)\n"
		 "reloaded %s: 2 applied, 1 not\n", f->path);
	assert_string_equal(out.p, want);
	assert_int_equal(setting(&f->ps.settings.max_connections), 50);
	assert_int_equal(setting(&f->ps.settings.verbosity), 2);
	assert_int_equal(f->d.cfg.tcp_port, 11211);

	/* A bad file: nothing changes, and the reply says where. */
	write_file(f->path, "conn-limit = 20\nthreads = lots\n");
	out.len = 0;
	assert_int_equal(ctl_daemon_reload(&f->d, &out), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: threads: 'lots' is not a number; "
		 "running configuration kept\n", f->path);
	assert_string_equal(out.p, want);
	assert_int_equal(setting(&f->ps.settings.max_connections), 50);
	assert_int_equal(f->d.cfg.max_connections, 50);

	/* A memory limit the engine refuses is reported, the rest
	 * applied. */
	write_file(f->path, "conn-limit = 20\nmemory-limit = 100\n");
	out.len = 0;
	assert_int_equal(ctl_daemon_reload(&f->d, &out), 0);
	assert_non_null(strstr(out.p, "not applied: memory-limit: 100 MiB "
			       "is above what was reserved"));
	assert_non_null(strstr(out.p, "applied: conn-limit = 20 (was 50)"));
	assert_int_equal(f->d.cfg.memory_mb, 32);
	ctl_buf_free(&out);
	stop(f);
}

static void test_commands(void **state)
{
	struct fixture *f = start("");
	struct cc_store_req req = {
		.mode = CC_SET, .key = "k", .key_len = 1, .value = "v",
		.value_len = 1,
	};
	struct cc_view v;

	(void)state;
	assert_int_equal(cc_store(f->t, &req, NULL), 0);
	expect_contains(f, "stats", 0, "curr_items               1\n");
	expect_contains(f, "stats json", 0, "\"curr_items\":1,");
	expect_contains(f, "stats json", 0, "\"version\":\"1.6.18\"");
	expect_contains(f, "stats settings", 0, "maxconns                 "
			"1024\n");
	expect_reply(f, "stats bogus", -EINVAL, "stats: unknown group 'bogus' "
		     "(settings, items, slabs, sizes or reset)\n");
	expect_reply(f, "stats reset", 0, "statistics reset\n");
	expect_contains(f, "memory json", 0, "\"limit_bytes\":67108864,");
	expect_contains(f, "memory json", 0, "\"items\":1,");
	expect_reply(f, "ports", 0, "no DPDK ports\n");
	expect_reply(f, "ports json", 0, "{\"ports\":[]}\n");
	expect_contains(f, "help", 0, "shutdown [graceful]");
	expect_contains(f, "config get", 0, "threads = 2\nconn-limit = 1024\n");
	expect_reply(f, "config get threads", 0, "threads = 2\n");
	expect_reply(f, "config get no-such", -ENOENT,
		     "unknown option 'no-such'\n");
	expect_reply(f, "json config get listen", 0, "{\"listen\":{\"value\":"
		     "\"127.0.0.1\",\"source\":\"default\",\"live\":false}}\n");
	expect_reply(f, "flush", 0, "flushed\n");
	cc_thread_quiescent(f->t);
	assert_int_equal(cc_get(f->t, "k", 1, &v), -ENOENT);
	expect_reply(f, "flush 10 json", 0, "{\"flushed\":true,\"delay\":10}\n");
	expect_reply(f, "workers", 0, "id   cpu  node  connections         "
		     "requests       bytes_read    bytes_written\n");
	stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_live),
		cmocka_unit_test(test_set_refused),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_commands),
	};

	return cmocka_run_group_tests_name("ctl_daemon", tests, NULL, NULL);
}
