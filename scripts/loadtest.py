#!/usr/bin/env python3
"""Load test for Kiln scaled out: `kiln api` + N `kiln worker` on PostgreSQL, Redis
and S3, fed a realistic mix of uploads for a fixed time at a fixed concurrency.

What it starts (all fresh, all removed afterwards unless --keep):
  - a new PostgreSQL database (CREATE DATABASE on --pg-admin-url; dropped after),
  - a Redis namespace of its own (REDIS_NAMESPACE; its keys deleted after),
  - a private s3s-fs on a free port with a temp data directory, through
    scripts/s3-server.sh (KILN_S3_DIR/KILN_S3_PORT), so the run's objects never mix
    with the tests' shared S3 server and go with the directory,
  - one `kiln api` (which migrates) and --workers x `kiln worker --no-migrate`.

What it does:
  1. --users accounts register, sign in and make a personal API token
     (POST /api/tokens); every upload uses a `kiln_...` token, not a JWT.
  2. Each user opens GET /api/events (server-sent events) before the load starts.
  3. --concurrency client tasks upload for --duration seconds, each as user
     (task number mod --users), picking files from the mix with a seeded PRNG
     (--seed), back to back (closed loop), or paced to --rate uploads/s overall.
  4. Then it stops uploading and waits until every job is finished (the drain),
     watching the database, up to --drain-timeout seconds.

The mix (weights of uploads; see MIX below), built reproducibly into
target/loadtest-corpus/ from the processor benchmark's corpus
(scripts/kiln_bench/corpus.py: Debian's mate-backgrounds photos and bash-doc /
debian-reference PDFs, the same files `make bench-processors` measures) and two test
fixtures:
  jpeg-small  30%  tests/fixtures/small.jpg 300x200, photo.jpg 1200x800
  jpeg-2mp    30%  the three photos resized to 2 MP (Q=90)       0.17-0.26 MB
  jpeg-12mp   20%  the corpus' 12 MP photos                      ~0.9-1.1 MB
  jpeg-24mp    5%  the corpus' 24 MP photos                      ~1.6-1.8 MB
  png-alpha   10%  two photos at 1.2 MP and 0.5 MP with a feathered alpha
                   channel (vips sines, clipped), PNG
  pdf          5%  bash.pdf, bashref.pdf, debian-reference.en.pdf (0.4-1.3 MB)
Images get Kiln's default jobs (thumbnail, and resize when a size is narrower than
the original); PDFs get pdf_thumbnail.

What it reports:
  accepted uploads/s  = 202 answers / (first upload sent -> last answer received)
  upload latency      = request sent -> 202 received, p50/p99 (also per kind)
  completed jobs/s    = jobs finished (succeeded or dead, from the database's
                        finished_at) during the upload window / its length, during
                        the drain / its length, and all jobs / (start -> last done);
                        also when 99 % of the jobs were done (the drain without its
                        tail of jobs waiting out a lease)
  upload -> thumbnail = the 202 received -> the `succeeded` event of the upload's
                        thumbnail (pdf_thumbnail) job received on /api/events,
                        p50/p99 as a client sees it; also the server's own view,
                        job created_at -> finished_at from the database
  rejections/errors   = every non-202 answer by status and error code, and client
                        exceptions (timeouts, resets)
  plus the job backlog (queued + retrying) over time, the jobs the reconciler
  published again (and so publishes per job), each process' CPU seconds, peak RSS
  (VmHWM from /proc) and RSS when idle before the uploads and after the drain
  (the workers' processor children summed apart), the machine's CPU use and load
  average, per-processor job run times and queue waits, and the Kiln WARN/ERROR
  log lines.
The processes' logs are copied to target/loadtest-logs/last/.

Why Python asyncio + aiohttp and not oha: oha repeats one request body; this test
needs a mix of files, several users' tokens, the 202 bodies (job ids) and the
event stream to time each upload to its thumbnail, all in one client. aiohttp's
C-accelerated HTTP parser keeps the client's CPU cost low (it shares the cores with
Kiln here; its CPU time is reported). It is installed, pinned, into
target/loadtest-venv on first use (the script re-runs itself with that Python), as
scripts/test.sh does for aiosmtpd; the rest is the standard library.

Usage:
  python3 scripts/loadtest.py [--duration 60] [--concurrency 16] [--users 4]
      [--workers 2] [--worker-concurrency N] [--rate R] [--seed 1]
      [--kiln-env NAME=VALUE ...] [--binary target/release/kiln] [--json] [--keep]

Needs PostgreSQL (psql, trust auth for --pg-admin-url), Redis (redis-cli), s3s-fs
(scripts/s3-server.sh installs it), libvips-tools and the corpus packages
(apt-installed when root), PDFium (`make pdfium`). Exits 1 if any upload was not
accepted, any job ended dead, the drain timed out or a process died.
"""

import argparse
import asyncio
import collections
import importlib.util
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from kiln_bench.common import (ROOT, BenchError, cpu_model, git_commit, log, memory_total,
                               run, set_log_prefix, sha256)
from kiln_bench.corpus import (build_corpus, cached_manifest, default_corpus_dir, ensure_packages,
                               image_size, write_manifest,
                               upscale, vips_version)
from kiln_bench.services import (add_service_args, ServicesCluster,
                                 base_env, busy_percent, client_cpu, cpu_times, free_port,
                                 multipart, pid_cpu_seconds, pid_memory_mb, psql_rows,
                                 register_and_sign_in)

set_log_prefix("loadtest")

AIOHTTP_VERSION = "3.14.5"
VENV = os.path.join(ROOT, "target", "loadtest-venv")

# (kind, weight): the share of uploads of each kind.
MIX = (
    ("jpeg-small", 30),
    ("jpeg-2mp", 30),
    ("jpeg-12mp", 20),
    ("jpeg-24mp", 5),
    ("png-alpha", 10),
    ("pdf", 5),
)
# Bump when the mix recipe changes, so an old target/loadtest-corpus is rebuilt.
MIX_RECIPE = 1
FIXTURES = ("small.jpg", "photo.jpg")
ALPHA_PNGS = (("wood", 1.2), ("ladybird", 0.5))  # (corpus photo, megapixels)
THUMBNAIL_PROCESSORS = ("thumbnail", "pdf_thumbnail")
# Seconds the processes are left idle after the drain before their memory is read.
IDLE_AFTER_DRAIN = 5
CONTENT_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".pdf": "application/pdf"}


