/*
 * corecache-bench engine: the engine's rates, judged against baselines.
 *
 * A GET rate alone says little, so one run also measures what bounds it
 * and what it competes with, on the same machine and the same keys:
 *
 *   limit    independent random 64-byte loads over memory as large as the
 *            cache and backed the same way: a GET needs at least one such
 *            miss, so get/limit is how close the engine gets to the memory
 *            system's rate;
 *   rte_hash DPDK's cuckoo hash doing the same batched lookups on the
 *            same key sequence (a lookup-only table, so a cache that also
 *            stores values and evicts has to beat it to justify itself);
 *   LRU      an exact LRU of the same capacity replaying the same Zipf
 *            trace, the reference for the miss ratio (bench_miss.c).
 *
 * Every key sequence is drawn before its timer starts, so the figures hold
 * no random-number or Zipf cost; timed loops build keys from indices with
 * arithmetic only and never read value bytes, and every value is checked
 * after timing, so a fast wrong engine fails instead of winning.
 */
#include "bench.h"
#include "corecache.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#define ENGINE_VERIFY_SAMPLES 10000
#define ENGINE_THREADS_CAP 16
/* A store refused this many times in a row means reclamation is stuck,
 * not merely waiting for a grace period. */
#define ENGINE_ENOMEM_LIMIT 1000000u
#define ENGINE_MIB (1u << 20)

struct engine_cfg {
	uint64_t items;       /* 0 until given: --quick picks the default */
	uint64_t threads_max;
	uint64_t ops;
	bool quick;
	bool help;
};

static const struct bench_opt engine_opts[] = {
	{ "items", "N", BENCH_OPT_U64, offsetof(struct engine_cfg, items),
	  1000, 400000000,
	  "items loaded (default 10000000, --quick 200000)" },
	{ "threads-max", "T", BENCH_OPT_U64,
	  offsetof(struct engine_cfg, threads_max), 1, ENGINE_THREADS_CAP,
	  "GET phases run with 1..T threads (default 2)" },
	{ "ops", "M", BENCH_OPT_U64, offsetof(struct engine_cfg, ops),
	  BENCH_BATCH, 1000000000,
	  "operations per thread in each timed GET phase "
	  "(default 20000000, --quick 2000000)" },
	{ "quick", NULL, BENCH_OPT_FLAG, offsetof(struct engine_cfg, quick),
	  0, 0, "small sizes for smoke runs" },
	{ "help", NULL, BENCH_OPT_FLAG, offsetof(struct engine_cfg, help),
	  0, 0, "show this text" },
};

#define ENGINE_NOPTS (sizeof(engine_opts) / sizeof(engine_opts[0]))
#define ENGINE_USAGE "corecache-bench engine [--items N] [--threads-max T] " \
		     "[--ops M] [--quick]"

enum engine_dist { DIST_UNIFORM, DIST_ZIPF, DIST_COUNT };
enum engine_mode { MODE_BATCHED, MODE_SINGLE, MODE_COUNT };

static const char *const dist_names[DIST_COUNT] = { "uniform", "zipf0.99" };
static const char *const mode_names[MODE_COUNT] = { "batched", "single" };

struct engine_run {
	size_t items, ops;
	unsigned threads_max;
	bool quick;
	struct cc_params params;
	struct cc_cache *cache;
	struct cc_thread *me;
	bool hugetlb;
	uint64_t index_bytes;
	uint32_t *seqs[DIST_COUNT][ENGINE_THREADS_CAP];

	double load_mops;
	double get_mops[DIST_COUNT][MODE_COUNT][ENGINE_THREADS_CAP + 1];
	double limit_mops;
	double rte_mops;  /* 0: rte_hash unavailable */
	double set_mops;
	double overhead;
	double miss_ratio, lru_miss_ratio;
	double others_max;  /* most CPUs other processes took in a phase */
};

