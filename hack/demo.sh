#!/usr/bin/env bash
# The README's first command: a sample VideoJob end to end on this machine. Installs what is missing (without the
# Kubernetes API server, which the demo does not need), builds reel in release mode, makes a sample video, runs
# `reel local --resources examples/local --until-done` on an embedded PostgreSQL in ./.reel, and prints where the
# timeline and the render are. Running it again reuses the state: the finished job is reported at once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

REEL_SKIP_KUBE=1 REEL_SKIP_BROWSER=1 hack/setup.sh
echo "== building reel (release)"
swift build -c release --product reel
swift build -c release --product reel-worker
reel="$(swift build -c release --show-bin-path)/reel"

if [ ! -f examples/local/sample.mp4 ]; then
    echo "== making a sample video"
    hack/sample-video.sh examples/local/sample.mp4 24
fi

state="${REEL_STATE_DIR:-$root/.reel}"
echo "== reel local --resources examples/local --state $state --until-done"
status=0
"$reel" local --resources examples/local --state "$state" --until-done --timeout 600 || status=$?

echo
"$reel" get videojobs --state "$state" -o wide
echo
"$reel" describe videojob keynote --state "$state" | sed -n '/^Outputs:/,/^$/p'
if [ "$status" -eq 0 ]; then
    echo "Open timeline.otio in an OpenTimelineIO-aware editor, or play render.mp4. State: $state"
    echo "Inspect: $reel describe vj keynote --state $state   ·   $reel logs keynote --state $state"
fi
# The dashboard on the same state: an admin token of namespace default for a day, carried in the link's fragment
# (the page keeps it in the tab's session storage and drops it from the address bar).
token="$("$reel" token create --state "$state" --namespace default --role admin --expires 1d \
    --name "dashboard-$(date +%Y%m%d-%H%M%S)" 2>/dev/null)" || token=""
addr="${REEL_DASHBOARD_ADDR:-127.0.0.1:8080}"
echo
echo "The dashboard (upload, live jobs, scenes and render, queue) on this state — run:"
echo "  $reel local --resources $root/examples/local --state $state --api-addr $addr"
if [ -n "$token" ]; then
    echo "then open http://$addr/#token=$token   (an admin token of namespace default for 24 hours)"
fi
exit "$status"
