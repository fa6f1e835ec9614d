"""Lua scripting as clients use it: a runaway script answered with BUSY
while other clients keep being served, SCRIPT KILL, an UNKILLABLE script
ended by SHUTDOWN NOSAVE; redis-py's own Lock (EVAL for release/extend) and
a rate-limiter recipe run unchanged; scripts reaching keys in several
workers' shards."""
import socket
import threading
import time
import unittest

import redis
from redis.exceptions import LockError, LockNotOwnedError

from cbtest import (Server, RespError, encode_command, kinds_for_identical, local_addr,
                    parse)

THRESHOLD_MS = 200
BUSY = ('BUSY Redis is busy running a script. You can only call SCRIPT KILL or '
        'SHUTDOWN NOSAVE.')
UNKILLABLE = ('UNKILLABLE Sorry the script already executed write commands against the '
              'dataset. You can either wait the script termination or kill the server in a '
              'hard way using the SHUTDOWN NOSAVE command.')


def q(conn, *args):
    """One command on a raw connection, its reply as text (errors too)."""
    v = parse(conn.cmd(*args))
    return v.decode() if isinstance(v, bytes) else str(v)


def start_runaway(server, body):
    """Send EVAL body on a fresh socket without waiting; returns the conn."""
    c = server.raw(timeout=30)
    c.send(encode_command('EVAL', body, '0'))
    return c


def wait_busy(server, deadline_s):
    """Ping on a new connection until the reply is BUSY; seconds it took."""
    t0 = time.time()
    with server.raw(timeout=5) as c:
        while time.time() - t0 < deadline_s:
            if q(c, 'PING') == BUSY:
                return time.time() - t0
            time.sleep(0.02)
    raise AssertionError('no BUSY reply within %.1f s' % deadline_s)


class _Busy:
    """Runs against cachebox and the oracle: the same texts must come back."""

    ARGS = ()

    def setUp(self):
        self.server = Server(self.KIND,
                             args=('--busy-reply-threshold', THRESHOLD_MS) + self.ARGS)
        self.addCleanup(self.server.cleanup)

    def test_runaway_script_killed(self):
        t0 = time.time()
        runner = start_runaway(self.server, 'while true do end')
        self.addCleanup(runner.close)
        waited = wait_busy(self.server, 5.0)
        # BUSY starts once the threshold has passed, not long after.
        self.assertLess(time.time() - t0, THRESHOLD_MS / 1000 + 2.0, waited)
        with self.server.raw() as c:
            self.assertEqual(q(c, 'GET', 'x'), BUSY)
            self.assertEqual(q(c, 'SET', 'x', '1'), BUSY)
            r = q(c, 'NOSUCHCOMMAND')
            self.assertTrue(r.startswith('ERR unknown command'), r)
            self.assertEqual(q(c, 'SCRIPT', 'KILL'), 'OK')
        reply = parse(runner.read_reply())
        self.assertIsInstance(reply, RespError)
        reply = str(reply)
        self.assertTrue(reply.startswith(
            'ERR Script killed by user with SCRIPT KILL... script: '), reply)
        self.assertTrue(reply.endswith(', on @user_script:1.'), reply)
        # Served normally afterwards, on the old connection and new ones.
        self.assertEqual(q(runner, 'PING'), 'PONG')
        r = self.server.redis()
        self.assertTrue(r.set('after', 'v'))
        self.assertEqual(r.get('after'), b'v')
        with self.server.raw() as c:
            self.assertEqual(q(c, 'SCRIPT', 'KILL'),
                             'NOTBUSY No scripts in execution right now.')

    def test_script_that_wrote_is_unkillable(self):
        runner = start_runaway(self.server, "redis.call('set','w','1') while true do end")
        self.addCleanup(runner.close)
        wait_busy(self.server, 5.0)
        with self.server.raw() as c:
            self.assertEqual(q(c, 'SCRIPT', 'KILL'), UNKILLABLE)
            self.assertEqual(q(c, 'SHUTDOWN'), BUSY)
            c.send(encode_command('SHUTDOWN', 'NOSAVE'))
            self.assertTrue(c.is_closed(timeout=5))
        self.server.proc.wait(timeout=10)


