"""Fork-less snapshots end to end (docs/snapshots.md): SAVE, BGSAVE [SCHEDULE],
LASTSAVE, save points fired by the cron, MISCONF after a failed BGSAVE and
recovery, the INFO persistence fields (names and order as redis-server's),
BGSAVE during FLUSHALL / DEBUG RELOAD / SHUTDOWN, with one worker and with
several. The point-in-time test with a million keys is test_bgsave_pit.py.
Run with /usr/bin/python3 (python3-redis).
"""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from cbtest import Server

DEBUG = ['--enable-debug-command', 'yes', '--enable-protected-configs', 'yes']
CHECK_RDB = shutil.which('redis-check-rdb') or '/usr/bin/redis-check-rdb'


def info(r):
    return r.info('persistence')


def wait_until(pred, timeout=10.0, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def wait_bgsave_done(r, timeout=20.0):
    assert wait_until(lambda: info(r)['rdb_bgsave_in_progress'] == 0, timeout), 'BGSAVE stuck'


class BgsaveBase:
    WORKERS = 1

    def start(self, *args):
        s = Server(args=DEBUG + ['--io-workers', str(self.WORKERS)] + list(args))
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        r = s.redis()
        # The replies themselves are under test, not redis-py's reading of them.
        r.response_callbacks.pop('BGSAVE', None)
        return s, r

    def test_save_and_lastsave(self):
        s, r = self.start()
        r.set('a', '1')
        before = r.lastsave()
        time.sleep(1.1)
        self.assertTrue(r.save())
        self.assertGreater(r.lastsave(), before)
        i = info(r)
        self.assertEqual(i['rdb_changes_since_last_save'], 0)
        self.assertEqual(i['rdb_saves'], 1)
        self.assertTrue(os.path.exists(os.path.join(s.dir, 'dump.rdb')))

    def test_bgsave_round_trip(self):
        s, r = self.start()
        r.execute_command('DEBUG', 'POPULATE', 20000)
        r.set('ttl', 'v', ex=1000)
        r.rpush('list', *range(300))
        r.hset('hash', mapping={'f%d' % i: i for i in range(200)})
        r.zadd('zset', {'m%d' % i: i for i in range(200)})
        r.sadd('set', *range(100))
        r.select(3)
        r.set('in-db-3', 'x')
        digest = r.execute_command('DEBUG', 'DIGEST')
        self.assertEqual(r.execute_command('BGSAVE'), b'Background saving started')
        wait_bgsave_done(r)
        i = info(r)
        self.assertEqual(i['rdb_last_bgsave_status'], 'ok')
        self.assertEqual(i['rdb_changes_since_last_save'], 0)
        self.assertGreaterEqual(i['rdb_last_bgsave_time_sec'], 0)
        path = os.path.join(s.dir, 'dump.rdb')
        out = subprocess.run([CHECK_RDB, path], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn('Background saving terminated with success', s.log())
        # Into redis-server, and back into cachebox.
        for kind in ('redis', 'cachebox'):
            o = Server(kind=kind, args=DEBUG)
            try:
                o.stop()
                shutil.copy(path, os.path.join(o.dir, 'dump.rdb'))
                o2 = Server(kind=kind, args=DEBUG + ['--dir', o.dir])
                try:
                    self.assertEqual(o2.redis().execute_command('DEBUG', 'DIGEST'), digest, kind)
                finally:
                    o2.stop()
            finally:
                o.cleanup()

    def test_bgsave_in_progress_and_info(self):
        s, r = self.start('--rdb-key-save-delay', '200')
        r.execute_command('DEBUG', 'POPULATE', 5000)
        t0 = time.time()
        self.assertEqual(r.execute_command('BGSAVE'), b'Background saving started')
        self.assertLess(time.time() - t0, 0.5)
        with self.assertRaises(Exception) as cm:
            r.execute_command('BGSAVE')
        self.assertIn('Background save already in progress', str(cm.exception))
        with self.assertRaises(Exception) as cm:
            r.execute_command('SAVE')
        self.assertIn('Background save already in progress', str(cm.exception))
        i = info(r)
        self.assertEqual(i['rdb_bgsave_in_progress'], 1)
        self.assertEqual(i['current_save_keys_total'], 5000)
        self.assertGreaterEqual(i['rdb_current_bgsave_time_sec'], 0)
        r.config_set('rdb-key-save-delay', 0)
        wait_bgsave_done(r)
        i = info(r)
        self.assertEqual(i['current_save_keys_total'], 0)
        self.assertEqual(i['rdb_current_bgsave_time_sec'], -1)
        self.assertEqual(i['rdb_saves'], 1)

    def test_info_persistence_fields_match_redis(self):
        s, r = self.start()
        o = Server(kind='redis')
        self.addCleanup(o.cleanup)
        self.addCleanup(o.stop)

        def fields(raw):
            return [line.split(':')[0] for line in raw.decode().split('\r\n')
                    if line and not line.startswith('#')]
        ro = o.redis()
        for c in (r, ro):
            c.response_callbacks.pop('INFO', None)
        ours = fields(r.execute_command('INFO', 'persistence'))
        theirs = fields(ro.execute_command('INFO', 'persistence'))
        self.assertEqual(ours, theirs)

    def test_bgsave_schedule_and_errors(self):
        s, r = self.start()
        r.set('k', 'v')
        with self.assertRaises(Exception) as cm:
            r.execute_command('BGSAVE', 'NOW')
        self.assertIn('syntax error', str(cm.exception))
        self.assertEqual(r.execute_command('BGSAVE', 'SCHEDULE'), b'Background saving started')
        wait_bgsave_done(r)
        p = r.pipeline(transaction=True)
        p.execute_command('BGSAVE')
        self.assertEqual(p.execute(), [b'Background saving scheduled'])
        self.assertTrue(wait_until(lambda: info(r)['rdb_saves'] == 2, 5))
        wait_bgsave_done(r)
        self.assertEqual(info(r)['rdb_last_bgsave_status'], 'ok')

    def test_save_points_fire(self):
        s, r = self.start()
        r.config_set('save', '1 3 1000 1')
        r.set('a', 1)
        r.set('b', 1)
        time.sleep(1.5)
        self.assertEqual(info(r)['rdb_saves'], 0)  # 2 changes: neither point is due
        r.set('c', 1)
        self.assertTrue(wait_until(lambda: info(r)['rdb_saves'] == 1, 5))
        wait_bgsave_done(r)
        self.assertIn('3 changes in 1 seconds. Saving...', s.log())
        self.assertEqual(info(r)['rdb_changes_since_last_save'], 0)

    def test_misconf_after_failed_bgsave_then_recovery(self):
        s, r = self.start('--save', '3600 1')
        r.set('a', 'b')
        r.config_set('dir', '/proc')  # no file can be created there
        r.execute_command('BGSAVE')
        self.assertTrue(wait_until(lambda: info(r)['rdb_last_bgsave_status'] == 'err', 5))
        self.assertIn('Failed opening the temp RDB file', s.log())
        self.assertIn('Background saving error', s.log())
        for cmd in (('SET', 'a', 'c'), ('PING',)):
            with self.assertRaises(Exception) as cm:
                r.execute_command(*cmd)
            self.assertTrue(str(cm.exception).startswith(
                'MISCONF Redis is configured to save RDB snapshots'), str(cm.exception))
        self.assertEqual(r.get('a'), b'b')
        r.config_set('stop-writes-on-bgsave-error', 'no')
        r.set('a', 'c')
        r.config_set('stop-writes-on-bgsave-error', 'yes')
        with self.assertRaises(Exception):
            r.set('a', 'd')
        r.config_set('dir', s.dir)
        self.assertEqual(r.execute_command('BGSAVE'), b'Background saving started')
        wait_bgsave_done(r)
        self.assertEqual(info(r)['rdb_last_bgsave_status'], 'ok')
        self.assertTrue(r.set('a', 'd'))

    def test_flushall_during_bgsave(self):
        s, r = self.start('--save', '3600 1', '--rdb-key-save-delay', '1000')
        r.execute_command('DEBUG', 'POPULATE', 3000)
        r.execute_command('BGSAVE')
        self.assertEqual(info(r)['rdb_bgsave_in_progress'], 1)
        r.flushall()
        r.set('after', 'flush')
        wait_bgsave_done(r, 5)
        self.assertIn('Background saving terminated by signal', s.log())
        self.assertEqual(info(r)['rdb_last_bgsave_status'], 'ok')
        self.assertFalse([f for f in os.listdir(s.dir) if f.startswith('temp-')])
        # FLUSHALL saved the empty dataset; the killed snapshot did not land.
        r.execute_command('DEBUG', 'RELOAD', 'NOSAVE')
        self.assertEqual(r.dbsize(), 0)

    def test_debug_reload_during_bgsave(self):
        s, r = self.start('--rdb-key-save-delay', '500')
        r.execute_command('DEBUG', 'POPULATE', 4000)
        digest = r.execute_command('DEBUG', 'DIGEST')
        r.execute_command('BGSAVE')
        r.execute_command('DEBUG', 'RELOAD')
        self.assertEqual(r.execute_command('DEBUG', 'DIGEST'), digest)
        r.delete('key:1')
        r.config_set('rdb-key-save-delay', 0)
        wait_bgsave_done(r)
        self.assertEqual(info(r)['rdb_last_bgsave_status'], 'ok')
        r.execute_command('DEBUG', 'RELOAD', 'NOSAVE')
        self.assertEqual(r.execute_command('DEBUG', 'DIGEST'), digest)

    def test_shutdown_during_bgsave(self):
        s, r = self.start('--rdb-key-save-delay', '1000')
        r.execute_command('DEBUG', 'POPULATE', 3000)
        digest = r.execute_command('DEBUG', 'DIGEST')
        r.execute_command('BGSAVE')
        try:
            r.execute_command('SHUTDOWN', 'SAVE')
        except Exception:
            pass
        s.proc.wait(10)
        self.assertIn('There is a child saving an .rdb. Killing it!', s.log())
        self.assertFalse([f for f in os.listdir(s.dir) if f.startswith('temp-')])
        s2 = Server(args=DEBUG + ['--dir', s.dir])
        self.addCleanup(s2.stop)
        self.assertEqual(s2.redis().execute_command('DEBUG', 'DIGEST'), digest)

    def test_rdbchecksum_and_rdbcompression_off(self):
        s, r = self.start('--rdbchecksum', 'no', '--rdbcompression', 'no')
        r.set('long', 'a' * 1000)
        r.execute_command('BGSAVE')
        wait_bgsave_done(r)
        with open(os.path.join(s.dir, 'dump.rdb'), 'rb') as f:
            data = f.read()
        self.assertEqual(data[-8:], b'\0' * 8)       # no checksum
        self.assertIn(b'a' * 1000, data)              # not LZF-compressed
        out = subprocess.run([CHECK_RDB, os.path.join(s.dir, 'dump.rdb')],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_dir_change_during_bgsave(self):
        s, r = self.start('--rdb-key-save-delay', '500')
        r.execute_command('DEBUG', 'POPULATE', 2000)
        other = tempfile.mkdtemp(prefix='cbtest-otherdir-')
        self.addCleanup(shutil.rmtree, other, True)
        r.execute_command('BGSAVE')
        time.sleep(0.1)
        r.config_set('dir', other)
        r.config_set('rdb-key-save-delay', 0)
        wait_bgsave_done(r)
        self.assertEqual(info(r)['rdb_last_bgsave_status'], 'ok')
        # Like a forked child, the snapshot stays in the dir it started in.
        self.assertTrue(os.path.exists(os.path.join(s.dir, 'dump.rdb')))
        self.assertEqual(os.listdir(other), [])

    def test_writes_during_bgsave_keep_the_epoch_image(self):
        s, r = self.start('--rdb-key-save-delay', '300')
        r.execute_command('DEBUG', 'POPULATE', 3000)
        r.expire('key:5', 1000)
        r.select(2)
        r.set('db2', 'x')
        r.select(0)
        digest = r.execute_command('DEBUG', 'DIGEST')
        r.execute_command('BGSAVE')
        p = r.pipeline(transaction=False)
        for i in range(0, 3000, 3):
            p.set('key:%d' % i, 'changed')
            p.delete('key:%d' % (i + 1))
            p.set('new:%d' % i, 'n')
        p.append('key:2', 'more')
        p.persist('key:5')
        p.expire('key:8', 100)
        p.swapdb(0, 2)
        p.rename('db2', 'renamed')
        p.execute()
        r.config_set('rdb-key-save-delay', 0)
        wait_bgsave_done(r)
        r.execute_command('DEBUG', 'RELOAD', 'NOSAVE')
        self.assertEqual(r.execute_command('DEBUG', 'DIGEST'), digest)


class DiskFull(unittest.TestCase):
    """ENOSPC while writing: the snapshot fails as Redis reports it, the temp
    file goes, and writes get MISCONF until a save succeeds. Needs a small
    tmpfs (root); skipped where mounting is not allowed."""

    def test_enospc(self):
        d = tempfile.mkdtemp(prefix='cbtest-full-')
        self.addCleanup(shutil.rmtree, d, True)
        if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', d],
                          capture_output=True).returncode != 0:
            self.skipTest('cannot mount a tmpfs here')
        self.addCleanup(subprocess.run, ['umount', '-l', d], capture_output=True)
        s = Server(args=DEBUG + ['--save', '3600 1'])
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        r = s.redis()
        p = r.pipeline(transaction=False)
        for i in range(4000):
            p.set('key:%d' % i, os.urandom(120))
        p.execute()
        r.config_set('dir', d)
        r.execute_command('BGSAVE')
        self.assertTrue(wait_until(lambda: info(r)['rdb_last_bgsave_status'] == 'err', 10))
        self.assertIn('Write error saving DB on disk: No space left on device', s.log())
        self.assertIn('Background saving error', s.log())
        self.assertEqual(os.listdir(d), [])
        with self.assertRaises(Exception) as cm:
            r.set('x', 'y')
        self.assertIn('MISCONF', str(cm.exception))
        r.config_set('dir', s.dir)
        r.execute_command('BGSAVE')
        wait_bgsave_done(r)
        self.assertEqual(info(r)['rdb_last_bgsave_status'], 'ok')
        self.assertTrue(r.set('x', 'y'))


class BgsaveOneWorker(BgsaveBase, unittest.TestCase):
    WORKERS = 1


class BgsaveThreeWorkers(BgsaveBase, unittest.TestCase):
    WORKERS = 3


if __name__ == '__main__':
    unittest.main()
