/*
 * Unit tests of the meta protocol's writing side (proto_meta_store.c):
 * ms in every mode with its errors, quiet mode and size limit, md, ma,
 * and invalidation (md I, ms I) with the stale and win flags it leaves
 * for mg.
 *
 * As in test_proto_meta.c, each expected reply is what memcached 1.6.18
 * answered to the same bytes, '#' in a pattern standing for a number
 * (a CAS), on the protocol tests' shared fixture (proto_fixture.h).
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

/* ---- ms ---- */

static void test_ms_errors(void **state)
{
	static const struct pfx_step s[] = {
		{ 0, "ms k2\r\n", E_FORMAT },
		/* Refused before its length is known: the block is read as
		 * commands. */
		{ 0, "ms k2 abc\r\nabc\r\nms k2 -1\r\nabc\r\n",
		  E_FORMAT "ERROR\r\n" E_FORMAT "ERROR\r\n" },
		{ 0, "ms big 1x\r\nx\r\nms big 2147483646\r\nmn\r\n",
		  E_FORMAT "ERROR\r\n" E_FORMAT "MN\r\n" },
		{ 0, "ms k 1 T1 O0 O1 O2 O3 O4 O5 O6 O7 O8 O9 Oa Ob Oc Od Oe Of"
		     "\r\nx\r\n", E_MANY "ERROR\r\n" },
		/* A length of 4294967297 is 1 to memcached's safe_strtol. */
		{ 0, "ms big 4294967297\r\nmn\r\n", E_CHUNK "ERROR\r\n" },
		/* Refused after it: the block is swallowed. */
		{ 0, "ms k 1 zz\r\nx\r\nms k 1 q q\r\nx\r\nms k 1 T 5\r\nx\r\n"
		     "mn\r\n", E_FLAG E_DUP E_FLAG "MN\r\n" },
		{ 0, "ms k2 3 Fx\r\nabc\r\nms k 1 F-1\r\nx\r\n",
		  E_FORMAT E_FORMAT },
		{ 0, "ms k2 3 Tx\r\nabc\r\nms k 1 T-1x\r\nx\r\n",
		  E_TOKEN E_TOKEN },
		{ 0, "ms k2 3 Cx\r\nabc\r\nms k 1 C-1\r\nx\r\n"
		     "ms k 1 C18446744073709551616\r\nx\r\n",
		  E_TOKEN E_TOKEN E_TOKEN },
		{ 0, "ms k 1 J\r\nx\r\n",
		  "CLIENT_ERROR invalid numeric initial value\r\n" },
		{ 0, "ms k2 3 MEE\r\nabc\r\n",
		  "CLIENT_ERROR incorrect length for M token\r\n" },
		/* Modes are upper case only; the mode is judged after the
		 * opaque, whatever their order. */
		{ 0, "ms k2 3 q MX\r\nabc\r\nms k 1 Ma\r\nx\r\n"
		     "ms k 1 MX " OPQ "\r\nx\r\nms k 1 " OPQ " MX\r\nx\r\n",
		  "CLIENT_ERROR invalid mode for ms M token\r\n"
		  "CLIENT_ERROR invalid mode for ms M token\r\n"
		  "CLIENT_ERROR invalid mode for ms M token\r\n"
		  "CLIENT_ERROR invalid mode for ms M token\r\n" },
		{ 0, "ms k 1 " OPQ " q\r\nx\r\nms k 1 " OPQ " Tx\r\nx\r\n",
		  E_OPAQUE E_TOKEN },
		{ 0, "ms k 1 MEE Tx\r\nx\r\nms k 1 Tx MEE\r\nx\r\n",
		  E_TOKEN "CLIENT_ERROR incorrect length for M token\r\n" },
		{ 0, "ms k 1 MX zz\r\nx\r\nms ek 1 E5\r\nx\r\nmg ek c\r\n",
		  E_FLAG E_FLAG "EN\r\n" },
		/* A bad block end: the whole block is consumed, the rest
		 * read as commands, and quiet does not hide it. */
		{ 0, "ms k2 3\r\nabcd\r\n", E_CHUNK "ERROR\r\n" },
		{ 0, "ms k2 3\r\nab\r\n\r\n", E_CHUNK "ERROR\r\n" },
		{ 0, "ms k2 3 q\r\nabcd\r\nmn\r\n", E_CHUNK "ERROR\r\nMN\r\n" },
		{ 0, "ms big 1\r\nx\r\r\nmn\r\n", E_CHUNK "ERROR\r\nMN\r\n" },
		{ 0, "ms big 1\r\nx\nmn\r\n", E_CHUNK "ERROR\r\n" },
		/* A refused request keeps the old value. */
		{ 0, "ms del2 1\r\nx\r\nms del2 1 Tx\r\nx\r\nmg del2 v\r\n",
		  "HD\r\n" E_TOKEN "VA 1\r\nx\r\n" },
	};

	PFX_RUN(*state, s);
}

