"""Running Kiln's processes for a benchmark: `kiln serve` alone, or one `kiln api`
and N `kiln worker`s on a fresh PostgreSQL database, their own Redis namespace and
an S3 server; plus a small blocking JSON client and machine counters.

Used by bench-pipeline.py and loadtest.py. Standard library only.
"""

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
import subprocess
import sys
import threading
import time
import urllib.parse

from .common import ROOT, BenchError, log

# Variables that would point a Kiln process at a service or change its behaviour;
# removed from the inherited environment so each run gets exactly what it sets.
SERVICE_VARS = (
    "DATABASE_URL", "REDIS_URL", "REDIS_NAMESPACE", "MINIO_ENDPOINT", "MINIO_ACCESS_KEY",
    "MINIO_SECRET_KEY", "MINIO_BUCKET", "MINIO_REGION", "STORAGE_PREFIX", "JWT_SECRET",
    "DATA_DIR", "HOST", "PORT", "BASE_URL", "WORKER_CONCURRENCY", "LOG_LEVEL", "LOG_FORMAT",
    "AUTO_MIGRATE", "MAX_UPLOAD_SIZE", "MAX_RETRIES", "JOB_TIMEOUT",
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Log lines that are expected in a benchmark and say nothing about the pipeline.
EXPECTED_WARNINGS = ("JWT_SECRET is not set",)

DEFAULT_PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"


def add_service_args(parser, keep_help):
    """The options that point a benchmark at PostgreSQL and Redis, and `--keep`
    (what it keeps is `keep_help`)."""
    parser.add_argument("--pg-admin-url",
                        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_ADMIN_URL))
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--keep", action="store_true", help=keep_help)


def cpu_times():
    """(busy, total) jiffies of the whole machine from /proc/stat, or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v) - idle, sum(v)
    except (OSError, ValueError):
        return None


def busy_percent(before, after):
    """Share of the machine's CPU time that was busy between two cpu_times()."""
    if not before or not after:
        return None
    return round(100 * (after[0] - before[0]) / max(1, after[1] - before[1]), 1)


def client_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def register_and_sign_in(client, tag, name="Kiln Bench"):
    """Registers a new user (an address made from `tag` and a random part) and
    signs in; returns the login answer. Its `access_token` is a JWT: a personal
    API token would need a verified address first."""
    email = f"{tag}-{secrets.token_hex(6)}@example.com"
    password = "kiln-bench-" + secrets.token_hex(8)
    client.expect(201, "POST", "/api/auth/register",
                  {"email": email, "password": password, "name": name})
    return client.expect(200, "POST", "/api/auth/login", {"email": email, "password": password})


def pid_cpu_seconds(pid):
    """user + system CPU time of a process so far (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def pid_memory_mb(pid):
    """{'rss': current, 'hwm': peak} resident set of a process in MiB, from
    /proc/PID/status (VmRSS, VmHWM), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for key, field in (("rss", "VmRSS"), ("hwm", "VmHWM")):
        m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
        if m:
            out[key] = round(int(m.group(1)) / 1024, 1)
    return out or None


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
    """A multipart/form-data body with one file field: (bytes, Content-Type)."""
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
    """A Kiln process whose output goes to `cwd/NAME.stderr`."""

    def __init__(self, name, argv, env, cwd):
        self.name = name
        self.stderr_path = os.path.join(cwd, f"{name}.stderr")
        self.stderr = open(self.stderr_path, "wb")
        self.popen = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=self.stderr, stderr=subprocess.STDOUT,
        )

    @property
    def pid(self):
        return self.popen.pid

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
        return pid_cpu_seconds(self.popen.pid)

    def memory_mb(self):
        """{'rss', 'hwm'} in MiB while the process lives, or None."""
        return pid_memory_mb(self.popen.pid)

    def warnings(self):
        """Its WARN and ERROR log lines, less the expected ones."""
        return [line for line in self.log_text().splitlines()
                if re.search(r"\b(WARN|ERROR)\b", line)
                and not any(w in line for w in EXPECTED_WARNINGS)]

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


