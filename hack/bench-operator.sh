#!/usr/bin/env bash
# Kubernetes mode end to end, timed, on a real kube-apiserver 1.20 (hack/kube-up.sh) and a PostgreSQL of the
# system's binaries: JOBS VideoJobs (distinct videos of SECONDS each) applied with kubectl to two
# `reel operator --leader-elect --worker-runtime process` instances (release build). Measures apply → every job
# Succeeded, the leader's peak RSS, and how long the standby takes to lead after the leader is killed with
# SIGKILL (lease 15 s, retry 2 s). The peer is `reel local --until-done` on the same jobs and videos.
# usage: hack/bench-operator.sh [JOBS] [SECONDS]      (defaults 8 and 60)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs="${1:-8}"
seconds="${2:-60}"
swift build -c release --product reel >/dev/null 2>&1 || swift build -c release --product reel
swift build -c release --product reel-worker >/dev/null 2>&1 || swift build -c release --product reel-worker
swift build -c release --product reel-operator >/dev/null 2>&1 || swift build -c release --product reel-operator
reel="$(swift build -c release --show-bin-path)/reel"
kubectl="${REEL_KUBE_DIR:-$HOME/.cache/reel/kube}/bin/kubectl"
work="$(mktemp -d /tmp/reel-bench-operator.XXXXXX)"
chmod 755 "$work"
pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
    hack/kube-down.sh "$work/kube" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/media" "$work/jobs" "$work/local" "$work/pgsock" "$work/pg"
chown postgres "$work/pgsock" "$work/pg"

runuser -u postgres -- "$pgbin/initdb" -D "$work/pg" -U reel --auth=trust >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg" -l "$work/pgsock/pg.log" -w \
    -o "-k $work/pgsock -c listen_addresses='' -c max_connections=200" start >/dev/null
runuser -u postgres -- "$pgbin/createdb" -h "$work/pgsock" -U reel reel
db="postgresql:///reel?host=$work/pgsock&user=reel"
hack/kube-up.sh "$work/kube" >/dev/null
export KUBECONFIG="$work/kube/kubeconfig"
"$kubectl" apply -f crds/ >/dev/null
"$kubectl" wait --for=condition=Established crd/videojobs.reel.dev crd/workerpools.reel.dev >/dev/null

hack/sample-video.sh "$work/base.mp4" "$seconds" >/dev/null
for i in $(seq 1 "$jobs"); do
    ffmpeg -v error -y -i "$work/base.mp4" -vf "hue=h=$((i * 37 % 360))" -c:v libx264 -preset veryfast \
        -g 50 -force_key_frames "expr:gte(t,n_forced*2)" -c:a copy "$work/media/video-$i.mp4"
    for target in jobs local; do
        cat > "$work/$target/job-$i.yaml" <<YAML
apiVersion: reel.dev/v1alpha1
kind: VideoJob
metadata: {name: job-$i, namespace: default}
spec:
  source: {uri: "file://$work/media/video-$i.mp4"}
  split: {targetSeconds: 10}
  timeline: {strategy: highlights, maxSeconds: 20}
YAML
    done
done

start_operator() {
    "$reel" operator --kubeconfig "$KUBECONFIG" --leader-elect --identity "$1" --database-url "$db" \
        --storage "file://$work/store" --allow-root "$work/media" --state "$work/state-$1" \
        --health-addr "127.0.0.1:$2" --metrics-addr 0 >"$work/$1.log" 2>&1 &
    pids+=($!)
    disown $!
}
start_operator a 18181
start_operator b 18182
for port in 18181 18182; do
    for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
done

# Polled with curl, not kubectl: a kubectl run costs a tenth of a core-second, which the workers would lose.
. "$work/kube/env"
api() { curl -sk -A reel-bench -H "Authorization: Bearer $APISERVER_TOKEN" "$APISERVER_URL$1"; }
start=$(date +%s.%N)
"$kubectl" apply -f "$work/jobs" >/dev/null
while true; do
    list="$(api /apis/reel.dev/v1alpha1/namespaces/default/videojobs)"
    done_count=$({ grep -o '"phase":"Succeeded"' <<<"$list" || true; } | wc -l)
    [ "$done_count" -eq "$jobs" ] && break
    if grep -q '"phase":"Failed"' <<<"$list"; then echo "a job failed" >&2; tail -20 "$work/a.log" "$work/b.log" >&2; exit 1; fi
    sleep 0.2
done
operator_seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')

holder() { api /apis/coordination.k8s.io/v1/namespaces/default/leases/reel-operator | grep -o '"holderIdentity":"[^"]*"'; }
leader="$(holder || true)"
[ -n "$leader" ] || { echo "no lease holder:" >&2; api /apis/coordination.k8s.io/v1/namespaces/default/leases/reel-operator >&2; tail -n 5 "$work/a.log" "$work/b.log" >&2; exit 1; }
leader_pid=${pids[0]}; [ "$leader" = '"holderIdentity":"b"' ] && leader_pid=${pids[1]}
rss_mb=$(( $(awk '/VmHWM/ { print $2 }' "/proc/$leader_pid/status") / 1024 ))
kill -9 "$leader_pid"
killed=$(date +%s.%N)
while [ "$(holder)" = "$leader" ]; do sleep 0.1; done
takeover_seconds=$(awk -v a="$killed" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')

createdb_local="reel_local"
runuser -u postgres -- "$pgbin/createdb" -h "$work/pgsock" -U reel "$createdb_local"
start=$(date +%s.%N)
"$reel" local --resources "$work/local" --state "$work/local-state" --allow-root "$work/media" \
    --database-url "postgresql:///$createdb_local?host=$work/pgsock&user=reel" --until-done --timeout 3600 \
    >"$work/local.log" 2>&1 || { tail -30 "$work/local.log" >&2; exit 1; }
local_seconds=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')

printf '{"jobs":%d,"seconds":%d,"operator_apply_to_succeeded_s":%.2f,"reel_local_s":%.2f,"ratio":%.2f,"leader_peak_rss_mb":%d,"takeover_after_sigkill_s":%.2f}\n' \
    "$jobs" "$seconds" "$operator_seconds" "$local_seconds" \
    "$(awk -v a="$operator_seconds" -v b="$local_seconds" 'BEGIN { print a / b }')" "$rss_mb" "$takeover_seconds"