# ------------------------------------------------------------------- the venv


def ensure_aiohttp(argv):
    """Imports aiohttp; if it is not there, installs it into VENV and re-runs this
    script with the venv's Python."""
    if importlib.util.find_spec("aiohttp") is not None:
        return
    venv_python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        sys.exit(f"[loadtest] aiohttp does not import in {VENV}; remove it and run again")
    if not os.path.exists(venv_python):
        log(f"creating {os.path.relpath(VENV, ROOT)} (aiohttp=={AIOHTTP_VERSION} from PyPI)")
        r = subprocess.run([sys.executable, "-m", "venv", VENV])
        if r.returncode != 0:
            sys.exit("[loadtest] cannot create a virtualenv (Debian: apt-get install python3-venv)")
    r = subprocess.run([venv_python, "-c", f"import aiohttp, sys; "
                        f"sys.exit(aiohttp.__version__ != '{AIOHTTP_VERSION}')"],
                       capture_output=True)
    if r.returncode != 0:
        log(f"installing aiohttp=={AIOHTTP_VERSION} into {os.path.relpath(VENV, ROOT)}")
        subprocess.run([venv_python, "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", f"aiohttp=={AIOHTTP_VERSION}"], check=True)
    os.execv(venv_python, [venv_python, os.path.abspath(__file__), *argv])


# --------------------------------------------------------------------- corpus


def mix_spec(base_manifest):
    return {
        "recipe": MIX_RECIPE,
        "mix": [list(m) for m in MIX],
        "base_corpus": base_manifest["spec"],
        "vips": vips_version(),
        "fixtures": {name: sha256(os.path.join(ROOT, "tests", "fixtures", name))
                     for name in FIXTURES},
        "alpha_pngs": [list(a) for a in ALPHA_PNGS],
    }


def alpha_png(src, dst, megapixels, workdir):
    """src resized to about `megapixels` with an alpha channel: a smooth 2-D sine
    clipped to 0..255, i.e. opaque and transparent areas with feathered edges."""
    w, h = image_size(src)
    scale = (megapixels * 1e6 / (w * h)) ** 0.5
    rgb = os.path.join(workdir, "rgb.v")
    run(["vips", "resize", src, rgb, repr(scale), "--kernel", "lanczos3"])
    tw, th = image_size(rgb)
    sines, alpha, joined = (os.path.join(workdir, n) for n in ("sines.v", "alpha.v", "rgba.v"))
    run(["vips", "sines", sines, str(tw), str(th), "--hfreq", "0.5", "--vfreq", "0.5"])
    run(["vips", "linear", sines, alpha, "1000", "127.5", "--uchar"])
    run(["vips", "bandjoin", f"{rgb} {alpha}", joined])
    run(["vips", "copy", joined, f"{dst}[compression=6,strip]"])
    return tw, th


def build_mix(directory, base_dir, rebuild):
    """The upload mix: files in `directory` (made here) and in the processor
    corpus `base_dir` (referred to). Returns {kind: [(path, name, bytes)]}."""
    ensure_packages()
    base = build_corpus(base_dir, False)
    spec = mix_spec(base)
    manifest = cached_manifest("mix", directory, spec, rebuild)
    if manifest is None:
        os.makedirs(directory)
        files = []
        for name in FIXTURES:
            shutil.copyfile(os.path.join(ROOT, "tests", "fixtures", name),
                            os.path.join(directory, name))
            files.append({"file": name, "kind": "jpeg-small", "source": f"tests/fixtures/{name}"})
        sources = {e["source"]: e for e in base["files"] if e["kind"] == "photo-12mp"}
        photos = sorted({os.path.basename(e["file"]).split("-")[0]: e["source"]
                         for e in sources.values()}.items())
        for name, source in photos:
            rel = f"{name}-2mp.jpg"
            log(f"mix: {rel} from {source}")
            upscale(source, os.path.join(directory, rel), 2)
            files.append({"file": rel, "kind": "jpeg-2mp", "source": source})
        work = tempfile.mkdtemp(prefix="kiln-loadtest-mix-")
        try:
            for name, mp in ALPHA_PNGS:
                source = dict(photos)[name]
                rel = f"{name}-alpha.png"
                log(f"mix: {rel} from {source}")
                alpha_png(source, os.path.join(directory, rel), mp, work)
                files.append({"file": rel, "kind": "png-alpha", "source": source})
        finally:
            shutil.rmtree(work, ignore_errors=True)
        manifest = write_manifest(directory, spec, files)
    out = collections.defaultdict(list)
    for e in manifest["files"]:
        out[e["kind"]].append(os.path.join(directory, e["file"]))
    base_kinds = {"photo-12mp": "jpeg-12mp", "photo-24mp": "jpeg-24mp", "pdf": "pdf"}
    for e in base["files"]:
        if e["kind"] in base_kinds:
            out[base_kinds[e["kind"]]].append(os.path.join(base_dir, e["file"]))
    return {kind: sorted(paths) for kind, paths in out.items()}


class Item:
    """One file of the mix, with its multipart body made once but for a number
    after the file's end (which decoders ignore): each upload's bytes are new,
    so none is recognised as a file stored before, which would need no job."""

    def __init__(self, kind, path):
        self.kind = kind
        self.name = os.path.basename(path)
        with open(path, "rb") as f:
            payload = f.read()
        self.size = len(payload)
        ctype = CONTENT_TYPES[os.path.splitext(path)[1]]
        body, self.content_type = multipart("file", self.name, ctype, payload)
        at = body.index(payload) + len(payload)
        self.head, self.tail = body[:at], body[at:]

    def body(self, upload_number):
        return self.head + f"kiln-load-{upload_number}".encode() + self.tail


