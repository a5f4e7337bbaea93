#!/usr/bin/python3
"""corecached's Prometheus exporter, end to end. Each case starts its own
corecached with --metrics-listen on a free loopback port.

  exposition  traffic from pymemcache, then /metrics: promtool check
              metrics finds no problem, and the counters, gauges and the
              latency histogram say exactly what the traffic did; the
              files in deploy/ pass promtool check config and rules
  http        /healthz, 404, 405, HEAD, malformed and oversized requests,
              a slow client and idle clients past the client bound: none
              stops another scrape, the daemon lives on
  prometheus  Debian's Prometheus server on loopback (its own config and
              data directory, 1 s scrape interval) scrapes corecached; its
              HTTP API shows corecache's series and a counter that moved
              after the traffic
  flags       --metrics-listen: a bad value exits 2, an address in use
              exits 1, "off" serves no exporter

Usage: test_metrics.py --server CORECACHED --case NAME
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cctest  # noqa: E402
from cctest import check, expect  # noqa: E402

CASES = ["exposition", "http", "prometheus", "flags"]


def start(cmd, extra=()):
    """corecached with the exporter on a free port: (server, port)."""
    mport = cctest.free_port(udp_too=False)
    srv = cctest.Server(cmd, ["-t", "2", "--metrics-listen",
                              "127.0.0.1:%d" % mport] + list(extra))
    # The exporter starts once the workers run: moments after the
    # memcached port answers.
    end = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", mport), 1).close()
            return srv, mport
        except OSError:
            if time.monotonic() > end or not srv.alive():
                srv.close()
                raise
            time.sleep(0.02)


def http(port, raw, timeout=5.0):
    """Sends raw bytes, reads until the server closes: (status, headers
    as a dict with lower-case names, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.settimeout(timeout)
        s.sendall(raw)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    check(len(parts) >= 2 and parts[0] == "HTTP/1.1",
          "status line", lines[0])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers and not raw.startswith(b"HEAD "):
        expect(len(body), int(headers["content-length"]), "body length")
    return int(parts[1]), headers, body


def get(port, path):
    return http(port, ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Accept: */*\r\n\r\n" % path).encode())


def scrape(port):
    """The /metrics page parsed: {'name{labels}': value}."""
    status, headers, body = get(port, "/metrics")
    expect(status, 200, "/metrics status")
    expect(headers.get("content-type"), "text/plain; version=0.0.4",
           "content type")
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out, body


def exposition(cmd):
    from pymemcache.client.base import Client

    srv, mport = start(cmd)
    checks = cctest.Checks(srv)
    try:
        before, _ = scrape(mport)
        c = Client(("127.0.0.1", srv.port), connect_timeout=5,
                   timeout=5)
        for i in range(50):
            c.set("key%d" % i, b"v" * 100)
        for i in range(100):
            c.get("key%d" % i)          # 50 hits, 50 misses
        c.delete("key0")
        c.delete("nokey")
        c.set("n", b"5")
        c.incr("n", 2)
        c.decr("nokey", 1)
        # Waits for its reply: every request before it is done.
        expect(c.touch("key1", 100, noreply=False), True, "touch")
        c.close()
        after, body = scrape(mport)

        def promtool():
            tool = shutil.which("promtool")
            if not tool:
                cctest.skip("promtool is not installed (Debian: "
                            "prometheus)")
            p = subprocess.run([tool, "check", "metrics"], input=body,
                               capture_output=True, timeout=30)
            out = (p.stdout + p.stderr).decode()
            expect((p.returncode, out.strip()), (0, ""),
                   "promtool check metrics")

        def deploy_files():
            # deploy/prometheus.yml and its rules load in Prometheus.
            tool = shutil.which("promtool")
            deploy = os.path.join(os.path.dirname(os.path.abspath(
                __file__)), "..", "..", "deploy")
            for what, name in [("config", "prometheus.yml"),
                               ("rules", "corecache-rules.yml")]:
                p = subprocess.run([tool, "check", what,
                                    os.path.join(deploy, name)],
                                   capture_output=True, timeout=30)
                expect(p.returncode, 0, "promtool check %s %s: %s"
                       % (what, name, (p.stdout + p.stderr).decode()))

        def moved(key, delta):
            expect(after.get(key, -1) - before.get(key, 0), delta, key)

        def commands():
            cmd_key = 'corecache_commands_total{command="%s",status="%s"}'
            moved(cmd_key % ("get", "hit"), 50)
            moved(cmd_key % ("get", "miss"), 50)
            moved(cmd_key % ("set", "hit"), 51)
            moved(cmd_key % ("delete", "hit"), 1)
            moved(cmd_key % ("delete", "miss"), 1)
            moved(cmd_key % ("incr", "hit"), 1)
            moved(cmd_key % ("decr", "miss"), 1)
            moved(cmd_key % ("touch", "hit"), 1)
            expect(after["corecache_current_items"], 50.0, "items")
            check(after["corecache_current_bytes"] > 50 * 100, "bytes")
            expect(after["corecache_limit_bytes"], float(64 << 20),
                   "limit (-m 64)")
            check(after["corecache_read_bytes_total"] > 50 * 100,
                  "bytes read")
            check(after["corecache_written_bytes_total"] > 50 * 100,
                  "bytes written")
            # Our two scrapes are not memcached clients; pymemcache is.
            moved("corecache_connections_total", 1)
            expect(after['corecache_build_info{version="0.1.0",'
                         'protocol="1.6.18"}'], 1.0, "build info")
            check(after["corecache_uptime_seconds"] >= 0, "uptime")

        def workers():
            hits = sum(v for k, v in after.items()
                       if k.startswith("corecache_worker_get_hits_total{"))
            expect(hits, 50.0, "per-worker get hits, summed")
            expect(len([k for k in after
                        if k.startswith("corecache_worker_cmd_get_total{")]),
                   2, "one series per worker (-t 2)")

        def histogram():
            name = "corecache_request_duration_seconds"
            count = after['%s_count{command="get"}' % name]
            expect(count, 100.0, "get requests timed")
            expect(after['%s_bucket{command="get",le="+Inf"}' % name],
                   count, "+Inf bucket is the count")
            expect(after['%s_count{command="set"}' % name], 51.0,
                   "set requests timed")
            expect(after['%s_count{command="incr_decr"}' % name], 2.0,
                   "incr/decr requests timed")
            last = 0.0
            for line in body.decode().splitlines():
                if line.startswith(name + '_bucket{command="get"'):
                    v = float(line.rpartition(" ")[2])
                    check(v >= last, "cumulative buckets", line)
                    last = v
            s = after['%s_sum{command="get"}' % name]
            check(0 < s < count, "sum of 100 gets in (0, 100 s)", s)

        checks.run("promtool", promtool)
        checks.run("deploy-files", deploy_files)
        checks.run("commands", commands)
        checks.run("workers", workers)
        checks.run("histogram", histogram)
        rc = checks.finish()
        return rc or cctest.stop_clean(srv)
    finally:
        srv.close()


def http_case(cmd):
    srv, mport = start(cmd)
    checks = cctest.Checks(srv)
    try:
        def healthz():
            expect(get(mport, "/healthz")[::2], (200, b"ok\n"), "/healthz")

        def not_found():
            expect(get(mport, "/nothing")[0], 404, "/nothing")
            expect(get(mport, "/metricsx")[0], 404, "/metricsx")
            # A query string does not change the page.
            expect(get(mport, "/healthz?x=1")[0], 200, "query string")

        def methods():
            status, headers, _ = http(
                mport, b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n"
                b"\r\nabc")
            expect(status, 405, "POST")
            expect(headers.get("allow"), "GET, HEAD", "Allow header")
            expect(http(mport, b"DELETE /healthz HTTP/1.0\r\n\r\n")[0], 405,
                   "DELETE")
            status, headers, body = http(mport,
                                         b"HEAD /metrics HTTP/1.0\r\n\r\n")
            expect((status, body), (200, b""), "HEAD: no body")
            check(int(headers["content-length"]) > 1000,
                  "HEAD: the length GET would send")
            # HTTP/1.0 and bare newlines.
            expect(http(mport, b"GET /healthz HTTP/1.0\n\n")[0], 200,
                   "bare LF")

        def malformed():
            for raw, want in [
                    (b"garbage\r\n\r\n", 400),
                    (b"GET /metrics\r\n\r\n", 400),
                    (b"GET  /metrics HTTP/1.1\r\n\r\n", 400),
                    (b"GET metrics HTTP/1.1\r\n\r\n", 400),
                    (b"GET /metrics HTTP/1.1 x\r\n\r\n", 400),
                    (b"G(T /metrics HTTP/1.1\r\n\r\n", 400),
                    (b"GET /metrics FTP/1.0\r\n\r\n", 400),
                    (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
                    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
                    (b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
                     400),
                    (b"GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
                     400),
                    (b"GET /me\0trics HTTP/1.1\r\n\r\n", 400),
                    (b"\r\n\r\n", 400),
                    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", 431),
                    (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 3000 + b"\r\n",
                     431)]:
                try:
                    status = http(mport, raw)[0]
                except (ConnectionResetError, BrokenPipeError):
                    # The server answers a request too large before it
                    # has all of it, and closes; the rest may be reset.
                    check(want == 431, "reset on %r" % raw[:40])
                    continue
                expect(status, want, "reply to %r" % raw[:40])
            expect(get(mport, "/healthz")[0], 200, "still serving")

        def slow_clients():
            # One client sends half a request and stalls, another never
            # reads its (large) reply: scrapes go on meanwhile, and the
            # staller, finishing, gets its answer.
            stall = socket.create_connection(("127.0.0.1", mport), 5)
            stall.sendall(b"GET /metr")
            reader = socket.create_connection(("127.0.0.1", mport), 5)
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            reader.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
            try:
                for _ in range(5):
                    scrape(mport)
                stall.sendall(b"ics HTTP/1.1\r\n\r\n")
                stall.settimeout(5)
                first = stall.recv(64)
                check(first.startswith(b"HTTP/1.1 200"), "stalled client",
                      first)
            finally:
                stall.close()
                reader.close()
            # More silent clients than the server keeps (32): the oldest
            # make room, scrapes are served.
            idle = [socket.create_connection(("127.0.0.1", mport), 5)
                    for _ in range(40)]
            try:
                for _ in range(5):
                    scrape(mport)
            finally:
                for s in idle:
                    s.close()
            expect(get(mport, "/healthz")[0], 200, "still serving")

        def idle_timeout():
            # A client that says nothing is closed after the idle time
            # (5 s), not kept forever.
            s = socket.create_connection(("127.0.0.1", mport), 5)
            s.settimeout(15)
            try:
                expect(s.recv(64), b"", "idle client closed")
            finally:
                s.close()

        checks.run("healthz", healthz)
        checks.run("not-found", not_found)
        checks.run("methods", methods)
        checks.run("malformed", malformed)
        checks.run("slow-clients", slow_clients)
        checks.run("idle-timeout", idle_timeout)
        check(srv.alive(), "corecached alive")
        rc = checks.finish()
        return rc or cctest.stop_clean(srv)
    finally:
        srv.close()


class Prometheus:
    """Debian's Prometheus server on loopback, scraping one target every
    second, with its own config and data directory."""

    def __init__(self, target_port):
        self.dir = tempfile.mkdtemp(prefix="cc-prometheus-")
        self.port = cctest.free_port(udp_too=False)
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: corecache\n"
                    "    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % target_port)
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus"), "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)

    def query(self, q):
        """The instant vector of q: [(labels, value)]."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": q}))
        with urllib.request.urlopen(url, timeout=5) as r:
            doc = json.load(r)
        expect(doc["status"], "success", "query %s" % q)
        return [(x["metric"], float(x["value"][1]))
                for x in doc["data"]["result"]]

    def wait_for(self, q, cond, timeout):
        """Polls q until cond(result) holds; returns the result."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            check(self.proc.poll() is None, "prometheus exited",
                  self.output())
            try:
                last = self.query(q)
                if cond(last):
                    return last
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError("%s: still %r after %gs\n%s"
                             % (q, last, timeout, self.output()))

    def output(self):
        with open(self.log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def prometheus(cmd):
    from pymemcache.client.base import Client

    cctest.need_tool("prometheus")
    srv, mport = start(cmd)
    prom = Prometheus(mport)
    checks = cctest.Checks(srv)
    hits = 'corecache_commands_total{command="get",status="hit"}'
    try:
        def series():
            up = prom.wait_for('up{job="corecache"}',
                               lambda r: r and r[0][1] == 1.0, 20)
            expect(up[0][0]["instance"], "127.0.0.1:%d" % mport, "target")
            info = prom.query("corecache_build_info")
            expect(len(info), 1, "build info series")
            expect(info[0][0].get("protocol"), "1.6.18", "protocol label")
            names = prom.query('count by (__name__) '
                               '({__name__=~"corecache_.+"})')
            check(len(names) > 40, "corecache's series", len(names))

        def moved():
            before = prom.wait_for(hits, lambda r: len(r) == 1, 10)[0][1]
            c = Client(("127.0.0.1", srv.port), connect_timeout=5,
                       timeout=5)
            c.set("k", b"v")
            for _ in range(200):
                c.get("k")
            c.close()
            prom.wait_for(hits, lambda r: r and r[0][1] >= before + 200,
                          10)
            prom.wait_for('corecache_request_duration_seconds_count'
                          '{command="get"}',
                          lambda r: r and r[0][1] >= 200, 10)
            # The histogram is usable as one: a quantile comes out.
            q = prom.wait_for(
                'histogram_quantile(0.5, rate('
                'corecache_request_duration_seconds_bucket'
                '{command="get"}[10s]))',
                lambda r: r and 0 < r[0][1] < 2, 10)
            print("median get in the protocol layer: %.1f us"
                  % (q[0][1] * 1e6))

        checks.run("series", series)
        checks.run("counter-moved", moved)
        rc = checks.finish()
        if rc:
            print("---- prometheus log ----\n" + prom.output())
        prom.stop()
        return rc or cctest.stop_clean(srv)
    finally:
        prom.stop()
        srv.close()


def flags(cmd):
    argv = cctest.server_argv(cmd)
    port = cctest.free_port(udp_too=False)
    checks = cctest.Checks()

    def run(extra, timeout=10):
        return subprocess.run(argv + ["-l", "127.0.0.1", "-p", str(port),
                                      "-U", "0"] + extra,
                              capture_output=True, timeout=timeout)

    def bad_values():
        for value in ["nonsense", "127.0.0.1", "127.0.0.1:0",
                      "127.0.0.1:65536", "127.0.0.1:9x", "::1:9180",
                      "[::1]9180", "127.0.0.1:"]:
            p = run(["--metrics-listen", value])
            expect(p.returncode, 2, "exit status for %r" % value)
            check(b"--metrics-listen" in p.stderr, "message names the "
                  "option", p.stderr)

    def in_use():
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        try:
            p = run(["--metrics-listen", "127.0.0.1:%d"
                     % holder.getsockname()[1]])
        finally:
            holder.close()
        expect(p.returncode, 1, "exit status, port in use")
        check(b"cannot serve metrics" in p.stderr, "message", p.stderr)

    def off():
        for value in ["off", ""]:
            srv = cctest.Server(cmd, ["--metrics-listen", value])
            try:
                # No extra listener: the process holds the memcached
                # port and nothing else.
                out = subprocess.run(["ss", "-Htlnp"], capture_output=True)
                mine = [line for line in out.stdout.decode().splitlines()
                        if "pid=%d," % srv.pid in line]
                check(mine and all(":%d " % srv.port in line
                                   for line in mine),
                      "only the memcached port listens", mine)
                expect(cctest.stop_clean(srv), 0, "clean stop")
            finally:
                srv.close()

    checks.run("bad-values", bad_values)
    checks.run("in-use", in_use)
    if shutil.which("ss"):
        checks.run("off", off)
    return checks.finish()


def main():
    def extra(p):
        p.add_argument("--case", required=True, choices=CASES)
    args = cctest.parse_args(extra, description=__doc__)
    if args.case == "exposition":
        return exposition(args.server)
    if args.case == "http":
        return http_case(args.server)
    if args.case == "prometheus":
        return prometheus(args.server)
    return flags(args.server)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print("FAIL: %s" % e)
        sys.exit(1)
