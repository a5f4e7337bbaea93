"""Request generator of the differential test (differential.py): a seeded
random stream of memcached requests, valid and not.

Everything here is a function of the seed and of how many distinct CAS
values the servers have shown so far, so the same seed replays the same
stream. A request is a list of parts, each bytes or a CasRef: "the n-th
distinct CAS value this server has shown", filled in per server, since
the two servers number their items differently.

What is never generated, and why: each would make memcached 1.6.18
disagree with itself from run to run (checked by running the test with
memcached on both sides), so a divergence would say nothing about
corecached. The comments at each rule give the detail.
- lines over 2048 bytes other than get/gets: memcached closes such a
  connection only if the line arrives in pieces, which depends on timing;
  so the value of a request line memcached may refuse (and then reads as
  command lines) stays short;
- TTLs that end during a run (1 s, 2 s, ...): only 0, negative, one hour
  and absolute times far in the past or future; recache thresholds (mg R)
  far from any TTL in use;
- flush_all with a delay (it revives what an earlier flush_all hid);
- values within 2 kB below the item size limit: memcached counts its item
  header against -I, an implementation detail;
- numbers in values other than the n keys', appends to those, and '-' in
  stored data (incr quirks, below);
- a get/gets/gat/gats with a key over 250 bytes after other requests in
  the same batch (memcached then drops their unsent replies);
- values containing "MN\\r\\n", the reply that ends each batch;
- memcached's admin commands (lru_crawler, slabs, watch, me, ...) whose
  replies show its internals;
- incomplete requests over UDP: memcached keeps a half-read value across
  datagrams.
"""

import base64
import re

# Only the n keys hold numbers, and they are never appended or prepended
# to: memcached pads a shorter incr/decr result with spaces in place only
# if nothing else holds the item at that moment (its LRU threads, a reply
# not yet sent), so "99" or "99 " is timing; the comparison ignores the
# padding, but an append after it ("99 1" against "991") would not be.
# Every other key's value starts with a letter, so incr never parses it.
KEYS = [b"k%d" % i for i in range(12)] + [b"n%d" % i for i in range(4)]
NKEYS = KEYS[-4:]
# No stored number reaches 2^63 (nor does an incr make one), and no stored
# key or value holds a '-': memcached checks a number of 2^63 or more for a
# minus sign with strchr, which runs past the value into whatever bytes
# follow it in memory, so incr refuses such a number at random. (The wrap
# past 2^64 is left to test_pymemcache.py.)
ODD_KEYS = [b"k" * 250, b"k" * 251, b"k" * 300, b"k\x01x", b"caf\xc3\xa9",
            b"k\x7f", b"K0", b"_", b"noreply"]
NUMBERS = [b"0", b"1", b"123", b"4294967296", b"1099511627775", b"99",
           b"100", b"  12", b"+5", b"12abc", b"00012",
           b"18446744073709551616", b"1 ", b""]
FLAGS = [b"0", b"1", b"4294967295", b"4294967296", b"-1", b"abc", b"12x",
         b"65535", b"65536"]
GOOD_FLAGS = FLAGS[:3] + FLAGS[-2:]
EXPTIMES = [b"0", b"3600", b"-1", b"1000000000", b"2000000000", b"2592000",
            b"2592001", b"abc", b"-2147483649", b"9999999999999999999"]
GOOD_EXPTIMES = EXPTIMES[:7]
DELTAS = [b"1", b"0", b"5", b"1099511627776", b"18446744073709551616",
          b"-1", b"abc", b"1a", b"100"]
BOGUS_CAS = [b"999999999999999", b"0", b"18446744073709551615", b"abc",
             b"-1", b"18446744073709551616"]
BAD_CAS = BOGUS_CAS[3:]  # not numbers memcached takes
SAFE = b"abcdefghijklmnopqrstuvwxyz0123456789"
# corecache serves neither "stats conns" nor "stats detail" (README,
# deliberate differences), so the stream leaves them out.
STATS_GROUPS = [b"", b" settings", b" items", b" slabs", b" sizes",
                b" reset", b" bogus"]
MG_FLAGS = b"bcfhklOqstuvENRT"
MS_FLAGS = b"bcCEFIkOqTMNS"
MD_FLAGS = b"bCEIkOqTx"
MA_FLAGS = b"bCENJDTMOqtcvk"
VALUED_FLAGS = b"OENRTCFJDMS"
PLAIN_MS_FLAG = re.compile(rb"^([ckqsI]|O(1|abc|opaque)"
                           rb"|[TN](0|3600|30|-1|7200)"
                           rb"|F(0|1|4294967295|65535|65536)|M[SEAPR]"
                           rb"|E\d+|C)$")


