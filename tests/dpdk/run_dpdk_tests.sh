#!/usr/bin/env bash
# run_dpdk_tests.sh — cachebox on the DPDK data plane with a real kernel TCP
# peer: builds the veth + netns rig (deploy/veth-rig.sh), starts cachebox on
# net_af_packet (DPDK_VDEV overrides, e.g. net_af_xdp0,iface=cbxd0) with the
# poll core on CPU 1 and everything else on CPU 0, and checks from the client
# namespace: start-up refusal with one lcore, ping, redis-cli, RST for a
# closed port, redis-benchmark at P=1 and P=32, 10,000 verified SET/GET
# round trips over 20 connections, 1 MB and 64 MB values byte for byte,
# connection churn and the per-IP counters, negotiated TCP options (tcpdump), the `INFO dataplane`
# counters, the whole differential corpus (tests/diff) against this server,
# 10,000 concurrent connections (orderly and abortive close), SYN cookies
# under a SYN burst, a busy script (BUSY replies, SCRIPT KILL, its caller's
# pipeline kept), the Lua debugger (SCRIPT DEBUG, redis-cli --ldb:
# transcripts against a redis-server, other clients wait, ping goes on, a
# debugging client killed, SIGTERM during a session; ldb.py), long
# non-script work (a stretched SAVE and start-up loading: ping, handshakes,
# keepalive timers go on, -LOADING, replies in order after; long_work.py),
# protected mode, two poll cores (two shards: the corpus again, SAVE and a
# debugging session parking the other core), MIGRATE through our active
# open to a redis-server in the client namespace (one and two poll cores),
# replication both ways with a redis-server in the client namespace (repl:
# full sync, stream, partial resync, WAIT, a closed master port;
# tests/dpdk/repl.py), the issue's fault test
# (100,000 verified round trips over 50 connections under 5% loss each way,
# 1% duplication and 10% reordering at once: iptables statistic, nft dup,
# reorder_relay.py in a relay namespace), an 802.1Q VLAN (dpdk-vlan) behind
# a tagging relay, a short run on net_af_xdp, and the dataset on real 2 MB
# hugepages (hugepage_section).
# CBX_ONLY=a,b runs only those sections (longwork migrate repl basic busy ldb bgsave
# diff many syncookies protected twocores faults vlan afxdp hugepages;
# lossbench, 20,000 round trips under 5% loss each way, runs only when
# named). FAULT_ROUNDTRIPS and FAULT_CONNS size the fault test,
# LOSSBENCH_PAIRS and LOSSBENCH_CONNS the lossbench.
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
EAL_MEM="--no-huge -m 512"
HP=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
HP_TAKEN=0
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
    echo "$1 --no-pci $EAL_MEM --no-telemetry --log-level=*:warning --file-prefix $PREFIX --vdev=$VDEV"
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
    local rc=$?
    SPID=
    # A crash on the way out (SIGSEGV, SIGABRT, SIGBUS, SIGFPE) is a failure.
    case $rc in 134|135|136|139) bad "server exited on signal $((rc - 128)) at shutdown" ;; esac
}

cleanup() {
    stop_server
    [ -n "${RELAY:-}" ] && kill "$RELAY" 2>/dev/null
    ip link del "cbxr${T}0" 2>/dev/null; ip netns del "cbx-dpdk-r$T" 2>/dev/null
    ip link del "cbxv${T}0" 2>/dev/null; ip netns del "cbx-dpdk-v$T" 2>/dev/null
    deploy/veth-rig.sh down "$NS" "$IF"
    hugepages_release
    rm -rf "$WORK" "/var/run/dpdk/$PREFIX"
}
trap cleanup EXIT

# Reserve N more 2 MB pages for this run (others may hold some: add to the
# count, and give back only ours).
hugepages_reserve() {
    local before now
    before=$(cat "$HP")
    echo $((before + $1)) >"$HP"
    now=$(cat "$HP")
    HP_TAKEN=$((now - before))
    [ "$HP_TAKEN" -ge "$1" ]
}
hugepages_release() {
    [ "$HP_TAKEN" -gt 0 ] || return 0
    echo $(($(cat "$HP") - HP_TAKEN)) >"$HP"
    HP_TAKEN=0
}

