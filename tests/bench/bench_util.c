/*
 * corecache-bench helpers that do not depend on the engine.
 *
 * Most of this prepares or judges a measurement and never runs inside a
 * timed loop: random and Zipf sequences are drawn before timing starts,
 * and the LRU simulator is the reference the engine's miss ratio is
 * compared with. The memory mapping helper maps like the engine's
 * segments, for the random-load baseline; the baselines themselves, and
 * the DPDK EAL, are in bench_baseline.c.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_mops(uint64_t ops, uint64_t t0, uint64_t t1)
{
	if (t1 <= t0)
		return 0.0;
	return (double)ops * 1e3 / (double)(t1 - t0);
}

/* ---- random numbers ---- */

void bench_rng_seed(struct bench_rng *r, uint64_t seed)
{
	r->state = seed;
}

/* A Weyl sequence passed through the bijective mixer: full period 2^64,
 * and distinct seeds far enough apart for independent per-thread streams. */
uint64_t bench_rng_next(struct bench_rng *r)
{
	r->state += 0x9e3779b97f4a7c15ULL;
	return bench_mix64(r->state);
}

/* Multiply-shift instead of a modulo: no division, and the bias (n / 2^64)
 * is far below anything a benchmark can see. */
uint64_t bench_rng_below(struct bench_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)bench_rng_next(r) * n) >> 64);
}

