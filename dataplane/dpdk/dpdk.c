/*
 * The DPDK path's set-up and lifecycle: the EAL, the ports and their
 * exception TAPs, the pools, and the workers launched on EAL lcores.
 *
 * Each port gets one RX and one TX queue per worker and, when its PMD can
 * hash UDP flows, RSS over them; checksum offloads are used where the PMD
 * has them. Its mbuf pool and zero-copy holders live on the port's socket,
 * each worker's state on its lcore's. The exception TAP (net_tap) of a
 * port has as many queues, the port's MAC (so the kernel takes the frames
 * the port received) and the port's address, set here through the
 * kernel's interface ioctls.
 *
 * Stopping: the workers poll a flag; the ports are stopped and closed
 * after the workers return, which frees the mbufs still in their rings
 * (and so drops the engine references of zero-copy values in flight)
 * before the cache can go.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dpdk_internal.h"

#define DESC_DEFAULT 1024
#define ZC_HOLDERS 8191

int dp_dpdk_eal_init(int argc, char **argv, char *err, size_t errlen)
{
	if (rte_eal_init(argc, argv) < 0) {
		int e = rte_errno;

		snprintf(err, errlen, "EAL initialisation failed: %s",
			 rte_strerror(e));
		return e > 0 ? -e : -EINVAL;
	}
	return 0;
}

/* The device name of devargs: what comes before the first comma. */
static void dev_name(const char *devargs, char *name, size_t len)
{
	size_t n = strcspn(devargs, ",");

	if (n >= len)
		n = len - 1;
	memcpy(name, devargs, n);
	name[n] = '\0';
}

static int probe(const char *devargs, uint16_t *id, char *name, size_t len,
		 char *err, size_t errlen)
{
	int rc;

	dev_name(devargs, name, len);
	if (rte_eth_dev_get_port_by_name(name, id) == 0)
		return 0;  /* probed by the EAL (a PCI device it was given) */
	rc = rte_dev_probe(devargs);
	if (rc < 0 && rc != -EEXIST) {
		snprintf(err, errlen, "cannot probe DPDK device '%s': %s",
			 devargs, rte_strerror(-rc));
		return rc;
	}
	if (rte_eth_dev_get_port_by_name(name, id)) {
		snprintf(err, errlen, "DPDK device '%s' is not an Ethernet "
			 "port", devargs);
		return -ENODEV;
	}
	return 0;
}

/* Gives the kernel side of the exception TAP the port's address and
 * brings it up. */
static int iface_configure(const char *iface, uint32_t addr, uint8_t prefix,
			   char *err, size_t errlen)
{
	struct sockaddr_in *sin;
	struct ifreq ifr;
	int fd, rc = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", iface);
	sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	if (ioctl(fd, SIOCSIFADDR, &ifr))
		goto fail;
	sin->sin_addr.s_addr = htonl(prefix ? ~0u << (32 - prefix) : 0);
	if (ioctl(fd, SIOCSIFNETMASK, &ifr))
		goto fail;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr))
		goto fail;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr))
		goto fail;
	close(fd);
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "cannot configure exception interface %s: %s",
		 iface, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

static int queues_setup(uint16_t id, unsigned nq, uint16_t rx_desc,
			uint16_t tx_desc, const struct rte_eth_conf *conf,
			int socket, struct rte_mempool *pool)
{
	int rc = rte_eth_dev_configure(id, (uint16_t)nq, (uint16_t)nq, conf);

	if (rc)
		return rc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rx_desc, &tx_desc);
	if (rc)
		return rc;
	for (unsigned q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(id, (uint16_t)q, rx_desc,
					    (unsigned)socket, NULL, pool);
		if (rc)
			return rc;
		rc = rte_eth_tx_queue_setup(id, (uint16_t)q, tx_desc,
					    (unsigned)socket, NULL);
		if (rc)
			return rc;
	}
	return rte_eth_dev_start(id);
}

