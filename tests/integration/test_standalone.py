"""Commands of features that are off, answered as a standalone Redis 7.0:
WAIT blocks for its timeout when replicas are asked for (and CLIENT UNBLOCK
ends it), MODULE LOAD/UNLOAD with enable-module-command yes fail as on a
library that cannot load, and COMMAND COUNT/LIST. The byte-exact replies
are in tests/diff/standalone.cmds.
"""
import threading
import time
import unittest

from cbtest import ServerTest, for_kinds, parse, RespError


class _Wait:
    def test_wait_times_out_with_zero(self):
        c = self.raw()
        t0 = time.time()
        self.assertEqual(parse(c.cmd('WAIT', '1', '300')), 0)
        took = time.time() - t0
        self.assertGreaterEqual(took, 0.28)
        self.assertLess(took, 2.0)

    def test_wait_forever_unblocked(self):
        c = self.raw()
        cid = parse(c.cmd('CLIENT', 'ID'))
        c.send(b'*3\r\n$4\r\nWAIT\r\n$1\r\n2\r\n$1\r\n0\r\n')
        time.sleep(0.2)
        other = self.raw()
        info = parse(other.cmd('INFO', 'clients')).decode()
        self.assertIn('blocked_clients:1', info)
        self.assertIn('clients_in_timeout_table:0', info)     # WAIT ... 0: no timeout
        t = self.raw()
        t.send(b'*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$4\r\n5000\r\n')
        time.sleep(0.2)
        info = parse(other.cmd('INFO', 'clients')).decode()
        self.assertIn('blocked_clients:2', info)
        self.assertIn('clients_in_timeout_table:1', info)
        self.assertEqual(parse(other.cmd('CLIENT', 'UNBLOCK', str(cid))), 1)
        self.assertEqual(parse(c.read_reply()), 0)
        self.assertEqual(parse(c.cmd('PING')), b'PONG')


class _ModuleAllowed:
    SERVER_ARGS = ('--enable-module-command', 'yes')

    def test_module_load_fails(self):
        c = self.raw()
        for args in (('LOAD', '/nonexistent/x.so'), ('LOADEX', '/nonexistent/x.so'),
                     ('LOADEX', '/nonexistent/x.so', 'CONFIG', 'a', 'b', 'ARGS', 'c')):
            r = parse(c.cmd('MODULE', *args))
            self.assertIsInstance(r, RespError)
            self.assertEqual(str(r), 'ERR Error loading the extension. Please check the server logs.')
        r = parse(c.cmd('MODULE', 'UNLOAD', 'x'))
        self.assertEqual(str(r), 'ERR Error unloading module: no such module with that name')
        self.assertEqual(parse(c.cmd('MODULE', 'LIST')), [])
        stats = parse(c.cmd('INFO', 'commandstats')).decode()
        self.assertIn('cmdstat_module|load:calls=1,', stats)
        self.assertIn('cmdstat_module|loadex:calls=2,', stats)


class CommandCount(ServerTest):
    def test_standalone_commands_listed(self):
        c = self.raw()
        names = set(x.decode() if isinstance(x, bytes) else x for x in parse(c.cmd('COMMAND', 'LIST')))
        for n in ('role', 'wait', 'failover', 'replicaof', 'slaveof', 'readonly', 'readwrite',
                  'asking', 'cluster', 'module'):
            self.assertIn(n, names)
        self.assertEqual(parse(c.cmd('COMMAND', 'COUNT')), len([n for n in names if '|' not in n]))


globals().update(for_kinds(_Wait))
globals().update(for_kinds(_ModuleAllowed))

if __name__ == '__main__':
    unittest.main()
