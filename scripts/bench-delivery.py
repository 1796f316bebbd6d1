#!/usr/bin/env python3
"""Delivery benchmark for Kiln: transforms on request (`GET /t/{file_id}?...`)
against thumbor, side by side on this machine in one run.

What it starts (fresh, removed afterwards unless --keep):
  - one `kiln serve` (embedded: SQLite, local storage) on a free loopback port
    with a temp DATA_DIR and TRANSFORM_CONCURRENCY = --slots (default: nproc);
  - one thumbor (PyPI, pinned, in target/thumbor-venv, made on first use) on a
    free loopback port with --processes = --slots, a config written here:
    file loader over the delivery corpus, ALLOW_UNSAFE_URL, no original storage,
    the file result storage in a temp directory (RESULT_STORAGE_STORES_UNSAFE, so
    unsafe URLs are kept), baseline JPEG (PROGRESSIVE_JPEG = False, as Kiln
    writes), QUALITY 80, WEBP_QUALITY 75, and a metrics module of this script's
    that appends thumbor's result-storage hits, misses and writes to a file (so
    its cache hits and its makings are counted, not guessed).

Inputs (target/bench-delivery-corpus/, rebuilt when its recipe or sources change):
  2k/NAME.jpg    the three mate-backgrounds photos of scripts/kiln_bench/corpus.py
                 (Storm, Wood, LadyBird), resized to 2048 px on the long side
                 (vips resize, Lanczos3; Q=90 4:2:0, no metadata)
  12mp/NAME.jpg  the processors corpus' NAME-12mp.jpg (same recipe, 12 MP)
Each is uploaded to Kiln once (with `processors=thumbnail`; the run waits until
they are ready) and read by thumbor from that directory.

Cases, each on the 2K and on the 12 MP inputs:
  jpeg  a 512x512 fit-inside, JPEG q80: Kiln `w=512&h=512&fit=inside&fmt=jpeg&q=80`,
        thumbor `/unsafe/fit-in/512x512/filters:format(jpeg):quality(80)/PATH`
  webp  the same as WebP q75 (`fmt=webp&q=75`; `format(webp):quality(75)`)
  avif  the same as AVIF q65 (`fmt=avif&q=65`; `format(avif):quality(65)`): thumbor
        encodes it through the AVIF support of its Pillow wheel (libavif), with
        thumbor's defaults (AVIF_CODEC auto, Pillow's speed); cold only

What it measures:
  cold    --cold-requests transforms per case and server, none made before (request
          k asks photo k mod 3 at a box of 512 - k div 3 px, so both sides miss their
          result cache: checked, Kiln's `Kiln-Cache: miss` on every answer, thumbor's
          result-storage misses), from --clients (2) client threads, each request on
          a new connection (thumbor's forked processes share one listening socket and
          a keep-alive connection stays with the process that accepted it, so two
          keep-alive clients can leave one process idle; --cold-keepalive keeps them).
          Throughput = requests / (first sent -> last answered); latency p50/p99.
          Goal: Kiln >= 2x thumbor's transforms/s for JPEG and WebP, >= 1x for AVIF.
  quality the three 512-px results of each case from both servers, scored by PSNR
          against a Lanczos3 reduction of the full decode to the same size
          (kiln_bench.quality), so a speed is never bought with a worse picture
          unnoticed.
  warm    the case's three 512-px URLs (made in the cold run) again, from `wrk`
          (Debian's; a Lua script rotates the URLs and prints percentiles) for
          --warm-duration seconds at each of --connections (2, 8, 32). Checked:
          every answer 2xx, Kiln made nothing during it (`kiln_transforms_made_total`),
          thumbor's result storage answered every request (its hit count).
          Goal: Kiln >= 2000 req/s with p99 <= 10 ms at some connection count.
  single flight  --single-flight (50) identical requests for a transform never made
          before, sent at once from as many pre-connected threads: the wall time
          of the 50, and how many decodes they cost (Kiln: `kiln_transforms_made_total
          {outcome="made"}` before/after, goal exactly 1; thumbor: its result-storage
          misses, each one a making).
Also, per measurement: the CPU seconds of the Kiln process tree (with its processor
children; `kiln_main` is the serving process alone), of the thumbor process tree and
of the client (this script's threads, or wrk's rusage), and the machine's CPU busy
share; all of them share the cores. Who goes first alternates between cases.

--nodelay-shim is a diagnosis, not a setting of Kiln: Kiln runs with an LD_PRELOAD
library (compiled here with cc) that sets TCP_NODELAY on every socket it accepts.
Kiln's HTTP server leaves Nagle's algorithm on, and it writes a delivered object's
headers and body in separate sends, so on a keep-alive connection the last part of
a response can wait for the client's delayed ACK (about 40 ms); the shim measures
what that costs.

Exits 1 when something fails (a server dies, a request answers non-2xx, a warm run
is not served from cache); a missed goal is a result, printed as FAIL, exit 0.

Usage:
  python3 scripts/bench-delivery.py [--binary target/release/kiln] [--slots N]
      [--cold-requests 150] [--clients 2] [--warm-duration 10]
      [--connections 2,8,32] [--single-flight 50] [--case 2k-jpeg ...]
      [--nodelay-shim] [--no-thumbor] [--json] [--keep]

Needs libvips-tools and mate-backgrounds (apt-installed when root, by
scripts/kiln_bench/corpus.py), `wrk` (apt-get install wrk; installed when root),
python3-venv and PyPI for thumbor. Python 3 standard library otherwise.
"""

