#!/usr/bin/env bash
# setup.sh — installs the Debian 12 packages cachebox needs to build and test.
# Idempotent and quiet: when every package is already installed it does
# nothing (no apt-get update), so run.sh and test.sh can call it every time.
set -euo pipefail

PKGS=(gcc meson ninja-build pkg-config libjemalloc-dev libcunit1-dev libsystemd-dev
      redis-server redis-tools python3-redis liblzf-dev clang libclang-rt-14-dev iproute2
      nodejs npm prometheus-redis-exporter liblua5.1-0-dev lua-cjson-dev lua-bitop-dev
      libmicrohttpd-dev curl dpdk dpdk-dev libdpdk-dev ethtool tcpdump iptables nftables
      iputils-ping)

missing=()
for p in "${PKGS[@]}"; do
    # A nodejs that bundles npm (NodeSource's conflicts with Debian's npm)
    # is enough for the ioredis tests.
    [ "$p" = npm ] && command -v npm >/dev/null && continue
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 ||
       { $SUDO apt-get update -q >>"$log" 2>&1 &&
         $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; }; }; then
    cat "$log" >&2
    rm -f "$log"
    echo "setup: apt-get failed" >&2
    exit 1
fi
rm -f "$log"
# Debian starts a redis-server service on 6379 when it can; the tests start
# their own oracle on free ports, and run.sh wants 6379 for cachebox.
if command -v systemctl >/dev/null && systemctl is-active -q redis-server 2>/dev/null; then
    $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
