/*
 * The machine's topology, read from sysfs under a root that tests point at
 * a fake tree: which CPUs are online, which node each belongs to, which
 * are hyper-thread siblings, and the node of a PCI device.
 *
 * Everything is read once, at load, except PCI devices, which are looked
 * up on demand because only the caller knows which ports it uses. A file
 * that exists but does not parse is an error naming it, never a guess:
 * a placement built on a misread topology would be silently slow. The
 * absent pieces have documented meanings instead (no node directories:
 * one node; no sibling information: every CPU a core of its own).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "numa_internal.h"

#define TEXT_MAX 16384   /* a cpulist of 1024 CPUs, one by one, fits */
#define MSG_MAX 256

int numa_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- cpulists ---- */

/* One CPU number: decimal digits, below NUMA_MAX_CPUS. */
static bool parse_cpu(const char **pp, int *out)
{
	const char *p = *pp;
	int v = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v >= NUMA_MAX_CPUS)
			return false;
	}
	*pp = p;
	*out = v;
	return true;
}

static bool at_end(const char *p)
{
	return *p == '\0' || (*p == '\n' && p[1] == '\0');
}

/* The item at p, up to its comma, for a message. */
static int bad_item(const char *p, char *err, size_t errlen)
{
	int len = (int)strcspn(p, ",\n");

	if (len == 0)
		return numa_fail(err, errlen, -EINVAL,
				 "malformed cpulist: empty item");
	return numa_fail(err, errlen, -EINVAL,
			 "malformed cpulist: bad item \"%.*s\"",
			 len > 32 ? 32 : len, p);
}

int numa_cpulist_parse(const char *s, int *cpus, unsigned max, unsigned *n,
		       char *err, size_t errlen)
{
	const char *p = s;
	unsigned count = 0;

	*n = 0;
	if (at_end(p))
		return 0;
	for (;;) {
		const char *item = p;
		int lo, hi;

		if (!parse_cpu(&p, &lo))
			return bad_item(item, err, errlen);
		hi = lo;
		if (*p == '-') {
			p++;
			if (!parse_cpu(&p, &hi) || hi < lo)
				return bad_item(item, err, errlen);
		}
		if (*p != ',' && !at_end(p))
			return bad_item(item, err, errlen);
		for (int c = lo; c <= hi; c++) {
			if (count == max)
				return numa_fail(err, errlen, -E2BIG,
						 "cpulist names more than %u "
						 "CPUs", max);
			cpus[count++] = c;
		}
		if (at_end(p))
			break;
		p++;
	}
	*n = count;
	return 0;
}

/* ---- reading sysfs ---- */

/* Reads root/rel into buf (NUL-terminated); path gets the full name for
 * messages. */
static int read_text(const char *root, const char *rel, char *buf,
		     size_t size, char *path, size_t pathlen, char *err,
		     size_t errlen)
{
	size_t got = 0;
	int fd, rc = 0;

	snprintf(path, pathlen, "%s/%s", root, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return numa_fail(err, errlen, rc, "%s: %s", path,
				 strerror(-rc));
	}
	for (;;) {
		ssize_t r = read(fd, buf + got, size - 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = numa_fail(err, errlen, -errno, "%s: %s", path,
				       strerror(errno));
			break;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == size - 1) {
			rc = numa_fail(err, errlen, -EINVAL,
				       "%s: longer than %zu bytes", path,
				       size - 1);
			break;
		}
	}
	close(fd);
	buf[got] = '\0';
	return rc;
}

