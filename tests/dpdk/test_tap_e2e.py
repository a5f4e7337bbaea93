#!/usr/bin/env python3
"""End-to-end test of corecached's DPDK path over net_tap, in network
namespaces this test creates (and removes).

    [ns ccc-N: clients, 10.99.0.2 and .3]  <- wire TAP ->  [DPDK port
    10.99.0.1 in corecached, ns ccs-N]  -> exception TAP cc-exc (10.99.0.1,
    kernel of ccs-N: the io_uring TCP server)

corecached runs in ccs-N with its DPDK port on a net_tap device whose
kernel side is moved into ccc-N, so the client's packets reach the DPDK
workers as if from a wire. Checked: ICMP echo and ARP (the kernel client
resolves and pings 10.99.0.1), a Python memcached UDP client (set, get,
multi-datagram replies, multiget, delete, meta, byte for byte), memcaslap -U
with every value verified, the amplification guard (a source outside
--udp-allow gets small replies only), a TCP client served by the io_uring
server through the exception path, sharing the cache with UDP (and its
stats counting the DPDK workers), the control plane's view of the DPDK
path (corecachectl ports in text and JSON, counters that moved with the
traffic; the /metrics DPDK series and xstats, checked by promtool when
installed; live config set udp-amplification and udp-allow changing what
the guard drops; corecache's DPDK telemetry commands read over the EAL's
telemetry socket), and shutdown over UDP.

Skips (77) when not root, without /dev/net/tun or ip(8), or where network
namespaces cannot be created.
Usage: test_tap_e2e.py PATH/TO/corecached PATH/TO/corecachectl
"""
import ctypes
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request

SKIP = 77
PORT = 11411
SERVER = '10.99.0.1'
CLIENT, STRANGER = '10.99.0.2', '10.99.0.3'
TAG = str(os.getpid() % 100000)
NS_SRV, NS_CLI = 'ccs-' + TAG, 'ccc-' + TAG
WIRE, EXC = 'ccw' + TAG, 'cce' + TAG
CTL_SOCK = '/tmp/cc-tap-%s.sock' % TAG
METRICS = '127.0.0.1:9180'   # in the server's namespace: its own loopback
EAL_PREFIX = 'cc-tap-' + TAG  # the EAL's runtime directory (telemetry)
failures = []


def check(cond, what, detail=''):
    print('%s: %s %s' % ('ok' if cond else 'FAIL', what,
                         detail if not cond else ''), flush=True)
    if not cond:
        failures.append(what)


def sh(*argv, ns=None, check_rc=True, **kw):
    if ns:
        argv = ('ip', 'netns', 'exec', ns) + argv
    return subprocess.run(argv, check=check_rc, capture_output=True,
                          text=True, **kw)


CLONE_NEWNET = 0x40000000