# The dataset in EAL hugepages: the shard arena takes its extents from
# memzones, INFO hugepages shows them growing with the data, a 64 MB value
# lives there, and writing past the pool is answered -OOM, not a crash.
hugepage_section() {
    local mb=256
    if ! hugepages_reserve $((mb / 2 + 8)); then
        bad "hugepages: reserve $((mb / 2 + 8)) 2 MB pages (got $HP_TAKEN)"
        hugepages_release
        return
    fi
    EAL_MEM="--in-memory -m $mb --socket-limit $mb"
    if start_server --protected-mode no; then
        ok "hugepages: server start on $mb MB of 2 MB pages"
        check "hugepages: 64 MB value round trip on hugepages" \
            in_ns timeout 180 $PY tests/dpdk/traffic.py "$IP" "$PORT" bigvalue 67108864
        check "hugepages: 200,000 keys grow the hugepage-backed bytes like the dataset" \
            in_ns timeout 300 $PY tests/dpdk/hugepages.py "$IP" "$PORT" load 200000
        check "hugepages: every value reads back" \
            in_ns timeout 120 $PY tests/dpdk/hugepages.py "$IP" "$PORT" verify 200000
        check "hugepages: a write past the pool gets -OOM, the server lives on" \
            in_ns timeout 300 $PY tests/dpdk/hugepages.py "$IP" "$PORT" oom
        check "hugepages: values intact after the OOM" \
            in_ns timeout 120 $PY tests/dpdk/hugepages.py "$IP" "$PORT" verify 200000
        stop_server
        check "hugepages: no crash (clean exit logged)" grep -q 'ready to exit' "$WORK/server.log"
    else
        bad "hugepages: server start"
    fi
    EAL_MEM="--no-huge -m 512"
    hugepages_release
}

# Sections to run: all by default (lossbench only when named).
want() {
    if [ -z "${CBX_ONLY:-}" ]; then [ "$1" != lossbench ]; else [[ ",$CBX_ONLY," == *",$1,"* ]]; fi
}

info_field() { cli info dataplane | tr -d '\r' | awk -F: -v k="$1" '$1 == k {print $2}'; }

# MIGRATE through our stack's active open: a redis-server on the client
# namespace's address is the target (ARP resolution and the SYN queued
# behind it, the handshake, RESTOREs, the cached link), and migrates keys
# back into cachebox (RESTORE on the DPDK plane). $1: a label.
RPORT=7390
rcli() { in_ns timeout 10 redis-cli -h 10.99.0.1 -p "$RPORT" "$@" 2>&1; }
migrate_section() {
    local L=$1 rdir=$WORK/redis-target
    mkdir -p "$rdir"
    in_ns redis-server --port "$RPORT" --bind 10.99.0.1 --save '' --appendonly no \
        --protected-mode no --daemonize yes --dir "$rdir" --pidfile "$rdir/pid" >/dev/null
    for _ in $(seq 1 50); do [ "$(rcli ping)" = PONG ] && break; sleep 0.1; done
    rcli flushall >/dev/null
    cli flushall >/dev/null
    cli set mig:a hello >/dev/null
    cli rpush mig:l 1 2 3 >/dev/null
    cli set mig:t v px 60000 >/dev/null
    check "$L: MIGRATE to a redis-server in the client namespace" \
        test "$(cli migrate 10.99.0.1 $RPORT mig:a 0 5000)" = OK
    check "$L: the key moved" test "$(rcli get mig:a)/$(cli exists mig:a)" = hello/0
    check "$L: MIGRATE KEYS with COPY into db 2" \
        test "$(cli migrate 10.99.0.1 $RPORT '' 2 5000 COPY KEYS mig:l mig:t)" = OK
    check "$L: list and TTL arrived, the source kept them" \
        test "$(rcli -n 2 lrange mig:l 0 -1 | tr '\n' ,)/$(cli exists mig:l mig:t)" = "1,2,3,/2"
    out=$(cli migrate 10.99.0.1 $RPORT '' 2 5000 KEYS mig:l)
    check "$L: BUSYKEY from the target" grep -q 'Target instance replied with error: BUSYKEY' <<<"$out"
    local ok=1
    for i in $(seq 1 20); do
        cli set "mig:k$i" "$i" >/dev/null
        [ "$(cli migrate 10.99.0.1 $RPORT "mig:k$i" 0 5000)" = OK ] || ok=0
    done
    check "$L: 20 MIGRATEs from 20 client connections" \
        test "$ok/$(rcli mget mig:k1 mig:k20 | tr '\n' ,)" = "1/1,20,"
    check "$L: MIGRATE from redis-server into cachebox (RESTORE on our stack)" \
        test "$(rcli migrate "$IP" "$PORT" mig:a 0 5000)/$(cli get mig:a)" = OK/hello
    out=$(cli migrate 10.99.0.1 7391 mig:a 0 2000)
    check "$L: target port closed: IOERR ($out)" grep -q '^IOERR error or timeout writing to target instance' <<<"$out"
    local q0 q1
    q0=$(info_field arp_queued)
    out=$(cli migrate 10.99.0.77 $RPORT mig:a 0 800)
    q1=$(info_field arp_queued)
    check "$L: nobody answers ARP for the target: IOERR connecting ($out)" \
        grep -q '^IOERR error or timeout connecting to the client' <<<"$out"
    check "$L: the SYN waited for the ARP reply (arp_queued $q0 -> $q1)" test "$q1" -gt "$q0"
    check "$L: active opens counted" test "$(info_field tcp_active_opens)" -gt 0
    echo "     active opens $(info_field tcp_active_opens), frames handed to the opening core $(info_field rx_handed_over)"
    in_ns kill "$(cat "$rdir/pid")" 2>/dev/null
}

