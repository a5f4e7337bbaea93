#!/usr/bin/python3
"""Differential test: the same seeded random stream of requests (diffgen.py:
text and meta commands, malformed ones, oversize keys and values, noreply,
several requests per send, requests split across sends, and UDP
datagrams) goes to the server under test and to memcached 1.6, each
started here; their replies must be equal.

Replies are compared after normalising what the protocol leaves to the
server:
- CAS values: each distinct value becomes an ordinal per server, in the
  order first seen, so "same item version" still compares; on first sight
  its rank among the values seen before is compared too, so the order
  memcached's CAS counter implies still holds (--no-cas-order drops that;
  CAS values set by the meta E flag are left out of it);
- the VERSION text and every STAT line (the values, and which exist);
- meta t (TTL left) within 2 seconds, as the two servers' clocks tick
  apart, and l (seconds since access) only as a number, as memcached's
  LRU thread refreshes access times too;
- spaces padding a number that incr/decr shortened (memcached pads in
  place only when nothing else holds the item);
- on a connection both servers closed, only the replies both sent
  (memcached drops unsent replies when it closes).

Each batch ends with "mn", whose MN reply marks the batch's end. Both
servers run with one worker thread (-t 1), so UDP replies come in request
order. memcached runs with -B ascii, as its binary protocol would claim
requests starting with byte 0x80. Stops at the first divergence (or
after --keep-going N), printing the requests and both replies.

Usage: differential.py --server CMD --reference CMD [--seed N]
                       [--steps N] [--udp-share F] [--keep-going N]
"""

import bisect
import os
import random
import re
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cctest  # noqa: E402
from diffgen import Gen, KeyCas  # noqa: E402

ITEM_MAX = 1 << 20
META_CODES = {b"HD", b"VA", b"EN", b"NF", b"NS", b"EX", b"MN"}
NUM = re.compile(rb"^-?\d+$")
PAD_HEAD = re.compile(rb"^(\d+) +")
PAD_TAIL = re.compile(rb"(\d) +$")


class Fuzzy:
    """A number that compares equal to another within tol."""

    def __init__(self, prefix, value, tol=2):
        self.prefix, self.value, self.tol = prefix, value, tol

    def __eq__(self, other):
        return isinstance(other, Fuzzy) and self.prefix == other.prefix and \
            abs(self.value - other.value) <= self.tol

    def __repr__(self):
        return "%s~%d" % (self.prefix.decode(), self.value)


class CasMap:
    """One server's CAS values: value -> ordinal (first seen), and the
    sorted list for ranks."""

    def __init__(self, explicit, order):
        self.ordinal = {}
        self.values = []
        self.ranked = []
        self.explicit = explicit
        self.order = order

    def token(self, raw):
        try:
            v = int(raw)
        except ValueError:
            return raw
        if v == 0:
            return b"0"  # "no CAS" (a miss, an item gone at once)
        if v in self.ordinal:
            return b"#%d" % self.ordinal[v]
        o = len(self.values)
        self.ordinal[v] = o
        self.values.append(v)
        if not self.order or v in self.explicit:
            return b"#%d" % o
        rank = bisect.bisect_left(self.ranked, v)
        self.ranked.insert(rank, v)
        return b"#%d(rank %d)" % (o, rank)

    def resolve(self, ref):
        if isinstance(ref, KeyCas):
            return b"%d" % max(1, self.key_cas(ref.key, ref.binary) +
                               ref.delta)
        return b"%d" % self.values[ref.n] if ref.n < len(self.values) \
            else b"0"


def unpad(data):
    """memcached writes a shorter incr/decr result in place, padded with
    spaces, only when nothing else holds the item at that moment (its
    LRU threads and pending replies do): padding is timing, so it is
    dropped, also where an append or prepend carried it along."""
    if data.endswith(b"\r\n"):
        return unpad(data[:-2]) + b"\r\n"
    return PAD_HEAD.sub(rb"\1", PAD_TAIL.sub(rb"\1", data))


