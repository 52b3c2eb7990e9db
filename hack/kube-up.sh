#!/usr/bin/env bash
# Starts a real Kubernetes API server (1.20, built by hack/build-kube.sh) on etcd, both on loopback ports, with
# state under DIR. REEL_APISERVER_FLAGS adds flags to kube-apiserver (tests: --watch-cache=false). Writes DIR/kubeconfig (token auth, the server's own CA) and DIR/env (ports and pids).
# Stop it with hack/kube-down.sh DIR.
set -euo pipefail
dir="${1:?usage: hack/kube-up.sh DIR}"
bin="${REEL_KUBE_DIR:-$HOME/.cache/reel/kube}/bin"
[ -x "$bin/kube-apiserver" ] || { echo "kube-up: no $bin/kube-apiserver; run hack/build-kube.sh" >&2; exit 1; }
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)

setsid etcd --name reel --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "reel=http://127.0.0.1:$peer_port" >"$dir/etcd.log" 2>&1 &
etcd_pid=$!

[ -f "$dir/sa.key" ] || {
    openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
    openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
}
token="reel-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$token,reel-admin,reel-admin,system:masters" >"$dir/tokens.csv"

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
    if curl -sk --max-time 2 -H "Authorization: Bearer $token" "https://127.0.0.1:$api_port/readyz" 2>/dev/null | grep -qx ok; then
        break
    fi
    if ! kill -0 "$api_pid" 2>/dev/null; then
        echo "kube-up: kube-apiserver exited; see $dir/apiserver.log" >&2
        tail -20 "$dir/apiserver.log" >&2
        exit 1
    fi
    sleep 0.5
done
curl -sk --max-time 2 -H "Authorization: Bearer $token" "https://127.0.0.1:$api_port/readyz" | grep -qx ok || {
    echo "kube-up: kube-apiserver not ready after 120 s; see $dir/apiserver.log" >&2
    exit 1
}

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
