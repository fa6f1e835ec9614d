#!/usr/bin/env bash
# zc_micro.sh — builds and runs tests/bench/zc_micro.c (per-segment cost of
# copying a payload into an mbuf vs attaching it by reference) on CPU ${CPU:-1}.
# Not part of test.sh.
set -eu
cd "$(dirname "$0")/../.."
OUT=$(mktemp -d /tmp/cbx-zc-micro.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
cc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror $(pkg-config --cflags libdpdk) \
    tests/bench/zc_micro.c -o "$OUT/zc_micro" $(pkg-config --libs libdpdk)
taskset -c "${CPU:-1}" "$OUT/zc_micro" --lcores "0@${CPU:-1}" --no-huge -m 256 --no-pci --file-prefix cbx-zc-micro --no-telemetry \
    --log-level='*:error'
