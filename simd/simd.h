/*
 * Hot kernels with runtime dispatch.
 *
 * Each kernel exists once per instruction set (scalar, SSE4.2, AVX2,
 * AVX-512) and every variant returns exactly what the scalar one returns.
 * simd_init() picks the best variant the CPU supports once at start-up;
 * afterwards callers go through simd_ops, a table that is never written
 * again, so reading it needs no synchronisation.
 *
 * The module allocates nothing and holds no state beyond that table.
 */
#ifndef CORECACHE_SIMD_H
#define CORECACHE_SIMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum simd_level {
	SIMD_SCALAR,
	SIMD_SSE42,
	SIMD_AVX2,
	SIMD_AVX512,
	SIMD_LEVEL_COUNT,
};

/* Number of tag lanes a bucket has; see cache/ for the bucket layout. */
#define SIMD_TAG_LANES 10

struct simd_kernels {
	/* Bit i set iff tags[i] == tag, for i < SIMD_TAG_LANES. The caller
	 * guarantees 16 readable bytes at tags (variants may load them all). */
	uint32_t (*tag_match)(const uint8_t *tags, uint8_t tag);
	/* a[0..len) == b[0..len). Reads no byte outside either range. */
	bool (*key_equal)(const void *a, const void *b, size_t len);
	/* Index of the first '\n' in p[0..len), or len. Reads nothing past
	 * p + len. */
	size_t (*find_newline)(const char *p, size_t len);
};

/* The active kernels. Filled by simd_init(); scalar before that. */
extern struct simd_kernels simd_ops;

/* Selects the best level the CPU supports, or the one named by the
 * environment variable CORECACHE_SIMD (scalar, sse42, avx2, avx512) if it
 * is supported. Returns the level chosen. Call before starting threads. */
enum simd_level simd_init(void);

/* Selects a level explicitly. 0, or -ENOTSUP if the CPU lacks it, or
 * -EINVAL for an unknown level. Call before starting threads. */
int simd_select(enum simd_level level);

/* Whether this CPU can run a level. */
bool simd_supported(enum simd_level level);

/* The kernels of one level, for tests and benchmarks that compare
 * variants; NULL for an unknown level. */
const struct simd_kernels *simd_kernels_of(enum simd_level level);

enum simd_level simd_active(void);
const char *simd_level_name(enum simd_level level);

/* 64-bit XXH3 of a key. Inline so the hot path pays no call. */
#define XXH_INLINE_ALL
#include <xxhash.h>
static inline uint64_t simd_hash(const void *key, size_t len)
{
	return XXH3_64bits(key, len);
}

#endif
