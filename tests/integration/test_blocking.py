"""Blocking list pops with real waiting clients: FIFO among clients blocked
on a key, several keys, sub-second timeouts, wake-ups from every kind of
write (push, LMOVE, RENAME, MULTI/EXEC), CLIENT UNBLOCK, pipelines behind a
blocked command; the sorted-set pops BZPOPMIN/BZPOPMAX/BZMPOP the same
way — with one worker and with the keyspace split over three."""
import socket
import threading
import time
import unittest

from cbtest import Server, encode_command


class _Blocking:
    ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server('cachebox', args=cls.ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.r = self.server.redis()
        self.r.flushall()

    def blocked_count(self):
        return int(self.r.info('clients')['blocked_clients'])

    def wait_blocked(self, n, timeout=5):
        end = time.time() + timeout
        while time.time() < end:
            if self.blocked_count() == n:
                return
            time.sleep(0.01)
        self.fail('expected %d blocked clients, have %d' % (n, self.blocked_count()))

    def start(self, *cmd):
        c = self.server.raw(timeout=10)
        c.send(encode_command(*cmd))
        return c

    def test_fifo_and_several_keys(self):
        a = self.start('BLPOP', 'q', 0)
        self.wait_blocked(1)
        b = self.start('BLPOP', 'other', 'q', 0)
        self.wait_blocked(2)
        self.r.rpush('q', 'first', 'second')
        self.assertEqual(a.read_reply(), b'*2\r\n$1\r\nq\r\n$5\r\nfirst\r\n')
        self.assertEqual(b.read_reply(), b'*2\r\n$1\r\nq\r\n$6\r\nsecond\r\n')
        self.assertEqual(self.blocked_count(), 0)
        self.assertEqual(self.r.exists('q'), 0)

    def test_timeout_precision(self):
        c = self.start('BLPOP', 'never', '0.2')
        t0 = time.time()
        self.assertEqual(c.read_reply(), b'*-1\r\n')
        took = time.time() - t0
        self.assertGreater(took, 0.15)
        self.assertLess(took, 0.6)

    def test_wake_by_every_write(self):
        writes = [
            lambda: self.r.lpush('k', 'v'),
            lambda: (self.r.rpush('tmp', 'v'), self.r.lmove('tmp', 'k', 'LEFT', 'LEFT')),
            lambda: (self.r.rpush('tmp2', 'v'), self.r.rename('tmp2', 'k')),
            lambda: self.r.pipeline(transaction=True).rpush('k', 'v').execute(),
        ]
        for w in writes:
            c = self.start('BRPOP', 'k', 5)
            self.wait_blocked(1)
            w()
            self.assertEqual(c.read_reply(), b'*2\r\n$1\r\nk\r\n$1\r\nv\r\n')
            c.close()

    def test_blmove_chain(self):
        a = self.start('BLMOVE', 'src', 'mid', 'LEFT', 'RIGHT', 0)
        self.wait_blocked(1)
        b = self.start('BLPOP', 'mid', 0)
        self.wait_blocked(2)
        self.r.rpush('src', 'x')
        self.assertEqual(a.read_reply(), b'$1\r\nx\r\n')
        self.assertEqual(b.read_reply(), b'*2\r\n$3\r\nmid\r\n$1\r\nx\r\n')

    def test_client_unblock(self):
        c = self.start('BLPOP', 'u', 0)
        self.wait_blocked(1)
        ids = [l['id'] for l in self.r.client_list() if 'b' in l.get('flags', '')]
        self.assertEqual(self.r.execute_command('CLIENT', 'UNBLOCK', ids[0]), 1)
        self.assertEqual(c.read_reply(), b'*-1\r\n')
        c2 = self.start('BLPOP', 'u', 0)
        self.wait_blocked(1)
        ids = [l['id'] for l in self.r.client_list() if 'b' in l.get('flags', '')]
        self.assertEqual(self.r.execute_command('CLIENT', 'UNBLOCK', ids[0], 'ERROR'), 1)
        self.assertEqual(c2.read_reply(), b'-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n')

    def test_pipeline_waits_behind_blocked_command(self):
        c = self.server.raw(timeout=10)
        c.send(encode_command('BLPOP', 'p', 0) + encode_command('PING'))
        self.wait_blocked(1)
        self.r.rpush('p', 'v')
        self.assertEqual(c.read_reply(), b'*2\r\n$1\r\np\r\n$1\r\nv\r\n')
        self.assertEqual(c.read_reply(), b'+PONG\r\n')

    def test_many_consumers_many_keys(self):
        got = []
        lock = threading.Lock()

        def consumer(i):
            r = self.server.redis(socket_timeout=20)
            for _ in range(20):
                k, v = r.blpop(['jobs:%d' % (i % 3), 'jobs:0', 'jobs:1', 'jobs:2', 'jobs:all'], 10)
                with lock:
                    got.append(v)

        ts = [threading.Thread(target=consumer, args=(i,)) for i in range(6)]
        for t in ts:
            t.start()
        n = 0
        for i in range(120):
            self.r.rpush(['jobs:0', 'jobs:1', 'jobs:2', 'jobs:all'][i % 4], 'j%d' % i)
            n += 1
        for t in ts:
            t.join(30)
        self.assertEqual(sorted(got), sorted(b'j%d' % i for i in range(120)))

    def test_close_while_blocked(self):
        for _ in range(20):
            s = socket.create_connection((self.server.host, self.server.port))
            s.sendall(encode_command('BLPOP', 'gone', 0))
            time.sleep(0.01)
            s.close()
        time.sleep(0.1)
        self.assertEqual(self.blocked_count(), 0)
        self.r.rpush('gone', 'v')
        self.assertEqual(self.r.lpop('gone'), b'v')

    # ---- sorted sets: BZPOPMIN / BZPOPMAX / BZMPOP

    def test_bzpopmin_woken_by_zadd_fifo(self):
        a = self.start('BZPOPMIN', 'zq', 0)
        self.wait_blocked(1)
        b = self.start('BZPOPMAX', 'other', 'zq', 0)
        self.wait_blocked(2)
        self.r.zadd('zq', {'m1': 1, 'm2': 2, 'm3': 3})
        self.assertEqual(a.read_reply(), b'*3\r\n$2\r\nzq\r\n$2\r\nm1\r\n$1\r\n1\r\n')
        self.assertEqual(b.read_reply(), b'*3\r\n$2\r\nzq\r\n$2\r\nm3\r\n$1\r\n3\r\n')
        self.assertEqual(self.blocked_count(), 0)
        self.assertEqual(self.r.zrange('zq', 0, -1), [b'm2'])

    def test_bzpopmin_resp3_and_last_member(self):
        c = self.server.raw(timeout=10)
        c.send(encode_command('HELLO', '3'))
        c.read_reply()
        c.send(encode_command('BZPOPMIN', 'z3', 0))
        self.wait_blocked(1)
        self.r.zadd('z3', {'only': 2.5})
        self.assertEqual(c.read_reply(), b'*3\r\n$2\r\nz3\r\n$4\r\nonly\r\n,2.5\r\n')
        self.assertEqual(self.r.exists('z3'), 0)

    def test_bzmpop_woken_with_count(self):
        a = self.start('BZMPOP', 0, 2, 'za', 'zb', 'MAX', 'COUNT', 2)
        self.wait_blocked(1)
        b = self.start('BZMPOP', 0, 1, 'zb', 'MIN', 'COUNT', 5)
        self.wait_blocked(2)
        self.r.zadd('zb', {'x': 1, 'y': 2, 'z': 3})
        self.assertEqual(a.read_reply(),
                         b'*2\r\n$2\r\nzb\r\n*2\r\n*2\r\n$1\r\nz\r\n$1\r\n3\r\n'
                         b'*2\r\n$1\r\ny\r\n$1\r\n2\r\n')
        self.assertEqual(b.read_reply(), b'*2\r\n$2\r\nzb\r\n*1\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n')
        self.assertEqual(self.blocked_count(), 0)

    def test_bzpop_timeouts(self):
        for cmd, reply in ((('BZPOPMIN', 'never', '0.2'), b'*-1\r\n'),
                           (('BZPOPMAX', 'never', 'n2', '0.2'), b'*-1\r\n'),
                           (('BZMPOP', '0.2', 1, 'never', 'MIN'), b'*-1\r\n')):
            c = self.start(*cmd)
            t0 = time.time()
            self.assertEqual(c.read_reply(), reply)
            took = time.time() - t0
            self.assertGreater(took, 0.15)
            self.assertLess(took, 0.6)
            c.close()

    def test_bzpop_ignores_other_types(self):
        c = self.start('BZPOPMIN', 'tk', 5)
        self.wait_blocked(1)
        self.r.rpush('tk', 'a')
        time.sleep(0.1)
        self.assertEqual(self.blocked_count(), 1)
        self.r.delete('tk')
        self.r.zadd('tk', {'m': 1})
        self.assertEqual(c.read_reply(), b'*3\r\n$2\r\ntk\r\n$1\r\nm\r\n$1\r\n1\r\n')

    def test_bzpop_woken_by_store_and_exec(self):
        self.r.zadd('{s}src', {'a': 1, 'b': 2})
        c = self.start('BZPOPMIN', '{s}dst', 5)
        self.wait_blocked(1)
        self.r.zunionstore('{s}dst', ['{s}src'])
        self.assertEqual(c.read_reply(), b'*3\r\n$6\r\n{s}dst\r\n$1\r\na\r\n$1\r\n1\r\n')
        c.close()
        c = self.start('BZMPOP', 5, 1, 'mx', 'MAX')
        self.wait_blocked(1)
        self.r.pipeline(transaction=True).zadd('mx', {'p': 1}).zadd('mx', {'q': 2}).execute()
        self.assertEqual(c.read_reply(), b'*2\r\n$2\r\nmx\r\n*1\r\n*2\r\n$1\r\nq\r\n$1\r\n2\r\n')

    def test_bzpop_in_multi_does_not_block(self):
        p = self.r.pipeline(transaction=True)
        p.bzpopmin('nothing', 0)
        p.execute_command('BZMPOP', 0, 1, 'nothing', 'MIN')
        self.assertEqual(p.execute(), [None, None])

    def test_bzpop_client_unblock(self):
        c = self.start('BZPOPMAX', 'u', 0)
        self.wait_blocked(1)
        ids = [l['id'] for l in self.r.client_list() if 'b' in l.get('flags', '')]
        self.assertEqual(self.r.execute_command('CLIENT', 'UNBLOCK', ids[0]), 1)
        self.assertEqual(c.read_reply(), b'*-1\r\n')

    def test_sort_store_wakes_blpop(self):
        self.r.rpush('{w}src', 3, 1, 2)
        c = self.start('BLPOP', '{w}dst', 5)
        self.wait_blocked(1)
        self.assertEqual(self.r.sort('{w}src', store='{w}dst'), 3)
        self.assertEqual(c.read_reply(), b'*2\r\n$6\r\n{w}dst\r\n$1\r\n1\r\n')
        self.assertEqual(self.r.lrange('{w}dst', 0, -1), [b'2', b'3'])

    def test_many_zset_consumers(self):
        got = []
        lock = threading.Lock()

        def consumer(i):
            r = self.server.redis(socket_timeout=20)
            for _ in range(15):
                k, m, s = r.bzpopmin(['zj:%d' % (i % 3), 'zj:0', 'zj:1', 'zj:2'], 10)
                with lock:
                    got.append(m)

        ts = [threading.Thread(target=consumer, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for i in range(60):
            self.r.zadd('zj:%d' % (i % 3), {'m%d' % i: i})
        for t in ts:
            t.join(30)
        self.assertEqual(sorted(got), sorted(b'm%d' % i for i in range(60)))


class Blocking1Worker(_Blocking, unittest.TestCase):
    ARGS = ()


class Blocking3Workers(_Blocking, unittest.TestCase):
    ARGS = ('--io-workers', '3')


if __name__ == '__main__':
    unittest.main()
