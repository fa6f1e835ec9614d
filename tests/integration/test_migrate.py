"""MIGRATE between cachebox and Debian's redis-server 7.0 in both directions
(and redis-server to redis-server, which pins the expected texts): moving,
COPY, REPLACE and BUSYKEY, KEYS with missing keys and NOKEY, the
destination db (SELECT remembered on the cached link), AUTH and AUTH2 with
right and wrong passwords, TTLs, every value type, a target that is down
(IOERR connecting), a target that never answers (IOERR reading after the
timeout), argument errors, the cached link (one connection for several
migrations, closed after 10 s idle), and, on cachebox only, that other
clients are served while a migration waits and that a pipeline behind
MIGRATE keeps its order. Run with /usr/bin/python3 (python3-redis).
"""
import glob
import os
import socket
import threading
import time
import unittest

import redis

from cbtest import LISTEN_ADDR, Server, encode_command, local_addr

PAIRS = [('cachebox', 'redis'), ('redis', 'cachebox'), ('redis', 'redis'),
         ('cachebox', 'cachebox')]


def err_text(fn):
    try:
        fn()
    except redis.ResponseError as e:
        return str(e)
    return None


class _Migrate:
    SRC = TGT = None
    TGT_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.src = Server(cls.SRC)
        cls.tgt = Server(cls.TGT, args=list(cls.TGT_ARGS))

    @classmethod
    def tearDownClass(cls):
        cls.src.cleanup()
        cls.tgt.cleanup()

    def setUp(self):
        self.s = self.src.redis()
        self.t = self.tgt.redis(**getattr(self, 'TGT_KW', {}))
        self.s.flushall()
        self.t.flushall()

    def tearDown(self):
        for r in (self.s, self.t):
            r.connection_pool.disconnect()

    def migrate(self, *args):
        return self.s.execute_command('MIGRATE', self.host(), self.tgt.port, *args)

    def host(self):
        """The target's address as the source sees it."""
        return self.tgt.peer_host(self.src)


