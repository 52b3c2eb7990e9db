#!/usr/bin/env bash
# The chaos suite (hack/chaos.py): reel local under random faults — workers and reel local killed, PostgreSQL
# restarted, database connections cut — then every job Succeeded, every chunk analyzed exactly once, no task left,
# no object no job owns. usage: hack/chaos.sh [REEL] [--jobs N] [--minutes M] [--seed S] [--keep]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    reel="$1"
    shift
else
    (cd "$root" && swift build --product reel >/dev/null && swift build --product reel-worker >/dev/null)
    reel="$(cd "$root" && swift build --show-bin-path)/reel"
fi
exec python3 "$root/hack/chaos.py" --reel "$reel" "$@"
