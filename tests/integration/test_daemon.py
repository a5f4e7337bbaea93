#!/usr/bin/python3
"""The daemon's behaviour as a process: the -c connection limit, clients
that send garbage or never read their replies, signals, bad flags and the
shutdown command. Each case starts its own server.

Usage: test_daemon.py --server CMD --case NAME [--usage-status N]
                      [--sigterm-limit SECONDS]
"""

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cctest  # noqa: E402
from cctest import check, expect  # noqa: E402

CASES = ["conn-limit", "garbage", "slow-reader", "sigterm", "bad-flag",
         "shutdown"]
TOO_MANY = b"ERROR Too many open connections\r\n"


def read_all(s, timeout=2.0):
    """Everything s sends until it closes or stays quiet for timeout;
    returns (bytes, closed)."""
    s.settimeout(timeout)
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return buf, True
            buf += chunk
    except socket.timeout:
        return buf, False
    except ConnectionResetError:
        return buf, True


def conn_limit(cmd):
    # memcached counts file descriptors against -c (listeners, pipes), so
    # it accepts fewer clients than the limit; the contract checked here
    # is what a client sees: at most the limit served, the rest told
    # TOO_MANY and closed, service back once clients leave.
    limit, extra = 32, 12
    srv = cctest.Server(cmd, ["-c", str(limit), "-t", "2"])
    try:
        socks, served, refused = [], [], []
        for _ in range(limit + extra):
            s = srv.connect()
            s.sendall(b"version\r\n")
            try:
                reply = cctest.recv_until(s, b"\r\n")
            except (EOFError, ConnectionResetError) as e:
                raise AssertionError("closed without a reply: %r" % e)
            if reply == TOO_MANY:
                rest, closed = read_all(s, 2.0)
                expect((rest, closed), (b"", True),
                       "a refused client is closed after the message")
                refused.append(s)
            else:
                check(reply.startswith(b"VERSION "),
                      "a client is either served or refused", reply)
                served.append(s)
            socks.append(s)
        print("limit %d: served %d, refused %d"
              % (limit, len(served), len(refused)))
        check(1 <= len(served) <= limit, "served clients within -c",
              len(served))
        check(len(refused) >= extra, "clients over -c refused", len(refused))
        for s in served:
            expect(cctest.request(s, b"set k 0 0 1\r\nv\r\n"), b"STORED\r\n",
                   "a served client keeps working at the limit")
        for s in socks:
            s.close()
        time.sleep(0.3)
        st = srv.stats()
        expect(int(st["rejected_connections"]), len(refused),
               "stats rejected_connections")
        with srv.connect() as s:
            expect(cctest.request(s, b"get k\r\n", b"END\r\n"),
                   b"VALUE k 0 1\r\nv\r\nEND\r\n",
                   "a new client is served once others left")
        return cctest.stop_clean(srv)
    finally:
        srv.close()


def worker_loop(srv, stop, errors, counter):
    """A well-behaved client: set and get until stop is set."""
    try:
        with srv.connect() as s:
            i = 0
            while not stop.is_set():
                val = b"%d" % i
                r = cctest.request(s, b"set good%d 0 0 %d\r\n%s\r\n"
                                   % (i % 10, len(val), val))
                if r != b"STORED\r\n":
                    errors.append(("set", i, r))
                    return
                r = cctest.request(s, b"get good%d\r\n" % (i % 10), b"END\r\n")
                want = b"VALUE good%d 0 %d\r\n%s\r\nEND\r\n" % (
                    i % 10, len(val), val)
                if r != want:
                    errors.append(("get", i, r, want))
                    return
                i += 1
                counter[0] = i
    except Exception as e:
        errors.append(repr(e))


