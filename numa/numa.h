/*
 * NUMA placement for corecache: the machine's topology read from sysfs,
 * a placement plan (which CPU each worker runs on, which worker serves
 * which queue of which port, which node each pool's memory comes from),
 * thread pinning and node-local memory.
 *
 * The plan is computed once at start-up by the control thread and then
 * only read: the DPDK dataplane asks it which lcore serves (port, queue)
 * and where each port's mbuf pool goes; the io_uring server asks it where
 * each worker runs. Nothing here starts a thread or touches the hot path.
 *
 * Consumers include this header as "numa.h" and build with _GNU_SOURCE
 * (cpu_set_t); it shadows libnuma's header of the same name on their
 * include path, which is deliberate: libnuma is used only inside this
 * module.
 *
 * Threads: a topology and a plan are immutable once created, so any
 * thread may read them concurrently; create and destroy them from one
 * thread. Pinning and the memory functions are thread-safe.
 *
 * Errors: functions return 0 or a negative errno value and never set
 * errno. Those that read sysfs or check a request also write a one-line
 * message into the caller's buffer (err, errlen; may be NULL, 0), naming
 * the file or the CPU at fault.
 */
#ifndef CORECACHE_NUMA_H
#define CORECACHE_NUMA_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* CPU numbers are below this (the size of a cpu_set_t), node numbers too. */
#define NUMA_MAX_CPUS CPU_SETSIZE

/* "No node": a virtual port, or an unknown CPU. */
#define NUMA_NO_NODE (-1)

/* ---- cpulists ---- */

/* Parses a Linux cpulist ("0-3,8,10-11", as in sysfs and taskset -c),
 * strictly: decimal numbers below NUMA_MAX_CPUS, ranges low-high with
 * low <= high, separated by single commas, no spaces; one trailing
 * newline is allowed (sysfs files end in one). The empty string is the
 * empty list. CPUs are written to cpus[] in the order given, ranges
 * expanded, duplicates kept (the plan reports them); *n gets their
 * number. Errors: -EINVAL (syntax, with the offending text in err),
 * -E2BIG (more than max CPUs). */
int numa_cpulist_parse(const char *s, int *cpus, unsigned max, unsigned *n,
		       char *err, size_t errlen);

/* ---- topology ---- */

struct numa_topology;

/* Reads the topology under root (NULL: "/sys"; tests give a fake tree):
 * online CPUs (devices/system/cpu/online), nodes
 * (devices/system/node/nodeN/cpulist) and hyper-thread siblings
 * (devices/system/cpu/cpuN/topology/thread_siblings_list, else
 * core_id and physical_package_id; without either, every CPU is a core
 * of its own). Without node directories the machine is one node, 0,
 * holding every online CPU. Offline CPUs are ignored.
 * Errors: -ENOENT (root or the online list missing), -EINVAL (a
 * malformed file, or an online CPU in no node or in two), -ENOMEM; err
 * names the file. */
int numa_topology_load(const char *root, struct numa_topology **out,
		       char *err, size_t errlen);

void numa_topology_destroy(struct numa_topology *t);

/* Number of nodes, and the i-th node's number (ascending; i < nodes). */
unsigned numa_topology_nodes(const struct numa_topology *t);
int numa_topology_node_id(const struct numa_topology *t, unsigned i);

/* Online CPUs of the machine, or of one node (0 for an unknown node). */
unsigned numa_topology_cpus(const struct numa_topology *t);
unsigned numa_topology_node_cpus(const struct numa_topology *t, int node);

/* The node of an online CPU, NUMA_NO_NODE for any other number. */
int numa_topology_cpu_node(const struct numa_topology *t, int cpu);

/* Whether an online CPU is a hyper-thread sibling, i.e. not the first
 * online thread of its core. False for any other number. */
bool numa_topology_cpu_is_sibling(const struct numa_topology *t, int cpu);

/* The node of a PCI device, from bus/pci/devices/<addr>/numa_node under
 * the topology's root. addr is "DDDD:BB:DD.F" or "BB:DD.F" (domain 0),
 * hex. Firmware that gives no node (-1) yields node 0 with *assumed set
 * (assumed may be NULL). Errors: -EINVAL (bad address, malformed file),
 * -ENOENT (no such device); err says which. */
int numa_topology_pci_node(const struct numa_topology *t, const char *addr,
			   int *node, bool *assumed, char *err,
			   size_t errlen);

/* ---- placement plan ---- */

/* Whether one CPU is left free of workers for the main (control) thread. */
enum numa_main {
	NUMA_MAIN_AUTO,   /* keep one free when there are >= 2 usable CPUs;
			     with an explicit list, when one is left over */
	NUMA_MAIN_KEEP,   /* keep one free; an error if none is left */
	NUMA_MAIN_SHARE,  /* workers may take every CPU; no main CPU */
};

struct numa_port_req {
	const char *pci_addr;  /* NULL: a virtual device, on no node */
	unsigned queues;       /* workers serving it, one queue each;
				  0: every worker */
};

