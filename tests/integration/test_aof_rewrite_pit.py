"""AOF rewrite without parking the workers (docs/aof.md, "Rewrites").

A BGREWRITEAOF of a million keys (DEBUG POPULATE, which the AOF does not
record: after the rewrite they live only in the new base) is stretched with
rdb-key-save-delay to several seconds. A client does single GET/SET/INCR/DEL
round trips the whole time and records each one's latency; the main thread
polls INFO and marks the writes that completed between the first and the
last `aof_rewrite_in_progress:1` it saw. Checked:
  - the client's p99 latency during the rewrite stays under a few ms (the
    workers never stop for the rewrite, only for its epoch);
  - at least half of its writes overlap the rewrite;
  - after the rewrite the server is killed with SIGKILL and restarted from
    its appendonlydir: the whole dataset (DEBUG DIGEST, DBSIZE) is exactly
    what it was — the new base is the epoch, the new incremental file holds
    every write after it, nothing doubled (INCR counters) or lost;
  - Debian's redis-server loads the same appendonlydir to the same digest.
A second test does the same with `aof-use-rdb-preamble no` (a base written
as commands) on fewer keys; a third checks BGSAVE / BGREWRITEAOF mutual
exclusion and the INFO fields against Redis 7.0's texts.
CACHEBOX_QUICK=1 uses 250,000 keys. Run with /usr/bin/python3.
"""
import os
import random
import shutil
import signal
import tempfile
import threading
import time
import unittest

import redis

from cbtest import Server, kernel_plane_only

QUICK = bool(os.environ.get('CACHEBOX_QUICK'))
NKEYS = 250_000 if QUICK else 1_000_000
DEBUG = ['--enable-debug-command', 'yes']
AOF = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '']


def bgrewriteaof(r):
    r.response_callbacks.pop('BGREWRITEAOF', None)
    return r.execute_command('BGREWRITEAOF')


