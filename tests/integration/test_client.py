"""CLIENT subcommands: ID, SETNAME/GETNAME, LIST and INFO line format,
KILL by ID/ADDR/LADDR/USER/SKIPME, REPLY ON/OFF/SKIP, PAUSE WRITE/ALL and
UNPAUSE, NO-EVICT.
"""
import re
import time

from cbtest import encode_command, for_kinds, parse

LIST_FIELDS = ['id', 'addr', 'laddr', 'fd', 'name', 'age', 'idle', 'flags', 'db', 'sub', 'psub',
               'ssub', 'multi', 'qbuf', 'qbuf-free', 'argv-mem', 'multi-mem', 'rbs', 'rbp', 'obl',
               'oll', 'omem', 'tot-mem', 'events', 'cmd', 'user', 'redir', 'resp']


def fields(line):
    return [kv.split('=', 1) for kv in line.strip().split(' ')]


class _Client:
    def test_id_and_names(self):
        c = self.raw()
        cid = parse(c.cmd('CLIENT', 'ID'))
        self.assertIsInstance(cid, int)
        self.assertEqual(c.cmd('CLIENT', 'GETNAME'), b'$-1\r\n')
        self.assertEqual(c.cmd('CLIENT', 'SETNAME', 'worker-1'), b'+OK\r\n')
        self.assertEqual(c.cmd('CLIENT', 'GETNAME'), b'$8\r\nworker-1\r\n')
        self.assertEqual(c.cmd('CLIENT', 'SETNAME', 'a b'),
                         b'-ERR Client names cannot contain spaces, newlines or special characters.\r\n')
        info = parse(c.cmd('CLIENT', 'INFO')).decode()
        f = fields(info)
        self.assertEqual([k for k, _ in f], LIST_FIELDS)
        d = dict(f)
        self.assertEqual(d['id'], str(cid))
        self.assertEqual(d['name'], 'worker-1')
        self.assertEqual(d['laddr'], '%s:%d' % (self.server.host, self.server.port))
        self.assertEqual(d['cmd'], 'client|info')
        self.assertEqual(d['resp'], '2')
        self.assertEqual(d['flags'], 'N')
        self.assertTrue(info.endswith('\n'))
        lst = parse(c.cmd('CLIENT', 'LIST')).decode()
        lines = lst.splitlines()
        self.assertTrue(any(dict(fields(l))['id'] == str(cid) for l in lines))
        for l in lines:
            self.assertEqual([k for k, _ in fields(l)], LIST_FIELDS)
        one = parse(c.cmd('CLIENT', 'LIST', 'ID', str(cid))).decode()
        self.assertEqual(len(one.splitlines()), 1)
        self.assertEqual(dict(fields(one))['cmd'], 'client|list')
        self.assertEqual(c.cmd('CLIENT', 'LIST', 'TYPE', 'foo'), b"-ERR Unknown client type 'foo'\r\n")

    def _victim(self):
        v = self.raw()
        vid = parse(v.cmd('CLIENT', 'ID'))
        addr = dict(fields(parse(v.cmd('CLIENT', 'INFO')).decode()))['addr']
        return v, vid, addr

    def test_kill(self):
        c = self.raw()
        v, vid, addr = self._victim()
        self.assertEqual(c.cmd('CLIENT', 'KILL', 'ID', str(vid)), b':1\r\n')
        self.assertTrue(v.is_closed(3))
        v, vid, addr = self._victim()
        self.assertEqual(c.cmd('CLIENT', 'KILL', addr), b'+OK\r\n')      # old form
        self.assertTrue(v.is_closed(3))
        self.assertEqual(c.cmd('CLIENT', 'KILL', addr), b'-ERR No such client\r\n')
        v, vid, addr = self._victim()
        self.assertEqual(c.cmd('CLIENT', 'KILL', 'ADDR', addr), b':1\r\n')
        self.assertTrue(v.is_closed(3))
        v, vid, addr = self._victim()
        self.r.ping()
        # LADDR matches every client of this listener but SKIPME (default yes) spares us.
        n = parse(c.cmd('CLIENT', 'KILL', 'LADDR', '%s:%d' % (self.server.host, self.server.port)))
        self.assertGreaterEqual(n, 1)
        self.assertTrue(v.is_closed(3))
        self.assertEqual(c.cmd('PING'), b'+PONG\r\n')
        v, vid, addr = self._victim()
        n = parse(c.cmd('CLIENT', 'KILL', 'USER', 'default'))
        self.assertGreaterEqual(n, 1)
        self.assertTrue(v.is_closed(3))
        self.assertEqual(c.cmd('CLIENT', 'KILL', 'USER', 'nobody'), b"-ERR No such user 'nobody'\r\n")
        myid = parse(c.cmd('CLIENT', 'ID'))
        c.send(encode_command('CLIENT', 'KILL', 'ID', str(myid), 'SKIPME', 'no'))
        self.assertEqual(c.read_until_closed(3), b':1\r\n')

    def test_reply_modes(self):
        c = self.raw()
        c.send(encode_command('CLIENT', 'REPLY', 'OFF') + encode_command('SET', 'a', '1') +
               encode_command('PING') + encode_command('CLIENT', 'REPLY', 'ON'))
        self.assertEqual(c.read_reply(), b'+OK\r\n')      # only REPLY ON answers
        c.send(encode_command('CLIENT', 'REPLY', 'SKIP') + encode_command('ECHO', 'skipped') +
               encode_command('ECHO', 'seen'))
        self.assertEqual(c.read_reply(), b'$4\r\nseen\r\n')
        self.assertEqual(self.r.get('a'), b'1')
        self.assertEqual(c.cmd('CLIENT', 'REPLY', 'FOO'), b'-ERR syntax error\r\n')

    def test_pause(self):
        c = self.raw()
        self.assertEqual(c.cmd('CLIENT', 'PAUSE', '500', 'WRITE'), b'+OK\r\n')
        other = self.raw()
        self.assertEqual(other.cmd('GET', 'x'), b'$-1\r\n')    # reads go on
        t0 = time.time()
        self.assertEqual(other.cmd('SET', 'x', '1'), b'+OK\r\n')
        self.assertGreater(time.time() - t0, 0.3)             # the write waited
        # UNPAUSE is not a write, so it runs during a WRITE pause and ends it.
        self.assertEqual(c.cmd('CLIENT', 'PAUSE', '5000', 'WRITE'), b'+OK\r\n')
        self.assertEqual(c.cmd('CLIENT', 'UNPAUSE'), b'+OK\r\n')
        t0 = time.time()
        self.assertEqual(other.cmd('SET', 'x', '2'), b'+OK\r\n')
        self.assertLess(time.time() - t0, 2)
        self.assertEqual(c.cmd('CLIENT', 'PAUSE', '10', 'FOO'),
                         b'-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n')

    def test_pause_all_blocks_until_unpause(self):
        c = self.raw()
        other = self.raw()
        self.assertEqual(c.cmd('CLIENT', 'PAUSE', '600', 'ALL'), b'+OK\r\n')
        t0 = time.time()
        self.assertEqual(other.cmd('GET', 'x'), b'$-1\r\n')
        self.assertGreater(time.time() - t0, 0.4)

    def test_no_evict(self):
        c = self.raw()
        self.assertEqual(c.cmd('CLIENT', 'NO-EVICT', 'on'), b'+OK\r\n')
        d = dict(fields(parse(c.cmd('CLIENT', 'INFO')).decode()))
        self.assertIn('e', d['flags'])
        self.assertEqual(c.cmd('CLIENT', 'NO-EVICT', 'off'), b'+OK\r\n')
        self.assertEqual(c.cmd('CLIENT', 'NO-EVICT', 'maybe'), b'-ERR syntax error\r\n')


globals().update(for_kinds(_Client))
