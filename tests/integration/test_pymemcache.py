#!/usr/bin/python3
"""The server driven by pymemcache, a widely used Python client: every text
command it speaks, values near the item size limit, noreply, and many
clients in threads. Run by /usr/bin/python3, the interpreter that sees
Debian's python3-pymemcache.

Usage: test_pymemcache.py --server CMD
"""

import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cctest  # noqa: E402
from cctest import check, expect  # noqa: E402

try:
    from pymemcache.client.base import Client
    from pymemcache import exceptions as mcexc
except ImportError:
    cctest.skip("pymemcache is not installed (python3-pymemcache)")

THREADS = 4
MEMORY_MB = 64
CONNECTIONS = 256
ITEM_MAX = 2 << 20  # -I 2m: also checks that -I is honoured


class FlagsSerde:
    """Keeps values as bytes and hands the flags back with them."""

    def serialize(self, key, value):
        return value, 0

    def deserialize(self, key, value, flags):
        return value, flags


def client(port, noreply=False, serde=None):
    return Client(("127.0.0.1", port), connect_timeout=5, timeout=10,
                  no_delay=True, default_noreply=noreply, serde=serde)


def t_set_get(mc, fmc):
    check(mc.set(b"a", b"1") is True, "set")
    expect(mc.get(b"a"), b"1", "get after set")
    expect(mc.get(b"missing"), None, "get of a missing key")
    check(fmc.set(b"f", b"v", flags=0xfffffffe), "set with flags")
    expect(fmc.get(b"f"), (b"v", 0xfffffffe), "flags round trip")
    check(mc.set(b"empty", b""), "set empty value")
    expect(mc.get(b"empty"), b"", "empty value")
    key = b"k" * 250
    check(mc.set(key, b"long key"), "set with a 250-byte key")
    expect(mc.get(key), b"long key", "get with a 250-byte key")
    binval = bytes(range(256)) * 4 + b"\r\nEND\r\n"
    check(mc.set(b"bin", binval), "set binary value")
    expect(mc.get(b"bin"), binval, "binary value with CRLF and END inside")


def t_gets_cas(mc):
    mc.set(b"c", b"one")
    v, cas = mc.gets(b"c")
    expect(v, b"one", "gets value")
    check(cas.isdigit(), "gets returns a numeric cas", cas)
    expect(mc.cas(b"c", b"two", cas), True, "cas with the current token")
    expect(mc.cas(b"c", b"three", cas), False, "cas with a stale token")
    expect(mc.get(b"c"), b"two", "value after cas")
    v2, cas2 = mc.gets(b"c")
    check(cas2 != cas, "a store changes the cas", cas, cas2)
    expect(mc.cas(b"nocas", b"x", cas2), None, "cas on a missing key")
    mc.touch(b"c", 1000)
    expect(mc.gets(b"c")[1], cas2, "touch keeps the cas")


def t_add_replace(mc):
    mc.delete(b"ar")
    expect(mc.add(b"ar", b"1"), True, "add of an absent key")
    expect(mc.add(b"ar", b"2"), False, "add of a present key")
    expect(mc.get(b"ar"), b"1", "add did not overwrite")
    expect(mc.replace(b"ar", b"3"), True, "replace of a present key")
    expect(mc.replace(b"ar-none", b"3"), False, "replace of an absent key")
    expect(mc.get(b"ar-none"), None, "replace did not create")
    expect(mc.get(b"ar"), b"3", "value after replace")


def t_append_prepend(mc, fmc):
    fmc.set(b"ap", b"mid", flags=7)
    expect(mc.append(b"ap", b"-end"), True, "append")
    expect(mc.prepend(b"ap", b"start-"), True, "prepend")
    expect(fmc.get(b"ap"), (b"start-mid-end", 7), "append/prepend keep flags")
    expect(mc.append(b"ap-none", b"x"), False, "append to an absent key")
    expect(mc.prepend(b"ap-none", b"x"), False, "prepend to an absent key")
    expect(mc.get(b"ap-none"), None, "append did not create")