/* A cpulist file into cpus[] (NUMA_MAX_CPUS of them). */
static int read_cpulist(const char *root, const char *rel, int *cpus,
			unsigned *n, char *err, size_t errlen)
{
	char path[PATH_MAX], msg[MSG_MAX];
	char *buf = malloc(TEXT_MAX);
	int rc;

	if (!buf)
		return numa_fail(err, errlen, -ENOMEM, "out of memory");
	rc = read_text(root, rel, buf, TEXT_MAX, path, sizeof(path), err,
		       errlen);
	if (!rc) {
		rc = numa_cpulist_parse(buf, cpus, NUMA_MAX_CPUS, n, msg,
					sizeof(msg));
		if (rc)
			numa_fail(err, errlen, rc, "%s: %s", path, msg);
	}
	free(buf);
	return rc;
}

/* A file holding one decimal integer (sysfs ids, numa_node). */
static int read_int(const char *root, const char *rel, long *out, char *err,
		    size_t errlen)
{
	char buf[64], path[PATH_MAX];
	char *end;
	int rc;

	rc = read_text(root, rel, buf, sizeof(buf), path, sizeof(path), err,
		       errlen);
	if (rc)
		return rc;
	errno = 0;
	*out = strtol(buf, &end, 10);
	if (end == buf || errno || !at_end(end) ||
	    (buf[0] != '-' && (buf[0] < '0' || buf[0] > '9')))
		return numa_fail(err, errlen, -EINVAL,
				 "%s: not an integer: \"%.*s\"", path,
				 (int)strcspn(buf, "\n"), buf);
	return 0;
}

/* ---- loading ---- */

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* "node" followed by digits only: node7, not node7x or nodes. */
static bool node_dir_id(const char *name, int *id)
{
	const char *p = name + 4;

	if (strncmp(name, "node", 4) || !parse_cpu(&p, id) || *p)
		return false;
	return true;
}

/* Fills node_ids from the node directories; 0 nodes when there are none
 * (a kernel without NUMA). */
static int find_nodes(struct numa_topology *t, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/devices/system/node", t->root);
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return numa_fail(err, errlen, -errno, "%s: %s", path,
				 strerror(errno));
	}
	while ((de = readdir(d))) {
		int id;

		if (node_dir_id(de->d_name, &id) &&
		    t->nnodes < NUMA_MAX_CPUS)
			t->node_ids[t->nnodes++] = id;
	}
	closedir(d);
	qsort(t->node_ids, t->nnodes, sizeof(int), cmp_int);
	return 0;
}

/* Gives each online CPU its node, from the nodes' cpulists. */
static int assign_nodes(struct numa_topology *t, int *cpus, char *err,
			size_t errlen)
{
	char rel[96];
	unsigned n;
	int rc;

	for (unsigned i = 0; i < t->nnodes; i++) {
		int node = t->node_ids[i];

		snprintf(rel, sizeof(rel), "devices/system/node/node%d/cpulist",
			 node);
		rc = read_cpulist(t->root, rel, cpus, &n, err, errlen);
		if (rc)
			return rc;
		for (unsigned k = 0; k < n; k++) {
			int c = cpus[k], *slot = &t->cpu_node[c];

			if (*slot == NUMA_MAX_CPUS || *slot == node)
				*slot = node;
			else if (*slot != NUMA_NO_NODE)
				return numa_fail(err, errlen, -EINVAL,
						 "%s/%s: cpu %d is also in "
						 "node%d", t->root, rel, c,
						 *slot);
		}
	}
	for (int c = 0; c < NUMA_MAX_CPUS; c++) {
		if (t->cpu_node[c] == NUMA_MAX_CPUS)
			return numa_fail(err, errlen, -EINVAL,
					 "%s/devices/system/node: online cpu "
					 "%d is in no node's cpulist",
					 t->root, c);
	}
	return 0;
}

/* A CPU's core as (package, core id), from the topology files; -1 when
 * the kernel does not give them. */
