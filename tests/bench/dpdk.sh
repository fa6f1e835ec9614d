#!/usr/bin/env bash
# dpdk.sh — the DPDK data plane side by side with the kernel plane and
# Debian's redis-server, all reached from the same client namespace over a
# veth pair (as root): cachebox --dataplane dpdk on net_af_packet (poll core
# on CPU 1) at 10.99.2.2, and the kernel-plane servers bound in the root
# namespace to 10.99.3.2 (on CPU 1) behind a second veth pair. redis-benchmark
# runs in the namespace on CPU 0 at pipelines 1 and 32. CPU per request: for
# the DPDK poll core, its busy time (INFO dataplane loop_busy_us: turns that
# received something) over requests; for the kernel servers, their user +
# system CPU time (/proc/PID/stat) over requests. Not part of test.sh.
# Env: CACHEBOX_BIN, BENCH_N (requests per run, default 200000).
set -u
cd "$(dirname "$0")/../.."
CB=${CACHEBOX_BIN:-build/cachebox}
N=${BENCH_N:-200000}
NS=cbx-dpdk-b
TMP=$(mktemp -d /tmp/cbx-dpdk-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 1
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    ip link del cbxdb0 2>/dev/null; ip link del cbxdb1 2>/dev/null; ip netns del "$NS" 2>/dev/null
    rm -rf "$TMP" /var/run/dpdk/cbx-dpdk-bench
}
trap cleanup EXIT
ip link del cbxdb0 2>/dev/null; ip link del cbxdb1 2>/dev/null; ip netns del "$NS" 2>/dev/null
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
for i in 0 1; do
    ip link add cbxdb$i type veth peer name cbxdb${i}p
    ip link set cbxdb${i}p netns "$NS"
    ip netns exec "$NS" ip link set cbxdb${i}p up
    ip netns exec "$NS" ethtool -K cbxdb${i}p tx off tso off gso off >/dev/null
    sysctl -qw net.ipv6.conf.cbxdb$i.disable_ipv6=1
    ip link set cbxdb$i up
done
ip netns exec "$NS" ip addr add 10.99.2.1/24 dev cbxdb0p
ip netns exec "$NS" ip addr add 10.99.3.1/24 dev cbxdb1p
ip addr add 10.99.3.2/24 dev cbxdb1
ethtool -K cbxdb1 tx off tso off gso off >/dev/null

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
bench() { # host port label pid-or-"dpdk"
    local host=$1 port=$2 label=$3 pid=$4
    for P in 1 32; do
        local c0 c1 out rps
        if [ "$pid" = dpdk ]; then c0=$(ip netns exec "$NS" redis-cli -h "$host" -p "$port" info dataplane | tr -d '\r' | awk -F: '$1=="loop_busy_us"{print $2}')
        else c0=$(ticks "$pid"); fi
        out=$(ip netns exec "$NS" taskset -c 0 redis-benchmark -h "$host" -p "$port" -q -n "$N" -t set,get -P $P 2>&1 | tr '\r' '\n' | grep 'requests per second')
        if [ "$pid" = dpdk ]; then c1=$(ip netns exec "$NS" redis-cli -h "$host" -p "$port" info dataplane | tr -d '\r' | awk -F: '$1=="loop_busy_us"{print $2}')
            cpu=$(awk -v a="$c0" -v b="$c1" -v n="$N" 'BEGIN{printf "%.2f", (b-a)/(2*n)}')
        else c1=$(ticks "$pid")
            cpu=$(awk -v a="$c0" -v b="$c1" -v n="$N" -v hz="$HZ" 'BEGIN{printf "%.2f", (b-a)*1e6/hz/(2*n)}')
        fi
        echo "$out" | awk -v l="$label" -v p=$P -v c="$cpu" '{printf "%-22s P=%-2s %-4s %12s rps   server CPU %s us/request\n", l, p, $1, $2, c}'
    done
}

taskset -c 0,1 "$CB" --port 6379 --control-port 0 --save '' --protected-mode no --dir "$TMP" --dataplane dpdk \
    --dpdk-eal-args "-l 0,1 --no-pci --no-huge -m 512 --no-telemetry --log-level=*:warning --file-prefix cbx-dpdk-bench --vdev=net_af_packet0,iface=cbxdb0,framecnt=4096" \
    --dpdk-ip 10.99.2.2/24 >"$TMP/dpdk.log" 2>&1 &
PIDS+=($!)
taskset -c 1 "$CB" --port 6380 --control-port 0 --bind 10.99.3.2 --save '' --protected-mode no --dir "$TMP" >"$TMP/kernel.log" 2>&1 &
KPID=$!; PIDS+=($KPID)
taskset -c 1 redis-server --port 6381 --bind 10.99.3.2 --save '' --appendonly no --protected-mode no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
RPID=$!; PIDS+=($RPID)
for hp in 10.99.2.2:6379 10.99.3.2:6380 10.99.3.2:6381; do
    for _ in $(seq 100); do
        ip netns exec "$NS" redis-cli -h "${hp%:*}" -p "${hp#*:}" ping 2>/dev/null | grep -q PONG && break
        sleep 0.1
    done
done
echo "redis-benchmark -n $N from netns $NS on CPU 0; servers on CPU 1"
bench 10.99.2.2 6379 "cachebox dpdk" dpdk
bench 10.99.3.2 6380 "cachebox kernel" "$KPID"
bench 10.99.3.2 6381 "redis-server 7.0" "$RPID"
