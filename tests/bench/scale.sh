#!/usr/bin/env bash
# scale.sh — multi-core scaling: redis-server (one core) against cachebox with
# io-workers 1, 2, 4, ... each worker pinned to its own core, all driven by
# one redis-benchmark with its threads pinned to the other half of the
# machine. Random keys (-r), so with N workers (N-1)/N of the requests cross
# to another worker's shard. Prints requests/s per test and the ratio to
# redis-server run in the same script. For a machine with many cores (the
# device machine); on 2 cores it only shows the mechanics.
# Env: CACHEBOX_BIN, REDIS_SERVER, REDIS_BENCHMARK, WORKERS ("1 2 4 8"),
#      N (requests per test), CLIENTS, THREADS, PIPELINES ("1 16").
set -euo pipefail
CB=${CACHEBOX_BIN:-build/cachebox}
RS=${REDIS_SERVER:-redis-server}
RB=${REDIS_BENCHMARK:-redis-benchmark}
WORKERS=${WORKERS:-"1 2 4 8"}
N=${N:-1000000}   # 2M+ with --threads 8 hung redis-benchmark on the 16-core machine
CLIENTS=${CLIENTS:-256}
THREADS=${THREADS:-8}
PIPELINES=${PIPELINES:-"1 16"}
ncpu=$(nproc)
half=$((ncpu / 2))
[ "$half" -ge 1 ] || half=1
client_cpus="$half-$((ncpu - 1))"
[ "$ncpu" -gt 1 ] || client_cpus=0
port=$((20000 + RANDOM % 20000))
dir=$(mktemp -d)
pid=

stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=; }
trap 'stop; rm -rf "$dir"' EXIT

wait_up() {
    # redis-benchmark 7.0 spins forever on a refused connection: probe the
    # port with bash first, and bound the benchmark's own check.
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
            timeout 5 "$RB" -p "$port" -n 1 -c 1 -t ping -q >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server did not start" >&2
    return 1
}

# run NAME: one redis-benchmark per pipeline depth, SET and GET; prints rows.
run() {
    local name=$1
    for p in $PIPELINES; do
        taskset -c "$client_cpus" "$RB" -p "$port" -n "$N" -r 1000000 -c "$CLIENTS" \
            --threads "$THREADS" -P "$p" -t set,get --csv 2>/dev/null |
            awk -F'"' -v n="$name" -v p="$p" 'NR > 1 {printf "%s,%s P=%s,%s\n", n, $2, p, $4}'
    done
}

# Rows are printed as they come, so a run cut short still shows its figures.
declare -A base
printf '%-16s %-10s %14s %10s\n' server test rps vs-redis
report() {
    while IFS=, read -r name test rps; do
        [ "$name" = redis ] && base[$test]=$rps
        awk -v n="$name" -v t="$test" -v r="$rps" -v b="${base[$test]:-0}" \
            'BEGIN { printf "%-16s %-10s %14.0f %10.2f\n", n, t, r, (b > 0 ? r / b : 0) }'
    done
}

"$RS" --port "$port" --save '' --appendonly no --dir "$dir" --daemonize no \
    --protected-mode no >/dev/null 2>&1 &
pid=$!
taskset -cp 0 "$pid" >/dev/null
wait_up
report < <(run redis)
stop

for w in $WORKERS; do
    [ "$w" -le "$half" ] || continue
    "$CB" --port "$port" --dir "$dir" --control-port 0 --io-workers "$w" >/dev/null 2>&1 &
    pid=$!
    sleep 0.3
    # Pin worker threads (named cbx-worker-N) one per core, the rest to core 0.
    for t in /proc/$pid/task/*; do
        tid=${t##*/}
        name=$(cat "$t/comm")
        case "$name" in
        cbx-worker-*) taskset -cp "${name#cbx-worker-}" "$tid" >/dev/null ;;
        *) taskset -cp 0 "$tid" >/dev/null ;;
        esac
    done
    wait_up
    report < <(run "cachebox-w$w")
    stop
done
