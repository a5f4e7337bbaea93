/*
 * What the per-ISA files share with the dispatcher, and nothing more.
 *
 * Each ISA file is compiled with its own -m flags, so the only things that
 * cross a file boundary are the kernel tables and the scalar functions
 * (simd.c needs those by name to initialise simd_ops statically, because C
 * does not accept another object's value in a static initialiser).
 *
 * The short-length helpers below are plain C on purpose: a static inline
 * function is compiled separately in every file that includes it, with
 * that file's flags, so the SSE4.2 and AVX2 files can share one tail
 * routine without either one calling into code built for another ISA.
 * They rely on little-endian loads, which every target of this module
 * (x86-64) has.
 */
#ifndef CORECACHE_SIMD_INTERNAL_H
#define CORECACHE_SIMD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "simd.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "simd_internal.h assumes little-endian word loads"
#endif

/* Lanes 10..15 are loaded with the tags but belong to another field. */
#define SIMD_TAG_MASK ((uint32_t)((1u << SIMD_TAG_LANES) - 1))

uint32_t simd_scalar_tag_match(const uint8_t *tags, uint8_t tag);
bool simd_scalar_key_equal(const void *a, const void *b, size_t len);
size_t simd_scalar_find_newline(const char *p, size_t len);

extern const struct simd_kernels simd_kernels_scalar;
extern const struct simd_kernels simd_kernels_sse42;
extern const struct simd_kernels simd_kernels_avx2;
extern const struct simd_kernels simd_kernels_avx512;

/* memcpy is how C spells an unaligned load without breaking aliasing
 * rules; compilers turn each into a single mov. */
static inline uint64_t simd_load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t simd_load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint16_t simd_load16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Equality for len < 16 without a loop: two loads of the widest word that
 * fits, one at each end, overlapping in the middle. Every byte of
 * [0, len) is covered and no load crosses either end.
 */
static inline bool simd_short_key_equal(const uint8_t *a, const uint8_t *b,
					size_t len)
{
	if (len >= 8)
		return ((simd_load64(a) ^ simd_load64(b)) |
			(simd_load64(a + len - 8) ^ simd_load64(b + len - 8))) == 0;
	if (len >= 4)
		return ((simd_load32(a) ^ simd_load32(b)) |
			(simd_load32(a + len - 4) ^ simd_load32(b + len - 4))) == 0;
	if (len >= 2)
		return ((simd_load16(a) ^ simd_load16(b)) |
			(simd_load16(a + len - 2) ^ simd_load16(b + len - 2))) == 0;
	return len == 0 || a[0] == b[0];
}

/*
 * High bit set in every byte of v that is '\n'. A borrow can also set the
 * bit of a byte above a real match, never below one, so the lowest set
 * bit is always exact; that is the only bit callers use.
 */
static inline uint64_t simd_newline_bits64(uint64_t v)
{
	uint64_t x = v ^ 0x0a0a0a0a0a0a0a0aull;

	return (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
}

static inline uint32_t simd_newline_bits32(uint32_t v)
{
	uint32_t x = v ^ 0x0a0a0a0au;

	return (x - 0x01010101u) & ~x & 0x80808080u;
}

/*
 * find_newline for len < 16, by the same two-overlapping-words scheme as
 * simd_short_key_equal. The second word may re-read bytes the first one
 * already cleared of newlines, so its first hit is still the first one.
 */
static inline size_t simd_short_find_newline(const uint8_t *p, size_t len)
{
	if (len >= 8) {
		uint64_t m = simd_newline_bits64(simd_load64(p));

		if (m != 0)
			return (size_t)__builtin_ctzll(m) / 8;
		m = simd_newline_bits64(simd_load64(p + len - 8));
		if (m != 0)
			return len - 8 + (size_t)__builtin_ctzll(m) / 8;
		return len;
	}
	if (len >= 4) {
		uint32_t m = simd_newline_bits32(simd_load32(p));

		if (m != 0)
			return (size_t)__builtin_ctz(m) / 8;
		m = simd_newline_bits32(simd_load32(p + len - 4));
		if (m != 0)
			return len - 4 + (size_t)__builtin_ctz(m) / 8;
		return len;
	}
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\n')
			return i;
	return len;
}

/*
 * Whole-vector equality, shared by the ISA files that can run it. Each
 * includer compiles these with its own -m flags, and the guards keep them
 * out of files built without them (simd.c, the scalar file).
 */
#ifdef __SSE4_1__
#include <immintrin.h>

static inline bool simd_equal16(const uint8_t *a, const uint8_t *b)
{
	__m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i *)a),
				  _mm_loadu_si128((const __m128i *)b));

	return _mm_testz_si128(x, x) != 0;
}
#endif

#ifdef __AVX2__
static inline bool simd_equal32(const uint8_t *a, const uint8_t *b)
{
	__m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)a),
				     _mm256_loadu_si256((const __m256i *)b));

	return _mm256_testz_si256(x, x) != 0;
}
#endif

#endif