static void test_ms_modes(void **state)
{
	struct pfx *f = *state;
	static const struct pfx_step s[] = {
		{ 0, "ms k2 3 ME\r\nabc\r\nms k2 3 ME\r\nabc\r\n",
		  "HD\r\nNS\r\n" },
		{ 0, "ms nk4 1 MS N30\r\nx\r\nmg nk4 v t\r\n",
		  "HD\r\nVA 1 t-1\r\nx\r\n" },
		/* 1.6.18 does not vivify on append (N is ignored). */
		{ 0, "ms nk 1 MA N0\r\nx\r\nms nk 1 MP N30\r\nx\r\nmg nk v\r\n",
		  "NS\r\nNS\r\nEN\r\n" },
		{ 0, "ms newc3 1 MR\r\nx\r\n", "NS\r\n" },
		/* append and prepend keep flags and TTL. */
		{ 0, "ms ap2 1 F5 T100\r\na\r\nms ap2 1 MA F9 T0\r\nb\r\n"
		     "ms ap2 1 MP F9 T0\r\nc\r\nmg ap2 v f t\r\n",
		  "HD\r\nHD\r\nHD\r\nVA 3 f5 t100\r\ncab\r\n" },
		{ 0, "ms ap2 1 MR\r\nr\r\nmg ap2 v f t\r\n",
		  "HD\r\nVA 1 f0 t-1\r\nr\r\n" },
		/* A CAS makes set and replace a cas; append and prepend check
		 * it; add ignores it. */
		{ 0, "ms i4 1\r\na\r\nms i4 1 MA C99999\r\nb\r\n"
		     "ms i4 1 MP C99999\r\nc\r\nms i4 1 ME C99999\r\nd\r\n"
		     "ms i4 1 MR C99999\r\ne\r\nmg i4 v\r\n",
		  "HD\r\nEX\r\nEX\r\nNS\r\nEX\r\nVA 1\r\na\r\n" },
		{ 0, "ms newc 1 ME C5\r\nx\r\nmg newc v\r\n"
		     "ms newc2 1 MA C5\r\nx\r\n",
		  "HD\r\nVA 1\r\nx\r\nNS\r\n" },
		/* C0 is a CAS no item has (append: no check at all). */
		{ 0, "ms c0 1\r\nx\r\nms c0 1 C0\r\ny\r\nms c0n 1 C0\r\ny\r\n",
		  "HD\r\nEX\r\nNF\r\n" },
		{ 0, "ms c0 1 MA C0\r\n1\r\nmg c0 v\r\n",
		  "HD\r\nVA 2\r\nx1\r\n" },
		/* Refusals echo O and k, and c0. */
		{ 0, "ms e1 1\r\nx\r\nms e1 1 ME c k O1\r\nx\r\n"
		     "ms e1 1 C99999 c k O1\r\nx\r\nms enone 1 MR c k O1\r\n"
		     "x\r\n"
		     "ms enone 1 C1 c k O1\r\nx\r\n",
		  "HD\r\nNS c0 ke1 O1\r\nEX c0 ke1 O1\r\nNS c0 kenone O1\r\n"
		  "NF c0 kenone O1\r\n" },
		{ 0, "ms t4 1 T-1\r\nx\r\nmg t4 v t\r\n", "HD\r\nEN\r\n" },
		{ 0, "ms k 1 v f s t h R5 D5 l u P L I\r\nx\r\n", "HD\r\n" },
	};
	char line[100];
	uint64_t cas;

	PFX_RUN(f, s);
	pfx_say(f, 0, "ms kc 2 c k O9 T50\r\nhi\r\n", "HD c# kkc O9\r\n");
	cas = f->num[0];
	assert_int_equal(cas, pfx_cas_of(f, "kc"));
	/* A matching CAS stores, with a new CAS and the TTL it gives. */
	snprintf(line, sizeof(line), "ms kc 2 C%llu c\r\nho\r\nmg kc v t\r\n",
		 (unsigned long long)cas);
	pfx_say(f, 0, line, "HD c#\r\nVA 2 t-1\r\nho\r\n");
	assert_true(f->num[0] != cas);
	assert_int_equal(f->num[0], pfx_cas_of(f, "kc"));
}

