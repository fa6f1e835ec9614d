#!/usr/bin/env python3
"""random_zset — seeded randomized differential test of the sorted-set type.

Starts cachebox and the oracle (Debian's redis-server 7.0) with small
zset-max-listpack-* limits (changed now and then with CONFIG SET), sends the
same 20,000 random sorted-set commands (about 4 s) to both over a RESP2 and a
RESP3 connection, and compares every reply byte for byte. Sizes and element
lengths cross the listpack/skiplist thresholds both ways (ZADD grows sets,
ZREM/ZPOP/ZREMRANGE shrink them, the STORE commands rebuild them compactly).
ZRANDMEMBER replies are random: they are checked for validity only (no state
changes, so nothing to re-sync). ZSCAN over skiplist sets runs a full scan on
both and compares the collected pairs as multisets. Every 500 commands the
DEBUG DIGEST of both datasets must agree.
Prints a final "N passed, N failed" line; exit status 1 on any failure.
Usage: /usr/bin/python3 tests/diff/random_zset.py [--seed N] [--count N]
"""
import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import cbtest  # noqa: E402

SCORES = ['0', '1', '2', '3', '-1', '1.5', '-2.5', '10', '100', '0.5', 'inf', '-inf',
          '+inf', '-0', '7', '3.25', '1e3', '42']
RANGE_SCORES = ['-inf', '+inf', '0', '(0', '1', '(1', '2.5', '(3', '10', '(100',
                '-1', '5', '(-inf', '(+inf']
LEX = ['-', '+', '[a', '(a', '[m', '(m', '[e3', '(z', '[', '(', '[zz']


