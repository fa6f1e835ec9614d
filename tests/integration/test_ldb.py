"""The Lua debugger (SCRIPT DEBUG YES|SYNC|NO, `redis-cli --ldb`): the same
debugging sessions are driven against cachebox and redis-server 7.0 and
their transcripts compared byte for byte (raw protocol) and line for line
(redis-cli's own output); a YES session's writes are rolled back, a SYNC
session's kept; a client that leaves mid-session lets the script finish.
Pointers printed for functions ("function@0x...") differ between any two
runs and are masked."""
import re
import socket
import subprocess
import time
import unittest

from cbtest import REDIS_CLI, PairTest, Server, encode_command, parse

SCRIPT = '''local t = {1,2,x={a="b"}}
local function f(a)
  local z = a * 2
  return z
end
local s = "a\\"b\\n\\1"
redis.breakpoint()
local r = f(3)
redis.call("set", KEYS[1], ARGV[1])
redis.debug("done", r, t)
return redis.call("get", KEYS[1])'''

# Debugger sessions: the script, its keys/args, and the commands typed.
SESSIONS = {
    'tour': (SCRIPT, ['k1', 'k2'], ['a1'], [
        ['h'], ['p'], ['p', 't'], ['p', 'KEYS'], ['p', 'ARGV'], ['p', 'nope'],
        ['b'], ['b', '4'], ['b', '4', '2', '-9', 'x', '0', '99'], ['b', '4', '-2'], ['b'],
        ['c'], ['t'], ['p'], ['l'], ['l', '2', '1'], ['l', '0', '0'], ['w'],
        ['m'], ['m', '10'], ['p', 's'], ['p', 't'], ['m', '0'], ['m', '100'],
        ['e', 'a+1'], ['e', '1', '+', '2'], ['e', 'error("x")'], ['e', 'return'],
        ['e', 'redis.call("set","x","y")'], ['e', 'nil'], ['e', '{}'],
        ['r'], ['r', 'get', 'x'], ['r', 'nosuch'], ['r', 'set', 'lk', 'v' * 300],
        ['r', 'get', 'lk'], ['r', 'hset', 'h', 'a', '1'], ['r', 'hgetall', 'h'],
        ['r', 'incr', 'lk'], ['r', 'mget', 'a', 'b', 'h'], ['r', 'eval', 'return 1', '0'],
        ['r', 'ping'], ['r', 'del', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'],
        ['x'], ['s'], ['s'], ['t'], ['s'], ['s'], ['s'], ['s'], ['s'], ['s']]),
    'resp3': ('redis.setresp(3)\nredis.debug()\nredis.debug(nil, true, 1.5, 3, {})\n'
              'local x = 1\nx = 2\nreturn x', [], [], [
        ['n'], ['r', 'hset', 'h2', 'a', '1'], ['r', 'hgetall', 'h2'], ['r', 'smembers', 'h2'],
        ['r', 'sadd', 's2', 'a'], ['r', 'smembers', 's2'], ['r', 'get', 'nokey'],
        ['r', 'zadd', 'z', '1.5', 'a'], ['r', 'zscore', 'z', 'a'], ['r', 'exists', 'nokey'],
        ['r', 'hello'], ['n'], ['n'], ['n'], ['a']]),
    'errors': ('local v = redis.pcall("incr", KEYS[1])\nredis.call("nosuch")\nreturn v',
               ['str'], [], [['s'], ['s'], ['s']]),
    'compile': ('return 1 +', [], [], []),
    'empty': ('', [], [], []),
    'abort_first': ('return 1', [], [], [['abort']]),
    'continue': ('local a = 1\nreturn a', [], [], [['continue']]),
    'hint': ('local big = string.rep("x", 300)\nreturn 1', [], [], [
        ['r', 'set', 'big', 'v' * 300], ['r', 'get', 'big'], ['r', 'get', 'big'], ['s'],
        ['p'], ['p', 'big'], ['e', 'big'], ['m', '70'], ['p', 'big'], ['s']]),
    'nested': ('local t = {}\nlocal c = t\nfor i = 1, 25 do c.n = {} c = c.n end\n'
               'local r = {a = {1, {2, {3}}}, [5] = true}\nreturn 1', [], [], [
        ['b', '5'], ['c'], ['p', 't'], ['p', 'r'], ['e', 'r.a'], ['t'], ['c']]),
}


def mask(b):
    return re.sub(rb'(function|userdata|thread)@0x[0-9a-f]+', rb'\1@PTR', b)


def run_session(server, mode, body, keys, args, steps, pre=()):
    """One debugging session on a raw connection: every reply as bytes."""
    out = []
    with server.raw(timeout=10) as c:
        for cmd in pre:
            c.cmd(*cmd)
        out.append(c.cmd('SCRIPT', 'DEBUG', mode))
        c.send(encode_command('EVAL', body, str(len(keys)), *keys, *args))
        steps = list(steps)
        while True:
            rep = c.read_reply()
            out.append(mask(rep))
            if b'+<endsession>\r\n' in rep:
                out.append(c.read_reply())
                out.append(c.is_closed(5))
                break
            if not rep.startswith(b'*') or not steps:
                break
            c.send(encode_command(*steps.pop(0)))
    return out


def dataset(server, keys):
    """Each key's DUMP payload and whether it has a TTL, per db 0 and 1."""
    r = server.redis()
    out = {}
    for db in (0, 1):
        r.execute_command('SELECT', db)
        for k in keys:
            out[(db, k)] = (r.dump(k), r.pttl(k) > 0)
    r.close()
    return out


class LdbTest(PairTest):
    def setUp(self):
        for s in (self.cb, self.rs):
            r = s.redis()
            r.flushall()
            r.set('str', 'abc')
            r.close()

    def both(self, fn):
        return fn(self.cb), fn(self.rs)

    def test_sessions_match_redis(self):
        for mode in ('yes', 'sync'):
            for name, (body, keys, args, steps) in SESSIONS.items():
                with self.subTest(session=name, mode=mode):
                    self.setUp()
                    a, b = self.both(lambda s: run_session(s, mode, body, keys, args, steps))
                    self.assertEqual(a, b)

    def test_argument_errors_inside_a_session(self):
        def bad(s):
            out = []
            for args in (('return 1', '5'), ('return 1', '-1'), ('return 1', 'x')):
                with s.raw() as c:
                    c.cmd('SCRIPT', 'DEBUG', 'sync')
                    c.send(encode_command('EVAL', *args))
                    out.append(c.read_until_closed(5))
            return out
        a, b = self.both(bad)
        self.assertEqual(a, b)
        self.assertIn(b'<endsession>', a[0])

    def test_commands_outside_sessions(self):
        def probe(s):
            with s.raw() as c:
                out = [c.cmd('SCRIPT', 'DEBUG'), c.cmd('SCRIPT', 'DEBUG', 'maybe'),
                       c.cmd('SCRIPT', 'DEBUG', 'no'), c.cmd('EVAL', 'return 1', '0'),
                       c.cmd('MULTI'), c.cmd('SCRIPT', 'DEBUG', 'yes'), c.cmd('EXEC'),
                       c.cmd('SCRIPT', 'DEBUG', 'yes'),
                       c.cmd('EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'),
                       c.cmd('EVALSHA_RO', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'),
                       c.cmd('SCRIPT', 'DEBUG', 'no'), c.cmd('EVAL', 'return redis.breakpoint()', '0'),
                       c.cmd('EVAL', 'return redis.debug(1)', '0'), c.cmd('PING')]
            return out
        a, b = self.both(probe)
        self.assertEqual(a, b)

    def test_yes_rolls_back_sync_keeps(self):
        body = ('redis.call("set", "str", "changed")\n'
                'redis.call("hset", "h", "f", "v2")\n'
                'redis.call("del", "gone")\n'
                'redis.call("set", "new", "1")\n'
                'redis.call("pexpire", "ttl", 1000000)\n'
                'redis.call("move", "mv", 1)\n'
                'redis.call("select", 1)\n'
                'redis.call("lpush", "l1", "x")\n'
                'return 1')
        keys = ['str', 'h', 'gone', 'new', 'ttl', 'mv', 'l1']

        def prep(s):
            r = s.redis()
            r.flushall()
            r.set('str', 'abc', px=5000000)
            r.hset('h', mapping={'f': 'v', 'g': 'w'})
            r.set('gone', 'x')
            r.set('ttl', 'y')
            r.set('mv', 'z')
            r.close()

        # Three workers: the keys live in different shards.
        multi = Server('cachebox', args=['--io-workers', '3'])
        self.addCleanup(multi.cleanup)
        for mode, rolled_back in (('yes', True), ('sync', False)):
            with self.subTest(mode=mode):
                for s in (self.cb, self.rs, multi):
                    prep(s)
                    before = dataset(s, keys)
                    out = run_session(s, mode, body, [], [], [['c']])
                    self.assertEqual(out[-2:], [b':1\r\n', True])
                    after = dataset(s, keys)
                    if rolled_back:
                        self.assertEqual(after, before, s.kind)
                    else:
                        self.assertEqual(after[(0, 'str')][0] is not None, True)
                        self.assertEqual(after[(0, 'gone')][0], None)
                        self.assertEqual(after[(1, 'mv')][0], before[(0, 'mv')][0])
                        self.assertNotEqual(after, before)
                a, b = self.both(lambda s: dataset(s, keys))
                self.assertEqual(a, b)
                self.assertEqual(dataset(multi, keys), b)

    def test_flushall_refused_in_yes_session(self):
        # Our limit (documented): a keyspace-wide write cannot be undone
        # key by key, so a YES session refuses it; SYNC runs it.
        out = run_session(self.cb, 'yes', 'return redis.pcall("flushall")', [], [], [['c']])
        self.assertIn(b'SCRIPT DEBUG SYNC', out[-2])
        self.assertEqual(self.cb.redis().get('str'), b'abc')
        out = run_session(self.cb, 'sync', 'return redis.pcall("flushall")', [], [], [['c']])
        self.assertEqual(out[-2], b'+OK\r\n')
        self.assertEqual(self.cb.redis().dbsize(), 0)

    def test_timeout_stop(self):
        body = 'local i = 0\nwhile true do\n  i = i + 1\nend'
        for s in (self.cb, self.rs):
            s.redis().config_set('busy-reply-threshold', 100)
        try:
            a, b = self.both(lambda s: run_session(s, 'sync', body, [], [], [['c'], ['a']]))
        finally:
            for s in (self.cb, self.rs):
                s.redis().config_set('busy-reply-threshold', 5000)
        self.assertEqual(a, b)
        self.assertIn(b'timeout reached, infinite loop?', a[2])

    def test_client_leaves_mid_session(self):
        for s in (self.cb, self.rs):
            c = s.raw(timeout=5)
            c.cmd('SCRIPT', 'DEBUG', 'sync')
            c.send(encode_command('EVAL', 'redis.call("set","left","1")\nreturn 1', '0'))
            self.assertIn(b'Stopped at 1', c.read_reply())
            c.close()
            r = s.redis()
            deadline = time.time() + 5
            while r.get('left') is None and time.time() < deadline:
                time.sleep(0.05)
            self.assertEqual(r.get('left'), b'1', s.kind)
            self.assertTrue(r.ping())
            r.close()

    def test_yes_session_in_the_aof(self):
        # The session's writes and their undoing are in the AOF, inside the
        # script's MULTI/EXEC: a restart from it gives the state before.
        keys = ('a', 'h', 't', 'n')
        s = Server('cachebox', args=['--appendonly', 'yes', '--appendfsync', 'always'])
        self.addCleanup(s.cleanup)
        r = s.redis()
        r.set('a', '1')
        r.hset('h', 'f', 'v')
        r.set('t', 'x', px=100000)
        before = {k: (r.dump(k), r.pttl(k) > 0) for k in keys}
        body = ('redis.call("set","a","2")\nredis.call("del","h")\n'
                'redis.call("set","n","1")\nredis.call("persist","t")\nreturn 1')
        self.assertEqual(run_session(s, 'yes', body, [], [], [['c']])[-2:], [b':1\r\n', True])
        self.assertEqual({k: (r.dump(k), r.pttl(k) > 0) for k in keys}, before)
        r.close()
        s.stop()
        s2 = Server('cachebox', args=['--appendonly', 'yes', '--dir', s.dir])
        self.addCleanup(s2.cleanup)
        r = s2.redis()
        self.assertEqual({k: (r.dump(k), r.pttl(k) > 0) for k in keys}, before)
        r.close()

    def test_sigterm_ends_a_waiting_session(self):
        # The worker waits on the debugger's socket; a shutdown must not.
        s = Server('cachebox')
        self.addCleanup(s.cleanup)
        c = s.raw(timeout=5)
        self.addCleanup(c.close)
        c.cmd('SCRIPT', 'DEBUG', 'sync')
        c.send(encode_command('EVAL', 'redis.call("set","k","1")\nreturn 1', '0'))
        self.assertIn(b'Stopped at 1', c.read_reply())
        t0 = time.time()
        self.assertEqual(s.stop(timeout=10), 0)
        self.assertLess(time.time() - t0, 5)

    def cli(self, s, mode_flag, stdin):
        cmd = [REDIS_CLI, '-h', s.host, '-p', str(s.port), mode_flag, '--eval', self.script_path,
               'k1', ',', 'v1']
        p = subprocess.run(cmd, input=stdin.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        return mask(p.stdout)

    def test_redis_cli_ldb(self):
        import os
        import tempfile
        fd, self.script_path = tempfile.mkstemp(suffix='.lua')
        self.addCleanup(os.unlink, self.script_path)
        with os.fdopen(fd, 'w') as f:
            f.write(SCRIPT)
        stdin = 'help\ns\nn\nl\nw\np\nb 10\nc\nr get k1\ne 1 + 1\nc\nc\n'
        for flag, kept in (('--ldb', False), ('--ldb-sync-mode', True)):
            with self.subTest(flag=flag):
                self.setUp()
                a, b = self.both(lambda s: self.cli(s, flag, stdin))
                self.assertEqual(a, b)
                self.assertIn(b'Lua debugging session ended', a)
                got = self.both(lambda s: s.redis().get('k1'))
                self.assertEqual(got, (b'v1', b'v1') if kept else (None, None))
        # redis-cli's own words: restart (a new session) and quit (the
        # script then runs to its end, its writes kept in sync mode).
        for flag in ('--ldb', '--ldb-sync-mode'):
            with self.subTest(flag=flag, stdin='restart/quit'):
                self.setUp()
                a, b = self.both(lambda s: self.cli(s, flag, 's\nrestart\ns\nquit\n'))
                self.assertEqual(a, b)
                got = self.both(lambda s: s.redis().get('k1'))
                self.assertEqual(got[0], got[1])


if __name__ == '__main__':
    unittest.main()
