#!/usr/bin/env bash
# What Prometheus scraping costs the cache: GET throughput of corecached
# with 10 scrapes of /metrics per second against without, in one run.
#
# corecached runs one worker (-t 1), the whole process (worker and
# exporter thread) pinned with taskset to one core; memcaslap drives it
# from another core at a fixed concurrency (-c 16, gets only, after its
# own prefill of 16-byte keys with 32-byte values), one process for the
# whole run. While it runs, the script alternates phases of PHASE seconds
# without and with a scraper (a fresh connection and a full GET /metrics
# every 100 ms, as a 10 Hz Prometheus would), in the order ABBA so that
# drift cancels, and counts the gets each phase served from the server's
# own `stats` (cmd_get). The scraper runs on the client's core: the cost
# measured is the server's. On a machine shared with other work, a burst
# of it lands in some phases and not others: the ratio reported is the
# median of the rounds' ratios, which such a burst moves little; the
# pooled one (all gets with scrapes over all without) is printed too, and
# cpu_ratio: gets per second of the server's CPU time (utime + stime of
# the process, exporter thread included) with scrapes over without, which
# CPU taken by other programs does not move.
#
# A benchmark, not a test: it never fails for being slow. About a minute
# (ROUNDS * 4 * PHASE seconds plus warm-up). Ends with one line:
#   control scrape_ratio=X pooled_ratio=X cpu_ratio=X get_ops=X
#   get_ops_scraped=X scrapes=N scrape_ms=X
# where scrape_ratio is the throughput with scrapes over without (median
# of the rounds; target >= 0.99), get_ops the gets per second without
# scrapes, get_ops_scraped with, scrapes the /metrics pages fetched and
# scrape_ms the mean time of one as the scraper saw it.
#
# Usage: tests/bench/scrape.sh [CORECACHED]
#   CORECACHED defaults to build/control/corecached. PHASE (seconds, default
#   1.5) and ROUNDS (default 10) may be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."

corecached=${1:-build/control/corecached}
for tool in memcaslap taskset /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done
[ -x "$corecached" ] || { echo "bench: no corecached at $corecached (build first)" >&2; exit 1; }

exec /usr/bin/python3 - "$corecached" "${PHASE:-1.5}" "${ROUNDS:-10}" <<'EOF'
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

corecached, phase, rounds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
ncpu = os.cpu_count() or 1
server_cpu, client_cpu = ("0", "1") if ncpu >= 2 else ("0", "0")
if ncpu < 2:
    print("bench: one CPU only: server and client share it, figures are "
          "rough", file=sys.stderr)
# This script (the scraper) keeps to the client's core too.
os.sched_setaffinity(0, {int(client_cpu)})


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cmd_get(port):
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.sendall(b"stats\r\n")
        buf = b""
        while not buf.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("stats: connection closed")
            buf += chunk
    for line in buf.decode().split("\r\n"):
        if line.startswith("STAT cmd_get "):
            return int(line.split()[2])
    raise RuntimeError("stats: no cmd_get")


def cpu_ticks(pid):
    """utime + stime of the whole process, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def wait_port(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError("corecached exited with %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d does not answer" % port)


class Scraper(threading.Thread):
    """GET /metrics every 100 ms while on; counts pages and their time."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.on, self.done = port, threading.Event(), False
        self.pages, self.seconds = 0, 0.0

    def scrape(self):
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), 5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
            n = 0
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                n += len(chunk)
        if n < 1000:
            raise RuntimeError("short /metrics page (%d bytes)" % n)
        self.pages += 1
        self.seconds += time.monotonic() - t0

    def run(self):
        next_at = time.monotonic()
        while not self.done:
            if not self.on.wait(0.05):
                next_at = time.monotonic()
                continue
            self.scrape()
            next_at += 0.1
            time.sleep(max(0.0, next_at - time.monotonic()))


port, mport = free_port(), free_port()
cfg = tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False)
cfg.write("key\n16 16 1\nvalue\n32 32 1\ncmd\n0 0.0\n1 1.0\n")
cfg.close()
server = subprocess.Popen(
    ["taskset", "-c", server_cpu, corecached, "-l", "127.0.0.1", "-p",
     str(port), "-U", "0", "-t", "1", "-m", "256", "--no-pin",
     "--metrics-listen", "127.0.0.1:%d" % mport],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
client = None
try:
    wait_port(port, server)
    wait_port(mport, server)
    total = 4 * rounds * phase + 10
    client = subprocess.Popen(
        ["taskset", "-c", client_cpu, "memcaslap", "-s",
         "127.0.0.1:%d" % port, "-T", "1", "-c", "16", "-F", cfg.name,
         "-t", "%ds" % int(total + 5)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scraper = Scraper(mport)
    scraper.start()
    # Warm-up: memcaslap's prefill, then steady gets.
    time.sleep(5)
    ops = {False: [0, 0.0], True: [0, 0.0]}
    cpu = {False: 0, True: 0}
    ratios = []
    for r in range(rounds):
        this = {False: [0, 0.0], True: [0, 0.0]}
        for scraping in (False, True, True, False):
            if scraping:
                scraper.on.set()
            else:
                scraper.on.clear()
            time.sleep(0.2)  # let the switch settle
            g0, t0 = cmd_get(port), time.monotonic()
            c0 = cpu_ticks(server.pid)
            time.sleep(phase)
            c1 = cpu_ticks(server.pid)
            g1, t1 = cmd_get(port), time.monotonic()
            cpu[scraping] += c1 - c0
            if client.poll() is not None:
                raise RuntimeError("memcaslap exited early")
            for acc in (ops, this):
                acc[scraping][0] += g1 - g0
                acc[scraping][1] += t1 - t0
        without = this[False][0] / this[False][1]
        with_ = this[True][0] / this[True][1]
        ratios.append(with_ / without)
        print("bench: round %d: %.0f gets/s without, %.0f with scrapes"
              % (r + 1, without, with_), file=sys.stderr)
    scraper.on.clear()
    scraper.done = True
    base = ops[False][0] / ops[False][1]
    scraped = ops[True][0] / ops[True][1]
    ratios.sort()
    median = (ratios[(rounds - 1) // 2] + ratios[rounds // 2]) / 2
    # Gets per second of the server's CPU time: what a scrape costs in
    # the server's work, whatever CPU other programs took meanwhile.
    per_cpu = {k: ops[k][0] / max(1, cpu[k]) for k in cpu}
    print("control scrape_ratio=%.4f pooled_ratio=%.4f cpu_ratio=%.4f "
          "get_ops=%.0f get_ops_scraped=%.0f scrapes=%d scrape_ms=%.3f"
          % (median, scraped / base, per_cpu[True] / per_cpu[False], base,
             scraped, scraper.pages,
             1000 * scraper.seconds / max(1, scraper.pages)))
finally:
    for p in (client, server):
        if p is not None and p.poll() is None:
            p.terminate()
            p.wait()
    os.unlink(cfg.name)
EOF
