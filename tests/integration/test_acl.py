"""ACL against the oracle: the same users and rules are set on redis-server
and cachebox, then a matrix of users x commands x keys / channels runs on
both and every reply must be byte-identical, and so must the ACL LOG
entries (all fields but age-seconds and client-info). Also: denials inside
MULTI (at queue time and when the rules change before EXEC), clients of a
deleted user are disconnected, the "user" and "aclfile" directives, ACL
SAVE/LOAD, and the security regressions: nothing runs before AUTH when a
password is set, and passwords never reach the log."""
import os
import shutil
import tempfile
import unittest

from cbtest import Server, parse

USERS = [
    # name, rules
    ('reader', ['on', '>rpw', '~r:*', '%R~shared:*', '&news.*', '+@read', '+publish',
                '+subscribe', '+psubscribe', '+ping']),
    ('writer', ['on', '>wpw', '%W~w:*', '%RW~both:*', 'resetchannels', '-@all', '+set', '+get',
                '+del', '+lpush', '+lmove', '+copy', '+mset', '+mget', '+publish']),
    ('sel', ['on', 'nopass', '~a:*', '+get', '(~b:* +set +get)', '(&chan +publish ~c:* +@list)']),
    ('cmdonly', ['on', '>cpw', 'allkeys', 'allchannels', '+@all', '-@dangerous', '-set',
                 '+config|get', '-ping']),
    ('firstarg', ['on', '>fpw', 'allkeys', '-@all', '+select|0', '+client|getname', '+get']),
]
PASSWORDS = {'reader': 'rpw', 'writer': 'wpw', 'sel': 'x', 'cmdonly': 'cpw', 'firstarg': 'fpw'}

KEYS = ['r:1', 'shared:1', 'w:1', 'both:1', 'a:1', 'b:1', 'c:1', 'other']
CHANNELS = ['news.sport', 'chan', 'other']
PATTERNS = ['news.*', 'news.sport', 'chan', '*']


def commands_for(k):
    return [
        ('GET', k), ('SET', k, 'v'), ('DEL', k), ('LPUSH', k, 'x'), ('LRANGE', k, '0', '-1'),
        ('MGET', k, 'r:1'), ('MSET', k, '1', 'w:1', '2'), ('COPY', k, 'w:2'),
        ('COPY', 'shared:1', k), ('LMOVE', k, 'both:2', 'LEFT', 'RIGHT'), ('EXISTS', k),
        ('STRLEN', k), ('HSET', k, 'f', 'v'), ('OBJECT', 'ENCODING', k),
    ]


GLOBAL_CMDS = [('PING',), ('CONFIG', 'GET', 'maxmemory-policy'), ('CONFIG', 'SET', 'hz', '10'),
               ('SELECT', '0'), ('SELECT', '1'), ('CLIENT', 'GETNAME'), ('FLUSHALL',), ('KEYS', 'nomatch*'),
               ('DBSIZE',), ('INFO', 'nosuchsection'), ('ACL', 'WHOAMI'),
               ('ACL', 'DRYRUN', 'reader', 'get', 'r:1'), ('DEBUG', 'SLEEP', '0')]


def setup_users(conn):
    for name, rules in USERS:
        assert conn.cmd('ACL', 'SETUSER', name, *rules) == b'+OK\r\n', name


def seed(conn):
    conn.cmd('FLUSHALL')
    for k in KEYS:
        conn.cmd('SET', k, 'val-' + k)


def log_entries(conn):
    out = []
    for e in parse(conn.cmd('ACL', 'LOG', '1000')):
        d = dict(zip(e[0::2], e[1::2]))
        d.pop(b'age-seconds')
        d.pop(b'client-info')
        out.append(d)
    return out


def one(srv, *cmd):
    with srv.raw() as c:
        return c.cmd(*cmd)