# 802.1Q: the server on VLAN 100 (--dpdk-vlan) behind a relay namespace
# that tags the client's frames and untags ours (vlan_relay.py: this kernel
# has no 8021q for a VLAN sub-interface); it also replays the client's
# broadcasts untagged and on VLAN 101, which we must drop and count, and it
# counts any frame of ours that is not on VLAN 100. Stops the running
# server first; starts and stops its own.
vlan_section() {
    local IP_SAVE=$IP VDEV_SAVE=$VDEV VNS=cbx-dpdk-v$T
    stop_server
    ip link del "cbxv${T}0" 2>/dev/null; ip netns del "$VNS" 2>/dev/null
    ip netns add "$VNS"
    ip link add "cbxv${T}0" type veth peer name "cbxv${T}0p"
    ip link add "cbxv${T}1p" type veth peer name "cbxv${T}1c"
    ip link set "cbxv${T}0p" netns "$VNS"
    ip link set "cbxv${T}1p" netns "$VNS"
    ip link set "cbxv${T}1c" netns "$NS"
    ip netns exec "$VNS" ip link set "cbxv${T}0p" up
    ip netns exec "$VNS" ip link set "cbxv${T}1p" up
    ip netns exec "$NS" ip addr add 10.99.100.1/24 dev "cbxv${T}1c"
    ip netns exec "$NS" ip link set "cbxv${T}1c" up
    ip netns exec "$NS" ethtool -K "cbxv${T}1c" tx off tso off gso off >/dev/null
    sysctl -qw "net.ipv6.conf.cbxv${T}0.disable_ipv6"=1
    ip link set "cbxv${T}0" up
    ip netns exec "$VNS" taskset -c 0 $PY tests/dpdk/vlan_relay.py "cbxv${T}0p" "cbxv${T}1p" 100 \
        >"$WORK/vlan_relay.txt" 2>&1 &
    local VRELAY=$!
    VDEV="net_af_packet0,iface=cbxv${T}0,framecnt=4096"
    IP=10.99.100.2
    if start_server --protected-mode no --dpdk-vlan 100; then
        check "VLAN 100: ping" in_ns ping -c 2 -i 0.2 -W 2 -q "$IP"
        check "VLAN 100: redis-cli SET/GET" test "$(cli set v ok)/$(cli get v)" = OK/ok
        check "VLAN 100: 2,000 verified round trips over 10 connections" \
            in_ns timeout 60 $PY tests/dpdk/traffic.py "$IP" "$PORT" roundtrips 2000 10
        check "VLAN 100: 1 MB value round trip" \
            in_ns timeout 60 $PY tests/dpdk/traffic.py "$IP" "$PORT" bigvalue 1048576
        check "VLAN 100: INFO dataplane shows it" test "$(info_field dpdk_vlan)" = 100
        echo "     vlan_insert: $(info_field vlan_insert)"
        in_ns ping -c 1 -W 1 -q 10.99.100.9 >/dev/null 2>&1  # an ARP broadcast, replayed untagged and on VLAN 101
        check "VLAN 100: untagged and VLAN 101 frames dropped and counted" \
            test "$(info_field rx_vlan_dropped)" -ge 2
        check "VLAN 100: no checksum errors" test "$(info_field rx_checksum_errors)" = 0
        local rdir=$WORK/redis-vlan
        mkdir -p "$rdir"
        in_ns redis-server --port "$RPORT" --bind 10.99.100.1 --save '' --appendonly no \
            --protected-mode no --daemonize yes --dir "$rdir" --pidfile "$rdir/pid" >/dev/null
        for _ in $(seq 1 50); do [ "$(in_ns redis-cli -h 10.99.100.1 -p $RPORT ping 2>&1)" = PONG ] && break; sleep 0.1; done
        check "VLAN 100: MIGRATE out through the VLAN (active open)" \
            test "$(cli migrate 10.99.100.1 $RPORT v 0 5000)/$(in_ns redis-cli -h 10.99.100.1 -p $RPORT get v)" = OK/ok
        in_ns kill "$(cat "$rdir/pid")" 2>/dev/null
        stop_server
    else
        bad "server start (VLAN 100)"
    fi
    kill -TERM "$VRELAY" 2>/dev/null; wait "$VRELAY" 2>/dev/null
    sed 's/^/     /' "$WORK/vlan_relay.txt"
    check "VLAN 100: every frame we sent was tagged 100" \
        grep -q ' 0 untagged, 0 other VLAN' "$WORK/vlan_relay.txt"
    ip link del "cbxv${T}0" 2>/dev/null; ip netns del "$VNS" 2>/dev/null
    IP=$IP_SAVE
    VDEV=$VDEV_SAVE
}

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