static int exception_setup(struct dp_dpdk_port *port, unsigned pi,
			   const struct dp_dpdk_port_params *pp, unsigned nq,
			   char *err, size_t errlen)
{
	struct rte_eth_conf conf;
	char devargs[160];
	int rc;

	snprintf(devargs, sizeof(devargs),
		 "net_tap_cc%u,iface=%s,mac=" RTE_ETHER_ADDR_PRT_FMT, pi,
		 pp->exception_iface, RTE_ETHER_ADDR_BYTES(&port->mac));
	rc = probe(devargs, &port->exc_id, port->exc_name,
		   sizeof(port->exc_name), err, errlen);
	if (rc)
		return rc;
	memset(&conf, 0, sizeof(conf));
	rc = queues_setup(port->exc_id, nq, 512, 512, &conf, port->socket,
			  port->pool);
	if (rc) {
		snprintf(err, errlen, "cannot start exception TAP %s: %s",
			 pp->exception_iface, rte_strerror(-rc));
		return rc;
	}
	port->has_exc = true;
	snprintf(port->exc_iface, sizeof(port->exc_iface), "%s",
		 pp->exception_iface);
	return iface_configure(pp->exception_iface, pp->addr, pp->prefix,
			       err, errlen);
}

static int port_setup(struct dp_dpdk *d, unsigned pi,
		      const struct dp_dpdk_port_params *pp,
		      const struct dp_dpdk_params *p, char *err, size_t errlen)
{
	struct dp_dpdk_port *port = &d->ports[pi];
	uint16_t rx_desc = p->rx_desc ? p->rx_desc : DESC_DEFAULT;
	uint16_t tx_desc = p->tx_desc ? p->tx_desc : DESC_DEFAULT;
	const uint64_t tx_ck = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
			       RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	const uint64_t rx_ck = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
			       RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	unsigned nq = d->nworkers, nmbufs;
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	char name[RTE_MEMPOOL_NAMESIZE];
	int rc;

	rc = probe(pp->devargs, &port->id, port->name, sizeof(port->name),
		   err, errlen);
	if (rc)
		return rc;
	rc = rte_eth_dev_info_get(port->id, &info);
	if (rc)
		goto fail;
	if (nq > info.max_rx_queues || nq > info.max_tx_queues) {
		snprintf(err, errlen, "port %s has %u RX and %u TX queues, "
			 "%u workers need as many", pp->devargs,
			 info.max_rx_queues, info.max_tx_queues, nq);
		return -EINVAL;
	}
	port->socket = pp->pool_placed ? pp->pool_socket :
		rte_eth_dev_socket_id(port->id);
	if (port->socket < 0)
		port->socket = (int)rte_socket_id();
	port->addr_be = rte_cpu_to_be_32(pp->addr);
	port->prefix = pp->prefix;
	memset(&conf, 0, sizeof(conf));
	if (nq > 1 && (info.flow_type_rss_offloads &
		       RTE_ETH_RSS_NONFRAG_IPV4_UDP)) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
			(RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV4 |
			 RTE_ETH_RSS_NONFRAG_IPV4_TCP);
	}
	if ((info.tx_offload_capa & tx_ck) == tx_ck) {
		conf.txmode.offloads |= tx_ck;
		port->tx_cksum = true;
	}
	if ((info.rx_offload_capa & rx_ck) == rx_ck) {
		conf.rxmode.offloads |= rx_ck;
		port->rx_cksum = true;
	}
	/* Zero copy chains mbufs. net_pcap and net_null take chains
	 * without saying so (pcap copies them out, null frees them). Only
	 * virtual devices for now: a NIC would DMA from cache segments,
	 * which are not registered with the EAL (rte_extmem_register and
	 * rte_dev_dma_map), so on a NIC values are copied. */
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	port->zero_copy = rte_eal_iova_mode() == RTE_IOVA_VA &&
		!strcmp(rte_bus_name(rte_dev_bus(info.device)), "vdev") &&
		((info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) ||
		 !strcmp(info.driver_name, "net_pcap") ||
		 !strcmp(info.driver_name, "net_null"));
	/* Every descriptor of both rings (and the exception TAP's), the
	 * staging queues, and the datagrams of a few large replies. */
	nmbufs = nq * (2u * rx_desc + 2u * tx_desc + 2048 +
		       4 * DP_DPDK_TX_MAX) + 4096 + p->pool_extra;
	snprintf(name, sizeof(name), "cc_pkt%u", pi);
	port->pool = rte_pktmbuf_pool_create(name, nmbufs, 256, 0,
		RTE_MBUF_DEFAULT_BUF_SIZE, port->socket);
	snprintf(name, sizeof(name), "cc_zc%u", pi);
	port->zc_pool = rte_mempool_create(name, ZC_HOLDERS,
		sizeof(struct dp_dpdk_zc), 256, 0, NULL, NULL, NULL, NULL,
		port->socket, 0);
	if (!port->pool || !port->zc_pool) {
		snprintf(err, errlen, "cannot create the mbuf pools of port "
			 "%s (%u mbufs): %s", pp->devargs, nmbufs,
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rc = rte_eth_macaddr_get(port->id, &port->mac);
	if (rc)
		goto fail;
	rc = queues_setup(port->id, nq, rx_desc, tx_desc, &conf, port->socket,
			  port->pool);
	if (rc)
		goto fail;
	if (pp->exception_iface)
		return exception_setup(port, pi, pp, nq, err, errlen);
	return 0;
fail:
	snprintf(err, errlen, "cannot set up port %s: %s", pp->devargs,
		 rte_strerror(-rc));
	return rc;
}

static int worker_create(struct dp_dpdk *d, unsigned i, unsigned lcore,
			 char *err, size_t errlen)
{
	int socket = d->polled ? SOCKET_ID_ANY :
		(int)rte_lcore_to_socket_id(lcore);
	struct dp_dpdk_worker *w;
	int rc;

	w = rte_zmalloc_socket("cc_worker", sizeof(*w), 64, socket);
	if (!w)
		goto nomem;
	d->workers[i] = w;
	w->d = d;
	w->id = i;
	w->lcore = lcore;
	proto_out_init(&w->reply);
	proto_out_init(&w->out);
	w->pw = rte_zmalloc_socket("cc_proto_worker", sizeof(*w->pw), 64,
				   socket);
	if (!w->pw)
		goto nomem;
	w->pw->server = d->ps;
	w->pw->id = i;
	rc = cc_thread_register(d->ps->cache, &w->pw->thread);
	if (rc) {
		snprintf(err, errlen, "cannot register DPDK worker %u with "
			 "the cache: %s", i, strerror(-rc));
		return rc;
	}
	return 0;
nomem:
	snprintf(err, errlen, "no memory for DPDK worker %u", i);
	return -ENOMEM;
}

/* The workers' lcores: the plan's list, checked against the EAL's, or
 * the EAL's worker lcores in order. */
static int pick_lcores(const struct dp_dpdk_params *p, unsigned *lcores,
		       unsigned *nl, char *err, size_t errlen)
{
	unsigned lcore, n = 0;

	if (p->nlcores) {
		if (p->nlcores > DP_DPDK_WORKERS_MAX)
			goto bad;
		for (unsigned i = 0; i < p->nlcores; i++) {
			if (p->lcores[i] >= RTE_MAX_LCORE ||
			    !rte_lcore_is_enabled(p->lcores[i]) ||
			    p->lcores[i] == rte_get_main_lcore())
				goto bad;
			lcores[i] = p->lcores[i];
		}
		*nl = p->nlcores;
		return 0;
	}
	if (p->polled) {
		n = p->workers ? p->workers : 1;
		*nl = n < DP_DPDK_WORKERS_MAX ? n : DP_DPDK_WORKERS_MAX;
		return 0;
	}
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (n < DP_DPDK_WORKERS_MAX)
			lcores[n++] = lcore;
	}
	if (p->workers > n || n == 0) {
		snprintf(err, errlen, "DPDK: %u workers asked, the EAL has %u "
			 "worker lcores (give it more with -l)",
			 p->workers ? p->workers : 1, n);
		return -EINVAL;
	}
	*nl = p->workers ? p->workers : n;
	return 0;
bad:
	snprintf(err, errlen, "DPDK: the planned worker lcores are not "
		 "worker lcores of the EAL");
	return -EINVAL;
}