/* The figures assume the machine is otherwise idle; each timed phase says
 * how much CPU anything else took meanwhile, so a skewed figure is
 * visible as such instead of passing for the engine's. */
static const char *others_note(struct engine_run *r,
			       const struct bench_cpu_sample *start,
			       const struct bench_cpu_sample *end, char buf[64])
{
	double others = bench_cpu_others(start, end);

	if (others > r->others_max)
		r->others_max = others;
	if (others < 0.05)
		return "";
	snprintf(buf, 64, ", other processes took %.2f CPUs", others);
	return buf;
}

/* -ENOMEM only means the segments the engine would reuse are still in a
 * grace period; this thread's own quiescent point ends it when no other
 * thread is online, so retrying after one is the documented way through. */
int bench_store_item(struct cc_thread *t, uint64_t idx, uint64_t *retries)
{
	char key[BENCH_KEY_LEN];
	unsigned char value[BENCH_VALUE_LEN];
	struct cc_store_req req = {
		.mode = CC_SET,
		.key = key,
		.key_len = sizeof(key),
		.value = value,
		.value_len = sizeof(value),
	};
	unsigned refused = 0;
	int rc;

	bench_key_make(idx, key);
	bench_value_make(idx, value);
	while ((rc = cc_store(t, &req, NULL)) == -ENOMEM) {
		if (++refused > ENGINE_ENOMEM_LIMIT)
			return -ENOMEM;
		(*retries)++;
		cc_thread_quiescent(t);
	}
	return rc;
}

/* ---- load ---- */

static int create_cache(struct engine_run *r)
{
	struct cc_stats st;
	size_t seg = ENGINE_MIB;
	int rc;

	/* Room for every item with 15% slack, plus a few segments for the
	 * ones writers hold open and the ones waiting to be reclaimed. */
	cc_params_init(&r->params);
	r->params.segment_size = seg;
	r->params.memory_limit =
		bench_round_up((size_t)ceil((double)r->items *
					    BENCH_ITEM_BYTES * 1.15), seg) +
		8 * seg;
	r->params.item_max = 4096;
	r->params.index_power = bench_index_power_for((double)r->items);
	r->params.max_threads = r->threads_max + 1 > 4 ? r->threads_max + 1 : 4;
	rc = cc_create(&r->params, &r->cache);
	if (rc < 0) {
		printf("error: cc_create: %s\n", strerror(-rc));
		return rc;
	}
	rc = cc_thread_register(r->cache, &r->me);
	if (rc < 0) {
		printf("error: cc_thread_register: %s\n", strerror(-rc));
		cc_destroy(r->cache);
		r->cache = NULL;
		return rc;
	}
	cc_stats_read(r->cache, &st);
	r->hugetlb = st.hugetlb != 0;
	r->index_bytes = st.index_bytes;
	printf("cache: memory_limit %zu MiB, segment %zu KiB, %" PRIu64
	       " segments, index_power %u (%" PRIu64 " MiB, %" PRIu64
	       " slots), hugetlb %" PRIu64 "\n",
	       r->params.memory_limit / ENGINE_MIB, seg >> 10, st.segments_total,
	       r->params.index_power, st.index_bytes / ENGINE_MIB,
	       ((uint64_t)1 << r->params.index_power) * 10, st.hugetlb);
	return 0;
}

