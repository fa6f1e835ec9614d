#!/usr/bin/env python3
"""random_geo — seeded randomized differential test of the geo commands.

Starts cachebox and the oracle (Debian's redis-server 7.0) with small
zset-max-listpack-* limits (changed now and then with CONFIG SET), sends the
same random geo commands to both over a RESP2 and a RESP3 connection and
compares every reply byte for byte. Points cluster around a few centres
(some near the poles and the antimeridian) plus a world-wide scatter, so
radius and box searches of every size find something; GEOADD grows the sets
past the listpack limits, ZREM/DEL shrink them, and GEOSEARCHSTORE /
GEORADIUS STORE rebuild sets of either encoding. Non-geo ZADD scores test
decoding of arbitrary scores. No command has a random answer, except that
the order of points at equal distances under COUNT (a partial sort on the
oracle) is unspecified; so the test avoids ties: coordinates are random
doubles never clamped to the limits, STOREDIST results (small scores that
decode to nearby corner cells) and non-geo ZADD scores go to keys that are
read but never searched with COUNT. Every 500 commands the DEBUG DIGEST of
both datasets must agree.
Prints a final "N passed, N failed" line; exit status 1 on any failure.
Usage: /usr/bin/python3 tests/diff/random_geo.py [--seed N] [--count N]
"""
import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import cbtest  # noqa: E402

CENTRES = [(13.36, 38.11), (2.35, 48.85), (179.9, 0.5), (-179.9, -0.5), (0.0, 84.9),
           (10.0, -84.5), (-74.0, 40.7), (0.0, 0.0), (151.2, -33.8), (20.0, 70.0)]
UNITS = ['m', 'km', 'ft', 'mi', 'KM', 'Mi']


