"""Long non-script work on the DPDK plane (run in the client namespace by
run_dpdk_tests.sh): the poll core keeps its stack moving while its worker
may not run commands (dpdk_driver.c ddrv_stack_poll).

  long_work.py IP PORT save      SAVE stretched by rdb-key-save-delay (~3 s):
                                 ICMP echo keeps answering, a connection opened
                                 meanwhile completes its handshake at once, an
                                 idle connection gets keepalive probes, other
                                 clients get no reply until SAVE ends, then
                                 every reply in order.
  long_work.py IP PORT loading   the server is loading its RDB (key-load-delay):
                                 -LOADING replies, ping, INFO loading:1, then
                                 the whole dataset. argv[4]: keys expected.
Exits 0 when every check passed; prints what failed.
"""
import socket
import subprocess
import sys
import time

IP, PORT, MODE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
LOADING = b'-LOADING Redis is loading the dataset in memory\r\n'
failures = []


def check(cond, what):
    print('     %s %s' % ('ok  ' if cond else 'FAIL', what))
    if not cond:
        failures.append(what)


def conn(timeout=5.0):
    s = socket.create_connection((IP, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_replies(s, n, timeout=30.0):
    """n RESP replies of the simple kinds used here, as raw bytes each."""
    s.settimeout(timeout)
    buf, out = b'', []
    while len(out) < n:
        while True:
            if b'\r\n' in buf:
                line, rest = buf.split(b'\r\n', 1)
                if line[:1] == b'$' and int(line[1:]) >= 0:
                    need = int(line[1:]) + 2
                    if len(rest) < need:
                        break
                    out.append(line + b'\r\n' + rest[:need])
                    buf = rest[need:]
                else:
                    out.append(line + b'\r\n')
                    buf = rest
                break
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError('closed')
            buf += chunk
    return out


def cmd(s, line, timeout=30.0):
    s.sendall(line.encode() + b'\r\n')
    return read_replies(s, 1, timeout)[0]


def info_field(s, section, name):
    s.sendall(b'INFO ' + section.encode() + b'\r\n')
    s.settimeout(10)
    data = b''
    while True:
        data += s.recv(65536)
        if data.startswith(b'$'):
            head, _, body = data.partition(b'\r\n')
            if len(body) >= int(head[1:]) + 2:
                break
    for line in body.decode().split('\r\n'):
        if line.startswith(name + ':'):
            return line.split(':', 1)[1]
    return None


def pings_answer():
    r = subprocess.run(['ping', '-c', '3', '-i', '0.2', '-W', '1', '-q', IP],
                       capture_output=True, text=True)
    return r.returncode == 0


def quiet(s, wait=0.3):
    """True when nothing arrives on s for `wait` seconds."""
    s.settimeout(wait)
    try:
        return s.recv(1) == b''
    except socket.timeout:
        return True


def mode_save():
    ctl = conn()
    check(cmd(ctl, 'CONFIG SET tcp-keepalive 1') == b'+OK\r\n', 'tcp-keepalive 1')
    check(cmd(ctl, 'DEBUG POPULATE 3000 lw') == b'+OK\r\n', 'DEBUG POPULATE 3000')
    check(cmd(ctl, 'CONFIG SET rdb-key-save-delay 1000') == b'+OK\r\n', 'rdb-key-save-delay 1000')
    probes0 = int(info_field(ctl, 'dataplane', 'tcp_keepalive_probes'))
    idle = conn()            # says nothing: its keepalive timer must fire
    pipe = conn()
    saver = conn()
    t0 = time.time()
    saver.sendall(b'SAVE\r\n')
    time.sleep(0.3)
    check(pings_answer(), 'ICMP echo answered during SAVE')
    t1 = time.time()
    late = conn()
    hs = time.time() - t1
    check(hs < 0.5, 'a connection opened during SAVE completes its handshake at once (%.3f s)' % hs)
    late.sendall(b'PING\r\n')
    pipe.sendall(b'SET lw:k v1\r\nINCR lw:n\r\nINCR lw:n\r\nGET lw:k\r\nDEL lw:n\r\n')
    check(quiet(pipe) and quiet(late), 'no reply to other clients while SAVE runs')
    check(time.time() - t0 < 2.0, 'checks done inside the SAVE')
    reply = read_replies(saver, 1, 60)[0]
    took = time.time() - t0
    check(reply == b'+OK\r\n', 'SAVE replied +OK')
    check(took >= 2.0, 'SAVE lasted %.1f s (rdb-key-save-delay)' % took)
    check(read_replies(pipe, 5) == [b'+OK\r\n', b':1\r\n', b':2\r\n', b'$2\r\nv1\r\n', b':1\r\n'],
          'the pipeline sent during SAVE answered in order after it')
    check(read_replies(late, 1) == [b'+PONG\r\n'], 'the new connection answered after SAVE')
    probes = int(info_field(ctl, 'dataplane', 'tcp_keepalive_probes'))
    check(probes > probes0, 'keepalive probes sent during SAVE (%d -> %d)' % (probes0, probes))
    check(cmd(idle, 'PING') == b'+PONG\r\n', 'the idle connection is still fine')
    cmd(ctl, 'CONFIG SET rdb-key-save-delay 0')
    cmd(ctl, 'CONFIG SET tcp-keepalive 300')
    cmd(ctl, 'DEL lw:k')


def mode_loading(nkeys):
    deadline = time.time() + 30
    s = None
    while s is None:
        try:
            s = conn(2)
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    check(cmd(s, 'PING') == LOADING, 'PING while loading: -LOADING')
    check(cmd(s, 'GET lw:1') == LOADING, 'GET while loading: -LOADING')
    check(info_field(s, 'persistence', 'loading') == '1', 'INFO persistence loading:1')
    check(pings_answer(), 'ICMP echo answered while loading')
    t1 = time.time()
    other = conn()
    check(time.time() - t1 < 0.5, 'a connection opened while loading completes at once')
    check(cmd(other, 'SET x y') == LOADING, 'SET on it: -LOADING')
    end = time.time() + 120
    while info_field(s, 'persistence', 'loading') != '0' and time.time() < end:
        time.sleep(0.1)
    check(cmd(s, 'PING') == b'+PONG\r\n', 'PING after loading')
    check(cmd(other, 'DBSIZE') == b':%d\r\n' % nkeys, 'the whole dataset is there (%d keys)' % nkeys)


if MODE == 'save':
    mode_save()
else:
    mode_loading(int(sys.argv[4]))
sys.exit(1 if failures else 0)
