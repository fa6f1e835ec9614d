"""Client eviction (`maxmemory-clients`) against cachebox and redis-server
side by side: clients with big query buffers or big unread replies are
closed biggest first once the clients' total memory reaches the limit,
small clients and CLIENT NO-EVICT clients survive, INFO stats counts them
in evicted_clients, and CLIENT LIST's qbuf / omem / tot-mem show the memory
that made the difference. Behaviour is compared, not exact byte counts.
Also the directive's CONFIG SET / GET forms (bytes or a percentage).
"""
import socket
import time
import unittest

from cbtest import Server, ServerTest, for_kinds, kinds_for_identical, parse

BULK = 2000000


def client_list(c):
    out = {}
    for line in parse(c.cmd('CLIENT', 'LIST')).decode().strip().split('\n'):
        d = dict(kv.split('=', 1) for kv in line.split(' '))
        out[int(d['id'])] = d
    return out


def info_field(c, section, name):
    for line in parse(c.cmd('INFO', section)).decode().split('\r\n'):
        if line.startswith(name + ':'):
            return line.split(':', 1)[1]
    return None


class _Eviction:
    def wait_for(self, pred, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            if pred():
                return True
            time.sleep(0.05)
        return pred()

    def ctl(self):
        c = self.raw()
        self.assertEqual(c.cmd('CLIENT', 'NO-EVICT', 'on'), b'+OK\r\n')
        self.addCleanup(lambda: c.cmd('CONFIG', 'SET', 'maxmemory-clients', '0'))
        return c

    def client_id(self, c):
        return parse(c.cmd('CLIENT', 'ID'))

    def test_config_forms(self):
        c = self.raw()
        self.addCleanup(lambda: c.cmd('CONFIG', 'SET', 'maxmemory-clients', '0'))
        self.assertEqual(parse(c.cmd('CONFIG', 'GET', 'maxmemory-clients')),
                         [b'maxmemory-clients', b'0'])
        for v, shown in (('10%', b'10%'), ('1mb', b'1048576'), ('100%', b'100%'),
                         ('0%', b'0'), ('12345', b'12345')):
            self.assertEqual(c.cmd('CONFIG', 'SET', 'maxmemory-clients', v), b'+OK\r\n', v)
            self.assertEqual(parse(c.cmd('CONFIG', 'GET', 'maxmemory-clients'))[1], shown, v)
        pre = (b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - ")
        for v in ('abc', '-5', '1.5%', '%', '-1%', '1kb%'):
            self.assertEqual(c.cmd('CONFIG', 'SET', 'maxmemory-clients', v),
                             pre + b'argument must be a memory or percent value\r\n', v)
        self.assertEqual(c.cmd('CONFIG', 'SET', 'maxmemory-clients', '101%'),
                         pre + b'percentage argument must be less or equal to 100\r\n')

    def test_big_query_buffers_evicted_first(self):
        ctl = self.ctl()
        before = int(info_field(ctl, 'stats', 'evicted_clients'))
        small = [self.raw() for _ in range(3)]
        for s in small:
            self.assertEqual(s.cmd('PING'), b'+PONG\r\n')
        ids_small = [self.client_id(s) for s in small]
        keep = self.raw()
        self.assertEqual(keep.cmd('CLIENT', 'NO-EVICT', 'on'), b'+OK\r\n')
        big = [self.raw() for _ in range(2)]
        ids_big = [self.client_id(b) for b in big]
        id_keep = self.client_id(keep)
        head = b'*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n' % (BULK + 10)
        for c in big + [keep]:
            c.send(head + b'x' * BULK)
        # Every big client's query buffer is visible in CLIENT LIST first.
        def grown():
            cl = client_list(ctl)
            return all(int(cl[i]['qbuf']) >= BULK for i in ids_big + [id_keep] if i in cl)
        self.assertTrue(self.wait_for(grown), client_list(ctl))
        cl = client_list(ctl)
        for i in ids_big + [id_keep]:
            self.assertGreaterEqual(int(cl[i]['tot-mem']), int(cl[i]['qbuf']))
        for i in ids_small:
            self.assertLess(int(cl[i]['tot-mem']), 100000)
        self.assertEqual(ctl.cmd('CONFIG', 'SET', 'maxmemory-clients', '3mb'), b'+OK\r\n')
        ctl.cmd('PING')
        self.assertTrue(self.wait_for(lambda: not (set(ids_big) & set(client_list(ctl)))),
                        client_list(ctl))
        for b in big:
            self.assertTrue(b.is_closed())
        cl = client_list(ctl)
        for i in ids_small + [id_keep]:
            self.assertIn(i, cl)
        for s in small:
            self.assertEqual(s.cmd('PING'), b'+PONG\r\n')
        self.assertEqual(int(info_field(ctl, 'stats', 'evicted_clients')) - before, 2)
        keep.send(b'y' * 10 + b'\r\n')
        self.assertEqual(keep.read_reply(), b'+OK\r\n')

    def reader(self, rcvbuf=4096):
        """A raw socket that reads nothing unless asked: replies pile up."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.connect((self.server.host, self.server.port))
        self.addCleanup(s.close)
        s.sendall(b'CLIENT ID\r\n')
        return s, int(s.recv(100).strip()[1:])

    def test_big_unread_replies_evicted(self):
        ctl = self.ctl()
        before = int(info_field(ctl, 'stats', 'evicted_clients'))
        ctl.cmd('SET', 'v', 'z' * 1000000)
        small = [self.raw() for _ in range(2)]
        ids_small = [self.client_id(s) for s in small]
        keep, id_keep = self.reader()
        keep.sendall(b'CLIENT NO-EVICT on\r\n')
        self.assertEqual(keep.recv(100), b'+OK\r\n')
        big = [self.reader() for _ in range(2)]
        ids_big = [i for _, i in big]
        for s, _ in big:
            s.sendall(b'GET v\r\n' * 20)
        keep.sendall(b'GET v\r\n' * 3)
        def queued():
            cl = client_list(ctl)
            return (all(i in cl and int(cl[i]['omem']) >= 8000000 for i in ids_big) and
                    id_keep in cl and int(cl[id_keep]['omem']) >= 500000)
        self.assertTrue(self.wait_for(queued), client_list(ctl))
        cl = client_list(ctl)
        for i in ids_big + [id_keep]:
            self.assertGreaterEqual(int(cl[i]['tot-mem']), int(cl[i]['omem']))
        self.assertEqual(ctl.cmd('CONFIG', 'SET', 'maxmemory-clients', '8mb'), b'+OK\r\n')
        ctl.cmd('PING')
        self.assertTrue(self.wait_for(lambda: not (set(ids_big) & set(client_list(ctl)))),
                        client_list(ctl))
        cl = client_list(ctl)
        for i in ids_small + [id_keep]:
            self.assertIn(i, cl)
        for s in small:
            self.assertEqual(s.cmd('PING'), b'+PONG\r\n')
        self.assertEqual(int(info_field(ctl, 'stats', 'evicted_clients')) - before, 2)

    def test_tiny_limit_is_128k(self):
        # A limit under 128 KiB counts as 128 KiB: a few idle clients stay.
        ctl = self.raw()
        self.addCleanup(lambda: ctl.cmd('CONFIG', 'SET', 'maxmemory-clients', '0'))
        others = [self.raw() for _ in range(2)]
        self.assertEqual(ctl.cmd('CONFIG', 'SET', 'maxmemory-clients', '1000'), b'+OK\r\n')
        time.sleep(0.3)
        for c in others + [ctl]:
            self.assertEqual(c.cmd('PING'), b'+PONG\r\n')

    def test_percent_of_maxmemory(self):
        ctl = self.ctl()
        self.addCleanup(lambda: ctl.cmd('CONFIG', 'SET', 'maxmemory', '0'))
        before = int(info_field(ctl, 'stats', 'evicted_clients'))
        big = self.raw()
        id_big = self.client_id(big)
        big.send(b'*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n' % (BULK + 10) + b'x' * BULK)
        self.assertTrue(self.wait_for(
            lambda: int(client_list(ctl).get(id_big, {'qbuf': 0})['qbuf']) >= BULK))
        # 10% of 100mb: the client stays; 1% of it (1 MB): it goes.
        ctl.cmd('CONFIG', 'SET', 'maxmemory', '100mb')
        ctl.cmd('CONFIG', 'SET', 'maxmemory-clients', '10%')
        ctl.cmd('PING')
        time.sleep(0.3)
        self.assertIn(id_big, client_list(ctl))
        ctl.cmd('CONFIG', 'SET', 'maxmemory-clients', '1%')
        ctl.cmd('PING')
        self.assertTrue(self.wait_for(lambda: id_big not in client_list(ctl)))
        self.assertEqual(int(info_field(ctl, 'stats', 'evicted_clients')) - before, 1)


globals().update(for_kinds(_Eviction))


class EvictionRewrite(unittest.TestCase):
    """CONFIG REWRITE writes the directive as Redis does, on both servers."""

    def test_rewrite_forms(self):
        got = {}
        for kind in kinds_for_identical():
            srv = Server(kind, config='# mine\n')
            self.addCleanup(srv.cleanup)
            lines = []
            with srv.raw() as c:
                for v in ('10%', '1mb', '1000', '0'):
                    self.assertEqual(c.cmd('CONFIG', 'SET', 'maxmemory-clients', v), b'+OK\r\n')
                    self.assertEqual(c.cmd('CONFIG', 'REWRITE'), b'+OK\r\n')
                    with open(srv.config_path) as f:
                        lines.append([l for l in f.read().split('\n')
                                      if l.startswith('maxmemory-clients')])
            got[kind] = lines
            self.assertEqual(lines, [['maxmemory-clients 10%'], ['maxmemory-clients 1mb'],
                                     ['maxmemory-clients 1000'], ['maxmemory-clients 0']], kind)


class EvictionWorkers(_Eviction, ServerTest):
    """Two workers: each evicts its own clients, the total is shared."""
    SERVER_ARGS = ('--io-workers', '2')

    def test_config_forms(self):
        pass


if __name__ == '__main__':
    unittest.main()
