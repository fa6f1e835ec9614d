"""Streams in DUMP/RESTORE payloads and RDB files, against Debian's
redis-server 7.0: streams of every shape (plain, with deletions, trimmed,
several groups with PELs and consumers, empty with groups, big ones across
node limits, LZF-compressed nodes) DUMPed by either server RESTORE into the
other with the same XINFO STREAM FULL, XRANGE, XPENDING, XINFO GROUPS /
CONSUMERS and DEBUG DIGEST-VALUE, and re-DUMP to the same bytes; a
pre-7.0 payload (type 15, made from a 7.0 one) restores into both with the
same derived fields; our dump.rdb passes redis-check-rdb and loads into
redis-server, theirs loads at our start-up; corrupt payloads answer
"Bad data format" and never hurt the server.
Run with /usr/bin/python3 (python3-redis).
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from cbtest import CACHEBOX_BIN, Server, is_redis_binary

CHECK_RDB = shutil.which('redis-check-rdb') or '/usr/bin/redis-check-rdb'
DEBUG = ['--enable-debug-command', 'yes', '--stream-node-max-entries', '50']

KEYS = ['plain', 'deleted', 'trimmed', 'groups', 'emptygroups', 'emptied', 'big', 'lzf',
        'numeric']


def populate(r):
    """The same commands on either server give the same streams (IDs are
    explicit; only delivery and seen times differ)."""
    for i in range(1, 51):
        r.xadd('plain', {'name': 'item-%d' % i, 'n': i}, id='%d-0' % (1000 + i))
    for i in range(1, 121):
        r.xadd('deleted', {'a': i} if i % 3 else {'b': i, 'c': 'x'}, id='5-%d' % i)
    r.xdel('deleted', '5-1', '5-2', '5-60', '5-119', *['5-%d' % i for i in range(70, 100)])
    for i in range(1, 400):
        r.xadd('trimmed', {'k': i}, id='%d-%d' % (i // 4 + 1, i % 4))
    r.xtrim('trimmed', maxlen=200, approximate=True)
    r.xtrim('trimmed', minid='60-2')
    for i in range(1, 61):
        r.xadd('groups', {'f': i, 'g': 'v' * (i % 7)}, id='%d-1' % (i * 10))
    r.xgroup_create('groups', 'g1', '0')
    r.xgroup_create('groups', 'g2', '100-1')
    r.execute_command('XGROUP', 'CREATE', 'groups', 'g3', '300-1', 'ENTRIESREAD', 30)
    r.xreadgroup('g1', 'alice', {'groups': '>'}, count=7)
    r.xreadgroup('g1', 'bob', {'groups': '>'}, count=4)
    r.xreadgroup('g1', 'carol', {'groups': '>'}, count=2, noack=True)
    r.xack('groups', 'g1', '20-1', '30-1')
    r.xclaim('groups', 'g1', 'bob', 0, ['40-1', '50-1'])
    r.xreadgroup('g2', 'dave', {'groups': '>'}, count=3)
    r.xgroup_createconsumer('groups', 'g2', 'idle')
    r.xdel('groups', '110-1')
    r.xgroup_create('emptygroups', 'g', '$', mkstream=True)
    r.xgroup_create('emptygroups', 'h', '$')
    r.xgroup_createconsumer('emptygroups', 'h', 'c')
    r.xadd('emptied', {'x': 1}, id='7-7')
    r.xadd('emptied', {'x': 2}, id='7-8')
    r.xgroup_create('emptied', 'g', '0')
    r.xreadgroup('g', 'c', {'emptied': '>'})
    r.xdel('emptied', '7-7', '7-8')
    for i in range(1, 1501):
        fields = {'field-%d' % (i % 3): 'v' * (i % 150), 'seq': i}
        if i % 11 == 0:
            fields['extra'] = 'e' * 300
        r.xadd('big', fields, id='%d-%d' % (i * 7, i % 5))
    for i in range(1, 40):
        r.xadd('lzf', {'payload': 'abcdefgh' * 40, 'i': i}, id='%d-0' % i)
    for i in range(1, 30):
        r.xadd('numeric', {i: -i * 1000, 'neg': -(2 ** 40) * i, 'big': 2 ** 62 + i},
               id='%d-%d' % (2 ** 40 + i, 2 ** 63 + i))


def full(r, k):
    info = r.execute_command('XINFO', 'STREAM', k, 'FULL', 'COUNT', 0)
    d = dict(zip(info[::2], info[1::2]))
    # How many rax nodes a radix tree has depends on its history of
    # inserts, not on the data: the oracle itself differs after RESTORE.
    d.pop(b'radix-tree-nodes', None)
    return d


def pending(r, k):
    out = []
    for g in r.xinfo_groups(k):
        name = g['name']
        summary = r.xpending(k, name)
        ext = r.xpending_range(k, name, '-', '+', 1000)
        out.append((name, summary, [(e['message_id'], e['consumer'], e['times_delivered'])
                                    for e in ext]))
    return out


def state(r, k):
    cons = []
    for g in r.xinfo_groups(k):
        cons.append([(c['name'], c['pending']) for c in r.xinfo_consumers(k, g['name'])])
    groups = [{kk: vv for kk, vv in g.items()} for g in r.xinfo_groups(k)]
    return {
        'full': full(r, k),
        'range': r.xrange(k),
        'revrange': r.xrevrange(k, count=5),
        'len': r.xlen(k),
        'pending': pending(r, k),
        'groups': groups,
        'consumers': cons,
        'digest': r.execute_command('DEBUG', 'DIGEST-VALUE', k),
    }


# ---------------------------------------------------------------- CRC-64

def _crc_table():
    poly = 0x95ac9329ac4bc9b5
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t.append(c)
    return t


CRC_TABLE = _crc_table()


def crc64(data):
    c = 0
    for b in data:
        c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >> 8)
    return c


def with_footer(body):
    """A payload body (type byte + value) with the version and CRC footer."""
    b = body + b'\x0a\x00'
    return b + crc64(b).to_bytes(8, 'little')


# ---------------------------------------------------------------- type 15

class Cursor:
    def __init__(self, b):
        self.b = b
        self.i = 0

    def raw(self, n):
        v = self.b[self.i:self.i + n]
        assert len(v) == n
        self.i += n
        return v

    def length(self):
        start = self.i
        c = self.b[self.i]
        kind = c >> 6
        if kind == 0:
            self.i += 1
        elif kind == 1:
            self.i += 2
        elif c == 0x80:
            self.i += 5
        elif c == 0x81:
            self.i += 9
        else:
            raise ValueError('encoded value where a length belongs')
        return self.b[start:self.i]

    def string(self):
        c = self.b[self.i]
        if c >> 6 == 3:
            n = {0: 1, 1: 2, 2: 4}[c & 0x3f]
            return self.raw(1 + n)
        start = self.i
        hdr = self.length()
        n = _len_value(hdr)
        self.raw(n)
        return self.b[start:self.i]


def _len_value(hdr):
    c = hdr[0]
    if c >> 6 == 0:
        return c & 0x3f
    if c >> 6 == 1:
        return ((c & 0x3f) << 8) | hdr[1]
    return int.from_bytes(hdr[1:], 'big')


def to_type15(payload):
    """Rewrites an uncompressed 7.0 stream DUMP (type 19) as Redis 5/6 wrote
    it (type 15): no first/max-deleted IDs, entries-added or entries-read."""
    assert payload[0] == 19
    c = Cursor(payload[1:-10])
    out = bytearray([15])
    nodes = c.length()
    out += nodes
    for _ in range(_len_value(nodes)):
        out += c.string() + c.string()
    out += c.length() + c.length() + c.length()  # length, last id
    for _ in range(5):
        c.length()  # first id, max deleted id, entries added
    ngroups = c.length()
    out += ngroups
    for _ in range(_len_value(ngroups)):
        out += c.string() + c.length() + c.length()
        c.length()  # entries read
        npel = c.length()
        out += npel
        for _ in range(_len_value(npel)):
            out += c.raw(24) + c.length()
        ncons = c.length()
        out += ncons
        for _ in range(_len_value(ncons)):
            out += c.string() + c.raw(8)
            n = c.length()
            out += n + c.raw(16 * _len_value(n))
    assert c.i == len(c.b)
    return with_footer(bytes(out))


class StreamDump(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = Server('cachebox', args=DEBUG)
        cls.oracle = Server('redis', args=DEBUG)

    @classmethod
    def tearDownClass(cls):
        cls.cb.cleanup()
        cls.oracle.cleanup()

    def setUp(self):
        self.a = self.cb.redis()
        self.b = self.oracle.redis()
        self.a.flushall()
        self.b.flushall()

    def tearDown(self):
        self.a.close()
        self.b.close()

    def cross(self, src, dst):
        populate(src)
        for k in KEYS:
            payload = src.dump(k)
            self.assertTrue(dst.restore(k, 0, payload), k)
            self.assertEqual(state(dst, k), state(src, k), k)
            self.assertEqual(dst.dump(k), payload, k)

    def test_oracle_to_cachebox(self):
        self.cross(self.b, self.a)

    def test_cachebox_to_oracle(self):
        self.cross(self.a, self.b)

    def test_same_commands_same_payload(self):
        # With no groups (no times inside), both servers build the same
        # nodes, so their DUMPs match byte for byte.
        populate(self.a)
        populate(self.b)
        for k in ('plain', 'deleted', 'trimmed', 'big', 'numeric'):
            self.assertEqual(self.a.dump(k), self.b.dump(k), k)
        # And stay in step after a restore: new entries go to the same nodes.
        for k in ('plain', 'big'):
            p = self.b.dump(k)
            self.a.restore(k + '2', 0, p)
            self.b.restore(k + '2', 0, p)
            for i in range(200):
                for r in (self.a, self.b):
                    r.xadd(k + '2', {'more': 'y' * (i % 90)}, id='%d-1' % (20000 + i))
                    r.xtrim(k + '2', maxlen=300, approximate=True)
            self.assertEqual(self.a.xrange(k + '2'), self.b.xrange(k + '2'))
            self.assertEqual(full(self.a, k + '2')[b'length'], full(self.b, k + '2')[b'length'])

    def test_pre_70_payload(self):
        populate(self.b)
        # to_type15 reads uncompressed payloads only.
        self.b.config_set('rdbcompression', 'no')
        olds = {k: to_type15(self.b.dump(k)) for k in KEYS}
        self.b.config_set('rdbcompression', 'yes')
        for k in KEYS:
            old = olds[k]
            self.assertTrue(self.b.restore(k + ':old', 0, old), k)
            self.assertTrue(self.a.restore(k + ':old', 0, old), k)
            self.maxDiff = None
            self.assertEqual(state(self.a, k + ':old'), state(self.b, k + ':old'), k)
            # Written back as 7.0's type.
            self.assertEqual(self.a.dump(k + ':old'), self.b.dump(k + ':old'), k)

    def test_corrupt_payloads(self):
        populate(self.a)
        good = self.a.dump('groups')
        body = good[:-10]
        bad_format = 0
        for cut in list(range(1, len(body), 97)) + [len(body) - 1]:
            for r in (self.a, self.b):
                with self.assertRaisesRegex(Exception, 'Bad data format'):
                    r.restore('x', 0, with_footer(body[:cut]), replace=True)
        if self.cb.is_redis:
            # Without sanitize-dump-payload yes, redis-server takes some of
            # these and then crashes on them: only cachebox must survive.
            return
        for pos in range(1, len(body), 13):
            for delta in (1, 0x80):
                damaged = bytearray(body)
                damaged[pos] ^= delta
                try:
                    self.a.restore('x', 0, with_footer(bytes(damaged)), replace=True)
                    # Accepted: it must be a usable stream.
                    self.a.xrange('x')
                    self.a.xinfo_stream('x', full=True)
                    self.a.dump('x')
                except Exception as e:
                    self.assertIn('Bad data format', str(e))
                    bad_format += 1
        self.assertGreater(bad_format, 0)
        self.assertTrue(self.a.ping())
        # A wrong checksum is the other error, as in Redis.
        with self.assertRaisesRegex(Exception, 'DUMP payload version or checksum are wrong'):
            self.a.restore('x', 0, good[:-1] + bytes([good[-1] ^ 1]), replace=True)


class StreamRdbFiles(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='cbtest-srdb-')
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, kind, *extra):
        srv = Server(kind, args=['--dir', self.dir] + DEBUG + list(extra))
        self.servers.append(srv)
        return srv

    def snapshot(self, srv):
        r = srv.redis()
        try:
            return {k: state(r, k) for k in KEYS}, r.execute_command('DEBUG', 'DIGEST')
        finally:
            r.close()

    def check_rdb(self):
        p = subprocess.run([CHECK_RDB, os.path.join(self.dir, 'dump.rdb')],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 0, out)
        self.assertIn('RDB looks OK', out)
        self.assertIn('%d keys read' % len(KEYS), out)

    def test_our_rdb_loads_into_redis(self):
        a = self.start('cachebox', *([] if is_redis_binary(CACHEBOX_BIN)
                                     else ['--io-workers', '2']))
        r = a.redis()
        populate(r)
        want = self.snapshot(a)
        self.assertEqual(r.execute_command('DEBUG', 'RELOAD'), b'OK')
        self.assertEqual(self.snapshot(a), want)
        r.close()
        a.stop()
        self.check_rdb()
        oracle = self.start('redis')
        self.assertEqual(self.snapshot(oracle), want)

    def test_redis_rdb_loads_at_startup(self):
        oracle = self.start('redis')
        r = oracle.redis()
        populate(r)
        self.assertTrue(r.save())
        want = self.snapshot(oracle)
        r.close()
        oracle.stop()
        cb = self.start('cachebox')
        self.assertEqual(self.snapshot(cb), want)
        self.assertIn('Done loading RDB, keys loaded: %d' % len(KEYS), cb.log())


if __name__ == '__main__':
    unittest.main()
