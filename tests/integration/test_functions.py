"""Functions across servers and processes: FUNCTION DUMP payloads restored
both ways between redis-server and cachebox, libraries saved in dump.rdb
and loaded back by the other server (and by a cachebox restart, DEBUG
RELOAD), FUNCTION KILL of a runaway function while other clients get BUSY,
and libraries loaded on one worker called from connections on the others."""
import os
import shutil
import tempfile
import time
import unittest

import redis

from cbtest import Server, RespError, encode_command, parse

THRESHOLD_MS = 200
BUSY_FN = ('BUSY Redis is busy running a script. You can only call FUNCTION KILL or '
           'SHUTDOWN NOSAVE.')

LIB_A = """#!lua name=liba
redis.register_function('hello', function(keys, args) return 'hello ' .. args[1] end)
redis.register_function{function_name='getk', callback=function(keys) return redis.call('get', keys[1]) end,
  flags={'no-writes'}, description='reads one key'}
"""
LIB_B = """#!lua name=libb
-- a longer body: its RDB string is LZF-compressed when saved
local function incrby(keys, args)
  return redis.call('incrby', keys[1], args[1])
end
redis.register_function('incr_by', incrby)
redis.register_function{function_name='spin', callback=function() while true do end end,
  flags={'no-writes'}}
"""


def q(conn, *args):
    v = parse(conn.cmd(*args))
    return v.decode() if isinstance(v, bytes) else str(v)


def listing(r):
    """FUNCTION LIST as a comparable set of (lib, function, flags)."""
    out = set()
    for lib in r.function_list(withcode=True):
        d = dict(zip(lib[::2], lib[1::2]))
        for f in d[b'functions']:
            fd = dict(zip(f[::2], f[1::2]))
            out.add((d[b'library_name'], fd[b'name'], fd[b'description'],
                     tuple(sorted(fd[b'flags'])), d[b'library_code']))
    return out


class DumpRestoreBothWays(unittest.TestCase):
    def setUp(self):
        self.cb = Server('cachebox')
        self.addCleanup(self.cb.cleanup)
        self.rs = Server('redis')
        self.addCleanup(self.rs.cleanup)

    def check_restored(self, src, dst):
        s, d = src.redis(), dst.redis()
        s.function_load(LIB_A)
        s.function_load(LIB_B)
        payload = s.function_dump()
        self.assertTrue(d.function_restore(payload))
        self.assertEqual(listing(s), listing(d))
        self.assertEqual(d.fcall('hello', 0, 'you'), b'hello you')
        d.set('n', 5)
        self.assertEqual(d.fcall('incr_by', 1, 'n', 3), 8)
        self.assertEqual(d.fcall_ro('getk', 1, 'n'), b'8')
        # The same libraries dump to the same bytes on both servers.
        d.function_restore(payload, 'FLUSH')
        self.assertEqual(sorted(d.function_dump()[:-10].split(b'\xf5')),
                         sorted(payload[:-10].split(b'\xf5')))
        with self.assertRaises(redis.ResponseError) as e:
            d.function_restore(payload)
        self.assertIn('already exists', str(e.exception))

    def test_redis_to_cachebox(self):
        self.check_restored(self.rs, self.cb)

    def test_cachebox_to_redis(self):
        self.check_restored(self.cb, self.rs)


class RdbBothWays(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='cbtest-fn-')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def start(self, kind):
        extra = ['--enable-debug-command', 'yes'] if kind == 'cachebox' else []
        s = Server(kind, args=['--dir', self.dir] + extra)
        self.addCleanup(s.cleanup)
        return s

    def fill_and_save(self, kind):
        s = self.start(kind)
        r = s.redis()
        r.function_load(LIB_A)
        r.function_load(LIB_B)
        r.set('k', 'v')
        want = listing(r)
        self.assertTrue(r.save())
        s.stop()
        return want

    def check_loaded(self, kind, want):
        s = self.start(kind)
        r = s.redis()
        self.assertEqual(listing(r), want)
        self.assertEqual(r.get('k'), b'v')
        self.assertEqual(r.fcall('hello', 0, 'rdb'), b'hello rdb')
        return s

    def test_cachebox_rdb_into_redis(self):
        want = self.fill_and_save('cachebox')
        self.check_loaded('redis', want)

    def test_redis_rdb_into_cachebox(self):
        want = self.fill_and_save('redis')
        s = self.check_loaded('cachebox', want)
        r = s.redis()
        info = r.info('memory')
        self.assertEqual(info['number_of_libraries'], 2)
        self.assertEqual(info['number_of_functions'], 4)
        self.assertGreater(info['used_memory_functions'], 0)

    def test_cachebox_restart_and_debug_reload(self):
        want = self.fill_and_save('cachebox')
        s = self.check_loaded('cachebox', want)
        r = s.redis()
        r.execute_command('DEBUG', 'RELOAD')
        self.assertEqual(listing(r), want)
        self.assertEqual(r.fcall('incr_by', 1, 'cnt', 2), 2)