def setns(fd):
    """Moves this (single-threaded) process into the network namespace of
    fd, for the sockets it opens next."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), 'setns')


def in_ns(name):
    fd = os.open('/run/netns/' + name, os.O_RDONLY)
    setns(fd)
    os.close(fd)


def in_client_ns():
    in_ns(NS_CLI)


CTL = None  # corecachectl's path


def ctl(*args):
    """Runs corecachectl on the daemon's socket (a path: any namespace
    reaches it); returns (exit status, output)."""
    r = sh(CTL, '--socket', CTL_SOCK, *args, check_rc=False, timeout=20)
    return r.returncode, r.stdout + r.stderr


def ports_json():
    rc, out = ctl('--json', 'ports')
    return json.loads(out)['ports'] if rc == 0 else []


def guard_drops():
    p = ports_json()
    return p[0]['counters']['drop_amplification'] if p else -1


def stranger_gets_big(src=STRANGER):
    """Whether src (by default a source outside the allow-list) gets the
    5 kB reply to a 17-byte request."""
    s = Udp(src)
    s.s.settimeout(1)
    try:
        return s.ask(b'get big\r\n') == \
            [b'VALUE big 0 5200\r\n' + bytes(range(97, 123)) * 200 +
             b'\r\nEND\r\n']
    except socket.timeout:
        return False
    finally:
        s.s.close()


def ports_checks():
    rc, text = ctl('ports')
    # The link: net_tap reads its interface's flags in corecached's
    # namespace, and the wire end lives in the client's: up or down,
    # either is what the PMD says.
    check(rc == 0 and ('port 0: net_tap0 %s/24, link ' % SERVER) in text
          and ('1 queue, exception %s' % EXC) in text,
          'corecachectl ports: the port', text)
    rows = {}
    for line in text.splitlines():
        if line.startswith('  '):
            head, _, rest = line.strip().partition(' rx=')
            rows[head.strip()] = dict(
                f.split('=') for f in ('rx=' + rest).split())
    check('total' in rows and 'queue 0' in rows and
          int(rows['total'].get('udp_requests', 0)) > 0,
          'corecachectl ports: total and per-queue counters', text)
    before = ports_json()
    check(len(before) == 1 and before[0]['queues'] == 1 and
          before[0]['name'] == 'net_tap0' and before[0]['exception'] == EXC
          and isinstance(before[0]['link']['up'], bool) and
          before[0]['address'] == SERVER and
          before[0]['prefix'] == 24 and len(before[0]['per_queue']) == 1,
          'corecachectl --json ports: the port', before)
    if not before:
        return
    u = Udp(CLIENT)
    for _ in range(10):
        u.ask(b'get mk\r\n')
    after = ports_json()[0]
    k0, k1 = before[0]['counters'], after['counters']
    check(k1['udp_requests'] - k0['udp_requests'] >= 10 and
          k1['udp_replies'] - k0['udp_replies'] >= 10 and
          k1['rx'] - k0['rx'] >= 10 and k1['tx'] - k0['tx'] >= 10,
          'corecachectl --json ports: counters moved with 10 gets',
          (k0, k1))
    check(after['per_queue'][0]['udp_requests'] == k1['udp_requests'],
          'one queue: its counters are the port\'s', after)


def metrics_checks():
    """/metrics in the server's namespace, where it listens."""
    main_ns = os.open('/proc/self/ns/net', os.O_RDONLY)
    in_ns(NS_SRV)
    try:
        page = urllib.request.urlopen('http://%s/metrics' % METRICS,
                                      timeout=5).read().decode()
    finally:
        setns(main_ns)
        os.close(main_ns)
    val = {}
    for line in page.splitlines():
        if line.startswith('corecache_dpdk_'):
            name, _, v = line.rpartition(' ')
            val[name] = float(v)
    check(val.get('corecache_dpdk_udp_requests_total{port="0",queue="0"}',
                  0) > 10, '/metrics: per-queue DPDK udp_requests')
    check('corecache_dpdk_drop_amplification_total{port="0",queue="0"}'
          in val, '/metrics: every DPDK counter (drop_amplification)')
    xs = [k for k in val if k.startswith('corecache_dpdk_port_xstat{')]
    check(val.get('corecache_dpdk_port_xstat{port="0",'
                  'name="rx_good_packets"}', 0) > 10,
          '/metrics: the port\'s xstats (rx_good_packets)', xs[:5])
    if not shutil.which('promtool'):
        print('promtool not installed: exposition not checked')
        return
    r = subprocess.run(['promtool', 'check', 'metrics'], input=page,
                       capture_output=True, text=True)
    check(r.returncode == 0 and not r.stdout.strip() and
          not r.stderr.strip(), 'promtool check metrics: clean',
          r.stdout + r.stderr)


def telemetry(sock, cmd):
    sock.send(cmd.encode())
    return json.loads(sock.recv(1 << 16).decode())