class BusyCachebox(_Busy, unittest.TestCase):
    KIND = 'cachebox'


class BusyCacheboxThreeWorkers(_Busy, unittest.TestCase):
    """The other workers are parked while the script runs; they answer BUSY
    too, and SCRIPT KILL / SHUTDOWN NOSAVE reach the script from any of
    them (each new connection lands on some worker)."""
    KIND = 'cachebox'
    ARGS = ('--io-workers', '3')

    def test_every_connection_gets_busy(self):
        runner = start_runaway(self.server, 'while true do end')
        self.addCleanup(runner.close)
        wait_busy(self.server, 5.0)
        conns = [self.server.raw() for _ in range(12)]
        try:
            for c in conns:
                self.assertEqual(q(c, 'GET', 'k'), BUSY)
            self.assertEqual(q(conns[-1], 'SCRIPT', 'KILL'), 'OK')
        finally:
            for c in conns:
                c.close()
        self.assertIsInstance(parse(runner.read_reply()), RespError)
        r = self.server.redis()
        r.mset({'k%d' % i: i for i in range(20)})
        self.assertEqual(r.dbsize(), 20)


if 'redis' in kinds_for_identical():
    class BusyRedis(_Busy, unittest.TestCase):
        KIND = 'redis'


class _Stats:
    """Errors inside scripts count once in INFO, as Redis counts them, and
    MONITOR shows EVAL before the commands its script runs ("lua")."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.KIND)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_error_stats(self):
        r = self.server.redis()
        r.set('s', 'foo')
        r.config_resetstat()
        for body in ["return redis.call('incr','s')", "return redis.pcall('incr','s')",
                     "return {redis.pcall('incr','s')}", "return redis.error_reply('MY_ERR x')",
                     "error('x')"]:
            try:
                r.eval(body, 0)
            except redis.ResponseError:
                pass
        self.assertEqual(r.info('stats')['total_error_replies'], 5)
        errs = r.info('errorstats')
        self.assertEqual(errs['errorstat_ERR'], 'count=4')
        self.assertEqual(errs['errorstat_MY_ERR'], 'count=1')
        cs = r.info('commandstats')
        self.assertEqual(cs['cmdstat_incr']['failed_calls'], 3)
        self.assertEqual(cs['cmdstat_eval']['failed_calls'], 5)

    def test_client_pause_write(self):
        """CLIENT PAUSE WRITE holds scripts that may write, not no-writes
        ones or EVAL_RO (the flags come from the script, as in Redis)."""
        r = self.server.redis()
        def timed(fn):
            r.client_pause(300, all=False)
            t0 = time.time()
            fn()
            took = time.time() - t0
            r.client_unpause()
            return took
        self.assertGreater(timed(lambda: r.eval('return 1', 0)), 0.2)
        self.assertLess(timed(lambda: r.eval('#!lua flags=no-writes\nreturn 1', 0)), 0.2)
        self.assertLess(timed(lambda: r.eval_ro('return 1', 0)), 0.2)
        sha = r.script_load('#!lua flags=no-writes\nreturn 2')
        self.assertLess(timed(lambda: r.evalsha(sha, 0)), 0.2)

    def test_monitor(self):
        r = self.server.redis()
        with self.server.raw() as m:
            self.assertEqual(parse(m.cmd('MONITOR')), b'OK')
            r.eval("return redis.call('SET', KEYS[1], 'v')", 1, 'mk')
            r.ping()
            lines = []
            while not lines or b'"PING"' not in lines[-1]:
                lines.append(m.read_reply())
        lines = [l.split(b' ', 1)[1] for l in lines]
        self.assertTrue(lines[0].startswith(b'[0 %s:' % local_addr(self.server).encode()), lines)
        self.assertTrue(lines[0].endswith(b'"EVAL" "return redis.call(\'SET\', KEYS[1], \'v\')" "1" "mk"\r\n'), lines)
        self.assertEqual(lines[1], b'[0 lua] "SET" "mk" "v"\r\n')


class StatsCachebox(_Stats, unittest.TestCase):
    KIND = 'cachebox'


if 'redis' in kinds_for_identical():
    class StatsRedis(_Stats, unittest.TestCase):
        KIND = 'redis'


class SelfContainingTables(unittest.TestCase):
    """A returned table that contains itself stops at the Lua stack limit with
    exactly Redis's bytes (too deep for the diff corpus's parser)."""
    BODIES = ['local t = {} t[1] = t return t',
              "local t = {} t[1] = 'a' t[2] = t return t",
              'local t = {} t.map = {a=t} return t']

    def test_same_bytes_as_redis(self):
        kinds = kinds_for_identical()
        if 'redis' not in kinds:
            self.skipTest('no oracle')
        servers = [Server(k) for k in ('cachebox', 'redis')]
        try:
            for body in self.BODIES:
                got = []
                for srv in servers:
                    with srv.raw(timeout=10) as c:
                        c.send(encode_command('EVAL', body, '0'))
                        c.send(encode_command('PING'))
                        data = b''
                        while not data.endswith(b'+PONG\r\n'):
                            data += c.sock.recv(1 << 16)
                        got.append(data)
                self.assertEqual(got[0], got[1], body)
                self.assertIn(b'-ERR reached lua stack limit\r\n', got[0])
        finally:
            for srv in servers:
                srv.cleanup()


RATE_LIMIT = """
local current = redis.call('INCR', KEYS[1])
if current == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if current > tonumber(ARGV[1]) then
    return 0