class CasRef:
    """The n-th distinct CAS value shown by the server the request goes to."""

    def __init__(self, n):
        self.n = n

    def __repr__(self):
        return "<cas#%d>" % self.n


class Gen:
    def __init__(self, rnd, item_max):
        self.r = rnd
        self.item_max = item_max
        self.ncas = 0
        self.explicit = set()  # CAS values set by E flags: not ordered
        self.udp = False       # requests must be complete in themselves

    # ---- pieces ----

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def chance(self, p):
        return self.r.random() < p

    def key(self):
        if self.chance(0.04):
            return self.pick(ODD_KEYS)
        return self.pick(KEYS)

    def value(self, short=False, key=None):
        v = self.any_value(short)
        if key in NKEYS or (v[:1].isalpha() and v[:1].isascii()):
            return v
        return b"v" + v[1:]

    def any_value(self, short):
        r = self.r.random() * (0.96 if short else 1.0)
        if r < 0.65:
            n = self.r.randint(0, 30)
        elif r < 0.8:
            return self.pick(NUMBERS[:10])
        elif r < 0.96:
            n = self.r.randint(100, 1000 if short else 3000)
        elif r < 0.99:
            n = self.r.randint(10000, 200000)
        elif r < 0.995:
            n = self.r.randint(self.item_max // 2, self.item_max - 2048)
        else:
            n = self.r.randint(self.item_max + 1, self.item_max + 70000)
        if n > 3000:
            return bytes(SAFE[(i * 7 + n) % len(SAFE)] for i in range(64)) \
                * (n // 64) + b"z" * (n % 64)
        if self.chance(0.3):
            v = self.r.randbytes(n)
            return v.replace(b"MN", b"mn").replace(b"-", b"_")
        return bytes(self.pick(SAFE) for _ in range(n))

    def cas_token(self):
        if self.ncas and self.chance(0.8):
            # Mostly recent ones: those are the live versions.
            lo = max(0, self.ncas - 8)
            return CasRef(self.r.randrange(lo, self.ncas))
        return self.pick(BOGUS_CAS)

    def ttl(self):
        return b"0" if self.chance(0.6) else self.pick(EXPTIMES)

    def terminator(self):
        if self.udp or self.chance(0.95):
            return b"\r\n"
        # memcached reads the value's length plus two bytes and only then
        # looks at the two, so a bad one never eats the next request; each
        # ends a line, so that a value read as a command line (after a
        # refused request line) does not run into the next request.
        return self.pick([b"xx\r\n", b"\n\n", b"\r\r\r\n", b" \n", b"x\n",
                          b"\n\r\n"])

    def noreply(self):
        return b" noreply" if self.chance(0.12) else b""

    # ---- text commands ----

    def storage(self):
        cmd = self.pick([b"set"] * 4 + [b"add", b"replace", b"append",
                                        b"prepend", b"cas", b"cas"])
        key = self.key()
        if key in NKEYS and cmd in (b"append", b"prepend"):
            key = self.pick(KEYS[:-4])
        flags = b"0" if self.chance(0.6) else self.pick(FLAGS)
        ttl = self.ttl()
        tail = self.noreply()
        if self.chance(0.02):
            tail = self.pick([b" extra", b" noreply extra", b" x y"])
        unique = []
        if cmd == b"cas" and not self.chance(0.03):
            unique = [b" ", self.cas_token()]
        # A line memcached may refuse: its value is then read as command
        # lines, so it must stay short (see the note at the top).
        odd = key in ODD_KEYS or flags not in GOOD_FLAGS or \
            ttl not in GOOD_EXPTIMES or tail not in (b"", b" noreply") or \
            (cmd == b"cas" and (not unique or unique[1] in BAD_CAS))
        value = self.value(short=odd, key=key)
        length = b"%d" % len(value)
        if self.chance(0.03):
            length = self.pick([b"-1", b"abc", b"", b"4294967296"] +
                               [b"%d" % (len(value) - 1)] * (len(value) > 0))
        parts = [cmd + b" " + key + b" " + flags + b" " + ttl + b" " + length]
        parts += unique
        parts.append(tail + b"\r\n")
        if length.startswith(b"-") or not length.isdigit():
            # memcached refuses the line; what follows is read as commands.
            if self.chance(0.5):
                parts.append(b"xyz\r\n")
            return parts
        parts.append(value + self.terminator())
        return parts

    def retrieval(self):
        cmd = self.pick([b"get", b"get", b"gets"])
        r = self.r.random()
        if r < 0.7:
            keys = [self.key()]
        elif r < 0.95:
            keys = [self.key() for _ in range(self.r.randint(2, 10))]
        else:
            # A multiget line over 2048 bytes: allowed for get and gets.
            keys = [self.pick(KEYS) + b"-%d" % i if self.chance(0.8)
                    else self.pick(KEYS)
                    for i in range(self.r.randint(200, 500))]
        if self.chance(0.02):
            return [cmd + b"\r\n"]
        return [cmd + b" " + b" ".join(keys) + b"\r\n"]

    def gat(self):
        cmd = self.pick([b"gat", b"gats"])
        keys = [self.key() for _ in range(self.r.randint(1, 4))]
        if self.chance(0.05):
            return [cmd + b" " + self.ttl() + b"\r\n"]
        return [cmd + b" " + self.ttl() + b" " + b" ".join(keys) + b"\r\n"]

    def delete(self):
        extra = b""
        if self.chance(0.1):
            extra = self.pick([b" 0", b" 1", b" 0 noreply", b" abc",
                               b" 0 0"])
        return [b"delete " + self.key() + extra + self.noreply() + b"\r\n"]

    def arith(self):
        cmd = self.pick([b"incr", b"decr"])
        key = self.pick(KEYS[-4:]) if self.chance(0.7) else self.key()
        # decr by the largest delta gives 0; incr by it would wrap to a
        # number memcached misreads (see NUMBERS).
        deltas = DELTAS + ([b"18446744073709551615"] if cmd == b"decr"
                           else [])
        delta = b"1" if self.chance(0.5) else self.pick(deltas)
        if self.chance(0.02):
            return [cmd + b" " + key + b"\r\n"]
        return [cmd + b" " + key + b" " + delta + self.noreply() + b"\r\n"]

    def touch(self):
        if self.chance(0.05):
            return [b"touch " + self.key() + b"\r\n"]
        return [b"touch " + self.key() + b" " + self.ttl() + self.noreply()
                + b"\r\n"]

    def misc(self):
        r = self.r.random()
        if r < 0.25:
            return [b"version\r\n"]
        if r < 0.45:
            return [b"verbosity " + self.pick([b"0", b"1", b"5", b"abc", b""])
                    + self.noreply() + b"\r\n"]
        if r < 0.65:
            return [b"stats" + self.pick(STATS_GROUPS) + b"\r\n"]
        if r < 0.75:
            return [b"mn\r\n"]
        if r < 0.85:
            return [b"shutdown\r\n"]
        # flush_all empties the cache: rare, and never with a delay. A
        # delayed flush_all makes memcached forget an earlier one, so the
        # items that one flushed live again unless memcached's crawler
        # or a read already dropped them: timing.
        arg = self.pick([b"", b" 0", b" -1", b" abc", b" 0 0"])
        return [b"flush_all" + arg + self.noreply() + b"\r\n"]

    def garbage(self):
        r = self.r.random()
        if r < 0.3:
            words = [bytes(self.pick(b"abcdefghijklmnopqrstuvwxyz"
                                     b"0123456789!#$%&*+-./:;<=>?@^_|~")
                           for _ in range(self.r.randint(1, 12)))
                     for _ in range(self.r.randint(1, 6))]
            if words[0][:2] in (b"mn", b"qu", b"sh"):
                words[0] = b"x" + words[0]
            return [b" ".join(words) + b"\r\n"]
        if r < 0.4:
            return [self.pick([b"\r\n", b"\n", b"   \r\n", b" get k0\r\n",
                               b"get k0\n", b"GET k0\r\n", b"get\tk0\r\n",
                               b"get  k0  k1 \r\n", b"gets k0\r\r\n"])]
        if r < 0.5:
            return [b"get k0\x00junk k1\r\n"]
        if r < 0.6:
            return [b"x" * self.r.randint(100, 2000) + b"\r\n"]
        if r < 0.7:
            junk = self.r.randbytes(self.r.randint(1, 200))
            junk = junk.replace(b"\n", b" ").replace(b"\x80", b" ")
            if junk[:2] in (b"mn", b"qu", b"sh", b"ms", b"ma"):
                junk = b"x" + junk
            return [b"x" + junk + b"\r\n"]
        if r < 0.8:
            return [self.pick([b"set k0 0 0\r\n", b"set\r\n",
                               b"cas k0 0 0 1\r\n", b"incr\r\n",
                               b"touch\r\n", b"delete\r\n", b"gat\r\n",
                               b"gat 0\r\n", b"decr k0\r\n"])]
        if r < 0.9:
            return [b"ms\r\n" if self.chance(0.3) else
                    self.pick([b"mg\r\n", b"md\r\n", b"ma\r\n",
                               b"mz k0\r\n", b"mgk0\r\n", b"mg  k0 v\r\n"])]
        return [b"set k%d 0 0 1 %s\r\nv\r\n"
                % (self.r.randrange(12), b" ".join([b"t"] * 30))]

    # ---- meta commands ----

    def meta_key(self, flags, raw):
        """The key token for raw: itself, or base64 with the b flag."""
        if b"b" not in flags:
            return raw
        if self.chance(0.05):
            return self.pick([b"!!!!", b"a", b"abc", b"====", b"YQ"])
        return base64.b64encode(raw)

    def meta_flags(self, allowed):
        flags = [bytes([c]) for c in allowed if self.chance(0.25)]
        self.r.shuffle(flags)
        if self.chance(0.03):
            flags.append(self.pick(flags) if flags else b"v")
        if self.chance(0.03):
            flags.append(self.pick([b"z", b"!", b"Y", b"vv", b"\x01"]))
        return flags

    def meta_flag_token(self, f, kind):
        """A flag with its token where it takes one."""
        c = f[:1]
        if c not in VALUED_FLAGS or len(f) != 1:
            return [f]
        if c == b"O":
            return [b"O" + self.pick([b"1", b"abc", b"opaque", b"x" * 32,
                                      b"x" * 33, b""])]
        if c == b"R":
            # Win if less TTL than this is left: never close to a TTL in
            # use, or which side of it the clock is on decides.
            return [c + self.pick([b"0", b"60", b"5000", b"-1", b"abc", b""])]
        if c in b"NT":
            return [c + self.pick([b"0", b"3600", b"30", b"-1", b"abc",
                                   b"7200", b""])]
        if c == b"C":
            return [b"C", self.cas_token()]
        if c == b"E":
            v = self.r.randrange(1, 1 << 40) if self.chance(0.9) else 0
            self.explicit.add(v)
            return [b"E%d" % v]
        if c == b"F":
            return [b"F" + self.pick(FLAGS)]
        if c == b"J":
            return [b"J" + self.pick(NUMBERS[:6] + [b"abc"])]
        if c == b"D":
            return [b"D" + self.pick(DELTAS)]
        if c == b"S":
            return [b"S" + self.pick([b"1", b"10", b"abc"])]
        if kind == b"ms":
            return [b"M" + self.pick([b"S", b"E", b"A", b"P", b"R", b"s",
                                      b"a", b"p", b"r", b"e", b"X", b""])]
        return [b"M" + self.pick([b"I", b"+", b"D", b"-", b"i", b"d", b"x",
                                  b""])]

    def meta(self):
        kind = self.pick([b"mg", b"mg", b"mg", b"ms", b"ms", b"md", b"ma",
                          b"ma"])
        allowed = {b"mg": MG_FLAGS, b"ms": MS_FLAGS, b"md": MD_FLAGS,
                   b"ma": MA_FLAGS}[kind]
        flags = self.meta_flags(allowed)
        raw = self.key()
        if b"b" in flags and self.chance(0.3):
            raw = self.r.randbytes(self.r.randint(1, 40)).replace(b"-", b"_")
        if raw in NKEYS:
            # An incr that memcached does not do in place makes a new item
            # without the old one's hit, win and stale marks (and, while
            # padded, its size): which it does is timing, so n keys are
            # not asked about them.
            flags = [f for f in flags if f not in (b"h", b"s", b"N", b"R",
                                                   b"I")]
        tokens = []
        for f in flags:
            tokens.append(b" ")
            tokens += self.meta_flag_token(f, kind)
        words = b"".join(t if isinstance(t, bytes) else b"C"
                         for t in tokens).split()
        if raw in NKEYS and kind == b"ms" and any(
                w[:2] in (b"MA", b"MP", b"Ma", b"Mp") for w in words):
            raw = self.pick(KEYS[:-4])
        key = self.meta_key(flags, raw)
        if kind != b"ms":
            return [kind + b" " + key] + tokens + [b"\r\n"]
        # As for text storage: a value that may be read as command lines
        # stays short.
        plain = key in KEYS and len(set(words)) == len(words) and \
            all(PLAIN_MS_FLAG.match(w) for w in words)
        value = self.value(short=not plain, key=raw)
        length = b"%d" % len(value)
        if self.chance(0.03):
            length = self.pick([b"-1", b"abc", b"S100"])
        parts = [kind + b" " + key + b" " + length] + tokens + [b"\r\n"]
        if length.isdigit():
            parts.append(value + self.terminator())
        elif self.chance(0.5):
            parts.append(b"xyz\r\n")
        return parts

    # ---- batches ----

    COMMANDS = [("storage", 30), ("retrieval", 20), ("gat", 4),
                ("delete", 6), ("arith", 8), ("touch", 4), ("meta", 28),
                ("misc", 2), ("garbage", 5)]

    def command(self):
        total = sum(w for _, w in self.COMMANDS)
        x = self.r.uniform(0, total)
        for name, w in self.COMMANDS:
            x -= w
            if x <= 0:
                return getattr(self, name)()
        return self.storage()

    def batch(self, ncas):
        """Requests sent back to back (pipelined), and whether the batch
        ends with quit."""
        self.ncas = ncas
        n = 1 if self.chance(0.5) else self.r.randint(2, 8)
        cmds = self.drop_safe([self.command() for _ in range(n)])
        quit = self.chance(0.005)
        if quit:
            cmds.append([b"quit\r\n"])
        return cmds, quit

    @staticmethod
    def drops_replies(cmd):
        """A get, gets, gat or gats with a key over 250 bytes: memcached
        1.6.18 answers it CLIENT_ERROR and throws away every reply of the
        connection not yet sent, so what it drops depends on how the
        requests were read."""
        line = cmd[0].split(b"\r\n", 1)[0] if isinstance(cmd[0], bytes) \
            else b""
        words = line.split(b" ")
        return words[0] in (b"get", b"gets", b"gat", b"gats") and \
            any(len(w) > 250 for w in words[1:])

    def drop_safe(self, cmds):
        """At most one reply-dropping request, first in its batch (the
        batch before it has been answered in full)."""
        dropping = [c for c in cmds if self.drops_replies(c)]
        rest = [c for c in cmds if not self.drops_replies(c)]
        return dropping[:1] + rest

    def splits(self, ncmds):
        """Where to cut the batch into sends: (command index, fraction of
        its bytes) pairs, or [] to send it whole."""
        if self.chance(0.7):
            return []
        return sorted((self.r.randrange(ncmds), self.r.random())
                      for _ in range(self.r.randint(1, 3)))

    # ---- UDP ----

    def udp_request(self, ncas):
        """(frame header fields or None for a raw datagram, parts). Only
        complete requests that fit in one datagram. Never quit: memcached
        1.6.18 keeps its UDP state after one, so that every later datagram
        loses its commands after a get (proto_udp.c); corecached starts
        each datagram afresh, and its UDP quit is unit-tested."""
        self.ncas = ncas
        self.udp = True
        try:
            return self.udp_datagram()
        finally:
            self.udp = False

    def udp_datagram(self):
        r = self.r.random()
        if r < 0.03:
            return None, [self.pick([b"", b"\x00", b"\x00\x01\x00\x00",
                                     b"\x00\x01\x00\x00\x00\x01\x00"])]
        header = [0, 0, 1, 0]
        if r < 0.08:
            header = self.pick([[0, 1, 1, 0], [0, 0, 2, 0], [0, 0, 0, 0],
                                [0, 0, 1, 7], [0, 3, 3, 0]])
        for _ in range(20):
            if self.chance(0.05):
                cmds = self.drop_safe([self.command(), self.command()])
            else:
                cmds = [self.command()]
            flat = [p for c in cmds for p in c]
            size = sum(len(p) if isinstance(p, bytes) else 20 for p in flat)
            if size <= 1300 and isinstance(flat[-1], bytes) and \
                    flat[-1].endswith(b"\n"):
                return header, flat
        return header, [b"version\r\n"]