def telemetry_checks():
    """corecache's commands over the EAL's telemetry socket (what
    dpdk-telemetry.py speaks: SOCK_SEQPACKET, a JSON reply per command)."""
    path = '/var/run/dpdk/%s/dpdk_telemetry.v2' % EAL_PREFIX
    if not os.path.exists(path):
        print('SKIP telemetry checks: no socket at %s (EAL built without '
              'telemetry?)' % path)
        return
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    try:
        s.connect(path)
        hello = json.loads(s.recv(1 << 16).decode())
        check('max_output_len' in hello, 'telemetry: the EAL says hello',
              hello)
        cmds = telemetry(s, '/').get('/', [])
        check({'/corecache/ports', '/corecache/port_info',
               '/corecache/stats'} <= set(cmds),
              'telemetry: corecache\'s commands are registered', cmds)
        check(telemetry(s, '/corecache/ports') ==
              {'/corecache/ports': [0]}, 'telemetry: /corecache/ports')
        info = telemetry(s, '/corecache/port_info,0').get(
            '/corecache/port_info') or {}
        check(info.get('name') == 'net_tap0' and
              info.get('address') == SERVER and info.get('queues') == 1,
              'telemetry: /corecache/port_info,0', info)
        before = telemetry(s, '/corecache/stats').get(
            '/corecache/stats') or {}
        mine = ports_json()[0]['counters']
        check(before.get('udp_requests', 0) > 0 and
              before.get('udp_requests') <= mine['udp_requests'],
              'telemetry: /corecache/stats as corecachectl counts',
              (before, mine))
        u = Udp(CLIENT)
        for _ in range(5):
            u.ask(b'get mk\r\n')
        after = telemetry(s, '/corecache/stats,0,0').get(
            '/corecache/stats') or {}
        check(after.get('udp_requests', 0) >=
              before.get('udp_requests', 0) + 5,
              'telemetry: /corecache/stats,0,0 moved with 5 gets',
              (before, after))
        bad = telemetry(s, '/corecache/stats,7')
        check(bad.get('/corecache/stats') is None,
              'telemetry: a port that does not exist is refused', bad)
    finally:
        s.close()


def live_guard_checks():
    """config set udp-amplification and udp-allow while the DPDK worker
    serves: what the guard drops changes at once."""
    d0 = guard_drops()
    check(not stranger_gets_big() and guard_drops() == d0 + 1,
          'guard: 10x drops the stranger\'s 300x reply')
    rc, out = ctl('config', 'set', 'udp-amplification', '400')
    check(rc == 0 and 'udp-amplification = 400 (was 10)' in out,
          'config set udp-amplification 400', out)
    check(stranger_gets_big() and guard_drops() == d0 + 1,
          'guard at 400x lets the 300x reply through')
    rc, out = ctl('config', 'set', 'udp-amplification', '10')
    check(rc == 0 and not stranger_gets_big() and
          guard_drops() == d0 + 2, 'guard back at 10x drops it again', out)
    rc, out = ctl('config', 'set', 'udp-allow', STRANGER + '/32')
    check(rc == 0 and stranger_gets_big() and guard_drops() == d0 + 2,
          'config set udp-allow: the stranger is exempt', out)
    rc, out = ctl('config', 'set', 'udp-allow', '10.99.0.300/32')
    check(rc != 0 and 'not an IPv4 network' in out and
          stranger_gets_big(), 'config set udp-allow: a bad network is '
          'refused, the running list kept', out)
    rc, out = ctl('config', 'set', 'udp-allow', 'none')
    check(rc == 0 and not stranger_gets_big() and
          not stranger_gets_big(CLIENT) and guard_drops() == d0 + 4,
          'config set udp-allow none: nobody exempt', out)
    rc, out = ctl('config', 'set', 'udp-allow',
                  '10.99.0.128/25,%s/32' % CLIENT)
    check(rc == 0 and not stranger_gets_big() and
          stranger_gets_big(CLIENT) and guard_drops() == d0 + 5,
          'config set udp-allow: two networks, the client in the second',
          out)
    rc, out = ctl('config', 'set', 'udp-allow', CLIENT + '/32')
    check(rc == 0 and not stranger_gets_big() and
          guard_drops() == d0 + 6, 'config set udp-allow: back to the '
          'client only', out)
    rc, out = ctl('--json', 'config', 'get', 'udp-allow')
    got = json.loads(out).get('udp-allow', {}) if rc == 0 else {}
    check(got.get('value') == CLIENT + '/32' and got.get('live') is True
          and got.get('source') == 'runtime',
          'config get udp-allow: live, set at run time', out)


