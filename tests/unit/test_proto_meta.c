/*
 * Unit tests of the meta protocol's reading side and of what all its
 * commands share (proto_meta.c, proto_meta_flags.c): mn, mg and me, every
 * flag and every flag error, quiet mode, base64 keys, vivify and recache
 * flows between two clients, the TTL clock, partial input, pipelining.
 * The writing side (ms, md, ma, invalidation) is test_proto_meta_store.c.
 *
 * Each expected reply is what memcached 1.6.18 answered to the same bytes
 * (recorded from a running memcached); the clock is fake, so TTLs are
 * exact. CAS values differ between servers, so a reply pattern writes '#'
 * for "a decimal number", and a test compares the numbers it captured with
 * the CAS a later request reports. The few places where corecache cannot
 * give memcached's figure say so and check the shape only.
 *
 * Requests go through proto_process as the servers feed it, on the
 * protocol tests' shared fixture (proto_fixture.h): each client keeps the
 * bytes not yet consumed and offers them again with the next input, so a
 * request split anywhere is served once it is whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto_fixture.h"

/* memcached prints the t of an item expired by this very request as an
 * unsigned 32-bit difference from its own clock (1062 at T0). */
static const char *wrapped(char *buf, size_t size, const char *fmt)
{
	snprintf(buf, size, fmt, (unsigned)(uint32_t)(1u - (UPTIME + 62)));
	return buf;
}

/* ---- mn, mg ---- */

static void test_basics(void **state)
{
	static const struct pfx_step s[] = {
		{ 0, "mn\r\nmn extra\r\n", "MN\r\nMN\r\n" },
		{ 0, "mg foo v\r\nme foo\r\n", "EN\r\nEN\r\n" },
		{ 0, "ms k1 3\r\nabc\r\nmg k1 v\r\n", "HD\r\nVA 3\r\nabc\r\n" },
		{ 0, "mg k1 s v\r\nmg k1\r\n", "VA 3 s3\r\nabc\r\nHD\r\n" },
		{ 0, "mg k1 O\r\nmg k1 P L Pfoo\r\n", "HD O\r\n" E_DUP },
		{ 0, "mg k1 Pfoo Lbar q\x01\r\n", "HD\r\n" },
		{ 0, "ms big 0\r\n\r\nmg big v s\r\n",
		  "HD\r\nVA 0 s0\r\n\r\n" },
		{ 0, "ms big 1\nx\r\nmn\r\n", "HD\r\nMN\r\n" },
		{ 0, "ms big 01\r\nx\r\nms big +1\r\nx\r\n", "HD\r\nHD\r\n" },
		{ 0, "ms bad_\x01 1\r\nx\r\nmg bad_\x01 v\r\n",
		  "HD\r\nVA 1\r\nx\r\n" },
	};

	PFX_RUN(*state, s);
}

static void test_mg_return_flags(void **state)
{
	struct pfx *f = *state;
	static const struct pfx_step s[] = {
		{ 0, "ms k1 3 T0 F5\r\nabc\r\n", "HD\r\n" },
		/* Flags come back in request order; u keeps it unfetched. */
		{ 0, "mg k1 v f t s c k O123 h l q u\r\n",
		  "VA 3 f5 t-1 s3 c# kk1 O123 h0 l0\r\nabc\r\n" },
		{ 0, "mg k1 h\r\nmg k1 h\r\n", "HD h0\r\nHD h1\r\n" },
		{ 0, "ms k2 1 F4294967295 T100\r\nx\r\nmg k2 f t\r\n",
		  "HD\r\nHD f4294967295 t100\r\n" },
		/* memcached's safe_strtoul keeps the low 32 bits. */
		{ 0, "ms k3 1 F4294967296\r\nx\r\nmg k3 f\r\n",
		  "HD\r\nHD f0\r\n" },
	};

	pfx_run(f, s, 2);
	assert_int_equal(f->num[0], pfx_cas_of(f, "k1"));
	pfx_run(f, s + 2, 3);
	f->now += 7;
	/* memcached says l7; the engine keeps access times in 64-second
	 * ticks, so only the shape is checked. */
	pfx_say(f, 0, "mg k2 l t\r\n", "HD l# t93\r\n");
}

