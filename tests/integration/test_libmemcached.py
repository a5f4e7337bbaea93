#!/usr/bin/python3
"""The server driven by libmemcached's command-line tools (Debian's
libmemcached-tools): the one-shot tools, the memcslap and memcaslap load
generators (memcaslap verifying every value it reads, over TCP and over
UDP) and memccapable, libmemcached's text protocol conformance checker.

The tools report most failures only in their output, not their exit
status, so each case reads their figures and checks them.

Usage: test_libmemcached.py --server CMD --case NAME
"""

import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cctest  # noqa: E402
from cctest import check, expect  # noqa: E402

CASES = ["tools", "memcslap", "memcaslap-tcp", "memcaslap-udp", "memccapable"]


def run(argv, timeout=120, ok_codes=(0,)):
    """Runs a tool; returns (status, stdout+stderr). A status outside
    ok_codes fails the check with the output."""
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode not in ok_codes:
        raise AssertionError("%s exited %d\n%s" % (" ".join(argv),
                                                   p.returncode, out))
    return p.returncode, out


def tools(srv):
    servers = "--servers=127.0.0.1:%d" % srv.port
    for t in ["memccp", "memccat", "memcrm", "memcstat", "memcexist",
              "memctouch", "memcflush"]:
        cctest.need_tool(t)
    with tempfile.TemporaryDirectory() as d:
        small = os.path.join(d, "cc-small.txt")
        big = os.path.join(d, "cc-big.bin")
        back = os.path.join(d, "cc-big.out")
        with open(small, "wb") as f:
            f.write(b"hello\n")
        data = os.urandom(700000)
        with open(big, "wb") as f:
            f.write(data)

        run(["memccp", servers, small])
        _, out = run(["memccat", servers, "cc-small.txt"])
        expect(out, "hello\n\n", "memccat prints the value")
        run(["memccp", servers, "--flags=42", "--expire=1000", big])
        _, out = run(["memccat", servers, "--flags", "cc-small.txt"])
        expect(out.splitlines()[0], "0", "memccat --flags of an unflagged key")
        run(["memccat", servers, "--file=" + back, "cc-big.bin"])
        with open(back, "rb") as f:
            check(f.read() == data, "700 kB value copied back intact")
        st = srv.stats()
        expect(st.get("curr_items"), "2", "two items stored")

        expect(run(["memccp", servers, "--add", small], ok_codes=(1,))[0], 1,
               "memccp --add of a present key fails")
        run(["memccp", servers, "--replace", small])
        expect(run(["memcexist", servers, "cc-small.txt"])[0], 0,
               "memcexist of a present key")
        expect(run(["memcexist", servers, "nokey"], ok_codes=(1,))[0], 1,
               "memcexist of an absent key")
        run(["memctouch", servers, "--expire=100", "cc-small.txt"])
        run(["memctouch", servers, "--expire=100", "nokey"], ok_codes=(1,))
        run(["memcrm", servers, "cc-small.txt"])
        run(["memcrm", servers, "cc-small.txt"], ok_codes=(1,))
        run(["memccat", servers, "cc-small.txt"], ok_codes=(1,))

        _, out = run(["memcstat", servers])
        for field in ["pid", "uptime", "curr_items", "get_hits",
                      "limit_maxbytes", "threads"]:
            check(re.search(r"^\s*%s: \d+$" % field, out, re.M),
                  "memcstat shows " + field, out)
        _, out = run(["memcstat", servers, "--args=settings"])
        check(re.search(r"^\s*tcpport: %d$" % srv.port, out, re.M),
              "memcstat --args=settings shows tcpport", out)
        _, out = run(["memcstat", servers, "-S"])
        check(out.startswith("127.0.0.1:%d " % srv.port),
              "memcstat -S prints the server's version", out)

        # memccp over UDP: storage commands only, sent without a reply.
        # UDP and TCP may be served by different threads, so the value
        # shows up a moment later.
        run(["memccp", servers, "--udp", small])
        for _ in range(100):
            status, out = run(["memccat", servers, "cc-small.txt"],
                              ok_codes=(0, 1))
            if status == 0:
                break
            time.sleep(0.02)
        expect(out, "hello\n\n", "value stored over UDP read over TCP")

        run(["memcflush", servers])
        run(["memccat", servers, "cc-big.bin"], ok_codes=(1,))