static void test_ms_quiet(void **state)
{
	static const struct pfx_step s[] = {
		{ 0, "ms k2 3 q\r\nabc\r\nmn\r\n", "MN\r\n" },
		{ 0, "ms k2 3 ME q\r\nabc\r\nms qa 1 q C1\r\nx\r\n"
		     "ms qb 1 q MR\r\nx\r\nmn\r\n", "NS\r\nNF\r\nNS\r\n"
		     "MN\r\n" },
		{ 0, "ms k2 1 q C99999\r\nx\r\nms qx 1 q MA\r\nx\r\nmn\r\n",
		  "EX\r\nNS\r\nMN\r\n" },
	};

	PFX_RUN(*state, s);
}

static void test_ms_too_large(void **state)
{
	struct pfx *f = *state;
	char *chunk;

	/* memcached's limit counts its item header: 48 + 8 bytes, the key
	 * and a NUL, "\r\n", and 4 bytes of nonzero client flags. */
	pfx_say_value(f, "ms big 1048514\r\n", 1048514, "\r\nmn\r\n",
		  "HD\r\nMN\r\n");
	pfx_say_value(f, "ms big 1048515\r\n", 1048515, "\r\nmg big s\r\n",
		  E_BIG "EN\r\n");
	pfx_say_value(f, "ms big 1048510 F1\r\n", 1048510, "\r\n", "HD\r\n");
	pfx_say_value(f, "ms big 1048511 F1 q O5\r\n", 1048511, "\r\nmn\r\n",
		  E_BIG "MN\r\n");
	/* The old value goes, whatever the mode. */
	pfx_say(f, 0, "ms dl1 1\r\nx\r\n", "HD\r\n");
	pfx_say_value(f, "ms dl1 1048515 MA\r\n", 1048515, "\r\nmg dl1 v\r\n",
		  E_BIG "EN\r\n");
	/* An append past the limit is not stored. */
	pfx_say_value(f, "ms ap1 1048000\r\n", 1048000, "\r\n", "HD\r\n");
	pfx_say_value(f, "ms ap1 1000 MA\r\n", 1000, "\r\nmg ap1 s\r\n",
		  "NS\r\nHD s1048000\r\n");

	/* The refused block is swallowed as it arrives. */
	chunk = calloc(1, 1000000);
	assert_non_null(chunk);
	pfx_say(f, 0, "ms big 2000000 T0\r\n", E_BIG);
	pfx_send(f, 0, chunk, 1000000);
	assert_int_equal(f->reply_len, 0);
	pfx_send(f, 0, chunk, 1000000);
	assert_int_equal(f->reply_len, 0);
	pfx_say(f, 0, "\r\nmn\r\n", "MN\r\n");
	free(chunk);
	assert_int_equal(f->w->counters.store_too_large, 4);
}

/*
 * The text protocol's size rule holds for ms in every mode (see
 * test_proto_text.c, test_size_limit): with -I 1m a 2-byte key takes
 * 1048515 bytes, 4 fewer with F; a base64 key counts decoded. What MA
 * and MP grow into is judged with the existing item's flags, and a joined
 * item too large is NS, the old value kept. Figures from memcached
 * 1.6.18 -I 1m.
 */
