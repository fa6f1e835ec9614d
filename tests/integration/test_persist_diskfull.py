"""A real full disk under every writer, compared with redis-server.

Each case mounts a 4 MB tmpfs (root; skipped where mounting is not
allowed), fills most of it with a filler file, runs the same steps on
cachebox and on Debian's redis-server 7.0 and compares what clients see:
  - BGSAVE into the full directory: rdb_last_bgsave_status:err, the exact
    MISCONF error for SET and PING, no temp file left; after the filler is
    deleted a BGSAVE succeeds and writes are accepted again;
  - AOF appends (appendfsync everysec) until the disk is full: the exact
    MISCONF error for writes, reads still served, aof_last_write_status;
    accepted again once space is freed, and every acknowledged write is
    there after a restart;
  - BGREWRITEAOF whose base does not fit: aof_last_bgrewrite_status:err, no
    temp file, the same files in appendonlydir, writes keep working; after
    space is freed a rewrite succeeds and the data survives a restart.
Run with /usr/bin/python3.
"""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import redis

from cbtest import Server

MB = 1024 * 1024


def wait_until(pred, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


class TinyDisk:
    """A 4 MB tmpfs with a filler file taking all but `free` bytes."""

    def __init__(self, free):
        self.mnt = tempfile.mkdtemp(prefix='cbtest-tiny-')
        rc = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', self.mnt],
                            capture_output=True)
        self.ok = rc.returncode == 0
        if self.ok:
            st = os.statvfs(self.mnt)
            avail = st.f_bavail * st.f_frsize
            with open(os.path.join(self.mnt, 'filler'), 'wb') as f:
                f.write(b'\0' * max(0, avail - free))

    def free_space(self):
        os.unlink(os.path.join(self.mnt, 'filler'))

    def close(self):
        if self.ok:
            subprocess.run(['umount', '-l', self.mnt], capture_output=True)
        shutil.rmtree(self.mnt, True)


def error_of(fn):
    try:
        fn()
        return None
    except redis.exceptions.ResponseError as e:
        return str(e)


