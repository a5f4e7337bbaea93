/*
 * Scalar kernels: the reference every other variant must match, and what
 * runs before simd_init() or on a CPU without SSE4.2.
 *
 * They are written for obviousness, not speed; memcmp and memchr are
 * already vectorised by the C library, which is as much as portable C can
 * hope for. Built with the project's baseline flags only.
 */
#include "simd_internal.h"

uint32_t simd_scalar_tag_match(const uint8_t *tags, uint8_t tag)
{
	uint32_t m = 0;

	for (unsigned int i = 0; i < SIMD_TAG_LANES; i++)
		if (tags[i] == tag)
			m |= 1u << i;
	return m;
}

bool simd_scalar_key_equal(const void *a, const void *b, size_t len)
{
	/* memcmp's pointers must be valid even for len 0, and callers may
	 * pass NULL with an empty key. */
	return len == 0 || memcmp(a, b, len) == 0;
}

size_t simd_scalar_find_newline(const char *p, size_t len)
{
	const char *nl;

	if (len == 0)
		return 0;
	nl = memchr(p, '\n', len);
	return nl != NULL ? (size_t)(nl - p) : len;
}

const struct simd_kernels simd_kernels_scalar = {
	.tag_match = simd_scalar_tag_match,
	.key_equal = simd_scalar_key_equal,
	.find_newline = simd_scalar_find_newline,
};
