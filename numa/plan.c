/*
 * The placement plan: which CPU each worker runs on, which worker serves
 * each queue of each port, and where pools come from.
 *
 * A packet that crosses nodes costs a remote memory access at every step
 * (descriptor, mbuf, reply), so workers go to the ports' nodes first. Two
 * hyper-threads share one core's execution units, so whole cores come
 * before siblings; a remote core comes after a local sibling because the
 * remote access is paid on every packet while a sibling only shares what
 * is idle. Nodes of one rank take turns so that several ports on several
 * nodes each get nearby workers. One CPU is kept off the workers for the
 * main thread by default, the lowest one away from the ports, which is
 * where the kernel's housekeeping tends to run anyway.
 *
 * Everything is decided here, once, so the DPDK and io_uring paths and the
 * control plane's printout cannot disagree.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "numa_internal.h"

#define MSG_MAX 256

struct plan_worker {
	int cpu, node;
	bool sibling;
	unsigned load;     /* queues served */
};

struct plan_port {
	int node;          /* NUMA_NO_NODE: virtual */
	bool assumed;      /* firmware gave none; node 0 stands in */
	char *addr;        /* NULL: virtual */
	unsigned queues;
	unsigned *queue_worker;
};

struct numa_plan {
	unsigned nnodes, ncpus;   /* of the machine, for the printout */
	int main_cpu, main_node;
	unsigned nworkers, nports;
	struct plan_worker *workers;
	struct plan_port *ports;
	int *worker_queue;        /* [w * nports + port], -1: none */
};

void numa_plan_req_init(struct numa_plan_req *req)
{
	memset(req, 0, sizeof(*req));
	req->main = NUMA_MAIN_AUTO;
}

/* ---- choosing CPUs ---- */

/* One usable CPU and its place in the preference order. */
struct candidate {
	int cpu, node;
	unsigned tier;     /* port node? then core before sibling */
	unsigned turn;     /* its rank among its node's CPUs of this tier */
};

static int cmp_candidate(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	if (x->tier != y->tier)
		return x->tier < y->tier ? -1 : 1;
	if (x->turn != y->turn)
		return x->turn < y->turn ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return (x->cpu > y->cpu) - (x->cpu < y->cpu);
}

struct planner {
	const struct numa_topology *t;
	const struct numa_plan_req *req;
	struct numa_plan *p;
	bool usable[NUMA_MAX_CPUS];
	bool port_node[NUMA_MAX_CPUS];   /* a port sits on this node */
	bool any_port_node;
	unsigned nusable;
	char *err;
	size_t errlen;
};

static bool allowed(const struct planner *pl, int c)
{
	return !pl->req->allowed || CPU_ISSET(c, pl->req->allowed);
}

/* The lowest usable CPU off the ports' nodes, else the lowest usable. */
static int pick_main(const struct planner *pl)
{
	int first = -1;

	for (int c = 0; c < NUMA_MAX_CPUS; c++) {
		if (!pl->usable[c])
			continue;
		if (!pl->port_node[pl->t->cpu_node[c]])
			return c;
		if (first < 0)
			first = c;
	}
	return first;
}

/* Takes the main CPU out of the usable set, as req->main says. With an
 * explicit list (listed: its CPUs are already out of the set), AUTO
 * keeps one of the CPUs left over, if any. */
static int keep_main(struct planner *pl, bool listed)
{
	enum numa_main m = pl->req->main;
	struct numa_plan *p = pl->p;

	p->main_cpu = -1;
	p->main_node = NUMA_NO_NODE;
	if (m == NUMA_MAIN_SHARE)
		return 0;
	if (pl->nusable == 0) {
		if (m == NUMA_MAIN_KEEP && listed)
			return numa_fail(pl->err, pl->errlen, -EINVAL,
					 "no CPU left for the main thread: "
					 "the %u listed workers take every "
					 "usable one", p->nworkers);
		return 0;
	}
	if (m == NUMA_MAIN_AUTO && !listed && pl->nusable < 2)
		return 0;
	p->main_cpu = pick_main(pl);
	p->main_node = pl->t->cpu_node[p->main_cpu];
	pl->usable[p->main_cpu] = false;
	pl->nusable--;
	return 0;
}