class Run:
    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.keys = ['g1', 'g2', 'g3', '{t}a', '{t}b']
        # STOREDIST destinations and odd scores: never searched with COUNT.
        self.dkeys = ['{t}d', 'd2', 'odd']
        self.allkeys = self.keys + self.dkeys
        self.passed = self.failed = 0

    def member(self):
        r = self.rnd.random()
        if r < 0.08:
            return 'long' + 'x' * self.rnd.randint(14, 40) + str(self.rnd.randint(0, 3))
        return 'm%d' % self.rnd.randint(0, 80)

    def lonlat(self):
        r = self.rnd
        if r.random() < 0.03:
            return [r.choice(['200', '-181', '1', 'abc']), r.choice(['86', '-90', '1', 'nan'])]
        while True:
            if r.random() < 0.25:
                lon, lat = r.uniform(-180, 180), r.uniform(-85.05112878, 85.05112878)
            else:
                cx, cy = r.choice(CENTRES)
                spread = r.choice([0.01, 0.5, 3.0])
                lon, lat = cx + r.uniform(-spread, spread), cy + r.uniform(-spread, spread)
            lon, lat = round(lon, r.choice([7, 12])), round(lat, r.choice([7, 12]))
            if -180 <= lon <= 180 and -85.05112878 <= lat <= 85.05112878:
                return [repr(lon), repr(lat)]

    def key(self):
        return self.rnd.choice(self.keys)

    def size(self):
        r = self.rnd
        if r.random() < 0.05:
            return r.choice(['0', '-1', 'x'])
        return repr(round(r.choice([0.5, 5, 50, 500, 5000, 20000]) * r.uniform(0.1, 2), 3))

    def search_opts(self, store_ok, nocount):
        r = self.rnd
        args = []
        for o in ('WITHDIST', 'WITHCOORD', 'WITHHASH'):
            if not store_ok and r.random() < 0.35:
                args.append(o)
        if r.random() < 0.5:
            args.append(r.choice(['ASC', 'DESC']))
        if r.random() < 0.4 and not nocount:
            args += ['COUNT', str(r.randint(1, 6))]
            if r.random() < 0.3:
                args.append('ANY')
        r.shuffle(args) if r.random() < 0.2 and 'COUNT' not in args else None
        return args

    def command(self):
        r = self.rnd
        k = self.key()
        if r.random() < 0.1:
            k = r.choice(self.dkeys)
        c = r.randint(0, 30)
        if c < 9:
            opts = [o for o in ('NX', 'XX', 'CH') if r.random() < 0.1]
            args = ['GEOADD', k] + opts
            for _ in range(r.randint(1, 10)):
                args += self.lonlat() + [self.member()]
            return args
        if c == 9:
            return ['ZREM', k] + [self.member() for _ in range(r.randint(1, 12))]
        if c == 10:
            return ['GEOPOS', k] + [self.member() for _ in range(r.randint(1, 4))]
        if c == 11:
            return ['GEOHASH', k] + [self.member() for _ in range(r.randint(1, 4))]
        if c == 12:
            args = ['GEODIST', k, self.member(), self.member()]
            if r.random() < 0.7:
                args.append(r.choice(UNITS))
            return args
        if c in (13, 14, 15, 16):
            store = r.random() < 0.2
            storedist = store and r.random() < 0.4
            dst = r.choice(self.dkeys[:2]) if storedist or k in self.dkeys else self.key()
            if k == 'odd':
                store = storedist = False
            args = ['GEOSEARCHSTORE', dst, k] if store else ['GEOSEARCH', k]
            if r.random() < 0.5:
                args += ['FROMMEMBER', self.member()]
            else:
                args += ['FROMLONLAT'] + self.lonlat()
            if r.random() < 0.5:
                args += ['BYRADIUS', self.size(), r.choice(UNITS)]
            else:
                args += ['BYBOX', self.size(), self.size(), r.choice(UNITS)]
            args += self.search_opts(store, k in self.dkeys)
            if storedist:
                args.append('STOREDIST')
            return args
        if c in (17, 18):
            ro = r.random() < 0.3
            args = ['GEORADIUS_RO' if ro else 'GEORADIUS', k] + self.lonlat() + \
                [self.size(), r.choice(UNITS)]
            store = not ro and r.random() < 0.2
            args += self.search_opts(store, k in self.dkeys)
            if store and r.random() < 0.4:
                args += ['STOREDIST', r.choice(self.dkeys[:2])]
            elif store:
                args += ['STORE', r.choice(self.dkeys[:2]) if k in self.dkeys else self.key()]
            return args
        if c in (19, 20):
            ro = r.random() < 0.3
            args = ['GEORADIUSBYMEMBER_RO' if ro else 'GEORADIUSBYMEMBER', k, self.member(),
                    self.size(), r.choice(UNITS)]
            store = not ro and r.random() < 0.2
            args += self.search_opts(store, k in self.dkeys)
            if store and r.random() < 0.4:
                args += ['STOREDIST', r.choice(self.dkeys[:2])]
            elif store:
                args += ['STORE', r.choice(self.dkeys[:2]) if k in self.dkeys else self.key()]
            return args
        if c == 21:
            return ['ZRANGE', k, '0', '-1', 'WITHSCORES']
        if c == 22:
            return ['OBJECT', 'ENCODING', k]
        if c == 23:
            return ['CONFIG', 'SET', 'zset-max-listpack-entries',
                    str(r.choice([0, 1, 4, 8, 16, 128]))]
        if c == 24:
            return ['CONFIG', 'SET', 'zset-max-listpack-value', str(r.choice([4, 16, 64]))]
        if c == 25:
            return ['DEL', k] if r.random() < 0.5 else ['ZCARD', k]
        if c == 26:
            score = r.choice(['-1', '1.5', '1e300', '4503599627370496', '0', '-0', 'inf',
                              str(r.randint(0, 1 << 52))])
            return ['ZADD', 'odd', score, self.member()]
        if c == 27:
            return ['SET', k, 'str'] if r.random() < 0.2 else ['ZCARD', k]
        if c == 28:
            return ['DEBUG', 'DIGEST-VALUE', k]
        return ['ZCARD', k]

    def fail(self, what, a, b):
        self.failed += 1
        if self.failed <= 20:
            print('MISMATCH %s\n    redis:    %r\n    cachebox: %r' % (what, a[:400], b[:400]))

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
                c2.cmd('CONFIG', 'SET', 'zset-max-listpack-entries', '8')
                c2.cmd('CONFIG', 'SET', 'zset-max-listpack-value', '16')
                conns.append((c2, c3))
            for i in range(count):
                args = self.command()
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
