"""The memory report: INFO memory and MEMORY STATS have Redis 7.0's fields
in Redis's order (compared with a live redis-server), their numbers agree
with each other and with what the data set should take, MEMORY USAGE grows
with the value, DOCTOR gives advice from the numbers, and Debian's
prometheus-redis-exporter, pointed at cachebox, exports memory metrics equal
to INFO's.
"""
import os
import re
import shutil
import subprocess
import time
import unittest
import urllib.request

from cbtest import Server, free_port, kernel_plane_only

EXPORTER = shutil.which('prometheus-redis-exporter')


def info_keys(server):
    with server.raw() as c:
        raw = c.cmd('INFO', 'memory').decode()
    return [l.split(':', 1)[0] for l in raw.splitlines()[1:] if l and not l.startswith('#')]


def stats_keys(r):
    flat = r.execute_command('MEMORY', 'STATS')
    if isinstance(flat, dict):
        return [k.decode() if isinstance(k, bytes) else k for k in flat]
    return [flat[i].decode() for i in range(0, len(flat), 2)]


class MemoryReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = Server('cachebox')
        cls.rd = Server('redis')
        cls.r = cls.cb.redis()
        cls.o = cls.rd.redis()

    @classmethod
    def tearDownClass(cls):
        cls.cb.cleanup()
        cls.rd.cleanup()

    def fill(self, r):
        p = r.pipeline(transaction=False)
        for i in range(20000):
            p.set('s:%d' % i, 'x' * 100)
        for i in range(200):
            p.hset('h:%d' % i, mapping={'f%d' % j: 'v' for j in range(10)})
        p.execute()

    def test_small_hashes_cost_less_than_redis(self):
        # Compact hashes live in one block with their object and keys take a
        # 1-byte header: per key, clearly under Redis's listpack hashes; the
        # hashes stay correct through writes that grow, shrink and convert.
        per_key = []
        for r in (self.r, self.o):
            r.flushall()
            time.sleep(0.2)
            before = r.info('memory')['used_memory']
            p = r.pipeline(transaction=False)
            for i in range(20000):
                p.hset('hash:%08d' % i, mapping={'f%d' % j: 'value%03d' % j for j in range(1, 5)})
            p.execute()
            time.sleep(0.2)
            per_key.append((r.info('memory')['used_memory'] - before) / 20000)
        print('small hash bytes per key: cachebox %.1f, redis %.1f' % tuple(per_key))
        self.assertLess(per_key[0], per_key[1] * 0.95, per_key)
        r = self.r
        self.assertEqual(r.object('encoding', 'hash:00000007'), b'listpack')
        self.assertEqual(r.hset('hash:00000007', 'f9', 'nine'), 1)
        self.assertEqual(r.hincrby('hash:00000007', 'n', 5), 5)
        self.assertEqual(r.hdel('hash:00000007', 'f1'), 1)
        self.assertEqual(r.hsetnx('hash:00000007', 'f2', 'x'), 0)
        self.assertEqual(r.hgetall('hash:00000007'),
                         {b'f2': b'value002', b'f3': b'value003', b'f4': b'value004',
                          b'f9': b'nine', b'n': b'5'})
        self.assertEqual(r.object('encoding', 'hash:00000007'), b'listpack')
        self.assertEqual(r.hset('hash:00000007', 'long', 'v' * 100), 1)
        self.assertEqual(r.object('encoding', 'hash:00000007'), b'hashtable')
        self.assertEqual(r.hget('hash:00000007', 'f3'), b'value003')
        payload = r.dump('hash:00000008')
        r.restore('copy', 0, payload)
        self.assertEqual(r.hgetall('copy'), r.hgetall('hash:00000008'))
        self.assertEqual(r.copy('copy', 'copy2'), True)
        self.assertEqual(r.hlen('copy2'), 4)
        self.assertGreater(r.memory_usage('copy2'), 0)
        self.assertEqual(r.hdel('copy2', 'f1', 'f2', 'f3', 'f4'), 4)
        self.assertEqual(r.exists('copy2'), 0)
        r.flushall()

    def test_info_memory_fields_match_redis(self):
        self.assertEqual(info_keys(self.cb), info_keys(self.rd))

    def test_memory_stats_fields_match_redis(self):
        self.r.flushall()
        self.o.flushall()
        self.r.set('a', 'b')
        self.o.set('a', 'b')
        self.r.select(3)
        self.o.select(3)
        self.r.set('a', 'b')
        self.o.set('a', 'b')
        self.r.select(0)
        self.o.select(0)
        self.assertEqual(stats_keys(self.r), stats_keys(self.o))
        st = self.r.memory_stats()
        self.assertEqual(st['keys.count'], 2)
        self.assertIn('db.3', st)

    def test_numbers_are_consistent(self):
        self.r.flushall()
        base = self.r.info('memory')['used_memory']
        self.fill(self.r)
        inf = self.r.info('memory')
        grown = inf['used_memory'] - base
        # 20000 strings of 100 bytes + 200 small hashes: a few MB, not more.
        self.assertGreater(grown, 20000 * 100)
        self.assertLess(grown, 20000 * 100 * 3)
        self.assertEqual(inf['used_memory_overhead'] + inf['used_memory_dataset'],
                         inf['used_memory'])
        self.assertGreaterEqual(inf['used_memory_rss'], inf['used_memory'] // 2)
        self.assertLessEqual(inf['allocator_allocated'], inf['allocator_active'])
        self.assertLessEqual(inf['allocator_active'], inf['allocator_resident'])
        st = self.r.memory_stats()
        self.assertEqual(st['keys.count'], 20200)
        self.assertEqual(st['startup.allocated'], inf['used_memory_startup'])
        self.assertGreaterEqual(st['peak.allocated'], st['total.allocated'])
        self.assertAlmostEqual(st['total.allocated'], inf['used_memory'], delta=64 * 1024)
        # MEMORY USAGE sums to about the data set.
        total = sum(self.r.memory_usage('s:%d' % i) for i in range(0, 20000, 100)) * 100
        self.assertAlmostEqual(total, grown, delta=grown * 0.5)

    def test_memory_usage_grows_with_value(self):
        self.r.set('u1', 'x' * 10)
        self.r.set('u2', 'x' * 10000)
        self.r.rpush('u3', *range(1000))
        a, b, c = (self.r.memory_usage(k) for k in ('u1', 'u2', 'u3'))
        self.assertLess(a, 100)
        self.assertGreaterEqual(b, 10000)
        self.assertLess(b, 13000)
        self.assertGreater(c, 1000)
        self.assertEqual(self.r.memory_usage('u2', samples=0), b)
        self.assertIsNone(self.r.memory_usage('missing'))

    def test_doctor_and_purge(self):
        self.r.flushall()
        self.assertIn('little data', self.r.execute_command('MEMORY', 'DOCTOR').decode())
        self.fill(self.r)
        p = self.r.pipeline(transaction=False)
        for i in range(60000):
            p.set('big:%d' % i, 'y' * 100)
        p.execute()
        self.r.config_set('maxmemory', '%d' % int(self.r.info('memory')['used_memory'] * 1.05))
        text = self.r.execute_command('MEMORY', 'DOCTOR').decode()
        self.assertIn('maxmemory', text)
        self.assertIn('noeviction', text)
        self.r.config_set('maxmemory', '0')
        self.assertTrue(self.r.memory_purge())
        ms = self.r.execute_command('MEMORY', 'MALLOC-STATS').decode()
        self.assertIn('jemalloc', ms)

    def test_memory_commands_with_workers(self):
        srv = Server('cachebox', args=('--io-workers', '3'))
        self.addCleanup(srv.cleanup)
        r = srv.redis()
        self.fill(r)
        st = r.memory_stats()
        self.assertEqual(st['keys.count'], 20200)
        for i in range(0, 20000, 997):
            self.assertGreater(r.memory_usage('s:%d' % i), 100)


def free_hugepages():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('HugePages_Free:'):
                return int(line.split()[1])
    return 0


@kernel_plane_only('the hugepages directive sizes the kernel plane\'s store region; on DPDK '
                   'the store lives in EAL memory (run_dpdk_tests.sh, section hugepages)')
class Hugepages(unittest.TestCase):
    def load(self, r, n=3000):
        p = r.pipeline(transaction=False)
        for i in range(n):
            p.set('k:%d' % i, 'v' * 4000)
        p.execute()

    def test_store_arena_and_info_block(self):
        srv = Server('cachebox', args=('--hugepages', '32mb', '--io-workers', '2'))
        self.addCleanup(srv.cleanup)
        r = srv.redis()
        self.assertEqual(r.config_get('hugepages'), {'hugepages': '33554432'})
        before = r.info('hugepages')
        self.load(r)
        time.sleep(0.25)  # the management thread refreshes arena figures every 100 ms
        h = r.info('hugepages')
        self.assertEqual(h['hugepages_configured'], 32 << 20)
        shards = [h['shard0'], h['shard1']]
        for sh in shards:
            self.assertEqual(sh['region'], 16 << 20)
            self.assertGreaterEqual(sh['arena'], 0)
        # The data set lives in the shard arenas, and their regions.
        total = sum(sh['allocator_allocated'] for sh in shards)
        self.assertGreater(total, 3000 * 4000)
        used = sum(sh['region_used'] + sh['fallback'] for sh in shards)
        used0 = sum(before['shard%d' % i]['region_used'] for i in range(2))
        self.assertGreater(used - used0, 3000 * 4000)
        # Per-shard used memory adds up to used_memory.
        self.assertAlmostEqual(sum(sh['used_memory'] for sh in shards),
                               r.info("memory")["used_memory"], delta=r.info("memory")["used_memory"] * 0.02)
        if h['hugepages_pool_bytes'] == 0:
            self.assertIn('cannot map', srv.log())
            self.assertGreater(h['hugepages_fallback_bytes'], 0)
        # Growing past the region goes on (normal pages, logged once).
        self.load(r, 10000)
        r.set('after', 'x')
        self.assertEqual(r.get('after'), b'x')
        time.sleep(0.25)
        h = r.info('hugepages')
        self.assertGreater(h['shard0']['fallback'] + h['shard1']['fallback'], 0)
        self.assertIn('region is full', srv.log())

    @unittest.skipUnless(free_hugepages() >= 16, 'no free 2 MB hugepages (vm.nr_hugepages)')
    def test_data_in_hugepages(self):
        srv = Server('cachebox', args=('--hugepages', '16mb'))
        self.addCleanup(srv.cleanup)
        r = srv.redis()
        self.load(r, 2000)
        time.sleep(0.25)
        h = r.info('hugepages')
        self.assertEqual(h['hugepages_pool_bytes'], 16 << 20)
        self.assertGreater(h['hugepages_pool_used_bytes'], 2000 * 4000)
        self.assertGreaterEqual(h['hugetlb_rss_bytes'], 2000 * 4000)
        m = r.info('memory')
        self.assertGreaterEqual(m['used_memory_rss'], h['hugetlb_rss_bytes'])


@unittest.skipUnless(EXPORTER, 'prometheus-redis-exporter is not installed')
class Exporter(unittest.TestCase):
    METRICS = {
        # exporter metric: INFO field
        'redis_memory_used_bytes': 'used_memory',
        'redis_memory_used_rss_bytes': 'used_memory_rss',
        'redis_memory_used_peak_bytes': 'used_memory_peak',
        'redis_memory_used_overhead_bytes': 'used_memory_overhead',
        'redis_memory_used_startup_bytes': 'used_memory_startup',
        'redis_memory_used_dataset_bytes': 'used_memory_dataset',
        'redis_memory_max_bytes': 'maxmemory',
        'redis_allocator_allocated_bytes': 'allocator_allocated',
        'redis_allocator_active_bytes': 'allocator_active',
        'redis_allocator_resident_bytes': 'allocator_resident',
        'redis_allocator_frag_ratio': 'allocator_frag_ratio',
        'redis_allocator_frag_bytes': 'allocator_frag_bytes',
        'redis_allocator_rss_ratio': 'allocator_rss_ratio',
        'redis_allocator_rss_bytes': 'allocator_rss_bytes',
        'redis_mem_fragmentation_ratio': 'mem_fragmentation_ratio',
        'redis_mem_fragmentation_bytes': 'mem_fragmentation_bytes',
        'redis_mem_not_counted_for_eviction_bytes': 'mem_not_counted_for_evict',
        'redis_mem_clients_normal': 'mem_clients_normal',
        'redis_mem_clients_slaves': 'mem_clients_slaves',
        'redis_evicted_keys_total': 'evicted_keys',
    }
    # Figures that move a little between the scrape and our INFO (our own
    # connection's buffers, the 100 ms allocator refresh).
    MOVING = {'used_memory', 'used_memory_rss', 'used_memory_peak', 'used_memory_overhead',
              'used_memory_dataset', 'allocator_allocated', 'allocator_active',
              'allocator_resident', 'allocator_frag_bytes', 'allocator_rss_bytes',
              'mem_fragmentation_bytes', 'mem_clients_normal', 'allocator_frag_ratio',
              'allocator_rss_ratio', 'mem_fragmentation_ratio'}
    DIFFERENCES = {'allocator_frag_bytes', 'allocator_rss_bytes', 'mem_fragmentation_bytes'}

    def test_exporter_reads_memory(self):
        srv = Server('cachebox', args=('--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'))
        self.addCleanup(srv.cleanup)
        r = srv.redis()
        p = r.pipeline(transaction=False)
        for i in range(30000):
            p.set('k:%d' % i, 'v' * 3000)
        p.execute()
        self.assertGreater(r.info('stats')['evicted_keys'], 0)
        port = free_port()
        exp = subprocess.Popen([EXPORTER, '--redis.addr', 'redis://%s:%d' % (srv.host, srv.port),
                                '--web.listen-address', '127.0.0.1:%d' % port],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (exp.terminate(), exp.wait(5)))
        text = None
        for _ in range(50):
            try:
                text = urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port,
                                              timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        self.assertIsNotNone(text)
        info = dict(r.info('memory'))
        info.update(r.info('stats'))
        got = {}
        for line in text.splitlines():
            m = re.match(r'^(redis_[a-z_]+) (\S+)$', line)
            if m:
                got[m.group(1)] = float(m.group(2))
        self.assertEqual(got.get('redis_up'), 1.0)
        for metric, field in self.METRICS.items():
            self.assertIn(metric, got, metric)
            want = float(info[field])
            if field == 'mem_clients_normal':
                # The exporter's own connection is gone by the time we ask:
                # one idle client (struct and its 16 KiB output block).
                self.assertLessEqual(abs(got[metric] - want), 32768, metric)
            elif field == 'evicted_keys':
                # The scrape's commands get their latency histograms at their
                # first call (as in Redis): that memory may evict a few more
                # keys before our INFO.
                self.assertLessEqual(got[metric], want, metric)
                self.assertLessEqual(want - got[metric], 20, metric)
            elif field in self.DIFFERENCES:
                # A difference of two large figures moves with either of
                # them: the tolerance is relative to the memory it is taken
                # from, not to the small difference itself.
                self.assertAlmostEqual(got[metric], want,
                                       delta=float(info['used_memory_rss']) * 0.02,
                                       msg='%s vs %s' % (metric, field))
            elif field in self.MOVING:
                self.assertAlmostEqual(got[metric], want, delta=max(abs(want) * 0.02, 0.02),
                                       msg='%s vs %s' % (metric, field))
            else:
                self.assertEqual(got[metric], want, '%s vs %s' % (metric, field))
        self.assertEqual(got['redis_memory_max_bytes'], 64 << 20)


if __name__ == '__main__':
    unittest.main()
