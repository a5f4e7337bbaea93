/*
 * Unit tests of numa/ against the machine it runs on: the topology read
 * from the real /sys must agree with the kernel's own answer (getcpu()
 * on a thread pinned to each CPU), a plan over every CPU this process
 * may use must place one worker per CPU, pinned threads must run where
 * they were pinned, and node-local memory must be usable on every node.
 * Only consistency is checked: the machine's shape is not known here.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <numaif.h>

#include "numa.h"

static struct numa_topology *load_real(void)
{
	struct numa_topology *t = NULL;
	char err[512];
	int rc = numa_topology_load(NULL, &t, err, sizeof(err));

	if (rc)
		fail_msg("loading /sys: %s", err);
	return t;
}

static void affinity(cpu_set_t *set)
{
	assert_int_equal(sched_getaffinity(0, sizeof(*set), set), 0);
}

/* Every online CPU is in exactly one of the listed nodes, and the kernel
 * agrees on which: a thread pinned there asks getcpu(). */
static void test_real_topology(void **state)
{
	struct numa_topology *t = load_real();
	unsigned nodes = numa_topology_nodes(t), sum = 0, seen = 0;
	cpu_set_t set;

	(void)state;
	assert_int_equal(numa_topology_cpus(t),
			 (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	assert_true(nodes >= 1);
	for (unsigned i = 0; i < nodes; i++) {
		if (i > 0)
			assert_true(numa_topology_node_id(t, i) >
				    numa_topology_node_id(t, i - 1));
		sum += numa_topology_node_cpus(t, numa_topology_node_id(t, i));
	}
	assert_int_equal(sum, numa_topology_cpus(t));
	for (int c = 0; c < NUMA_MAX_CPUS; c++) {
		int node = numa_topology_cpu_node(t, c);
		unsigned in = 0;

		if (node == NUMA_NO_NODE)
			continue;
		seen++;
		for (unsigned i = 0; i < nodes; i++)
			in += numa_topology_node_id(t, i) == node;
		assert_int_equal(in, 1);
	}
	assert_int_equal(seen, numa_topology_cpus(t));

	affinity(&set);
	for (int c = 0; c < NUMA_MAX_CPUS; c++) {
		unsigned cpu, node;

		if (!CPU_ISSET(c, &set))
			continue;
		assert_int_equal(numa_pin_self(c), 0);
		assert_int_equal(getcpu(&cpu, &node), 0);
		assert_int_equal(cpu, (unsigned)c);
		assert_int_equal((int)node, numa_topology_cpu_node(t, c));
	}
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
	numa_topology_destroy(t);
}

static void *report_cpu(void *arg)
{
	*(int *)arg = sched_getcpu();
	return NULL;
}

/* One worker per usable CPU, each pinned (through an attribute, as the
 * io_uring server does) and found running there. */
static void test_real_plan_and_pin(void **state)
{
	struct numa_topology *t = load_real();
	struct numa_plan *p = NULL;
	struct numa_plan_req req;
	bool used[NUMA_MAX_CPUS] = { false };
	char err[512], *text;
	cpu_set_t set;
	size_t need;

	(void)state;
	affinity(&set);
	numa_plan_req_init(&req);
	req.workers = (unsigned)CPU_COUNT(&set);
	req.allowed = &set;
	req.main = NUMA_MAIN_SHARE;
	if (numa_plan_create(t, &req, &p, err, sizeof(err)))
		fail_msg("plan: %s", err);
	for (unsigned w = 0; w < numa_plan_workers(p); w++) {
		int cpu = numa_plan_worker_cpu(p, w), ran = -1;
		pthread_attr_t attr;
		pthread_t th;

		assert_true(CPU_ISSET(cpu, &set));
		assert_false(used[cpu]);
		used[cpu] = true;
		assert_int_equal(numa_plan_worker_node(p, w),
				 numa_topology_cpu_node(t, cpu));
		assert_int_equal(pthread_attr_init(&attr), 0);
		assert_int_equal(numa_pin_attr(&attr, cpu), 0);
		assert_int_equal(pthread_create(&th, &attr, report_cpu, &ran),
				 0);
		assert_int_equal(pthread_join(th, NULL), 0);
		pthread_attr_destroy(&attr);
		assert_int_equal(ran, cpu);
	}
	need = numa_plan_format(p, NULL, 0);
	text = malloc(need + 1);
	assert_non_null(text);
	numa_plan_format(p, text, need + 1);
	assert_non_null(strstr(text, "worker 0: cpu "));
	free(text);
	/* One worker more than the CPUs is refused. */
	numa_plan_destroy(p);
	p = NULL;
	req.workers++;
	assert_int_equal(numa_plan_create(t, &req, &p, err, sizeof(err)),
			 -EINVAL);
	assert_null(p);
	numa_topology_destroy(t);
}

static void test_pin_errors(void **state)
{
	struct numa_topology *t = load_real();
	int offline = -1;

	(void)state;
	assert_int_equal(numa_pin_self(-1), -EINVAL);
	assert_int_equal(numa_pin_self(NUMA_MAX_CPUS), -EINVAL);
	assert_int_equal(numa_pin_thread(pthread_self(), -2), -EINVAL);
	for (int c = 0; c < NUMA_MAX_CPUS && offline < 0; c++)
		if (numa_topology_cpu_node(t, c) == NUMA_NO_NODE)
			offline = c;
	/* The kernel refuses a CPU that is not online. */
	if (offline >= 0)
		assert_int_equal(numa_pin_self(offline), -EINVAL);
	numa_topology_destroy(t);
}

/* Memory on each node (and on none) is zeroed and writable. */
static void test_node_memory(void **state)
{
	struct numa_topology *t = load_real();
	size_t size = 1u << 20;
	unsigned checked = 0;
	void *p;

	(void)state;
	for (int i = -1; i < (int)numa_topology_nodes(t); i++) {
		int node = i < 0 ? NUMA_NO_NODE : numa_topology_node_id(t, i);
		unsigned char *b;
		int where = -1;

		assert_int_equal(numa_mem_alloc(size, node, &p), 0);
		b = p;
		assert_int_equal(b[0] | b[size - 1], 0);
		memset(b, 0xa5, size);
		assert_int_equal(b[size / 2], 0xa5);
		/* The kernel says where the touched pages are, when it has
		 * NUMA memory policies at all. */
		if (node != NUMA_NO_NODE &&
		    get_mempolicy(&where, NULL, 0, b + size / 2,
				  MPOL_F_NODE | MPOL_F_ADDR) == 0) {
			assert_int_equal(where, node);
			checked++;
		}
		numa_mem_free(p, size);
	}
	assert_int_equal(numa_mem_alloc(0, 0, &p), -EINVAL);
	assert_int_equal(numa_mem_alloc(size, NUMA_MAX_CPUS, &p), -EINVAL);
	assert_int_equal(numa_mem_alloc(size, -2, &p), -EINVAL);
	numa_mem_free(NULL, size);
	print_message("%u of %u nodes' memory placement checked with "
		      "get_mempolicy\n", checked, numa_topology_nodes(t));
	numa_topology_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_topology),
		cmocka_unit_test(test_real_plan_and_pin),
		cmocka_unit_test(test_pin_errors),
		cmocka_unit_test(test_node_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
