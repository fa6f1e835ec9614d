"""Pub/Sub with real clients: several subscribers and patterns, RESP2 and
RESP3 (pushes), redis-py's PubSub with get_message and pattern
subscriptions, shard channels, subscriber-mode rules, and a slow
subscriber cut off by the pubsub output-buffer limit while the server's
memory stays bounded — with one worker and with three."""
import socket
import time
import unittest

from cbtest import Server, encode_command


class _PubSub:
    ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server('cachebox', args=cls.ARGS + (
            '--client-output-buffer-limit', 'pubsub 1mb 512kb 1'))

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.r = self.server.redis()

    def get(self, p, timeout=2.0):
        end = time.time() + timeout
        while time.time() < end:
            m = p.get_message(timeout=0.05)
            if m and m['type'] in ('message', 'pmessage', 'smessage'):
                return m
        return None

    def test_redis_py_pubsub(self):
        subs = []
        for i in range(6):  # spread over the workers
            p = self.server.redis().pubsub()
            p.subscribe('news')
            p.psubscribe('n*')
            subs.append(p)
        time.sleep(0.05)
        self.assertEqual(self.r.publish('news', 'hello'), 12)
        for p in subs:
            got = [self.get(p), self.get(p)]
            kinds = sorted(m['type'] for m in got)
            self.assertEqual(kinds, ['message', 'pmessage'])
            for m in got:
                self.assertEqual(m['data'], b'hello')
                self.assertEqual(m['channel'], b'news')
        self.assertEqual(self.r.pubsub_numsub('news'), [(b'news', 6)])
        self.assertEqual(self.r.pubsub_numpat(), 1)
        self.assertIn(b'news', self.r.pubsub_channels())
        for p in subs:
            p.close()
        time.sleep(0.05)
        self.assertEqual(self.r.pubsub_numsub('news'), [(b'news', 0)])
        self.assertEqual(self.r.publish('news', 'nobody'), 0)

    def test_resp3_push_and_commands(self):
        c = self.server.raw()
        c.cmd('HELLO', '3')
        self.assertEqual(c.cmd('SUBSCRIBE', 'r3'), b'>3\r\n$9\r\nsubscribe\r\n$2\r\nr3\r\n:1\r\n')
        self.assertEqual(c.cmd('SET', 'k', 'v'), b'+OK\r\n')  # RESP3 allows commands
        self.r.publish('r3', 'payload')
        self.assertEqual(c.read_reply(), b'>3\r\n$7\r\nmessage\r\n$2\r\nr3\r\n$7\r\npayload\r\n')
        c.close()

    def test_resp2_subscriber_mode(self):
        c = self.server.raw()
        c.cmd('SUBSCRIBE', 'x')
        self.assertEqual(c.cmd('GET', 'k'),
                         b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                         b"PING / QUIT / RESET are allowed in this context\r\n")
        self.assertEqual(c.cmd('PING'), b'*2\r\n$4\r\npong\r\n$0\r\n\r\n')
        self.assertEqual(c.cmd('RESET'), b'+RESET\r\n')
        self.assertEqual(c.cmd('GET', 'nokey'), b'$-1\r\n')
        c.close()

    def test_shard_channels(self):
        c = self.server.raw()
        self.assertEqual(c.cmd('SSUBSCRIBE', 'sc'), b'*3\r\n$10\r\nssubscribe\r\n$2\r\nsc\r\n:1\r\n')
        self.assertEqual(self.r.execute_command('SPUBLISH', 'sc', 'm'), 1)
        self.assertEqual(c.read_reply(), b'*3\r\n$8\r\nsmessage\r\n$2\r\nsc\r\n$1\r\nm\r\n')
        self.assertEqual(self.r.execute_command('PUBSUB', 'SHARDNUMSUB', 'sc'), [b'sc', 1])
        c.close()

    def test_slow_subscriber_is_disconnected(self):
        s = socket.create_connection((self.server.host, self.server.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(encode_command('SUBSCRIBE', 'flood'))
        time.sleep(0.1)
        big = 'x' * 65536
        before = int(self.r.info('memory')['used_memory'])
        for _ in range(300):  # ~20 MB offered, the subscriber never reads
            self.r.publish('flood', big)
        time.sleep(0.2)
        after = int(self.r.info('memory')['used_memory'])
        self.assertLess(after - before, 8 * 1024 * 1024, 'memory grew without bound')
        self.assertEqual(self.r.pubsub_numsub('flood'), [(b'flood', 0)])
        # The server closed it: draining ends with EOF or a reset.
        s.settimeout(5)
        closed = False
        try:
            while s.recv(1 << 20):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        self.assertTrue(closed)
        s.close()


class PubSub1Worker(_PubSub, unittest.TestCase):
    ARGS = ()


class PubSub3Workers(_PubSub, unittest.TestCase):
    ARGS = ('--io-workers', '3')


if __name__ == '__main__':
    unittest.main()
