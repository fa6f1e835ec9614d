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
. tests/fuzz/fuzz_lib.sh

SRCS=(tests/fuzz/fuzz_net.c dataplane/net/eth.c dataplane/net/arp.c dataplane/net/ipv4.c
      dataplane/net/icmp.c dataplane/tcp/tcp_conn.c dataplane/tcp/tcp_input.c
      dataplane/tcp/tcp_output.c dataplane/tcp/tcp_timer.c dataplane/tcp/tcp_syncookie.c
      dataplane/tcp/tcp_recovery.c dataplane/tcp/tcp_connect.c platform/mem.c platform/util.c)
fuzz_build "fuzz-net" "$WORK/fuzz_net" "${SRCS[@]}"

# Seeds: records of (control, length, bytes); see fuzz_net.c.
seeds="$WORK/seeds"
mkdir -p "$seeds"
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

fuzz_run "fuzz-net: packet input" "$WORK/fuzz_net" "$SECS" 8192 "$seeds"
