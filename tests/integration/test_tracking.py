"""Client-side caching side by side with redis-server: each scenario drives
several raw connections through the same steps on the oracle and on
cachebox (one worker, and three workers so that keys, tracked clients and
REDIRECT targets sit on different shards), and compares the exact bytes
every connection receives after every step — replies and invalidation
messages in order: RESP3 pushes, RESP2 REDIRECT to __redis__:invalidate,
BCAST prefixes, OPTIN/OPTOUT with CACHING, NOLOOP, FLUSHDB/FLUSHALL nulls,
MULTI/EXEC, expiry, a REDIRECT client going away (tracking-redir-broken),
and several tracking clients. Client ids differ between the servers, so a
step names them as {id:x} and replies show them the same way. The
tracking-table-max-keys eviction is random in Redis too: it is checked by
counting."""
import re
import socket
import time
import unittest

from cbtest import Server, encode_command

SETTLE = 0.03


class Conn:
    def __init__(self, port, host='127.0.0.1'):
        self.s = socket.create_connection((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, args):
        self.s.sendall(encode_command(*args))

    def drain(self, wait, first=None):
        """Everything that arrives until `wait` seconds of quiet (waiting
        up to `first` seconds for the first byte)."""
        out = b''
        if first:
            self.s.settimeout(first)
            try:
                out = self.s.recv(65536)
            except socket.timeout:
                return out
            if not out:
                return out
        self.s.settimeout(wait)
        while True:
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return out
            if not d:
                return out
            out += d

    def close(self):
        self.s.close()


def run_scenario(port, steps, host="127.0.0.1"):
    """Runs steps on a server; returns the normalized transcript."""
    conns, ids, out = {}, {}, []

    def conn(name):
        if name not in conns:
            conns[name] = Conn(port, host)
            conns[name].send(['CLIENT', 'ID'])
            ids[name] = int(conns[name].drain(0.2)[1:-2])
        return conns[name]

    def norm(data):
        for n, i in ids.items():
            tag = b'{id:%s}' % n.encode()
            data = re.sub(rb'(tracking-redir-broken\r\n|redirect\r\n|id\r\n):%d\r\n' % i,
                          rb'\1:' + tag + b'\r\n', data)
            data = re.sub(rb'redir=%d ' % i, b'redir=' + tag + b' ', data)
            if data == b':%d\r\n' % i:
                data = b':' + tag + b'\r\n'
        return data

    for step in steps:
        who = step[0]
        if who == 'sleep':
            time.sleep(step[1])
            continue
        if who == 'close':
            conns.pop(step[1]).close()
            time.sleep(0.05)
            continue
        c = conn(who)
        args = []
        for a in step[1:]:
            m = re.fullmatch(r'\{id:(\w+)\}', a)
            if m:
                conn(m.group(1))
                a = str(ids[m.group(1)])
            args.append(a)
        c.send(args)
        got = {}
        # The actor's reply first (a loaded machine may be slow), then what
        # the others were sent meanwhile.
        mine = c.drain(0.03, first=1.0)
        time.sleep(SETTLE)
        for name in sorted(conns):
            data = conns[name].drain(0.02)
            if name == who:
                data = mine + data
            if args[0].upper() == 'CLIENT' and args[1].upper() == 'INFO' and name == who:
                # Only the fields tracking owns are comparable.
                fl = re.search(rb'flags=(\S+)', data).group(1)
                rd = re.search(rb'redir=(-?\d+)', data).group(1)
                data = b'flags=' + fl + b' redir=' + rd + b' '
            if data:
                got[name] = norm(data)
        out.append((' '.join(step), got))
    for c in conns.values():
        c.close()
    return out


RESP3_DEFAULT = [
    ('a', 'HELLO', '3'), ('a', 'CLIENT', 'TRACKING', 'on'),
    ('a', 'GET', 'k1'), ('b', 'SET', 'k1', 'v'), ('a', 'GET', 'k1'),
    ('b', 'SET', 'k1', 'w'), ('b', 'SET', 'k1', 'x'),
    ('a', 'GET', 'k1'), ('a', 'SET', 'k1', 'self'),       # after its own +OK
    ('a', 'MGET', 'k1', 'k2', 'k3', 'k4'),
    ('b', 'DEL', 'k2', 'k3'), ('b', 'MSET', 'k1', '1', 'k4', '2'),
    ('a', 'HGETALL', 'h'), ('b', 'HSET', 'h', 'f', 'v'),
    ('a', 'LRANGE', 'l', '0', '-1'), ('b', 'RPUSH', 'l', 'x'),
    ('a', 'EXISTS', 'e'), ('b', 'SET', 'e', '1'),
    ('a', 'GET', 'k1'), ('a', 'MULTI'), ('a', 'GET', 'k5'), ('a', 'SET', 'k1', '9'),
    ('a', 'SET', 'k5', '9'), ('a', 'EXEC'),
    ('a', 'GET', 'gone'), ('b', 'SET', 'gone', '1', 'PX', '400'), ('a', 'GET', 'gone'),
    ('sleep', 0.8), ('b', 'PING'),                          # active expiry
    ('a', 'GET', 'k1'), ('b', 'FLUSHDB'), ('a', 'GET', 'k1'), ('a', 'FLUSHALL'),
    ('b', 'SET', 'k1', 'after'),                            # nothing: table forgotten
    ('a', 'CLIENT', 'TRACKINGINFO'), ('a', 'CLIENT', 'INFO'),
    # Invalidations get through CLIENT REPLY OFF.
    ('a', 'GET', 'q'), ('a', 'CLIENT', 'REPLY', 'OFF'), ('b', 'SET', 'q', '1'),
    ('a', 'GET', 'q'), ('a', 'SET', 'q', '2'), ('a', 'CLIENT', 'REPLY', 'ON'),
    ('a', 'CLIENT', 'TRACKING', 'off'), ('a', 'GET', 'k1'), ('b', 'SET', 'k1', 'z'),
    ('a', 'CLIENT', 'INFO'),
]

RESP2_REDIRECT = [
    ('r', 'SUBSCRIBE', '__redis__:invalidate'),
    ('a', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', '{id:r}'),
    ('a', 'CLIENT', 'GETREDIR'), ('a', 'CLIENT', 'TRACKINGINFO'), ('a', 'CLIENT', 'INFO'),
    ('a', 'GET', 'k1'), ('a', 'GET', 'k2'), ('b', 'SET', 'k1', 'v'), ('a', 'SET', 'k2', 'v'),
    ('a', 'GET', 'k1'), ('b', 'FLUSHALL'),
    # A RESP2 target that is not in Pub/Sub mode gets nothing.
    ('a', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', '{id:q}'),
    ('a', 'GET', 'k1'), ('b', 'SET', 'k1', 'v'),
    # A RESP3 target gets pushes.
    ('p', 'HELLO', '3'),
    ('a', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', '{id:p}'),
    ('a', 'GET', 'k1'), ('b', 'SET', 'k1', 'w'), ('b', 'FLUSHDB'),
    # The target goes away: RESP2 says nothing, then RESP3 hears of it.
    ('close', 'p'),
    ('a', 'GET', 'k1'), ('b', 'SET', 'k1', 'x'),
    ('a', 'CLIENT', 'TRACKINGINFO'), ('a', 'CLIENT', 'INFO'),
    ('a', 'HELLO', '3'), ('a', 'GET', 'k1'), ('b', 'SET', 'k1', 'y'),
    ('a', 'GET', 'k1'), ('a', 'SET', 'k1', 'z'),
    ('a', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', '{id:r}'),
    ('a', 'CLIENT', 'TRACKINGINFO'),
    ('a', 'GET', 'k1'), ('b', 'SET', 'k1', 'w'),
    ('a', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', '{id:a}'),   # to itself
    ('a', 'GET', 'k1'), ('b', 'SET', 'k1', 'v'),
]

BCAST = [
    ('a', 'HELLO', '3'),
    ('a', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'user:', 'PREFIX', 'obj:'),
    ('b', 'SET', 'user:1', 'x'), ('b', 'SET', 'obj:{t}2', 'x'), ('b', 'SET', 'other', 'x'),
    ('b', 'MSET', 'user:{t}2', 'a', 'user:{t}1', 'b', 'obj:{t}1', 'c'),
    ('b', 'DEL', 'user:1'), ('b', 'DEL', 'user:1'),
    ('a', 'SET', 'user:9', 'self'),
    ('c', 'HELLO', '3'), ('c', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'NOLOOP'),
    ('c', 'SET', 'user:9', 'mine'), ('b', 'SET', 'user:9', 'theirs'),
    ('c', 'CLIENT', 'TRACKINGINFO'), ('c', 'CLIENT', 'INFO'),
    ('a', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'zz'),
    ('a', 'CLIENT', 'TRACKINGINFO'),
    ('b', 'SET', 'zz1', '1'),
    ('b', 'INFO', 'stats'),
    ('a', 'FLUSHALL'),
    ('a', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'a', 'PREFIX', 'b', 'PREFIX', 'bc'),
    ('a', 'CLIENT', 'TRACKING', 'off'), ('c', 'RESET'),
    ('b', 'SET', 'user:1', 'nobody'),
    # RESP2 BCAST with REDIRECT.
    ('r', 'SUBSCRIBE', '__redis__:invalidate'),
    ('d', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'k', 'REDIRECT', '{id:r}'),
    ('b', 'SET', 'k1', '1'), ('b', 'SET', 'x1', '1'),
]

OPTIN_OPTOUT = [
    ('a', 'HELLO', '3'), ('a', 'CLIENT', 'TRACKING', 'on', 'OPTIN'),
    ('a', 'GET', 'k1'), ('a', 'CLIENT', 'CACHING', 'yes'), ('a', 'GET', 'k2'),
    ('a', 'GET', 'k3'),
    ('b', 'SET', 'k1', '1'), ('b', 'SET', 'k2', '1'), ('b', 'SET', 'k3', '1'),
    ('a', 'CLIENT', 'CACHING', 'yes'), ('a', 'MULTI'), ('a', 'GET', 'k4'), ('a', 'GET', 'k5'),
    ('a', 'EXEC'), ('a', 'GET', 'k6'),
    ('b', 'MSET', 'k4', '1'), ('b', 'SET', 'k5', '1'), ('b', 'SET', 'k6', '1'),
    ('c', 'HELLO', '3'), ('c', 'CLIENT', 'TRACKING', 'on', 'OPTOUT'),
    ('c', 'GET', 'k1'), ('c', 'CLIENT', 'CACHING', 'no'), ('c', 'GET', 'k2'), ('c', 'GET', 'k3'),
    ('b', 'SET', 'k1', '2'), ('b', 'SET', 'k2', '2'), ('b', 'SET', 'k3', '2'),
    ('c', 'CLIENT', 'CACHING', 'no'), ('c', 'CLIENT', 'TRACKINGINFO'),
    ('c', 'CLIENT', 'TRACKINGINFO'),
]

NOLOOP_MANY = [
    ('a', 'HELLO', '3'), ('a', 'CLIENT', 'TRACKING', 'on', 'NOLOOP'),
    ('b', 'HELLO', '3'), ('b', 'CLIENT', 'TRACKING', 'on'),
    ('c', 'HELLO', '3'), ('c', 'CLIENT', 'TRACKING', 'on'),
    ('a', 'GET', 'k'), ('b', 'GET', 'k'), ('c', 'GET', 'k'),
    ('a', 'SET', 'k', '1'),                                 # b and c hear, a not
    ('a', 'GET', 'k'), ('b', 'GET', 'k'),
    ('c', 'SET', 'k', '2'),                                 # a, b, then c itself
    ('a', 'GET', 'k'), ('a', 'INCR', 'k'), ('a', 'GET', 'k'), ('w', 'INCR', 'k'),
    ('b', 'MGET', 'k', 'j'), ('c', 'MGET', 'j', 'k'), ('w', 'DEL', 'k', 'j'),
    ('b', 'INFO', 'clients'),
]


def normalize_info(transcript):
    """INFO replies: keep only the tracking lines."""
    out = []
    for step, got in transcript:
        if ' INFO' in step and 'CLIENT' not in step:
            got = {n: b'\n'.join(line for line in d.split(b'\r\n') if b'tracking' in line)
                   for n, d in got.items()}
        out.append((step, got))
    return out


class _Tracking:
    ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.oracle = Server('redis')
        cls.server = Server('cachebox', args=cls.ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.oracle.cleanup()

    def compare(self, steps):
        for srv in (self.oracle, self.server):
            srv.redis().flushall()
        want = normalize_info(run_scenario(self.oracle.port, steps))
        got = normalize_info(run_scenario(self.server.port, steps, self.server.host))
        for (step, w), (_, g) in zip(want, got):
            self.assertEqual(g, w, 'after step: %s' % step)

    def test_resp3_default(self):
        self.compare(RESP3_DEFAULT)

    def test_resp2_redirect(self):
        self.compare(RESP2_REDIRECT)

    def test_bcast(self):
        self.compare(BCAST)

    def test_optin_optout(self):
        self.compare(OPTIN_OPTOUT)

    def test_noloop_and_many_clients(self):
        self.compare(NOLOOP_MANY)

    def test_table_max_keys(self):
        # Redis forgets random keys beyond the limit before the next command,
        # invalidating each for its readers: count, do not compare order.
        r = self.server.redis()
        r.config_set('tracking-table-max-keys', 5)
        try:
            a = Conn(self.server.port, self.server.host)
            a.send(['HELLO', '3'])
            a.drain(0.1)
            a.send(['CLIENT', 'TRACKING', 'on'])
            a.drain(0.1)
            data = b''
            for i in range(20):
                a.send(['GET', 'mk%d' % i])
                data += a.drain(0.01)
            r.ping()
            time.sleep(0.1)
            data += a.drain(0.2)
            info = r.info('stats')
            self.assertLessEqual(info['tracking_total_keys'], 6)
            a.send(['PING'])
            data += a.drain(0.2)
            self.assertGreaterEqual(data.count(b'invalidate'), 1)
            a.close()
        finally:
            r.config_set('tracking-table-max-keys', 1000000)


class TrackingOneWorker(_Tracking, unittest.TestCase):
    ARGS = ()


class TrackingThreeWorkers(_Tracking, unittest.TestCase):
    ARGS = ('--io-workers', '3')


if __name__ == '__main__':
    unittest.main()
