#!/usr/bin/env bash
# `reel-worker` as the image ships it, built to hold as few pages as it can while idle: the Swift runtime linked in
# (--static-swift-stdlib); every function in a section of its own, so that lld can lay out first, in one run, the
# functions a worker runs while it starts and waits (hack/reel-worker.order, made by hack/order-worker.py);
# relative relocations packed (RELR, glibc 2.36+) instead of 1.3 MB of RELA entries read at every start; and no
# symbols exported from the executable. Prints the binary's path; the build's own output goes to stderr.
#   hack/build-small-worker.sh [SCRATCH]      (default SCRATCH: .build-small)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scratch="${1:-$root/.build-small}"
flags=(
    -c release --product reel-worker --static-swift-stdlib --scratch-path "$scratch"
    -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
    -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic
    -Xlinker "--symbol-ordering-file=$root/hack/reel-worker.order" -Xlinker --no-warn-symbol-ordering
)
binary="$(swift build "${flags[@]}" --show-bin-path)/reel-worker"
rm -f "$binary"  # linked again each time: the build does not see the order file change
swift build "${flags[@]}" >&2
echo "$binary"
