#!/usr/bin/env bash
# aof_throughput.sh — SET throughput with the AOF on, for appendfsync
# always / everysec / no, cachebox against Debian's redis-server side by
# side (each policy: a fresh pair of servers, one at a time, the same
# redis-benchmark run: 50 clients, no pipelining, 16-byte values). Prints
# requests per second for each and the ratio cachebox/redis. `always` shows
# the group commit: one fdatasync covers every client's records written so
# far. Not part of test.sh.
# Env: CACHEBOX_BIN (default build/cachebox), BENCH_N (requests per run,
#      default 100000), BENCH_C (clients, default 50), BENCH_DIR (where the
#      AOF files go; default a temp dir under /tmp — use a real disk for
#      figures that mean something about fsync).
set -euo pipefail
cd "$(dirname "$0")/../.."
CB=${CACHEBOX_BIN:-build/cachebox}
N=${BENCH_N:-100000}
C=${BENCH_C:-50}
PY=/usr/bin/python3
[ -x "$CB" ] || { echo "aof_throughput: $CB not built (run ninja -C build)" >&2; exit 1; }
TMP=$(mktemp -d "${BENCH_DIR:-/tmp}/cachebox-aofbench.XXXXXX")
BENCH=aof_throughput
. tests/bench/bench_lib.sh

# run KIND POLICY -> prints requests per second
run() {
    local kind=$1 policy=$2 port dir
    port=$(free_port)
    dir="$TMP/$kind-$policy"
    mkdir -p "$dir"
    if [ "$kind" = redis ]; then
        redis-server --port "$port" --bind 127.0.0.1 --save '' --dir "$dir" \
            --appendonly yes --appendfsync "$policy" --logfile "$dir/log" &
    else
        "$CB" --port "$port" --bind 127.0.0.1 --dir "$dir" --control-port 0 \
            --appendonly yes --appendfsync "$policy" --logfile "$dir/log" &
    fi
    PIDS+=($!)
    wait_ping "$port"
    redis-benchmark -p "$port" -t set -n "$N" -c "$C" -d 16 -r 100000 -q 2>/dev/null |
        tr '\r' '\n' | grep -o 'SET: [0-9.]*' | tail -1 | awk '{print $2}'
    stop_all
}

printf '%-10s %14s %14s %8s\n' appendfsync 'redis rps' 'cachebox rps' ratio
for policy in always everysec no; do
    r=$(run redis "$policy")
    c=$(run cachebox "$policy")
    ratio=$($PY -c "print('%.2f' % ($c / $r))" 2>/dev/null || echo '?')
    printf '%-10s %14s %14s %8s\n' "$policy" "$r" "$c" "$ratio"
done
