/*
 * Tests for simd/: every variant this CPU can run must return exactly what
 * a naive byte loop returns, and must not read outside the range it was
 * given.
 *
 * The references are byte loops written here rather than the scalar
 * kernels, so the scalar level is checked like the others. Ranges are
 * placed flush against PROT_NONE pages on either side: a vector load that
 * strays past an end faults there, where inside an ordinary allocation it
 * would pass unnoticed (sanitizers do not see inside intrinsic loads).
 * Ranges in the middle of a page get sentinel bytes on both sides that
 * would change the answer if a kernel looked at them.
 *
 * Every property test runs once per level and skips only when
 * simd_supported() says the CPU lacks that level. Random inputs come from
 * a fixed-seed xorshift generator; each failure prints its seed, and the
 * environment variable CORECACHE_TEST_SEED replaces the fixed seed to
 * explore further.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "simd.h"

#define DEFAULT_SEED 0x5eed0c0cac4e2024ull
#define TAG_ITERATIONS 200000
#define EXHAUSTIVE_MAX_LEN 300
#define RANDOM_ITERATIONS 100000
/* Enough room to test keys and lines far longer than any real one. */
#define USABLE_PAGES 2

struct rng {
	uint64_t s;
};

/* xorshift64*: tiny, fast, and good enough to scatter test inputs. */
static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static size_t rng_below(struct rng *r, size_t n)
{
	return (size_t)(rng_next(r) % n);
}

static uint8_t rng_byte(struct rng *r)
{
	return (uint8_t)(rng_next(r) >> 56);
}

/* A byte that is never zero, favouring single high and low bits, which
 * are the ones a sign-based or borrow-based trick is likeliest to miss. */
static uint8_t rng_delta(struct rng *r)
{
	switch (rng_below(r, 4)) {
	case 0:
		return 0x80;
	case 1:
		return 0x01;
	default:
		return (uint8_t)(1 + rng_below(r, 255));
	}
}

/* [guard page][usable pages][guard page] */
struct guarded {
	uint8_t *map;
	size_t map_len;
	uint8_t *lo;
	uint8_t *hi;
};

static int guarded_create(struct guarded *g)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	g->map_len = (USABLE_PAGES + 2) * page;
	g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED)
		return -errno;
	g->lo = g->map + page;
	g->hi = g->lo + USABLE_PAGES * page;
	if (mprotect(g->map, page, PROT_NONE) != 0 ||
	    mprotect(g->hi, page, PROT_NONE) != 0) {
		int err = -errno;

		munmap(g->map, g->map_len);
		return err;
	}
	return 0;
}

static void guarded_destroy(struct guarded *g)
{
	if (g->map != NULL && g->map != MAP_FAILED)
		munmap(g->map, g->map_len);
}

enum placement {
	PLACE_END,	/* last byte just before the trailing guard page */
	PLACE_START,	/* first byte just after the leading guard page */
	PLACE_MIDDLE,	/* at least one sentinel byte on each side */
	PLACE_COUNT,
};

static const char *const placement_names[PLACE_COUNT] = {
	[PLACE_END] = "end-at-guard",
	[PLACE_START] = "start-at-guard",
	[PLACE_MIDDLE] = "middle",
};

static uint8_t *place(const struct guarded *g, enum placement where,
		      size_t len, struct rng *r)
{
	size_t room = (size_t)(g->hi - g->lo);

	switch (where) {
	case PLACE_END:
		return g->hi - len;
	case PLACE_START:
		return g->lo;
	default:
		return g->lo + 1 + rng_below(r, room - len - 1);
	}
}

struct fixture {
	enum simd_level level;
	const struct simd_kernels *k;
	uint64_t seed;
	struct rng rng;
	struct guarded g[2];
};

