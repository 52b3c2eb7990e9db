#!/usr/bin/env bash
# Installs everything Reel needs to build and test on Debian (bookworm): the four C libraries' dev packages,
# pkg-config, PostgreSQL, FFmpeg, and a Python venv with the test tools. Idempotent: a second run only checks.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${REEL_TOOLS_DIR:-$HOME/.cache/reel}"
venv="$tools/venv"

apt_packages=(
    pkg-config libpq-dev libyaml-dev libcurl4-openssl-dev
    libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
    postgresql ffmpeg python3 python3-venv python3-pip ca-certificates curl libxml2 wrk procps
)
# A real browser for the dashboard's tests (Selenium drives it headless); the demo does not need it
# (REEL_SKIP_BROWSER=1).
if [ "${REEL_SKIP_BROWSER:-0}" != 1 ]; then
    apt_packages+=(chromium chromium-driver)
fi
# moto[server] is a real S3 (and IAM, STS) server for the storage tests; boto3 reads back what Reel wrote; tuspy
# is an independent tus client for the upload tests; selenium drives chromium for the dashboard's.
python_tools=(
    kubernetes-validate jsonschema ruamel.yaml PyYAML opentimelineio otio-cmx3600-adapter helm-python-sdk
    "moto[server]" boto3 schemathesis tuspy selenium
    pgqueuer asyncpg  # hack/bench-queue-peers.py
)

if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi

missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for lib in libpq yaml-0.1 libcurl libavformat libavcodec libavutil libswscale libswresample; do
    pkg-config --exists "$lib" || { echo "setup: pkg-config cannot find $lib" >&2; exit 1; }
done
command -v swift >/dev/null || { echo "setup: swift is not on PATH (expected /opt/swift/usr/bin)" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating the test-tools venv in $venv"
    mkdir -p "$tools"
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" - "${python_tools[@]}" <<'PY' 2>/dev/null; then
import importlib.metadata, sys
for name in sys.argv[1:]:
    importlib.metadata.version(name.split("[")[0])
PY
    echo "setup: installing ${python_tools[*]} into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "${python_tools[@]}"
fi

# A real Kubernetes API server for the CRD checks (and, later, the operator's tests): built once from Debian's
# kubernetes source package and cached (about 15 minutes on 2 cores the first time). REEL_SKIP_KUBE=1 skips it.
if [ "${REEL_SKIP_KUBE:-0}" != 1 ]; then
    "$root/hack/build-kube.sh"
fi

echo "setup: ok ($root)"
