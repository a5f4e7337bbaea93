"""Shared helpers of the integration tests: start the server under test on a
free port, wait until it answers, stop it and check how it exited.

Every test takes the server command as a parameter (--server), so each one
is first written and debugged against memcached 1.6 and then pointed at
corecached: a test that fails against memcached is a wrong test, one that
fails only against corecached is a finding.

Ports are picked at run time (bound with port 0 and read back), never
11211, so tests can run side by side. The server's stderr goes to a file
printed when a test fails, which is where a sanitizer report lands.
"""

import argparse
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 77


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


def need_tool(name):
    """Path of a client tool, or a skip when the machine lacks it."""
    path = shutil.which(name)
    if not path:
        skip(name + " is not installed")
    return path


def free_port(udp_too=True):
    """A port free for TCP (and UDP, for servers run with -U on the same
    port, which memcaslap -U requires) on 127.0.0.1."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        if port == 11211:
            t.close()
            continue
        if not udp_too:
            t.close()
            return port
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        return port
    raise RuntimeError("no free port")


def parse_args(extra=None, description=None):
    """Common options: --server CMD (split like a shell would) and
    --verbose; extra(parser) adds a test's own."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--server", required=True,
                   help="server command, e.g. /usr/bin/memcached or a "
                        "path to corecached (extra words are arguments)")
    p.add_argument("--verbose", action="store_true")
    if extra:
        extra(p)
    return p.parse_args()


def server_argv(cmd):
    """The server command as a list. memcached refuses to run as root
    without -u; corecached has no such flag, so it is added only for
    memcached."""
    argv = shlex.split(cmd)
    if os.path.basename(argv[0]).startswith("memcached") and os.geteuid() == 0:
        argv += ["-u", "root"]
    return argv


def is_memcached(cmd):
    return os.path.basename(shlex.split(cmd)[0]).startswith("memcached")


class Server:
    """One server process on 127.0.0.1. args are memcached-style flags
    besides -l and -p (and -U, which is off unless udp is set)."""

    def __init__(self, cmd, args=(), udp=False):
        self.cmd = cmd
        self.args = list(args)
        self.udp = udp
        self.proc = None
        self.port = None
        self.err = tempfile.NamedTemporaryFile(prefix="cc-server-",
                                               suffix=".log", delete=False)
        self.start()

    def argv(self):
        return server_argv(self.cmd) + [
            "-l", "127.0.0.1", "-p", str(self.port),
            "-U", str(self.port) if self.udp else "0"] + self.args

    def start(self):
        last = None
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=self.err, stderr=self.err)
            try:
                self.wait_ready()
                return
            except RuntimeError as e:
                last = e
                if self.proc.poll() is None:
                    self.kill()
        raise RuntimeError("server did not start: %s\n%s" % (last, self.log()))

    def wait_ready(self, timeout=10.0):
        """Until a `version` request is answered (the server reads
        requests, not only accepts)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("exited with %d" % self.proc.returncode)
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              1) as s:
                    s.settimeout(2)
                    s.sendall(b"version\r\n")
                    if recv_until(s, b"\r\n").startswith(b"VERSION "):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("no answer on port %d" % self.port)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        try:
            with open(self.err.name, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=10.0):
        """SIGTERM and wait; returns the exit status (negative: the
        signal that killed it). A server that does not exit is killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError("server ignored SIGTERM for %gs" % timeout)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def connect(self, timeout=5.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def rss_kib(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stats(self, group=""):
        with self.connect() as s:
            s.sendall(("stats %s\r\n" % group).encode())
            return parse_stats(recv_until(s, b"END\r\n"))

    def close(self):
        """Stops the server and removes its log."""
        try:
            self.kill()
        finally:
            os.unlink(self.err.name)


def recv_until(s, marker, limit=64 << 20):
    """Reads from s until the data ends with marker; raises on EOF."""
    buf = b""
    while not buf.endswith(marker):
        chunk = s.recv(1 << 16)
        if not chunk:
            raise EOFError("connection closed after %r" % buf[-200:])
        buf += chunk
        if len(buf) > limit:
            raise RuntimeError("reply too long")
    return buf


def parse_stats(raw):
    out = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        parts = line.split(" ", 2)
        if len(parts) == 3 and parts[0] == "STAT":
            out[parts[1]] = parts[2]
    return out


def request(s, data, marker=b"\r\n"):
    s.sendall(data)
    return recv_until(s, marker)


class Checks:
    """Runs named checks, reports each, and fails the test if any failed
    (so one broken behaviour does not hide the others)."""

    def __init__(self, server=None):
        self.failed = []
        self.server = server

    def run(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            fn(*args)
        except Exception:
            self.failed.append(name)
            print("FAIL %s (%.2fs)" % (name, time.monotonic() - t0))
            traceback.print_exc(file=sys.stdout)
        else:
            print("ok   %s (%.2fs)" % (name, time.monotonic() - t0))
        sys.stdout.flush()

    def finish(self):
        if self.failed:
            if self.server is not None:
                print("---- server stderr ----")
                print(self.server.log())
            print("FAILED: " + ", ".join(self.failed))
            return 1
        return 0


def check(cond, what, *detail):
    if not cond:
        raise AssertionError(what + "".join("\n  " + repr(d) for d in detail))


def expect(got, want, what):
    if got != want:
        raise AssertionError("%s\n  expected: %r\n  got:      %r"
                             % (what, want, got))


def stop_clean(srv):
    """Stops the server; a non-zero status (sanitizer report, crash) fails
    the test."""
    rc = srv.stop()
    if rc != 0:
        print("server exited with status %d\n---- server stderr ----\n%s"
              % (rc, srv.log()))
        return 1
    return 0
