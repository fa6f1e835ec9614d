"""SLOWLOG and LATENCY with real timings (DEBUG SLEEP makes slow calls),
run against cachebox and the oracle: slow log entries (ids, duration,
truncated arguments, client address and name, redaction, max-len, reset),
slow logs of several workers merged, latency monitor events, per-command
histograms in LATENCY HISTOGRAM's shape, INFO latencystats and
CONFIG RESETSTAT. The deterministic replies are in
tests/diff/monitoring.cmds.
"""
import re
import time
import unittest

import re

from cbtest import ServerTest, for_kinds, local_addr, parse

# LATENCY HISTOGRAM labels: highest equivalent of 1024 ns << k, in us.
LEVELS = {1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454, 16908, 33816,
          67633, 135266, 270532, 541065, 1082130}


def pairs(flat):
    return dict(zip(flat[0::2], flat[1::2]))


class _Slowlog:
    SERVER_ARGS = ('--enable-debug-command', 'yes')

    def setUp(self):
        super().setUp()
        self.c = self.raw()
        self.c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '20000')
        self.c.cmd('CONFIG', 'SET', 'slowlog-max-len', '128')
        self.c.cmd('SLOWLOG', 'RESET')

    def tearDown(self):
        self.c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '10000')
        super().tearDown()

    def test_debug_sleep_logged(self):
        c = self.c
        c.cmd('CLIENT', 'SETNAME', 'sleeper')
        c.cmd('SET', 'fast', 'x')
        c.cmd('DEBUG', 'SLEEP', '0.03')
        entries = parse(c.cmd('SLOWLOG', 'GET'))
        self.assertEqual(len(entries), 1)
        e = entries[0]
        self.assertEqual(len(e), 6)
        self.assertIsInstance(e[0], int)
        self.assertLessEqual(abs(e[1] - time.time()), 5)
        self.assertGreaterEqual(e[2], 30000)
        self.assertLess(e[2], 2000000)
        self.assertEqual(e[3], [b'DEBUG', b'SLEEP', b'0.03'])
        self.assertRegex(e[4].decode(), r'^%s:\d+$' % re.escape(local_addr(self.server)))
        self.assertEqual(e[5], b'sleeper')
        self.assertEqual(parse(c.cmd('SLOWLOG', 'LEN')), 1)
        c.cmd('DEBUG', 'SLEEP', '0.03')
        entries = parse(c.cmd('SLOWLOG', 'GET', '-1'))
        self.assertEqual(len(entries), 2)
        self.assertGreater(entries[0][0], entries[1][0])   # newest first
        self.assertEqual(len(parse(c.cmd('SLOWLOG', 'GET', '1'))), 1)
        self.assertEqual(parse(c.cmd('SLOWLOG', 'RESET')), b'OK')
        self.assertEqual(parse(c.cmd('SLOWLOG', 'LEN')), 0)

    def test_arguments_truncated_and_redacted(self):
        c = self.c
        c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '0')
        c.cmd('SET', 'big', 'x' * 200)
        c.cmd('RPUSH', 'l', *[str(i) for i in range(40)])
        c.cmd('AUTH', 'secret')
        c.cmd('ACL', 'SETUSER', 'bob', 'on', '>pw', '~*', '+get')
        c.cmd('ACL', 'DELUSER', 'bob')
        c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '20000')
        entries = parse(c.cmd('SLOWLOG', 'GET', '-1'))
        by_cmd = {e[3][0].lower(): e[3] for e in entries}
        self.assertEqual(by_cmd[b'set'][2], b'x' * 128 + b'... (72 more bytes)')
        rp = by_cmd[b'rpush']
        self.assertEqual(len(rp), 32)
        self.assertEqual(rp[30], b'28')
        self.assertEqual(rp[31], b'... (11 more arguments)')
        self.assertEqual(by_cmd[b'auth'], [b'AUTH', b'(redacted)'])
        self.assertEqual(by_cmd[b'acl'][:3], [b'ACL', b'SETUSER', b'(redacted)'])
        self.assertEqual(set(by_cmd[b'acl'][2:]), {b'(redacted)'})

    def test_blocking_command_counted_once(self):
        c = self.c
        c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '0')
        c.cmd('CONFIG', 'RESETSTAT')
        c.cmd('SLOWLOG', 'RESET')
        self.assertIsNone(parse(c.cmd('BLPOP', 'nolist', '0.05')))     # times out
        c.send(b'*3\r\n$5\r\nBLPOP\r\n$2\r\nq2\r\n$1\r\n5\r\n')
        time.sleep(0.1)
        other = self.raw()
        other.cmd('LPUSH', 'q2', 'x')
        self.assertEqual(parse(c.read_reply()), [b'q2', b'x'])
        c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '-1')
        stats = parse(c.cmd('INFO', 'commandstats')).decode()
        self.assertIn('cmdstat_blpop:calls=2,', stats)
        logged = [e[3] for e in parse(c.cmd('SLOWLOG', 'GET', '-1'))]
        self.assertIn([b'BLPOP', b'q2', b'5'], logged)
        self.assertNotIn([b'BLPOP', b'nolist', b'0.05'], logged)   # Redis skips timeouts

    def test_script_commands_logged(self):
        c = self.c
        c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '0')
        c.cmd('EVAL', "redis.call('set','x','y') return 1", '0')
        c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '-1')
        entries = parse(c.cmd('SLOWLOG', 'GET', '-1'))
        inner = [e for e in entries if e[3] == [b'set', b'x', b'y']]
        self.assertEqual(len(inner), 1)
        self.assertEqual(inner[0][4:], [b'?:0', b''])
        self.assertEqual(len([e for e in entries if e[3][0] == b'EVAL']), 1)

    def test_max_len(self):
        c = self.c
        c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '0')
        c.cmd('CONFIG', 'SET', 'slowlog-max-len', '3')
        for i in range(10):
            c.cmd('SET', 'k%d' % i, 'v')
        c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '20000')
        entries = parse(c.cmd('SLOWLOG', 'GET', '-1'))
        self.assertEqual(len(entries), 3)
        self.assertEqual(parse(c.cmd('SLOWLOG', 'LEN')), 3)
        c.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '-1')
        c.cmd('DEBUG', 'SLEEP', '0.03')
        self.assertEqual(parse(c.cmd('SLOWLOG', 'LEN')), 3)