def t_incr_decr(mc):
    mc.set(b"n", b"10")
    expect(mc.incr(b"n", 5), 15, "incr")
    expect(mc.decr(b"n", 3), 12, "decr")
    expect(mc.decr(b"n", 100), 0, "decr stops at 0")
    expect(mc.incr(b"n-none", 1), None, "incr of an absent key")
    expect(mc.decr(b"n-none", 1), None, "decr of an absent key")
    mc.set(b"w", b"18446744073709551615")
    expect(mc.incr(b"w", 2), 1, "incr wraps at 2^64")
    mc.set(b"d", b"100")
    expect(mc.decr(b"d", 1), 99, "decr to fewer digits")
    # memcached rewrites the number in place, padding with spaces.
    expect(mc.get(b"d"), b"99 ", "decr pads the shorter number")
    mc.set(b"txt", b"abc")
    try:
        mc.incr(b"txt", 1)
    except mcexc.MemcacheClientError as e:
        check("non-numeric" in str(e), "incr error text", str(e))
    else:
        raise AssertionError("incr of a non-numeric value did not fail")


def t_touch_delete(mc):
    mc.set(b"t", b"v")
    expect(mc.touch(b"t", 100), True, "touch of a present key")
    expect(mc.touch(b"t-none", 100), False, "touch of an absent key")
    expect(mc.touch(b"t", -1), True, "touch with a negative expiry")
    expect(mc.get(b"t"), None, "negative expiry expires at once")
    mc.set(b"del", b"v")
    expect(mc.delete(b"del", noreply=False), True, "delete")
    expect(mc.delete(b"del", noreply=False), False, "delete of an absent key")
    expect(mc.get(b"del"), None, "deleted")


def t_flush(mc):
    for i in range(50):
        mc.set(b"fl%d" % i, b"v")
    expect(mc.flush_all(noreply=False), True, "flush_all")
    expect(mc.get_many([b"fl%d" % i for i in range(50)]), {},
           "nothing left after flush_all")
    check(mc.set(b"fl0", b"again"), "set after flush_all")
    expect(mc.get(b"fl0"), b"again", "items stored after a flush live")


def t_many(mc):
    keys = [b"m%d" % i for i in range(200)]
    for k in keys[::2]:
        mc.set(k, k + b"-value")
    got = mc.get_many(keys)
    expect(got, {k: k + b"-value" for k in keys[::2]}, "get_many")
    gm = mc.gets_many(keys[:10])
    expect(sorted(gm), keys[:10:2], "gets_many keys")
    check(len({c for _, c in gm.values()}) == 5, "distinct cas per item", gm)


def t_stats(srv, mc):
    mc.flush_all(noreply=False)
    st0 = mc.stats()
    for k in [b"pid", b"uptime", b"time", b"version", b"curr_connections",
              b"total_connections", b"cmd_get", b"cmd_set", b"get_hits",
              b"get_misses", b"curr_items", b"bytes", b"evictions",
              b"limit_maxbytes", b"threads"]:
        check(k in st0, "stats has " + k.decode(), sorted(st0))
    expect(st0[b"pid"], srv.pid, "stats pid")
    expect(st0[b"threads"], THREADS, "stats threads (-t)")
    expect(st0[b"limit_maxbytes"], MEMORY_MB << 20,
           "stats limit_maxbytes (-m)")
    for i in range(10):
        mc.set(b"st%d" % i, b"v")
    mc.get_many([b"st%d" % i for i in range(20)])
    st = mc.stats()
    expect(st[b"cmd_get"] - st0[b"cmd_get"], 20, "cmd_get counts keys")
    expect(st[b"get_hits"] - st0[b"get_hits"], 10, "get_hits")
    expect(st[b"get_misses"] - st0[b"get_misses"], 10, "get_misses")
    expect(st[b"cmd_set"] - st0[b"cmd_set"], 10, "cmd_set")
    check(st[b"curr_connections"] >= 1, "curr_connections")
    settings = mc.stats("settings")
    expect(settings.get(b"maxbytes"), MEMORY_MB << 20, "settings maxbytes")
    expect(settings.get(b"maxconns"), CONNECTIONS, "settings maxconns")
    expect(settings.get(b"tcpport"), srv.port, "settings tcpport")
    expect(settings.get(b"num_threads"), THREADS, "settings num_threads")
    expect(settings.get(b"item_size_max"), ITEM_MAX, "settings item_size_max")


def t_version(mc):
    v = mc.version()
    check(len(v) > 0 and b" " not in v and b"\r" not in v,
          "version is one word", v)


