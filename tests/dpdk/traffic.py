"""traffic.py — verified traffic through the DPDK data plane, run by
run_dpdk_tests.sh inside the client namespace with /usr/bin/python3:
  roundtrips   N SET/GET pairs over C concurrent connections, each value
               random and checked on the way back; prints the time and the
               50th/99th percentile and maximum time of one SET+GET pair;
  bigvalue     SET and GET of one value of the given size, compared byte
               for byte (exercises windows, cwnd and send-buffer refills);
  churn        N connections opened, one round trip each, closed;
  many         N connections open at once, each doing a round trip, then
               all closed (abort=1: with SO_LINGER 0, i.e. a RST each);
  synburst     N non-blocking connects at once (a burst of SYNs), then a
               round trip on each.
Usage: traffic.py HOST PORT roundtrips N C | bigvalue BYTES | churn N |
       many N ABORT | synburst N
Prints one line per check and exits 1 on any mismatch.
"""
import hashlib
import os
import sys
import threading
import time

import redis


def roundtrips(host, port, n, conns):
    errors = []
    per = n // conns
    lat = []

    def work(i):
        mine = []
        try:
            r = redis.Redis(host=host, port=port, socket_timeout=60)
            r.ping()  # connected before the pairs are timed
            clock = time.monotonic
            for j in range(per):
                k = 'rt:%d:%d' % (i, j)
                v = os.urandom(16 + (j * 37) % 400)
                t = clock()
                if not r.set(k, v):
                    errors.append('SET %s failed' % k)
                    return
                got = r.get(k)
                mine.append(clock() - t)
                if got != v:
                    errors.append('GET %s mismatch' % k)
                    return
            r.close()
            lat.extend(mine)
        except Exception as e:  # noqa: BLE001 - report any failure
            errors.append('conn %d: %r' % (i, e))

    t0 = time.time()
    ts = [threading.Thread(target=work, args=(i,)) for i in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.time() - t0
    lat.sort()

    def pct(q):
        return 1000 * lat[min(len(lat) - 1, int(q * len(lat)))] if lat else 0

    print('roundtrips: %d SET/GET pairs over %d connections in %.2fs, %d errors %s; '
          'per pair p50 %.2f ms, p99 %.2f ms, max %.1f ms'
          % (per * conns, conns, dt, len(errors), errors[:3], pct(0.5), pct(0.99),
             1000 * lat[-1] if lat else 0))
    return not errors


def bigvalue(host, port, size):
    r = redis.Redis(host=host, port=port, socket_timeout=120)
    v = os.urandom(size)
    t0 = time.time()
    r.set('big', v)
    got = r.get('big')
    dt = time.time() - t0
    ok = got is not None and len(got) == size and hashlib.sha256(got).digest() == hashlib.sha256(v).digest()
    r.delete('big')
    print('bigvalue: %d bytes SET+GET in %.2fs (%.1f MB/s) %s'
          % (size, dt, 2 * size / dt / 1e6 if dt else 0, 'intact' if ok else 'MISMATCH'))
    return ok


def churn(host, port, n):
    bad = 0
    for i in range(n):
        r = redis.Redis(host=host, port=port, socket_timeout=10)
        try:
            if r.echo('c%d' % i) != b'c%d' % i:
                bad += 1
        except Exception:  # noqa: BLE001
            bad += 1
        r.close()
    print('churn: %d connections opened, used and closed, %d bad' % (n, bad))
    return bad == 0


def many(host, port, n, abort):
    import socket
    import struct
    socks = []
    bad = 0
    t0 = time.time()
    try:
        for i in range(n):
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(b'PING\r\n')
            if s.recv(16) != b'+PONG\r\n':
                bad += 1
            socks.append(s)
        r = redis.Redis(host=host, port=port, socket_timeout=10)
        clients = r.info('clients')['connected_clients']
        r.close()
    finally:
        for s in socks:
            if abort:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.close()
    print('many: %d connections open at once (server saw %d clients), %d bad, %s close, %.2fs'
          % (len(socks), clients, bad, 'abortive' if abort else 'orderly', time.time() - t0))
    return bad == 0 and clients >= n


def synburst(host, port, n):
    import select
    import socket
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((host, port))
        socks.append(s)
    pending = set(socks)
    deadline = time.time() + 20
    while pending and time.time() < deadline:
        _, w, _ = select.select([], list(pending), [], 1)
        pending -= set(w)
    ok = 0
    for s in socks:
        if s in pending or s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            continue
        s.setblocking(True)
        s.settimeout(10)
        try:
            s.sendall(b'PING\r\n')
            if s.recv(16) == b'+PONG\r\n':
                ok += 1
        except OSError:
            pass
    for s in socks:
        s.close()
    print('synburst: %d of %d connections from one SYN burst completed a round trip' % (ok, n))
    return ok == n


def main():
    host, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if what == 'roundtrips':
        ok = roundtrips(host, port, int(sys.argv[4]), int(sys.argv[5]))
    elif what == 'bigvalue':
        ok = bigvalue(host, port, int(sys.argv[4]))
    elif what == 'many':
        ok = many(host, port, int(sys.argv[4]), int(sys.argv[5]))
    elif what == 'synburst':
        ok = synburst(host, port, int(sys.argv[4]))
    elif what == 'churn':
        ok = churn(host, port, int(sys.argv[4]))
    else:
        raise SystemExit('unknown check ' + what)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
