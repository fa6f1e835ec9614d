"""Streams: what the differential corpus cannot compare byte for byte.

- XREAD BLOCK with real waiting clients: woken by XADD, "$" meaning the
  last ID when the client blocked (entries added before the wake-up but
  after blocking are delivered, older ones are not), several keys, timeouts,
  writes that add nothing leave the client blocked; with one worker and with
  the keyspace split over three.
- Auto IDs (XADD *): time based, strictly increasing, ms-* sequences.
- XINFO STREAM against the oracle, every field but radix-tree-nodes (which
  depends on Redis's radix tree layout).
"""
import time
import unittest

from cbtest import Server, encode_command, parse


class _XRead:
    ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server('cachebox', args=cls.ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.r = self.server.redis()
        self.addCleanup(self.r.connection_pool.disconnect)
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
        self.addCleanup(c.close)
        c.send(encode_command(*cmd))
        return c

    def test_block_dollar_woken_by_xadd(self):
        self.r.xadd('s', {'old': '1'}, id='1-1')
        c = self.start('XREAD', 'BLOCK', 0, 'STREAMS', 's', '$')
        self.wait_blocked(1)
        self.r.xadd('s', {'new': '2'}, id='2-1')
        self.assertEqual(parse(c.read_reply()),
                         [[b's', [[b'2-1', [b'new', b'2']]]]])
        self.assertEqual(self.blocked_count(), 0)

    def test_block_on_missing_key_and_several_keys(self):
        c = self.start('XREAD', 'COUNT', 5, 'BLOCK', 0, 'STREAMS', 'k1', 'k2', '$', '$')
        self.wait_blocked(1)
        self.r.xadd('k2', {'f': 'v'}, id='5-5')
        self.assertEqual(parse(c.read_reply()), [[b'k2', [[b'5-5', [b'f', b'v']]]]])

    def test_write_without_new_entries_keeps_blocked(self):
        self.r.xadd('s', {'a': '1'}, id='1-1')
        self.r.xadd('s', {'a': '2'}, id='1-2')
        c = self.start('XREAD', 'BLOCK', 0, 'STREAMS', 's', '$')
        self.wait_blocked(1)
        self.r.xdel('s', '1-1')
        self.r.xtrim('s', maxlen=5)
        time.sleep(0.05)
        self.assertEqual(self.blocked_count(), 1)
        self.r.xadd('s', {'a': '3'}, id='3-0')
        self.assertEqual(parse(c.read_reply()), [[b's', [[b'3-0', [b'a', b'3']]]]])

    def test_explicit_id_and_timeout(self):
        c = self.start('XREAD', 'BLOCK', 200, 'STREAMS', 'never', '0')
        t0 = time.time()
        self.assertEqual(c.read_reply(), b'*-1\r\n')
        took = time.time() - t0
        self.assertGreater(took, 0.15)
        self.assertLess(took, 0.8)

    def test_two_waiters_both_served(self):
        a = self.start('XREAD', 'BLOCK', 0, 'STREAMS', 's', '$')
        self.wait_blocked(1)
        b = self.start('XREAD', 'BLOCK', 0, 'STREAMS', 's', '0')
        self.wait_blocked(2)
        self.r.xadd('s', {'x': 'y'}, id='9-9')
        want = [[b's', [[b'9-9', [b'x', b'y']]]]]
        self.assertEqual(parse(a.read_reply()), want)
        self.assertEqual(parse(b.read_reply()), want)

    def test_auto_ids(self):
        before = int(time.time() * 1000)
        ids = [self.r.xadd('a', {'f': str(i)}) for i in range(50)]
        after = int(time.time() * 1000)
        parsed = [tuple(int(x) for x in i.split(b'-')) for i in ids]
        self.assertEqual(parsed, sorted(set(parsed)))
        for ms, _ in parsed:
            self.assertGreaterEqual(ms, before - 1)
            self.assertLessEqual(ms, after + 1)
        # A future explicit ID makes * continue from it.
        self.r.xadd('b', {'f': 'v'}, id='%d-5' % (after + 100000))
        nxt = self.r.xadd('b', {'f': 'v'})
        self.assertEqual(nxt, b'%d-6' % (after + 100000))
        self.assertEqual(self.r.xadd('b', {'f': 'v'}, id='%d-*' % (after + 100000)),
                         b'%d-7' % (after + 100000))
        self.assertEqual(self.r.xadd('b', {'f': 'v'}, id='%d-*' % (after + 200000)),
                         b'%d-0' % (after + 200000))

    def test_xreadgroup_block(self):
        self.r.xgroup_create('gs', 'g', id='$', mkstream=True)
        c = self.start('XREADGROUP', 'GROUP', 'g', 'alice', 'BLOCK', 0, 'STREAMS', 'gs', '>')
        self.wait_blocked(1)
        self.r.xadd('gs', {'f': 'v'}, id='7-7')
        self.assertEqual(parse(c.read_reply()), [[b'gs', [[b'7-7', [b'f', b'v']]]]])
        self.assertEqual(self.r.xpending('gs', 'g')['pending'], 1)
        # The group goes away while a reader waits: NOGROUP.
        d = self.start('XREADGROUP', 'GROUP', 'g', 'bob', 'BLOCK', 0, 'STREAMS', 'gs', '>')
        self.wait_blocked(1)
        self.r.xgroup_destroy('gs', 'g')
        self.assertEqual(d.read_reply(), b'-NOGROUP the consumer group this client was '
                         b'blocked on no longer exists\r\n')

    def test_xpending_times(self):
        self.r.xadd('p', {'a': '1'}, id='1-1')
        self.r.xadd('p', {'a': '2'}, id='2-1')
        self.r.xgroup_create('p', 'g', id='0')
        self.r.xreadgroup('g', 'c1', {'p': '>'})
        time.sleep(0.12)
        self.r.xreadgroup('g', 'c1', {'p': '0'}, count=1)  # redelivers 1-1
        with self.server.raw() as c:
            rows = parse(c.cmd('XPENDING', 'p', 'g', '-', '+', 10))
            self.assertEqual([r[0] for r in rows], [b'1-1', b'2-1'])
            self.assertEqual([r[3] for r in rows], [2, 1])
            self.assertLess(rows[0][2], 100)
            self.assertGreaterEqual(rows[1][2], 100)
            idle = parse(c.cmd('XPENDING', 'p', 'g', 'IDLE', 100, '-', '+', 10))
            self.assertEqual([r[0] for r in idle], [b'2-1'])
            full = parse(c.cmd('XINFO', 'STREAM', 'p', 'FULL'))
            g = dict(zip(full[-1][0][0::2], full[-1][0][1::2]))
            self.assertEqual(g[b'pel-count'], 2)
            now = time.time() * 1000
            for e in g[b'pending']:
                self.assertLess(abs(e[2] - now), 5000)
            cons = g[b'consumers'][0]
            self.assertEqual(cons[0:2], [b'name', b'c1'])
            self.assertEqual(cons[4:6], [b'pel-count', 2])
            info = parse(c.cmd('XINFO', 'CONSUMERS', 'p', 'g'))
            self.assertEqual(info[0][:4], [b'name', b'c1', b'pending', 2])
            self.assertLess(info[0][5], 100)


class XRead1Worker(_XRead, unittest.TestCase):
    ARGS = ()


class XRead3Workers(_XRead, unittest.TestCase):
    ARGS = ('--io-workers', '3')


class XInfoVsOracle(unittest.TestCase):
    """XINFO STREAM [FULL] field by field against redis-server."""

    @classmethod
    def setUpClass(cls):
        cls.cb = Server('cachebox')
        cls.rd = Server('redis')

    @classmethod
    def tearDownClass(cls):
        cls.cb.cleanup()
        cls.rd.cleanup()

    def both(self, *cmd):
        out = []
        for srv in (self.cb, self.rd):
            with srv.raw() as c:
                out.append(parse(c.cmd(*cmd)))
        return out

    def compare(self, key):
        for cmd in (('XINFO', 'STREAM', key), ('XINFO', 'STREAM', key, 'FULL'),
                    ('XINFO', 'STREAM', key, 'FULL', 'COUNT', 3)):
            a, b = self.both(*cmd)
            da = dict(zip(a[0::2], a[1::2]))
            db = dict(zip(b[0::2], b[1::2]))
            self.assertIn(b'radix-tree-nodes', da)
            self.assertGreater(da.pop(b'radix-tree-nodes'), 0)
            db.pop(b'radix-tree-nodes')
            self.assertEqual(da, db, cmd)
            self.assertEqual(a[0::2], b[0::2])

    def test_fields(self):
        self.both('FLUSHALL')
        self.both('XADD', 's', '1-1', 'a', '1')
        self.compare('s')
        for i in range(2, 260):
            self.both('XADD', 's', '%d-1' % i, 'f', 'v' * (i % 50), 'g', str(i))
        self.compare('s')
        self.both('XDEL', 's', '1-1', '150-1', '250-1')
        self.compare('s')
        self.both('XTRIM', 's', 'MAXLEN', '~', '120')
        self.compare('s')
        self.both('XTRIM', 's', 'MAXLEN', '0')
        self.compare('s')
        self.both('XSETID', 's', '999-0', 'ENTRIESADDED', '5000', 'MAXDELETEDID', '998-0')
        self.compare('s')

    def test_groups_full_and_idle(self):
        self.both('FLUSHALL')
        for i in range(1, 6):
            self.both('XADD', 'g', '%d-1' % i, 'f', str(i))
        self.both('XGROUP', 'CREATE', 'g', 'ga', '0')
        self.both('XGROUP', 'CREATE', 'g', 'gb', '3-1', 'ENTRIESREAD', '3')
        self.both('XGROUP', 'CREATECONSUMER', 'g', 'ga', 'alice')
        self.both('XDEL', 'g', '4-1')
        a, b = self.both('XINFO', 'STREAM', 'g', 'FULL')
        da = dict(zip(a[0::2], a[1::2]))
        db = dict(zip(b[0::2], b[1::2]))
        ga, gb = da.pop(b'groups'), db.pop(b'groups')
        da.pop(b'radix-tree-nodes')
        db.pop(b'radix-tree-nodes')
        self.assertEqual(da, db)
        self.assertEqual(len(ga), len(gb))
        now = int(time.time() * 1000)
        for x, y in zip(ga, gb):
            cx, cy = x[-1], y[-1]
            self.assertEqual(x[:-1], y[:-1])
            self.assertEqual(len(cx), len(cy))
            for u, v in zip(cx, cy):
                # name, seen-time, pel-count, pending: the time is ours.
                self.assertEqual((u[0:3], u[4:]), (v[0:3], v[4:]))
                self.assertLessEqual(abs(u[3] - now), 5000)
        time.sleep(0.05)
        a, b = self.both('XINFO', 'CONSUMERS', 'g', 'ga')
        self.assertEqual(len(a), 1)
        self.assertEqual(a[0][:5], b[0][:5])
        self.assertGreaterEqual(a[0][5], 40)
        self.assertLess(a[0][5], 5000)

    def test_xclaim_counts_and_times(self):
        self.both('FLUSHALL')
        for i in range(1, 6):
            self.both('XADD', 'x', '%d-1' % i, 'f', str(i))
        self.both('XGROUP', 'CREATE', 'x', 'g', '0')
        self.both('XREADGROUP', 'GROUP', 'g', 'alice', 'COUNT', '4', 'STREAMS', 'x', '>')
        self.both('XCLAIM', 'x', 'g', 'bob', '0', '1-1')
        self.both('XCLAIM', 'x', 'g', 'bob', '0', '2-1', 'JUSTID')
        self.both('XCLAIM', 'x', 'g', 'bob', '0', '3-1', 'IDLE', '5000', 'RETRYCOUNT', '7')
        self.both('XCLAIM', 'x', 'g', 'carol', '0', '5-1', 'FORCE')
        now_ms = int(time.time() * 1000)
        self.both('XCLAIM', 'x', 'g', 'carol', '0', '4-1', 'TIME', str(now_ms - 20000))
        a, b = self.both('XPENDING', 'x', 'g', '-', '+', '10')
        self.assertEqual([(r[0], r[1], r[3]) for r in a], [(r[0], r[1], r[3]) for r in b])
        for ra, rb in zip(a, b):
            self.assertLess(abs(ra[2] - rb[2]), 1000, (ra, rb))
        idle = {r[0]: r[2] for r in a}
        self.assertGreaterEqual(idle[b'3-1'], 5000)
        self.assertGreaterEqual(idle[b'4-1'], 20000)
        self.assertLess(idle[b'1-1'], 1000)
        # XAUTOCLAIM: counts move as in Redis (JUSTID leaves them).
        self.both('XAUTOCLAIM', 'x', 'g', 'dave', '0', '0', 'COUNT', '2')
        self.both('XAUTOCLAIM', 'x', 'g', 'erin', '0', '0', 'JUSTID')
        a, b = self.both('XPENDING', 'x', 'g', '-', '+', '10')
        self.assertEqual([(r[0], r[1], r[3]) for r in a], [(r[0], r[1], r[3]) for r in b])
        self.assertTrue(all(r[2] < 1000 for r in a))


if __name__ == '__main__':
    unittest.main()
