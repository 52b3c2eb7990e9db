#!/usr/bin/env bash
# Makes a sample video with hard scene changes at known times, from FFmpeg's lavfi sources: H.264 (High profile,
# B-frames) + AAC in MP4, 320x240, 25 fps. Scenes are 2 s long, so the cuts are at 2, 4, 6, … seconds.
# usage: hack/sample-video.sh OUT [SECONDS]   (SECONDS: a multiple of 2, default 12)
set -euo pipefail
out="${1:?usage: hack/sample-video.sh OUT [SECONDS]}"
seconds="${2:-12}"
scene=2
count=$(( (seconds + scene - 1) / scene ))
sources=(
    "testsrc2=size=320x240:rate=25"
    "smptebars=size=320x240:rate=25"
    "mandelbrot=size=320x240:rate=25"
    "color=c=0xf0e060:size=320x240:rate=25,noise=alls=30:allf=t"
    "rgbtestsrc=size=320x240:rate=25"
    "life=size=320x240:rate=25:mold=10:ratio=0.5:death_color=#103010:life_color=#f0f060"
)
inputs=()
filters=""
for i in $(seq 0 $((count - 1))); do
    src="${sources[$((i % ${#sources[@]}))]}"
    inputs+=(-f lavfi -t "$scene" -i "$src")
    filters+="[$i:v]format=yuv420p,setsar=1[v$i];"
done
concat=""
for i in $(seq 0 $((count - 1))); do concat+="[v$i]"; done
filters+="${concat}concat=n=$count:v=1:a=0[v]"
ffmpeg -v error -y "${inputs[@]}" \
    -f lavfi -t "$((count * scene))" -i "sine=frequency=440:sample_rate=48000" \
    -filter_complex "$filters" -map "[v]" -map "$count:a" \
    -c:v libx264 -profile:v high -preset veryfast -bf 2 -g 50 -force_key_frames "expr:gte(t,n_forced*$scene)" \
    -c:a aac -b:a 96k -ac 2 -movflags +faststart "$out"
echo "$out: ${count} scenes of ${scene} s, cuts at $(seq -s ' ' $scene $scene $(((count - 1) * scene))) s"
