#!/usr/bin/env bash
# dpdk_zcopy.sh — transmit by reference vs copied, on the DPDK plane: GET of
# 1 KB, 16 KB and 1 MB values at pipelines 1 and 32 from a client namespace
# (CPU 0) against cachebox on net_af_packet (poll core on CPU 1), once with
# every payload copied into its mbuf (CACHEBOX_TX_ZC_MIN huge) and once per
# threshold given. CPU per request: the poll core's busy time (INFO
# dataplane loop_busy_us) over requests. As root; not part of test.sh.
# Env: CACHEBOX_BIN, CBX_RIG (rig name tag, default z), ZC_MODES (default
# "copy 512 0": "copy" or a threshold in bytes), ROUNDS (default 1), SIZES
# (value sizes, default "64 200 1024 16384 1048576"), N_SMALL / N_MID /
# N_BIG (requests per run for values up to 4 KB / 64 KB / larger).
set -u
cd "$(dirname "$0")/../.."
CB=${CACHEBOX_BIN:-build/cachebox}
TAG=${CBX_RIG:-z}
NS=cbx-zc-$TAG
IF=cbxzc${TAG}0
PORT=6379
TMP=$(mktemp -d /tmp/cbx-zc-bench.XXXXXX)
SPID=
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && sleep 1 && kill -9 "$SPID" 2>/dev/null
    ip link del "$IF" 2>/dev/null; ip netns del "$NS" 2>/dev/null
    rm -rf "$TMP" "/var/run/dpdk/cbx-zc-$TAG"
}
trap cleanup EXIT
ip link del "$IF" 2>/dev/null; ip netns del "$NS" 2>/dev/null
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip link add "$IF" type veth peer name "${IF}p"
ip link set "${IF}p" netns "$NS"
ip netns exec "$NS" ip link set "${IF}p" up
ip netns exec "$NS" ethtool -K "${IF}p" tx off tso off gso off >/dev/null
ip netns exec "$NS" ip addr add 10.99.7.1/24 dev "${IF}p"
sysctl -qw "net.ipv6.conf.$IF.disable_ipv6=1"
ip link set "$IF" up

cli() { ip netns exec "$NS" redis-cli -h 10.99.7.2 -p $PORT "$@"; }
busy() { cli info dataplane | tr -d '\r' | awk -F: '$1=="loop_busy_us"{print $2}'; }

start() { # threshold
    CACHEBOX_TX_ZC_MIN=$1 taskset -c 0,1 "$CB" --port $PORT --control-port 0 --save '' --protected-mode no \
        --dir "$TMP" --dataplane dpdk --dpdk-eal-args "-l 0,1 --no-pci --no-huge -m 512 \
        --no-telemetry --log-level=*:warning --file-prefix cbx-zc-$TAG \
        --vdev=net_af_packet0,iface=$IF,framecnt=4096" --dpdk-ip 10.99.7.2/24 \
        >"$TMP/server.log" 2>&1 &
    SPID=$!
    for _ in $(seq 100); do cli ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
    echo "server did not start:"; cat "$TMP/server.log"; exit 1
}
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=; }

run() { # label size requests pipeline
    local label=$1 size=$2 n=$3 p=$4 b0 b1 out
    # Without -r every request uses one key: SET it once, then GET it.
    ip netns exec "$NS" redis-benchmark -h 10.99.7.2 -p $PORT -q -n 2 -t set -d "$size" >/dev/null 2>&1
    b0=$(busy)
    out=$(ip netns exec "$NS" taskset -c 0 redis-benchmark -h 10.99.7.2 -p $PORT -q -n "$n" \
        -t get -d "$size" -P "$p" 2>&1 | tr '\r' '\n' | grep 'requests per second' | tail -1)
    b1=$(busy)
    echo "$out" | awk -v l="$label" -v s="$size" -v p="$p" -v a="$b0" -v b="$b1" -v n="$n" \
        '{printf "%-9s GET %8s B P=%-2s %12s rps   poll core %8.2f us/request\n", l, s, p, $2, (b-a)/n}'
}

echo "redis-benchmark GET from netns $NS on CPU 0; poll core on CPU 1 (shared)"
for _ in $(seq "${ROUNDS:-1}"); do
    for mode in ${ZC_MODES:-copy 512 0}; do
        if [ "$mode" = copy ]; then thr=1000000000; label=copy; else thr=$mode; label="zc>=$mode"; fi
        start "$thr"
        cli info dataplane | tr -d '\r' | grep -E '^tx_zero_copy:' | sed "s/^/$label: /"
        for p in 1 32; do
            for size in ${SIZES:-64 200 1024 16384 1048576}; do
                if [ "$size" -le 4096 ]; then n=${N_SMALL:-40000}
                elif [ "$size" -le 65536 ]; then n=${N_MID:-10000}
                else n=${N_BIG:-200}; fi
                run "$label" "$size" "$n" $p
            done
        done
        cli info dataplane | tr -d '\r' | grep -E '^tcp_tx_(segments|zero_copy_segments):' |
            sed "s/^/$label: /"
        stop
    done
done
