"""cbtest — helpers shared by the integration and differential tests.

Starts a server (cachebox from $CACHEBOX_BIN, default build/cachebox, or
Debian's redis-server as the oracle) on a free loopback port with its own
temporary directory, waits until it answers PING, and always stops it by
PID (SIGTERM, then SIGKILL). Also holds a raw-socket RESP client that
returns replies as the exact bytes the server sent, which is what the
protocol and differential tests compare.

CBTEST_CACHEBOX_ADDR=host:port makes Server('cachebox') use a server that is
already running there (started by the caller, e.g. on the DPDK data plane by
tests/dpdk/run_dpdk_tests.sh) instead of starting one; stop() leaves it.

CBTEST_DATAPLANE=dpdk makes Server('cachebox') start cachebox on the DPDK
data plane, each server on a slot of the rig tests/dpdk/integration_rig.sh
builds (the caller runs inside that rig's namespace, as
tests/dpdk/run_integration_dpdk.sh does): net_af_packet on the slot's veth,
cachebox at 10.<net>.<slot>.2, the kernel's end at .1. Server.host is then
that address; peer_host() gives the address one server uses to reach
another (a redis-server the test starts listens on every address then).
Tests about the kernel plane itself are marked kernel_plane_only(reason);
DPDK_PENDING lists the ones waiting for work on other branches.
"""
import errno
import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CACHEBOX_BIN = os.environ.get('CACHEBOX_BIN', os.path.join(ROOT, 'build', 'cachebox'))
REDIS_BIN = os.environ.get('REDIS_BIN', '/usr/bin/redis-server')
REDIS_CLI = shutil.which('redis-cli') or '/usr/bin/redis-cli'


DATAPLANE = os.environ.get('CBTEST_DATAPLANE', 'kernel')
DPDK = DATAPLANE == 'dpdk'
# The rig (tests/dpdk/integration_rig.sh): slot i is veth ${TAG}${i}d
# (cachebox's end) / ${TAG}${i}k (the kernel's, 10.NET.i.1/24).
DPDK_TAG = os.environ.get('CBX_IT_TAG', 'it')
DPDK_SLOTS = int(os.environ.get('CBX_IT_SLOTS', '8'))
DPDK_NET = int(os.environ.get('CBX_IT_NET', '98'))
# EAL memory per server: the dataset lives in it on this plane.
DPDK_MEM_MB = int(os.environ.get('CBX_IT_MEM_MB', '2048'))
# Poll cores sleep this long when idle (cachebox's dpdk-idle-sleep-us).
DPDK_IDLE_SLEEP_US = int(os.environ.get('CBX_IT_IDLE_SLEEP_US', '100'))
DPDK_LOCKDIR = '/tmp/cbx-%s-slots' % DPDK_TAG

# Tests that cannot pass on the DPDK plane until work on other branches
# merges: test id prefixes ('module.Class' or 'module.Class.test_name') ->
# reason. The merger empties this as those branches land.
DPDK_PENDING = {
    # DPDK-plane bugs found by this suite and not fixed yet.
}


# Where a test's own listening sockets (a fake target, a proxy) bind: on the
# DPDK plane a server reaches them through its slot's kernel end.
LISTEN_ADDR = '0.0.0.0' if DPDK else '127.0.0.1'


def local_addr(client=None):
    """The address `client` (a Server; None: the test itself) uses to reach
    a socket the test listens on at LISTEN_ADDR."""
    if client is not None and client.slot is not None:
        return client.slot.peer
    return '127.0.0.1'


def loopback_alias(addr):
    """A loopback source address a test binds its client to (127.X.Y.Z, X
    in 0..1), or on the DPDK plane its stand-in: 10.(97-X).Y.Z, local to
    the rig's namespace (integration_rig.sh routes 10.96.0.0/15 to it) and
    reached by the servers through their gateway."""
    if not DPDK:
        return addr
    parts = addr.split('.')
    assert parts[0] == '127' and parts[1] in ('0', '1'), addr
    return '10.%d.%s.%s' % (97 - int(parts[1]), parts[2], parts[3])


def kernel_plane_only(reason):
    """Decorator for a test (method or class) about the kernel data plane
    itself (unix sockets, bind addresses, kernel socket options, ...):
    skipped in DPDK mode, with the reason."""
    return unittest.skipIf(DPDK, 'kernel plane only: ' + reason)


