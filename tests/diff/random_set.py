r"""random_set — seeded randomized differential test of the set type: the
same few thousand random set commands go to Debian's redis-server 7.0 (the
oracle) and to cachebox, and every reply is compared.

Sizes and CONFIG SET set-max-intset-entries changes make sets cross the
intset/hashtable boundary in both directions (growth and non-integer
members one way; *STORE results and SPOP's rebuilt remainder the other).
Replies whose order follows hash-table layout are compared as multisets;
intset replies must match byte for byte. SPOP and SRANDMEMBER are checked
for validity against the set as it was (sizes, distinctness, membership,
what is left, the encoding SPOP leaves), then both servers are brought
back to the same contents (DEL + SADD on both), so runs never drift.

Usage: /usr/bin/python3 tests/diff/random_set.py [--seed N] [--ops N]
Prints mismatches and a final "N passed, N failed" line; exit 1 on failure.
"""
import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
sys.path.insert(0, HERE)
import cbtest  # noqa: E402
from run_diff import canon  # noqa: E402

KEYS = [b's%d' % i for i in range(6)]
STR_KEY = b'str'
STRINGS = [b'm%d' % i for i in range(30)] + [b'', b'a b', b'-0', b'007', b'1.5']
BIG = [str(v).encode() for v in (2**31, -2**31 - 1, 2**40 + 7, -2**62, 2**63 - 1, -2**63, 70000)]
THRESHOLDS = [0, 1, 3, 8, 20, 64, 512]
SPOP_MOVE_STRATEGY_MUL = 5


def is_int(m):
    """Redis's string2ll acceptance: canonical decimal long long."""
    try:
        v = int(m)
    except ValueError:
        return False
    return str(v).encode() == m and -2**63 <= v < 2**63


