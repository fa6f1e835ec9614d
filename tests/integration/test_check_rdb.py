"""cachebox-check-rdb against Debian's redis-check-rdb: on every good fixture
written by redis-server (strings, lists, sets, hashes, zsets, expired and
LRU/LFU files, no-checksum, streams with and without LZF, a Redis 5/6
stream file, a version 9 file of every pre-7.0 encoding) it prints the same
report and exits 0; it accepts the files
cachebox writes; it refuses each corrupt and truncated fixture
(tests/fixtures/rdb/corrupt.txt and the older ones) with exit status 1 and
the offset of the failing record and the reason; cachebox start-up refuses
the same files with a clear error, exiting 1 without a crash.
Run with /usr/bin/python3 (python3-redis).
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from cbtest import CACHEBOX_BIN, ROOT, Server, is_redis_binary

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'rdb')
CHECK_RDB = shutil.which('redis-check-rdb') or '/usr/bin/redis-check-rdb'
OUR_CHECK = os.environ.get('CACHEBOX_CHECK_RDB',
                           os.path.join(os.path.dirname(CACHEBOX_BIN), 'cachebox-check-rdb'))

GOOD = ['strings.rdb', 'types.rdb', 'zset.rdb', 'list.rdb', 'expired.rdb', 'lru.rdb',
        'lfu.rdb', 'nocrc.rdb', 'stream.rdb', 'stream_plain.rdb', 'stream_v9.rdb',
        'old_encodings.rdb']
# Older corrupt fixtures (make_fixtures.sh): file, failing record, text.
OLDER_BAD = [
    ('truncated.rdb', 215, 'Unexpected EOF reading RDB file'),
    ('truncated_crc.rdb', 430, 'Unexpected EOF reading RDB file'),
    ('badcrc.rdb', 430, 'Wrong RDB checksum'),
    ('badmagic.rdb', 0, 'Wrong signature trying to load DB from file'),
    ('badversion.rdb', 0, "Can't handle RDB format version 11"),
]
# redis-check-rdb trusts a stream's stored length; we check it.
REDIS_LENIENT = {'corrupt_stream_length.rdb'}


def corrupt_list():
    out = []
    with open(os.path.join(FIXTURES, 'corrupt.txt')) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            name, off, text = line.rstrip('\n').split('\t')
            out.append((name, int(off), text))
    return out + OLDER_BAD


def run(cmd, path):
    p = subprocess.run([cmd, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    return p.returncode, p.stdout.decode('utf-8', 'replace')


@unittest.skipIf(is_redis_binary(CACHEBOX_BIN), 'checks cachebox-check-rdb')
class CheckRdb(unittest.TestCase):
    def test_good_fixtures_same_report(self):
        for name in GOOD:
            path = os.path.join(FIXTURES, name)
            rc, ours = run(OUR_CHECK, path)
            self.assertEqual(rc, 0, name + '\n' + ours)
            self.assertIn('\\o/ RDB looks OK! \\o/', ours)
            _, theirs = run(CHECK_RDB, path)
            self.assertEqual(ours, theirs, name)

    def test_corrupt_fixtures(self):
        for name, off, text in corrupt_list():
            path = os.path.join(FIXTURES, name)
            rc, out = run(OUR_CHECK, path)
            self.assertEqual(rc, 1, name + '\n' + out)
            lines = out.splitlines()
            self.assertIn('--- RDB ERROR DETECTED ---', lines, name)
            err = lines[lines.index('--- RDB ERROR DETECTED ---') + 1]
            self.assertTrue(err.startswith('[offset %d] ' % off), name + ': ' + err)
            self.assertIn(text, err, name)
            self.assertIn('[additional info] While doing: ', out)
            self.assertNotIn('RDB looks OK', out)
            if name not in REDIS_LENIENT:
                # The fixture really is bad: the oracle's checker agrees.
                self.assertNotEqual(run(CHECK_RDB, path)[0], 0, name)

    def test_missing_file_and_usage(self):
        rc, out = run(OUR_CHECK, '/nonexistent/dump.rdb')
        self.assertEqual(rc, 1)
        self.assertIn('--- RDB ERROR DETECTED ---', out)
        p = subprocess.run([OUR_CHECK], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b'Usage:', p.stderr)

    def test_our_files(self):
        d = tempfile.mkdtemp(prefix='cbtest-chk-')
        try:
            srv = Server('cachebox', args=['--dir', d, '--enable-debug-command', 'yes'])
            try:
                r = srv.redis()
                r.set('s', 'v')
                r.set('n', 12345, px=100000000)
                r.rpush('l', *range(300))
                r.sadd('i', 1, 2, 3)
                r.sadd('st', 'a', 'b')
                r.hset('h', mapping={'a': 1, 'b': 'x' * 100})
                r.zadd('z', {'a': 1.5, 'b': 2})
                for i in range(1, 300):
                    r.xadd('x', {'f': i})
                r.xgroup_create('x', 'g', '0')
                r.xreadgroup('g', 'c', {'x': '>'}, count=10)
                r.execute_command('SELECT', 3)
                r.set('db3', 'v')
                self.assertEqual(r.execute_command('DEBUG', 'RELOAD'), b'OK')
                r.close()
            finally:
                srv.cleanup()
            path = os.path.join(d, 'dump.rdb')
            rc, ours = run(OUR_CHECK, path)
            self.assertEqual(rc, 0, ours)
            self.assertIn('[info] 9 keys read', ours)
            self.assertIn('[info] 1 expires', ours)
            self.assertIn('Selecting DB ID 3', ours)
            _, theirs = run(CHECK_RDB, path)
            self.assertEqual(ours, theirs)
        finally:
            shutil.rmtree(d, ignore_errors=True)


@unittest.skipIf(is_redis_binary(CACHEBOX_BIN), 'cachebox start-up messages')
class StartupRefusesCorrupt(unittest.TestCase):
    def test_each_corrupt_fixture(self):
        for name, off, text in corrupt_list():
            d = tempfile.mkdtemp(prefix='cbtest-bad-')
            try:
                shutil.copy(os.path.join(FIXTURES, name), os.path.join(d, 'dump.rdb'))
                srv = Server('cachebox', args=['--dir', d], wait=False)
                try:
                    rc = srv.proc.wait(20)
                    log = srv.log()
                finally:
                    srv.cleanup()
                self.assertEqual(rc, 1, name + '\n' + log)  # an exit, not a signal
                self.assertIn('Fatal error loading the DB: ', log, name)
                self.assertIn(text, log, name)
            finally:
                shutil.rmtree(d, ignore_errors=True)

    def test_good_stream_fixtures_load(self):
        # DEBUG DIGEST that make_stream_fixtures.py printed for the oracle.
        for name in ('stream.rdb', 'stream_plain.rdb', 'stream_v9.rdb'):
            d = tempfile.mkdtemp(prefix='cbtest-good-')
            try:
                shutil.copy(os.path.join(FIXTURES, name), os.path.join(d, 'dump.rdb'))
                srv = Server('cachebox', args=['--dir', d, '--enable-debug-command', 'yes'])
                try:
                    r = srv.redis()
                    self.assertEqual(r.execute_command('DEBUG', 'DIGEST'),
                                     b'215518159bd33fa0a274e6ddf9dcad2402426f44', name)
                    self.assertEqual(r.xlen('plain'), 30)
                    self.assertEqual(len(r.xinfo_groups('groups')), 2)
                    r.close()
                finally:
                    srv.cleanup()
            finally:
                shutil.rmtree(d, ignore_errors=True)

    def test_old_encodings_load(self):
        # make_old_encodings.py --oracle printed this DEBUG DIGEST.
        d = tempfile.mkdtemp(prefix='cbtest-old-')
        try:
            shutil.copy(os.path.join(FIXTURES, 'old_encodings.rdb'), os.path.join(d, 'dump.rdb'))
            srv = Server('cachebox', args=['--dir', d, '--enable-debug-command', 'yes'])
            try:
                r = srv.redis()
                self.assertEqual(r.execute_command('DEBUG', 'DIGEST'),
                                 b'b657c16ce8ff94daeec924b799e8d2fec0fbb368')
                self.assertEqual(r.dbsize(), 13)
                self.assertEqual(r.lrange('ziplistlist', 0, 2), [b'a', b'7', b'-100'])
                self.assertEqual(r.hget('zipmaphash', 'kind'), b'appliance')
                self.assertEqual(r.zscore('textzset', 'b'), float('inf'))
                self.assertEqual(r.execute_command('PEXPIRETIME', 'oldttl'), 2000000000000)
                self.assertEqual(r.object('encoding', 'intset64'), b'intset')
                r.close()
            finally:
                srv.cleanup()
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    unittest.main()
