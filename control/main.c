/*
 * corecached: the memcached-compatible daemon.
 *
 * main parses the options, creates the cache and the protocol state,
 * binds the sockets and starts the io_uring workers, then waits for the
 * end: SIGTERM or SIGINT (read through a signalfd, the signals being
 * blocked in every thread) or the shutdown command (the workers' stop
 * eventfd). Either way the workers stop accepting and reading, send what
 * they owe for at most DP_DRAIN_MS and exit; main then frees everything,
 * well within a second.
 *
 * Exit status: 0 after a clean stop, 2 for a usage error (unknown option,
 * bad value), 1 when the cache or the server cannot be set up.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "corecache.h"
#include "ctl.h"
#include "proto.h"
#include "uring.h"

/* What VERSION answers: the memcached release whose protocol corecache
 * speaks, numeric so that clients that parse it (libmemcached) keep
 * working. */
#define CTL_PROTO_VERSION "1.6.18"

static const char prog[] = "corecached";

static int usage_error(const char *msg)
{
	fprintf(stderr, "%s: %s\nTry '%s --help' for the options.\n", prog,
		msg, prog);
	return 2;
}

/* Connections, listeners, rings and eventfds all take descriptors:
 * raise the soft limit toward what -c needs, as memcached does. */
static void raise_nofile(const struct ctl_config *cfg)
{
	rlim_t want = (rlim_t)cfg->max_connections + 64 + 8 * cfg->threads;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= want)
		return;
	fprintf(stderr, "%s: warning: the open files limit (%llu) is below "
		"what -c %u needs\n", prog, (unsigned long long)rl.rlim_cur,
		cfg->max_connections);
}

static int create_cache(const struct ctl_config *cfg, struct cc_cache **out)
{
	struct cc_params p;
	int err;

	cc_params_init(&p);
	p.memory_limit = (size_t)cfg->memory_mb << 20;
	p.item_max = (size_t)cfg->item_max;
	/* The workers, plus room for the control plane's threads. */
	p.max_threads = cfg->threads + 4;
	err = cc_create(&p, out);
	if (err == -EINVAL) {
		fprintf(stderr, "%s: -m %u MiB is too small for items of up "
			"to %llu bytes (-I): the cache needs at least 16 "
			"segments, each holding one largest item\n", prog,
			cfg->memory_mb, (unsigned long long)cfg->item_max);
		return 2;
	}
	if (err) {
		fprintf(stderr, "%s: cannot create the cache: %s\n", prog,
			strerror(-err));
		return 1;
	}
	return 0;
}

static void init_server(struct proto_server *ps,
			const struct ctl_config *cfg, struct cc_cache *c)
{
	struct proto_settings *set = &ps->settings;

	memset(ps, 0, sizeof(*ps));
	set->item_max = (size_t)cfg->item_max;
	set->zero_copy_min = cfg->zero_copy_min == 0 ||
			     cfg->zero_copy_min > UINT32_MAX ?
			     UINT32_MAX : (uint32_t)cfg->zero_copy_min;
	set->max_connections = cfg->max_connections;
	set->threads = cfg->threads;
	set->tcp_port = cfg->tcp_port;
	set->udp_port = cfg->udp_port;
	set->shutdown_enabled = cfg->shutdown_enabled;
	set->flush_enabled = cfg->flush_enabled;
	atomic_init(&set->verbosity, cfg->verbosity);
	set->version = CTL_PROTO_VERSION;
	ps->cache = c;
	ps->started = time(NULL);
	atomic_init(&ps->shutdown_requested, false);
}

/* Blocks until SIGTERM, SIGINT or a stop asked by a worker. DPDK
 * workers have no stop fd to write: with them (poll_ms > 0) the shutdown
 * command's flag is also looked at every poll_ms. */
static void wait_for_stop(struct dp_server *srv, int sigfd,
			  const struct ctl_config *cfg,
			  const struct proto_server *ps, int poll_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = dp_server_stop_fd(srv), .events = POLLIN },
	};

	for (;;) {
		int n = poll(pfd, 2, poll_ms);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* acquire: pairs with the shutdown command's store. */
		if (n == 0 && atomic_load_explicit(&ps->shutdown_requested,
						   memory_order_acquire))
			break;
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si) &&
			    cfg->verbosity)
				fprintf(stderr, "Signal handled: %s.\n",
					strsignal((int)si.ssi_signo));
			break;
		}
		if (pfd[1].revents & POLLIN)
			break;
	}
	dp_server_stop(srv);
}