class Run:
    def __init__(self, seed, ops):
        self.rnd = random.Random(seed)
        self.ops = ops
        self.passed = self.failed = 0
        self.threshold = 512
        self.resp = 2
        self.history = []  # last commands sent to both, shown on a mismatch
        self.seen = {}  # encodings met, for the summary on stderr

    # ------------------------------------------------------------ plumbing
    def both(self, *args):
        self.history.append(b' '.join(args)[:150])
        del self.history[:-12]
        return self.o.cmd(*args), self.c.cmd(*args)

    def fail(self, what, a=b'', b=b''):
        self.failed += 1
        if self.failed <= 20:
            print('MISMATCH #%d %s\n    redis:    %r\n    cachebox: %r' %
                  (self.step, what, a[:400], b[:400]))
            print('    after: ' + '\n           '.join(h.decode('latin1') for h in self.history))

    def ok(self):
        self.passed += 1

    def same(self, args, unordered=False):
        a, b = self.both(*args)
        if a == b or (unordered and canon(a) == canon(b)):
            self.ok()
        else:
            self.fail(b' '.join(args).decode('latin1')[:200], a, b)
        return a

    def members(self, conn, key):
        v = cbtest.parse(conn.cmd(b'SMEMBERS', key))
        return v if isinstance(v, list) else []

    def encoding(self, conn, key):
        e = cbtest.parse(conn.cmd(b'OBJECT', b'ENCODING', key))
        if conn is self.o:
            self.seen[e if isinstance(e, bytes) else b'none'] = \
                self.seen.get(e if isinstance(e, bytes) else b'none', 0) + 1
        return e

    def resync(self, key):
        """Give both servers the oracle's contents of key."""
        mem = self.members(self.o, key)
        self.both(b'DEL', key)
        if mem:
            self.both(b'SADD', key, *mem)

    # ------------------------------------------------------------ generators
    def member(self):
        # Strings are rare enough that many sets stay all-integer and the
        # intset encoding gets its share of the traffic.
        r = self.rnd.random()
        if r < 0.8:
            return str(self.rnd.randint(-30, 30)).encode()
        if r < 0.93:
            return self.rnd.choice(BIG)
        return self.rnd.choice(STRINGS)

    def key(self):
        return self.rnd.choice(KEYS) if self.rnd.random() < 0.97 else STR_KEY

    def keys(self, lo=1, hi=4):
        return [self.key() for _ in range(self.rnd.randint(lo, hi))]

    # ------------------------------------------------------------ commands
    def op_sadd(self):
        k = self.key()
        if self.rnd.random() < 0.05:
            # Bulk integers: crosses the default 512 threshold.
            n = self.rnd.randint(100, 600)
            mem = [str(v).encode() for v in self.rnd.sample(range(-100, 700), n)]
        else:
            mem = [self.member() for _ in range(self.rnd.randint(1, 6))]
        self.same([b'SADD', k] + mem)

    def op_srem(self):
        k = self.key()
        self.same([b'SREM', k] + [self.member() for _ in range(self.rnd.randint(1, 8))])

    def op_read(self):
        k = self.key()
        kind = self.rnd.randrange(5)
        if kind == 0:
            self.same([b'SISMEMBER', k, self.member()])
        elif kind == 1:
            self.same([b'SMISMEMBER', k] + [self.member() for _ in range(self.rnd.randint(1, 5))])
        elif kind == 2:
            self.same([b'SCARD', k])
        elif kind == 3:
            self.same([b'OBJECT', b'ENCODING', k])
        else:
            intset = self.encoding(self.o, k) == b'intset'
            self.same([b'SMEMBERS', k], unordered=not intset)

    def op_algebra(self):
        cmd = self.rnd.choice([b'SINTER', b'SUNION', b'SDIFF'])
        ks = self.keys()
        if self.rnd.random() < 0.5:
            dst = self.rnd.choice(KEYS)
            self.same([cmd + b'STORE', dst] + ks)
            self.same([b'OBJECT', b'ENCODING', dst])
            intset = self.encoding(self.o, dst) == b'intset'
            self.same([b'SMEMBERS', dst], unordered=not intset)
        else:
            self.same([cmd] + ks, unordered=True)

    def op_sintercard(self):
        ks = self.keys()
        args = [b'SINTERCARD', str(len(ks)).encode()] + ks
        if self.rnd.random() < 0.5:
            args += [b'LIMIT', str(self.rnd.randint(0, 5)).encode()]
        self.same(args)

    def op_smove(self):
        self.same([b'SMOVE', self.key(), self.key(), self.member()])

    def op_sscan(self):
        k = self.key()
        if self.encoding(self.o, k) != b'hashtable':
            args = [b'SSCAN', k, b'0']
            if self.rnd.random() < 0.3:
                args += [b'MATCH', self.rnd.choice([b'1*', b'm*', b'*5', b'-*'])]
            self.same(args)
            return
        # Hash-table cursors differ between implementations: walk each to
        # the end and compare what was returned.
        got = []
        for conn in (self.o, self.c):
            cur, seen = b'0', set()
            for _ in range(10000):
                r = cbtest.parse(conn.cmd(b'SSCAN', k, cur, b'COUNT', b'7'))
                cur = r[0]
                seen.update(r[1])
                if cur == b'0':
                    break
            got.append(seen)
        if got[0] == got[1]:
            self.ok()
        else:
            self.fail('SSCAN walk of %r' % k, repr(sorted(got[0])).encode(),
                      repr(sorted(got[1])).encode())

    def op_spop(self):
        k = self.rnd.choice(KEYS)
        before = self.members(self.o, k)
        enc_before = self.encoding(self.c, k)
        with_count = self.rnd.random() < 0.6
        count = self.rnd.randint(0, len(before) + 2) if with_count else 1
        args = [b'SPOP', k] + ([str(count).encode()] if with_count else [])
        a, b = self.both(*args)
        va, vb = cbtest.parse(a), cbtest.parse(b)
        ok = True
        if not before:
            ok = a == b
        elif not with_count:
            left = self.members(self.c, k)
            ok = vb in before and sorted(left) == sorted(m for m in before if m != vb)
        else:
            n = min(count, len(before))
            ok = (isinstance(vb, list) and len(vb) == n and len(set(vb)) == n and
                  set(vb) <= set(before))
            if count >= len(before):
                # The reply is SUNION's: ordered when it fits an intset.
                compact = all(is_int(m) for m in before) and len(before) <= self.threshold
                ok = ok and (a == b if compact else canon(a) == canon(b))
            if ok:
                left = self.members(self.c, k)
                ok = sorted(left) == sorted(set(before) - set(vb))
                # The encoding left behind: kept, or rebuilt from scratch
                # when most of the set went.
                remaining = len(before) - n
                if remaining:
                    if remaining * SPOP_MOVE_STRATEGY_MUL > count:
                        want = enc_before
                    else:
                        compact = all(is_int(m) for m in left) and remaining <= self.threshold
                        want = b'intset' if compact else b'hashtable'
                    ok = ok and self.encoding(self.c, k) == want
        if ok:
            self.ok()
        else:
            self.fail('SPOP %r count %r before %r' % (k, count, sorted(before)[:20]), a, b)
        self.resync(k)

    def op_srandmember(self):
        k = self.rnd.choice(KEYS)
        before = self.members(self.o, k)
        if self.rnd.random() < 0.2:
            a, b = self.both(b'SRANDMEMBER', k)
            vb = cbtest.parse(b)
            ok = (a == b) if not before else vb in before
        else:
            count = self.rnd.randint(-len(before) - 3, len(before) + 3)
            a, b = self.both(b'SRANDMEMBER', k, str(count).encode())
            vb = cbtest.parse(b)
            if not before or count == 0:
                ok = a == b
            elif count > 0:
                n = min(count, len(before))
                ok = len(vb) == n and len(set(vb)) == n and set(vb) <= set(before)
                if count >= len(before):
                    ok = ok and canon(a) == canon(b)
            else:
                ok = len(vb) == -count and set(vb) <= set(before)
        if ok:
            self.ok()
        else:
            self.fail('SRANDMEMBER %r' % k, a, b)

    def distribution(self):
        """SRANDMEMBER's spread over a 10-member set of each encoding, as
        Redis's own test checks it: chi-square below 40 (df 9, p 1e-5) for a
        negative count and for repeated distinct draws of 8 and of 2."""
        for mem in ([str(v).encode() for v in range(10)], [b'd%d' % v for v in range(10)]):
            self.c.cmd(b'DEL', b'dist')
            self.c.cmd(b'SADD', b'dist', *mem)
            samples = [cbtest.parse(self.c.cmd(b'SRANDMEMBER', b'dist', b'-1000'))]
            for size in (8, 2):
                drawn = []
                for _ in range(1000 // size):
                    drawn += cbtest.parse(self.c.cmd(b'SRANDMEMBER', b'dist', str(size).encode()))
                samples.append(drawn)
            for drawn in samples:
                exp = len(drawn) / len(mem)
                chi = sum((drawn.count(m) - exp) ** 2 / exp for m in mem)
                if chi < 40:
                    self.ok()
                else:
                    self.fail('SRANDMEMBER distribution chi2 %.1f' % chi)
            self.c.cmd(b'DEL', b'dist')

    def op_config(self):
        self.threshold = self.rnd.choice(THRESHOLDS)
        self.same([b'CONFIG', b'SET', b'set-max-intset-entries', str(self.threshold).encode()])

    def op_misc(self):
        r = self.rnd.random()
        if r < 0.3:
            self.same([b'DEL', self.key()])
        elif r < 0.5:
            self.same([b'SET', STR_KEY, b'v'])
        elif r < 0.8:
            self.same([b'DEBUG', b'DIGEST'])
        else:
            k = self.rnd.choice(KEYS)
            self.same([b'DEBUG', b'DIGEST-VALUE', k])

    def op_resp(self):
        self.resp = 5 - self.resp
        self.both(b'HELLO', str(self.resp).encode())

    # ------------------------------------------------------------ driver
    def run(self):
        args = ('--enable-debug-command', 'yes')
        extra = tuple(os.environ.get('CACHEBOX_EXTRA_ARGS', '').split())
        oracle = cbtest.Server('redis', args=args)
        cbox = cbtest.Server('cachebox', args=args + extra)
        ops = [(self.op_sadd, 25), (self.op_srem, 10), (self.op_read, 20),
               (self.op_algebra, 10), (self.op_sintercard, 4), (self.op_smove, 6),
               (self.op_sscan, 4), (self.op_spop, 8), (self.op_srandmember, 6),
               (self.op_config, 2), (self.op_misc, 3), (self.op_resp, 1)]
        table = [f for f, w in ops for _ in range(w)]
        try:
            self.o, self.c = oracle.raw(timeout=20), cbox.raw(timeout=20)
            self.both(b'FLUSHALL')
            for self.step in range(self.ops):
                self.rnd.choice(table)()
                if not cbox.alive():
                    self.fail('cachebox died')
                    break
            self.both(b'CONFIG', b'SET', b'set-max-intset-entries', b'512')
            self.distribution()
        finally:
            for srv in (oracle, cbox):
                srv.cleanup()
        print('%d passed, %d failed' % (self.passed, self.failed))
        return 1 if self.failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=20260701)
    ap.add_argument('--ops', type=int, default=4000)
    a = ap.parse_args()
    t0 = time.time()
    run = Run(a.seed, a.ops)
    rc = run.run()
    print('seed %d, %d ops, %.1fs, encodings met: %s' %
          (a.seed, a.ops, time.time() - t0, run.seen), file=sys.stderr)
    return rc


if __name__ == '__main__':
    sys.exit(main())
