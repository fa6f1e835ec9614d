"""RDB persistence end to end: DEBUG RELOAD keeps the dataset (same DEBUG
DIGEST, same TTLs), a restart with the same --dir loads dump.rdb, our
dump.rdb passes redis-check-rdb and loads into Debian's redis-server with the
same digest, the oracle's dump.rdb (and the fixtures written by it) load into
cachebox with the same digest, and a corrupt file stops start-up as Redis
does. Run with /usr/bin/python3 (python3-redis).
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from cbtest import ROOT, Server

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'rdb')
CHECK_RDB = shutil.which('redis-check-rdb') or '/usr/bin/redis-check-rdb'
DEBUG = ['--enable-debug-command', 'yes']


def populate(r):
    """Strings in every encoding the file format has, with and without TTLs,
    over several dbs."""
    r.set('int8', 12)
    r.set('int16', 3000)
    r.set('int32', -70000)
    r.set('int64', 12345678901234)
    r.set('notint', '012')
    r.set('empty', '')
    r.set('embstr', 'hello world')
    r.set('raw', ''.join(chr(33 + (i * 37) % 90) for i in range(120)))
    r.set('lzf', 'abc' * 200)
    r.set('binary', b'a\x00b\xffc\r\n')
    r.set('ttl_ms', 'v', px=3600 * 1000)
    r.set('ttl_far', 'w', pxat=4102444800000)
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set('key:%d' % i, 'value:%d' % i, ex=10000 if i % 7 == 0 else None)
    pipe.execute()
    r.execute_command('SELECT', 1)
    r.set('db1', 'one')
    r.set('db1int', 42, pxat=4102444800123)
    r.execute_command('SELECT', 5)
    r.set('db5', 'x' * 1000)
    r.execute_command('SELECT', 0)


def populate_types(r):
    """Lists, sets, hashes and sorted sets in every encoding Redis 7.0
    writes."""
    r.rpush('smalllist', 'a', 'b', 1, -5, 300, -4000, 70000, 3000000000, 'x' * 70)
    for i in range(200):
        r.rpush('biglist', 'element-%d-%s' % (i, 'y' * (i % 50)), i)
    r.sadd('intset', 1, 2, 3, -100, 70000, 5000000000)
    r.sadd('strset', 'a', 'b', 'c', 1, 2)
    r.sadd('bigintset', *range(700))
    r.hset('smallhash', mapping={'f1': 'v1', 'f2': 2, 'num': 123456789})
    r.hset('bighash', mapping={'f1': 'z' * 100, 'f2': 'v2'})
    r.hset('widehash', mapping={'f%d' % i: 'v%d' % i for i in range(600)})
    r.zadd('smallzset', {'a': 0.1, 'b': 3, 'c': -0.0, 'd': 1e17, 'e': float('inf'),
                         'f': float('-inf'), 'g': -1.5, 'h': 123456789012, 9: 7})
    r.zadd('bigzset', {'member-%d' % i: i * 0.5 - 20 for i in range(300)})
    r.zadd('widezset', {'w' * 100: 1, 'x': 2})
    r.rpush('ttllist', 'x')
    r.pexpireat('ttllist', 4102444800000)
    r.execute_command('SELECT', 2)
    r.sadd('db2set', 'm')
    r.execute_command('SELECT', 0)


def digest(srv):
    r = srv.redis()
    try:
        d = r.execute_command('DEBUG', 'DIGEST')
    finally:
        r.close()
    return d.decode() if isinstance(d, bytes) else d


def ttls(srv, keys):
    r = srv.redis()
    try:
        return {k: r.pexpiretime(k) if hasattr(r, 'pexpiretime')
                else r.execute_command('PEXPIRETIME', k) for k in keys}
    finally:
        r.close()


TTL_KEYS = ['ttl_ms', 'ttl_far', 'key:0', 'key:7', 'int8']


class RdbTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='cbtest-rdb-')
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, kind, *extra, wait=True):
        srv = Server(kind, args=['--dir', self.dir] + DEBUG + list(extra), wait=wait)
        self.servers.append(srv)
        return srv

    def dump_path(self):
        return os.path.join(self.dir, 'dump.rdb')

    def test_debug_reload_and_restart(self):
        a = self.start('cachebox')
        r = a.redis()
        populate(r)
        before = digest(a)
        before_ttls = ttls(a, TTL_KEYS)
        self.assertEqual(r.execute_command('DEBUG', 'RELOAD'), b'OK')
        self.assertTrue(os.path.exists(self.dump_path()))
        self.assertEqual(digest(a), before)
        self.assertEqual(ttls(a, TTL_KEYS), before_ttls)
        self.assertEqual(r.dbsize(), 512)
        # NOSAVE reloads the file as it is; MERGE lets it overwrite.
        r.set('int8', 'changed')
        self.assertEqual(r.execute_command('DEBUG', 'RELOAD', 'NOSAVE', 'NOFLUSH', 'MERGE'), b'OK')
        self.assertEqual(digest(a), before)
        r.close()
        a.stop()
        b = self.start('cachebox')
        self.assertEqual(digest(b), before)
        self.assertEqual(ttls(b, TTL_KEYS), before_ttls)
        self.assertIn('DB loaded from disk', b.log())
        self.assertIn('Done loading RDB, keys loaded: 515, keys expired: 0.', b.log())

    def test_our_dump_checks_and_loads_into_redis(self):
        a = self.start('cachebox')
        r = a.redis()
        populate(r)
        want = digest(a)
        want_ttls = ttls(a, TTL_KEYS)
        self.assertEqual(r.execute_command('DEBUG', 'RELOAD'), b'OK')
        r.close()
        a.stop()
        p = subprocess.run([CHECK_RDB, self.dump_path()], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 0, out)
        self.assertIn('RDB looks OK', out)
        self.assertIn('515 keys read', out)
        oracle = self.start('redis')
        self.assertEqual(digest(oracle), want)
        self.assertEqual(ttls(oracle, TTL_KEYS), want_ttls)

    def test_oracle_dump_loads_into_cachebox(self):
        oracle = self.start('redis')
        r = oracle.redis()
        populate(r)
        self.assertTrue(r.save())
        want = digest(oracle)
        want_ttls = ttls(oracle, TTL_KEYS)
        r.close()
        oracle.stop()
        cb = self.start('cachebox')
        self.assertEqual(digest(cb), want)
        self.assertEqual(ttls(cb, TTL_KEYS), want_ttls)
        self.assertIn('Loading RDB produced by version 7.0.15', cb.log())

    def test_types_our_dump_checks_and_loads_into_redis(self):
        a = self.start('cachebox', '--list-compress-depth', '2')
        r = a.redis()
        populate(r)
        populate_types(r)
        want = digest(a)
        self.assertEqual(r.execute_command('DEBUG', 'RELOAD'), b'OK')
        self.assertEqual(digest(a), want)
        r.close()
        a.stop()
        p = subprocess.run([CHECK_RDB, self.dump_path()], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 0, out)
        self.assertIn('RDB looks OK', out)
        self.assertIn('528 keys read', out)
        oracle = self.start('redis')
        self.assertEqual(digest(oracle), want)
        o = oracle.redis()
        self.assertEqual(o.object('encoding', 'intset'), b'intset')
        self.assertEqual(o.object('encoding', 'smallhash'), b'listpack')
        self.assertEqual(o.object('encoding', 'widehash'), b'hashtable')
        self.assertEqual(o.object('encoding', 'smallzset'), b'listpack')
        self.assertEqual(o.object('encoding', 'bigzset'), b'skiplist')
        self.assertEqual(o.object('encoding', 'widezset'), b'skiplist')
        o.close()

    def test_types_oracle_dump_loads_into_cachebox(self):
        oracle = self.start('redis', '--list-compress-depth', '1')
        r = oracle.redis()
        populate_types(r)
        self.assertTrue(r.save())
        want = digest(oracle)
        r.close()
        oracle.stop()
        cb = self.start('cachebox', '--io-workers', '2')
        self.assertEqual(digest(cb), want)
        c = cb.redis()
        for k, enc in (('intset', b'intset'), ('strset', b'hashtable'),
                       ('bigintset', b'hashtable'), ('smallhash', b'listpack'),
                       ('bighash', b'hashtable'), ('biglist', b'quicklist'),
                       ('smallzset', b'listpack'), ('bigzset', b'skiplist'),
                       ('widezset', b'skiplist')):
            self.assertEqual(c.object('encoding', k), enc, k)
        c.close()

    def test_types_fixture_from_oracle(self):
        shutil.copy(os.path.join(FIXTURES, 'types.rdb'), self.dump_path())
        cb = self.start('cachebox')
        # make_fixtures.sh printed this DEBUG DIGEST of the oracle.
        self.assertEqual(digest(cb), '0ab7c5be8b0bacbc457a9fe4ccabcdaf4d2bff4b')

    def test_zset_fixture_from_oracle(self):
        shutil.copy(os.path.join(FIXTURES, 'zset.rdb'), self.dump_path())
        cb = self.start('cachebox')
        # DEBUG DIGEST of the oracle with this file loaded.
        self.assertEqual(digest(cb), 'f0842cbd33c8316aa7e3a4abbe9760c9d8d109e3')
        c = cb.redis()
        self.assertEqual(c.object('encoding', 'z'), b'listpack')
        self.assertEqual(c.zrange('z', 0, -1, withscores=True), [(b'a', 1.0), (b'b', 2.0)])
        c.close()

    def test_fixture_from_oracle(self):
        shutil.copy(os.path.join(FIXTURES, 'strings.rdb'), self.dump_path())
        cb = self.start('cachebox')
        # make_fixtures.sh printed this DEBUG DIGEST of the oracle.
        self.assertEqual(digest(cb), 'b5772281c61d5c34d43a036cb892969cadcd73ed')

    def _refused(self, fixture, needle):
        shutil.copy(os.path.join(FIXTURES, fixture), self.dump_path())
        srv = self.start('cachebox', wait=False)
        rc = srv.proc.wait(20)
        self.assertEqual(rc, 1)
        log = srv.log()
        self.assertIn('Fatal error loading the DB: ', log)
        self.assertIn(needle, log)
        self.assertIn('. Exiting.', log)

    def test_corrupt_files_stop_startup(self):
        self._refused('truncated.rdb', 'Unexpected EOF reading RDB file at offset')
        self._refused('badcrc.rdb', 'Wrong RDB checksum')

    def test_debug_reload_errors(self):
        a = self.start('cachebox')
        c = a.raw()
        self.assertEqual(c.cmd('DEBUG', 'RELOAD', 'NOSAVE'),
                         b'-ERR Error trying to load the RDB dump, check server logs.\r\n')
        self.assertEqual(c.cmd('DEBUG', 'RELOAD', 'BOGUS'),
                         b'-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE '
                         b'options.\r\n')
        # A corrupt file: the reload fails and leaves nothing half-loaded.
        self.assertEqual(c.cmd('SET', 'k', 'v'), b'+OK\r\n')
        shutil.copy(os.path.join(FIXTURES, 'truncated.rdb'), self.dump_path())
        self.assertEqual(c.cmd('DEBUG', 'RELOAD', 'NOSAVE'),
                         b'-ERR Error trying to load the RDB dump, check server logs.\r\n')
        self.assertEqual(c.cmd('DBSIZE'), b':0\r\n')
        self.assertIn('Unexpected EOF reading RDB file at offset', a.log())
        c.close()


if __name__ == '__main__':
    unittest.main()


class ShutdownSaveTest(unittest.TestCase):
    """SHUTDOWN and SIGTERM take the final snapshot the way Redis 7.0 does:
    SAVE always, no argument when save points are configured, NOSAVE never;
    a failed save refuses to exit. With three workers the snapshot still
    holds every shard."""

    setUp = RdbTest.setUp
    tearDown = RdbTest.tearDown
    start = RdbTest.start
    dump_path = RdbTest.dump_path

    def shutdown(self, srv, *args):
        with srv.raw() as c:
            c.send(b' '.join(a.encode() for a in args) + b'\r\n')
            c.read_until_closed(10)
        srv.proc.wait(10)
        return srv.proc.returncode

    def restart_digest(self):
        b = self.start('cachebox', '--io-workers', '3')
        try:
            return digest(b), b.redis().dbsize()
        finally:
            b.stop()

    def test_shutdown_save_and_nosave(self):
        a = self.start('cachebox', '--io-workers', '3')
        r = a.redis()
        populate(r)
        before = digest(a)
        r.close()
        self.assertEqual(self.shutdown(a, 'SHUTDOWN', 'SAVE'), 0)
        self.assertIn('Saving the final RDB snapshot before exiting.', a.log())
        self.assertIn('DB saved on disk', a.log())
        self.assertEqual(self.restart_digest(), (before, 512))
        # NOSAVE and the default (no save points) leave the file alone.
        os.unlink(self.dump_path())
        for args in (('SHUTDOWN', 'NOSAVE'), ('SHUTDOWN',)):
            s = self.start('cachebox')
            s.redis().set('x', 1)
            self.assertEqual(self.shutdown(s, *args), 0)
            self.assertFalse(os.path.exists(self.dump_path()), args)

    def test_sigterm_saves_with_save_points(self):
        a = self.start('cachebox', '--save', '3600 1', '--io-workers', '2')
        r = a.redis()
        populate(r)
        before = digest(a)
        r.close()
        self.assertEqual(a.stop(), 0)
        self.assertTrue(os.path.exists(self.dump_path()))
        self.assertEqual(self.restart_digest(), (before, 512))

    def test_failed_save_refuses_to_exit(self):
        a = self.start('cachebox')
        a.redis().set('k', 'v')
        # A non-empty directory where the file must go: the rename fails.
        os.mkdir(self.dump_path())
        open(os.path.join(self.dump_path(), 'blocker'), 'w').close()
        with a.raw() as c:
            self.assertEqual(c.cmd('SHUTDOWN', 'SAVE'),
                             b'-ERR Errors trying to SHUTDOWN. Check logs.\r\n')
            self.assertEqual(c.cmd('PING'), b'+PONG\r\n')
        self.assertIn("Error trying to save the DB, can't exit.", a.log())
        self.assertEqual(self.shutdown(a, 'SHUTDOWN', 'SAVE', 'FORCE'), 0)

    def test_sigterm_with_failing_save_keeps_running(self):
        import signal
        import time
        a = self.start('cachebox', '--save', '3600 1')
        a.redis().set('k', 'v')
        os.mkdir(self.dump_path())
        open(os.path.join(self.dump_path(), 'blocker'), 'w').close()
        a.proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        self.assertIsNone(a.proc.poll(), 'exited although the final save failed')
        self.assertIn('SIGTERM received but errors trying to shut down the server', a.log())
        self.assertEqual(a.redis().get('k'), b'v')
        shutil.rmtree(self.dump_path())
        self.assertEqual(a.stop(), 0)
        self.assertTrue(os.path.isfile(self.dump_path()))
