/*
 * Request latency histograms: the command classes and the readers' side.
 *
 * The writer's side (proto_clock and proto_latency_record, inline in
 * proto.h) is one clock read and two relaxed load-and-store pairs on the
 * worker's own lines, done by the dispatcher once per request; which
 * clock is chosen here, once, before main. Readers sum the workers' histograms
 * without stopping them: every figure is a 64-bit relaxed atomic written
 * by one thread, so a read sees some recent value of each, never a torn
 * one; a histogram read mid-request may count the request in its bucket
 * and not yet in its sum, which a scrape a second later makes good.
 *
 * The classifier looks at the first token only, by length and then by
 * bytes, so it costs a few comparisons; anything it does not know
 * (including what the dispatcher answers ERROR) is "other".
 */
#include <time.h>

#include "proto_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

uint64_t proto_tsc_mult;

/* ---- the clock ---- */

#if defined(__x86_64__) || defined(__i386__)
static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds per call of a clock, over 2000 calls. */
static uint64_t cost_of(bool tsc)
{
	uint64_t t0 = monotonic_ns(), sink = 0;

	for (int i = 0; i < 2000; i++)
		sink += tsc ? __builtin_ia32_rdtsc() : monotonic_ns();
	__asm__ volatile("" : : "r"(sink));
	return (monotonic_ns() - t0) / 2000;
}

/*
 * Runs before main (and so before any worker): picks the TSC if the CPU
 * says it ticks at a constant rate in every power state (CPUID
 * 0x80000007, EDX bit 8) and reading it is cheaper than clock_gettime,
 * then measures its rate against CLOCK_MONOTONIC over 2 ms. A TSC slower
 * than 1 GHz keeps clock_gettime (the multiplier must stay below 2^32).
 */
__attribute__((constructor)) static void clock_choose(void)
{
	unsigned a, b, c, d;
	uint64_t t0, c0, t1, c1;

	if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
		return;
	__get_cpuid(0x80000007, &a, &b, &c, &d);
	if (!(d & (1u << 8)) || cost_of(true) >= cost_of(false))
		return;
	t0 = monotonic_ns();
	c0 = __builtin_ia32_rdtsc();
	do
		t1 = monotonic_ns();
	while (t1 - t0 < 2000000);
	c1 = __builtin_ia32_rdtsc();
	if (c1 - c0 > t1 - t0)
		proto_tsc_mult = ((t1 - t0) << 32) / (c1 - c0);
}
#endif

/* ---- classes ---- */

static const char *const class_names[PROTO_NCLASSES] = {
#define PROTO_CLASS_NAME(name, help) #name,
	PROTO_CLASSES(PROTO_CLASS_NAME)
#undef PROTO_CLASS_NAME
};

static const char *const class_help[PROTO_NCLASSES] = {
#define PROTO_CLASS_HELP(name, help) help,
	PROTO_CLASSES(PROTO_CLASS_HELP)
#undef PROTO_CLASS_HELP
};

const char *proto_class_name(enum proto_class cls)
{
	return (unsigned)cls < PROTO_NCLASSES ? class_names[cls] : "other";
}

const char *proto_class_help(enum proto_class cls)
{
	return (unsigned)cls < PROTO_NCLASSES ? class_help[cls] : "";
}

static bool token_is(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

enum proto_class proto_classify(const char *s, size_t len)
{
	if (len == 2 && s[0] == 'm') {
		switch (s[1]) {
		case 'g': return PROTO_CLASS_mg;
		case 's': return PROTO_CLASS_ms;
		case 'd': return PROTO_CLASS_md;
		case 'a': return PROTO_CLASS_ma;
		default: return PROTO_CLASS_other;
		}
	}
	switch (len) {
	case 3:
		if (token_is(s, len, "get"))
			return PROTO_CLASS_get;
		if (token_is(s, len, "set") || token_is(s, len, "add") ||
		    token_is(s, len, "cas"))
			return PROTO_CLASS_set;
		if (token_is(s, len, "gat"))
			return PROTO_CLASS_touch;
		break;
	case 4:
		if (token_is(s, len, "gets"))
			return PROTO_CLASS_get;
		if (token_is(s, len, "incr") || token_is(s, len, "decr"))
			return PROTO_CLASS_incr_decr;
		if (token_is(s, len, "gats"))
			return PROTO_CLASS_touch;
		break;
	case 5:
		if (token_is(s, len, "touch"))
			return PROTO_CLASS_touch;
		break;
	case 6:
		if (token_is(s, len, "delete"))
			return PROTO_CLASS_delete;
		if (token_is(s, len, "append"))
			return PROTO_CLASS_set;
		break;
	case 7:
		if (token_is(s, len, "prepend") ||
		    token_is(s, len, "replace"))
			return PROTO_CLASS_set;
		break;
	default:
		break;
	}
	return PROTO_CLASS_other;
}

void proto_latency_add(const struct proto_latency *h,
		       struct proto_latency_sum *sum)
{
	for (unsigned c = 0; c < PROTO_NCLASSES; c++) {
		const struct proto_latency_class *k = &h->cls[c];

		for (unsigned b = 0; b <= PROTO_LATENCY_BUCKETS; b++) {
			uint64_t n = atomic_load_explicit(&k->bucket[b],
							 memory_order_relaxed);

			sum->bucket[c][b] += n;
			sum->count[c] += n;
		}
		sum->sum_ns[c] += atomic_load_explicit(&k->sum_ns,
						       memory_order_relaxed);
	}
}

void proto_latency_read(const struct proto_server *s,
			struct proto_latency_sum *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (uint32_t i = 0; i < s->nworkers; i++)
		proto_latency_add(&s->workers[i]->latency, sum);
}
