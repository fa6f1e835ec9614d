"""A cachebox replica's keyspace and master client, side by side with a
redis-server 7.0 replica of the same redis-server master: keys whose time
passed read as missing (GET, EXISTS, TTL, PTTL, TYPE, KEYS, SCAN,
RANDOMKEY) but stay counted (DBSIZE, INFO keyspace) until the master's DEL
arrives (held back with DEBUG SET-ACTIVE-EXPIRE 0 on the master); expired
keys in the full-sync image are kept; a writable replica (replica-read-only
no) expires the keys its own clients gave a TTL and deletes expired keys its
clients write; INFO's expired_keys and keyspace hits/misses; CLIENT LIST /
KILL of the master client (flags=M). Design: docs/replication.md
("Replica side").
"""
import time
import unittest

import cbtest
from cbtest import Server
from test_replication import info


def stats(r):
    s = info(r, 'stats')
    return {k: s[k] for k in ('expired_keys', 'expired_stale_perc', 'keyspace_hits',
                              'keyspace_misses', 'expired_time_cap_reached_count')}


def fields(line):
    return dict(f.split('=', 1) for f in line.split(' '))


class _SideBySide:
    WORKERS = 1
    READ_ONLY = 'yes'

    def setUp(self):
        self.master = Server('redis', args=['--repl-diskless-sync-delay', '0',
                                            '--enable-debug-command', 'yes'])
        self.m = self.master.redis()
        self.m.execute_command('DEBUG', 'SET-ACTIVE-EXPIRE', 0)
        self.reps = []
        try:
            for kind, extra in (('redis', []), ('cachebox', ['--io-workers', str(self.WORKERS)])):
                self.reps.append(Server(kind, args=['--enable-debug-command', 'yes',
                                                    '--replica-read-only', self.READ_ONLY] + extra))
        except BaseException:
            self.tearDown()
            raise
        self.rs, self.cb = self.reps

    def tearDown(self):
        for s in self.reps + [self.master]:
            s.cleanup()

    @staticmethod
    def master_host():
        # The redis-server master as both replicas reach it (on the DPDK
        # plane an address local to the rig's namespace, reached through
        # the slot's gateway).
        return cbtest.loopback_alias('127.0.0.1')

    def attach(self):
        for s in self.reps:
            s.redis().execute_command('REPLICAOF', self.master_host(), self.master.port)
        self.sync()
        for s in self.reps:
            s.redis().execute_command('CONFIG', 'RESETSTAT')

    def sync(self, timeout=20):
        deadline = time.time() + timeout
        while True:
            mo = info(self.m, 'replication')['master_repl_offset']
            ok = True
            for s in self.reps:
                ri = info(s.redis(), 'replication')
                ok &= (ri.get('master_link_status') == 'up' and
                       ri.get('master_sync_in_progress') == '0' and
                       ri.get('slave_repl_offset') == mo)
            if ok:
                return
            self.assertLess(time.time(), deadline, self.cb.log()[-2000:])
            time.sleep(0.02)

    def both(self, *cmd, db=0, norm=None):
        """The command's reply on the redis replica and on ours, equal."""
        out = []
        for s in self.reps:
            try:
                r = s.redis(db=db).execute_command(*cmd)
            except Exception as e:  # the same error on both is fine
                r = 'error: %s' % e
            out.append(norm(r) if norm else r)
        self.assertEqual(out[0], out[1], cmd)
        return out[0]

    def same(self, fn, what=''):
        a, b = fn(self.rs.redis()), fn(self.cb.redis())
        self.assertEqual(a, b, what)
        return a

    def reads(self, keys, db=0):
        """Every read of the task list, on both replicas."""
        for k in keys:
            if k.startswith('s'):
                self.both('GET', k, db=db)
            self.both('EXISTS', k, db=db)
            self.both('TYPE', k, db=db)
            self.both('TTL', k, db=db, norm=lambda t: t if t < 0 else 'positive')
            self.both('PTTL', k, db=db, norm=lambda t: t if t < 0 else 'positive')
        self.both('EXISTS', *keys, db=db)
        self.both('DBSIZE', db=db)
        self.both('KEYS', '*', db=db, norm=sorted)
        self.both('KEYS', 's*', db=db, norm=sorted)
        for kw in ({}, {'match': 's*'}, {'_type': 'list'}):
            a, b = [sorted(s.redis(db=db).scan_iter(count=3, **kw)) for s in self.reps]
            self.assertEqual(a, b, 'SCAN %r' % kw)


