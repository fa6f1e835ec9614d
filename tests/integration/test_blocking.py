"""Blocking list pops with real waiting clients: FIFO among clients blocked
on a key, several keys, sub-second timeouts, wake-ups from every kind of
write (push, LMOVE, RENAME, MULTI/EXEC), CLIENT UNBLOCK, pipelines behind a
blocked command — with one worker and with the keyspace split over three."""
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
            s = socket.create_connection(('127.0.0.1', self.server.port))
            s.sendall(encode_command('BLPOP', 'gone', 0))
            time.sleep(0.01)
            s.close()
        time.sleep(0.1)
        self.assertEqual(self.blocked_count(), 0)
        self.r.rpush('gone', 'v')
        self.assertEqual(self.r.lpop('gone'), b'v')


class Blocking1Worker(_Blocking, unittest.TestCase):
    ARGS = ()


class Blocking3Workers(_Blocking, unittest.TestCase):
    ARGS = ('--io-workers', '3')


if __name__ == '__main__':
    unittest.main()