def memcslap(srv):
    cctest.need_tool("memcslap")
    servers = "--servers=127.0.0.1:%d" % srv.port
    threads, number = 4, 2000
    for test in ["set", "get", "mget"]:
        _, out = run(["memcslap", servers, "--test=" + test,
                      "--concurrency=%d" % threads,
                      "--execute-number=%d" % number, "--verbose"])
        # memcslap exits 0 whatever happens; what it did is in the count
        # of its summary line, and failures print errors.
        m = re.search(r"Time to %s\s+(\d+) keys" % test, out)
        check(m, "memcslap %s summary" % test, out)
        expect(int(m.group(1)), threads * number,
               "memcslap --test=%s keys done" % test)
        check("rror" not in out and "ailed" not in out,
              "memcslap %s printed no error" % test, out)


MEMCASLAP_FIELDS = ["cmd_get", "cmd_set", "get_misses", "verify_misses",
                    "verify_failed", "udp_timeout", "packet_drop"]


def memcaslap(srv, udp):
    """memcaslap with every get verified (-v 1). Misses happen (a get can
    run before the set of its key), wrong data must not."""
    cctest.need_tool("memcaslap")
    argv = ["memcaslap", "-s", "127.0.0.1:%d" % srv.port, "-T", "2",
            "-c", "16", "-t", "3s", "-v", "1"]
    if udp:
        argv.append("-U")
    _, out = run(argv)
    figures = {}
    for f in MEMCASLAP_FIELDS:
        m = re.search(r"^%s: (\d+)$" % f, out, re.M)
        if m:
            figures[f] = int(m.group(1))
    print("memcaslap%s: %s" % (" -U" if udp else "", figures))
    summary = re.search(r"^Run time: .* Ops: (\d+)", out, re.M)
    check(summary, "memcaslap summary line", out[-2000:])
    ops = int(summary.group(1))
    check(ops > 10000, "memcaslap did work", ops)
    expect(figures.get("verify_failed"), 0, "memcaslap: no wrong value")
    check(figures["get_misses"] <= figures["cmd_get"] // 20,
          "memcaslap: misses under 5% of gets", figures)
    if udp:
        check(figures.get("udp_timeout", 0) <= ops // 100,
              "memcaslap -U: timeouts under 1%", figures)
        expect(figures.get("packet_drop"), 0, "memcaslap -U: no packet lost")
    st = srv.stats()
    check(int(st["cmd_get"]) >= figures["cmd_get"] * 9 // 10,
          "server counted the gets", st.get("cmd_get"), figures["cmd_get"])


def memccapable(srv):
    cctest.need_tool("memccapable")
    # -a: the text protocol tests only (corecached has no binary protocol).
    _, out = run(["memccapable", "-a", "-h", "127.0.0.1",
                  "-p", str(srv.port), "-t", "5"], ok_codes=(0, 1))
    print(out)
    fails = [line for line in out.splitlines() if "[pass]" not in line
             and line.strip() and line.strip() != "All tests passed"]
    expect(fails, [], "memccapable: every text test passes")
    check("All tests passed" in out, "memccapable summary", out)


def main():
    args = cctest.parse_args(
        lambda p: p.add_argument("--case", required=True, choices=CASES),
        description=__doc__)
    udp = args.case in ("tools", "memcaslap-udp")
    srv = cctest.Server(args.server, ["-t", "2", "-m", "128"], udp=udp)
    checks = cctest.Checks(srv)
    try:
        if args.case == "tools":
            checks.run("tools", tools, srv)
        elif args.case == "memcslap":
            checks.run("memcslap", memcslap, srv)
        elif args.case.startswith("memcaslap"):
            checks.run(args.case, memcaslap, srv, args.case.endswith("udp"))
        else:
            checks.run("memccapable", memccapable, srv)
        return checks.finish() or cctest.stop_clean(srv)
    finally:
        srv.close()


if __name__ == "__main__":
    sys.exit(main())
