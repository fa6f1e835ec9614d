"""Replication over the DPDK data plane, from the client namespace
(tests/dpdk/run_dpdk_tests.sh, section `repl`). Debian's redis-server is
the other end, in the client namespace on 10.99.0.1.

  repl.py master  CBX_IP CBX_PORT RPORT DIR   cachebox (DPDK) is the master
  repl.py replica CBX_IP CBX_PORT RPORT DIR   cachebox (DPDK) is the replica

Prints one "ok ..." line per check and exits 1 at the first failure.
Design: docs/replication.md ("The DPDK data plane").
"""
import os
import subprocess
import sys
import threading
import time

import redis

ME = '10.99.0.1'
# Writes made during the sync (REPL_WRITES: the two-poll-core rig shares
# one CPU between both lcores, where every cross-shard hop waits for a
# time slice, so it runs fewer).
WRITES = int(os.environ.get('REPL_WRITES', '20000'))


def info(r, section):
    raw = r.execute_command('INFO', section)
    if isinstance(raw, bytes):
        raw = raw.decode()
    if isinstance(raw, dict):
        return {k: str(v) for k, v in raw.items()}
    out = {}
    for line in raw.splitlines():
        if ':' in line and not line.startswith('#'):
            k, _, v = line.partition(':')
            out[k] = v
    return out


T0 = time.time()


def check(cond, what):
    what = '[%5.1f s] %s' % (time.time() - T0, what)
    if not cond:
        print('FAIL', what, flush=True)
        sys.exit(1)
    print('ok  ', what, flush=True)