static int load_items(struct engine_run *r)
{
	struct bench_cpu_sample cpu, cpu_end;
	struct cc_stats st;
	uint64_t retries = 0, t0, t1, used;
	char note[64];
	int rc;

	bench_cpu_sample(&cpu);
	t0 = bench_now_ns();
	for (size_t i = 0; i < r->items; i++) {
		rc = bench_store_item(r->me, i, &retries);
		if (rc < 0) {
			printf("error: load: cc_store of item %zu: %s\n", i,
			       strerror(-rc));
			return rc;
		}
		if (i % BENCH_BATCH == BENCH_BATCH - 1)
			cc_thread_quiescent(r->me);
	}
	t1 = bench_now_ns();
	bench_cpu_sample(&cpu_end);
	cc_thread_quiescent(r->me);
	r->load_mops = bench_mops(r->items, t0, t1);

	cc_stats_read(r->cache, &st);
	used = st.segments_total - st.segments_free;
	printf("load 1t: %.3f Mops/s (%zu sets, %" PRIu64 " -ENOMEM retries%s)\n",
	       r->load_mops, r->items, retries,
	       others_note(r, &cpu, &cpu_end, note));
	printf("loaded: curr_items %" PRIu64 " of %zu (%.4f%%), evictions %"
	       PRIu64 ", index_evictions %" PRIu64 ", segments used %" PRIu64
	       " of %" PRIu64 "\n", st.curr_items, r->items,
	       100.0 * (double)st.curr_items / (double)r->items, st.evictions,
	       st.index_evictions, used, st.segments_total);
	if (st.curr_items == 0) {
		printf("error: no item survived the load\n");
		return -EIO;
	}
	r->overhead = ((double)st.index_bytes +
		       (double)used * (double)st.segment_size -
		       (double)st.curr_items * (BENCH_KEY_LEN + BENCH_VALUE_LEN)) /
		      (double)st.curr_items;
	printf("overhead: %.3f bytes/item (index %" PRIu64 " B + %" PRIu64
	       " segments of %" PRIu64 " B, minus key+value bytes)\n",
	       r->overhead, st.index_bytes, used, st.segment_size);
	return 0;
}

/* ---- GET ---- */

static int get_batched(struct cc_thread *t, const uint32_t *seq, size_t ops,
		       uint64_t *hits_out, uint64_t *sum_out)
{
	char kb[BENCH_BATCH][BENCH_KEY_LEN];
	struct cc_key keys[BENCH_BATCH];
	struct cc_view views[BENCH_BATCH];
	int res[BENCH_BATCH];
	uint64_t hits = 0, sum = 0;
	int err = 0;

	for (unsigned j = 0; j < BENCH_BATCH; j++) {
		keys[j].data = kb[j];
		keys[j].len = BENCH_KEY_LEN;
	}
	for (size_t i = 0; i < ops; i += BENCH_BATCH) {
		unsigned n = ops - i < BENCH_BATCH ? (unsigned)(ops - i)
						    : BENCH_BATCH;

		for (unsigned j = 0; j < n; j++)
			bench_key_make(seq[i + j], kb[j]);
		hits += cc_get_bulk(t, n, keys, views, res);
		for (unsigned j = 0; j < n; j++) {
			if (res[j] == 0)
				sum += views[j].value_len;
			else if (res[j] != -ENOENT)
				err = res[j];
		}
		cc_thread_quiescent(t);
	}
	*hits_out = hits;
	*sum_out = sum;
	return err;
}

static int get_single(struct cc_thread *t, const uint32_t *seq, size_t ops,
		      uint64_t *hits_out, uint64_t *sum_out)
{
	uint64_t hits = 0, sum = 0;
	int err = 0;

	for (size_t i = 0; i < ops; i++) {
		char key[BENCH_KEY_LEN];
		struct cc_view v;
		int rc;

		bench_key_make(seq[i], key);
		rc = cc_get(t, key, sizeof(key), &v);
		if (rc == 0) {
			hits++;
			sum += v.value_len;
		} else if (rc != -ENOENT) {
			err = rc;
		}
		if (i % BENCH_BATCH == BENCH_BATCH - 1)
			cc_thread_quiescent(t);
	}
	*hits_out = hits;
	*sum_out = sum;
	return err;
}

/* Workers register before the start signal so registration is not timed,
 * then all start at once; the phase's time runs from the first start to
 * the last finish. */