static int fixture_setup(void **state)
{
	enum simd_level level = *(enum simd_level *)*state;
	const char *env = getenv("CORECACHE_TEST_SEED");
	struct fixture *f = calloc(1, sizeof(*f));
	int err;

	if (f == NULL)
		return -ENOMEM;
	f->level = level;
	f->k = simd_kernels_of(level);
	f->seed = env != NULL ? strtoull(env, NULL, 0) : DEFAULT_SEED;
	/* Each level gets its own stream; xorshift must not start at 0. */
	f->rng.s = (f->seed ^ (0x9e3779b97f4a7c15ull * (level + 1))) | 1;
	err = guarded_create(&f->g[0]);
	if (err != 0)
		goto free_fixture;
	err = guarded_create(&f->g[1]);
	if (err != 0)
		goto destroy_first;
	*state = f;
	return 0;

destroy_first:
	guarded_destroy(&f->g[0]);
free_fixture:
	free(f);
	return err;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	guarded_destroy(&f->g[1]);
	guarded_destroy(&f->g[0]);
	free(f);
	return 0;
}

/* Skipping is for a CPU that lacks the level, and nothing else. */
static struct fixture *fixture_for_level(void **state)
{
	struct fixture *f = *state;

	assert_non_null(f->k);
	if (!simd_supported(f->level))
		skip();
	return f;
}

struct case_info {
	const struct fixture *f;
	const char *kernel;
	enum placement where;
	size_t len;
	size_t pos;
	uint64_t iter;
};

static void check_result(const struct case_info *c, uint64_t got,
			 uint64_t want)
{
	if (got == want)
		return;
	print_error("%s/%s: got %" PRIu64 " want %" PRIu64
		    " (seed=0x%016" PRIx64 " iter=%" PRIu64
		    " len=%zu pos=%zu placement=%s)\n",
		    c->kernel, simd_level_name(c->f->level), got, want,
		    c->f->seed, c->iter, c->len, c->pos,
		    placement_names[c->where]);
	fail();
}

static uint32_t ref_tag_match(const uint8_t *tags, uint8_t tag)
{
	uint32_t m = 0;

	for (unsigned int i = 0; i < SIMD_TAG_LANES; i++)
		if (tags[i] == tag)
			m |= 1u << i;
	return m;
}

static bool ref_key_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static size_t ref_find_newline(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\n')
			return i;
	return len;
}

static void fill_tags(struct rng *r, uint8_t *t, uint8_t tag)
{
	uint8_t lanes[SIMD_TAG_LANES];
	size_t planted = rng_below(r, SIMD_TAG_LANES + 1);

	for (unsigned int i = 0; i < 16; i++)
		t[i] = rng_below(r, 2) ? rng_byte(r) :
					 (uint8_t)(tag ^ (1u << rng_below(r, 8)));
	for (unsigned int i = 0; i < SIMD_TAG_LANES; i++)
		lanes[i] = (uint8_t)i;
	for (size_t i = 0; i < planted; i++) {
		size_t j = i + rng_below(r, SIMD_TAG_LANES - i);
		uint8_t tmp = lanes[i];

		lanes[i] = lanes[j];
		lanes[j] = tmp;
		t[lanes[i]] = tag;
	}
	/* Lanes past the tags must never be reported, so plant there often. */
	for (unsigned int i = SIMD_TAG_LANES; i < 16; i++)
		if (rng_below(r, 2))
			t[i] = tag;
}

static uint8_t pick_tag(struct rng *r)
{
	static const uint8_t edges[] = { 0x00, 0x01, 0x7f, 0x80, 0xff, '\n' };

	if (rng_below(r, 8) == 0)
		return edges[rng_below(r, sizeof(edges))];
	return rng_byte(r);
}

static void test_tag_match(void **state)
{
	struct fixture *f = fixture_for_level(state);
	struct case_info c = { .f = f, .kernel = "tag_match", .len = 16 };
	uint8_t *t;

	for (c.iter = 0; c.iter < TAG_ITERATIONS; c.iter++) {
		uint8_t tag = pick_tag(&f->rng);

		c.where = (enum placement)(c.iter % PLACE_COUNT);
		t = place(&f->g[0], c.where, 16, &f->rng);
		fill_tags(&f->rng, t, tag);
		check_result(&c, f->k->tag_match(t, tag),
			     ref_tag_match(t, tag));
	}
}

/*
 * The AVX-512 variant promises more than the contract asks: it loads only
 * the ten tag lanes, so ten readable bytes are enough. Checked here so the
 * masked load cannot quietly become a full one.
 */
