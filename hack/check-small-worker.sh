#!/usr/bin/env bash
# The image's `reel-worker` (hack/build-small-worker.sh) is laid out as built to be, and works: its relocations are
# packed, it exports (almost) no symbols, the functions of hack/reel-worker.order come first in that order; and
# `reel local` running it as its workers takes a sample VideoJob through every stage (ingest, split, analyze,
# assemble, render) to Succeeded. Its memory is measured in docs/benchmarks.md, not judged here.
#   hack/check-small-worker.sh REEL       (REEL: a `reel` binary; the check runs it beside the small worker)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
reel="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "$root"
worker="$(hack/build-small-worker.sh)"

echo "-- layout of $worker"
python3 - "$worker" hack/reel-worker.order <<'EOF'
import subprocess, sys
binary, order = sys.argv[1], sys.argv[2]
sections = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True, check=True).stdout
if ".relr.dyn" not in sections:
    sys.exit("no .relr.dyn: relative relocations are not packed (-z pack-relative-relocs)")
dynamic = subprocess.run(["readelf", "--dyn-syms", "-W", binary], capture_output=True, text=True, check=True).stdout
exported = [l for l in dynamic.splitlines() if " DEFAULT " in l and " UND " not in l]
if len(exported) > 100:
    sys.exit(f"{len(exported)} symbols exported: the executable is linked with --export-dynamic")
address = {}
for line in subprocess.run(["readelf", "-sW", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    fields = line.split()
    if len(fields) >= 8 and fields[3] == "FUNC" and fields[6] != "UND":
        address.setdefault(fields[7], int(fields[1], 16))
listed = [name.strip() for name in open(order) if name.strip()]
names = [name for name in listed if name in address]
# Renamed and removed functions are skipped by the linker; when most are gone the order no longer describes the
# worker, and it is time to make it again.
if len(names) < len(listed) // 2:
    sys.exit(f"only {len(names)} of the {len(listed)} functions in {order} are in the worker: run hack/order-worker.py")
# The ordered functions sit together: nine in ten of them within a third of the code, where the same functions of an
# unordered build spread over nearly all of it.
placed = sorted(address[name] for name in names)
span = placed[len(placed) * 95 // 100] - placed[len(placed) * 5 // 100]
text = next(int(l.split()[5], 16) for l in sections.replace("[ ", "[").splitlines() if " .text " in l)
if span > text // 3:
    sys.exit(f"the ordered functions span {span >> 10} KB of {text >> 10} KB of code: the order was not applied")
print(f"RELR, {len(exported)} exported symbols; {len(names)} of {len(listed)} functions in order, nine in ten within "
      f"{span >> 10} KB "
      f"of {text >> 10} KB of code")
EOF

echo "-- a sample VideoJob through reel local with this worker"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/bin" "$scratch/jobs"
cp "$reel" "$scratch/bin/reel"
cp "$worker" "$scratch/bin/reel-worker"
hack/sample-video.sh "$scratch/jobs/sample.mp4" 8 >/dev/null
sed -e 's/name: keynote/name: small-worker/' examples/local/keynote.yaml > "$scratch/jobs/job.yaml"
cp examples/local/pools.yaml "$scratch/jobs/pools.yaml"
"$scratch/bin/reel" local --resources "$scratch/jobs" --state "$scratch/state" --until-done --timeout 300 \
    > "$scratch/local.log" 2>&1 || { tail -40 "$scratch/local.log" >&2; exit 1; }
"$scratch/bin/reel" get videojobs --state "$scratch/state" -o wide
started="$(cat "$scratch/state/logs/"*.log | grep -c 'worker started' || true)"
if [ "$started" -lt 1 ]; then
    echo "no worker of $scratch/bin/reel-worker started" >&2
    exit 1
fi
echo "$started worker(s) of the small build ran the job"
echo "hack/check-small-worker.sh: passed"