struct get_worker {
	struct cc_cache *cache;
	const uint32_t *seq;
	size_t ops;
	enum engine_mode mode;
	unsigned cpu;
	atomic_uint *ready;
	atomic_int *go;  /* 0 wait, 1 run, -1 abandon */
	uint64_t t0, t1, hits, sum;
	int err, pin_err;
} __attribute__((aligned(64)));

static void *get_worker_main(void *arg)
{
	struct get_worker *w = arg;
	struct cc_thread *t = NULL;
	int go;

	if (bench_cpu_usable(w->cpu))
		w->pin_err = bench_pin_self(w->cpu);
	w->err = cc_thread_register(w->cache, &t);
	/* Release orders the registration before the count the main thread
	 * acquires, so no worker is still registering when timing starts;
	 * the results themselves are published by pthread_join. */
	atomic_fetch_add_explicit(w->ready, 1, memory_order_release);
	while ((go = atomic_load_explicit(w->go, memory_order_acquire)) == 0)
		sched_yield();
	if (w->err < 0 || go < 0)
		goto unregister;
	w->t0 = bench_now_ns();
	if (w->mode == MODE_BATCHED)
		w->err = get_batched(t, w->seq, w->ops, &w->hits, &w->sum);
	else
		w->err = get_single(t, w->seq, w->ops, &w->hits, &w->sum);
	w->t1 = bench_now_ns();
unregister:
	if (t)
		cc_thread_unregister(t);
	return NULL;
}

static int run_get_phase(struct engine_run *r, enum engine_dist d,
			 enum engine_mode m, unsigned nthreads)
{
	struct get_worker w[ENGINE_THREADS_CAP];
	pthread_t tids[ENGINE_THREADS_CAP];
	atomic_uint ready = 0;
	atomic_int go = 0;
	uint64_t t0 = UINT64_MAX, t1 = 0, hits = 0, ops = 0;
	struct bench_cpu_sample cpu, cpu_end;
	char note[64], each[16 * ENGINE_THREADS_CAP] = "";
	unsigned started = 0;
	size_t each_len = 0;
	int err = 0;

	bench_cpu_sample(&cpu);
	/* The main thread only waits: offline, it holds back nothing. */
	cc_thread_offline(r->me);
	for (unsigned i = 0; i < nthreads; i++) {
		w[i] = (struct get_worker){
			.cache = r->cache,
			.seq = r->seqs[d][i],
			.ops = r->ops,
			.mode = m,
			.cpu = i,
			.ready = &ready,
			.go = &go,
		};
		err = -pthread_create(&tids[i], NULL, get_worker_main, &w[i]);
		if (err < 0) {
			printf("error: pthread_create: %s\n", strerror(-err));
			break;
		}
		started++;
	}
	while (atomic_load_explicit(&ready, memory_order_acquire) < started)
		sched_yield();
	atomic_store_explicit(&go, err < 0 ? -1 : 1, memory_order_release);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	bench_cpu_sample(&cpu_end);
	cc_thread_online(r->me);
	if (err < 0)
		return err;

	for (unsigned i = 0; i < nthreads; i++) {
		if (w[i].pin_err < 0)
			printf("note: pinning get thread %u to CPU %u: %s\n",
			       i, i, strerror(-w[i].pin_err));
		if (w[i].err < 0) {
			printf("error: get thread %u: %s\n", i,
			       strerror(-w[i].err));
			return w[i].err;
		}
		/* Every hit summed its value_len, all of which are 32. */
		if (w[i].sum != w[i].hits * BENCH_VALUE_LEN) {
			printf("error: get thread %u: %" PRIu64 " hits returned "
			       "%" PRIu64 " value bytes\n", i, w[i].hits,
			       w[i].sum);
			return -EIO;
		}
		t0 = w[i].t0 < t0 ? w[i].t0 : t0;
		t1 = w[i].t1 > t1 ? w[i].t1 : t1;
		/* Threads that differ much point at unfair sharing (of a
		 * core, a lock or a cache line) rather than a slow engine. */
		if (nthreads > 1)
			each_len += (size_t)snprintf(each + each_len,
						     sizeof(each) - each_len,
						     "%s%.2f", i ? "/" : ", each ",
						     bench_mops(w[i].ops, w[i].t0,
								w[i].t1));
		hits += w[i].hits;
		ops += w[i].ops;
	}
	r->get_mops[d][m][nthreads] = bench_mops(ops, t0, t1);
	printf("get %s %s %ut: %.3f Mops/s (hits %.4f%%%s%s)\n",
	       dist_names[d], mode_names[m], nthreads,
	       r->get_mops[d][m][nthreads], 100.0 * (double)hits / (double)ops,
	       each, others_note(r, &cpu, &cpu_end, note));
	return 0;
}

