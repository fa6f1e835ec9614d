"""Loading the dataset at start-up while clients are served (persist/loading.h,
docs/snapshots.md "Loading at start-up"), as Redis 7.0: the port accepts
connections at once, commands without the `loading` flag get -LOADING, INFO
persistence says loading:1 with the loading_* fields (names and order as
redis-server's while it loads), /health/ready says not ready, then the whole
dataset is there, for an RDB file and for an AOF with an RDB preamble plus
an incremental file, with one worker and with several. key-load-delay
stretches the loads. Run with /usr/bin/python3 (python3-redis).
"""
import json
import os
import time
import unittest
import urllib.error
import urllib.request

from cbtest import Server, free_port

DEBUG = ['--enable-debug-command', 'yes']
LOADING = b'-LOADING Redis is loading the dataset in memory\r\n'
NKEYS = 3000          # DEBUG POPULATE keys of 1000 bytes: ~3 MB of RDB
DELAY_US = 1000       # key-load-delay: a load of about 3 s or more


def wait_until(pred, timeout=60.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def connect(server, timeout=10.0):
    """A raw connection as soon as the port accepts one."""
    deadline = time.time() + timeout
    while True:
        try:
            return server.raw(timeout=10)
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.01)


def info_fields(conn, section='persistence'):
    conn.send(b'INFO ' + section.encode() + b'\r\n')
    text = conn.read_reply()
    assert text.startswith(b'$'), text
    body = text.split(b'\r\n', 1)[1]
    out = []
    for line in body.decode().split('\r\n'):
        if ':' in line and not line.startswith('#'):
            k, v = line.split(':', 1)
            out.append((k, v))
    return out


def ready(cport):
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d/health/ready' % cport, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def fill(r):
    """The dataset: DEBUG POPULATE strings plus one key of every other type."""
    r.execute_command('DEBUG', 'POPULATE', NKEYS, 'key', 1000)
    r.hset('h', mapping={'f%d' % i: 'v%d' % i for i in range(200)})
    r.rpush('l', *range(300))
    r.zadd('z', {'m%d' % i: i for i in range(150)})
    r.sadd('s', *('e%d' % i for i in range(100)))
    r.set('ttl', 'x', ex=3600)


def check_dataset(test, r, extra=0):
    test.assertEqual(r.dbsize(), NKEYS + 5 + extra)
    test.assertEqual(r.hget('h', 'f77'), b'v77')
    test.assertEqual(r.lrange('l', 0, 2), [b'0', b'1', b'2'])
    test.assertEqual(r.zscore('z', 'm149'), 149.0)
    test.assertEqual(r.scard('s'), 100)
    test.assertGreater(r.ttl('ttl'), 3000)
    for i in (0, 1234, NKEYS - 1):
        test.assertEqual(len(r.get('key:%d' % i)), 1000)


