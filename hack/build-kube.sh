#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kubectl 1.20 from Debian's `kubernetes` source package, for
# tests against a real API server. The binaries are cached outside the checkout (REEL_KUBE_DIR, default
# ~/.cache/reel/kube/bin), so later runs on the same machine skip the ~15 minute build.
set -euo pipefail

cache="${REEL_KUBE_DIR:-$HOME/.cache/reel/kube}"
bin="$cache/bin"
wanted=(kube-apiserver kube-controller-manager kubectl)

have_all() { for b in "${wanted[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if have_all; then
    echo "kube binaries: $bin (cached)"
    exit 0
fi

if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    $sudo tee /etc/apt/sources.list.d/reel-debian-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $sudo apt-get update -qq
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    golang-go etcd-server rsync dpkg-dev \
    golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev >/dev/null

mkdir -p "$cache/src" "$bin"
cd "$cache/src"
tree=$(ls -d kubernetes-1.20*/ 2>/dev/null | head -n1 || true)
if [ -z "$tree" ]; then
    apt-get source -qq kubernetes >/dev/null
    tree=$(ls -d kubernetes-1.20*/ | head -n1)
fi
cd "$tree"

# The vendored reflect2/json-iterator crash on the first custom resource under Go >= 1.18: use Debian's.
for pkg in github.com/modern-go/reflect2 github.com/json-iterator/go; do
    if [ ! -e "vendor/$pkg/.reel-replaced" ]; then
        rm -rf "vendor/$pkg"
        cp -r "/usr/share/gocode/src/$pkg" "vendor/$pkg"
        touch "vendor/$pkg/.reel-replaced"
    fi
done

# GOPATH mode, as Debian's own build does it.
export GOPATH="$PWD/.go" GO111MODULE=off CGO_ENABLED=0 HOME="${HOME:-/root}"
mkdir -p .go/src/k8s.io
[ -L .go/src/k8s.io/kubernetes ] || ln -s ../../.. .go/src/k8s.io/kubernetes
cd .go/src/k8s.io/kubernetes
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kubectl"
for b in "${wanted[@]}"; do install -m 0755 "_output/bin/$b" "$bin/$b"; done
echo "kube binaries: $bin"
