#!/usr/bin/env bash
# Regenerates every generated file: the CRDs in crds/, charts/reel/crds/ and manifests/base/crds/, and the REST API's
# docs/openapi.json, from the Swift types.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
swift build --product reel >/dev/null
"$(swift build --show-bin-path)/reel" manifests crds --output crds --output charts/reel/crds --output manifests/base/crds
"$(swift build --show-bin-path)/reel" manifests openapi --output docs/openapi.json
