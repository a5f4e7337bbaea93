/*
 * The running configuration and its changes: config set and reload.
 *
 * What workers read while they run lives in proto_settings as atomics
 * (verbosity, the connection limit, the zero-copy threshold); the memory
 * limit is the engine's to change (cc_set_memory_limit, within what was
 * reserved at start); the DPDK workers' amplification guard (factor and
 * allow-list) is the DPDK path's (ctl_dpdk_apply, no lock on the
 * workers' side); everything else was used once at start-up (ports,
 * threads, item size) and cannot change without a restart, which is what
 * both paths say instead of pretending. The layers keep each source apart, so a reload rebuilds
 * the configuration a fresh start would get (file < flags < config set)
 * and only then compares it with what runs.
 *
 * Threads: main (SIGHUP) and the control thread; d->lock serialises
 * them. The workers only ever see the atomics.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

int ctl_daemon_init(struct ctl_daemon *d, const struct ctl_layers *l,
		    const struct ctl_config *cfg)
{
	int err;

	memset(d, 0, sizeof(*d));
	err = -pthread_mutex_init(&d->lock, NULL);
	if (err)
		return err;
	d->layers = *l;
	d->cfg = *cfg;
	d->start_memory_mb = cfg->memory_mb;
	return 0;
}

void ctl_daemon_deinit(struct ctl_daemon *d)
{
	pthread_mutex_destroy(&d->lock);
}

void ctl_daemon_apply(struct ctl_daemon *d, const struct ctl_config *cfg)
{
	struct proto_settings *set = &d->ps->settings;
	uint32_t zmin = cfg->zero_copy_min == 0 ||
			cfg->zero_copy_min > UINT32_MAX ?
			UINT32_MAX : (uint32_t)cfg->zero_copy_min;

	/* Relaxed: each is one independent value; a worker that reads the
	 * old one a little longer does nothing wrong. */
	atomic_store_explicit(&set->verbosity, cfg->verbosity,
			      memory_order_relaxed);
	atomic_store_explicit(&set->max_connections, cfg->max_connections,
			      memory_order_relaxed);
	atomic_store_explicit(&set->zero_copy_min, zmin,
			      memory_order_relaxed);
}

/* The engine's live limit. Lowering it evicts down to the new limit in
 * the background (the writers and cc_maintain do), so this returns at
 * once. */
static int apply_memory(struct ctl_daemon *d, uint32_t mb, char *err,
			size_t errlen)
{
	int ret = cc_set_memory_limit(d->cache, (size_t)mb << 20);

	if (ret == -ERANGE)
		snprintf(err, errlen, "memory-limit: %u MiB is above what was "
			 "reserved at start (memory-max, default the "
			 "starting memory-limit: %u MiB)", mb,
			 d->cfg.memory_max_mb ? d->cfg.memory_max_mb :
			 d->start_memory_mb);
	else if (ret == -EINVAL)
		snprintf(err, errlen, "memory-limit: %u MiB leaves the cache "
			 "too few segments", mb);
	else if (ret)
		snprintf(err, errlen, "memory-limit: %s", strerror(-ret));
	return ret;
}

/* The memcached verbosity command changes the level behind our back:
 * the running configuration follows it. Called under d->lock. */
static void sync_live(struct ctl_daemon *d)
{
	d->cfg.verbosity = atomic_load_explicit(&d->ps->settings.verbosity,
						memory_order_relaxed);
}

int ctl_daemon_set(struct ctl_daemon *d, const char *name, const char *value,
		   struct ctl_buf *out)
{
	const struct ctl_option *o = ctl_option_find(name);
	char err[256], was[CTL_FILE_MAX], now[CTL_FILE_MAX];
	char list[CTL_LINE_MAX];
	struct ctl_config tmp;
	size_t i;
	int ret = 0;

