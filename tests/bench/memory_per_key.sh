#!/usr/bin/env bash
# memory_per_key.sh — bytes per key, cachebox against Debian's redis-server,
# side by side, for three data sets loaded with a pipelined raw-socket writer:
#   strings: 1,000,000 string keys with 16-byte values
#   hashes:  1,000,000 small hashes (4 fields of 8-byte values)
#   zsets:   100,000 sorted sets of 100 members
# Each is loaded into an empty server; bytes per key = (used_memory after -
# used_memory before) / keys, and RSS growth per key too (RSS includes what
# the allocator holds beyond used_memory). Prints a table and the ratio
# cachebox/redis. Not part of test.sh (about a minute on 2 cores).
# Env: CACHEBOX_BIN (default build/cachebox), SCALE (divides every key count;
#      default 1), SERVER_CPU, CLIENT_CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
CB=${CACHEBOX_BIN:-build/cachebox}
SCALE=${SCALE:-1}
SCPU=${SERVER_CPU:-1}
CCPU=${CLIENT_CPU:-0}
PY=/usr/bin/python3
[ -x "$CB" ] || { echo "memory_per_key: $CB not built (run ninja -C build)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/cachebox-mem.XXXXXX)
BENCH=memory_per_key
. tests/bench/bench_lib.sh
# A fresh pair of servers per data set, so RSS growth is not hidden by
# pages the previous set freed.
start_servers() { start_pair "$SCPU"; }
stop_servers() { stop_all; }

# Prints "keys used_before used_after rss_before rss_after" for one data set.
load() {
    taskset -c "$CCPU" $PY - "$1" "$2" "$SCALE" <<'PYEOF'
import socket, sys, time
port, kind, scale = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(('127.0.0.1', port), timeout=120)
f = s.makefile('rb')
def enc(*a):
    return b''.join([b'*%d\r\n' % len(a)] + [b'$%d\r\n%s\r\n' % (len(x), x) for x in a])
def reply():
    line = f.readline()
    if line[:1] == b'$':
        n = int(line[1:])
        return f.read(n + 2)[:-2] if n >= 0 else None
    if line[:1] == b'*':
        return [reply() for _ in range(int(line[1:]))]
    return line.strip()
def mem():
    s.sendall(enc(b'INFO', b'memory'))
    d = {}
    for l in reply().split(b'\r\n'):
        if b':' in l:
            k, v = l.split(b':', 1)
            d[k] = v
    return int(d[b'used_memory']), int(d[b'used_memory_rss'])
s.sendall(enc(b'FLUSHALL')); reply()
time.sleep(0.3)
ub, rb = mem()
if kind == 'strings':
    n = 1000000 // scale
    gen = lambda i: enc(b'SET', b'key:%08d' % i, b'v' * 16)
elif kind == 'hashes':
    n = 1000000 // scale
    gen = lambda i: enc(b'HSET', b'hash:%08d' % i, b'f1', b'value001', b'f2', b'value002',
                        b'f3', b'value003', b'f4', b'value004')
else:
    n = 100000 // scale
    members = []
    for j in range(100):
        members += [b'%d' % j, b'member:%03d' % j]
    gen = lambda i: enc(b'ZADD', b'zset:%07d' % i, *members)
batch = 2000
for start in range(0, n, batch):
    end = min(n, start + batch)
    s.sendall(b''.join(gen(i) for i in range(start, end)))
    for _ in range(start, end):
        reply()
time.sleep(0.3)
s.sendall(enc(b'DBSIZE')); keys = int(reply()[1:])
ua, ra = mem()
print('%d %d %d %d %d' % (keys, ub, ua, rb, ra))
PYEOF
}

printf '%-10s %9s %14s %14s %8s %14s %14s\n' "data set" "keys" "redis B/key" "cachebox B/key" \
    "ratio" "redis RSS/key" "cb RSS/key"
for kind in strings hashes zsets; do
    start_servers
    read -r rk rub rua rrb rra < <(load "$RPORT" "$kind")
    read -r ck cub cua crb cra < <(load "$CPORT" "$kind")
    awk -v k="$kind" -v rk="$rk" -v ck="$ck" -v rub="$rub" -v rua="$rua" -v cub="$cub" \
        -v cua="$cua" -v rrb="$rrb" -v rra="$rra" -v crb="$crb" -v cra="$cra" 'BEGIN {
        r = (rua - rub) / rk; c = (cua - cub) / ck
        rr = (rra - rrb) / rk; cr = (cra - crb) / ck
        printf "%-10s %9d %14.1f %14.1f %8.2f %14.1f %14.1f\n", k, ck, r, c, c / r, rr, cr }'
    stop_servers
done