class AofReplay(unittest.TestCase):
    """FUNCTION LOAD / DELETE are writes: the AOF records them and a
    restart replays them (off the worker threads, before they start)."""

    def test_restart_replays_libraries(self):
        d = tempfile.mkdtemp(prefix='cbtest-fn-aof-')
        self.addCleanup(shutil.rmtree, d, True)
        s = Server('cachebox', args=['--dir', d, '--appendonly', 'yes'])
        self.addCleanup(s.cleanup)
        r = s.redis()
        r.function_load(LIB_A)
        r.function_load(LIB_B)
        r.function_delete('liba')
        self.assertEqual(r.fcall('incr_by', 1, 'n', 7), 7)
        want = listing(r)
        s.stop()
        s2 = Server('cachebox', args=['--dir', d, '--appendonly', 'yes'])
        self.addCleanup(s2.cleanup)
        r2 = s2.redis()
        self.assertEqual(listing(r2), want)
        self.assertEqual(r2.fcall('incr_by', 1, 'n', 1), 8)
        # A rewrite to commands writes FUNCTION LOAD first, as Redis's;
        # one with an RDB preamble carries the FUNCTION2 records.
        for preamble in ('no', 'yes'):
            r2.config_set('aof-use-rdb-preamble', preamble)
            r2.bgrewriteaof()
            deadline = time.time() + 20
            while r2.info('persistence')['aof_rewrite_in_progress']:
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            s2.stop()
            s2 = Server('cachebox', args=['--dir', d, '--appendonly', 'yes'])
            self.addCleanup(s2.cleanup)
            r2 = s2.redis()
            self.assertEqual(listing(r2), want, preamble)
            self.assertEqual(r2.get('n'), b'8')


class _Kill:
    ARGS = ()

    def setUp(self):
        self.server = Server('cachebox', args=('--busy-reply-threshold', THRESHOLD_MS) + self.ARGS)
        self.addCleanup(self.server.cleanup)
        self.server.redis().function_load(LIB_B)

    def test_function_kill(self):
        runner = self.server.raw(timeout=30)
        self.addCleanup(runner.close)
        t0 = time.time()
        runner.send(encode_command('FCALL', 'spin', '0'))
        conns = [self.server.raw() for _ in range(6)]
        try:
            deadline = time.time() + 5
            while q(conns[0], 'PING') != BUSY_FN:
                self.assertLess(time.time(), deadline, 'no BUSY reply')
                time.sleep(0.02)
            first_busy = time.time() - t0
            for c in conns:
                self.assertEqual(q(c, 'GET', 'x'), BUSY_FN)
            stats = parse(conns[1].cmd('FUNCTION', 'STATS'))
            running = dict(zip(stats[1][::2], stats[1][1::2]))
            self.assertEqual(running[b'name'], b'spin')
            self.assertEqual(running[b'command'], [b'FCALL', b'spin', b'0'])
            self.assertGreaterEqual(running[b'duration_ms'], THRESHOLD_MS)
            self.assertEqual(q(conns[2], 'SCRIPT', 'KILL'), BUSY_FN)
            self.assertEqual(q(conns[-1], 'FUNCTION', 'KILL'), 'OK')
        finally:
            for c in conns:
                c.close()
        reply = parse(runner.read_reply())
        self.assertIsInstance(reply, RespError)
        self.assertTrue(str(reply).startswith(
            'ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:'),
            str(reply))
        self.assertLess(first_busy, THRESHOLD_MS / 1000 + 2.0)
        r = self.server.redis()
        self.assertTrue(r.set('after', 1))
        self.assertEqual(r.fcall('incr_by', 1, 'after', 4), 5)
        with self.server.raw() as c:
            self.assertEqual(q(c, 'FUNCTION', 'KILL'), 'NOTBUSY No scripts in execution right now.')


class KillOneWorker(_Kill, unittest.TestCase):
    pass


class KillThreeWorkers(_Kill, unittest.TestCase):
    ARGS = ('--io-workers', '3')

    def test_load_on_one_worker_call_on_all(self):
        conns = [self.server.redis(single_connection_client=True) for _ in range(9)]
        try:
            conns[0].function_load(LIB_A)
            for i, c in enumerate(conns):
                self.assertEqual(c.fcall('hello', 0, str(i)), ('hello %d' % i).encode())
            conns[4].function_load(LIB_A.replace("'hello '", "'hi '"), replace=True)
            for i, c in enumerate(conns):
                self.assertEqual(c.fcall('hello', 0, str(i)), ('hi %d' % i).encode())
            # Keys on every shard, reached from one function.
            for i in range(30):
                self.assertEqual(conns[i % 9].fcall('incr_by', 1, 'key%d' % i, i), i)
            self.assertEqual(conns[1].fcall_ro('getk', 1, 'key29'), b'29')
            conns[2].function_delete('liba')
            for c in conns:
                with self.assertRaises(redis.ResponseError):
                    c.fcall('hello', 0, 'x')
        finally:
            for c in conns:
                c.close()


if __name__ == '__main__':
    unittest.main()
