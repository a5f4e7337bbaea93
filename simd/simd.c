/*
 * Dispatch: the only place that asks the CPU what it can do.
 *
 * The ISA files are compiled with flags this CPU may lack, so nothing in
 * them may run until a check here has passed; simd_ops therefore starts
 * as the scalar table, written by a static initialiser so that code
 * running before simd_init() (constructors, early parsing) is correct,
 * merely slower. A level is supported only if the CPU has every feature
 * its file was compiled with, not just the headline one: the compiler is
 * free to use BMI or POPCNT anywhere in a file built with those flags.
 *
 * simd_ops is a plain struct written only by simd_select(), which the
 * contract confines to start-up; after that every thread only reads it,
 * so the hot path pays for no atomics and no extra indirection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "simd_internal.h"

struct simd_level_entry {
	const char *name;
	const struct simd_kernels *kernels;
};

static const struct simd_level_entry simd_levels[SIMD_LEVEL_COUNT] = {
	[SIMD_SCALAR] = { "scalar", &simd_kernels_scalar },
	[SIMD_SSE42] = { "sse42", &simd_kernels_sse42 },
	[SIMD_AVX2] = { "avx2", &simd_kernels_avx2 },
	[SIMD_AVX512] = { "avx512", &simd_kernels_avx512 },
};

struct simd_kernels simd_ops = {
	.tag_match = simd_scalar_tag_match,
	.key_equal = simd_scalar_key_equal,
	.find_newline = simd_scalar_find_newline,
};

static enum simd_level simd_current = SIMD_SCALAR;

static bool simd_level_valid(enum simd_level level)
{
	/* The cast folds the negative case into one unsigned comparison,
	 * whichever underlying type the compiler gave the enum. */
	return (unsigned int)level < SIMD_LEVEL_COUNT;
}

bool simd_supported(enum simd_level level)
{
	/* Needed only if we run before libgcc's own constructor, and cheap
	 * after it. */
	__builtin_cpu_init();

	switch (level) {
	case SIMD_SCALAR:
		return true;
	case SIMD_SSE42:
		return __builtin_cpu_supports("sse4.2") &&
		       __builtin_cpu_supports("popcnt");
	case SIMD_AVX2:
		return __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("bmi") &&
		       __builtin_cpu_supports("bmi2") &&
		       __builtin_cpu_supports("popcnt");
	case SIMD_AVX512:
		return __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vl") &&
		       __builtin_cpu_supports("bmi") &&
		       __builtin_cpu_supports("bmi2") &&
		       __builtin_cpu_supports("popcnt");
	case SIMD_LEVEL_COUNT:
		break;
	}
	return false;
}

int simd_select(enum simd_level level)
{
	if (!simd_level_valid(level))
		return -EINVAL;
	if (!simd_supported(level))
		return -ENOTSUP;
	simd_ops = *simd_levels[level].kernels;
	simd_current = level;
	return 0;
}

enum simd_level simd_init(void)
{
	const char *want = getenv("CORECACHE_SIMD");
	int level;

	/* An unknown or unsupported name falls through to the automatic
	 * choice without a message: this module has no log to write to,
	 * and simd_active() tells the caller what it got. */
	if (want != NULL)
		for (level = 0; level < SIMD_LEVEL_COUNT; level++)
			if (strcmp(want, simd_levels[level].name) == 0 &&
			    simd_select((enum simd_level)level) == 0)
				return (enum simd_level)level;

	for (level = SIMD_LEVEL_COUNT - 1; level > SIMD_SCALAR; level--)
		if (simd_select((enum simd_level)level) == 0)
			return (enum simd_level)level;
	simd_select(SIMD_SCALAR);
	return SIMD_SCALAR;
}

const struct simd_kernels *simd_kernels_of(enum simd_level level)
{
	return simd_level_valid(level) ? simd_levels[level].kernels : NULL;
}

enum simd_level simd_active(void)
{
	return simd_current;
}

const char *simd_level_name(enum simd_level level)
{
	/* Never NULL, so callers can print the result of any level. */
	return simd_level_valid(level) ? simd_levels[level].name : "unknown";
}