static void test_tag_match_masked_load(void **state)
{
	struct fixture *f = fixture_for_level(state);
	struct case_info c = { .f = f, .kernel = "tag_match",
			       .where = PLACE_END, .len = SIMD_TAG_LANES };
	uint8_t *t = f->g[0].hi - SIMD_TAG_LANES;

	for (c.iter = 0; c.iter < 10000; c.iter++) {
		uint8_t tag = pick_tag(&f->rng);

		for (unsigned int i = 0; i < SIMD_TAG_LANES; i++)
			t[i] = rng_below(&f->rng, 3) ? tag : rng_byte(&f->rng);
		check_result(&c, f->k->tag_match(t, tag),
			     ref_tag_match(t, tag));
	}
}

static void set_sentinels(uint8_t *a, uint8_t *b, size_t len,
			  enum placement where)
{
	if (where != PLACE_MIDDLE)
		return;
	a[-1] = 0x11;
	b[-1] = 0xee;
	a[len] = 0x22;
	b[len] = 0xdd;
}

static void check_key_equal(const struct case_info *c, const uint8_t *a,
			    const uint8_t *b)
{
	check_result(c, c->f->k->key_equal(a, b, c->len),
		     ref_key_equal(a, b, c->len));
}

static void test_key_equal_exhaustive(void **state)
{
	struct fixture *f = fixture_for_level(state);
	struct case_info c = { .f = f, .kernel = "key_equal" };

	for (c.len = 0; c.len <= EXHAUSTIVE_MAX_LEN; c.len++) {
		for (int w = 0; w < PLACE_COUNT; w++) {
			uint8_t *a, *b;

			c.where = (enum placement)w;
			a = place(&f->g[0], c.where, c.len, &f->rng);
			b = place(&f->g[1], c.where, c.len, &f->rng);
			for (size_t i = 0; i < c.len; i++)
				a[i] = rng_byte(&f->rng);
			if (c.len > 0)
				memcpy(b, a, c.len);
			set_sentinels(a, b, c.len, c.where);
			c.pos = c.len;
			check_key_equal(&c, a, b);
			for (c.pos = 0; c.pos < c.len; c.pos++) {
				uint8_t delta = rng_delta(&f->rng);

				b[c.pos] ^= delta;
				check_key_equal(&c, a, b);
				b[c.pos] ^= delta;
			}
			c.iter++;
		}
	}
}

/* Mostly realistic key lengths, sometimes far longer ones. */
static size_t random_len(struct rng *r, size_t max)
{
	switch (rng_below(r, 8)) {
	case 0:
		return rng_below(r, max + 1);
	case 1:
		return rng_below(r, 1025);
	default:
		return rng_below(r, EXHAUSTIVE_MAX_LEN + 1);
	}
}

static void test_key_equal_random(void **state)
{
	struct fixture *f = fixture_for_level(state);
	struct case_info c = { .f = f, .kernel = "key_equal" };
	size_t max = (size_t)(f->g[0].hi - f->g[0].lo) - 2;

	for (c.iter = 0; c.iter < RANDOM_ITERATIONS; c.iter++) {
		enum placement wa = (enum placement)rng_below(&f->rng, PLACE_COUNT);
		enum placement wb = (enum placement)rng_below(&f->rng, PLACE_COUNT);
		uint8_t *a, *b;

		c.len = random_len(&f->rng, max);
		c.where = wa;
		a = place(&f->g[0], wa, c.len, &f->rng);
		b = place(&f->g[1], wb, c.len, &f->rng);
		for (size_t i = 0; i < c.len; i++)
			a[i] = rng_byte(&f->rng);
		if (c.len > 0)
			memcpy(b, a, c.len);
		c.pos = c.len;
		if (c.len > 0 && rng_below(&f->rng, 2)) {
			size_t flips = 1 + rng_below(&f->rng, 3);

			for (size_t i = 0; i < flips; i++) {
				c.pos = rng_below(&f->rng, c.len);
				b[c.pos] ^= rng_delta(&f->rng);
			}
		}
		check_key_equal(&c, a, b);
	}
}

/* Random bytes with every '\n' replaced by a near miss. */
static void fill_no_newline(struct rng *r, uint8_t *p, size_t len)
{
	static const uint8_t near[] = { 0x0b, 0x09, 0x8a, 0x0a ^ 0x40, 0x00 };

	for (size_t i = 0; i < len; i++) {
		p[i] = rng_byte(r);
		if (p[i] == '\n' || rng_below(r, 8) == 0)
			p[i] = near[rng_below(r, sizeof(near))];
	}
}