import argparse
import datetime
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from kiln_bench.common import (ROOT, BenchError, cpu_model, git_commit, log, memory_total,
                               run, set_log_prefix)
from kiln_bench.corpus import (PHOTOS, build_corpus, cached_manifest, default_corpus_dir,
                               ensure_packages, first_line, image_size, vips_version,
                               write_manifest)
from kiln_bench.quality import psnr, reference, to_ppm
from kiln_bench.services import (Client, Proc, base_env, busy_percent, cpu_times, finish,
                                 free_port, multipart, pid_cpu_seconds, register_and_sign_in,
                                 wait_ready)

set_log_prefix("delivery")

THUMBOR_VERSION = "7.8.0"
VENV = os.path.join(ROOT, "target", "thumbor-venv")
DELIVERY_CORPUS = os.path.join(ROOT, "target", "bench-delivery-corpus")
# Bump when the recipe changes, so an old delivery corpus is rebuilt.
DELIVERY_RECIPE = 1
LONG_SIDE_2K = 2048

BOX = 512
# (case, input, format, quality)
CASES = (
    ("2k-jpeg", "2k", "jpeg", 80),
    ("2k-webp", "2k", "webp", 75),
    ("12mp-jpeg", "12mp", "jpeg", 80),
    ("12mp-webp", "12mp", "webp", 75),
    ("2k-avif", "2k", "avif", 65),
    ("12mp-avif", "12mp", "avif", 65),
)
# A cache hit serves stored bytes whatever their format: the warm runs measure
# JPEG and WebP only.
WARM_FORMATS = ("jpeg", "webp")
# How many times thumbor's cold transforms/s Kiln is to make, by format.
COLD_GOAL = {"jpeg": 2.0, "webp": 2.0, "avif": 1.0}
# Boxes of the untimed warm-up and of the single-flight request: never a cold box
# (those are 512 down to 512 - cold_requests / 3 + 1 > 300).
WARMUP_BOXES = (300, 299, 298)
SINGLE_FLIGHT_BOX = 256

THUMBOR_METRICS_MODULE = '''\
"""Kiln bench: counts thumbor's result-storage hits, misses and writes by appending
one line per event to $KILN_BENCH_THUMBOR_EVENTS (O_APPEND: one write per event,
safe across thumbor's processes)."""
import os

from thumbor.metrics import BaseMetrics

_WANTED = {"result_storage.hit", "result_storage.miss", "result_storage.bytes_written"}
_fd = None


class Metrics(BaseMetrics):
    def incr(self, metricname, value=1):
        global _fd
        if metricname not in _WANTED:
            return
        if _fd is None:
            _fd = os.open(os.environ["KILN_BENCH_THUMBOR_EVENTS"],
                          os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(_fd, (metricname + "\\n").encode())

    def timing(self, metricname, value):
        pass
'''

# --nodelay-shim: an LD_PRELOAD library that sets TCP_NODELAY on every socket Kiln
# accepts, to measure what Nagle's algorithm costs its responses (a diagnosis of
# Kiln as it is, which does not set it; not a setting Kiln offers).
NODELAY_SHIM = r'''
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static int nodelay(int fd) {
    int one = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}
int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    return nodelay(real(fd, addr, len, flags));
}
int accept(int fd, struct sockaddr *addr, socklen_t *len) {
    static int (*real)(int, struct sockaddr *, socklen_t *);
    if (!real) real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
    return nodelay(real(fd, addr, len));
}
'''

WRK_SCRIPT = '''\
-- Rotates over the URLs below; prints machine-readable results at the end.
local paths = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("KILNBENCH requests=%%d duration_us=%%d bytes=%%d connect=%%d read=%%d write=%%d status=%%d timeout=%%d\\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("KILNBENCH_P %%g %%d\\n", p, latency:percentile(p)))
  end
  io.write(string.format("KILNBENCH_MAX %%d\\n", latency.max))
end
'''


# ------------------------------------------------------------------ set-up


def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchError("wrk is missing: apt-get install wrk")
    log("apt-get install wrk")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "wrk"],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "--no-install-recommends", "wrk"], env=env)


def ensure_thumbor():
    """thumbor==THUMBOR_VERSION in VENV (made on first use); returns its `thumbor`."""
    python = os.path.join(VENV, "bin", "python")
    thumbor = os.path.join(VENV, "bin", "thumbor")
    if not os.path.exists(python):
        log(f"creating {os.path.relpath(VENV, ROOT)} (thumbor=={THUMBOR_VERSION} from PyPI)")
        r = subprocess.run([sys.executable, "-m", "venv", VENV])
        if r.returncode != 0:
            raise BenchError("cannot create a virtualenv (Debian: apt-get install python3-venv)")
    r = subprocess.run([python, "-c", "import importlib.metadata as m, sys; "
                        f"sys.exit(m.version('thumbor') != '{THUMBOR_VERSION}')"],
                       capture_output=True)
    if r.returncode != 0 or not os.path.exists(thumbor):
        log(f"installing thumbor=={THUMBOR_VERSION} into {os.path.relpath(VENV, ROOT)}")
        run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             f"thumbor=={THUMBOR_VERSION}"])
    return thumbor


def thumbor_stack():
    """Versions of thumbor, Pillow and the codecs Pillow links."""
    python = os.path.join(VENV, "bin", "python")
    out = run([python, "-c",
               "import json, importlib.metadata as m, PIL.features as f; print(json.dumps({"
               "'thumbor': m.version('thumbor'), 'tornado': m.version('tornado'), "
               "'pillow': m.version('pillow'), 'libjpeg': f.version('jpg'), "
               "'libjpeg_turbo': f.check_feature('libjpeg_turbo'), "
               "'libwebp': f.version('webp'), 'libavif': f.version('avif'), 'python': __import__('platform')"
               ".python_version()}))"])
    return json.loads(out)


