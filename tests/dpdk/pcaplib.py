"""Frames and pcap files for the DPDK tests, with the standard library only.

Builds Ethernet/ARP/IPv4/ICMP/UDP/TCP frames (checksums computed unless a
test asks for a wrong one), writes and reads classic pcap files, and parses
a reply frame into its fields so tests can check them one by one.
"""
import socket
import struct

CLIENT_MAC = bytes.fromhex('020000000002')
BCAST = b'\xff' * 6


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip4(a):
    return socket.inet_aton(a)


def eth(dst, src, etype, payload):
    return dst + src + struct.pack('!H', etype) + payload


def arp_request(src_ip, target_ip, src_mac=CLIENT_MAC):
    body = struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + src_mac + \
        ip4(src_ip) + b'\0' * 6 + ip4(target_ip)
    return eth(BCAST, src_mac, 0x0806, body)


def ipv4(src, dst, proto, payload, ihl=5, frag=0, total=None, ident=1):
    options = b'\x01' * (4 * (ihl - 5))
    length = total if total is not None else 4 * ihl + len(payload)
    hdr = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, length, ident, frag,
                      64, proto, 0, ip4(src), ip4(dst)) + options
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    return hdr + payload


def udp(src, dst, sport, dport, payload, length=None, bad_csum=False):
    ulen = length if length is not None else 8 + len(payload)
    pseudo = ip4(src) + ip4(dst) + struct.pack('!BBH', 0, 17, 8 + len(payload))
    seg = struct.pack('!HHHH', sport, dport, ulen, 0) + payload
    c = csum(pseudo + seg) or 0xffff
    if bad_csum:
        c ^= 0x5555
    return seg[:6] + struct.pack('!H', c) + seg[8:]


def frame_header(req_id, seq=0, total=1):
    return struct.pack('!HHHH', req_id, seq, total, 0)


def udp_frame(server_mac, src, dst, sport, dport, payload, **kw):
    ip_kw = {k: kw.pop(k) for k in ('ihl', 'frag', 'total') if k in kw}
    return eth(server_mac, CLIENT_MAC, 0x0800,
               ipv4(src, dst, 17, udp(src, dst, sport, dport, payload, **kw),
                    **ip_kw))


def icmp_echo(server_mac, src, dst, ident, seq, data):
    body = struct.pack('!BBHHH', 8, 0, 0, ident, seq) + data
    body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
    return eth(server_mac, CLIENT_MAC, 0x0800, ipv4(src, dst, 1, body))


class Unpadded(bytes):
    """A frame written as it is, even below the Ethernet minimum."""


def write_pcap(path, frames):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            if len(fr) < 60 and not isinstance(fr, Unpadded):
                fr = fr + b'\0' * (60 - len(fr))  # Ethernet minimum
            f.write(struct.pack('<IIII', 1, i, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    frames = []
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    end = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + 'IIII', data[off:off + 16])
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


class Reply:
    """A frame the dataplane sent, parsed; errors list what is wrong."""

    def __init__(self, fr):
        self.raw = fr
        self.errors = []
        self.dst_mac, self.src_mac = fr[0:6], fr[6:12]
        self.etype = struct.unpack('!H', fr[12:14])[0]
        self.kind = None
        if self.etype == 0x0806:
            self.kind = 'arp'
            (self.htype, self.ptype, self.hlen, self.plen,
             self.op) = struct.unpack('!HHBBH', fr[14:22])
            self.sha, self.spa = fr[22:28], socket.inet_ntoa(fr[28:32])
            self.tha, self.tpa = fr[32:38], socket.inet_ntoa(fr[38:42])
            return
        if self.etype != 0x0800:
            return
        ip = fr[14:34]
        (vihl, _, self.ip_len, _, self.frag, self.ttl, self.proto, _,
         src, dst) = struct.unpack('!BBHHHBBH4s4s', ip)
        self.src, self.dst = socket.inet_ntoa(src), socket.inet_ntoa(dst)
        if vihl != 0x45:
            self.errors.append('version/ihl %#x' % vihl)
        if csum(ip) != 0:
            self.errors.append('bad IP checksum')
        if 14 + self.ip_len > len(fr):
            self.errors.append('IP length %d past the frame' % self.ip_len)
        l4 = fr[34:14 + self.ip_len]
        if self.proto == 1:
            self.kind = 'icmp'
            self.icmp_type, self.icmp_code = l4[0], l4[1]
            self.icmp_rest = l4[4:]
            if csum(l4) != 0:
                self.errors.append('bad ICMP checksum')
        elif self.proto == 17:
            self.kind = 'udp'
            self.sport, self.dport, ulen, c = struct.unpack('!HHHH', l4[:8])
            if ulen != len(l4):
                self.errors.append('UDP length %d, IP says %d' %
                                   (ulen, len(l4)))
            pseudo = src + dst + struct.pack('!BBH', 0, 17, len(l4))
            if c != 0 and csum(pseudo + l4) != 0:
                self.errors.append('bad UDP checksum')
            self.req_id, self.seq, self.total, self.reserved = \
                struct.unpack('!HHHH', l4[8:16])
            self.payload = l4[16:]