def garbage(cmd, error_close):
    srv = cctest.Server(cmd, ["-t", "2"])
    checks = cctest.Checks(srv)
    stop, errors, counter = threading.Event(), [], [0]
    good = threading.Thread(target=worker_loop,
                            args=(srv, stop, errors, counter))
    good.start()
    rnd = random.Random(7)

    def junk_lines():
        # memcached answers each unknown command and keeps the connection,
        # however many come in a row; corecached answers error_close of
        # them in a row, then closes (a bound on what garbage may cost).
        with srv.connect() as s:
            lines = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz0123456789"
                                      b"!#$%&()*+,-./:;<=>?@[]^_{|}~ ")
                           for _ in range(rnd.randint(1, 60))).strip() + b"x"
                     for _ in range(100)]
            s.sendall(b"".join(b"%s\r\n" % ln for ln in lines))
            if error_close:
                reply, closed = read_all(s, 3.0)
                expect((reply, closed), (b"ERROR\r\n" * error_close, True),
                       "junk answered ERROR, then the connection closed")
                return
            reply = b""
            while reply.count(b"\r\n") < 100:
                chunk = s.recv(65536)
                check(chunk, "connection kept after junk lines", reply)
                reply += chunk
            expect(reply, b"ERROR\r\n" * 100, "each junk line answered ERROR")
            expect(cctest.request(s, b"version\r\n")[:8], b"VERSION ",
                   "the connection still serves after junk")

    def interleaved_junk():
        # Errors only count in a row: junk between good requests never
        # closes a connection.
        with srv.connect() as s:
            for i in range(100):
                expect(cctest.request(s, b"junk%d\r\nmn\r\n" % i, b"MN\r\n"),
                       b"ERROR\r\nMN\r\n", "junk then mn (round %d)" % i)

    def long_line():
        # memcached closes a connection whose line has no newline within
        # 2048 bytes, unless it is a get or gets.
        with srv.connect() as s:
            s.sendall(b"x" * 4000)
            reply, closed = read_all(s, 3.0)
            check(closed, "a 4000-byte line without newline closes", reply)
        with srv.connect() as s:
            s.sendall(b"get " + b"k" * 4000)
            time.sleep(0.3)
            s.sendall(b"\r\n")
            reply, closed = read_all(s, 1.0)
            expect((reply, closed),
                   (b"CLIENT_ERROR bad command line format\r\n", False),
                   "a long get line is read to its end")

    def binary_junk():
        # Random bytes (never 0x80 first: that would be memcached's binary
        # protocol) until the server closes or 256 kB have gone.
        for n in range(10):
            with srv.connect() as s:
                s.settimeout(5)
                sent = 0
                try:
                    while sent < (256 << 10):
                        blob = rnd.randbytes(4096)
                        if sent == 0 and blob[0] == 0x80:
                            blob = b"x" + blob[1:]
                        s.sendall(blob)
                        sent += len(blob)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                read_all(s, 0.2)
            check(srv.alive(), "server alive after binary junk", n)

    checks.run("junk lines", junk_lines)
    checks.run("interleaved junk", interleaved_junk)
    checks.run("long line", long_line)
    checks.run("binary junk", binary_junk)
    stop.set()
    good.join()

    def good_client():
        expect(errors, [], "the well-behaved client was never disturbed")
        check(counter[0] > 100, "the well-behaved client made progress",
              counter[0])
    checks.run("good client", good_client)
    try:
        return checks.finish() or cctest.stop_clean(srv)
    finally:
        srv.close()


def slow_reader(cmd):
    """A client that pipelines gets of a 500 kB value and never reads the
    replies must not make the server buffer them: its memory stays put
    (a server that stops reading that connection) while others are
    served."""
    srv = cctest.Server(cmd, ["-t", "2", "-m", "64"])
    try:
        value = os.urandom(500000)
        with srv.connect() as s:
            expect(cctest.request(s, b"set big 0 0 %d\r\n%s\r\n"
                                  % (len(value), value)), b"STORED\r\n", "set")
        rss0 = srv.rss_kib()
        slow = srv.connect()
        slow.setblocking(False)
        sent, peak, t0 = 0, rss0, time.monotonic()
        while time.monotonic() - t0 < 3.0:
            try:
                sent += slow.send(b"get big\r\n" * 100)
            except BlockingIOError:
                time.sleep(0.01)
            peak = max(peak, srv.rss_kib())
        requested = sent // 9 * len(value) >> 20
        print("rss before %d KiB, peak %d KiB; %d MiB of replies requested"
              % (rss0, peak, requested))
        check(requested > 1024, "the client asked for over 1 GiB", requested)
        check(peak - rss0 < 64 * 1024,
              "server memory grew under 64 MiB for an unread backlog",
              rss0, peak)
        with srv.connect() as s:
            got = cctest.request(s, b"get big\r\n", b"END\r\n")
            expect(len(got), len(value) + 27, "another client is served")
        # The first replies the slow client finally reads are intact.
        slow.setblocking(True)
        slow.settimeout(10)
        one = b"VALUE big 0 500000\r\n" + value + b"\r\nEND\r\n"
        buf = b""
        while len(buf) < 2 * len(one):
            buf += slow.recv(1 << 20)
        expect(buf[:2 * len(one)] == one * 2, True,
               "the slow client's replies are intact")
        slow.close()
        return cctest.stop_clean(srv)
    finally:
        srv.close()


