"""The command table as clients see it, against redis-server 7.0: for every
command and subcommand cachebox implements (its COMMAND LIST), COMMAND INFO
and COMMAND DOCS are byte-identical in RESP2 and RESP3, except that a
container lists its subcommands in Redis's dict order, which changes with
each redis-server process (its hash seed), so containers are compared with
every list sorted. The whole COMMAND and COMMAND DOCS replies hold the same
entry for every command cachebox has, and the only commands of Redis's
COMMAND LIST that cachebox lacks are those named in NOT_YET (other work)."""
import unittest

from cbtest import Server, parse

# Commands still missing from cachebox on purpose (replication, MIGRATE).
NOT_YET = {'migrate', 'sync', 'psync', 'replconf'}


def norm(v):
    if isinstance(v, list):
        items = [norm(x) for x in v]
        try:
            return sorted(items, key=repr)
        except TypeError:
            return items
    if isinstance(v, tuple):
        return tuple(norm(x) for x in v)
    return v


def as_map(v):
    if v and isinstance(v[0], tuple):
        return dict(v)
    return dict(zip(v[::2], v[1::2]))


class CommandTableTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = Server('cachebox')
        cls.rs = Server('redis')

    @classmethod
    def tearDownClass(cls):
        cls.cb.cleanup()
        cls.rs.cleanup()

    def test_command_list_covers_redis(self):
        with self.cb.raw() as a, self.rs.raw() as b:
            mine = set(parse(a.cmd('COMMAND', 'LIST')))
            theirs = set(parse(b.cmd('COMMAND', 'LIST')))
        self.assertEqual(mine - theirs, set())
        self.assertEqual({n.decode() for n in theirs - mine} - NOT_YET, set())

    def test_info_and_docs_of_every_command(self):
        with self.cb.raw(timeout=30) as a, self.rs.raw(timeout=30) as b:
            names = parse(a.cmd('COMMAND', 'LIST'))
            containers = {n.split(b'|')[0] for n in names if b'|' in n}
            for proto in (2, 3):
                a.cmd('HELLO', proto)
                b.cmd('HELLO', proto)
                for n in names:
                    for sub in ('INFO', 'DOCS'):
                        with self.subTest(proto=proto, cmd=(sub, n)):
                            x = a.cmd('COMMAND', sub, n)
                            y = b.cmd('COMMAND', sub, n)
                            if n in containers:
                                self.assertEqual(norm(parse(x)), norm(parse(y)))
                            else:
                                self.assertEqual(x, y)

    def test_whole_command_and_docs(self):
        with self.cb.raw(timeout=30) as a, self.rs.raw(timeout=30) as b:
            for proto in (2, 3):
                a.cmd('HELLO', proto)
                b.cmd('HELLO', proto)
                mine = {e[0]: e for e in parse(a.cmd('COMMAND'))}
                theirs = {e[0]: e for e in parse(b.cmd('COMMAND'))}
                self.assertEqual(parse(a.cmd('COMMAND', 'COUNT')), len(mine))
                for name, entry in mine.items():
                    with self.subTest(proto=proto, cmd=name):
                        self.assertEqual(norm(entry), norm(theirs.get(name)))
                mine = as_map(parse(a.cmd('COMMAND', 'DOCS')))
                theirs = as_map(parse(b.cmd('COMMAND', 'DOCS')))
                self.assertEqual(len(mine), len(set(mine)))
                for name, doc in mine.items():
                    with self.subTest(proto=proto, docs=name):
                        self.assertEqual(norm(doc), norm(theirs.get(name)))


if __name__ == '__main__':
    unittest.main()
