"""The control port end to end (docs/control-port.md): every endpoint driven
with curl, the bearer token (created with mode 0600 at first start, missing /
wrong / right, never in the log, INFO or CONFIG GET), malformed HTTP,
oversized headers and bodies, slowloris-style partial requests (the port
stays responsive and idle connections are dropped), keep-alive, concurrent
/metrics scrapes during a redis-benchmark write load, and the Prometheus
exposition checked line by line against the text format's grammar (no
duplicate series, one TYPE per family, every numeric INFO field exported).
Run with /usr/bin/python3 (python3-redis).
"""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from cbtest import CACHEBOX_BIN, ROOT, Server, free_port, is_redis_binary

CURL = shutil.which('curl') or '/usr/bin/curl'
BENCH = shutil.which('redis-benchmark') or '/usr/bin/redis-benchmark'


def wait_until(pred, timeout=10.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


# --------------------------------------------------- Prometheus text format

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r'(?:[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN)'
SAMPLE_RE = re.compile(r'^(%s)(\{(?:%s(?:,%s)*,?)?\})? (%s)(?: -?[0-9]+)?$' % (NAME, LABEL, LABEL, VALUE))
HELP_RE = re.compile(r'^# HELP (%s) (.*)$' % NAME)
TYPE_RE = re.compile(r'^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$' % NAME)


def parse_exposition(text):
    """Checks the exposition; returns {(name, labels): float}. Raises
    AssertionError naming the first bad line."""
    assert text.endswith('\n'), 'exposition must end with a newline'
    types, helps, series = {}, set(), {}
    current, closed = None, set()
    for n, line in enumerate(text.split('\n')[:-1], 1):
        if line.startswith('#'):
            m = HELP_RE.match(line) or TYPE_RE.match(line)
            assert m, 'line %d: bad comment %r' % (n, line)
            name = m.group(1)
            if line.startswith('# TYPE'):
                assert name not in types, 'line %d: second TYPE for %s' % (n, name)
                assert name not in closed, 'line %d: TYPE after samples of %s' % (n, name)
                types[name] = m.group(2)
            else:
                assert name not in helps, 'line %d: second HELP for %s' % (n, name)
                helps.add(name)
            continue
        assert line, 'line %d: empty line' % n
        m = SAMPLE_RE.match(line)
        assert m, 'line %d: not a sample: %r' % (n, line)
        name, labels, value = m.group(1), m.group(2) or '', m.group(3)
        family = name
        if name not in types:
            for suf in ('_bucket', '_sum', '_count'):
                if name.endswith(suf) and types.get(name[:-len(suf)]) == 'histogram':
                    family = name[:-len(suf)]
        assert family in types, 'line %d: sample of %s before its TYPE' % (n, name)
        if family != current:
            assert family not in closed, 'line %d: samples of %s not grouped' % (n, family)
            if current:
                closed.add(current)
            current = family
        key = (name, labels)
        assert key not in series, 'line %d: duplicate series %s%s' % (n, name, labels)
        series[key] = float(value.replace('Inf', 'inf'))
    return series


# ------------------------------------------------------------------- HTTP

class Http:
    """curl against one control port; returns (status, headers, body)."""

    def __init__(self, port, token):
        self.port = port
        self.token = token

    def __call__(self, path, method='GET', token=True, data=None, headers=(), timeout=20):
        cmd = [CURL, '-sS', '-D', '-', '-o', '-', '--max-time', str(timeout)]
        cmd += ['-I'] if method == 'HEAD' else ['-X', method]
        if token is True:
            token = self.token
        if token:
            cmd += ['-H', 'Authorization: Bearer %s' % token]
        for h in headers:
            cmd += ['-H', h]
        if data is not None:
            cmd += ['--data-binary', '@-']
        cmd.append('http://127.0.0.1:%d%s' % (self.port, path))
        p = subprocess.run(cmd, input=data if data is not None else b'', stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout + 5)
        assert p.returncode == 0, 'curl failed: %s' % p.stderr.decode()
        head, _, body = p.stdout.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        status = int(lines[0].split()[1])
        hdrs = {}
        for h in lines[1:]:
            k, _, v = h.partition(':')
            hdrs[k.strip().lower()] = v.strip()
        return status, hdrs, body

    def json(self, path, method='GET', **kw):
        st, h, body = self(path, method, **kw)
        assert h.get('content-type') == 'application/json', (st, h, body)
        return st, json.loads(body)


def raw_http(port, data, timeout=5.0, read=True):
    """Sends raw bytes; returns what the server answered before closing or
    going quiet (b'' if it closed without a word)."""
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(data)
        if not read:
            return b''
        out = b''
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b'\r\n\r\n' in out and b'Connection: close' not in out:
                    head, _, rest = out.partition(b'\r\n\r\n')
                    m = re.search(rb'Content-Length: (\d+)', head)
                    if m and len(rest) >= int(m.group(1)):
                        break
        except (socket.timeout, ConnectionResetError):
            pass
        return out


def status_of(resp):
    m = re.match(rb'HTTP/1\.[01] (\d{3})', resp)
    return int(m.group(1)) if m else None


@unittest.skipIf(is_redis_binary(CACHEBOX_BIN), 'the control port is cachebox\'s')
class ControlBase(unittest.TestCase):
    ARGS = ()

    def start(self, *args, token_file=None):
        cport = free_port()
        srv = Server('cachebox', args=['--control-port', cport] + list(self.ARGS) + list(args))
        self.addCleanup(srv.cleanup)
        self.addCleanup(self.check_clean_exit, srv)  # runs first
        path = token_file or os.path.join(srv.dir, 'control.token')
        with open(path) as f:
            token = f.read().strip()
        return srv, Http(cport, token), cport


    def check_clean_exit(self, srv):
        """Under ASan/UBSan a leak or a bad access shows in the log."""
        srv.stop()
        log = srv.log()
        self.assertNotIn('Sanitizer', log, log[-3000:])
        self.assertNotIn('runtime error', log, log[-3000:])


class ControlTokenTest(ControlBase):
    def test_token_created_0600_and_never_shown(self):
        s, http, _ = self.start()
        path = os.path.join(s.dir, 'control.token')
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertRegex(http.token, r'^[0-9a-f]{64}$')
        self.assertIn('Control port token created', s.log())
        r = s.redis()
        with s.raw() as raw:
            self.assertNotIn(http.token.encode(), raw.cmd('INFO', 'everything'))
        conf = r.config_get('*')
        self.assertEqual(conf['control-token-file'], 'control.token')
        self.assertFalse(any(http.token in v for v in conf.values()))
        st, body = http.json('/config/*')
        self.assertEqual(st, 200)
        self.assertFalse(any(http.token in v for v in body.values()))
        self.assertEqual(http('/info?section=everything')[0], 200)
        self.assertNotIn(http.token.encode(), http('/info?section=everything')[2])
        self.assertNotIn(http.token.encode(), http('/info.json?section=everything')[2])
        self.assertNotIn(http.token.encode(), http('/metrics')[2])
        # Directives of the control port take effect at start only.
        with self.assertRaises(Exception):
            r.config_set('control-port', '1')
        s.stop()
        self.assertNotIn(http.token, s.log())

    def test_existing_token_file_is_used_and_kept(self):
        tf = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'cbctl-%d.token' % os.getpid())
        with open(tf, 'w') as f:
            f.write('operator-chosen-token-0123456789\n')
        os.chmod(tf, 0o644)
        self.addCleanup(os.unlink, tf)
        s, http, _ = self.start('--control-token-file', tf, token_file=tf)
        self.assertEqual(http.token, 'operator-chosen-token-0123456789')
        self.assertEqual(http('/info')[0], 200)
        self.assertIn('readable by others', s.log())  # 0644 draws a warning
        with open(tf) as f:
            self.assertEqual(f.read(), 'operator-chosen-token-0123456789\n')

    def test_bad_token_file_refuses_to_start(self):
        tf = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'cbctl-short-%d.token' % os.getpid())
        with open(tf, 'w') as f:
            f.write('short\n')
        self.addCleanup(os.unlink, tf)
        with self.assertRaises(RuntimeError) as cm:
            Server('cachebox', args=['--control-port', free_port(), '--control-token-file', tf])
        self.assertIn('too short', str(cm.exception))

    def test_disabled_writes_no_token(self):
        s = Server('cachebox', args=['--control-port', '0'])
        self.addCleanup(s.cleanup)
        self.assertFalse(os.path.exists(os.path.join(s.dir, 'control.token')))

    def test_bind_address(self):
        with self.assertRaises(RuntimeError) as cm:
            Server('cachebox', args=['--control-port', free_port(), '--control-bind', 'nohost'])
        self.assertIn("control-bind 'nohost' is not an IPv4 or IPv6 address", str(cm.exception))
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(('::1', 0))
        except OSError:
            self.skipTest('no IPv6 loopback')
        s, http, cport = self.start('--control-bind', '::1')
        p = subprocess.run([CURL, '-sS', '-g', 'http://[::1]:%d/health/live' % cport],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        self.assertEqual(p.stdout, b'{"status":"live"}\n')
        p = subprocess.run([CURL, '-sS', '-g', '-H', 'Authorization: Bearer ' + http.token,
                            'http://[::1]:%d/config/control-bind' % cport],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
        self.assertEqual(json.loads(p.stdout), {'control-bind': '::1'})
        with self.assertRaises(OSError):
            socket.create_connection(('127.0.0.1', cport), timeout=2).close()

    def test_port_in_use_refuses_to_start(self):
        s, http, cport = self.start()
        with self.assertRaises(RuntimeError) as cm:
            Server('cachebox', args=['--control-port', cport])
        self.assertIn('control port', str(cm.exception))


class ControlAuthTest(ControlBase):
    def test_missing_wrong_right(self):
        s, http, _ = self.start('--loglevel', 'debug')  # the most the log ever says
        for path, method in (('/metrics', 'GET'), ('/info', 'GET'), ('/config/port', 'GET'),
                             ('/shutdown', 'POST'), ('/snapshot', 'POST'), ('/nope', 'GET')):
            st, h, body = http(path, method, token=None)
            self.assertEqual(st, 401, path)
            self.assertEqual(json.loads(body), {'error': 'missing bearer token'})
            self.assertIn('Bearer', h['www-authenticate'])
            st, h, body = http(path, method, token='not-the-token-' + 'x' * 50)
            self.assertEqual(st, 401, path)
            self.assertEqual(json.loads(body), {'error': 'invalid bearer token'})
        # A prefix of the right token, other schemes, and the token in the
        # query string are all refused.
        self.assertEqual(http('/info', token=http.token[:-1])[0], 401)
        self.assertEqual(http('/info', token=http.token + 'x')[0], 401)
        self.assertEqual(http('/info', token=False,
                              headers=['Authorization: Basic %s' % http.token])[0], 401)
        self.assertEqual(http('/info?token=%s' % http.token, token=False)[0], 401)
        self.assertTrue(s.alive())
        self.assertEqual(http('/info')[0], 200)
        self.assertEqual(http('/info', token=False,
                              headers=['Authorization: bearer   %s' % http.token])[0], 200)
        # Health needs no token.
        self.assertEqual(http('/health/live', token=None)[0], 200)
        self.assertEqual(http('/health/ready', token=None)[0], 200)
        series = parse_exposition(http('/metrics')[2].decode())
        self.assertGreaterEqual(series[('cachebox_control_unauthorized_total', '')], 16)
        log = s.log()
        self.assertIn('Control port: missing token', log)
        self.assertNotIn(http.token, log)
        self.assertNotIn('not-the-token', log)


class ControlEndpointsTest(ControlBase):
    def test_health(self):
        s, http, _ = self.start()
        st, body = http.json('/health/live', token=None)
        self.assertEqual((st, body), (200, {'status': 'live'}))
        st, body = http.json('/health/ready', token=None)
        self.assertEqual((st, body), (200, {'status': 'ready'}))
        self.assertEqual(http('/health/ready', 'POST', token=None)[0], 405)
        self.assertEqual(http('/health/other', token=None)[0], 404)

    def test_not_ready_while_loading(self):
        # A dataset big enough that loading it takes a moment.
        oracle = Server('redis', args=['--enable-debug-command', 'yes'])
        self.addCleanup(oracle.cleanup)
        ro = oracle.redis()
        ro.execute_command('DEBUG', 'POPULATE', 1500000, 'key', 20)
        ro.save()
        d = tempfile.mkdtemp(prefix='cbctl-load-')
        self.addCleanup(shutil.rmtree, d, True)
        shutil.copy(os.path.join(oracle.dir, 'dump.rdb'), os.path.join(d, 'big.rdb'))
        cport = free_port()
        # A later --dir wins over the one cbtest passes.
        s2 = Server('cachebox', args=['--control-port', cport, '--dir', d,
                                      '--dbfilename', 'big.rdb'], wait=False)
        self.addCleanup(s2.cleanup)
        tf = os.path.join(d, 'control.token')
        self.assertTrue(wait_until(lambda: os.path.exists(tf), 10))
        with open(tf) as f:
            http = Http(cport, f.read().strip())
        seen = []

        def probe():
            try:
                st, body = http.json('/health/ready', token=None, timeout=2)
            except AssertionError:
                return False  # not listening yet
            seen.append((st, body))
            if st == 503:
                self.assertIn('loading the dataset', body['reasons'])
                self.assertEqual(http.json('/health/live', token=None)[0], 200)
                # Loading may finish between two requests.
                mst, _, mbody = http('/metrics')
                if mst != 200:
                    self.assertEqual((mst, json.loads(mbody)),
                                     (503, {'error': 'loading the dataset'}))
                    seen_503_metrics.append(1)
            return st == 200
        seen_503_metrics = []
        self.assertTrue(wait_until(probe, 60, 0.01), seen[-3:])
        self.assertIn(503, [st for st, _ in seen])
        s2.wait_ready()
        self.assertEqual(s2.redis().dbsize(), 1500000)

    def test_ready_reports_misconf(self):
        s, http, _ = self.start('--save', '3600 1', '--enable-protected-configs', 'yes')
        r = s.redis()
        r.set('a', 'b')
        self.assertEqual(http('/config/dir', 'PUT', data=b'/proc')[0], 200)
        self.assertEqual(http.json('/snapshot', 'POST')[0], 202)
        self.assertTrue(wait_until(
            lambda: http.json('/persistence')[1]['rdb_last_bgsave_status'] == 'err', 10))
        st, body = http.json('/health/ready', token=None)
        self.assertEqual(st, 503)
        self.assertEqual(body['status'], 'not ready')
        self.assertTrue(any('MISCONF' in why for why in body['reasons']), body)
        series = parse_exposition(http('/metrics')[2].decode())
        self.assertEqual(series[('cachebox_rdb_last_bgsave_status_ok', '')], 0)
        http('/config/dir', 'PUT', data=s.dir.encode())
        self.assertEqual(http.json('/snapshot', 'POST')[0], 202)
        self.assertTrue(wait_until(lambda: http('/health/ready', token=None)[0] == 200, 10))

    def test_info_and_info_json(self):
        s, http, _ = self.start()
        r = s.redis()
        r.set('k', 'v')
        r.expire('k', 100)
        st, h, body = http('/info')
        self.assertEqual(st, 200)
        self.assertTrue(h['content-type'].startswith('text/plain'))
        text = body.decode()
        sections = re.findall(r'^# (\w+)\r$', text, re.M)
        with s.raw() as raw:
            expected = re.findall(r'^# (\w+)\r$', raw.cmd('INFO').decode(), re.M)
        self.assertEqual(sections, expected)
        body = http('/info?section=keyspace,server')[2].decode()
        self.assertEqual(re.findall(r'^# (\w+)', body, re.M), ['Server', 'Keyspace'])
        self.assertIn('db0:keys=1,expires=1,', body)
        self.assertEqual(re.findall(r'^# (\w+)', http('/info?section=nosuch')[2].decode(), re.M), [])
        st, js = http.json('/info.json?section=everything')
        self.assertEqual(st, 200)
        self.assertEqual(js['server']['redis_version'], '7.0.15')
        self.assertEqual(js['server']['tcp_port'], s.port)
        self.assertEqual(js['server']['redis_git_sha1'], '00000000')
        self.assertEqual(js['keyspace']['db0']['keys'], 1)
        self.assertEqual(js['commandstats']['cmdstat_set']['calls'], 1)
        self.assertIsInstance(js['memory']['used_memory'], int)
        self.assertEqual(http('/info', 'POST')[0], 405)
        self.assertEqual(http('/info', 'POST')[1]['allow'], 'GET, HEAD')

    def test_config_get_put(self):
        s, http, _ = self.start()
        r = s.redis()
        st, body = http.json('/config/maxmemory-policy')
        self.assertEqual((st, body), (200, {'maxmemory-policy': 'noeviction'}))
        st, body = http.json('/config/maxmemory*')
        self.assertEqual(body, r.config_get('maxmemory*'))
        self.assertEqual(http.json('/config/nosuchthing')[0], 404)
        st, body = http.json('/config/maxmemory', 'PUT', data=b'100mb\n')
        self.assertEqual((st, body), (200, {'status': 'OK'}))
        self.assertEqual(r.config_get('maxmemory'), {'maxmemory': '104857600'})
        st, body = http.json('/config/maxmemory', 'PUT', data=b'lots')
        self.assertEqual(st, 400)
        # Redis's own CONFIG SET error text.
        with self.assertRaises(Exception) as cm:
            r.config_set('maxmemory', 'lots')
        self.assertEqual(body['error'], str(cm.exception).replace('ERR ', '', 1))
        st, body = http.json('/config/nosuch', 'PUT', data=b'1')
        self.assertEqual(st, 400)
        self.assertIn("Unknown option", body['error'])
        st, body = http.json('/config/control-port', 'PUT', data=b'1')
        self.assertEqual(st, 400)
        self.assertIn('immutable', body['error'])
        self.assertEqual(http('/config/maxmemory', 'DELETE')[0], 405)
        self.assertEqual(http('/config/maxmemory', 'PUT', data=b'x' * (70 * 1024))[0], 413)
        self.assertEqual(http('/config/', 'GET')[0], 404)

    def test_config_rewrite(self):
        cport = free_port()
        s = Server('cachebox', config='# operator comment\ncontrol-port %d\nmaxmemory 1mb\n' % cport)
        self.addCleanup(s.cleanup)
        with open(os.path.join(s.dir, 'control.token')) as f:
            http = Http(cport, f.read().strip())
        self.assertEqual(http('/config/maxmemory', 'PUT', data=b'2mb')[0], 200)
        st, body = http.json('/config/rewrite', 'POST')
        self.assertEqual((st, body), (200, {'status': 'OK'}))
        with open(s.config_path) as f:
            text = f.read()
        self.assertIn('# operator comment', text)
        self.assertIn('maxmemory 2mb', text)
        self.assertEqual(http('/config/rewrite', 'GET')[0], 405)

    def test_clients_and_kill(self):
        s, http, _ = self.start()
        a = s.raw()
        a.send(b'CLIENT SETNAME ctltest\r\n')
        a.read_reply()
        a.send(b'CLIENT ID\r\n')
        cid = int(a.read_reply()[1:].strip())
        st, clients = http.json('/clients')
        self.assertEqual(st, 200)
        mine = [c for c in clients if c['name'] == 'ctltest']
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]['id'], cid)
        self.assertEqual(mine[0]['cmd'], 'client|id')
        addr = mine[0]['addr']
        self.assertEqual(http.json('/clients/kill', 'POST')[0], 400)
        self.assertEqual(http.json('/clients/kill?id=abc', 'POST')[0], 400)
        self.assertEqual(http.json('/clients/kill?id=999999', 'POST')[0], 404)
        self.assertEqual(http.json('/clients/kill', 'GET')[0], 405)
        st, body = http.json('/clients/kill?id=%d' % cid, 'POST')
        self.assertEqual((st, body), (200, {'killed': 1}))
        a.sock.settimeout(5)
        self.assertEqual(a.sock.recv(10), b'')
        a.close()
        b = s.raw()
        b.send(b'PING\r\n')
        b.read_reply()
        st, clients = http.json('/clients')
        baddr = clients[0]['addr']
        self.assertNotEqual(baddr, addr)
        st, body = http.json('/clients/kill?addr=%s' % baddr, 'POST')
        self.assertEqual((st, body), (200, {'killed': 1}))
        self.assertEqual(b.sock.recv(10), b'')
        b.close()
        self.assertTrue(wait_until(lambda: http.json('/clients')[1] == []))

    def test_snapshot_persistence_download(self):
        s, http, _ = self.start()
        self.assertEqual(http.json('/snapshot/latest')[0], 404)
        r = s.redis()
        for i in range(1000):
            r.set('key:%d' % i, 'v' * 50)
        st, body = http.json('/snapshot', 'POST')
        self.assertEqual((st, body), (202, {'status': 'Background saving started'}))
        self.assertTrue(wait_until(lambda: http.json('/persistence')[1]['rdb_bgsave_in_progress'] == 0))
        p = http.json('/persistence')[1]
        self.assertEqual(p['rdb_last_bgsave_status'], 'ok')
        self.assertEqual(p['rdb_saves'], 1)
        st, h, body = http('/snapshot/latest')
        self.assertEqual(st, 200)
        self.assertEqual(h['content-type'], 'application/octet-stream')
        self.assertEqual(h['content-disposition'], 'attachment; filename="dump.rdb"')
        with open(os.path.join(s.dir, 'dump.rdb'), 'rb') as f:
            self.assertEqual(body, f.read())
        self.assertTrue(body.startswith(b'REDIS0010'))
        self.assertEqual(http('/snapshot', 'GET')[0], 405)
        # A second BGSAVE while one runs is refused.
        s2, http2, _ = self.start('--rdb-key-save-delay', '2000')
        r2 = s2.redis()
        for i in range(500):
            r2.set('k%d' % i, 'v')
        self.assertEqual(http2.json('/snapshot', 'POST')[0], 202)
        st, body = http2.json('/snapshot', 'POST')
        self.assertEqual((st, body), (409, {'error': 'Background save already in progress'}))
        self.assertEqual(http2.json('/persistence')[1]['rdb_bgsave_in_progress'], 1)

    def test_restore(self):
        # A snapshot taken from one server replaces another's dataset.
        a, http_a, _ = self.start()
        ra = a.redis()
        for i in range(2000):
            ra.set('key:%d' % i, 'value-%d' % i)
        ra.hset('h', mapping={'f1': 'v1', 'f2': 'v2'})
        ra.set('ttl', 'x', ex=1000)
        self.assertEqual(http_a('/snapshot', 'POST')[0], 202)
        self.assertTrue(wait_until(lambda: http_a.json('/persistence')[1]['rdb_bgsave_in_progress'] == 0))
        rdb = http_a('/snapshot/latest')[2]
        b, http_b, _ = self.start('--io-workers', '2')
        rb = b.redis()
        rb.set('old', 'gone')
        # Refused: not an RDB, a truncated one, a bad checksum, nothing.
        st, body = http_b.json('/restore', 'PUT', data=b'hello world')
        self.assertEqual(st, 400, body)
        self.assertIn('offset', body)
        st, body = http_b.json('/restore', 'PUT', data=rdb[:len(rdb) // 2])
        self.assertEqual(st, 400, body)
        bad = bytearray(rdb)
        bad[-3] ^= 0xff
        st, body = http_b.json('/restore', 'PUT', data=bytes(bad))
        self.assertEqual(st, 400, body)
        self.assertEqual(http_b.json('/restore', 'PUT', data=b'')[0], 400)
        self.assertEqual(http_b.json('/restore', 'POST')[0], 405)
        self.assertEqual(http_b.json('/restore', 'PUT', token=None, data=rdb)[0], 401)
        self.assertEqual(rb.get('old'), b'gone')  # untouched by refused uploads
        self.assertEqual([f for f in os.listdir(b.dir) if f.startswith('temp-')], [])
        st, body = http_b.json('/restore', 'PUT', data=rdb)
        self.assertEqual(st, 200, body)
        self.assertEqual((body['keys_loaded'], body['saved']), (2002, True))
        self.assertIsNone(rb.get('old'))
        self.assertEqual(rb.dbsize(), 2002)
        self.assertEqual(rb.get('key:1999'), b'value-1999')
        self.assertEqual(rb.hgetall('h'), {b'f1': b'v1', b'f2': b'v2'})
        self.assertGreater(rb.ttl('ttl'), 900)
        with open(os.path.join(b.dir, 'dump.rdb'), 'rb') as f:
            self.assertEqual(f.read(), rdb)
        self.assertEqual([f for f in os.listdir(b.dir) if f.startswith('temp-')], [])
        # And a file written by redis-server itself.
        oracle = Server('redis')
        self.addCleanup(oracle.cleanup)
        ro = oracle.redis()
        ro.rpush('list', *range(100))
        ro.zadd('z', {'a': 1, 'b': 2})
        ro.save()
        with open(os.path.join(oracle.dir, 'dump.rdb'), 'rb') as f:
            st, body = http_b.json('/restore', 'PUT', data=f.read())
        self.assertEqual(st, 200, body)
        self.assertEqual(rb.lrange('list', 0, -1), [str(i).encode() for i in range(100)])
        self.assertEqual(rb.zrange('z', 0, -1, withscores=True), [(b'a', 1.0), (b'b', 2.0)])
        self.assertEqual(rb.dbsize(), 2)

    def test_slowlog(self):
        s, http, _ = self.start('--slowlog-log-slower-than', '0', '--enable-debug-command', 'yes')
        r = s.redis()
        r.client_setname('sleeper')
        r.execute_command('DEBUG', 'SLEEP', '0.02')
        r.set('k', 'x' * 200)
        st, body = http.json('/slowlog')
        self.assertEqual(st, 200)
        self.assertLessEqual(len(body), 10)
        want = r.execute_command('SLOWLOG', 'GET', '-1')
        st, allj = http.json('/slowlog?count=-1')
        # The same entries as SLOWLOG GET, newest first (ours: one more GET).
        by_id = {e['id']: e for e in allj}
        for e in want:
            j = by_id[e[0]]
            self.assertEqual((j['timestamp'], j['duration_us']), (e[1], e[2]))
            self.assertEqual(j['args'], [a.decode() for a in e[3]])
            self.assertEqual((j['client_addr'], j['client_name']), (e[4].decode(), e[5].decode()))
        ids = [e['id'] for e in allj]
        self.assertEqual(ids, sorted(ids, reverse=True))
        sleep = [e for e in allj if e['args'][:2] == ['DEBUG', 'SLEEP']]
        self.assertEqual(len(sleep), 1)
        self.assertGreaterEqual(sleep[0]['duration_us'], 20000)
        self.assertEqual(sleep[0]['client_name'], 'sleeper')
        setk = [e for e in allj if e['args'][0].lower() == 'set'][0]
        self.assertTrue(setk['args'][2].endswith('... (72 more bytes)'))
        self.assertEqual(len(http.json('/slowlog?count=1')[1]), 1)
        self.assertEqual(http.json('/slowlog?count=0')[1], [])
        self.assertEqual(http.json('/slowlog?count=-2'),
                         (400, {'error': 'count should be greater than or equal to -1'}))
        self.assertEqual(http.json('/slowlog?count=x')[0], 400)
        self.assertEqual(http.json('/slowlog', 'POST')[0], 405)
        self.assertEqual(http.json('/slowlog', token=False)[0], 401)
        r.execute_command('SLOWLOG', 'RESET')
        # Only the RESET itself is left (logged after it ran, as in Redis).
        self.assertEqual([e['args'] for e in http.json('/slowlog')[1]], [['SLOWLOG', 'RESET']])

    def test_latency(self):
        s, http, _ = self.start('--latency-monitor-threshold', '10', '--io-workers', '2',
                                  '--enable-debug-command', 'yes')
        r = s.redis()
        st, body = http.json('/latency')
        self.assertEqual(st, 200)
        self.assertEqual(body['latest'], {})
        r.execute_command('DEBUG', 'SLEEP', '0.02')
        for i in range(50):
            r.set('k%d' % i, 'v')
        r.get('k1')
        body = http.json('/latency')[1]
        latest = r.execute_command('LATENCY', 'LATEST')
        self.assertEqual(len(latest), 1)
        ev = body['latest'][latest[0][0].decode()]
        self.assertEqual(ev, {'timestamp': latest[0][1], 'latest_ms': latest[0][2],
                              'max_ms': latest[0][3]})
        self.assertGreaterEqual(ev['max_ms'], 20)
        pct = body['percentiles_usec']
        self.assertEqual(pct['set']['calls'], 50)
        self.assertEqual(pct['get']['calls'], 1)
        with s.raw() as raw:
            info = raw.cmd('INFO', 'latencystats').decode()
        line = re.search(r'^latency_percentiles_usec_set:(.*)\r$', info, re.M).group(1)
        for kv in line.split(','):
            k, v = kv.split('=')
            self.assertAlmostEqual(pct['set'][k], float(v), places=3)
        self.assertEqual(set(pct['set']), {'calls', 'p50', 'p99', 'p99.9'})
        self.assertEqual(http.json('/latency', 'PUT')[0], 405)
        self.assertEqual(http.json('/latency', token=False)[0], 401)

    def test_latency_histograms_in_metrics(self):
        s, http, _ = self.start('--io-workers', '2', '--enable-debug-command', 'yes')
        r = s.redis()
        for i in range(120):
            r.set('k%d' % i, 'v')
        for i in range(30):
            r.get('k%d' % i)
        r.execute_command('DEBUG', 'SLEEP', '0.03')
        st, _, body = http('/metrics')
        series = parse_exposition(body.decode())
        text = body.decode()
        self.assertIn('# TYPE cachebox_command_latency_seconds histogram', text)
        stats = r.info('commandstats')
        les = ['1e-05', '2.5e-05', '0.0001', '0.00025', '0.001', '0.0025', '0.01', '0.025',
               '0.1', '0.25', '1', '2.5', '10', '+Inf']
        for cmd in ('set', 'get', 'debug'):
            calls = stats['cmdstat_' + cmd]['calls']
            lab = '{cmd="%s"}' % cmd
            self.assertEqual(series[('cachebox_command_latency_seconds_count', lab)], calls)
            buckets = [series[('cachebox_command_latency_seconds_bucket',
                               '{cmd="%s",le="%s"}' % (cmd, le))] for le in les]
            self.assertEqual(buckets, sorted(buckets))
            self.assertEqual(buckets[-1], calls)
            ssum = series[('cachebox_command_latency_seconds_sum', lab)]
            self.assertGreater(ssum, 0)
            self.assertAlmostEqual(ssum, stats['cmdstat_' + cmd]['usec'] / 1e6, delta=0.01)
        # DEBUG SLEEP 0.03: above 25 ms, under 100 ms.
        dbg = lambda le: series[('cachebox_command_latency_seconds_bucket',
                                 '{cmd="debug",le="%s"}' % le)]
        self.assertEqual((dbg('0.025'), dbg('0.1')), (0, 1))
        r.config_set('latency-tracking', 'no')
        r.execute_command('CONFIG', 'RESETSTAT')
        self.assertNotIn('cachebox_command_latency_seconds', http('/metrics')[2].decode())

    def test_aof_rewrite(self):
        s, http, _ = self.start('--appendonly', 'yes')
        r = s.redis()
        for i in range(2000):
            r.set('key:%d' % i, 'v' * 20)
        self.assertEqual(http.json('/aof/rewrite', 'POST'),
                         (202, {'status': 'Background append only file rewriting started'}))
        self.assertTrue(wait_until(lambda: r.info('persistence')['aof_rewrites'] == 1
                                   and r.info('persistence')['aof_rewrite_in_progress'] == 0))
        self.assertEqual(r.info('persistence')['aof_last_bgrewrite_status'], 'ok')
        # Asked while one is pending or running: Redis's refusal.
        res = []
        def post():
            res.append(http.json('/aof/rewrite', 'POST'))
        ths = [threading.Thread(target=post) for _ in range(4)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        for st, body in res:
            self.assertIn((st, body), [
                (202, {'status': 'Background append only file rewriting started'}),
                (409, {'error': 'Background append only file rewriting already in progress'})])
        self.assertIn(202, [st for st, _ in res])
        self.assertTrue(wait_until(lambda: r.info('persistence')['aof_rewrite_in_progress'] == 0
                                   and r.info('persistence')['aof_rewrites'] >= 2))
        self.assertEqual(http.json('/aof/rewrite', 'GET')[0], 405)
        self.assertEqual(http.json('/aof/rewrite', 'POST', token=False)[0], 401)
        self.assertEqual(r.get('key:7'), b'v' * 20)

    def test_shutdown(self):
        s, http, _ = self.start()
        self.assertEqual(http.json('/shutdown?save&nosave', 'POST')[0], 400)
        self.assertEqual(http.json('/shutdown', 'GET')[0], 405)
        s.redis().set('kept', '1')
        st, body = http.json('/shutdown?save', 'POST')
        self.assertEqual((st, body), (202, {'status': 'shutting down'}))
        s.proc.wait(10)
        self.assertEqual(s.proc.returncode, 0)
        self.assertTrue(os.path.exists(os.path.join(s.dir, 'dump.rdb')))
        self.assertIn('Shutdown requested over the control port', s.log())
        s2, http2, _ = self.start()
        self.assertEqual(http2.json('/shutdown?nosave', 'POST')[0], 202)
        s2.proc.wait(10)
        self.assertFalse(os.path.exists(os.path.join(s2.dir, 'dump.rdb')))

    def test_not_found_and_methods(self):
        s, http, _ = self.start()
        for path in ('/', '/metrics/', '/info.jsonx', '/clients/kil', '/snapshot/older'):
            st, body = http.json(path)
            self.assertEqual(st, 404, path)
            self.assertEqual(body, {'error': 'no such endpoint'})
        self.assertEqual(http('/metrics', 'DELETE')[0], 405)
        st, h, body = http('/metrics', 'HEAD')
        self.assertEqual(st, 200)


class ControlMetricsTest(ControlBase):
    def test_exposition_grammar_and_coverage(self):
        s, http, _ = self.start()
        r = s.redis()
        r.set('a', '1')
        r.incr('a')
        r.setex('b', 100, 'x')
        r.get('a')
        r.select(3)
        r.set('c', '1')
        try:
            r.execute_command('INCR', 'c', 'extra')
        except Exception:
            pass
        try:
            r.lpush('c', 'x')
        except Exception:
            pass
        st, h, body = http('/metrics')
        self.assertEqual(st, 200)
        self.assertEqual(h['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
        text = body.decode()
        series = parse_exposition(text)
        self.assertEqual(series[('cachebox_up', '')], 1)
        self.assertEqual(series[('cachebox_commands_total', '{cmd="incrby"}')], 1)  # r.incr
        self.assertEqual(series[('cachebox_commands_rejected_calls_total', '{cmd="incr"}')], 1)
        self.assertEqual(series[('cachebox_commands_total', '{cmd="set"}')], 2)
        self.assertEqual(series[('cachebox_errors_total', '{err="WRONGTYPE"}')], 1)
        self.assertEqual(series[('cachebox_db_keys', '{db="db0"}')], 2)
        self.assertEqual(series[('cachebox_db_keys_expiring', '{db="db0"}')], 1)
        self.assertEqual(series[('cachebox_db_keys', '{db="db3"}')], 1)
        self.assertEqual(series[('cachebox_shard_keys', '{worker="0"}')], 3)
        self.assertGreater(series[('cachebox_worker_commands_processed_total', '{worker="0"}')], 5)
        self.assertGreater(series[('cachebox_used_memory_bytes', '')], 0)
        self.assertGreaterEqual(series[('cachebox_used_cpu_user_seconds_total', '')], 0)
        self.assertGreaterEqual(series[('cachebox_keyspace_hits_total', '')], 1)
        self.assertTrue(0 < series[('cachebox_used_memory_peak_ratio', '')] <= 1)
        self.assertIn('# TYPE cachebox_commands_total counter', text)
        self.assertIn('# TYPE cachebox_used_memory_bytes gauge', text)
        self.assertIn('cachebox_server_info{redis_version="7.0.15"', text)
        # Every numeric INFO field of every section is exported, its HELP
        # naming the field (the k=v sections are the labelled families).
        with s.raw() as raw:
            info = raw.cmd('INFO', 'everything').decode()
        helps = set(re.findall(r'^# HELP \S+ INFO (\w+ \w+)$', text, re.M))
        missing = []
        section = None
        for line in info.split('\r\n'):
            if line.startswith('# '):
                section = line[2:].lower()
                continue
            if ':' not in line or section in ('commandstats', 'errorstats', 'keyspace',
                                              'latencystats'):
                continue
            k, v = line.split(':', 1)
            if re.fullmatch(r'-?\d+(\.\d+)?%?', v) and k not in (
                    'redis_git_sha1', 'redis_build_id', 'process_id', 'uptime_in_days',
                    'master_replid', 'master_replid2', 'run_id'):
                if '%s %s' % (section, k) not in helps:
                    missing.append('%s %s' % (section, k))
        self.assertEqual(missing, [])

    def test_several_workers(self):
        s, http, _ = self.start('--io-workers', '3')
        r = s.redis()
        for i in range(300):
            r.set('k%d' % i, i)
        series = parse_exposition(http('/metrics')[2].decode())
        per = [series[('cachebox_shard_keys', '{worker="%d"}' % w)] for w in range(3)]
        self.assertEqual(sum(per), 300)
        self.assertTrue(all(p > 0 for p in per), per)
        self.assertEqual(series[('cachebox_db_keys', '{db="db0"}')], 300)
        for w in range(3):
            self.assertIn(('cachebox_worker_loop_busy_seconds_total', '{worker="%d"}' % w), series)

    def test_concurrent_scrapes_during_write_load(self):
        s, http, _ = self.start('--io-workers', '2')
        bench = subprocess.Popen([BENCH, '-h', s.host, '-p', str(s.port), '-t', 'set,incr',
                                  '-n', '100000',
                                  '-P', '16', '-c', '8', '-r', '10000', '-q'],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: bench.poll() is None and bench.kill())
        errors, counts, times = [], [0, 0, 0], []

        def scrape(i):
            last = -1
            try:
                while bench.poll() is None:
                    t0 = time.time()
                    st, _, body = http('/metrics')
                    times.append(time.time() - t0)
                    assert st == 200, st
                    series = parse_exposition(body.decode())
                    n = series.get(('cachebox_commands_total', '{cmd="set"}'), 0)
                    assert n >= last, (n, last)
                    last = n
                    counts[i] += 1
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(repr(e))

        threads = [threading.Thread(target=scrape, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        out, _ = bench.communicate(timeout=120)
        for t in threads:
            t.join(30)
        self.assertEqual(bench.returncode, 0, out)
        self.assertEqual(errors, [])
        self.assertGreater(sum(counts), 3, counts)
        series = parse_exposition(http('/metrics')[2].decode())
        self.assertEqual(series[('cachebox_commands_total', '{cmd="set"}')], 100000)
        self.assertEqual(series[('cachebox_commands_total', '{cmd="incr"}')], 100000)
        print('\n  %d scrapes during the load, median %.1f ms; %s'
              % (sum(counts), sorted(times)[len(times) // 2] * 1000,
                 '; '.join(l.strip() for l in out.decode().replace('\r', '\n').split('\n')
                           if 'requests per second' in l)), end=' ')


class ControlRobustnessTest(ControlBase):
    def test_malformed_requests(self):
        s, http, cport = self.start()
        auth = b'Authorization: Bearer ' + http.token.encode() + b'\r\n'
        cases = [
            b'GARBAGE\r\n\r\n',
            b'GET\r\n\r\n',
            b'GET /info HTTP/9.9\r\nHost: x\r\n\r\n',
            b'GET /info HTTP/1.1\r\n\r\n',  # HTTP/1.1 without Host
            b'GET /info HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n',
            b'GET /info HTTP/1.1\r\nHost: x\r\n' + auth + b'Content-Length: -5\r\n\r\n',
            b'PUT /config/maxmemory HTTP/1.1\r\nHost: x\r\n' + auth +
            b'Transfer-Encoding: chunked\r\n\r\nzz\r\n',
            b'\x00\x01\x02\xff\xfe\r\n\r\n',
            b'GET /info\x00 HTTP/1.1\r\nHost: x\r\n\r\n',
        ]
        for data in cases:
            resp = raw_http(cport, data)
            st = status_of(resp)
            self.assertTrue(resp == b'' or (st is not None and 400 <= st < 600), (data, resp[:200]))
            self.assertNotEqual(st, 200, data)
        self.assertTrue(s.alive())
        self.assertEqual(http('/health/live', token=None)[0], 200)
        self.assertEqual(http('/info')[0], 200)

    def test_random_mutations(self):
        # Seeded byte-level mutations of valid requests: every answer is an
        # HTTP status (or a close), and the server keeps serving.
        import random
        s, http, cport = self.start()
        rnd = random.Random(8379)
        auth = b'Authorization: Bearer ' + http.token.encode() + b'\r\n'
        seeds = [
            b'GET /metrics HTTP/1.1\r\nHost: x\r\n' + auth + b'\r\n',
            b'GET /info.json?section=server,keyspace HTTP/1.1\r\nHost: x\r\n' + auth + b'\r\n',
            b'PUT /config/maxmemory-samples HTTP/1.1\r\nHost: x\r\n' + auth +
            b'Content-Length: 1\r\n\r\n5',
            b'POST /clients/kill?id=99 HTTP/1.1\r\nHost: x\r\n' + auth + b'\r\n',
            b'PUT /restore HTTP/1.1\r\nHost: x\r\n' + auth + b'Content-Length: 9\r\n\r\nREDIS0010',
            b'GET /config/%2a HTTP/1.1\r\nHost: x\r\n' + auth + b'\r\n',
        ]
        statuses = {}
        for i in range(150):
            data = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(1, 4)):
                op, pos = rnd.randint(0, 2), rnd.randrange(len(data))
                if op == 0:
                    data[pos] = rnd.randrange(256)
                elif op == 1:
                    del data[pos:pos + rnd.randint(1, 8)]
                else:
                    data[pos:pos] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8)))
            resp = raw_http(cport, bytes(data), timeout=0.3)
            st = status_of(resp)
            statuses[st] = statuses.get(st, 0) + 1
            self.assertTrue(resp == b'' or st is not None, (bytes(data), resp[:200]))
        self.assertTrue(s.alive())
        self.assertEqual(http('/health/live', token=None)[0], 200)
        self.assertEqual(http.json('/config/maxmemory-samples')[0], 200)

    def test_oversized_headers(self):
        s, http, cport = self.start()
        big = b'GET /info HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * (100 * 1024) + b'\r\n\r\n'
        resp = raw_http(cport, big)
        st = status_of(resp)
        self.assertTrue(resp == b'' or st in (413, 414, 431), resp[:200])
        many = b'GET /info HTTP/1.1\r\nHost: x\r\n' + b''.join(
            b'X-H%d: %s\r\n' % (i, b'b' * 100) for i in range(2000)) + b'\r\n'
        resp = raw_http(cport, many)
        self.assertTrue(resp == b'' or status_of(resp) in (413, 431), resp[:200])
        longurl = b'GET /info?' + b'q' * (200 * 1024) + b' HTTP/1.1\r\nHost: x\r\n\r\n'
        resp = raw_http(cport, longurl)
        self.assertTrue(resp == b'' or status_of(resp) in (413, 414, 431), resp[:200])
        self.assertTrue(s.alive())
        self.assertEqual(http('/info')[0], 200)

    def test_keep_alive(self):
        s, http, cport = self.start()
        req = (b'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n'
               b'GET /info?section=server HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer '
               + http.token.encode() + b'\r\n\r\n')
        with socket.create_connection(('127.0.0.1', cport), timeout=5) as sock:
            sock.sendall(req)
            data = b''
            while data.count(b'HTTP/1.1 200') < 2 or not data.endswith(b'\r\n'):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.assertEqual(data.count(b'HTTP/1.1 200 OK'), 2, data[:500])
            self.assertIn(b'redis_version:7.0.15', data)
            # The connection is still open for a third request.
            sock.sendall(b'GET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n')
            self.assertIn(b'HTTP/1.1 200', sock.recv(65536))

    def test_slowloris(self):
        s, http, cport = self.start()
        socks = []
        try:
            # Twenty peers each trickling an unfinished request.
            for i in range(20):
                c = socket.create_connection(('127.0.0.1', cport), timeout=5)
                c.sendall(b'GET /info HTTP/1.1\r\nHost: x\r\nX-Slow: ')
                socks.append(c)
            for _ in range(3):
                for c in socks:
                    c.sendall(b'a')
                t0 = time.time()
                self.assertEqual(http('/health/live', token=None, timeout=5)[0], 200)
                self.assertEqual(http('/info')[0], 200)
                self.assertLess(time.time() - t0, 2.0)
                time.sleep(0.3)
            # Peers that stop sending are dropped after the idle timeout.
            t0 = time.time()
            socks[0].settimeout(20)
            try:
                self.assertEqual(socks[0].recv(100), b'')
            except ConnectionResetError:
                pass
            self.assertLess(time.time() - t0, 15)
        finally:
            for c in socks:
                c.close()
        self.assertEqual(http('/health/live', token=None)[0], 200)


class DeployFilesTest(unittest.TestCase):
    """deploy/cachebox.service, deploy/cachebox.conf and deploy/monitoring/."""

    def test_systemd_unit_verifies_and_is_hardened(self):
        sa = shutil.which('systemd-analyze')
        if not sa:
            self.skipTest('no systemd-analyze')
        d = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'cbunit-%d' % os.getpid())
        os.makedirs(d, exist_ok=True)
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(ROOT, 'deploy', 'cachebox.service')) as f:
            unit = f.read()
        for opt in ('NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes',
                    'PrivateTmp=yes', 'PrivateDevices=yes', 'CapabilityBoundingSet=\n',
                    'SystemCallFilter=@system-service', 'Type=notify', 'UMask=0077'):
            self.assertIn(opt, unit)
        path = os.path.join(d, 'cachebox.service')
        with open(path, 'w') as f:
            f.write(unit.replace('/usr/local/bin/cachebox', os.path.abspath(CACHEBOX_BIN)))
        p = subprocess.run([sa, 'verify', path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        p = subprocess.run([sa, 'security', '--offline=true', path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        m = re.search(rb'Overall exposure level for cachebox.service: ([0-9.]+)', p.stdout)
        if m:  # older systemd-analyze cannot rate offline units
            self.assertLessEqual(float(m.group(1)), 2.0, p.stdout.decode()[-2000:])

    def test_sample_config_starts(self):
        d = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'cbconf-%d' % os.getpid())
        os.makedirs(d, exist_ok=True)
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(ROOT, 'deploy', 'cachebox.conf')) as f:
            conf = re.sub(r'(?m)^dir .*$', 'dir ' + d, f.read())
        cport = free_port()
        s = Server('cachebox', config=conf, args=['--control-port', cport, '--supervised', 'no'])
        self.addCleanup(s.cleanup)
        with open(os.path.join(s.dir, 'control.token')) as f:  # cbtest passes --dir
            http = Http(cport, f.read().strip())
        self.assertEqual(http('/health/ready', token=None)[0], 200)
        self.assertEqual(http.json('/config/save')[1], {'save': '3600 1 300 100 60 10000'})

    def test_monitoring_files_parse(self):
        try:
            import yaml
        except ImportError:
            self.skipTest('no python3-yaml')
        mon = os.path.join(ROOT, 'deploy', 'monitoring')
        with open(os.path.join(mon, 'prometheus.yml')) as f:
            prom = yaml.safe_load(f)
        jobs = {j['job_name']: j for j in prom['scrape_configs']}
        self.assertEqual(jobs['cachebox']['metrics_path'], '/metrics')
        self.assertEqual(jobs['cachebox']['authorization']['type'], 'Bearer')
        self.assertIn('redis', jobs)
        with open(os.path.join(mon, 'alerts.yml')) as f:
            rules = yaml.safe_load(f)['groups'][0]['rules']
        self.assertTrue(all('expr' in r for r in rules))


if __name__ == '__main__':
    unittest.main()