def normalise(buf, cas):
    """A reply stream as a list of comparable items."""
    out, pos = [], 0
    while pos < len(buf):
        eol = buf.find(b"\n", pos)
        if eol < 0:
            out.append((b"<partial line>", buf[pos:]))
            break
        line = buf[pos:eol + 1]
        pos = eol + 1
        toks = line.rstrip(b"\r\n").split(b" ")
        if toks[0] == b"STAT":
            continue
        if toks[0] == b"VERSION":
            out.append(b"VERSION <text>")
            continue
        if toks[0] == b"VALUE" and len(toks) in (4, 5) and toks[3].isdigit():
            if len(toks) == 5:
                toks[4] = cas.token(toks[4])
            n = int(toks[3])
            data = buf[pos:pos + n + 2]
            if len(data) == n + 2:
                data = unpad(data)
                toks[3] = b"%d" % (len(data) - 2)
            out.append(tuple(toks))
            out.append(data)
            pos += n + 2
            continue
        if toks[0] in META_CODES and line.endswith(b"\r\n"):
            flags = [toks[0]]
            start = 1
            if toks[0] == b"VA" and len(toks) > 1 and toks[1].isdigit():
                n = int(toks[1])
                data = buf[pos:pos + n + 2]
                if len(data) == n + 2:
                    data = unpad(data)
                    flags.append(b"%d" % (len(data) - 2))
                else:
                    flags.append(toks[1])
                start = 2
            for t in toks[start:]:
                if t[:1] == b"c" and NUM.match(t[1:]):
                    flags.append(b"c" + cas.token(t[1:]))
                elif t[:1] == b"t" and NUM.match(t[1:]) and t[1:] != b"-1":
                    flags.append(Fuzzy(t[:1], int(t[1:])))
                elif t[:1] == b"l" and NUM.match(t[1:]):
                    # memcached refreshes the access time from its LRU
                    # maintainer thread too, so only the form compares.
                    flags.append(b"l<seconds>")
                else:
                    flags.append(t)
            out.append(tuple(flags))
            if start == 2:
                out.append(data)
                pos += n + 2
            continue
        out.append(line)
    return out


def render(parts, cas):
    return b"".join(p if isinstance(p, bytes) else cas.resolve(p)
                    for p in parts)


class Side:
    """One server and this test's connections to it."""

    def __init__(self, name, cmd, explicit, order):
        self.name = name
        args = ["-t", "1", "-m", "1024", "-c", "1024"]
        if cctest.is_memcached(cmd):
            args += ["-B", "ascii"]
        self.srv = cctest.Server(cmd, args, udp=True)
        self.cas = CasMap(explicit, order)
        self.cas.key_cas = self.key_cas
        self.tcp = None
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for the largest reply (a 1 MB value is ~750 datagrams):
        # loopback drops what does not fit in the receive buffer.
        try:
            self.udp.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # FORCE
        except OSError:
            self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
        self.udp.connect(("127.0.0.1", self.srv.port))
        self.reconnect()

    def key_cas(self, key, binary):
        """The key's CAS now (1000 when absent), read over a connection of
        its own with mg u, which changes nothing the stream can see."""
        with self.srv.connect() as q:
            q.sendall(b"mg " + key + (b" b" if binary else b"") +
                      b" c u\r\nmn\r\n")
            buf = b""
            while not buf.endswith(b"MN\r\n"):
                chunk = q.recv(4096)
                if not chunk:
                    break
                buf += chunk
        m = re.match(rb"^(?:HD|VA \d+)(?: \S+)*? c(\d+)", buf)
        return int(m.group(1)) if m else 1000

    def reconnect(self):
        if self.tcp:
            self.tcp.close()
        self.tcp = self.srv.connect()

    def send(self, data):
        """Sends; a connection the server closed shows up when reading."""
        try:
            self.tcp.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def close(self):
        self.tcp.close()
        self.udp.close()
        self.srv.close()


def read_replies(sides, want_mn, timeout=5.0):
    """Reads each side's TCP replies until want_mn MN lines arrived, the
    server closed, or timeout. Returns {side: (bytes, how)}."""
    bufs = {s: b"" for s in sides}
    done = {}
    end = time.monotonic() + timeout
    while len(done) < len(sides):
        left = end - time.monotonic()
        if left <= 0:
            for s in sides:
                done.setdefault(s, "timeout")
            break
        waiting = [s for s in sides if s not in done]
        ready, _, _ = select.select([s.tcp for s in waiting], [], [], left)
        for s in waiting:
            if s.tcp not in ready:
                continue
            try:
                chunk = s.tcp.recv(1 << 20)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                done[s] = "closed"
                continue
            bufs[s] += chunk
            b = bufs[s]
            if b.endswith(b"MN\r\n") and (b == b"MN\r\n" or
                                          b.endswith(b"\r\nMN\r\n")):
                if b.split(b"\r\n").count(b"MN") >= want_mn:
                    done[s] = "ok"
    return {s: (bufs[s], done[s]) for s in sides}


