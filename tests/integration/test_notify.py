"""test_notify — keyspace notifications, differential against redis-server 7.0.

Both servers run with the same notify-keyspace-events setting; a listener
connection on each PSUBSCRIBEs to __key*@*__:* and a writer connection sends
the same command script: every line of tests/diff/*.cmds (minus commands
that would disturb the run: subscriptions, CONFIG SET of the notify or
network directives, SHUTDOWN, MONITOR, CLIENT KILL/PAUSE...) plus a table of
lines below that the corpus lacks (expiry made deterministic with a 1 ms
PEXPIRE followed by a read, blocking pops served by a second client).
After every command the writer publishes a marker that the listener's
pattern also matches, so the messages are compared command by command and a
mismatch names the line that caused it.

Run alone: /usr/bin/python3 tests/integration/run_all.py notify
"""
import glob
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cbtest  # noqa: E402

sys.path.insert(0, os.path.join(cbtest.ROOT, 'tests', 'diff'))
import run_diff  # noqa: E402

PATTERN = '__key*@*__:*'
MARK = b'__keyspace@99__:mark'

# First words (or first two) of corpus lines the script leaves out.
SKIP_CMDS = {
    'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe',
    'sunsubscribe', 'monitor', 'shutdown', 'quit', 'reset', 'hello', 'auth',
    'debug reload', 'debug restart', 'debug segfault', 'debug crash-and-recover',
    'debug populate', 'debug jmap', 'debug set-active-expire', 'client kill', 'client pause', 'client unpause', 'client reply',
    'client unblock', 'config rewrite', 'config resetstat', 'pfselftest',
    'pfdebug',
}
# CONFIG SET of these would change the run itself.
SKIP_CONFIG = ('notify', 'port', 'bind', 'dir', 'timeout', 'requirepass', 'maxclients',
               'client-output-buffer-limit', 'maxmemory', 'save', 'appendonly',
               'daemonize', 'enable-')

