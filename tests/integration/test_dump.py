"""DUMP and RESTORE against Debian's redis-server 7.0: a payload DUMPed by
either server RESTOREs into the other with the same DEBUG DIGEST-VALUE,
contents and encoding, for strings (int, embstr, raw, LZF), lists (small and
many compressed nodes), sets (intset and hashtable), hashes (listpack and
hashtable) and sorted sets (listpack and skiplist); payloads whose encoding is deterministic match byte for byte;
and RESTORE's options and errors behave as the oracle's (run on both).
Run with /usr/bin/python3 (python3-redis).
"""
import time
import unittest

from cbtest import Server, for_kinds

ARGS = ['--enable-debug-command', 'yes', '--list-compress-depth', '1']


def populate(r):
    r.set('int', 12345)
    r.set('negint', -7)
    r.set('embstr', 'hello world')
    r.set('raw', ''.join(chr(33 + (i * 37) % 90) for i in range(120)))
    r.set('lzf', 'abc' * 200)
    r.rpush('smalllist', 'a', 'b', 'c', 1, -5, 300, -4000, 70000, 3000000000, 'x' * 100)
    for i in range(60):
        r.rpush('biglist', 'element-%d-%s' % (i, 'y' * 200), i)
    r.sadd('intset', 1, 2, 3, -100, 70000, 5000000000)
    r.sadd('strset', 'a', 'b', 'c', 1, 2)
    r.sadd('bigintset', *range(600))
    r.hset('smallhash', mapping={'f1': 'v1', 'f2': 2, 'f3': -3, 'num': 123456789})
    r.hset('bighash', mapping={'f1': 'z' * 100, 'f2': 'v2'})
    r.hset('widehash', mapping={'f%d' % i: 'v%d' % i for i in range(600)})
    r.zadd('smallzset', {'a': 1, 'b': 2.5, 'c': -0.0, 'd': 0.1, 'e': float('inf'),
                         'f': float('-inf'), 'g': 1e17, 'h': 4503599627370496,
                         'i': -123456789012, 12: 3})
    r.zadd('tiezset', {'x': 1, 'y': 1, 'z': 1, 'a' * 30: 1})
    r.zadd('bigzset', {'member-%d' % i: i * 0.25 - 30 for i in range(400)})
    r.zadd('widezset', {'w' * 100: 1, 'x': 2, 'y': -3.5})


KEYS = ['int', 'negint', 'embstr', 'raw', 'lzf', 'smalllist', 'biglist', 'intset', 'strset',
        'bigintset', 'smallhash', 'bighash', 'widehash', 'smallzset', 'tiezset', 'bigzset',
        'widezset']
# Same bytes from both servers: no hashtable order involved. biglist also
# pins the node split (list-max-listpack-size -2) and LZF of nodes; the
# zsets pin score formatting in listpacks and the skiplist's element order.
DETERMINISTIC = ['int', 'negint', 'embstr', 'raw', 'lzf', 'smalllist', 'biglist', 'intset',
                 'smallhash', 'smallzset', 'tiezset', 'bigzset', 'widezset']


def contents(r, k):
    t = r.type(k)
    if t == b'string':
        return r.get(k)
    if t == b'list':
        return r.lrange(k, 0, -1)
    if t == b'set':
        return sorted(r.smembers(k))
    if t == b'hash':
        return sorted(r.hgetall(k).items())
    if t == b'zset':
        return r.zrange(k, 0, -1, withscores=True)
    return None


class DumpInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = Server('cachebox', args=ARGS)
        cls.oracle = Server('redis', args=ARGS)

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

    def move(self, src, dst):
        populate(src)
        for k in KEYS:
            payload = src.dump(k)
            self.assertIsNotNone(payload, k)
            self.assertTrue(dst.restore(k, 0, payload), k)
            self.assertEqual(dst.execute_command('DEBUG', 'DIGEST-VALUE', k),
                             src.execute_command('DEBUG', 'DIGEST-VALUE', k), k)
            self.assertEqual(contents(dst, k), contents(src, k), k)
            self.assertEqual(dst.object('encoding', k), src.object('encoding', k), k)

    def test_oracle_to_cachebox(self):
        self.move(self.b, self.a)

    def test_cachebox_to_oracle(self):
        self.move(self.a, self.b)

    def test_same_bytes(self):
        populate(self.a)
        populate(self.b)
        for k in DETERMINISTIC:
            self.assertEqual(self.a.dump(k), self.b.dump(k), k)

    def test_round_trip_here(self):
        populate(self.a)
        for k in KEYS:
            want = self.a.execute_command('DEBUG', 'DIGEST-VALUE', k)
            p = self.a.dump(k)
            self.assertTrue(self.a.restore(k, 0, p, replace=True))
            self.assertEqual(self.a.execute_command('DEBUG', 'DIGEST-VALUE', k), want, k)


