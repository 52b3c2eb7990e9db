#!/usr/bin/env python3
"""Remakes hack/reel-worker.order: the functions `reel-worker` runs while it starts and waits for work, first run
first, which hack/build-small-worker.sh has lld lay out together so that an idle worker keeps few pages of its code.

Builds the worker with hack/build-small-worker.sh, runs it (all stages) under hack/fcov.c against a scratch
PostgreSQL for --seconds, maps the entries hit to their symbols and writes them. Names that are gone from a later
build are skipped by the linker, so an old order only lays out less; run this again after large changes.

usage: hack/order-worker.py [--seconds 20]
"""
import argparse, os, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, Postgres, run  # noqa: E402


def function_entries(binary):
    """Offset -> the names of the functions that start there, from the executable's symbol table."""
    names = {}
    for line in run("readelf", "-sW", binary).splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[3] == "FUNC" and fields[6] != "UND" and int(fields[1], 16) != 0:
            names.setdefault(int(fields[1], 16), []).append(fields[7])
    return names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    binary = run(f"{ROOT}/hack/build-small-worker.sh").strip()
    work = tempfile.mkdtemp(prefix="reel-order-worker.")
    postgres = Postgres(work)
    try:
        compiler = shutil.which("cc") or "/opt/swift/usr/bin/clang"
        run(compiler, "-O2", "-o", f"{work}/fcov", f"{ROOT}/hack/fcov.c")
        names = function_entries(binary)
        with open(f"{work}/entries", "w") as f:
            f.writelines(f"{offset:x}\n" for offset in names)
        subprocess.run(
            [f"{work}/fcov", f"{work}/entries", f"{work}/hits", str(args.seconds), "--", binary,
             "--stages", "ingest,split,analyze,assemble,render", "--storage", f"file://{work}/store",
             "--database-url", postgres.url], check=True, stdout=subprocess.DEVNULL)
        seen = {}  # first hit first: a dict keeps the order of insertion
        for line in open(f"{work}/hits"):
            for name in names.get(int(line, 16), []):
                seen.setdefault(name, None)
        with open(f"{ROOT}/hack/reel-worker.order", "w") as f:
            f.writelines(name + "\n" for name in seen)
        print(f"hack/reel-worker.order: {len(seen)} functions")
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
