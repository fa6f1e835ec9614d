"""rename-command (a config file directive) against redis-server 7.0 started
with the same file: the renamed commands answer under their new names only,
a command renamed to "" is gone, and COMMAND, COMMAND INFO/DOCS/LIST/COUNT/
GETKEYS, ACL (which keeps the original names), INFO commandstats/errorstats,
MULTI and scripts show what Redis shows. Replies are compared byte for byte
where Redis's order is fixed, as sorted sets where it comes from a dict
(its iteration order changes with each process's hash seed). COMMAND COUNT
and LIST are compared as the change the renames make to each server's own
answer without them (other helpers still add commands)."""
import re
import unittest

from cbtest import Server, parse

CONFIG = ('rename-command SET MYSET\n'
          'rename-command FLUSHDB ""\n'
          'rename-command config cfg\n'
          'rename-command client ""\n'
          'rename-command GET get2\n'
          'rename-command get2 get3\n'
          'rename-command slowlog sl\n')


def norm(v):
    """A parsed reply with every list sorted (dict orders differ)."""
    if isinstance(v, list):
        items = [norm(x) for x in v]
        try:
            return sorted(items, key=repr)
        except TypeError:
            return items
    if isinstance(v, tuple):
        return tuple(norm(x) for x in v)
    return v


class RenameCommandTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = Server('cachebox', config=CONFIG)
        cls.rs = Server('redis', config=CONFIG)
        cls.cb0 = Server('cachebox')
        cls.rs0 = Server('redis')

    @classmethod
    def tearDownClass(cls):
        for s in (cls.cb, cls.rs, cls.cb0, cls.rs0):
            s.cleanup()

    def exact(self, *cmds):
        """Each command's raw reply, on both renamed servers, byte for byte."""
        with self.cb.raw() as a, self.rs.raw() as b:
            for cmd in cmds:
                with self.subTest(cmd=cmd):
                    self.assertEqual(a.cmd(*cmd), b.cmd(*cmd))

    def unordered(self, *cmds):
        with self.cb.raw() as a, self.rs.raw() as b:
            for cmd in cmds:
                with self.subTest(cmd=cmd):
                    self.assertEqual(norm(parse(a.cmd(*cmd))), norm(parse(b.cmd(*cmd))))

    def test_calls_by_old_and_new_names(self):
        self.exact(('SET', 'a', '1'), ('set', 'a', '1'), ('MYSET', 'a', '1'), ('myset', 'b', '2'),
                   ('GET', 'a'), ('get2', 'a'), ('GET3', 'a'), ('FLUSHDB',), ('CLIENT', 'ID'),
                   ('CFG', 'GET', 'maxmemory'), ('CONFIG', 'GET', 'maxmemory'),
                   ('cfg', 'nosuch'), ('cfg',), ('MULTI',), ('SET', 'x', 'y'), ('MYSET', 'x', 'y'),
                   ('EXEC',), ('MULTI',), ('MYSET', 'x', 'y'), ('get3', 'x'), ('EXEC',),
                   ('EVAL', "return redis.pcall('set','x','1')", '0'),
                   ('EVAL', "return redis.pcall('myset','x','1')", '0'),
                   ('EVAL', "return redis.pcall('flushdb')", '0'),
                   ('EVAL', "return redis.pcall('get3','x')", '0'),
                   ('SL', 'GeT', '1', '2'), ('sl', 'nosuch'), ('SLOWLOG', 'LEN'), ('sl', 'len'))

    def test_command_introspection(self):
        self.exact(('COMMAND', 'INFO', 'set'), ('COMMAND', 'INFO', 'myset'),
                   ('COMMAND', 'INFO', 'get', 'get2', 'get3', 'MYSET', 'flushdb', 'client',
                    'client|id', 'config|get', 'cfg|get', 'flushall'),
                   ('COMMAND', 'DOCS', 'set'), ('COMMAND', 'DOCS', 'myset', 'get3', 'flushdb'),
                   ('COMMAND', 'DOCS', 'client'), ('COMMAND', 'DOCS', 'cfg|get'),
                   ('COMMAND', 'GETKEYS', 'set', 'a', 'b'), ('COMMAND', 'GETKEYS', 'myset', 'a', 'b'),
                   ('COMMAND', 'GETKEYSANDFLAGS', 'myset', 'a', 'b'),
                   ('COMMAND', 'GETKEYS', 'flushdb'), ('COMMAND', 'GETKEYS', 'get3', 'k'),
                   ('COMMAND', 'GETKEYS', 'cfg', 'get', 'x'))
        self.unordered(('COMMAND', 'DOCS', 'cfg'),
                       ('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'flush*'),
                       ('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'client*'),
                       ('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'myset'),
                       ('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'get*'),
                       ('COMMAND', 'INFO', 'cfg'))

    def test_whole_listings_change_as_redis(self):
        def top_names(server, *cmd):
            with server.raw() as c:
                v = parse(c.cmd(*cmd))
            if cmd == ('COMMAND',):
                return {e[0] for e in v}
            if cmd == ('COMMAND', 'DOCS'):
                return {v[i] for i in range(0, len(v), 2)}
            return set(v)

        for cmd in (('COMMAND',), ('COMMAND', 'LIST'), ('COMMAND', 'DOCS'),
                    ('COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'admin')):
            with self.subTest(cmd=cmd):
                rs_gone = top_names(self.rs0, *cmd) - top_names(self.rs, *cmd)
                cb_gone = top_names(self.cb0, *cmd) - top_names(self.cb, *cmd)
                self.assertEqual(cb_gone, rs_gone)
                self.assertEqual(top_names(self.cb, *cmd) - top_names(self.cb0, *cmd),
                                 top_names(self.rs, *cmd) - top_names(self.rs0, *cmd))

        def count(s):
            with s.raw() as c:
                return parse(c.cmd('COMMAND', 'COUNT'))
        self.assertEqual(count(self.cb0) - count(self.cb), count(self.rs0) - count(self.rs))

    def test_acl_keeps_original_names(self):
        self.exact(('ACL', 'DRYRUN', 'default', 'set', 'a', 'b'),
                   ('ACL', 'DRYRUN', 'default', 'myset', 'a', 'b'),
                   ('ACL', 'DRYRUN', 'default', 'flushdb'),
                   ('ACL', 'SETUSER', 'u1', 'on', 'nopass', '+set'),
                   ('ACL', 'SETUSER', 'u1', '+config|get'), ('ACL', 'SETUSER', 'u1', '+flushdb'),
                   ('ACL', 'SETUSER', 'u2', '+myset'), ('ACL', 'SETUSER', 'u3', '+cfg'),
                   ('ACL', 'SETUSER', 'u4', 'on', 'nopass', '+flushdb'), ('ACL', 'GETUSER', 'u4'),
                   ('AUTH', 'u1', 'x'), ('MYSET', 'k', 'v'),
                   ('CFG', 'GET', 'maxmemory'), ('GET3', 'k'), ('AUTH', 'default', 'x'))
        # ACL CAT lists original names: the renames change nothing there.
        for cat in ('string', 'keyspace', 'connection', 'admin'):
            for plain, renamed in ((self.cb0, self.cb), (self.rs0, self.rs)):
                with plain.raw() as a, renamed.raw() as b:
                    self.assertEqual(norm(parse(a.cmd('ACL', 'CAT', cat))),
                                     norm(parse(b.cmd('ACL', 'CAT', cat))))

    def test_stats_use_original_names(self):
        def stats(s):
            r = s.redis()
            r.execute_command('CFG', 'RESETSTAT')
            for cmd in (('MYSET', 'a', '1'), ('GET3', 'a'), ('CFG', 'GET', 'port')):
                r.execute_command(*cmd)
            for bad in (('SET', 'a', 'b'), ('FLUSHDB',), ('get2', 'a')):
                try:
                    r.execute_command(*bad)
                except Exception:
                    pass
            r.close()
            with s.raw() as c:
                info = parse(c.cmd('INFO', 'commandstats')).decode()
                errs = parse(c.cmd('INFO', 'errorstats')).decode()
            return (sorted(re.sub(r'usec=\d+,usec_per_call=[\d.]+', 'U', ln)
                           for ln in info.splitlines() if ln.startswith('cmdstat_')),
                    sorted(ln for ln in errs.splitlines() if ln.startswith('errorstat_')))
        self.assertEqual(stats(self.cb), stats(self.rs))


if __name__ == '__main__':
    unittest.main()
