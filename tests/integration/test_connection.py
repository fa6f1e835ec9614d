"""Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH with
requirepass (NOAUTH before AUTH, WRONGPASS), HELLO 2/3 with AUTH and
SETNAME and its error texts. Texts must match Redis, so every class runs
against cachebox and the oracle.
"""
from cbtest import for_kinds, parse, ServerTest

WRONGPASS = b'-WRONGPASS invalid username-password pair or user is disabled.\r\n'
NOAUTH = b'-NOAUTH Authentication required.\r\n'


class _Basics:
    def test_ping_echo(self):
        c = self.raw()
        self.assertEqual(c.cmd('PING'), b'+PONG\r\n')
        self.assertEqual(c.cmd('PING', 'hi'), b'$2\r\nhi\r\n')
        self.assertEqual(c.cmd('PING', 'a', 'b'), b"-ERR wrong number of arguments for 'ping' command\r\n")
        self.assertEqual(c.cmd('ECHO', ''), b'$0\r\n\r\n')
        self.assertEqual(c.cmd('ECHO', b'\x00\xff'), b'$2\r\n\x00\xff\r\n')
        self.assertEqual(c.cmd('ECHO'), b"-ERR wrong number of arguments for 'echo' command\r\n")
        self.assertEqual(self.r.ping(), True)
        self.assertEqual(self.r.echo('x'), b'x')

    def test_quit_closes(self):
        c = self.raw()
        c.send(b'QUIT\r\nPING\r\n')
        self.assertEqual(c.read_until_closed(5), b'+OK\r\n')

    def test_select(self):
        c = self.raw()
        self.assertEqual(c.cmd('SELECT', '15'), b'+OK\r\n')
        c.cmd('SET', 'k', 'v15')
        self.assertEqual(c.cmd('SELECT', '16'), b'-ERR DB index is out of range\r\n')
        self.assertEqual(c.cmd('SELECT', '-1'), b'-ERR DB index is out of range\r\n')
        self.assertEqual(c.cmd('SELECT', 'x'), b'-ERR value is not an integer or out of range\r\n')
        self.assertEqual(c.cmd('GET', 'k'), b'$3\r\nv15\r\n')
        self.assertEqual(c.cmd('SELECT', '0'), b'+OK\r\n')
        self.assertEqual(c.cmd('GET', 'k'), b'$-1\r\n')

    def test_reset(self):
        c = self.raw()
        c.cmd('SELECT', '3')
        c.cmd('CLIENT', 'SETNAME', 'foo')
        c.cmd('HELLO', '3')
        self.assertEqual(c.cmd('RESET'), b'+RESET\r\n')
        self.assertEqual(c.cmd('CLIENT', 'GETNAME'), b'$-1\r\n')   # back to RESP2
        c.cmd('SET', 'k', 'v')
        self.assertEqual(self.r.get('k'), b'v')                   # back to db 0

    def test_auth_without_password(self):
        c = self.raw()
        self.assertEqual(c.cmd('AUTH', 'x'),
                         b'-ERR AUTH <password> called without any password configured for the '
                         b'default user. Are you sure your configuration is correct?\r\n')
        self.assertEqual(c.cmd('AUTH', 'a', 'b'), WRONGPASS)
        self.assertEqual(c.cmd('AUTH', 'default', 'anything'), b'+OK\r\n')

    def test_hello(self):
        c = self.raw()
        r2 = parse(c.cmd('HELLO', '2'))
        self.assertEqual(r2[0::2], [b'server', b'version', b'proto', b'id', b'mode', b'role', b'modules'])
        self.assertEqual(r2[5], 2)
        self.assertEqual(r2[9], b'standalone')
        self.assertEqual(r2[11], b'master')
        cid = parse(c.cmd('CLIENT', 'ID'))
        self.assertEqual(r2[7], cid)
        r3 = c.cmd('HELLO', '3', 'SETNAME', 'conn1')
        self.assertTrue(r3.startswith(b'%7\r\n$6\r\nserver\r\n'), r3)
        self.assertEqual(dict(parse(r3))[b'proto'], 3)
        self.assertEqual(c.cmd('CLIENT', 'GETNAME'), b'$5\r\nconn1\r\n')
        self.assertTrue(c.cmd('HELLO').startswith(b'%7\r\n'))    # no version: keep RESP3
        self.assertEqual(c.cmd('HELLO', '4'), b'-NOPROTO unsupported protocol version\r\n')
        self.assertEqual(c.cmd('HELLO', '1'), b'-NOPROTO unsupported protocol version\r\n')
        self.assertEqual(c.cmd('HELLO', 'foo'),
                         b'-ERR Protocol version is not an integer or out of range\r\n')
        self.assertEqual(c.cmd('HELLO', '3', 'FOO'), b"-ERR Syntax error in HELLO option 'FOO'\r\n")
        self.assertEqual(c.cmd('HELLO', '3', 'AUTH', 'x'), b"-ERR Syntax error in HELLO option 'AUTH'\r\n")
        self.assertEqual(c.cmd('HELLO', '3', 'SETNAME', 'a b'),
                         b'-ERR Client names cannot contain spaces, newlines or special characters.\r\n')


class _Auth:
    SERVER_ARGS = ('--requirepass', 'sekret')

    def setUp(self):
        self.r = self.server.redis(password='sekret')
        self.r.flushall()

    def test_noauth_then_auth(self):
        c = self.raw()
        self.assertEqual(c.cmd('PING'), NOAUTH)
        self.assertEqual(c.cmd('GET', 'x'), NOAUTH)
        self.assertEqual(c.cmd('AUTH', 'bad'), WRONGPASS)
        self.assertEqual(c.cmd('AUTH', 'default', 'bad'), WRONGPASS)
        self.assertEqual(c.cmd('AUTH', 'sekret'), b'+OK\r\n')
        self.assertEqual(c.cmd('PING'), b'+PONG\r\n')
        self.assertEqual(c.cmd('RESET'), b'+RESET\r\n')
        self.assertEqual(c.cmd('PING'), NOAUTH)
        self.assertEqual(c.cmd('AUTH', 'default', 'sekret'), b'+OK\r\n')
        self.assertEqual(c.cmd('PING'), b'+PONG\r\n')

    def test_hello_auth(self):
        c = self.raw()
        self.assertEqual(c.cmd('HELLO', '3'),
                         b'-NOAUTH HELLO must be called with the client already authenticated, '
                         b'otherwise the HELLO AUTH <user> <pass> option can be used to authenticate '
                         b'the client and select the RESP protocol version at the same time\r\n')
        self.assertEqual(c.cmd('HELLO', '3', 'AUTH', 'default', 'bad'), WRONGPASS)
        rep = c.cmd('HELLO', '3', 'AUTH', 'default', 'sekret', 'SETNAME', 'nm')
        self.assertTrue(rep.startswith(b'%7\r\n'), rep)
        self.assertEqual(c.cmd('CLIENT', 'GETNAME'), b'$2\r\nnm\r\n')
        self.assertEqual(c.cmd('GET', 'nokey'), b'_\r\n')

    def test_redis_cli_auth(self):
        rc, out = self.server.cli('PING', extra=['-a', 'sekret', '--no-auth-warning'])
        self.assertEqual((rc, out.strip()), (0, 'PONG'))
        rc, out = self.server.cli('PING')
        self.assertIn('NOAUTH', out)


globals().update(for_kinds(_Basics))
globals().update(for_kinds(_Auth))
