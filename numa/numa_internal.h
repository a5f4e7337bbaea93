/*
 * What the topology reader and the planner share inside numa/: the
 * topology's layout and the error-message helper. Never included outside
 * this folder.
 */
#ifndef CORECACHE_NUMA_INTERNAL_H
#define CORECACHE_NUMA_INTERNAL_H

#include "numa.h"

struct numa_topology {
	char *root;                      /* sysfs root, for PCI look-ups */
	unsigned ncpus;                  /* online CPUs */
	unsigned nnodes;
	int node_ids[NUMA_MAX_CPUS];     /* ascending, nnodes of them */
	int cpu_node[NUMA_MAX_CPUS];     /* NUMA_NO_NODE: offline */
	bool sibling[NUMA_MAX_CPUS];     /* not the first thread of its core */
};

/* Writes a formatted message into err (if any) and returns code. */
int numa_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
