r"""random_stream — seeded randomized differential test of the stream commands.

Starts Debian's redis-server 7.0 (the oracle) and cachebox on free ports and
sends both the same few thousand random XADD / XDEL / XTRIM / XRANGE /
XREVRANGE / XLEN / XSETID / XINFO STREAM commands over RESP2 and RESP3,
with stream-node-max-entries and stream-node-max-bytes changing as it goes
so that node boundaries (which decide what MAXLEN ~ / MINID ~ remove) move.
IDs are explicit or "ms-*" (auto IDs carry the clock). Every reply is
compared byte for byte, except XINFO STREAM's radix-tree-nodes, which
depends on Redis's radix tree layout and is masked on both sides.

The oracle itself (redis-server 7.0.15) corrupts stream listpacks under
random load when stream-node-max-bytes is tiny (50, 300) or entries carry
values of a few KB: an entry of another key shows up in the stream, then
listpack.c asserts. So values stay at most 700 bytes and
stream-node-max-bytes takes 0 or 4096 here; stream.cmds covers small
stream-node-max-bytes settings with short, deterministic runs.

Usage: /usr/bin/python3 tests/diff/random_stream.py [--seed N] [--ops N]
Prints each mismatch and a final "N passed, N failed" line; exit 1 on any
failure.
"""
import argparse
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
import cbtest  # noqa: E402

ARGS = ('--enable-debug-command', 'yes')
KEYS = [b's%d' % i for i in range(4)]


class Gen:
    def __init__(self, rng):
        self.r = rng
        self.top = {k: 0 for k in KEYS}

    def val(self):
        r = self.r.random()
        if r < 0.4:
            return b'v%d' % self.r.randrange(100)
        if r < 0.7:
            return str(self.r.choice([0, 7, 127, 128, -5, 4095, 70000, 2 ** 40])).encode()
        if r < 0.8:
            return self.r.choice([b'', b'007', b'-0', b'1.5'])
        return b'x' * self.r.choice([10, 63, 64, 200, 700])

    def fields(self):
        if self.r.random() < 0.6:
            names = [b'f', b'g'][:self.r.choice([1, 2])]
        else:
            names = [b'h%d' % self.r.randrange(4) for _ in range(self.r.randrange(1, 4))]
        out = []
        for n in names:
            out += [n, self.val()]
        return out

    def some_id(self, k):
        t = max(self.top[k], 1)
        return b'%d-%d' % (self.r.randrange(0, t + 3), self.r.randrange(0, 3))

    def range_id(self, k, end):
        r = self.r.random()
        if r < 0.15:
            return b'+' if end else b'-'
        i = self.r.randrange(0, self.top[k] + 3)
        if r < 0.4:
            return b'%d' % i
        if r < 0.55:
            return b'(%d-%d' % (i, self.r.randrange(0, 3))
        return b'%d-%d' % (i, self.r.randrange(0, 3))

    def trim_opts(self, k):
        r = self.r
        if r.random() < 0.5:
            opt = [b'MAXLEN']
            arg = b'%d' % r.randrange(0, 300)
        else:
            opt = [b'MINID']
            arg = self.some_id(k)
        mode = r.choice([[], [b'='], [b'~'], [b'~']])
        out = opt + mode + [arg]
        if mode == [b'~'] and r.random() < 0.4:
            out += [b'LIMIT', b'%d' % r.choice([0, 1, 50, 100, 150, 1000])]
        return out

    def group_command(self, k):
        r = self.r
        g = r.choice([b'g1', b'g2'])
        cons = r.choice([b'c1', b'c2', b'c3'])
        w = r.random()
        if w < 0.12:
            return [b'XGROUP', b'CREATE', k, g, r.choice([b'0', b'$', self.some_id(k)])] + \
                r.choice([[], [b'MKSTREAM'], [b'ENTRIESREAD', b'%d' % r.randrange(-1, 20)]])
        if w < 0.17:
            return [b'XGROUP', b'SETID', k, g, r.choice([b'0', b'$', self.some_id(k)])]
        if w < 0.2:
            return [b'XGROUP', r.choice([b'DELCONSUMER', b'CREATECONSUMER']), k, g, cons]
        if w < 0.22:
            return [b'XGROUP', b'DESTROY', k, g]
        if w < 0.55:
            cmd = [b'XREADGROUP', b'GROUP', g, cons]
            if r.random() < 0.5:
                cmd += [b'COUNT', b'%d' % r.randrange(0, 6)]
            if r.random() < 0.1:
                cmd += [b'NOACK']
            return cmd + [b'STREAMS', k, r.choice([b'>', b'>', b'0', self.some_id(k)])]
        if w < 0.62:
            return [b'XCLAIM', k, g, cons, r.choice([b'0', b'100000000'])] + \
                [self.some_id(k) for _ in range(r.randrange(1, 4))] + \
                r.choice([[], [b'JUSTID'], [b'FORCE'], [b'RETRYCOUNT', b'3'], [b'FORCE', b'JUSTID']])
        if w < 0.67:
            cmd = [b'XAUTOCLAIM', k, g, cons, r.choice([b'0', b'100000000']),
                   r.choice([b'0', b'-', self.some_id(k)])]
            if r.random() < 0.6:
                cmd += [b'COUNT', b'%d' % r.randrange(1, 6)]
            return cmd + r.choice([[], [b'JUSTID']])
        if w < 0.75:
            return [b'XACK', k, g] + [self.some_id(k) for _ in range(r.randrange(1, 4))]
        if w < 0.9:
            return [b'XPENDING', k, g]
        return [b'XINFO', b'GROUPS', k]

    def command(self):
        r = self.r
        k = r.choice(KEYS)
        w = r.random()
        if w < 0.5:
            self.top[k] += r.choice([0, 1, 1, 1, 2, 5])
            t = self.top[k]
            idr = r.random()
            if idr < 0.5:
                idarg = b'%d-*' % t
            elif idr < 0.9:
                idarg = b'%d-%d' % (t, r.randrange(0, 4))
            else:
                idarg = self.some_id(k)
            opts = []
            if r.random() < 0.05:
                opts.append(b'NOMKSTREAM')
            if r.random() < 0.25:
                opts += self.trim_opts(k)
            return [b'XADD', k] + opts + [idarg] + self.fields()
        if w < 0.6:
            return [b'XDEL', k] + [self.some_id(k) for _ in range(r.randrange(1, 5))]
        if w < 0.67:
            return [b'XTRIM', k] + self.trim_opts(k)
        if w < 0.85:
            rev = r.random() < 0.4
            a, b = self.range_id(k, False), self.range_id(k, True)
            cmd = [b'XREVRANGE', k, b, a] if rev else [b'XRANGE', k, a, b]
            if r.random() < 0.5:
                cmd += [b'COUNT', b'%d' % r.randrange(-1, 20)]
            return cmd
        if w < 0.9:
            return [b'XLEN', k]
        if w < 0.93:
            return [b'XINFO', b'STREAM', k]
        if w < 0.935:
            return self.group_command(k)
        if w < 0.95:
            self.top[k] += r.randrange(0, 3)
            cmd = [b'XSETID', k, b'%d-%d' % (self.top[k], r.randrange(0, 3))]
            if r.random() < 0.3:
                cmd += [b'ENTRIESADDED', b'%d' % r.randrange(0, 500)]
            return cmd
        if w < 0.965:
            return self.group_command(k)
        if w < 0.97:
            return [b'CONFIG', b'SET', b'stream-node-max-entries',
                    b'%d' % r.choice([0, 1, 3, 10, 100, 100, 100])]
        if w < 0.99:
            return [b'CONFIG', b'SET', b'stream-node-max-bytes',
                    b'%d' % r.choice([0, 4096, 4096])]
        return [b'DEL', k]


