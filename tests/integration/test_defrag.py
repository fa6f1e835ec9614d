"""Active defragmentation (an intended difference from Debian's
redis-server, which refuses activedefrag because it runs on the system
jemalloc: these checks use our own numbers).

Fill with mixed sizes of strings, hashes, sorted sets, sets and lists,
some with TTLs, delete every other key: allocator_frag_ratio rises and says
so truthfully; with activedefrag on it falls back under the lower
threshold while a client keeps reading, and every value and TTL is intact.
InsideBigKeys: the same inside single big keys (a 300k-field hash, a
200k-member sorted set, a long list): their insides are moved a slice at a
time (active-defrag-max-scan-fields bounds what is done at once) while a
client keeps reading them.
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


class InsideBigKeys(unittest.TestCase):
    def test_one_big_hash_defragments(self):
        srv = Server('cachebox', args=('--hz', '50'))
        self.addCleanup(srv.cleanup)
        r = srv.redis()
        if r.info('memory')['mem_allocator'].startswith('libc'):
            self.skipTest('built without jemalloc')
        rnd = random.Random(7)
        expect = {}
        p = r.pipeline(transaction=False)
        n = 300000
        for i in range(0, n, 500):
            m = {}
            for j in range(i, i + 500):
                m['field:%d' % j] = 'v' * rnd.randint(10, 200)
            expect.update(m)
            p.hset('big', mapping=m)
        # A sorted set and a list fragmented the same way.
        for i in range(0, 200000, 1000):
            p.zadd('bigz', {'member:%d' % j: j for j in range(i, i + 1000)})
        for i in range(0, 200000, 1000):
            p.rpush('bigl', *['e%d' % j for j in range(i, i + 1000)])
        p.execute()
        self.assertEqual(r.object('encoding', 'big'), b'hashtable')
        time.sleep(0.3)
        before = r.info('memory')['allocator_frag_ratio']
        p = r.pipeline(transaction=False)
        for i in range(0, n, 1000):
            fields = ['field:%d' % j for j in range(i, i + 1000, 2)]
            p.hdel('big', *fields)
            for f in fields:
                expect.pop(f)
        for i in range(0, 200000, 1000):
            p.zrem('bigz', *['member:%d' % j for j in range(i, i + 1000, 2)])
        p.execute()
        time.sleep(0.3)
        m = r.info('memory')
        frag = m['allocator_frag_ratio']
        self.assertGreater(frag, before + 0.15, (before, frag))

        r.config_set('active-defrag-ignore-bytes', '1mb')
        r.config_set('active-defrag-threshold-lower', '5')
        r.config_set('active-defrag-cycle-min', '25')
        r.config_set('active-defrag-cycle-max', '75')
        r.config_set('active-defrag-max-scan-fields', '1000')
        r.config_set('activedefrag', 'yes')
        fields = list(expect)
        lat = []
        deadline = time.time() + 60
        while time.time() < deadline:
            # Reads of the big key itself stay correct (and quick) while
            # its fields move under them.
            sample = rnd.sample(fields, 200)
            t = time.time()
            got = r.hmget('big', sample)
            lat.append(time.time() - t)
            self.assertEqual(got, [expect[f].encode() for f in sample])
            if r.info('memory')['allocator_frag_ratio'] < 1.05:
                break
            time.sleep(0.05)
        st = r.info('stats')
        after = r.info('memory')['allocator_frag_ratio']
        print('one big hash: allocator_frag_ratio %.2f -> %.2f after HDEL -> %.2f after defrag; '
              'hits %d; max HMGET %.1f ms' % (before, frag, after, st['active_defrag_hits'],
                                               max(lat) * 1000))
        self.assertLess(after, 1.05, st)
        self.assertGreater(st['active_defrag_hits'], 100000)
        # Everything intact.
        self.assertEqual(r.hlen('big'), len(expect))
        got = r.hgetall('big')
        self.assertEqual(len(got), len(expect))
        for f in fields[::97]:
            self.assertEqual(got[f.encode()], expect[f].encode())
        self.assertEqual(r.zcard('bigz'), 100000)
        self.assertEqual(r.zrange('bigz', 0, 2, withscores=True),
                         [(b'member:1', 1.0), (b'member:3', 3.0), (b'member:5', 5.0)])
        self.assertEqual(r.zrank('bigz', 'member:199999'), 99999)
        self.assertEqual(r.zrevrange('bigz', 0, 0), [b'member:199999'])
        self.assertEqual(r.llen('bigl'), 200000)
        self.assertEqual(r.lindex('bigl', 123456), b'e123456')
        self.assertEqual(r.lrange('bigl', -2, -1), [b'e199998', b'e199999'])
        r.config_set('activedefrag', 'no')


if __name__ == '__main__':
    unittest.main()