def delivery_spec(base_manifest):
    return {
        "recipe": DELIVERY_RECIPE,
        "long_side_2k": LONG_SIDE_2K,
        "vips": vips_version(),
        "base_corpus": base_manifest["spec"],
    }


def build_delivery_corpus(base_dir, rebuild):
    """2k/NAME.jpg and 12mp/NAME.jpg in DELIVERY_CORPUS; returns {input: [(name, rel)]}."""
    ensure_packages()
    base = build_corpus(base_dir, False)
    spec = delivery_spec(base)
    manifest = cached_manifest("delivery corpus", DELIVERY_CORPUS, spec, rebuild)
    if manifest is None:
        os.makedirs(os.path.join(DELIVERY_CORPUS, "2k"))
        os.makedirs(os.path.join(DELIVERY_CORPUS, "12mp"))
        files = []
        for name, package, path in PHOTOS:
            rel = f"2k/{name}.jpg"
            w, h = image_size(path)
            scale = LONG_SIDE_2K / max(w, h)
            log(f"delivery corpus: {rel} from {path} ({package})")
            dst = os.path.join(DELIVERY_CORPUS, rel)
            tmp = dst + ".partial.jpg"
            run(["vips", "resize", path, f"{tmp}[Q=90,subsample-mode=on,strip]", repr(scale),
                 "--kernel", "lanczos3"])
            os.replace(tmp, dst)
            files.append({"file": rel, "input": "2k", "name": name, "source": path})
            src = os.path.join(base_dir, "photos", f"{name}-12mp.jpg")
            rel = f"12mp/{name}.jpg"
            shutil.copyfile(src, os.path.join(DELIVERY_CORPUS, rel))
            files.append({"file": rel, "input": "12mp", "name": name,
                          "source": os.path.relpath(src, ROOT)})
        for e in files:
            e["width"], e["height"] = image_size(os.path.join(DELIVERY_CORPUS, e["file"]))
        manifest = write_manifest(DELIVERY_CORPUS, spec, files)
    return manifest


# -------------------------------------------------------------- processes


def proc_stat(pid):
    """(ppid, user + system + reaped children's CPU ticks) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[1]), sum(int(x) for x in fields[11:15])
    except (OSError, IndexError, ValueError):
        return None


def process_tree(root):
    """{pid: CPU ticks} of a process and all its live descendants."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = proc_stat(int(entry))
            if s:
                stats[int(entry)] = s
    children = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            tree[pid] = stats[pid][1]
        todo.extend(children.get(pid, ()))
    return tree


def tree_cpu_seconds(root):
    """CPU seconds of a process and all its descendants (live ones, plus what the
    reaped ones left in their parents' cutime/cstime)."""
    return sum(process_tree(root).values()) / os.sysconf("SC_CLK_TCK")


def stop_forked_children(proc):
    """thumbor --processes N forks N servers; its parent only waits for them and dies
    on SIGTERM without passing it on. Stops the children (by pid), which shut down
    cleanly on SIGTERM; the parent is stopped by services.finish()."""
    kids = [pid for pid in process_tree(proc.pid) if pid != proc.pid]
    for pid in kids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return kids


def reap_forked_children(kids, timeout=15):
    deadline = time.monotonic() + timeout
    while kids and time.monotonic() < deadline:
        kids = [pid for pid in kids if proc_stat(pid) and not _zombie(pid)]
        time.sleep(0.1)
    for pid in kids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class Meter:
    """CPU seconds of the Kiln tree, the thumbor tree and the client, and the
    machine's busy share, over one measurement."""

    def __init__(self, servers):
        self.servers = servers

    def __enter__(self):
        self.machine0 = cpu_times()
        self.cpu0 = {name: tree_cpu_seconds(pid) for name, pid in self.servers.items()}
        self.root0 = {name: pid_cpu_seconds(pid) or 0.0 for name, pid in self.servers.items()}
        r = os.times()
        self.client0 = r.user + r.system
        return self

    def __exit__(self, *exc):
        self.machine1 = cpu_times()
        self.cpu = {name: round(tree_cpu_seconds(pid) - self.cpu0[name], 2)
                    for name, pid in self.servers.items()}
        # The server process alone (its threads), without its children.
        self.cpu.update({f"{name}_main": round((pid_cpu_seconds(pid) or 0.0) - self.root0[name], 2)
                         for name, pid in self.servers.items()})
        r = os.times()
        self.cpu["client"] = round(r.user + r.system - self.client0, 2)
        self.cpu["machine_busy_percent"] = busy_percent(self.machine0, self.machine1)
        return False


def build_nodelay_shim(tmp):
    src = os.path.join(tmp, "nodelay.c")
    lib = os.path.join(tmp, "nodelay.so")
    with open(src, "w") as f:
        f.write(NODELAY_SHIM)
    run(["cc", "-O2", "-shared", "-fPIC", "-o", lib, src, "-ldl"])
    return lib


def start_kiln(args, tmp):
    port = free_port()
    env = base_env(args.log_level)
    env.update({"PORT": str(port), "DATA_DIR": os.path.join(tmp, "kiln-data"),
                "TRANSFORM_CONCURRENCY": str(args.slots)})
    if args.nodelay_shim:
        env["LD_PRELOAD"] = build_nodelay_shim(tmp)
        log("Kiln runs with TCP_NODELAY forced on its accepted sockets (--nodelay-shim)")
    proc = Proc("kiln", [args.binary, "serve"], env, tmp)
    client = Client(port)
    wait_ready(client, [proc])
    return proc, client


