#!/usr/bin/env python3
"""Reel's task queue side by side with its peers on one durable PostgreSQL (fsync and synchronous_commit on, no
unlogged tables), each in a database of its own, in one run: `reel bench queue`, pgqueuer (PyPI) and pgmq (its
SQL-only install, from the pgmq wheel on PyPI). Each side enqueues TASKS no-op tasks from two producers, 1,000 per
statement, then burns them down with WORKERS workers taking BATCH at a time:

  reel       completeAndClaim: completes the previous batch and claims the next in one statement, fenced by lease
             tokens (exactly-once completion), NOTIFY to the job's reconciler
  pgqueuer   QueueManager.run(batch_size=BATCH, mode=drain) in WORKERS processes, a no-op entrypoint
  pgmq       pgmq.read(queue, 30 s, BATCH) then pgmq.delete(queue, ids) per batch (at-least-once), WORKERS processes

Burn-down is measured from the moment every worker is connected and released until the last one finds the queue
empty. Prints a JSON line per side and one with the ratios.

usage: hack/bench-queue-peers.py --reel .build/release/reel [--tasks 20000] [--workers 8] [--batch 100] [--runs 1]
"""
import argparse, asyncio, json, multiprocessing, os, sys, tempfile, time, shutil, zipfile, glob

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Postgres, run  # noqa: E402

import asyncpg  # noqa: E402


def pgmq_sql():
    """The SQL-only install of pgmq that its PyPI wheel carries."""
    work = tempfile.mkdtemp(prefix="pgmq.")
    run(sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", work, "pgmq==1.1.4")
    with zipfile.ZipFile(glob.glob(f"{work}/pgmq-*.whl")[0]) as wheel:
        sql = wheel.read("pgmq/sql/pgmq.sql").decode()
    shutil.rmtree(work)
    return sql


async def produce(dsn, tasks, send):
    """Two producers, 1,000 tasks per statement; returns tasks per second."""
    batches = [(start, min(tasks, start + 1000)) for start in range(0, tasks, 1000)]

    async def producer(index):
        connection = await asyncpg.connect(dsn)
        for start, end in batches[index::2]:
            await send(connection, end - start)
        await connection.close()

    began = time.monotonic()
    await asyncio.gather(producer(0), producer(1))
    return tasks / (time.monotonic() - began)


def burn_down(target, workers, args):
    """Starts `workers` processes running `target`, releases them together, returns seconds until all end."""
    ready = multiprocessing.Barrier(workers + 1)
    processes = [multiprocessing.Process(target=target, args=(ready, *args)) for _ in range(workers)]
    for process in processes:
        process.start()
    ready.wait()
    began = time.monotonic()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a worker exited {process.exitcode}")
    return time.monotonic() - began


def pgqueuer_worker(ready, dsn, batch):
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.domain.types import QueueExecutionMode

    async def main():
        connection = await asyncpg.connect(dsn)
        manager = QueueManager(Queries(AsyncpgDriver(connection)))

        @manager.entrypoint("noop")
        async def noop(job):
            pass

        await asyncio.get_running_loop().run_in_executor(None, ready.wait)
        await manager.run(batch_size=batch, mode=QueueExecutionMode.drain)
        await connection.close()

    asyncio.run(main())


def pgmq_worker(ready, dsn, batch):
    async def main():
        connection = await asyncpg.connect(dsn)
        await asyncio.get_running_loop().run_in_executor(None, ready.wait)
        while True:
            ids = [r[0] for r in await connection.fetch("SELECT msg_id FROM pgmq.read('bench', 30, $1)", batch)]
            if not ids:
                break
            await connection.execute("SELECT pgmq.delete('bench', $1::bigint[])", ids)
        await connection.close()

    asyncio.run(main())


async def pgqueuer_side(postgres, args):
    from pgqueuer import AsyncpgDriver, Queries

    postgres.create_database("pgqueuer")
    dsn = postgres.dsn("pgqueuer")
    connection = await asyncpg.connect(dsn)
    await Queries(AsyncpgDriver(connection)).install()

    async def send(connection, count):
        await Queries(AsyncpgDriver(connection)).enqueue(["noop"] * count, [None] * count, [0] * count)

    enqueue = await produce(dsn, args.tasks, send)
    seconds = burn_down(pgqueuer_worker, args.workers, (dsn, args.batch))
    left = await connection.fetchval("SELECT count(*) FROM pgqueuer")
    done = await connection.fetchval("SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'")
    await connection.close()
    return {"side": "pgqueuer", "enqueue_per_sec": round(enqueue), "burn_down_per_sec": round(args.tasks / seconds),
            "left": left, "completed": done}


async def pgmq_side(postgres, args, sql):
    postgres.create_database("pgmq")
    dsn = postgres.dsn("pgmq")
    connection = await asyncpg.connect(dsn)
    await connection.execute(sql)
    await connection.execute("SELECT pgmq.create('bench')")

    async def send(connection, count):
        await connection.execute("SELECT pgmq.send_batch('bench', $1::jsonb[])", ["{}"] * count)

    enqueue = await produce(dsn, args.tasks, send)
    seconds = burn_down(pgmq_worker, args.workers, (dsn, args.batch))
    left = await connection.fetchval("SELECT count(*) FROM pgmq.q_bench")
    await connection.close()
    return {"side": "pgmq", "enqueue_per_sec": round(enqueue), "burn_down_per_sec": round(args.tasks / seconds),
            "left": left, "completed": args.tasks - left}


def reel_side(postgres, args, index):
    url = postgres.create_database(f"reel{index}")
    result = json.loads(run(args.reel, "bench", "queue", "--json", "--database-url", url, "--tasks", str(args.tasks),
                            "--workers", str(args.workers), "--batch", str(args.batch)))
    return {"side": "reel", "enqueue_per_sec": round(result["enqueue_per_sec"]),
            "burn_down_per_sec": round(result["burn_down_per_sec"]), "completed": result["completed"],
            "duplicates": result["duplicates"], "claim_latency_ms": result["claim_latency_ms"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reel", required=True)
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    args.reel = os.path.abspath(args.reel)
    sql = pgmq_sql()
    work = tempfile.mkdtemp(prefix="reel-bench-peers.")
    postgres = Postgres(work)
    try:
        for index in range(args.runs):
            sides = [reel_side(postgres, args, index)]
            sides.append(asyncio.run(pgqueuer_side(postgres, args)))
            sides.append(asyncio.run(pgmq_side(postgres, args, sql)))
            for database in ("pgqueuer", "pgmq"):
                run("psql", "-h", postgres.sock, "-U", "reel", "-d", "postgres", "-qc", f"DROP DATABASE {database}")
            for side in sides:
                print(json.dumps(side))
            reel, pgqueuer, pgmq = sides
            print(json.dumps({
                "run": index + 1,
                "burn_down_vs_pgqueuer": round(reel["burn_down_per_sec"] / pgqueuer["burn_down_per_sec"], 2),
                "burn_down_vs_pgmq": round(reel["burn_down_per_sec"] / pgmq["burn_down_per_sec"], 2),
                "enqueue_vs_pgqueuer": round(reel["enqueue_per_sec"] / pgqueuer["enqueue_per_sec"], 2),
                "enqueue_vs_pgmq": round(reel["enqueue_per_sec"] / pgmq["enqueue_per_sec"], 2)}), flush=True)
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