static void test_ms_size_limit(void **state)
{
	struct pfx *f = *state;
	static const char *const modes[] = { "MS", "ME", "MR", "MA", "MP" };
	static const struct {
		const char *line;
		size_t len;
		const char *pat;
	} join[] = {
		{ "ms ap 1047515 MA\r\n", 1047515, "HD\r\nHD s1048515 f0\r\n" },
		{ "ms ap 1047516 MA\r\n", 1047516, "NS\r\nHD s1000 f0\r\n" },
		{ "ms ap 1047515 MP F3\r\n", 1047515,
		  "HD\r\nHD s1048515 f0\r\n" },
		{ "ms ap 1047516 MP\r\n", 1047516, "NS\r\nHD s1000 f0\r\n" },
	};
	char line[64];

	for (unsigned i = 0; i < 5; i++) {
		pfx_say(f, 0, "ms ab 1\r\nx\r\n", "HD\r\n");
		snprintf(line, sizeof(line), "ms ab 1048515 %s\r\n", modes[i]);
		/* add finds the item; append and prepend outgrow it. */
		pfx_say_value(f, line, 1048515, "\r\nmg ab s\r\n",
			      i == 0 || i == 2 ? "HD\r\nHD s1048515\r\n"
					       : "NS\r\nHD s1\r\n");
		snprintf(line, sizeof(line), "ms ab 1048516 %s\r\n", modes[i]);
		pfx_say_value(f, line, 1048516, "\r\nmg ab s\r\n",
			      E_BIG "EN\r\n");
	}
	pfx_say(f, 0, "ms ab 1\r\nx\r\n", "HD\r\n");
	pfx_say_value(f, "ms ab 1048511 MA F1\r\n", 1048511,
		      "\r\nmg ab s\r\n", "HD\r\nHD s1048512\r\n");
	pfx_say_value(f, "ms ab 1048512 F1\r\n", 1048512, "\r\nmg ab s\r\n",
		      E_BIG "EN\r\n");
	/* YWJjZGVm is "abcdef": 6 bytes, not 8. */
	pfx_say_value(f, "ms YWJjZGVm 1048511 b\r\n", 1048511,
		      "\r\nmg YWJjZGVm b s\r\n", "HD\r\nHD s1048511\r\n");
	pfx_say_value(f, "ms YWJjZGVm 1048512 b\r\n", 1048512,
		      "\r\nmg YWJjZGVm b s\r\n", E_BIG "EN\r\n");

	for (unsigned i = 0; i < sizeof(join) / sizeof(join[0]); i++) {
		pfx_say_value(f, "ms ap 1000\r\n", 1000, "\r\n", "HD\r\n");
		pfx_say_value(f, join[i].line, join[i].len,
			      "\r\nmg ap s f\r\n", join[i].pat);
	}
	pfx_say_value(f, "ms ap 1000 F7\r\n", 1000, "\r\n", "HD\r\n");
	pfx_say_value(f, "ms ap 1047511 MA\r\n", 1047511, "\r\nmg ap s f\r\n",
		      "HD\r\nHD s1048511 f7\r\n");
	pfx_say_value(f, "ms ap 1000 F7\r\n", 1000, "\r\n", "HD\r\n");
	pfx_say_value(f, "ms ap 1047512 MP\r\n", 1047512, "\r\nmg ap s f\r\n",
		      "NS\r\nHD s1000 f7\r\n");
	assert_int_equal(f->w->counters.store_too_large, 7);
}

/* ---- md, ma, invalidation ---- */

static void test_md(void **state)
{
	struct pfx *f = *state;
	char line[100];
	static const struct pfx_step s[] = {
		{ 0, "ms d1 1\r\nx\r\nmd d1\r\nmd d1\r\n",
		  "HD\r\nHD\r\nNF\r\n" },
		/* q hides HD only. */
		{ 0, "ms q1 1\r\nx\r\nmd q1 q\r\nmd q1 q\r\nmd q1\r\nmn\r\n",
		  "HD\r\nNF\r\nNF\r\nMN\r\n" },
		{ 0, "md nokey k O1\r\n", "NF knokey O1\r\n" },
		{ 0, "ms la1b 1\r\nx\r\nmd la1b k O1 C99999\r\n"
		     "md la1b q k O1 C99999\r\n",
		  "HD\r\nEX kla1b O1\r\nEX kla1b O1\r\n" },
		/* memcached compares C0 with the item's CAS, never 0. */
		{ 0, "md la1b C0\r\nmd la1b k O2\r\nmd la1b C0\r\n",
		  "EX\r\nHD kla1b O2\r\nNF\r\n" },
		/* A too-long opaque is noticed before the delete. */
		{ 0, "ms ob 1\r\nx\r\nmd ob " OPQ "\r\nmg ob v\r\n",
		  "HD\r\n" E_OPAQUE "VA 1\r\nx\r\n" },
		{ 0, "md ob q " OPQ "\r\nmn\r\n", E_OPAQUE "MN\r\n" },
	};

	PFX_RUN(f, s);
	pfx_say(f, 0, "ms dc 1\r\nx\r\n", "HD\r\n");
	snprintf(line, sizeof(line), "md dc C%llu q\r\nmg dc\r\n",
		 (unsigned long long)pfx_cas_of(f, "dc"));
	pfx_say(f, 0, line, "EN\r\n");
}

