"""Replica-side replication: cachebox following Debian's redis-server 7.0
(and another cachebox) through REPLICAOF / the replicaof directive: the
image (diskless EOF form and disk-based $len form) loaded into the shards,
the stream of every data type, TTLs, MULTI/EXEC, a Lua script,
expirations, FLUSHDB and several dbs applied afterwards, offsets equal to
the master's, datasets compared with DEBUG DIGEST and key by key, READONLY,
ROLE and INFO replication shaped as a redis-server replica's, a killed link
resynchronizing partially, REPLICAOF NO ONE, -LOADING during the load. Design: docs/replication.md.
"""
import time
import unittest

import cbtest
from cbtest import Server
import test_replication as tr

info = tr.info


class _Replica:
    WORKERS = 1
    DISKLESS = 'yes'
    MASTER = 'redis'

    def setUp(self):
        args = ['--repl-diskless-sync', self.DISKLESS, '--repl-diskless-sync-delay', '0',
                '--enable-debug-command', 'yes']
        if self.MASTER == 'cachebox':
            args += ['--hz', '50']
        self.master = Server(self.MASTER, args=args)
        self.replica = Server('cachebox', args=[
            '--io-workers', str(self.WORKERS), '--enable-debug-command', 'yes'])

    def tearDown(self):
        for s in (self.replica, self.master):
            s.cleanup()

    wait_synced = tr._Replication.wait_synced
    assert_same_dataset = tr._Replication.assert_same_dataset

    def attach(self):
        s = self.replica.redis()
        host = self.master.peer_host(self.replica)
        self.assertEqual(s.execute_command('REPLICAOF', host, self.master.port), b'OK')
        self.assertEqual(s.execute_command('REPLICAOF', host, self.master.port),
                         b'OK Already connected to specified master')
        return self.wait_synced()

    def test_sync_stream_readonly_promote(self):
        tr.load_mix(self.master, 'pre')
        mi, ri = self.attach()
        self.assertEqual(ri['role'], 'slave')
        self.assertEqual(ri['master_port'], str(self.master.port))
        self.assertEqual(ri['master_replid'], mi['master_replid'])
        self.assert_same_dataset()
        tr.load_mix(self.master, 'post')
        m = self.master.redis()
        m.flushall()
        tr.load_mix(self.master, 'again')
        self.wait_synced()
        self.assert_same_dataset()
        s = self.replica.redis()
        role = s.execute_command('ROLE')
        self.assertEqual(role[:4], [b'slave', self.master.peer_host(self.replica).encode(),
                                    self.master.port, b'connected'])
        self.assertEqual(role[4], int(info(m, 'replication')['master_repl_offset']))
        with self.assertRaises(Exception) as e:
            s.set('x', 1)
        self.assertEqual(str(e.exception), "You can't write against a read only replica.")
        self.assertEqual(s.get('pre:str'), None)       # flushed by FLUSHALL
        self.assertEqual(s.get('again:str'), b'v' * 50)
        # Promotion keeps the data and takes writes.
        self.assertEqual(s.execute_command('REPLICAOF', 'NO', 'ONE'), b'OK')
        time.sleep(0.3)
        self.assertEqual(info(s, 'replication')['role'], 'master')
        self.assertTrue(s.set('x', 1))
        self.assertEqual(s.get('again:str'), b'v' * 50)

    def test_partial_resync_after_killed_link(self):
        tr.load_mix(self.master, 'pre')
        self.attach()
        m = self.master.redis()
        before = int(info(m, 'stats')['sync_partial_ok'])
        full = int(info(m, 'stats')['sync_full'])
        m.execute_command('CLIENT', 'KILL', 'TYPE', 'replica')
        for i in range(200):
            m.set('during:%d' % i, i)
        self.wait_synced()
        # The other end: the replica drops its master's link.
        self.assertEqual(self.replica.redis().execute_command('CLIENT', 'KILL', 'TYPE', 'master'), 1)
        for i in range(200):
            m.set('during2:%d' % i, i)
        time.sleep(0.2)
        self.wait_synced()
        st = info(m, 'stats')
        self.assertEqual(int(st['sync_partial_ok']), before + 2)
        self.assertEqual(int(st['sync_full']), full)
        tr.load_mix(self.master, 'post')
        self.wait_synced()
        self.assert_same_dataset()


class ReplicaOfRedis(_Replica, unittest.TestCase):
    def test_info_fields_as_a_redis_replica(self):
        self.attach()
        ref = Server('redis', args=['--replicaof', self.master.peer_host(), str(self.master.port)])
        try:
            deadline = time.time() + 20
            while info(ref.redis(), 'replication').get('master_link_status') != 'up':
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            want = [k for k in info(ref.redis(), 'replication')]
        finally:
            ref.cleanup()
        got = [k for k in info(self.replica.redis(), 'replication')]
        self.assertEqual(got, want)


class ReplicaLoading(unittest.TestCase):
    """Clients of the replica get -LOADING while the image loads."""

    def test_loading_during_full_sync(self):
        master = Server('redis', args=['--repl-diskless-sync-delay', '0',
                                       '--enable-debug-command', 'yes'])
        rep = Server('cachebox', args=['--key-load-delay', '500'])
        try:
            master.redis().execute_command('DEBUG', 'POPULATE', 2000)
            s = rep.redis()
            s.execute_command('REPLICAOF', master.peer_host(rep), master.port)
            seen = set()
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    if s.get('key:1') == b'value:1':
                        break
                except Exception as e:
                    seen.add(str(e))
                time.sleep(0.02)
            self.assertIn('Redis is loading the dataset in memory', seen)
            self.assertEqual(s.dbsize(), 2000)
        finally:
            rep.cleanup()
            master.cleanup()


class ReplicaAuthDirective(unittest.TestCase):
    """The replicaof directive at start-up, AUTH with masteruser/masterauth."""

    def test_masterauth_and_directive(self):
        master = Server('redis', args=['--requirepass', 'pw', '--repl-diskless-sync-delay', '0'])
        try:
            m = master.redis(password='pw')
            m.execute_command('ACL', 'SETUSER', 'rep', 'on', '>rpw', '+@all', '~*')
            m.set('k', 'v')
            # Reached from any slot on the DPDK plane (the rig's local range).
            host = cbtest.loopback_alias('127.0.0.1')
            rep = Server('cachebox', args=['--replicaof', host, str(master.port),
                                           '--masteruser', 'rep', '--masterauth', 'rpw'])
            try:
                s = rep.redis()
                deadline = time.time() + 20
                while info(s, 'replication').get('master_link_status') != 'up':
                    self.assertLess(time.time(), deadline, rep.log()[-2000:])
                    time.sleep(0.05)
                self.assertEqual(s.get('k'), b'v')
                self.assertEqual(s.config_get('replicaof'), {'replicaof': '%s %d' % (host, master.port)})
            finally:
                rep.cleanup()
        finally:
            master.cleanup()


class ReplicaOfRedisDisk3Workers(_Replica, unittest.TestCase):
    WORKERS = 3
    DISKLESS = 'no'


class ReplicaOfCachebox(_Replica, unittest.TestCase):
    MASTER = 'cachebox'


if __name__ == '__main__':
    unittest.main()