class AclMatrix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.servers = [Server('redis', args=('--enable-debug-command', 'yes')),
                       Server('cachebox', args=('--enable-debug-command', 'yes'))]

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.cleanup()

    def both(self, fn):
        return [fn(s) for s in self.servers]

    def setUp(self):
        def prep(s):
            with s.raw() as c:
                for name, _ in USERS:
                    c.cmd('ACL', 'DELUSER', name)
                setup_users(c)
                c.cmd('ACL', 'LOG', 'RESET')
        self.both(prep)

    def test_matrix(self):
        cells = 0
        for name, _ in USERS:
            cmds = list(GLOBAL_CMDS)
            for k in KEYS:
                cmds += commands_for(k)
            for ch in CHANNELS:
                cmds.append(('PUBLISH', ch, 'm'))
            replies = []
            for s in self.servers:
                got = []
                with s.raw() as admin:
                    seed(admin)
                with s.raw() as c:
                    got.append(c.cmd('AUTH', name, PASSWORDS[name]))
                    for cmd in cmds:
                        got.append(c.cmd(*cmd))
                        if cmd[0] == 'SELECT':
                            c.cmd('SELECT', '0')
                        if cmd[0] == 'FLUSHALL':
                            with s.raw() as admin:
                                seed(admin)
                # Subscriptions change the connection: one per cell.
                for ch in CHANNELS:
                    with s.raw() as c:
                        c.cmd('AUTH', name, PASSWORDS[name])
                        got.append(c.cmd('SUBSCRIBE', ch))
                for p in PATTERNS:
                    with s.raw() as c:
                        c.cmd('AUTH', name, PASSWORDS[name])
                        got.append(c.cmd('PSUBSCRIBE', p))
                replies.append(got)
            labels = [('AUTH',)] + cmds + [('SUBSCRIBE', ch) for ch in CHANNELS] + \
                     [('PSUBSCRIBE', p) for p in PATTERNS]
            for lab, a, b in zip(labels, replies[0], replies[1]):
                cells += 1
                self.assertEqual(a, b, '%s: %s' % (name, ' '.join(lab)))
        self.assertGreater(cells, 500)

        def logs(s):
            with s.raw() as c:
                return log_entries(c)
        redis_log, cb_log = self.both(logs)
        self.assertGreater(len(redis_log), 20)
        self.assertEqual(redis_log, cb_log)

    def test_rule_descriptions(self):
        """GETUSER's command rules: the categories exactly, the single
        commands as a set (Redis prints those in its hash table's random
        order)."""
        rule_sets = ['+@read -@keyspace', '+@string +@bitmap -@write', '+@all -@read -@write +get',
                     '+@read -@string -@hash', '+@list -lpush -rpush +set +config|get',
                     '+@all -@dangerous +@read', '+@all -@hash +hget -lpos',
                     '-@all +client -client|kill +select|0']

        cb = self.servers[1]

        def known(tok):
            # Redis also lists commands cachebox does not have yet.
            with cb.raw() as c:
                return parse(c.cmd('COMMAND', 'INFO', tok[1:]))[0] is not None

        def norm(rules):
            toks = rules.split()
            cats = [t for t in toks if t[1:2] == '@']
            return cats, sorted(t for t in toks if t[1:2] != '@' and known(t))

        for rules in rule_sets:
            got = []
            for s in self.servers:
                with s.raw() as c:
                    c.cmd('ACL', 'SETUSER', 'desc', 'reset', *rules.split())
                    d = parse(c.cmd('ACL', 'GETUSER', 'desc'))
                    got.append(norm(d[d.index(b'commands') + 1].decode()))
                    c.cmd('ACL', 'DELUSER', 'desc')
            self.assertEqual(got[0], got[1], rules)

    def test_dryrun_matrix(self):
        for name, _ in USERS:
            for k in KEYS:
                for cmd in commands_for(k):
                    a, b = self.both(lambda s: one(s, 'ACL', 'DRYRUN', name, *cmd))
                    self.assertEqual(a, b, '%s: %s' % (name, cmd))

    def test_auth_failures_logged(self):
        def run(s):
            with s.raw() as c:
                out = [c.cmd('AUTH', 'reader', 'bad'), c.cmd('AUTH', 'reader', 'bad'),
                       c.cmd('AUTH', 'nosuch', 'x'), c.cmd('HELLO', '3', 'AUTH', 'writer', 'no'),
                       c.cmd('AUTH', 'onlypw')]
                out.append(log_entries(c))
                return out
        a, b = self.both(run)
        self.assertEqual(a, b)

    def test_multi_denials(self):
        def run(s):
            out = []
            with s.raw() as admin, s.raw() as c:
                admin.cmd('ACL', 'SETUSER', 'tx', 'on', '>t', '~t:*', '-@all', '+multi', '+exec',
                          '+set', '+get', '+discard')
                out.append(c.cmd('AUTH', 'tx', 't'))
                out += [c.cmd('MULTI'), c.cmd('SET', 't:1', 'a'), c.cmd('GET', 'other'),
                        c.cmd('INCR', 't:1'), c.cmd('EXEC')]
                out += [c.cmd('MULTI'), c.cmd('SET', 't:1', 'a'), c.cmd('GET', 't:1')]
                admin.cmd('ACL', 'SETUSER', 'tx', '-get')
                out.append(c.cmd('EXEC'))
                out += [c.cmd('MULTI'), c.cmd('SET', 't:2', 'b')]
                admin.cmd('ACL', 'SETUSER', 'tx', 'resetkeys', '~x:*')
                out.append(c.cmd('EXEC'))
                out.append(log_entries(admin))
                admin.cmd('ACL', 'DELUSER', 'tx')
            return out
        a, b = self.both(run)
        self.assertEqual(a, b)

    def test_scripts_run_as_caller(self):
        scripts = [("return redis.call('get', KEYS[1])", '1', 'k1'),
                   ("return redis.call('get', KEYS[1])", '1', 'other'),
                   ("return redis.call('get', 'other')", '0'),
                   ("return redis.pcall('get', 'other')", '0'),
                   ("return redis.call('set', 'k2', 'v')", '0'),
                   ("return redis.call('del', 'k1')", '0'),
                   ("return redis.pcall('del', 'k1')", '0'),
                   ("return redis.call('publish', 'zz', 'm')", '0'),
                   ("return redis.call('publish', 'cc', 'm')", '0'),
                   ("return redis.call('config', 'get', 'port')", '0'),
                   ("return redis.call('mget', 'k1', 'nope')", '0'),
                   ("local ok = redis.pcall('lpush', 'k1', 'x') return ok['err']", '0')]

        def run(s):
            with s.raw() as a, s.raw() as c:
                a.cmd('ACL', 'SETUSER', 'lu', 'on', 'nopass', '~k*', '&c*', '+eval', '+get',
                      '+set', '+publish', '+mget', '+lpush')
                out = [c.cmd('AUTH', 'lu', 'x')]
                out += [c.cmd('EVAL', *sc) for sc in scripts]
                out.append(c.cmd('EVAL_RO', "return redis.call('get', 'other')", '0'))
                out.append(log_entries(a))
                a.cmd('ACL', 'DELUSER', 'lu')
                return out
        a, b = self.both(run)
        self.assertEqual(a, b)
        self.assertTrue(any(e[b'context'] == b'lua' for e in b[-1]))

    def test_deleted_user_disconnected(self):
        for s in self.servers:
            with self.subTest(kind=s.kind), s.raw() as admin, s.raw() as c, s.raw() as d:
                admin.cmd('ACL', 'SETUSER', 'gone', 'on', '>g', '+@all', '~*')
                self.assertEqual(c.cmd('AUTH', 'gone', 'g'), b'+OK\r\n')
                self.assertEqual(d.cmd('PING'), b'+PONG\r\n')
                self.assertEqual(admin.cmd('ACL', 'DELUSER', 'gone'), b':1\r\n')
                self.assertTrue(c.is_closed())
                self.assertEqual(d.cmd('PING'), b'+PONG\r\n')  # default user stays

    def test_subscribers_killed_when_channels_revoked(self):
        def run(s):
            with s.raw() as a, s.raw() as sub, s.raw() as psub, s.raw() as keep:
                out = [a.cmd('ACL', 'SETUSER', 'psu', 'on', 'nopass', '+@all', '~*',
                             'resetchannels', '&news*', '&x')]
                for c, cmd in ((sub, 'SUBSCRIBE'), (psub, 'PSUBSCRIBE'), (keep, 'SUBSCRIBE')):
                    out.append(c.cmd('AUTH', 'psu', 'x'))
                out += [sub.cmd('SUBSCRIBE', 'news1'), psub.cmd('PSUBSCRIBE', 'news*'),
                        keep.cmd('SUBSCRIBE', 'x')]
                out.append(a.cmd('ACL', 'SETUSER', 'psu', 'resetchannels', '&news1', '&x'))
                out += [sub.is_closed(), psub.is_closed(), keep.is_closed()]
                out.append(a.cmd('ACL', 'SETUSER', 'psu', 'off'))
                out.append(keep.is_closed())
                out.append(a.cmd('ACL', 'DELUSER', 'psu'))
                return out
        a, b = self.both(run)
        self.assertEqual(a, b)
        self.assertEqual(a[-6:-3], [False, True, False])

    def test_client_kill_user_and_list(self):
        def run(s):
            with s.raw() as admin, s.raw() as c:
                admin.cmd('ACL', 'SETUSER', 'k1', 'on', 'nopass', '+@all', '~*')
                c.cmd('AUTH', 'k1', 'x')
                out = [admin.cmd('CLIENT', 'KILL', 'USER', 'nosuch'),
                       admin.cmd('CLIENT', 'KILL', 'USER', 'k1'), c.is_closed()]
                admin.cmd('ACL', 'DELUSER', 'k1')
                return out
        a, b = self.both(run)
        self.assertEqual(a, b)


