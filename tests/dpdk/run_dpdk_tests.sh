#!/usr/bin/env bash
# run_dpdk_tests.sh — cachebox on the DPDK data plane with a real kernel TCP
# peer: builds the veth + netns rig (deploy/veth-rig.sh), starts cachebox on
# net_af_packet (DPDK_VDEV overrides, e.g. net_af_xdp0,iface=cbxd0) with the
# poll core on CPU 1 and everything else on CPU 0, and checks from the client
# namespace: start-up refusal with one lcore, ping, redis-cli, RST for a
# closed port, redis-benchmark at P=1 and P=32, 10,000 verified SET/GET
# round trips over 20 connections, 1 MB and 64 MB values byte for byte,
# connection churn, negotiated TCP options (tcpdump), the `INFO dataplane`
# counters, the whole differential corpus (tests/diff) against this server,
# 10,000 concurrent connections (orderly and abortive close), verified
# traffic under 5% loss each way and 1% duplication (iptables statistic, nft
# dup on the peer's egress), 10% reordering through a relay namespace
# (reorder_relay.py), SYN cookies under a SYN burst, a busy script (BUSY
# replies, SCRIPT KILL, its caller's pipeline kept), long non-script work
# (a stretched SAVE and start-up loading: ping, handshakes, keepalive timers
# go on, -LOADING, replies in order after; long_work.py), protected mode,
# two poll cores (two shards: the corpus again), and a short run on
# net_af_xdp. CBX_ONLY=longwork runs only up to the long-work checks.
# Needs root. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BIN=${CACHEBOX_BIN:-$ROOT/build/cachebox}
PY=/usr/bin/python3
# CBX_RIG (a short tag) renames the rig so that two runs can share a host.
T=${CBX_RIG:-t}
NS=cbx-dpdk-$T
IF=cbxd${T}0
IP=10.99.0.2
PORT=6379
VDEV=${DPDK_VDEV:-net_af_packet0,iface=$IF,framecnt=4096}
PREFIX=cbx-dpdk-test-$T
LCORES="-l 0,1"
pass=0
fail=0

if [ "$(id -u)" -ne 0 ]; then
    echo "dpdk: needs root (network namespaces, af_packet)"
    echo "0 passed, 1 failed"
    exit 1
fi
WORK=$(mktemp -d /tmp/cbx-dpdk-test.XXXXXX)
SPID=

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
in_ns() { ip netns exec "$NS" taskset -c 0 "$@"; }
cli() { in_ns timeout 10 redis-cli -h "$IP" -p "$PORT" "$@" 2>&1; }

eal_args() { # $1: the lcore option
    echo "$1 --no-pci --no-huge -m 512 --no-telemetry --log-level=*:warning --file-prefix $PREFIX --vdev=$VDEV"
}

# Sanitizer builds: leaks inside libxdp (af_xdp PMD) are not ours.
export LSAN_OPTIONS="suppressions=$ROOT/tests/dpdk/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

start_server() {
    taskset -c 0,1 "$BIN" --port "$PORT" --save '' --dir "$WORK" --enable-debug-command yes \
        --maxclients 12000 --control-port 0 \
        --dataplane dpdk --dpdk-eal-args "$(eal_args "$LCORES")" --dpdk-port 0 \
        --dpdk-ip "$IP/24" "$@" >>"$WORK/server.log" 2>&1 &
    SPID=$!
    for _ in $(seq 1 100); do
        case "$(cli ping)" in PONG|*DENIED*|*NOAUTH*) return 0 ;; esac
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    echo "server did not come up:"; tail -20 "$WORK/server.log"
    return 1
}

stop_server() {
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=
}

