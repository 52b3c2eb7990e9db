#!/usr/bin/env bash
# Peak RSS of a command left idle: starts it, waits (default 10 s), prints VmHWM and the executable it runs as
# (after any exec, e.g. `reel worker` -> `reel-worker`), and stops it.
#   hack/idle-rss.sh [--wait S] COMMAND [ARG]...
set -euo pipefail
wait_seconds=10
if [ "${1:-}" = "--wait" ]; then wait_seconds=$2; shift 2; fi
"$@" >/dev/null 2>&1 &
pid=$!
sleep "$wait_seconds"
if ! kill -0 "$pid" 2>/dev/null; then
    echo "the command exited within ${wait_seconds} s" >&2
    exit 1
fi
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
exe=$(readlink "/proc/$pid/exe")
kill "$pid"
wait "$pid" 2>/dev/null || true
echo "$(basename "$exe"): VmHWM ${hwm} kB"