class _ReadOnly(_SideBySide):
    @staticmethod
    def counted_as_client(r):
        """connected_clients counts every CLIENT LIST line (no replicas here)."""
        n = int(info(r, 'clients')['connected_clients'])
        lines = r.execute_command('CLIENT', 'LIST').decode().splitlines()
        return n == len(lines), 'flags=M' in ''.join(lines)

    def test_expired_keys_until_the_masters_del(self):
        m = self.m
        m.set('plain', 'p')
        m.set('s1', 'v', px=700)
        m.set('s2', 'v', px=700)
        m.rpush('l1', 'a', 'b')
        m.pexpire('l1', 700)
        m.pfadd('hll1', 'a', 'b')
        m.pexpire('hll1', 700)
        m.hset('h1', 'f', 'v')
        m.expire('h1', 1000)            # stays alive throughout
        m1 = self.master.redis(db=1)
        m1.set('a', 1, px=700)
        m1.set('b', 2, px=700)          # db 1: every key has a TTL
        self.attach()
        keys = ['plain', 's1', 's2', 'l1', 'h1', 'hll1', 'nosuch']
        self.reads(keys)
        self.same(stats, 'stats while alive')
        time.sleep(0.9)
        # Expired everywhere; the master has not deleted them yet.
        self.assertEqual(m.dbsize(), 6)
        self.reads(keys)
        self.reads(['a', 'b'], db=1)
        self.both('LRANGE', 'l1', 0, -1)
        self.both('STRLEN', 's1')
        self.both('HGETALL', 'h1')
        self.both('TOUCH', 's1', 'plain')
        self.both('DUMP', 's1')
        self.both('PFCOUNT', 'hll1')    # a read in 7.0: the key stays
        self.both('OBJECT', 'ENCODING', 's1')
        self.both('INFO', 'keyspace')
        self.assertEqual(self.both('DBSIZE'), 6)
        self.assertEqual(self.both('DBSIZE', db=1), 2)
        for _ in range(20):
            # Only live keys, unless every key has a TTL: then a replica
            # answers an expired one after 100 draws, as Redis.
            for s in self.reps:
                self.assertIn(s.redis().randomkey(), (b'plain', b'h1'))
                self.assertIn(s.redis(db=1).randomkey(), (b'a', b'b'))
        self.same(stats, 'stats while expired')
        self.assertEqual(stats(self.cb.redis())['expired_keys'], '0')
        # A lazy expiry on the master sends its DEL for one key.
        self.assertIsNone(m.get('s1'))
        self.sync()
        self.assertEqual(self.both('DBSIZE'), 5)
        self.reads(keys)
        # The master's active expiry sends the rest.
        m.execute_command('DEBUG', 'SET-ACTIVE-EXPIRE', 1)
        deadline = time.time() + 10
        while m.dbsize() != 2 or self.master.redis(db=1).dbsize() != 0:
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        self.sync()
        self.reads(keys)
        self.both('INFO', 'keyspace')
        self.assertEqual(self.both('DBSIZE'), 2)
        self.assertEqual(self.both('DBSIZE', db=1), 0)
        self.assertIsNone(self.both('RANDOMKEY', db=1))
        self.same(stats, 'stats after the DELs')
        self.assertEqual(stats(self.cb.redis())['expired_keys'], '0')

    def test_expired_keys_in_the_image_are_kept(self):
        m = self.m
        for i in range(20):
            m.set('s%d' % i, i, px=100)
        m.set('plain', 1)
        time.sleep(0.3)
        self.attach()                   # the image holds the 20 expired keys
        self.assertEqual(self.both('DBSIZE'), 21)
        self.reads(['s1', 's7', 'plain'])
        self.both('INFO', 'keyspace')
        m.execute_command('DEBUG', 'SET-ACTIVE-EXPIRE', 1)
        deadline = time.time() + 10
        while m.dbsize() != 1:
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        self.sync()
        self.assertEqual(self.both('DBSIZE'), 1)
        self.same(stats, 'stats after the DELs')

    def test_master_client(self):
        self.attach()
        m1 = self.master.redis(db=3)
        m1.set('x', 1)
        m1.delete('x')
        self.sync()
        want = ('flags', 'db', 'sub', 'psub', 'ssub', 'multi', 'obl', 'oll', 'omem', 'events',
                'cmd', 'user', 'redir', 'resp', 'name')
        lines = {}
        for s in self.reps:
            r = s.redis()
            out = r.execute_command('CLIENT', 'LIST', 'TYPE', 'master').decode()
            self.assertEqual(len(out.splitlines()), 1, out)
            lines[s.kind] = fields(out.strip())
            mine = fields(r.execute_command('CLIENT', 'INFO').decode().strip())
            everyone = r.execute_command('CLIENT', 'LIST').decode()
            self.assertIn('flags=M', everyone)
            self.assertNotIn('flags=M', r.execute_command('CLIENT', 'LIST', 'TYPE', 'normal')
                             .decode())
            self.assertEqual(r.execute_command('CLIENT', 'LIST', 'TYPE', 'replica'), b'')
            self.assertEqual(r.execute_command('CLIENT', 'LIST', 'ID', lines[s.kind]['id'])
                             .decode(), out)
            self.assertNotEqual(mine['id'], lines[s.kind]['id'])
            # The master's address, and our end of the link.
            self.assertEqual(lines[s.kind]['addr'], '%s:%d' % (self.master_host(), self.master.port))
            here = s.host if getattr(s, 'slot', None) is not None else self.master_host()
            self.assertTrue(lines[s.kind]['laddr'].startswith(here + ':'), lines[s.kind])
        a, b = lines['redis'], lines['cachebox']
        self.assertEqual(list(a), list(b))
        self.assertEqual({k: a[k] for k in want}, {k: b[k] for k in want})
        self.assertEqual(b['flags'], 'M')
        self.assertEqual(b['db'], '3')
        self.assertEqual(b['cmd'], 'del')
        self.assertEqual(b['user'], '(superuser)')
        # The master client counts as a connected client.
        self.same(self.counted_as_client)
        # KILL by type: the link comes back with a partial resync, the same
        # client id and creation time.
        before = int(info(self.m, 'stats')['sync_partial_ok'])
        self.assertEqual(self.both('CLIENT', 'KILL', 'TYPE', 'master'), 1)
        self.m.set('after', 1)
        for s in self.reps:
            deadline = time.time() + 10
            while not s.redis().execute_command('CLIENT', 'LIST', 'TYPE', 'master'):
                self.assertLess(time.time(), deadline)
                time.sleep(0.02)
        self.sync()
        self.assertEqual(int(info(self.m, 'stats')['sync_partial_ok']), before + 2)
        for s in self.reps:
            now = fields(s.redis().execute_command('CLIENT', 'LIST', 'TYPE', 'master')
                         .decode().strip())
            self.assertEqual(now['id'], lines[s.kind]['id'], s.kind)
            self.assertEqual(now['cmd'], 'set', s.kind)
            self.assertEqual(now['db'], '0', s.kind)
        # KILL by id; a filter naming someone else leaves it alone.
        for s in self.reps:
            r = s.redis()
            self.assertEqual(r.execute_command('CLIENT', 'KILL', 'ID', 999999), 0)
            self.assertEqual(r.execute_command('CLIENT', 'KILL', 'TYPE', 'master', 'ADDR',
                                               '1.2.3.4:5'), 0)
            self.assertEqual(r.execute_command('CLIENT', 'KILL', 'ID', lines[s.kind]['id']), 1)
        # A master no more: no master client.
        for s in self.reps:
            s.redis().execute_command('REPLICAOF', 'NO', 'ONE')
        time.sleep(0.2)
        self.assertEqual(self.both('CLIENT', 'LIST', 'TYPE', 'master'), b'')
        self.assertEqual(self.both('CLIENT', 'KILL', 'TYPE', 'master'), 0)
        self.same(self.counted_as_client)