cleanup() {
    stop_server
    [ -n "${RELAY:-}" ] && kill "$RELAY" 2>/dev/null
    ip link del "cbxr${T}0" 2>/dev/null; ip netns del "cbx-dpdk-r$T" 2>/dev/null
    deploy/veth-rig.sh down "$NS" "$IF"
    rm -rf "$WORK" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT

info_field() { cli info dataplane | tr -d '\r' | awk -F: -v k="$1" '$1 == k {print $2}'; }

deploy/veth-rig.sh up "$NS" "$IF" || { echo "rig set-up failed"; echo "0 passed, 1 failed"; exit 1; }

# One lcore: a clear start-up error, no server.
out=$(timeout 20 "$BIN" --port "$PORT" --dataplane dpdk --dpdk-eal-args "$(eal_args "-l 0")" \
      --dpdk-ip "$IP/24" 2>&1); rc=$?
check "one lcore is refused at start-up" \
    bash -c "[ $rc -ne 0 ] && grep -q 'at least two lcores' <<<\"\$0\"" "$out"

if ! start_server --protected-mode no; then
    bad "server start"
    echo "$pass passed, $fail failed"
    exit 1
fi
ok "server start (af_packet, poll core on CPU 1)"

check "ping" in_ns ping -c 3 -i 0.2 -W 2 -q "$IP"
check "redis-cli PING" test "$(cli ping)" = PONG

# Long non-script work: SAVE stretched to ~3 s, then start-up loading of
# that file stretched by key-load-delay. The poll core keeps its stack
# moving (ping, handshakes, keepalive timers) while commands wait or get
# -LOADING (dataplane/dpdk/dpdk_driver.c, ddrv_stack_poll).
check "long work: SAVE keeps the stack moving, replies in order after it" \
    in_ns timeout 60 $PY tests/dpdk/long_work.py "$IP" "$PORT" save
nkeys=$(cli dbsize)
stop_server
taskset -c 0,1 "$BIN" --port "$PORT" --save '' --dir "$WORK" --protected-mode no \
    --key-load-delay 1000 --control-port 0 --dataplane dpdk --dpdk-eal-args "$(eal_args "$LCORES")" \
    --dpdk-port 0 --dpdk-ip "$IP/24" >>"$WORK/server.log" 2>&1 &
SPID=$!
check "long work: start-up loading answers -LOADING, then the dataset ($nkeys keys)" \
    in_ns timeout 90 $PY tests/dpdk/long_work.py "$IP" "$PORT" loading "$nkeys"
stop_server
rm -f "$WORK/dump.rdb"
if [ "${CBX_ONLY:-}" = longwork ]; then
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
fi
start_server --protected-mode no || bad "server restart"
check "redis-cli SET" test "$(cli set foo bar)" = OK
check "redis-cli GET" test "$(cli get foo)" = bar
check "RST for a closed port" bash -c "ip netns exec $NS timeout 5 redis-cli -h $IP -p 6380 ping 2>&1 | grep -q refused"

# TCP options on our SYN-ACK: window scaling, timestamps, MSS.
ip netns exec "$NS" timeout 8 tcpdump -i "${IF}p" -nn -v -c 1 -l \
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) and src host $IP" \
    >"$WORK/synack.txt" 2>/dev/null &
TPID=$!
sleep 1
cli ping >/dev/null
wait $TPID
check "SYN-ACK negotiates MSS, window scale and timestamps" \
    bash -c "grep -q 'mss 1460' $WORK/synack.txt && grep -q 'wscale 7' $WORK/synack.txt && grep -q 'TS val' $WORK/synack.txt"

for P in 1 32; do
    out=$(in_ns timeout 60 redis-benchmark -h "$IP" -p "$PORT" -q -n 20000 -t set,get -P $P 2>&1 | tr '\r' '\n' | grep 'requests per second')
    echo "$out" | sed "s/^/     P=$P /"
    check "redis-benchmark SET/GET P=$P" test "$(echo "$out" | grep -c 'requests per second')" -eq 2
done

check "10,000 verified SET/GET round trips over 20 connections" \
    in_ns timeout 120 $PY tests/dpdk/traffic.py "$IP" "$PORT" roundtrips 10000 20
check "1 MB value round trip" in_ns timeout 60 $PY tests/dpdk/traffic.py "$IP" "$PORT" bigvalue 1048576
check "64 MB value round trip" in_ns timeout 180 $PY tests/dpdk/traffic.py "$IP" "$PORT" bigvalue 67108864
check "500 connections opened and closed" in_ns timeout 60 $PY tests/dpdk/traffic.py "$IP" "$PORT" churn 500