class AclMatrixWorkers(AclMatrix):
    """The same with the keyspace split over three workers: checks happen
    where the client lives, changes park the other workers."""
    @classmethod
    def setUpClass(cls):
        cls.servers = [Server('redis', args=('--enable-debug-command', 'yes')),
                       Server('cachebox', args=('--enable-debug-command', 'yes',
                                                '--io-workers', '3'))]


class AclSecurity(unittest.TestCase):
    """Behaviour that must match Redis when a password is set."""

    def test_nothing_before_auth(self):
        cmds = [('GET', 'k'), ('SET', 'k', 'v'), ('FLUSHALL',), ('CONFIG', 'GET', 'port'),
                ('ACL', 'LIST'), ('ACL', 'WHOAMI'), ('KEYS', '*'), ('SUBSCRIBE', 'c'),
                ('MULTI',), ('CLIENT', 'LIST'), ('DEBUG', 'SLEEP', '0'), ('HELLO', '3'),
                ('HELLO', '2', 'AUTH', 'default', 'wrong'), ('AUTH', 'wrong'),
                ('AUTH', 'default', 'wrong'), ('PING',), ('QUIT',)]
        outs = []
        for kind in ('redis', 'cachebox'):
            srv = Server(kind, args=('--requirepass', 'Pa55word'))
            try:
                with srv.raw() as c:
                    out = [c.cmd(*cmd) for cmd in cmds[:-1]]
                    out.append(c.cmd('AUTH', 'Pa55word'))
                    out.append(c.cmd('GET', 'k'))
                    out.append(c.cmd('ACL', 'WHOAMI'))
                    out.append(c.cmd('CONFIG', 'SET', 'requirepass', 'New'))
                with srv.raw() as c:
                    out.append(c.cmd('GET', 'k'))
                    out.append(c.cmd('AUTH', 'Pa55word'))
                    out.append(c.cmd('AUTH', 'New'))
                    out.append(c.cmd('RESET'))
                    out.append(c.cmd('GET', 'k'))
                    out.append(c.cmd('HELLO', '2', 'AUTH', 'default', 'New')[:1])
                    out.append(c.cmd('CONFIG', 'SET', 'requirepass', ''))
                    out.append(c.cmd('ACL', 'LIST'))
                with srv.raw() as c:
                    out.append(c.cmd('GET', 'k'))
                outs.append(out)
            finally:
                srv.cleanup()
        self.assertEqual(outs[0], outs[1])

    def test_monitor_redacts_credentials(self):
        outs = []
        for kind in ('redis', 'cachebox'):
            srv = Server(kind)
            try:
                with srv.raw() as m, srv.raw() as a:
                    m.cmd('MONITOR')
                    a.cmd('ACL', 'SETUSER', 'mu', 'on', '>Sekr1t', '+@all', '~*')
                    for cmd in (('AUTH', 'mu', 'Sekr1t'), ('AUTH', 'mu', 'bad'), ('AUTH', 'Sekr1t'),
                                ('HELLO', '2', 'AUTH', 'mu', 'Sekr1t'),
                                ('HELLO', '2', 'SETNAME', 'auth', 'AUTH', 'mu', 'Sekr1t'),
                                ('GET', 'Sekr1t')):
                        a.cmd(*cmd)
                    lines = [m.read_reply() for _ in range(6)]
                # Drop the timestamp and the client's address.
                outs.append([l.split(b']', 1)[1] for l in lines])
            finally:
                srv.cleanup()
        self.assertEqual(outs[0], outs[1])
        self.assertEqual(sum(b'Sekr1t' in l for l in outs[1]), 1)  # only GET's key

    def test_passwords_never_logged(self):
        secret = 'Zq7SecretPw'
        conf = 'loglevel debug\nuser alice on >%s ~* +@all\nrequirepass %s-req\n' % (secret, secret)
        srv = Server('cachebox', config=conf)
        try:
            with srv.raw() as c:
                c.cmd('AUTH', 'alice', secret + 'x')
                c.cmd('AUTH', 'alice', secret)
                c.cmd('ACL', 'SETUSER', 'bob', '>' + secret + '-bob')
                c.cmd('CONFIG', 'SET', 'requirepass', secret + '-new')
                c.cmd('HELLO', '3', 'AUTH', 'bob', secret)
                c.cmd('FOO', secret)
                info = c.cmd('INFO', 'everything')
                self.assertNotIn(secret.encode(), info)
            srv.stop()
            self.assertNotIn(secret, srv.log())
        finally:
            srv.cleanup()