/* Fraction of a sequence that hits the ranks below k, against theory: a
 * wrong Zipf generator would skew every zipf figure silently. */
static int check_zipf(const struct engine_run *r)
{
	static const uint64_t heads[] = { 1, 10 };
	const uint32_t *seq = r->seqs[DIST_ZIPF][0];
	int rc = 0;

	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		double theory = bench_zipf_head_mass(r->items, BENCH_ZIPF_S,
						     heads[h]);
		double sigma = sqrt(theory * (1.0 - theory) / (double)r->ops);
		double seen, dev;
		uint64_t count = 0;

		for (size_t i = 0; i < r->ops; i++)
			count += seq[i] < heads[h];
		seen = (double)count / (double)r->ops;
		dev = sigma > 0 ? fabs(seen - theory) / sigma : 0.0;
		printf("zipf check: top %" PRIu64 " keys drew %.5f of %zu "
		       "samples, theory %.5f (%.1f sigma) %s\n", heads[h],
		       seen, r->ops, theory, dev, dev < 6.0 ? "ok" : "WRONG");
		if (dev >= 6.0)
			rc = -EIO;
	}
	return rc;
}

static int make_sequences(struct engine_run *r)
{
	struct bench_zipf z;
	uint64_t t0 = bench_now_ns();

	if (bench_zipf_init(&z, r->items, BENCH_ZIPF_S) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < r->threads_max; i++) {
		for (int d = 0; d < DIST_COUNT; d++) {
			r->seqs[d][i] = malloc(r->ops * sizeof(uint32_t));
			if (!r->seqs[d][i]) {
				printf("error: no memory for key sequences\n");
				return -ENOMEM;
			}
		}
		bench_seq_uniform(r->seqs[DIST_UNIFORM][i], r->ops, r->items,
				  0x1000 + i);
		bench_seq_zipf(r->seqs[DIST_ZIPF][i], r->ops, &z, 0x2000 + i);
	}
	printf("sequences: %u threads x %zu ops drawn in %.2f s\n",
	       r->threads_max, r->ops,
	       (double)(bench_now_ns() - t0) / 1e9);
	return check_zipf(r);
}

static void free_sequences(struct engine_run *r)
{
	for (int d = 0; d < DIST_COUNT; d++)
		for (unsigned i = 0; i < ENGINE_THREADS_CAP; i++) {
			free(r->seqs[d][i]);
			r->seqs[d][i] = NULL;
		}
}

/* Reads a sample of keys and compares every byte with what was stored.
 * Absent keys are counted, not failed: a cache may drop items. */