sleep 0.5
active=$(info_field tcp_active_connections)
check "INFO dataplane: only this client's connection is left (tcp_active_connections=$active)" test "$active" = 1
csum=$(info_field rx_checksum_errors)
check "INFO dataplane: no checksum errors ($csum)" test "$csum" = 0
check "INFO dataplane: rx/tx packets counted" bash -c "[ \"$(info_field rx_packets)\" -gt 10000 ] && [ \"$(info_field tx_packets)\" -gt 10000 ]"
cli info dataplane | tr -d '\r' | grep -E '^(tcp_retransmits|tcp_out_of_order|tcp_passive_opens|rx_filtered|tx_dropped|loop_utilization_pct):' | sed 's/^/     /'

# A script past busy-reply-threshold: the poll core keeps serving (BUSY
# replies, SCRIPT KILL, ACKs), and its caller's bytes wait, in order.
check "busy script: BUSY to others, SCRIPT KILL, killed-script error" \
    in_ns timeout 30 $PY tests/dpdk/busy_script.py "$IP" "$PORT" kill
check "busy script: 1.5 s script, its client's pipeline kept in order" \
    in_ns timeout 30 $PY tests/dpdk/busy_script.py "$IP" "$PORT" pipeline
cli config set busy-reply-threshold 5000 >/dev/null

# A point-in-time BGSAVE while the poll core serves (the worker serializes
# its shard between loop turns); the checker reads the file back.
cli debug populate 20000 >/dev/null
cli bgsave >/dev/null
for _ in $(seq 1 100); do
    [ "$(cli info persistence | tr -d '\r' | awk -F: '$1=="rdb_bgsave_in_progress"{print $2}')" = 0 ] && break
    sleep 0.1
done
status=$(cli info persistence | tr -d '\r' | awk -F: '$1=="rdb_last_bgsave_status"{print $2}')
check "BGSAVE on the DPDK plane ($status), file passes cachebox-check-rdb" \
    bash -c "[ '$status' = ok ] && $(dirname "$BIN")/cachebox-check-rdb $WORK/dump.rdb >/dev/null"

# The differential corpus, run from the client namespace: the oracle
# redis-server starts there on its loopback, cachebox is this server.
in_ns env CBTEST_CACHEBOX_ADDR="$IP:$PORT" ORACLE_EXTRA_ARGS="--protected-mode no --maxclients 12000" timeout 600 $PY tests/diff/run_diff.py >"$WORK/diff.txt" 2>&1
rc=$?
tail -1 "$WORK/diff.txt" | sed 's/^/     diff corpus: /'
[ $rc -eq 0 ] || grep -E 'MISMATCH|mismatch|FAIL' "$WORK/diff.txt" | head -20
check "differential corpus against the DPDK plane" test $rc -eq 0

# 10,000 connections at once, closed with RSTs (SO_LINGER 0), then again closed
# orderly. A bigger af_packet ring (framecnt) absorbs the bursts of FINs and RSTs.
wait_idle() { # the table returns to this INFO connection alone
    for _ in $(seq 1 50); do [ "$(info_field tcp_active_connections)" = 1 ] && return 0; sleep 0.1; done
    return 1
}
for abort in 1 0; do  # abortive first: an orderly close leaves client ports in TIME_WAIT
    check "10,000 concurrent connections, round trip each, close (abort=$abort)" \
        in_ns bash -c "ulimit -n 30000 2>/dev/null; exec timeout 120 $PY tests/dpdk/traffic.py $IP $PORT many 10000 $abort"
    check "connection table back to zero after close (abort=$abort)" wait_idle
done