double bench_rng_double(struct bench_rng *r)
{
	return (double)(bench_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- Zipf by rejection-inversion ----
 *
 * The density h(x) = x^-s is convex, so its integral over [k - 1/2,
 * k + 1/2] is at least h(k). Draw u uniformly from the range of the
 * antiderivative H, invert to x, round to the rank k and accept only if u
 * lies in the top h(k) of the slice that maps to k: each rank is then
 * accepted with probability proportional to h(k). The slice of rank 1 is
 * cut to exactly h(1) = 1 below H(3/2), so rank 1 is never rejected. For s
 * near 1 the closed forms lose precision, hence expm1/log1p.
 */

/* (e^t - 1) / t, continuous at 0. */
static double expm1_div(double t)
{
	if (fabs(t) < 1e-8)
		return 1.0 + t / 2.0;
	return expm1(t) / t;
}

/* log(1 + t) / t, continuous at 0. */
static double log1p_div(double t)
{
	if (fabs(t) < 1e-8)
		return 1.0 - t / 2.0;
	return log1p(t) / t;
}

/* H(x) = (x^(1-s) - 1) / (1 - s), or log x when s = 1. */
static double zipf_big_h(double s, double x)
{
	double lx = log(x);

	return lx * expm1_div((1.0 - s) * lx);
}

static double zipf_big_h_inv(double s, double y)
{
	return exp(y * log1p_div((1.0 - s) * y));
}

static double zipf_h(double s, double x)
{
	return exp(-s * log(x));
}

int bench_zipf_init(struct bench_zipf *z, uint64_t n, double s)
{
	if (n == 0 || !(s > 0.0))
		return -EINVAL;
	z->n = n;
	z->s = s;
	z->u_lo = zipf_big_h(s, 1.5) - 1.0;
	z->u_hi = zipf_big_h(s, (double)n + 0.5);
	return 0;
}

uint64_t bench_zipf_next(const struct bench_zipf *z, struct bench_rng *r)
{
	for (;;) {
		double u = z->u_lo + bench_rng_double(r) * (z->u_hi - z->u_lo);
		double x = zipf_big_h_inv(z->s, u);
		uint64_t k;

		/* Rounding error can put x a hair outside [1/2, n + 1/2]. */
		if (!(x >= 1.0))
			k = 1;
		else if (x >= (double)z->n)
			k = z->n;
		else
			k = (uint64_t)(x + 0.5);
		if (u >= zipf_big_h(z->s, (double)k + 0.5) - zipf_h(z->s, (double)k))
			return k;
	}
}

/* Summed from the smallest terms up so 10^7 of them keep full precision. */
double bench_zipf_head_mass(uint64_t n, double s, uint64_t k)
{
	double total = 0.0, head = 0.0;

	for (uint64_t i = n; i >= 1; i--) {
		double p = zipf_h(s, (double)i);

		total += p;
		if (i <= k)
			head += p;
	}
	return head / total;
}

void bench_seq_uniform(uint32_t *out, size_t len, uint64_t n, uint64_t seed)
{
	struct bench_rng r;

	bench_rng_seed(&r, seed);
	for (size_t i = 0; i < len; i++)
		out[i] = (uint32_t)bench_rng_below(&r, n);
}

void bench_seq_zipf(uint32_t *out, size_t len, const struct bench_zipf *z,
		    uint64_t seed)
{
	struct bench_rng r;

	bench_rng_seed(&r, seed);
	for (size_t i = 0; i < len; i++)
		out[i] = (uint32_t)(bench_zipf_next(z, &r) - 1);
}

/* ---- exact LRU ----
 *
 * Nodes sit in one array and link to each other by index, most recent at
 * the head. The map from key to node is open addressing with linear
 * probing at load <= 1/2; deletion shifts later entries of the probe run
 * back instead of leaving tombstones, so probe lengths stay short over a
 * trace of any length.
 */

#define LRU_NIL UINT32_MAX

struct lru_node {
	uint64_t key;
	uint32_t prev, next;
};

struct bench_lru {
	struct lru_node *nodes;
	uint32_t *slots;    /* node index + 1; 0 = empty */
	size_t slot_mask;
	size_t capacity, used;
	uint32_t head, tail;
};

int bench_lru_create(size_t capacity, struct bench_lru **out)
{
	struct bench_lru *l;
	size_t nslots = 1;

	if (capacity == 0 || capacity > (1u << 31))
		return -EINVAL;
	while (nslots < 2 * capacity)
		nslots <<= 1;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->nodes = calloc(capacity, sizeof(*l->nodes));
	if (!l->nodes)
		goto free_lru;
	l->slots = calloc(nslots, sizeof(*l->slots));
	if (!l->slots)
		goto free_nodes;
	l->slot_mask = nslots - 1;
	l->capacity = capacity;
	l->head = LRU_NIL;
	l->tail = LRU_NIL;
	*out = l;
	return 0;

free_nodes:
	free(l->nodes);
free_lru:
	free(l);
	return -ENOMEM;
}

void bench_lru_destroy(struct bench_lru *l)
{
	if (!l)
		return;
	free(l->slots);
	free(l->nodes);
	free(l);
}

static size_t lru_home(const struct bench_lru *l, uint64_t key)
{
	return (size_t)bench_mix64(key) & l->slot_mask;
}

/* The slot holding key, or the empty slot ending its probe run. */
static size_t lru_find(const struct bench_lru *l, uint64_t key)
{
	size_t i = lru_home(l, key);

	while (l->slots[i] != 0 && l->nodes[l->slots[i] - 1].key != key)
		i = (i + 1) & l->slot_mask;
	return i;
}

static void lru_map_remove(struct bench_lru *l, size_t hole)
{
	size_t j = hole;

	for (;;) {
		size_t home;

		j = (j + 1) & l->slot_mask;
		if (l->slots[j] == 0)
			break;
		home = lru_home(l, l->nodes[l->slots[j] - 1].key);
		/* The entry at j may fill the hole only if its home is not
		 * in the cyclic range (hole, j]: otherwise a lookup starting
		 * at home would stop at the hole's successor before it. */
		if (((j - home) & l->slot_mask) >= ((j - hole) & l->slot_mask)) {
			l->slots[hole] = l->slots[j];
			hole = j;
		}
	}
	l->slots[hole] = 0;
}

static void lru_unlink(struct bench_lru *l, uint32_t n)
{
	struct lru_node *node = &l->nodes[n];

	if (node->prev != LRU_NIL)
		l->nodes[node->prev].next = node->next;
	else
		l->head = node->next;
	if (node->next != LRU_NIL)
		l->nodes[node->next].prev = node->prev;
	else
		l->tail = node->prev;
}

static void lru_push_head(struct bench_lru *l, uint32_t n)
{
	struct lru_node *node = &l->nodes[n];

	node->prev = LRU_NIL;
	node->next = l->head;
	if (l->head != LRU_NIL)
		l->nodes[l->head].prev = n;
	l->head = n;
	if (l->tail == LRU_NIL)
		l->tail = n;
}

bool bench_lru_access(struct bench_lru *l, uint64_t key)
{
	size_t slot = lru_find(l, key);
	uint32_t n;

	if (l->slots[slot] != 0) {
		n = l->slots[slot] - 1;
		if (n != l->head) {
			lru_unlink(l, n);
			lru_push_head(l, n);
		}
		return true;
	}
	if (l->used < l->capacity) {
		n = (uint32_t)l->used++;
	} else {
		n = l->tail;
		lru_unlink(l, n);
		lru_map_remove(l, lru_find(l, l->nodes[n].key));
		/* The removal may have shifted entries of key's run. */
		slot = lru_find(l, key);
	}
	l->nodes[n].key = key;
	l->slots[slot] = n + 1;
	lru_push_head(l, n);
	return false;
}

/* ---- CPUs and memory ---- */

static cpu_set_t initial_cpus;
static bool initial_cpus_known;

void bench_cpus_init(void)
{
	CPU_ZERO(&initial_cpus);
	initial_cpus_known =
		sched_getaffinity(0, sizeof(initial_cpus), &initial_cpus) == 0;
}

bool bench_cpu_usable(unsigned cpu)
{
	if (!initial_cpus_known || cpu >= CPU_SETSIZE)
		return false;
	return CPU_ISSET(cpu, &initial_cpus);
}

int bench_pin_self(unsigned cpu)
{
	cpu_set_t set;
	int rc;

	if (!bench_cpu_usable(cpu))
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	return -rc;
}

/* Busy time of all CPUs from the first line of /proc/stat: user, nice,
 * system, irq, softirq and steal (time the hypervisor gave elsewhere is
 * as lost to the benchmark as time another process took). 0 if absent. */
static uint64_t machine_busy_ns(void)
{
	unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user,
		   &nice, &sys, &idle, &iowait, &irq, &softirq, &steal);
	fclose(f);
	if (n != 8 || hz <= 0)
		return 0;
	return (uint64_t)(user + nice + sys + irq + softirq + steal) *
	       (1000000000u / (uint64_t)hz);
}

void bench_cpu_sample(struct bench_cpu_sample *s)
{
	struct timespec ts;

	s->machine_busy_ns = machine_busy_ns();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	s->self_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	s->wall_ns = bench_now_ns();
}

double bench_cpu_others(const struct bench_cpu_sample *a,
			const struct bench_cpu_sample *b)
{
	double busy, self;

	if (a->machine_busy_ns == 0 || b->machine_busy_ns == 0 ||
	    b->wall_ns <= a->wall_ns)
		return -1.0;
	busy = (double)(b->machine_busy_ns - a->machine_busy_ns);
	self = (double)(b->self_ns - a->self_ns);
	/* Tick accounting is coarse: small negatives are rounding. */
	return busy > self ? (busy - self) / (double)(b->wall_ns - a->wall_ns)
			   : 0.0;
}

#define BENCH_HUGE_PAGE (2u << 20)

int bench_map(size_t len, bool hugetlb, void **out, size_t *len_out)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	void *p;

	len = (len + BENCH_HUGE_PAGE - 1) & ~(size_t)(BENCH_HUGE_PAGE - 1);
	if (hugetlb)
		flags |= MAP_HUGETLB;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Best effort, as for the segments: THP may be disabled. */
	if (!hugetlb)
		madvise(p, len, MADV_HUGEPAGE);
	memset(p, 0x5a, len);
	*out = p;
	*len_out = len;
	return 0;
}

