#!/usr/bin/env bash
# integration_rig.sh — the network the integration suite's DPDK mode runs in
# (tests/dpdk/run_integration_dpdk.sh, cbtest's CBTEST_DATAPLANE=dpdk): one
# network namespace holding N slots. Slot i is a veth pair: ${TAG}${i}d is
# cachebox's end (net_af_packet binds it by name; no address), ${TAG}${i}k
# the kernel's end with 10.${NET}.${i}.1/24 (cachebox takes .2). Both ends
# live in the same namespace so that the test runner, the redis-servers it
# starts and the kernel TCP clients all reach every slot and loopback. IPv4
# forwarding is on so that one slot's cachebox reaches another's through its
# gateway (.1), but never for frames the kernel sees arrive on a cachebox
# end (per-interface forwarding off), which would otherwise be sent back
# out as duplicates.
# Usage: integration_rig.sh up|down   (env: CBX_IT_NS, CBX_IT_TAG, CBX_IT_SLOTS, CBX_IT_NET)
set -u
cmd=${1:-up}
NS=${CBX_IT_NS:-cbx-it}
TAG=${CBX_IT_TAG:-it}
SLOTS=${CBX_IT_SLOTS:-8}
NET=${CBX_IT_NET:-98}
in_ns() { ip netns exec "$NS" "$@"; }
case "$cmd" in
up)
    ip netns del "$NS" 2>/dev/null
    set -e
    ip netns add "$NS"
    in_ns ip link set lo up
    in_ns sysctl -qw net.ipv4.ip_forward=1
    in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    in_ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1
    # Stand-ins for the loopback source addresses tests bind clients to
    # (cbtest.loopback_alias): local here, reached by cachebox via .1.
    in_ns ip route add local 10.96.0.0/15 dev lo
    for i in $(seq 0 $((SLOTS - 1))); do
        d=${TAG}${i}d k=${TAG}${i}k
        in_ns ip link add "$d" type veth peer name "$k"
        in_ns sysctl -qw "net.ipv4.conf.$d.forwarding=0"
        in_ns ip addr add "10.$NET.$i.1/24" dev "$k"
        in_ns ethtool -K "$k" tx off tso off gso off >/dev/null
        in_ns ip link set "$k" up
        in_ns ip link set "$d" up
    done
    ;;
down)
    ip netns del "$NS" 2>/dev/null
    true
    ;;
*)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
