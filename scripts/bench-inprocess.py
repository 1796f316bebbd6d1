#!/usr/bin/env python3
"""In-process thumbnails on one core: Kiln's `thumbnail` processor against libvips
through pyvips, on the camera-like corpus.

`scripts/bench-processors.py` times whole processes, where start-up and the
threads each tool may start count. This one compares the work itself, per core:
both run in a process pinned to CPU 0 (`taskset -c 0`), on a file already in
memory, writing the JPEG to memory.

  Kiln    the criterion group `thumbnail-camera` (benches/processors.rs):
          `processing::run("thumbnail", {})`, a 300-px JPEG at q85; criterion's
          median per input. Pinned to one core, the restart-marker decoder finds
          one CPU and decodes in one band.
  libvips `pyvips.Image.thumbnail_buffer(data, 300, height=300)` then
          `jpegsave_buffer(Q=85)`, as vipsthumbnail -s 300x300 does; VIPS_CONCURRENCY=1
          and the operation cache off (a repeated call would otherwise be a cache
          hit). The median of --repeat runs after two warm-ups.

The two alternate for --rounds rounds (Kiln first in odd rounds); each input's time
is the median over rounds. Goal: Kiln's throughput per core at least 1.3x libvips'
(libvips' time / Kiln's >= 1.3) on every input.

Needs pyvips (installed with pip when missing; it binds Debian's libvips in ABI
mode) and what the corpus needs (scripts/kiln_bench/corpus.py).

Usage:
  python3 scripts/bench-inprocess.py [--rounds 2] [--repeat 15] [--corpus DIR] [--json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from kiln_bench.common import ROOT, BenchError, cpu_model, git_commit, log, set_log_prefix
from kiln_bench.corpus import build_corpus, default_corpus_dir, ensure_packages

GOAL = 1.3
CRITERION_GROUP = "thumbnail-camera"
PIN = ["taskset", "-c", "0"]

# Runs in its own interpreter under `taskset -c 0`, so libvips starts with the
# affinity and the concurrency already set; prints {file: median seconds}.
PYVIPS_RUNNER = r"""
import json, os, statistics, sys, time
os.environ["VIPS_CONCURRENCY"] = "1"
import pyvips
pyvips.cache_set_max(0)
files, repeat = json.loads(sys.argv[1]), int(sys.argv[2])
medians = {}
for path in files:
    data = open(path, "rb").read()
    def once():
        started = time.perf_counter()
        thumb = pyvips.Image.thumbnail_buffer(data, 300, height=300)
        out = thumb.jpegsave_buffer(Q=85)
        assert len(out) > 0
        return time.perf_counter() - started
    once(); once()
    medians[path] = statistics.median(once() for _ in range(repeat))
print(json.dumps({"vips": pyvips.version(0) * 100 + pyvips.version(1),
                  "medians": medians}))
"""


def ensure_pyvips():
    probe = [sys.executable, "-c", "import pyvips"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return
    log("installing pyvips with pip")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pyvips"],
                       capture_output=True, text=True)
    if r.returncode != 0 or subprocess.run(probe, capture_output=True).returncode != 0:
        raise BenchError(f"pyvips is not importable: {r.stderr.strip()[-300:]}")


def camera_files(manifest, corpus):
    files = [e["file"] for e in manifest["files"] if e["kind"].startswith("camera")]
    return [os.path.join(corpus, f) for f in sorted(files)]


def kiln_round(corpus):
    """criterion's median per input, in seconds, keyed by file stem."""
    env = dict(os.environ, KILN_BENCH_CORPUS=corpus)
    r = subprocess.run(PIN + ["cargo", "bench", "--bench", "processors", "--",
                              f"^{CRITERION_GROUP}/"],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"cargo bench failed: {r.stderr.strip()[-800:]}")
    medians = {}
    group_dir = os.path.join(ROOT, "target", "criterion", CRITERION_GROUP)
    for stem in os.listdir(group_dir):
        estimates = os.path.join(group_dir, stem, "new", "estimates.json")
        if os.path.exists(estimates):
            with open(estimates) as f:
                medians[stem] = json.load(f)["median"]["point_estimate"] / 1e9
    return medians


def vips_round(files, repeat):
    r = subprocess.run(PIN + [sys.executable, "-c", PYVIPS_RUNNER, json.dumps(files),
                              str(repeat)], capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"pyvips run failed: {r.stderr.strip()[-800:]}")
    result = json.loads(r.stdout)
    stems = {os.path.splitext(os.path.basename(p))[0]: t for p, t in result["medians"].items()}
    return result["vips"], stems


def main():
    set_log_prefix("bench-inprocess")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeat", type=int, default=15, help="timed pyvips runs per input and round")
    p.add_argument("--corpus", default=default_corpus_dir())
    p.add_argument("--json", action="store_true", help="also print one JSON document")
    args = p.parse_args()
    corpus = os.path.abspath(args.corpus)
    try:
        ensure_packages()
        ensure_pyvips()
        files = camera_files(build_corpus(corpus), corpus)
        log("building the criterion bench (cargo bench --no-run)")
        build = subprocess.run(["cargo", "bench", "--bench", "processors", "--no-run"],
                               cwd=ROOT, capture_output=True, text=True)
        if build.returncode != 0:
            raise BenchError(f"cargo bench --no-run failed: {build.stderr.strip()[-800:]}")
        kiln_rounds, vips_rounds, vips_version = [], [], None
        for round_number in range(args.rounds):
            order = ["kiln", "vips"] if round_number % 2 == 0 else ["vips", "kiln"]
            for who in order:
                log(f"round {round_number + 1}: {who}, load average {os.getloadavg()[0]:.2f}")
                if who == "kiln":
                    kiln_rounds.append(kiln_round(corpus))
                else:
                    vips_version, medians = vips_round(files, args.repeat)
                    vips_rounds.append(medians)
    except BenchError as err:
        sys.exit(f"[bench-inprocess] {err}")

    commit, dirty = git_commit()
    rows = []
    for path in files:
        stem = os.path.splitext(os.path.basename(path))[0]
        kiln = statistics.median(r[stem] for r in kiln_rounds)
        vips = statistics.median(r[stem] for r in vips_rounds)
        rows.append({"input": os.path.relpath(path, corpus), "kiln_ms": kiln * 1e3,
                     "pyvips_ms": vips * 1e3, "throughput_ratio": vips / kiln,
                     "pass": vips / kiln >= GOAL})
    print(f"\nIn process, one core (taskset -c 0): kiln {commit}"
          f"{' with uncommitted changes' if dirty else ''}, libvips "
          f"{vips_version // 100}.{vips_version % 100} through pyvips; {cpu_model()}; "
          f"{args.rounds} rounds\n")
    print(f"| input | Kiln ms | pyvips ms | Kiln / libvips throughput | goal >= {GOAL} |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['input']} | {row['kiln_ms']:.1f} | {row['pyvips_ms']:.1f} | "
              f"{row['throughput_ratio']:.2f}x | {'pass' if row['pass'] else 'FAIL'} |")
    if args.json:
        print(json.dumps({"commit": commit, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
