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

Dispatch latency (--dispatch N): light load instead, one upload at a time, each
waited for until its file is no longer `processing`, with a pause between. Dispatch
latency is a job's first claim (`started_at`) minus the commit that queued it
(`created_at`, taken just before the commit): p50 / p99 / max over every job.

Usage:
  python3 scripts/bench-pipeline.py [--mode embedded|services|both] [--files 200]
      [--concurrency 8] [--workers 2] [--worker-concurrency N] [--repeat 1]
      [--binary target/release/kiln] [--fixture tests/fixtures/small.jpg] [--json]

Services mode needs PostgreSQL (psql, trust auth), Redis and the S3 server of
scripts/s3-server.sh (`bash scripts/s3-server.sh start`); override with
--pg-admin-url, --redis-url and the TEST_S3_* variables (default: `s3-server.sh env`).
Python 3 standard library only; process and service helpers live in
scripts/kiln_bench/services.py (shared with scripts/loadtest.py).
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

from kiln_bench.common import ROOT, BenchError, log
from kiln_bench.services import (add_service_args, Client, Proc,
                                 ServicesCluster, base_env, busy_percent, client_cpu,
                                 cpu_delta, cpu_times, finish, free_port, multipart, parse_ts,
                                 register_and_sign_in, s3_env, wait_ready)


# --------------------------------------------------------------------------- bench


def unique(payload, i):
    """The i-th upload's bytes: the image and, after its end (which decoders
    ignore), its number, so that no upload is recognised as the same bytes as
    one stored before, which would need no job."""
    return payload + f"bench-{i}".encode()


def run_load(client, args, payload, filename_ext, content_type):
    """Register, log in, upload, wait. Returns the result dict (no cleanup)."""
    client.token = register_and_sign_in(client, "bench")["access_token"]

    def upload(i):
        body, ctype = multipart("file", f"bench-{i:05d}.{filename_ext}", content_type,
                                unique(payload, i))
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
        "machine_cpu_busy_percent": busy_percent(machine0, machine1),
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


def run_dispatch(client, args, payload, filename_ext, content_type):
    """Light load: one upload at a time; returns the jobs' dispatch latencies."""
    client.token = register_and_sign_in(client, "bench")["access_token"]
    dispatch, file_ids = [], []
    deadline = time.monotonic() + args.timeout
    for i in range(args.dispatch):
        body, ctype = multipart("file", f"light-{i:05d}.{filename_ext}", content_type,
                                unique(payload, i))
        accepted = client.expect(202, "POST", "/api/upload", body, {"Content-Type": ctype})
        file_id = accepted["file"]["id"]
        file_ids.append(file_id)
        while True:
            details = client.expect(200, "GET", f"/api/files/{file_id}")
            if details["file"]["status"] != "processing":
                break
            if time.monotonic() > deadline:
                raise BenchError(f"file {file_id} still processing after {args.timeout} s")
            time.sleep(0.01)
        for job in details["jobs"]:
            created, started = parse_ts(job.get("created_at")), parse_ts(job.get("started_at"))
            if job.get("attempts") == 1 and created and started:
                dispatch.append(started - created)
        time.sleep(args.dispatch_pause)
    dispatch.sort()

    def pct(p):
        return round(dispatch[min(len(dispatch) - 1, int(round(p / 100 * (len(dispatch) - 1))))]
                     * 1000, 2)
    return {"uploads": args.dispatch, "jobs": len(dispatch),
            "dispatch_ms": {"p50": pct(50), "p99": pct(99), "max": round(dispatch[-1] * 1000, 2)}
            if dispatch else None,
            "file_ids": file_ids}


def delete_files(client, file_ids):
    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for status, _ in pool.map(lambda fid: client.request("DELETE", f"/api/files/{fid}"),
                                  file_ids):
            failures += status != 204
    if failures:
        log(f"warning: {failures} DELETE /api/files/{{id}} calls did not return 204")


def workload(args):
    return run_dispatch if args.dispatch else run_load


def bench_embedded(args, payload, ext, ctype):
    tmp = tempfile.mkdtemp(prefix="kiln-bench-embedded-")
    procs = []
    ok = False
    try:
        port = free_port()
        env = base_env(args.log_level, args.worker_concurrency)
        env.update({"PORT": str(port), "DATA_DIR": os.path.join(tmp, "data")})
        procs.append(Proc("serve", [args.binary, "serve"], env, tmp))
        client = Client(port)
        wait_ready(client, procs)
        cpu0 = [p.cpu_seconds() for p in procs]
        result = workload(args)(client, args, payload, ext, ctype)
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
    cluster = ServicesCluster(args.binary, tmp, base_env(args.log_level, args.worker_concurrency),
                              args.workers, args.pg_admin_url, args.redis_url, s3_env(),
                              tag_prefix="kiln_bench", keep=args.keep)
    ok = False
    try:
        client = cluster.start()
        procs = cluster.procs
        cpu0 = [p.cpu_seconds() for p in procs]
        result = workload(args)(client, args, payload, ext, ctype)
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
        cluster.stop(ok)
        cluster.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


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
    add_service_args(p, keep_help="keep the services database, Redis keys and objects")
    p.add_argument("--dispatch", type=int, default=0, metavar="N",
                   help="measure dispatch latency instead: N uploads one at a time")
    p.add_argument("--dispatch-pause", type=float, default=0.05,
                   help="seconds between the uploads of --dispatch")
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
            log(f"{mode} run {n + 1}/{args.repeat}: "
                + (f"{args.dispatch} x {os.path.basename(fixture)} one at a time" if args.dispatch
                   else f"{args.files} x {os.path.basename(fixture)}"
                   f", {args.concurrency} client threads")
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
            if args.dispatch:
                print(f"{mode}: dispatch latency over {r['jobs']} jobs of {r['uploads']} uploads "
                      f"one at a time: {r['dispatch_ms']} ms", flush=True)
                continue
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
    for mode in [] if args.dispatch else modes:
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