static void test_mg_miss_and_quiet(void **state)
{
	static const struct pfx_step s[] = {
		{ 0, "mg missing v k Oabc s f t\r\n", "EN kmissing Oabc\r\n" },
		{ 0, "mg missing v k O12 q\r\nmg missing v k O13\r\nmn\r\n",
		  "EN kmissing O13\r\nMN\r\n" },
		{ 0, "mg qmiss k q\r\nmn\r\n", "MN\r\n" },
		/* 1.6.18's q hides only EN on mg. */
		{ 0, "ms q1 1\r\nx\r\nmg q1 q\r\nmg q1 q k\r\n"
		     "mg q1 q v\r\nmn\r\n",
		  "HD\r\nHD\r\nHD kq1\r\nVA 1\r\nx\r\nMN\r\n" },
	};

	PFX_RUN(*state, s);
}

/* ---- errors ---- */

static void test_flag_errors(void **state)
{
	static const struct pfx_step s[] = {
		{ 0, "mg\r\nmg \r\nmd\r\nma\r\nms\r\n",
		  "ERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\n" },
		{ 0, "me\r\n", E_FORMAT },
		{ 0, "mg k zz\r\nmg k !\r\nmg k ~\r\nmg k \x01\r\n",
		  E_FLAG E_FLAG E_FLAG E_FLAG },
		/* memcached's seen[] has 127 entries: later bytes are
		 * "duplicates". */
		{ 0, "mg k v v\r\nmg k v O1 O2\r\nmg k \x80\r\nmg k \x7f\r\n",
		  E_DUP E_DUP E_DUP E_DUP },
		{ 0, "mg k Tx\r\nmg k N\r\nmg k Rx\r\nmg k C\r\n",
		  E_TOKEN E_TOKEN E_TOKEN E_TOKEN },
		/* 1.6.18 has no E (explicit CAS), x or S flag. */
		{ 0, "mg k E5\r\nmg k x\r\nmg k S1\r\n", E_FLAG E_FLAG E_FLAG },
		{ 0, "mg k F\r\n", E_FORMAT },
		{ 0, "mg k J\r\n",
		  "CLIENT_ERROR invalid numeric initial value\r\n" },
		{ 0, "mg k D\r\n",
		  "CLIENT_ERROR invalid numeric delta value\r\n" },
		{ 0, "mg k M\r\n",
		  "CLIENT_ERROR incorrect length for M token\r\n" },
		/* A bad number is noted and parsing goes on: a later bad
		 * number's message wins, an unknown or repeated flag stops. */
		{ 0, "mg k Jx Dx\r\n",
		  "CLIENT_ERROR invalid numeric delta value\r\n" },
		{ 0, "mg k Jx Fx\r\nmg k Fx Jx\r\n",
		  "CLIENT_ERROR invalid numeric initial value\r\n"
		  "CLIENT_ERROR invalid numeric initial value\r\n" },
		{ 0, "mg k Tx zz\r\nmg k Tx v v\r\n", E_FLAG E_DUP },
		/* Flags of other commands are taken and ignored. */
		{ 0, "mg k C5 M5 I D1 F1 J1\r\n", "EN\r\n" },
		{ 0, "mg k a b c d e f g h i j k l m n o p q r\r\n",
		  "CLIENT_ERROR options flags are too long\r\n" },
		{ 0, "mg k O0 O1 O2 O3 O4 O5 O6 O7 O8 O9 Oa Ob Oc Od Oe Of "
		     "Og\r\n",
		  E_DUP },
		{ 0, "mg k " OPQ "\r\n", E_OPAQUE },
		{ 0, "mg k O1111111111111111111111111111111\r\n",
		  "EN O1111111111111111111111111111111\r\n" },
		/* md and ma: one message for every flag error. */
		{ 0, "md k zz\r\nmd k q q\r\nmd k Tx\r\nmd k x\r\nmd k E5\r\n",
		  E_FLAGS E_FLAGS E_FLAGS E_FLAGS E_FLAGS },
		{ 0, "md k v f c N5 F5\r\n", "NF\r\n" },
		{ 0, "md k O1 O2 O3 O4 O5 O6 O7 O8 O9 Oa Ob Oc Od Oe Of Og "
		     "Oh Oi\r\n",
		  E_MANY },
		{ 0, "md k " OPQ "\r\nma k " OPQ "\r\n", E_OPAQUE E_OPAQUE },
		{ 0, "ma k zz\r\nma k Dx\r\nma k D-1\r\nma k MII\r\n",
		  E_FLAGS E_FLAGS E_FLAGS E_FLAGS },
		{ 0, "ma k N0 J18446744073709551616\r\n", E_FLAGS },
		{ 0, "ma k MX\r\nma k Mi\r\n",
		  "CLIENT_ERROR invalid mode for ma M token\r\n"
		  "CLIENT_ERROR invalid mode for ma M token\r\n" },
		{ 0, "ma k f s h\r\n", "NF\r\n" },
		{ 0, "ma k O1 O2 O3 O4 O5 O6 O7 O8 O9 Oa Ob Oc Od Oe Of Og "
		     "Oh Oi\r\n",
		  E_MANY },
	};

	PFX_RUN(*state, s);
}

