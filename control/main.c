/*
 * corecached: the memcached-compatible daemon.
 *
 * main builds the configuration (defaults, the --config file, the
 * flags), creates the cache and the protocol state, binds the sockets
 * and the control socket, starts the io_uring workers and the control
 * thread, tells systemd it is ready, then waits for the end: SIGTERM or
 * SIGINT (read through a signalfd, the signals being blocked in every
 * thread), the shutdown command of either protocol, or the control
 * socket's (the workers' stop eventfd). SIGHUP re-reads the file. Either
 * way the workers stop accepting and reading, send what they owe for at
 * most DP_DRAIN_MS and exit; main then frees everything, well within a
 * second.
 *
 * Exit status: 0 after a clean stop, 2 for a usage or configuration
 * error (unknown option, bad value, a bad line of the file), 1 when the
 * cache, the server or the control socket cannot be set up.
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
#include "metrics.h"
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
	ctl_log(CTL_LOG_WARNING, "the open files limit (%llu) is below what "
		"-c %u needs", (unsigned long long)rl.rlim_cur,
		cfg->max_connections);
}

static int create_cache(const struct ctl_config *cfg, struct cc_cache **out)
{
	struct cc_params p;
	int err;

	cc_params_init(&p);
	p.memory_limit = (size_t)cfg->memory_mb << 20;
	/* How far config set may raise the limit later. */
	p.memory_reserve = (size_t)cfg->memory_max_mb << 20;
	p.item_max = (size_t)cfg->item_max;
	/* The workers, plus room for the control plane's threads. */
	p.max_threads = cfg->threads + 4;
	err = cc_create(&p, out);
	if (err == -EINVAL) {
		ctl_log(CTL_LOG_ERROR, "-m %u MiB is too small for items of "
			"up to %llu bytes (-I): the cache needs at least 16 "
			"segments, each holding one largest item",
			cfg->memory_mb, (unsigned long long)cfg->item_max);
		return 2;
	}
	if (err) {
		ctl_log(CTL_LOG_ERROR, "cannot create the cache: %s",
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
	atomic_init(&set->zero_copy_min, cfg->zero_copy_min == 0 ||
		    cfg->zero_copy_min > UINT32_MAX ?
		    UINT32_MAX : (uint32_t)cfg->zero_copy_min);
	atomic_init(&set->max_connections, cfg->max_connections);
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

/* The defaults, the file and the flags; exits (2) on any error. */
static int build_config(struct ctl_layers *layers, struct ctl_config *cfg,
			int argc, char **argv)
{
	char msg[512];

	ctl_layers_init(layers);
	if (ctl_parse_args(&layers->args, layers->args_set, argc, argv, msg,
			   sizeof(msg)))
		return usage_error(msg);
	if (layers->args.help) {
		ctl_usage(stdout, prog);
		exit(0);
	}
	if (layers->args.version) {
		printf("%s %s (memcached %s protocol)\n", prog,
		       CORECACHE_VERSION, CTL_PROTO_VERSION);
		exit(0);
	}
	if (ctl_config_build(layers, cfg, msg, sizeof(msg))) {
		fprintf(stderr, "%s: %s\n", prog, msg);
		return 2;
	}
	return 0;
}

/* Binds the control socket unless it is off (an empty path). A socket
 * the operator asked for must work (1); the default one is best effort,
 * so a second corecached on the host still starts, without one. */
static int create_control(struct ctl_daemon *d, struct ctl_server **out)
{
	const struct ctl_option *o = ctl_option_find("control-socket");
	int err;

	*out = NULL;
	if (!d->cfg.control_socket[0])
		return 0;
	err = ctl_server_create(d, out);
	if (!err)
		return 0;
	if (ctl_option_source(&d->layers, o) != CTL_SRC_DEFAULT ||
	    d->cfg.control_group[0])
		return 1;
	ctl_log(CTL_LOG_WARNING, "running without a control socket");
	return 0;
}

/* SIGHUP: what reload says, line by line, in the log. */
static void reload_on_signal(struct ctl_daemon *d)
{
	struct ctl_buf out = { 0 };
	int err = ctl_daemon_reload(d, &out);
	char *line = out.p, *nl;

	while (line && (nl = strchr(line, '\n'))) {
		*nl = '\0';
		ctl_log(err ? CTL_LOG_ERROR : CTL_LOG_INFO, "SIGHUP: %s",
			line);
		line = nl + 1;
	}
	ctl_buf_free(&out);
}

/* Blocks until SIGTERM, SIGINT or a stop asked by a worker or the
 * control socket; SIGHUP reloads on the way. DPDK workers have no stop
 * fd to write: with them (poll_ms > 0) the shutdown command's flag is
 * also looked at every poll_ms. */
static void wait_for_stop(struct ctl_daemon *d, int sigfd, int poll_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = sigfd, .events = POLLIN },
		{ .fd = dp_server_stop_fd(d->srv), .events = POLLIN },
	};

	for (;;) {
		int n = poll(pfd, 2, poll_ms);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* acquire: pairs with the shutdown command's store. */
		if (n == 0 && atomic_load_explicit(&d->ps->shutdown_requested,
						   memory_order_acquire))
			break;
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				reload_on_signal(d);
				continue;
			}
			ctl_log(CTL_LOG_INFO, "signal handled: %s",
				strsignal((int)si.ssi_signo));
			break;
		}
		if (pfd[1].revents & POLLIN)
			break;
	}
	ctl_notify("STOPPING=1");
	dp_server_stop(d->srv);
}