def start_thumbor(args, thumbor, tmp):
    conf_dir = os.path.join(tmp, "thumbor")
    os.makedirs(conf_dir)
    with open(os.path.join(conf_dir, "kiln_bench_thumbor_metrics.py"), "w") as f:
        f.write(THUMBOR_METRICS_MODULE)
    events = os.path.join(conf_dir, "events.log")
    open(events, "w").close()
    conf = os.path.join(conf_dir, "thumbor.conf")
    settings = {
        "LOADER": "thumbor.loaders.file_loader",
        "FILE_LOADER_ROOT_PATH": DELIVERY_CORPUS,
        "ALLOW_UNSAFE_URL": True,
        # The file loader reads the corpus from disk already: no second copy.
        "STORAGE": "thumbor.storages.no_storage",
        "RESULT_STORAGE": "thumbor.result_storages.file_storage",
        "RESULT_STORAGE_FILE_STORAGE_ROOT_PATH": os.path.join(conf_dir, "result-storage"),
        "RESULT_STORAGE_STORES_UNSAFE": True,
        "RESULT_STORAGE_EXPIRATION_SECONDS": 0,
        "QUALITY": 80,
        "WEBP_QUALITY": 75,
        "PROGRESSIVE_JPEG": False,
        "METRICS": "kiln_bench_thumbor_metrics",
    }
    with open(conf, "w") as f:
        for key, value in settings.items():
            f.write(f"{key} = {value!r}\n")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=conf_dir, KILN_BENCH_THUMBOR_EVENTS=events)
    proc = Proc("thumbor", [thumbor, "-i", "127.0.0.1", "-p", str(port), "-c", conf,
                            "--processes", str(args.slots), "-l", "warning"], env, conf_dir)
    deadline = time.monotonic() + 60
    while True:
        if not proc.alive():
            raise BenchError(f"thumbor exited with code {proc.popen.returncode}: {proc.tail()}")
        try:
            status, _, _ = get(port, "/healthcheck")
            if status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BenchError("thumbor did not answer /healthcheck within 60 s")
        time.sleep(0.2)
    return proc, port, events, settings


def thumbor_events(path):
    counts = {"result_storage.hit": 0, "result_storage.miss": 0,
              "result_storage.bytes_written": 0}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line in counts:
                counts[line] += 1
    return counts


def diff(after, before):
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}


# ------------------------------------------------------------------ HTTP


def get(port, path, conn=None, timeout=120):
    """GET path; returns (status, headers {lower-case name: value}, body bytes)."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        if own:
            conn.close()


def kiln_metrics(port):
    """The transform counters and the make-time histogram's sum and count from /metrics."""
    status, _, body = get(port, "/metrics")
    if status != 200:
        raise BenchError(f"GET /metrics answered {status}")
    out = {}
    for line in body.decode().splitlines():
        m = re.match(r'(kiln_transform_requests_total|kiln_transforms_made_total)'
                     r'\{[^}]*?(?:cache|outcome)="(\w+)"[^}]*\}\s+([0-9.e+-]+)$', line)
        if m:
            out[f"{m.group(1)}.{m.group(2)}"] = float(m.group(3))
            continue
        m = re.match(r'(kiln_transform_duration_seconds_(?:sum|count))(?:\{\})?\s+([0-9.e+-]+)$',
                     line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def pct(values, p):
    """The p-th percentile (nearest rank on the sorted values), or None."""
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))]


# --------------------------------------------------------------- servers


class Kiln:
    name = "kiln"

    def __init__(self, proc, client, files):
        self.proc, self.client, self.port = proc, client, client.port
        self.files = files  # {(input, photo name): file id}
        self.urls = {}

    def url(self, input_, photo, box, fmt, quality):
        key = (input_, photo, box, fmt, quality)
        if key not in self.urls:
            body = {"w": box, "h": box, "fit": "inside", "fmt": fmt, "q": quality}
            made = self.client.expect(200, "POST",
                                      f"/api/files/{self.files[(input_, photo)]}/transform-url",
                                      body)
            u = urllib.parse.urlsplit(made["url"])
            self.urls[key] = u.path + "?" + u.query
        return self.urls[key]

    def check(self, status, headers, expect_cache):
        if status != 200:
            return f"status {status}"
        got = headers.get("kiln-cache")
        if expect_cache and got != expect_cache:
            return f"Kiln-Cache: {got}, expected {expect_cache}"
        return None

    def counters(self):
        return kiln_metrics(self.port)


class Thumbor:
    name = "thumbor"

    def __init__(self, proc, port, events):
        self.proc, self.port, self.events = proc, port, events

    def url(self, input_, photo, box, fmt, quality):
        return (f"/unsafe/fit-in/{box}x{box}/filters:format({fmt}):quality({quality})/"
                f"{input_}/{photo}.jpg")

    def check(self, status, headers, expect_cache):
        return None if status == 200 else f"status {status}"

    def counters(self):
        return thumbor_events(self.events)


# ---------------------------------------------------------------- measures