# Faults on the peer's side of the veth: 5% loss both ways, 1% duplication
# out. Loss towards us is dropped on the netdev egress hook, after the
# client's TCP: an iptables OUTPUT drop is reported back to the sending
# socket, which then simply sends again, so the segment is never missing.
rt0=$(info_field tcp_retransmits)
ooo0=$(info_field tcp_out_of_order)
PEER=${IF}p
ip netns exec "$NS" iptables -A INPUT -i "$PEER" -m statistic --mode random --probability 0.05 -j DROP
ip netns exec "$NS" nft add table netdev cbxfault
ip netns exec "$NS" nft add chain netdev cbxfault eg "{ type filter hook egress device $PEER priority 0; }"
ip netns exec "$NS" nft add rule netdev cbxfault eg meta l4proto tcp numgen random mod 100 '<' 5 drop
ip netns exec "$NS" nft add rule netdev cbxfault eg numgen random mod 100 '<' 1 dup to "$PEER"
check "20,000 verified round trips over 50 connections under 5% loss and 1% duplication" \
    in_ns timeout 300 $PY tests/dpdk/traffic.py "$IP" "$PORT" roundtrips 20000 50
check "4 MB value under loss and duplication" in_ns timeout 120 $PY tests/dpdk/traffic.py "$IP" "$PORT" bigvalue 4194304
ip netns exec "$NS" iptables -F
ip netns exec "$NS" nft delete table netdev cbxfault
rt1=$(info_field tcp_retransmits)
ooo1=$(info_field tcp_out_of_order)
echo "     retransmits $rt0 -> $rt1, out-of-order segments $ooo0 -> $ooo1"
check "retransmit counter moved under faults" test "$rt1" -gt "$rt0"
check "connections drain after the fault run" wait_idle

# SYN cookies: a tiny backlog and a burst of SYNs; every connection completes.
stop_server
if start_server --protected-mode no --tcp-backlog 2; then
    check "SYN burst of 300 against a backlog of 2: every connection completes" \
        in_ns timeout 60 $PY tests/dpdk/traffic.py "$IP" "$PORT" synburst 300
    sent=$(info_field tcp_syncookies_sent)
    good=$(info_field tcp_syncookies_ok)
    echo "     syncookies sent $sent, accepted $good"
    check "SYN cookies were sent and accepted" test "${sent:-0}" -gt 0 -a "${good:-0}" -gt 0
else
    bad "server start (backlog 2)"
fi

# Protected mode: every DPDK client is non-loopback.
stop_server
start_server || true
out=$(cli ping)
check "protected mode refuses a non-loopback client (DENIED)" grep -q '^DENIED Redis is running in protected mode' <<<"$out"
stop_server
start_server --requirepass s3cret || true
out="$(cli ping) $(cli -a s3cret --no-auth-warning ping)"
check "with a password: NOAUTH, then AUTH works" test "${out%% *}" = NOAUTH -a "${out##* }" = PONG
stop_server
check "clean shutdown (exit logged)" grep -q 'ready to exit' "$WORK/server.log"

# Two poll cores (two af_packet queues, flows spread by the kernel's fanout
# hash; both lcores share CPU 1 here): keys live in two shards, so the
# corpus exercises cross-shard commands on the DPDK plane.
LCORES="--lcores 0@0,1@1,2@1"
VDEV_1Q=$VDEV
VDEV="net_af_packet0,iface=$IF,framecnt=4096,qpairs=2"
if start_server --protected-mode no; then
    check "two poll cores: INFO dataplane shows them" test "$(info_field poll_cores)" = 2
    check "two poll cores: 4,000 verified round trips over 20 connections" \
        in_ns timeout 120 $PY tests/dpdk/traffic.py "$IP" "$PORT" roundtrips 4000 20
    in_ns env CBTEST_CACHEBOX_ADDR="$IP:$PORT" ORACLE_EXTRA_ARGS="--protected-mode no --maxclients 12000" \
        timeout 600 $PY tests/diff/run_diff.py >"$WORK/diff2.txt" 2>&1
    rc=$?
    tail -1 "$WORK/diff2.txt" | sed 's/^/     diff corpus, two shards: /'
    [ $rc -eq 0 ] || grep -A3 MISMATCH "$WORK/diff2.txt" | head -20
    check "two poll cores: differential corpus across two shards" test $rc -eq 0
    # SAVE on one core parks the other: both stacks keep moving.
    check "two poll cores: SAVE keeps both stacks moving, replies in order after it" \
        in_ns timeout 60 $PY tests/dpdk/long_work.py "$IP" "$PORT" save
    stop_server