class Run:
    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.keys = ['z1', 'z2', 'z3', 'z4', '{t}a', '{t}b']
        # Lex ranges are only defined when all scores are equal (with mixed
        # scores Redis's skiplist answer depends on its random levels), so
        # lex commands use keys that only ever hold score 0.
        self.lexkeys = ['lx1', 'lx2']
        self.allkeys = self.keys + self.lexkeys
        self.passed = self.failed = 0

    def ele(self):
        r = self.rnd.random()
        if r < 0.08:
            return 'long' + 'x' * self.rnd.randint(14, 40) + str(self.rnd.randint(0, 3))
        if r < 0.13:
            return str(self.rnd.randint(0, 30))
        if r < 0.5:
            return self.rnd.choice('abcdefghijklm')
        return 'e%d' % self.rnd.randint(0, 60)

    def key(self):
        return self.rnd.choice(self.keys)

    def anykey(self):
        return self.rnd.choice(self.allkeys)

    def lexkey(self):
        return self.rnd.choice(self.lexkeys)

    def score(self):
        if self.rnd.random() < 0.2:
            return str(self.rnd.randint(-20, 20))
        return self.rnd.choice(SCORES)

    def command(self):
        r = self.rnd
        k = self.anykey()
        lex = k in self.lexkeys
        c = r.randint(0, 40)
        if c < 10:
            opts = [o for o in ('NX', 'XX', 'GT', 'LT', 'CH', 'INCR') if r.random() < 0.12]
            n = 1 if 'INCR' in opts else r.randint(1, 12)
            args = ['ZADD', k] + opts
            for _ in range(n):
                args += ['0' if lex else self.score(), self.ele()]
            return args
        if c == 10:
            return ['ZINCRBY', k, '0' if lex else self.score(), self.ele()]
        if c == 11:
            return ['ZREM', k] + [self.ele() for _ in range(r.randint(1, 6))]
        if c == 12:
            return r.choice([['ZCARD', k], ['ZSCORE', k, self.ele()],
                             ['ZMSCORE', k, self.ele(), self.ele()]])
        if c == 13:
            return [r.choice(['ZRANK', 'ZREVRANK']), k, self.ele()]
        if c == 14:
            return ['ZCOUNT', k, r.choice(RANGE_SCORES), r.choice(RANGE_SCORES)]
        if c == 15:
            return ['ZLEXCOUNT', self.lexkey(), r.choice(LEX), r.choice(LEX)]
        if c in (16, 17, 18):
            kind = r.choice(['rank', 'score', 'lex'])
            args = ['ZRANGE', k]
            if kind == 'rank':
                args += [str(r.randint(-15, 15)), str(r.randint(-15, 15))]
            elif kind == 'score':
                args += [r.choice(RANGE_SCORES), r.choice(RANGE_SCORES), 'BYSCORE']
            else:
                args = ['ZRANGE', self.lexkey(), r.choice(LEX), r.choice(LEX), 'BYLEX']
            if r.random() < 0.4:
                args.append('REV')
            if kind != 'rank' and r.random() < 0.4:
                args += ['LIMIT', str(r.randint(-1, 5)), str(r.randint(-1, 8))]
            if kind != 'lex' and r.random() < 0.5:
                args.append('WITHSCORES')
            return args
        if c == 19:
            args = [r.choice(['ZRANGEBYSCORE', 'ZREVRANGEBYSCORE']), k,
                    r.choice(RANGE_SCORES), r.choice(RANGE_SCORES)]
            if r.random() < 0.5:
                args.append('WITHSCORES')
            if r.random() < 0.3:
                args += ['LIMIT', str(r.randint(0, 4)), str(r.randint(-1, 6))]
            return args
        if c == 20:
            return [r.choice(['ZRANGEBYLEX', 'ZREVRANGEBYLEX']), self.lexkey(), r.choice(LEX),
                    r.choice(LEX)]
        if c == 21:
            return ['ZREVRANGE', k, str(r.randint(-10, 10)), str(r.randint(-10, 10))] + \
                (['WITHSCORES'] if r.random() < 0.5 else [])
        if c == 22:
            kind = r.random()
            if kind < 0.2:
                # Lex ranges only from and into keys whose scores are all 0.
                args = ['ZRANGESTORE', self.lexkey(), self.lexkey(), r.choice(LEX), r.choice(LEX),
                        'BYLEX']
            else:
                args = ['ZRANGESTORE', self.key(), k, str(r.randint(-10, 10)),
                        str(r.randint(-10, 10))]
                if kind < 0.5:
                    args[3:5] = [r.choice(RANGE_SCORES), r.choice(RANGE_SCORES)]
                    args.append('BYSCORE')
            if r.random() < 0.3:
                args.append('REV')
            if 'BYSCORE' in args or 'BYLEX' in args:
                if r.random() < 0.3:
                    args += ['LIMIT', str(r.randint(0, 4)), str(r.randint(-1, 6))]
            return args
        if c == 23:
            return ['ZREMRANGEBYRANK', k, str(r.randint(-8, 8)), str(r.randint(-8, 8))]
        if c == 24:
            return ['ZREMRANGEBYSCORE', k, r.choice(RANGE_SCORES), r.choice(RANGE_SCORES)]
        if c == 25:
            return ['ZREMRANGEBYLEX', self.lexkey(), r.choice(LEX), r.choice(LEX)]
        if c in (26, 27):
            args = [r.choice(['ZPOPMIN', 'ZPOPMAX']), k]
            if r.random() < 0.6:
                args.append(str(r.randint(0, 6)))
            return args
        if c == 28:
            ks = [self.anykey() for _ in range(r.randint(1, 3))]
            args = ['ZMPOP', str(len(ks))] + ks + [r.choice(['MIN', 'MAX'])]
            if r.random() < 0.5:
                args += ['COUNT', str(r.randint(1, 5))]
            return args
        if c in (29, 30, 31, 32):
            op = r.choice(['ZUNION', 'ZINTER', 'ZDIFF', 'ZUNIONSTORE', 'ZINTERSTORE',
                           'ZDIFFSTORE', 'ZINTERCARD'])
            # Plain sets take part too (members score 1).
            ks = [self.anykey() if r.random() < 0.85 else 'st' for _ in range(r.randint(1, 3))]
            args = [op]
            if op.endswith('STORE'):
                args.append(self.key())
            args += [str(len(ks))] + ks
            if op in ('ZUNION', 'ZINTER', 'ZUNIONSTORE', 'ZINTERSTORE'):
                if r.random() < 0.4:
                    args += ['WEIGHTS'] + [r.choice(['1', '2', '0', '-1', '0.5', '3'])
                                           for _ in ks]
                if r.random() < 0.4:
                    args += ['AGGREGATE', r.choice(['SUM', 'MIN', 'MAX'])]
            if op == 'ZINTERCARD' and r.random() < 0.5:
                args += ['LIMIT', str(r.randint(0, 4))]
            if op in ('ZUNION', 'ZINTER', 'ZDIFF') and r.random() < 0.5:
                args.append('WITHSCORES')
            return args
        if c == 33:
            return ['RANDMEMBER']
        if c == 34:
            return ['SCAN']
        if c == 35:
            return ['OBJECT', 'ENCODING', k]
        if c == 36:
            return ['CONFIG', 'SET', r.choice(['zset-max-listpack-entries',
                                                'zset-max-ziplist-entries']),
                    str(r.choice([0, 1, 4, 8, 16, 128]))]
        if c == 37:
            return ['CONFIG', 'SET', 'zset-max-listpack-value', str(r.choice([4, 16, 64]))]
        if c == 38:
            if r.random() < 0.3:
                # Numbers only, now and then, so the set is sometimes an intset.
                pick = (lambda: str(r.randint(0, 30))) if r.random() < 0.5 else self.ele
                return ['SADD', 'st'] + [pick() for _ in range(r.randint(1, 4))]
            return ['DEL', k]
        if c == 39:
            return ['DEBUG', 'DIGEST-VALUE', k]
        return ['ZCARD', k]

    def fail(self, what, a, b):
        self.failed += 1
        if self.failed <= 20:
            print('MISMATCH %s\n    redis:    %r\n    cachebox: %r' % (what, a[:300], b[:300]))

    def check_randmember(self, conns, k):
        r = self.rnd
        count = r.choice([None, 1, 3, -5, 20, 0])
        ws = count is not None and r.random() < 0.5
        args = ['ZRANDMEMBER', k] + ([str(count)] if count is not None else []) + \
            (['WITHSCORES'] if ws else [])
        ref = cbtest.parse(conns[0][0].cmd('ZRANGE', k, '0', '-1', 'WITHSCORES'))
        members = dict(zip(ref[0::2], ref[1::2])) if isinstance(ref, list) else {}
        ok = True
        for side in (0, 1):
            rep = cbtest.parse(conns[side][0].cmd(*args))
            if isinstance(rep, cbtest.RespError):
                ok = False
                continue
            if count is None:
                ok &= (rep is None) if not members else rep in members
                continue
            items = rep
            if ws:
                pairs = list(zip(items[0::2], items[1::2]))
                ok &= all(members.get(e) == s for e, s in pairs)
                items = [e for e, _ in pairs]
            ok &= all(e in members for e in items)
            if count > 0:
                ok &= len(items) == min(count, len(members)) and len(set(items)) == len(items)
            else:
                ok &= len(items) == (-count if members else 0)
        if ok:
            self.passed += 1
        else:
            self.fail(' '.join(args), b'(valid reply)', b'(invalid reply)')

    def check_scan(self, conns, k):
        got = []
        for side in (0, 1):
            c = conns[side][0]
            cursor, pairs, steps = b'0', [], 0
            while True:
                rep = cbtest.parse(c.cmd('ZSCAN', k, cursor, 'COUNT', str(self.rnd.randint(1, 20))))
                if isinstance(rep, cbtest.RespError):
                    pairs = [repr(rep)]
                    break
                cursor, items = rep
                pairs += list(zip(items[0::2], items[1::2]))
                steps += 1
                if cursor == b'0' or steps > 10000:
                    break
            got.append(sorted(set(pairs)) if pairs and isinstance(pairs[0], tuple) else pairs)
        if got[0] == got[1]:
            self.passed += 1
        else:
            self.fail('ZSCAN %s (full)' % k, repr(got[0]).encode(), repr(got[1]).encode())

    def run(self, count):
        servers = [cbtest.Server('redis', args=('--enable-debug-command', 'yes')),
                   cbtest.Server('cachebox', args=('--enable-debug-command', 'yes') +
                                 tuple(os.environ.get('CACHEBOX_EXTRA_ARGS', '').split()))]
        try:
            conns = []
            for s in servers:
                c2 = cbtest.RawConn(s.host, s.port)
                c3 = cbtest.RawConn(s.host, s.port)
                c3.cmd('HELLO', '3')
                for c in (c2,):
                    c.cmd('CONFIG', 'SET', 'zset-max-listpack-entries', '8')
                    c.cmd('CONFIG', 'SET', 'zset-max-listpack-value', '16')
                conns.append((c2, c3))
            for i in range(count):
                args = self.command()
                if args == ['RANDMEMBER']:
                    self.check_randmember(conns, self.anykey())
                    continue
                if args == ['SCAN']:
                    self.check_scan(conns, self.anykey())
                    continue
                proto = 1 if self.rnd.random() < 0.3 else 0
                a = conns[0][proto].cmd(*args)
                b = conns[1][proto].cmd(*args)
                if a == b:
                    self.passed += 1
                else:
                    self.fail('#%d %s%s' % (i, 'RESP3 ' if proto else '', ' '.join(args)), a, b)
                if i % 500 == 499:
                    a = conns[0][0].cmd('DEBUG', 'DIGEST')
                    b = conns[1][0].cmd('DEBUG', 'DIGEST')
                    if a == b:
                        self.passed += 1
                    else:
                        self.fail('#%d DEBUG DIGEST' % i, a, b)
        finally:
            for s in servers:
                s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=20261126)
    ap.add_argument('--count', type=int, default=20000)
    opts = ap.parse_args()
    t0 = time.time()
    r = Run(opts.seed)
    r.run(opts.count)
    print('seed %d, %.1fs' % (opts.seed, time.time() - t0))
    print('%d passed, %d failed' % (r.passed, r.failed))
    sys.exit(1 if r.failed else 0)


if __name__ == '__main__':
    main()