class DiskFull(unittest.TestCase):
    def disk(self, free):
        d = TinyDisk(free)
        if not d.ok:
            d.close()
            self.skipTest('cannot mount a tmpfs here')
        return d

    def server(self, kind, args):
        if kind == 'cachebox':
            args = list(args) + ['--control-port', '0', '--enable-debug-command', 'yes']
        return Server(kind=kind, args=args)

    # ---- BGSAVE

    def bgsave_case(self, kind):
        d = self.disk(256 * 1024)
        s = self.server(kind, ['--dir', d.mnt, '--save', '3600 1'])
        try:
            r = s.redis()
            p = r.pipeline(transaction=False)
            for i in range(1000):
                p.set('key:%d' % i, os.urandom(1000))
            p.execute()
            r.response_callbacks.pop('BGSAVE', None)
            out = [r.execute_command('BGSAVE')]
            self.assertTrue(wait_until(
                lambda: r.info('persistence')['rdb_last_bgsave_status'] == 'err'), kind)
            self.assertTrue(wait_until(
                lambda: not r.info('persistence')['rdb_bgsave_in_progress']), kind)
            out.append(error_of(lambda: r.set('x', 'y')))
            out.append(error_of(lambda: r.ping()))
            out.append(r.get('key:1') is not None)
            out.append(sorted(n for n in os.listdir(d.mnt) if n != 'filler'))
            d.free_space()
            out.append(r.execute_command('BGSAVE'))
            self.assertTrue(wait_until(
                lambda: r.info('persistence')['rdb_last_bgsave_status'] == 'ok'
                and not r.info('persistence')['rdb_bgsave_in_progress']), kind)
            out.append(r.set('x', 'y'))
            out.append(sorted(os.listdir(d.mnt)))
            return out
        finally:
            s.stop()
            s.cleanup()
            d.close()

    def test_bgsave_enospc_as_redis(self):
        ours = self.bgsave_case('cachebox')
        self.assertIn('MISCONF', ours[1] or '')
        self.assertEqual(ours, self.bgsave_case('redis'))

    # ---- AOF appends

    def append_case(self, kind):
        d = self.disk(300 * 1024)
        s = self.server(kind, ['--dir', d.mnt, '--appendonly', 'yes',
                               '--appendfsync', 'everysec', '--save', ''])
        try:
            r = s.redis()
            acked = 0
            err = None
            for i in range(5000):
                try:
                    r.set('k%d' % i, 'v' * 200)
                    acked += 1
                except redis.exceptions.ResponseError as e:
                    err = str(e)
                    break
            out = [err, r.info('persistence')['aof_last_write_status'],
                   r.get('k0') == b'v' * 200, error_of(lambda: r.incr('n'))]
            d.free_space()
            self.assertTrue(wait_until(
                lambda: r.info('persistence')['aof_last_write_status'] == 'ok'), kind)
            out.append(r.set('after', 'space'))
            s.stop()
            s2 = self.server(kind, ['--dir', d.mnt, '--appendonly', 'yes', '--save', ''])
            try:
                r2 = s2.redis()
                out.append(r2.get('after'))
                out.append(all(r2.exists('k%d' % i) for i in range(acked)))
            finally:
                s2.stop()
                s2.cleanup()
            self.assertGreater(acked, 100)
            return out
        finally:
            s.stop()
            s.cleanup()
            d.close()

    def test_aof_append_enospc_as_redis(self):
        ours = self.append_case('cachebox')
        self.assertEqual(ours[0], 'MISCONF Errors writing to the AOF file: No space left on device')
        self.assertEqual(ours, self.append_case('redis'))

    # ---- AOF rewrite

    def rewrite_case(self, kind):
        d = self.disk(1536 * 1024)
        s = self.server(kind, ['--dir', d.mnt, '--appendonly', 'yes', '--save', '',
                               '--auto-aof-rewrite-percentage', '0'])
        try:
            r = s.redis()
            # About 1 MB in the incremental file; the base needs as much
            # again, more than is left.
            p = r.pipeline(transaction=False)
            for i in range(1000):
                p.set('key:%d' % i, os.urandom(1000))
            p.execute()
            out = [r.execute_command('BGREWRITEAOF')]
            self.assertTrue(wait_until(
                lambda: r.info('persistence')['aof_last_bgrewrite_status'] == 'err'
                and not r.info('persistence')['aof_rewrite_in_progress'], 20), kind)
            i = r.info('persistence')
            out.append((i['aof_rewrites_consecutive_failures'], i['aof_last_write_status']))
            ad = os.path.join(d.mnt, 'appendonlydir')
            out.append(sorted(os.listdir(ad)))
            out.append(r.set('during', 'full'))
            d.free_space()
            out.append(r.execute_command('BGREWRITEAOF'))
            self.assertTrue(wait_until(
                lambda: r.info('persistence')['aof_last_bgrewrite_status'] == 'ok'
                and not r.info('persistence')['aof_rewrite_in_progress'], 20), kind)
            out.append(sorted(os.listdir(ad)))
            r.set('after', 'space')
            digest = r.execute_command('DEBUG', 'DIGEST') if kind == 'cachebox' else None
            s.stop()
            s2 = self.server(kind, ['--dir', d.mnt, '--appendonly', 'yes', '--save', ''])
            try:
                r2 = s2.redis()
                out.append((r2.dbsize(), r2.get('during'), r2.get('after')))
                if digest is not None:
                    self.assertEqual(r2.execute_command('DEBUG', 'DIGEST'), digest)
            finally:
                s2.stop()
                s2.cleanup()
            return out
        finally:
            s.stop()
            s.cleanup()
            d.close()

    def test_aof_rewrite_enospc_as_redis(self):
        ours = self.rewrite_case('cachebox')
        self.assertEqual(ours, self.rewrite_case('redis'))


if __name__ == '__main__':
    unittest.main()