def apply_dpdk_pending(suite):
    """Marks the tests DPDK_PENDING names as skipped (DPDK mode only)."""
    if not DPDK or not DPDK_PENDING:
        return
    for t in _iter_tests(suite):
        tid = t.id()
        for prefix, reason in DPDK_PENDING.items():
            if tid == prefix or tid.startswith(prefix + '.'):
                why = 'pending: ' + reason
                if prefix.count('.') < 2:
                    # A whole module or class: setUpClass does not run either.
                    cls = type(t)
                    cls.__unittest_skip__ = True
                    cls.__unittest_skip_why__ = why
                else:
                    setattr(t, t._testMethodName, unittest.skip(why)(lambda: None))
                break


def _iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _iter_tests(t)
        else:
            yield t


class _Slot:
    """One veth pair of the rig, held (flock) by one running server."""

    def __init__(self):
        os.makedirs(DPDK_LOCKDIR, exist_ok=True)
        for i in range(DPDK_SLOTS):
            fd = os.open(os.path.join(DPDK_LOCKDIR, str(i)), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            self.index, self.fd = i, fd
            self.iface = '%s%dd' % (DPDK_TAG, i)
            self.ip = '10.%d.%d.2' % (DPDK_NET, i)
            self.peer = '10.%d.%d.1' % (DPDK_NET, i)
            self.prefix = 'cbx-%s-%d' % (DPDK_TAG, i)
            self._clean()
            return
        raise RuntimeError('all %d DPDK slots of the rig are taken' % DPDK_SLOTS)

    def _clean(self):
        # A killed server's EAL runtime directory (--no-shconf keeps it empty).
        shutil.rmtree('/var/run/dpdk/' + self.prefix, ignore_errors=True)

    def release(self):
        if self.fd is not None:
            self._clean()
            os.close(self.fd)
            self.fd = None

    def args(self, extra):
        """cachebox's DPDK arguments; the poll cores follow --io-workers (all
        on CPU 1, the main lcore on CPU 0)."""
        workers = 1
        for i, a in enumerate(extra[:-1]):
            if a == '--io-workers':
                try:
                    workers = max(1, int(extra[i + 1]))
                except ValueError:
                    pass
        if workers == 1:
            lcores = '-l 0,1'
        else:
            lcores = '--lcores 0@0,' + ','.join('%d@1' % k for k in range(1, workers + 1))
        vdev = 'net_af_packet0,iface=%s,framecnt=4096' % self.iface
        if workers > 1:
            vdev += ',qpairs=%d' % workers
        eal = ('%s --no-pci --no-huge --no-shconf -m %d --no-telemetry --log-level=*:warning '
               '--file-prefix %s --vdev=%s' % (lcores, DPDK_MEM_MB, self.prefix, vdev))
        # Idle poll cores sleep: several servers' and workers' poll cores
        # share CPU 1 here, and a spinning one starves the one with work.
        return ['--dataplane', 'dpdk', '--dpdk-eal-args', eal, '--dpdk-port', '0',
                '--dpdk-ip', self.ip + '/24', '--dpdk-gateway', self.peer,
                '--dpdk-idle-sleep-us', str(DPDK_IDLE_SLEEP_US)]


def _dpdk_affinity():
    # EAL pins its lcores itself, but only onto CPUs the process may use.
    try:
        os.sched_setaffinity(0, {0, 1})
    except OSError:
        pass
    # A server outliving a killed test run would keep its slot's interface
    # (and a poll core spinning) after the slot's lock is gone.
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


_PORTS_GIVEN = set()


def _ephemeral_low():
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A TCP port nobody holds right now, below the kernel's ephemeral range:
    a port the kernel picked (bind to 0) can be handed to any outgoing
    connection before the server binds it, which fails the server's start."""
    high = _ephemeral_low() - 1
    low = max(1024, high - 12000)
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(1000):
        port = rng.randint(low, high)
        if port in _PORTS_GIVEN:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(('0.0.0.0', port))
        except OSError:
            continue
        _PORTS_GIVEN.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def is_redis_binary(path):
    return 'redis-server' in os.path.basename(path)


class Server:
    """One server process. kind is 'cachebox' or 'redis'. args are extra
    '--directive value' pairs (a flat list); config is the text of a config
    file written into the temp dir and passed first."""

    def __init__(self, kind='cachebox', args=(), config=None, port=None,
                 bind='127.0.0.1', wait=True):
        self.kind = kind
        self.binary = CACHEBOX_BIN if kind == 'cachebox' else REDIS_BIN
        self.port = port or free_port()
        self.host = bind
        self.dir = tempfile.mkdtemp(prefix='cbtest-')
        self.logpath = os.path.join(self.dir, 'server.log')
        self.config_path = None
        self.external = kind == 'cachebox' and bool(os.environ.get('CBTEST_CACHEBOX_ADDR'))
        self.slot = None
        self.proc = None
        self._logf = None
        if self.external:
            host, _, p = os.environ['CBTEST_CACHEBOX_ADDR'].rpartition(':')
            self.host, self.port = host, int(p)
            self.proc = None
            self._logf = None
            self.cmdline = []
            if wait:
                self.wait_ready()
            return
        cmd = [self.binary]
        if config is not None:
            self.config_path = os.path.join(self.dir, 'server.conf')
            with open(self.config_path, 'w') as f:
                f.write(config)
            cmd.append(self.config_path)
        sargs = [str(a) for a in args]
        given = set(a for a in sargs if a.startswith('--')) | set(
            line.split()[0] for line in (config or '').splitlines() if line.split())
        dpdk = DPDK and kind == 'cachebox'
        # A logfile directive sends the log elsewhere: no start-up line to wait for.
        self._log_visible = not ({'--logfile', 'logfile'} & given)
        if dpdk:
            self.slot = _Slot()
            self.host = self.slot.ip
            cmd += ['--port', str(self.port), '--dir', self.dir]
            if bind != '127.0.0.1':
                cmd += ['--bind', bind]
            if '--protected-mode' not in given and 'protected-mode' not in given:
                # Every client comes from the rig's kernel addresses.
                cmd += ['--protected-mode', 'no']
            cmd += self.slot.args(sargs)
        elif DPDK and bind == '127.0.0.1':
            # Reachable from the DPDK servers through the slots' kernel ends.
            cmd += ['--port', str(self.port), '--bind', '0.0.0.0', '--dir', self.dir]
            if '--protected-mode' not in given and 'protected-mode' not in given:
                cmd += ['--protected-mode', 'no']
        else:
            cmd += ['--port', str(self.port), '--bind', bind, '--dir', self.dir]
        if is_redis_binary(self.binary):
            cmd += ['--save', '', '--appendonly', 'no']
        elif ('control-port' not in (config or '') and
              '--control-port' not in [str(a) for a in args]):
            # The control port (default 8379) is off unless a test asks for
            # it, so that servers started side by side do not collide.
            cmd += ['--control-port', '0']
        cmd += sargs
        self.cmdline = cmd
        self._logf = open(self.logpath, 'wb')
        try:
            for attempt in range(5):
                self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, cwd=self.dir,
                                             preexec_fn=_dpdk_affinity if dpdk else None)
                if not dpdk or not self._fanout_clash():
                    break
            if wait:
                self.wait_ready()
        except BaseException:
            self.stop()
            raise

    @property
    def is_redis(self):
        return is_redis_binary(self.binary)

    def _fanout_clash(self):
        """Waits until the DPDK port is up or the server exits. True when it
        exited because af_packet's fanout group id (pid ^ queue, one
        namespace for every slot) was taken by another server's queue with
        a nearby pid: starting again gives it another pid."""
        deadline = time.time() + 10
        while self._log_visible and time.time() < deadline:
            log = self.log()
            if 'DPDK data plane: port' in log:
                return False
            if self.proc.poll() is not None:
                if 'could not set PACKET_FANOUT' not in log:
                    return False
                self._logf.seek(0)
                self._logf.truncate()
                return True
            time.sleep(0.02)
        return False

    @property
    def dpdk(self):
        """True when this server runs on the DPDK data plane."""
        return self.slot is not None

    def peer_host(self, client=None):
        """The address `client` (a Server; None: the test itself) uses to
        reach this server, e.g. for MIGRATE or REPLICAOF."""
        if self.slot is not None:
            return self.host
        # A kernel server seen from a DPDK one: through its slot's kernel end.
        return local_addr(client)

    def wait_ready(self, timeout=10.0, password=None):
        deadline = time.time() + timeout
        last = None
        # On DPDK a SYN sent before the stack is up is lost and the kernel
        # waits a second to resend it: wait for the port first, then try
        # with short connect timeouts.
        ctimeout = 1
        if self.slot is not None:
            ctimeout = 0.3
            while (self._log_visible and time.time() < deadline and
                   'DPDK data plane: port' not in self.log()):
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
        while time.time() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError('server exited with %s at start\n%s'
                                   % (self.proc.returncode, self.log()))
            try:
                with socket.create_connection((self.host, self.port), timeout=ctimeout) as s:
                    s.settimeout(1)
                    s.sendall(b'PING\r\n')
                    data = s.recv(100)
                    if data.startswith(b'+PONG'):
                        return
                    if data.startswith((b'-NOAUTH', b'-DENIED')):
                        # PING cannot say whether the dataset is still
                        # loading then: the log can.
                        log = self.log()
                        if 'Server initialized' not in log or 'Ready to accept' in log:
                            return
                    last = data
            except OSError as e:
                last = e
            time.sleep(0.05)
        raise RuntimeError('server did not answer PING within %.0fs (%r)\n%s'
                           % (timeout, last, self.log()))

    def alive(self):
        if self.external:
            return True
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after timeout. Returns the exit code."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.send_signal(signal.SIGTERM)
                    rc = self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    rc = self.proc.wait(5)
                except ProcessLookupError:
                    pass
            rc = self.proc.returncode
        if self._logf and not self._logf.closed:
            self._logf.close()
        if self.slot is not None and (self.proc is None or self.proc.poll() is not None):
            self.slot.release()
        return rc

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.logpath, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    # Clients -------------------------------------------------------------
    def raw(self, timeout=5.0):
        return RawConn(self.host, self.port, timeout)

    def redis(self, **kw):
        import redis  # Debian's python3-redis (call tests with /usr/bin/python3)
        kw.setdefault('socket_timeout', 10)
        return redis.Redis(host=self.host, port=self.port, **kw)

    def cli(self, *args, input=None, timeout=20, extra=()):
        """Runs redis-cli against the server; returns (rc, stdout text)."""
        cmd = [REDIS_CLI, '-h', self.host, '-p', str(self.port)] + list(extra) + [str(a) for a in args]
        p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return p.returncode, p.stdout.decode('utf-8', 'replace')

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