def udp_exchange(sides, header, parts, rid):
    """Sends one datagram to each side, then an mn datagram with another
    request id; returns {side: [(header, payload), ...]} of the datagrams
    before the mn reply."""
    sentinel_id = rid ^ 0x8000
    sentinel = struct.pack(">HHHH", sentinel_id, 0, 1, 0) + b"mn\r\n"
    got = {}
    for s in sides:
        body = render(parts, s.cas)
        dgram = body if header is None else \
            struct.pack(">HHHH", rid, *header[1:]) + body
        s.udp.send(dgram)
        s.udp.send(sentinel)
        dgrams = []
        s.udp.settimeout(3.0)
        try:
            while True:
                d = s.udp.recv(65536)
                hdr = struct.unpack(">HHHH", d[:8]) if len(d) >= 8 else None
                if hdr and hdr[0] == sentinel_id:
                    break
                dgrams.append((hdr, d[8:] if hdr else d))
        except socket.timeout:
            dgrams.append(("<timeout waiting for the mn reply>", b""))
        got[s] = dgrams
    return got


def show(buf, limit=600):
    if len(buf) > limit:
        return repr(buf[:limit // 2]) + " ... (%d bytes) ... " % len(buf) \
            + repr(buf[-limit // 2:])
    return repr(buf)


class Run:
    def __init__(self, args):
        self.args = args
        self.rnd = random.Random(args.seed)
        self.gen = Gen(self.rnd, ITEM_MAX)
        order = not args.no_cas_order
        self.test = Side("server", args.server, self.gen.explicit, order)
        self.ref = Side("memcached", args.reference, self.gen.explicit, order)
        self.sides = [self.test, self.ref]
        self.divergences = 0
        self.history = []
        self.log = open(args.log, "w") if args.log else None

    def trace(self, step, request, replies):
        if self.log:
            self.log.write("%d > %s\n" % (step, show(request, 3000)))
            for s in self.sides:
                self.log.write("%d %s < %s\n" % (step, s.name[0],
                                                  show(replies[s], 3000)))

    def report(self, step, what, requests, replies):
        self.divergences += 1
        print("\nDIVERGENCE %d at step %d (seed %d): %s"
              % (self.divergences, step, self.args.seed, what))
        print("recent requests (to memcached):")
        for h in self.history[-4:-1]:
            print("   " + show(h, 300))
        print("request: " + show(requests, 2000))
        for s in self.sides:
            print("%s (%s) replied: %s" % (s.name, s.srv.argv()[0],
                                           show(replies[s], 2000)))
        sys.stdout.flush()

    def tcp_step(self, step):
        cmds, quit = self.gen.batch(len(self.ref.cas.values))
        cmds.append([b"mn\r\n"])
        want_mn = sum(1 for c in cmds if c == [b"mn\r\n"])
        cuts = self.gen.splits(len(cmds))
        pieces = {}
        for s in self.sides:
            rendered = [render(c, s.cas) for c in cmds]
            out, cur = [], b""
            ci = 0
            for i, c in enumerate(rendered):
                while ci < len(cuts) and cuts[ci][0] == i:
                    at = int(len(c) * cuts[ci][1])
                    out.append(cur + c[:at])
                    cur, c = b"", c[at:]
                    ci += 1
                cur += c
            out.append(cur)
            pieces[s] = out
        request = b"".join(pieces[self.ref])
        self.history.append(request)
        for i in range(len(pieces[self.ref])):
            for s in self.sides:
                s.send(pieces[s][i])
            if i + 1 < len(pieces[self.ref]):
                time.sleep(0.002)
        replies = read_replies(self.sides, want_mn)
        self.last_reply = replies[self.ref][0]
        self.trace(step, request, {s: replies[s][0] for s in self.sides})
        norm = {s: (normalise(replies[s][0], s.cas), replies[s][1])
                for s in self.sides}
        if norm[self.ref][1] == "closed" and norm[self.test][1] == "closed":
            # memcached drops the replies it has not sent yet when it
            # closes a connection (quit, a line too long), so how much of
            # a large reply got out is timing: only what both sent counts,
            # and the last item may be cut short.
            n = min(len(norm[self.test][0]), len(norm[self.ref][0])) - 1
            norm = {s: (norm[s][0][:max(n, 0)], "closed") for s in norm}
        if norm[self.test] != norm[self.ref]:
            self.report(step, "TCP replies differ (%s / %s)"
                        % (replies[self.test][1], replies[self.ref][1]),
                        request, {s: replies[s][0] + b" <%s>" % replies[s][1]
                                  .encode() for s in self.sides})
            mine, theirs = norm[self.test][0], norm[self.ref][0]
            i = 0
            while i < min(len(mine), len(theirs)) and mine[i] == theirs[i]:
                i += 1
            print("first differing item: server %r, memcached %r"
                  % (mine[i] if i < len(mine) else "<nothing>",
                     theirs[i] if i < len(theirs) else "<nothing>"))
        for s in self.sides:
            if replies[s][1] != "ok" or quit:
                s.reconnect()

    def udp_step(self, step):
        header, parts = self.gen.udp_request(len(self.ref.cas.values))
        rid = self.rnd.randrange(0x8000)
        got = udp_exchange(self.sides, header, parts, rid)
        self.last_reply = repr(got[self.ref]).encode()
        self.trace(step, b"UDP " + render(parts, self.ref.cas),
                   {s: repr(got[s]).encode() for s in self.sides})
        request = render(parts, self.ref.cas)
        self.history.append(b"UDP " + request)
        summary = {}
        for s in self.sides:
            frames = [h for h, _ in got[s]]
            payload = b"".join(p for _, p in got[s])
            summary[s] = (frames, normalise(payload, s.cas), len(payload))
        a, b = summary[self.test], summary[self.ref]
        # Frame headers must match too, unless CAS values of different
        # lengths moved a datagram boundary.
        same = a[1] == b[1] and (a[0] == b[0] or a[2] != b[2])
        if not same:
            self.report(step, "UDP replies differ (header %s)"
                        % (None if header is None else header[1:]),
                        request, {s: repr(got[s]).encode()
                                  for s in self.sides})

    def run(self):
        t0 = time.monotonic()
        for step in range(self.args.steps):
            t1 = time.monotonic()
            if self.rnd.random() < self.args.udp_share:
                self.udp_step(step)
            else:
                self.tcp_step(step)
            if self.args.verbose and time.monotonic() - t1 > 0.2:
                print("step %d took %.2f s: %s" % (
                    step, time.monotonic() - t1, show(self.history[-1], 400)))
                print("   reply: %s" % show(self.last_reply, 400))
            if self.divergences >= self.args.keep_going:
                break
            for s in self.sides:
                if not s.srv.alive():
                    print("\n%s died at step %d\n%s"
                          % (s.name, step, s.srv.log()))
                    return 1
        print("seed %d: %d steps in %.1f s, %d CAS values, %d divergences"
              % (self.args.seed, step + 1, time.monotonic() - t0,
                 len(self.ref.cas.values), self.divergences))
        return 1 if self.divergences else 0

    def close(self):
        rc = 0
        for s in self.sides:
            if s.srv.alive():
                rc |= cctest.stop_clean(s.srv)
            s.close()
        return rc


def main():
    def extra(p):
        p.add_argument("--reference", default="/usr/bin/memcached",
                       help="memcached 1.6 command")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--steps", type=int, default=2000)
        p.add_argument("--udp-share", type=float, default=0.15,
                       help="share of steps sent over UDP")
        p.add_argument("--keep-going", type=int, default=1,
                       help="divergences to report before stopping")
        p.add_argument("--log", help="write every request and reply here")
        p.add_argument("--no-cas-order", action="store_true",
                       help="compare CAS equality only, not order")
    args = cctest.parse_args(extra, description=__doc__)
    if not os.path.exists(args.reference.split()[0]):
        cctest.skip("no memcached at " + args.reference)
    run = Run(args)
    try:
        rc = run.run()
    finally:
        rc_close = run.close()
    return rc or rc_close


if __name__ == "__main__":
    sys.exit(main())