void bench_unmap(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

/* ---- options ---- */

static const struct bench_opt *opt_find(const struct bench_opt *opts,
					size_t nopts, const char *name,
					size_t name_len)
{
	for (size_t i = 0; i < nopts; i++)
		if (strlen(opts[i].name) == name_len &&
		    memcmp(opts[i].name, name, name_len) == 0)
			return &opts[i];
	return NULL;
}

static int opt_parse_u64(const struct bench_opt *o, const char *text,
			 uint64_t *out, char *msg, size_t msg_len)
{
	unsigned long long v;
	char *end;

	/* strtoull accepts a sign and leading blanks; a count may not. */
	if (text[0] < '0' || text[0] > '9')
		goto bad;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0')
		goto bad;
	if (v < o->min || v > o->max) {
		snprintf(msg, msg_len, "--%s %s: must be in [%" PRIu64 ", %"
			 PRIu64 "]", o->name, text, o->min, o->max);
		return -EINVAL;
	}
	*out = v;
	return 0;

bad:
	snprintf(msg, msg_len, "--%s: '%s' is not a non-negative integer",
		 o->name, text);
	return -EINVAL;
}

int bench_opts_parse(const struct bench_opt *opts, size_t nopts, int argc,
		     char **argv, void *cfg, char *msg, size_t msg_len)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value;
		const struct bench_opt *o;
		size_t name_len;

		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			snprintf(msg, msg_len, "unexpected argument '%s'", arg);
			return -EINVAL;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		name_len = eq ? (size_t)(eq - name) : strlen(name);
		o = opt_find(opts, nopts, name, name_len);
		if (!o) {
			snprintf(msg, msg_len, "unknown option '%s'", arg);
			return -EINVAL;
		}
		if (o->kind == BENCH_OPT_FLAG) {
			if (eq) {
				snprintf(msg, msg_len, "--%s takes no value",
					 o->name);
				return -EINVAL;
			}
			*(bool *)((char *)cfg + o->offset) = true;
			continue;
		}
		if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			snprintf(msg, msg_len, "--%s needs a value %s", o->name,
				 o->metavar);
			return -EINVAL;
		}
		if (opt_parse_u64(o, value, (uint64_t *)((char *)cfg + o->offset),
				  msg, msg_len) < 0)
			return -EINVAL;
	}
	return 0;
}

void bench_opts_usage(FILE *f, const char *usage_line,
		      const struct bench_opt *opts, size_t nopts)
{
	fprintf(f, "usage: %s\n\noptions:\n", usage_line);
	for (size_t i = 0; i < nopts; i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name,
			 opts[i].metavar ? " " : "",
			 opts[i].metavar ? opts[i].metavar : "");
		fprintf(f, "  %-20s %s\n", left, opts[i].help);
	}
}