if want longwork; then
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
    start_server --protected-mode no || bad "server restart"
fi

if want migrate; then
    migrate_section "migrate"
fi

# Replication over our own stack (dataplane/relay.c): cachebox as the
# master of a redis-server replica and as the replica of a redis-server
# master, both in the client namespace (tests/dpdk/repl.py); then the
# master side again with two poll cores. $1: a label.
repl_run() { # label, then the command: its lines indented, its status
    local name=$1 out=$WORK/repl-$RANDOM.txt
    shift
    "$@" >"$out" 2>&1
    local rc=$?
    sed 's/^/     /' "$out"
    check "$name" test $rc -eq 0
}
repl_section() {
    local L=$1 t0=$SECONDS
    repl_run "$L: cachebox as master: full sync, stream, DIGEST, INFO, WAIT, partial resyncs" \
        in_ns timeout 120 $PY tests/dpdk/repl.py master "$IP" "$PORT" 7394 "$WORK/repl-m$RANDOM"
    [ "$2" = both ] || { echo "     $L: $((SECONDS - t0)) s"; return; }
    local why='Error condition on socket for SYNC: Connection refused' n0
    n0=$(grep -c "$why" "$WORK/server.log")
    repl_run "$L: cachebox as replica: full sync, stream, ROLE, READONLY, closed port, NO ONE" \
        in_ns timeout 120 $PY tests/dpdk/repl.py replica "$IP" "$PORT" 7395 "$WORK/repl-r$RANDOM"
    check "$L: the log says why the closed port failed ($why)" \
        test "$(grep -c "$why" "$WORK/server.log")" -gt "$n0"
    echo "     $L: $((SECONDS - t0)) s"
}
if want repl; then
    repl_section "repl" both
    stop_server
    LCORES="--lcores 0@0,1@1,2@1"
    VDEV_1Q=$VDEV
    VDEV="net_af_packet0,iface=$IF,framecnt=4096,qpairs=2"
    if start_server --protected-mode no; then
        REPL_WRITES=2000 repl_section "repl, two poll cores" both
        stop_server
    else
        bad "server start (repl, two poll cores)"
    fi
    LCORES="-l 0,1"
    VDEV=$VDEV_1Q
    start_server --protected-mode no || bad "server restart"
fi

