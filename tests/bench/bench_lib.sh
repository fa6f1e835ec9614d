# bench_lib.sh — sourced by the side-by-side benchmarks in tests/bench/:
# a scratch folder, the servers they start (stopped on exit), free ports,
# waiting for PONG, and starting redis-server and cachebox as a pinned pair.
# The caller sets BENCH (its name, for messages), PY, CB and TMP first.

PIDS=()
bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap bench_cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ping() {
    for _ in $(seq 100); do
        redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.1
    done
    echo "$BENCH: server on port $1 did not start" >&2
    exit 1
}

# start_pair CPU — redis-server on RPORT and cachebox on CPORT, both pinned
# to CPU, empty folders under $TMP, no persistence; waits for both.
start_pair() {
    RPORT=$(free_port); CPORT=$(free_port)
    rm -rf "$TMP/redis" "$TMP/cachebox"; mkdir -p "$TMP/redis" "$TMP/cachebox"
    taskset -c "$1" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$TMP/redis" >"$TMP/redis.log" 2>&1 &
    PIDS+=($!)
    taskset -c "$1" "$CB" --port "$CPORT" --bind 127.0.0.1 --dir "$TMP/cachebox" --control-port 0 \
        >"$TMP/cachebox.log" 2>&1 &
    PIDS+=($!)
    wait_ping "$RPORT"; wait_ping "$CPORT"
}

# stop_all — stops every server started so far and waits for them.
stop_all() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
