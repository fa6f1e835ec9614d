#!/usr/bin/env bash
# run_integration_dpdk.sh — the whole integration suite (tests/integration)
# with every cachebox it starts on the DPDK data plane: builds the slot rig
# (tests/dpdk/integration_rig.sh: one namespace, CBX_IT_SLOTS veth pairs),
# runs run_all.py inside that namespace pinned to CPU 0 with
# CBTEST_DATAPLANE=dpdk (cbtest starts each server on a free slot with
# net_af_packet, its poll cores on CPU 1), and tears the rig down whatever
# happens. Arguments go to run_all.py (e.g. a file pattern). Needs root.
# CBX_RIG (a short tag) renames the namespace, interfaces and EAL prefixes
# so that two runs can share a host. Ends with run_all's "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
export CACHEBOX_BIN=${CACHEBOX_BIN:-$ROOT/build/cachebox}
export CBX_IT_TAG=${CBX_RIG:-it}
export CBX_IT_NS=cbx-$CBX_IT_TAG
export CBX_IT_SLOTS=${CBX_IT_SLOTS:-8}
export CBX_IT_NET=${CBX_IT_NET:-98}
export CBTEST_DATAPLANE=dpdk
export PYTHONDONTWRITEBYTECODE=1
if [ "$(id -u)" -ne 0 ]; then
    echo "integration-dpdk: needs root (network namespaces, af_packet)"
    echo "0 passed, 1 failed"
    exit 1
fi
cleanup() {
    tests/dpdk/integration_rig.sh down
    rm -rf "/tmp/cbx-$CBX_IT_TAG-slots"
    for i in $(seq 0 $((CBX_IT_SLOTS - 1))); do rm -rf "/var/run/dpdk/cbx-$CBX_IT_TAG-$i"; done
}
trap cleanup EXIT
tests/dpdk/integration_rig.sh up || { echo "rig set-up failed"; echo "0 passed, 1 failed"; exit 1; }
ip netns exec "$CBX_IT_NS" taskset -c 0 /usr/bin/python3 tests/integration/run_all.py "$@"
