"""Lazy free: UNLINK, FLUSHALL/FLUSHDB ASYNC and the lazyfree-lazy-*
directives take keys out of the keyspace at once and free big values (and
whole dbs) after the replies have left, a bounded slice per loop turn.
Checked: the key is gone immediately, lazyfree_pending_objects drains to 0,
lazyfreed_objects counts the freed objects, memory comes back, an async
FLUSHALL answers much faster than a sync one, and every directive routes
its kind of delete through the queue.
"""
import time
import unittest

from cbtest import Server


def wait_drained(r, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = r.info('memory')
        if m['lazyfree_pending_objects'] == 0:
            return m
        time.sleep(0.02)
    raise AssertionError('lazy free did not drain')


class LazyFree(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server('cachebox')
        cls.r = cls.server.redis()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.r.flushall()
        for d in ('user-del', 'user-flush', 'expire', 'server-del', 'eviction'):
            self.r.config_set('lazyfree-lazy-' + d, 'no')
        self.r.config_set('maxmemory', '0')
        self.r.config_set('maxmemory-policy', 'noeviction')
        wait_drained(self.r)

    def big_hash(self, key, n=20000):
        p = self.r.pipeline(transaction=False)
        for i in range(0, n, 1000):
            p.hset(key, mapping={'f%d' % j: 'value%d' % j for j in range(i, i + 1000)})
        p.execute()

    def freed(self):
        return self.r.info('memory')['lazyfreed_objects']

    def test_unlink_frees_in_background(self):
        base = self.r.info('memory')['used_memory']
        self.big_hash('h1')
        self.big_hash('h2')
        self.r.set('small', 'x')
        before = self.freed()
        self.assertEqual(self.r.unlink('h1', 'h2', 'small', 'missing'), 3)
        self.assertEqual(self.r.exists('h1', 'h2', 'small'), 0)
        m = wait_drained(self.r)
        # The two big values went through the queue; the string did not.
        self.assertEqual(m['lazyfreed_objects'] - before, 2)
        self.assertLess(m['used_memory'] - base, 64 * 1024)

    def test_flushall_async_is_fast_and_frees_everything(self):
        def fill():
            p = self.r.pipeline(transaction=False)
            for i in range(200000):
                p.set('k:%d' % i, 'v')
            p.execute()
        base = self.r.info('memory')['used_memory']
        fill()
        t = time.time()
        self.r.flushall()
        sync_s = time.time() - t
        fill()
        before = self.freed()
        t = time.time()
        self.assertTrue(self.r.flushall(asynchronous=True))
        async_s = time.time() - t
        self.assertEqual(self.r.dbsize(), 0)
        m = wait_drained(self.r)
        self.assertEqual(m['lazyfreed_objects'] - before, 200000)
        self.assertLess(m['used_memory'] - base, 64 * 1024)
        self.assertLess(async_s, sync_s / 2, 'async %.4fs sync %.4fs' % (async_s, sync_s))
        # FLUSHDB ASYNC empties only the selected db.
        self.r.set('db0', 'x')
        self.r.execute_command('SELECT', 1)
        self.r.set('db1', 'x')
        self.r.execute_command('FLUSHDB', 'ASYNC')
        self.assertEqual(self.r.dbsize(), 0)
        self.r.execute_command('SELECT', 0)
        self.assertEqual(self.r.get('db0'), b'x')

    def test_user_del_and_user_flush(self):
        self.r.config_set('lazyfree-lazy-user-del', 'yes')
        self.big_hash('h')
        before = self.freed()
        self.assertEqual(self.r.delete('h'), 1)
        self.assertEqual(wait_drained(self.r)['lazyfreed_objects'] - before, 1)
        self.r.config_set('lazyfree-lazy-user-flush', 'yes')
        self.r.mset({'a': 1, 'b': 2})
        before = self.freed()
        self.r.flushall()
        self.assertEqual(wait_drained(self.r)['lazyfreed_objects'] - before, 2)
        self.r.mset({'a': 1, 'b': 2})
        before = self.freed()
        self.r.execute_command('FLUSHALL', 'SYNC')
        self.assertEqual(self.freed() - before, 0)

    def test_server_del_and_expire(self):
        self.r.config_set('lazyfree-lazy-server-del', 'yes')
        self.big_hash('h', 5000)
        p = self.r.pipeline(transaction=False)
        p.rpush('l', *range(5000))
        p.execute()
        before = self.freed()
        self.r.set('l', 'now a string')  # overwrites a quicklist
        self.assertEqual(wait_drained(self.r)['lazyfreed_objects'] - before, 1)
        self.r.config_set('lazyfree-lazy-expire', 'yes')
        before = self.freed()  # active expiry may take it during the sleep
        self.r.pexpire('h', 1)
        time.sleep(0.01)
        self.assertIsNone(self.r.hget('h', 'f1'))
        self.assertEqual(wait_drained(self.r)['lazyfreed_objects'] - before, 1)

    def test_eviction(self):
        self.r.config_set('lazyfree-lazy-eviction', 'yes')
        for i in range(6):
            self.big_hash('h%d' % i, 20000)
        used = self.r.info('memory')['used_memory']
        self.r.config_set('maxmemory-policy', 'allkeys-lru')
        before = self.freed()
        self.r.config_set('maxmemory', str(used // 2))
        self.r.set('x', 'y')
        m = wait_drained(self.r)
        self.assertGreater(m['lazyfreed_objects'] - before, 0)
        self.assertLessEqual(self.r.info('memory')['used_memory'], used // 2)
        self.assertGreater(self.r.info('stats')['evicted_keys'], 0)


if __name__ == '__main__':
    unittest.main()
