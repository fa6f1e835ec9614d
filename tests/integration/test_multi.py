"""Transactions with several clients: WATCH conflicts are detected, the
redis-py WatchError retry loop converges under contention, and all of it
holds when the keyspace is split over several workers' shards."""
import threading
import unittest

import redis

from cbtest import Server


class _Multi:
    ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server('cachebox', args=('--enable-debug-command', 'yes') + tuple(cls.ARGS))

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.r = self.server.redis()
        self.r.flushall()

    def test_watch_conflict_from_another_client(self):
        a, b = self.server.redis(), self.server.redis()
        a.set('k', 1)
        p = a.pipeline()
        p.watch('k')
        b.set('k', 2)          # another client writes the watched key
        p.multi()
        p.set('k', 3)
        with self.assertRaises(redis.WatchError):
            p.execute()
        self.assertEqual(a.get('k'), b'2')
        # Untouched: the transaction goes through.
        p = a.pipeline()
        p.watch('k')
        p.multi()
        p.set('k', 4)
        self.assertEqual(p.execute(), [True])

    def test_expire_and_flush_touch_watches(self):
        a = self.server.redis()
        a.set('e', 1, px=50)
        p = a.pipeline()
        p.watch('e')
        import time
        time.sleep(0.2)
        p.multi()
        p.set('x', 1)
        with self.assertRaises(redis.WatchError):
            p.execute()
        a.set('f', 1)
        p = a.pipeline()
        p.watch('f')
        self.server.redis().flushdb()
        p.multi()
        p.set('x', 1)
        with self.assertRaises(redis.WatchError):
            p.execute()

    def test_key_expired_before_watch_then_deleted(self):
        # Redis 7.0: a key already expired at WATCH time that is then
        # removed (lazily by a read, by DEL, by FLUSHDB) has not logically
        # changed, so EXEC runs; overwriting it does abort.
        import time
        a, b = self.server.redis(), self.server.redis()
        got = []
        for trig in ('get', 'del', 'set', 'flushdb'):
            a.execute_command('DEBUG', 'SET-ACTIVE-EXPIRE', '0')
            try:
                a.set('e', 'v', px=1)
                time.sleep(0.01)
                a.execute_command('WATCH', 'e')
                if trig == 'get':
                    b.get('e')
                elif trig == 'del':
                    b.delete('e')
                elif trig == 'set':
                    b.set('e', 'x')
                else:
                    b.flushdb()
                a.execute_command('MULTI')
                a.execute_command('PING')
                got.append((trig, a.execute_command('EXEC')))
            finally:
                a.execute_command('DEBUG', 'SET-ACTIVE-EXPIRE', '1')
        self.assertEqual(got, [('get', [b'PONG']), ('del', [b'PONG']), ('set', None),
                               ('flushdb', [b'PONG'])])

    def test_optimistic_increments_converge(self):
        errors = []

        def worker(n):
            try:
                c = self.server.redis()
                for _ in range(n):
                    while True:
                        with c.pipeline() as p:
                            try:
                                p.watch('counter', 'other:{x}')
                                v = int(p.get('counter') or 0)
                                p.multi()
                                p.set('counter', v + 1)
                                p.incr('other:{x}')
                                p.execute()
                                break
                            except redis.WatchError:
                                continue
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        ts = [threading.Thread(target=worker, args=(40,)) for _ in range(10)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(self.r.get('counter'), b'400')
        self.assertEqual(self.r.get('other:{x}'), b'400')

    def test_transaction_over_many_keys(self):
        keys = ['t:%d' % i for i in range(40)]  # spread over the shards
        p = self.r.pipeline()
        for k in keys:
            p.set(k, k)
        p.mget(keys)
        res = p.execute()
        self.assertEqual(res[-1], [k.encode() for k in keys])

    def test_close_with_watches(self):
        for _ in range(50):
            c = self.server.raw()
            c.cmd('WATCH', 'a', 'b', 'c')
            c.close()
        self.r.set('a', 1)
        self.assertTrue(self.r.ping())


class Multi1Worker(_Multi, unittest.TestCase):
    ARGS = ()


class Multi3Workers(_Multi, unittest.TestCase):
    ARGS = ('--io-workers', '3')


if __name__ == '__main__':
    unittest.main()
