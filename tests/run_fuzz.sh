#!/usr/bin/env bash
# run_fuzz.sh — builds the libFuzzer target for the RESP parser
# (tests/fuzz/fuzz_resp.c) with ASan and UBSan and runs it for
# ${FUZZ_SECONDS:-60} seconds from a small seed corpus written here.
# Prints "fuzz: resp parser N execs, N crashes" and a "N passed, N failed"
# line; exits non-zero when the fuzzer found a crash or did not build.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
WORK=$(mktemp -d /tmp/cachebox-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

SRCS=(tests/fuzz/fuzz_resp.c dataplane/resp/parser.c platform/mem.c platform/util.c)

if ! clang -std=c17 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined "${SRCS[@]}" -o "$WORK/fuzz_resp" -lpthread -lm \
        >"$WORK/build.log" 2>&1; then
    cat "$WORK/build.log"
    echo "fuzz: resp parser did not build"
    echo "0 passed, 1 failed"
    exit 1
fi

seeds="$WORK/seeds"
mkdir -p "$seeds" "$WORK/corpus" "$WORK/artifacts"
# First byte: auth flag; second: where the input is cut in two segments.
i=0
for s in '*1\r\n$4\r\nPING\r\n' '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n' \
         'PING\r\n' 'set k "a b\\x41" '\''c d'\''\r\n' '*2\r\n$4\r\nECHO\r\n$0\r\n\r\n*0\r\n*-1\r\n' \
         '*1\r\n$x\r\n' '*abc\r\n' 'GET k\nGET j\r\n\r\n' '*2\r\n$3\r\nGET\r\n$-1\r\n' \
         '*1\r\n$70000\r\n' '"unbalanced\r\n'; do
    printf '\001\200'"$s" >"$seeds/seed$i"
    i=$((i + 1))
done

set +e
"$WORK/fuzz_resp" -max_total_time="$SECS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
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
    echo "fuzz: crash inputs copied to /tmp/cachebox-fuzz-crashes"
    [ "$crashes" -eq 0 ] && crashes=1
fi
echo "fuzz: resp parser ${execs:-0} execs in ${SECS}s, $crashes crashes"
if [ "$crashes" -ne 0 ]; then
    echo "0 passed, 1 failed"
    exit 1
fi
echo "1 passed, 0 failed"