int dp_dpdk_create(struct proto_server *ps, const struct dp_dpdk_params *p,
		   struct dp_dpdk **out, char *err, size_t errlen)
{
	unsigned lcores[DP_DPDK_WORKERS_MAX], nl = 0;
	struct dp_dpdk *d;
	int rc;

	if (p->nports == 0 || p->nports > DP_DPDK_PORTS_MAX) {
		snprintf(err, errlen, "DPDK: 1 to %u ports", DP_DPDK_PORTS_MAX);
		return -EINVAL;
	}
	rc = pick_lcores(p, lcores, &nl, err, errlen);
	if (rc)
		return rc;
	d = rte_zmalloc("cc_dpdk", sizeof(*d), 64);
	if (!d) {
		snprintf(err, errlen, "no memory for the DPDK dataplane");
		return -ENOMEM;
	}
	d->ps = ps;
	d->polled = p->polled;
	d->udp_port_be = rte_cpu_to_be_16(p->udp_port);
	d->bulk_get = p->bulk_get;
	atomic_init(&d->stop, false);
	/* Polled workers have no start or end to go online at: they count
	 * as online from generation 0. */
	rc = dp_dpdk_guard_init(&d->guard, nl, p->polled, p->amplification,
				p->allow, p->nallow);
	if (rc) {
		rte_free(d);
		snprintf(err, errlen, "no memory for the DPDK dataplane");
		return rc;
	}
	d->guard_ready = true;
	for (unsigned i = 0; i < nl; i++) {
		rc = worker_create(d, i, p->polled ? 0 : lcores[i], err,
				   errlen);
		d->nworkers = i + 1;
		if (rc)
			goto destroy;
	}
	for (unsigned i = 0; i < p->nports; i++) {
		d->nports = i + 1;
		rc = port_setup(d, i, &p->ports[i], p, err, errlen);
		if (rc)
			goto destroy;
	}
	dp_dpdk_telemetry_attach(d);
	*out = d;
	return 0;
destroy:
	dp_dpdk_destroy(d);
	return rc;
}

