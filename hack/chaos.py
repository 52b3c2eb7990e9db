#!/usr/bin/env python3
"""The chaos suite: `reel local` runs VideoJobs of varied lengths on its embedded PostgreSQL while faults are
injected at random moments — a worker killed (SIGKILL), `reel local` itself killed and started again, PostgreSQL
restarted (`pg_ctl restart -m immediate`), a worker's database connection cut (`pg_terminate_backend`). Then
every job must have Succeeded, every chunk must have been analyzed exactly once (`analysis_writes`), no task may be
left running, and no object may be in the store that no job owns. Prints the figures; exits 1 when a check fails.

hack/chaos.sh [--jobs N] [--minutes M] [--seed S]   (the short form in hack/test.sh: --jobs 4)
"""
import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LENGTHS = [8, 12, 16, 20, 24, 30]
FAULTS = ["kill-worker", "kill-local", "restart-postgres", "cut-connection"]


def log(message):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Run:
    def __init__(self, args):
        self.args = args
        self.random = random.Random(args.seed)
        self.directory = Path(tempfile.mkdtemp(prefix="reel-chaos-"))
        os.chmod(self.directory, 0o755)
        self.resources = self.directory / "resources"
        self.state = self.directory / "state"
        self.resources.mkdir()
        self.local = None
        self.starts = 0
        self.names = []
        self.faults = {kind: 0 for kind in FAULTS}
        self.recoveries = []
        self.unrecovered = 0

    # -- the system under test

    def start_local(self):
        self.starts += 1
        out = open(self.directory / f"local-{self.starts}.log", "w")
        self.local = subprocess.Popen(
            [
                self.args.reel, "local", "--resources", str(self.resources), "--state", str(self.state),
                "--lease-seconds", "3", "--poll-seconds", "0.2", "--resync-seconds", "2", "--grace-seconds", "5",
            ],
            stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "REEL_FAULT_DELAY": self.args.fault_delay},
        )

    def cluster(self):
        record = self.state / "postgres.location"
        if record.exists():
            return Path(record.read_text().strip())
        return self.state / "postgres"

    def psql(self, sql, check=True):
        """Rows of `sql` on the run's database, as lists of strings; None when the server does not answer."""
        result = subprocess.run(
            ["psql", f"host={self.cluster()} user=postgres dbname=reel", "-AtX", "-F", "\t", "-c", sql],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            if check:
                return None
            raise RuntimeError(result.stderr)
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def scalar(self, sql):
        rows = self.psql(sql)
        return None if not rows else rows[0][0]

    def wait_for(self, what, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.25)
        raise SystemExit(f"chaos: {what} did not happen within {timeout} s; logs in {self.directory}")

    # -- jobs

    def sample(self, seconds):
        path = self.resources / f"src-{seconds}.mp4"
        if not path.exists():
            subprocess.run(["bash", str(ROOT / "hack/sample-video.sh"), str(path), str(seconds)], check=True)
        return path

    def add_wave(self, count):
        for _ in range(count):
            name = f"chaos-{len(self.names) + 1}"
            seconds = self.random.choice(LENGTHS)
            self.sample(seconds)
            target = self.random.choice([2, 3, 4])
            (self.resources / f"{name}.yaml").write_text(
                f"apiVersion: reel.dev/v1alpha1\nkind: VideoJob\nmetadata:\n  name: {name}\nspec:\n"
                f"  source:\n    uri: file://./src-{seconds}.mp4\n  split:\n    targetSeconds: {target}\n"
                f"  output:\n    uri: file://./out/{name}/\n"
            )
            self.names.append(name)
        log(f"{count} job(s) declared ({len(self.names)} in all)")

    def succeeded(self):
        count = self.scalar("SELECT count(*) FROM processing_jobs WHERE phase = 'Succeeded'")
        return count is not None and int(count) == len(self.names)

    def completed_tasks(self):
        value = self.scalar("SELECT count(*) FROM job_queue WHERE state = 'succeeded'")
        return None if value is None else int(value)

    # -- faults

    def worker_pids(self):
        # `reel local` runs its own executable as `EXECUTABLE worker … --storage file://STATE/store …`, which hands
        # itself to `EXECUTABLE-worker …` (reel-worker beside it) when that exists.
        reel = re.escape(self.args.reel)
        pattern = f"^{reel}(-worker| worker) .*{re.escape(str(self.state))}"
        rows = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        return [int(pid) for pid in rows.stdout.split()]

    def inject(self, kind):
        if kind == "kill-worker":
            pids = self.worker_pids()
            if not pids:
                return False
            os.kill(self.random.choice(pids), signal.SIGKILL)
        elif kind == "kill-local":
            self.local.send_signal(signal.SIGKILL)
            self.local.wait()
            time.sleep(self.random.uniform(0.2, 2.0))
            self.start_local()
        elif kind == "restart-postgres":
            data = self.cluster() / "data"
            result = subprocess.run(
                ["runuser", "-u", "postgres", "--", self.pg_ctl(), "restart", "-D", str(data), "-m", "immediate",
                 "-w", "-t", "60", "-l", str(self.cluster() / "postgres.log")],
                capture_output=True, text=True,
            )
            if result.returncode != 0:
                raise SystemExit(f"chaos: pg_ctl restart failed: {result.stdout}{result.stderr}")
        elif kind == "cut-connection":
            rows = self.psql(
                "SELECT pid FROM pg_stat_activity WHERE datname = 'reel' AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
            if not rows:
                return False
            pid = self.random.choice(rows)[0]
            self.psql(f"SELECT pg_terminate_backend({pid})")
        self.faults[kind] += 1
        return True

    @staticmethod
    def pg_ctl():
        versions = sorted((int(p.name) for p in Path("/usr/lib/postgresql").iterdir() if p.name.isdigit()), reverse=True)
        return f"/usr/lib/postgresql/{versions[0]}/bin/pg_ctl"

    def recovery(self, before, started):
        """Seconds from the fault until the next task completes (or everything has); None past 120 s."""
        deadline = started + 120
        while time.monotonic() < deadline:
            now = self.completed_tasks()
            if now is not None and (now > before or self.succeeded()):
                return time.monotonic() - started
            time.sleep(0.1)
        return None

    # -- the run

    def run(self):
        log(f"in {self.directory} (seed {self.args.seed})")
        self.add_wave(self.args.jobs)
        self.start_local()
        self.wait_for("the database", lambda: self.scalar("SELECT count(*) FROM processing_jobs") is not None, 120)
        began = time.monotonic()
        end = began + self.args.minutes * 60
        while True:
            if self.succeeded():
                if time.monotonic() < end:
                    self.add_wave(self.args.jobs)
                else:
                    break
            if time.monotonic() - began > self.args.limit:
                raise SystemExit(f"chaos: jobs unfinished after {self.args.limit} s; logs in {self.directory}")
            time.sleep(self.random.uniform(*self.args.interval))
            if self.succeeded():
                continue
            kind = self.random.choice(FAULTS)
            before = self.completed_tasks()
            started = time.monotonic()
            if before is None or not self.inject(kind):
                continue
            seconds = self.recovery(before, started)
            if seconds is None:
                self.unrecovered += 1
                log(f"{kind}: no task completed within 120 s")
            else:
                self.recoveries.append(seconds)
                log(f"{kind}: work resumed after {seconds:.1f} s")
        self.wait_for("every job's success", self.succeeded, 300)
        return self.check(time.monotonic() - began)

    def orphans(self):
        uids = {row[0] for row in self.psql("SELECT resource_uid FROM processing_jobs") or []}
        keys = {row[0] for row in self.psql("SELECT storage_key FROM video_chunks") or []}
        keys |= {row[0] for row in self.psql("SELECT source_key FROM processing_jobs WHERE source_key IS NOT NULL") or []}
        store = self.state / "store"
        found = []
        for path in sorted(store.rglob("*")):
            if not path.is_file():
                continue
            key = str(path.relative_to(store))
            parts = key.split("/")
            if parts[0] != "jobs":
                continue  # uploads and other areas are not the pipeline's
            if len(parts) < 2 or parts[1] not in uids:
                found.append(key)
            elif len(parts) >= 4 and parts[2].startswith("g") and key not in keys:
                found.append(key)
        return found

    def check(self, seconds):
        failures = []
        phases = self.psql("SELECT name, phase FROM processing_jobs WHERE phase <> 'Succeeded'") or []
        if phases:
            failures.append(f"jobs not Succeeded: {phases}")
        writes = [int(row[0]) for row in self.psql("SELECT analysis_writes FROM video_chunks") or []]
        duplicates = sum(w - 1 for w in writes if w > 1)
        lost = sum(1 for w in writes if w == 0)
        if duplicates or lost:
            failures.append(f"analyses: {duplicates} duplicated, {lost} lost")
        running = int(self.scalar("SELECT count(*) FROM job_queue WHERE state IN ('running', 'available', 'retryable')") or 0)
        if running:
            failures.append(f"{running} task(s) still running or waiting")
        orphans = self.orphans()
        if orphans:
            failures.append(f"objects no job owns: {orphans[:10]}")
        missing = [name for name in self.names if not (self.resources / "out" / name / "render.mp4").exists()]
        if missing:
            failures.append(f"renders missing: {missing}")
        self.local.send_signal(signal.SIGTERM)
        self.local.wait(timeout=120)

        ordered = sorted(self.recoveries)

        def percentile(p):
            if not ordered:
                return float("nan")
            return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

        injected = sum(self.faults.values())
        detail = ", ".join(f"{kind} {count}" for kind, count in self.faults.items())
        print(f"chaos: {len(self.names)} jobs, {len(writes)} chunks, {seconds / 60:.1f} min, seed {self.args.seed}")
        print(f"chaos: faults injected {injected} ({detail}); reel local started {self.starts} times")
        print(f"chaos: recovery (fault → next task completed) p50 {percentile(50):.1f} s, p99 {percentile(99):.1f} s, "
              f"max {percentile(100):.1f} s; not recovered within 120 s: {self.unrecovered}")
        print(f"chaos: duplicates {duplicates}, lost {lost}, tasks left {running}, orphaned objects {len(orphans)}")
        if failures:
            for failure in failures:
                print(f"chaos: FAILED: {failure}", file=sys.stderr)
            print(f"chaos: logs in {self.directory}", file=sys.stderr)
            return 1
        if self.unrecovered:
            print(f"chaos: FAILED: {self.unrecovered} fault(s) without recovery", file=sys.stderr)
            return 1
        if not self.args.keep:
            subprocess.run(["rm", "-rf", str(self.directory)])
        print("chaos: every job Succeeded, every chunk analyzed exactly once")
        return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reel", required=True, help="the reel executable")
    parser.add_argument("--jobs", type=int, default=4, help="jobs per wave")
    parser.add_argument("--minutes", type=float, default=0, help="keep adding waves of jobs for this long")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--interval", type=float, nargs=2, default=[1.0, 4.0], help="seconds between faults")
    parser.add_argument("--fault-delay", default="ingest=0.5,analyze=1.5,render=1", help="REEL_FAULT_DELAY for the workers")
    parser.add_argument("--limit", type=float, default=0, help="give up after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory")
    args = parser.parse_args()
    args.limit = args.limit or args.minutes * 60 + 900
    args.reel = os.path.realpath(args.reel)
    run = Run(args)
    try:
        code = run.run()
    finally:
        if run.local and run.local.poll() is None:
            run.local.send_signal(signal.SIGKILL)
            run.local.wait()
        subprocess.run(["runuser", "-u", "postgres", "--", Run.pg_ctl(), "stop", "-D", str(run.cluster() / "data"),
                        "-m", "immediate"], capture_output=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
