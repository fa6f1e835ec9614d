"""Debian's prometheus-redis-exporter scraping cachebox and redis-server
side by side, after the same commands on both: every metric name the
exporter exports for redis-server must be exported for cachebox too, both
scrapes must succeed (redis_up 1, no scrape error) and the exporter must
log no parse errors. Skipped when the exporter is not installed
(deploy/setup.sh installs it).
"""
import os
import re
import shutil
import subprocess
import time
import unittest
import urllib.request

from cbtest import Server, free_port

EXPORTER = shutil.which('prometheus-redis-exporter')


def metric_names(text):
    out = set()
    for line in text.splitlines():
        if line and not line.startswith('#'):
            out.add(re.split(r'[{ ]', line, 1)[0])
    return out


@unittest.skipUnless(EXPORTER, 'prometheus-redis-exporter not installed')
class ExporterSideBySide(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.servers, cls.exporters, cls.logs = {}, {}, {}
        for kind in ('cachebox', 'redis'):
            srv = Server(kind)
            cls.servers[kind] = srv
            c = srv.raw()
            # Data behind the per-db, per-command, per-error and latency
            # metrics, the same on both.
            for cmd in (('SET', 'a', '1'), ('EXPIRE', 'a', '1000'), ('SET', 'b', '2'),
                        ('GET', 'a'), ('GET', 'nokey'), ('GET',), ('HSET', 'a', 'f', 'v'),
                        ('SELECT', '2'), ('SET', 'c', '3'), ('LPUSH', 'l', 'x'),
                        ('PUBLISH', 'ch', 'm')):
                c.cmd(*cmd)
            c.close()
            port = free_port()
            log = open(os.path.join(srv.dir, 'exporter.log'), 'wb')
            cls.logs[kind] = log
            cls.exporters[kind] = (subprocess.Popen(
                [EXPORTER, '-redis.addr', 'redis://%s:%d' % (srv.host, srv.port),
                 '-web.listen-address', '127.0.0.1:%d' % port, '-redis-only-metrics'],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL), port)

    @classmethod
    def tearDownClass(cls):
        for proc, _ in cls.exporters.values():
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in cls.logs.values():
            log.close()
        for srv in cls.servers.values():
            srv.cleanup()

    def scrape(self, kind):
        proc, port = self.exporters[kind]
        deadline = time.time() + 15
        while True:
            try:
                with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=10) as r:
                    return r.read().decode()
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)

    def test_metric_names_contain_redis(self):
        redis_text = self.scrape('redis')
        cb_text = self.scrape('cachebox')
        want, got = metric_names(redis_text), metric_names(cb_text)
        self.assertGreater(len(want), 100)
        missing = sorted(want - got)
        self.assertEqual(missing, [], 'metrics exported for redis-server but not cachebox')
        lines = set(cb_text.splitlines())
        for want_line in ('redis_up 1', 'redis_exporter_last_scrape_error{err=""} 0',
                          'redis_commands_total{cmd="get"} 2',
                          'redis_commands_rejected_calls_total{cmd="get"} 1',
                          'redis_db_keys{db="db0"} 2', 'redis_db_keys{db="db2"} 2',
                          'redis_errors_total{err="ERR"} 1',
                          'redis_errors_total{err="WRONGTYPE"} 1',
                          'redis_config_io_threads 1'):
            self.assertIn(want_line, lines)
        self.assertIn('redis_latency_percentiles_usec_count{cmd="set"} 3', lines)

    def test_no_parse_errors_logged(self):
        self.scrape('cachebox')
        self.logs['cachebox'].flush()
        with open(self.logs['cachebox'].name, 'rb') as f:
            log = f.read().decode(errors='replace')
        self.assertNotRegex(log, r'(?i)level=(error|warn)', log[-2000:])


if __name__ == '__main__':
    unittest.main()
