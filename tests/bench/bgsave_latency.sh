#!/usr/bin/env bash
# bgsave_latency.sh — GET/SET latency during a BGSAVE of a large dataset,
# cachebox (fork-less snapshot, docs/snapshots.md) against Debian's
# redis-server (which forks), and each one's peak memory meanwhile.
#
# For each server: DEBUG POPULATE $BENCH_KEYS keys of $BENCH_VALUE bytes;
# a background writer overwrites random keys (~$BENCH_WRITES_PER_SEC/s, so
# the snapshot has copy-on-write work); a probe sends GET and SET one at a
# time on its own connection and records each round trip — first for
# $BENCH_BASE_SECS s without a snapshot (baseline), then from BGSAVE until
# rdb_bgsave_in_progress:0. RSS is sampled every 10 ms over the server and
# (redis) its fork child; for redis the sum of PSS is printed too, which
# counts shared copy-on-write pages once (BENCH_PSS=1). Not part of test.sh.
# Env: CACHEBOX_BIN (default build/cachebox), BENCH_KEYS (default 3000000),
#      BENCH_VALUE (default 256), BENCH_WRITES_PER_SEC (default 20000),
#      BENCH_BASE_SECS (default 5), BENCH_PSS=1 (also sample PSS; its page-table
#      walk perturbs the latencies).
set -euo pipefail
cd "$(dirname "$0")/../.."
CB=${CACHEBOX_BIN:-build/cachebox}
CB=$(realpath "$CB" 2>/dev/null || echo "$CB")
[ -x "$CB" ] || { echo "bgsave_latency: $CB not built (run ninja -C build)" >&2; exit 1; }
export CB BENCH_KEYS=${BENCH_KEYS:-3000000} BENCH_VALUE=${BENCH_VALUE:-256}
export BENCH_WRITES_PER_SEC=${BENCH_WRITES_PER_SEC:-20000} BENCH_BASE_SECS=${BENCH_BASE_SECS:-5}
exec /usr/bin/python3 - <<'PYEOF'
import os, random, shutil, socket, subprocess, tempfile, threading, time
import redis

CB = os.environ['CB']
KEYS = int(os.environ['BENCH_KEYS'])
VALUE = int(os.environ['BENCH_VALUE'])
WPS = int(os.environ['BENCH_WRITES_PER_SEC'])
BASE = float(os.environ['BENCH_BASE_SECS'])
PSS = os.environ.get('BENCH_PSS') == '1'


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def tree_pids(pid):
    out = [pid]
    try:
        for child in open('/proc/%d/task/%d/children' % (pid, pid)).read().split():
            out += tree_pids(int(child))
    except OSError:
        pass
    return out


def field_kb(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def mem(pid):
    pids = tree_pids(pid)
    rss = sum(field_kb('/proc/%d/status' % p, 'VmRSS:') for p in pids)
    # smaps_rollup walks the page tables under the process's mmap lock:
    # sampled only when asked (BENCH_PSS=1), as it stalls the server.
    pss = sum(field_kb('/proc/%d/smaps_rollup' % p, 'Pss:') for p in pids) if PSS else 0
    return rss, pss, len(pids)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


def run(kind):
    d = tempfile.mkdtemp(prefix='bgsave-bench-')
    port = free_port()
    if kind == 'redis':
        cmd = ['redis-server', '--save', '', '--appendonly', 'no']
    else:
        cmd = [CB, '--control-port', '0']  # several may run on one host
    cmd += ['--port', str(port), '--bind', '127.0.0.1', '--dir', d,
            '--enable-debug-command', 'yes']
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
    try:
        r = redis.Redis(port=port)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        r.execute_command('DEBUG', 'POPULATE', KEYS, 'key', VALUE)
        rss0, pss0, _ = mem(proc.pid)
        stop = threading.Event()

        def writer():
            w = redis.Redis(port=port)
            val = b'x' * VALUE
            while not stop.is_set():
                t = time.time()
                p = w.pipeline(transaction=False)
                for _ in range(100):
                    p.set('key:%d' % random.randrange(KEYS), val)
                p.execute()
                left = 100.0 / WPS - (time.time() - t)
                if left > 0:
                    time.sleep(left)
        wt = threading.Thread(target=writer)
        wt.start()
        probe = redis.Redis(port=port)
        peak = [rss0, pss0, 1]
        sampling = threading.Event()

        def sampler():
            while not stop.is_set():
                if sampling.is_set():
                    rss, pss, n = mem(proc.pid)
                    peak[0] = max(peak[0], rss)
                    peak[1] = max(peak[1], pss)
                    peak[2] = max(peak[2], n)
                time.sleep(0.01)
        st = threading.Thread(target=sampler)
        st.start()

        def measure(until):
            lat = []
            i = 0
            while not until():
                k = 'key:%d' % random.randrange(KEYS)
                t = time.perf_counter()
                if i & 1:
                    probe.set(k, b'y' * VALUE)
                else:
                    probe.get(k)
                lat.append((time.perf_counter() - t) * 1000.0)
                i += 1
            return lat
        end = time.time() + BASE
        base = measure(lambda: time.time() >= end)
        ctl = redis.Redis(port=port)
        sampling.set()
        t0 = time.time()
        ctl.execute_command('BGSAVE')
        state = {'next': 0.0, 'done': False}

        def finished():
            now = time.time()
            if now >= state['next']:
                state['next'] = now + 0.05
                state['done'] = ctl.info('persistence')['rdb_bgsave_in_progress'] == 0
            return state['done']
        during = measure(finished)
        secs = time.time() - t0
        stop.set()
        wt.join()
        st.join()
        info = ctl.info('persistence')
        used = ctl.info('memory')['used_memory']
        return {
            'kind': kind, 'secs': secs, 'rss0': rss0, 'peak_rss': peak[0], 'pss0': pss0,
            'peak_pss': peak[1], 'procs': peak[2], 'used': used,
            'cow': info['rdb_last_cow_size'], 'status': info['rdb_last_bgsave_status'],
            'base': base, 'during': during,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(d, ignore_errors=True)


print('dataset: %d keys x %d-byte values, background writes ~%d/s' % (KEYS, VALUE, WPS))
for res in (run('cachebox'), run('redis')):
    b, d = res['base'], res['during']
    print('\n%s: BGSAVE took %.2f s (status %s), used_memory %.0f MiB' % (
        res['kind'], res['secs'], res['status'], res['used'] / 1048576))
    print('  latency ms     requests   p50     p99     p99.9   max')
    for name, xs in (('baseline', b), ('during BGSAVE', d)):
        print('  %-13s %8d  %6.3f  %6.3f  %6.3f  %7.3f' % (
            name, len(xs), pct(xs, .5), pct(xs, .99), pct(xs, .999), max(xs) if xs else 0))
    print('  RSS before %.0f MiB, peak during %.0f MiB (+%.1f%%, %d process(es)); '
          'rdb_last_cow_size %.1f MiB' % (
              res['rss0'] / 1024, res['peak_rss'] / 1024,
              100.0 * (res['peak_rss'] - res['rss0']) / res['rss0'], res['procs'],
              res['cow'] / 1048576))
    if PSS:
        print('  PSS before %.0f MiB, peak %.0f MiB' % (res['pss0'] / 1024, res['peak_pss'] / 1024))
PYEOF
