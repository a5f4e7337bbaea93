/*
 * corecache-bench: declarations shared by the benchmark's files.
 *
 * The benchmark is one program with subcommands (bench_main.c dispatches);
 * each subcommand lives in its own file and reuses the helpers declared
 * here: key and value generation, random and Zipf-distributed sequences,
 * an exact LRU simulator, CPU pinning, memory mapping (bench_util.c),
 * baselines that need no engine (random loads, DPDK's rte_hash:
 * bench_baseline.c) and a table-driven option parser. The engine
 * subcommand is split in two (rates in bench_engine.c, miss ratio in
 * bench_miss.c) that share the item format and the store helper declared
 * under "engine items". Key generation is inline because the timed loops
 * build every key from its index: a precomputed key table would add a
 * random memory access per operation and measure the table instead of the
 * cache.
 *
 * Subcommands return a process exit status (BENCH_EXIT_*); every helper
 * returns 0 or a negative errno value.
 */
#ifndef CORECACHE_BENCH_H
#define CORECACHE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BENCH_EXIT_OK 0
#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2

#define BENCH_KEY_LEN 16
#define BENCH_VALUE_LEN 32
/* Keys per bulk call, engine and baselines alike. */
#define BENCH_BATCH 32

/* ---- subcommands ---- */

int bench_engine_run(int argc, char **argv);
int bench_dataplane_run(int argc, char **argv);

/* ---- engine items (bench_engine.c) ---- */

struct cc_thread;

/* Exponent of every Zipf sequence the engine subcommand draws. */
#define BENCH_ZIPF_S 0.99
/* An item's bytes in the engine besides key and value. */
#define BENCH_ITEM_HEADER 4
#define BENCH_ITEM_BYTES (BENCH_KEY_LEN + BENCH_VALUE_LEN + BENCH_ITEM_HEADER)

static inline size_t bench_round_up(size_t x, size_t to)
{
	return (x + to - 1) / to * to;
}

/* The smallest cc_params.index_power giving slots_needed slots, at 10
 * slots per bucket. */
static inline unsigned bench_index_power_for(double slots_needed)
{
	unsigned p = 0;

	while ((double)((uint64_t)1 << p) * 10.0 < slots_needed)
		p++;
	return p;
}

/* Stores item idx (bench_key_make, bench_value_make) with CC_SET through
 * t, retrying after a quiescent point while the engine answers -ENOMEM;
 * *retries counts those retries. 0, -ENOMEM when a million retries in a
 * row did not help, or cc_store's other errors. Only for a thread that is
 * alone online: the retries wait for its own grace period. */
int bench_store_item(struct cc_thread *t, uint64_t idx, uint64_t *retries);

/* ---- miss ratio (bench_miss.c) ---- */

struct bench_miss_result {
	double miss_ratio;      /* corecache's, after the warm-up */
	double lru_miss_ratio;  /* the exact LRU's, same trace and capacity */
};

/* Replays one Zipf trace on a fresh cache holding 10% of the keys and on
 * an exact LRU of the same capacity (10^6 keys and 10^7 requests, a tenth
 * of each if quick), printing progress. Needs no other cache to exist.
 * 0, or a negative errno (-EIO if a hit returned a wrong value). */
int bench_miss_run(bool quick, struct bench_miss_result *out);

/* ---- time ---- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Millions of operations per second over [t0, t1]. */
double bench_mops(uint64_t ops, uint64_t t0, uint64_t t1);

/* ---- keys and values ---- */

/* A bijection on 64-bit words, so distinct indices give distinct keys and
 * consecutive indices give unrelated ones. */
static inline uint64_t bench_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Spreads the 8 nibbles of a 32-bit word over 8 bytes and turns each into
 * a lowercase hex digit, without a branch or a table lookup, so a key
 * costs a few arithmetic instructions and no memory access. */