static void test_key_length(void **state)
{
	struct pfx *f = *state;
	static const char *const cmds[] = { "mg", "md", "ma", "me" };
	char line[600], key[252];

	memset(key, 'a', 251);
	key[251] = '\0';
	for (unsigned i = 0; i < 4; i++) {
		snprintf(line, sizeof(line), "%s %s\r\n", cmds[i], key);
		pfx_say(f, 0, line, E_FORMAT);
	}
	snprintf(line, sizeof(line), "ms %s 1\r\nx\r\n", key);
	pfx_say(f, 0, line, E_FORMAT "ERROR\r\n");
	key[250] = '\0';
	snprintf(line, sizeof(line), "ms %s 1\r\nx\r\nmg %s k\r\n", key, key);
	pfx_send(f, 0, line, strlen(line));
	assert_int_equal(f->reply_len, 4 + 4 + 250 + 2);
}

/* ---- partial input, pipelining ---- */

static void test_partial_and_pipelining(void **state)
{
	struct pfx *f = *state;
	static const char all[] =
		"ms a 1\r\n1\r\nmg a v\r\nma a v\r\nms b 5 T9\r\nhello\r\n"
		"mg b v t\r\nmd a q\r\nmg a\r\nmn\r\n";
	static const char want[] =
		"HD\r\nVA 1\r\n1\r\nVA 1\r\n2\r\nHD\r\nVA 5 t9\r\nhello\r\n"
		"EN\r\nMN\r\n";
	size_t got = 0, len = strlen(all);
	char out[200];

	pfx_say(f, 0, all, want);

	/* Byte by byte: each reply comes once its request is whole. */
	pfx_say(f, 0, "md b\r\n", "HD\r\n");
	for (size_t i = 0; i < len; i++) {
		pfx_send(f, 1, all + i, 1);
		assert_true(got + f->reply_len < sizeof(out));
		memcpy(out + got, f->reply, f->reply_len);
		got += f->reply_len;
	}
	assert_int_equal(got, strlen(want));
	assert_memory_equal(out, want, got);

	/* A value block split anywhere; a b key split from its line. */
	pfx_say(f, 0, "ms k 5\r\nab", "");
	pfx_say(f, 0, "cde\r", "");
	pfx_say(f, 0, "\nmn\r\nms aw== 1 b k\r\n", "HD\r\nMN\r\n");
	pfx_say(f, 0, "z\r", "");
	/* The item remembers its key came in base64 (memcached 1.6.18). */
	pfx_say(f, 0, "\nmg k v k\r\n", "HD kaw== b\r\nVA 1 kaw== b\r\nz\r\n");
}

