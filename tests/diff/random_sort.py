#!/usr/bin/env python3
"""random_sort — seeded randomized differential test of SORT and SORT_RO.

Starts cachebox and the oracle (Debian's redis-server 7.0) with small
set-max-intset-entries / zset-max-listpack-entries, builds random lists,
sets and sorted sets (numeric members, and mixed numeric/word members),
weight strings w_<e>, ALPHA weight strings n_<e> and hashes h_<e>, then
sends the same random mix of writes and SORT variants (BY pattern / hash
field / nosort, GET #, keys and hash fields, LIMIT, ASC/DESC, ALPHA,
STORE) to both over a RESP2 and a RESP3 connection and compares replies.
Replies whose order Redis leaves to its hash table (a hashtable set read
BY nosort) are compared as multisets, or by length under LIMIT. ALPHA
weights are unique and always present, since Redis leaves ties of ALPHA BY
weights unordered. Values strtod would overflow are never used: Redis
never clears errno before strtod, so one would poison later sorts.
Every 500 commands the DEBUG DIGEST of both datasets must agree.
Prints a final "N passed, N failed" line; exit status 1 on any failure.
Usage: /usr/bin/python3 tests/diff/random_sort.py [--seed N] [--count N]
"""
import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
import cbtest  # noqa: E402

NUMS = ['0', '1', '2', '3', '5', '7', '10', '11', '-1', '-5', '2.5', '-0', '1e2', '0x1A',
        '100', '42', '12', '13', '99', '-20', '3.5', '8', '9', '6', '4', '15']
WORDS = ['a', 'b', 'c', 'apple', 'pear', 'x1', 'zz', 'Mango', 'kiwi', 'nan', 'fig', 'e']
ALL = NUMS + WORDS
WEIGHTS = ['1', '2', '3', '0', '-4', '2.5', '10', '1e1', 'abc', '', ' 7', '0x10', '5', '5']


