/*
 * What the control plane reads of a running DPDK dataplane and what it
 * changes in it: each port's identity and link, its PMD's extended
 * statistics, and the amplification guard's live settings.
 *
 * Nothing here runs on a worker. The link is read without waiting
 * (rte_eth_link_get_nowait) and xstats through the ethdev API, which
 * reads the PMD's counters without stopping its queues.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>

#include "dpdk_internal.h"

int dp_dpdk_port_info(const struct dp_dpdk *d, unsigned port,
		      struct dp_dpdk_port_info *out)
{
	const struct dp_dpdk_port *p;
	struct rte_eth_link link;

	if (port >= d->nports)
		return -ERANGE;
	p = &d->ports[port];
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	out->port_id = p->id;
	out->addr = rte_be_to_cpu_32(p->addr_be);
	out->prefix = p->prefix;
	out->queues = d->nworkers;
	if (p->has_exc)
		snprintf(out->exception, sizeof(out->exception), "%s",
			 p->exc_iface);
	memset(&link, 0, sizeof(link));
	if (rte_eth_link_get_nowait(p->id, &link) == 0) {
		out->link_up = link.link_status == RTE_ETH_LINK_UP;
		out->full_duplex = link.link_duplex ==
				   RTE_ETH_LINK_FULL_DUPLEX;
		if (link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN)
			out->speed_mbps = link.link_speed;
	}
	return 0;
}

int dp_dpdk_xstats(const struct dp_dpdk *d, unsigned port,
		   void (*fn)(void *arg, const char *name, uint64_t value),
		   void *arg)
{
	struct rte_eth_xstat_name *names = NULL;
	struct rte_eth_xstat *vals = NULL;
	uint16_t id;
	int n, got, rc = 0;

	if (port >= d->nports)
		return -ERANGE;
	id = d->ports[port].id;
	n = rte_eth_xstats_get_names(id, NULL, 0);
	if (n <= 0)
		return n;
	names = calloc((size_t)n, sizeof(*names));
	vals = calloc((size_t)n, sizeof(*vals));
	if (!names || !vals) {
		rc = -ENOMEM;
		goto free_arrays;
	}
	got = rte_eth_xstats_get_names(id, names, (unsigned)n);
	if (got < 0 || got > n) {
		rc = got < 0 ? got : -EAGAIN;
		goto free_arrays;
	}
	n = rte_eth_xstats_get(id, vals, (unsigned)got);
	if (n < 0 || n > got) {
		rc = n < 0 ? n : -EAGAIN;
		goto free_arrays;
	}
	for (int i = 0; i < n; i++)
		if (vals[i].id < (uint64_t)got)
			fn(arg, names[vals[i].id].name, vals[i].value);
free_arrays:
	free(names);
	free(vals);
	return rc;
}

void dp_dpdk_set_amplification(struct dp_dpdk *d, uint32_t factor)
{
	dp_dpdk_guard_set_amplification(&d->guard, factor);
}

int dp_dpdk_set_allow(struct dp_dpdk *d, const struct dp_dpdk_cidr *allow,
		      unsigned n)
{
	return dp_dpdk_guard_set_allow(&d->guard, allow, n, 1000);
}