def t_big(mc):
    # memcached's -I bounds the whole item (header, key, value), so the
    # largest value is a little below it; well below must store, above
    # must be refused, both servers alike.
    big = os.urandom(ITEM_MAX - 1024)
    check(mc.set(b"big", big), "set a value just under the item max")
    expect(mc.get(b"big"), big, "big value round trip")
    expect(mc.append(b"big", b"x" * 512), True, "append still under the max")
    expect(mc.get(b"big"), big + b"x" * 512, "big append round trip")
    try:
        mc.set(b"big", b"y" * (ITEM_MAX + 1))
    except mcexc.MemcacheServerError as e:
        check("object too large for cache" in str(e), "too-large text", str(e))
    else:
        raise AssertionError("a value over the item max was stored")
    # memcached drops the old value when a set is refused, so a stale
    # value is not served.
    expect(mc.get(b"big"), None, "refused set removes the old value")
    many = {b"mid%d" % i: os.urandom(100000 + i) for i in range(20)}
    for k, v in many.items():
        mc.set(k, v)
    expect(mc.get_many(list(many)), many, "20 values of 100 kB in one get")


def t_noreply(port):
    nr = client(port, noreply=True)
    for i in range(300):
        nr.set(b"nr%d" % i, b"v%d" % i)
    nr.add(b"nr0", b"no")
    nr.replace(b"nr1", b"replaced")
    nr.append(b"nr2", b"+")
    nr.prepend(b"nr3", b"+")
    nr.set(b"nrn", b"5")
    nr.incr(b"nrn", 10, noreply=True)
    nr.decr(b"nrn", 1, noreply=True)
    nr.delete(b"nr4")
    nr.touch(b"nr5", 1000)
    got = nr.get_many([b"nr%d" % i for i in range(300)])
    expect(len(got), 299, "noreply stores all landed")
    expect(got[b"nr0"], b"v0", "noreply add refused silently")
    expect(got[b"nr1"], b"replaced", "noreply replace")
    expect(got[b"nr2"], b"v2+", "noreply append")
    expect(got[b"nr3"], b"+v3", "noreply prepend")
    expect(nr.get(b"nrn"), b"14", "noreply incr and decr")
    nr.flush_all()
    expect(nr.get(b"nr5"), None, "noreply flush_all")
    nr.close()


def t_threads(port):
    n_threads, rounds = 16, 300
    errors = []
    c0 = client(port)
    c0.set(b"counter", b"0")

    def work(tid):
        mc = client(port)
        try:
            for i in range(rounds):
                key = b"th%d-%d" % (tid, i % 37)
                val = b"%d:%d:" % (tid, i) + os.urandom(i % 200)
                mc.set(key, val)
                got = mc.get(key)
                if got != val:
                    errors.append((tid, i, key, got, val))
                    return
                mc.incr(b"counter", 1)
                if i % 10 == 0:
                    mc.delete(key)
        except Exception as e:  # reported below, not lost in the thread
            errors.append((tid, repr(e)))
        finally:
            mc.close()

    ts = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    expect(errors, [], "every thread read back its own writes")
    expect(c0.get(b"counter"), str(n_threads * rounds).encode(),
           "incr from 16 threads lost no update")


def main():
    args = cctest.parse_args(description=__doc__)
    srv = cctest.Server(args.server, ["-t", str(THREADS), "-m",
                                      str(MEMORY_MB), "-c", str(CONNECTIONS),
                                      "-I", "2m"])
    checks = cctest.Checks(srv)
    mc = client(srv.port)
    fmc = client(srv.port, serde=FlagsSerde())
    try:
        checks.run("set/get", t_set_get, mc, fmc)
        checks.run("gets/cas", t_gets_cas, mc)
        checks.run("add/replace", t_add_replace, mc)
        checks.run("append/prepend", t_append_prepend, mc, fmc)
        checks.run("incr/decr", t_incr_decr, mc)
        checks.run("touch/delete", t_touch_delete, mc)
        checks.run("flush_all", t_flush, mc)
        checks.run("get_many", t_many, mc)
        checks.run("stats", t_stats, srv, mc)
        checks.run("version", t_version, mc)
        checks.run("big values", t_big, mc)
        checks.run("noreply", t_noreply, srv.port)
        checks.run("threads", t_threads, srv.port)
        mc.close()
        fmc.close()
        rc = checks.finish()
        return rc or cctest.stop_clean(srv)
    finally:
        srv.close()


if __name__ == "__main__":
    sys.exit(main())
