/*
 * corecached's Prometheus exporter: /metrics (text exposition format
 * 0.0.4) and /healthz over the control plane's HTTP server, on its own
 * thread, never on the request path.
 *
 * Threads: start and stop from the control thread, start after the
 * workers run and stop before the server is destroyed (the exporter
 * reads the workers' counters and histograms in place).
 *
 * Errors: ctl_metrics_start returns 0 or a negative errno value, having
 * printed what went wrong.
 */
#ifndef CORECACHE_METRICS_H
#define CORECACHE_METRICS_H

#include "ctl.h"
#include "proto.h"
#include "uring.h"

struct ctl_metrics;

/* Starts serving on cfg->metrics_listen; dpdk (NULL: none) adds the
 * DPDK ports' series. *out is NULL (and 0 returned)
 * when that is "" or "off", and when the default address is taken (a
 * warning is printed: the cache serves on without an exporter). An
 * address given by the operator that cannot be bound is an error. */
int ctl_metrics_start(const struct ctl_config *cfg, struct proto_server *ps,
		      struct dp_server *srv, const struct ctl_dpdk *dpdk,
		      struct ctl_metrics **out);

/* Stops and frees (NULL: nothing to do). */
void ctl_metrics_stop(struct ctl_metrics *m);

#endif
