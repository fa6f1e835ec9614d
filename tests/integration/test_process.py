"""Process basics a redis-server user relies on: daemonize + pidfile +
logfile, log reopening on SIGHUP, loglevel, the unix socket (mode, flags,
CLIENT LIST addresses checked against the oracle), systemd readiness
notification, clean exit on SIGINT/SIGTERM, refusing bad configuration,
--version/--help, ./deploy/run.sh, and that the default writes no files.
"""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from cbtest import (CACHEBOX_BIN, REDIS_CLI, ROOT, Server, free_port, kernel_plane_only,
                    kinds_for_identical)

LOG_LINE = re.compile(r'^(\d+):([CMSXW]) (\d\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) '
                      r'(\d{4}) (\d\d):(\d\d):(\d\d)\.(\d{3}) ([.\-*#]) (.*)$')


def wait_for(pred, timeout=10.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def read_text(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''


def ping_tcp(port, host='127.0.0.1'):
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b'PING\r\n')
            return s.recv(100).startswith(b'+PONG')
    except OSError:
        return False


def pid_running(pid):
    """True while pid exists and is not a zombie (a daemon reparented to a
    PID 1 that does not reap stays a zombie after it exited)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
        return state not in ('Z', 'X')
    except (OSError, IndexError):
        return False


def kill_pid(pid):
    """Last-resort cleanup of a process this test started."""
    if pid and pid_running(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_for(lambda: not pid_running(pid), 5)


def run_bin(args, timeout=10, **kw):
    p = subprocess.run([CACHEBOX_BIN] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, **kw)
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='cbproc-')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def server(self, *args, **kw):
        srv = Server('cachebox', args=args, **kw)
        self.addCleanup(srv.cleanup)
        return srv


class DaemonizeTest(TempDirTest):
    def test_daemonize_pidfile_logfile(self):
        port = free_port()
        pidfile, logfile = self.path('cb.pid'), self.path('cb.log')
        pid = None
        try:
            t0 = time.time()
            p = subprocess.Popen([CACHEBOX_BIN, '--port', str(port), '--bind', '127.0.0.1',
                                  '--control-port', '0',
                                  '--dir', self.dir, '--daemonize', 'yes', '--pidfile', pidfile,
                                  '--logfile', logfile], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # communicate() also returns only once the daemon let go of our
            # stdout/stderr pipes, as a daemon must.
            out, err = p.communicate(timeout=10)
            self.assertEqual(p.returncode, 0, err)
            self.assertLess(time.time() - t0, 5)
            self.assertTrue(wait_for(lambda: read_text(pidfile).strip().isdigit()),
                            'no pidfile\n' + read_text(logfile))
            pid = int(read_text(pidfile))
            self.assertNotEqual(pid, p.pid)
            self.assertTrue(pid_running(pid))
            self.assertEqual(os.getsid(pid), pid, 'daemon did not start its own session')
            self.assertTrue(wait_for(lambda: ping_tcp(port)), read_text(logfile))
            self.assertTrue(wait_for(lambda: 'Ready to accept connections' in read_text(logfile)))
            lines = read_text(logfile).splitlines()
            self.assertTrue(lines)
            for line in lines:
                m = LOG_LINE.match(line)
                self.assertIsNotNone(m, 'not a Redis-format log line: %r' % line)
                self.assertEqual(int(m.group(1)), pid)
            ready = [l for l in lines if 'Ready to accept connections' in l]
            m = LOG_LINE.match(ready[0])
            self.assertEqual((m.group(2), m.group(10)), ('M', '*'), ready[0])
            os.kill(pid, signal.SIGTERM)
            self.assertTrue(wait_for(lambda: not pid_running(pid), 10), 'daemon ignored SIGTERM')
            self.assertFalse(os.path.exists(pidfile), 'pidfile left behind')
            self.assertIn('ready to exit', read_text(logfile))
        finally:
            if pid is None and os.path.exists(pidfile):
                try:
                    pid = int(read_text(pidfile))
                except ValueError:
                    pass
            kill_pid(pid)


class LogTest(TempDirTest):
    def test_sighup_reopens_logfile(self):
        logfile = self.path('cb.log')
        srv = self.server('--logfile', logfile, '--loglevel', 'verbose')
        self.assertIn('Ready to accept connections', read_text(logfile))
        os.rename(logfile, logfile + '.1')
        srv.proc.send_signal(signal.SIGHUP)

        # The reopen happens on the management thread: keep making log lines
        # (a verbose "Accepted" per connection) until the new file has them.
        def new_lines():
            ping_tcp(srv.port, srv.host)
            return 'Accepted' in read_text(logfile)
        self.assertTrue(wait_for(new_lines, 10, 0.1),
                        'no new log file after SIGHUP: %r' % os.listdir(self.dir))
        self.assertTrue(srv.alive(), 'SIGHUP killed the server')
        for line in read_text(logfile).splitlines():
            self.assertRegex(line, LOG_LINE)
        self.assertIn('Ready to accept connections', read_text(logfile + '.1'))
        self.assertNotIn('Ready to accept connections', read_text(logfile))
        self.assertEqual(srv.stop(), 0)
        self.assertIn('ready to exit', read_text(logfile))

    def test_loglevel(self):
        logfile = self.path('cb.log')
        srv = self.server('--logfile', logfile, '--loglevel', 'warning')
        ping_tcp(srv.port, srv.host)
        text = read_text(logfile)
        for line in text.splitlines():
            m = LOG_LINE.match(line)
            self.assertIsNotNone(m, line)
            self.assertEqual(m.group(10), '#', 'non-warning line at loglevel warning: %r' % line)
        self.assertNotIn('Ready to accept connections', text)
        r = srv.redis(decode_responses=True)
        self.addCleanup(r.connection_pool.disconnect)
        self.assertEqual(r.config_get('loglevel'), {'loglevel': 'warning'})
        self.assertTrue(r.config_set('loglevel', 'verbose'))
        self.assertEqual(r.config_get('loglevel'), {'loglevel': 'verbose'})
        self.assertTrue(wait_for(lambda: ping_tcp(srv.port, srv.host) and
                                 re.search(r'^\d+:\w .* - Accepted', read_text(logfile), re.M)),
                        'no verbose line after CONFIG SET loglevel verbose:\n' + read_text(logfile))
        self.assertTrue(r.config_set('loglevel', 'warning'))
        before = read_text(logfile)
        ping_tcp(srv.port, srv.host)
        time.sleep(0.2)
        self.assertEqual(read_text(logfile), before)


@kernel_plane_only('a unix socket: the DPDK plane serves TCP only')
class UnixSocketTest(unittest.TestCase):
    def check_kind(self, kind):
        d = tempfile.mkdtemp(prefix='cbsock-')
        sock = os.path.join(d, 'cb.sock')
        srv = None
        try:
            srv = Server(kind, args=['--unixsocket', sock, '--unixsocketperm', '700'])
            st = os.stat(sock)
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, '%s: mode %o' % (kind, st.st_mode))
            p = subprocess.run([REDIS_CLI, '-s', sock, 'ping'], stdout=subprocess.PIPE, timeout=10)
            self.assertEqual(p.stdout.strip(), b'PONG')
            p = subprocess.run([REDIS_CLI, '-s', sock, 'client', 'list'], stdout=subprocess.PIPE,
                               timeout=10)
            me = [l for l in p.stdout.decode().splitlines() if 'cmd=client|list' in l]
            self.assertEqual(len(me), 1, p.stdout)
            fields = dict(kv.split('=', 1) for kv in me[0].split(' '))
            self.assertEqual(fields['flags'], 'U')
            self.assertEqual(fields['addr'], sock + ':0')
            self.assertEqual(fields['laddr'], sock + ':0')
            rc, out = srv.cli('client', 'info')
            self.assertIn(' flags=N ', out)
            self.assertEqual(srv.stop(), 0)
            self.assertFalse(os.path.exists(sock), '%s left its unix socket behind' % kind)
        finally:
            if srv is not None:
                srv.cleanup()
            shutil.rmtree(d, ignore_errors=True)

    def test_unixsocket(self):
        for kind in kinds_for_identical():
            with self.subTest(kind=kind):
                self.check_kind(kind)


class SystemdTest(TempDirTest):
    def test_notify_ready(self):
        path = self.path('notify.sock')
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(rx.close)
        rx.bind(path)
        rx.settimeout(10)
        old = os.environ.get('NOTIFY_SOCKET')
        os.environ['NOTIFY_SOCKET'] = path
        try:
            srv = self.server('--supervised', 'systemd', '--daemonize', 'yes')
        finally:
            if old is None:
                del os.environ['NOTIFY_SOCKET']
            else:
                os.environ['NOTIFY_SOCKET'] = old
        msgs = []
        while not any('READY=1' in m.split('\n') for m in msgs):
            msgs.append(rx.recv(4096).decode())
        # Under systemd the server does not fork even with daemonize yes.
        self.assertTrue(srv.alive())
        self.assertEqual(srv.stop(), 0)
        try:
            while not any('STOPPING=1' in m.split('\n') for m in msgs):
                msgs.append(rx.recv(4096).decode())
        except socket.timeout:
            self.fail('no STOPPING=1 on shutdown: %r' % msgs)


class SignalTest(TempDirTest):
    def check_signal(self, sig, name):
        srv = self.server()
        srv.proc.send_signal(sig)
        self.assertEqual(srv.proc.wait(10), 0)
        log = srv.log()
        self.assertIn('Received %s scheduling shutdown...' % name, log)
        self.assertIn('User requested shutdown...', log)
        self.assertIn('ready to exit', log)

    def test_sigint(self):
        self.check_signal(signal.SIGINT, 'SIGINT')

    def test_sigterm(self):
        self.check_signal(signal.SIGTERM, 'SIGTERM')


class BadConfigTest(TempDirTest):
    def refused(self, args, *needles):
        port = free_port()
        rc, out, err = run_bin(list(args) + ['--port', str(port)] if args[:1] != ['--port']
                               else args, cwd=self.dir)
        self.assertEqual(rc, 1, 'rc %s\nstdout %s\nstderr %s' % (rc, out, err))
        for n in needles:
            self.assertIn(n, err)
        self.assertNotIn('Ready to accept', out + err)
        return err

    def test_unknown_directive_in_file(self):
        conf = self.path('bad.conf')
        with open(conf, 'w') as f:
            f.write('# comment\nhz 10\nfoobar 3\n')
        err = self.refused([conf], 'FATAL CONFIG FILE ERROR', conf, 'line 3', "'foobar 3'",
                           'Bad directive or wrong number of arguments')
        self.assertIn('foobar', err.split(">>> 'foobar 3'", 1)[1])

    def test_port_not_a_number(self):
        self.refused(['--port', 'notanumber'], 'FATAL CONFIG FILE ERROR', 'line 1',
                     '\'port "notanumber"\'', "argument couldn't be parsed into an integer")

    def test_out_of_range(self):
        self.refused(['--maxclients', '0'], 'FATAL CONFIG FILE ERROR', '\'maxclients "0"\'',
                     'argument must be between 1 and 4294967295 inclusive')
        rc, out, err = run_bin(['--port', '65536'], cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertIn('argument must be between 0 and 65535 inclusive', err)

    def test_missing_config_file(self):
        missing = self.path('nope.conf')
        self.refused([missing], missing, "can't open config file", 'No such file or directory')


class CommandLineTest(unittest.TestCase):
    def test_version(self):
        rc, out, err = run_bin(['--version'])
        self.assertEqual(rc, 0)
        self.assertRegex(out, r'^cachebox v=\d+\.\d+\.\d+ .*bits=\d+')
        rc2, out2, _ = run_bin(['-v'])
        self.assertEqual((rc2, out2), (rc, out))

    def test_help(self):
        for flag in ('--help', '-h'):
            rc, out, err = run_bin([flag])
            self.assertIn(rc, (0, 1))      # redis-server exits 1 here; either is fine
            self.assertIn('Usage:', out + err)
            self.assertIn('--port', out + err)


class DeployRunTest(unittest.TestCase):
    def test_run_sh(self):
        port = free_port()
        d = tempfile.mkdtemp(prefix='cbrun-')
        outp = os.path.join(d, 'run.out')
        p = None
        try:
            with open(outp, 'wb') as out:
                p = subprocess.Popen([os.path.join(ROOT, 'deploy', 'run.sh'), '--port', str(port),
                                      '--control-port', '0', '--dir', d], cwd=d, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

            def up():
                if p.poll() is not None:
                    return True
                return ping_tcp(port)
            self.assertTrue(wait_for(up, 45, 0.2), 'run.sh did not serve within 45s\n'
                            + read_text(outp))
            self.assertIsNone(p.poll(), 'run.sh exited %s\n%s' % (p.returncode, read_text(outp)))
            os.killpg(p.pid, signal.SIGINT)
            self.assertEqual(p.wait(10), 0, read_text(outp))
            self.assertFalse(ping_tcp(port))
            self.assertIn('Received SIGINT', read_text(outp))
        finally:
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(5)
            shutil.rmtree(d, ignore_errors=True)


class DefaultWritesNothingTest(TempDirTest):
    def test_no_files_after_shutdown(self):
        port = free_port()
        data = self.path('data')
        os.mkdir(data)
        outp = self.path('out.log')
        with open(outp, 'wb') as out:
            # The control port is on by default: its token is the one file
            # a default start writes (mode 0600).
            p = subprocess.Popen([CACHEBOX_BIN, '--port', str(port), '--dir', data,
                                  '--control-port', str(free_port())],
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            self.assertTrue(wait_for(lambda: p.poll() is not None or ping_tcp(port)),
                            read_text(outp))
            import redis
            r = redis.Redis(port=port, socket_timeout=10)
            for i in range(100):
                r.set('k%d' % i, 'v')
            try:
                r.shutdown()
            except redis.ConnectionError:
                pass
            r.connection_pool.disconnect()
            self.assertEqual(p.wait(10), 0, read_text(outp))
            self.assertEqual(os.listdir(data), ['control.token'], read_text(outp))
            self.assertEqual(os.stat(os.path.join(data, 'control.token')).st_mode & 0o777, 0o600)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)


if __name__ == '__main__':
    unittest.main()