# Lines the corpus lacks; '@block' runs the next line on a second client
# without waiting, '@wait' reads that client's reply.
EXTRA = r"""
@flush
SET e1 v
PEXPIRE e1 1
@sleep
GET e1
SET e2 v PX 1
@sleep
EXISTS e2
HSET e3 f v
PEXPIRE e3 1
@sleep
TYPE e3
SET e4 v
PEXPIRE e4 1
@sleep
SET e4 w
GET nokey
MGET nokey1 nokey2
EXISTS nokey
TTL nokey
DUMP nokey
OBJECT ENCODING nokey
SET s1 1
INCR s1
INCRBY s1 5
DECR s1
DECRBY s1 2
INCRBYFLOAT s1 1.5
APPEND s1 xx
APPEND s2 yy
SETRANGE s1 0 zz
SETRANGE s3 3 a
SETRANGE s1 0 ""
GETSET s1 new
GETDEL s1
GETDEL s1
GETEX s2 EX 100
GETEX s2 PERSIST
GETEX s2 PX 1
@sleep
GET s2
SET s5 v EX 100
GETEX s5 PXAT 1
MSET m1 a m2 b
MSETNX m3 a m4 b
MSETNX m1 a m5 b
SETNX m6 v
SETNX m6 w
SETEX m7 100 v
PSETEX m8 100000 v
SET m9 v NX GET
SET m9 w XX KEEPTTL
SET m9 v EX 0
EXPIRE m9 -1
EXPIRE m1 100
EXPIRE m1 100 NX
PERSIST m1
PERSIST m1
PEXPIREAT m2 1
EXPIREAT m3 99999999999
RENAME m3 m10
RENAMENX m10 m4
RENAMENX m10 m11
RENAME m11 m11
MOVE m11 1
COPY m4 m12
COPY m4 m12 REPLACE
COPY m4 m13 DB 2
DEL m4 m12 nokey
UNLINK m13 m10
TOUCH m6 nokey
RPUSH l1 a b c d e
LPUSH l1 z
LPUSHX l1 y
RPUSHX l1 x
LPUSHX nol y
LPOP l1
RPOP l1 2
LINSERT l1 BEFORE b bb
LSET l1 0 q
LREM l1 0 bb
LTRIM l1 0 1
LTRIM l1 5 10
RPUSH l2 a b
LMOVE l2 l3 LEFT RIGHT
RPOPLPUSH l2 l3
LMOVE l3 l3 LEFT LEFT
LMPOP 2 nol l3 LEFT COUNT 10
RPUSH l4 a
BLPOP l4 0
RPUSH l4 a
BLMOVE l4 l5 RIGHT LEFT 0
BLMPOP 0 1 l5 RIGHT
HSET h1 a 1 b 2
HSETNX h1 a 2
HSETNX h1 c 3
HINCRBY h1 a 5
HINCRBYFLOAT h1 b 1.5
HDEL h1 a nof
HDEL h1 b c
HMSET h2 x 1
SADD st1 a b c
SADD st1 a
SREM st1 a
SREM st1 zz
SMOVE st1 st2 b
SMOVE st1 st2 c
SPOP st2
SPOP st2
SADD st3 1 2 3
SADD st4 2 3 4
SINTERSTORE st5 st3 st4
SUNIONSTORE st5 st3 st4
SDIFFSTORE st5 st3 st4
SINTERSTORE st5 st3 nokey
SPOP st3 5
ZADD z1 1 a 2 b 3 c
ZADD z1 INCR 2 a
ZINCRBY z1 1 b
ZREM z1 a
ZREMRANGEBYSCORE z1 0 0
ZREMRANGEBYSCORE z1 0 2.5
ZADD z1 1 x 2 y
ZREMRANGEBYRANK z1 0 0
ZREMRANGEBYLEX z1 - +
ZADD z2 1 a 2 b
ZADD z3 3 b 4 c
ZUNIONSTORE z4 2 z2 z3
ZINTERSTORE z4 2 z2 z3
ZDIFFSTORE z4 2 z2 z3
ZINTERSTORE z4 2 z2 nokey
ZRANGESTORE z5 z3 0 -1
ZRANGESTORE z5 z3 5 10
ZPOPMIN z2
ZPOPMAX z2 5
BZPOPMIN z3 0
BZMPOP 0 1 z3 MAX COUNT 5
ZMPOP 1 z5 MIN
XADD x1 1-1 a 1
XADD x1 MAXLEN 1 * a 2
XTRIM x1 MAXLEN 0
XDEL x1 1-1
XADD x2 1-1 a 1
XADD x2 2-1 a 1
XGROUP CREATE x2 g1 0
XGROUP CREATE x3 g1 $ MKSTREAM
XGROUP CREATECONSUMER x2 g1 c1
XGROUP CREATECONSUMER x2 g1 c1
XGROUP SETID x2 g1 0
XREADGROUP GROUP g1 c2 COUNT 1 STREAMS x2 >
XCLAIM x2 g1 c3 0 1-1
XAUTOCLAIM x2 g1 c4 0 0
XGROUP DELCONSUMER x2 g1 c4
XGROUP DESTROY x2 g1
XSETID x2 5-0
XADD x2 NOMKSTREAM * a 1
XADD x9 NOMKSTREAM * a 1
SETBIT b1 7 1
SETBIT b1 7 1
BITFIELD b1 SET u8 0 255
BITFIELD b1 GET u8 0
BITOP AND b2 b1 b1
BITOP AND b2 nokey nokey
PFADD p1 a b
PFADD p1 a
PFADD p2
PFMERGE p3 p1 p2
PFCOUNT p1
GEOADD g1 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOSEARCHSTORE g2 g1 FROMMEMBER Palermo BYRADIUS 500 km
GEOSEARCHSTORE g2 g1 FROMMEMBER Palermo BYRADIUS 500 km STOREDIST
GEORADIUS g1 15 37 200 km STORE g3
RPUSH srt 3 1 2
SORT srt STORE srt2
SORT nokey STORE srt2
SORT srt BY nosort GET key_*
SORT srt BY nokey_* STORE srt3
SORT srt BY nokey_* GET nokey_* GET # STORE srt3
SORT srt BY nokey_*
SET rs v
DUMP rs
SET rsd "\x00\x01v\x0a\x00\xbe\x7c\x0a\x2d\xa0\xb7\x0d\x1b"
RESTORE rs2 0 "\x00\x01v\x0a\x00\xbe\x7c\x0a\x2d\xa0\xb7\x0d\x1b"
RESTORE rs2 0 "\x00\x01v\x0a\x00\xbe\x7c\x0a\x2d\xa0\xb7\x0d\x1b" REPLACE
@block
BLPOP bl1 0
RPUSH bl1 a b
@wait
@block
BRPOP bl2 0
LPUSH bl2 a
@wait
@block
BLMOVE bl3 bl4 RIGHT LEFT 0
RPUSH bl3 x
@wait
@block
BRPOPLPUSH bl5 bl5 0
RPUSH bl5 x
@wait
@block
BLMPOP 0 2 bl6 bl7 LEFT COUNT 5
RPUSH bl7 a b
@wait
@block
BZPOPMIN bz1 0
ZADD bz1 1 a 2 b
@wait
@block
BZMPOP 0 1 bz2 MAX COUNT 3
ZADD bz2 1 a
@wait
XGROUP CREATE bx1 g $ MKSTREAM
@block
XREADGROUP GROUP g alice BLOCK 0 STREAMS bx1 >
XADD bx1 1-1 f v
@wait
@block
XREAD BLOCK 0 STREAMS bx2 $
XADD bx2 1-1 f v
@wait
SELECT 3
SET d3 v
LPUSH d3l a
SELECT 0
SWAPDB 0 3
SWAPDB 0 3
FLUSHDB
SET f v
FLUSHALL
MULTI
SET t1 v
INCR t1
LPUSH t2 a
EXEC
FLUSHALL
SET e5 v PX 1
SET e6 v
@sleep
KEYS *
SCAN 0
DEL e6
SET e7 v PX 1
@sleep
RANDOMKEY
SET e8 v PX 1
@sleep
EXPIRE e8 100
SET e9 v PX 1
@sleep
LPUSH e9 a
SET e10 v PX 1
@sleep
DBSIZE
TTL e10
"""


