#!/usr/bin/python3
"""The control plane of a running corecached: every control socket
command, bad and huge requests, idle and surplus clients, the socket's
permissions (mode and SO_PEERCRED, with a client run as nobody), the
configuration file (errors with their line, exit 2; reload good and bad,
SIGHUP; flags over the file), live changes that a memcached client sees
(verbosity, connection limit, zero-copy threshold), systemd notification,
shutdown and graceful shutdown, and corecachectl's exit statuses.

Each daemon runs on free ports with its control socket in a temporary
directory of its own.

Usage: test_control.py --server CORECACHED --ctl CORECACHECTL
"""

import json
import os
import pty
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cctest  # noqa: E402
from cctest import check, expect  # noqa: E402

TOO_MANY = b"ERROR Too many open connections\r\n"


class Daemon(cctest.Server):
    """corecached with its control socket (and config file) in a
    temporary directory, searchable by others (for the nobody cases)."""

    def __init__(self, cmd, args=(), conf=None, env=None):
        self.dir = tempfile.mkdtemp(prefix="cc-control-")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "ctl.sock")
        self.conf = os.path.join(self.dir, "corecached.conf")
        if conf is not None:
            write(self.conf, conf)
            args = ["--config", self.conf] + list(args)
        self.env = env
        super().__init__(cmd, list(args) + ["--control-socket", self.sock])

    def start(self):
        saved = dict(os.environ)
        if self.env:
            os.environ.update(self.env)
        try:
            super().start()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def close(self):
        try:
            super().close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def ctl_connect(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_reply(s):
    """One framed reply: (ok, body as str)."""
    head = b""
    while not head.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            raise EOFError("closed after %r" % head)
        head += c
        check(len(head) < 32, "header line is short", head)
    word, length = head.decode().split()
    check(word in ("OK", "ERR"), "status word", head)
    body = b""
    while len(body) < int(length):
        c = s.recv(int(length) - len(body))
        if not c:
            raise EOFError("body cut short")
        body += c
    return word == "OK", body.decode()


def ctl(path, line):
    with ctl_connect(path) as s:
        s.sendall(line.encode() + b"\n")
        return read_reply(s)


def ctl_ok(path, line):
    ok, body = ctl(path, line)
    check(ok, "%r answers OK" % line, body)
    return body


def ctl_err(path, line, needle):
    ok, body = ctl(path, line)
    check(not ok, "%r answers ERR" % line, body)
    check(needle in body, "%r: error says %r" % (line, needle), body)
    return body


def run_ctl(tool, args, stdin=None, user=None):
    argv = [tool] + args
    if user:
        argv = ["setpriv", "--reuid", user, "--regid", "nogroup",
                "--clear-groups"] + argv
    p = subprocess.run(argv, input=stdin, capture_output=True, timeout=10)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def mc_stats(srv, group=""):
    return srv.stats(group)


def wait_until(fn, what, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if fn():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


# ---- cases ----

def commands(srv, tool):
    sock = srv.sock
    body = ctl_ok(sock, "help")
    for word in ("stats", "config get", "config set", "flush", "workers",
                 "ports", "memory", "reload", "shutdown"):
        check(word in body, "help lists " + word, body)
    helps = json.loads(ctl_ok(sock, "help json"))["commands"]
    check(len(helps) >= 10, "help json lists the commands", helps)

    with srv.connect() as c:
        expect(cctest.request(c, b"set a 0 0 1\r\nx\r\n"), b"STORED\r\n",
               "set")
        expect(cctest.request(c, b"get a\r\n", b"END\r\n"),
               b"VALUE a 0 1\r\nx\r\nEND\r\n", "get")
        # stats: the same figures as memcached's stats on the same daemon.
        mine = dict(line.split(None, 1) for line in
                    ctl_ok(sock, "stats").splitlines())
        theirs = mc_stats(srv)
        for key in ("pid", "cmd_set", "cmd_get", "get_hits",
                    "curr_items", "total_items", "limit_maxbytes",
                    "threads", "version"):
            expect(mine.get(key), theirs.get(key), "stats " + key)
        expect(mine["pid"], str(srv.pid), "pid")
        js = json.loads(ctl_ok(sock, "stats json"))
        expect(js["curr_items"], 1, "stats json: numbers are numbers")
        expect(js["version"], theirs["version"], "stats json: strings")
        expect(json.loads(ctl_ok(sock, "json stats"))["cmd_set"], 1,
               "json prefix")
        settings = ctl_ok(sock, "stats settings")
        check("maxconns" in settings, "stats settings", settings)
        ctl_err(sock, "stats bogus", "unknown group")

        # workers: one line per -t worker; the open client is counted.
        lines = ctl_ok(sock, "workers").splitlines()
        expect(len(lines), 1 + 2, "workers: a header and a line each")
        ws = json.loads(ctl_ok(sock, "workers json"))["workers"]
        expect([w["id"] for w in ws], [0, 1], "worker ids")
        for w in ws:
            check(w["cpu"] == -1 or w["node"] >= 0, "a pinned worker's "
                  "node", w)
        check(sum(w["requests"] for w in ws) >= 2, "requests", ws)
        # Clients that just left (stats above) may still be counted for
        # a moment; this one stays.
        wait_until(lambda: sum(w["connections"] for w in json.loads(
            ctl_ok(sock, "workers json"))["workers"]) == 1,
            "one connection counted")

    expect(ctl_ok(sock, "ports"), "no DPDK ports\n", "ports")
    expect(json.loads(ctl_ok(sock, "ports json")), {"ports": []},
           "ports json")
    mem = json.loads(ctl_ok(sock, "memory json"))
    expect(mem["limit_bytes"], 64 << 20, "memory limit")
    expect(mem["items"], 1, "memory: items")
    check(mem["used_bytes"] >= mem["item_bytes"] > 0, "memory use", mem)
    check("limit_bytes" in ctl_ok(sock, "memory"), "memory text")

    conf = ctl_ok(sock, "config get")
    check("port = %d\n" % srv.port in conf, "config get", conf)
    check("control-socket = %s\n" % sock in conf, "config get socket")
    expect(ctl_ok(sock, "config get threads"), "threads = 2\n",
           "config get name")
    expect(json.loads(ctl_ok(sock, "config get threads json")),
           {"threads": {"value": 2, "source": "flag", "live": False}},
           "config get json")
    expect(json.loads(ctl_ok(sock, "config get memory-limit json")),
           {"memory-limit": {"value": 64, "source": "default",
                             "live": True}}, "a default")
    ctl_err(sock, "config get bogus", "unknown option 'bogus'")
    expect(json.loads(ctl(sock, "json config get bogus")[1]),
           {"error": "unknown option 'bogus'"}, "errors in JSON")
    ctl_err(sock, "reload", "without --config")

    # flush now, and with a delay.
    ctl_ok(sock, "flush")
    with srv.connect() as c:
        expect(cctest.request(c, b"get a\r\n", b"END\r\n"), b"END\r\n",
               "flushed")
        expect(cctest.request(c, b"set b 0 0 1\r\ny\r\n"), b"STORED\r\n",
               "set")
    check("in 100 s" in ctl_ok(sock, "flush 100"), "delayed flush")
    with srv.connect() as c:
        expect(cctest.request(c, b"get b\r\n", b"END\r\n"),
               b"VALUE b 0 1\r\ny\r\nEND\r\n", "not yet flushed")
    ctl_err(sock, "flush soon", "not a delay")


def bad_requests(srv, tool):
    sock = srv.sock
    ctl_err(sock, "bogus", "unknown command 'bogus'")
    ctl_err(sock, "", "empty request")
    ctl_err(sock, "config set", "usage: config set")
    ctl_err(sock, "shutdown now", "usage: shutdown")
    with ctl_connect(sock) as s:
        # Pipelined requests, garbage among them: answered in order, the
        # connection stays.
        s.sendall(b"ports\r\n\x00\xff\x01junk\nbogus words\nports\n")
        expect(read_reply(s), (True, "no DPDK ports\n"), "first")
        ok, body = read_reply(s)
        check(not ok and "control byte" in body, "binary junk", body)
        ok, body = read_reply(s)
        check(not ok and "unknown command" in body, "bogus", body)
        expect(read_reply(s), (True, "no DPDK ports\n"), "after junk")
    with ctl_connect(sock) as s:
        # A line over the bound: one ERR, then the connection is closed.
        try:
            s.sendall(b"x" * 5000 + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        ok, body = read_reply(s)
        check(not ok and "longer than 1024" in body, "huge line", body)
        s.settimeout(2)
        try:
            rest = s.recv(100)
        except ConnectionResetError:
            rest = b""
        expect(rest, b"", "closed after a huge line")
    expect(ctl_ok(sock, "ports"), "no DPDK ports\n", "still serving")
    check(srv.alive(), "daemon alive")


def idle_clients(srv, tool):
    sock = srv.sock
    idle = [ctl_connect(sock) for _ in range(4)]
    idle[0].sendall(b"stat")  # half a line, never finished
    t0 = time.monotonic()
    expect(ctl_ok(sock, "ports"), "no DPDK ports\n", "served beside idle")
    print("reply beside 4 idle clients in %.3f s" % (time.monotonic() - t0))
    # A round trip on a connection that stays: by its reply the daemon
    # has seen the one above close and freed its slot.
    idle[1].sendall(b"ports\n")
    expect(read_reply(idle[1]), (True, "no DPDK ports\n"), "idle[1]")
    # The client table is bounded: the 17th is told and closed.
    more = [ctl_connect(sock) for _ in range(16 - len(idle))]
    more[-1].sendall(b"ports\n")
    expect(read_reply(more[-1]), (True, "no DPDK ports\n"), "16th")
    with ctl_connect(sock) as s:
        ok, body = read_reply(s)
        check(not ok and "too many control clients" in body, "17th", body)
    for s in idle + more:
        s.close()
    wait_until(lambda: ctl(sock, "ports")[0], "a slot after they left")


def permissions(srv, tool):
    st = os.stat(srv.sock)
    check(stat.S_ISSOCK(st.st_mode), "a socket")
    expect(stat.S_IMODE(st.st_mode), 0o600, "mode 0600")
    expect(st.st_uid, os.geteuid(), "owned by corecached's user")
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("not root: the nobody cases are skipped")
        return
    rc, out, err = run_ctl(tool, ["--socket", srv.sock, "ports"],
                           user="nobody")
    expect(rc, 1, "nobody cannot connect through mode 0600: " + err)
    check("Permission denied" in err, "says why", err)
    # Loosen the file: SO_PEERCRED still refuses nobody.
    os.chmod(srv.sock, 0o666)
    rc, out, err = run_ctl(tool, ["--socket", srv.sock, "ports"],
                           user="nobody")
    expect(rc, 1, "nobody refused by SO_PEERCRED")
    check("permission denied" in err, "the daemon says why", err)
    os.chmod(srv.sock, 0o600)
    expect(ctl_ok(srv.sock, "ports"), "no DPDK ports\n", "root still can")


def socket_taken(srv, tool):
    """A control socket a daemon serves is not taken over; one that
    cannot be made stops the start (exit 1)."""
    for path, msg in ((srv.sock, "another corecached is serving it"),
                      (os.path.join(srv.dir, "no", "dir.sock"),
                       "No such file or directory")):
        p = subprocess.run(cctest.server_argv(srv.cmd) + [
            "-p", "0", "--control-socket", path],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        expect(p.returncode, 1, "exit status for %s" % path)
        check(msg in p.stderr.decode(), "says why", p.stderr)
    expect(ctl_ok(srv.sock, "ports"), "no DPDK ports\n", "still served")


def group_access(cmd, tool):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        print("not root: skipped")
        return
    srv = Daemon(cmd, ["-t", "1", "--control-group", "nogroup"])
    try:
        st = os.stat(srv.sock)
        expect(stat.S_IMODE(st.st_mode), 0o660, "mode 0660 with a group")
        expect(st.st_gid, 65534, "the group's")
        rc, out, err = run_ctl(tool, ["--socket", srv.sock, "ports"],
                               user="nobody")
        expect((rc, out), (0, "no DPDK ports\n"), "a member gets in " + err)
        expect(cctest.stop_clean(srv), 0, "clean exit")
    finally:
        srv.close()


def config_errors(cmd, tool):
    d = tempfile.mkdtemp(prefix="cc-conf-")
    try:
        path = os.path.join(d, "bad.conf")
        cases = [
            ("port = 0\n# fine\nbogus = 1\n", 3, "unknown option 'bogus'"),
            ("threads = 2\nthreads = 3\n", 2, "already set on line 1"),
            ("\nmemory-limit = lots\n", 2, "'lots' is not a number"),
            ("port = 70000\n", 1, "70000 is out of range (0 to 65535)"),
            ("conn-limit = 0\n", 1, "0 is out of range"),
            ("[corecached]\nport 11211\n", 2, "expected 'key = value'"),
            ("[memcached]\nport = 1\n", 2, "unknown section [memcached]"),
        ]
        for text, line, msg in cases:
            write(path, text)
            p = subprocess.run(cctest.server_argv(cmd) + ["--config", path],
                               stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=10)
            err = p.stderr.decode()
            expect(p.returncode, 2, "exit status for %r" % text)
            check("%s:%d: " % (path, line) in err and msg in err,
                  "message with file and line", err)
        p = subprocess.run(cctest.server_argv(cmd) + ["--config",
                                                      path + ".none"],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=10)
        expect(p.returncode, 2, "a missing file")
        check("cannot read" in p.stderr.decode(), "says so", p.stderr)
    finally:
        shutil.rmtree(d)


def reload(cmd, tool):
    base = "threads = 2\nverbose = 0\nconn-limit = 100\n"
    srv = Daemon(cmd, ["-m", "32"], conf=base + "memory-limit = 16\n")
    try:
        sock = srv.sock
        expect(ctl_ok(sock, "config get memory-limit"),
               "memory-limit = 32\n", "the flag wins over the file")
        expect(json.loads(ctl_ok(sock, "config get conn-limit json"))
               ["conn-limit"]["source"], "file", "source: file")
        write(srv.conf, "threads = 3\nverbose = 1\nconn-limit = 50\n"
              "memory-limit = 8\n")
        body = ctl_ok(sock, "reload")
        check("applied: conn-limit = 50 (was 100)" in body, "live", body)
        check("applied: verbose = 1 (was 0)" in body, "live", body)
        check("needs a restart (not applied): threads = 3" in body,
              "threads need a restart", body)
        check("memory-limit" not in body, "the flag still wins", body)
        expect(mc_stats(srv, "settings")["maxconns"], "50",
               "memcached sees the new limit")
        expect(mc_stats(srv, "settings")["verbosity"], "1", "verbosity")
        expect(ctl_ok(sock, "config get threads"), "threads = 2\n",
               "threads unchanged")

        # A bad file: refused, the running configuration kept.
        write(srv.conf, "conn-limit = 60\nthreads = many\n")
        body = ctl_err(sock, "reload", "%s:2: threads: 'many'" % srv.conf)
        check("running configuration kept" in body, "kept", body)
        expect(ctl_ok(sock, "config get conn-limit"), "conn-limit = 50\n",
               "kept after a bad reload")
        rj = json.loads(ctl(sock, "reload json")[1])
        check("error" in rj, "json error", rj)

        # SIGHUP re-reads it too; a runtime change outlives a reload.
        ctl_ok(sock, "config set verbosity 2")
        write(srv.conf, base.replace("100", "40"))
        srv.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: ctl_ok(sock, "config get conn-limit") ==
                   "conn-limit = 40\n", "SIGHUP reload")
        expect(ctl_ok(sock, "config get verbose"), "verbose = 2\n",
               "config set wins over the file")
        check("SIGHUP: reloaded" in srv.log(), "logged", srv.log())
        expect(cctest.stop_clean(srv), 0, "clean exit")
    finally:
        srv.close()


def live_settings(cmd, tool):
    srv = Daemon(cmd, ["-t", "2", "-c", "100"])
    try:
        sock = srv.sock
        body = ctl_ok(sock, "config set verbosity 2")
        expect(body, "verbose = 2 (was 0)\n", "verbosity set")
        expect(mc_stats(srv, "settings")["verbosity"], "2",
               "memcached's verbosity")
        ctl_ok(sock, "config set verbose 0")

        # The connection limit, lowered under open clients.
        clients = [srv.connect() for _ in range(4)]
        for c in clients:
            check(cctest.request(c, b"version\r\n").startswith(b"VERSION"),
                  "served")
        expect(ctl_ok(sock, "config set max-connections 4"),
               "conn-limit = 4 (was 100)\n", "lowered")
        with srv.connect() as c:
            c.sendall(b"version\r\n")
            expect(cctest.recv_until(c, b"\r\n"), TOO_MANY,
                   "a fifth client is refused")
        expect(cctest.request(clients[0], b"version\r\n")[:8], b"VERSION ",
               "the open ones stay")
        ctl_ok(sock, "config set conn-limit 6")
        with srv.connect() as c:
            check(cctest.request(c, b"version\r\n").startswith(b"VERSION"),
                  "served again once raised")
        for c in clients:
            c.close()

        # The zero-copy threshold: values of 2 KiB start going by
        # reference once it is at 1 KiB.
        with srv.connect() as c:
            value = b"v" * 2048
            cctest.request(c, b"set big 0 0 2048\r\n" + value + b"\r\n")
            before = int(mc_stats(srv)["zero_copy_values"])
            cctest.request(c, b"get big\r\n", b"END\r\n")
            expect(int(mc_stats(srv)["zero_copy_values"]), before,
                   "copied under the default 16k")
            expect(ctl_ok(sock, "config set zero-copy-min 1k"),
                   "zero-copy-min = 1024 (was 16384)\n", "set")
            got = cctest.request(c, b"get big\r\n", b"END\r\n")
            expect(got, b"VALUE big 0 2048\r\n" + value + b"\r\nEND\r\n",
                   "same reply")
            expect(int(mc_stats(srv)["zero_copy_values"]), before + 1,
                   "sent by reference")
        expect(mc_stats(srv, "settings")["zero_copy_min"], "1024",
               "stats settings")

        ctl_err(sock, "config set threads 4", "restart")
        ctl_err(sock, "config set memory-max 4", "restart")
        # Without --memory-max the reserve is the starting limit.
        ctl_err(sock, "config set memory-limit 70", "above what was "
                "reserved at start")
        ctl_err(sock, "config set port 1", "restart")
        ctl_err(sock, "config set conn-limit lots", "not a number")
        ctl_err(sock, "config set bogus 1", "unknown option")
        expect(ctl_ok(sock, "config get conn-limit"), "conn-limit = 6\n",
               "unchanged by refusals")
        expect(cctest.stop_clean(srv), 0, "clean exit")
    finally:
        srv.close()


def memory_limit(cmd, tool):
    srv = Daemon(cmd, ["-t", "2", "-m", "64", "--memory-max", "96"])
    try:
        sock = srv.sock
        value = b"m" * 500000
        with srv.connect() as c:
            for i in range(80):
                expect(cctest.request(c, b"set k%d 0 0 %d\r\n%s\r\n"
                                      % (i, len(value), value)),
                       b"STORED\r\n", "fill")
        before = json.loads(ctl_ok(sock, "memory json"))
        check(before["used_bytes"] > 32 << 20, "filled", before)
        # Under load: two clients keep storing and reading back while the
        # limit goes down; every store must succeed, every value read
        # must be the one stored under its key.
        stop = threading.Event()
        faults = []
        ops = [0, 0]

        def writer(n):
            try:
                with srv.connect() as c:
                    i = 0
                    while not stop.is_set():
                        key = b"w%d-%d" % (n, i % 400)
                        val = key * (2000 + i % 3000)
                        r = cctest.request(c, b"set %s 0 0 %d\r\n%s\r\n"
                                           % (key, len(val), val))
                        if r != b"STORED\r\n":
                            faults.append(r)
                        got = cctest.request(c, b"get %s\r\n" % key,
                                             b"END\r\n")
                        if got != b"END\r\n" and got != (
                                b"VALUE %s 0 %d\r\n%s\r\nEND\r\n"
                                % (key, len(val), val)):
                            faults.append(got[:80])
                        i += 1
                        ops[n] = i
            except OSError as e:
                faults.append(repr(e))
        load = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
        for t in load:
            t.start()
        try:
            time.sleep(0.2)
            expect(ctl_ok(sock, "config set memory-limit 16"),
                   "memory-limit = 16 (was 64)\n", "lowered live")
            expect(mc_stats(srv)["limit_maxbytes"], str(16 << 20),
                   "memcached sees the new limit")

            def shrunk():
                m = json.loads(ctl_ok(sock, "memory json"))
                return m["used_bytes"] <= 16 << 20 and m["evictions"] > 0
            wait_until(shrunk, "eviction down to the new limit", 10.0)
            time.sleep(0.3)
        finally:
            stop.set()
            for t in load:
                t.join()
        expect(faults, [], "stores and reads under load while shrinking")
        check(min(ops) > 20, "both clients kept working", ops)
        with srv.connect() as c:
            expect(cctest.request(c, b"set after 0 0 1\r\nx\r\n"),
                   b"STORED\r\n", "stores go on")
        ctl_ok(sock, "config set memory-limit 96")
        expect(json.loads(ctl_ok(sock, "memory json"))["limit_bytes"],
               96 << 20, "raised up to memory-max")
        ctl_err(sock, "config set memory-limit 97", "above --memory-max")
        ctl_err(sock, "config set memory-limit 1", "more than half")
        expect(ctl_ok(sock, "config get memory-limit"),
               "memory-limit = 96\n", "unchanged by refusals")
        expect(cctest.stop_clean(srv), 0, "clean exit")
    finally:
        srv.close()


def example_config(cmd, tool):
    """deploy/corecached.conf sets every key: all of them parse, and the
    flags the test gives win over the file's."""
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "..", "..", "deploy", "corecached.conf")
    srv = Daemon(cmd, ["--config", example, "-t", "2"])
    try:
        got = json.loads(ctl_ok(srv.sock, "config get json"))
        keys = set()
        with open(example) as f:
            for line in f:
                if "=" in line and not line.startswith(("#", ";")):
                    keys.add(line.split("=")[0].strip())
        expect(keys, set(got), "the example sets every option")
        for key in ("port", "listen", "udp-port", "threads",
                    "control-socket"):
            expect(got[key]["source"], "flag", key)
        for key in ("memory-limit", "conn-limit", "verbose",
                    "control-group"):
            expect(got[key]["source"], "file", key)
        expect(got["zero-copy-min"]["value"], 16384, "16k")
        check("0 applied, 0 not" in ctl_ok(srv.sock, "reload"),
              "reloading it changes nothing")
        expect(cctest.stop_clean(srv), 0, "clean exit")
    finally:
        srv.close()


def corecachectl(srv, tool):
    sock = srv.sock
    rc, out, err = run_ctl(tool, ["--socket", sock, "ports"])
    expect((rc, out, err), (0, "no DPDK ports\n", ""), "one-shot")
    rc, out, err = run_ctl(tool, ["-s", sock, "--json", "config", "get",
                                  "port"])
    expect(rc, 0, "json one-shot")
    expect(json.loads(out)["port"]["value"], srv.port, "json output")
    rc, out, err = run_ctl(tool, ["-s", sock, "bogus"])
    expect(rc, 1, "ERR exits 1")
    check("unknown command" in err, "message on stderr", err)
    rc, out, err = run_ctl(tool, ["-s", sock, "config", "set", "threads",
                                  "3"])
    expect(rc, 1, "a refused change exits 1")
    rc, out, err = run_ctl(tool, ["--bogus"])
    expect(rc, 2, "usage error exits 2")
    rc, out, err = run_ctl(tool, ["--socket"])
    expect(rc, 2, "missing value exits 2")
    rc, out, err = run_ctl(tool, ["--help"])
    expect(rc, 0, "help")
    check("config set" in out, "help lists commands", out)
    rc, out, err = run_ctl(tool, ["-s", os.path.join(srv.dir, "none"),
                                  "ports"])
    expect(rc, 1, "no daemon exits 1")
    check("cannot connect" in err, "says so", err)
    # Commands from standard input, one per line.
    rc, out, err = run_ctl(tool, ["-s", sock],
                           stdin=b"ports\n\nbogus\nconfig get threads\n")
    expect(rc, 1, "a failed command among them exits 1")
    expect(out, "no DPDK ports\nthreads = 2\n", "the replies in order")
    rc, out, err = run_ctl(tool, ["-s", sock], stdin=b"ports\nquit\nbogus\n")
    expect(rc, 0, "quit ends the session")
    # On a terminal: a prompt before each command.
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(tool, [tool, "-s", sock])
    os.write(fd, b"ports\nexit\n")
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    expect(os.waitstatus_to_exitcode(status), 0, "interactive exit")
    check(seen.count(b"corecache> ") >= 2 and b"no DPDK ports" in seen,
          "prompt and reply on a terminal", seen)


def notify_and_shutdown(cmd, tool):
    d = tempfile.mkdtemp(prefix="cc-notify-")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        path = os.path.join(d, "notify")
        ns.bind(path)
        ns.settimeout(5)
        srv = Daemon(cmd, ["-t", "1"], env={"NOTIFY_SOCKET": path})
        try:
            expect(ns.recv(256), b"READY=1", "sd_notify READY")
            check(os.path.exists(srv.sock), "socket there")
            expect(ctl_ok(srv.sock, "shutdown"), "stopping\n", "shutdown")
            expect(ns.recv(256), b"STOPPING=1", "sd_notify STOPPING")
            expect(srv.proc.wait(5), 0, "exit status")
            check(not os.path.exists(srv.sock), "socket removed")
        finally:
            srv.close()
    finally:
        ns.close()
        shutil.rmtree(d)


def graceful(cmd, tool):
    srv = Daemon(cmd, ["-t", "2"])
    try:
        c = srv.connect()
        check(cctest.request(c, b"version\r\n").startswith(b"VERSION"), "in")
        body = ctl_ok(srv.sock, "shutdown graceful")
        check("refusing new connections" in body, "graceful", body)
        ctl_err(srv.sock, "shutdown", "shutting down")
        time.sleep(0.5)
        check(srv.alive(), "waits for the client")
        check(cctest.request(c, b"version\r\n").startswith(b"VERSION"),
              "the client is still served")
        with srv.connect() as n:
            n.sendall(b"version\r\n")
            expect(cctest.recv_until(n, b"\r\n"), TOO_MANY, "no new client")
        c.close()
        expect(srv.proc.wait(5), 0, "exits once the client left")
    finally:
        srv.close()


def main():
    def extra(p):
        p.add_argument("--ctl", required=True, help="corecachectl")
    args = cctest.parse_args(extra, description=__doc__)
    cmd, tool = args.server, args.ctl
    checks = cctest.Checks()
    srv = Daemon(cmd, ["-t", "2"])
    checks.server = srv
    try:
        checks.run("commands", commands, srv, tool)
        checks.run("bad-requests", bad_requests, srv, tool)
        checks.run("idle-clients", idle_clients, srv, tool)
        checks.run("permissions", permissions, srv, tool)
        checks.run("socket-taken", socket_taken, srv, tool)
        checks.run("corecachectl", corecachectl, srv, tool)
        checks.run("stop", lambda: expect(cctest.stop_clean(srv), 0,
                                          "clean exit"))
    finally:
        srv.close()
    checks.server = None
    checks.run("group-access", group_access, cmd, tool)
    checks.run("config-errors", config_errors, cmd, tool)
    checks.run("example-config", example_config, cmd, tool)
    checks.run("reload", reload, cmd, tool)
    checks.run("live-settings", live_settings, cmd, tool)
    checks.run("memory-limit", memory_limit, cmd, tool)
    checks.run("notify-shutdown", notify_and_shutdown, cmd, tool)
    checks.run("graceful-shutdown", graceful, cmd, tool)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
