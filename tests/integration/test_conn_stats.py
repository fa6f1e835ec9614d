"""Per-IP connection counters and the connection rate (dataplane/conn_stats.c):
connections from several loopback source addresses (127.0.0.2, 127.0.0.3, ...;
Linux lets a socket bound to any of them reach 127.0.0.1, so the server keeps
cbtest's loopback bind and no wildcard port can collide; on the DPDK plane
cbtest.loopback_alias gives stand-ins the rig routes locally), refusals by
maxclients and by protected mode (from the host's own non-loopback address when
it has one), seen in INFO connections, GET /metrics (ip="..." labels) and GET
/clients?by=ip; the per-IP table stays bounded under a scan of many addresses,
and the heavy hitters stay in it. Two workers, so the tables are merged.
"""
import socket
import subprocess
import time
import unittest

from cbtest import DPDK, local_addr, loopback_alias as alias, parse
from test_control import ControlBase, parse_exposition


def connect_from(src, srv):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(5)
    s.connect((srv.host, srv.port))
    return s


def ping_from(src, srv):
    with connect_from(src, srv) as s:
        s.sendall(b'PING\r\n')
        return s.recv(200)


def non_loopback_ipv4():
    try:
        out = subprocess.run(['hostname', '-I'], stdout=subprocess.PIPE, timeout=5).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return None
    for a in out.split():
        if '.' in a and not a.startswith('127.'):
            return a
    return None


def info_connections(srv):
    with srv.raw() as c:
        text = parse(c.cmd('INFO', 'connections')).decode()
    fields, ips = {}, {}
    for line in text.split('\r\n'):
        if not line or line.startswith('#'):
            continue
        k, _, v = line.partition(':')
        if k.startswith('ip') and k[2:].isdigit():
            d = dict(kv.split('=', 1) for kv in v.split(','))
            addr = d.pop('addr')
            ips[addr] = {k2: int(v2) for k2, v2 in d.items()}
        else:
            fields[k] = v
    return fields, ips


class ConnStatsTest(ControlBase):
    ARGS = ('--io-workers', '2')

    def test_per_ip_counters_everywhere(self):
        srv, http, _ = self.start()
        r = srv.redis(decode_responses=False)
        a2, a3, a4 = alias('127.0.0.2'), alias('127.0.0.3'), alias('127.0.0.4')
        for _ in range(10):
            self.assertEqual(ping_from(a2, srv), b'+PONG\r\n')
        for _ in range(2):
            self.assertEqual(ping_from(a3, srv), b'+PONG\r\n')
        # maxclients: fill up from 127.0.0.4, the next one from 127.0.0.3 is refused.
        r.ping()
        base = int(r.info('clients')['connected_clients'])
        r.config_set('maxclients', base + 1)
        hold = connect_from(a4, srv)
        self.addCleanup(hold.close)
        hold.sendall(b'PING\r\n')
        self.assertEqual(hold.recv(100), b'+PONG\r\n')
        with connect_from(a3, srv) as s:
            self.assertEqual(s.recv(200), b'-ERR max number of clients reached\r\n')
        r.config_set('maxclients', 10000)
        # Protected mode refuses the host's own non-loopback address (on the
        # DPDK plane every client is remote: cbtest turns protected mode off).
        ext = None if DPDK else non_loopback_ipv4()
        if ext:
            with connect_from(ext, srv) as s:
                self.assertTrue(s.recv(100).startswith(b'-DENIED Redis is running in protected mode'))
        fields, ips = info_connections(srv)
        self.assertEqual(ips[a2], {'accepted': 10, 'rejected_maxclients': 0,
                                            'rejected_protected_mode': 0})
        self.assertEqual(ips[a3], {'accepted': 2, 'rejected_maxclients': 1,
                                            'rejected_protected_mode': 0})
        self.assertEqual(ips[a4]['accepted'], 1)
        self.assertEqual(list(ips)[0], a2)     # the top address first
        self.assertEqual(int(fields['conn_rejected_maxclients']), 1)
        if ext:
            self.assertEqual(ips[ext]['rejected_protected_mode'], 1)
            self.assertEqual(int(fields['conn_rejected_protected_mode']), 1)
        self.assertGreaterEqual(int(fields['conn_accepted']), 13)
        self.assertEqual(int(r.info('stats')['rejected_connections']), 2 if ext else 1)
        # The rate counts full seconds: wait for this one to end.
        time.sleep(1.1)
        fields, _ = info_connections(srv)
        self.assertGreaterEqual(int(fields['conn_window_accepted']), 13)
        self.assertEqual(fields['conn_window_sec'], '10')
        self.assertGreater(float(fields['conn_rate_per_sec']), 1.0)
        # Prometheus.
        st, _, body = http('/metrics')
        self.assertEqual(st, 200)
        series = parse_exposition(body.decode())
        name = 'cachebox_ip_connection_attempts_total'
        self.assertEqual(series[(name, '{ip="%s",result="accepted"}' % a2)], 10)
        self.assertEqual(series[(name, '{ip="%s",result="rejected_maxclients"}' % a3)], 1)
        self.assertEqual(series[('cachebox_conn_rejected_maxclients_total', '')], 1)
        self.assertGreater(series[('cachebox_conn_rate_per_sec', '')], 1.0)
        # JSON.
        st, js = http.json('/clients?by=ip')
        self.assertEqual(st, 200)
        by = {e['ip']: e for e in js['ips']}
        self.assertEqual(by[a3]['rejected_maxclients'], 1)
        self.assertEqual(by[a2]['accepted'], 10)
        self.assertEqual(js['rejected_maxclients'], 1)
        self.assertEqual(http.json('/clients?by=port')[0], 400)
        self.assertIsInstance(http.json('/clients')[1], list)   # the client list as before
        # INFO everything has the section; INFO all (what Redis tools read) does not.
        with srv.raw() as c:
            self.assertIn(b'# Connections', c.cmd('INFO', 'everything'))
            self.assertNotIn(b'# Connections', c.cmd('INFO', 'all'))
        # CONFIG RESETSTAT clears them.
        r.config_resetstat()
        fields, ips = info_connections(srv)   # its own connection is the one counted
        self.assertEqual(fields['conn_accepted'], '1')
        self.assertEqual(list(ips), [local_addr(srv)])

    def test_table_is_bounded_and_keeps_heavy_hitters(self):
        srv, http, _ = self.start('--io-workers', '1')
        r = srv.redis(decode_responses=False)
        for _ in range(20):
            ping_from(alias('127.0.0.2'), srv)
        for i in range(300):   # a scan: 300 one-off addresses
            ping_from(alias('127.1.%d.%d' % (i // 250, i % 250 + 1)), srv)
        fields, ips = info_connections(srv)
        self.assertLessEqual(int(fields['conn_ip_entries']), 128)
        self.assertGreater(int(fields['conn_ip_replaced']), 0)
        self.assertEqual(list(ips)[0], alias('127.0.0.2'))
        self.assertEqual(ips[alias('127.0.0.2')]['accepted'], 20)
        self.assertLessEqual(len(ips), 16)
        st, js = http.json('/clients?by=ip')
        self.assertLessEqual(len(js['ips']), 128)
        self.assertGreaterEqual(int(fields['conn_accepted']), 320)


if __name__ == '__main__':
    unittest.main()
