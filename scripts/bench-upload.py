#!/usr/bin/env python3
"""Large uploads: throughput and the api's memory for one big file.

Sends one file of --size bytes (default 2 GiB) through `POST /api/upload`, then
through tus (`/api/uploads`, PATCHes of --chunk bytes), streamed from a repeating
1 MiB block of random bytes behind a ZIP signature, so the client never holds it
and Kiln stores it as an allowed extra type (no jobs run). The server's settings
for the run: ALLOWED_EXTRA_TYPES=application/zip and MAX_UPLOAD_SIZE above the size.

Then the cost of resuming: a tus upload of --resume-size bytes whose connection is
cut halfway through a chunk, resumed with HEAD and a PATCH from the recorded
offset, against the same upload sent without a break.

  embedded  `kiln serve`: SQLite + local storage in a temp DATA_DIR
  services  one `kiln api` on a fresh PostgreSQL database, Redis and the local S3
            server (own STORAGE_PREFIX); the object goes up as a multipart upload

Reported per run and way (form, tus):
  seconds, MiB/s   first byte sent -> the last answer (202, or the last PATCH's 204)
  rss growth       the api's peak resident set (VmHWM) after the upload, less its
                   resident set (VmRSS) just before it: the goal is <= 64 MiB. The
                   form upload runs first, so the tus figure is a growth past it
  stored           the recorded size equals the bytes sent (the file is then deleted)
  resume           extra seconds of the broken upload over the unbroken one, and
                   the bytes sent twice (the lost part of the chunk in flight)

Usage:
  python3 scripts/bench-upload.py [--mode embedded|services|both] [--size 2GiB]
      [--chunk 64MiB] [--resume-size 256MiB] [--repeat 1]
      [--binary target/release/kiln] [--json]

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


def stream_upload(client, source, size):
    """POST /api/upload of `size` bytes, streamed; returns (seconds, status, body)."""
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
    for piece in source.chunks(0, size):
        conn.send(piece)
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


class Source:
    """The bytes of the benchmark's file, made on the fly: offset -> chunk."""

    def __init__(self):
        block = bytearray(secrets.token_bytes(BLOCK))
        block[:len(ZIP_SIGNATURE)] = ZIP_SIGNATURE
        self.first = bytes(block)
        block[:len(ZIP_SIGNATURE)] = secrets.token_bytes(len(ZIP_SIGNATURE))
        self.rest = bytes(block)

    def chunks(self, start, end):
        """The bytes from `start` to `end`, in pieces of at most one block."""
        at = start
        while at < end:
            block = self.first if at < BLOCK else self.rest
            piece = block[at % BLOCK:min(BLOCK, at % BLOCK + end - at)]
            yield piece
            at += len(piece)


def tus_request(client, method, path, headers=None, source=None, span=None, cut_after=None):
    """One tus request, its body streamed from `source` over `span`; with
    `cut_after`, the connection is closed once that many body bytes are sent.
    Returns (status, headers) or None when cut."""
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=600)
    conn.putrequest(method, path)
    conn.putheader("Authorization", f"Bearer {client.token}")
    conn.putheader("Tus-Resumable", "1.0.0")
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    if span:
        conn.putheader("Content-Type", "application/offset+octet-stream")
        conn.putheader("Content-Length", str(span[1] - span[0]))
    conn.endheaders()
    sent = 0
    if span:
        for piece in source.chunks(*span):
            if cut_after is not None and sent + len(piece) > cut_after:
                conn.send(piece[:cut_after - sent])
                conn.close()
                return None
            conn.send(piece)
            sent += len(piece)
    resp = conn.getresponse()
    resp.read()
    result = resp.status, {k.lower(): v for k, v in resp.getheaders()}
    conn.close()
    return result


def tus_upload(client, source, size, chunk, cut_at=None):
    """Uploads `size` bytes with tus in PATCHes of `chunk`; with `cut_at`, the
    connection of the chunk holding that offset is cut there and the upload
    resumed (HEAD, then PATCH from the offset the server has). Returns
    (seconds, file id, bytes sent twice)."""
    started = time.monotonic()
    status, headers = tus_request(client, "POST", "/api/uploads", {"Upload-Length": str(size)})
    if status != 201:
        raise BenchError(f"tus creation answered {status}")
    path = headers["location"]
    offset, resent, file_id = 0, 0, None
    while offset < size:
        end = min(size, offset + chunk)
        cut = cut_at - offset if cut_at is not None and offset <= cut_at < end else None
        answer = tus_request(client, "PATCH", path, {"Upload-Offset": str(offset)}, source,
                             (offset, end), cut_after=cut)
        if answer is None:
            cut_at = None
            while True:  # the cut request's lease may still hold the upload
                status, headers = tus_request(client, "HEAD", path)
                if status != 200:
                    raise BenchError(f"HEAD answered {status}")
                recorded = int(headers["upload-offset"])
                probe = tus_request(client, "PATCH", path, {"Upload-Offset": str(recorded)},
                                    source, (recorded, recorded))
                if probe[0] != 423:
                    break
                time.sleep(0.2)
            resent += (offset + cut) - recorded
            offset = recorded
            continue
        status, headers = answer
        if status != 204:
            raise BenchError(f"PATCH at {offset} answered {status}")
        offset = int(headers["upload-offset"])
        file_id = headers.get("kiln-file-id", file_id)
    return time.monotonic() - started, file_id, resent