class _Latency:
    SERVER_ARGS = ('--enable-debug-command', 'yes')

    def setUp(self):
        super().setUp()
        self.c = self.raw()
        self.c.cmd('LATENCY', 'RESET')
        self.c.cmd('CONFIG', 'RESETSTAT')

    def tearDown(self):
        self.c.cmd('CONFIG', 'SET', 'latency-monitor-threshold', '0')
        self.c.cmd('CONFIG', 'SET', 'latency-tracking', 'yes')
        super().tearDown()

    def test_monitor_events(self):
        c = self.c
        c.cmd('CONFIG', 'SET', 'latency-monitor-threshold', '10')
        text = parse(c.cmd('LATENCY', 'DOCTOR'))
        self.assertTrue(text.startswith(b'Dave, no latency spike was observed'))
        c.cmd('DEBUG', 'SLEEP', '0.03')
        c.cmd('SET', 'a', 'b')
        latest = parse(c.cmd('LATENCY', 'LATEST'))
        self.assertEqual(len(latest), 1)
        name, when, last, worst = latest[0]
        self.assertEqual(name, b'command')
        self.assertLessEqual(abs(when - time.time()), 5)
        self.assertGreaterEqual(last, 30)
        self.assertEqual(worst, last)
        hist = parse(c.cmd('LATENCY', 'HISTORY', 'command'))
        self.assertEqual(len(hist), 1)
        self.assertEqual(hist[0][1], last)
        graph = parse(c.cmd('LATENCY', 'GRAPH', 'command')).decode()
        self.assertRegex(graph, r'^command - high \d+ ms, low \d+ ms \(all time high \d+ ms\)\n-{80}\n')
        self.assertNotIn('no latency spike', parse(c.cmd('LATENCY', 'DOCTOR')).decode())
        self.assertEqual(parse(c.cmd('LATENCY', 'RESET', 'command', 'nosuch')), 1)
        self.assertEqual(parse(c.cmd('LATENCY', 'LATEST')), [])

    def test_histogram_and_latencystats(self):
        c = self.c
        for i in range(20):
            c.cmd('SET', 'k', 'v')
        c.cmd('DEBUG', 'SLEEP', '0.002')
        h = parse(c.cmd('LATENCY', 'HISTOGRAM', 'set', 'debug', 'nosuch'))
        h = pairs(h)
        self.assertEqual(set(h), {b'set', b'debug'})
        s = pairs(h[b'set'])
        self.assertEqual(s[b'calls'], 20)
        buckets = pairs(s[b'histogram_usec'])
        self.assertTrue(set(buckets) <= LEVELS, buckets)
        counts = [buckets[k] for k in sorted(buckets)]
        self.assertEqual(counts, sorted(counts))      # cumulative
        self.assertEqual(counts[-1], 20)
        d = pairs(pairs(h[b'debug'])[b'histogram_usec'])
        self.assertGreaterEqual(max(d), 2000)
        info = parse(c.cmd('INFO', 'latencystats')).decode()
        m = re.search(r'latency_percentiles_usec_set:p50=(\d+\.\d{3}),p99=(\d+\.\d{3}),'
                      r'p99\.9=(\d+\.\d{3})\r\n', info)
        self.assertIsNotNone(m, info)
        self.assertLessEqual(float(m.group(1)), float(m.group(2)))
        c.cmd('CONFIG', 'SET', 'latency-tracking-info-percentiles', '0 100')
        info = parse(c.cmd('INFO', 'latencystats')).decode()
        self.assertRegex(info, r'latency_percentiles_usec_set:p0=[\d.]+,p100=[\d.]+\r\n')
        c.cmd('CONFIG', 'SET', 'latency-tracking-info-percentiles', '50 99 99.9')
        # RESETSTAT forgets the histograms; tracking off records nothing.
        c.cmd('CONFIG', 'RESETSTAT')
        c.cmd('CONFIG', 'SET', 'latency-tracking', 'no')
        c.cmd('SET', 'k', 'v')
        self.assertEqual(parse(c.cmd('LATENCY', 'HISTOGRAM', 'set')), [])
        self.assertNotIn('latency_percentiles_usec_set', parse(c.cmd('INFO', 'latencystats')).decode())


