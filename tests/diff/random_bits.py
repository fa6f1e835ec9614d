#!/usr/bin/env python3
"""random_bits — seeded randomized differential test of the bit and
HyperLogLog commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
BITFIELD_RO, PFADD, PFCOUNT, PFMERGE, PFDEBUG, plus GET of the values so
every byte of a bitmap or a sketch (sparse or dense, cached cardinality
included) is compared. Both servers get the same stream; every reply must be
equal (errors compared by text). Sketches grow past hll-sparse-max-bytes
(which the stream also changes) so sparse->dense promotion is exercised.
No command here has a random result, so nothing needs re-syncing.

Usage: /usr/bin/python3 tests/diff/random_bits.py [--seed N] [--ops N]
Prints "N passed, N failed"; exit status 1 on any mismatch.
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
import cbtest  # noqa: E402
import redis  # noqa: E402

BITKEYS = ['b%d' % i for i in range(5)]
PFKEYS = ['p%d' % i for i in range(5)]


def call(r, args):
    try:
        return ('ok', r.execute_command(*args))
    except redis.ResponseError as e:
        return ('err', str(e))


def rand_offset(rng):
    x = rng.random()
    if x < 0.6:
        return rng.randrange(0, 256)
    if x < 0.9:
        return rng.randrange(0, 4096)
    return rng.randrange(0, 100000)


def rand_int(rng, bits):
    x = rng.random()
    if x < 0.3:
        return rng.randrange(-4, 5)
    if x < 0.6:
        return rng.randrange(-(1 << bits), 1 << bits)
    if x < 0.8:
        return rng.choice([2**63 - 1, -2**63, 2**62, -2**62, (1 << bits) - 1,
                           -(1 << (bits - 1)), 1 << (bits - 1)])
    return rng.randrange(-2**63, 2**63)


def rand_type(rng):
    if rng.random() < 0.02:
        return rng.choice(['u64', 'i65', 'x8', 'u0']), 8  # invalid
    sign = rng.choice('iu')
    x = rng.random()
    if x < 0.5:
        bits = rng.choice([1, 2, 3, 4, 5, 7, 8, 16])
    else:
        bits = rng.randrange(1, 65 if sign == 'i' else 64)
    return '%s%d' % (sign, bits), bits


def rand_range_args(rng, nargs_max):
    out = []
    n = rng.choice([0, 2, 2, 2, 3])
    if n >= 2:
        out = [rng.randrange(-40, 60), rng.randrange(-40, 60)]
        if n == 3:
            out.append(rng.choice(['BIT', 'BYTE', 'bit', 'byte']))
    return out[:nargs_max]


def rand_bitfield(rng, ro):
    args = []
    for _ in range(rng.randrange(1, 5)):
        x = rng.random()
        t, bits = rand_type(rng)
        off = rand_offset(rng)
        offs = ('#%d' % (off // max(bits, 1) % 300)) if rng.random() < 0.2 else off
        if x < 0.15 and not ro:
            args += ['OVERFLOW', rng.choice(['WRAP', 'SAT', 'FAIL'])]
        elif x < 0.5 or ro:
            args += ['GET', t, offs]
        elif x < 0.75:
            args += ['SET', t, offs, rand_int(rng, bits)]
        else:
            args += ['INCRBY', t, offs, rand_int(rng, bits)]
    return args


def gen(rng, pool):
    x = rng.random()
    bk = rng.choice(BITKEYS)
    pk = rng.choice(PFKEYS)
    anyk = rng.choice(BITKEYS + PFKEYS)
    if x < 0.12:
        return ['SETBIT', bk, rand_offset(rng), rng.choice([0, 1, 1])]
    if x < 0.18:
        return ['GETBIT', anyk, rand_offset(rng)]
    if x < 0.25:
        return ['BITCOUNT', anyk] + rand_range_args(rng, 3)
    if x < 0.32:
        a = ['BITPOS', anyk, rng.choice([0, 1])]
        n = rng.choice([0, 1, 2, 3])
        if n >= 1:
            a.append(rng.randrange(-30, 40))
        if n >= 2:
            a.append(rng.randrange(-30, 40))
        if n == 3:
            a.append(rng.choice(['BIT', 'BYTE']))
        return a
    if x < 0.38:
        op = rng.choice(['AND', 'OR', 'XOR', 'NOT'])
        srcs = [rng.choice(BITKEYS)] if op == 'NOT' else \
            [rng.choice(BITKEYS) for _ in range(rng.randrange(1, 4))]
        return ['BITOP', op, rng.choice(BITKEYS)] + srcs
    if x < 0.48:
        return ['BITFIELD', bk] + rand_bitfield(rng, False)
    if x < 0.51:
        return ['BITFIELD_RO', anyk] + rand_bitfield(rng, True)
    if x < 0.54:
        return rng.choice([['SET', bk, rng.choice(['abc', '12345', '', 'x' * 50])],
                           ['APPEND', bk, '\xff\x00'],
                           ['DEL', bk]])
    if x < 0.58:
        return ['GET', anyk]
    if x < 0.75:
        n = rng.choice([0, 1, 3, 10, 50, 200])
        return ['PFADD', pk] + [rng.choice(pool) for _ in range(n)]
    if x < 0.84:
        keys = [pk] if rng.random() < 0.5 else \
            [rng.choice(PFKEYS) for _ in range(rng.randrange(2, 4))]
        return ['PFCOUNT'] + keys
    if x < 0.89:
        return ['PFMERGE', pk] + [rng.choice(PFKEYS) for _ in range(rng.randrange(0, 3))]
    if x < 0.93:
        return ['PFDEBUG', rng.choice(['ENCODING', 'DECODE', 'TODENSE']), pk]
    if x < 0.97:
        return ['GET', pk]
    if x < 0.98:
        return ['CONFIG', 'SET', 'hll-sparse-max-bytes',
                rng.choice([0, 30, 200, 1000, 3000, 5000])]
    if x < 0.99:
        return ['DEL', pk]
    return ['PFADD', bk, 'a']  # a bitmap is not a sketch


def main():
    seed = 1234
    ops = 12000
    argv = sys.argv[1:]
    for i, a in enumerate(argv):
        if a == '--seed':
            seed = int(argv[i + 1])
        if a == '--ops':
            ops = int(argv[i + 1])
    rng = random.Random(seed)
    pool = ['el%d' % i for i in range(6000)] + [bytes([i]) for i in range(256)]
    extra = tuple(os.environ.get('CACHEBOX_EXTRA_ARGS', '').split())
    oracle = cbtest.Server('redis')
    cbox = cbtest.Server('cachebox', args=extra)
    passed = failed = errors = dense = 0
    try:
        ro, rc = oracle.redis(), cbox.redis()
        for i in range(ops):
            args = gen(rng, pool)
            a, b = call(ro, args), call(rc, args)
            if a == b:
                passed += 1
                if a[0] == 'err':
                    errors += 1
                elif a[1] in (b'dense', 'dense'):
                    dense += 1
                continue
            failed += 1
            if failed <= 10:
                shown = [str(x)[:60] for x in args[:8]]
                print('MISMATCH #%d seed %d: %s' % (i, seed, ' '.join(shown)))
                print('    redis:    %r' % (a,)[:300])
                print('    cachebox: %r' % (b,)[:300])
        # Final state: every value byte for byte.
        for k in BITKEYS + PFKEYS:
            a, b = call(ro, ['GET', k]), call(rc, ['GET', k])
            if a == b:
                passed += 1
            else:
                failed += 1
                print('FINAL MISMATCH %s' % k)
    finally:
        oracle.cleanup()
        cbox.stop()
        # A sanitizer build reports memory errors in the server log.
        log = cbox.log()
        for mark in ('AddressSanitizer', 'LeakSanitizer', 'runtime error:'):
            if mark in log:
                failed += 1
                print('server log reports %s' % mark)
        cbox.cleanup()
    print('(%d error replies, %d PFDEBUG ENCODING dense)' % (errors, dense))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
