#!/usr/bin/env bash
# run.sh — installs what is missing, builds a release cachebox and runs it in
# the foreground. With no arguments it listens on 127.0.0.1:6379 (kernel data
# plane) and on the control port 127.0.0.1:8379, and writes nothing to disk
# but the control port's token (control.token, mode 0600, in the current
# directory; --control-port 0 turns the port off); arguments are passed
# through, e.g.
#   ./deploy/run.sh /etc/cachebox.conf --port 7000
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/setup.sh
if [ -f build/build.ninja ]; then
    meson configure build --buildtype=release >/dev/null
else
    meson setup build --buildtype=release >/dev/null
fi
ninja -C build >/dev/null || ninja -C build
exec build/cachebox "$@"