static int verify_sample(struct engine_run *r, const char *when,
			 uint64_t seed)
{
	unsigned wrong = 0, missing = 0;
	struct bench_rng rng;

	bench_rng_seed(&rng, seed);
	for (unsigned i = 0; i < ENGINE_VERIFY_SAMPLES; i++) {
		uint64_t idx = bench_rng_below(&rng, r->items);
		unsigned char expect[BENCH_VALUE_LEN];
		char key[BENCH_KEY_LEN];
		struct cc_view v;
		int rc;

		bench_key_make(idx, key);
		rc = cc_get(r->me, key, sizeof(key), &v);
		if (rc == -ENOENT) {
			missing++;
		} else if (rc < 0) {
			printf("error: verify: cc_get: %s\n", strerror(-rc));
			return rc;
		} else {
			bench_value_make(idx, expect);
			if (v.value_len != BENCH_VALUE_LEN || v.flags != 0 ||
			    memcmp(v.value, expect, BENCH_VALUE_LEN) != 0) {
				if (wrong < 5)
					printf("verify: item %" PRIu64 " key %.16s"
					       " is wrong: value_len %" PRIu32
					       " flags %" PRIu32 "\n", idx, key,
					       v.value_len, v.flags);
				wrong++;
			}
		}
		if (i % BENCH_BATCH == BENCH_BATCH - 1)
			cc_thread_quiescent(r->me);
	}
	cc_thread_quiescent(r->me);
	printf("verify after %s: %u gets, %u correct, %u missing, %u wrong\n",
	       when, ENGINE_VERIFY_SAMPLES,
	       ENGINE_VERIFY_SAMPLES - missing - wrong, missing, wrong);
	return wrong ? -EIO : 0;
}

/* ---- baselines ---- */

static int measure_limit(struct engine_run *r)
{
	struct bench_loads_result res;
	char note[64];
	int rc;

	rc = bench_random_loads(r->params.memory_limit + r->index_bytes,
				r->hugetlb, r->ops, &res);
	if (res.hugetlb_err < 0)
		printf("limit: MAP_HUGETLB failed (%s), used THP pages\n",
		       strerror(-res.hugetlb_err));
	if (rc < 0) {
		printf("error: limit: %s\n", strerror(-rc));
		return rc;
	}
	r->limit_mops = res.mops;
	printf("limit random 64B loads 1t: %.3f Mops/s (%zu MiB, %s, sum %"
	       PRIx64 "%s)\n", res.mops, res.mapped / ENGINE_MIB,
	       res.hugetlb ? "hugetlb" : "THP advised", res.sum,
	       others_note(r, &res.start, &res.end, note));
	return 0;
}

/* Leaves r->rte_mops at 0 when the baseline cannot run; that is reported,
 * never fatal, since it measures DPDK rather than the engine. Without
 * hugepages -m only reserves address space; measured, the table with its
 * key store and free-slot ring takes ~50 bytes per entry (497 MiB for 10M
 * entries), up to twice that when the count rounds up to a power of two. */
static void measure_rte_hash(struct engine_run *r)
{
	size_t mb = 512 + r->items * 128 / ENGINE_MIB;
	struct bench_rte_result res;
	char msg[160], note[64];

	if (bench_eal_init(mb, msg, sizeof(msg)) < 0 ||
	    bench_rte_hash_run(r->items, r->seqs[DIST_UNIFORM][0], r->ops, &res,
			       msg, sizeof(msg)) < 0) {
		printf("rte_hash: unavailable (%s)\n", msg);
		return;
	}
	r->rte_mops = res.lookup_mops;
	printf("rte_hash add 1t: %.3f Mops/s (%" PRIu64 " of %zu refused)\n",
	       res.add_mops, res.add_refused, r->items);
	printf("rte_hash lookup uniform batched 1t: %.3f Mops/s (hits %.4f%%, "
	       "sum %" PRIx64 "%s)\n", res.lookup_mops,
	       100.0 * (double)res.hits / (double)r->ops, res.sum,
	       others_note(r, &res.start, &res.end, note));
}

/* ---- SET ---- */