static int read_core(const struct numa_topology *t, int c, long *pkg,
		     long *core, char *err, size_t errlen)
{
	char rel[96];
	int rc;

	*pkg = *core = -1;
	snprintf(rel, sizeof(rel),
		 "devices/system/cpu/cpu%d/topology/physical_package_id", c);
	rc = read_int(t->root, rel, pkg, err, errlen);
	if (rc && rc != -ENOENT)
		return rc;
	snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/topology/core_id",
		 c);
	rc = read_int(t->root, rel, core, err, errlen);
	if (rc && rc != -ENOENT)
		return rc;
	if (*pkg < 0 || *core < 0)
		*pkg = *core = -1;
	return 0;
}

/* Marks the CPUs that are not the first online thread of their core:
 * from thread_siblings_list where the kernel has it, else by equal
 * (package, core id). */
static int find_siblings(struct numa_topology *t, int *cpus, char *err,
			 size_t errlen)
{
	long *pkg = malloc(2 * NUMA_MAX_CPUS * sizeof(long));
	long *core = pkg + NUMA_MAX_CPUS;
	char rel[96];
	unsigned n;
	int rc = 0;

	if (!pkg)
		return numa_fail(err, errlen, -ENOMEM, "out of memory");
	for (int c = 0; c < NUMA_MAX_CPUS; c++) {
		pkg[c] = core[c] = -1;
		if (t->cpu_node[c] == NUMA_NO_NODE)
			continue;
		snprintf(rel, sizeof(rel), "devices/system/cpu/cpu%d/"
			 "topology/thread_siblings_list", c);
		rc = read_cpulist(t->root, rel, cpus, &n, err, errlen);
		if (rc == -ENOENT) {
			rc = read_core(t, c, &pkg[c], &core[c], err, errlen);
			if (rc)
				break;
			for (int o = 0; o < c && pkg[c] >= 0; o++)
				if (pkg[o] == pkg[c] && core[o] == core[c])
					t->sibling[c] = true;
			continue;
		}
		if (rc)
			break;
		for (unsigned k = 0; k < n; k++)
			if (cpus[k] < c && t->cpu_node[cpus[k]] != NUMA_NO_NODE)
				t->sibling[c] = true;
	}
	free(pkg);
	return rc;
}

int numa_topology_load(const char *root, struct numa_topology **out,
		       char *err, size_t errlen)
{
	struct numa_topology *t;
	struct stat st;
	unsigned n;
	int *cpus, rc;

	if (!root)
		root = "/sys";
	if (stat(root, &st) || !S_ISDIR(st.st_mode))
		return numa_fail(err, errlen, -ENOENT,
				 "sysfs root %s: not a directory", root);
	t = calloc(1, sizeof(*t));
	cpus = malloc(NUMA_MAX_CPUS * sizeof(int));
	if (!t || !cpus || !(t->root = strdup(root))) {
		rc = numa_fail(err, errlen, -ENOMEM, "out of memory");
		goto free_topology;
	}
	for (int c = 0; c < NUMA_MAX_CPUS; c++)
		t->cpu_node[c] = NUMA_NO_NODE;
	rc = read_cpulist(root, "devices/system/cpu/online", cpus, &n, err,
			  errlen);
	if (rc)
		goto free_topology;
	if (n == 0) {
		rc = numa_fail(err, errlen, -EINVAL, "%s/devices/system/cpu/"
			       "online: no CPU is online", root);
		goto free_topology;
	}
	/* NUMA_MAX_CPUS marks "online, node not yet known". */
	for (unsigned k = 0; k < n; k++)
		t->cpu_node[cpus[k]] = NUMA_MAX_CPUS;
	for (int c = 0; c < NUMA_MAX_CPUS; c++)
		t->ncpus += t->cpu_node[c] != NUMA_NO_NODE;
	rc = find_nodes(t, err, errlen);
	if (rc)
		goto free_topology;
	if (t->nnodes == 0) {
		t->nnodes = 1;
		t->node_ids[0] = 0;
		for (int c = 0; c < NUMA_MAX_CPUS; c++)
			if (t->cpu_node[c] != NUMA_NO_NODE)
				t->cpu_node[c] = 0;
	} else {
		rc = assign_nodes(t, cpus, err, errlen);
		if (rc)
			goto free_topology;
	}
	rc = find_siblings(t, cpus, err, errlen);
	if (rc)
		goto free_topology;
	free(cpus);
	*out = t;
	return 0;

free_topology:
	free(cpus);
	numa_topology_destroy(t);
	return rc;
}

