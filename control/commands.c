/*
 * The control socket's commands, run on the control thread.
 *
 * `stats` answers with exactly what memcached's stats command answers on
 * the same daemon: the request goes through the protocol layer on a
 * protocol worker of the control thread's own (not one of the serving
 * workers, so it is not counted as client traffic), and the STAT lines
 * come back as name/value pairs, printed as text or JSON. The other
 * commands read the engine's and the workers' counters (cc_stats_read,
 * the workers' proto_counters) and never stop a worker.
 *
 * Every command answers text by default and JSON when asked; an error is
 * a line of text, or {"error": "..."} in JSON.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "numa.h"

/* Relaxed: each counter has one writer, its worker; a reader wants a
 * recent value, not an ordering with anything else. */
static uint64_t counter(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static int cmd_help(const struct ctl_cmd *cmd, struct ctl_buf *out)
{
	if (cmd->json)
		ctl_buf_add(out, "{\"commands\":[", 13);
	for (size_t i = 0; i < ctl_ncmd_helps; i++) {
		const struct ctl_cmd_help *h = &ctl_cmd_helps[i];

		if (!cmd->json) {
			ctl_buf_printf(out, "%-36s %s\n", h->usage, h->help);
			continue;
		}
		ctl_buf_add(out, i ? ",{\"usage\":" : "{\"usage\":", i ? 10 : 9);
		ctl_buf_json_str(out, h->usage);
		ctl_buf_add(out, ",\"help\":", 8);
		ctl_buf_json_str(out, h->help);
		ctl_buf_add(out, "}", 1);
	}
	if (cmd->json)
		ctl_buf_add(out, "]}\n", 3);
	else
		ctl_buf_printf(out, "Replies: OK or ERR <length>, then the "
			       "body; \"json\" first or last asks for "
			       "JSON.\n");
	return 0;
}

/* Runs a memcached request through the protocol layer on pw and returns
 * its reply, NUL-terminated, in *reply (malloc'd). */
static int run_proto(struct ctl_daemon *d, struct proto_worker *pw,
		     const char *req, char **reply)
{
	char in[128];
	size_t len = (size_t)snprintf(in, sizeof(in), "%s\r\n", req);
	size_t consumed = 0, need = 0, pending;
	struct proto_conn pc;
	struct proto_out o;
	int ret = 0;

	proto_conn_init(&pc, PROTO_TCP);
	proto_out_init(&o);
	proto_process(pw, &pc, in, len, &o, &consumed, &need);
	pending = proto_out_pending(&o);
	*reply = malloc(pending + 1);
	if (!*reply) {
		ret = -ENOMEM;
	} else {
		proto_out_copy(&o, 0, pending, *reply);
		(*reply)[pending] = '\0';
	}
	proto_out_deinit(&o, d->cache);
	return ret;
}

static int cmd_stats(struct ctl_daemon *d, struct proto_worker *pw,
		     const struct ctl_cmd *cmd, struct ctl_buf *out)
{
	char req[80], *reply, *line, *next;
	bool first = true;
	int ret;

	snprintf(req, sizeof(req), "stats%s%.64s", cmd->nargs ? " " : "",
		 cmd->nargs ? cmd->args[0] : "");
	ret = run_proto(d, pw, req, &reply);
	if (ret) {
		ctl_buf_printf(out, "out of memory\n");
		return ret;
	}
	if (!strcmp(reply, "RESET\r\n")) {
		ctl_buf_printf(out, cmd->json ? "{\"reset\":true}\n" :
			       "statistics reset\n");
		goto out_reply;
	}
	if (strncmp(reply, "STAT ", 5) && strcmp(reply, "END\r\n")) {
		ctl_buf_printf(out, "stats: unknown group '%.64s' (settings, "
			       "items, slabs, sizes or reset)\n",
			       cmd->args[0]);
		ret = -EINVAL;
		goto out_reply;
	}
	if (cmd->json)
		ctl_buf_add(out, "{", 1);
	for (line = reply; (next = strstr(line, "\r\n")); line = next + 2) {
		char *name, *value;

		*next = '\0';
		if (strncmp(line, "STAT ", 5))
			continue;
		name = line + 5;
		value = strchr(name, ' ');
		if (!value)
			continue;
		*value++ = '\0';
		if (!cmd->json) {
			ctl_buf_printf(out, "%-24s %s\n", name, value);
			continue;
		}
		if (!first)
			ctl_buf_add(out, ",", 1);
		first = false;
		ctl_buf_json_str(out, name);
		ctl_buf_add(out, ":", 1);
		ctl_buf_json_value(out, value);
	}
	if (cmd->json)
		ctl_buf_add(out, "}\n", 2);
out_reply:
	free(reply);
	return ret;
}

static void json_option_value(struct ctl_buf *out, const struct ctl_option *o,
			      const char *text)
{
	if (ctl_kind_text(o->kind) || o->kind == CTL_LIST)
		ctl_buf_json_str(out, text);
	else if (o->kind == CTL_SET || o->kind == CTL_CLEAR)
		ctl_buf_printf(out, "%s", strcmp(text, "yes") ? "false"
							       : "true");
	else
		ctl_buf_printf(out, "%s", text);
}

static int cmd_config_get(struct ctl_daemon *d, const struct ctl_cmd *cmd,
			  struct ctl_buf *out)
{
	const struct ctl_option *only = NULL;
	char val[CTL_FILE_MAX];
	bool first = true;

	if (cmd->nargs) {
		only = ctl_option_find(cmd->args[0]);
		if (!only || (only->flags & CTL_OPT_CMDLINE)) {
			ctl_buf_printf(out, "unknown option '%.64s'\n",
				       cmd->args[0]);
			return -ENOENT;
		}
	}
	pthread_mutex_lock(&d->lock);
	/* memcached's verbosity command changes it behind config set. */
	d->cfg.verbosity = atomic_load_explicit(&d->ps->settings.verbosity,
						memory_order_relaxed);
	if (cmd->json)
		ctl_buf_add(out, "{", 1);
	for (size_t i = 0; i < ctl_noptions; i++) {
		const struct ctl_option *o = &ctl_options[i];

		if ((only && o != only) || (o->flags & CTL_OPT_CMDLINE))
			continue;
		ctl_option_format(&d->cfg, o, val, sizeof(val));
		if (!cmd->json) {
			ctl_buf_printf(out, "%s = %s\n", o->name, val);
			continue;
		}
		if (!first)
			ctl_buf_add(out, ",", 1);
		first = false;
		ctl_buf_json_str(out, o->name);
		ctl_buf_add(out, ":{\"value\":", 10);
		json_option_value(out, o, val);
		ctl_buf_printf(out, ",\"source\":\"%s\",\"live\":%s}",
			       ctl_source_name(ctl_option_source(&d->layers,
								 o)),
			       o->flags & CTL_OPT_LIVE ? "true" : "false");
	}
	pthread_mutex_unlock(&d->lock);
	if (cmd->json)
		ctl_buf_add(out, "}\n", 2);
	return 0;
}

static int cmd_flush(struct ctl_daemon *d, struct cc_thread *t,
		     const struct ctl_cmd *cmd, struct ctl_buf *out)
{
	(void)d;
	if (!t) {
		ctl_buf_printf(out, "flush: the control thread has no engine "
			       "thread slot\n");
		return -EAGAIN;
	}
	cc_thread_online(t);
	cc_flush(t, cmd->delay);
	cc_thread_offline(t);
	ctl_log(CTL_LOG_INFO, "flush (delay %u s) from the control socket",
		cmd->delay);
	if (cmd->json)
		ctl_buf_printf(out, "{\"flushed\":true,\"delay\":%u}\n",
			       cmd->delay);
	else if (cmd->delay)
		ctl_buf_printf(out, "every item stored until then is gone "
			       "in %u s\n", cmd->delay);
	else
		ctl_buf_printf(out, "flushed\n");
	return 0;
}

/* Per worker: where it runs (CPU and its NUMA node, read from sysfs on
 * each call: a control command can afford it) and its load; requests
 * are memcached's command counters (a multiget counts each key, as in
 * its stats). */
static int cmd_workers(struct ctl_daemon *d, const struct ctl_cmd *cmd,
		       struct ctl_buf *out)
{
	struct proto_server *ps = d->ps;
	struct numa_topology *topo = NULL;
	char err[128];

	if (numa_topology_load(NULL, &topo, err, sizeof(err)))
		topo = NULL;
	if (cmd->json)
		ctl_buf_add(out, "{\"workers\":[", 12);
	else
		ctl_buf_printf(out, "%-4s %-4s %-4s %12s %16s %16s %16s\n",
			       "id", "cpu", "node", "connections", "requests",
			       "bytes_read", "bytes_written");
	for (uint32_t i = 0; i < ps->nworkers; i++) {
		const struct proto_counters *c = &ps->workers[i]->counters;
		unsigned long long conns = counter(&c->curr_connections);
		unsigned long long reqs = counter(&c->cmd_get) +
					  counter(&c->cmd_set) +
					  counter(&c->cmd_touch) +
					  counter(&c->cmd_flush);
		unsigned long long rd = counter(&c->bytes_read);
		unsigned long long wr = counter(&c->bytes_written);
		int cpu = dp_server_worker_cpu(d->srv, i);
		int node = cpu >= 0 && topo ?
			   numa_topology_cpu_node(topo, cpu) : NUMA_NO_NODE;
		char cpus[12] = "-", nodes[12] = "-";

		if (cpu >= 0)
			snprintf(cpus, sizeof(cpus), "%d", cpu);
		if (node != NUMA_NO_NODE)
			snprintf(nodes, sizeof(nodes), "%d", node);
		if (cmd->json)
			ctl_buf_printf(out, "%s{\"id\":%u,\"cpu\":%d,"
				       "\"node\":%d,\"connections\":%llu,"
				       "\"requests\":%llu,\"bytes_read\":%llu,"
				       "\"bytes_written\":%llu}", i ? "," : "",
				       ps->workers[i]->id, cpu, node, conns,
				       reqs, rd, wr);
		else
			ctl_buf_printf(out, "%-4u %-4s %-4s %12llu %16llu "
				       "%16llu %16llu\n", ps->workers[i]->id,
				       cpus, nodes, conns, reqs, rd, wr);
	}
	if (cmd->json)
		ctl_buf_add(out, "]}\n", 3);
	if (topo)
		numa_topology_destroy(topo);
	return 0;
}

static int cmd_memory(struct ctl_daemon *d, const struct ctl_cmd *cmd,
		      struct ctl_buf *out)
{
	struct cc_stats s;
	const char *fmt;

	cc_stats_read(d->cache, &s);
	fmt = cmd->json ?
	      "{\"limit_bytes\":%llu,\"used_bytes\":%llu,"
	      "\"item_bytes\":%llu,\"items\":%llu,\"segment_size\":%llu,"
	      "\"segments_total\":%llu,\"segments_free\":%llu,"
	      "\"index_bytes\":%llu,\"hugetlb\":%s,\"evictions\":%llu}\n" :
	      "limit_bytes     %llu\nused_bytes      %llu\n"
	      "item_bytes      %llu\nitems           %llu\n"
	      "segment_size    %llu\nsegments_total  %llu\n"
	      "segments_free   %llu\nindex_bytes     %llu\n"
	      "hugetlb         %s\nevictions       %llu\n";
	ctl_buf_printf(out, fmt, (unsigned long long)s.limit_bytes,
		       (unsigned long long)((s.segments_total -
					     s.segments_free) *
					    s.segment_size),
		       (unsigned long long)s.curr_bytes,
		       (unsigned long long)s.curr_items,
		       (unsigned long long)s.segment_size,
		       (unsigned long long)s.segments_total,
		       (unsigned long long)s.segments_free,
		       (unsigned long long)s.index_bytes,
		       s.hugetlb ? (cmd->json ? "true" : "yes") :
				   (cmd->json ? "false" : "no"),
		       (unsigned long long)s.evictions);
	return 0;
}

static int cmd_shutdown(struct ctl_daemon *d, const struct ctl_cmd *cmd,
			struct ctl_buf *out)
{
	struct timespec ts;

	if (!cmd->graceful) {
		ctl_log(CTL_LOG_INFO, "shutdown from the control socket");
		dp_server_stop(d->srv);
		ctl_buf_printf(out, cmd->json ? "{\"stopping\":true}\n" :
			       "stopping\n");
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	d->draining = true;
	d->drain_deadline_ms = (uint64_t)ts.tv_sec * 1000 +
			       (uint64_t)ts.tv_nsec / 1000000 +
			       CTL_DRAIN_MAX_MS;
	/* No new client from now on: the live connection limit. */
	atomic_store_explicit(&d->ps->settings.max_connections, 0,
			      memory_order_relaxed);
	ctl_notify("STOPPING=1");
	ctl_log(CTL_LOG_INFO, "graceful shutdown: refusing new connections, "
		"stopping once the clients have left");
	ctl_buf_printf(out, cmd->json ? "{\"stopping\":true,\"graceful\":true,"
		       "\"max_wait_ms\":%d}\n" : "refusing new connections; "
		       "stopping once the clients have left (at most %d ms)\n",
		       CTL_DRAIN_MAX_MS);
	return 0;
}

/* Turns a text body into {"key": [lines]} for commands whose result is
 * a list of lines. */
static void lines_to_json(struct ctl_buf *out, const char *key,
			  const char *text)
{
	const char *p = text, *nl;

	ctl_buf_printf(out, "{\"%s\":[", key);
	for (bool first = true; (nl = strchr(p, '\n')); p = nl + 1) {
		char line[CTL_FILE_MAX + 128];

		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if (!first)
			ctl_buf_add(out, ",", 1);
		first = false;
		ctl_buf_json_str(out, line);
	}
	ctl_buf_add(out, "]}\n", 3);
}

static int run(struct ctl_daemon *d, struct cc_thread *t,
	       struct proto_worker *pw, const struct ctl_cmd *cmd,
	       struct ctl_buf *out)
{
	switch (cmd->verb) {
	case CTL_CMD_HELP:
		return cmd_help(cmd, out);
	case CTL_CMD_STATS:
		return cmd_stats(d, pw, cmd, out);
	case CTL_CMD_CONFIG_GET:
		return cmd_config_get(d, cmd, out);
	case CTL_CMD_CONFIG_SET:
		return ctl_daemon_set(d, cmd->args[0], cmd->args[1], out);
	case CTL_CMD_FLUSH:
		return cmd_flush(d, t, cmd, out);
	case CTL_CMD_WORKERS:
		return cmd_workers(d, cmd, out);
	case CTL_CMD_PORTS:
		ctl_dpdk_ports(d->dpdk, out, cmd->json);
		return 0;
	case CTL_CMD_MEMORY:
		return cmd_memory(d, cmd, out);
	case CTL_CMD_RELOAD:
		return ctl_daemon_reload(d, out);
	case CTL_CMD_SHUTDOWN:
		return cmd_shutdown(d, cmd, out);
	}
	return -EINVAL;
}

int ctl_execute(struct ctl_daemon *d, struct cc_thread *t,
		struct proto_worker *pw, const struct ctl_cmd *cmd,
		struct ctl_buf *out)
{
	struct ctl_buf text = { 0 };
	bool lines = cmd->verb == CTL_CMD_CONFIG_SET ||
		     cmd->verb == CTL_CMD_RELOAD;
	int ret;

	if (d->draining && (lines || cmd->verb == CTL_CMD_SHUTDOWN)) {
		ctl_buf_printf(&text, "shutting down\n");
		ret = -ESHUTDOWN;
	} else {
		ret = run(d, t, pw, cmd, &text);
	}
	if (text.oom) {
		ctl_buf_free(&text);
		ctl_buf_printf(&text, "reply too large or out of memory\n");
		ret = -ENOMEM;
	}
	if (cmd->json && ret) {
		if (text.len && text.p[text.len - 1] == '\n')
			text.p[--text.len] = '\0';
		ctl_buf_add(out, "{\"error\":", 9);
		ctl_buf_json_str(out, text.p ? text.p : "");
		ctl_buf_add(out, "}\n", 2);
	} else if (cmd->json && lines) {
		/* Results that are lines of text become a list. */
		lines_to_json(out, cmd->verb == CTL_CMD_RELOAD ? "reload" :
			      "changed", text.p ? text.p : "");
	} else {
		ctl_buf_add(out, text.p ? text.p : "", text.len);
	}
	ctl_buf_free(&text);
	return ret;
}