def wait_for(fn, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except (redis.ConnectionError, redis.ResponseError) as e:
            last = e
        time.sleep(0.05)
    check(False, '%s (last: %r)' % (what, last))


def start_redis(port, d, *extra):
    os.makedirs(d, exist_ok=True)
    subprocess.check_call(['redis-server', '--port', str(port), '--bind', ME, '--save', '',
                           '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'yes',
                           '--enable-debug-command', 'yes',
                           '--dir', d, '--pidfile', d + '/pid', '--logfile', d + '/log'] +
                          list(extra))
    r = redis.Redis(ME, port, socket_timeout=10)
    wait_for(lambda: r.ping(), 10, 'redis-server on %s:%d starts' % (ME, port))
    return r


def stop_redis(d):
    try:
        with open(d + '/pid') as f:
            os.kill(int(f.read().strip()), 15)
    except (OSError, ValueError):
        pass


def load_types(r, tag):
    p = r.pipeline(transaction=False)
    for i in range(20):
        p.hset('%s:h%d' % (tag, i), mapping={'f%d' % j: j for j in range(50)})
        p.rpush('%s:l%d' % (tag, i), *range(100))
        p.zadd('%s:z%d' % (tag, i), {'m%d' % j: j / 7 for j in range(80)})
        p.sadd('%s:s%d' % (tag, i), *range(40))
        p.xadd('%s:x%d' % (tag, i), {'a': i})
        p.xadd('%s:x%d' % (tag, i), {'b': i})
        p.set('%s:ttl%d' % (tag, i), 'v', ex=3600)
    p.execute()
    t = r.pipeline(transaction=True)
    t.incr('%s:{m}a' % tag)
    t.lpush('%s:{m}l' % tag, 'x')
    t.execute()


def writer(r, tag, n, stop=None):
    """n pipelined SETs (or until stop is set), 500 at a time."""
    i = 0
    while i < n and not (stop and stop.is_set()):
        p = r.pipeline(transaction=False)
        for _ in range(500):
            p.set('%s:%d' % (tag, i), 'x' * (i % 64))
            p.incr('%s:ctr' % tag)
            i += 1
        p.execute()


def synced(m, s):
    mo = info(m, 'replication').get('master_repl_offset')
    so = info(s, 'replication').get('slave_repl_offset')
    return info(s, 'replication').get('master_link_status') == 'up' and mo == so


def same_digest(m, s):
    return m.execute_command('DEBUG', 'DIGEST') == s.execute_command('DEBUG', 'DIGEST')


def as_master(cip, cport, rport, d):
    m = redis.Redis(cip, cport, socket_timeout=20)
    m.config_set('repl-diskless-sync-delay', 0)   # no wait for more replicas
    m.flushall()
    m.execute_command('DEBUG', 'POPULATE', 100000, 'pop', 64)
    load_types(m, 'before')
    r = start_redis(rport, d, '--replicaof', cip, str(cport))
    t0 = time.time()
    done = threading.Event()
    # Writes while the image is on its way and right after.
    th = threading.Thread(target=writer, args=(redis.Redis(cip, cport), 'during', WRITES))
    th.start()
    wait_for(lambda: info(r, 'replication').get('master_link_status') == 'up', 30,
             'redis-server replica: master_link_status:up')
    print('     full sync of %d keys: %.2f s' % (m.dbsize(), time.time() - t0), flush=True)
    th.join()
    print('     writer done: %.2f s' % (time.time() - t0), flush=True)
    done.set()
    load_types(m, 'after')
    m.set('after:last', 'end')
    wait_for(lambda: synced(m, r), 20, 'stream caught up (slave_repl_offset == master_repl_offset)')
    check(same_digest(m, r), 'DEBUG DIGEST equal on both (%d keys)' % r.dbsize())
    ir = info(m, 'replication')
    check(ir.get('connected_slaves') == '1', 'INFO replication: connected_slaves:1')
    s0 = m.info('replication').get('slave0', {})
    check(s0.get('ip') == ME and s0.get('port') == rport and s0.get('state') == 'online',
          'INFO replication: slave0 ip=%s state=online (%s)' % (ME, s0))
    role = m.execute_command('ROLE')
    check(role[0] == b'master' and len(role[2]) == 1 and role[2][0][0] == ME.encode(),
          'ROLE: master with the replica')
    cl = m.execute_command('CLIENT', 'LIST', 'TYPE', 'replica')
    cl = cl.decode() if isinstance(cl, bytes) else cl
    check(('addr=%s:' % ME) in cl and 'flags=S' in cl, 'CLIENT LIST TYPE replica: its address')
    m.set('wait:k', 1)
    check(m.execute_command('WAIT', 1, 1000) == 1, 'WAIT 1 1000 returns 1')
    ok0 = int(info(m, 'stats')['sync_partial_ok'])
    full0 = int(info(m, 'stats')['sync_full'])
    r.execute_command('CLIENT', 'KILL', 'TYPE', 'master')
    m.set('after:kill', 1)
    wait_for(lambda: int(info(m, 'stats')['sync_partial_ok']) > ok0, 20,
             'after CLIENT KILL TYPE master on the replica: a partial resync')
    check(int(info(m, 'stats')['sync_full']) == full0, 'no second full sync')
    # Broken from our side this time.
    n = m.execute_command('CLIENT', 'KILL', 'TYPE', 'replica')
    check(n == 1, 'CLIENT KILL TYPE replica on cachebox closes it')
    writer(m, 'late', WRITES // 4)
    wait_for(lambda: int(info(m, 'stats')['sync_partial_ok']) > ok0 + 1, 20,
             'after CLIENT KILL TYPE replica: a partial resync again')
    wait_for(lambda: synced(m, r), 20, 'stream caught up again')
    check(same_digest(m, r), 'DEBUG DIGEST equal after the partial resyncs')
    stop_redis(d)


def as_replica(cip, cport, rport, d):
    c = redis.Redis(cip, cport, socket_timeout=20)
    c.replicaof('no', 'one')
    c.flushall()
    m = start_redis(rport, d, '--repl-diskless-sync-delay', '0')
    m.flushall()
    m.execute_command('DEBUG', 'POPULATE', 100000, 'pop', 64)
    load_types(m, 'before')
    t0 = time.time()
    check(c.execute_command('REPLICAOF', ME, rport) in (b'OK', True, 'OK'), 'REPLICAOF answers OK')
    th = threading.Thread(target=writer, args=(redis.Redis(ME, rport), 'during', WRITES))
    th.start()
    wait_for(lambda: info(c, 'replication').get('master_link_status') == 'up', 30,
             'cachebox replica: master_link_status:up')
    print('     full sync of %d keys: %.2f s' % (m.dbsize(), time.time() - t0), flush=True)
    th.join()
    load_types(m, 'after')
    wait_for(lambda: synced(m, c), 20, 'stream applied (slave_repl_offset == master_repl_offset)')
    check(same_digest(m, c), 'DEBUG DIGEST equal on both (%d keys)' % c.dbsize())
    role = c.execute_command('ROLE')
    check([x if isinstance(x, int) else x.decode() for x in role[:4]] ==
          ['slave', ME, rport, 'connected'], 'ROLE: slave %s %d connected' % (ME, rport))
    try:
        c.set('ro', 1)
        check(False, 'a write on the replica is refused')
    except redis.ResponseError as e:
        check(str(e).startswith("You can't write against a read only replica"),
              '-READONLY for a write (%s)' % e)
    ok0 = int(info(m, 'stats')['sync_partial_ok'])
    c.execute_command('CLIENT', 'KILL', 'TYPE', 'master')
    m.set('after:kill', 1)
    wait_for(lambda: int(info(m, 'stats')['sync_partial_ok']) > ok0, 20,
             'after CLIENT KILL TYPE master: a partial resync')
    wait_for(lambda: synced(m, c), 20, 'stream applied after the partial resync')
    # A closed port: the link stays down and the log says why.
    c.execute_command('REPLICAOF', ME, rport + 7)
    time.sleep(2.5)
    check(info(c, 'replication').get('master_link_status') == 'down',
          'REPLICAOF to a closed port: master_link_status:down')
    c.execute_command('REPLICAOF', ME, rport)
    wait_for(lambda: synced(m, c), 30, 'back to the right port: the link comes up again')
    m.set('final', 'yes')
    wait_for(lambda: c.get('final') == b'yes', 10, 'the stream flows again')
    check(same_digest(m, c), 'DEBUG DIGEST equal again')
    check(c.execute_command('REPLICAOF', 'NO', 'ONE') in (b'OK', True, 'OK'), 'REPLICAOF NO ONE')
    check(info(c, 'replication').get('role') == 'master' and c.set('rw', 1),
          'a master again: role:master, writes accepted')
    stop_redis(d)


def main():
    mode, cip, cport, rport, d = sys.argv[1:6]
    fn = as_master if mode == 'master' else as_replica
    fn(cip, int(cport), int(rport), d)


if __name__ == '__main__':
    main()