if want basic; then
    check "ping" in_ns ping -c 3 -i 0.2 -W 2 -q "$IP"
    check "redis-cli PING" test "$(cli ping)" = PONG
    check "redis-cli SET" test "$(cli set foo bar)" = OK
    check "redis-cli GET" test "$(cli get foo)" = bar
    check "RST for a closed port" bash -c "ip netns exec $NS timeout 5 redis-cli -h $IP -p 6380 ping 2>&1 | grep -q refused"

    # TCP options in a capture in the client namespace: the client's SYN and our
    # SYN-ACK both carry MSS, window scaling, SACK-permitted and timestamps, and
    # the data segments both ways carry timestamps.
    ip netns exec "$NS" timeout 8 tcpdump -i "${IF}p" -nn -c 6 -l "tcp port $PORT" \
        >"$WORK/handshake.txt" 2>/dev/null &
    TPID=$!
    sleep 1
    cli ping >/dev/null
    wait $TPID
    syn=$(grep -E "> $IP.$PORT: Flags \[S\]," "$WORK/handshake.txt")
    synack=$(grep -E "^.* $IP.$PORT > .*Flags \[S\.\]," "$WORK/handshake.txt")
    has_opts() { # line, what: every option named must be in it
        local line=$1; shift
        for o in "$@"; do grep -q -- "$o" <<<"$line" || return 1; done
    }
    check "client SYN offers window scaling, SACK and timestamps" \
        has_opts "$syn" 'mss ' 'wscale ' sackOK 'TS val'
    check "our SYN-ACK answers MSS 1460, window scale 7, SACK-permitted, timestamps" \
        has_opts "$synack" 'mss 1460' 'wscale 7' sackOK 'TS val'
    check "data segments both ways carry timestamps" bash -c \
        "grep -E '> $IP.$PORT: Flags \\[P\\.\\].*TS val.*length [1-9]' $WORK/handshake.txt >/dev/null &&
         grep -E '$IP.$PORT > .*Flags \\[P\\.\\].*TS val.*length [1-9]' $WORK/handshake.txt >/dev/null"
    sed 's/^/     /' "$WORK/handshake.txt" | cut -c1-160

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
    # Per-IP counters (dataplane/conn_stats.c) see the DPDK plane's accepts.
    ip0=$(cli info connections | tr -d '\r' | grep '^ip0:')
    acc=$(sed -n 's/.*,accepted=\([0-9]*\),.*/\1/p' <<<"$ip0")
    check "INFO connections: the peer 10.99.0.1 leads ($ip0)" \
        bash -c "[[ '$ip0' == ip0:addr=10.99.0.1,* ]] && [ '${acc:-0}' -ge 500 ]"

    sleep 0.5
    active=$(info_field tcp_active_connections)
    check "INFO dataplane: only this client's connection is left (tcp_active_connections=$active)" test "$active" = 1
    csum=$(info_field rx_checksum_errors)
    check "INFO dataplane: no checksum errors ($csum)" test "$csum" = 0
    check "INFO dataplane: rx/tx packets counted" bash -c "[ \"$(info_field rx_packets)\" -gt 10000 ] && [ \"$(info_field tx_packets)\" -gt 10000 ]"
    check "INFO dataplane: NIC extended statistics" test "$(info_field nic_xstat_rx_good_packets)" -gt 0
    check "INFO dataplane: software checksums on af_packet, one mbuf pool" \
        test "$(info_field rx_csum_offload)/$(info_field tx_csum_offload)/$(info_field mbuf_pools)" = 0/0/1
    check "INFO dataplane: af_packet transmits by reference (tx_zero_copy, segments counted)" \
        bash -c "[ \"$(info_field tx_zero_copy)\" = 1 ] && [ \"$(info_field tcp_tx_zero_copy_segments)\" -gt 1000 ]"
    cli info dataplane | tr -d '\r' | grep -E '^(tcp_retransmits|tcp_out_of_order|tcp_passive_opens|rx_filtered|tx_dropped|loop_utilization_pct|tcp_tx_zero_copy_segments):' | sed 's/^/     /'
fi

if want busy; then
    # A script past busy-reply-threshold: the poll core keeps serving (BUSY
    # replies, SCRIPT KILL, ACKs), and its caller's bytes wait, in order.
    check "busy script: BUSY to others, SCRIPT KILL, killed-script error" \
        in_ns timeout 30 $PY tests/dpdk/busy_script.py "$IP" "$PORT" kill
    check "busy script: 1.5 s script, its client's pipeline kept in order" \
        in_ns timeout 30 $PY tests/dpdk/busy_script.py "$IP" "$PORT" pipeline
    cli config set busy-reply-threshold 5000 >/dev/null
fi

