"""Brief functional checks of every string and keyspace command through
Python redis (RESP2) and redis-cli; the differential corpus in tests/diff/
is the exhaustive part.
"""
import time

from cbtest import for_kinds


class _Strings:
    def test_set_get_options(self):
        r = self.r
        self.assertTrue(r.set('k', 'v'))
        self.assertEqual(r.get('k'), b'v')
        self.assertIsNone(r.set('k', 'x', nx=True))
        self.assertTrue(r.set('k', 'x', xx=True))
        self.assertEqual(r.set('k', 'y', get=True), b'x')
        self.assertTrue(r.set('e', 'v', ex=100))
        self.assertTrue(90 < r.ttl('e') <= 100)
        self.assertTrue(r.set('e', 'v', px=100000))
        self.assertTrue(r.set('e', 'v2', keepttl=True))
        self.assertGreater(r.pttl('e'), 0)
        self.assertTrue(r.set('e', 'v', exat=4102444800))
        self.assertEqual(r.expiretime('e') if hasattr(r, 'expiretime') else
                         r.execute_command('EXPIRETIME', 'e'), 4102444800)
        self.assertTrue(r.set('e', 'v', pxat=4102444800123))
        self.assertEqual(r.execute_command('PEXPIRETIME', 'e'), 4102444800123)

    def test_getex_getdel_getset(self):
        r = self.r
        r.set('k', 'v')
        self.assertEqual(r.execute_command('GETEX', 'k', 'EX', 100), b'v')
        self.assertGreater(r.ttl('k'), 0)
        self.assertEqual(r.execute_command('GETEX', 'k', 'PERSIST'), b'v')
        self.assertEqual(r.ttl('k'), -1)
        self.assertEqual(r.getset('k', 'w'), b'v')
        self.assertEqual(r.execute_command('GETDEL', 'k'), b'w')
        self.assertIsNone(r.get('k'))

    def test_multi_key(self):
        r = self.r
        self.assertTrue(r.mset({'a': '1', 'b': '2'}))
        self.assertEqual(r.mget('a', 'b', 'c'), [b'1', b'2', None])
        self.assertFalse(r.msetnx({'a': 'x', 'c': '3'}))
        self.assertTrue(r.msetnx({'c': '3', 'd': '4'}))
        self.assertTrue(r.setnx('n', '1'))
        self.assertFalse(r.setnx('n', '2'))
        self.assertTrue(r.setex('s', 100, 'v'))
        self.assertTrue(r.psetex('p', 100000, 'v'))
        self.assertGreater(r.pttl('p'), 0)

    def test_counters_and_ranges(self):
        r = self.r
        self.assertEqual(r.incr('c'), 1)
        self.assertEqual(r.incrby('c', 10), 11)
        self.assertEqual(r.decr('c'), 10)
        self.assertEqual(r.decrby('c', 3), 7)
        self.assertEqual(r.incrbyfloat('f', 1.5), 1.5)
        self.assertEqual(r.incrbyfloat('f', '0.1'), 1.6)
        self.assertEqual(r.append('s', 'hello'), 5)
        self.assertEqual(r.append('s', ' world'), 11)
        self.assertEqual(r.strlen('s'), 11)
        self.assertEqual(r.getrange('s', 0, 4), b'hello')
        self.assertEqual(r.execute_command('SUBSTR', 's', -5, -1), b'world')
        self.assertEqual(r.setrange('s', 6, 'WORLD'), 11)
        self.assertEqual(r.get('s'), b'hello WORLD')
        self.assertEqual(r.setrange('z', 3, 'x'), 4)
        self.assertEqual(r.get('z'), b'\x00\x00\x00x')
        r.mset({'l1': 'ohmytext', 'l2': 'mynewtext'})
        self.assertEqual(r.execute_command('LCS', 'l1', 'l2'), b'mytext')
        self.assertEqual(r.execute_command('LCS', 'l1', 'l2', 'LEN'), 6)
        self.assertEqual(r.object('encoding', 'c'), b'int')
        self.assertEqual(r.object('encoding', 'l1'), b'embstr')
        r.set('raw', 'x' * 45)
        self.assertEqual(r.object('encoding', 'raw'), b'raw')

    def test_redis_cli(self):
        rc, out = self.server.cli('SET', 'cli', 'value')
        self.assertEqual((rc, out.strip()), (0, 'OK'))
        rc, out = self.server.cli('GET', 'cli')
        self.assertEqual(out.strip(), 'value')
        rc, out = self.server.cli('INCR', 'cli')
        self.assertIn('ERR value is not an integer or out of range', out)
        rc, out = self.server.cli('-3', 'GET', 'cli')
        self.assertEqual(out.strip(), 'value')
        rc, out = self.server.cli('--pipe', input=b'SET p1 a\r\nSET p2 b\r\n')
        self.assertIn('errors: 0, replies: 2', out)