/* ---- base64 keys ---- */

static void test_base64(void **state)
{
	struct pfx *f = *state;
	static const struct pfx_step s[] = {
		{ 0, "ms azI= 3 c k O9 b\r\nabc\r\n", "HD c# kazI= b O9\r\n" },
		{ 0, "mg azI= b v k\r\nmg k2 v\r\n",
		  "VA 3 kazI= b\r\nabc\r\nVA 3\r\nabc\r\n" },
		{ 0, "me azI= b\r\n",
		  "ME azI= exp=-1 la=0 cas=# fetch=yes cls=1 size=64\r\n" },
		{ 0, "ms k2 3 c k O9 b\r\nabc\r\nms a== 3 b\r\nabc\r\n",
		  E_KEY E_KEY },
		{ 0, "mg k v s f t c k h l u O1 q b\r\n", E_KEY },
		/* memcached's decoder: bytes outside the alphabet are
		 * skipped, the first padded block ends it, three '=' fail. */
		{ 0, "mg YQ b k\r\nmg YQ= b k\r\nmg ==== b k\r\nmg A=== b k\r\n"
		     "mg !!!! b k\r\n", E_KEY E_KEY E_KEY E_KEY E_KEY },
		{ 0, "mg YQ== b k\r\nmg =AAA b k\r\nmg YQ==YWJj b k\r\n",
		  "EN kYQ== b\r\nEN kAAA= b\r\nEN kYQ== b\r\n" },
		{ 0, "mg Y!Q== b k\r\nmg YWJj b k\r\nmg AA== b k\r\n",
		  "EN kYQ== b\r\nEN kYWJj b\r\nEN kAA== b\r\n" },
		/* A decoded key may hold any byte, spaces included. */
		{ 0, "ms YSBi 1 b\r\nx\r\nms YSBi 1 b ME k c\r\nx\r\n"
		     "mg YSBi b k v\r\n",
		  "HD\r\nNS kYSBi b c0\r\nVA 1 kYSBi b\r\nx\r\n" },
		{ 0, "ms k4 1\r\nx\r\nmd azQ= b k\r\nmg k4\r\n",
		  "HD\r\nHD kazQ= b\r\nEN\r\n" },
		{ 0, "ma a17 b N0\r\n", E_FLAGS },
		{ 0, "ma YTE4 b N0 v k\r\nma YTE4 b v k\r\nmg a18 v\r\n",
		  "VA 1 kYTE4 b\r\n0\r\nVA 1 kYTE4 b\r\n1\r\nVA 1\r\n1\r\n" },
		/* me takes b only as its third token, exactly. */
		{ 0, "me azI= x\r\nme k3 b\r\nme !! b\r\nme YQ== b\r\n",
		  "EN\r\n" E_FORMAT E_FORMAT "EN\r\n" },
	};

	PFX_RUN(f, s);
	pfx_say(f, 0, "ms azI= 1 b c\r\nz\r\n", "HD c#\r\n");
	assert_int_equal(f->num[0], pfx_cas_of(f, "k2"));
}

/* ---- vivify, recache ---- */