def wait_rewrite_done(r, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        i = r.info('persistence')
        if not i['aof_rewrite_in_progress'] and not i['aof_rewrite_scheduled']:
            return i
        time.sleep(0.02)
    raise AssertionError('rewrite did not finish')


class Client(threading.Thread):
    """One connection doing GET/SET/INCR/DEL round trips until stopped."""

    def __init__(self, s, nkeys):
        super().__init__()
        self.r = s.redis()
        self.nkeys = nkeys
        self.stop = threading.Event()
        self.ops = []          # (completion time, latency s, is_write)
        self.error = None

    def run(self):
        rnd = random.Random(7)
        r = self.r
        n = 0
        try:
            while not self.stop.is_set():
                k = rnd.randrange(self.nkeys)
                op = n % 5
                t0 = time.perf_counter()
                if op == 0:
                    r.get('key:%d' % k)
                elif op == 1:
                    r.set('key:%d' % k, 'client:%d' % n)
                elif op == 2:
                    r.incr('ctr:%d' % (k % 1000))
                elif op == 3:
                    r.delete('key:%d' % k)
                else:
                    r.set('new:%d' % n, 'v%d' % n)
                t1 = time.perf_counter()
                self.ops.append((time.time(), t1 - t0, op != 0))
                n += 1
        except Exception as e:  # surfaced by the test
            self.error = e


def p99(lat):
    lat = sorted(lat)
    return lat[int(len(lat) * 0.99)] if lat else 0.0


class RewriteWhileServing(unittest.TestCase):
    def check_rewrite(self, nkeys, delay_us, preamble, workers=1):
        s = Server(args=DEBUG + AOF + ['--aof-use-rdb-preamble', preamble,
                                       '--io-workers', workers])
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        r = s.redis()
        r.execute_command('DEBUG', 'POPULATE', nkeys)
        r.config_set('rdb-key-save-delay', delay_us)

        c = Client(s, nkeys)
        c.start()
        try:
            time.sleep(0.3)
            t0 = time.time()
            self.assertEqual(bgrewriteaof(r), b'Background append only file rewriting started')
            self.assertLess(time.time() - t0, 0.5)
            seen = []   # times INFO said aof_rewrite_in_progress:1
            peak_perc = 0.0
            total = 0
            deadline = time.time() + 120
            while time.time() < deadline:
                i = r.info('persistence')
                if not i['aof_rewrite_in_progress']:
                    break
                seen.append(time.time())
                peak_perc = max(peak_perc, float(i['current_fork_perc']))
                self.assertEqual(i['rdb_bgsave_in_progress'], 0)
                total = max(total, i['current_save_keys_total'])
                time.sleep(0.05)
            time.sleep(0.3)
        finally:
            c.stop.set()
            c.join()
        self.assertIsNone(c.error)
        self.assertGreater(len(seen), 2)
        self.assertGreater(peak_perc, 0.0)
        # The epoch's key count (the client has added and deleted a few).
        self.assertGreater(total, nkeys * 0.9)
        info = r.info('persistence')
        self.assertEqual(info['aof_last_bgrewrite_status'], 'ok')
        self.assertEqual(info['aof_rewrites'], 1)
        self.assertGreaterEqual(info['aof_last_rewrite_time_sec'], 0)

        lo, hi = seen[0], seen[-1]
        writes = [o for o in c.ops if o[2]]
        during = [o for o in writes if lo <= o[0] <= hi]
        lat_during = [o[1] for o in c.ops if lo <= o[0] <= hi]
        lat_p99 = p99(lat_during)
        print('\naof rewrite (%s base): %d keys, rewrite %.1f s, client %d ops (%d writes, %d '
              'during the rewrite), p99 %.2f ms, max %.2f ms during, aof_last_cow_size %d'
              % ('RDB' if preamble == 'yes' else 'AOF', nkeys, hi - lo, len(c.ops), len(writes),
                 len(during), lat_p99 * 1000, max(lat_during) * 1000,
                 info['aof_last_cow_size']))
        self.assertGreaterEqual(len(during), len(writes) // 2)
        self.assertLess(lat_p99, 0.005)

        digest = r.execute_command('DEBUG', 'DIGEST')
        size = r.dbsize()
        d = os.path.join(s.dir, 'appendonlydir')
        names = sorted(os.listdir(d))
        base = 'base.rdb' if preamble == 'yes' else 'base.aof'
        self.assertEqual(names, ['appendonly.aof.2.%s' % base, 'appendonly.aof.2.incr.aof',
                                 'appendonly.aof.manifest'])
        copy = tempfile.mkdtemp(prefix='cbtest-aofpit-')
        self.addCleanup(shutil.rmtree, copy, True)
        shutil.copytree(d, os.path.join(copy, 'appendonlydir'))

        # A crash, not a shutdown: the files alone must hold everything.
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait()
        s2 = Server(args=DEBUG + AOF + ['--dir', s.dir, '--io-workers', workers])
        try:
            r2 = s2.redis()
            self.assertEqual(r2.dbsize(), size)
            self.assertEqual(r2.execute_command('DEBUG', 'DIGEST'), digest)
        finally:
            s2.stop()
        o = Server(kind='redis', args=DEBUG + ['--dir', copy, '--appendonly', 'yes'])
        try:
            ro = o.redis()
            self.assertEqual(ro.dbsize(), size)
            self.assertEqual(ro.execute_command('DEBUG', 'DIGEST'), digest)
        finally:
            o.stop()
            o.cleanup()

    def test_rdb_preamble_base(self):
        # About 6 s of walking for 1M keys (3 s quick).
        self.check_rewrite(NKEYS, 6 if not QUICK else 12, 'yes')

    def test_command_base(self):
        self.check_rewrite(NKEYS // 10, 30, 'no')

    @kernel_plane_only('a latency bound that needs a CPU per worker: the 2-CPU DPDK rig '
                       'time-slices three busy-polling lcores on CPU 1')
    def test_three_workers(self):
        # Three shards: one epoch across all of them, records merged in
        # the order they happened.
        self.check_rewrite(NKEYS // 5, 40, 'yes', workers=3)


class RewriteInterrupted(unittest.TestCase):
    """SHUTDOWN kills a rewrite in flight and FLUSHALL does not; either
    way the directory loads back to the exact data set."""

    def start(self, d=None):
        args = DEBUG + AOF
        if d:
            args += ['--dir', d]
        return Server(args=args)

    def test_shutdown_during_rewrite(self):
        s = self.start()
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        r = s.redis()
        r.execute_command('DEBUG', 'POPULATE', 50000)
        r.set('before', 1)
        r.config_set('rdb-key-save-delay', 100)
        bgrewriteaof(r)
        time.sleep(0.3)
        for i in range(100):
            r.incr('ctr')
        self.assertEqual(r.info('persistence')['aof_rewrite_in_progress'], 1)
        digest = r.execute_command('DEBUG', 'DIGEST')
        try:
            r.shutdown()
        except redis.exceptions.ConnectionError:
            pass
        s.proc.wait(10)
        self.assertIn('There is a child rewriting the AOF. Killing it!', s.log())
        ad = os.path.join(s.dir, 'appendonlydir')
        self.assertEqual([n for n in os.listdir(ad) if n.startswith('temp')], [])
        s2 = self.start(s.dir)
        try:
            r2 = s2.redis()
            # DEBUG POPULATE is not in the AOF: only what was recorded.
            self.assertEqual(r2.get('ctr'), b'100')
            self.assertEqual(r2.dbsize(), 2)
            self.assertNotEqual(r2.execute_command('DEBUG', 'DIGEST'), digest)
        finally:
            s2.stop()

    def test_flushall_during_rewrite(self):
        s = self.start()
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        r = s.redis()
        r.execute_command('DEBUG', 'POPULATE', 50000)
        r.config_set('rdb-key-save-delay', 40)
        bgrewriteaof(r)
        time.sleep(0.3)
        r.flushall()
        r.set('after', 'flush')
        self.assertEqual(r.info('persistence')['aof_rewrite_in_progress'], 1)
        i = wait_rewrite_done(r, 60)
        self.assertEqual(i['aof_last_bgrewrite_status'], 'ok')
        digest = r.execute_command('DEBUG', 'DIGEST')
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait()
        s2 = self.start(s.dir)
        try:
            r2 = s2.redis()
            self.assertEqual(r2.dbsize(), 1)
            self.assertEqual(r2.execute_command('DEBUG', 'DIGEST'), digest)
        finally:
            s2.stop()


class OneSnapshotAtATime(unittest.TestCase):
    """BGSAVE and BGREWRITEAOF exclude each other with Redis's replies."""

    def run_both(self, kind):
        args = DEBUG + ['--appendonly', 'yes']
        if kind == 'cachebox':
            args += ['--save', '']
        s = Server(kind=kind, args=args)
        try:
            r = s.redis()
            r.response_callbacks.pop('BGSAVE', None)
            r.execute_command('DEBUG', 'POPULATE', 20000)
            r.config_set('rdb-key-save-delay', 50)   # about 1 s per snapshot
            out = []
            out.append(r.execute_command('BGSAVE'))
            out.append(bgrewriteaof(r))
            i = r.info('persistence')
            out.append((i['rdb_bgsave_in_progress'], i['aof_rewrite_in_progress'],
                        i['aof_rewrite_scheduled'], i['aof_pending_rewrite']))
            # The scheduled rewrite starts once the BGSAVE is done.
            deadline = time.time() + 30
            while time.time() < deadline:
                i = r.info('persistence')
                if i['aof_rewrite_in_progress']:
                    break
                time.sleep(0.01)
            out.append((i['rdb_bgsave_in_progress'], i['aof_rewrite_in_progress'],
                        i['aof_rewrite_scheduled'], i['aof_rewrites']))
            for cmd in (['BGSAVE'], ['BGREWRITEAOF'], ['BGSAVE', 'SCHEDULE']):
                try:
                    out.append(r.execute_command(*cmd))
                except Exception as e:
                    out.append(str(e))
            i = wait_rewrite_done(r)
            deadline = time.time() + 30
            while time.time() < deadline and r.info('persistence')['rdb_saves'] < 2:
                time.sleep(0.01)
            i = r.info('persistence')
            out.append((i['rdb_saves'], i['aof_rewrites'], i['aof_last_bgrewrite_status'],
                        i['aof_last_cow_size'] > 0 if kind == 'cachebox' else True))
            return out
        finally:
            s.stop()
            s.cleanup()

    def run_kill(self, kind):
        args = DEBUG + ['--appendonly', 'yes']
        if kind == 'cachebox':
            args += ['--save', '']
        s = Server(kind=kind, args=args)
        try:
            r = s.redis()
            r.execute_command('DEBUG', 'POPULATE', 20000)
            r.config_set('rdb-key-save-delay', 100)   # about 2 s
            out = [bgrewriteaof(r)]
            time.sleep(0.2)
            r.config_set('appendonly', 'no')
            i = wait_rewrite_done(r, timeout=10)
            out.append((i['aof_enabled'], i['aof_rewrite_in_progress'], i['aof_rewrites'],
                        i['aof_last_bgrewrite_status'], i['aof_rewrites_consecutive_failures']))
            time.sleep(0.2)
            d = os.path.join(s.dir, 'appendonlydir')
            out.append(sorted(n for n in os.listdir(d) if n.startswith('temp')))
            r.set('after', 'kill')
            self.assertEqual(r.get('after'), b'kill')
            return out
        finally:
            s.stop()
            s.cleanup()

    def test_appendonly_no_kills_the_rewrite_as_redis(self):
        self.assertEqual(self.run_kill('cachebox'), self.run_kill('redis'))

    def test_exclusion_matches_redis(self):
        ours = self.run_both('cachebox')
        theirs = self.run_both('redis')
        self.assertEqual(ours, theirs)


class ProgressFields(unittest.TestCase):
    """current_* fields of INFO persistence move during a BGSAVE and an AOF
    rewrite alike, and rest at 0 between them, as Redis's."""

    def watch(self, r, start, flag):
        start()
        samples = []
        deadline = time.time() + 30
        while time.time() < deadline:
            i = r.info('persistence')
            if not i[flag]:
                break
            samples.append(i)
            time.sleep(0.05)
        # BGREWRITEAOF counts as in progress from its reply; the management
        # thread fixes the epoch (and the key total) a moment later.
        while samples and samples[0]['current_save_keys_total'] == 0:
            samples.pop(0)
        self.assertGreater(len(samples), 5)
        last = 0
        for i in samples:
            self.assertIn(i['current_cow_size_age'], (0, 1, 2))
            self.assertLessEqual(i['current_cow_size'], i['current_cow_peak'])
            done, total = i['current_save_keys_processed'], i['current_save_keys_total']
            self.assertEqual(total, 20000)
            self.assertGreaterEqual(done, last)
            last = done
            self.assertAlmostEqual(float(i['current_fork_perc']), done * 100.0 / total, places=1)
        self.assertGreater(last, 0)
        # The snapshot's end and the flag's are two stores apart: settle.
        wait_until_zero = time.time() + 5
        while (r.info('persistence')['current_save_keys_total'] and
               time.time() < wait_until_zero):
            time.sleep(0.01)
        i = r.info('persistence')
        for f in ('current_cow_peak', 'current_cow_size', 'current_cow_size_age',
                  'current_save_keys_processed', 'current_save_keys_total'):
            self.assertEqual(i[f], 0, f)
        self.assertEqual(float(i['current_fork_perc']), 0.0)
        return samples

    def test_progress(self):
        s = Server(args=DEBUG + ['--appendonly', 'yes', '--save', ''])
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        r = s.redis()
        r.execute_command('DEBUG', 'POPULATE', 20000)
        r.config_set('rdb-key-save-delay', 100)   # about 2 s each
        r.response_callbacks.pop('BGSAVE', None)
        a = self.watch(r, lambda: r.execute_command('BGSAVE'), 'rdb_bgsave_in_progress')
        b = self.watch(r, lambda: bgrewriteaof(r), 'aof_rewrite_in_progress')
        self.assertEqual(b[-1]['rdb_bgsave_in_progress'], 0)
        self.assertEqual(b[-1]['rdb_current_bgsave_time_sec'], -1)
        self.assertGreaterEqual(a[-1]['rdb_current_bgsave_time_sec'], 1)
        self.assertGreaterEqual(b[-1]['aof_current_rewrite_time_sec'], 1)


if __name__ == '__main__':
    unittest.main()