def cold_run(server, paths, clients, servers, keepalive=False):
    """Each path once, from `clients` threads, each request on a new connection
    (or, with `keepalive`, one connection per thread); every answer must be a 200
    made for it."""
    lock = threading.Lock()
    todo = list(enumerate(paths))
    results = [None] * len(paths)
    errors = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        try:
            while True:
                with lock:
                    if not todo or errors:
                        return
                    i, path = todo.pop(0)
                t0 = time.perf_counter()
                try:
                    status, headers, body = get(server.port, path, conn if keepalive else None)
                except (OSError, http.client.HTTPException) as e:
                    with lock:
                        errors.append(f"{path}: {e!r}")
                    return
                t1 = time.perf_counter()
                problem = server.check(status, headers, "miss")
                if problem:
                    with lock:
                        errors.append(f"{path}: {problem}")
                results[i] = (t0, t1, len(body))
        finally:
            conn.close()

    counters0 = server.counters()
    with Meter(servers) as meter:
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise BenchError(f"{server.name} cold: {len(errors)} failed, e.g. {errors[0]}")
    counters = diff(server.counters(), counters0)
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    lat = [r[1] - r[0] for r in results]
    out = {
        "requests": len(paths),
        "seconds": round(end - start, 3),
        "per_s": round(len(paths) / (end - start), 2),
        "p50_ms": round(pct(lat, 50) * 1000, 1),
        "p99_ms": round(pct(lat, 99) * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1),
        "mean_bytes": round(statistics.mean(r[2] for r in results)),
        "cpu": meter.cpu,
        "counters": counters,
    }
    if server.name == "kiln":
        made = counters.get("kiln_transforms_made_total.made", 0)
        if made != len(paths):
            raise BenchError(f"kiln cold: made {made} transforms for {len(paths)} requests")
        n = counters.get("kiln_transform_duration_seconds_count", 0)
        if n:
            out["server_make_mean_ms"] = round(
                1000 * counters["kiln_transform_duration_seconds_sum"] / n, 1)
    else:
        if counters["result_storage.miss"] != len(paths) or counters["result_storage.hit"]:
            raise BenchError(f"thumbor cold: result storage {counters} for {len(paths)} "
                             "requests (expected a miss each)")
    return out


def run_wrk(server, paths, connections, duration, servers, tmp):
    script = os.path.join(tmp, f"wrk-{server.name}.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT % ", ".join(json.dumps(p) for p in paths))
    out_path = os.path.join(tmp, "wrk.out")
    threads = 1
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
            "--timeout", "10s", "-s", script, f"http://127.0.0.1:{server.port}"]
    counters0 = server.counters()
    with open(out_path, "w") as out, Meter(servers) as meter:
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, rusage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    counters = diff(server.counters(), counters0)
    with open(out_path) as f:
        text = f.read()
    if p.returncode != 0:
        raise BenchError(f"wrk exited {p.returncode}: {text[-500:]}")
    m = re.search(r"KILNBENCH requests=(\d+) duration_us=(\d+) bytes=(\d+) connect=(\d+) "
                  r"read=(\d+) write=(\d+) status=(\d+) timeout=(\d+)", text)
    if not m:
        raise BenchError(f"cannot read wrk's output: {text[-500:]}")
    requests, duration_us, nbytes = (int(m.group(i)) for i in (1, 2, 3))
    errs = {k: int(m.group(i)) for k, i in (("connect", 4), ("read", 5), ("write", 6),
                                            ("status", 7), ("timeout", 8))}
    percentiles = {float(a): int(b) for a, b in re.findall(r"KILNBENCH_P (\S+) (\d+)", text)}
    wrk_cpu = rusage.ru_utime + rusage.ru_stime
    cpu = dict(meter.cpu)
    cpu["client"] = round(wrk_cpu, 2)
    result = {
        "connections": connections,
        "requests": requests,
        "seconds": round(duration_us / 1e6, 2),
        "per_s": round(requests / (duration_us / 1e6), 1),
        "p50_ms": round(percentiles[50.0] / 1000, 2),
        "p90_ms": round(percentiles[90.0] / 1000, 2),
        "p99_ms": round(percentiles[99.0] / 1000, 2),
        "p999_ms": round(percentiles[99.9] / 1000, 2),
        "max_ms": round(int(re.search(r"KILNBENCH_MAX (\d+)", text).group(1)) / 1000, 2),
        "mb_per_s": round(nbytes / (duration_us / 1e6) / 1e6, 1),
        "errors": errs,
        "cpu": cpu,
        "counters": counters,
    }
    if any(errs.values()):
        raise BenchError(f"{server.name} warm c={connections}: wrk errors {errs}")
    if server.name == "kiln":
        if counters.get("kiln_transforms_made_total.made", 0):
            raise BenchError(f"kiln warm: made transforms during the warm run: {counters}")
        # wrk stops mid-request on its last connections: those are counted by Kiln
        # but not by wrk.
        hits = counters.get("kiln_transform_requests_total.hit", 0)
        if not requests <= hits <= requests + connections:
            raise BenchError(f"kiln warm: {hits} cache hits for {requests} requests")
    else:
        hits, misses = counters["result_storage.hit"], counters["result_storage.miss"]
        if misses or not requests <= hits <= requests + connections:
            raise BenchError(f"thumbor warm: result storage {counters} for {requests} requests")
    return result


