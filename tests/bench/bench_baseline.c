/*
 * corecache-bench baselines: what the engine's rates are judged against.
 *
 * Two measurements that need no engine: independent random loads over a
 * mapping as large as the cache and backed the same way (a GET needs at
 * least one such miss, so this bounds the engine's rate), and DPDK's
 * rte_hash doing the same batched lookups on the same keys. They measure
 * the machine and DPDK rather than corecache, and every subcommand may
 * want them, so they live apart from any one subcommand. The random-load
 * baseline maps its memory with bench_map, like the engine's segments,
 * since page size alone changes the cost of a random access severalfold.
 *
 * The DPDK EAL starts here, once per process and only when the rte_hash
 * baseline needs it: it claims process-wide state and pins its caller.
 * This is the only file of the benchmark that includes DPDK headers.
 */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_memory.h>

int bench_random_loads(size_t len, bool hugetlb, size_t ops,
		       struct bench_loads_result *out)
{
	uint64_t sum = 0, t0, t1;
	size_t lines;
	uint32_t *offs;
	uint8_t *buf;
	void *p;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = bench_map(len, hugetlb, &p, &out->mapped);
	if (rc < 0 && hugetlb) {
		/* The engine got hugetlbfs pages that are gone now; THP is
		 * the nearest backing left. */
		out->hugetlb_err = rc;
		hugetlb = false;
		rc = bench_map(len, hugetlb, &p, &out->mapped);
	}
	if (rc < 0)
		return rc;
	out->hugetlb = hugetlb;
	buf = p;
	lines = out->mapped / 64;
	if (lines > UINT32_MAX) {
		rc = -E2BIG;
		goto unmap;
	}
	offs = malloc(ops * sizeof(*offs));
	if (!offs) {
		rc = -ENOMEM;
		goto unmap;
	}
	bench_seq_uniform(offs, ops, lines, 0x3000);

	bench_cpu_sample(&out->start);
	t0 = bench_now_ns();
	for (size_t i = 0; i < ops; i++) {
		uint64_t w;

		memcpy(&w, buf + (size_t)offs[i] * 64, sizeof(w));
		sum += w;
	}
	t1 = bench_now_ns();
	bench_cpu_sample(&out->end);
	out->mops = bench_mops(ops, t0, t1);
	out->sum = sum;
	free(offs);
unmap:
	bench_unmap(p, out->mapped);
	return rc;
}

static bool eal_tried, eal_ok;

/* EAL claims process-wide state and pins its caller, so it starts only
 * when a baseline needs it, and only once: it cannot start again. */
int bench_eal_init(size_t memory_mb, char *msg, size_t msg_len)
{
	char a0[] = "corecache-bench", a1[] = "--no-huge", a2[] = "-m", a3[24],
	     a4[] = "--no-pci", a5[] = "--no-telemetry",
	     a6[] = "--log-level=error", a7[] = "-l", a8[] = "0";
	char *argv[] = { a0, a1, a2, a3, a4, a5, a6, a7, a8, NULL };

	if (eal_tried) {
		if (!eal_ok)
			snprintf(msg, msg_len, "EAL failed earlier");
		return eal_ok ? 0 : -ENODEV;
	}
	eal_tried = true;
	snprintf(a3, sizeof(a3), "%zu", memory_mb);
	if (rte_eal_init(9, argv) < 0) {
		snprintf(msg, msg_len, "rte_eal_init -m %zu: %s", memory_mb,
			 rte_strerror(rte_errno));
		return -ENODEV;
	}
	eal_ok = true;
	return 0;
}

void bench_eal_deinit(void)
{
	if (eal_ok)
		rte_eal_cleanup();
	eal_ok = false;
}

static int rte_lookup_loop(const struct rte_hash *h, const uint32_t *seq,
			   size_t ops, uint64_t *hits_out, uint64_t *sum_out)
{
	char kb[BENCH_BATCH][BENCH_KEY_LEN];
	const void *keys[BENCH_BATCH];
	void *data[BENCH_BATCH];
	uint64_t hits = 0, sum = 0;

	for (unsigned j = 0; j < BENCH_BATCH; j++)
		keys[j] = kb[j];
	for (size_t i = 0; i < ops; i += BENCH_BATCH) {
		unsigned n = ops - i < BENCH_BATCH ? (unsigned)(ops - i)
						   : BENCH_BATCH;
		uint64_t mask = 0;
		int rc;

		for (unsigned j = 0; j < n; j++)
			bench_key_make(seq[i + j], kb[j]);
		rc = rte_hash_lookup_bulk_data(h, keys, n, &mask, data);
		if (rc < 0)
			return rc;
		hits += (unsigned)rc;
		/* Consume each hit without reading its value, as the engine
		 * loop does with value_len. */
		for (unsigned j = 0; j < n; j++)
			if (mask & ((uint64_t)1 << j))
				sum += (uintptr_t)data[j] & 0xff;
	}
	*hits_out = hits;
	*sum_out = sum;
	return 0;
}

int bench_rte_hash_run(size_t items, const uint32_t *seq, size_t ops,
		       struct bench_rte_result *out, char *msg,
		       size_t msg_len)
{
	struct rte_hash_parameters hp = {
		.name = "corecache_bench",
		.entries = (uint32_t)items,
		.key_len = BENCH_KEY_LEN,
		.hash_func = rte_hash_crc,
		.hash_func_init_val = 0,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = 0,
	};
	unsigned char *values;
	struct rte_hash *h;
	uint64_t t0, t1;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (items > UINT32_MAX) {
		snprintf(msg, msg_len, "%zu entries exceed rte_hash's limit",
			 items);
		return -E2BIG;
	}
	values = malloc(items * BENCH_VALUE_LEN);
	if (!values) {
		snprintf(msg, msg_len, "no memory for %zu values", items);
		return -ENOMEM;
	}
	for (size_t i = 0; i < items; i++)
		bench_value_make(i, values + i * BENCH_VALUE_LEN);
	h = rte_hash_create(&hp);
	if (!h) {
		rc = rte_errno > 0 ? -rte_errno : -ENOMEM;
		snprintf(msg, msg_len, "rte_hash_create: %s",
			 rte_strerror(rte_errno));
		goto free_values;
	}
	t0 = bench_now_ns();
	for (size_t i = 0; i < items; i++) {
		char key[BENCH_KEY_LEN];

		bench_key_make(i, key);
		if (rte_hash_add_key_data(h, key,
					  values + i * BENCH_VALUE_LEN) < 0)
			out->add_refused++;
	}
	t1 = bench_now_ns();
	out->add_mops = bench_mops(items, t0, t1);

	bench_cpu_sample(&out->start);
	t0 = bench_now_ns();
	rc = rte_lookup_loop(h, seq, ops, &out->hits, &out->sum);
	t1 = bench_now_ns();
	bench_cpu_sample(&out->end);
	if (rc < 0) {
		snprintf(msg, msg_len, "rte_hash_lookup_bulk_data: %s",
			 strerror(-rc));
		goto free_hash;
	}
	out->lookup_mops = bench_mops(ops, t0, t1);
free_hash:
	rte_hash_free(h);
free_values:
	free(values);
	return rc;
}