	if (!o || (o->flags & CTL_OPT_CMDLINE)) {
		ctl_buf_printf(out, "unknown option '%.64s'\n", name);
		return -EINVAL;
	}
	if (!(o->flags & CTL_OPT_LIVE)) {
		ctl_buf_printf(out, "%s cannot change while corecached runs: "
			       "set it in the configuration file or on the "
			       "command line and restart (not applied)\n",
			       o->name);
		return -EPERM;
	}
	pthread_mutex_lock(&d->lock);
	sync_live(d);
	tmp = d->cfg;
	/* config set gives a list whole, replacing the running one: one
	 * word on the wire, so its values are comma separated ("none":
	 * empty). */
	if (o->kind == CTL_LIST) {
		((struct ctl_list *)((char *)&tmp + o->offset))->n = 0;
		snprintf(list, sizeof(list), "%s",
			 strcmp(value, "none") ? value : "");
		for (char *c = list; (c = strchr(c, ',')); )
			*c = ' ';
		value = list;
	}
	if (ctl_option_parse(&tmp, o, value, err, sizeof(err)) ||
	    ctl_config_check(&tmp, err, sizeof(err))) {
		ctl_buf_printf(out, "%s\n", err);
		ret = -EINVAL;
		goto out_unlock;
	}
	if (tmp.memory_mb != d->cfg.memory_mb &&
	    apply_memory(d, tmp.memory_mb, err, sizeof(err))) {
		ctl_buf_printf(out, "%s (not applied)\n", err);
		ret = -EINVAL;
		goto out_unlock;
	}
	if (ctl_dpdk_apply(d->dpdk, &tmp, err, sizeof(err))) {
		ctl_buf_printf(out, "%s (not applied)\n", err);
		ret = -EINVAL;
		goto out_unlock;
	}
	i = (size_t)(o - ctl_options);
	ctl_option_copy(&d->layers.runtime, &tmp, o);
	d->layers.runtime_set[i] = true;
	ctl_option_format(&d->cfg, o, was, sizeof(was));
	ctl_option_format(&tmp, o, now, sizeof(now));
	d->cfg = tmp;
	ctl_daemon_apply(d, &d->cfg);
	ctl_buf_printf(out, "%s = %s (was %s)\n", o->name, now, was);
	ctl_log(CTL_LOG_INFO, "config set %s = %s (was %s)", o->name, now,
		was);
out_unlock:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int ctl_daemon_reload(struct ctl_daemon *d, struct ctl_buf *out)
{
	char err[512], was[CTL_FILE_MAX], now[CTL_FILE_MAX];
	struct ctl_layers l;
	struct ctl_config next, applied;
	unsigned napplied = 0, nnot = 0;
	int ret;

	pthread_mutex_lock(&d->lock);
	if (!d->layers.args.config_file[0]) {
		ctl_buf_printf(out, "no configuration file to reload "
			       "(corecached was started without --config)\n");
		ret = -ENOENT;
		goto out_unlock;
	}
	sync_live(d);
	l = d->layers;
	ret = ctl_config_build(&l, &next, err, sizeof(err));
	if (ret) {
		ctl_buf_printf(out, "%s; running configuration kept\n", err);
		ret = -EINVAL;
		goto out_unlock;
	}
	applied = d->cfg;
	for (size_t i = 0; i < ctl_noptions; i++) {
		const struct ctl_option *o = &ctl_options[i];

		if ((o->flags & CTL_OPT_CMDLINE) ||
		    !ctl_option_differs(&d->cfg, &next, o))
			continue;
		ctl_option_format(&d->cfg, o, was, sizeof(was));
		ctl_option_format(&next, o, now, sizeof(now));
		if (!(o->flags & CTL_OPT_LIVE)) {
			ctl_buf_printf(out, "needs a restart (not applied): "
				       "%s = %s (running: %s)\n", o->name,
				       now, was);
			nnot++;
			continue;
		}
		if (o->offset == offsetof(struct ctl_config, memory_mb)) {
			/* Live, but the engine may refuse it. */
			struct ctl_config probe = applied;

			probe.memory_mb = next.memory_mb;
			if (ctl_config_check(&probe, err, sizeof(err)) ||
			    apply_memory(d, next.memory_mb, err,
					 sizeof(err))) {
				ctl_buf_printf(out, "not applied: %s\n", err);
				nnot++;
				continue;
			}
		}
		if (o->offset == offsetof(struct ctl_config, udp_allow) ||
		    o->offset == offsetof(struct ctl_config,
					  udp_amplification)) {
			struct ctl_config probe = applied;

			ctl_option_copy(&probe, &next, o);
			if (ctl_dpdk_apply(d->dpdk, &probe, err,
					   sizeof(err))) {
				ctl_buf_printf(out, "not applied: %s\n", err);
				nnot++;
				continue;
			}
		}
		ctl_option_copy(&applied, &next, o);
		ctl_buf_printf(out, "applied: %s = %s (was %s)\n", o->name,
			       now, was);
		napplied++;
	}
	memcpy(d->layers.file_line, l.file_line, sizeof(l.file_line));
	d->cfg = applied;
	ctl_daemon_apply(d, &d->cfg);
	ctl_buf_printf(out, "reloaded %s: %u applied, %u not\n",
		       d->layers.args.config_file, napplied, nnot);
	ctl_log(CTL_LOG_INFO, "reloaded %s: %u applied, %u not",
		d->layers.args.config_file, napplied, nnot);
out_unlock:
	pthread_mutex_unlock(&d->lock);
	return ret;
}