static void test_ma(void **state)
{
	struct pfx *f = *state;
	static const struct pfx_step s[] = {
		{ 0, "ma a1 v t\r\nma a1 MD D100 v\r\nma a1 M- v\r\n"
		     "ma a1 M+ D18446744073709551615 v\r\nma a1 MI D2 v\r\n",
		  "VA 2 t-1\r\n11\r\nVA 1\r\n0\r\nVA 1\r\n0\r\n"
		  "VA 20\r\n18446744073709551615\r\nVA 1\r\n1\r\n" },
		/* T sets the TTL; t prints it as the flags before left it. */
		{ 0, "ma a2 N30 J5 v t\r\nma a2 v t\r\nma a2 T60 v t\r\n"
		     "ma a2 v t T90\r\nma a2 t\r\n",
		  "VA 1 t30\r\n5\r\nVA 1 t30\r\n6\r\nVA 1 t60\r\n7\r\n"
		  "VA 1 t60\r\n8\r\nHD t90\r\n" },
		{ 0, "ma a3 J5 v\r\nma a3 N0 v\r\n", "NF\r\nVA 1\r\n0\r\n" },
		{ 0, "ma a4 N0 J18446744073709551615 v\r\nma a4 v\r\n",
		  "VA 20\r\n18446744073709551615\r\nVA 1\r\n0\r\n" },
		{ 0, "ma a19 N0 J0 MD v\r\n", "VA 1\r\n0\r\n" },
		/* decr pads the stored value with spaces; incr grows it. */
		{ 0, "ms a7 3\r\n100\r\nma a7 MD D1 v\r\nmg a7 v\r\n"
		     "ma a7 D5 v\r\nmg a7 v s\r\n",
		  "HD\r\nVA 2\r\n99\r\nVA 3\r\n99 \r\nVA 3\r\n104\r\n"
		  "VA 3 s3\r\n104\r\n" },
		{ 0, "ms a21 2\r\n99\r\nma a21 v D1\r\nmg a21 v\r\n",
		  "HD\r\nVA 3\r\n100\r\nVA 3\r\n100\r\n" },
		{ 0, "ms a8 2 F7 T100\r\n10\r\nma a8 v f s\r\nmg a8 v f t\r\n",
		  "HD\r\nVA 2\r\n11\r\nVA 2 f7 t100\r\n11\r\n" },
		{ 0, "ms a22 20\r\n18446744073709551615\r\nma a22 v\r\n",
		  "HD\r\nVA 1\r\n0\r\n" },
		{ 0, "ms a10 2\r\n1a\r\nma a10 v\r\n", "HD\r\n" E_NUMBER },
		{ 0, "ms a11 21\r\n111111111111111111111\r\nma a11 v\r\n",
		  "HD\r\n" E_NUMBER },
		{ 0, "ms a12 0\r\n\r\nma a12 q v\r\n", "HD\r\n" E_NUMBER },
		/* q hides a change, not a creation nor a miss. */
		{ 0, "ma a16 q N0 v\r\nma a16 q\r\nma nope q\r\nmn\r\n",
		  "VA 1\r\n0\r\nNF\r\nMN\r\n" },
		{ 0, "ma nokey k O7 MD\r\n", "NF knokey O7\r\n" },
		/* ma's C0 checks nothing; another CAS must match. */
		{ 0, "ms c0a 1\r\n1\r\nma c0a C0 v\r\nma c0a C99999 k\r\n",
		  "HD\r\nVA 1\r\n2\r\nEX kc0a\r\n" },
		{ 0, "ma a14 C5 N0\r\n", "HD\r\n" },
		{ 0, "ms a23 1 I\r\n5\r\nma a23 I v\r\n",
		  "HD\r\nVA 1\r\n6\r\n" },
	};

	pfx_say(f, 0, "ma a1 N0 J10 v t c k O5\r\n",
	    "VA 2 t-1 c# ka1 O5\r\n10\r\n");
	assert_int_equal(f->num[0], pfx_cas_of(f, "a1"));
	PFX_RUN(f, s);
	pfx_say(f, 0, "ma a1 c\r\n", "HD c#\r\n");
	assert_int_equal(f->num[0], pfx_cas_of(f, "a1"));
	/* An empty value, and one memcached would keep in chunks (past
	 * half of -I with its header), are no number even before a CAS
	 * that does not match; a shorter one fails the CAS first
	 * (memcached 1.6.18, -I 1m: the bound is 524228 bytes for a key of
	 * one byte and no client flags). */
	pfx_say(f, 0, "ms e 0\r\n\r\nma e C99999\r\n", "HD\r\n" E_NUMBER);
	pfx_say_value(f, "ms x 524228\r\n", 524228, "\r\nma x C99999\r\n",
		      "HD\r\nEX\r\n");
	pfx_say_value(f, "ms x 524229\r\n", 524229, "\r\nma x C99999\r\n",
		      "HD\r\n" E_NUMBER);
}

