"""LATENCY GRAPH and LATENCY DOCTOR byte for byte against redis-server 7.0
for the same event history (dataplane/latency_report.c).

Both servers get the same events at the same wall-clock seconds: each
DEBUG SLEEP runs on both at once, right after a second starts, so the
samples carry the same unix second on both; GRAPH and DOCTOR are asked of
both at once right after the next second starts, so the age labels and the
doctor's "period" see the same clock. When both histories (LATENCY HISTORY)
came out equal, which is the normal case, the replies must be identical
bytes. A sleep can take a millisecond more on one server under load: then
each reply is checked against a model of the format computed from that
server's own history (the model is itself checked against redis-server in
every run), so the test still proves the format without flaking.
The event order of a multi-event DOCTOR is Redis's dict order (random per
process), so there the event lines are compared as a set.
"""
import re
import threading
import time
import unittest

from cbtest import Server, parse


def graph_model(name, hist, maxv, now):
    vals = [v for _, v in hist]
    lo, hi = min(vals), max(vals)
    out = '%s - high %d ms, low %d ms (all time high %d ms)\n' % (name, hi, lo, maxv) + '-' * 80 + '\n'
    rng = float(hi - lo) if hi > lo else 1.0
    blocks = []
    for start in range(0, len(hist), 80):
        part = hist[start:start + 80]
        lv = [min(max(int(int((v - lo) * 12.0) / rng), 0), 11) for _, v in part]
        rows = []
        for r in range(4):
            base = (3 - r) * 3
            rows.append(''.join(' ' if k - base < 0 else '_o#'[k - base] if k - base < 3 else '|'
                                for k in lv))
        rows.append(' ' * len(part))
        labels = []
        for t, _ in part:
            age = now - t
            labels.append('%ds' % age if age < 60 else '%dm' % (age // 60) if age < 3600 else
                          '%dh' % (age // 3600) if age < 86400 else '%dd' % (age // 86400))
        for k in range(max(len(l) for l in labels)):
            rows.append(''.join(l[k] if len(l) > k else ' ' for l in labels))
        blocks.append(''.join(r + '\n' for r in rows))
    return out + '\n'.join(blocks)


def spike_line(i, name, hist, maxv, now):
    vals = [v for _, v in hist]
    avg = sum(vals) // len(vals)
    mad = sum(abs(avg - v) for v in vals) // len(vals)
    period = max(now - min(t for t, _ in hist), 1)
    return ('%d. %s: %d latency spikes (average %dms, mean deviation %dms, period %.2f sec). '
            'Worst all time event %dms.' % (i, name, len(vals), avg, mad, period / len(vals), maxv))


class LatencyReportSideBySide(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.servers = {}
        for kind in ('redis', 'cachebox'):
            cls.servers[kind] = Server(kind, args=('--enable-debug-command', 'yes'))
        cls.conns = {k: s.raw(10.0) for k, s in cls.servers.items()}

    @classmethod
    def tearDownClass(cls):
        for c in cls.conns.values():
            c.close()
        for s in cls.servers.values():
            s.cleanup()

    def setUp(self):
        self.both('CONFIG', 'SET', 'latency-monitor-threshold', '5')
        self.both('CONFIG', 'SET', 'slowlog-log-slower-than', '10000')
        self.both('CONFIG', 'SET', 'hz', '10')
        self.both('LATENCY', 'RESET')

    def both(self, *args):
        out = {}

        def run(k):
            out[k] = self.conns[k].cmd(*args)
        ts = [threading.Thread(target=run, args=(k,)) for k in self.conns]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return out

    @staticmethod
    def next_second():
        time.sleep(1.0 - time.time() % 1.0 + 0.02)

    def sleeps(self, *secs):
        for s in secs:
            self.next_second()
            self.both('DEBUG', 'SLEEP', s)
        self.next_second()

    def history(self, kind, event):
        return [tuple(p) for p in parse(self.conns[kind].cmd('LATENCY', 'HISTORY', event))]

    def maxof(self, kind, event):
        for e in parse(self.conns[kind].cmd('LATENCY', 'LATEST')):
            if e[0] == event.encode():
                return e[3]
        return None

    def ask(self, *args):
        """Asks both within one second; returns (replies, that second)."""
        for _ in range(3):
            t0 = int(time.time())
            r = self.both(*args)
            if int(time.time()) == t0:
                return r, t0
            self.next_second()
        self.fail('could not ask both servers within one second')

    def check_graph(self, event='command'):
        # Histories first: a report taking over the threshold adds a sample.
        hist = {k: self.history(k, event) for k in self.conns}
        maxv = {k: self.maxof(k, event) for k in self.conns}
        g, now = self.ask('LATENCY', 'GRAPH', event)
        for k in self.conns:
            want = graph_model(event, hist[k], maxv[k], now)
            self.assertEqual(parse(g[k]).decode(), want, k)
        if hist['redis'] == hist['cachebox']:
            self.assertEqual(g['cachebox'], g['redis'])
        return g

    def check_doctor(self, events=('command',)):
        hist = {k: {e: self.history(k, e) for e in events} for k in self.conns}
        maxv = {k: {e: self.maxof(k, e) for e in events} for k in self.conns}
        d, now = self.ask('LATENCY', 'DOCTOR')
        texts = {k: parse(d[k]).decode() for k in self.conns}
        for k in self.conns:
            lines = texts[k].split('\n')
            got = sorted(re.sub(r'^\d+\. ', '', l) for l in lines if re.match(r'^\d+\. ', l))
            want = sorted(re.sub(r'^\d+\. ', '', spike_line(0, e, hist[k][e], maxv[k][e], now))
                          for e in events)
            self.assertEqual(got, want, k)
        # Everything but the event lines is the same text on both.
        strip = {k: re.sub(r'(?m)^\d+\. .*\n', '', texts[k]) for k in texts}
        self.assertEqual(strip['cachebox'], strip['redis'])
        if len(events) == 1 and hist['redis'] == hist['cachebox']:
            self.assertEqual(d['cachebox'], d['redis'])
        return texts['cachebox']

    def test_one_sample(self):
        self.sleeps('0.02')
        self.check_graph()
        text = self.check_doctor()
        self.assertIn("'CONFIG SET slowlog-log-slower-than 5000'", text)

    def test_several_samples(self):
        self.sleeps('0.01', '0.03', '0.02', '0.06', '0.01', '0.045')
        g = self.check_graph()
        self.assertIn(b'#', g['cachebox'])
        self.check_doctor()

    def test_equal_values(self):
        self.both('CONFIG', 'SET', 'latency-monitor-threshold', '1')
        self.sleeps('0.01', '0.01', '0.01')
        self.check_graph()
        self.check_doctor()

    def test_slowlog_advice_variants(self):
        self.sleeps('0.01')
        self.both('CONFIG', 'SET', 'slowlog-log-slower-than', '-1')
        self.assertIn('Try to enable the Slow Log', self.check_doctor())
        self.both('CONFIG', 'SET', 'slowlog-log-slower-than', '1000')
        text = self.check_doctor()
        self.assertNotIn('Try to enable the Slow Log', text)
        self.assertNotIn('Your current Slow Log configuration', text)

    def test_fast_command_and_command(self):
        # GET of a big string is a slow "fast" command on both servers.
        self.both('SETRANGE', 'big', '60000000', 'x')
        self.both('LATENCY', 'RESET')
        self.both('CONFIG', 'SET', 'latency-monitor-threshold', '1')
        self.next_second()
        fast = self.both('GET', 'big')
        self.assertTrue(all(len(v) > 60000000 for v in fast.values()))
        have = {k: self.history(k, 'fast-command') for k in self.conns}
        if not all(have.values()):
            self.skipTest('GET of 60 MB took under 1 ms here')
        self.both('CONFIG', 'SET', 'latency-monitor-threshold', '5')
        self.sleeps('0.01')
        text = self.check_doctor(events=('fast-command', 'command'))
        self.assertIn('  5) Check if the problem is allocator-related', text)
        self.check_graph('fast-command')
        self.both('DEL', 'big')

    def test_disabled_and_quiet_texts(self):
        self.assertEqual(self.both('LATENCY', 'DOCTOR')['cachebox'],
                         self.both('LATENCY', 'DOCTOR')['redis'])
        self.both('CONFIG', 'SET', 'latency-monitor-threshold', '0')
        d = self.both('LATENCY', 'DOCTOR')
        self.assertEqual(d['cachebox'], d['redis'])
        g = self.both('LATENCY', 'GRAPH', 'command')
        self.assertEqual(g['cachebox'], g['redis'])


if __name__ == '__main__':
    unittest.main()