static void test_vivify(void **state)
{
	struct pfx *f = *state;
	char buf[100];
	static const struct pfx_step s[] = {
		/* The first client to miss wins the token; others see Z. */
		{ 1, "mg v1 N30 v t\r\n", "VA 0 t30 Z\r\n\r\n" },
		{ 0, "mg v1 v t\r\n", "VA 0 t30 Z\r\n\r\n" },
		{ 0, "me v1\r\n",
		  "ME v1 exp=-30 la=0 cas=# fetch=yes cls=1 size=61\r\n" },
		{ 1, "mg v2 N30 q\r\nmg v2 N30 q\r\nmg v2 q v\r\n",
		  "HD W\r\nHD Z\r\nVA 0 Z\r\n\r\n" },
		/* N and T in order: the last one sets the TTL. */
		{ 0, "mg v3 N30 T60 t\r\nmg v3 t\r\n",
		  "HD t60 W\r\nHD t60 Z\r\n" },
		{ 0, "mg v4 T60 N30 t\r\nmg v4 t\r\n",
		  "HD t30 W\r\nHD t30 Z\r\n" },
		{ 0, "mg v5 t N30\r\nmg v5 t\r\n", "HD t-1 W\r\nHD t30 Z\r\n" },
		{ 0, "mg t6 N0 v t\r\nmg t6 v t\r\n",
		  "VA 0 t-1 W\r\n\r\nVA 0 t-1 Z\r\n\r\n" },
		/* A vivified item is fetched, unless u. */
		{ 0, "mg nv9 N30 h l\r\nmg nv9 h\r\n",
		  "HD h0 l0 W\r\nHD h1 Z\r\n" },
		{ 0, "mg nv10 N30 h u\r\nmg nv10 h\r\n",
		  "HD h0 W\r\nHD h0 Z\r\n" },
		/* The winner fills it: the markers are gone. */
		{ 0, "ms v1 3 T30\r\nnew\r\n", "HD\r\n" },
		{ 1, "mg v1 v\r\nmg v1 N30 v\r\n",
		  "VA 3\r\nnew\r\nVA 3\r\nnew\r\n" },
	};

	pfx_say(f, 0, "mg v1 N30 v c t s f k O1\r\n",
	    "VA 0 c# t30 s0 f0 kv1 O1 W\r\n\r\n");
	assert_int_equal(f->num[0], pfx_cas_of(f, "v1"));
	PFX_RUN(f, s);
	pfx_say(f, 0, "mg t5 N-1 v t\r\n", wrapped(buf, sizeof(buf),
					      "VA 0 t%u W\r\n\r\n"));
	pfx_say(f, 0, "mg t5 v\r\n", "EN\r\n");
}

static void test_recache(void **state)
{
	static const struct pfx_step s[] = {
		{ 0, "ms r1 1 T10\r\nx\r\nmg r1 R30 v t\r\n",
		  "HD\r\nVA 1 t10 W\r\nx\r\n" },
		{ 1, "mg r1 R30 v t\r\nmg r1 v\r\n",
		  "VA 1 t10 Z\r\nx\r\nVA 1 Z\r\nx\r\n" },
		{ 0, "ms r2 1 T100\r\nx\r\nmg r2 R30 v t\r\n",
		  "HD\r\nVA 1 t100\r\nx\r\n" },
		{ 0, "ms r3 1 T0\r\nx\r\nmg r3 R30 v t\r\n",
		  "HD\r\nVA 1 t-1\r\nx\r\n" },
		/* R compares with the TTL as the flags before it left it. */
		{ 0, "ms r4 1 T100\r\nx\r\nmg r4 T10 R30 t\r\nmg r4 t\r\n",
		  "HD\r\nHD t10 W\r\nHD t10 Z\r\n" },
		{ 0, "ms r5 1 T10\r\nx\r\nmg r5 R30 T100 t\r\n",
		  "HD\r\nHD t100 W\r\n" },
		/* A new value clears the token. */
		{ 0, "ms r1 1 T10\r\ny\r\nmg r1 R5 v\r\nmg r1 R30 v\r\n",
		  "HD\r\nVA 1\r\ny\r\nVA 1 W\r\ny\r\n" },
	};

	PFX_RUN(*state, s);
}

/* ---- me ---- */