# RESP ---------------------------------------------------------------------

def encode_command(*args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


class ConnectionClosed(Exception):
    pass


class RawConn:
    """A blocking socket that sends bytes and reads whole RESP replies as raw
    bytes (parse() gives the structure when a test needs it)."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)
        self.buf = b''

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b''
        if not data:
            raise ConnectionClosed('connection closed by server (buffered %r)' % self.buf[:200])
        self.buf += data

    def _line(self, pos):
        while True:
            i = self.buf.find(b'\r\n', pos)
            if i >= 0:
                return i
            self._fill()

    def _need(self, n):
        while len(self.buf) < n:
            self._fill()

    def _skip_one(self, pos):
        """Returns the end offset of the reply starting at pos."""
        self._need(pos + 1)
        t = self.buf[pos:pos + 1]
        eol = self._line(pos)
        head = self.buf[pos + 1:eol]
        end = eol + 2
        if t in b'+-:_,#(':
            return end
        if t in b'$!=':
            n = int(head)
            if n < 0:
                return end
            self._need(end + n + 2)
            return end + n + 2
        if t in b'*~>':
            n = int(head)
            for _ in range(max(n, 0)):
                end = self._skip_one(end)
            return end
        if t in b'%|':
            n = int(head)
            for _ in range(2 * max(n, 0)):
                end = self._skip_one(end)
            if t == b'|':          # attribute: the real reply follows
                end = self._skip_one(end)
            return end
        raise ValueError('bad RESP type byte %r in %r' % (t, self.buf[pos:pos + 80]))

    def read_reply(self):
        """Bytes of exactly one reply."""
        end = self._skip_one(0)
        out, self.buf = self.buf[:end], self.buf[end:]
        return out

    def cmd(self, *args):
        self.send(encode_command(*args))
        return self.read_reply()

    def inline(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b'\r\n')
        return self.read_reply()

    def read_until_closed(self, timeout=5.0):
        """Reads until EOF; returns everything read. Raises socket.timeout
        when the server keeps the connection open past timeout (what was
        read stays in self.buf)."""
        self.sock.settimeout(timeout)
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b''
            if not chunk:
                data, self.buf = self.buf, b''
                return data
            self.buf += chunk

    def is_closed(self, timeout=2.0):
        try:
            self.read_until_closed(timeout)
            return True
        except (socket.timeout, TimeoutError):
            return False


def parse(data):
    """Parses one RESP2/RESP3 reply from bytes into Python values: bytes for
    strings, int, None, list, dict (as a list of pairs for %), and
    RespError for errors."""
    val, end = _parse(data, 0)
    return val


class RespError(Exception):
    def __eq__(self, other):
        return isinstance(other, RespError) and self.args == other.args

    def __hash__(self):
        return hash(self.args)


def _parse(b, pos):
    t = b[pos:pos + 1]
    eol = b.index(b'\r\n', pos)
    head = b[pos + 1:eol]
    end = eol + 2
    if t == b'+':
        return head, end
    if t == b'-':
        return RespError(head.decode('utf-8', 'replace')), end
    if t in (b':', b'('):
        return int(head), end
    if t == b'_':
        return None, end
    if t == b',':
        return float(head), end
    if t == b'#':
        return head == b't', end
    if t in (b'$', b'!', b'='):
        n = int(head)
        if n < 0:
            return None, end
        return b[end:end + n], end + n + 2
    if t in (b'*', b'~', b'>'):
        n = int(head)
        if n < 0:
            return None, end
        out = []
        for _ in range(n):
            v, end = _parse(b, end)
            out.append(v)
        return out, end
    if t in (b'%', b'|'):
        n = int(head)
        out = []
        for _ in range(n):
            k, end = _parse(b, end)
            v, end = _parse(b, end)
            out.append((k, v))
        if t == b'|':
            return _parse(b, end)
        return out, end
    raise ValueError('bad RESP %r' % b[pos:pos + 40])


# unittest glue ------------------------------------------------------------

def kinds_for_identical():
    """Servers a behaviour-must-match-Redis test runs against: cachebox and,
    when it is a different binary, the oracle (so a failing text shows
    whether the test or the server is wrong). CBTEST_KINDS overrides."""
    env = os.environ.get('CBTEST_KINDS')
    if env:
        return env.split(',')
    if is_redis_binary(CACHEBOX_BIN):
        return ['cachebox']
    return ['cachebox', 'redis']


class ServerTest(unittest.TestCase):
    """Base class: one server per test class (started in setUpClass), flushed
    before each test. Subclasses set SERVER_ARGS / SERVER_CONFIG / KIND."""
    KIND = 'cachebox'
    SERVER_ARGS = ()
    SERVER_CONFIG = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.KIND, args=cls.SERVER_ARGS, config=cls.SERVER_CONFIG)

    @classmethod
    def tearDownClass(cls):
        srv = getattr(cls, 'server', None)
        if srv is not None:
            srv.cleanup()

    def setUp(self):
        if not self.server.alive():
            self.fail('server died earlier\n' + self.server.log()[-3000:])
        self.r = self.server.redis(decode_responses=False)
        self.r.flushall()

    def tearDown(self):
        try:
            self.r.connection_pool.disconnect()   # close() keeps the pool open in redis-py 4.3
        except Exception:
            pass

    def raw(self, timeout=5.0):
        c = self.server.raw(timeout)
        self.addCleanup(c.close)
        return c


class PairTest(unittest.TestCase):
    """Base class: cachebox (cls.cb) and redis-server (cls.rs) started side
    by side for the whole test class, for tests that compare the two."""

    @classmethod
    def setUpClass(cls):
        cls.cb = Server('cachebox')
        cls.rs = Server('redis')

    @classmethod
    def tearDownClass(cls):
        cls.cb.cleanup()
        cls.rs.cleanup()


def for_kinds(mixin, kinds=None, base=None):
    """Makes one TestCase per server kind from a mixin class holding the
    test methods (not itself a TestCase, so it is not collected), named
    Mixin_kind; returns them as a dict to merge into a module's globals."""
    out = {}
    for k in kinds or kinds_for_identical():
        name = '%s_%s' % (mixin.__name__.lstrip('_'), k)
        out[name] = type(name, (mixin, base or ServerTest),
                         {'KIND': k, '__module__': mixin.__module__})
    return out
