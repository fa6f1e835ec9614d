#!/usr/bin/env bash
# hugepages.sh — reserves 2 MB hugepages for DPDK (default 1024 = 2 GB, or
# $1) and mounts hugetlbfs on /dev/hugepages when nothing is mounted there.
# Idempotent; run as root (the systemd unit runs it before cachebox).
set -euo pipefail
n=${1:-1024}
cur=$(cat /proc/sys/vm/nr_hugepages)
if [ "$cur" -lt "$n" ]; then
    echo "$n" > /proc/sys/vm/nr_hugepages
    got=$(cat /proc/sys/vm/nr_hugepages)
    [ "$got" -ge "$n" ] || echo "hugepages: asked for $n, got $got (memory fragmented?)" >&2
fi
if ! mount | grep -q ' /dev/hugepages type hugetlbfs'; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages
fi
