#!/usr/bin/env python3
"""Where an enqueue's time goes in the server: one client (asyncpg) times statements of 1,000 tasks of one job,
one after another (each its own transaction, fsync and synchronous commit on), against a database `reel migrate` made,
alternating the variants in rounds so that the machine's drift falls on all of them:

  copy              what `TaskQueue.enqueue` sends: COPY job_queue … FROM STDIN (asyncpg sends it binary; Reel
                    sends text), the statement trigger checking the jobs and notifying
  insert            the INSERT … ON CONFLICT DO NOTHING from arrays that `enqueue` falls back to
  copy+foreign-key  COPY with migration 12 undone: the per-row foreign key back, the trigger only notifying
  insert+foreign-key  the same INSERT there: what an enqueue was before migration 12 (which notified in the
                    statement instead of in a trigger)
  pgmq              pgmq.send_batch of 1,000 '{}' messages (the peer in hack/bench-queue-peers.py)

Prints the median and the fastest statement of each variant per round, in milliseconds.

usage: hack/profile-enqueue.py --reel .build/release/reel [--rounds 3] [--statements 20]
"""
import argparse, asyncio, importlib, os, shutil, statistics, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Postgres, run  # noqa: E402

import asyncpg  # noqa: E402

INSERT = """
WITH inserted AS (
    INSERT INTO job_queue (job_id, generation, stage, chunk_index, priority, max_attempts, backoff_seconds,
                           max_backoff_seconds, run_at, payload)
    SELECT t.job_id, t.generation, t.stage, t.chunk_index, t.priority, t.max_attempts, t.backoff_seconds,
           t.max_backoff_seconds, coalesce(t.run_at, now()), t.payload
    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::integer[], $5::smallint[], $6::integer[],
                $7::double precision[], $8::double precision[], $9::timestamptz[], $10::jsonb[])
         AS t(job_id, generation, stage, chunk_index, priority, max_attempts, backoff_seconds,
              max_backoff_seconds, run_at, payload)
    ON CONFLICT (job_id, generation, stage, (coalesce(chunk_index, -1))) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM inserted
"""
COLUMNS = ["job_id", "generation", "stage", "chunk_index", "priority", "max_attempts", "backoff_seconds",
           "max_backoff_seconds", "payload"]
FOREIGN_KEY = """
ALTER TABLE job_queue ADD CONSTRAINT job_queue_job_id_fkey
    FOREIGN KEY (job_id) REFERENCES processing_jobs (id) ON DELETE CASCADE;
CREATE OR REPLACE FUNCTION reel_job_queue_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('reel_queue', stage) FROM (SELECT DISTINCT stage FROM inserted_tasks) s;
    PERFORM pg_notify('reel_jobs', job_id::text) FROM (SELECT DISTINCT job_id FROM inserted_tasks) j;
    RETURN NULL;
END $$;
"""


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reel", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--statements", type=int, default=20)
    args = parser.parse_args()
    peers = importlib.import_module("bench-queue-peers")
    work = tempfile.mkdtemp(prefix="reel-profile-enqueue.")
    postgres = Postgres(work)
    try:
        databases = {}
        for name in ("queue", "queuefk"):
            url = postgres.create_database(name)
            run(os.path.abspath(args.reel), "migrate", "--database-url", url)
            databases[name] = await asyncpg.connect(postgres.dsn(name))
        await databases["queuefk"].execute(FOREIGN_KEY)
        postgres.create_database("pgmq")
        pgmq = await asyncpg.connect(postgres.dsn("pgmq"))
        await pgmq.execute(peers.pgmq_sql())
        await pgmq.execute("SELECT pgmq.create('bench')")
        jobs = {}
        for name, connection in databases.items():
            jobs[name] = await connection.fetchval(
                "INSERT INTO processing_jobs (resource_uid, namespace, name, generation, spec) "
                "VALUES ('profile', 'bench', 'enqueue', 1, '{}') RETURNING id")
        next_chunk = [0]

        def rows(job):
            start = next_chunk[0]
            next_chunk[0] += 1000
            return [(job, 1, "bench", start + i, 2, 5, 5.0, 600.0, "{}") for i in range(1000)]

        async def copy(name):
            await databases[name].copy_records_to_table("job_queue", records=rows(jobs[name]), columns=COLUMNS)

        async def insert(name):
            columns = list(zip(*rows(jobs[name])))
            arrays = [list(column) for column in columns[:8]] + [[None] * 1000, list(columns[8])]
            await databases[name].fetchval(INSERT, *arrays)

        async def send():
            await pgmq.execute("SELECT pgmq.send_batch('bench', $1::jsonb[])", ["{}"] * 1000)

        variants = [("copy", lambda: copy("queue")), ("insert", lambda: insert("queue")),
                    ("copy+foreign-key", lambda: copy("queuefk")), ("insert+foreign-key", lambda: insert("queuefk")),
                    ("pgmq", send)]
        for round_number in range(1, args.rounds + 1):
            for name, statement in variants:
                times = []
                for _ in range(args.statements):
                    began = time.perf_counter()
                    await statement()
                    times.append((time.perf_counter() - began) * 1000)
                print(f"round {round_number}  {name:18s} median {statistics.median(times):6.2f} ms   "
                      f"fastest {min(times):6.2f} ms", flush=True)
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