/* The explicit list: each CPU known, online, allowed and listed once. */
static int place_listed(struct planner *pl)
{
	const struct numa_plan_req *req = pl->req;
	bool seen[NUMA_MAX_CPUS] = { false };

	for (unsigned i = 0; i < req->ncpus; i++) {
		int c = req->cpus[i];

		if (c < 0 || c >= NUMA_MAX_CPUS)
			return numa_fail(pl->err, pl->errlen, -EINVAL,
					 "cpu %d in the list is not a CPU "
					 "number (0 to %d)", c,
					 NUMA_MAX_CPUS - 1);
		if (pl->t->cpu_node[c] == NUMA_NO_NODE)
			return numa_fail(pl->err, pl->errlen, -EINVAL,
					 "cpu %d in the list is unknown or "
					 "offline (%u CPUs are online)", c,
					 pl->t->ncpus);
		if (!allowed(pl, c))
			return numa_fail(pl->err, pl->errlen, -EINVAL,
					 "cpu %d in the list is outside the "
					 "CPUs this process may use", c);
		if (seen[c])
			return numa_fail(pl->err, pl->errlen, -EINVAL,
					 "cpu %d is listed twice", c);
		if (req->strict && pl->any_port_node &&
		    !pl->port_node[pl->t->cpu_node[c]])
			return numa_fail(pl->err, pl->errlen, -EINVAL,
					 "cpu %d is on node %d, which has no "
					 "port (strict placement)", c,
					 pl->t->cpu_node[c]);
		seen[c] = true;
		pl->p->workers[i].cpu = c;
		pl->usable[c] = false;
		pl->nusable--;
	}
	return keep_main(pl, true);
}

/* Writes the ports' nodes ("1" or "0,1") for a message. */
static void port_nodes_text(const struct planner *pl, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < pl->t->nnodes && used < len; i++) {
		int node = pl->t->node_ids[i];

		if (pl->port_node[node])
			used += (size_t)snprintf(buf + used, len - used, "%s%d",
						 used ? "," : "", node);
	}
}

/* Workers by the preference order of the file's comment. */
static int place_counted(struct planner *pl)
{
	const struct numa_topology *t = pl->t;
	struct numa_plan *p = pl->p;
	unsigned turns[NUMA_MAX_CPUS][4];
	struct candidate *cand;
	unsigned n = 0, eligible = 0;
	bool strict = pl->req->strict && pl->any_port_node;
	int rc;

	rc = keep_main(pl, false);
	if (rc)
		return rc;
	cand = calloc(pl->nusable ? pl->nusable : 1, sizeof(*cand));
	if (!cand)
		return numa_fail(pl->err, pl->errlen, -ENOMEM,
				 "out of memory");
	memset(turns, 0, sizeof(turns));
	for (int c = 0; c < NUMA_MAX_CPUS; c++) {
		struct candidate *k = &cand[n];

		if (!pl->usable[c])
			continue;
		k->cpu = c;
		k->node = t->cpu_node[c];
		k->tier = (pl->port_node[k->node] ? 0 : 2) + t->sibling[c];
		k->turn = turns[k->node][k->tier]++;
		if (!strict || k->tier < 2)
			eligible++;
		n++;
	}
	if (p->nworkers > eligible) {
		char nodes[64];

		port_nodes_text(pl, nodes, sizeof(nodes));
		free(cand);
		if (strict)
			return numa_fail(pl->err, pl->errlen, -EINVAL,
					 "%u workers but only %u usable CPUs "
					 "on node %s, the ports' (strict "
					 "placement)%s", p->nworkers, eligible,
					 nodes, p->main_cpu >= 0 ?
					 ", one kept for the main thread" : "");
		return numa_fail(pl->err, pl->errlen, -EINVAL,
				 "%u workers but only %u usable CPUs%s",
				 p->nworkers, eligible, p->main_cpu >= 0 ?
				 " once one is kept for the main thread" : "");
	}
	qsort(cand, n, sizeof(*cand), cmp_candidate);
	for (unsigned i = 0; i < p->nworkers; i++)
		p->workers[i].cpu = cand[i].cpu;
	free(cand);
	return 0;
}

/* ---- ports and queues ---- */

static int port_setup(struct planner *pl)
{
	const struct numa_plan_req *req = pl->req;
	struct numa_plan *p = pl->p;
	char msg[MSG_MAX];

	for (unsigned i = 0; i < p->nports; i++) {
		const struct numa_port_req *r = &req->ports[i];
		struct plan_port *port = &p->ports[i];
		int rc;

		port->node = NUMA_NO_NODE;
		if (!r->pci_addr)
			continue;
		port->addr = strdup(r->pci_addr);
		if (!port->addr)
			return numa_fail(pl->err, pl->errlen, -ENOMEM,
					 "out of memory");
		rc = numa_topology_pci_node(pl->t, r->pci_addr, &port->node,
					    &port->assumed, msg, sizeof(msg));
		if (rc)
			return numa_fail(pl->err, pl->errlen, rc, "port %u: %s",
					 i, msg);
		pl->port_node[port->node] = true;
		pl->any_port_node = true;
	}
	return 0;
}