unsigned dp_dpdk_poll(struct dp_dpdk *d, unsigned worker)
{
	struct dp_dpdk_worker *w = d->workers[worker];
	struct rte_mbuf *pkts[DP_DPDK_BURST];
	unsigned total = 0;

	for (unsigned pi = 0; pi < d->nports; pi++) {
		struct dp_dpdk_port *port = &d->ports[pi];
		uint16_t n;

		n = rte_eth_rx_burst(port->id, (uint16_t)w->id, pkts,
				     DP_DPDK_BURST);
		if (n) {
			dp_dpdk_rx_burst(w, port, pkts, n);
			total += n;
		}
		if (!port->has_exc)
			continue;
		/* The kernel's replies: out of the port as they are. */
		n = rte_eth_rx_burst(port->exc_id, (uint16_t)w->id, pkts,
				     DP_DPDK_BURST);
		if (n) {
			dp_dpdk_count(&w->counters[pi].exception_tx, n);
			for (uint16_t i = 0; i < n; i++)
				dp_dpdk_stage(w, pi, pkts[i]);
			dp_dpdk_flush(w, pi);
			total += n;
		}
	}
	cc_thread_quiescent(w->pw->thread);
	dp_dpdk_guard_quiescent(&d->guard, w->id);
	return total;
}

static int worker_main(void *arg)
{
	struct dp_dpdk_worker *w = arg;
	struct dp_dpdk *d = w->d;
	uint64_t period = rte_get_tsc_hz() / 10;

	dp_dpdk_guard_online(&d->guard, w->id);
	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		uint64_t now;

		dp_dpdk_poll(d, w->id);
		/* Expired segments and eviction ahead of writers, a few
		 * times a second: bounded work, off the per-packet path. */
		now = rte_rdtsc();
		if (now - w->maintained > period) {
			w->maintained = now;
			cc_maintain(w->pw->thread);
		}
	}
	dp_dpdk_guard_offline(&d->guard, w->id);
	return 0;
}