def speed_and_memory(size, seconds, before, after):
    """One upload's figures: its speed, and the api's memory before and at peak."""
    return {
        "seconds": round(seconds, 2),
        "mib_per_s": round(size / (1 << 20) / seconds, 1),
        "rss_before_mib": before["rss"],
        "peak_rss_mib": after["hwm"],
        "rss_growth_mib": round(after["hwm"] - before["rss"], 1),
    }


def measure(client, api, args):
    size = args.size
    client.token = register_and_sign_in(client, "upload")["access_token"]
    results = {}
    source = Source()
    before = api.memory_mb()
    seconds, status, body = stream_upload(client, source, size)
    after = api.memory_mb()
    if status != 202:
        raise BenchError(f"the upload answered {status}: {body}")
    stored = body["file"]["size_bytes"]
    if stored != size:
        raise BenchError(f"{size} bytes sent, {stored} recorded")
    client.expect(204, "DELETE", f"/api/files/{body['file']['id']}")
    results["form"] = speed_and_memory(size, seconds, before, after)

    before = api.memory_mb()
    seconds, file_id, _ = tus_upload(client, source, size, args.chunk)
    after = api.memory_mb()
    stored = client.expect(200, "GET", f"/api/files/{file_id}")["file"]["size_bytes"]
    if stored != size:
        raise BenchError(f"{size} bytes sent by tus, {stored} recorded")
    client.expect(204, "DELETE", f"/api/files/{file_id}")
    results["tus"] = speed_and_memory(size, seconds, before, after)

    small = args.resume_size
    whole, whole_id, _ = tus_upload(client, source, small, args.chunk)
    client.expect(204, "DELETE", f"/api/files/{whole_id}")
    broken, broken_id, resent = tus_upload(client, source, small, args.chunk,
                                           cut_at=small // 2 + args.chunk // 2)
    client.expect(204, "DELETE", f"/api/files/{broken_id}")
    results["resume"] = {
        "bytes": small,
        "unbroken_seconds": round(whole, 2),
        "broken_seconds": round(broken, 2),
        "extra_seconds": round(broken - whole, 2),
        "resent_mib": round(resent / (1 << 20), 1),
    }
    return results


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
        result = measure(client, procs[0], args)
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
        result = measure(client, cluster.procs[0], args)
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
    p.add_argument("--chunk", type=parse_size, default=64 << 20, help="tus PATCH size (64MiB)")
    p.add_argument("--resume-size", type=parse_size, default=256 << 20,
                   help="bytes of the resume measurement (256MiB)")
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
            for way in ("form", "tus"):
                w = r[way]
                log(f"{mode} {way}: {w['seconds']} s, {w['mib_per_s']} MiB/s, api RSS "
                    f"{w['rss_before_mib']} -> peak {w['peak_rss_mib']} MiB "
                    f"(+{w['rss_growth_mib']} MiB)")
            z = r["resume"]
            log(f"{mode} resume: {z['bytes']} bytes in {z['unbroken_seconds']} s unbroken, "
                f"{z['broken_seconds']} s cut once ({z['extra_seconds']:+} s, "
                f"{z['resent_mib']} MiB sent twice)")
        if runs:
            results.append({"mode": mode, "runs": runs})
    commit, dirty = git_commit()
    print()
    print(f"commit {commit}{' (with uncommitted changes)' if dirty else ''}; "
          f"{args.size} bytes per upload; tus in PATCHes of {args.chunk} bytes")
    for r in results:
        for way in ("form", "tus"):
            speeds = [run[way]["mib_per_s"] for run in r["runs"]]
            growth = max(run[way]["rss_growth_mib"] for run in r["runs"])
            verdict = "pass" if growth <= 64 else "MISSED"
            print(f"  {r['mode']:9} {way:4} median {statistics.median(speeds)} MiB/s; peak RSS "
                  f"growth {growth} MiB (goal <= 64 MiB: {verdict})")
        extra = [run["resume"]["extra_seconds"] for run in r["runs"]]
        print(f"  {r['mode']:9} resume: median {statistics.median(extra):+} s for one cut "
              f"upload of {args.resume_size} bytes")
    if args.json:
        print(json.dumps({"commit": commit, "dirty": dirty, "results": results}, indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
