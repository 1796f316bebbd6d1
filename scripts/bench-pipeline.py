#!/usr/bin/env python3
"""End-to-end pipeline benchmark for Kiln: uploads/s accepted and jobs/s completed.

Starts a fresh Kiln, registers a user, uploads N copies of a fixture image
concurrently over the HTTP API, waits until no file is `processing`, and checks
that every file ended `ready`.

  embedded  `kiln serve`: SQLite + local storage in a temp DATA_DIR + in-process queue
  services  one `kiln api` + N `kiln worker` processes on a fresh PostgreSQL database,
            Redis (own REDIS_NAMESPACE) and the local S3 server (own STORAGE_PREFIX)

Timing:
  uploads/s accepted = files / (first request sent -> last 202 received)
  jobs/s completed   = jobs (sum of `jobs` in the 202 bodies) / (first request sent ->
                       first poll that finds no file `processing`; poll every --poll s)

Usage:
  python3 scripts/bench-pipeline.py [--mode embedded|services|both] [--files 200]
      [--concurrency 8] [--workers 2] [--worker-concurrency N] [--repeat 1]
      [--binary target/release/kiln] [--fixture tests/fixtures/small.jpg] [--json]

Services mode needs PostgreSQL (psql, trust auth), Redis and the S3 server of
scripts/s3-server.sh (`bash scripts/s3-server.sh start`); override with
--pg-admin-url, --redis-url and the TEST_S3_* variables (default: `s3-server.sh env`).
Python 3 standard library only.
"""

import argparse
import concurrent.futures
import datetime
import http.client
import json
import os
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Variables that would point a Kiln process at a service or change its behaviour;
# removed from the inherited environment so each mode gets exactly what it sets.
SERVICE_VARS = (
    "DATABASE_URL", "REDIS_URL", "REDIS_NAMESPACE", "MINIO_ENDPOINT", "MINIO_ACCESS_KEY",
    "MINIO_SECRET_KEY", "MINIO_BUCKET", "MINIO_REGION", "STORAGE_PREFIX", "JWT_SECRET",
    "DATA_DIR", "HOST", "PORT", "BASE_URL", "WORKER_CONCURRENCY", "LOG_LEVEL", "LOG_FORMAT",
    "AUTO_MIGRATE", "MAX_UPLOAD_SIZE", "MAX_RETRIES", "JOB_TIMEOUT",
)


class BenchError(Exception):
    pass


ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Log lines that are expected in a benchmark and say nothing about the pipeline.
EXPECTED_WARNINGS = ("JWT_SECRET is not set",)


def cpu_times():
    """(busy, total) jiffies of the whole machine from /proc/stat, or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v) - idle, sum(v)
    except (OSError, ValueError):
        return None


def client_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def parse_ts(value):
    """RFC 3339 -> POSIX seconds (fraction cut to microseconds), or None."""
    if not value:
        return None
    m = re.match(r"(.*?T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", value)
    if not m:
        return None
    frac = (m.group(2) or "")[:7]
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.datetime.fromisoformat(m.group(1) + frac + tz).timestamp()


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- HTTP


class Client:
    """Tiny JSON-over-HTTP client; one keep-alive connection per thread."""

    def __init__(self, port, timeout=120):
        self.port = port
        self.timeout = timeout
        self.token = None
        self.local = threading.local()

    def _conn(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.local.conn = conn
        return conn

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed: reconnect once.
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode(errors="replace")
        return resp.status, parsed

    def expect(self, status, method, path, body=None, headers=None):
        got, parsed = self.request(method, path, body, headers)
        if got != status:
            raise BenchError(f"{method} {path}: expected {status}, got {got}: {parsed}")
        return parsed


def multipart(field, filename, content_type, payload):
    boundary = "----kiln-bench-" + secrets.token_hex(12)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + payload + tail, f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------------- processes


class Proc:
    def __init__(self, name, argv, env, cwd):
        self.name = name
        self.stderr_path = os.path.join(cwd, f"{name}.stderr")
        self.stderr = open(self.stderr_path, "wb")
        self.popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=self.stderr, stderr=subprocess.STDOUT,
        )

    def alive(self):
        return self.popen.poll() is None

    def log_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return ANSI.sub("", f.read().decode(errors="replace"))
        except OSError:
            return ""

    def tail(self, lines=25):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def cpu_seconds(self):
        """user + system CPU time of the process so far (Linux /proc), or None."""
        try:
            with open(f"/proc/{self.popen.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def stop(self, timeout=15):
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.stderr.close()


def wait_ready(client, procs, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for p in procs:
            if not p.alive():
                raise BenchError(f"{p.name} exited with code {p.popen.returncode} during start-up")
        try:
            status, body = client.request("GET", "/readyz")
            if status == 200:
                return
            last = f"{status} {body}"
        except OSError as e:
            last = str(e)
            client.local.conn = None
        time.sleep(0.1)
    raise BenchError(f"/readyz did not answer 200 within {timeout}s (last: {last})")


def wait_started(proc, timeout=60):
    """A worker serves no HTTP: wait for its 'kiln started' log line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited with code {proc.popen.returncode} during start-up")
        if "kiln started" in proc.log_text():
            return
        time.sleep(0.1)
    raise BenchError(f"{proc.name} did not log 'kiln started' within {timeout}s")


