r"""random_hash — seeded randomized differential test of the hash commands.

Starts Debian's redis-server 7.0 (the oracle) and cachebox on free ports and
sends both the same few thousand random hash commands, over RESP2 and RESP3
connections, with CONFIG SET of hash-max-listpack-entries/-value changing as
it goes, so hashes cross the compact/hashtable threshold (and come back
compact after being emptied and recreated). Every reply is compared:

  - byte for byte by default, with OBJECT ENCODING compared after every
    write, so conversions happen on the same command as in Redis;
  - HGETALL/HKEYS/HVALS of a hashtable as multisets (the oracle's OBJECT
    ENCODING decides: compact hashes must match in order too);
  - HRANDFIELD by its properties against the oracle's HGETALL: the right
    length, fields that exist, distinct fields for a positive count, values
    that belong to their fields (and the exact reply when it is the whole
    compact hash);
  - HSCAN of a hashtable by walking the whole cursor on each server and
    checking that every pair matching the pattern came back, and nothing
    else. HSCAN and HRANDFIELD change nothing, so the servers never drift.

Usage: /usr/bin/python3 tests/diff/random_hash.py [--seed N] [--ops N]
Prints each mismatch and a final "N passed, N failed" line; exit 1 on any
failure.
"""
import argparse
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
import cbtest  # noqa: E402

ARGS = ('--enable-debug-command', 'yes')
KEYS = [b'h%d' % i for i in range(6)]
ORDERED = {b'HGETALL', b'HKEYS', b'HVALS'}
WRITES = {b'HSET', b'HMSET', b'HSETNX', b'HDEL', b'HINCRBY', b'HINCRBYFLOAT'}


class Gen:
    """Random arguments: fields and values of every shape the encodings
    treat differently (integers, near-integers, empty, long)."""

    def __init__(self, rng):
        self.r = rng
        self.maxval = 64

    def blob(self, n):
        return bytes(self.r.choice(b'abcxyz\x00\xff \r\n') for _ in range(n))

    def field(self):
        r = self.r.random()
        if r < 0.55:
            return b'f%d' % self.r.randrange(40)
        if r < 0.75:
            return str(self.r.choice([0, 1, 2, 7, 42, -3, 127, 128, -129, 32768,
                                      2 ** 31, -2 ** 63, 2 ** 63 - 1])).encode()
        if r < 0.85:
            return self.r.choice([b'007', b'-0', b'1.0', b'', b' 1', b'9223372036854775808'])
        if r < 0.97:
            return self.blob(self.r.choice([1, 3, 8]))
        return self.blob(self.r.choice([self.maxval - 1, self.maxval, self.maxval + 1]))

    def value(self):
        r = self.r.random()
        if r < 0.35:
            return b'v%d' % self.r.randrange(1000)
        if r < 0.6:
            return str(self.r.randrange(-10 ** 6, 10 ** 6)).encode()
        if r < 0.7:
            return self.r.choice([b'1.5', b'-0.25', b'1e3', b'', b'abc', b'9223372036854775807'])
        if r < 0.95:
            return self.blob(self.r.choice([0, 2, 5]))
        return self.blob(self.r.choice([self.maxval - 1, self.maxval, self.maxval + 1]))

    def command(self):
        r = self.r
        k = r.choice(KEYS)
        w = r.random()
        if w < 0.22:
            args = [b'HSET', k]
            for _ in range(r.choice([1, 1, 1, 2, 3, 6, 20])):
                args += [self.field(), self.value()]
            return args
        if w < 0.25:
            return [b'HMSET', k, self.field(), self.value(), self.field(), self.value()]
        if w < 0.30:
            return [b'HSETNX', k, self.field(), self.value()]
        if w < 0.37:
            return [b'HGET', k, self.field()]
        if w < 0.40:
            return [b'HMGET', k] + [self.field() for _ in range(r.randrange(1, 5))]
        if w < 0.50:
            return [b'HDEL', k] + [self.field() for _ in range(r.randrange(1, 8))]
        if w < 0.53:
            return [b'HEXISTS', k, self.field()]
        if w < 0.55:
            return [b'HLEN', k]
        if w < 0.57:
            return [b'HSTRLEN', k, self.field()]
        if w < 0.63:
            return [r.choice([b'HGETALL', b'HKEYS', b'HVALS']), k]
        if w < 0.68:
            incr = r.choice([b'1', b'-1', b'100', b'-5000', b'9223372036854775807', b'x'])
            return [b'HINCRBY', k, self.field(), incr]
        if w < 0.72:
            incr = r.choice([b'1.5', b'-0.125', b'3', b'1e10', b'abc', b'-2.5e-3'])
            return [b'HINCRBYFLOAT', k, self.field(), incr]
        if w < 0.80:
            args = [b'HRANDFIELD', k]
            if r.random() < 0.8:
                args.append(str(r.choice([0, 1, 2, 3, 5, 10, 50, 200, -1, -3, -10, -60])).encode())
                if r.random() < 0.5:
                    args.append(b'WITHVALUES')
            return args
        if w < 0.85:
            args = [b'HSCAN', k, b'0']
            if r.random() < 0.5:
                args += [b'COUNT', str(r.choice([1, 3, 10, 100])).encode()]
            if r.random() < 0.4:
                args += [b'MATCH', r.choice([b'f1*', b'*', b'f?', b'[0-9]*', b'*x*'])]
            return args
        if w < 0.88:
            return [b'OBJECT', b'ENCODING', k]
        if w < 0.91:
            return [b'DEBUG', b'DIGEST-VALUE', k]
        if w < 0.945:
            return [b'DEL', k]
        if w < 0.95:
            return [b'TYPE', k]
        if w < 0.97:
            bad = r.choice([[b'HSET', b'str', b'f', b'v'], [b'HGET', b'str', b'f'],
                            [b'HSET', k, b'odd'], [b'HRANDFIELD', k, b'1', b'x'],
                            [b'HSCAN', k, b'abc'], [b'HINCRBY', b'str', b'f', b'1']])
            return bad
        if r.random() < 0.5:
            n = r.choice([0, 1, 4, 8, 16, 32, 32, 64, 64, 128, 512])
            return [b'CONFIG', b'SET', b'hash-max-listpack-entries', str(n).encode()]
        self.maxval = r.choice([0, 4, 16, 32, 64, 64, 64, 1024])
        return [b'CONFIG', b'SET', b'hash-max-ziplist-value', str(self.maxval).encode()]


