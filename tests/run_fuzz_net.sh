#!/usr/bin/env bash
# run_fuzz_net.sh — builds the libFuzzer target for the network stack's
# input path (tests/fuzz/fuzz_net.c: random and mutated frames and TCP
# segments, a fresh stack per input, checked for stuck connections and
# leaks) with ASan and UBSan, and runs it for ${NET_FUZZ_SECONDS:-30}
# seconds from seeds written here (a handshake, data, FIN, RST, ARP, ping,
# an active open answered, refused and simultaneous).
# Prints a "N passed, N failed" line; non-zero exit on a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${NET_FUZZ_SECONDS:-30}
WORK=$(mktemp -d /tmp/cachebox-fuzz-net.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

SRCS=(tests/fuzz/fuzz_net.c dataplane/net/eth.c dataplane/net/arp.c dataplane/net/ipv4.c
      dataplane/net/icmp.c dataplane/tcp/tcp_conn.c dataplane/tcp/tcp_input.c
      dataplane/tcp/tcp_output.c dataplane/tcp/tcp_timer.c dataplane/tcp/tcp_syncookie.c
      dataplane/tcp/tcp_connect.c platform/mem.c platform/util.c)
if ! clang -std=c17 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined "${SRCS[@]}" -o "$WORK/fuzz_net" -lpthread -lm \
        >"$WORK/build.log" 2>&1; then
    cat "$WORK/build.log"
    echo "fuzz-net: did not build"
    echo "0 passed, 1 failed"
    exit 1
fi

# Seeds: records of (control, length, bytes); see fuzz_net.c.
seeds="$WORK/seeds"
mkdir -p "$seeds" "$WORK/corpus" "$WORK/artifacts"
SPORT='\x9c\x40' # 40000: to the listening port; 40001 (odd): to our active open
seg() { # ctl flags seq-hex payload -> one record (TCP header 20 bytes + payload)
    local ctl=$1 flags=$2 payload=$3
    local len=$((20 + ${#payload}))
    printf "\\x$(printf %02x "$ctl")\\x$(printf %02x $((len >> 8)))\\x$(printf %02x $((len & 255)))"
    printf "$SPORT"'\x18\xeb\x00\x00\x10\x00\x00\x00\x00\x00\x50'
    printf "\\x$(printf %02x "$flags")"
    printf '\xff\xff\x00\x00\x00\x00%s' "$payload"
}
{ seg 1 2 ''; seg 0x31 0x10 ''; seg 0x31 0x18 $'PING\r\n'; seg 0x31 0x11 ''; seg 0x31 0x10 ''; } >"$seeds/handshake-data-fin"
{ seg 1 2 ''; seg 0x31 0x10 ''; seg 0x31 0x18 $'*1\r\n$4\r\nPING\r\n'; seg 0x3f 0x04 ''; } >"$seeds/handshake-rst"
{ seg 1 2 ''; seg 1 2 ''; seg 0x0f 0x10 ''; seg 0x31 0x10 'x'; } >"$seeds/syn-twice"
SPORT='\x9c\x41'
{ seg 0x21 0x12 ''; seg 0x31 0x18 $'+OK\r\n'; seg 0x31 0x11 ''; } >"$seeds/active-open"
{ seg 0x21 0x14 ''; } >"$seeds/active-refused"
{ seg 1 2 ''; seg 0x31 0x12 ''; seg 0x31 0x10 ''; } >"$seeds/active-simultaneous"
printf '\x80\x00\x2a\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01\x02\x00\x00\x00\x00\x01\x0a\x00\x00\x01\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x02' >"$seeds/arp"

set +e
"$WORK/fuzz_net" -max_total_time="$SECS" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
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
    echo "fuzz-net: crash inputs copied to /tmp/cachebox-fuzz-crashes"
    [ "$crashes" -eq 0 ] && crashes=1
fi
echo "fuzz-net: packet input ${execs:-0} execs in ${SECS}s, $crashes crashes"
if [ "$crashes" -ne 0 ]; then
    echo "0 passed, 1 failed"
    exit 1
fi
echo "1 passed, 0 failed"