# ----------------------------------------------------------------- statistics


def pct(values, p):
    """The p-th percentile (nearest rank on the sorted values), or None."""
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))]


def ms_summary(seconds):
    if not seconds:
        return None
    return {"n": len(seconds), "p50_ms": round(pct(seconds, 50) * 1000, 1),
            "p99_ms": round(pct(seconds, 99) * 1000, 1),
            "max_ms": round(max(seconds) * 1000, 1),
            "mean_ms": round(statistics.fmean(seconds) * 1000, 1)}


def fmt_ms(summary):
    if not summary:
        return "-"
    def one(v):
        return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms"
    return f"p50 {one(summary['p50_ms'])}, p99 {one(summary['p99_ms'])}"


# ------------------------------------------------------------------------- run


class State:
    def __init__(self, items, seed):
        self.items = items          # [(kind, weight, [Item])]
        self.rng = random.Random(seed)
        self.kinds = [k for k, _, _ in items]
        self.weights = [w for _, w, _ in items]
        self.by_kind = {k: its for k, _, its in items}
        self.accepted = []          # dicts
        self.rejected = collections.Counter()   # (status, code) -> n
        self.rejected_examples = []
        self.errors = collections.Counter()     # exception name -> n
        self.error_examples = []
        self.events = {}            # job_id -> (monotonic received, status)
        self.event_count = 0
        self.sse_errors = []
        self.sent = 0

    def next_item(self):
        kind = self.rng.choices(self.kinds, self.weights)[0]
        return self.rng.choice(self.by_kind[kind])


async def watch_events(session, base_url, token, state, opened):
    """Reads GET /api/events for one user; records when each job finished."""
    import aiohttp
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    while True:
        try:
            async with session.get(f"{base_url}/api/events", headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=None,
                                                                 sock_read=None)) as resp:
                if resp.status != 200:
                    state.sse_errors.append(f"GET /api/events: {resp.status}")
                    opened.set()
                    return
                opened.set()
                name, data = None, []
                async for raw in resp.content:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
                    elif line == "":
                        if name == "job" and data:
                            now = time.monotonic()
                            state.event_count += 1
                            try:
                                event = json.loads("\n".join(data))
                            except ValueError:
                                event = {}
                            if event.get("status") in ("succeeded", "dead"):
                                state.events.setdefault(event.get("job_id"),
                                                        (now, event.get("status")))
                        name, data = None, []
                state.sse_errors.append("the event stream ended; reconnecting")
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure is reported, then retried
            state.sse_errors.append(f"event stream: {type(e).__name__}: {e}")
            opened.set()
            await asyncio.sleep(1)


async def uploader(n, session, base_url, tokens, state, t_start, deadline, rate, counter):
    import aiohttp
    token = tokens[n % len(tokens)]
    url = f"{base_url}/api/upload"
    while True:
        if rate:
            # Paced: upload number i is due at t_start + i / rate.
            i = next(counter)
            due = t_start + i / rate
            if due >= deadline:
                return
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        elif time.monotonic() >= deadline:
            return
        item = state.next_item()
        state.sent += 1
        body = item.body(state.sent)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": item.content_type}
        t0 = time.monotonic()
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                raw = await resp.read()
                status = resp.status
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            state.errors[type(e).__name__] += 1
            if len(state.error_examples) < 5:
                state.error_examples.append(f"{item.name}: {type(e).__name__}: {e}")
            await asyncio.sleep(0.1)  # a server that refuses at once must not spin us
            continue
        t1 = time.monotonic()
        if status == 202:
            body = json.loads(raw)
            jobs = body.get("jobs", [])
            thumb = next((j["id"] for j in jobs if j["processor"] in THUMBNAIL_PROCESSORS),
                         None)
            state.accepted.append({
                "kind": item.kind, "name": item.name, "bytes": item.size,
                "sent": t0, "answered": t1, "answered_wall": time.time(),
                "file_id": body["file"]["id"], "jobs": [j["id"] for j in jobs],
                "processors": [j["processor"] for j in jobs], "thumbnail_job": thumb,
            })
        else:
            try:
                code = json.loads(raw)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = raw[:80].decode(errors="replace")
            state.rejected[(status, code)] += 1
            if len(state.rejected_examples) < 5:
                state.rejected_examples.append(f"{item.name}: {status} {raw[:200]!r}")


