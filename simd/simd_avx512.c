/*
 * AVX-512 kernels (built with -mavx512f -mavx512bw -mavx512vl -mbmi -mbmi2
 * -mpopcnt; reached only through the dispatcher after it has seen all of
 * them).
 *
 * What AVX-512 adds here is the masked load: lanes outside the mask are
 * never allowed to fault, so tag_match and find_newline need no promise of
 * readable bytes past their range. key_equal avoids it below 64 bytes (see
 * there). Compares write straight into mask registers, whose
 * bits are already the lane bitmap the callers want.
 */
#include <immintrin.h>

#include "simd_internal.h"

static uint32_t avx512_tag_match(const uint8_t *tags, uint8_t tag)
{
	__mmask16 lanes = (__mmask16)SIMD_TAG_MASK;
	__m128i v = _mm_maskz_loadu_epi8(lanes, tags);

	return (uint32_t)_mm_mask_cmpeq_epi8_mask(lanes, v,
						  _mm_set1_epi8((char)tag));
}

/* Lanes [0, n) for n < 64. */
static inline __mmask64 avx512_first_lanes(size_t n)
{
	return (__mmask64)_bzhi_u64(~0ull, (unsigned int)n);
}

/*
 * Keys are compared in cache memory that is mostly cold: a load that
 * touches a line outside the key waits for that line even if every lane
 * from it is masked off. So below 64 bytes this stays inside [0, len) with
 * overlapping loads, as the AVX2 variant does; only whole 64-byte blocks
 * use zmm.
 */
static bool avx512_key_equal(const void *va, const void *vb, size_t len)
{
	const uint8_t *a = va;
	const uint8_t *b = vb;
	size_t i;

	if (len < 16)
		return simd_short_key_equal(a, b, len);
	if (len < 32)
		return simd_equal16(a, b) &&
		       simd_equal16(a + len - 16, b + len - 16);
	if (len < 64)
		return simd_equal32(a, b) &&
		       simd_equal32(a + len - 32, b + len - 32);
	for (i = 0; len - i >= 64; i += 64)
		if (_mm512_cmpneq_epi8_mask(_mm512_loadu_si512(a + i),
					    _mm512_loadu_si512(b + i)) != 0)
			return false;
	return i == len || _mm512_cmpneq_epi8_mask(
				   _mm512_loadu_si512(a + len - 64),
				   _mm512_loadu_si512(b + len - 64)) == 0;
}

static size_t avx512_find_newline(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	__m512i nl = _mm512_set1_epi8('\n');
	__mmask64 k;
	uint64_t m;
	size_t i;

	for (i = 0; len - i >= 64; i += 64) {
		m = _mm512_cmpeq_epi8_mask(_mm512_loadu_si512(p + i), nl);
		if (m != 0)
			return i + (size_t)_tzcnt_u64(m);
	}
	if (i == len)
		return len;
	k = avx512_first_lanes(len - i);
	m = _mm512_mask_cmpeq_epi8_mask(k, _mm512_maskz_loadu_epi8(k, p + i),
					nl);
	return m != 0 ? i + (size_t)_tzcnt_u64(m) : len;
}

const struct simd_kernels simd_kernels_avx512 = {
	.tag_match = avx512_tag_match,
	.key_equal = avx512_key_equal,
	.find_newline = avx512_find_newline,
};