/* A worker's claim to serve port: on its node first, then the least
 * loaded, then the lowest. */
static unsigned long claim(const struct plan_worker *w, unsigned id,
			   int port_node)
{
	unsigned long far = port_node != NUMA_NO_NODE && w->node != port_node;

	return far << 62 | (unsigned long)w->load << 24 | id;
}

static int assign_queues(struct planner *pl)
{
	struct numa_plan *p = pl->p;

	for (unsigned i = 0; i < p->nports; i++) {
		struct plan_port *port = &p->ports[i];
		unsigned want = pl->req->ports[i].queues;
		unsigned q = 0;

		port->queues = want ? want : p->nworkers;
		if (port->queues > p->nworkers)
			return numa_fail(pl->err, pl->errlen, -EINVAL,
					 "port %u asks for %u queues but there "
					 "are %u workers", i, want, p->nworkers);
		port->queue_worker = calloc(port->queues, sizeof(unsigned));
		if (!port->queue_worker)
			return numa_fail(pl->err, pl->errlen, -ENOMEM,
					 "out of memory");
		/* Mark the chosen workers, then number them in worker
		 * order, so queue indexes follow workers. */
		for (unsigned k = 0; k < port->queues; k++) {
			unsigned best = p->nworkers;

			for (unsigned w = 0; w < p->nworkers; w++) {
				if (p->worker_queue[w * p->nports + i] >= 0)
					continue;
				if (best == p->nworkers ||
				    claim(&p->workers[w], w, port->node) <
				    claim(&p->workers[best], best, port->node))
					best = w;
			}
			p->worker_queue[best * p->nports + i] = 0;
			p->workers[best].load++;
		}
		for (unsigned w = 0; w < p->nworkers; w++) {
			if (p->worker_queue[w * p->nports + i] < 0)
				continue;
			p->worker_queue[w * p->nports + i] = (int)q;
			port->queue_worker[q++] = w;
		}
	}
	return 0;
}

/* ---- the plan ---- */

int numa_plan_create(const struct numa_topology *t,
		     const struct numa_plan_req *req, struct numa_plan **out,
		     char *err, size_t errlen)
{
	struct planner *pl;
	struct numa_plan *p;
	unsigned nworkers = req->ncpus ? req->ncpus : req->workers;
	int rc;

	if (nworkers == 0)
		return numa_fail(err, errlen, -EINVAL, "no workers to place");
	pl = calloc(1, sizeof(*pl));
	p = calloc(1, sizeof(*p));
	if (!pl || !p) {
		rc = numa_fail(err, errlen, -ENOMEM, "out of memory");
		goto free_plan;
	}
	pl->t = t;
	pl->req = req;
	pl->p = p;
	pl->err = err;
	pl->errlen = errlen;
	p->nnodes = t->nnodes;
	p->ncpus = t->ncpus;
	p->nworkers = nworkers;
	p->nports = req->nports;
	p->workers = calloc(nworkers, sizeof(*p->workers));
	p->ports = calloc(req->nports ? req->nports : 1, sizeof(*p->ports));
	p->worker_queue = calloc((size_t)nworkers * (req->nports ? req->nports
						     : 1), sizeof(int));
	if (!p->workers || !p->ports || !p->worker_queue) {
		rc = numa_fail(err, errlen, -ENOMEM, "out of memory");
		goto free_plan;
	}
	for (size_t i = 0; i < (size_t)nworkers * req->nports; i++)
		p->worker_queue[i] = -1;
	for (int c = 0; c < NUMA_MAX_CPUS; c++) {
		pl->usable[c] = t->cpu_node[c] != NUMA_NO_NODE &&
				allowed(pl, c);
		pl->nusable += pl->usable[c];
	}
	rc = port_setup(pl);
	if (rc)
		goto free_plan;
	rc = req->ncpus ? place_listed(pl) : place_counted(pl);
	if (rc)
		goto free_plan;
	for (unsigned w = 0; w < nworkers; w++) {
		p->workers[w].node = t->cpu_node[p->workers[w].cpu];
		p->workers[w].sibling = t->sibling[p->workers[w].cpu];
	}
	rc = assign_queues(pl);
	if (rc)
		goto free_plan;
	free(pl);
	*out = p;
	return 0;

free_plan:
	free(pl);
	numa_plan_destroy(p);
	return rc;
}

