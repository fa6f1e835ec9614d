"""Server-level behaviour: INFO sections and field names, CONFIG GET/SET/
REWRITE with a config file, SHUTDOWN NOSAVE, MONITOR, DEBUG gating,
maxclients, timeout, client-output-buffer-limit (normal class) and
protected-mode (from a network namespace; needs root).
"""
import os
import re
import socket
import subprocess
import time
import unittest

from cbtest import (RawConn, Server, ServerTest, encode_command, for_kinds, kernel_plane_only,
                    kinds_for_identical, local_addr, parse)

INFO_FIELDS = {
    'server': ['redis_version', 'redis_mode', 'os', 'arch_bits', 'multiplexing_api', 'process_id',
               'run_id', 'tcp_port', 'uptime_in_seconds', 'uptime_in_days', 'hz',
               'configured_hz', 'executable', 'config_file'],
    'clients': ['connected_clients', 'maxclients', 'client_recent_max_input_buffer',
                'client_recent_max_output_buffer', 'blocked_clients'],
    'memory': ['used_memory', 'used_memory_human', 'used_memory_rss', 'used_memory_peak',
               'maxmemory', 'maxmemory_policy', 'mem_fragmentation_ratio', 'mem_allocator'],
    'stats': ['total_connections_received', 'total_commands_processed',
              'instantaneous_ops_per_sec', 'rejected_connections', 'expired_keys',
              'evicted_keys', 'keyspace_hits', 'keyspace_misses', 'total_net_input_bytes',
              'total_net_output_bytes', 'total_error_replies'],
    'cpu': ['used_cpu_sys', 'used_cpu_user'],
}


