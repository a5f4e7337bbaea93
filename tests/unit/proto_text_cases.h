/*
 * The text protocol's table of cases for test_proto_text.c: request bytes
 * and the exact reply memcached 1.6.18 sends for them.
 *
 * Each case runs on a fresh cache. The table was replayed against a
 * running memcached 1.6.18, each case on a new connection after a
 * flush_all, and every reply matched byte for byte ("stats items" and
 * "stats slabs" against a freshly started memcached, since a flushed one
 * still holds its items until they are reclaimed). Keep the markers: the
 * replay script finds the table between them.
 */
#ifndef PROTO_TEXT_CASES_H
#define PROTO_TEXT_CASES_H

struct text_case {
	const char *req;
	const char *want;
};

/* cases begin */
static const struct text_case cases[] = {
	/* storage */
	{ "set a 0 0 1\r\nx\r\nget a\r\n",
	  "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "set a 5 0 3\r\nabc\r\nget a b\r\n",
	  "STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\n" },
	{ "set a 0 0 1 noreply\r\nx\r\nget a\r\n",
	  "VALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "set a 0 0 1 foo\r\nx\r\n", "STORED\r\n" },
	{ "set a 0 0\r\nx\r\n", "ERROR\r\nERROR\r\n" },
	{ "set a 0 0 1 2 3\r\nx\r\n", "ERROR\r\nERROR\r\n" },
	{ "set\r\n", "ERROR\r\n" },
	{ "set a -1 0 1\r\nx\r\n",
	  "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
	{ "set a 4294967296 0 1\r\nx\r\nget a\r\n",
	  "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "set a 4294967295 0 1\r\nx\r\nget a\r\n",
	  "STORED\r\nVALUE a 4294967295 1\r\nx\r\nEND\r\n" },
	{ "set a -18446744073709551615 0 1\r\nx\r\nget a\r\n",
	  "STORED\r\nVALUE a 1 1\r\nx\r\nEND\r\n" },
	{ "set a 18446744073709551616 0 1\r\nx\r\n",
	  "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
	{ "set a +5 0 1\r\nx\r\nget a\r\n",
	  "STORED\r\nVALUE a 5 1\r\nx\r\nEND\r\n" },
	{ "set a 12abc 0 1\r\nx\r\n",
	  "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
	{ "set a 0 abc 1\r\nx\r\n",
	  "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
	{ "set a 0 9223372036854775808 1\r\nx\r\n",
	  "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
	{ "set a 0 2147483648 1\r\nx\r\nget a\r\n", "STORED\r\nEND\r\n" },
	{ "set a 0 4294967296 1\r\nx\r\nget a\r\n",
	  "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "set a 0 -1 1\r\nx\r\nget a\r\n", "STORED\r\nEND\r\n" },
	{ "set a 0 0 -1\r\nx\r\n",
	  "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
	{ "set a 0 0 2147483646\r\nx\r\n",
	  "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
	{ "set a 0 0 4294967297\r\nx\r\nget a\r\n",
	  "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "set a 0 0 +1\r\nx\r\nget a\r\n",
	  "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "set a 0 0 -0\r\nx\r\nget a\r\n",
	  "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n" },
	{ "set a 0 0 0\r\n\r\nget a\r\n",
	  "STORED\r\nVALUE a 0 0\r\n\r\nEND\r\n" },
	{ "set a 0 0 1\r\nxyz\r\nget a\r\n",
	  "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n" },
	{ "set a 0 0 1\r\nab\r\nversion\r\n",
	  "CLIENT_ERROR bad data chunk\r\nERROR\r\nVERSION 1.6.18\r\n" },
	{ "set a 0 0 1\r\nabcversion\r\n",
	  "CLIENT_ERROR bad data chunk\r\nVERSION 1.6.18\r\n" },
	{ "set a 0 0 1\r\nx\r\nset a 0 0 1 noreply\r\nxyz\r\nget a\r\n",
	  "STORED\r\nERROR\r\nVALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "set a 0 0 1\nx\r\nget a\n",
	  "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "set a 0 0 noreply\r\nx\r\n", "ERROR\r\n" },
	{ "set a 0 0 1 noreply extra\r\nx\r\n", "ERROR\r\nERROR\r\n" },
	{ "set  a   0 0 1 \r\nx\r\nget a\r\n",
	  "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "add a 0 0 1\r\nx\r\nadd a 0 0 1\r\ny\r\nget a\r\n",
	  "STORED\r\nNOT_STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "add a 0 0 1 noreply\r\nx\r\nadd a 0 0 1 noreply\r\ny\r\nget a\r\n",
	  "VALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "replace a 0 0 1\r\nx\r\nset a 0 0 1\r\nx\r\n"
	  "replace a 7 0 1\r\ny\r\nget a\r\n",
	  "NOT_STORED\r\nSTORED\r\nSTORED\r\nVALUE a 7 1\r\ny\r\nEND\r\n" },
	{ "append a 0 0 1\r\nx\r\nprepend a 0 0 1\r\nx\r\n"
	  "set a 3 0 1\r\nb\r\nappend a 9 9 1\r\nc\r\n"
	  "prepend a 9 9 1\r\na\r\nget a\r\n",
	  "NOT_STORED\r\nNOT_STORED\r\nSTORED\r\nSTORED\r\nSTORED\r\n"
	  "VALUE a 3 3\r\nabc\r\nEND\r\n" },
	{ "append a 0 0\r\nx\r\n", "ERROR\r\nERROR\r\n" },
	{ "cas a 0 0 1 1\r\nx\r\nset a 0 0 1\r\nx\r\n"
	  "cas a 0 0 1 999999\r\ny\r\nget a\r\n",
	  "NOT_FOUND\r\nSTORED\r\nEXISTS\r\nVALUE a 0 1\r\nx\r\nEND\r\n" },
	{ "cas a 0 0 1\r\nx\r\n", "ERROR\r\nERROR\r\n" },
	{ "cas a 0 0 1 -1\r\nx\r\n",
	  "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
	{ "cas a 0 0 1 abc\r\nx\r\n",
	  "CLIENT_ERROR bad command line format\r\nERROR\r\n" },
	{ "set a 0 0 1\r\nx\r\ncas a 0 0 1 1 noreply\r\ny\r\nversion\r\n",
	  "STORED\r\nVERSION 1.6.18\r\n" },
	{ "set a 0 0 1\r\nx\r\ncas a 0 0 1 1 foo\r\ny\r\n",
	  "STORED\r\nEXISTS\r\n" },
	/* retrieval */
	{ "get a\r\n", "END\r\n" },
	{ "get\r\n", "ERROR\r\n" },
	{ "gets\r\n", "ERROR\r\n" },
	{ "get \r\n", "ERROR\r\n" },
	{ "set a 0 0 1\r\n1\r\nget a  b   a \r\n",
	  "STORED\r\nVALUE a 0 1\r\n1\r\nVALUE a 0 1\r\n1\r\nEND\r\n" },
	{ "set a 0 0 1\r\n1\r\nbget a\r\n",
	  "STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\n" },
	{ "get a noreply\r\n", "END\r\n" },
	{ "set t 5 0 2\r\nhi\r\ngat 10 t x\r\n",
	  "STORED\r\nVALUE t 5 2\r\nhi\r\nEND\r\n" },
	{ "gat abc t\r\n", "CLIENT_ERROR invalid exptime argument\r\n" },
	{ "gat 10\r\n", "END\r\n" },
	{ "gat\r\n", "ERROR\r\n" },
	{ "gats\r\n", "ERROR\r\n" },
	{ "set t 5 0 2\r\nhi\r\ngat -1 t\r\nget t\r\n",
	  "STORED\r\nVALUE t 5 2\r\nhi\r\nEND\r\nEND\r\n" },
	/* delete */
	{ "set a 0 0 1\r\nx\r\ndelete a\r\ndelete a\r\n",
	  "STORED\r\nDELETED\r\nNOT_FOUND\r\n" },
	{ "set a 0 0 1\r\nx\r\ndelete a 0\r\n", "STORED\r\nDELETED\r\n" },
	{ "delete a 1\r\n",
	  "CLIENT_ERROR bad command line format.  "
	  "Usage: delete <key> [noreply]\r\n" },
	{ "delete a 0 0\r\n",
	  "CLIENT_ERROR bad command line format.  "
	  "Usage: delete <key> [noreply]\r\n" },
	{ "set a 0 0 1\r\nx\r\ndelete a noreply\r\ndelete a 0 noreply\r\n"
	  "delete a 1 noreply\r\nget a\r\n",
	  "STORED\r\nEND\r\n" },
	{ "delete\r\n", "ERROR\r\n" },
	{ "delete a b c d\r\n", "ERROR\r\n" },
	/* incr, decr */
	{ "set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\nincr n -1\r\n"
	  "incr n 18446744073709551616\r\nincr n 12abc\r\nincr x 1\r\n"
	  "incr n\r\nincr n 1 noreply\r\nincr n 1 foo\r\nget n\r\n",
	  "STORED\r\n15\r\n0\r\n"
	  "CLIENT_ERROR invalid numeric delta argument\r\n"
	  "CLIENT_ERROR invalid numeric delta argument\r\n"
	  "CLIENT_ERROR invalid numeric delta argument\r\n"
	  "NOT_FOUND\r\nERROR\r\n2\r\nVALUE n 0 2\r\n2 \r\nEND\r\n" },
	{ "set n 0 0 1\r\n1\r\nincr n 18446744073709551615\r\n"
	  "incr n -0\r\ndecr n 1\r\ndecr x 1\r\n",
	  "STORED\r\n0\r\n0\r\n0\r\nNOT_FOUND\r\n" },
	{ "set n 0 0 2\r\n99\r\nincr n 1\r\nget n\r\n",
	  "STORED\r\n100\r\nVALUE n 0 3\r\n100\r\nEND\r\n" },
	{ "set s 0 0 3\r\nabc\r\nincr s 1\r\ndecr s 1\r\n",
	  "STORED\r\n"
	  "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
	  "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n" },
	{ "decr\r\nincr a 1 2 3\r\n", "ERROR\r\nERROR\r\n" },
	/* touch */
	{ "set t 5 0 2\r\nhi\r\ntouch t 10\r\ntouch t abc\r\ntouch x 10\r\n"
	  "touch t\r\ntouch t 10 noreply\r\ntouch t 10 foo\r\n"
	  "touch t -1\r\nget t\r\n",
	  "STORED\r\nTOUCHED\r\nCLIENT_ERROR invalid exptime argument\r\n"
	  "NOT_FOUND\r\nERROR\r\nTOUCHED\r\nTOUCHED\r\nEND\r\n" },
	/* flush_all */
	{ "set a 0 0 1\r\nx\r\nflush_all\r\nget a\r\n",
	  "STORED\r\nOK\r\nEND\r\n" },
	{ "flush_all 0\r\nflush_all noreply\r\nflush_all 10 noreply\r\n"
	  "flush_all abc\r\nflush_all -1\r\nflush_all 1 2\r\n"
	  "flush_all 1 2 3\r\nflush_all 0 noreply x\r\n",
	  "OK\r\nCLIENT_ERROR invalid exptime argument\r\nOK\r\nOK\r\n"
	  "ERROR\r\nERROR\r\n" },
	{ "flush_all noreply noreply\r\nversion\r\n", "VERSION 1.6.18\r\n" },
	/* the rest */
	{ "version\r\n", "VERSION 1.6.18\r\n" },
	{ "version x y\r\n", "VERSION 1.6.18\r\n" },
	{ "verbosity\r\nverbosity 1\r\nverbosity abc\r\n"
	  "verbosity 1 noreply\r\nverbosity 1 2\r\nverbosity 1 2 3\r\n"
	  "verbosity 0\r\n",
	  "ERROR\r\nOK\r\nCLIENT_ERROR bad command line format\r\nOK\r\n"
	  "ERROR\r\nOK\r\n" },
	{ "bogus\r\n", "ERROR\r\n" },
	{ "\r\n", "ERROR\r\n" },
	{ "\n", "ERROR\r\n" },
	{ "x\r\n", "ERROR\r\n" },
	{ "   \r\n", "ERROR\r\n" },
	{ "\r\r\n", "ERROR\r\n" },
	{ "mz\r\n", "ERROR\r\n" },
	{ "gxx\r\n", "ERROR\r\n" },
	{ "GET a\r\n", "ERROR\r\n" },
	{ "gxx / HTTP/1.1\r\n", "ERROR\r\n" },
	{ "slabs\r\n", "ERROR\r\n" },
	{ "shutdown\r\n", "ERROR: shutdown not enabled\r\n" },
	{ "shutdown graceful\r\n", "ERROR: shutdown not enabled\r\n" },
	{ "stats foo\r\n", "ERROR\r\n" },
	{ "stats foo bar\r\n", "ERROR\r\n" },
	{ "stats reset\r\n", "RESET\r\n" },
	{ "stats reset x\r\n", "RESET\r\n" },
	{ "stats sizes\r\n", "STAT sizes_status disabled\r\nEND\r\n" },
	{ "stats items\r\n", "END\r\n" },
	{ "stats slabs\r\n",
	  "STAT active_slabs 0\r\nSTAT total_malloced 0\r\nEND\r\n" },
};
/* cases end */

#endif
