#!/usr/bin/env bash
# test.sh — the whole test command (CI runs it through .ci/run): installs what
# is missing, builds a release tree (build/) and an ASan/UBSan tree
# (build-asan/), then runs every suite in turn — unit tests, integration
# tests (on the kernel and on the DPDK data plane), the differential test
# against Debian's redis-server and a bounded
# fuzzing run. Every suite runs even when an earlier one fails; the script
# ends by repeating each suite's "N passed, N failed" line and exits non-zero
# when any suite failed. Suites that use fixed ports, namespaces or CPU
# pinning run one after another, never in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=/usr/bin/python3          # Debian's python3 has python3-redis
export CACHEBOX_BIN="${CACHEBOX_BIN:-$ROOT/build/cachebox}"
export PYTHONDONTWRITEBYTECODE=1

start=$(date +%s)
./deploy/setup.sh

declare -a SUMMARY=()
failed=0
note() { SUMMARY+=("$1"); }

# configure DIR ARGS... : set up a meson tree, or reconfigure an existing one.
configure() {
    local dir=$1; shift
    if [ -f "$dir/build.ninja" ]; then
        meson configure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
}

build_ok=1
echo "== build (release, jemalloc) =="
if ! { configure build --buildtype=release && ninja -C build >/tmp/cachebox-build.log 2>&1; }; then
    cat /tmp/cachebox-build.log; build_ok=0
fi
echo "== build (ASan/UBSan) =="
asan_ok=1
if ! { configure build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false &&
       ninja -C build-asan >/tmp/cachebox-build-asan.log 2>&1; }; then
    cat /tmp/cachebox-build-asan.log; asan_ok=0
fi
[ $build_ok = 1 ] || { note "build: release build FAILED"; failed=1; }
[ $asan_ok = 1 ] || { note "build: asan build FAILED"; failed=1; }

# run_suite NAME CMD... : runs a suite, keeps its last "N passed, N failed"
# line for the recap, and records failure without stopping the script.
run_suite() {
    local name=$1; shift
    local log rc line
    log=$(mktemp)
    echo "== $name =="
    set +e
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
    [ -n "$line" ] || line="0 passed, 1 failed (no summary line, exit code $rc)"
    if [ "$rc" -ne 0 ]; then
        failed=1
        case "$line" in *" 0 failed"*) line="$line (but exit code $rc)";; esac
    fi
    note "$name: $line"
    rm -f "$log"
}

unit_tests() {
    local log rc ok fail
    log=$(mktemp)
    set +e
    timeout 600 meson test -C build-asan --print-errorlogs >"$log" 2>&1
    rc=$?
    set -e
    # meson prints "Ok: N" / "Fail: N" / "Timeout: N" ... in its summary.
    ok=$(awk '/^Ok:/ {print $2}' "$log"); ok=${ok:-0}
    fail=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {s += $NF} END {print s+0}' "$log")
    if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ]; then cat "$log"; else grep -E '^ *[0-9]+/[0-9]+ ' "$log" || true; fi
    rm -f "$log"
    [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ] && fail=1
    echo "$ok passed, $fail failed"
    [ "$fail" -eq 0 ]
}

if [ $asan_ok = 1 ]; then
    run_suite unit unit_tests
else
    note "unit: 0 passed, 1 failed (ASan build failed)"
fi

if [ $build_ok = 1 ]; then
    run_suite integration timeout 900 $PY tests/integration/run_all.py
    run_suite diff timeout 600 $PY tests/diff/run_diff.py
    # The same corpus with the keyspace split over three workers' shards.
    CACHEBOX_EXTRA_ARGS="--io-workers 3" run_suite diff-3-workers timeout 600 $PY tests/diff/run_diff.py
    # ioredis (pinned in tests/node/package.json, installed by npm ci when
    # missing) run unchanged: pipelines, transactions, Pub/Sub, Lua recipes.
    run_suite ioredis timeout 300 node tests/node/run.js
    # Seeded random command streams per data type, crossing every encoding
    # threshold both ways, compared with redis-server reply by reply.
    for rnd in tests/diff/random_*.py; do
        run_suite "$(basename "$rnd" .py)" timeout 300 $PY "$rnd"
    done
    # The DPDK data plane over a veth/netns rig with kernel TCP clients (root).
    run_suite dpdk timeout 600 ./tests/dpdk/run_dpdk_tests.sh
    # The whole integration suite again with every cachebox on the DPDK
    # plane (a veth slot each, net_af_packet; root): same tests, both planes.
    run_suite integration-dpdk timeout 1500 ./tests/dpdk/run_integration_dpdk.sh
else
    note "integration: 0 passed, 1 failed (release build failed)"
    note "diff: 0 passed, 1 failed (release build failed)"
fi

run_suite fuzz timeout 600 ./tests/run_fuzz.sh
# The network stack's packet input path (DPDK plane), ${NET_FUZZ_SECONDS:-30} s.
run_suite fuzz-net timeout 300 ./tests/run_fuzz_net.sh

echo
echo "== summary ($(( $(date +%s) - start )) s) =="
for s in "${SUMMARY[@]}"; do echo "$s"; done
if [ $failed -ne 0 ]; then
    echo "RESULT: FAILED"
    exit 1
fi
echo "RESULT: OK"