static void test_me(void **state)
{
	struct pfx *f = *state;
	static const struct {
		unsigned len;
		const char *plain, *flagged;  /* without / with F1 */
	} sizes[] = {
		{ 1, "cls=1 size=62", "cls=1 size=66" },
		{ 34, "cls=1 size=95", "cls=2 size=99" },
		{ 35, "cls=1 size=96", "cls=2 size=100" },
		{ 36, "cls=2 size=97", "cls=2 size=101" },
		{ 16000, "cls=24 size=16061", "cls=24 size=16065" },
		{ 17000, "cls=24 size=17061", "cls=24 size=17065" },
		{ 500000, "cls=39 size=500061", "cls=39 size=500065" },
		{ 600000, "cls=39 size=600061", "cls=39 size=600065" },
	};
	char line[64], pat[128];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(line, sizeof(line), "ms sz %u\r\n", sizes[i].len);
		snprintf(pat, sizeof(pat),
			 "HD\r\nME sz exp=-1 la=0 cas=# fetch=no %s\r\n",
			 sizes[i].plain);
		pfx_say_value(f, line, sizes[i].len, "\r\nme sz\r\n", pat);
		snprintf(line, sizeof(line), "ms sz %u F1\r\n", sizes[i].len);
		snprintf(pat, sizeof(pat),
			 "HD\r\nME sz exp=-1 la=0 cas=# fetch=no %s\r\n",
			 sizes[i].flagged);
		pfx_say_value(f, line, sizes[i].len, "\r\nme sz\r\n", pat);
	}
	/* me neither bumps nor marks fetched; exp is minus the TTL left.
	 * la: memcached says 5; the engine's access time is coarse. */
	pfx_say(f, 0, "ms e1 2 T50\r\nab\r\n", "HD\r\n");
	f->now += 5;
	pfx_say(f, 0, "me e1\r\nme e1 v\r\n",
	    "ME e1 exp=-45 la=# cas=# fetch=no cls=1 size=63\r\n"
	    "ME e1 exp=-45 la=# cas=# fetch=no cls=1 size=63\r\n");
	assert_int_equal(f->num[1], pfx_cas_of(f, "e1"));
	pfx_say(f, 0, "mg e1\r\nme e1\r\n",
	    "HD\r\nME e1 exp=-45 la=# cas=# fetch=yes cls=1 size=63\r\n");
}

/* ---- TTL arithmetic, opaque errors ---- */

static void test_ttl_clock(void **state)
{
	struct pfx *f = *state;
	char buf[100];
	static const struct pfx_step s[] = {
		{ 0, "ms t1 1 T100\r\nx\r\nmg t1 t T30\r\nmg t1 T40 t\r\n"
		     "mg t1 t\r\n",
		  "HD\r\nHD t100\r\nHD t40\r\nHD t40\r\n" },
		{ 0, "ms t3 1 T100\r\nx\r\nmg t3 T0 t v\r\nmg t3 v t\r\n",
		  "HD\r\nVA 1 t-1\r\nx\r\nVA 1 t-1\r\nx\r\n" },
		/* safe_strtol keeps 32 bits: 4294967296 is 0. */
		{ 0, "ms tk 1\r\nx\r\nmg tk T4294967296 t\r\n",
		  "HD\r\nHD t-1\r\n" },
		{ 0, "ms ta 1 T1700000100\r\nx\r\nmg ta t\r\n",
		  "HD\r\nHD t100\r\n" },
		/* Between memcached's start and now: the difference,
		 * wrapped. */
		{ 0, "ms tc 1\r\nx\r\nmg tc T1699999990 t\r\n",
		  "HD\r\nHD t4294967286\r\n" },
	};

	PFX_RUN(f, s);
	/* Expired by the request itself: memcached's clock shows through,
	 * for a negative TTL and an absolute time before its start. */
	pfx_say(f, 0, "ms t2 1 T100\r\nx\r\nmg t2 T-1 t v\r\nmg t2 v\r\n",
	    wrapped(buf, sizeof(buf), "HD\r\nVA 1 t%u\r\nx\r\nEN\r\n"));
	pfx_say(f, 0, "mg tk T2147483648 t\r\nmg tk v\r\n",
	    wrapped(buf, sizeof(buf), "HD t%u\r\nEN\r\n"));
	pfx_say(f, 0, "ms tb 1\r\nx\r\nmg tb T1600000000 t\r\n",
	    wrapped(buf, sizeof(buf), "HD\r\nHD t%u\r\n"));
	f->now += 60;
	pfx_say(f, 0, "mg t1 t v\r\nmg t3 t\r\n", "EN\r\nHD t-1\r\n");
}

/* A too-long opaque fails the reply where memcached notices it: what the
 * flags before it did stays done. */