int main(int argc, char **argv)
{
	struct ctl_layers layers;
	struct ctl_config cfg;
	struct ctl_daemon d;
	struct ctl_server *ctl;
	struct proto_server ps;
	struct dp_params dp;
	struct dp_server *srv;
	struct cc_cache *cache;
	struct ctl_metrics *metrics = NULL;
	struct ctl_dpdk *dpdk = NULL;
	sigset_t sigs;
	char msg[512];
	int sigfd, err;

	ctl_log_init(prog, NULL);
	err = build_config(&layers, &cfg, argc, argv);
	if (err)
		return err;
	if (cfg.threads > 64)
		ctl_log(CTL_LOG_WARNING, "more worker threads than cores is "
			"not recommended");
	raise_nofile(&cfg);

	/* Every thread inherits the mask: the signals arrive only through
	 * the signalfd. Writes to a closed socket return EPIPE. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sigfd < 0) {
		ctl_log(CTL_LOG_ERROR, "signalfd: %s", strerror(errno));
		return 1;
	}

	err = create_cache(&cfg, &cache);
	if (err)
		goto out_sigfd;
	init_server(&ps, &cfg, cache);
	ctl_log_init(prog, &ps.settings.verbosity);
	if (cfg.dpdk_ports.n &&
	    ctl_dpdk_create(&cfg, &ps, &dpdk, msg, sizeof(msg))) {
		ctl_log(CTL_LOG_ERROR, "%s", msg);
		err = 1;
		goto out_cache;
	}
	dp = (struct dp_params){
		.listen_addr = cfg.listen_addr,
		.tcp_port = cfg.tcp_port,
		.udp_port = cfg.udp_port,
		.threads = cfg.threads,
		.pin = cfg.pin,
	};
	err = dp_server_create(&ps, &dp, &srv);
	if (err) {
		ctl_log(CTL_LOG_ERROR, "cannot listen on %s (tcp %u, udp %u): "
			"%s", cfg.listen_addr, cfg.tcp_port, cfg.udp_port,
			err == -EINVAL ? "not an address this host resolves" :
			strerror(-err));
		err = 1;
		goto out_dpdk;
	}
	if (dpdk && ctl_dpdk_add_workers(dpdk)) {
		ctl_log(CTL_LOG_ERROR, "out of memory");
		err = 1;
		goto out_server;
	}
	err = ctl_daemon_init(&d, &layers, &cfg);
	if (err) {
		err = 1;
		goto out_server;
	}
	d.ps = &ps;
	d.srv = srv;
	d.cache = cache;
	d.dpdk = dpdk;
	err = create_control(&d, &ctl);
	if (err)
		goto out_daemon;
	err = dp_server_start(srv);
	if (err) {
		ctl_log(CTL_LOG_ERROR, "cannot start the workers: %s",
			strerror(-err));
		err = 1;
		goto out_control;
	}
	if (ctl && (err = ctl_server_start(ctl))) {
		ctl_log(CTL_LOG_ERROR, "cannot start the control thread: %s",
			strerror(-err));
		err = 1;
		goto out_workers;
	}
	if (ctl_metrics_start(&cfg, &ps, srv, dpdk, &metrics)) {
		err = 1;
		goto out_workers;
	}
	if (dpdk && (err = ctl_dpdk_start(dpdk)) != 0) {
		ctl_log(CTL_LOG_ERROR, "cannot start the DPDK workers: %s",
			strerror(-err));
		err = 1;
		goto out_workers;
	}
	ctl_log(CTL_LOG_INFO, "%s %s: listening on %s, tcp %u, udp %u, %u "
		"threads, %u MiB, items up to %llu bytes, zero-copy send %s, "
		"control socket %s", prog, CORECACHE_VERSION, cfg.listen_addr,
		cfg.tcp_port, cfg.udp_port, cfg.threads, cfg.memory_mb,
		(unsigned long long)cfg.item_max,
		dp_server_zero_copy(srv) ? "yes" : "no",
		ctl ? cfg.control_socket : "none");
	ctl_notify("READY=1");

	wait_for_stop(&d, sigfd, dpdk ? 100 : -1);
	if (dpdk) {
		ctl_dpdk_stop(dpdk);
		if (cfg.verbosity)
			ctl_dpdk_log(dpdk, stderr);
	}
	err = 0;
out_workers:
	/* wait_for_stop asked them already; an error path asks here. */
	dp_server_stop(srv);
	dp_server_join(srv);
out_control:
	ctl_server_destroy(ctl);
out_daemon:
	ctl_daemon_deinit(&d);
out_server:
	ctl_metrics_stop(metrics);
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