def single_flight(server, path, n, servers):
    """n identical requests released at once from n pre-connected threads."""
    conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
             for _ in range(n)]
    for c in conns:
        c.connect()
    barrier = threading.Barrier(n + 1)
    answers = [None] * n

    def one(i):
        barrier.wait()
        t0 = time.perf_counter()
        try:
            status, headers, _ = get(server.port, path, conns[i])
            answers[i] = (status, headers.get("kiln-cache"), time.perf_counter() - t0,
                          time.perf_counter())
        except (OSError, http.client.HTTPException) as e:
            answers[i] = (repr(e), None, None, time.perf_counter())

    counters0 = server.counters()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    with Meter(servers) as meter:
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = max(a[3] for a in answers) - t0
    for c in conns:
        c.close()
    counters = diff(server.counters(), counters0)
    statuses = {}
    for a in answers:
        statuses[str(a[0])] = statuses.get(str(a[0]), 0) + 1
    lat = [a[2] for a in answers if a[2] is not None]
    out = {"requests": n, "wall_ms": round(wall * 1000, 1), "statuses": statuses,
           "p50_ms": round(pct(lat, 50) * 1000, 1), "max_ms": round(max(lat) * 1000, 1),
           "cpu": meter.cpu, "counters": counters}
    if server.name == "kiln":
        out["decodes"] = int(counters.get("kiln_transforms_made_total.made", 0))
        out["cache_headers"] = {}
        for a in answers:
            out["cache_headers"][str(a[1])] = out["cache_headers"].get(str(a[1]), 0) + 1
    else:
        out["decodes"] = counters["result_storage.miss"]
    return out


# ---------------------------------------------------------------- the run


def sign_in(client):
    """Registers a user and signs in (a JWT: personal API tokens need a verified
    address); sets client.token."""
    login = register_and_sign_in(client, "delivery")
    client.token = login["access_token"]
    return login.get("expires_in")


def upload_inputs(client, manifest):
    """Uploads each input once; returns {(input, name): file id} once all are ready."""
    files = {}
    for e in manifest["files"]:
        with open(os.path.join(DELIVERY_CORPUS, e["file"]), "rb") as f:
            payload = f.read()
        body, ctype = multipart("file", f"{e['input']}-{e['name']}.jpg", "image/jpeg", payload)
        boundary = ctype.split("boundary=", 1)[1]
        extra = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"processors\"\r\n\r\n"
                 f"thumbnail\r\n").encode()
        made = client.expect(202, "POST", "/api/upload", extra + body, {"Content-Type": ctype})
        files[(e["input"], e["name"])] = made["file"]["id"]
    deadline = time.monotonic() + 120
    for fid in files.values():
        while True:
            status = client.expect(200, "GET", f"/api/files/{fid}")["file"]["status"]
            if status == "ready":
                break
            if status == "failed" or time.monotonic() > deadline:
                raise BenchError(f"uploaded file {fid} is {status}")
            time.sleep(0.1)
    return files


def quality(servers, cases, names, tmp):
    """PSNR of each server's 512-px results (made in the cold run, now served from
    its cache) against a Lanczos3 reduction of the full decode to the same size:
    {case: {server: {"psnr_db": mean, "min_db", "sizes"}}}."""
    qdir = os.path.join(tmp, "quality")
    os.makedirs(qdir, exist_ok=True)
    refs, out = {}, {}
    for case, input_, fmt, q in cases:
        out[case] = {}
        for s in servers:
            scores, sizes = [], []
            for name in names:
                status, _, body = get(s.port, s.url(input_, name, BOX, fmt, q))
                if status != 200:
                    raise BenchError(f"{s.name} {case} {name}: status {status} on a cached result")
                path = os.path.join(qdir, f"{case}-{s.name}-{name}.{fmt}")
                with open(path, "wb") as f:
                    f.write(body)
                w, h, pixels = to_ppm(path, path + ".ppm")
                if (input_, name, w, h) not in refs:
                    src = os.path.join(DELIVERY_CORPUS, input_, f"{name}.jpg")
                    ref_path = os.path.join(qdir, f"ref-{input_}-{name}-{w}x{h}.v")
                    refs[(input_, name, w, h)] = reference(src, w, h, ref_path)[2]
                scores.append(psnr(pixels, refs[(input_, name, w, h)]))
                sizes.append(f"{w}x{h}")
            out[case][s.name] = {"psnr_db": round(statistics.mean(scores), 2),
                                 "min_db": round(min(scores), 2), "sizes": sizes}
    return out


def machine_facts(args, stack):
    commit, dirty = git_commit()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "memory": memory_total(),
        "kernel": platform.release(),
        "work_tree_commit": commit,
        "work_tree_dirty": dirty,
        "kiln_binary_mtime": datetime.datetime.fromtimestamp(
            os.path.getmtime(args.binary), datetime.timezone.utc).isoformat(timespec="minutes"),
        "wrk": first_line(["wrk", "--version"]),
        "thumbor_stack": stack,
        "slots": args.slots,
        "kiln_nodelay_shim": args.nodelay_shim,
        "cold_keepalive": args.cold_keepalive,
        "loadavg_before": round(os.getloadavg()[0], 2),
    }


