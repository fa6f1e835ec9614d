#!/usr/bin/env python3
r"""random_list — seeded randomized differential test of the list commands.

Starts redis-server 7.0 (the oracle) and cachebox on free ports and sends
both the same few thousand random list commands (pushes, pops with and
without COUNT, ranges, LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS with its
options, LMOVE/RPOPLPUSH, LMPOP, WRONGTYPE cases, RESP2 and RESP3), with
element sizes from small integers to 10 KB strings and changing
list-max-listpack-size / list-compress-depth, so lists grow across many
nodes (and compressed interiors) and shrink back. Every reply is compared
byte for byte; every so often DEBUG DIGEST and full LRANGEs are compared
too. List commands have no random results, so no re-sync is needed.
Prints mismatches and a final "N passed, N failed" line; exit status 1 on
any failure.
Usage: /usr/bin/python3 tests/diff/random_list.py [--seed N] [--ops N]
Environment: CACHEBOX_EXTRA_ARGS="--io-workers 3" as for run_diff.py.
"""
import argparse
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
import cbtest  # noqa: E402

KEYS = ['l1', 'l2', 'l3', '{t}l4', 'nol']
FILLS = ['-2', '-1', '-3', '-5', '1', '2', '4', '16', '128', '0']


def rand_elem(r):
    k = r.random()
    if k < 0.35:
        return str(r.randint(-5, 20))
    if k < 0.45:
        return str(r.choice([127, 128, -129, 32767, 32768, 2 ** 31, -2 ** 63, 2 ** 63 - 1]))
    if k < 0.75:
        return r.choice('abcde') * r.randint(0, 3)
    if k < 0.95:
        return ''.join(r.choice('xyz') for _ in range(r.randint(10, 300)))
    return r.choice('pq') * r.randint(1000, 10000)


def rand_index(r, n):
    k = r.random()
    if k < 0.1:
        return str(r.choice([0, -1, n, -n - 1, 2 ** 63 - 1, -2 ** 63]))
    return str(r.randint(-n - 2, n + 2))


def gen(r, sizes):
    """One random command (a list of strings)."""
    key = r.choice(KEYS)
    n = sizes.get(key, 0)
    other = r.choice(KEYS)
    k = r.random()
    if k < 0.28:
        cmd = r.choice(['LPUSH', 'RPUSH', 'LPUSH', 'RPUSH', 'LPUSHX', 'RPUSHX'])
        return [cmd, key] + [rand_elem(r) for _ in range(r.choice([1, 1, 2, 5, 20, 60, 250]))]
    if k < 0.38:
        cmd = r.choice(['LPOP', 'RPOP'])
        if r.random() < 0.5:
            return [cmd, key]
        return [cmd, key, str(r.choice([0, 1, 2, 5, 50, -1]) if r.random() < 0.9 else 'x')]
    if k < 0.46:
        return ['LRANGE', key, rand_index(r, n), rand_index(r, n)]
    if k < 0.52:
        return ['LINDEX', key, rand_index(r, n)]
    if k < 0.57:
        return ['LSET', key, rand_index(r, n), rand_elem(r)]
    if k < 0.63:
        return ['LINSERT', key, r.choice(['BEFORE', 'AFTER', 'before', 'after']),
                rand_elem(r), rand_elem(r)]
    if k < 0.68:
        return ['LREM', key, str(r.randint(-3, 3)), rand_elem(r)]
    if k < 0.71:
        return ['LTRIM', key, rand_index(r, n), rand_index(r, n)]
    if k < 0.78:
        out = ['LPOS', key, rand_elem(r)]
        for opt in r.sample(['RANK', 'COUNT', 'MAXLEN'], r.randint(0, 3)):
            if opt == 'RANK':
                out += ['RANK', str(r.choice([1, 2, 3, -1, -2, -5]))]
            else:
                out += [opt, str(r.randint(0, 10))]
        return out
    if k < 0.84:
        if r.random() < 0.3:
            return ['RPOPLPUSH', key, other]
        return ['LMOVE', key, other, r.choice(['LEFT', 'RIGHT']), r.choice(['LEFT', 'RIGHT'])]
    if k < 0.89:
        ks = r.sample(KEYS, r.randint(1, 3))
        out = ['LMPOP', str(len(ks))] + ks + [r.choice(['LEFT', 'RIGHT'])]
        if r.random() < 0.6:
            out += ['COUNT', str(r.randint(1, 30))]
        return out
    if k < 0.91:
        return ['LLEN', key]
    if k < 0.93:
        return ['OBJECT', 'ENCODING', key]
    if k < 0.945:
        return ['DEBUG', 'DIGEST-VALUE', key]
    if k < 0.955:
        return ['CONFIG', 'SET', 'list-max-listpack-size', r.choice(FILLS)]
    if k < 0.965:
        return ['CONFIG', 'SET', 'list-compress-depth', str(r.choice([0, 0, 1, 2, 3]))]
    if k < 0.975:
        # WRONGTYPE source: a string in the key space for a while.
        return ['SET', key, 'str']
    if k < 0.985:
        return ['DEL', key]
    return ['HELLO', r.choice(['2', '3'])]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=20261126)
    ap.add_argument('--ops', type=int, default=6000)
    a = ap.parse_args()
    r = random.Random(a.seed)
    extra = tuple(os.environ.get('CACHEBOX_EXTRA_ARGS', '').split())
    oracle = cbtest.Server('redis', args=('--enable-debug-command', 'yes'))
    cachebox = cbtest.Server('cachebox', args=('--enable-debug-command', 'yes') + extra)
    passed = failed = 0
    try:
        co, cc = oracle.raw(timeout=20), cachebox.raw(timeout=20)
        sizes = {}
        peak = 0
        for i in range(a.ops):
            args = gen(r, sizes)
            ro, rc = co.cmd(*args), cc.cmd(*args)
            if args[0] == 'HELLO':
                continue  # carries the connection id
            if ro == rc:
                passed += 1
            else:
                failed += 1
                if failed <= 10:
                    print('MISMATCH op %d: %s' % (i, ' '.join(x[:60] for x in args)))
                    print('    redis:    %r' % ro[:300])
                    print('    cachebox: %r' % rc[:300])
            # Track lengths so indexes stay near the interesting range.
            for key in set(args[1:4]) & set(KEYS):
                try:
                    v = cbtest.parse(co.cmd('LLEN', key))
                    cc.cmd('LLEN', key)
                    sizes[key] = v if isinstance(v, int) else 0
                except Exception:
                    sizes[key] = 0
                peak = max(peak, sizes[key])
            if i % 200 == 199:
                for cmd in [('DEBUG', 'DIGEST')] + [('LRANGE', key, '0', '-1') for key in KEYS]:
                    ro, rc = co.cmd(*cmd), cc.cmd(*cmd)
                    if ro == rc:
                        passed += 1
                    else:
                        failed += 1
                        if failed <= 10:
                            print('MISMATCH check after op %d: %s' % (i, ' '.join(cmd)))
        print('longest list: %d elements' % peak)
    finally:
        oracle.stop()
        cachebox.stop()
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
