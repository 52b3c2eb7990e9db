#!/usr/bin/env bash
# Local mode end to end, timed: JOBS VideoJobs (distinct videos of SECONDS each, so the analysis cache cannot
# help) through `reel local --until-done` on an embedded PostgreSQL, release build. The peer does the same media
# work with the ffmpeg CLI, job after job: split by stream copy (-f segment), scene detection on every chunk
# (scdet), and a render of the clips Reel's timeline chose, encoded as Reel's exact mode encodes it. Prints wall times, their ratio and reel local's peak RSS.
# usage: hack/bench-local.sh [JOBS] [SECONDS]      (defaults 8 and 60)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="${1:-8}"
seconds="${2:-60}"
swift build -c release --product reel >/dev/null
swift build -c release --product reel-worker >/dev/null
reel="$(swift build -c release --show-bin-path)/reel"
work="$(mktemp -d /tmp/reel-bench-local.XXXXXX)"
chmod 755 "$work"  # the embedded PostgreSQL runs as the postgres user when we are root
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/resources"

hack/sample-video.sh "$work/base.mp4" "$seconds" >/dev/null
for i in $(seq 1 "$jobs"); do
    # A hue shift per job: different pixels, so different chunks and no shared cache entries.
    ffmpeg -v error -y -i "$work/base.mp4" -vf "hue=h=$((i * 37 % 360))" -c:v libx264 -preset veryfast \
        -g 50 -force_key_frames "expr:gte(t,n_forced*2)" -c:a copy "$work/resources/video-$i.mp4"
    cat > "$work/resources/job-$i.yaml" <<YAML
apiVersion: reel.dev/v1alpha1
kind: VideoJob
metadata: {name: job-$i}
spec:
  source: {uri: "file://./video-$i.mp4"}
  split: {targetSeconds: 10}
  timeline: {strategy: highlights, maxSeconds: 20}
YAML
done

start=$(date +%s.%N)
if ! /usr/bin/time -f "%M" -o "$work/rss" "$reel" local --resources "$work/resources" --state "$work/state" \
    --until-done --timeout 3600 >"$work/local.log" 2>&1; then
    tail -30 "$work/local.log" >&2
    exit 1
fi
reel_seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
rss_mb=$(( $(tail -1 "$work/rss") / 1024 ))
# The peer renders the very clips Reel's timelines chose (read before its clock starts).
for i in $(seq 1 "$jobs"); do
    "$reel" get videojobs "job-$i" --state "$work/state" -o json | python3 -c '
import json, sys
timeline = json.load(sys.stdin)["status"]["outputs"]["timeline"][len("file://"):]
for clip in json.load(open(timeline))["clips"]:
    print(clip["start"], clip["end"])' > "$work/clips-$i.txt"
done

start=$(date +%s.%N)
for i in $(seq 1 "$jobs"); do
    out="$work/peer-$i"
    mkdir -p "$out"
    ffmpeg -v error -i "$work/resources/video-$i.mp4" -map 0 -c copy -f segment -segment_time 10 \
        -reset_timestamps 1 "$out/%03d.mp4"
    for chunk in "$out"/[0-9]*.mp4; do
        ffmpeg -v error -i "$chunk" -vf "scdet=threshold=10" -an -f null - 2>/dev/null
    done
    # The same clips rendered as Reel's exact mode renders them: -ss/-to per clip, concat, libx264 CRF 20 preset
    # fast, AAC.
    inputs=() streams=""
    n=0
    while read -r from to; do
        inputs+=(-ss "$from" -to "$to" -i "$work/resources/video-$i.mp4")
        streams+="[$n:v:0][$n:a:0]"
        n=$((n + 1))
    done < "$work/clips-$i.txt"
    ffmpeg -v error "${inputs[@]}" -filter_complex "${streams}concat=n=$n:v=1:a=1[v][a]" -map "[v]" -map "[a]" \
        -c:v libx264 -crf 20 -preset fast -c:a aac -movflags +faststart "$out/render.mp4"
done
peer_seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')

printf '{"jobs":%d,"seconds":%d,"reel_local_s":%.2f,"ffmpeg_cli_s":%.2f,"ratio":%.2f,"reel_local_peak_rss_mb":%d}\n' \
    "$jobs" "$seconds" "$reel_seconds" "$peer_seconds" "$(awk -v a="$reel_seconds" -v b="$peer_seconds" 'BEGIN { print a / b }')" "$rss_mb"
