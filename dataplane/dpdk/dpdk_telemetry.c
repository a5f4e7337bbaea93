/*
 * corecache's commands in DPDK telemetry, so that dpdk-telemetry.py (and
 * any client of the EAL's telemetry socket) reads the DPDK path's
 * figures next to the ethdev ones:
 *
 *   /corecache/ports              the port indexes
 *   /corecache/port_info,P        port P: name, address, link, queues
 *   /corecache/stats[,P[,Q]]      the counters of every port and queue,
 *                                 of port P, or of its queue Q
 *
 * Telemetry callbacks take no argument of ours, so the running dataplane
 * is a file-level pointer; they run on the EAL's telemetry thread, and a
 * mutex keeps dp_dpdk_destroy from freeing the dataplane under one. The
 * workers never see either: their counters are read as
 * dp_dpdk_counters_read reads them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "dpdk_internal.h"

static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct dp_dpdk *tel_dp;    /* under tel_lock */
static bool tel_registered;             /* under tel_lock */

/* "P" or "P,Q" (each a small number); absent ones stay -1. */
static int parse_params(const char *params, int *port, int *queue)
{
	char *end;
	long v;

	*port = *queue = -1;
	if (!params || !*params)
		return 0;
	v = strtol(params, &end, 10);
	if (end == params || v < 0 || v > 1024)
		return -EINVAL;
	*port = (int)v;
	if (*end == ',') {
		const char *q = end + 1;

		v = strtol(q, &end, 10);
		if (end == q || v < 0 || v > 1024)
			return -EINVAL;
		*queue = (int)v;
	}
	return *end ? -EINVAL : 0;
}

static int tel_ports(const char *cmd, const char *params,
		     struct rte_tel_data *info)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_array(info, RTE_TEL_INT_VAL);
	pthread_mutex_lock(&tel_lock);
	for (unsigned i = 0; tel_dp && i < tel_dp->nports; i++)
		rte_tel_data_add_array_int(info, (int)i);
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

static int tel_port_info(const char *cmd, const char *params,
			 struct rte_tel_data *info)
{
	struct dp_dpdk_port_info pi;
	char addr[INET_ADDRSTRLEN];
	struct in_addr a;
	int port, queue, rc = -ENODEV;

	(void)cmd;
	if (parse_params(params, &port, &queue) || port < 0 || queue >= 0)
		return -EINVAL;
	pthread_mutex_lock(&tel_lock);
	if (tel_dp)
		rc = dp_dpdk_port_info(tel_dp, (unsigned)port, &pi);
	pthread_mutex_unlock(&tel_lock);
	if (rc)
		return -EINVAL;
	a.s_addr = htonl(pi.addr);
	inet_ntop(AF_INET, &a, addr, sizeof(addr));
	rte_tel_data_start_dict(info);
	rte_tel_data_add_dict_string(info, "name", pi.name);
	rte_tel_data_add_dict_int(info, "ethdev_id", pi.port_id);
	rte_tel_data_add_dict_string(info, "address", addr);
	rte_tel_data_add_dict_int(info, "prefix", pi.prefix);
	rte_tel_data_add_dict_int(info, "link_up", pi.link_up);
	rte_tel_data_add_dict_u64(info, "speed_mbps", pi.speed_mbps);
	rte_tel_data_add_dict_int(info, "queues", (int)pi.queues);
	rte_tel_data_add_dict_string(info, "exception", pi.exception);
	return 0;
}

static int tel_stats(const char *cmd, const char *params,
		     struct rte_tel_data *info)
{
	struct dp_dpdk_counters k;
	int port, queue, rc = -ENODEV;

	(void)cmd;
	if (parse_params(params, &port, &queue))
		return -EINVAL;
	pthread_mutex_lock(&tel_lock);
	if (tel_dp)
		rc = dp_dpdk_counters_read(tel_dp, port, queue, &k);
	pthread_mutex_unlock(&tel_lock);
	if (rc)
		return -EINVAL;
	rte_tel_data_start_dict(info);
#define DP_DPDK_TEL(name, help) rte_tel_data_add_dict_u64(info, #name, k.name);
	DP_DPDK_COUNTERS(DP_DPDK_TEL)
#undef DP_DPDK_TEL
	return 0;
}

void dp_dpdk_telemetry_attach(const struct dp_dpdk *d)
{
	pthread_mutex_lock(&tel_lock);
	tel_dp = d;
	/* Commands cannot be unregistered: once per process. */
	if (!tel_registered) {
		rte_telemetry_register_cmd("/corecache/ports", tel_ports,
			"corecache's DPDK port indexes. No parameters");
		rte_telemetry_register_cmd("/corecache/port_info",
			tel_port_info, "A corecache DPDK port: name, address, "
			"link, queues. Parameter: port index");
		rte_telemetry_register_cmd("/corecache/stats", tel_stats,
			"corecache's DPDK counters, summed. Parameters: none "
			"(every port), a port index, or port,queue");
		tel_registered = true;
	}
	pthread_mutex_unlock(&tel_lock);
}

void dp_dpdk_telemetry_detach(const struct dp_dpdk *d)
{
	pthread_mutex_lock(&tel_lock);
	if (tel_dp == d)
		tel_dp = NULL;
	pthread_mutex_unlock(&tel_lock);
}
