#!/usr/bin/env bash
# veth-rig.sh — creates or removes the veth + network-namespace rig the DPDK data
# plane is tested on (shared/notes/platform-facts.md): veth DPDK side in the
# root namespace without an address (net_af_packet / net_af_xdp bind to it),
# the peer in namespace $NS with 10.99.0.1/24 and checksum offloads off (the
# kernel would otherwise send partial checksums and super-frames).
# Usage: veth-rig.sh up|down [NS] [IF]   (defaults cbx-dpdk, cbxd0)
set -u
cmd=${1:-up}
NS=${2:-cbx-dpdk}
IF=${3:-cbxd0}
PEER=${IF}p
case "$cmd" in
up)
    ip link del "$IF" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    set -e
    ip netns add "$NS"
    ip link add "$IF" type veth peer name "$PEER"
    ip link set "$PEER" netns "$NS"
    ip netns exec "$NS" ip link set lo up
    ip netns exec "$NS" ip addr add 10.99.0.1/24 dev "$PEER"
    ip netns exec "$NS" ip link set "$PEER" up
    ip netns exec "$NS" ethtool -K "$PEER" tx off tso off gso off >/dev/null
    sysctl -qw "net.ipv6.conf.$IF.disable_ipv6=1"
    ip link set "$IF" up
    ;;
down)
    ip link del "$IF" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    true
    ;;
esac