async def sample(cluster, s3_pid, db_url, state, samples, stop):
    """Every second: load average, each process' RSS; every 2 s the job backlog
    (database) and the length of the Redis job stream."""
    procs = {p.name: p.pid for p in cluster.procs}
    if s3_pid:
        procs["s3s-fs"] = s3_pid
    t0 = time.monotonic()
    tick = 0
    while not stop.is_set():
        row = {"t": round(time.monotonic() - t0, 1), "load1": os.getloadavg()[0],
               "accepted": len(state.accepted)}
        for name, pid in procs.items():
            mem = pid_memory_mb(pid)
            if mem:
                row[f"rss_{name}"] = mem.get("rss")
        if tick % 2 == 0:
            try:
                proc = await asyncio.create_subprocess_exec(
                    "redis-cli", "-u", cluster.redis_url, "XLEN", f"{cluster.namespace}:jobs",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
                out, _ = await proc.communicate()
                row["stream_len"] = int(out.decode().strip())
            except (OSError, ValueError):
                pass
            try:
                proc = await asyncio.create_subprocess_exec(
                    "psql", db_url, "-X", "-q", "-A", "-t", "-F", "\t", "-c",
                    "SELECT count(*) FILTER (WHERE status IN ('queued','retrying')), "
                    "count(*) FILTER (WHERE status = 'running'), "
                    "count(*) FILTER (WHERE status IN ('succeeded','dead')) "
                    "FROM processing_jobs",
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
                out, _ = await proc.communicate()
                waiting, running, done = (int(x) for x in out.decode().split("\t"))
                row.update({"jobs_waiting": waiting, "jobs_running": running,
                            "jobs_done": done})
            except (OSError, ValueError):
                pass
        samples.append(row)
        tick += 1
        try:
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        except asyncio.TimeoutError:
            pass


def database_backends_cpu(db_name):
    """CPU seconds of the PostgreSQL backends serving `db_name` (processes whose
    title names it), and of redis-server (shared with anything else using it)."""
    pg = redis = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and f" {db_name} " in title:
            pg += pid_cpu_seconds(int(pid)) or 0.0
        elif title.startswith("redis-server"):
            redis += pid_cpu_seconds(int(pid)) or 0.0
    return {"postgres (this database)": pg, "redis-server": redis}


def unfinished_jobs(db_url):
    rows = psql_rows(db_url, "SELECT count(*) FROM processing_jobs "
                             "WHERE status NOT IN ('succeeded', 'dead')")
    return int(rows[0][0])


async def load(args, cluster, tokens, state, s3_pid):
    import aiohttp
    base_url = f"http://127.0.0.1:{cluster.port}"
    connector = aiohttp.TCPConnector(limit=args.concurrency + len(tokens) + 4,
                                     force_close=False)
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    samples = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        watchers, opened = [], []
        for token in tokens:
            ev = asyncio.Event()
            opened.append(ev)
            watchers.append(asyncio.create_task(
                watch_events(session, base_url, token, state, ev)))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened)), 30)
        if state.sse_errors:
            raise BenchError("cannot watch events: " + "; ".join(state.sse_errors))

        stop_sampling = asyncio.Event()
        sampler = asyncio.create_task(sample(cluster, s3_pid, cluster.db_url, state, samples,
                                             stop_sampling))
        procs = cluster.procs

        def memory_now():
            """RSS and peak RSS of every Kiln process, its processor children
            (summed per worker) and the S3 server."""
            memory = {p.name: p.memory_mb() for p in procs}
            for p in procs:
                children = [pid_memory_mb(pid) for pid in child_pids(p.pid)]
                if children:
                    memory[f"{p.name} children"] = {
                        "rss": round(sum(c["rss"] for c in children if c), 1),
                        "hwm": round(sum(c["hwm"] for c in children if c), 1),
                        "processes": len(children)}
            if s3_pid:
                memory["s3s-fs"] = pid_memory_mb(s3_pid)
            return memory

        def cpu_seconds():
            """CPU seconds so far of every Kiln process, the S3 server and the database."""
            spent = {p.name: p.cpu_seconds() for p in procs}
            if s3_pid:
                spent["s3s-fs"] = pid_cpu_seconds(s3_pid)
            spent.update(database_backends_cpu(cluster.db))
            return spent

        # Idle, after the users signed up and in (password hashes) and before
        # the first upload.
        memory_idle_before = memory_now()
        cpu0 = cpu_seconds()
        machine0, client0 = cpu_times(), client_cpu()
        load_before = os.getloadavg()
        t_start = time.monotonic()
        wall_start = time.time()
        deadline = t_start + args.duration
        counter = iter(range(10 ** 9))
        await asyncio.gather(*(
            uploader(n, session, base_url, tokens, state, t_start, deadline, args.rate, counter)
            for n in range(args.concurrency)))
        t_uploaded = time.monotonic()
        wall_uploaded = time.time()
        machine_mid, client_mid = cpu_times(), client_cpu()
        cpu_mid = cpu_seconds()
        log(f"uploads stopped after {t_uploaded - t_start:.1f} s: {len(state.accepted)} "
            f"accepted; draining (up to {args.drain_timeout:.0f} s)")

        # Drain: until no job is unfinished.
        t_done = None
        drain_deadline = t_uploaded + args.drain_timeout
        last_note = time.monotonic()
        while time.monotonic() < drain_deadline:
            dead = [p.name for p in procs if not p.alive()]
            if dead:
                raise BenchError(f"{', '.join(dead)} exited during the run")
            left = await asyncio.to_thread(unfinished_jobs, cluster.db_url)
            if left == 0:
                t_done = time.monotonic()
                break
            if time.monotonic() - last_note > 15:
                log(f"  {left} jobs unfinished after {time.monotonic() - t_uploaded:.0f} s")
                last_note = time.monotonic()
            await asyncio.sleep(0.5)
        wall_done = time.time()
        machine1, client1 = cpu_times(), client_cpu()
        cpu1 = cpu_seconds()
        load_after = os.getloadavg()
        memory = memory_now()
        # The last thumbnails' events may still be on their way.
        wanted = {a["thumbnail_job"] for a in state.accepted if a["thumbnail_job"]}
        grace = time.monotonic() + 5
        while time.monotonic() < grace and not wanted <= state.events.keys():
            await asyncio.sleep(0.1)
        stop_sampling.set()
        await sampler
        for w in watchers:
            w.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        # Idle again: what the processes keep once the work is done.
        await asyncio.sleep(IDLE_AFTER_DRAIN)
        memory_idle_after = memory_now()

    def delta(a, b):
        return {k: (round(b[k] - a[k], 2) if a.get(k) is not None and b.get(k) is not None
                    else None) for k in b}

    return {
        "t_start": t_start, "t_uploaded": t_uploaded, "t_done": t_done,
        "wall_start": wall_start, "wall_uploaded": wall_uploaded, "wall_done": wall_done,
        "cpu_upload_phase": delta(cpu0, cpu_mid), "cpu_drain_phase": delta(cpu_mid, cpu1),
        "machine_busy_upload_phase": busy_percent(machine0, machine_mid),
        "machine_busy_drain_phase": busy_percent(machine_mid, machine1),
        "client_cpu_upload_phase": round(client_mid - client0, 2),
        "client_cpu_drain_phase": round(client1 - client_mid, 2),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "memory_mb": memory, "memory_idle_before_mb": memory_idle_before,
        "memory_idle_after_mb": memory_idle_after, "samples": samples,
    }