static inline uint64_t bench_hex8(uint64_t x)
{
	uint64_t letters;

	x = (x | (x << 16)) & 0x0000ffff0000ffffULL;
	x = (x | (x << 8)) & 0x00ff00ff00ff00ffULL;
	x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0fULL;
	/* 0x01 in every byte holding 10..15: adding 6 carries into bit 4. */
	letters = ((x + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
	return x + 0x3030303030303030ULL + letters * ('a' - '0' - 10);
}

/* The key of item idx: 16 hex digits of a mix of idx. */
static inline void bench_key_make(uint64_t idx, char key[BENCH_KEY_LEN])
{
	uint64_t x = bench_mix64(idx + 0x9e3779b97f4a7c15ULL);
	uint64_t lo = bench_hex8(x & 0xffffffffULL);
	uint64_t hi = bench_hex8(x >> 32);

	memcpy(key, &lo, 8);
	memcpy(key + 8, &hi, 8);
}

/* The value of item idx, so that any read can be checked. */
static inline void bench_value_make(uint64_t idx,
				    unsigned char value[BENCH_VALUE_LEN])
{
	for (unsigned i = 0; i < BENCH_VALUE_LEN / 8; i++) {
		uint64_t w = bench_mix64(idx * 4 + i + 0x5bd1e995ULL);

		memcpy(value + 8 * i, &w, 8);
	}
}

/* ---- random numbers ---- */

struct bench_rng {
	uint64_t state;
};

void bench_rng_seed(struct bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(struct bench_rng *r);
/* Uniform in [0, n), n > 0. */
uint64_t bench_rng_below(struct bench_rng *r, uint64_t n);
/* Uniform in [0, 1). */
double bench_rng_double(struct bench_rng *r);

/* Zipf over ranks 1..n with exponent s > 0, drawn in O(1) per sample by
 * rejection-inversion, so no table of n probabilities is needed. */
struct bench_zipf {
	uint64_t n;
	double s;
	double u_lo, u_hi;  /* range of the continuous variable drawn */
};

/* -EINVAL for n == 0 or s <= 0. */
int bench_zipf_init(struct bench_zipf *z, uint64_t n, double s);
/* A rank in 1..n. */
uint64_t bench_zipf_next(const struct bench_zipf *z, struct bench_rng *r);
/* Probability of ranks 1..k together, computed exactly (O(n) work). */
double bench_zipf_head_mass(uint64_t n, double s, uint64_t k);

/* len key indices in [0, n): uniform, or Zipf with rank r at index r - 1. */
void bench_seq_uniform(uint32_t *out, size_t len, uint64_t n, uint64_t seed);
void bench_seq_zipf(uint32_t *out, size_t len, const struct bench_zipf *z,
		    uint64_t seed);

/* ---- exact LRU simulator ---- */

struct bench_lru;

/* capacity items, at most 2^31. -EINVAL, -ENOMEM. */
int bench_lru_create(size_t capacity, struct bench_lru **out);
void bench_lru_destroy(struct bench_lru *l);
/* One request: true on a hit; on a miss the key is inserted, evicting the
 * least recently used key when full. O(1). */
bool bench_lru_access(struct bench_lru *l, uint64_t key);

/* ---- CPUs and memory ---- */

/* CPU time the whole machine and this process have used, for telling how
 * much of a timed phase other processes (or the hypervisor) took. */
struct bench_cpu_sample {
	uint64_t wall_ns;
	uint64_t machine_busy_ns;  /* all CPUs, steal included */
	uint64_t self_ns;
};

void bench_cpu_sample(struct bench_cpu_sample *s);
/* CPUs' worth of time used by anything but this process between a and b;
 * negative if /proc/stat could not be read. */
double bench_cpu_others(const struct bench_cpu_sample *a,
			const struct bench_cpu_sample *b);

/* Records which CPUs the process may run on; call before anything
 * (such as the DPDK EAL) narrows the main thread's affinity. */
void bench_cpus_init(void);
bool bench_cpu_usable(unsigned cpu);
/* Pins the calling thread to cpu. 0, -EINVAL if the CPU is not usable,
 * or the error of pthread_setaffinity_np. */
int bench_pin_self(unsigned cpu);

/* Maps len bytes backed like the engine's segments: hugetlbfs pages if
 * hugetlb, else anonymous pages advised for transparent huge pages; every
 * page is touched. *len_out gets the mapped length. -errno of mmap. */
int bench_map(size_t len, bool hugetlb, void **out, size_t *len_out);
void bench_unmap(void *p, size_t len);

/* ---- baselines that need no engine ---- */

/* ops independent random 8-byte loads, each at a random 64-byte-aligned
 * offset of a mapping of len bytes made by bench_map. */
struct bench_loads_result {
	double mops;
	size_t mapped;
	bool hugetlb;     /* what the mapping ended up using */
	int hugetlb_err;  /* why MAP_HUGETLB was given up, or 0 */
	uint64_t sum;
	struct bench_cpu_sample start, end;  /* around the timed loop */
};

/* 0, or -errno of the mapping or allocation. */
int bench_random_loads(size_t len, bool hugetlb, size_t ops,
		       struct bench_loads_result *out);

/* Starts the DPDK EAL once per process, without hugepages or devices,
 * with memory_mb of memory, on lcore 0 (which pins the caller to CPU 0).
 * 0, or -ENODEV with msg filled (also on every call after a failure). */
int bench_eal_init(size_t memory_mb, char *msg, size_t msg_len);
/* Stops the EAL if bench_eal_init started it. */
void bench_eal_deinit(void);

/* An rte_hash holding keys 0..items-1, each with a pointer to its value,
 * looked up with seq[0..ops) in bulk calls of BENCH_BATCH. */
struct bench_rte_result {
	double add_mops, lookup_mops;
	uint64_t add_refused, hits, sum;
	struct bench_cpu_sample start, end;  /* around the timed lookups */
};

/* Needs bench_eal_init. 0, or a negative errno with msg filled. */
int bench_rte_hash_run(size_t items, const uint32_t *seq, size_t ops,
		       struct bench_rte_result *out, char *msg,
		       size_t msg_len);

/* ---- options ---- */

enum bench_opt_kind {
	BENCH_OPT_U64,   /* --name N or --name=N, into a uint64_t */
	BENCH_OPT_FLAG,  /* --name, into a bool */
};

/* One row per option: the same table drives parsing and --help. */
struct bench_opt {
	const char *name;     /* without the leading "--" */
	const char *metavar;  /* NULL for a flag */
	enum bench_opt_kind kind;
	size_t offset;        /* of the field in the config struct */
	uint64_t min, max;
	const char *help;
};

/* Parses argv[1..argc) into cfg. 0, or -EINVAL with msg filled. */
int bench_opts_parse(const struct bench_opt *opts, size_t nopts, int argc,
		     char **argv, void *cfg, char *msg, size_t msg_len);
void bench_opts_usage(FILE *f, const char *usage_line,
		      const struct bench_opt *opts, size_t nopts);

#endif