def lines_of(text):
    out = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith('#'):
            continue
        if s.startswith('@'):
            out.append((s, None))
            continue
        out.append((s, run_diff.tokenize(s)))
    return out


def corpus_script():
    script = []
    for path in sorted(glob.glob(os.path.join(cbtest.ROOT, 'tests', 'diff', '*.cmds'))):
        name = os.path.basename(path)
        script.append(('@flush', None))
        for lineno, kind, payload, _flags in run_diff.parse_file(path):
            if kind == 'flush':
                script.append(('@flush', None))
            if kind != 'cmd':
                continue
            words = [a.decode('latin-1').lower() for a in payload[:2]]
            if words[0] in SKIP_CMDS or ' '.join(words) in SKIP_CMDS:
                continue
            if words[0] == 'config' and len(payload) > 2 and words[1] == 'set' and any(
                    p in payload[2].decode('latin-1').lower() for p in SKIP_CONFIG):
                continue
            # Subscriber mode inside a transaction, blocking forever, random keys.
            if words[0] in ('multi',):
                pass
            script.append(('%s:%d' % (name, lineno), payload))
    return script


class Listener(threading.Thread):
    """Reads pmessages from a PSUBSCRIBEd connection until told to stop."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.conn = server.raw(timeout=30)
        self.conn.cmd('PSUBSCRIBE', PATTERN)
        self.msgs = []
        self.error = None

    def run(self):
        try:
            while True:
                m = cbtest.parse(self.conn.read_reply())
                ch, payload = m[2], m[3]
                self.msgs.append((ch, payload))
                if ch == MARK and payload == b'END':
                    return
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def run_script(server, script, flags):
    """Messages per script step on this server: a list of lists."""
    w = server.raw(timeout=30)
    w.cmd('CONFIG', 'SET', 'notify-keyspace-events', flags)
    # Only lazy expiry here, so "expired" comes at the same step on both
    # (active expiry has its own test).
    w.cmd('DEBUG', 'SET-ACTIVE-EXPIRE', '0')
    w.cmd('FLUSHALL')
    listener = Listener(server)
    listener.start()
    blocked = server.raw(timeout=30)
    block_next = False
    for tag, args in script:
        if args is None:
            if tag == '@flush':
                w.cmd('SELECT', '0')
                w.cmd('FLUSHALL')
            elif tag == '@sleep':
                time.sleep(0.005)
            elif tag == '@block':
                block_next = True
            elif tag == '@wait':
                blocked.read_reply()
            w.cmd('PUBLISH', MARK, tag)
            continue
        if block_next:
            blocked.send(cbtest.encode_command(*args))
            block_next = False
            time.sleep(0.05)
        else:
            try:
                w.cmd(*args)
            except cbtest.ConnectionClosed:
                w = server.raw(timeout=30)
        w.cmd('PUBLISH', MARK, tag)
    w.cmd('PUBLISH', MARK, 'END')
    listener.join(30)
    if listener.error:
        raise listener.error
    steps, cur = [], []
    for ch, payload in listener.msgs:
        if ch == MARK:
            steps.append((payload.decode('latin-1'), cur))
            cur = []
        else:
            cur.append((ch, payload))
    w.close()
    blocked.close()
    listener.conn.close()
    return steps


def compare(a, b):
    """The first differing steps, as printable lines."""
    out = []
    for (ta, ma), (tb, mb) in zip(a, b):
        if ta != tb:
            out.append('step mismatch %s vs %s' % (ta, tb))
            break
        if ma != mb:
            out.append('%s:\n   redis:    %r\n   cachebox: %r' % (ta, ma, mb))
    if len(a) != len(b):
        out.append('step count %d vs %d' % (len(a), len(b)))
    return out


def full_script():
    return corpus_script() + [('@flush', None)] + lines_of(EXTRA)


class NotifyDiff(unittest.TestCase):
    """The whole script with every class on, then subsets on the EXTRA table."""

    workers = 1

    @classmethod
    def setUpClass(cls):
        cls.redis = cbtest.Server('redis', args=('--enable-debug-command', 'yes'))
        cls.cbox = cbtest.Server('cachebox', args=('--enable-debug-command', 'yes',
                                                   '--io-workers', str(cls.workers)))

    @classmethod
    def tearDownClass(cls):
        for s in (cls.redis, cls.cbox):
            s.stop()
            s.cleanup()

    def check(self, script, flags):
        a = run_script(self.redis, script, flags)
        b = run_script(self.cbox, script, flags)
        diffs = compare(a, b)
        self.assertFalse(diffs, 'flags %r, %d mismatches:\n%s' % (
            flags, len(diffs), '\n'.join(diffs[:40])))
        return a

    def test_all_classes(self):
        steps = self.check(full_script(), 'KEAmn')
        self.assertGreater(sum(len(m) for _, m in steps), 1000)

    def test_subsets(self):
        script = lines_of(EXTRA)
        for flags in ('Kx', 'E$', 'Elg', 'KEm', 'KEn', 'KEd', 'Kh', 'Ezt', 'KEs', 'K', ''):
            with self.subTest(flags=flags):
                self.check(script, flags)


    def test_active_expiry(self):
        """Keys nobody reads expire in the background: same events."""
        keys = ['ax%d' % i for i in range(20)]
        for srv in (self.redis, self.cbox):
            w = srv.raw()
            w.cmd('CONFIG', 'SET', 'notify-keyspace-events', 'KEx')
            w.cmd('DEBUG', 'SET-ACTIVE-EXPIRE', '1')
            w.cmd('FLUSHALL')
            listener = Listener(srv)
            listener.start()
            for k in keys:
                w.cmd('SET', k, 'v', 'PX', '5')
            deadline = time.time() + 10
            while time.time() < deadline and len(listener.msgs) < 2 * len(keys):
                time.sleep(0.02)
            w.cmd('PUBLISH', MARK, 'END')
            listener.join(10)
            got = sorted(listener.msgs[:-1])
            want = sorted([(b'__keyspace@0__:' + k.encode(), b'expired') for k in keys] +
                          [(b'__keyevent@0__:expired', k.encode()) for k in keys])
            self.assertEqual(got, want, srv.kind)
            self.assertEqual(w.cmd('DBSIZE'), b':0\r\n')
            w.close()
            listener.conn.close()

    def test_subscribers_everywhere(self):
        """Every subscriber gets each event once, whichever worker it is on;
        the events of one key keep their order."""
        w = self.cbox.raw()
        w.cmd('CONFIG', 'SET', 'notify-keyspace-events', 'KA')
        w.cmd('DEBUG', 'SET-ACTIVE-EXPIRE', '0')
        w.cmd('FLUSHALL')
        listeners = [Listener(self.cbox) for _ in range(6)]
        for li in listeners:
            li.start()
        script = []
        for i in range(50):
            k = 'k%d' % i
            script += [('SET', k, 'v'), ('APPEND', k, 'x'), ('DEL', k)]
        for cmd in script:
            w.cmd(*cmd)
        w.cmd('PUBLISH', MARK, 'END')
        want = [(b'__keyspace@0__:' + c[1].encode(), c[0].lower().encode()) for c in script]
        for li in listeners:
            li.join(10)
            self.assertEqual(li.msgs[:-1], want)
            li.conn.close()
        w.close()


class NotifyDiffWorkers(NotifyDiff):
    """The same with keys spread over three shards."""

    workers = 3


class NotifyConfig(unittest.TestCase):
    """CONFIG SET/GET notify-keyspace-events: parsing, canonical form, errors."""

    def test_config(self):
        with cbtest.Server('redis') as r, cbtest.Server('cachebox') as c:
            ra, ca = r.raw(), c.raw()
            for v in ('KEA', 'An', 'AKEmn', 'Kn', 'nK', 'g$lshzxetd', 'gx', 'Kq', '',
                      'KEAmn', 'KEn', 'KEd', 'Ex', 'mK', 'A', 'AA', 'lg$', 'K E'):
                for cmd in (('CONFIG', 'SET', 'notify-keyspace-events', v),
                            ('CONFIG', 'GET', 'notify-keyspace-events')):
                    self.assertEqual(ra.cmd(*cmd), ca.cmd(*cmd), (v, cmd))


if __name__ == '__main__':
    unittest.main()