if want ldb; then
    # SCRIPT DEBUG on our stack: the session taps its client's connection
    # while the poll core keeps the stack moving (dataplane/dpdk/dpdk_tap.c).
    check "ldb: sessions and redis-cli --ldb / --ldb-sync-mode match redis-server" \
        in_ns timeout 60 $PY tests/dpdk/ldb.py "$IP" "$PORT" transcript
    check "ldb: others wait for the session, ping and handshakes go on" \
        in_ns timeout 30 $PY tests/dpdk/ldb.py "$IP" "$PORT" during
    check "ldb: a debugging client killed (and FIN, RST) mid-session" \
        in_ns timeout 30 $PY tests/dpdk/ldb.py "$IP" "$PORT" kill
    check "ldb: EVAL and FIN that waited out a SAVE: the session ends at once" \
        in_ns timeout 30 $PY tests/dpdk/ldb.py "$IP" "$PORT" stashed
    # SIGTERM while a session waits on its debugger: it ends as if the
    # client had left, and the server exits cleanly.
    in_ns timeout 20 $PY tests/dpdk/ldb.py "$IP" "$PORT" hold >"$WORK/ldb_hold.txt" 2>&1 &
    HOLD=$!
    for _ in $(seq 1 50); do grep -q holding "$WORK/ldb_hold.txt" && break; sleep 0.1; done
    t0=$(date +%s%N)
    kill -TERM "$SPID"
    for _ in $(seq 1 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
    ms=$((($(date +%s%N) - t0) / 1000000))
    wait "$SPID"
    rc=$?
    SPID=
    wait "$HOLD"
    check "ldb: SIGTERM during a session: exit $rc after $ms ms, <endsession> sent" \
        bash -c "[ $rc = 0 ] && [ $ms -lt 5000 ] && grep -q endsession '$WORK/ldb_hold.txt'"
    start_server --protected-mode no || bad "server restart"
fi

if want bgsave; then
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
fi

if want diff; then
    # The differential corpus, run from the client namespace: the oracle
    # redis-server starts there on its loopback, cachebox is this server.
    in_ns env CBTEST_CACHEBOX_ADDR="$IP:$PORT" ORACLE_EXTRA_ARGS="--protected-mode no --maxclients 12000" timeout 600 $PY tests/diff/run_diff.py >"$WORK/diff.txt" 2>&1
    rc=$?
    tail -1 "$WORK/diff.txt" | sed 's/^/     diff corpus: /'
    [ $rc -eq 0 ] || grep -E 'MISMATCH|mismatch|FAIL' "$WORK/diff.txt" | head -20
    check "differential corpus against the DPDK plane" test $rc -eq 0
fi

# 10,000 connections at once, closed with RSTs (SO_LINGER 0), then again closed
# orderly. A bigger af_packet ring (framecnt) absorbs the bursts of FINs and RSTs.
wait_idle() { # the table returns to this INFO connection alone
    for _ in $(seq 1 50); do [ "$(info_field tcp_active_connections)" = 1 ] && return 0; sleep 0.1; done
    return 1
}
if want many; then
    for abort in 1 0; do  # abortive first: an orderly close leaves client ports in TIME_WAIT
        check "10,000 concurrent connections, round trip each, close (abort=$abort)" \
            in_ns bash -c "ulimit -n 30000 2>/dev/null; exec timeout 120 $PY tests/dpdk/traffic.py $IP $PORT many 10000 $abort"
        check "connection table back to zero after close (abort=$abort)" wait_idle
    done
fi

# lossbench (only when named; the before/after figure for loss recovery):
# 20,000 round trips over 50 connections under 5% loss each way on the main
# rig. Loss towards us is dropped on the netdev egress hook, after the
# client's TCP: an iptables OUTPUT drop is reported back to the sending
# socket, which then simply sends again, so the segment is never missing.
if want lossbench; then
    rt0=$(info_field tcp_retransmits)
    PEER=${IF}p
    ip netns exec "$NS" iptables -A INPUT -i "$PEER" -m statistic --mode random --probability 0.05 -j DROP
    ip netns exec "$NS" nft add table netdev cbxfault
    ip netns exec "$NS" nft add chain netdev cbxfault eg "{ type filter hook egress device $PEER priority 0; }"
    ip netns exec "$NS" nft add rule netdev cbxfault eg meta l4proto tcp numgen random mod 100 '<' 5 drop
    LBP=${LOSSBENCH_PAIRS:-20000}
    LBC=${LOSSBENCH_CONNS:-50}
    check "lossbench: $LBP verified round trips over $LBC connections under 5% loss each way" \
        in_ns timeout 600 $PY tests/dpdk/traffic.py "$IP" "$PORT" roundtrips "$LBP" "$LBC"
    ip netns exec "$NS" iptables -F
    ip netns exec "$NS" nft delete table netdev cbxfault
    echo "     retransmits $rt0 -> $(info_field tcp_retransmits), rto $(info_field tcp_rto_timeouts), tlp $(info_field tcp_tlp_probes)"
fi

# SYN cookies: a tiny backlog and a burst of SYNs; every connection completes.
if want syncookies; then
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
fi

# Protected mode: every DPDK client is non-loopback.
stop_server
if want protected; then
start_server || true
out=$(cli ping)
check "protected mode refuses a non-loopback client (DENIED)" grep -q '^DENIED Redis is running in protected mode' <<<"$out"
stop_server
start_server --requirepass s3cret || true
out="$(cli ping) $(cli -a s3cret --no-auth-warning ping)"
check "with a password: NOAUTH, then AUTH works" test "${out%% *}" = NOAUTH -a "${out##* }" = PONG
stop_server
check "clean shutdown (exit logged)" grep -q 'ready to exit' "$WORK/server.log"
fi

# Two poll cores (two af_packet queues, flows spread by the kernel's fanout
# hash; both lcores share CPU 1 here): keys live in two shards, so the
# corpus exercises cross-shard commands on the DPDK plane.
if want twocores; then
LCORES="--lcores 0@0,1@1,2@1"
VDEV_1Q=$VDEV
VDEV="net_af_packet0,iface=$IF,framecnt=4096,qpairs=2"
if start_server --protected-mode no; then
    check "two poll cores: INFO dataplane shows them" test "$(info_field poll_cores)" = 2
    migrate_section "two poll cores"
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
    # A debugging session on one core parks the other (as any script does).
    check "two poll cores: ldb sessions match redis-server" \
        in_ns timeout 60 $PY tests/dpdk/ldb.py "$IP" "$PORT" transcript
    check "two poll cores: ldb: others wait for the session, ping goes on" \
        in_ns env LDB_PING_WORST_MS=1000 timeout 30 $PY tests/dpdk/ldb.py "$IP" "$PORT" during
    stop_server
else
    bad "server start (two poll cores)"
fi
LCORES="-l 0,1"
VDEV=$VDEV_1Q
fi

# The issue's fault test, all faults at once on the peer's side: a relay
# namespace between the client and a second DPDK-side veth swaps 10% of the
# frames with their successor (reorder_relay.py); on the client's interface
# iptables drops 5% of what arrives, the nftables egress hook drops 5% of the
# TCP it sends and duplicates 1% (an iptables OUTPUT drop would be reported
# to the sending socket, which just sends again: nothing would be missing on
# the wire). FAULT_ROUNDTRIPS verified SET/GET pairs over FAULT_CONNS
# connections and a 1 MB value must come through intact, every connection
# must finish (none stuck: the table drains) and the recovery counters move.
if want faults; then
RNS=cbx-dpdk-r$T
RC=cbxr${T}1c
ip link del "cbxr${T}0" 2>/dev/null; ip netns del "$RNS" 2>/dev/null
ip netns add "$RNS"
ip link add "cbxr${T}0" type veth peer name "cbxr${T}0p"
ip link add "cbxr${T}1p" type veth peer name "$RC"
ip link set "cbxr${T}0p" netns "$RNS"
ip link set "cbxr${T}1p" netns "$RNS"
ip link set "$RC" netns "$NS"
ip netns exec "$RNS" ip link set "cbxr${T}0p" up
ip netns exec "$RNS" ip link set "cbxr${T}1p" up
ip netns exec "$NS" ip addr add 10.99.4.1/24 dev "$RC"
ip netns exec "$NS" ip link set "$RC" up
ip netns exec "$NS" ethtool -K "$RC" tx off tso off gso off >/dev/null
sysctl -qw "net.ipv6.conf.cbxr${T}0.disable_ipv6"=1
ip link set "cbxr${T}0" up
ip netns exec "$RNS" taskset -c 0 $PY tests/dpdk/reorder_relay.py "cbxr${T}0p" "cbxr${T}1p" 0.10 &
RELAY=$!
VDEV_1Q=$VDEV
VDEV="net_af_packet0,iface=cbxr${T}0,framecnt=4096"
IP_MAIN=$IP
IP=10.99.4.2
FRT=${FAULT_ROUNDTRIPS:-100000}
FCONNS=${FAULT_CONNS:-50}
if start_server --protected-mode no; then
    counters="tcp_retransmits tcp_tlp_probes tcp_rack_retransmits tcp_sack_retransmits tcp_fast_retransmits tcp_rto_timeouts tcp_dsacks_received tcp_out_of_order"
    declare -A c0
    for c in $counters; do c0[$c]=$(info_field "$c"); done
    ip netns exec "$NS" iptables -A INPUT -i "$RC" -m statistic --mode random --probability 0.05 -j DROP
    ip netns exec "$NS" nft add table netdev cbxfault
    ip netns exec "$NS" nft add chain netdev cbxfault eg "{ type filter hook egress device $RC priority 0; }"
    ip netns exec "$NS" nft add rule netdev cbxfault eg meta l4proto tcp numgen random mod 100 '<' 5 drop
    ip netns exec "$NS" nft add rule netdev cbxfault eg numgen random mod 100 '<' 1 dup to "$RC"
    t0=$(date +%s.%N)
    check "faults (5% loss each way, 1% dup, 10% reordering): $FRT verified round trips over $FCONNS connections" \
        in_ns timeout 500 $PY tests/dpdk/traffic.py "$IP" "$PORT" roundtrips "$FRT" "$FCONNS"
    t1=$(date +%s.%N)
    check "faults: 1 MB value intact" in_ns timeout 120 $PY tests/dpdk/traffic.py "$IP" "$PORT" bigvalue 1048576
    ip netns exec "$NS" iptables -F
    ip netns exec "$NS" nft delete table netdev cbxfault
    echo "     relay CPU time so far: $(ps -o cputime= -p "$RELAY" | tr -d ' ')"
    printf '     fault run: %s s for the round trips; counter deltas:' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
    declare -A dlt
    for c in $counters; do dlt[$c]=$(( $(info_field "$c") - ${c0[$c]} )); printf ' %s=%s' "${c#tcp_}" "${dlt[$c]}"; done
    echo
    check "faults: retransmit counter moved" test "${dlt[tcp_retransmits]}" -gt 0
    check "faults: tail loss probes sent" test "${dlt[tcp_tlp_probes]}" -gt 0
    check "faults: RACK found losses" test "${dlt[tcp_rack_retransmits]}" -gt 0
    check "faults: SACK-selected resends" test "${dlt[tcp_sack_retransmits]}" -gt 0
    check "faults: out-of-order counter moved" test "${dlt[tcp_out_of_order]}" -gt 0
    check "faults: no connection stuck (the table drains)" wait_idle
    stop_server
else
    bad "server start (behind the fault relay)"
fi
kill "$RELAY" 2>/dev/null; wait "$RELAY" 2>/dev/null
RELAY=
ip link del "cbxr${T}0" 2>/dev/null; ip netns del "$RNS" 2>/dev/null
IP=$IP_MAIN
VDEV=$VDEV_1Q
fi

want vlan && vlan_section

# The same stack over net_af_xdp.
if want afxdp; then
VDEV="net_af_xdp0,iface=$IF"
if start_server --protected-mode no; then
    ok "server start (af_xdp)"
    check "af_xdp: ping" in_ns ping -c 2 -i 0.2 -W 2 -q "$IP"
    check "af_xdp: 5,000 verified round trips over 10 connections" \
        in_ns timeout 60 $PY tests/dpdk/traffic.py "$IP" "$PORT" roundtrips 5000 10
    check "af_xdp: 1 MB value round trip" in_ns timeout 60 $PY tests/dpdk/traffic.py "$IP" "$PORT" bigvalue 1048576
    echo "     af_xdp: tx_zero_copy:$(info_field tx_zero_copy) tcp_tx_zero_copy_segments:$(info_field tcp_tx_zero_copy_segments)"
    stop_server
else
    bad "server start (af_xdp)"
fi
fi

want hugepages && hugepage_section

# With a sanitizer build (CACHEBOX_BIN=build-asan/cachebox) every report
# lands in the server log.
check "no sanitizer report in the server log" bash -c "! grep -q 'Sanitizer' '$WORK/server.log'"
grep -A30 "Sanitizer" "$WORK/server.log" | head -80 >&2

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