class _Writable(_SideBySide):
    READ_ONLY = 'no'

    def test_writable_replica_expires_its_own_keys(self):
        m = self.m
        m.set('mk', 'v', px=400)        # the master's: expired by its DEL only
        m.set('mk2', 'v', px=400)
        m.set('mtrk', 'v', px=60000)
        self.attach()
        for s in self.reps:
            r = s.redis()
            r.set('rk', 'v', px=300)
            r.set('rk2', 'v', px=300)
            r.set('rkp', 'v', pxat=1000)        # already past: kept, then expired
            r.set('rlong', 'v', ex=1000)
            r.set('rplain', 'v')
            r.expire('mtrk', 1)                  # ours now, by name
            r1 = s.redis(db=1)
            r1.set('rk', 'v', px=300)
        self.both('DBSIZE')
        time.sleep(1.5)
        self.reads(['mk', 'mk2', 'rk', 'rk2', 'rkp', 'rlong', 'rplain', 'mtrk'])
        self.assertEqual(self.both('DBSIZE'), 4)      # mk, mk2, rlong, rplain
        self.assertEqual(self.both('DBSIZE', db=1), 0)
        self.both('INFO', 'keyspace')
        self.assertEqual(self.same(stats)['expired_keys'], '5')
        # A write of our own client deletes the master's expired key first.
        self.assertTrue(self.both('SET', 'mk', 'new'))
        self.both('INCR', 'mk2', norm=str)
        self.assertEqual(self.same(stats)['expired_keys'], '7')
        self.both('TTL', 'mk')
        self.both('GET', 'mk')
        # DEBUG SET-ACTIVE-EXPIRE 0 holds the replica's own expiry too.
        for s in self.reps:
            s.redis().execute_command('DEBUG', 'SET-ACTIVE-EXPIRE', 0)
            s.redis().set('z', 'v', px=100)
        time.sleep(0.4)
        self.assertEqual(self.both('DBSIZE'), 5)
        self.both('EXISTS', 'z')
        for s in self.reps:
            s.redis().execute_command('DEBUG', 'SET-ACTIVE-EXPIRE', 1)
        time.sleep(0.5)
        self.assertEqual(self.both('DBSIZE'), 4)
        self.assertEqual(self.same(stats)['expired_keys'], '8')
        # The master's key set again with a TTL, by the master: ours to
        # expire still, by name, as Redis remembers names.
        for s in self.reps:
            s.redis().set('trk', 'v', ex=100)
        m.set('trk', 'm', px=300)
        self.sync()
        time.sleep(0.8)
        self.both('EXISTS', 'trk')
        self.assertEqual(self.same(stats)['expired_keys'], '9')
        # FLUSHALL from the master forgets the names.
        for s in self.reps:
            s.redis().set('gone', 'v', px=200)
        m.flushall()
        self.sync()
        m.set('gone', 'm', px=300)
        self.sync()
        time.sleep(0.8)
        self.assertEqual(self.both('DBSIZE'), 1)
        self.assertEqual(self.same(stats)['expired_keys'], '9')
        self.both('KEYS', '*')


class ReplicaExpireReadOnly(_ReadOnly, unittest.TestCase):
    pass


class ReplicaExpireReadOnly3Workers(_ReadOnly, unittest.TestCase):
    WORKERS = 3


class ReplicaExpireWritable(_Writable, unittest.TestCase):
    pass


class ReplicaExpireWritable3Workers(_Writable, unittest.TestCase):
    WORKERS = 3


if __name__ == '__main__':
    unittest.main()