class AclDirectives(unittest.TestCase):
    def test_user_directive_like_redis(self):
        conf = ('user alice on >pw ~a:* &n* +get +@hash\n'
                'user bob off nopass allkeys -@all +set\n'
                'user default on nopass ~* &* +@all\n')
        outs = []
        for kind in ('redis', 'cachebox'):
            srv = Server(kind, config=conf)
            try:
                with srv.raw() as c:
                    out = [c.cmd('ACL', 'LIST'), c.cmd('AUTH', 'alice', 'pw'),
                           c.cmd('HGET', 'a:1', 'f'), c.cmd('SET', 'a:1', 'v'), c.cmd('GET', 'b')]
                outs.append(out)
            finally:
                srv.cleanup()
        self.assertEqual(outs[0], outs[1])

    def test_rename_command(self):
        conf = ('rename-command CONFIG ""\nrename-command FLUSHALL wipe\n'
                'rename-command wipe wipe2\n')
        cmds = [('CONFIG', 'GET', 'port'), ('FLUSHALL',), ('WIPE',), ('WIPE2',), ('wipe2', 'x'),
                ('ACL', 'SETUSER', 'rn', 'on', 'nopass', '+flushall', '-config'),
                ('ACL', 'SETUSER', 'rn', '+wipe2'), ('ACL', 'GETUSER', 'rn'),
                ('COMMAND', 'INFO', 'flushall', 'config|get'), ('ACL', 'DRYRUN', 'rn', 'wipe2'),
                ('ACL', 'DRYRUN', 'rn', 'flushall'), ('AUTH', 'rn', 'x'), ('WIPE2',)]
        outs = []
        for kind in ('redis', 'cachebox'):
            srv = Server(kind, config=conf)
            try:
                with srv.raw() as c:
                    outs.append([c.cmd(*cmd) for cmd in cmds])
            finally:
                srv.cleanup()
        self.assertEqual(outs[0], outs[1])

    def test_bad_rename_refuses_start(self):
        srv = Server('cachebox', config='rename-command NOSUCH x\n', wait=False)
        try:
            srv.proc.wait(timeout=10)
            self.assertNotEqual(srv.proc.returncode, 0)
            self.assertIn('No such command in rename-command', srv.log())
        finally:
            srv.cleanup()

    def test_config_rewrite_keeps_users(self):
        conf = '# users\nuser alice on >pw ~a* +get\nuser gone on nopass +@all\n'
        outs = []
        for kind in ('redis', 'cachebox'):
            srv = Server(kind, config=conf)
            try:
                with srv.raw() as c:
                    c.cmd('ACL', 'SETUSER', 'bob', 'on', 'nopass', '+set', '~b*')
                    c.cmd('ACL', 'DELUSER', 'gone')
                    self.assertEqual(c.cmd('CONFIG', 'REWRITE'), b'+OK\r\n')
                with open(srv.config_path) as f:
                    text = f.read()
                lines = text.splitlines()
                outs.append([l for l in lines if l.startswith(('user ', '# users'))])
                srv.stop()
                srv2 = Server(kind, config=text)
                try:
                    with srv2.raw() as c:
                        outs[-1].append(c.cmd('ACL', 'LIST'))
                finally:
                    srv2.cleanup()
            finally:
                srv.cleanup()
        self.assertEqual(outs[0], outs[1])

    def test_bad_user_directive_refuses_start(self):
        srv = Server('cachebox', config='user alice on +nosuch\n', wait=False)
        try:
            srv.proc.wait(timeout=10)
            self.assertNotEqual(srv.proc.returncode, 0)
            self.assertIn('Unknown command or category name in ACL', srv.log())
        finally:
            srv.cleanup()

    def test_aclfile_load_save(self):
        outs = []
        for kind in ('redis', 'cachebox'):
            d = tempfile.mkdtemp(prefix='cbacl-')
            p = os.path.join(d, 'users.acl')
            with open(p, 'w') as f:
                f.write('user default on nopass ~* &* +@all\nuser carl on >c ~c:* -@all +get\n')
            srv = Server(kind, args=('--aclfile', p))
            try:
                with srv.raw() as c:
                    out = [c.cmd('ACL', 'LIST'),
                           c.cmd('ACL', 'SETUSER', 'dora', 'on', '>d', '~d:*', '+set'),
                           c.cmd('ACL', 'SAVE'), c.cmd('ACL', 'DELUSER', 'carl')]
                    c.cmd('ACL', 'SETUSER', 'tmp', 'on')
                    with srv.raw() as carl:
                        carl.cmd('AUTH', 'carl', 'c')
                        out += [c.cmd('ACL', 'LOAD'), carl.is_closed()]
                    out += [c.cmd('ACL', 'LIST'),
                            c.cmd('AUTH', 'dora', 'd'), c.cmd('SET', 'd:1', 'v'),
                            c.cmd('GET', 'd:1')]
                    with open(p) as f:
                        out.append(f.read())
                    with open(p, 'w') as f:
                        f.write('user default on nopass ~* &* +@all\nbogus line\n')
                    out.append(c.cmd('ACL', 'LOAD'))
                outs.append(out)
            finally:
                srv.cleanup()
                shutil.rmtree(d, ignore_errors=True)
        self.assertEqual(outs[0], outs[1])