static void check_find_newline(const struct case_info *c, const uint8_t *p)
{
	check_result(c, c->f->k->find_newline((const char *)p, c->len),
		     ref_find_newline(p, c->len));
}

static void test_find_newline_exhaustive(void **state)
{
	struct fixture *f = fixture_for_level(state);
	struct case_info c = { .f = f, .kernel = "find_newline" };

	for (c.len = 0; c.len <= EXHAUSTIVE_MAX_LEN; c.len++) {
		for (int w = 0; w < PLACE_COUNT; w++) {
			uint8_t *p;

			c.where = (enum placement)w;
			p = place(&f->g[0], c.where, c.len, &f->rng);
			fill_no_newline(&f->rng, p, c.len);
			if (c.where == PLACE_MIDDLE) {
				p[-1] = '\n';
				p[c.len] = '\n';
			}
			c.pos = c.len;
			check_find_newline(&c, p);
			for (c.pos = 0; c.pos < c.len; c.pos++) {
				/* A second newline later must not win. */
				size_t later = c.pos + 1 +
					       rng_below(&f->rng, c.len - c.pos);
				uint8_t saved = later < c.len ? p[later] : 0;

				p[c.pos] = '\n';
				if (later < c.len)
					p[later] = '\n';
				check_find_newline(&c, p);
				if (later < c.len)
					p[later] = saved;
				p[c.pos] = 0x0b;
			}
			c.iter++;
		}
	}
}

static void test_find_newline_random(void **state)
{
	struct fixture *f = fixture_for_level(state);
	struct case_info c = { .f = f, .kernel = "find_newline" };
	size_t max = (size_t)(f->g[0].hi - f->g[0].lo) - 2;

	for (c.iter = 0; c.iter < RANDOM_ITERATIONS; c.iter++) {
		uint8_t *p;
		size_t n;

		c.len = random_len(&f->rng, max);
		c.where = (enum placement)rng_below(&f->rng, PLACE_COUNT);
		p = place(&f->g[0], c.where, c.len, &f->rng);
		fill_no_newline(&f->rng, p, c.len);
		n = c.len > 0 ? rng_below(&f->rng, 4) : 0;
		c.pos = c.len;
		for (size_t i = 0; i < n; i++) {
			size_t at = rng_below(&f->rng, c.len);

			p[at] = '\n';
			if (at < c.pos)
				c.pos = at;
		}
		check_find_newline(&c, p);
	}
}

static enum simd_level best_supported(void)
{
	int level = SIMD_LEVEL_COUNT - 1;

	while (level > SIMD_SCALAR && !simd_supported((enum simd_level)level))
		level--;
	return (enum simd_level)level;
}

static void assert_ops_are(enum simd_level level)
{
	const struct simd_kernels *k = simd_kernels_of(level);

	assert_non_null(k);
	assert_int_equal(simd_active(), level);
	assert_ptr_equal(simd_ops.tag_match, k->tag_match);
	assert_ptr_equal(simd_ops.key_equal, k->key_equal);
	assert_ptr_equal(simd_ops.find_newline, k->find_newline);
}

/* Must run first: nothing has called simd_init() or simd_select() yet. */
static void test_scalar_before_init(void **state)
{
	(void)state;
	assert_ops_are(SIMD_SCALAR);
}

static void test_level_names(void **state)
{
	static const char *const expected[SIMD_LEVEL_COUNT] = {
		[SIMD_SCALAR] = "scalar",
		[SIMD_SSE42] = "sse42",
		[SIMD_AVX2] = "avx2",
		[SIMD_AVX512] = "avx512",
	};

	(void)state;
	for (int l = 0; l < SIMD_LEVEL_COUNT; l++) {
		assert_non_null(simd_level_name((enum simd_level)l));
		assert_string_equal(simd_level_name((enum simd_level)l),
				    expected[l]);
	}
	assert_non_null(simd_level_name(SIMD_LEVEL_COUNT));
}