static int measure_set(struct engine_run *r)
{
	size_t n = r->items / 2;
	uint64_t retries = 0, t0, t1;
	struct cc_stats before, after;
	struct bench_cpu_sample cpu, cpu_end;
	uint32_t *seq;
	char note[64];
	int rc = 0;

	seq = malloc(n * sizeof(*seq));
	if (!seq) {
		printf("error: set: no memory for the key sequence\n");
		return -ENOMEM;
	}
	bench_seq_uniform(seq, n, r->items, 0x4000);
	cc_stats_read(r->cache, &before);
	bench_cpu_sample(&cpu);
	t0 = bench_now_ns();
	for (size_t i = 0; i < n; i++) {
		rc = bench_store_item(r->me, seq[i], &retries);
		if (rc < 0) {
			printf("error: set: cc_store of item %" PRIu32 ": %s\n",
			       seq[i], strerror(-rc));
			goto free_seq;
		}
		if (i % BENCH_BATCH == BENCH_BATCH - 1)
			cc_thread_quiescent(r->me);
	}
	t1 = bench_now_ns();
	bench_cpu_sample(&cpu_end);
	cc_thread_quiescent(r->me);
	cc_stats_read(r->cache, &after);
	r->set_mops = bench_mops(n, t0, t1);
	printf("set uniform overwrite 1t: %.3f Mops/s (%zu sets, %" PRIu64
	       " -ENOMEM retries%s)\n", r->set_mops, n, retries,
	       others_note(r, &cpu, &cpu_end, note));
	printf("after set: curr_items %" PRIu64 ", evictions +%" PRIu64
	       ", segments_evicted +%" PRIu64 ", merged_items +%" PRIu64
	       ", index_evictions +%" PRIu64 ", segments free %" PRIu64 "\n",
	       after.curr_items, after.evictions - before.evictions,
	       after.segments_evicted - before.segments_evicted,
	       after.merged_items - before.merged_items,
	       after.index_evictions - before.index_evictions,
	       after.segments_free);
free_seq:
	free(seq);
	return rc;
}

/* ---- report ---- */

static void print_target(const char *name, const char *goal, double value,
			 bool available, bool met)
{
	printf("target %-16s %-12s %10.4f  %s\n", name, goal, value,
	       !available ? "unavailable" : met ? "met" : "missed");
}

static void report(const struct engine_run *r)
{
	double get = r->get_mops[DIST_UNIFORM][MODE_BATCHED][1];
	double get2 = r->threads_max >= 2 ?
		      r->get_mops[DIST_UNIFORM][MODE_BATCHED][2] : 0.0;
	double vs_limit = r->limit_mops > 0 ? get / r->limit_mops : 0.0;
	double vs_rte = r->rte_mops > 0 ? get / r->rte_mops : 0.0;
	double scale = get > 0 && r->threads_max >= 2 ? get2 / get : 0.0;
	char goal[32];

	if (r->others_max >= 0.1)
		printf("warning: other processes took up to %.2f CPUs during "
		       "timed phases: rates and scale_2t are skewed\n",
		       r->others_max);
	print_target("get_vs_limit", ">= 0.5", vs_limit, true, vs_limit >= 0.5);
	print_target("get_vs_rte_hash", ">= 1.2", vs_rte, r->rte_mops > 0,
		     vs_rte >= 1.2);
	print_target("overhead", "<= 12", r->overhead, true, r->overhead <= 12);
	snprintf(goal, sizeof(goal), "<= %.4f", 0.9 * r->lru_miss_ratio);
	print_target("miss_ratio", goal, r->miss_ratio, true,
		     r->miss_ratio <= 0.9 * r->lru_miss_ratio);
	print_target("scale_2t", ">= 1.9", scale, r->threads_max >= 2,
		     scale >= 1.9);
	printf("engine get_mops=%.3f limit_mops=%.3f get_vs_limit=%.4f "
	       "get_vs_rte_hash=%.4f set_mops=%.3f scale_2t=%.4f "
	       "overhead_bytes_per_item=%.3f miss_ratio=%.4f "
	       "lru_miss_ratio=%.4f\n", get, r->limit_mops, vs_limit, vs_rte,
	       r->set_mops, scale, r->overhead, r->miss_ratio,
	       r->lru_miss_ratio);
}