def base_env(log_level, worker_concurrency=None):
    """The inherited environment without Kiln's service variables, plus what every
    benchmark sets."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env["HOST"] = "127.0.0.1"
    env["LOG_LEVEL"] = log_level
    env["SHUTDOWN_TIMEOUT"] = "5s"
    env["PDFIUM_LIBRARY"] = os.path.join(ROOT, ".pdfium", "libpdfium.so")
    if worker_concurrency:
        env["WORKER_CONCURRENCY"] = str(worker_concurrency)
    return env


def s3_env():
    """TEST_S3_* from the environment, else from `scripts/s3-server.sh env`."""
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


def psql_rows(url, sql):
    """Rows of a query as lists of strings (unaligned, tab-separated)."""
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-A", "-t",
                          "-F", "\t", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def database_url(admin_url, name):
    """`admin_url` pointing at database `name` instead."""
    u = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


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
    """Stops every process; prints its last lines when the run failed, or its
    WARN/ERROR lines when it did not."""
    for p in procs:
        p.stop()
    for p in procs:
        warn_lines = p.warnings()
        if not ok:
            log(f"--- {p.name} (exit {p.popen.returncode}) last lines of output:")
            print(p.tail(), file=sys.stderr)
        elif warn_lines:
            log(f"{p.name}: {len(warn_lines)} WARN/ERROR log lines, first ones:")
            for line in warn_lines[:5]:
                print("    " + line, file=sys.stderr)


class ServicesCluster:
    """One `kiln api` and `workers` x `kiln worker --no-migrate` on a new PostgreSQL
    database, a Redis namespace of their own and an S3 bucket under a prefix of their
    own. `start()` returns once the api answers /readyz (it has migrated) and every
    worker logged 'kiln started'; `cleanup()` drops the database and the Redis keys
    (objects are the caller's: delete the files, or use a private S3 server)."""

    def __init__(self, binary, tmp, env, workers, pg_admin_url, redis_url, s3,
                 tag_prefix="kiln_bench", keep=False):
        self.binary = binary
        self.tmp = tmp
        self.workers = workers
        self.pg_admin_url = pg_admin_url
        self.redis_url = redis_url
        self.keep = keep
        tag = f"{os.getpid()}_{secrets.token_hex(4)}"
        self.db = f"{tag_prefix}_{tag}"
        self.namespace = f"{tag_prefix.replace('_', '-')}-{tag}"
        self.db_url = database_url(pg_admin_url, self.db)
        self.port = free_port()
        self.procs = []
        self.db_created = False
        self.env = dict(env)
        self.env.update({
            "DATABASE_URL": self.db_url,
            "REDIS_URL": redis_url,
            "REDIS_NAMESPACE": self.namespace,
            "MINIO_ENDPOINT": s3["TEST_S3_ENDPOINT"],
            "MINIO_ACCESS_KEY": s3["TEST_S3_ACCESS_KEY"],
            "MINIO_SECRET_KEY": s3["TEST_S3_SECRET_KEY"],
            "MINIO_BUCKET": s3["TEST_S3_BUCKET"],
            "STORAGE_PREFIX": f"{tag_prefix.replace('_', '-')}-{tag}/",
            "JWT_SECRET": secrets.token_hex(32),
            "DATA_DIR": os.path.join(tmp, "data"),
            "PORT": str(self.port),
        })
        self.client = Client(self.port)

    def start(self):
        psql(self.pg_admin_url, f'CREATE DATABASE "{self.db}"')
        self.db_created = True
        self.procs.append(Proc("api", [self.binary, "api"], self.env, self.tmp))
        wait_ready(self.client, self.procs)  # the api has run the migrations
        for n in range(self.workers):
            self.procs.append(Proc(f"worker{n + 1}", [self.binary, "worker", "--no-migrate"],
                                   self.env, self.tmp))
        for p in self.procs[1:]:
            wait_started(p)
        return self.client

    def stop(self, ok):
        finish(self.procs, ok)

    def cleanup(self):
        if self.db_created and not self.keep:
            try:
                psql(self.pg_admin_url, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            except subprocess.CalledProcessError as e:
                log(f"warning: could not drop database {self.db}: {e.stderr.strip()}")
        if not self.keep:
            clear_redis(self.redis_url, self.namespace)