def sorted_deep(v):
    if isinstance(v, list):
        items = [sorted_deep(x) for x in v]
        return sorted(items, key=repr)
    return v


def pairs_of(flat):
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


class Runner:
    def __init__(self, oracle, cbox, verbose):
        self.o2 = cbtest.RawConn(oracle.host, oracle.port)
        self.c2 = cbtest.RawConn(cbox.host, cbox.port)
        self.o3 = cbtest.RawConn(oracle.host, oracle.port)
        self.c3 = cbtest.RawConn(cbox.host, cbox.port)
        self.o3.cmd('HELLO', '3')
        self.c3.cmd('HELLO', '3')
        self.passed = self.failed = 0
        self.verbose = verbose

    def fail(self, n, args, why, a=b'', b=b''):
        self.failed += 1
        print('MISMATCH #%d %r: %s' % (n, [x[:40] for x in args], why))
        if a or b:
            print('    redis:    %r' % a[:300])
            print('    cachebox: %r' % b[:300])

    def model(self, key):
        """The oracle's contents of key as {field: value}."""
        flat = cbtest.parse(self.o2.cmd('HGETALL', key))
        if isinstance(flat, cbtest.RespError):
            return None
        return dict(pairs_of(flat))

    def encoding(self, key):
        return cbtest.parse(self.o2.cmd('OBJECT', 'ENCODING', key))

    def check_randfield(self, args, resp3, reply, name):
        """None when reply is a valid HRANDFIELD answer, else the reason."""
        v = cbtest.parse(reply)
        if isinstance(v, cbtest.RespError):
            return 'error %r' % v
        h = self.model(args[1])
        if len(args) == 2:
            if not h:
                return None if v is None else 'expected nil'
            return None if v in h else 'field %r not in hash' % v
        count = int(args[2])
        withvalues = len(args) == 4
        if not h or count == 0:
            return None if v == [] else 'expected empty array'
        if withvalues:
            got = [tuple(p) for p in v] if resp3 else pairs_of(v)
            if any(len(p) != 2 for p in got):
                return 'bad pair shape'
        else:
            got = [(f, h.get(f)) for f in v]
        want_len = min(count, len(h)) if count > 0 else -count
        if len(got) != want_len:
            return '%s: %d elements, want %d' % (name, len(got), want_len)
        for f, val in got:
            if f not in h or h[f] != val:
                return '%s: pair %r not in hash' % (name, (f, val))
        if count > 0 and len({f for f, _ in got}) != len(got):
            return '%s: repeated field' % name
        return None

    def full_scan(self, conn, args):
        """Pairs of a whole HSCAN walk with args' options."""
        opts = args[3:]
        cursor, seen, calls = b'0', set(), 0
        while True:
            v = cbtest.parse(conn.cmd(b'HSCAN', args[1], cursor, *opts))
            if isinstance(v, cbtest.RespError):
                return v
            cursor, items = v
            seen.update(pairs_of(items))
            calls += 1
            if cursor == b'0' or calls > 100000:
                return seen

    def check_scan(self, n, args):
        a = self.o2.cmd(*args)
        b = self.c2.cmd(*args)
        if a == b:
            return True
        if self.encoding(args[1]) != b'hashtable':
            self.fail(n, args, 'compact HSCAN differs', a, b)
            return False
        sa, sb = self.full_scan(self.o2, args), self.full_scan(self.c2, args)
        if sa != sb:
            self.fail(n, args, 'full HSCAN walks differ: %d vs %d pairs' % (len(sa), len(sb)))
            return False
        return True

    def step(self, n, args, resp3):
        oc, cc = (self.o3, self.c3) if resp3 else (self.o2, self.c2)
        cmd = args[0]
        if cmd == b'HSCAN' and len(args) >= 3 and args[2] == b'0':
            return self.check_scan(n, args)
        a = oc.cmd(*args)
        b = cc.cmd(*args)
        if cmd == b'HRANDFIELD':
            if a.startswith(b'-') or b.startswith(b'-'):
                if a != b:
                    self.fail(n, args, 'errors differ', a, b)
                    return False
                return True
            for reply, name in ((a, 'redis'), (b, 'cachebox')):
                why = self.check_randfield(args, resp3, reply, name)
                if why:
                    self.fail(n, args, why, a, b)
                    return False
            # The whole compact hash comes back in stored order on both.
            if (len(args) >= 3 and int(args[2]) > 0 and a != b and
                    self.encoding(args[1]) == b'listpack'):
                h = self.model(args[1])
                if h and int(args[2]) >= len(h):
                    self.fail(n, args, 'whole compact hash differs', a, b)
                    return False
            return True
        if a == b:
            return True
        if cmd in ORDERED and self.encoding(args[1]) == b'hashtable':
            pa, pb = cbtest.parse(a), cbtest.parse(b)
            if cmd == b'HGETALL' and not resp3:
                pa, pb = pairs_of(pa), pairs_of(pb)
            if sorted_deep([list(x) if isinstance(x, tuple) else x for x in pa]) == \
                    sorted_deep([list(x) if isinstance(x, tuple) else x for x in pb]):
                return True
        self.fail(n, args, 'replies differ', a, b)
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=int(os.environ.get('SEED', '20260701')))
    ap.add_argument('--ops', type=int, default=8000)
    ap.add_argument('-v', '--verbose', action='store_true')
    opts = ap.parse_args()
    extra = tuple(os.environ.get('CACHEBOX_EXTRA_ARGS', '').split())
    rng = random.Random(opts.seed)
    gen = Gen(rng)
    oracle = cbtest.Server('redis', args=ARGS)
    cbox = cbtest.Server('cachebox', args=ARGS + extra)
    try:
        run = Runner(oracle, cbox, opts.verbose)
        for conn in (run.o2, run.c2):
            conn.cmd('SET', 'str', 'a string')
        for n in range(opts.ops):
            args = gen.command()
            resp3 = rng.random() < 0.25
            try:
                ok = run.step(n, args, resp3)
            except cbtest.ConnectionClosed as e:
                run.fail(n, args, 'connection closed: %s' % e)
                break
            if ok:
                run.passed += 1
            if args[0] in WRITES:
                # Conversions must happen on the same write as in Redis.
                enc = (b'OBJECT', b'ENCODING', args[1])
                if run.step(n, enc, False):
                    run.passed += 1
            if run.failed >= 20:
                print('too many failures, stopping')
                break
        # The datasets must end identical.
        da = run.o2.cmd('DEBUG', 'DIGEST')
        db = run.c2.cmd('DEBUG', 'DIGEST')
        if da == db:
            run.passed += 1
        else:
            run.fail(opts.ops, [b'DEBUG', b'DIGEST'], 'final digests differ', da, db)
        print('seed %d, %d commands' % (opts.seed, opts.ops))
        print('%d passed, %d failed' % (run.passed, run.failed))
        return 1 if run.failed else 0
    finally:
        oracle.stop()
        cbox.stop()
        oracle.cleanup()
        cbox.cleanup()


if __name__ == '__main__':
    sys.exit(main())