import test_server  # noqa: E402  (the veth rig for protected mode)


class AclProtectedMode(test_server.ProtectedMode):
    """Protected mode follows the default user: a password given by a "user"
    directive (no requirepass) lets remote clients in, and ACL SETUSER
    default nopass closes the door again for new connections."""
    NS = 'cbt-apm%d' % os.getpid()
    HOST_IF = 'cbtap%da' % (os.getpid() % 10000)
    PEER_IF = 'cbtap%db' % (os.getpid() % 10000)
    SRV_IP, CLI_IP = '10.99.78.1', '10.99.78.2'
    test_protected_mode = None

    def test_default_user_password_opens(self):
        outs = []
        for kind in ('redis', 'cachebox'):
            srv = Server(kind, bind=self.SRV_IP + ' 127.0.0.1', wait=False,
                         config='user default on >pw ~* &* +@all\n')
            srv.host = '127.0.0.1'
            try:
                srv.wait_ready()
                out = [self._ping_from_ns(srv.port),
                       self._ping_from_ns(srv.port, '--user', 'default', '--pass', 'pw',
                                          '--no-auth-warning')]
                with srv.raw() as c:
                    c.cmd('AUTH', 'pw')
                    c.cmd('ACL', 'SETUSER', 'default', 'nopass')
                out.append(self._ping_from_ns(srv.port))
                outs.append(out)
            finally:
                srv.cleanup()
        self.assertEqual(outs[0], outs[1])
        self.assertIn('NOAUTH', outs[1][0])
        self.assertEqual(outs[1][1].strip(), 'PONG')
        self.assertIn('DENIED', outs[1][2])


if __name__ == '__main__':
    unittest.main()