static void test_invalidate(void **state)
{
	struct pfx *f = *state;
	uint64_t cas, cas2;
	char line[200];
	static const struct pfx_step s[] = {
		{ 0, "ms s2 1\r\nx\r\nmd s2 I q\r\nmd s2 I\r\nmg s2 v\r\n",
		  "HD\r\nHD\r\nVA 1 X W\r\nx\r\n" },
		{ 0, "md s2 I C0\r\nmd nokey I\r\n", "EX\r\nNF\r\n" },
		/* Any store clears stale, append included. */
		{ 0, "ms ap3 1 I\r\na\r\nmd ap3 I\r\nms ap3 1 MA\r\nb\r\n"
		     "mg ap3 v\r\n",
		  "HD\r\nHD\r\nHD\r\nVA 2\r\nab\r\n" },
		{ 0, "ms i3 1 I C5\r\nw\r\n", "NF\r\n" },
		/* I with replace and a CAS is a cas; append ignores I. */
		{ 0, "ms i3 1\r\nw\r\nms i3 1 I MA C99999\r\nw\r\n"
		     "ms i3 1 I ME C1\r\nw\r\nms i3 1 I MR C1\r\nw\r\n"
		     "mg i3 v\r\n",
		  "HD\r\nEX\r\nNS\r\nHD\r\nVA 1 X W\r\nw\r\n" },
	};

	/* md I: stale, a new CAS, the new TTL; one client wins. */
	pfx_say(f, 0, "ms s1 1 T100\r\nx\r\n", "HD\r\n");
	cas = pfx_cas_of(f, "s1");
	pfx_say(f, 0, "md s1 I T30\r\nmg s1 v t c\r\n",
	    "HD\r\nVA 1 t30 c# X W\r\nx\r\n");
	cas2 = f->num[0];
	assert_true(cas2 != cas);
	pfx_say(f, 1, "mg s1 v t c\r\n", "VA 1 t30 c# Z X\r\nx\r\n");
	assert_int_equal(f->num[0], cas2);
	pfx_say(f, 1, "ms s1 1\r\ny\r\nmg s1 v\r\n", "HD\r\nVA 1\r\ny\r\n");
	PFX_RUN(f, s);

	/* ms I with an older CAS stores a stale version that keeps the
	 * TTL (T is ignored); a newer CAS is refused. */
	pfx_say(f, 0, "ms i1 1 T100\r\nx\r\n", "HD\r\n");
	snprintf(line, sizeof(line),
		 "ms i1 1 I C%llu T30\r\ny\r\nmg i1 v c t\r\n",
		 (unsigned long long)pfx_cas_of(f, "i1") - 1);
	pfx_say(f, 0, line, "HD\r\nVA 1 c# t100 X W\r\ny\r\n");
	cas2 = f->num[0];
	snprintf(line, sizeof(line), "ms i1 1 I C%llu\r\nz\r\nmg i1 v c\r\n",
		 (unsigned long long)cas2 + 100);
	pfx_say(f, 1, line, "EX\r\nVA 1 c# Z X\r\ny\r\n");
	assert_int_equal(f->num[0], cas2);

	/* The stale version keeps a token already handed out. */
	pfx_say(f, 0, "ms i2 1 T100\r\nx\r\nmg i2 R200 v\r\n",
	    "HD\r\nVA 1 W\r\nx\r\n");
	snprintf(line, sizeof(line),
		 "ms i2 1 I C%llu T30\r\ny\r\nmg i2 v t\r\n",
		 (unsigned long long)pfx_cas_of(f, "i2") - 1);
	pfx_say(f, 0, line, "HD\r\nVA 1 t100 Z X\r\ny\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, pfx_setup, pfx_teardown)
		T(test_ms_errors),
		T(test_ms_modes),
		T(test_ms_quiet),
		T(test_ms_too_large),
		T(test_ms_size_limit),
		T(test_md),
		T(test_ma),
		T(test_invalidate),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
