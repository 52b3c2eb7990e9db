#!/usr/bin/env bash
# Stops what hack/kube-up.sh DIR started.
set -uo pipefail
dir="${1:?usage: hack/kube-down.sh DIR}"
[ -f "$dir/env" ] || exit 0
# shellcheck disable=SC1091
. "$dir/env"
for pid in "$APISERVER_PID" "$ETCD_PID"; do
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
done