MASK = re.compile(rb'(radix-tree-nodes\r\n:)\d+')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=int(os.environ.get('SEED', '20261126')))
    ap.add_argument('--ops', type=int, default=20000)
    opts = ap.parse_args()
    extra = tuple(os.environ.get('CACHEBOX_EXTRA_ARGS', '').split())
    rng = random.Random(opts.seed)
    gen = Gen(rng)
    oracle = cbtest.Server('redis', args=ARGS)
    cbox = cbtest.Server('cachebox', args=ARGS + extra)
    passed = failed = 0
    try:
        o2 = cbtest.RawConn(oracle.host, oracle.port)
        c2 = cbtest.RawConn(cbox.host, cbox.port)
        o3 = cbtest.RawConn(oracle.host, oracle.port)
        c3 = cbtest.RawConn(cbox.host, cbox.port)
        o3.cmd('HELLO', '3')
        c3.cmd('HELLO', '3')
        for n in range(opts.ops):
            args = gen.command()
            oc, cc = (o3, c3) if rng.random() < 0.25 else (o2, c2)
            try:
                a = oc.cmd(*args)
                b = cc.cmd(*args)
            except cbtest.ConnectionClosed as e:
                failed += 1
                print('MISMATCH #%d %r: connection closed: %s' % (n, [x[:40] for x in args], e))
                log = oracle.log(); i = log.find('BUG REPORT START'); print('oracle log:', log[i:i + 1500] if i >= 0 else log[-500:])
                break
            if args[0] == b'XINFO':
                a, b = MASK.sub(rb'\1?', a), MASK.sub(rb'\1?', b)
            if a == b:
                passed += 1
            else:
                failed += 1
                print('MISMATCH #%d %r' % (n, [x[:40] for x in args]))
                print('    redis:    %r' % a[:3000])
                print('    cachebox: %r' % b[:3000])
                if failed >= 20:
                    print('too many failures, stopping')
                    break
        for k in KEYS:
            a = o2.cmd('DEBUG', 'DIGEST-VALUE', k)
            b = c2.cmd('DEBUG', 'DIGEST-VALUE', k)
            if a == b:
                passed += 1
            else:
                failed += 1
                print('MISMATCH final digest of %r' % k)
        print('seed %d, %d commands' % (opts.seed, opts.ops))
        print('%d passed, %d failed' % (passed, failed))
        return 1 if failed else 0
    finally:
        oracle.stop()
        cbox.stop()
        oracle.cleanup()
        cbox.cleanup()


if __name__ == '__main__':
    sys.exit(main())