struct numa_plan_req {
	/* Either a number of workers, placed by the plan ... */
	unsigned workers;
	/* ... or, when ncpus > 0, one worker per listed CPU, in this order
	 * (workers is then ignored). */
	const int *cpus;
	unsigned ncpus;
	/* CPUs the plan may use; NULL: every online CPU. The io_uring
	 * server gives the process's affinity mask. */
	const cpu_set_t *allowed;
	const struct numa_port_req *ports;
	unsigned nports;
	enum numa_main main;
	/* Every worker on a node that has a port (when any port has a
	 * node): too few CPUs there is an error, not a spill to other
	 * nodes. */
	bool strict;
};

/* Zeroes req: no workers, no ports, NUMA_MAIN_AUTO, not strict. */
void numa_plan_req_init(struct numa_plan_req *req);

struct numa_plan;

/* Places the workers. Without an explicit list, CPUs are taken in this
 * order: physical cores (first threads) on the ports' nodes, then their
 * hyper-thread siblings, then physical cores of the other nodes, then
 * their siblings; nodes take turns within each step, lowest CPU first.
 * The main CPU is the lowest usable CPU off the ports' nodes (else the
 * lowest usable one). Each port's queues go to the workers on its node
 * first, then to those serving the fewest queues, lowest worker first;
 * queue indexes follow worker order.
 * Errors (-EINVAL, message in err): no workers, more workers than usable
 * CPUs (on the ports' nodes when strict), a listed CPU unknown, offline,
 * not allowed, or listed twice, a port asking more queues than there are
 * workers, a bad PCI address; -ENOENT: no such PCI device; -ENOMEM. */
int numa_plan_create(const struct numa_topology *t,
		     const struct numa_plan_req *req, struct numa_plan **out,
		     char *err, size_t errlen);

void numa_plan_destroy(struct numa_plan *p);

unsigned numa_plan_workers(const struct numa_plan *p);
unsigned numa_plan_ports(const struct numa_plan *p);

/* The main thread's CPU, -1 when none is kept free. */
int numa_plan_main_cpu(const struct numa_plan *p);

/* Worker w's CPU (the DPDK lcore number) and node; w < workers. */
int numa_plan_worker_cpu(const struct numa_plan *p, unsigned w);
int numa_plan_worker_node(const struct numa_plan *p, unsigned w);

/* Port's node (NUMA_NO_NODE for a virtual port); *assumed set when the
 * firmware gave none and node 0 stands in (assumed may be NULL). */
int numa_plan_port_node(const struct numa_plan *p, unsigned port,
			bool *assumed);

/* Port's queue count, and the worker serving each queue (q < queues). */
unsigned numa_plan_port_queues(const struct numa_plan *p, unsigned port);
unsigned numa_plan_queue_worker(const struct numa_plan *p, unsigned port,
				unsigned q);

/* The queue of port that worker w serves, -1 when it serves none. */
int numa_plan_worker_queue(const struct numa_plan *p, unsigned w,
			   unsigned port);

/* The node a worker's pool should come from: for a pool feeding port
 * (an mbuf pool), the port's node; for port < 0 (its segment pool) or a
 * virtual port, the worker's node. */
int numa_plan_pool_node(const struct numa_plan *p, unsigned w, int port);

/* The node of one pool shared by all of port's queues: the port's node,
 * else the node of the worker serving queue 0. */
int numa_plan_port_pool_node(const struct numa_plan *p, unsigned port);

/* Writes the plan as readable lines ("worker 0: cpu 2 (node 1) port 0
 * queue 0"), NUL-terminated and cut to len like snprintf; returns the
 * length the whole text needs. */
size_t numa_plan_format(const struct numa_plan *p, char *buf, size_t len);

/* Prints the same text to f. Returns 0 or -EIO. */
int numa_plan_print(const struct numa_plan *p, FILE *f);

/* ---- pinning ---- */

/* Restricts a thread (the caller for _self; the threads an attribute
 * creates for _attr, from their first instruction) to one CPU.
 * Errors: -EINVAL (cpu out of range, or one the kernel will not run the
 * thread on), the other errors of pthread_setaffinity_np. */
int numa_pin_thread(pthread_t thread, int cpu);
int numa_pin_self(int cpu);
int numa_pin_attr(pthread_attr_t *attr, int cpu);

/* ---- node-local memory ---- */

/* Allocates size bytes (page-aligned, zeroed) bound to node through
 * libnuma (NUMA_NO_NODE: the default policy). Where libnuma finds no NUMA
 * (numa_available() < 0) the pages are plain and only node 0 exists, as
 * on a one-node machine. Release with numa_mem_free and the same size.
 * Errors: -EINVAL (size 0, or node not on the machine), -ENOMEM. */
int numa_mem_alloc(size_t size, int node, void **out);
void numa_mem_free(void *ptr, size_t size);

#endif
