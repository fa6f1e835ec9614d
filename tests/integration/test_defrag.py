"""Active defragmentation (an intended difference from Debian's
redis-server, which refuses activedefrag because it runs on the system
jemalloc: these checks use our own numbers).

Fill with mixed sizes of strings, hashes, sorted sets, sets and lists,
some with TTLs, delete every other key: allocator_frag_ratio rises and says
so truthfully; with activedefrag on it falls back under the lower
threshold while a client keeps reading, and every value and TTL is intact.
"""
import random
import time
import unittest

from cbtest import Server


class ActiveDefrag(unittest.TestCase):
    def test_fragmentation_falls_under_threshold(self):
        srv = Server('cachebox', args=('--hz', '50'))
        self.addCleanup(srv.cleanup)
        r = srv.redis()
        if r.info('memory')['mem_allocator'].startswith('libc'):
            self.skipTest('built without jemalloc')
        rnd = random.Random(5)
        expect = {}
        p = r.pipeline(transaction=False)
        for i in range(120000):
            k = 's:%d' % i
            v = 'x' * rnd.randint(10, 300)
            expect[k] = v
            p.set(k, v)
            if i % 3 == 0:
                p.expire(k, 100000)
        for i in range(8000):
            p.hset('h:%d' % i, mapping={'f%d' % j: 'v' * rnd.randint(1, 40) for j in range(5)})
            p.zadd('z:%d' % i, {'m%d' % j: j for j in range(5)})
            p.sadd('i:%d' % i, *range(5))
        for i in range(500):
            p.rpush('l:%d' % i, *range(20))
        p.execute()
        time.sleep(0.3)
        before = r.info('memory')['allocator_frag_ratio']
        p = r.pipeline(transaction=False)
        for i in range(0, 120000, 2):
            p.delete('s:%d' % i)
            expect.pop('s:%d' % i)
        for i in range(0, 8000, 2):
            p.delete('h:%d' % i, 'z:%d' % i, 'i:%d' % i)
        p.execute()
        time.sleep(0.3)
        m = r.info('memory')
        frag = m['allocator_frag_ratio']
        # Truthful: active - allocated as reported, and clearly up.
        self.assertGreater(frag, before + 0.15, (before, frag))
        self.assertEqual(m['allocator_frag_bytes'], m['allocator_active'] - m['allocator_allocated'])
        self.assertAlmostEqual(frag, m['allocator_active'] / m['allocator_allocated'], delta=0.01)

        r.config_set('active-defrag-ignore-bytes', '1mb')
        r.config_set('active-defrag-threshold-lower', '5')
        r.config_set('active-defrag-cycle-min', '25')
        r.config_set('active-defrag-cycle-max', '75')
        r.config_set('activedefrag', 'yes')
        keys = list(expect)
        seen_running = False
        deadline = time.time() + 30
        while time.time() < deadline:
            # Clients keep getting correct values while values move.
            sample = rnd.sample(keys, 200)
            self.assertEqual(r.mget(sample), [expect[k].encode() for k in sample])
            m = r.info('memory')
            seen_running |= m['active_defrag_running'] > 0
            if m['allocator_frag_ratio'] < 1.05:
                break
            time.sleep(0.05)
        st = r.info('stats')
        print('allocator_frag_ratio %.2f -> %.2f after delete -> %.2f after defrag; hits %d' % (
            before, frag, r.info('memory')['allocator_frag_ratio'], st['active_defrag_hits']))
        self.assertLess(r.info('memory')['allocator_frag_ratio'], 1.05, st)
        self.assertGreater(st['active_defrag_hits'], 1000)
        self.assertGreater(st['active_defrag_key_hits'], 0)
        self.assertTrue(seen_running)
        # Everything intact: values, TTLs, the other types.
        got = r.mget(keys)
        self.assertEqual(got, [expect[k].encode() for k in keys])
        for i in range(1, 120000, 6):
            ttl = r.ttl('s:%d' % i)
            self.assertTrue(ttl > 0 if i % 3 == 0 else ttl == -1, (i, ttl))
        for i in range(1, 8000, 2):
            self.assertEqual(r.hlen('h:%d' % i), 5)
            self.assertEqual(r.zrange('z:%d' % i, 0, -1), [b'm%d' % j for j in range(5)])
            self.assertEqual(r.scard('i:%d' % i), 5)
        self.assertEqual(r.llen('l:7'), 20)
        # And keys still delete and expire cleanly after moving.
        self.assertEqual(r.delete(*keys[:1000]), 1000)
        r.pexpire(keys[1000], 1)
        time.sleep(0.01)
        self.assertIsNone(r.get(keys[1000]))
        r.config_set('activedefrag', 'no')


if __name__ == '__main__':
    unittest.main()