class _Basic(_Migrate):
    def test_move_and_ttl(self):
        self.s.set('k', 'v1')
        self.s.set('e', 'v2', px=50000)
        self.assertEqual(self.migrate('k', 0, 2000), b'OK')
        self.assertEqual(self.s.exists('k'), 0)
        self.assertEqual(self.t.get('k'), b'v1')
        self.assertEqual(self.t.ttl('k'), -1)
        self.assertEqual(self.migrate('e', 0, 2000), b'OK')
        self.assertTrue(48000 < self.t.pttl('e') <= 50000)

    def test_types(self):
        self.s.rpush('l', *range(100))
        self.s.sadd('st', 'a', 'b', 1, 2)
        self.s.hset('h', mapping={'f%d' % i: 'v' * i for i in range(200)})
        self.s.zadd('z', {'m%d' % i: i / 3 for i in range(150)})
        self.s.set('big', 'x' * 300000)
        keys = ['l', 'st', 'h', 'z', 'big']
        before = {k: self.s.dump(k) for k in keys}
        self.assertEqual(self.migrate('', 0, 5000, 'KEYS', *keys), b'OK')
        self.assertEqual(self.s.exists(*keys), 0)
        self.assertEqual(self.t.lrange('l', 0, -1), [str(i).encode() for i in range(100)])
        self.assertEqual(sorted(self.t.smembers('st')), [b'1', b'2', b'a', b'b'])
        self.assertEqual(self.t.hlen('h'), 200)
        self.assertEqual(self.t.zscore('z', 'm99'), 33.0)
        self.assertEqual(len(self.t.get('big')), 300000)
        for k in ('l', 'st', 'z'):
            self.assertEqual(self.t.type(k), {'l': b'list', 'st': b'set', 'z': b'zset'}[k])
        self.assertEqual(len(before), 5)

    def test_copy_replace_busykey(self):
        self.s.set('k', 'new')
        self.t.set('k', 'old')
        self.assertEqual(err_text(lambda: self.migrate('k', 0, 2000)),
                         'Target instance replied with error: BUSYKEY Target key name '
                         'already exists.')
        self.assertEqual(self.s.get('k'), b'new')  # nothing deleted on error
        self.assertEqual(self.migrate('k', 0, 2000, 'COPY', 'REPLACE'), b'OK')
        self.assertEqual(self.s.get('k'), b'new')
        self.assertEqual(self.t.get('k'), b'new')
        self.assertEqual(self.migrate('k', 0, 2000, 'replace'), b'OK')
        self.assertEqual(self.s.exists('k'), 0)

    def test_keys_partial_and_nokey(self):
        self.s.set('a', 1)
        self.s.set('c', 3)
        self.assertEqual(self.migrate('', 0, 2000, 'KEYS', 'a', 'b', 'c'), b'OK')
        self.assertEqual(self.t.mget('a', 'b', 'c'), [b'1', None, b'3'])
        self.assertEqual(self.migrate('', 0, 2000, 'KEYS', 'a', 'b'), b'NOKEY')
        self.assertEqual(self.migrate('nosuch', 0, 2000), b'NOKEY')
        # Two keys, one of them already on the target: the other moves.
        self.s.set('x', 1)
        self.s.set('y', 2)
        self.t.set('y', 'there')
        e = err_text(lambda: self.migrate('', 0, 2000, 'KEYS', 'x', 'y'))
        self.assertTrue(e.startswith('Target instance replied with error: BUSYKEY'), e)
        self.assertEqual(self.s.exists('x'), 0)
        self.assertEqual(self.s.get('y'), b'2')

    def test_destination_db(self):
        for db, key in ((3, 'a'), (3, 'b'), (0, 'c'), (5, 'd')):
            self.s.set(key, db)
            self.assertEqual(self.migrate(key, db, 2000), b'OK')
        t3 = self.tgt.redis(db=3)
        t5 = self.tgt.redis(db=5)
        self.assertEqual(t3.mget('a', 'b'), [b'3', b'3'])
        self.assertEqual(self.t.get('c'), b'0')
        self.assertEqual(t5.get('d'), b'5')
        t3.connection_pool.disconnect()
        t5.connection_pool.disconnect()
        # A db the target does not have.
        self.s.set('z', 1)
        self.assertEqual(err_text(lambda: self.migrate('z', 99, 2000)),
                         'Target instance replied with error: ERR DB index is out of range')
        self.assertEqual(self.s.get('z'), b'1')
        self.assertEqual(self.migrate('z', 0, 2000), b'OK')

    def test_from_selected_db(self):
        s2 = self.src.redis(db=2)
        s2.set('k', 'in2')
        self.assertEqual(s2.execute_command('MIGRATE', self.host(), self.tgt.port, 'k', 0, 2000),
                         b'OK')
        self.assertEqual(s2.exists('k'), 0)
        self.assertEqual(self.t.get('k'), b'in2')
        s2.connection_pool.disconnect()

    def test_auth_without_password_on_target(self):
        self.s.set('k', 1)
        e = err_text(lambda: self.migrate('k', 0, 2000, 'AUTH', 'pw'))
        self.assertEqual(e, 'Target instance replied with error: ERR AUTH <password> called '
                            'without any password configured for the default user. Are you sure '
                            'your configuration is correct?')
        self.assertEqual(self.s.get('k'), b'1')

    def test_argument_errors(self):
        self.s.set('k', 1)
        p, h = self.tgt.port, self.host()
        cases = [
            (('MIGRATE', h, p, 'k', 0, 1000, 'BOGUS'), 'syntax error'),
            (('MIGRATE', h, p, 'k', 0, 1000, 'AUTH'), 'syntax error'),
            (('MIGRATE', h, p, 'k', 0, 1000, 'AUTH2', 'u'), 'syntax error'),
            (('MIGRATE', h, p, 'k', 0, 1000, 'KEYS', 'a'),
             'When using MIGRATE KEYS option, the key argument must be set to the empty string'),
            (('MIGRATE', h, p, 'k', 'x', 1000), 'value is not an integer or out of range'),
            (('MIGRATE', h, p, 'k', 0, 'y'), 'value is not an integer or out of range'),
            (('MIGRATE', h, p, 'k', 0), "wrong number of arguments for 'migrate' command"),
        ]
        for args, want in cases:
            self.assertEqual(err_text(lambda: self.s.execute_command(*args)), want, args)
        self.assertEqual(self.s.get('k'), b'1')

    def test_target_down(self):
        self.s.set('k', 1)
        dead = socket.socket()
        dead.bind(('127.0.0.1', 0))
        port = dead.getsockname()[1]
        dead.close()
        e = err_text(lambda: self.s.execute_command('MIGRATE', self.host(), port, 'k', 0, 500))
        # Redis's blocking connect reports a refused connection as done, so
        # the failure shows when it writes.
        self.assertEqual(e, 'IOERR error or timeout writing to target instance')
        # A name that does not resolve fails the connect itself.
        e = err_text(lambda: self.s.execute_command('MIGRATE', 'no-such-host.invalid', port, 'k',
                                                    0, 500))
        self.assertEqual(e, 'IOERR error or timeout connecting to the client')
        self.assertEqual(self.s.get('k'), b'1')

    def test_cached_link(self):
        def conns():
            return self.t.info('stats')['total_connections_received']
        for i in range(3):
            self.s.set('k%d' % i, i)
        # Links cached by earlier tests go; the first MIGRATE finds its
        # link dead and retries on a new one.
        self.t.execute_command('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
        time.sleep(0.1)
        n0 = conns()
        for i in range(3):
            self.assertEqual(self.migrate('k%d' % i, 0, 2000), b'OK')
        self.assertEqual(conns() - n0, 1)
        # The target drops it: the next MIGRATE reconnects and succeeds.
        self.t.execute_command('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
        time.sleep(0.1)
        self.s.set('again', 1)
        self.assertEqual(self.migrate('again', 0, 2000), b'OK')
        self.assertEqual(self.t.get('again'), b'1')


class _Auth(_Migrate):
    TGT_ARGS = ('--requirepass', 'sekret')
    TGT_KW = {'password': 'sekret'}

    def test_auth(self):
        self.s.set('k', 1)
        self.assertEqual(err_text(lambda: self.migrate('k', 0, 2000)),
                         'Target instance replied with error: NOAUTH Authentication required.')
        self.assertEqual(err_text(lambda: self.migrate('k', 0, 2000, 'AUTH', 'wrong')),
                         'Target instance replied with error: WRONGPASS invalid '
                         'username-password pair or user is disabled.')
        self.assertEqual(self.migrate('k', 0, 2000, 'AUTH', 'sekret'), b'OK')
        self.s.set('k2', 2)
        self.assertEqual(self.migrate('k2', 1, 2000, 'AUTH2', 'default', 'sekret'), b'OK')
        self.assertEqual(self.s.exists('k', 'k2'), 0)
        self.assertEqual(self.t.get('k'), b'1')


class _Silent:
    """A target that accepts and reads but never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((LISTEN_ADDR, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.t.join()
        for c in self.conns:
            c.close()
        self.sock.close()


class _SlowProxy:
    """Forwards to addr (host, port), holding every reply back for `delay` s."""

    def __init__(self, addr, delay):
        self.sock = socket.socket()
        self.sock.bind((LISTEN_ADDR, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.target, self.delay = addr, delay
        self.stop = False
        threading.Thread(target=self.run, daemon=True).start()

    def pipe(self, a, b, delay):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            u = socket.create_connection(self.target)
            threading.Thread(target=self.pipe, args=(c, u, 0), daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c, self.delay), daemon=True).start()

    def close(self):
        self.stop = True
        self.sock.close()


class _Timeout(_Migrate):
    def test_timeout_reading(self):
        self.s.set('k', 1)
        silent = _Silent()
        self.addCleanup(silent.close)
        t0 = time.time()
        e = err_text(lambda: self.s.execute_command('MIGRATE', local_addr(self.src), silent.port,
                                                    'k', 0, 400))
        took = time.time() - t0
        self.assertEqual(e, 'IOERR error or timeout reading to target instance')
        self.assertTrue(0.3 < took < 3, took)
        self.assertEqual(self.s.get('k'), b'1')


class _NonBlocking(_Migrate):
    """cachebox only: Redis blocks its whole server during MIGRATE."""

    def test_others_served_and_pipeline_order(self):
        self.s.set('k', 1)
        silent = _Silent()
        self.addCleanup(silent.close)
        conn = self.src.raw(timeout=10)
        self.addCleanup(conn.close)
        conn.send(encode_command('MIGRATE', local_addr(self.src), str(silent.port), 'k', '0',
                                 '1500') +
                  encode_command('SET', 'after', 'yes') + encode_command('GET', 'after'))
        time.sleep(0.2)
        other = self.src.redis()
        t0 = time.time()
        self.assertEqual(other.ping(), True)
        self.assertEqual(other.get('after'), None)  # the pipeline waits behind MIGRATE
        self.assertLess(time.time() - t0, 0.5)
        other.connection_pool.disconnect()
        self.assertEqual(conn.read_reply(),
                         b'-IOERR error or timeout reading to target instance\r\n')
        self.assertEqual(conn.read_reply(), b'+OK\r\n')
        self.assertEqual(conn.read_reply(), b'$3\r\nyes\r\n')

    def test_failure_at_once_keeps_pipeline(self):
        self.s.set('k', 1)
        conn = self.src.raw(timeout=10)
        self.addCleanup(conn.close)
        conn.send(encode_command('MIGRATE', 'no-such-host.invalid', '1', 'k', '0', '500') +
                  encode_command('PING') + encode_command('GET', 'k'))
        self.assertEqual(conn.read_reply(),
                         b'-IOERR error or timeout connecting to the client\r\n')
        self.assertEqual(conn.read_reply(), b'+PONG\r\n')
        self.assertEqual(conn.read_reply(), b'$1\r\n1\r\n')

    def test_not_under_a_busy_script(self):
        """The target answers while a script runs past busy-reply-threshold
        (the worker polls the network from inside it): the key must still
        be there for the script, and goes once the script is over."""
        self.s.config_set('busy-reply-threshold', 100)
        self.addCleanup(self.s.config_set, 'busy-reply-threshold', 5000)
        self.s.set('k', 'v')
        proxy = _SlowProxy((self.tgt.host, self.tgt.port), 0.3)
        self.addCleanup(proxy.close)
        conn = self.src.raw(timeout=10)
        self.addCleanup(conn.close)
        conn.send(encode_command('MIGRATE', local_addr(self.src), str(proxy.port), 'k', '0',
                                 '5000'))
        time.sleep(0.1)
        script = ("local t = redis.call('TIME'); local t0 = t[1] * 1000000 + t[2]; "
                  "local seen = 0; "
                  "while true do "
                  "  seen = seen + redis.call('EXISTS', KEYS[1]); "
                  "  t = redis.call('TIME'); "
                  "  if t[1] * 1000000 + t[2] - t0 > 1200000 then break end "
                  "end; return {redis.call('EXISTS', KEYS[1]), seen > 0 and 1 or 0}")
        self.assertEqual(self.s.eval(script, 1, 'k'), [1, 1])
        self.assertEqual(conn.read_reply(), b'+OK\r\n')
        self.assertEqual(self.s.exists('k'), 0)
        self.assertEqual(self.t.get('k'), b'v')

    def test_client_gone_migration_completes(self):
        self.s.set('k', 'v')
        conn = self.src.raw(timeout=10)
        conn.send(encode_command('MIGRATE', self.host(), str(self.tgt.port), 'k', '0', '2000'))
        conn.close()
        deadline = time.time() + 5
        while time.time() < deadline and self.t.get('k') is None:
            time.sleep(0.05)
        self.assertEqual(self.t.get('k'), b'v')
        time.sleep(0.1)
        self.assertEqual(self.s.exists('k'), 0)


def _make():
    out = {}
    for src, tgt in PAIRS:
        for mixin in (_Basic, _Auth, _Timeout):
            if mixin is _Timeout and (src, tgt) not in (('cachebox', 'redis'), ('redis', 'redis')):
                continue
            if mixin is _Auth and tgt == 'cachebox' and src == 'cachebox':
                continue
            name = '%s_%s_to_%s' % (mixin.__name__.lstrip('_'), src, tgt)
            out[name] = type(name, (mixin, unittest.TestCase),
                             {'SRC': src, 'TGT': tgt, '__module__': __name__})
    out['NonBlocking_cachebox'] = type('NonBlocking_cachebox', (_NonBlocking, unittest.TestCase),
                                       {'SRC': 'cachebox', 'TGT': 'redis',
                                        '__module__': __name__})
    return out


globals().update(_make())


class Persistence(unittest.TestCase):
    """The migrated keys' DEL reaches the AOF (Redis propagates MIGRATE as
    DEL): after a restart from the AOF they are still gone; COPY's stay."""

    def test_aof_records_del(self):
        with Server('redis') as tgt:
            src = Server('cachebox', args=['--appendonly', 'yes', '--appendfsync', 'always'])
            try:
                r = src.redis()
                r.set('gone', 1)
                r.set('kept', 2)
                r.set('other', 3)
                h = tgt.peer_host(src)
                self.assertEqual(r.execute_command('MIGRATE', h, tgt.port, '', 0, 2000,
                                                   'KEYS', 'gone', 'nosuch'), b'OK')
                self.assertEqual(r.execute_command('MIGRATE', h, tgt.port, 'kept', 0,
                                                   2000, 'COPY'), b'OK')
                r.connection_pool.disconnect()
                src.stop()
                aof = b''.join(open(f, 'rb').read()
                               for f in glob.glob(os.path.join(src.dir, 'appendonlydir', '*.aof')))
                self.assertIn(b'$3\r\nDEL\r\n$4\r\ngone\r\n', aof)
                self.assertNotIn(b'MIGRATE', aof.upper())
                # Restart in the same directory: the AOF replays.
                with Server('cachebox', args=['--dir', src.dir, '--appendonly', 'yes']) as again:
                    r = again.redis()
                    self.assertEqual(r.mget('gone', 'kept', 'other'), [None, b'2', b'3'])
                    r.connection_pool.disconnect()
            finally:
                src.cleanup()


class Shards(unittest.TestCase):
    """With several workers the keys of one MIGRATE live in several shards."""

    def test_keys_across_shards(self):
        with Server('redis') as tgt, Server('cachebox', args=['--io-workers', '3']) as src:
            r, t = src.redis(), tgt.redis()
            keys = ['key:%d' % i for i in range(40)]
            for k in keys:
                r.set(k, k)
            h = tgt.peer_host(src)
            self.assertEqual(r.execute_command('MIGRATE', h, tgt.port, '', 0, 3000,
                                               'KEYS', *keys), b'OK')
            self.assertEqual(r.dbsize(), 0)
            self.assertEqual(t.mget(keys), [k.encode() for k in keys])
            r.set('one', 1)
            self.assertEqual(r.execute_command('MIGRATE', h, tgt.port, 'one', 0, 3000),
                             b'OK')
            self.assertEqual(t.get('one'), b'1')
            r.connection_pool.disconnect()
            t.connection_pool.disconnect()


class RestoreAskingTarget(unittest.TestCase):
    """RESTORE-ASKING (what a cluster node sends) restores on cachebox."""

    def test_restore_asking(self):
        with Server('redis') as r, Server('cachebox') as c:
            rr, cc = r.redis(), c.redis()
            rr.rpush('l', 'a', 'b')
            payload = rr.dump('l')
            self.assertEqual(cc.execute_command('RESTORE-ASKING', 'l', 0, payload), b'OK')
            self.assertEqual(cc.lrange('l', 0, -1), [b'a', b'b'])
            self.assertEqual(err_text(lambda: cc.execute_command('RESTORE-ASKING', 'l', 0,
                                                                 payload)),
                             'BUSYKEY Target key name already exists.')
            rr.connection_pool.disconnect()
            cc.connection_pool.disconnect()


if __name__ == '__main__':
    unittest.main()
