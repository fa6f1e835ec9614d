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
. tests/fuzz/fuzz_lib.sh

SRCS=(tests/fuzz/fuzz_resp.c dataplane/resp/parser.c platform/mem.c platform/util.c)

fuzz_build "fuzz" "$WORK/fuzz_resp" "${SRCS[@]}"

seeds="$WORK/seeds"
mkdir -p "$seeds"
# First byte: auth flag; second: where the input is cut in two segments.
i=0
for s in '*1\r\n$4\r\nPING\r\n' '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n' \
         'PING\r\n' 'set k "a b\\x41" '\''c d'\''\r\n' '*2\r\n$4\r\nECHO\r\n$0\r\n\r\n*0\r\n*-1\r\n' \
         '*1\r\n$x\r\n' '*abc\r\n' 'GET k\nGET j\r\n\r\n' '*2\r\n$3\r\nGET\r\n$-1\r\n' \
         '*1\r\n$70000\r\n' '"unbalanced\r\n'; do
    printf '\001\200'"$s" >"$seeds/seed$i"
    i=$((i + 1))
done

fuzz_run "fuzz: resp parser" "$WORK/fuzz_resp" "$SECS" 4096 "$seeds"