def sigterm(cmd, limit):
    srv = cctest.Server(cmd, ["-t", "4"])
    try:
        clients = [srv.connect() for _ in range(8)]
        for c in clients:
            cctest.request(c, b"set k 0 0 1\r\nv\r\n")
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(5)
        except subprocess.TimeoutExpired:
            raise AssertionError("still running 5 s after SIGTERM")
        took = time.monotonic() - t0
        print("exited with %d after %.3f s" % (rc, took))
        for c in clients:
            c.close()
        check(took < limit, "exits within %g s of SIGTERM with clients open"
              % limit, took)
        expect(rc, 0, "exit status after SIGTERM\n" + srv.log())
        return 0
    finally:
        srv.close()


def bad_flag(cmd, status):
    argv = cctest.server_argv(cmd) + ["-l", "127.0.0.1", "-p",
                                      str(cctest.free_port()), "-j"]
    t0 = time.monotonic()
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10)
    took = time.monotonic() - t0
    err = p.stderr.decode("utf-8", "replace")
    print("status %d after %.3f s, stderr %r" % (p.returncode, took, err))
    expect(p.returncode, status, "exit status for an unknown flag")
    check("'j'" in err or "-j" in err, "the message names the flag", err)
    check(took < 1.0, "exits at once", took)
    return 0


def shutdown(cmd):
    srv = cctest.Server(cmd, ["-t", "2"])
    try:
        with srv.connect() as s:
            expect(cctest.request(s, b"shutdown\r\n"),
                   b"ERROR: shutdown not enabled\r\n", "shutdown without -A")
        check(srv.alive(), "still running")
        expect(cctest.stop_clean(srv), 0, "clean exit")
    finally:
        srv.close()
    srv = cctest.Server(cmd, ["-t", "2", "-A"])
    try:
        other = srv.connect()
        with srv.connect() as s:
            expect(cctest.request(s, b"shutdown bogus\r\n"),
                   b"CLIENT_ERROR invalid shutdown mode\r\n", "bad mode")
            s.sendall(b"shutdown\r\n")
            reply, closed = read_all(s, 3.0)
            expect((reply, closed), (b"", True),
                   "shutdown closes the connection without a reply")
        try:
            rc = srv.proc.wait(3)
        except subprocess.TimeoutExpired:
            raise AssertionError("still running 3 s after shutdown")
        expect(rc, 0, "exit status after shutdown\n" + srv.log())
        reply, closed = read_all(other, 1.0)
        check(closed, "other clients are closed", reply)
        return 0
    finally:
        srv.close()


def main():
    def extra(p):
        p.add_argument("--case", required=True, choices=CASES)
        p.add_argument("--usage-status", type=int, default=1,
                       help="exit status expected for an unknown flag "
                            "(memcached: 1)")
        p.add_argument("--error-close", type=int, default=0,
                       help="malformed requests in a row after which the "
                            "server closes the connection (0: never, as "
                            "memcached)")
        # memcached notices SIGTERM on its once-a-second clock tick, so it
        # takes up to about 1 s; its reference run allows more.
        p.add_argument("--sigterm-limit", type=float, default=1.0,
                       help="seconds allowed from SIGTERM to exit")
    args = cctest.parse_args(extra, description=__doc__)
    if args.case == "conn-limit":
        return conn_limit(args.server)
    if args.case == "garbage":
        return garbage(args.server, args.error_close)
    if args.case == "slow-reader":
        return slow_reader(args.server)
    if args.case == "sigterm":
        return sigterm(args.server, args.sigterm_limit)
    if args.case == "bad-flag":
        return bad_flag(args.server, args.usage_status)
    return shutdown(args.server)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("FAIL: %s" % e)
        sys.exit(1)
