#!/usr/bin/env bash
# libFuzzer on Reel's parsers of untrusted input (Sources/ReelFuzzTargets): manifests (ReelYAML + ResourceDecoder),
# the API server's JSON (watch lines, lists, Status, Lease, Event, Deployment, Secret, VideoJob), and media files
# (probe, verify, split). Built with -sanitize=fuzzer,address in .build/fuzz; each target starts from its seed
# corpus in Tests/Fuzz/<target>/ and runs for --seconds (60 by default: the smoke hack/test.sh runs).
# A crash leaves its input in the artifacts directory and fails the run: add it to Tests/Fuzz/<target>/ (the
# FuzzRegressionTests replay every file there) with the fix.
# usage: hack/fuzz.sh [--seconds N] [--targets yaml,kube,media] [--work DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=60
targets="yaml,kube,media"
work=""
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --targets) targets="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        *) echo "usage: hack/fuzz.sh [--seconds N] [--targets yaml,kube,media] [--work DIR]" >&2; exit 64 ;;
    esac
done
cd "$root"
build_log="$(mktemp)"
if ! swift build --product reel-fuzz --scratch-path .build/fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DREEL_LIBFUZZER >"$build_log" 2>&1; then
    grep -E "error" "$build_log" >&2 || tail -20 "$build_log" >&2
    echo "hack/fuzz.sh: the fuzzer did not build" >&2
    exit 1
fi
rm -f "$build_log"
fuzzer="$root/.build/fuzz/debug/reel-fuzz"
if [ -z "$work" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi
# Swift's Regex compiler (the stdlib's _StringProcessing) leaks a few boxes per compiled pattern, outside Reel:
# leaks are not checked; every memory error is.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0"
failed=0
for target in ${targets//,/ }; do
    mkdir -p "$work/$target/corpus" "$work/$target/artifacts"
    echo "fuzz $target: ${seconds} s from $(ls "Tests/Fuzz/$target" | wc -l) seeds"
    if ! REEL_FUZZ_TARGET="$target" "$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 \
        -artifact_prefix="$work/$target/artifacts/" -print_final_stats=1 \
        "$work/$target/corpus" "Tests/Fuzz/$target" >"$work/$target/log" 2>&1; then
        failed=1
        echo "fuzz $target: FAILED; the input is in $work/$target/artifacts:" >&2
        ls "$work/$target/artifacts" >&2
        grep -E "ERROR|Fatal error|SUMMARY" "$work/$target/log" | head -5 >&2
        trap - EXIT
    fi
    runs="$(awk '/stat::number_of_executed_units/ {print $2}' "$work/$target/log")"
    cover="$(awk '/^#[0-9]+[[:space:]]+DONE/ {for (i = 1; i <= NF; i++) {if ($i == "cov:") c = $(i + 1); if ($i == "corp:") k = $(i + 1)}} END {if (c) print "coverage " c ", corpus " k}' "$work/$target/log")"
    echo "fuzz $target: ${runs:-?} inputs, ${cover:-no summary}"
done
exit "$failed"