end
return 1
"""

SLIDING_WINDOW = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[4])
    redis.call('PEXPIRE', KEYS[1], window)
    return {1, limit - redis.call('ZCARD', KEYS[1])}
end
return {0, 0}
"""


class _Recipes:
    ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server('cachebox', args=cls.ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.r = self.server.redis()
        self.r.flushall()
        self.r.script_flush()

    def test_redis_py_lock(self):
        a, b = self.server.redis(), self.server.redis()
        la = a.lock('resource', timeout=10)
        self.assertTrue(la.acquire(blocking=False))
        lb = b.lock('resource', timeout=10)
        self.assertFalse(lb.acquire(blocking=False))
        self.assertFalse(lb.acquire(blocking=True, blocking_timeout=0.2))
        self.assertTrue(la.owned())
        self.assertTrue(la.extend(5))            # EVAL: extend
        self.assertGreater(a.pttl('resource'), 10000)
        self.assertTrue(la.reacquire())          # EVAL: reacquire
        intruder = b.lock('resource', timeout=10)
        intruder.local.token = b'not-the-owner'
        with self.assertRaises(LockNotOwnedError):
            intruder.release()                   # EVAL: release refuses
        intruder.local.token = b'not-the-owner'
        with self.assertRaises(LockNotOwnedError):
            intruder.extend(5)                   # EVAL: extend refuses
        la.release()                             # EVAL: release
        self.assertFalse(a.exists('resource'))
        with self.assertRaises(LockError):
            la.release()
        with b.lock('resource', timeout=5, blocking_timeout=1):
            self.assertTrue(b.exists('resource'))
        self.assertFalse(b.exists('resource'))

    def test_lock_contention(self):
        """Several threads increment a counter under the lock: no update lost."""
        def work():
            r = self.server.redis()
            for _ in range(20):
                with r.lock('L', timeout=5, blocking_timeout=10):
                    v = int(r.get('counter') or 0)
                    r.set('counter', v + 1)
        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(int(self.r.get('counter')), 80)

    def test_rate_limiter(self):
        limit = self.r.register_script(RATE_LIMIT)
        allowed = sum(limit(keys=['rl:user1'], args=[10, 60000]) for _ in range(25))
        self.assertEqual(allowed, 10)
        self.assertGreater(self.r.pttl('rl:user1'), 0)
        # Fresh window for another user; the script is run by EVALSHA now.
        self.assertEqual(limit(keys=['rl:user2'], args=[10, 60000]), 1)
        self.r.script_flush()   # NOSCRIPT -> redis-py falls back to EVAL
        self.assertEqual(limit(keys=['rl:user3'], args=[1, 60000]), 1)
        self.assertEqual(limit(keys=['rl:user3'], args=[1, 60000]), 0)

    def test_sliding_window(self):
        sw = self.r.register_script(SLIDING_WINDOW)
        now = 1_000_000
        got = [sw(keys=['sw'], args=[now + i, 1000, 5, 'req%d' % i]) for i in range(8)]
        self.assertEqual([g[0] for g in got], [1, 1, 1, 1, 1, 0, 0, 0])
        self.assertEqual(got[0][1], 4)
        # The window slides: old entries fall out.
        self.assertEqual(sw(keys=['sw'], args=[now + 2000, 1000, 5, 'late'])[0], 1)

    def test_keys_on_every_shard(self):
        keys = ['k%d' % i for i in range(30)]
        body = """
for i, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1] .. i) end
local out = {}
for i, k in ipairs(KEYS) do out[i] = redis.call('GET', k) end
return out"""
        got = self.r.eval(body, len(keys), *keys, 'v')
        self.assertEqual(got, [('v%d' % (i + 1)).encode() for i in range(30)])
        self.assertEqual(self.r.mget(keys), got)
        # Keys a script does not declare still work (non-cluster Redis).
        self.assertEqual(self.r.eval("return redis.call('GET', 'k7')", 0), b'v8')
        self.assertEqual(self.r.eval("return redis.call('MGET', 'k1', 'k2', 'k3')", 0),
                         [b'v2', b'v3', b'v4'])
        self.assertEqual(self.r.eval("return redis.call('DBSIZE')", 0), 30)

    def test_many_clients_evalsha(self):
        sha = self.r.script_load("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        def work():
            r = self.server.redis()
            for _ in range(100):
                r.evalsha(sha, 1, 'total', 1)
        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(int(self.r.get('total')), 400)

    def test_script_push_wakes_blocked_client(self):
        got = []
        def waiter():
            got.append(self.server.redis().blpop('jobs', timeout=5))
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.3)
        self.assertEqual(self.r.eval("return redis.call('RPUSH', KEYS[1], ARGV[1])", 1,
                                     'jobs', 'job1'), 1)
        t.join()
        self.assertEqual(got, [(b'jobs', b'job1')])

    def test_script_write_breaks_watch(self):
        self.r.set('w', 1)
        p = self.r.pipeline()
        p.watch('w')
        self.server.redis().eval("return redis.call('INCR', 'w')", 0)
        p.multi()
        p.set('w', 100)
        with self.assertRaises(redis.WatchError):
            p.execute()
        self.assertEqual(self.r.get('w'), b'2')
        # A read-only script leaves the watch alone.
        p = self.r.pipeline()
        p.watch('w')
        self.server.redis().eval_ro("return redis.call('GET', 'w')", 1, 'w')
        p.multi()
        p.set('w', 100)
        self.assertEqual(p.execute(), [True])

    def test_info_fields(self):
        self.r.eval('return 1', 0)
        self.r.script_load('return 2')
        info = self.r.info('memory')
        self.assertEqual(info['number_of_cached_scripts'], 2)
        self.assertGreater(info['used_memory_lua'], 0)
        self.assertGreater(info['used_memory_scripts_eval'], 0)


class Recipes(_Recipes, unittest.TestCase):
    pass


class RecipesThreeWorkers(_Recipes, unittest.TestCase):
    ARGS = ('--io-workers', '3')


if __name__ == '__main__':
    unittest.main()
