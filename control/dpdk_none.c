/*
 * corecached built without libdpdk: the DPDK path's entry points (ctl.h)
 * refuse a --dpdk-port with a clear message, and the rest of main needs
 * no conditional code.
 */
#include <errno.h>
#include <stdio.h>

#include "ctl.h"

int ctl_dpdk_create(const struct ctl_config *cfg, struct proto_server *ps,
		    struct ctl_dpdk **out, char *err, size_t errlen)
{
	(void)cfg;
	(void)ps;
	*out = NULL;
	snprintf(err, errlen, "--dpdk-port: corecached was built without "
		 "DPDK (libdpdk-dev missing at build time)");
	return -ENOTSUP;
}

int ctl_dpdk_add_workers(struct ctl_dpdk *d)
{
	(void)d;
	return 0;
}

int ctl_dpdk_start(struct ctl_dpdk *d)
{
	(void)d;
	return -ENOTSUP;
}

void ctl_dpdk_log(const struct ctl_dpdk *d, FILE *f)
{
	(void)d;
	(void)f;
}

void ctl_dpdk_stop(struct ctl_dpdk *d)
{
	(void)d;
}

void ctl_dpdk_ports(const struct ctl_dpdk *d, struct ctl_buf *out,
		    bool json)
{
	(void)d;
	ctl_buf_printf(out, json ? "{\"ports\":[]}\n" : "no DPDK ports\n");
}

void ctl_dpdk_metrics(const struct ctl_dpdk *d, struct ctl_buf *out)
{
	(void)d;
	(void)out;
}

int ctl_dpdk_apply(struct ctl_dpdk *d, const struct ctl_config *cfg,
		   char *err, size_t errlen)
{
	(void)d;
	(void)cfg;
	(void)err;
	(void)errlen;
	return 0;
}

void ctl_dpdk_destroy(struct ctl_dpdk *d)
{
	(void)d;
}