void numa_topology_destroy(struct numa_topology *t)
{
	if (!t)
		return;
	free(t->root);
	free(t);
}

/* ---- queries ---- */

unsigned numa_topology_nodes(const struct numa_topology *t)
{
	return t->nnodes;
}

int numa_topology_node_id(const struct numa_topology *t, unsigned i)
{
	return i < t->nnodes ? t->node_ids[i] : NUMA_NO_NODE;
}

unsigned numa_topology_cpus(const struct numa_topology *t)
{
	return t->ncpus;
}

unsigned numa_topology_node_cpus(const struct numa_topology *t, int node)
{
	unsigned n = 0;

	if (node < 0)
		return 0;
	for (int c = 0; c < NUMA_MAX_CPUS; c++)
		n += t->cpu_node[c] == node;
	return n;
}

int numa_topology_cpu_node(const struct numa_topology *t, int cpu)
{
	if (cpu < 0 || cpu >= NUMA_MAX_CPUS)
		return NUMA_NO_NODE;
	return t->cpu_node[cpu];
}

bool numa_topology_cpu_is_sibling(const struct numa_topology *t, int cpu)
{
	return cpu >= 0 && cpu < NUMA_MAX_CPUS &&
	       t->cpu_node[cpu] != NUMA_NO_NODE && t->sibling[cpu];
}

static bool is_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!p[i] || !strchr("0123456789abcdefABCDEF", p[i]))
			return false;
	return true;
}

/* Canonical sysfs name of a PCI address: lower-case, with a domain.
 * Accepts DDDD:BB:DD.F (domain 4 to 8 hex digits) and BB:DD.F. */
static bool pci_canonical(const char *addr, char *out, size_t outlen)
{
	size_t len = strlen(addr), dom = len > 8 ? len - 8 : 0;
	const char *bdf = len == 7 ? addr : addr + dom + 1;

	if (len != 7 && (len < 12 || len > 16))
		return false;
	if (len != 7 && (!is_hex(addr, dom) || addr[dom] != ':'))
		return false;
	if (!is_hex(bdf, 2) || bdf[2] != ':' || !is_hex(bdf + 3, 2) ||
	    bdf[5] != '.' || bdf[6] < '0' || bdf[6] > '7')
		return false;
	snprintf(out, outlen, "%s%s", len == 7 ? "0000:" : "", addr);
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	return true;
}

int numa_topology_pci_node(const struct numa_topology *t, const char *addr,
			   int *node, bool *assumed, char *err,
			   size_t errlen)
{
	char name[32], rel[96];
	long v;
	int rc;

	if (!addr || !pci_canonical(addr, name, sizeof(name)))
		return numa_fail(err, errlen, -EINVAL,
				 "bad PCI address \"%.40s\" (want "
				 "DDDD:BB:DD.F, hex)", addr ? addr : "");
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s/numa_node", name);
	rc = read_int(t->root, rel, &v, err, errlen);
	if (rc == -ENOENT)
		return numa_fail(err, errlen, rc, "no PCI device %s (%s/%s "
				 "is missing)", name, t->root, rel);
	if (rc)
		return rc;
	if (assumed)
		*assumed = v == -1;
	if (v == -1) {
		*node = 0;
		return 0;
	}
	for (unsigned i = 0; i < t->nnodes; i++) {
		if (t->node_ids[i] == v) {
			*node = (int)v;
			return 0;
		}
	}
	return numa_fail(err, errlen, -EINVAL, "%s/%s: node %ld is not one "
			 "of the machine's nodes", t->root, rel, v);
}