def database_report(db_url, wall_start, wall_uploaded):
    """Job outcomes, timings and variants, from the run's own database."""
    q = psql_rows
    jobs = {}
    for processor, status, n, retried in q(db_url, (
            "SELECT processor, status, count(*), count(*) FILTER (WHERE attempts > 1) "
            "FROM processing_jobs GROUP BY 1, 2 ORDER BY 1, 2")):
        jobs.setdefault(processor, {})[status] = int(n)
        jobs[processor]["retried"] = jobs[processor].get("retried", 0) + int(retried)
    timing = {}
    for row in q(db_url, (
            "SELECT processor, count(*), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)), "
            "sum(extract(epoch FROM finished_at - started_at)) "
            "FROM processing_jobs WHERE status = 'succeeded' GROUP BY 1 ORDER BY 1")):
        processor, n, run50, run99, wait50, wait99, run_sum = row
        timing[processor] = {"n": int(n), "run_p50_ms": round(float(run50) * 1000, 1),
                             "run_p99_ms": round(float(run99) * 1000, 1),
                             "queue_wait_p50_ms": round(float(wait50) * 1000, 1),
                             "queue_wait_p99_ms": round(float(wait99) * 1000, 1),
                             "run_seconds_total": round(float(run_sum), 1)}
    finished = q(db_url, (
        "SELECT count(*) FILTER (WHERE extract(epoch FROM finished_at) <= {u}), "
        "count(*) FILTER (WHERE extract(epoch FROM finished_at) > {u}), "
        "max(extract(epoch FROM finished_at)) "
        "FROM processing_jobs WHERE status IN ('succeeded', 'dead')").format(u=wall_uploaded))[0]
    # When 99 % of the jobs had finished, counted from the start: the drain without
    # its tail (jobs waiting out a lease after their worker could not record them).
    p99_finished = q(db_url, (
        "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at)) "
        "FROM processing_jobs WHERE finished_at IS NOT NULL"))[0][0]
    server_thumb = {}
    for job_id, created, ended in q(db_url, (
            "SELECT id, extract(epoch FROM created_at), extract(epoch FROM finished_at) "
            "FROM processing_jobs WHERE processor IN ('thumbnail', 'pdf_thumbnail') "
            "AND finished_at IS NOT NULL")):
        server_thumb[job_id] = (float(created), float(ended))
    files = dict((s, int(n)) for s, n in q(db_url, (
        "SELECT status, count(*) FROM files GROUP BY 1")))
    variants, distinct = (int(x) for x in q(db_url, (
        "SELECT count(*), count(DISTINCT (file_id, name)) FROM file_variants"))[0])
    dead_errors = [f"{p}: {e}" for p, e in q(db_url, (
        "SELECT processor, error FROM processing_jobs WHERE status = 'dead' LIMIT 5"))]
    return {"jobs": jobs, "timing": timing,
            "finished_during_upload": int(finished[0]),
            "finished_during_drain": int(finished[1]),
            "last_finished_wall": float(finished[2]) if finished[2] else None,
            "p99_finished_wall": float(p99_finished) if p99_finished else None,
            "server_thumb": server_thumb, "files": files, "variants": variants,
            "variants_distinct": distinct, "dead_errors": dead_errors}


def child_pids(pid):
    """The direct children of a process (its `kiln processor` slots), from every
    thread's list: a child belongs to the thread that started it."""
    children = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return children


def reconciler_republished(log_text):
    """(rounds, jobs) of 'reconciliation republished jobs' in a process' log: queued
    jobs older than REQUEUE_AFTER, due retries and expired leases published again."""
    rounds = jobs = 0
    for line in log_text.splitlines():
        if "reconciliation republished jobs" in line:
            rounds += 1
            m = re.search(r"jobs=(\d+)", line)
            jobs += int(m.group(1)) if m else 0
    return {"rounds": rounds, "jobs": jobs}


def setup_users(client, n):
    """Registers n users; returns each one's access token (a JWT, good for JWT_TTL,
    an hour by default: personal API tokens would need a verified e-mail first)."""
    tokens = []
    run_tag = secrets.token_hex(4)
    for i in range(n):
        client.token = None
        login = register_and_sign_in(client, f"load-{run_tag}-{i}", f"Load {i}")
        tokens.append(login["access_token"])
    client.token = None
    return tokens


def start_private_s3(tmp):
    """A private s3s-fs through scripts/s3-server.sh; returns (env for it, s3 dict, pid)."""
    env = dict(os.environ, KILN_S3_DIR=os.path.join(tmp, "s3"), KILN_S3_PORT=str(free_port()),
               KILN_S3_BUCKET="kiln-loadtest", KILN_S3_ACCESS_KEY="kiln-loadtest",
               KILN_S3_SECRET_KEY="kiln-loadtest-" + secrets.token_hex(8))
    script = os.path.join(ROOT, "scripts", "s3-server.sh")
    r = subprocess.run(["bash", script, "start"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"s3-server.sh start failed: {r.stderr.strip()[-800:]}")
    with open(env["KILN_S3_DIR"] + ".pid") as f:
        pid = int(f.read().strip())
    s3 = {"TEST_S3_ENDPOINT": f"http://127.0.0.1:{env['KILN_S3_PORT']}",
          "TEST_S3_ACCESS_KEY": env["KILN_S3_ACCESS_KEY"],
          "TEST_S3_SECRET_KEY": env["KILN_S3_SECRET_KEY"],
          "TEST_S3_BUCKET": env["KILN_S3_BUCKET"]}
    return env, s3, pid


def stop_private_s3(env):
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "s3-server.sh"), "stop"], env=env,
                   capture_output=True, text=True)


def other_cpu(busy_percent, seconds, measured, client):
    """Busy CPU seconds of the machine not accounted for by the measured processes."""
    if busy_percent is None:
        return None
    total = busy_percent / 100 * (os.cpu_count() or 1) * seconds
    return round(total - sum(v for v in measured.values() if v) - client, 1)