class Udp:
    def __init__(self, src):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((src, 0))
        self.s.settimeout(2)
        self.rid = 0

    def ask(self, text, messages=1):
        """Sends one request datagram; returns the reply messages, each
        reassembled from its datagrams (memcached frames every response
        object on its own)."""
        self.rid += 1
        self.s.sendto(struct.pack('!HHHH', self.rid, 0, 1, 0) + text,
                      (SERVER, PORT))
        got, out = {}, []
        while len(out) < messages:
            d = self.s.recv(2048)
            rid, seq, total, _ = struct.unpack('!HHHH', d[:8])
            if rid != self.rid:
                continue
            got[seq] = d[8:]
            if len(got) == total:
                out.append(b''.join(got[i] for i in range(total)))
                got = {}
        return out


def icmp_ping():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(2)
    body = struct.pack('!BBHHH', 8, 0, 0, 0x4242, 1) + b'tap-e2e'
    padded = body + b'\0' * (len(body) % 2)
    c = sum(struct.unpack('!%dH' % (len(padded) // 2), padded))
    c = (c & 0xffff) + (c >> 16)
    c = ~((c & 0xffff) + (c >> 16)) & 0xffff
    s.sendto(body[:2] + struct.pack('!H', c) + body[4:], (SERVER, 0))
    while True:
        d, _ = s.recvfrom(2048)
        icmp = d[(d[0] & 0xf) * 4:]
        if icmp[0] == 0 and icmp[4:6] == b'\x42\x42':
            return icmp[8:]


def udp_checks():
    u = Udp(CLIENT)
    check(u.ask(b'set k1 3 0 5\r\nhello\r\n') == [b'STORED\r\n'], 'udp set')
    check(u.ask(b'get k1\r\n') == [b'VALUE k1 3 5\r\nhello\r\nEND\r\n'],
          'udp get (batched path)')
    check(u.ask(b'get k1 nokey\r\n', 2) ==
          [b'VALUE k1 3 5\r\nhello\r\n', b'END\r\n'], 'udp multiget')
    big = bytes(range(97, 123)) * 40  # 1040 bytes
    check(u.ask(b'set big 0 0 1040\r\n' + big + b'\r\n') == [b'STORED\r\n'],
          'udp set 1040 bytes')
    for _ in range(4):
        u.ask(b'append big 0 0 1040\r\n' + big + b'\r\n')
    want = b'VALUE big 0 5200\r\n' + big * 5 + b'\r\nEND\r\n'
    check(u.ask(b'get big\r\n') == [want], 'udp multi-datagram get')
    check(u.ask(b'ms mk 2 T0\r\nhi\r\nmg mk v\r\n', 2) ==
          [b'HD\r\n', b'VA 2\r\nhi\r\n'], 'udp meta')
    check(u.ask(b'delete k1\r\n') == [b'DELETED\r\n'], 'udp delete')
    check(u.ask(b'get k1\r\n') == [b'END\r\n'], 'udp get after delete')
    # The amplification guard: from outside --udp-allow, 17 bytes asking
    # for 5 kB get nothing back; a small reply still comes.
    s = Udp(STRANGER)
    try:
        s.s.settimeout(1)
        s.ask(b'get big\r\n')
        check(False, 'amplification guard drops a 300x reply')
    except socket.timeout:
        check(True, 'amplification guard drops a 300x reply')
    s.s.settimeout(2)
    check(s.ask(b'get mk\r\n') == [b'VALUE mk 0 2\r\nhi\r\nEND\r\n'],
          'small reply to a source outside the allow-list')


def tcp_checks():
    c = socket.create_connection((SERVER, PORT), timeout=3)
    c.sendall(b'get big\r\n')
    buf = b''
    while not buf.endswith(b'END\r\n'):
        d = c.recv(65536)
        if not d:
            break
        buf += d
    check(buf.startswith(b'VALUE big 0 5200\r\n') and len(buf) == 5200 + 25,
          'tcp get through the exception path sees the UDP write')
    # stats (over TCP, io_uring) counts the gets the DPDK worker served:
    # 8 over UDP before this one.
    c.sendall(b'stats\r\n')
    buf = b''
    while not buf.endswith(b'END\r\n'):
        buf += c.recv(65536)
    st = dict(line.split()[1:3] for line in buf.decode().splitlines()
              if line.startswith('STAT '))
    check(int(st.get('cmd_get', 0)) >= 9,
          'stats counts the DPDK workers\' gets', st.get('cmd_get'))
    c.sendall(b'set fromtcp 0 0 3\r\nabc\r\n')
    check(c.recv(100) == b'STORED\r\n', 'tcp set')
    c.close()
    check(Udp(CLIENT).ask(b'get fromtcp\r\n') ==
          [b'VALUE fromtcp 0 3\r\nabc\r\nEND\r\n'], 'udp get of a tcp write')


def memcaslap():
    if not shutil.which('memcaslap'):
        print('memcaslap not installed: not run')
        return
    # memcaslap itself aborted once in many runs (SIGABRT at start, the
    # server unharmed): one retry when it dies of a signal; the server's
    # health is checked by everything after it.
    for attempt in (1, 2):
        res = sh('memcaslap', '-s', '%s:%d' % (SERVER, PORT), '-T', '2',
                 '-c', '16', '-t', '3s', '-v', '1', '-U', timeout=60,
                 check_rc=False)
        out = res.stdout
        if res.returncode == 0:
            break
        print('memcaslap (attempt %d) exited %d:\n%s\n%s' %
              (attempt, res.returncode, out[-2000:], res.stderr[-2000:]))
        if res.returncode > 0:
            break
    fig = {}
    for line in out.splitlines():
        k, _, v = line.partition(': ')
        if v.strip().isdigit():
            fig[k.strip()] = int(v)
    print('memcaslap -U:', {k: fig.get(k) for k in (
        'cmd_get', 'cmd_set', 'verify_failed', 'packet_drop',
        'udp_timeout')})
    ops = fig.get('cmd_get', 0) + fig.get('cmd_set', 0)
    check(ops > 5000, 'memcaslap -U did work', ops)
    check(fig.get('verify_failed') == 0, 'memcaslap -U: no wrong value', fig)
    check(fig.get('packet_drop', 1) == 0, 'memcaslap -U: no packet lost', fig)
    check(fig.get('udp_timeout', 0) <= ops // 100,
          'memcaslap -U: timeouts under 1%', fig)


def wait_for(what, fn, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if fn():
                return True
        except (OSError, subprocess.CalledProcessError):
            pass
        time.sleep(0.2)
    check(False, what)
    return False


def main():
    global CTL
    server = os.path.abspath(sys.argv[1])
    CTL = os.path.abspath(sys.argv[2])
    if os.geteuid() != 0 or not os.path.exists('/dev/net/tun') or \
            not shutil.which('ip'):
        print('SKIP: needs root, /dev/net/tun and ip(8)')
        return SKIP
    for ns in (NS_SRV, NS_CLI):
        if sh('ip', 'netns', 'add', ns, check_rc=False).returncode:
            sh('ip', 'netns', 'del', NS_SRV, check_rc=False)
            print('SKIP: cannot create network namespaces here')
            return SKIP
        sh('ip', 'link', 'set', 'lo', 'up', ns=ns)
    log = open('/tmp/corecached-tap-%s.log' % TAG, 'w+')
    proc = None
    try:
        # No -l: numa/'s plan places the worker and the main lcore.
        eal = '--no-huge -m 512 --no-pci --no-shconf --log-level=warning ' \
            '--file-prefix ' + EAL_PREFIX
        proc = subprocess.Popen(
            ['ip', 'netns', 'exec', NS_SRV, server, '-p', str(PORT), '-U',
             str(PORT), '-l', SERVER, '-t', '1', '-v', '-A', '--dpdk', eal,
             '--dpdk-port', 'net_tap0,iface=%s,%s/24,exception=%s' %
             (WIRE, SERVER, EXC), '--udp-allow', CLIENT + '/32',
             '--control-socket', CTL_SOCK, '--metrics-listen', METRICS],
            stdout=log, stderr=log)
        if not wait_for('corecached created the wire TAP',
                        lambda: sh('ip', 'link', 'show', WIRE, ns=NS_SRV,
                                   check_rc=False).returncode == 0 and
                        sh('ip', 'addr', 'show', EXC, ns=NS_SRV).stdout
                        .find(SERVER) >= 0):
            return 1
        sh('ip', 'link', 'set', WIRE, 'netns', NS_CLI, ns=NS_SRV)
        sh('ip', 'addr', 'add', CLIENT + '/24', 'dev', WIRE, ns=NS_CLI)
        sh('ip', 'addr', 'add', STRANGER + '/24', 'dev', WIRE, ns=NS_CLI)
        sh('ip', 'link', 'set', WIRE, 'up', ns=NS_CLI)
        main_ns = os.open('/proc/self/ns/net', os.O_RDONLY)
        in_client_ns()
        try:
            wait_for('UDP answers', lambda: Udp(CLIENT).ask(b'mn\r\n') ==
                     [b'MN\r\n'])
            check(icmp_ping() == b'tap-e2e', 'ICMP echo answered by DPDK')
            neigh = sh('ip', 'neigh', 'show', SERVER).stdout
            check('lladdr' in neigh, 'ARP resolved the DPDK port', neigh)
            udp_checks()
            tcp_checks()
            ports_checks()
            metrics_checks()
            live_guard_checks()
            telemetry_checks()
            memcaslap()
            # -A: shutdown over UDP to a DPDK worker stops corecached
            # (memcached sends no reply to it).
            u = Udp(CLIENT)
            u.s.sendto(struct.pack('!HHHH', 9, 0, 1, 0) + b'shutdown\r\n',
                       (SERVER, PORT))
        finally:
            setns(main_ns)
            os.close(main_ns)
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            rc = proc.wait(timeout=10)
            check(False, 'shutdown over DPDK UDP stops corecached')
        check(rc == 0, 'corecached stopped cleanly', rc)
        proc = None
        log.seek(0)
        text = log.read()
        check('worker 0: cpu' in text,
              'the placement plan was printed at start-up')
        # -v prints the port's counters at exit.
        k = {}
        for line in text.splitlines():
            if line.startswith('dpdk port 0:'):
                k = dict(f.split('=') for f in line.split()[3:])
        check(int(k.get('exceptions', 0)) > 0 and
              int(k.get('exception_tx', 0)) > 0,
              'TCP went through the exception path both ways', k)
        check(k.get('drop_amplification') == '7',
              'seven replies dropped by the amplification guard', k)
        check(int(k.get('arp', 0)) >= 1 and int(k.get('icmp', 0)) == 1,
              'ARP and ICMP answered by the DPDK worker', k)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        for ns in (NS_SRV, NS_CLI):
            sh('ip', 'netns', 'del', ns, check_rc=False)
        log.seek(0)
        text = log.read()
        log.close()
        os.unlink(log.name)
        if failures:
            print('--- corecached log ---\n' + text)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