def base_env(args):
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env["HOST"] = "127.0.0.1"
    env["LOG_LEVEL"] = args.log_level
    env["SHUTDOWN_TIMEOUT"] = "5s"
    env["PDFIUM_LIBRARY"] = os.path.join(ROOT, ".pdfium", "libpdfium.so")
    if args.worker_concurrency:
        env["WORKER_CONCURRENCY"] = str(args.worker_concurrency)
    return env


def s3_env():
    env = {k: os.environ[k] for k in ("TEST_S3_ENDPOINT", "TEST_S3_ACCESS_KEY",
                                       "TEST_S3_SECRET_KEY", "TEST_S3_BUCKET") if k in os.environ}
    if len(env) < 4:
        out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "s3-server.sh"), "env"],
                             check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.match(r"export (TEST_S3_\w+)=(.*)$", line.strip())
            if m:
                env.setdefault(m.group(1), shlex.split(m.group(2))[0] if m.group(2) else "")
    return env


def psql(admin_url, sql):
    subprocess.run(["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
                   check=True, capture_output=True, text=True)


# --------------------------------------------------------------------------- bench


def run_load(client, args, payload, filename_ext, content_type):
    """Register, log in, upload, wait. Returns the result dict (no cleanup)."""
    email = f"bench-{secrets.token_hex(6)}@example.com"
    password = "kiln-bench-" + secrets.token_hex(8)
    client.expect(201, "POST", "/api/auth/register",
                  {"email": email, "password": password, "name": "Kiln Bench"})
    login = client.expect(200, "POST", "/api/auth/login", {"email": email, "password": password})
    client.token = login["access_token"]

    def upload(i):
        body, ctype = multipart("file", f"bench-{i:05d}.{filename_ext}", content_type, payload)
        started = time.monotonic()
        status, parsed = client.request("POST", "/api/upload", body, {"Content-Type": ctype})
        ended = time.monotonic()
        return i, status, parsed, started, ended

    results = []
    machine0, client0 = cpu_times(), client_cpu()
    wall0 = time.time()
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        for r in pool.map(upload, range(args.files)):
            results.append(r)
    accepted = [r for r in results if r[1] == 202]
    rejected = [r for r in results if r[1] != 202]
    t_uploaded = max((r[4] for r in accepted), default=time.monotonic())
    total_jobs = sum(len(r[2].get("jobs", [])) for r in accepted)
    processors = {}
    for r in accepted:
        for job in r[2].get("jobs", []):
            processors[job.get("processor")] = processors.get(job.get("processor"), 0) + 1
    file_ids = [r[2]["file"]["id"] for r in accepted]

    # Wait until no file is processing.
    deadline = t0 + args.timeout
    t_done = None
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        body = client.expect(200, "GET", "/api/files?status=processing&limit=1")
        if not body["files"]:
            t_done = time.monotonic()
            break
        time.sleep(args.poll)

    def count(status):
        n, cursor = 0, None
        while True:
            q = {"status": status, "limit": 100}
            if cursor:
                q["cursor"] = cursor
            body = client.expect(200, "GET", "/api/files?" + urllib.parse.urlencode(q))
            n += len(body["files"])
            cursor = body.get("next_cursor")
            if not cursor:
                return n

    machine1, client1 = cpu_times(), client_cpu()
    counts = {s: count(s) for s in ("ready", "failed", "processing")}

    # Per-job outcomes (after timing): statuses, retries, errors.
    job_status, retried, errors = {}, 0, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        details = list(pool.map(lambda fid: client.expect(200, "GET", f"/api/files/{fid}"),
                                file_ids))
    queue_wait, run_time, finished = [], [], []
    for d in details:
        for job in d.get("jobs", []):
            job_status[job["status"]] = job_status.get(job["status"], 0) + 1
            created, started, ended = (parse_ts(job.get(k)) for k in
                                       ("created_at", "started_at", "finished_at"))
            if created and started:
                queue_wait.append(started - created)
            if started and ended:
                run_time.append(ended - started)
            if ended:
                finished.append(ended)
            if job.get("attempts", 0) > 1:
                retried += 1
            if job.get("error") and len(errors) < 5:
                errors.append(f"{d['file']['filename']} {job['processor']}: {job['error']}")
    latencies = sorted(r[4] - r[3] for r in accepted)

    def pct(values, p):
        if not values:
            return None
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    upload_s = t_uploaded - t0
    queue_wait.sort()
    run_time.sort()

    def ms(values):
        if not values:
            return None
        return {"p50": round(pct(values, 50) * 1000, 1), "p95": round(pct(values, 95) * 1000, 1),
                "max": round(values[-1] * 1000, 1)}
    result = {
        "files": args.files,
        "accepted": len(accepted),
        "rejected": len(rejected),
        "rejections": [f"{r[1]} {r[2]}" for r in rejected[:5]],
        "jobs": total_jobs,
        "jobs_by_processor": processors,
        "upload_seconds": round(upload_s, 3),
        "uploads_per_s": round(len(accepted) / upload_s, 2) if upload_s > 0 else None,
        "upload_latency_ms": ms(latencies),
        "job_queue_wait_ms": ms(queue_wait),
        "job_run_ms": ms(run_time),
        "last_job_finished_seconds": round(max(finished) - wall0, 3) if finished else None,
        "machine_cpu_busy_percent": round(100 * (machine1[0] - machine0[0]) /
                                          max(1, machine1[1] - machine0[1]), 1)
        if machine0 and machine1 else None,
        "client_cpu_seconds": round(client1 - client0, 2),
        "timed_out": t_done is None,
        "done_seconds": round(t_done - t0, 3) if t_done else None,
        "drain_after_last_upload_seconds": round(t_done - t_uploaded, 3) if t_done else None,
        "jobs_per_s": round(total_jobs / (t_done - t0), 2) if t_done else None,
        "status_counts": counts,
        "job_status_counts": job_status,
        "jobs_retried": retried,
        "job_errors": errors,
        "polls": polls,
        "file_ids": file_ids,
    }
    return result


def delete_files(client, file_ids):
    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for status, _ in pool.map(lambda fid: client.request("DELETE", f"/api/files/{fid}"),
                                  file_ids):
            failures += status != 204
    if failures:
        log(f"warning: {failures} DELETE /api/files/{{id}} calls did not return 204")


def bench_embedded(args, payload, ext, ctype):
    tmp = tempfile.mkdtemp(prefix="kiln-bench-embedded-")
    procs = []
    ok = False
    try:
        port = free_port()
        env = base_env(args)
        env.update({"PORT": str(port), "DATA_DIR": os.path.join(tmp, "data")})
        procs.append(Proc("serve", [args.binary, "serve"], env, tmp))
        client = Client(port)
        wait_ready(client, procs)
        cpu0 = [p.cpu_seconds() for p in procs]
        result = run_load(client, args, payload, ext, ctype)
        result["cpu_seconds"] = cpu_delta(procs, cpu0)
        result.update({"mode": "embedded", "concurrency": args.concurrency, "workers": 1,
                       "worker_concurrency": args.worker_concurrency or 4})
        ok = True
        return result
    finally:
        finish(procs, ok)
        shutil.rmtree(tmp, ignore_errors=True)


def bench_services(args, payload, ext, ctype):
    tmp = tempfile.mkdtemp(prefix="kiln-bench-services-")
    tag = f"{os.getpid()}_{secrets.token_hex(4)}"
    db = f"kiln_bench_{tag}"
    namespace = f"kiln-bench-{tag}"
    procs = []
    db_created = False
    ok = False
    client = None
    result = None
    try:
        s3 = s3_env()
        psql(args.pg_admin_url, f'CREATE DATABASE "{db}"')
        db_created = True
        u = urllib.parse.urlsplit(args.pg_admin_url)
        db_url = urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + db, u.query, u.fragment))
        port = free_port()
        env = base_env(args)
        env.update({
            "DATABASE_URL": db_url,
            "REDIS_URL": args.redis_url,
            "REDIS_NAMESPACE": namespace,
            "MINIO_ENDPOINT": s3["TEST_S3_ENDPOINT"],
            "MINIO_ACCESS_KEY": s3["TEST_S3_ACCESS_KEY"],
            "MINIO_SECRET_KEY": s3["TEST_S3_SECRET_KEY"],
            "MINIO_BUCKET": s3["TEST_S3_BUCKET"],
            "STORAGE_PREFIX": f"bench-{tag}/",
            "JWT_SECRET": secrets.token_hex(32),
            "DATA_DIR": os.path.join(tmp, "data"),
            "PORT": str(port),
        })
        procs.append(Proc("api", [args.binary, "api"], env, tmp))
        client = Client(port)
        wait_ready(client, procs)  # the api has run the migrations
        for n in range(args.workers):
            procs.append(Proc(f"worker{n + 1}", [args.binary, "worker", "--no-migrate"], env, tmp))
        for p in procs[1:]:
            wait_started(p)
        cpu0 = [p.cpu_seconds() for p in procs]
        result = run_load(client, args, payload, ext, ctype)
        result["cpu_seconds"] = cpu_delta(procs, cpu0)
        result.update({"mode": "services", "concurrency": args.concurrency,
                       "workers": args.workers,
                       "worker_concurrency": args.worker_concurrency or 4})
        # Remove the objects from the shared bucket (rows go with the database).
        if not args.keep and all(p.alive() for p in procs):
            delete_files(client, result["file_ids"])
        ok = True
        return result
    finally:
        finish(procs, ok)
        if db_created and not args.keep:
            try:
                psql(args.pg_admin_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            except subprocess.CalledProcessError as e:
                log(f"warning: could not drop database {db}: {e.stderr.strip()}")
        if not args.keep:
            clear_redis(args.redis_url, namespace)
        shutil.rmtree(tmp, ignore_errors=True)


def clear_redis(url, namespace):
    if not shutil.which("redis-cli"):
        return
    try:
        keys = subprocess.run(["redis-cli", "-u", url, "--scan", "--pattern", f"{namespace}*"],
                              check=True, capture_output=True, text=True).stdout.split()
        if keys:
            subprocess.run(["redis-cli", "-u", url, "DEL", *keys],
                           check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as e:
        log(f"warning: could not clear Redis namespace {namespace}: {e.stderr.strip()}")


def cpu_delta(procs, before):
    out = {}
    for p, b in zip(procs, before):
        a = p.cpu_seconds()
        out[p.name] = round(a - b, 2) if a is not None and b is not None else None
    return out


def finish(procs, ok):
    for p in procs:
        p.stop()
    for p in procs:
        warn_lines = [l for l in p.log_text().splitlines()
                      if re.search(r"\b(WARN|ERROR)\b", l)
                      and not any(w in l for w in EXPECTED_WARNINGS)]
        if not ok:
            log(f"--- {p.name} (exit {p.popen.returncode}) last lines of output:")
            print(p.tail(), file=sys.stderr)
        elif warn_lines:
            log(f"{p.name}: {len(warn_lines)} WARN/ERROR log lines, first ones:")
            for l in warn_lines[:5]:
                print("    " + l, file=sys.stderr)


def summary_line(r):
    c = r["status_counts"]
    line = (f"{r['mode']}: {r['accepted']} uploads in {r['upload_seconds']:.2f} s = "
            f"{r['uploads_per_s']:.1f} uploads/s accepted; ")
    if r["timed_out"]:
        line += f"jobs NOT all done within the timeout ({c['processing']} files still processing)"
    else:
        line += (f"{r['jobs']} jobs done in {r['done_seconds']:.2f} s = "
                 f"{r['jobs_per_s']:.1f} jobs/s")
    if c["ready"] == r["files"] and not r["rejected"]:
        line += f"; all {c['ready']} ready"
    else:
        line += (f"; {c['ready']} ready, {c['failed']} failed, {c['processing']} processing, "
                 f"{r['rejected']} rejected")
    return line


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("embedded", "services", "both"), default="both")
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=8, help="client upload threads")
    p.add_argument("--workers", type=int, default=2, help="`kiln worker` processes (services)")
    p.add_argument("--worker-concurrency", type=int, default=None,
                   help="WORKER_CONCURRENCY for serve/worker (default: Kiln's own, 4)")
    p.add_argument("--repeat", type=int, default=1, help="runs per mode; medians are printed")
    p.add_argument("--binary", default="target/release/kiln")
    p.add_argument("--fixture", "--image", dest="fixture", default="tests/fixtures/small.jpg",
                   help="image uploaded N times (photo.jpg, 1200x800, also gets resize)")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for all jobs")
    p.add_argument("--poll", type=float, default=0.1, help="seconds between completion polls")
    p.add_argument("--log-level", default="warn,kiln::startup=info",
                   help="LOG_LEVEL of the Kiln processes (the startup line marks a worker ready)")
    p.add_argument("--pg-admin-url", default=os.environ.get(
        "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    p.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL",
                                                         "redis://127.0.0.1:6379"))
    p.add_argument("--keep", action="store_true",
                   help="keep the services database, Redis keys and objects")
    p.add_argument("--json", action="store_true", help="also print one JSON document")
    args = p.parse_args()

    args.binary = os.path.abspath(os.path.join(ROOT, args.binary)
                                  if not os.path.isabs(args.binary) and
                                  not os.path.exists(args.binary) else args.binary)
    fixture = args.fixture if os.path.exists(args.fixture) else os.path.join(ROOT, args.fixture)
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"[bench] {args.binary} not found; build it: cargo build --release --bin kiln")
    with open(fixture, "rb") as f:
        payload = f.read()
    ext = os.path.splitext(fixture)[1].lstrip(".").lower() or "bin"
    ctype = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
             "webp": "image/webp", "gif": "image/gif", "pdf": "application/pdf"}.get(
                 ext, "application/octet-stream")

    modes = ["embedded", "services"] if args.mode == "both" else [args.mode]
    runs = []
    failed = False
    for mode in modes:
        for n in range(args.repeat):
            log(f"{mode} run {n + 1}/{args.repeat}: {args.files} x {os.path.basename(fixture)}"
                f", {args.concurrency} client threads"
                + (f", {args.workers} workers" if mode == "services" else "")
                + f", load average before {os.getloadavg()[0]:.2f}")
            try:
                fn = bench_embedded if mode == "embedded" else bench_services
                r = fn(args, payload, ext, ctype)
            except (BenchError, OSError, subprocess.CalledProcessError) as e:
                detail = getattr(e, "stderr", None)
                log(f"{mode} run {n + 1} failed: {e}" + (f": {detail.strip()}" if detail else ""))
                failed = True
                continue
            r["run"] = n + 1
            r["fixture"] = os.path.relpath(fixture, ROOT)
            r["loadavg_after"] = round(os.getloadavg()[0], 2)
            runs.append(r)
            print(summary_line(r), flush=True)
            extra = (f"  upload latency {r['upload_latency_ms']} ms; job queue wait "
                     f"{r['job_queue_wait_ms']} ms; job run {r['job_run_ms']} ms; last job "
                     f"finished at {r['last_job_finished_seconds']} s, drain after last upload "
                     f"{r['drain_after_last_upload_seconds']} s\n  jobs {r['jobs_by_processor']}"
                     f"; job statuses {r['job_status_counts']}, retried {r['jobs_retried']}"
                     f"; CPU s {r['cpu_seconds']}, client {r['client_cpu_seconds']}; machine "
                     f"CPU busy {r['machine_cpu_busy_percent']}%")
            print(extra, flush=True)
            for e in r["job_errors"]:
                print(f"  job error: {e}", flush=True)
            if r["timed_out"] or r["rejected"] or r["status_counts"]["ready"] != args.files:
                failed = True

    medians = {}
    for mode in modes:
        rs = [r for r in runs if r["mode"] == mode and not r["timed_out"]]
        if len(rs) > 1:
            medians[mode] = {
                "runs": len(rs),
                "uploads_per_s": statistics.median(r["uploads_per_s"] for r in rs),
                "jobs_per_s": statistics.median(r["jobs_per_s"] for r in rs),
                "done_seconds": statistics.median(r["done_seconds"] for r in rs),
            }
            m = medians[mode]
            print(f"{mode} median of {m['runs']}: {m['uploads_per_s']:.1f} uploads/s accepted, "
                  f"{m['jobs_per_s']:.1f} jobs/s, wall {m['done_seconds']:.2f} s", flush=True)
    if args.json:
        for r in runs:
            r.pop("file_ids", None)
        print(json.dumps({"nproc": os.cpu_count(), "runs": runs, "medians": medians}, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
