"""Several io-workers: each worker owns a shard, commands are routed to the
shard that owns their keys (forwarded, or with the other workers parked).
Clients must not be able to tell: every key is visible from every
connection, multi-key and keyspace-wide commands see all shards, pipelines
keep their order, and concurrent writers lose nothing.
"""
import random
import socket
import threading
import unittest

from cbtest import Server, encode_command


class Workers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server('cachebox', args=('--io-workers', '3', '--enable-debug-command', 'yes'))
        cls.r = cls.server.redis()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.r.flushall()

    def conns(self, n):
        # SO_REUSEPORT spreads new connections over the workers.
        return [self.server.redis() for _ in range(n)]

    def test_keys_visible_from_every_connection(self):
        cs = self.conns(12)
        for i, c in enumerate(cs):
            c.set('key:%d' % i, 'v%d' % i)
        for c in cs:
            self.assertEqual(c.mget(['key:%d' % i for i in range(12)]),
                             [b'v%d' % i for i in range(12)])
            self.assertEqual(c.dbsize(), 12)
        self.assertEqual(sorted(self.r.keys('*')), sorted(b'key:%d' % i for i in range(12)))

    def test_pipelined_big_values_across_workers(self):
        # A run forwarded to another worker comes back while the next
        # command's 16 KB argument is only half read: the half must survive.
        s = socket.create_connection((self.server.host, self.server.port))
        val = b'v' * 16384
        n = 2048
        for start in range(0, n, 64):
            s.sendall(b''.join(encode_command('SET', 'big:%d' % i, val)
                               for i in range(start, start + 64)))
            buf = b''
            while buf.count(b'\r\n') < 64:
                buf += s.recv(1 << 16)
            self.assertEqual(buf, b'+OK\r\n' * 64)
        s.close()
        self.assertEqual(self.r.mget(['big:%d' % i for i in range(0, n, 7)]),
                         [val] * len(range(0, n, 7)))

    def test_multi_key_and_keyspace_commands(self):
        keys = ['mk:%d' % i for i in range(50)]
        self.assertTrue(self.r.mset({k: k.upper() for k in keys}))
        self.assertEqual(self.r.exists(*keys), 50)
        self.assertEqual(self.r.mget(keys), [k.upper().encode() for k in keys])
        self.assertEqual(self.r.execute_command('MSETNX', 'mk:0', 'x', 'new', 'y'), 0)
        self.assertEqual(self.r.execute_command('MSETNX', 'n1', 'x', 'n2', 'y'), 1)
        self.assertEqual(self.r.dbsize(), 52)
        seen = set()
        cursor = 0
        while True:
            cursor, batch = self.r.scan(cursor, count=7)
            seen.update(batch)
            if cursor == 0:
                break
        self.assertEqual(seen, {k.encode() for k in keys} | {b'n1', b'n2'})
        self.assertIsNotNone(self.r.randomkey())
        self.assertTrue(self.r.rename('mk:1', 'renamed:elsewhere'))
        self.assertEqual(self.r.get('renamed:elsewhere'), b'MK:1')
        self.assertTrue(self.r.copy('mk:2', 'copy:2'))
        self.assertEqual(self.r.get('copy:2'), b'MK:2')
        self.assertEqual(self.r.delete(*keys), 49)  # mk:1 was renamed away
        self.assertEqual(self.r.dbsize(), 4)
        self.assertTrue(self.r.flushall())
        self.assertEqual(self.r.dbsize(), 0)

    def test_digest_matches_single_worker(self):
        data = {'d:%d' % i: str(i * 7) for i in range(300)}
        self.r.mset(data)
        self.r.expireat('d:5', 4102444800)
        digest = self.r.execute_command('DEBUG', 'DIGEST')
        with Server('cachebox', args=('--enable-debug-command', 'yes')) as one:
            r1 = one.redis()
            r1.mset(data)
            r1.expireat('d:5', 4102444800)
            self.assertEqual(r1.execute_command('DEBUG', 'DIGEST'), digest)

    def test_pipeline_order_across_shards(self):
        c = self.server.raw()
        keys = ['p:%d' % i for i in range(200)]
        req = b''.join(encode_command('SET', k, k) for k in keys)
        req += b''.join(encode_command('GET', k) for k in keys)
        req += encode_command('MGET', *keys[:20])
        c.send(req)
        for _ in keys:
            self.assertEqual(c.read_reply(), b'+OK\r\n')
        for k in keys:
            self.assertEqual(c.read_reply(), b'$%d\r\n%s\r\n' % (len(k), k.encode()))
        self.assertEqual(c.read_reply(), b'*20\r\n' + b''.join(
            b'$%d\r\n%s\r\n' % (len(k), k.encode()) for k in keys[:20]))
        c.close()

    def test_pipeline_of_large_values_across_reads(self):
        # A command cut between two reads while an earlier run is away on
        # another worker must resume where it was cut (ioredis pipelines of
        # 10 KB values found this).
        r = self.r
        p = r.pipeline(transaction=False)
        vals = [(str(i).zfill(4) * 2500).encode() for i in range(200)]
        for i, v in enumerate(vals):
            p.set('big:%d' % i, v)
        self.assertTrue(all(p.execute()))
        self.assertEqual(r.mget(['big:%d' % i for i in range(200)]), vals)

    def test_concurrent_writers(self):
        errors = []

        def writer(tid):
            try:
                r = self.server.redis()
                rnd = random.Random(tid)
                for i in range(400):
                    k = 'w:%d:%d' % (tid, rnd.randrange(50))
                    v = '%d-%d' % (tid, i)
                    r.set(k, v)
                    if r.get(k) != v.encode():
                        errors.append((k, v))
                    r.incr('counter')
                    if i % 50 == 0:
                        r.mset({'m:%d:a' % tid: v, 'm:%d:b' % tid: v})
                        if r.mget('m:%d:a' % tid, 'm:%d:b' % tid) != [v.encode()] * 2:
                            errors.append(('mset', v))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        ts = [threading.Thread(target=writer, args=(t,)) for t in range(12)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(self.r.get('counter'), b'%d' % (12 * 400))

    def test_client_list_and_kill_span_workers(self):
        cs = self.conns(6)
        for i, c in enumerate(cs):
            c.client_setname('cl%d' % i)
        names = [l.get('name') for l in self.r.client_list()]
        for i in range(6):
            self.assertIn('cl%d' % i, names)
        victims = [self.server.raw() for _ in range(4)]
        ids = [int(v.cmd('CLIENT', 'ID')[1:-2]) for v in victims]
        for vid in ids:
            self.assertEqual(self.r.execute_command('CLIENT', 'KILL', 'ID', vid), 1)
        for v in victims:
            self.assertTrue(v.is_closed())
            v.close()

    def test_monitor_sees_every_worker(self):
        mons = [self.server.raw() for _ in range(4)]  # spread over the workers
        for m in mons:
            self.assertEqual(m.cmd('MONITOR'), b'+OK\r\n')
        cs = self.conns(6)
        for i, c in enumerate(cs):
            c.set('mon:%d' % i, 'x')
        for m in mons:
            seen = b''
            m.sock.settimeout(0.2)
            try:
                while seen.count(b'"SET" "mon:') < 6:
                    chunk = m.sock.recv(65536)
                    if not chunk:
                        break
                    seen += chunk
            except OSError:
                pass
            for i in range(6):
                self.assertIn(b'"SET" "mon:%d" "x"' % i, seen)
            m.close()

    def test_client_closed_while_command_away(self):
        # Abrupt closes right after sending: replies for gone clients are dropped.
        for i in range(200):
            s = socket.create_connection((self.server.host, self.server.port))
            s.sendall(encode_command('SET', 'gone:%d' % i, 'x') * 5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
            s.close()
        self.assertTrue(self.r.ping())
        self.assertTrue(self.server.alive())


if __name__ == '__main__':
    unittest.main()
