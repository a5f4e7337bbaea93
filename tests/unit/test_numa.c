/*
 * Unit tests of numa/'s topology reader and placement plan, against fake
 * sysfs trees that each test writes into a fresh temporary directory: two
 * sockets with hyper-threads and a NIC on node 1, a machine without NUMA,
 * a NIC whose firmware gives no node, and the malformed or impossible
 * inputs that must be refused with a message naming the culprit. The
 * real machine's /sys is checked in test_numa_sys.c.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "numa.h"

struct tree {
	char root[64];
	char err[512];
	struct numa_topology *t;
	struct numa_plan *p;
};

/* ---- building trees ---- */

/* Writes root/rel, creating its directories. */
static void put_file(const struct tree *tr, const char *rel,
		     const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tr->root, rel);
	for (char *s = path + strlen(tr->root) + 1; (s = strchr(s, '/'));
	     s++) {
		*s = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*s = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void put_filef(const struct tree *tr, const char *rel,
		      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void put_filef(const struct tree *tr, const char *rel,
		      const char *fmt, ...)
{
	char text[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	put_file(tr, rel, text);
}

static void put_cpu(const struct tree *tr, int cpu, const char *file,
		    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* devices/system/cpu/cpuN/topology/<file> */
static void put_cpu(const struct tree *tr, int cpu, const char *file,
		    const char *fmt, ...)
{
	char rel[128], text[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/topology/%s",
		 cpu, file);
	put_file(tr, rel, text);
}

static void put_pci(const struct tree *tr, const char *addr, int node)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/numa_node", addr);
	put_filef(tr, rel, "%d\n", node);
}

/* Two sockets of 4 cores x 2 threads, siblings numbered next to each
 * other (0 and 1 share a core): node 0 holds 0-7, node 1 holds 8-15, so
 * taking CPUs in number order would put two workers on one core. A NIC
 * at 0000:81:00.0 on node 1, one at 0000:03:00.0 on node 0, and one at
 * 0000:82:00.0 whose firmware gives no node. */
static void build_two_sockets(const struct tree *tr)
{
	put_file(tr, "devices/system/cpu/online", "0-15\n");
	put_file(tr, "devices/system/node/node0/cpulist", "0-7\n");
	put_file(tr, "devices/system/node/node1/cpulist", "8-15\n");
	put_file(tr, "devices/system/node/online", "0-1\n");
	for (int c = 0; c < 16; c++) {
		put_cpu(tr, c, "thread_siblings_list", "%d-%d\n", c & ~1,
			c | 1);
		put_cpu(tr, c, "core_id", "%d\n", c % 8 / 2);
		put_cpu(tr, c, "physical_package_id", "%d\n", c / 8);
	}
	put_pci(tr, "0000:81:00.0", 1);
	put_pci(tr, "0000:03:00.0", 0);
	put_pci(tr, "0000:82:00.0", -1);
}

/* One node without node directories: 2 cores x 2 threads known only by
 * core_id (cpus 2 and 3 are the siblings of 0 and 1). */
static void build_one_node(const struct tree *tr)
{
	put_file(tr, "devices/system/cpu/online", "0-3\n");
	for (int c = 0; c < 4; c++) {
		put_cpu(tr, c, "core_id", "%d\n", c % 2);
		put_cpu(tr, c, "physical_package_id", "0\n");
	}
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct tree *tr = calloc(1, sizeof(*tr));

	if (!tr)
		return -1;
	snprintf(tr->root, sizeof(tr->root), "/tmp/test_numa.XXXXXX");
	if (!mkdtemp(tr->root)) {
		free(tr);
		return -1;
	}
	*state = tr;
	return 0;
}

static int teardown(void **state)
{
	struct tree *tr = *state;

	numa_plan_destroy(tr->p);
	numa_topology_destroy(tr->t);
	nftw(tr->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tr);
	return 0;
}

static void load(struct tree *tr)
{
	int rc = numa_topology_load(tr->root, &tr->t, tr->err,
				    sizeof(tr->err));

	if (rc)
		print_error("load: %s\n", tr->err);
	assert_int_equal(rc, 0);
}

/* Plans req into tr->p (replacing the last plan); returns the result. */
static int plan(struct tree *tr, const struct numa_plan_req *req)
{
	numa_plan_destroy(tr->p);
	tr->p = NULL;
	tr->err[0] = '\0';
	return numa_plan_create(tr->t, req, &tr->p, tr->err, sizeof(tr->err));
}

static void plan_ok(struct tree *tr, const struct numa_plan_req *req)
{
	int rc = plan(tr, req);

	if (rc)
		print_error("plan: %s\n", tr->err);
	assert_int_equal(rc, 0);
}

static void assert_workers_on(const struct tree *tr, const int *cpus,
			      unsigned n)
{
	assert_int_equal(numa_plan_workers(tr->p), n);
	for (unsigned w = 0; w < n; w++) {
		assert_int_equal(numa_plan_worker_cpu(tr->p, w), cpus[w]);
		assert_int_equal(numa_plan_worker_node(tr->p, w),
				 numa_topology_cpu_node(tr->t, cpus[w]));
	}
}

/* A failed plan: the code, and the message names what it should. */
static void assert_refused(struct tree *tr, const struct numa_plan_req *req,
			   int code, const char *needle)
{
	int rc = plan(tr, req);

	assert_int_equal(rc, code);
	assert_null(tr->p);
	if (!strstr(tr->err, needle))
		fail_msg("message \"%s\" lacks \"%s\"", tr->err, needle);
}

static char *format(const struct numa_plan *p)
{
	size_t need = numa_plan_format(p, NULL, 0);
	char *buf = malloc(need + 1);

	assert_non_null(buf);
	assert_int_equal(numa_plan_format(p, buf, need + 1), need);
	assert_int_equal(strlen(buf), need);
	return buf;
}

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("\"%s\" lacks \"%s\"", text, needle);
}

/* ---- cpulists ---- */

static void test_cpulist(void **state)
{
	static const char *bad[] = { "1-", "-1", "a", "1,", ",1", "1,,2",
				     "3-1", "1 ,2", " 1", "1024", "0-1024",
				     "1\n\n", "0x1", "1-2-3", "4-x" };
	int cpus[16], want[] = { 0, 1, 2, 3, 8, 10, 11 };
	char err[128];
	unsigned n;

	(void)state;
	assert_int_equal(numa_cpulist_parse("0-3,8,10-11\n", cpus, 16, &n,
					    err, sizeof(err)), 0);
	assert_int_equal(n, 7);
	assert_memory_equal(cpus, want, sizeof(want));
	assert_int_equal(numa_cpulist_parse("", cpus, 16, &n, err,
					    sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(numa_cpulist_parse("\n", cpus, 16, &n, err,
					    sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(numa_cpulist_parse("5,1,5", cpus, 16, &n, err,
					    sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(cpus[1], 1);
	assert_int_equal(numa_cpulist_parse("1023", cpus, 16, &n, err,
					    sizeof(err)), 0);
	assert_int_equal(cpus[0], 1023);
	assert_int_equal(numa_cpulist_parse("0-16", cpus, 16, &n, err,
					    sizeof(err)), -E2BIG);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (numa_cpulist_parse(bad[i], cpus, 16, &n, err,
				       sizeof(err)) != -EINVAL)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_contains(err, "malformed cpulist");
	}
}

/* ---- (1) two sockets, NIC on node 1 ---- */

static void test_two_sockets_topology(void **state)
{
	struct tree *tr = *state;
	bool assumed = true;
	int node = -5;

	build_two_sockets(tr);
	load(tr);
	assert_int_equal(numa_topology_nodes(tr->t), 2);
	assert_int_equal(numa_topology_node_id(tr->t, 1), 1);
	assert_int_equal(numa_topology_cpus(tr->t), 16);
	assert_int_equal(numa_topology_node_cpus(tr->t, 0), 8);
	assert_int_equal(numa_topology_node_cpus(tr->t, 1), 8);
	assert_int_equal(numa_topology_cpu_node(tr->t, 9), 1);
	assert_int_equal(numa_topology_cpu_node(tr->t, 5), 0);
	assert_int_equal(numa_topology_cpu_node(tr->t, 16), NUMA_NO_NODE);
	assert_false(numa_topology_cpu_is_sibling(tr->t, 8));
	assert_true(numa_topology_cpu_is_sibling(tr->t, 9));
	assert_int_equal(numa_topology_pci_node(tr->t, "0000:81:00.0", &node,
						&assumed, tr->err,
						sizeof(tr->err)), 0);
	assert_int_equal(node, 1);
	assert_false(assumed);
	/* Short and upper-case spellings name the same device. */
	assert_int_equal(numa_topology_pci_node(tr->t, "03:00.0", &node, NULL,
						tr->err, sizeof(tr->err)), 0);
	assert_int_equal(node, 0);
	assert_int_equal(numa_topology_pci_node(tr->t, "0000:81:00.0", &node,
						NULL, NULL, 0), 0);
}

static void test_two_sockets_plan(void **state)
{
	static const int four[] = { 8, 10, 12, 14 };
	static const int six[] = { 8, 10, 12, 14, 9, 11 };
	static const int twelve[] = { 8, 10, 12, 14, 9, 11, 13, 15, 2, 4, 6,
				      1 };
	struct numa_port_req port = { .pci_addr = "0000:81:00.0" };
	struct tree *tr = *state;
	struct numa_plan_req req;
	char *text;

	build_two_sockets(tr);
	load(tr);
	numa_plan_req_init(&req);
	req.ports = &port;
	req.nports = 1;
	req.workers = 4;
	plan_ok(tr, &req);
	/* Node 1's physical cores; the main thread off the NIC's node. */
	assert_workers_on(tr, four, 4);
	assert_int_equal(numa_plan_main_cpu(tr->p), 0);
	assert_int_equal(numa_plan_port_node(tr->p, 0, NULL), 1);
	assert_int_equal(numa_plan_port_queues(tr->p, 0), 4);
	assert_int_equal(numa_plan_port_pool_node(tr->p, 0), 1);
	for (unsigned w = 0; w < 4; w++) {
		assert_int_equal(numa_plan_worker_queue(tr->p, w, 0), (int)w);
		assert_int_equal(numa_plan_queue_worker(tr->p, 0, w), w);
		assert_int_equal(numa_plan_pool_node(tr->p, w, 0), 1);
		assert_int_equal(numa_plan_pool_node(tr->p, w, -1), 1);
	}
	text = format(tr->p);
	assert_contains(text, "main thread on cpu 0 (node 0)\n");
	assert_contains(text, "port 0: 0000:81:00.0 on node 1, 4 queues");
	assert_contains(text, "worker 0: cpu 8 (node 1) port 0 queue 0;");
	assert_contains(text, "worker 3: cpu 14 (node 1) port 0 queue 3;");
	free(text);

	/* Then node 1's hyper-threads, before node 0. */
	req.workers = 6;
	plan_ok(tr, &req);
	assert_workers_on(tr, six, 6);
	text = format(tr->p);
	assert_contains(text, "worker 4: cpu 9 (node 1, hyper-thread "
			"sibling) port 0 queue 4;");
	free(text);

	/* Spilling to node 0: its cores, then its siblings; pools feeding
	 * the port stay on the port's node, the rest on the worker's. */
	req.workers = 12;
	plan_ok(tr, &req);
	assert_workers_on(tr, twelve, 12);
	assert_int_equal(numa_plan_pool_node(tr->p, 8, 0), 1);
	assert_int_equal(numa_plan_pool_node(tr->p, 8, -1), 0);

	/* Strict placement refuses to spill. */
	req.workers = 9;
	req.strict = true;
	assert_refused(tr, &req, -EINVAL, "9 workers but only 8 usable CPUs "
		       "on node 1");
	req.workers = 8;
	plan_ok(tr, &req);
	/* Every CPU of the machine except the main one. */
	req.strict = false;
	req.workers = 15;
	plan_ok(tr, &req);
	req.workers = 16;
	assert_refused(tr, &req, -EINVAL, "16 workers but only 15 usable");
	req.main = NUMA_MAIN_SHARE;
	plan_ok(tr, &req);
	assert_int_equal(numa_plan_main_cpu(tr->p), -1);
}

/* Ports on both nodes: workers alternate between them, and a port with
 * fewer queues than workers is served by the workers on its node. */
static void test_two_sockets_two_ports(void **state)
{
	static const int cpus[] = { 2, 8, 4, 10 };
	struct numa_port_req ports[3] = {
		{ .pci_addr = "0000:81:00.0" },
		{ .pci_addr = "0000:03:00.0", .queues = 2 },
		{ .pci_addr = NULL, .queues = 1 },
	};
	struct tree *tr = *state;
	struct numa_plan_req req;
	char *text;

	build_two_sockets(tr);
	load(tr);
	numa_plan_req_init(&req);
	req.ports = ports;
	req.nports = 3;
	req.workers = 4;
	plan_ok(tr, &req);
	assert_workers_on(tr, cpus, 4);
	/* No CPU is off the ports' nodes: the lowest one is the main's. */
	assert_int_equal(numa_plan_main_cpu(tr->p), 0);
	assert_int_equal(numa_plan_port_queues(tr->p, 1), 2);
	assert_int_equal(numa_plan_queue_worker(tr->p, 1, 0), 0);
	assert_int_equal(numa_plan_queue_worker(tr->p, 1, 1), 2);
	assert_int_equal(numa_plan_worker_queue(tr->p, 1, 1), -1);
	assert_int_equal(numa_plan_worker_queue(tr->p, 2, 1), 1);
	assert_int_equal(numa_plan_pool_node(tr->p, 1, 1), 0);
	/* The virtual port has no node; its one queue goes to a worker
	 * that serves only two (worker 1), its pool to that worker's node. */
	assert_int_equal(numa_plan_port_node(tr->p, 2, NULL), NUMA_NO_NODE);
	assert_int_equal(numa_plan_queue_worker(tr->p, 2, 0), 1);
	assert_int_equal(numa_plan_port_pool_node(tr->p, 2), 1);
	assert_int_equal(numa_plan_pool_node(tr->p, 3, 2), 1);
	text = format(tr->p);
	assert_contains(text, "port 2: virtual, no node, 1 queue, pool on "
			"node 1\n");
	assert_contains(text, "worker 1: cpu 8 (node 1) port 0 queue 1, "
			"port 2 queue 0;");
	free(text);

	/* More queues than workers. */
	ports[1].queues = 5;
	assert_refused(tr, &req, -EINVAL, "port 1 asks for 5 queues");
}

/* ---- (2) one node, no node directories ---- */

static void test_one_node(void **state)
{
	static const int two[] = { 1, 2 };
	struct numa_port_req port = { .pci_addr = NULL };
	struct tree *tr = *state;
	struct numa_plan_req req;
	cpu_set_t allowed;

	build_one_node(tr);
	load(tr);
	assert_int_equal(numa_topology_nodes(tr->t), 1);
	assert_int_equal(numa_topology_node_id(tr->t, 0), 0);
	assert_int_equal(numa_topology_node_cpus(tr->t, 0), 4);
	for (int c = 0; c < 4; c++)
		assert_int_equal(numa_topology_cpu_node(tr->t, c), 0);
	/* Siblings by equal core_id. */
	assert_false(numa_topology_cpu_is_sibling(tr->t, 1));
	assert_true(numa_topology_cpu_is_sibling(tr->t, 2));
	numa_plan_req_init(&req);
	req.workers = 2;
	req.ports = &port;
	req.nports = 1;
	plan_ok(tr, &req);
	assert_workers_on(tr, two, 2);
	assert_int_equal(numa_plan_main_cpu(tr->p), 0);
	assert_int_equal(numa_plan_pool_node(tr->p, 1, 0), 0);
	assert_int_equal(numa_plan_port_pool_node(tr->p, 0), 0);

	/* Only the allowed CPUs: 2 and 3 left, one for the main thread. */
	CPU_ZERO(&allowed);
	CPU_SET(2, &allowed);
	CPU_SET(3, &allowed);
	req.allowed = &allowed;
	assert_refused(tr, &req, -EINVAL, "2 workers but only 1 usable CPUs "
		       "once one is kept for the main thread");
	req.main = NUMA_MAIN_SHARE;
	plan_ok(tr, &req);
	assert_int_equal(numa_plan_worker_cpu(tr->p, 0), 2);
	assert_int_equal(numa_plan_worker_cpu(tr->p, 1), 3);
}

/* Without sibling files every CPU is a core; one CPU keeps no main. */
static void test_bare_tree(void **state)
{
	struct tree *tr = *state;
	struct numa_plan_req req;

	put_file(tr, "devices/system/cpu/online", "0\n");
	load(tr);
	assert_false(numa_topology_cpu_is_sibling(tr->t, 0));
	numa_plan_req_init(&req);
	req.workers = 1;
	plan_ok(tr, &req);
	assert_int_equal(numa_plan_main_cpu(tr->p), -1);
	assert_int_equal(numa_plan_worker_cpu(tr->p, 0), 0);
	req.main = NUMA_MAIN_KEEP;
	assert_refused(tr, &req, -EINVAL, "1 workers but only 0 usable");
}

/* ---- (3) a NIC without a node ---- */

static void test_nic_without_node(void **state)
{
	struct numa_port_req port = { .pci_addr = "0000:82:00.0" };
	struct tree *tr = *state;
	struct numa_plan_req req;
	bool assumed = false;
	char *text;

	build_two_sockets(tr);
	load(tr);
	numa_plan_req_init(&req);
	req.ports = &port;
	req.nports = 1;
	req.workers = 2;
	plan_ok(tr, &req);
	assert_int_equal(numa_plan_port_node(tr->p, 0, &assumed), 0);
	assert_true(assumed);
	/* Node 0 stands in: workers on its cores, the main off it. */
	assert_int_equal(numa_plan_worker_cpu(tr->p, 0), 0);
	assert_int_equal(numa_plan_worker_cpu(tr->p, 1), 2);
	assert_int_equal(numa_plan_main_cpu(tr->p), 8);
	text = format(tr->p);
	assert_contains(text, "port 0: 0000:82:00.0 on node 0 (assumed: the "
			"firmware gives no node)");
	free(text);
}

/* ---- (4) what is refused ---- */

static void test_plan_errors(void **state)
{
	static const int unknown[] = { 1, 9 }, twice[] = { 1, 2, 1 };
	static const int listed[] = { 3, 1 };
	struct numa_port_req port = { .pci_addr = "0000:81:00.0" };
	struct tree *tr = *state;
	struct numa_plan_req req;

	build_one_node(tr);
	load(tr);
	numa_plan_req_init(&req);
	assert_refused(tr, &req, -EINVAL, "no workers");
	req.workers = 5;
	assert_refused(tr, &req, -EINVAL, "5 workers but only 3 usable");
	req.cpus = unknown;
	req.ncpus = 2;
	assert_refused(tr, &req, -EINVAL, "cpu 9 in the list is unknown or "
		       "offline");
	req.cpus = twice;
	req.ncpus = 3;
	assert_refused(tr, &req, -EINVAL, "cpu 1 is listed twice");
	/* A listed plan keeps the list's order; the main thread gets the
	 * lowest CPU left over. */
	req.cpus = listed;
	req.ncpus = 2;
	plan_ok(tr, &req);
	assert_int_equal(numa_plan_workers(tr->p), 2);
	assert_int_equal(numa_plan_worker_cpu(tr->p, 0), 3);
	assert_int_equal(numa_plan_worker_cpu(tr->p, 1), 1);
	assert_int_equal(numa_plan_main_cpu(tr->p), 0);
	req.ports = &port;
	req.nports = 1;
	assert_refused(tr, &req, -ENOENT, "port 0: no PCI device "
		       "0000:81:00.0");
	port.pci_addr = "0000:81:00";
	assert_refused(tr, &req, -EINVAL, "port 0: bad PCI address");
	port.pci_addr = "../../../etc";
	assert_refused(tr, &req, -EINVAL, "bad PCI address");
}

/* Listed CPUs that are offline, outside the allowed set, off the port's
 * node under strict placement, or that leave no CPU for the main. */
static void test_listed_errors(void **state)
{
	static const int offline[] = { 3 }, negative[] = { -1 };
	static const int all[] = { 0, 1, 2 }, mixed[] = { 8, 2 };
	struct numa_port_req port = { .pci_addr = "0000:81:00.0" };
	struct tree *tr = *state;
	struct numa_plan_req req;
	cpu_set_t allowed;

	build_two_sockets(tr);
	put_file(tr, "devices/system/cpu/online", "0-2,4-15\n");
	load(tr);
	assert_int_equal(numa_topology_cpus(tr->t), 15);
	assert_int_equal(numa_topology_node_cpus(tr->t, 0), 7);
	numa_plan_req_init(&req);
	req.cpus = offline;
	req.ncpus = 1;
	assert_refused(tr, &req, -EINVAL, "cpu 3 in the list is unknown or "
		       "offline");
	req.cpus = negative;
	assert_refused(tr, &req, -EINVAL, "cpu -1 in the list is not a CPU "
		       "number");
	CPU_ZERO(&allowed);
	for (int c = 0; c < 3; c++)
		CPU_SET(c, &allowed);
	req.allowed = &allowed;
	req.cpus = all;
	req.ncpus = 3;
	req.main = NUMA_MAIN_KEEP;
	assert_refused(tr, &req, -EINVAL, "no CPU left for the main thread");
	/* AUTO accepts a list that takes every CPU: no main is kept. */
	req.main = NUMA_MAIN_AUTO;
	plan_ok(tr, &req);
	assert_int_equal(numa_plan_main_cpu(tr->p), -1);
	req.cpus = mixed;
	req.ncpus = 2;
	assert_refused(tr, &req, -EINVAL, "cpu 8 in the list is outside the "
		       "CPUs this process may use");
	req.allowed = NULL;
	req.ports = &port;
	req.nports = 1;
	req.strict = true;
	assert_refused(tr, &req, -EINVAL, "cpu 2 is on node 0, which has no "
		       "port (strict placement)");
	req.strict = false;
	plan_ok(tr, &req);
	/* The main thread goes to the lowest CPU left off the port's node. */
	assert_int_equal(numa_plan_main_cpu(tr->p), 0);
	assert_int_equal(numa_plan_worker_node(tr->p, 1), 0);
	assert_int_equal(numa_plan_pool_node(tr->p, 1, 0), 1);
}

static void assert_load_fails(struct tree *tr, int code, const char *needle)
{
	int rc = numa_topology_load(tr->root, &tr->t, tr->err,
				    sizeof(tr->err));

	assert_int_equal(rc, code);
	assert_null(tr->t);
	if (!strstr(tr->err, needle))
		fail_msg("message \"%s\" lacks \"%s\"", tr->err, needle);
}

static void test_malformed_node_cpulist(void **state)
{
	struct tree *tr = *state;
	char path[PATH_MAX];

	build_two_sockets(tr);
	put_file(tr, "devices/system/node/node1/cpulist", "8-11,12-x\n");
	snprintf(path, sizeof(path), "%s/devices/system/node/node1/cpulist: "
		 "malformed cpulist: bad item \"12-x\"", tr->root);
	assert_load_fails(tr, -EINVAL, path);
}

static void test_malformed_files(void **state)
{
	struct tree *tr = *state;

	build_two_sockets(tr);
	put_file(tr, "devices/system/cpu/online", "0-15,\n");
	assert_load_fails(tr, -EINVAL, "devices/system/cpu/online: malformed");
	put_file(tr, "devices/system/cpu/online", "0-15\n");
	put_cpu(tr, 3, "thread_siblings_list", "3;11\n");
	assert_load_fails(tr, -EINVAL,
			  "cpu/cpu3/topology/thread_siblings_list");
	put_cpu(tr, 3, "thread_siblings_list", "3,11\n");
	put_file(tr, "devices/system/node/node0/cpulist", "0-8\n");
	assert_load_fails(tr, -EINVAL, "node/node1/cpulist: cpu 8 is also "
			  "in node0");
	put_file(tr, "devices/system/node/node0/cpulist", "0-2,4-7\n");
	assert_load_fails(tr, -EINVAL, "online cpu 3 is in no node");
}

static void test_bad_numa_node_file(void **state)
{
	struct tree *tr = *state;
	int node;

	build_two_sockets(tr);
	put_file(tr, "bus/pci/devices/0000:05:00.0/numa_node", "one\n");
	put_pci(tr, "0000:06:00.0", 3);
	load(tr);
	assert_int_equal(numa_topology_pci_node(tr->t, "0000:05:00.0", &node,
						NULL, tr->err,
						sizeof(tr->err)), -EINVAL);
	assert_contains(tr->err, "0000:05:00.0/numa_node: not an integer");
	assert_int_equal(numa_topology_pci_node(tr->t, "0000:06:00.0", &node,
						NULL, tr->err,
						sizeof(tr->err)), -EINVAL);
	assert_contains(tr->err, "node 3 is not one of the machine's nodes");
}

static void test_missing_root(void **state)
{
	struct tree *tr = *state;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/nothing", tr->root);
	assert_int_equal(numa_topology_load(path, &tr->t, tr->err,
					    sizeof(tr->err)), -ENOENT);
	assert_contains(tr->err, path);
	/* A root without the online list. */
	assert_load_fails(tr, -ENOENT, "devices/system/cpu/online: No such "
			  "file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpulist),
		cmocka_unit_test_setup_teardown(test_two_sockets_topology,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_sockets_plan, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_two_sockets_two_ports,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_node, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bare_tree, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_nic_without_node, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plan_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_listed_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_malformed_node_cpulist,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_numa_node_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_root, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
