#!/usr/bin/env python3
"""How long a worker takes from its spawn to its row in `workers` (it registers once connected and ready to claim),
started the two ways a process actuator can start it: `reel worker …`, which execs `reel-worker` beside it, and
`reel-worker …` directly. The two alternate, each `--runs` times, on one scratch PostgreSQL; prints the median,
fastest and slowest of each in milliseconds.

usage: hack/bench-worker-start.py --bin .build/release [--runs 15]
"""
import argparse, asyncio, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Postgres, run  # noqa: E402

import asyncpg  # noqa: E402


async def registered_after(connection, pid, spawned):
    """Milliseconds from `spawned` (wall clock) to the worker's `started_at`, the server's clock on this machine."""
    while True:
        started = await connection.fetchval(
            "SELECT extract(epoch FROM started_at) FROM workers WHERE pid = $1 ORDER BY started_at DESC LIMIT 1", pid)
        if started is not None:
            return (float(started) - spawned) * 1000
        await asyncio.sleep(0.02)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="the directory holding reel and reel-worker")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    binaries = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="reel-bench-worker-start.")
    postgres = Postgres(work)
    try:
        run(f"{binaries}/reel", "migrate", "--database-url", postgres.url)
        connection = await asyncpg.connect(postgres.dsn("reel"))
        ways = {"reel worker": [f"{binaries}/reel", "worker"], "reel-worker": [f"{binaries}/reel-worker"]}
        times = {name: [] for name in ways}
        for _ in range(args.runs):
            for name, command in ways.items():
                spawned = time.time()
                process = subprocess.Popen(
                    command + ["--stages", "ingest", "--storage", f"file://{work}/store", "--database-url",
                               postgres.url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[name].append(await registered_after(connection, process.pid, spawned))
                process.terminate()
                process.wait()
        for name, values in times.items():
            print(f"{name:12s} spawn -> registered: median {statistics.median(values):6.1f} ms, "
                  f"fastest {min(values):6.1f}, slowest {max(values):6.1f}")
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
