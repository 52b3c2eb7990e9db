#!/usr/bin/env python3
"""Reel at scale: JOBS VideoJobs (nine in ten suspended, one in ten pointing at a missing file, so it fails at
ingest) declared before Reel starts, against a PostgreSQL of the system's binaries (fsync on).

  --mode local    the jobs in ten YAML files under `reel local --resources`
  --mode kube     the jobs created in a real kube-apiserver (hack/kube-up.sh), `reel operator`, process workers

Measures: start until every job is settled (phase Suspended or Failed for its generation) and, in kube mode, until
the VideoJob cache synced; then with nothing to do for IDLE seconds, Reel's and PostgreSQL's CPU, status writes and
Reel's RSS; then 100 applies of one more suspended job each, apply -> first status, one after the other; then one
real job with no worker running: its first task enqueued -> the worker process that claims it started (both
timestamps from PostgreSQL). Prints one JSON object.

usage: hack/bench-scale.py --reel .build/release/reel --mode local|kube [--jobs 10000] [--idle 60]
"""
import argparse, datetime, json, os, shutil, ssl, statistics, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, Postgres, cpu_ticks, run, status_kb, TICK  # noqa: E402


def job_yaml(name, uri, suspend):
    return (f"---\napiVersion: reel.dev/v1alpha1\nkind: VideoJob\nmetadata: {{name: {name}, namespace: default}}\n"
            f"spec:\n  source: {{uri: \"{uri}\"}}\n  suspend: {'true' if suspend else 'false'}\n")


def declared(work, jobs):
    """(name, uri, suspend) of every job: one in ten points at a missing file and is not suspended."""
    return [(f"job-{i:05d}", f"file://{work}/media/missing-{i}.mp4" if i % 10 == 9 else f"file://{work}/media/a.mp4",
             i % 10 != 9) for i in range(jobs)]


class Kube:
    def __init__(self, work):
        self.dir = f"{work}/kube"
        run(f"{ROOT}/hack/kube-up.sh", self.dir)
        env = dict(line.split("=", 1) for line in open(f"{self.dir}/env").read().split())
        self.url, self.token = env["APISERVER_URL"], env["APISERVER_TOKEN"]
        self.kubectl = os.environ.get("REEL_KUBE_DIR", os.path.expanduser("~/.cache/reel/kube")) + "/bin/kubectl"
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE
        os.environ["KUBECONFIG"] = f"{self.dir}/kubeconfig"
        run(self.kubectl, "apply", "-f", f"{ROOT}/crds/")
        run(self.kubectl, "wait", "--for=condition=Established", "crd/videojobs.reel.dev", "crd/workerpools.reel.dev")

    def request(self, method, path, body=None):
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.context) as response:
            return json.loads(response.read())

    def create(self, name, uri, suspend):
        self.request("POST", "/apis/reel.dev/v1alpha1/namespaces/default/videojobs", {
            "apiVersion": "reel.dev/v1alpha1", "kind": "VideoJob", "metadata": {"name": name},
            "spec": {"source": {"uri": uri}, "suspend": suspend}})

    def statuses(self):
        items = self.request("GET", "/apis/reel.dev/v1alpha1/namespaces/default/videojobs")["items"]
        return {i["metadata"]["name"]: (i["metadata"]["generation"], i.get("status") or {}) for i in items}

    def status(self, name):
        item = self.request("GET", f"/apis/reel.dev/v1alpha1/namespaces/default/videojobs/{name}")
        return item.get("status")

    def stop(self):
        subprocess.run([f"{ROOT}/hack/kube-down.sh", self.dir], capture_output=True)


def settled(generation, status):
    return status.get("observedGeneration") == generation and status.get("phase") in ("Suspended", "Failed")