class Run:
    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.numkeys = ['ln', 'sn', 'zn']
        self.mixkeys = ['lm', 'sm', 'zm']
        self.src = self.numkeys + self.mixkeys + ['nokey', 'str']
        self.passed = self.failed = 0

    def member(self, k):
        return self.rnd.choice(NUMS if k in self.numkeys else ALL)

    def setup(self):
        """Unique, always present ALPHA weights (n_ keys, field g)."""
        cmds = [['SET', 'str', 'x']]
        for i, e in enumerate(ALL):
            tag = '%s%03d' % (self.rnd.choice('pqrs'), (i * 37) % 101)
            cmds.append(['SET', 'n_' + e, tag])
            cmds.append(['HSET', 'h_' + e, 'g', tag[::-1] + e, 'f', self.rnd.choice(WEIGHTS)])
        return cmds

    def write(self):
        r = self.rnd
        c = r.randint(0, 14)
        k = r.choice(self.numkeys + self.mixkeys)
        t = k[0]
        if c < 6:
            n = r.randint(1, 10)
            ms = [self.member(k) for _ in range(n)]
            if t == 'l':
                return [r.choice(['RPUSH', 'LPUSH']), k] + ms
            if t == 's':
                return ['SADD', k] + ms
            args = ['ZADD', k]
            for m in ms:
                args += [str(r.randint(-5, 5)), m]
            return args
        if c < 9:
            n = r.randint(1, 8)
            ms = [self.member(k) for _ in range(n)]
            if t == 'l':
                return ['LPOP', k, str(n)]
            return ['SREM' if t == 's' else 'ZREM', k] + ms
        if c < 11:
            e = r.choice(ALL)
            if r.random() < 0.2:
                return ['DEL', 'w_' + e]
            return ['SET', 'w_' + e, r.choice(WEIGHTS)]
        if c < 12:
            return ['HSET', 'h_' + r.choice(ALL), 'f', r.choice(WEIGHTS)]
        if c < 13:
            return ['CONFIG', 'SET', r.choice(['set-max-intset-entries',
                                               'zset-max-listpack-entries']),
                    str(r.choice([4, 8, 16, 128]))]
        return ['DEL', k]

    def sort_cmd(self):
        r = self.rnd
        k = r.choice(self.src)
        ro = r.random() < 0.25
        args = ['SORT_RO' if ro else 'SORT', k]
        opts = []
        by = None
        x = r.random()
        if x < 0.25:
            by = 'nosort'
        elif x < 0.45:
            by = 'w_*'
        elif x < 0.55:
            by = 'h_*->f'
        elif x < 0.65:
            by = r.choice(['n_*', 'h_*->g'])
        elif x < 0.68:
            by = r.choice(['nokey_*', 'h_*->nofield', 'constant'])
        alpha = r.random() < 0.35 or by in ('n_*', 'h_*->g')
        if alpha and by in ('w_*', 'h_*->f', 'nokey_*', 'h_*->nofield'):
            by = 'n_*'
        if by:
            opts.append(['BY', by])
        if alpha:
            opts.append(['ALPHA'])
        if r.random() < 0.5:
            opts.append([r.choice(['ASC', 'DESC'])])
        if r.random() < 0.35:
            opts.append(['LIMIT', str(r.randint(-2, 12)), str(r.randint(-2, 12))])
        for _ in range(r.choice([0, 0, 0, 1, 1, 2, 3])):
            opts.append(['GET', r.choice(['#', 'w_*', 'n_*', 'h_*->f', 'h_*->g', 'nokey_*',
                                          'h_*->nofield', 'fixed'])])
        store = None
        if not ro and r.random() < 0.3:
            # Only plain members go back into the source lists: GET values
            # have no unique ALPHA weights.
            plain = not any(o[0] == 'GET' for o in opts)
            store = r.choice(['dst', 'dst', 'ln', 'lm'] if plain else ['dst'])
            opts.append(['STORE', store])
        r.shuffle(opts)
        for o in opts:
            args += o
        limited = any(o[0] == 'LIMIT' for o in opts)
        return args, by, store, limited

    def compare(self, conns, args, mode='exact'):
        got = []
        self.hist = (getattr(self, 'hist', []) + [args])[-int(os.environ.get('HIST', '1')):]
        for side in (0, 1):
            rep = conns[side].cmd(*args)
            if mode != 'exact':
                p = cbtest.parse(rep)
                if isinstance(p, list):
                    rep = len(p) if mode == 'len' else sorted(repr(v) for v in p)
                else:
                    rep = repr(p)
            got.append(rep)
        if got[0] == got[1]:
            self.passed += 1
            return True
        self.failed += 1
        if self.failed <= 15:
            for h in self.hist[:-1]:
                print('  after %r' % (h,))
            print('MISMATCH %r\n    redis:    %r\n    cachebox: %r' % (args, got[0], got[1]))
        return False

    def run(self, count):
        servers = [cbtest.Server('redis', args=('--enable-debug-command', 'yes')),
                   cbtest.Server('cachebox', args=('--enable-debug-command', 'yes') +
                                 tuple(os.environ.get('CACHEBOX_EXTRA_ARGS', '').split()))]
        try:
            pairs = []
            init = self.setup()
            for s in servers:
                c2 = cbtest.RawConn(s.host, s.port)
                c3 = cbtest.RawConn(s.host, s.port)
                c3.cmd('HELLO', '3')
                c2.cmd('CONFIG', 'SET', 'set-max-intset-entries', '8')
                c2.cmd('CONFIG', 'SET', 'zset-max-listpack-entries', '8')
                for a in init:
                    c2.cmd(*a)
                pairs.append((c2, c3))
            r2 = [p[0] for p in pairs]
            for i in range(count):
                if self.rnd.random() < 0.45:
                    self.compare(r2, self.write())
                else:
                    args, by, store, limited = self.sort_cmd()
                    conns = [p[1] for p in pairs] if self.rnd.random() < 0.25 else r2
                    mode = 'exact'
                    if by and '*' not in by and store is None and args[1][0] == 's':
                        enc = cbtest.parse(r2[0].cmd('OBJECT', 'ENCODING', args[1]))
                        if enc == b'hashtable':
                            mode = 'len' if limited else 'multiset'
                    self.compare(conns, args, mode)
                    if store:
                        self.compare(r2, ['LRANGE', store, '0', '-1'])
                        self.compare(r2, ['TYPE', store])
                    if args[1][0] == 'z':
                        self.compare(r2, ['OBJECT', 'ENCODING', args[1]])
                if i % 500 == 499:
                    self.compare(r2, ['DEBUG', 'DIGEST'])
            for k in self.numkeys + self.mixkeys:
                self.compare(r2, ['TYPE', k])
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