static void test_kernels_of(void **state)
{
	(void)state;
	for (int l = 0; l < SIMD_LEVEL_COUNT; l++) {
		const struct simd_kernels *k =
			simd_kernels_of((enum simd_level)l);

		assert_non_null(k);
		assert_non_null(k->tag_match);
		assert_non_null(k->key_equal);
		assert_non_null(k->find_newline);
	}
	assert_null(simd_kernels_of(SIMD_LEVEL_COUNT));
	assert_true(simd_supported(SIMD_SCALAR));
	assert_false(simd_supported(SIMD_LEVEL_COUNT));
}

static void test_select(void **state)
{
	(void)state;
	assert_int_equal(simd_select(SIMD_LEVEL_COUNT), -EINVAL);
	assert_int_equal(simd_select((enum simd_level)(SIMD_LEVEL_COUNT + 7)),
			 -EINVAL);
	assert_int_equal(simd_select(SIMD_SCALAR), 0);
	assert_ops_are(SIMD_SCALAR);

	for (int l = 0; l < SIMD_LEVEL_COUNT; l++) {
		enum simd_level level = (enum simd_level)l;
		enum simd_level before = simd_active();

		if (simd_supported(level)) {
			assert_int_equal(simd_select(level), 0);
			assert_ops_are(level);
		} else {
			assert_int_equal(simd_select(level), -ENOTSUP);
			assert_ops_are(before);
		}
	}
}

static void set_env(const char *value)
{
	if (value != NULL)
		assert_int_equal(setenv("CORECACHE_SIMD", value, 1), 0);
	else
		assert_int_equal(unsetenv("CORECACHE_SIMD"), 0);
}

static void test_init_env(void **state)
{
	const char *old = getenv("CORECACHE_SIMD");
	char *saved = old != NULL ? strdup(old) : NULL;
	enum simd_level best = best_supported();

	(void)state;
	if (old != NULL)
		assert_non_null(saved);

	set_env("scalar");
	assert_int_equal(simd_init(), SIMD_SCALAR);
	assert_ops_are(SIMD_SCALAR);

	for (int l = 0; l < SIMD_LEVEL_COUNT; l++) {
		enum simd_level level = (enum simd_level)l;

		set_env(simd_level_name(level));
		assert_int_equal(simd_init(),
				 simd_supported(level) ? level : best);
		assert_ops_are(simd_active());
	}

	/* A name that means nothing is ignored, not an error. */
	simd_select(SIMD_SCALAR);
	set_env("bogus");
	assert_int_equal(simd_init(), best);
	assert_ops_are(best);

	simd_select(SIMD_SCALAR);
	set_env(NULL);
	assert_int_equal(simd_init(), best);
	assert_ops_are(best);

	set_env(saved);
	free(saved);
}

static enum simd_level levels[SIMD_LEVEL_COUNT] = {
	SIMD_SCALAR, SIMD_SSE42, SIMD_AVX2, SIMD_AVX512,
};

#define PER_LEVEL(label, fn)                                              \
	{ label "/scalar", fn, fixture_setup, fixture_teardown,            \
	  &levels[SIMD_SCALAR] },                                          \
	{ label "/sse42", fn, fixture_setup, fixture_teardown,             \
	  &levels[SIMD_SSE42] },                                           \
	{ label "/avx2", fn, fixture_setup, fixture_teardown,              \
	  &levels[SIMD_AVX2] },                                            \
	{ label "/avx512", fn, fixture_setup, fixture_teardown,            \
	  &levels[SIMD_AVX512] }

int main(void)
{
	const struct CMUnitTest api_tests[] = {
		cmocka_unit_test(test_scalar_before_init),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_kernels_of),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_init_env),
	};
	const struct CMUnitTest kernel_tests[] = {
		PER_LEVEL("tag_match", test_tag_match),
		{ "tag_match_ten_bytes/avx512", test_tag_match_masked_load,
		  fixture_setup, fixture_teardown, &levels[SIMD_AVX512] },
		PER_LEVEL("key_equal_exhaustive", test_key_equal_exhaustive),
		PER_LEVEL("key_equal_random", test_key_equal_random),
		PER_LEVEL("find_newline_exhaustive",
			  test_find_newline_exhaustive),
		PER_LEVEL("find_newline_random", test_find_newline_random),
	};
	int failed = 0;

	failed += cmocka_run_group_tests_name("simd_api", api_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("simd_kernels", kernel_tests,
					      NULL, NULL);
	return failed != 0 ? 1 : 0;
}