def info_dict(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith('#') and ':' in line:
            k, v = line.split(':', 1)
            out[k] = v
    return out


class _Info:
    def test_sections(self):
        c = self.raw()
        c.cmd('SET', 'k', 'v')
        c.cmd('EXPIRE', 'k', '1000')
        c.cmd('GET', 'k')
        c.cmd('GET', 'k', 'extra')
        text = parse(c.cmd('INFO')).decode()
        for sec in ('Server', 'Clients', 'Memory', 'Stats', 'CPU', 'Keyspace'):
            self.assertIn('# %s\r\n' % sec, text)
        d = info_dict(text)
        for sec, names in INFO_FIELDS.items():
            for n in names:
                self.assertIn(n, d, 'INFO %s lacks %s' % (sec, n))
        self.assertEqual(d['tcp_port'], str(self.server.port))
        self.assertRegex(d['db0'], r'^keys=1,expires=1,avg_ttl=\d+$')
        every = parse(c.cmd('INFO', 'everything')).decode()
        self.assertIn('# Commandstats', every)
        self.assertRegex(every, r'cmdstat_get:calls=\d+,usec=\d+,usec_per_call=[\d.]+,'
                                r'rejected_calls=\d+,failed_calls=\d+')
        self.assertIn('# Errorstats', every)
        self.assertRegex(every, r'errorstat_ERR:count=\d+')
        only = parse(c.cmd('INFO', 'memory')).decode()
        self.assertTrue(only.startswith('# Memory\r\n'))
        self.assertNotIn('# Server', only)
        rc, out = self.server.cli('INFO', 'keyspace')
        self.assertIn('db0:keys=1', out)


class _Config:
    SERVER_CONFIG = '# test config\nhz 15\ntimeout 0\nmaxmemory-policy noeviction\n'

    def test_get_set_rewrite(self):
        r = self.r
        self.assertEqual(r.config_get('hz'), {'hz': '15'})
        self.assertTrue(r.config_set('hz', 25))
        self.assertEqual(r.execute_command('CONFIG', 'SET', 'timeout', '300', 'tcp-keepalive', '60'),
                         b'OK')
        got = r.config_get('t*')
        self.assertEqual(got['timeout'], '300')
        self.assertEqual(got['tcp-keepalive'], '60')
        c = self.raw()
        self.assertEqual(c.cmd('CONFIG', 'SET', 'hz', '30', 'maxmemory-policy', 'bad')[:46],
                         b"-ERR CONFIG SET failed (possibly related to ar")
        self.assertEqual(r.config_get('hz'), {'hz': '25'})         # atomic: nothing changed
        self.assertEqual(c.cmd('CONFIG', 'RESETSTAT'), b'+OK\r\n')
        self.assertEqual(c.cmd('CONFIG', 'REWRITE'), b'+OK\r\n')
        with open(self.server.config_path) as f:
            text = f.read()
        self.assertIn('hz 25', text)
        self.assertIn('timeout 300', text)
        self.assertIn('# test config', text)
        r.config_set('timeout', 0)


class _Debug:
    SERVER_ARGS = ('--enable-debug-command', 'yes')

    def test_debug_enabled(self):
        c = self.raw()
        self.assertEqual(c.cmd('DEBUG', 'SLEEP', '0'), b'+OK\r\n')
        self.assertEqual(c.cmd('DEBUG', 'SET-ACTIVE-EXPIRE', '0'), b'+OK\r\n')
        c.cmd('SET', 'k', 'v', 'PX', '10')
        time.sleep(0.3)
        self.assertEqual(c.cmd('DBSIZE'), b':1\r\n')        # no active expiry
        self.assertEqual(c.cmd('DEBUG', 'SET-ACTIVE-EXPIRE', '1'), b'+OK\r\n')
        deadline = time.time() + 5
        while c.cmd('DBSIZE') != b':0\r\n' and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(c.cmd('DEBUG', 'DIGEST'), b'+' + b'0' * 40 + b'\r\n')  # k is expired
        c.cmd('SET', 'a', 'b')
        self.assertEqual(len(c.cmd('DEBUG', 'DIGEST')), 43)
        self.assertTrue(c.cmd('DEBUG', 'OBJECT', 'a').startswith(b'+Value at:'))
        self.assertEqual(c.cmd('DEBUG', 'RELOAD'), b'+OK\r\n')
        self.assertEqual(c.cmd('GET', 'a'), b'$1\r\nb\r\n')


class _Limits:
    SERVER_ARGS = ('--maxclients', '5', '--timeout', '1',
                   '--client-output-buffer-limit', 'normal 1mb 512kb 1')

    def test_maxclients(self):
        self.r.connection_pool.disconnect()
        time.sleep(0.3)   # let the server see the setUp connection go
        conns = []
        try:
            for i in range(5):
                c = self.server.raw()
                conns.append(c)
                self.assertEqual(c.cmd('CLIENT', 'LIST')[:1], b'$', 'connection %d' % i)
            extra = self.server.raw()
            conns.append(extra)
            self.assertEqual(extra.read_until_closed(3), b'-ERR max number of clients reached\r\n')
        finally:
            for c in conns:
                c.close()
        time.sleep(0.2)
        with self.server.raw() as c:
            self.assertEqual(c.cmd('PING'), b'+PONG\r\n')

    def test_timeout(self):
        c = self.raw()
        self.assertEqual(c.cmd('PING'), b'+PONG\r\n')
        t0 = time.time()
        self.assertEqual(c.read_until_closed(15), b'')
        self.assertLess(time.time() - t0, 14)

    def test_output_buffer_limit(self):
        c = self.raw(timeout=15)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.r.set('big', 'x' * (256 * 1024))
        # Ask for ~64 MB of replies and never read: over the 1 MB hard limit.
        try:
            c.send(encode_command('GET', 'big') * 256)
        except OSError:
            pass
        time.sleep(1.5)
        with self.server.raw() as p:
            self.assertEqual(p.cmd('PING'), b'+PONG\r\n')
        got = 0
        try:
            while True:
                chunk = c.sock.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
        except (ConnectionResetError, socket.timeout, TimeoutError):
            pass
        self.assertLess(got, 32 * 1024 * 1024, 'client was not disconnected')
        self.assertTrue(self.server.alive())


class _Shutdown:
    def test_shutdown_nosave(self):
        srv = Server(self.KIND)
        try:
            with srv.raw() as c:
                c.send(encode_command('SHUTDOWN', 'NOSAVE'))
                self.assertEqual(c.read_until_closed(5), b'')
            srv.proc.wait(10)
            self.assertEqual(srv.proc.returncode, 0)
        finally:
            srv.cleanup()

    def test_sigterm_exits_cleanly(self):
        srv = Server(self.KIND)
        try:
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.cleanup()


class _Monitor:
    def test_monitor(self):
        m = self.raw()
        self.assertEqual(m.cmd('MONITOR'), b'+OK\r\n')
        c = self.raw()
        c.cmd('SET', 'a', 'b c')
        c.cmd('SELECT', '2')
        c.cmd('GET', 'x\x01')
        lines = [m.read_reply() for _ in range(3)]
        ip = re.escape(local_addr(self.server).encode())
        self.assertRegex(lines[0], rb'^\+\d+\.\d{6} \[0 ' + ip + rb':\d+\] "SET" "a" "b c"\r\n$')
        self.assertRegex(lines[2], rb'^\+\d+\.\d{6} \[2 ' + ip + rb':\d+\] "GET" "x\\x01"\r\n$')


def _netns_ok():
    return os.geteuid() == 0 and subprocess.run(['ip', 'netns', 'list'], capture_output=True).returncode == 0


@kernel_plane_only('protected mode\'s loopback exemption and a --bind address: the DPDK plane '
                   'has neither (tests/dpdk/run_dpdk_tests.sh, section protected, covers it there)')
class ProtectedMode(unittest.TestCase):
    """A server bound to a veth address, reached from another namespace, must
    answer DENIED while protected-mode is on and no password is set."""
    NS = 'cbt-pm%d' % os.getpid()
    HOST_IF, PEER_IF = 'cbtpm%da' % (os.getpid() % 10000), 'cbtpm%db' % (os.getpid() % 10000)
    SRV_IP, CLI_IP = '10.99.77.1', '10.99.77.2'

    @classmethod
    def setUpClass(cls):
        if not _netns_ok():
            raise unittest.SkipTest('protected-mode test needs root and ip netns')
        sh = lambda *a: subprocess.run(a, check=True, capture_output=True)
        try:
            sh('ip', 'netns', 'add', cls.NS)
            sh('ip', 'link', 'add', cls.HOST_IF, 'type', 'veth', 'peer', 'name', cls.PEER_IF)
            sh('ip', 'link', 'set', cls.PEER_IF, 'netns', cls.NS)
            sh('ip', 'addr', 'add', cls.SRV_IP + '/24', 'dev', cls.HOST_IF)
            sh('ip', 'link', 'set', cls.HOST_IF, 'up')
            sh('ip', 'netns', 'exec', cls.NS, 'ip', 'addr', 'add', cls.CLI_IP + '/24', 'dev', cls.PEER_IF)
            sh('ip', 'netns', 'exec', cls.NS, 'ip', 'link', 'set', cls.PEER_IF, 'up')
            sh('ip', 'netns', 'exec', cls.NS, 'ip', 'link', 'set', 'lo', 'up')
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            cls.tearDownClass()
            raise unittest.SkipTest('cannot build the veth rig: %s' % e)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(['ip', 'link', 'del', cls.HOST_IF], capture_output=True)
        subprocess.run(['ip', 'netns', 'del', cls.NS], capture_output=True)

    def _ping_from_ns(self, port, *extra):
        p = subprocess.run(['ip', 'netns', 'exec', self.NS, 'redis-cli', '-h', self.SRV_IP,
                            '-p', str(port)] + list(extra) + ['PING'],
                           capture_output=True, timeout=20)
        return p.stdout.decode() + p.stderr.decode()

    def test_protected_mode(self):
        for kind in kinds_for_identical():
            with self.subTest(kind=kind):
                srv = Server(kind, bind=self.SRV_IP + ' 127.0.0.1', wait=False)
                srv.host = '127.0.0.1'
                try:
                    srv.wait_ready()
                    out = self._ping_from_ns(srv.port)
                    self.assertIn('DENIED Redis is running in protected mode', out)
                    with srv.raw() as c:       # loopback is allowed
                        self.assertEqual(c.cmd('PING'), b'+PONG\r\n')
                        c.cmd('CONFIG', 'SET', 'requirepass', 'pw')
                    out = self._ping_from_ns(srv.port, '-a', 'pw', '--no-auth-warning')
                    self.assertEqual(out.strip(), 'PONG')
                finally:
                    srv.cleanup()


globals().update(for_kinds(_Info, kinds=['cachebox']))
globals().update(for_kinds(_Config))
globals().update(for_kinds(_Debug, kinds=['cachebox']))
globals().update(for_kinds(_Limits))
globals().update(for_kinds(_Shutdown))
globals().update(for_kinds(_Monitor))