static void test_opaque_side_effects(void **state)
{
	static const struct pfx_step s[] = {
		{ 0, "ms ot 1\r\nx\r\nmg ot T30 " OPQ "\r\nmg ot t\r\n",
		  "HD\r\n" E_OPAQUE "HD t30\r\n" },
		{ 0, "mg ot " OPQ " T50\r\nmg ot t\r\n",
		  E_OPAQUE "HD t30\r\n" },
		/* Vivified, but the token never handed out. */
		{ 0, "mg otv N30 " OPQ "\r\nmg otv v t\r\n",
		  E_OPAQUE "VA 0 t30\r\n\r\n" },
		{ 0, "mg qmiss q " OPQ "\r\nmn\r\n", E_OPAQUE "MN\r\n" },
		{ 0, "ms on1 1\r\n5\r\nma on1 " OPQ "\r\nmg on1 v\r\n",
		  "HD\r\n" E_OPAQUE "VA 1\r\n6\r\n" },
		{ 0, "ma on1 q " OPQ "\r\nmn\r\n", E_OPAQUE "MN\r\n" },
		{ 0, "ma on2 N0 " OPQ "\r\nmg on2 v\r\n",
		  E_OPAQUE "VA 1\r\n0\r\n" },
		/* A locked mg (h) that fails does not mark it fetched. */
		{ 0, "ms on3 1\r\nx\r\nmg on3 h " OPQ "\r\nmg on3 h\r\n",
		  "HD\r\n" E_OPAQUE "HD h0\r\n" },
	};

	PFX_RUN(*state, s);
}

/* ---- counters, large values ---- */

static void test_counters(void **state)
{
	struct pfx *f = *state;
	struct proto_counters *k = &f->w->counters;

	pfx_say(f, 0, "ms s1 1\r\nx\r\nmg s1 v\r\nmg s1 s\r\nmg s1 T30\r\n"
		  "mg nokey T30\r\nmg nokey v\r\nmg v1 N30\r\n",
	    "HD\r\nVA 1\r\nx\r\nHD s1\r\nHD\r\nEN\r\nEN\r\nHD W\r\n");
	/* memcached counts an mg that sets a TTL as a touch, and a miss
	 * with T as a get. */
	assert_int_equal(k->cmd_set, 1);
	assert_int_equal(k->cmd_get, 5);
	assert_int_equal(k->get_hits, 3);
	assert_int_equal(k->get_misses, 2);
	assert_int_equal(k->cmd_touch, 1);
	pfx_say(f, 0, "ms s2 1\r\nxy\r\nms s2 1 ME\r\nx\r\n",
	    E_CHUNK "ERROR\r\nHD\r\n");
	assert_int_equal(k->cmd_set, 3);
	assert_true(k->protocol_errors >= 2);
}

static void test_large_value(void **state)
{
	struct pfx *f = *state;
	size_t n = 300000, hl = strlen("VA 300000\r\n");

	pfx_say_value(f, "ms lv 300000\r\n", n, "\r\n", "HD\r\n");
	pfx_send(f, 0, "mg lv v\r\n", 9);
	/* The value is queued by reference (>= zero_copy_min). */
	assert_int_equal(f->reply_len, hl + n + 2);
	assert_memory_equal(f->reply, "VA 300000\r\n", hl);
	for (size_t i = 0; i < n; i++)
		assert_true(f->reply[hl + i] == 'x');
	assert_memory_equal(f->reply + hl + n, "\r\n", 2);
	assert_true(f->w->counters.zero_copy_values >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, pfx_setup, pfx_teardown)
		T(test_basics),
		T(test_mg_return_flags),
		T(test_mg_miss_and_quiet),
		T(test_flag_errors),
		T(test_key_length),
		T(test_partial_and_pipelining),
		T(test_base64),
		T(test_vivify),
		T(test_recache),
		T(test_me),
		T(test_ttl_clock),
		T(test_opaque_side_effects),
		T(test_counters),
		T(test_large_value),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
