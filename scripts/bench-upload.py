#!/usr/bin/env python3
"""Large uploads: throughput and the api's memory for one big file.

Sends one file of --size bytes (default 2 GiB) through `POST /api/upload`, streamed
from a repeating 1 MiB block of random bytes behind a ZIP signature, so the client
never holds it and Kiln stores it as an allowed extra type (no jobs run). The
server's settings for the run: ALLOWED_EXTRA_TYPES=application/zip and
MAX_UPLOAD_SIZE above the size.

  embedded  `kiln serve`: SQLite + local storage in a temp DATA_DIR
  services  one `kiln api` on a fresh PostgreSQL database, Redis and the local S3
            server (own STORAGE_PREFIX); the object goes up as a multipart upload

Reported per run:
  seconds, MiB/s   first byte sent -> 202 received
  rss growth       the api's peak resident set (VmHWM) after the upload, less its
                   resident set (VmRSS) just before it: the goal is <= 64 MiB
  stored           the recorded size equals the bytes sent (the file is then deleted)

Usage:
  python3 scripts/bench-upload.py [--mode embedded|services|both] [--size 2GiB]
      [--repeat 1] [--binary target/release/kiln] [--json]

Services mode needs PostgreSQL, Redis and scripts/s3-server.sh's S3 server (as
bench-pipeline.py). Python 3 standard library only.
"""

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from kiln_bench.common import ROOT, BenchError, git_commit, log
from kiln_bench.services import (add_service_args, Client, Proc, ServicesCluster, base_env,
                                 finish, free_port, register_and_sign_in, s3_env, wait_ready)

BLOCK = 1 << 20
ZIP_SIGNATURE = b"PK\x03\x04"


def parse_size(text):
    m = re.fullmatch(r"(\d+)\s*(B|KiB|MiB|GiB)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 2GiB or 1048576")
    return int(m.group(1)) * {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20,
                              "GiB": 1 << 30}[m.group(2)]


def server_env(args):
    env = base_env(args.log_level)
    env["ALLOWED_EXTRA_TYPES"] = "application/zip"
    env["MAX_UPLOAD_SIZE"] = str(args.size + BLOCK)
    return env


def stream_upload(client, size):
    """POST /api/upload of `size` bytes, streamed; returns (seconds, status, body)."""
    block = bytearray(secrets.token_bytes(BLOCK))
    block[:len(ZIP_SIGNATURE)] = ZIP_SIGNATURE
    first = bytes(block)
    block[:len(ZIP_SIGNATURE)] = secrets.token_bytes(len(ZIP_SIGNATURE))
    rest = bytes(block)
    boundary = "----kiln-bench-" + secrets.token_hex(12)
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.zip\"\r\nContent-Type: application/zip\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=600)
    started = time.monotonic()
    conn.putrequest("POST", "/api/upload")
    conn.putheader("Authorization", f"Bearer {client.token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + size + len(tail)))
    conn.endheaders()
    conn.send(head)
    sent = 0
    while sent < size:
        chunk = first if sent == 0 else rest
        chunk = chunk[:size - sent]
        conn.send(chunk)
        sent += len(chunk)
    conn.send(tail)
    resp = conn.getresponse()
    data = resp.read()
    seconds = time.monotonic() - started
    conn.close()
    try:
        body = json.loads(data)
    except ValueError:
        body = data.decode(errors="replace")
    return seconds, resp.status, body


def measure(client, api, size):
    client.token = register_and_sign_in(client, "upload")["access_token"]
    before = api.memory_mb()
    seconds, status, body = stream_upload(client, size)
    after = api.memory_mb()
    if status != 202:
        raise BenchError(f"the upload answered {status}: {body}")
    stored = body["file"]["size_bytes"]
    if stored != size:
        raise BenchError(f"{size} bytes sent, {stored} recorded")
    client.expect(204, "DELETE", f"/api/files/{body['file']['id']}")
    return {
        "bytes": size,
        "seconds": round(seconds, 2),
        "mib_per_s": round(size / (1 << 20) / seconds, 1),
        "rss_before_mib": before["rss"],
        "peak_rss_mib": after["hwm"],
        "rss_growth_mib": round(after["hwm"] - before["rss"], 1),
    }


def bench_embedded(args):
    tmp = tempfile.mkdtemp(prefix="kiln-bench-upload-")
    procs = []
    ok = False
    try:
        port = free_port()
        env = server_env(args)
        env.update({"PORT": str(port), "DATA_DIR": os.path.join(tmp, "data")})
        procs.append(Proc("serve", [args.binary, "serve"], env, tmp))
        client = Client(port)
        wait_ready(client, procs)
        result = measure(client, procs[0], args.size)
        ok = True
        return result
    finally:
        finish(procs, ok)
        shutil.rmtree(tmp, ignore_errors=True)


def bench_services(args):
    tmp = tempfile.mkdtemp(prefix="kiln-bench-upload-")
    cluster = ServicesCluster(args.binary, tmp, server_env(args), 0, args.pg_admin_url,
                              args.redis_url, s3_env(), tag_prefix="kiln_upload", keep=args.keep)
    ok = False
    try:
        client = cluster.start()
        result = measure(client, cluster.procs[0], args.size)
        ok = True
        return result
    finally:
        cluster.stop(ok)
        cluster.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=("embedded", "services", "both"), default="both")
    p.add_argument("--size", type=parse_size, default=2 << 30, help="bytes (2GiB)")
    p.add_argument("--repeat", type=int, default=1, help="runs per mode; medians are printed")
    p.add_argument("--binary", default="target/release/kiln")
    p.add_argument("--log-level", default="warn,kiln::startup=info")
    add_service_args(p, keep_help="keep the services database and Redis keys")
    p.add_argument("--json", action="store_true", help="also print one JSON document")
    args = p.parse_args()
    if not os.path.isabs(args.binary):
        args.binary = os.path.join(ROOT, args.binary)
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"[bench] {args.binary} not found; build it: cargo build --release --bin kiln")

    modes = ["embedded", "services"] if args.mode == "both" else [args.mode]
    results = []
    failed = False
    for mode in modes:
        runs = []
        for n in range(args.repeat):
            log(f"{mode} run {n + 1}/{args.repeat}: one upload of {args.size} bytes")
            try:
                runs.append((bench_embedded if mode == "embedded" else bench_services)(args))
            except (BenchError, OSError, subprocess.CalledProcessError) as e:
                log(f"{mode} run {n + 1} failed: {e}")
                failed = True
                continue
            r = runs[-1]
            log(f"{mode}: {r['seconds']} s, {r['mib_per_s']} MiB/s, api RSS {r['rss_before_mib']}"
                f" -> peak {r['peak_rss_mib']} MiB (+{r['rss_growth_mib']} MiB)")
        if runs:
            results.append({
                "mode": mode,
                "runs": runs,
                "median_mib_per_s": statistics.median(r["mib_per_s"] for r in runs),
                "max_rss_growth_mib": max(r["rss_growth_mib"] for r in runs),
            })
    commit, dirty = git_commit()
    print()
    print(f"commit {commit}{' (with uncommitted changes)' if dirty else ''}; "
          f"{args.size} bytes through POST /api/upload")
    for r in results:
        verdict = "pass" if r["max_rss_growth_mib"] <= 64 else "MISSED"
        print(f"  {r['mode']:9} median {r['median_mib_per_s']} MiB/s; peak RSS growth "
              f"{r['max_rss_growth_mib']} MiB (goal <= 64 MiB: {verdict})")
    if args.json:
        print(json.dumps({"commit": commit, "dirty": dirty, "results": results}, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
