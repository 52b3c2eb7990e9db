#!/usr/bin/env bash
# The web dashboard in a real browser (hack/check-dashboard.py: Selenium + Debian's chromium headless) against a
# live `reel local --api-addr` on a fresh embedded PostgreSQL: tokens for an admin and a viewer of `default` and
# an editor of `other`, and the 24-second sample video to upload.
# Usage: hack/check-dashboard.sh REEL_BINARY [--screenshots DIR]   (hack/test.sh writes them to docs/screenshots)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
reel="$1"
shift
venv="${REEL_TOOLS_DIR:-$HOME/.cache/reel}/venv"
work="$(mktemp -d)"
chmod 755 "$work"  # the embedded PostgreSQL runs as the postgres user
mkdir -p "$work/resources"
"$root/hack/sample-video.sh" "$work/sample.mp4" 24
source "$root/hack/live-reel.sh"
# (The stalling source of the bulk-cancel check is on this machine, which sources may reach only when allowed.)
live_reel "$work" "$work/local.log" local --resources "$work/resources" --state "$work/state" \
    --api-addr "127.0.0.1:0" --allow-source-host 127.0.0.1
token() { "$reel" token create --state "$work/state" --namespace "$1" --role "$2" --name "dashboard-$2" 2>/dev/null; }
status=0
"$venv/bin/python" "$root/hack/check-dashboard.py" --url "http://127.0.0.1:$port" --admin "$(token default admin)" \
    --viewer "$(token default viewer)" --other "$(token other editor)" --sample "$work/sample.mp4" "$@" || status=$?
if [ "$status" -ne 0 ]; then
    echo "reel local's last lines:" >&2
    tail -30 "$work/local.log" >&2
fi
exit "$status"