class SlowlogWorkers(ServerTest):
    """Slow logs of three workers merge into one, ordered by id."""
    SERVER_ARGS = ('--io-workers', '3', '--enable-debug-command', 'yes')

    def test_merged(self):
        admin = self.raw()
        admin.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '0')
        admin.cmd('SLOWLOG', 'RESET')
        conns = [self.raw() for _ in range(6)]
        for i, c in enumerate(conns):
            c.cmd('CLIENT', 'SETNAME', 'conn%d' % i)
            c.cmd('SET', 'key%d' % i, 'v')
        admin.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '-1')
        entries = parse(admin.cmd('SLOWLOG', 'GET', '-1'))
        sets = [e for e in entries if e[3][0] == b'SET']
        self.assertEqual(len(sets), 6)
        # Commands another worker ran for the client keep its address and name.
        self.assertEqual(sorted(e[5] for e in sets), [b'conn%d' % i for i in range(6)])
        for e in sets:
            self.assertRegex(e[4].decode(), r'^%s:\d+$' % re.escape(local_addr(self.server)))
        ids = [e[0] for e in entries]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertEqual(len(set(ids)), len(ids))
        self.assertEqual(parse(admin.cmd('SLOWLOG', 'LEN')), len(entries))
        admin.cmd('SLOWLOG', 'RESET')
        self.assertEqual(parse(admin.cmd('SLOWLOG', 'LEN')), 0)
        admin.cmd('CONFIG', 'SET', 'slowlog-log-slower-than', '10000')


globals().update(for_kinds(_Slowlog))
globals().update(for_kinds(_Latency))

if __name__ == '__main__':
    unittest.main()
