/*
 * Pinning threads to CPUs and allocating memory on a node.
 *
 * Node-local memory comes from libnuma, which binds a mapping's pages to
 * the node whichever thread first touches them, so a control thread can
 * prepare a worker's state before the worker runs. Where libnuma finds no
 * NUMA (a kernel without it, a container that forbids the memory policy
 * calls), plain pages are used and every node number but 0 is refused,
 * as on a one-node machine: the caller never needs a second code path.
 *
 * This file includes both headers named numa.h: "numa.h" (ours, found
 * next to this file) and <numa.h> (libnuma's, found on the system path;
 * the library is built without its own folder on the include path for
 * that reason).
 */
#include <errno.h>
#include <numa.h>
#include <sys/mman.h>

#include "numa.h"

static int one_cpu(int cpu, cpu_set_t *set)
{
	if (cpu < 0 || cpu >= NUMA_MAX_CPUS)
		return -EINVAL;
	CPU_ZERO(set);
	CPU_SET(cpu, set);
	return 0;
}

int numa_pin_thread(pthread_t thread, int cpu)
{
	cpu_set_t set;
	int rc = one_cpu(cpu, &set);

	return rc ? rc : -pthread_setaffinity_np(thread, sizeof(set), &set);
}

int numa_pin_self(int cpu)
{
	return numa_pin_thread(pthread_self(), cpu);
}

int numa_pin_attr(pthread_attr_t *attr, int cpu)
{
	cpu_set_t set;
	int rc = one_cpu(cpu, &set);

	return rc ? rc : -pthread_attr_setaffinity_np(attr, sizeof(set), &set);
}

/* Whether to bind through libnuma, and the highest node; decided once. */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static bool use_libnuma;
static int max_node;

static void probe(void)
{
	if (numa_available() < 0)
		return;
	max_node = numa_max_node();
	use_libnuma = true;
}

int numa_mem_alloc(size_t size, int node, void **out)
{
	void *p;

	pthread_once(&probe_once, probe);
	if (size == 0 || node < NUMA_NO_NODE || node > max_node)
		return -EINVAL;
	if (use_libnuma) {
		p = node == NUMA_NO_NODE ? numa_alloc(size) :
		    numa_alloc_onnode(size, node);
		if (!p)
			return -ENOMEM;
	} else {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -ENOMEM;
	}
	*out = p;
	return 0;
}

void numa_mem_free(void *ptr, size_t size)
{
	if (!ptr)
		return;
	pthread_once(&probe_once, probe);
	if (use_libnuma)
		numa_free(ptr, size);
	else
		munmap(ptr, size);
}
