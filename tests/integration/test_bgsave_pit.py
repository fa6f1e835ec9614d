"""The point-in-time test of fork-less BGSAVE (docs/snapshots.md).

A million keys (DEBUG POPULATE: key:N -> value:N); BGSAVE stretched with
rdb-key-save-delay; while rdb_bgsave_in_progress:1, every key is overwritten
(same length, so the dataset's size does not move), every tenth deleted and
as many new keys created, in pipelined batches over a raw socket. A batch
counts as "during the snapshot" when INFO, asked after its replies came
back, still says rdb_bgsave_in_progress:1; at least half the overwrites must
be. The file must then load into redis-server and into cachebox with the
DEBUG DIGEST the dataset had when BGSAVE began, and exactly its key count.
Peak extra memory: the server's RSS is sampled every few milliseconds
during the snapshot; the peak over the RSS just before BGSAVE (after one
warm-up pass of the same writes, so buffers and allocator caches are
already there) must stay within 5% of the dataset (RSS with the data
minus RSS of the empty server).
CACHEBOX_QUICK=1 uses 250,000 keys. Run with /usr/bin/python3.
"""
import os
import shutil
import socket
import tempfile
import threading
import time
import unittest

from cbtest import Server, encode_command

QUICK = bool(os.environ.get('CACHEBOX_QUICK'))
NKEYS = 250_000 if QUICK else 1_000_000
BATCH = 10_000
DEBUG = ['--enable-debug-command', 'yes']


def rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


class Pipe:
    """Sends a batch of commands and waits until every reply is back."""

    def __init__(self, port, host='127.0.0.1'):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''

    def run(self, payload, nreplies):
        self.sock.sendall(payload)
        got = 0
        while got < nreplies:
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError('closed')
            self.buf += data
            # Every reply here is one line (+OK, :1, ...); errors fail.
            if b'\r\n-' in b'\r\n' + self.buf:
                raise AssertionError('error reply: %r' % self.buf[:200])
            n = self.buf.count(b'\r\n')
            got += n
            self.buf = self.buf[self.buf.rfind(b'\r\n') + 2:] if n else self.buf

    def close(self):
        self.sock.close()


def batch_payload(lo, hi, value_prefix):
    """Overwrite key:lo..hi-1 with same-length values; delete every tenth;
    create one new key per deleted one. Returns (bytes, replies)."""
    parts = []
    n = 0
    for i in range(lo, hi):
        if i % 10 == 0:
            parts.append(encode_command('DEL', 'key:%d' % i))
            parts.append(encode_command('SET', 'new:%d' % i, 'value:%d' % i))
            n += 2
        else:
            parts.append(encode_command('SET', 'key:%d' % i, '%s:%d' % (value_prefix, i)))
            n += 1
    return b''.join(parts), n


class PointInTime(unittest.TestCase):
    def test_point_in_time_image(self):
        s = Server(args=DEBUG)
        self.addCleanup(s.cleanup)
        self.addCleanup(s.stop)
        r = s.redis()
        pid = s.proc.pid
        rss_empty = rss_kb(pid)
        r.execute_command('DEBUG', 'POPULATE', NKEYS)
        # Warm-up: the same kind of writes once, undone to the same values,
        # so the baseline holds the buffers the real pass will need.
        p = Pipe(s.port, s.host)
        self.addCleanup(p.close)
        for lo in range(0, NKEYS, BATCH):
            parts = [encode_command('SET', 'key:%d' % i, 'value:%d' % i)
                     for i in range(lo, min(lo + BATCH, NKEYS))]
            p.run(b''.join(parts), len(parts))
        digest = r.execute_command('DEBUG', 'DIGEST')
        self.assertEqual(r.dbsize(), NKEYS)
        rss_before = rss_kb(pid)
        dataset_kb = rss_before - rss_empty
        self.assertGreater(dataset_kb, 0)

        # Stretch the walker to at least ~8 s (2 s quick) of its own.
        delay = 8 if not QUICK else 20
        r.config_set('rdb-key-save-delay', delay)
        peak = [rss_before]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kb(pid))
                time.sleep(0.005)
        t = threading.Thread(target=sample)
        t.start()
        try:
            t0 = time.time()
            r.response_callbacks.pop('BGSAVE', None)
            self.assertEqual(r.execute_command('BGSAVE'), b'Background saving started')
            self.assertLess(time.time() - t0, 0.5)
            during = 0
            overwrites = 0
            for lo in range(0, NKEYS, BATCH):
                hi = min(lo + BATCH, NKEYS)
                payload, n = batch_payload(lo, hi, 'VALUE')
                p.run(payload, n)
                k = sum(1 for i in range(lo, hi) if i % 10)
                overwrites += k
                if r.info('persistence')['rdb_bgsave_in_progress'] == 1:
                    during += k
            r.config_set('rdb-key-save-delay', 0)
            deadline = time.time() + 60
            while r.info('persistence')['rdb_bgsave_in_progress'] and time.time() < deadline:
                time.sleep(0.01)
        finally:
            stop.set()
            t.join()
        i = r.info('persistence')
        self.assertEqual(i['rdb_bgsave_in_progress'], 0)
        self.assertEqual(i['rdb_last_bgsave_status'], 'ok')
        self.assertGreaterEqual(during, overwrites // 2,
                                'only %d of %d overwrites during the snapshot' % (during, overwrites))
        extra_kb = peak[0] - rss_before
        print('\npoint-in-time: %d keys, %d/%d overwrites during BGSAVE, dataset %d KiB, '
              'peak extra RSS %d KiB (%.2f%%), rdb_last_cow_size %d'
              % (NKEYS, during, overwrites, dataset_kb, extra_kb, 100.0 * extra_kb / dataset_kb,
                 i['rdb_last_cow_size']))
        self.assertLessEqual(extra_kb, dataset_kb * 0.05)

        # The file is the dataset as of BGSAVE, exactly.
        path = os.path.join(s.dir, 'dump.rdb')
        for kind in ('redis', 'cachebox'):
            d = tempfile.mkdtemp(prefix='cbtest-pit-')
            try:
                shutil.copy(path, os.path.join(d, 'dump.rdb'))
                o = Server(kind=kind, args=DEBUG + ['--dir', d])
                try:
                    c = o.redis()
                    self.assertEqual(c.dbsize(), NKEYS, kind)
                    self.assertEqual(c.execute_command('DEBUG', 'DIGEST'), digest, kind)
                    self.assertEqual(c.get('key:10'), b'value:10')
                    self.assertIsNone(c.get('new:10'))
                finally:
                    o.stop()
                    o.cleanup()
            finally:
                shutil.rmtree(d, ignore_errors=True)

if __name__ == '__main__':
    unittest.main()