int main(int argc, char **argv)
{
	struct ctl_config cfg;
	struct proto_server ps;
	struct dp_params dp;
	struct dp_server *srv;
	struct cc_cache *cache;
	struct ctl_dpdk *dpdk = NULL;
	sigset_t sigs;
	char msg[256];
	int sigfd, err;

	ctl_config_init(&cfg);
	if (ctl_parse_args(&cfg, argc, argv, msg, sizeof(msg)))
		return usage_error(msg);
	if (cfg.help) {
		ctl_usage(stdout, prog);
		return 0;
	}
	if (cfg.version) {
		printf("%s %s (memcached %s protocol)\n", prog,
		       CORECACHE_VERSION, CTL_PROTO_VERSION);
		return 0;
	}
	if (ctl_config_check(&cfg, msg, sizeof(msg)))
		return usage_error(msg);
	if (cfg.threads > 64)
		fprintf(stderr, "%s: warning: more worker threads than "
			"cores is not recommended\n", prog);
	raise_nofile(&cfg);

	/* Every thread inherits the mask: the signals arrive only through
	 * the signalfd. Writes to a closed socket return EPIPE. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sigfd < 0) {
		fprintf(stderr, "%s: signalfd: %s\n", prog, strerror(errno));
		return 1;
	}

	err = create_cache(&cfg, &cache);
	if (err)
		goto out_sigfd;
	init_server(&ps, &cfg, cache);
	if (cfg.dpdk_ports.n &&
	    ctl_dpdk_create(&cfg, &ps, &dpdk, msg, sizeof(msg))) {
		fprintf(stderr, "%s: %s\n", prog, msg);
		err = 1;
		goto out_cache;
	}
	dp = (struct dp_params){
		.listen_addr = cfg.listen_addr,
		.tcp_port = cfg.tcp_port,
		.udp_port = cfg.udp_port,
		.threads = cfg.threads,
		.max_connections = cfg.max_connections,
		.pin = cfg.pin,
	};
	err = dp_server_create(&ps, &dp, &srv);
	if (err) {
		fprintf(stderr, "%s: cannot listen on %s (tcp %u, udp %u): "
			"%s\n", prog, cfg.listen_addr, cfg.tcp_port,
			cfg.udp_port, err == -EINVAL ?
			"not an address this host resolves" : strerror(-err));
		err = 1;
		goto out_dpdk;
	}
	if (dpdk && ctl_dpdk_add_workers(dpdk)) {
		fprintf(stderr, "%s: out of memory\n", prog);
		err = 1;
		goto out_server;
	}
	err = dp_server_start(srv);
	if (err) {
		fprintf(stderr, "%s: cannot start the workers: %s\n", prog,
			strerror(-err));
		err = 1;
		goto out_server;
	}
	if (dpdk && (err = ctl_dpdk_start(dpdk)) != 0) {
		fprintf(stderr, "%s: cannot start the DPDK workers: %s\n",
			prog, strerror(-err));
		dp_server_stop(srv);
		dp_server_join(srv);
		err = 1;
		goto out_server;
	}
	if (cfg.verbosity)
		fprintf(stderr, "%s %s: listening on %s, tcp %u, udp %u, "
			"%u threads, %u MiB, items up to %llu bytes, "
			"zero-copy send %s\n", prog, CORECACHE_VERSION,
			cfg.listen_addr, cfg.tcp_port, cfg.udp_port,
			cfg.threads, cfg.memory_mb,
			(unsigned long long)cfg.item_max,
			dp_server_zero_copy(srv) ? "yes" : "no");

	wait_for_stop(srv, sigfd, &cfg, &ps, dpdk ? 100 : -1);
	if (dpdk) {
		ctl_dpdk_stop(dpdk);
		if (cfg.verbosity)
			ctl_dpdk_log(dpdk, stderr);
	}
	dp_server_join(srv);
	err = 0;
out_server:
	/* First: it gives back ps.workers as the io_uring server made
	 * them. */
	ctl_dpdk_destroy(dpdk);
	dpdk = NULL;
	dp_server_destroy(srv);
out_dpdk:
	ctl_dpdk_destroy(dpdk);
out_cache:
	cc_destroy(cache);
out_sigfd:
	close(sigfd);
	return err;
}
