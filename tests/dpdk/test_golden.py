#!/usr/bin/env python3
"""Golden test of the DPDK path over net_pcap.

Builds a pcap of requests (ARP, ICMP echo, memcached UDP text and meta
commands, a multi-datagram reply, an amplification case and malformed
frames), runs the dataplane over it with tests/dpdk/dpdk_pcap_run, and
checks every reply: memcached payloads byte for byte (reassembled from
their datagrams), Ethernet/IP/UDP/ICMP/ARP headers field by field,
checksums included, and the drop counters. It runs four times: batched
gets with values copied, batched gets with large values sent zero-copy,
every request through the protocol layer, and with a second queue pair
served by a second worker (its own counters read per queue); the replies
must be the same.

Usage: test_golden.py PATH/TO/dpdk_pcap_run
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pcaplib as P  # noqa: E402

SERVER = '10.0.0.1'
CLIENT = '10.0.0.2'
STRANGER = '10.0.0.3'   # not allow-listed: the amplification guard applies
ANY_MAC = bytes.fromhex('02ffffffff01')
MC = 11211
BIG = 3900


def request(rid, text, src=CLIENT, sport=40000, **kw):
    return P.udp_frame(ANY_MAC, src, SERVER, sport, MC,
                       P.frame_header(rid) + text, **kw)


def build():
    """The input frames, and what must come back for each request id:
    (source address, id) -> bytes or a compiled regex of the payload."""
    frames, expect = [], {}

    def req(rid, text, reply, src=CLIENT, **kw):
        frames.append(request(rid, text, src=src, **kw))
        if reply is not None:
            expect[(src, rid)] = reply

    frames.append(P.arp_request(CLIENT, SERVER))
    frames.append(P.arp_request(CLIENT, '10.0.0.9'))  # not ours: kernel
    frames.append(P.icmp_echo(ANY_MAC, CLIENT, SERVER, 0x1234, 7,
                              b'corecache-ping' * 4))
    req(1, b'set foo 5 0 3\r\nbar\r\n', b'STORED\r\n')
    req(2, b'get foo\r\n', b'VALUE foo 5 3\r\nbar\r\nEND\r\n')
    req(3, b'get nope\r\n', b'END\r\n')
    req(4, b'gets foo\r\n',
        re.compile(rb'VALUE foo 5 3 [1-9][0-9]*\r\nbar\r\nEND\r\n$'))
    # Two response objects, each its own message (memcached's framing).
    req(5, b'get foo nope\r\n', [b'VALUE foo 5 3\r\nbar\r\n', b'END\r\n'])
    req(6, b'delete foo\r\n', b'DELETED\r\n')
    req(7, b'delete foo\r\n', b'NOT_FOUND\r\n')
    req(8, b'ms mk 2 T0 F9\r\nhi\r\n', b'HD\r\n')
    req(9, b'mg mk v f\r\n', b'VA 2 f9\r\nhi\r\n')
    req(10, b'md mk q\r\nmn\r\n', b'MN\r\n')
    req(11, b'mg mk v\r\n', b'EN\r\n')
    req(12, b'bogus\r\n', b'ERROR\r\n')
    part = bytes(range(65, 91)) * 50  # 1300 bytes
    req(13, b'set big 7 0 1300\r\n' + part + b'\r\n', b'STORED\r\n')
    req(14, b'append big 0 0 1300\r\n' + part + b'\r\n', b'STORED\r\n')
    req(15, b'append big 0 0 1300\r\n' + part + b'\r\n', b'STORED\r\n')
    req(16, b'get big\r\n', b'VALUE big 7 %d\r\n' % BIG + part * 3 +
        b'\r\nEND\r\n')
    # A VALUE line of odd length before a value sent by reference: the
    # chained datagram's checksum crosses an odd segment boundary.
    odd = bytes(range(48, 58)) * 110
    req(31, b'set odd1 0 0 1100\r\n' + odd + b'\r\n', b'STORED\r\n')
    req(32, b'get odd1\r\n', b'VALUE odd1 0 1100\r\n' + odd +
        b'\r\nEND\r\n')
    req(17, b'incr n 1\r\n', b'NOT_FOUND\r\n')
    req(18, b'set n 0 0 2 noreply\r\n41\r\nincr n 1\r\n', b'42\r\n')
    # Amplification: 17 request bytes, a 3.9 kB reply: refused for a
    # source that is not allow-listed; a small reply still goes.
    req(19, b'get big\r\n', None, src=STRANGER)
    req(20, b'get nope\r\n', b'END\r\n', src=STRANGER)
    # Refused frames: a multi-datagram request, a payload of 8 bytes.
    frames.append(P.udp_frame(ANY_MAC, CLIENT, SERVER, 40000, MC,
                              P.frame_header(21, 0, 2) + b'get foo\r\n'))
    frames.append(P.udp_frame(ANY_MAC, CLIENT, SERVER, 40000, MC,
                              P.frame_header(22)))
    # Malformed frames.
    good = request(23, b'get big\r\n')
    frames.append(P.Unpadded(good[:20]))                      # IP header cut short
    frames.append(request(24, b'get big\r\n', total=400))  # IP length lies
    frames.append(request(25, b'get big\r\n', frag=0x2000))  # MF fragment
    frames.append(request(26, b'get big\r\n', ihl=6))        # IP options
    frames.append(request(27, b'get big\r\n', length=200))   # UDP length
    frames.append(request(28, b'get big\r\n', length=4))     # UDP length
    frames.append(request(29, b'get big\r\n', bad_csum=True))
    # Not for the cache: TCP, another UDP port, IPv6 (no exception port).
    frames.append(P.eth(ANY_MAC, P.CLIENT_MAC, 0x0800,
                        P.ipv4(CLIENT, SERVER, 6, b'\0' * 20)))
    frames.append(P.udp_frame(ANY_MAC, CLIENT, SERVER, 40000, 53, b'dns?'))
    frames.append(P.eth(ANY_MAC, P.CLIENT_MAC, 0x86dd, b'\x60' + b'\0' * 39))
    # The worker is still serving after all that.
    req(30, b'get n\r\n', b'VALUE n 0 2\r\n42\r\nEND\r\n')
    return frames, expect


EXPECTED_COUNTERS = {
    'arp': 1, 'icmp': 1, 'drop_malformed': 2, 'drop_fragment': 1,
    'drop_ip_options': 1, 'drop_bad_udp': 3, 'drop_bad_frame': 2,
    'drop_amplification': 1, 'drop_no_exception': 4,
    'drop_no_mbuf': 0, 'drop_tx_full': 0, 'zero_copy_in_flight': 0,
}


# The second queue's input in the two-queue run: stateless requests, so
# the order in which the two workers take their bursts cannot matter.
def queue2_frames():
    return [P.arp_request(CLIENT, SERVER),
            P.icmp_echo(ANY_MAC, CLIENT, SERVER, 0x1234, 7,
                        b'corecache-ping' * 4),
            request(100, b'get nokey\r\n')]


QUEUE2_COUNTERS = {'q1_arp': 1, 'q1_icmp': 1, 'q1_udp_requests': 1,
                   'q1_udp_replies': 1, 'q1_drop_malformed': 0}


def run(driver, frames, expect, extra, queue2=False):
    expected = dict(EXPECTED_COUNTERS)
    arp_icmp = ['arp', 'icmp']
    if queue2:
        expect = dict(expect)
        expect[(CLIENT, 100)] = b'END\r\n'
        expected.update(QUEUE2_COUNTERS)
        expected['arp'] += 1
        expected['icmp'] += 1
        arp_icmp = ['arp', 'arp', 'icmp', 'icmp']
    with tempfile.TemporaryDirectory() as tmp:
        rx, tx = os.path.join(tmp, 'rx.pcap'), os.path.join(tmp, 'tx.pcap')
        P.write_pcap(rx, frames)
        if queue2:
            rx2 = os.path.join(tmp, 'rx2.pcap')
            tx2 = os.path.join(tmp, 'tx2.pcap')
            P.write_pcap(rx2, queue2_frames())
            extra = extra + ['--queue2', rx2, tx2]
        out = subprocess.run([driver, rx, tx, '--allow', CLIENT + '/32']
                             + extra, capture_output=True, text=True,
                             timeout=60)
        if out.returncode != 0:
            return ['driver exited %d: %s' % (out.returncode, out.stderr)]
        counters = dict(line.split('=', 1) for line in
                        out.stdout.split())
        replies = [P.Reply(f) for f in P.read_pcap(tx)]
        if queue2:
            replies += [P.Reply(f) for f in P.read_pcap(tx2)]
    errors = []
    for name, want in expected.items():
        if int(counters[name]) != want:
            errors.append('counter %s=%s, want %d' %
                          (name, counters[name], want))
    server_mac = None
    messages = {}
    for r in replies:
        errors += ['%s reply: %s' % (r.kind, e) for e in r.errors]
        if server_mac is None:
            server_mac = r.src_mac
        if r.src_mac != server_mac or r.dst_mac != P.CLIENT_MAC:
            errors.append('%s reply MACs %s -> %s' %
                          (r.kind, r.src_mac.hex(), r.dst_mac.hex()))
        if r.kind == 'arp':
            if (r.op, r.htype, r.ptype, r.spa, r.tpa, r.tha) != \
                    (2, 1, 0x0800, SERVER, CLIENT, P.CLIENT_MAC) or \
                    r.sha != server_mac:
                errors.append('ARP reply fields wrong: %r' % r.raw.hex())
        elif r.kind == 'icmp':
            want = bytes.fromhex('12340007') + b'corecache-ping' * 4
            if (r.src, r.dst, r.icmp_type, r.icmp_code) != \
                    (SERVER, CLIENT, 0, 0) or r.icmp_rest != want:
                errors.append('ICMP reply fields wrong')
        elif r.kind == 'udp':
            if r.src != SERVER or r.sport != MC or r.dport != 40000 or \
                    r.reserved != 0:
                errors.append('UDP reply %d headers wrong' % r.req_id)
            key = (r.dst, r.req_id)
            messages.setdefault(key, []).append(r)
        else:
            errors.append('unexpected frame type %#x' % r.etype)
    kinds = sorted(r.kind for r in replies if r.kind != 'udp')
    if kinds != arp_icmp:
        errors.append('ARP/ICMP replies: %s' % kinds)
    for key, want in expect.items():
        got = messages.pop(key, None)
        if got is None:
            errors.append('no reply to %s' % (key,))
            continue
        # Datagrams in the order sent; a message starts at seq 0.
        msgs = []
        for r in got:
            if r.seq == 0:
                msgs.append([])
            msgs[-1].append(r)
        wants = want if isinstance(want, list) else [want]
        if len(msgs) != len(wants):
            errors.append('reply %s: %d messages, want %d' %
                          (key, len(msgs), len(wants)))
            continue
        for m, w in zip(msgs, wants):
            total = len(m)
            if [r.seq for r in m] != list(range(total)) or \
                    any(r.total != total for r in m):
                errors.append('reply %s framing: %s' %
                              (key, [(r.seq, r.total) for r in m]))
            if any(len(r.payload) > 1392 for r in m):
                errors.append('reply %s: datagram over 1400 bytes' % (key,))
            body = b''.join(r.payload for r in m)
            ok = w.match(body) if hasattr(w, 'match') else body == w
            if not ok:
                errors.append('reply %s: %r, want %r' %
                              (key, body[:80], w if hasattr(w, 'match')
                               else w[:80]))
    for key in messages:
        errors.append('unexpected reply %s' % (key,))
    return errors, counters


def main():
    driver = sys.argv[1]
    frames, expect = build()
    failed = False
    for name, extra, check, queue2 in (
            ('batched', [], lambda k: int(k['bulk_gets']) > 0 and
             int(k['zero_copy']) == 0, False),
            ('zero-copy', ['--zero-copy-min', '1024'],
             lambda k: int(k['zero_copy']) >= 4, False),
            ('protocol layer', ['--no-bulk'],
             lambda k: int(k['bulk_gets']) == 0, False),
            ('two queues, two workers', [],
             lambda k: int(k['q1_bulk_gets']) == 1, True)):
        res = run(driver, frames, expect, extra, queue2)
        if isinstance(res, list):
            errors, counters = res, None
        else:
            errors, counters = res
        if counters is not None and not check(counters):
            errors.append('path counters wrong: %s' % counters)
        print('%s: %s' % (name, 'ok' if not errors else 'FAILED'))
        for e in errors:
            print('  ' + e)
        failed |= bool(errors)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
