#!/usr/bin/env bash
# The Swift suites under the sanitizers, each in a build directory of its own (.build/tsan, .build/asan):
#   thread   ThreadSanitizer on the unit suites (every suite but the end-to-end ones, whose work happens in `reel`
#            child processes that are not instrumented, and the CLI ones, for the same reason)
#   address  AddressSanitizer on the media suite (FFmpeg's buffers handed to and from Swift) and the fuzz replays
# usage: hack/sanitize.sh [thread] [address]   (both by default; hack/test.sh runs it with REEL_SANITIZE=1)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(thread address)
unit="ReelYAMLTests|ReelAPITests|ReelCoreTests|ReelSupportTests|ReelPostgresTests|ReelStoreTests|ReelHTTPTests"
unit+="|ReelStorageTests|ReelAnalysisTests|ReelPipelineTests|ReelOperatorTests|ReelServerTests|ReelKubeTests"
unit+="|ReelAppTests|ReelMediaTests|ReelFuzzTargetsTests|CLibrariesTests"
for mode in "${modes[@]}"; do
    case "$mode" in
        thread) scratch=.build/tsan; filter="$unit" ;;
        address) scratch=.build/asan; filter="ReelMediaTests|ReelFuzzTargetsTests" ;;
        *) echo "usage: hack/sanitize.sh [thread] [address]" >&2; exit 64 ;;
    esac
    echo "== $mode sanitizer: build ($scratch)"
    swift build --build-tests --sanitize="$mode" --scratch-path "$scratch" 2>&1 | grep -E "error:|Build complete" || true
    echo "== $mode sanitizer: swift test --filter '$filter'"
    # halt_on_error: the first report fails the run, with both stacks.
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/hack/tsan-suppressions.txt" \
        ASAN_OPTIONS="detect_leaks=0" \
        swift test --skip-build --sanitize="$mode" --scratch-path "$scratch" --filter "$filter"
done
