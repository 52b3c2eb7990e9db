"""What the Python benchmarks share: a durable PostgreSQL of the system's binaries in a scratch directory, and
/proc readings of CPU time and memory."""
import os, shutil, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PGBIN = sorted(d for d in os.listdir("/usr/lib/postgresql"))[-1]
PGBIN = f"/usr/lib/postgresql/{PGBIN}/bin"
TICK = os.sysconf("SC_CLK_TCK")


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def postgres_pids(data_dir):
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/status") as f:
                ppid = next(int(l.split()[1]) for l in f if l.startswith("PPid:"))
        except OSError:
            continue
        if data_dir.encode() in cmd:
            pids.append(int(pid))
        elif ppid and os.path.exists(f"/proc/{ppid}/cmdline"):
            with open(f"/proc/{ppid}/cmdline", "rb") as f:
                if data_dir.encode() in f.read():
                    pids.append(int(pid))
    return pids


class Postgres:
    def __init__(self, work):
        self.data = f"{work}/pg"
        self.sock = f"{work}/pgsock"
        os.makedirs(self.data)
        os.makedirs(self.sock)
        shutil.chown(self.data, "postgres")
        shutil.chown(self.sock, "postgres")
        os.chmod(work, 0o755)
        pg = ["runuser", "-u", "postgres", "--"]
        run(*pg, f"{PGBIN}/initdb", "-D", self.data, "-U", "reel", "--auth=trust")
        run(*pg, f"{PGBIN}/pg_ctl", "-D", self.data, "-l", f"{self.sock}/log", "-w", "-o",
            f"-k {self.sock} -c listen_addresses='' -c max_connections=200", "start")
        run(*pg, f"{PGBIN}/createdb", "-h", self.sock, "-U", "reel", "reel")
        self.url = f"postgresql:///reel?host={self.sock}&user=reel"

    def sql(self, query):
        return run("psql", "-h", self.sock, "-U", "reel", "-d", "reel", "-AtXq", "-c", query).strip()

    def cpu(self):
        total = 0
        for pid in postgres_pids(self.data):
            try:
                total += cpu_ticks(pid)
            except OSError:
                pass
        return total

    def create_database(self, name):
        run("runuser", "-u", "postgres", "--", f"{PGBIN}/createdb", "-h", self.sock, "-U", "reel", name)
        return f"postgresql:///{name}?host={self.sock}&user=reel"

    def dsn(self, name):
        """The database as asyncpg and psycopg name it."""
        return f"postgresql://reel@/{name}?host={self.sock}"

    def stop(self):
        subprocess.run(["runuser", "-u", "postgres", "--", f"{PGBIN}/pg_ctl", "-D", self.data, "-m", "immediate",
                        "stop"], capture_output=True)