def summarize(args, state, timing, db, cluster, items):
    accepted = state.accepted
    upload_s = timing["t_uploaded"] - timing["t_start"]
    drain_s = (timing["t_done"] - timing["t_uploaded"]) if timing["t_done"] else None
    total_jobs = sum(len(a["jobs"]) for a in accepted)
    lat = [a["answered"] - a["sent"] for a in accepted]
    # Upload accepted -> thumbnail event received (client's view), and the server's.
    client_thumb, server_thumb, missed = [], [], 0
    per_kind = collections.defaultdict(lambda: {"lat": [], "thumb": [], "bytes": 0, "n": 0})
    for a in accepted:
        k = per_kind[a["kind"]]
        k["n"] += 1
        k["bytes"] += a["bytes"]
        k["lat"].append(a["answered"] - a["sent"])
        job = a["thumbnail_job"]
        if not job:
            continue
        ev = state.events.get(job)
        if ev and ev[1] == "succeeded":
            v = max(0.0, ev[0] - a["answered"])
            client_thumb.append(v)
            k["thumb"].append(v)
        else:
            missed += 1
        if job in db["server_thumb"]:
            created, ended = db["server_thumb"][job]
            server_thumb.append(ended - created)
    finished = db["finished_during_upload"] + db["finished_during_drain"]
    samples = timing["samples"]
    waiting = [s["jobs_waiting"] for s in samples if "jobs_waiting" in s]
    at_upload_end = next((s.get("jobs_waiting") for s in reversed(samples)
                          if s["t"] <= upload_s and "jobs_waiting" in s), None)
    rss_peak = {}
    for s in samples:
        for key, v in s.items():
            if key.startswith("rss_") and v is not None:
                rss_peak[key[4:]] = max(rss_peak.get(key[4:], 0), v)
    commit, dirty = git_commit()
    result = {
        "config": {"duration_s": args.duration, "concurrency": args.concurrency,
                   "users": args.users, "workers": args.workers,
                   "worker_concurrency": args.worker_concurrency or 4,
                   "rate": args.rate, "seed": args.seed,
                   "kiln_env": args.kiln_env},
        "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(), "memory": memory_total(),
                    "commit": commit, "uncommitted_changes": dirty,
                    "load_before": timing["load_before"], "load_after": timing["load_after"]},
        "uploads": {"sent": state.sent, "accepted": len(accepted),
                    "rejected": dict((f"{s} {c}", n) for (s, c), n in state.rejected.items()),
                    "rejected_examples": state.rejected_examples,
                    "errors": dict(state.errors), "error_examples": state.error_examples,
                    "seconds": round(upload_s, 2),
                    "per_s": round(len(accepted) / upload_s, 1) if upload_s else None,
                    "bytes_per_s": round(sum(a["bytes"] for a in accepted) / upload_s)
                    if upload_s else None,
                    "latency": ms_summary(lat)},
        "jobs": {"total": total_jobs, "by_processor_status": db["jobs"],
                 "finished_during_upload": db["finished_during_upload"],
                 "finished_during_drain": db["finished_during_drain"],
                 "per_s_during_upload": round(db["finished_during_upload"] / upload_s, 1)
                 if upload_s else None,
                 "drain_seconds": round(drain_s, 2) if drain_s is not None else None,
                 "per_s_during_drain": round(db["finished_during_drain"] / drain_s, 1)
                 if drain_s else None,
                 "per_s_overall": round(finished / (timing["t_done"] - timing["t_start"]), 1)
                 if timing["t_done"] else None,
                 "drained": timing["t_done"] is not None,
                 "p99_finished_s": round(db["p99_finished_wall"] - timing["wall_start"], 1)
                 if db["p99_finished_wall"] else None,
                 "per_s_to_p99": round(0.99 * total_jobs / (db["p99_finished_wall"]
                                                            - timing["wall_start"]), 1)
                 if db["p99_finished_wall"] else None,
                 "backlog_max": max(waiting) if waiting else None,
                 "backlog_at_upload_end": at_upload_end,
                 "stream_len_max": max((s["stream_len"] for s in samples if "stream_len" in s),
                                       default=None),
                 "timing_by_processor": db["timing"], "dead_errors": db["dead_errors"]},
        "thumbnail": {"client": ms_summary(client_thumb), "server": ms_summary(server_thumb),
                      "events_missed": missed, "events_received": state.event_count,
                      "sse_errors": state.sse_errors[:5]},
        "files": db["files"], "variants": db["variants"],
        "variants_distinct": db["variants_distinct"],
        "per_kind": {k: {"uploads": v["n"], "mean_bytes": round(v["bytes"] / v["n"]),
                         "latency": ms_summary(v["lat"]), "thumbnail": ms_summary(v["thumb"])}
                     for k, v in sorted(per_kind.items())},
        "cpu_seconds": {"upload_phase": timing["cpu_upload_phase"],
                        "other_upload_phase": other_cpu(
                            timing["machine_busy_upload_phase"], upload_s,
                            timing["cpu_upload_phase"], timing["client_cpu_upload_phase"]),
                        "other_drain_phase": other_cpu(
                            timing["machine_busy_drain_phase"],
                            timing["wall_done"] - timing["wall_uploaded"],
                            timing["cpu_drain_phase"], timing["client_cpu_drain_phase"]),
                        "drain_phase": timing["cpu_drain_phase"],
                        "client_upload_phase": timing["client_cpu_upload_phase"],
                        "client_drain_phase": timing["client_cpu_drain_phase"]},
        "machine_busy_percent": {"upload_phase": timing["machine_busy_upload_phase"],
                                 "drain_phase": timing["machine_busy_drain_phase"]},
        "memory_mb": {"end": timing["memory_mb"], "sampled_rss_peak": rss_peak,
                      "idle_before": timing["memory_idle_before_mb"],
                      "idle_after": timing["memory_idle_after_mb"]},
        "mix": {kind: [{"file": it.name, "bytes": it.size} for it in its]
                for kind, _, its in items},
        "samples": samples,
    }
    return result


