#!/usr/bin/env bash
# compare.sh — redis-benchmark against Debian's redis-server and cachebox,
# started side by side and pinned the same way (servers on CPU 1, the
# benchmark on CPU 0; see ../shared/notes/platform-facts.md), then memory per
# key for 1,000,000 small string keys from each server's used_memory.
# Prints each figure and the ratio cachebox/redis. Not part of test.sh.
# Env: CACHEBOX_BIN (default build/cachebox), BENCH_N (requests per test),
#      BENCH_KEYS (keys for the memory test), SERVER_CPU, CLIENT_CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
CB=${CACHEBOX_BIN:-build/cachebox}
N=${BENCH_N:-400000}
KEYS=${BENCH_KEYS:-1000000}
SCPU=${SERVER_CPU:-1}
CCPU=${CLIENT_CPU:-0}
PY=/usr/bin/python3
[ -x "$CB" ] || { echo "compare: $CB not built (run ninja -C build)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/cachebox-bench.XXXXXX)
BENCH=compare
. tests/bench/bench_lib.sh
start_pair "$SCPU"

# bench PORT PIPELINE -> "TEST,rps" lines
bench() {
    taskset -c "$CCPU" redis-benchmark -p "$1" -c 50 -n "$N" -P "$2" -r 100000 \
        -t set,get,incr,mset --csv 2>/dev/null |
        awk -F'","' 'NR > 1 { gsub(/"/, "", $1); gsub(/"/, "", $2); print $1 "," $2 }'
}

printf '%-22s %14s %14s %8s\n' "test" "redis rps" "cachebox rps" "ratio"
for P in 1 32; do
    bench "$RPORT" "$P" >"$TMP/r.csv"
    bench "$CPORT" "$P" >"$TMP/c.csv"
    join -t, <(sort "$TMP/r.csv") <(sort "$TMP/c.csv") |
        while IFS=, read -r name r c; do
            printf '%-22s %14.0f %14.0f %8.2f\n' "$name P=$P" "$r" "$c" \
                "$(awk -v a="$c" -v b="$r" 'BEGIN { print (b > 0 ? a / b : 0) }')"
        done
done

# Memory per key: FLUSHALL, read used_memory, load KEYS keys with a pipelined
# raw-socket writer, read used_memory again.
mem_per_key() {
    $PY - "$1" "$KEYS" <<'PYEOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(('127.0.0.1', port), timeout=60)
f = s.makefile('rb')
def cmd(*a):
    s.sendall(b''.join([b'*%d\r\n' % len(a)] + [b'$%d\r\n%s\r\n' % (len(x), x) for x in a]))
def reply():
    line = f.readline()
    if line[:1] == b'$':
        n = int(line[1:])
        return f.read(n + 2)[:-2] if n >= 0 else None
    return line.strip()
def used():
    cmd(b'INFO', b'memory')
    for l in reply().split(b'\r\n'):
        if l.startswith(b'used_memory:'):
            return int(l.split(b':')[1])
cmd(b'FLUSHALL'); reply()
before = used()
batch = 10000
for start in range(0, n, batch):
    s.sendall(b''.join(b'*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$8\r\nvalue123\r\n' % (len(k), k)
                       for k in (b'key:%d' % i for i in range(start, min(n, start + batch)))))
    for _ in range(start, min(n, start + batch)):
        reply()
cmd(b'DBSIZE'); keys = int(reply()[1:])
after = used()
print('%d %d %d' % (keys, before, after))
PYEOF
}
read -r rk rb ra < <(mem_per_key "$RPORT")
read -r ck cb ca < <(mem_per_key "$CPORT")
echo
printf '%-22s %14s %14s %8s\n' "memory" "redis" "cachebox" "ratio"
printf '%-22s %14d %14d\n' "keys loaded" "$rk" "$ck"
printf '%-22s %14d %14d\n' "used_memory before" "$rb" "$cb"
printf '%-22s %14d %14d\n' "used_memory after" "$ra" "$ca"
awk -v rk="$rk" -v rb="$rb" -v ra="$ra" -v ck="$ck" -v cb="$cb" -v ca="$ca" 'BEGIN {
    r = (ra - rb) / (rk > 0 ? rk : 1); c = (ca - cb) / (ck > 0 ? ck : 1);
    printf "%-22s %14.1f %14.1f %8.2f\n", "bytes per key", r, c, (r > 0 ? c / r : 0) }'
