#!/usr/bin/env bash
# Starts a real Kubernetes API server (1.20, built by hack/build-kube.sh) on etcd, both on loopback ports, with
# state under DIR. REEL_APISERVER_FLAGS adds flags to kube-apiserver (tests: --watch-cache=false). Writes
# DIR/kubeconfig (token auth, the server's own CA) and DIR/env (ports and pids).
# Stop it with hack/kube-down.sh DIR.
set -euo pipefail
dir="${1:?usage: hack/kube-up.sh DIR}"
bin="${REEL_KUBE_DIR:-$HOME/.cache/reel/kube}/bin"
[ -x "$bin/kube-apiserver" ] || { echo "kube-up: no $bin/kube-apiserver; run hack/build-kube.sh" >&2; exit 1; }
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

[ -f "$dir/sa.key" ] || {
    openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
    openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
}
token="reel-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$token,reel-admin,reel-admin,system:masters" >"$dir/tokens.csv"

# Starts etcd and kube-apiserver on ports picked just before (neither can listen on port 0 and say which port it
# got). Another program may take a picked port in between: then `launch` returns 2, and it runs again on new ports.
# KUBE_UP_PORTS="ETCD PEER API" fixes the first try's ports, 0 for one picked (a test holds one to check the retry).
launch() {
    read -r etcd_port peer_port api_port <<<"${1:-0 0 0}"
    [ "$etcd_port" = 0 ] && etcd_port=$(free_port)
    [ "$peer_port" = 0 ] && peer_port=$(free_port)
    [ "$api_port" = 0 ] && api_port=$(free_port)
    rm -rf "$dir/etcd"
    setsid etcd --name reel --data-dir "$dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
        --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
        --initial-cluster "reel=http://127.0.0.1:$peer_port" >"$dir/etcd.log" 2>&1 &
    etcd_pid=$!

    setsid "$bin/kube-apiserver" \
        --etcd-servers "http://127.0.0.1:$etcd_port" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" --insecure-port 0 \
        --cert-dir "$dir/certs" --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC \
        --service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-cluster-ip-range 10.96.0.0/24 --enable-priority-and-fairness=false \
        ${REEL_APISERVER_FLAGS:-} \
        >"$dir/apiserver.log" 2>&1 &
    api_pid=$!

    cat >"$dir/env" <<ENV
ETCD_PID=$etcd_pid
ETCD_URL=http://127.0.0.1:$etcd_port
APISERVER_PID=$api_pid
APISERVER_URL=https://127.0.0.1:$api_port
APISERVER_TOKEN=$token
ENV

    for _ in $(seq 1 240); do
        if curl -sk --max-time 2 -H "Authorization: Bearer $token" "https://127.0.0.1:$api_port/readyz" 2>/dev/null |
            grep -qx ok; then
            return 0
        fi
        for pid in "$etcd_pid" "$api_pid"; do
            kill -0 "$pid" 2>/dev/null && continue
            kill "$etcd_pid" "$api_pid" 2>/dev/null || true
            wait "$etcd_pid" "$api_pid" 2>/dev/null || true
            if grep -qs "address already in use" "$dir/etcd.log" "$dir/apiserver.log"; then
                echo "kube-up: a port of $etcd_port $peer_port $api_port was taken by another program; new ports" >&2
                return 2
            fi
            local name=kube-apiserver log=apiserver.log
            [ "$pid" = "$etcd_pid" ] && name=etcd log=etcd.log
            echo "kube-up: $name exited; see $dir/$log" >&2
            tail -20 "$dir/$log" >&2
            return 1
        done
        sleep 0.5
    done
    echo "kube-up: kube-apiserver not ready after 120 s; see $dir/apiserver.log" >&2
    return 1
}

ports="${KUBE_UP_PORTS:-}"
for attempt in 1 2 3 4; do
    status=0
    launch "$ports" || status=$?
    [ "$status" = 2 ] && [ "$attempt" -lt 4 ] && { ports=""; continue; }
    [ "$status" = 0 ] || exit 1
    break
done

cat >"$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: reel
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $dir/certs/apiserver.crt
users:
- name: reel-admin
  user:
    token: $token
contexts:
- name: reel
  context: {cluster: reel, user: reel-admin, namespace: default}
current-context: reel
KC
echo "kube-up: https://127.0.0.1:$api_port ready (KUBECONFIG=$dir/kubeconfig)"