def print_report(r):
    c, u, j, t = r["config"], r["uploads"], r["jobs"], r["thumbnail"]
    m = r["machine"]
    print()
    print(f"Kiln load test: {c['duration_s']:g} s of uploads, {c['concurrency']} concurrent "
          f"client tasks" + (f" paced to {c['rate']:g}/s" if c["rate"] else " (closed loop)")
          + f", {c['users']} users with API tokens; 1 api + {c['workers']} workers x "
          f"WORKER_CONCURRENCY {c['worker_concurrency']}"
          + (f"; {' '.join(c['kiln_env'])}" if c["kiln_env"] else ""))
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']}; load average before "
          f"{m['load_before'][0]:.2f} / after {m['load_after'][0]:.2f} (1 min); commit "
          f"{m['commit']}{' + uncommitted changes' if m['uncommitted_changes'] else ''}")
    print()
    print(f"uploads accepted     {u['accepted']} of {u['sent']} in {u['seconds']:.1f} s = "
          f"{u['per_s']:.1f}/s ({u['bytes_per_s'] / 1e6:.1f} MB/s)")
    print(f"upload latency       {fmt_ms(u['latency'])}, max {u['latency']['max_ms'] / 1000:.2f} s"
          if u["latency"] else "upload latency       -")
    rej = ", ".join(f"{k}: {n}" for k, n in u["rejected"].items()) or "none"
    err = ", ".join(f"{k}: {n}" for k, n in u["errors"].items()) or "none"
    print(f"rejected / errors    {rej} / {err}")
    print(f"jobs                 {j['total']} queued by the accepted uploads")
    print(f"jobs done/s          {j['per_s_during_upload']}/s while uploading "
          f"({j['finished_during_upload']} jobs), "
          + (f"{j['per_s_during_drain']}/s in the drain ({j['finished_during_drain']} jobs "
             f"in {j['drain_seconds']:.1f} s), {j['per_s_overall']}/s overall"
             if j["drained"] else "NOT DRAINED within the timeout"))
    if j.get("p99_finished_s"):
        print(f"99% of jobs done     {j['p99_finished_s']} s after the first upload "
              f"({j['per_s_to_p99']} jobs/s up to then)")
    print(f"backlog              {j['backlog_at_upload_end']} jobs waiting when uploads "
          f"stopped (max {j['backlog_max']}); Redis stream length max "
          f"{j['stream_len_max']}")
    rep = j.get("reconciler_republished") or {}
    republished = sum(v["jobs"] for v in rep.values())
    print("republished          " + ", ".join(
        f"{n} {v['jobs']} jobs in {v['rounds']} rounds" for n, v in rep.items())
        + f" (reconciler: due retries, expired leases, entries the transport lost): "
          f"{(j['total'] + republished) / max(j['total'], 1):.3f} publishes per job")
    print(f"upload -> thumbnail  {fmt_ms(t['client'])} (SSE event received; "
          f"{t['events_missed']} missed); server view {fmt_ms(t['server'])}")
    statuses = collections.Counter()
    retried = 0
    for per in j["by_processor_status"].values():
        for s, n in per.items():
            if s == "retried":
                retried += n
            else:
                statuses[s] += n
    print(f"job outcomes         {dict(statuses)}, {retried} retried; files {r['files']}; "
          f"{r['variants']} variants ({r['variants_distinct']} distinct)")
    for e in j["dead_errors"]:
        print(f"  dead: {e}")
    print()
    print(f"{'kind':<11} {'uploads':>7} {'mean bytes':>10}  {'upload latency':<26} "
          f"{'upload -> thumbnail':<26}")
    for kind, v in r["per_kind"].items():
        print(f"{kind:<11} {v['uploads']:>7} {v['mean_bytes']:>10}  "
              f"{fmt_ms(v['latency']):<26} {fmt_ms(v['thumbnail']):<26}")
    print()
    print(f"{'processor':<14} {'jobs':>6} {'run p50':>9} {'run p99':>9} {'wait p50':>9} "
          f"{'wait p99':>9} {'slot s':>9}")
    for p, v in j["timing_by_processor"].items():
        print(f"{p:<14} {v['n']:>6} {v['run_p50_ms']:>7.0f}ms {v['run_p99_ms']:>7.0f}ms "
              f"{v['queue_wait_p50_ms'] / 1000:>8.1f}s {v['queue_wait_p99_ms'] / 1000:>8.1f}s "
              f"{v['run_seconds_total']:>9.1f}")
    print()
    cpu = r["cpu_seconds"]
    names = list(cpu["upload_phase"].keys())
    print("CPU seconds          " + ", ".join(
        f"{n} {cpu['upload_phase'][n]}+{cpu['drain_phase'][n]}" for n in names)
        + f", client {cpu['client_upload_phase']}+{cpu['client_drain_phase']} "
          "(upload phase + drain)")
    busy = r["machine_busy_percent"]
    print(f"machine CPU busy     {busy['upload_phase']}% while uploading, "
          f"{busy['drain_phase']}% in the drain; CPU seconds of everything else (other "
          f"PostgreSQL work, the samplers, other users of the machine): "
          f"{r['cpu_seconds']['other_upload_phase']}+{r['cpu_seconds']['other_drain_phase']}")
    mem = r["memory_mb"]
    print("peak RSS (VmHWM)     " + ", ".join(
        f"{n} {v['hwm']:.0f} MiB" for n, v in mem["end"].items() if v and "hwm" in v))
    for when, label in (("idle_before", "before the uploads"), ("idle_after", "after the drain")):
        print(f"RSS idle {label:<19}" + ", ".join(
            f"{n} {v['rss']:.0f} MiB" for n, v in mem[when].items() if v and "rss" in v))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=60, help="seconds of uploading")
    p.add_argument("--concurrency", type=int, default=16,
                   help="client tasks uploading at once (each waits for its answer)")
    p.add_argument("--users", type=int, default=4, help="accounts, each with an API token")
    p.add_argument("--rate", type=float, default=None,
                   help="pace uploads to this many per second overall (default: as fast as "
                        "the concurrency allows)")
    p.add_argument("--workers", type=int, default=2, help="`kiln worker` processes")
    p.add_argument("--worker-concurrency", type=int, default=None,
                   help="WORKER_CONCURRENCY of the workers (default: Kiln's own, 4)")
    p.add_argument("--seed", type=int, default=1, help="seed of the mix's PRNG")
    p.add_argument("--kiln-env", action="append", default=[], metavar="NAME=VALUE",
                   help="an extra variable for every Kiln process, e.g. REQUEUE_AFTER=10m "
                        "(repeatable)")
    p.add_argument("--binary", default="target/release/kiln")
    p.add_argument("--drain-timeout", type=float, default=900,
                   help="seconds to wait for the jobs after the uploads stop")
    p.add_argument("--request-timeout", type=float, default=120,
                   help="seconds before one upload counts as an error")
    p.add_argument("--corpus", default=default_corpus_dir(),
                   help="the processor benchmark's corpus (built if missing)")
    p.add_argument("--mix-dir", default="target/loadtest-corpus")
    p.add_argument("--rebuild-corpus", action="store_true", help="build the mix anew")
    p.add_argument("--log-level",
                   default="warn,kiln::startup=info,kiln::actors::dispatcher=info",
                   help="LOG_LEVEL of the Kiln processes")
    add_service_args(p, keep_help="keep the database, Redis keys and the S3 data directory")
    p.add_argument("--json", action="store_true",
                   help="also print the whole result (with the per-second samples) as JSON")
    args = p.parse_args()
    ensure_aiohttp(sys.argv[1:])

    def absolute(path):
        return path if os.path.isabs(path) else os.path.join(ROOT, path)
    args.binary = os.path.abspath(args.binary if os.path.exists(args.binary)
                                  else absolute(args.binary))
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"[loadtest] {args.binary} not found; build it: cargo build --release --bin kiln")
    kiln_env = {}
    for pair in args.kiln_env:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            sys.exit(f"[loadtest] --kiln-env wants NAME=VALUE, not {pair!r}")
        kiln_env[name] = value
    if args.concurrency < 1 or args.users < 1 or args.duration <= 0:
        sys.exit("[loadtest] --concurrency, --users and --duration must be positive")
    for tool in ("psql", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"[loadtest] {tool} not found (Debian: postgresql-client, redis-tools)")
    try:
        corpus = build_mix(absolute(args.mix_dir), absolute(args.corpus), args.rebuild_corpus)
    except BenchError as e:
        sys.exit(f"[loadtest] corpus: {e}")
    items = [(kind, weight, [Item(kind, path) for path in corpus[kind]]) for kind, weight in MIX]
    pdfium = os.path.join(ROOT, ".pdfium", "libpdfium.so")
    if not os.path.exists(pdfium):
        sys.exit(f"[loadtest] {pdfium} is missing; run `make pdfium`")

    log(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"{args.duration:g} s at concurrency {args.concurrency}, {args.users} users, "
        f"{args.workers} workers")
    if os.getloadavg()[0] > 1.0:
        log(f"warning: load average {os.getloadavg()[0]:.2f}: something else is using the "
            "CPUs; the figures will be lower than on an idle machine")
    tmp = tempfile.mkdtemp(prefix="kiln-loadtest-")
    s3_env_vars = None
    cluster = None
    ok = False
    result = None
    try:
        s3_env_vars, s3, s3_pid = start_private_s3(tmp)
        env = base_env(args.log_level, args.worker_concurrency)
        env.update(kiln_env)
        cluster = ServicesCluster(args.binary, tmp, env, args.workers, args.pg_admin_url,
                                  args.redis_url, s3, tag_prefix="kiln_loadtest",
                                  keep=args.keep)
        client = cluster.start()
        tokens = setup_users(client, args.users)
        state = State(items, args.seed)
        timing = asyncio.run(load(args, cluster, tokens, state, s3_pid))
        db = database_report(cluster.db_url, timing["wall_start"], timing["wall_uploaded"])
        result = summarize(args, state, timing, db, cluster, items)
        ok = True
    except (BenchError, OSError, subprocess.CalledProcessError, asyncio.TimeoutError) as e:
        detail = getattr(e, "stderr", None)
        log(f"failed: {type(e).__name__}: {e}" + (f": {detail.strip()}" if detail else ""))
    finally:
        warnings, republished = {}, {}
        if cluster:
            cluster.stop(ok)
            warnings = {p.name: p.warnings() for p in cluster.procs}
            republished = {p.name: reconciler_republished(p.log_text()) for p in cluster.procs}
            logs = os.path.join(ROOT, "target", "loadtest-logs", "last")
            shutil.rmtree(logs, ignore_errors=True)
            os.makedirs(logs, exist_ok=True)
            for p in cluster.procs:
                shutil.copyfile(p.stderr_path, os.path.join(logs, f"{p.name}.log"))
            cluster.cleanup()
        if s3_env_vars:
            if os.path.exists(s3_env_vars["KILN_S3_DIR"] + ".log"):
                os.makedirs(os.path.join(ROOT, "target", "loadtest-logs", "last"),
                            exist_ok=True)
                shutil.copyfile(s3_env_vars["KILN_S3_DIR"] + ".log",
                                os.path.join(ROOT, "target", "loadtest-logs", "last",
                                             "s3s-fs.log"))
            stop_private_s3(s3_env_vars)
        if args.keep:
            log(f"kept {tmp} (S3 data, process logs)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if result is None:
        sys.exit(1)
    result["log_warnings"] = {n: {"count": len(w), "first": w[:5]} for n, w in warnings.items()}
    result["jobs"]["reconciler_republished"] = republished
    print_report(result)
    for name, w in result["log_warnings"].items():
        if w["count"]:
            print(f"{name}: {w['count']} WARN/ERROR log lines, e.g. {w['first'][0]}")
    if args.json:
        print(json.dumps(result, indent=2))
    u, j = result["uploads"], result["jobs"]
    dead = sum(per.get("dead", 0) for per in j["by_processor_status"].values())
    failed = (u["rejected"] or u["errors"] or not j["drained"] or dead
              or result["files"].get("ready", 0) != u["accepted"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