def print_report(r, args):
    p = lambda s="": print(s, flush=True)  # noqa: E731
    p()
    p(f"Kiln TRANSFORM_CONCURRENCY={args.slots}; thumbor --processes {args.slots}; "
      f"{os.cpu_count()} CPUs shared with the client"
      + ("; Kiln with TCP_NODELAY forced (--nodelay-shim)" if args.nodelay_shim else ""))
    p()
    p(f"Cold ({args.cold_requests} transforms per case, {args.clients} clients, "
      + ("keep-alive" if args.cold_keepalive else "a new connection per request") + "):")
    p("| case | server | transforms/s | p50 ms | p99 ms | mean bytes | server CPU s | "
      "client CPU s | machine busy | kiln / thumbor |")
    p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case, *_ in CASES:
        c = r["cold"].get(case)
        if not c:
            continue
        ratio = c["kiln"]["per_s"] / c["thumbor"]["per_s"] if "thumbor" in c else None
        for name in ("kiln", "thumbor"):
            if name not in c:
                continue
            x = c[name]
            main = f" (main {x['cpu']['kiln_main']:.2f})" if name == "kiln" else ""
            p(f"| {case} | {name} | {x['per_s']:.1f} | {x['p50_ms']:.1f} | {x['p99_ms']:.1f} | "
              f"{x['mean_bytes']} | {x['cpu'][name]:.2f}{main} | {x['cpu']['client']:.2f} | "
              f"{x['cpu']['machine_busy_percent']} % | "
              + (f"**{ratio:.2f}x**" if name == "kiln" and ratio else "") + " |")
    p()
    p(f"Warm ({args.warm_duration} s per run, wrk -t1):")
    p("| case | server | connections | req/s | p50 ms | p99 ms | max ms | server CPU s | "
      "wrk CPU s | machine busy |")
    p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case, *_ in CASES:
        for name in ("kiln", "thumbor"):
            for x in r["warm"].get(case, {}).get(name, []):
                p(f"| {case} | {name} | {x['connections']} | {x['per_s']:.0f} | "
                  f"{x['p50_ms']:.2f} | {x['p99_ms']:.2f} | {x['max_ms']:.1f} | "
                  f"{x['cpu'][name]:.2f} | {x['cpu']['client']:.2f} | "
                  f"{x['cpu']['machine_busy_percent']} % |")
    p()
    p(f"Single flight ({args.single_flight} identical cold requests at once):")
    for name, x in r["single_flight"].items():
        p(f"  {name}: {x['decodes']} decode(s), wall {x['wall_ms']} ms, p50 {x['p50_ms']} ms, "
          f"statuses {x['statuses']}" + (f", Kiln-Cache {x['cache_headers']}"
                                         if 'cache_headers' in x else ""))
    p()
    p("Quality: PSNR in dB of the 512-px results against a Lanczos3 reduction of the "
      "full decode (mean of the three photos; the lowest in brackets):")
    p("| case | Kiln | thumbor |")
    p("|---|---:|---:|")
    for case, by_server in r["quality"].items():
        cells = [f"{x['psnr_db']:.2f} ({x['min_db']:.2f})" if x else "-"
                 for x in (by_server.get("kiln"), by_server.get("thumbor"))]
        p(f"| {case} | " + " | ".join(cells) + " |")
    p()
    p("Goals:")
    for g in r["goals"]:
        p(f"  {'pass' if g['pass'] else 'FAIL'}: {g['goal']}: {g['result']}")