class _Keyspace:
    def test_basic_keyspace(self):
        r = self.r
        r.mset({'a': '1', 'b': '2', 'c': '3'})
        self.assertEqual(r.exists('a', 'b', 'x'), 2)
        self.assertEqual(r.type('a'), b'string')
        self.assertEqual(r.type('x'), b'none')
        self.assertEqual(r.touch('a', 'x'), 1)
        self.assertEqual(r.delete('a', 'x'), 1)
        self.assertEqual(r.unlink('b'), 1)
        self.assertEqual(r.dbsize(), 1)
        self.assertEqual(r.randomkey(), b'c')
        self.assertEqual(r.keys('*'), [b'c'])
        self.assertEqual(r.object('refcount', 'c'), 2147483647)   # shared integer
        self.assertIsInstance(r.object('idletime', 'c'), int)

    def test_expiry(self):
        r = self.r
        r.set('k', 'v')
        self.assertTrue(r.expire('k', 100))
        self.assertFalse(r.execute_command('EXPIRE', 'k', 200, 'NX'))
        self.assertTrue(r.execute_command('EXPIRE', 'k', 200, 'GT'))
        self.assertTrue(190 < r.ttl('k') <= 200)
        self.assertTrue(r.pexpire('k', 50000))
        self.assertTrue(r.expireat('k', 4102444800))
        self.assertTrue(r.pexpireat('k', 4102444800000))
        self.assertEqual(r.execute_command('EXPIRETIME', 'k'), 4102444800)
        self.assertTrue(r.persist('k'))
        self.assertEqual(r.ttl('k'), -1)
        self.assertEqual(r.pttl('nokey'), -2)
        r.set('short', 'v', px=50)
        time.sleep(0.2)
        self.assertIsNone(r.get('short'))           # lazy expiry
        for i in range(50):
            r.set('act%d' % i, 'v', px=20)
        deadline = time.time() + 5
        while r.dbsize() > 1 and time.time() < deadline:   # active expiry
            time.sleep(0.1)
        self.assertEqual(r.dbsize(), 1)

    def test_scan(self):
        r = self.r
        names = {('key:%d' % i).encode() for i in range(1000)}
        r.mset({n: 'v' for n in names})
        seen = set()
        cursor = 0
        while True:
            cursor, keys = r.scan(cursor, count=37)
            seen.update(keys)
            if cursor == 0:
                break
        self.assertEqual(seen, names)
        self.assertEqual(set(r.scan_iter(match='key:99*')),
                         {n for n in names if n.startswith(b'key:99')})
        self.assertEqual(len(list(r.scan_iter(_type='string'))), 1000)
        self.assertEqual(list(r.scan_iter(_type='list')), [])

    def test_databases(self):
        r = self.r
        r.set('k', 'v')
        self.assertTrue(r.move('k', 1))
        self.assertEqual(r.dbsize(), 0)
        self.assertTrue(r.swapdb(0, 1))
        self.assertEqual(r.get('k'), b'v')
        self.assertTrue(r.copy('k', 'k2', destination_db=3))
        self.assertTrue(r.rename('k', 'k3'))
        self.assertFalse(r.renamenx('k3', 'k3'))
        r.set('other', 'x')
        self.assertFalse(r.renamenx('k3', 'other'))
        self.assertTrue(r.flushdb())
        self.assertEqual(r.dbsize(), 0)
        r3 = self.server.redis(db=3)
        self.assertEqual(r3.get('k2'), b'v')
        self.assertTrue(r.flushall())
        self.assertEqual(r3.dbsize(), 0)
        r3.connection_pool.disconnect()


globals().update(for_kinds(_Strings))
globals().update(for_kinds(_Keyspace))
