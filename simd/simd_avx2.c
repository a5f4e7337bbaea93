/*
 * AVX2 kernels (built with -mavx2 -mbmi -mbmi2 -mpopcnt; reached only
 * through the dispatcher after it has seen all four features).
 *
 * tag_match reads 16 bytes, so it is the SSE4.2 operation again (VEX-
 * encoded here, as these flags make it); a 256-bit compare would only add
 * lanes to mask away.
 *
 * key_equal and find_newline follow the SSE4.2 scheme one width up: full
 * 32-byte loads (two at a time while 64 bytes remain), then one 32-byte
 * load ending at the last byte. Ranges of 16..31 bytes take two
 * overlapping 16-byte loads and shorter ones the word-sized helpers, so no
 * load crosses either end of its range.
 */
#include <immintrin.h>

#include "simd_internal.h"

static uint32_t avx2_tag_match(const uint8_t *tags, uint8_t tag)
{
	__m128i v = _mm_loadu_si128((const __m128i *)tags);
	__m128i eq = _mm_cmpeq_epi8(v, _mm_set1_epi8((char)tag));

	return (uint32_t)_mm_movemask_epi8(eq) & SIMD_TAG_MASK;
}

/* Non-zero lanes where a and b differ. */
static inline __m256i avx2_diff32(const uint8_t *a, const uint8_t *b)
{
	return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)a),
				_mm256_loadu_si256((const __m256i *)b));
}

static bool avx2_key_equal(const void *va, const void *vb, size_t len)
{
	const uint8_t *a = va;
	const uint8_t *b = vb;
	size_t i;

	if (len < 16)
		return simd_short_key_equal(a, b, len);
	if (len < 32)
		return simd_equal16(a, b) &&
		       simd_equal16(a + len - 16, b + len - 16);
	/* One test and branch per 64 bytes instead of per 32: about a
	 * third faster on 250-byte keys, and no slower on short ones. */
	for (i = 0; len - i >= 64; i += 64) {
		__m256i x = _mm256_or_si256(avx2_diff32(a + i, b + i),
					    avx2_diff32(a + i + 32, b + i + 32));

		if (!_mm256_testz_si256(x, x))
			return false;
	}
	if (len - i >= 32) {
		if (!simd_equal32(a + i, b + i))
			return false;
		i += 32;
	}
	return i == len || simd_equal32(a + len - 32, b + len - 32);
}

static inline uint32_t avx2_newline_mask16(const uint8_t *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)p);

	return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
}

static inline __m256i avx2_newline_lanes(const uint8_t *p)
{
	return _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)p),
				 _mm256_set1_epi8('\n'));
}

static inline uint32_t avx2_newline_mask32(const uint8_t *p)
{
	return (uint32_t)_mm256_movemask_epi8(avx2_newline_lanes(p));
}

/* Two compares per branch; the lane bitmap is only assembled once a
 * newline is known to be in the block. */
static inline uint64_t avx2_newline_mask64(const uint8_t *p)
{
	__m256i e0 = avx2_newline_lanes(p);
	__m256i e1 = avx2_newline_lanes(p + 32);
	__m256i any = _mm256_or_si256(e0, e1);

	if (_mm256_testz_si256(any, any))
		return 0;
	return (uint64_t)(uint32_t)_mm256_movemask_epi8(e0) |
	       (uint64_t)(uint32_t)_mm256_movemask_epi8(e1) << 32;
}

static size_t avx2_find_newline(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	uint32_t m;
	size_t i;

	if (len < 16)
		return simd_short_find_newline(p, len);
	if (len < 32) {
		m = avx2_newline_mask16(p);
		if (m != 0)
			return (size_t)__builtin_ctz(m);
		m = avx2_newline_mask16(p + len - 16);
		return m != 0 ? len - 16 + (size_t)__builtin_ctz(m) : len;
	}
	for (i = 0; len - i >= 64; i += 64) {
		uint64_t m64 = avx2_newline_mask64(p + i);

		if (m64 != 0)
			return i + (size_t)__builtin_ctzll(m64);
	}
	if (len - i >= 32) {
		m = avx2_newline_mask32(p + i);
		if (m != 0)
			return i + (size_t)__builtin_ctz(m);
		i += 32;
	}
	if (i == len)
		return len;
	m = avx2_newline_mask32(p + len - 32);
	return m != 0 ? len - 32 + (size_t)__builtin_ctz(m) : len;
}

const struct simd_kernels simd_kernels_avx2 = {
	.tag_match = avx2_tag_match,
	.key_equal = avx2_key_equal,
	.find_newline = avx2_find_newline,
};