/* ---- driver ---- */

static int run_all(struct engine_run *r)
{
	struct bench_miss_result miss;
	int rc;

	rc = create_cache(r);
	if (rc < 0)
		return rc;
	rc = load_items(r);
	if (rc < 0)
		goto destroy;
	rc = make_sequences(r);
	if (rc < 0)
		goto free_seqs;
	for (int d = 0; d < DIST_COUNT; d++)
		for (int m = 0; m < MODE_COUNT; m++)
			for (unsigned n = 1; n <= r->threads_max; n++) {
				rc = run_get_phase(r, d, m, n);
				if (rc < 0)
					goto free_seqs;
			}
	rc = verify_sample(r, "load", 0x6000);
	if (rc < 0)
		goto free_seqs;
	rc = measure_limit(r);
	if (rc < 0)
		goto free_seqs;
	measure_rte_hash(r);
	rc = measure_set(r);
	if (rc < 0)
		goto free_seqs;
	rc = verify_sample(r, "set", 0x7000);
	if (rc < 0)
		goto free_seqs;
	free_sequences(r);
	cc_thread_unregister(r->me);
	cc_destroy(r->cache);
	r->cache = NULL;

	rc = bench_miss_run(r->quick, &miss);
	if (rc < 0)
		return rc;
	r->miss_ratio = miss.miss_ratio;
	r->lru_miss_ratio = miss.lru_miss_ratio;
	report(r);
	return 0;

free_seqs:
	free_sequences(r);
destroy:
	cc_thread_unregister(r->me);
	cc_destroy(r->cache);
	r->cache = NULL;
	return rc;
}

int bench_engine_run(int argc, char **argv)
{
	struct engine_cfg cfg = { .threads_max = 2 };
	struct engine_run *r;
	char msg[160];
	int rc;

	if (bench_opts_parse(engine_opts, ENGINE_NOPTS, argc, argv, &cfg, msg,
			     sizeof(msg)) < 0) {
		fprintf(stderr, "corecache-bench engine: %s\n", msg);
		bench_opts_usage(stderr, ENGINE_USAGE, engine_opts,
				 ENGINE_NOPTS);
		return BENCH_EXIT_USAGE;
	}
	if (cfg.help) {
		bench_opts_usage(stderr, ENGINE_USAGE, engine_opts,
				 ENGINE_NOPTS);
		return BENCH_EXIT_USAGE;
	}
	/* Figures appear as they are measured, even through a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	r = calloc(1, sizeof(*r));
	if (!r) {
		fprintf(stderr, "corecache-bench: out of memory\n");
		return BENCH_EXIT_FAIL;
	}
	r->quick = cfg.quick;
	r->items = cfg.items ? cfg.items : cfg.quick ? 200000 : 10000000;
	r->ops = cfg.ops ? cfg.ops : cfg.quick ? 2000000 : 20000000;
	r->threads_max = (unsigned)cfg.threads_max;

	printf("engine bench: %zu items, key %d B, value %d B, %zu ops per "
	       "thread, threads 1..%u%s\n", r->items, BENCH_KEY_LEN,
	       BENCH_VALUE_LEN, r->ops, r->threads_max,
	       r->quick ? ", quick" : "");
	bench_cpus_init();
	for (unsigned i = 0; i < r->threads_max; i++)
		if (!bench_cpu_usable(i))
			printf("note: CPU %u not available, get thread %u runs "
			       "unpinned\n", i, i);
	/* The single-threaded phases run here; CPU 0 is also where the
	 * 1-thread GET phase runs and where EAL pins lcore 0. */
	if (bench_cpu_usable(0))
		bench_pin_self(0);

	rc = run_all(r);
	bench_eal_deinit();
	free(r);
	return rc < 0 ? BENCH_EXIT_FAIL : BENCH_EXIT_OK;
}