else
    bad "server start (two poll cores)"
fi
LCORES="-l 0,1"
VDEV=$VDEV_1Q

# Reordering: a relay namespace between the client and a second DPDK-side
# veth swaps 10% of the frames with their successor (reorder_relay.py).
RNS=cbx-dpdk-r$T
ip link del "cbxr${T}0" 2>/dev/null; ip netns del "$RNS" 2>/dev/null
ip netns add "$RNS"
ip link add "cbxr${T}0" type veth peer name "cbxr${T}0p"
ip link add "cbxr${T}1p" type veth peer name "cbxr${T}1c"
ip link set "cbxr${T}0p" netns "$RNS"
ip link set "cbxr${T}1p" netns "$RNS"
ip link set "cbxr${T}1c" netns "$NS"
ip netns exec "$RNS" ip link set "cbxr${T}0p" up
ip netns exec "$RNS" ip link set "cbxr${T}1p" up
ip netns exec "$NS" ip addr add 10.99.4.1/24 dev "cbxr${T}1c"
ip netns exec "$NS" ip link set "cbxr${T}1c" up
ip netns exec "$NS" ethtool -K "cbxr${T}1c" tx off tso off gso off >/dev/null
sysctl -qw "net.ipv6.conf.cbxr${T}0.disable_ipv6"=1
ip link set "cbxr${T}0" up
ip netns exec "$RNS" taskset -c 0 $PY tests/dpdk/reorder_relay.py "cbxr${T}0p" "cbxr${T}1p" 0.10 &
RELAY=$!
VDEV_1Q=$VDEV
VDEV="net_af_packet0,iface=cbxr${T}0,framecnt=4096"
IP_MAIN=$IP
IP=10.99.4.2
if start_server --protected-mode no; then
    ooo0=$(info_field tcp_out_of_order)
    check "10% reordering: 5,000 verified round trips over 10 connections" \
        in_ns timeout 120 $PY tests/dpdk/traffic.py "$IP" "$PORT" roundtrips 5000 10
    check "10% reordering: 1 MB value intact" in_ns timeout 120 $PY tests/dpdk/traffic.py "$IP" "$PORT" bigvalue 1048576
    ooo1=$(info_field tcp_out_of_order)
    echo "     out-of-order segments $ooo0 -> $ooo1"
    check "10% reordering: the out-of-order counter moved" test "$ooo1" -gt "$ooo0"
    stop_server
else
    bad "server start (behind the reordering relay)"
fi
kill "$RELAY" 2>/dev/null; wait "$RELAY" 2>/dev/null
ip link del "cbxr${T}0" 2>/dev/null; ip netns del "$RNS" 2>/dev/null
IP=$IP_MAIN
VDEV=$VDEV_1Q

# The same stack over net_af_xdp.
VDEV="net_af_xdp0,iface=$IF"
if start_server --protected-mode no; then
    ok "server start (af_xdp)"
    check "af_xdp: ping" in_ns ping -c 2 -i 0.2 -W 2 -q "$IP"
    check "af_xdp: 5,000 verified round trips over 10 connections" \
        in_ns timeout 60 $PY tests/dpdk/traffic.py "$IP" "$PORT" roundtrips 5000 10
    check "af_xdp: 1 MB value round trip" in_ns timeout 60 $PY tests/dpdk/traffic.py "$IP" "$PORT" bigvalue 1048576
    stop_server
else
    bad "server start (af_xdp)"
fi

# With a sanitizer build (CACHEBOX_BIN=build-asan/cachebox) every report
# lands in the server log.
check "no sanitizer report in the server log" bash -c "! grep -q 'Sanitizer' '$WORK/server.log'"
grep -A30 "Sanitizer" "$WORK/server.log" | head -80 >&2

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