def wait(condition, timeout, step):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reel", required=True)
    parser.add_argument("--mode", choices=["local", "kube"], required=True)
    parser.add_argument("--jobs", type=int, default=10000)
    parser.add_argument("--idle", type=int, default=60)
    parser.add_argument("--applies", type=int, default=100)
    args = parser.parse_args()
    reel = os.path.abspath(args.reel)
    work = tempfile.mkdtemp(prefix="reel-bench-scale.")
    os.makedirs(f"{work}/media")
    os.makedirs(f"{work}/jobs")
    run(f"{ROOT}/hack/sample-video.sh", f"{work}/media/a.mp4", "4")
    postgres, kube, process = Postgres(work), None, None
    result = {"mode": args.mode, "jobs": args.jobs}
    try:
        jobs = declared(work, args.jobs)
        if args.mode == "kube":
            kube = Kube(work)
            started = time.monotonic()
            for index in range(0, len(jobs), 1000):
                with open(f"{work}/jobs/batch-{index // 1000:02d}.yaml", "w") as f:
                    f.writelines(job_yaml(*job) for job in jobs[index:index + 1000])
            run(kube.kubectl, "create", "-f", f"{work}/jobs")
            result["kubectl_create_s"] = round(time.monotonic() - started, 1)
            command = [reel, "operator", "--kubeconfig", f"{kube.dir}/kubeconfig", "--database-url", postgres.url,
                       "--storage", f"file://{work}/store", "--allow-root", f"{work}/media", "--state",
                       f"{work}/state", "--health-addr", "127.0.0.1:18191", "--metrics-addr", "0",
                       "--worker-runtime", "process", "--namespace", "default"]
        else:
            for index in range(0, len(jobs), 1000):
                with open(f"{work}/jobs/batch-{index // 1000:02d}.yaml", "w") as f:
                    f.writelines(job_yaml(*job) for job in jobs[index:index + 1000])
            command = [reel, "local", "--resources", f"{work}/jobs", "--state", f"{work}/state", "--database-url",
                       postgres.url, "--allow-root", f"{work}/media"]
        log = open(f"{work}/reel.log", "w")
        started, started_wall = time.monotonic(), time.time()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

        def all_settled():
            if process.poll() is not None:
                raise SystemExit(f"reel exited {process.returncode}: " + open(f"{work}/reel.log").read()[-3000:])
            if kube:
                statuses = kube.statuses()
                return len(statuses) >= len(jobs) and all(settled(g, s) for g, s in statuses.values())
            try:
                count = postgres.sql(
                    "SELECT count(*) FROM resources WHERE kind = 'VideoJob' AND status->'observedGeneration' = "
                    "to_jsonb(generation) AND status->>'phase' IN ('Suspended', 'Failed')")
            except subprocess.CalledProcessError:
                return False  # not migrated yet
            return int(count or 0) >= len(jobs)

        # A list of every VideoJob costs the API server a lot at this size: look every 10 s there.
        if not wait(all_settled, 1800, 10 if kube else 2):
            raise SystemExit("jobs not settled after 30 minutes")
        result["start_to_all_settled_s"] = round(time.monotonic() - started, 1)
        if kube:
            synced = [l for l in open(f"{work}/reel.log") if "VideoJob cache synced" in l]
            if synced:
                stamp = datetime.datetime.fromisoformat(synced[0].split()[0]).timestamp()
                result["start_to_cache_synced_s"] = round(stamp - started_wall, 1)  # the log has whole seconds

        # Let the failed jobs' workers scale away (scaleDownDelay), then measure doing nothing.
        children = lambda: subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True).stdout.strip()
        wait(lambda: not children(), 180, 1)
        time.sleep(5)
        def writes():
            """Status writes: the operator's counter in kube mode; in local mode every write to a resource (each
            bumps its resource_version)."""
            if kube:
                metrics = urllib.request.urlopen("http://127.0.0.1:18191/metrics").read().decode()
                return int(sum(float(l.split()[-1]) for l in metrics.splitlines()
                               if l.startswith("reel_status_writes_total")))
            return int(postgres.sql("SELECT coalesce(sum(resource_version), 0) FROM resources"))

        before = (cpu_ticks(process.pid), postgres.cpu(), writes())
        rss_before = status_kb(process.pid, "VmRSS")
        time.sleep(args.idle)
        after = (cpu_ticks(process.pid), postgres.cpu(), writes())
        result["idle_s"] = args.idle
        result["idle_reel_cpu_pct"] = round(100 * (after[0] - before[0]) / TICK / args.idle, 2)
        result["idle_postgres_cpu_pct"] = round(100 * (after[1] - before[1]) / TICK / args.idle, 2)
        result["idle_resource_writes"] = after[2] - before[2]
        result["rss_mb_idle_start"] = round(rss_before / 1024, 1)
        result["rss_mb_idle_end"] = round(status_kb(process.pid, "VmRSS") / 1024, 1)

        latencies = []
        for index in range(args.applies):
            name = f"applied-{index:03d}"
            uri = f"file://{work}/media/a.mp4"
            if kube:
                begin = time.monotonic()
                kube.create(name, uri, True)
                done = wait(lambda: kube.status(name) is not None, 60, 0.005)
            else:
                path = f"{work}/state/status/default/VideoJob/{name}.yaml"
                begin = time.monotonic()
                with open(f"{work}/jobs/{name}.yaml", "w") as f:
                    f.write(job_yaml(name, uri, True))
                done = wait(lambda: os.path.exists(path), 60, 0.005)
            if not done:
                raise SystemExit(f"{name}: no status after 60 s")
            latencies.append(time.monotonic() - begin)
        result["apply_to_status_p50_ms"] = round(1000 * statistics.median(latencies), 1)
        result["apply_to_status_p99_ms"] = round(1000 * percentile(latencies, 99), 1)

        workers_before = int(postgres.sql("SELECT count(*) FROM workers"))
        if kube:
            kube.create("real", f"file://{work}/media/a.mp4", False)
        else:
            with open(f"{work}/jobs/real.yaml", "w") as f:
                f.write(job_yaml("real", f"file://{work}/media/a.mp4", False))
        wait(lambda: int(postgres.sql("SELECT count(*) FROM workers")) > workers_before, 120, 0.1)
        delay = postgres.sql(
            "SELECT extract(epoch FROM (SELECT min(w.started_at) FROM workers w WHERE w.started_at >= q.created_at)"
            " - q.created_at) FROM job_queue q JOIN processing_jobs j ON j.id = q.job_id"
            " WHERE j.name = 'real' ORDER BY q.id LIMIT 1")
        result["enqueue_to_worker_started_ms"] = round(1000 * float(delay), 1) if delay else None
        result["rss_mb_peak"] = round(status_kb(process.pid, "VmHWM") / 1024, 1)
        print(json.dumps(result))
    finally:
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        if kube:
            kube.stop()
        postgres.stop()
        if os.environ.get("KEEP") is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)


if __name__ == "__main__":
    main()