class ZsetLimitsOnLoad(unittest.TestCase):
    """A RESTOREd sorted set takes the receiving server's encoding as Redis
    converts on load: ZSET_2 payloads compact when they fit, listpacks turn
    into skiplists only past zset-max-listpack-entries."""

    @classmethod
    def setUpClass(cls):
        cls.cb = Server('cachebox', args=ARGS + ['--zset-max-listpack-entries', '4'])
        cls.oracle = Server('redis', args=ARGS + ['--zset-max-listpack-entries', '4'])

    @classmethod
    def tearDownClass(cls):
        cls.cb.cleanup()
        cls.oracle.cleanup()

    def test_limits(self):
        a, b = self.cb.redis(), self.oracle.redis()
        try:
            for src, dst in ((a, b), (b, a)):
                src.flushall()
                dst.flushall()
                src.zadd('five', {'m%d' % i: i for i in range(5)})
                src.zadd('long', {'l' * 100: 1})
                src.config_set('zset-max-listpack-entries', 8)
                src.config_set('zset-max-listpack-value', 200)
                src.zadd('eight', {'e%d' % i: -i for i in range(8)})
                src.zadd('longlp', {'l' * 100: 1, 'x': 2})
                src.config_set('zset-max-listpack-entries', 4)
                src.config_set('zset-max-listpack-value', 64)
                src.zrem('five', 'm0', 'm1')  # a skiplist of 3 now
                for k, enc in (('five', b'listpack'), ('long', b'skiplist'),
                               ('eight', b'skiplist'), ('longlp', b'listpack')):
                    self.assertTrue(dst.restore(k, 0, src.dump(k)), k)
                    self.assertEqual(dst.object('encoding', k), enc, k)
                    self.assertEqual(dst.zrange(k, 0, -1, withscores=True),
                                     src.zrange(k, 0, -1, withscores=True), k)
                    self.assertEqual(dst.execute_command('DEBUG', 'DIGEST-VALUE', k),
                                     src.execute_command('DEBUG', 'DIGEST-VALUE', k), k)
        finally:
            a.close()
            b.close()


class _RestoreBehaviour:
    SERVER_ARGS = ARGS

    def test_errors(self):
        r = self.r
        r.set('k', 12)
        p = r.dump('k')
        self.assertIsNone(r.dump('nokey'))
        cases = [
            (('k', 0, p), 'BUSYKEY Target key name already exists.'),
            (('k2', -1, p), 'Invalid TTL value, must be >= 0'),
            (('k2', 'x', p), 'value is not an integer or out of range'),
            (('k2', 0, b'junk'), 'DUMP payload version or checksum are wrong'),
            (('k2', 0, p[:-1] + bytes([p[-1] ^ 1])), 'DUMP payload version or checksum are wrong'),
            (('k2', 0, p, 'IDLETIME', -1), 'Invalid IDLETIME value, must be >= 0'),
            (('k2', 0, p, 'FREQ', 256), 'Invalid FREQ value, must be >= 0 and <= 255'),
            (('k2', 0, p, 'FREQ', 1, 'IDLETIME', 1), 'syntax error'),
            (('k2', 0, p, 'bogus'), 'syntax error'),
        ]
        for args, msg in cases:
            with self.assertRaises(Exception) as cm:
                r.execute_command('RESTORE', *args)
            self.assertIn(msg, str(cm.exception), args)

    def test_bad_data_format(self):
        # A valid footer around a list whose listpack is cut short.
        import struct
        body = bytes([18, 1, 2, 5]) + b'\x0b\x00\x00\x00\x01\x00\x81a\x02'
        body += struct.pack('<H', 10)
        crc = self.crc64(body)
        with self.assertRaises(Exception) as cm:
            self.r.execute_command('RESTORE', 'k', 0, body + struct.pack('<Q', crc))
        self.assertIn('Bad data format', str(cm.exception))

    @staticmethod
    def crc64(data):
        # Jones polynomial, reflected, as Redis's crc64.
        poly = 0x95ac9329ac4bc9b5
        crc = 0
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ (poly if crc & 1 else 0)
        return crc

    def test_options(self):
        r = self.r
        r.rpush('l', 'a', 'b')
        p = r.dump('l')
        self.assertTrue(r.restore('l', 0, p, replace=True))
        self.assertEqual(r.ttl('l'), -1)
        self.assertTrue(r.restore('l', 100000, p, replace=True))
        self.assertTrue(99 <= r.ttl('l') <= 100)
        at = int(time.time() * 1000) + 500000
        self.assertTrue(r.restore('l', at, p, replace=True, absttl=True))
        self.assertEqual(r.pexpiretime('l'), at)
        # Already expired: the old key goes, nothing new appears.
        self.assertTrue(r.restore('l', 1, p, replace=True, absttl=True))
        self.assertEqual(r.exists('l'), 0)
        self.assertTrue(r.restore('l', 0, p, idletime=1000))
        self.assertGreaterEqual(r.object('idletime', 'l'), 1000)
        self.assertEqual(r.lrange('l', 0, -1), [b'a', b'b'])


globals().update(for_kinds(_RestoreBehaviour))


class _RestoreFreq:
    SERVER_ARGS = ARGS + ['--maxmemory-policy', 'allkeys-lfu']

    def test_freq(self):
        r = self.r
        r.set('k', 'v')
        p = r.dump('k')
        self.assertTrue(r.restore('k2', 0, p, frequency=100))
        self.assertEqual(r.object('freq', 'k2'), 100)
        self.assertTrue(r.restore('k3', 0, p, frequency=0))
        self.assertEqual(r.object('freq', 'k3'), 0)


globals().update(for_kinds(_RestoreFreq))