class LoadingBase:
    WORKERS = 1

    def start(self, args, wait=True):
        s = Server(args=DEBUG + ['--io-workers', str(self.WORKERS)] + list(args), wait=wait)
        self.addCleanup(s.cleanup)
        return s

    def watch_load(self, s, cport, expect_total):
        """Connects while s loads; checks what a client sees then and after."""
        c = connect(s)
        self.addCleanup(c.close)
        c.send(b'PING\r\n')
        self.assertEqual(c.read_reply(), LOADING)
        c.send(b'GET key:1\r\n')
        self.assertEqual(c.read_reply(), LOADING)
        c.send(b'SET k v\r\n')
        self.assertEqual(c.read_reply(), LOADING)
        # Commands flagged `loading` run.
        c.send(b'CONFIG GET key-load-delay\r\n')
        self.assertEqual(c.read_reply(),
                         b'*2\r\n$14\r\nkey-load-delay\r\n$%d\r\n%d\r\n' % (len(str(DELAY_US)), DELAY_US))
        c.send(b'ECHO hi\r\n')
        self.assertEqual(c.read_reply(), b'$2\r\nhi\r\n')
        # A transaction with a refused command is discarded, as in Redis.
        c.send(b'MULTI\r\nGET key:1\r\nEXEC\r\n')
        self.assertEqual(c.read_reply(), b'+OK\r\n')
        self.assertEqual(c.read_reply(), LOADING)
        self.assertEqual(c.read_reply(),
                         b'-EXECABORT Transaction discarded because of previous errors.\r\n')
        first = dict(info_fields(c))
        self.assertEqual(first['loading'], '1')
        self.assertEqual(first['async_loading'], '0')
        self.assertEqual(int(first['loading_total_bytes']), expect_total)
        self.assertGreater(int(first['loading_rdb_used_mem']), 0)
        self.assertLessEqual(abs(int(first['loading_start_time']) - time.time()), 30)
        status, body = ready(cport)
        self.assertEqual(status, 503)
        self.assertEqual(body['status'], 'not ready')
        self.assertIn('loading the dataset', body['reasons'])
        time.sleep(0.5)
        second = dict(info_fields(c))
        self.assertEqual(second['loading'], '1', 'the load ended too soon to be watched')
        self.assertGreater(int(second['loading_loaded_bytes']), int(first['loading_loaded_bytes']))
        self.assertGreater(float(second['loading_loaded_perc']), float(first['loading_loaded_perc']))
        # The same connection sees the whole dataset once the load is over.
        self.assertTrue(wait_until(lambda: dict(info_fields(c))['loading'] == '0', 120),
                        'still loading')
        self.assertNotIn('loading_total_bytes', dict(info_fields(c)))
        c.send(b'PING\r\n')
        self.assertEqual(c.read_reply(), b'+PONG\r\n')
        c.send(b'STRLEN key:1\r\n')
        self.assertEqual(c.read_reply(), b':1000\r\n')
        self.assertEqual(ready(cport)[0], 200)

    def test_rdb(self):
        s = self.start([])
        r = s.redis()
        fill(r)
        r.save()
        rdb = os.path.join(s.dir, 'dump.rdb')
        size = os.path.getsize(rdb)
        s.stop()
        cport = free_port()
        s2 = self.start(['--dir', s.dir, '--key-load-delay', DELAY_US, '--control-port', cport],
                        wait=False)
        self.watch_load(s2, cport, size)
        check_dataset(self, s2.redis())
        self.assertIn('Done loading RDB, keys loaded: %d' % (NKEYS + 5), s2.log())

    def test_aof_preamble_and_incr(self):
        aof = ['--appendonly', 'yes', '--aof-use-rdb-preamble', 'yes']
        s = self.start(aof)
        r = s.redis()
        fill(r)
        r.bgrewriteaof()
        self.assertTrue(wait_until(lambda: r.info('persistence')['aof_rewrite_in_progress'] == 0
                                   and r.info('persistence')['aof_rewrites'] >= 1, 60))
        for i in range(200):
            r.set('after:%d' % i, i)
        r.incrby('after:0', 5)
        r.delete('after:199')
        s.stop()
        d = os.path.join(s.dir, 'appendonlydir')
        files = sorted(os.listdir(d))
        self.assertTrue(any(f.endswith('.base.rdb') for f in files), files)
        incr = [f for f in files if f.endswith('.incr.aof')]
        self.assertTrue(incr and os.path.getsize(os.path.join(d, incr[-1])) > 0, files)
        total = sum(os.path.getsize(os.path.join(d, f)) for f in files
                    if f.endswith(('.rdb', '.aof')))
        cport = free_port()
        s2 = self.start(['--dir', s.dir, '--key-load-delay', DELAY_US, '--control-port', cport]
                        + aof, wait=False)
        self.watch_load(s2, cport, total)
        r2 = s2.redis()
        check_dataset(self, r2, extra=199)
        self.assertEqual(r2.get('after:0'), b'5')
        self.assertEqual(r2.get('after:198'), b'198')
        self.assertIsNone(r2.get('after:199'))
        # Writes after the load go to the AOF again.
        r2.set('later', 1)
        self.assertEqual(r2.info('persistence')['aof_enabled'], 1)

    def test_shutdown_while_loading(self):
        s = self.start(['--save', '3600 1'])
        r = s.redis()
        fill(r)
        r.save()
        rdb = os.path.join(s.dir, 'dump.rdb')
        before = os.path.getsize(rdb)
        s.stop()
        s2 = self.start(['--dir', s.dir, '--save', '3600 1', '--key-load-delay', DELAY_US],
                        wait=False)
        c = connect(s2)
        c.send(b'DBSIZE\r\n')
        self.assertEqual(c.read_reply(), LOADING)
        time.sleep(0.3)
        c.send(b'SHUTDOWN\r\n')
        self.assertTrue(c.is_closed(10))
        self.assertEqual(s2.proc.wait(20), 0)
        # A half-loaded dataset was not saved over the file.
        self.assertEqual(os.path.getsize(rdb), before)
        self.assertIn('Loading stopped by a shutdown request', s2.log())


class LoadingOneWorker(LoadingBase, unittest.TestCase):
    WORKERS = 1


class LoadingThreeWorkers(LoadingBase, unittest.TestCase):
    WORKERS = 3


class LoadingInfoAsRedis(unittest.TestCase):
    """INFO persistence's field names and order while loading, against
    redis-server loading the same kind of file."""

    def fields_while_loading(self, kind):
        # Uncompressed: Redis answers only after each 2 MB it reads.
        s = Server(kind=kind, args=DEBUG + ['--rdbcompression', 'no'])
        self.addCleanup(s.cleanup)
        s.redis().execute_command('DEBUG', 'POPULATE', NKEYS, 'key', 1000)
        s.redis().save()
        s.stop()
        s2 = Server(kind=kind, args=DEBUG + ['--dir', s.dir, '--key-load-delay', DELAY_US],
                    wait=False)
        self.addCleanup(s2.cleanup)
        c = connect(s2)
        self.addCleanup(c.close)
        # Redis answers once it has read its first 2 MB.
        fields = info_fields(c)
        self.assertEqual(dict(fields)['loading'], '1')
        s2.stop()
        return [k for k, _ in fields]

    def test_field_names(self):
        if os.environ.get('CBTEST_CACHEBOX_ADDR'):
            self.skipTest('starts its own servers')
        self.assertEqual(self.fields_while_loading('cachebox'), self.fields_while_loading('redis'))


if __name__ == '__main__':
    unittest.main()
