# fuzz_lib.sh — sourced by tests/run_fuzz*.sh: builds one libFuzzer target
# with ASan/UBSan and runs it for a fixed time, so every fuzz suite reports
# its execs and crashes and keeps its crash inputs the same way.
# The caller sets WORK (a scratch folder it removes) before using these.

# fuzz_build LABEL OUT SRC... — compiles; on failure prints the log and the
# runner's summary line, and exits 1.
fuzz_build() {
    local label=$1 out=$2
    shift 2
    if ! clang -std=c17 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
            -fno-sanitize-recover=undefined "$@" -o "$out" -lpthread -lm \
            >"$WORK/build.log" 2>&1; then
        cat "$WORK/build.log"
        echo "$label: did not build"
        echo "0 passed, 1 failed"
        exit 1
    fi
}

# fuzz_run LABEL BIN SECONDS MAX_LEN SEEDS — runs the fuzzer over a fresh
# corpus plus SEEDS, prints "LABEL N execs in Ss, N crashes" and the
# summary line; exits 1 when it crashed (inputs kept in
# /tmp/cachebox-fuzz-crashes).
fuzz_run() {
    local label=$1 bin=$2 secs=$3 maxlen=$4 seeds=$5 rc execs crashes
    mkdir -p "$WORK/corpus" "$WORK/artifacts"
    set +e
    "$bin" -max_total_time="$secs" -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$WORK/artifacts/" "$WORK/corpus" "$seeds" \
        >"$WORK/fuzz.log" 2>&1
    rc=$?
    set -e
    execs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$WORK/fuzz.log" | tail -n1)
    crashes=$(find "$WORK/artifacts" -type f | wc -l)
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        tail -n 60 "$WORK/fuzz.log"
        mkdir -p /tmp/cachebox-fuzz-crashes
        cp "$WORK"/artifacts/* /tmp/cachebox-fuzz-crashes/ 2>/dev/null || true
        echo "$label: crash inputs copied to /tmp/cachebox-fuzz-crashes"
        [ "$crashes" -eq 0 ] && crashes=1
    fi
    echo "$label ${execs:-0} execs in ${secs}s, $crashes crashes"
    if [ "$crashes" -ne 0 ]; then
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "1 passed, 0 failed"
}