void numa_plan_destroy(struct numa_plan *p)
{
	if (!p)
		return;
	for (unsigned i = 0; p->ports && i < p->nports; i++) {
		free(p->ports[i].addr);
		free(p->ports[i].queue_worker);
	}
	free(p->ports);
	free(p->workers);
	free(p->worker_queue);
	free(p);
}

unsigned numa_plan_workers(const struct numa_plan *p)
{
	return p->nworkers;
}

unsigned numa_plan_ports(const struct numa_plan *p)
{
	return p->nports;
}

int numa_plan_main_cpu(const struct numa_plan *p)
{
	return p->main_cpu;
}

int numa_plan_worker_cpu(const struct numa_plan *p, unsigned w)
{
	return p->workers[w].cpu;
}

int numa_plan_worker_node(const struct numa_plan *p, unsigned w)
{
	return p->workers[w].node;
}

int numa_plan_port_node(const struct numa_plan *p, unsigned port,
			bool *assumed)
{
	if (assumed)
		*assumed = p->ports[port].assumed;
	return p->ports[port].node;
}

unsigned numa_plan_port_queues(const struct numa_plan *p, unsigned port)
{
	return p->ports[port].queues;
}

unsigned numa_plan_queue_worker(const struct numa_plan *p, unsigned port,
				unsigned q)
{
	return p->ports[port].queue_worker[q];
}

int numa_plan_worker_queue(const struct numa_plan *p, unsigned w,
			   unsigned port)
{
	return p->worker_queue[w * p->nports + port];
}

int numa_plan_pool_node(const struct numa_plan *p, unsigned w, int port)
{
	if (port >= 0 && (unsigned)port < p->nports &&
	    p->ports[port].node != NUMA_NO_NODE)
		return p->ports[port].node;
	return p->workers[w].node;
}

int numa_plan_port_pool_node(const struct numa_plan *p, unsigned port)
{
	const struct plan_port *pp = &p->ports[port];

	if (pp->node != NUMA_NO_NODE)
		return pp->node;
	return p->workers[pp->queue_worker[0]].node;
}

/* ---- the printout ---- */

struct writer {
	char *buf;
	size_t len, need;
};

static void put(struct writer *wr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct writer *wr, const char *fmt, ...)
{
	size_t room = wr->need < wr->len ? wr->len - wr->need : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? wr->buf + wr->need : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		wr->need += (size_t)n;
}

size_t numa_plan_format(const struct numa_plan *p, char *buf, size_t len)
{
	struct writer wr = { buf, len, 0 };

	if (buf && len)
		buf[0] = '\0';
	put(&wr, "numa: %u node%s, %u online CPUs; ", p->nnodes,
	    p->nnodes == 1 ? "" : "s", p->ncpus);
	if (p->main_cpu >= 0)
		put(&wr, "main thread on cpu %d (node %d)\n", p->main_cpu,
		    p->main_node);
	else
		put(&wr, "no CPU kept for the main thread\n");
	for (unsigned i = 0; i < p->nports; i++) {
		const struct plan_port *pp = &p->ports[i];

		put(&wr, "port %u: ", i);
		if (pp->addr)
			put(&wr, "%s on node %d%s", pp->addr, pp->node,
			    pp->assumed ? " (assumed: the firmware gives no "
			    "node)" : "");
		else
			put(&wr, "virtual, no node");
		put(&wr, ", %u queue%s, pool on node %d\n", pp->queues,
		    pp->queues == 1 ? "" : "s", numa_plan_port_pool_node(p, i));
	}
	for (unsigned w = 0; w < p->nworkers; w++) {
		const struct plan_worker *pw = &p->workers[w];
		const char *sep = " ";

		put(&wr, "worker %u: cpu %d (node %d%s)", w, pw->cpu, pw->node,
		    pw->sibling ? ", hyper-thread sibling" : "");
		for (unsigned i = 0; i < p->nports; i++) {
			int q = p->worker_queue[w * p->nports + i];

			if (q < 0)
				continue;
			put(&wr, "%sport %u queue %d", sep, i, q);
			sep = ", ";
		}
		put(&wr, "; memory on node %d\n", pw->node);
	}
	return wr.need;
}

int numa_plan_print(const struct numa_plan *p, FILE *f)
{
	size_t need = numa_plan_format(p, NULL, 0);
	char *buf = malloc(need + 1);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	numa_plan_format(p, buf, need + 1);
	if (fwrite(buf, 1, need, f) != need || fflush(f))
		rc = -EIO;
	free(buf);
	return rc;
}