int dp_dpdk_start(struct dp_dpdk *d)
{
	if (d->polled || d->running)
		return -EINVAL;
	for (unsigned i = 0; i < d->nworkers; i++) {
		int rc = rte_eal_remote_launch(worker_main, d->workers[i],
					       d->workers[i]->lcore);

		if (rc) {
			dp_dpdk_stop(d);
			for (unsigned j = 0; j < i; j++)
				rte_eal_wait_lcore(d->workers[j]->lcore);
			return rc;
		}
	}
	d->running = true;
	return 0;
}

void dp_dpdk_stop(struct dp_dpdk *d)
{
	atomic_store_explicit(&d->stop, true, memory_order_relaxed);
}

void dp_dpdk_join(struct dp_dpdk *d)
{
	if (!d->running)
		return;
	for (unsigned i = 0; i < d->nworkers; i++)
		rte_eal_wait_lcore(d->workers[i]->lcore);
	d->running = false;
}

static void port_close(struct dp_dpdk_port *port)
{
	if (port->has_exc) {
		rte_eth_dev_stop(port->exc_id);
		rte_eth_dev_close(port->exc_id);
	}
	if (port->pool) {
		rte_eth_dev_stop(port->id);
		rte_eth_dev_close(port->id);
	}
	rte_mempool_free(port->pool);
	rte_mempool_free(port->zc_pool);
}

void dp_dpdk_destroy(struct dp_dpdk *d)
{
	if (!d)
		return;
	dp_dpdk_telemetry_detach(d);
	dp_dpdk_stop(d);
	dp_dpdk_join(d);
	/* Staged packets first: they may hold zero-copy references. */
	for (unsigned i = 0; i < d->nworkers; i++) {
		struct dp_dpdk_worker *w = d->workers[i];

		for (unsigned pi = 0; pi < DP_DPDK_PORTS_MAX && w; pi++) {
			rte_pktmbuf_free_bulk(w->tx[pi].pkts, w->tx[pi].n);
			rte_pktmbuf_free_bulk(w->exc[pi].pkts, w->exc[pi].n);
		}
	}
	for (unsigned pi = 0; pi < d->nports; pi++)
		port_close(&d->ports[pi]);
	for (unsigned i = 0; i < d->nworkers; i++) {
		struct dp_dpdk_worker *w = d->workers[i];

		if (!w)
			continue;
		proto_out_deinit(&w->reply, d->ps->cache);
		proto_out_deinit(&w->out, d->ps->cache);
		if (w->pw && w->pw->thread)
			cc_thread_unregister(w->pw->thread);
		rte_free(w->pw);
		rte_free(w);
	}
	if (d->guard_ready)
		dp_dpdk_guard_destroy(&d->guard);
	rte_free(d);
}

int dp_dpdk_counters_read(const struct dp_dpdk *d, int port, int queue,
			  struct dp_dpdk_counters *out)
{
	if (port >= (int)d->nports || queue >= (int)d->nworkers)
		return -ERANGE;
	memset(out, 0, sizeof(*out));
	for (unsigned q = 0; q < d->nworkers; q++) {
		if (queue >= 0 && (unsigned)queue != q)
			continue;
		for (unsigned pi = 0; pi < d->nports; pi++) {
			const struct dp_dpdk_qcounters *k =
				&d->workers[q]->counters[pi];

			if (port >= 0 && (unsigned)port != pi)
				continue;
#define DP_DPDK_SUM(name, help) \
	out->name += atomic_load_explicit(&k->name, memory_order_relaxed);
			DP_DPDK_COUNTERS(DP_DPDK_SUM)
#undef DP_DPDK_SUM
		}
	}
	return 0;
}

unsigned dp_dpdk_zero_copy_in_flight(const struct dp_dpdk *d)
{
	unsigned n = 0;

	for (unsigned pi = 0; pi < d->nports; pi++)
		n += rte_mempool_in_use_count(d->ports[pi].zc_pool);
	return n;
}

unsigned dp_dpdk_nports(const struct dp_dpdk *d)
{
	return d->nports;
}

unsigned dp_dpdk_nworkers(const struct dp_dpdk *d)
{
	return d->nworkers;
}

struct proto_worker *dp_dpdk_proto_worker(struct dp_dpdk *d, unsigned i)
{
	return i < d->nworkers ? d->workers[i]->pw : NULL;
}