def goals(r):
    out = []
    for case, _, fmt, _ in CASES:
        c = r["cold"].get(case)
        if c and "thumbor" in c:
            ratio = c["kiln"]["per_s"] / c["thumbor"]["per_s"]
            out.append({"goal": f"cold {case}: Kiln >= {COLD_GOAL[fmt]:g}x thumbor's transforms/s",
                        "pass": ratio >= COLD_GOAL[fmt],
                        "result": f"{c['kiln']['per_s']:.1f} vs {c['thumbor']['per_s']:.1f}/s "
                                  f"= {ratio:.2f}x"})
    for case, *_ in CASES:
        runs = r["warm"].get(case, {}).get("kiln", [])
        if runs:
            ok = [x for x in runs if x["per_s"] >= 2000 and x["p99_ms"] <= 10]
            best = max(ok or runs, key=lambda x: x["per_s"])
            out.append({"goal": f"warm {case}: Kiln >= 2000 req/s with p99 <= 10 ms",
                        "pass": bool(ok),
                        "result": "; ".join(f"c={x['connections']}: {x['per_s']:.0f} req/s, "
                                            f"p99 {x['p99_ms']:.2f} ms" for x in runs)
                                  + f" (best: c={best['connections']})"})
    sf = r["single_flight"].get("kiln")
    if sf:
        out.append({"goal": f"single flight: {sf['requests']} identical cold requests -> "
                            "exactly 1 decode",
                    "pass": sf["decodes"] == 1 and sf["statuses"] == {"200": sf["requests"]},
                    "result": f"{sf['decodes']} decode(s), {sf['wall_ms']} ms wall"})
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", default="target/release/kiln")
    p.add_argument("--slots", type=int, default=os.cpu_count() or 2,
                   help="Kiln's TRANSFORM_CONCURRENCY and thumbor's --processes (default: nproc)")
    p.add_argument("--cold-requests", type=int, default=150,
                   help="cold transforms per case and server (at most 600)")
    p.add_argument("--clients", type=int, default=2, help="client threads in the cold runs")
    p.add_argument("--cold-keepalive", action="store_true",
                   help="cold clients keep one connection each (default: a new one per "
                        "request, so every thumbor process gets work)")
    p.add_argument("--warm-duration", type=int, default=10, help="seconds per warm wrk run")
    p.add_argument("--connections", default="2,8,32", help="wrk connections, comma list")
    p.add_argument("--single-flight", type=int, default=50)
    p.add_argument("--case", action="append", choices=[c[0] for c in CASES],
                   help="only these cases (repeatable; default all)")
    p.add_argument("--no-thumbor", action="store_true", help="measure Kiln alone")
    p.add_argument("--corpus", default=default_corpus_dir(),
                   help="the processors corpus (12 MP photos) directory")
    p.add_argument("--rebuild-corpus", action="store_true")
    p.add_argument("--log-level", default="warn")
    p.add_argument("--nodelay-shim", action="store_true",
                   help="diagnosis: run Kiln with an LD_PRELOAD shim that sets TCP_NODELAY on "
                        "the sockets it accepts (needs cc)")
    p.add_argument("--keep", action="store_true", help="keep the temp directory")
    p.add_argument("--json", action="store_true", help="also print everything as JSON")
    args = p.parse_args()
    if not 3 <= args.cold_requests <= 600:
        p.error("--cold-requests must be 3..600")
    connections = [int(c) for c in args.connections.split(",") if c]
    cases = [c for c in CASES if not args.case or c[0] in args.case]

    if not os.path.isabs(args.binary):
        args.binary = os.path.join(ROOT, args.binary)
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"[delivery] {args.binary} not found; build it: cargo build --release --bin kiln")
    corpus_dir = args.corpus if os.path.isabs(args.corpus) else os.path.join(ROOT, args.corpus)

    ensure_wrk()
    thumbor_bin = None if args.no_thumbor else ensure_thumbor()
    stack = None if args.no_thumbor else thumbor_stack()
    manifest = build_delivery_corpus(corpus_dir, args.rebuild_corpus)
    tmp = tempfile.mkdtemp(prefix="kiln-bench-delivery-")
    procs = []
    ok = False
    report = {"machine": machine_facts(args, stack), "corpus": manifest["files"],
              "cold": {}, "warm": {}, "single_flight": {}, "quality": {}}
    if report["machine"]["loadavg_before"] > 1:
        log(f"warning: load average {report['machine']['loadavg_before']} before the run")
    try:
        kproc, kclient = start_kiln(args, tmp)
        procs.append(kproc)
        sign_in(kclient)
        log("uploading the inputs to Kiln")
        kiln = Kiln(kproc, kclient, upload_inputs(kclient, manifest))
        servers_pids = {"kiln": kproc.pid}
        servers = [kiln]
        if thumbor_bin:
            tproc, tport, events, settings = start_thumbor(args, thumbor_bin, tmp)
            procs.append(tproc)
            report["thumbor_config"] = settings
            servers_pids["thumbor"] = tproc.pid
            servers.append(Thumbor(tproc, tport, events))
        names = [name for name, _, _ in PHOTOS]

        # Every Kiln URL of the run is minted now, while the sign-in is fresh.
        for case, input_, fmt, q in cases:
            for name in names:
                for box in WARMUP_BOXES + tuple(BOX - k for k in range(args.cold_requests // 3 + 1)):
                    kiln.url(input_, name, box, fmt, q)
        kiln.url("12mp", names[0], SINGLE_FLIGHT_BOX, "jpeg", 80)
        log(f"minted {len(kiln.urls)} signed Kiln URLs")

        # Untimed warm-up: start the children, load the libraries, fill the page cache.
        for s in servers:
            for case, input_, fmt, q in cases:
                for i, name in enumerate(names):
                    status, headers, _ = get(s.port, s.url(input_, name, WARMUP_BOXES[i], fmt, q))
                    if status != 200:
                        raise BenchError(f"{s.name} warm-up answered {status}")

        # Cold.
        for n, (case, input_, fmt, q) in enumerate(cases):
            order = servers if n % 2 == 0 else servers[::-1]
            report["cold"][case] = {}
            for s in order:
                paths = [s.url(input_, names[k % 3], BOX - k // 3, fmt, q)
                         for k in range(args.cold_requests)]
                log(f"cold {case} {s.name}: {len(paths)} transforms, {args.clients} clients")
                x = cold_run(s, paths, args.clients, servers_pids, args.cold_keepalive)
                report["cold"][case][s.name] = x
                log(f"  {x['per_s']:.1f}/s, p50 {x['p50_ms']} ms, p99 {x['p99_ms']} ms")

        log("quality: PSNR of both servers' 512-px results")
        report["quality"] = quality(servers, cases, names, tmp)

        # Warm: the three 512-px URLs of each case, made in the cold run.
        for n, (case, input_, fmt, q) in enumerate(c for c in cases if c[2] in WARM_FORMATS):
            report["warm"][case] = {s.name: [] for s in servers}
            for c_i, c in enumerate(connections):
                order = servers if (n + c_i) % 2 == 0 else servers[::-1]
                for s in order:
                    paths = [s.url(input_, name, BOX, fmt, q) for name in names]
                    for path in paths:
                        status, headers, _ = get(s.port, path)
                        problem = s.check(status, headers, "hit")
                        if problem:
                            raise BenchError(f"{s.name} warm {path}: {problem}")
                    log(f"warm {case} {s.name}: wrk -c {c} for {args.warm_duration} s")
                    x = run_wrk(s, paths, c, args.warm_duration, servers_pids, tmp)
                    report["warm"][case][s.name].append(x)
                    log(f"  {x['per_s']:.0f} req/s, p50 {x['p50_ms']} ms, p99 {x['p99_ms']} ms, "
                        f"wrk CPU {x['cpu']['client']} s")

        # Single flight: a 12 MP JPEG at a box never asked for before.
        for s in servers:
            path = s.url("12mp", names[0], SINGLE_FLIGHT_BOX, "jpeg", 80)
            log(f"single flight {s.name}: {args.single_flight} identical requests at once")
            x = single_flight(s, path, args.single_flight, servers_pids)
            report["single_flight"][s.name] = x
            log(f"  {x['decodes']} decode(s), wall {x['wall_ms']} ms")

        for pr in procs:
            if not pr.alive():
                raise BenchError(f"{pr.name} died during the run")
        report["kiln_peak_rss_mb"] = kproc.memory_mb()
        report["goals"] = goals(report)
        ok = True
    finally:
        kids = [pid for pr in procs if pr.name == "thumbor" for pid in stop_forked_children(pr)]
        finish(procs, ok)
        reap_forked_children(kids)
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print_report(report, args)
    if args.json:
        print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        log(f"failed: {e}")
        sys.exit(1)
