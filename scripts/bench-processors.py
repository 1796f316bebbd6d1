#!/usr/bin/env python3
"""Processor benchmark for Kiln: `kiln process` against libvips, cwebp and pdftoppm.

Builds a corpus from Debian packages into a cache directory (re-used while its
manifest matches), then runs each case on each input --repeat times, interleaved
(kiln, anchor, then anchor, kiln, ...: who goes first alternates), after one untimed
warm-up of each. Every timing is a whole process, spawn to exit, measured here; the
"took" that `kiln process` prints is not used. CPU time comes from wait4() per run;
peak RSS from the warm-up run under GNU time (a child's ru_maxrss starts at its
parent's size, so wait4 from this Python would inflate it).

  case            kiln process ...                  anchor                             goal
  thumbnail-12mp  thumbnail in.jpg out.jpg          vipsthumbnail in.jpg -s 300x300    <= 0.5x
  thumbnail-24mp    (the same, 24 MP inputs)          -o out.jpg[Q=85]                 <= 0.6x
  thumbnail-camera-12mp, -camera-24mp (camera-like inputs, below)                      <= 0.5x
  thumbnail-progressive (a progressive camera-like 12 MP)                              <= 0.6x
  thumbnail-444, thumbnail-restart (4:4:4; restart markers; camera-like 12 MP)         <= 0.5x
  resize          resize in.jpg outdir (default:    the sum of four `vips thumbnail    <= 0.4x
                    sm/md/lg/xl, 640..2560 wide)      in.jpg out.jpg[Q=85] W`, W = 640,
                                                      1024, 1920, 2560
  resize-camera     (the same, camera-like 12 MP inputs)                               <= 0.4x
  pdf_thumbnail   pdf_thumbnail in.pdf out.png      pdftoppm -scale-to 300 -f 1 -l 1   <= 0.6x
                                                      -png in.pdf out
  webp            webp in.jpg out.webp (lossy q80)  cwebp -q 80 in.jpg -o out.webp     <= 1.0x

Peak RSS goals: every thumbnail <= 32 MB; the resize set <= 64 MB; webp <= 1.2x
cwebp's.

ratio = median kiln time / median anchor time, per input; a case passes when every
input does. Also checked: kiln's peak RSS in the thumbnail cases (goal <= 32 MB); the
PSNR of kiln's and vipsthumbnail's 300-px thumbnails against a reference, the same
input reduced to the same size by a plain Lanczos3 over the full decode and never
JPEG-encoded (`vips resize --kernel lanczos3 --gap 0`, and Pillow's LANCZOS as well
when Pillow imports), goal: kiln no more than 1 dB below vips against each; and that
kiln's JPEGs are 4:2:0 (the sampling factors of their SOF marker). The anchors save
JPEG at Q=85, kiln's default quality, so both write the same kind of file (vips' own
default is Q=75).

Corpus (--corpus, default target/bench-corpus/; --rebuild-corpus to make it anew;
built by scripts/kiln_bench/corpus.py, which scripts/loadtest.py shares):
  photos/NAME-12mp.jpg, NAME-24mp.jpg  three mate-backgrounds photos (Storm 3:2,
      Wood 4:3, LadyBird 16:10), upscaled to 12 and 24 megapixels with
      `vips resize --kernel lanczos3`, saved Q=90 4:2:0 without metadata
  camera/  the same with seeded sensor-like noise, Q=92 4:2:0, about 2.5 bits per
      pixel as a camera's JPEGs; and a progressive, a 4:4:4 and a restart-marker one
  pdfs/  bash.pdf and bashref.pdf (bash-doc), debian-reference.en.pdf
      (debian-reference-en): text documents, rendered from page 1
Missing packages (libvips-tools webp poppler-utils time mate-backgrounds bash-doc
debian-reference-en) are apt-installed when running as root.

Exits 1 when a run fails (a tool exits non-zero); a missed goal is a result, printed
as FAIL, and exits 0.

Usage:
  python3 scripts/bench-processors.py [--repeat 7] [--quick] [--case NAME ...]
      [--binary target/release/kiln] [--corpus target/bench-corpus] [--json]

Needs PDFium for pdf_thumbnail (PDFIUM_LIBRARY, default .pdfium/libpdfium.so:
`bash scripts/install-pdfium.sh`). Python 3 standard library only; Pillow is optional
(the second PSNR reference): e.g. `python3 -m venv target/bench-venv &&
target/bench-venv/bin/pip install pillow`, then run the script with that python.
"""

import argparse
import dataclasses
import datetime
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

from kiln_bench.common import ROOT, BenchError, cpu_model, git_commit, log, memory_total
from kiln_bench.corpus import build_corpus, default_corpus_dir, first_line
from kiln_bench.corpus import ensure_packages as ensure_corpus_packages
from kiln_bench.quality import psnr, reference, to_ppm

# command -> the Debian package that has it
TOOLS = {"vips": "libvips-tools", "vipsthumbnail": "libvips-tools", "vipsheader":
         "libvips-tools", "cwebp": "webp", "pdftoppm": "poppler-utils", "time": "time"}

RESIZE_WIDTHS = (640, 1024, 1920, 2560)  # Kiln's sm, md, lg, xl
ANCHOR_JPEG = "[Q=85]"                   # Kiln's default JPEG quality
THUMBNAIL_BOX = 300
THUMBNAIL_RSS_GOAL_MB = 32
RESIZE_RSS_GOAL_MB = 64
WEBP_RSS_GOAL_RATIO = 1.2
PSNR_TOLERANCE_DB = 1.0

# The only variables passed on to kiln and the anchors (plus PDFIUM_LIBRARY and
# LOG_LEVEL), so neither a Kiln setting nor e.g. VIPS_CONCURRENCY changes a result.
PASSED_VARS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


# ------------------------------------------------------------------------- tools


def ensure_packages():
    """The anchors' tools and the corpus sources (apt-installed when root)."""
    ensure_corpus_packages(TOOLS)


def tool_versions():
    return {"vips": first_line(["vips", "--version"]),
            "cwebp": first_line(["cwebp", "-version"]),
            "pdftoppm": first_line(["pdftoppm", "-v"])}


# ------------------------------------------------------------------------- images


def jpeg_sampling(path):
    """The JPEG's chroma subsampling from its SOF marker: '4:2:0', '4:4:4', ... or a
    description of the factors when they are unusual."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\xff\xd8":
        return "not a JPEG"
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return "no SOF marker found"
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                      0xCE, 0xCF):
            n = data[pos + 9]
            factors = [(data[pos + 11 + 3 * i] >> 4, data[pos + 11 + 3 * i] & 15)
                       for i in range(n)]
            if n == 1:
                return "grayscale"
            (h0, v0), rest = factors[0], factors[1:]
            if n == 3 and all(f == (1, 1) for f in rest):
                return {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0",
                        (1, 2): "4:4:0"}.get((h0, v0), str(factors))
            return str(factors)
        pos += 2 + length
    return "no SOF marker found"


# --------------------------------------------------------------------- processes


def timed(argv, env, cwd):
    """Runs one whole process; returns (wall s, CPU s, stdout)."""
    out_path, err_path = os.path.join(cwd, "stdout.txt"), os.path.join(cwd, "stderr.txt")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err)
        # wait4 rather than Popen.wait: it also returns this one child's rusage.
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        with open(err_path, "rb") as f:
            detail = f.read().decode(errors="replace").strip()[-800:]
        raise BenchError(f"{' '.join(argv)} exited {p.returncode}: {detail}")
    with open(out_path, "rb") as f:
        return wall, usage.ru_utime + usage.ru_stime, f.read().decode(errors="replace")


def timed_all(argvs, env, cwd):
    """Runs several processes one after another; sums wall and CPU time."""
    wall = cpu = 0.0
    for argv in argvs:
        w, c, _ = timed(argv, env, cwd)
        wall, cpu = wall + w, cpu + c
    return wall, cpu


def peak_rss_mb(argvs, env, cwd):
    """Runs each process under GNU time; returns the largest peak RSS in MB (MiB).

    Linux starts a child's ru_maxrss at its parent's RSS (and with vfork, at the
    parent's peak), so wait4 from this Python process would report at least Python's
    own size. GNU time is small and forks the command itself, so its figure is the
    command's own."""
    peak = 0
    rss_path = os.path.join(cwd, "rss.txt")
    for argv in argvs:
        timed([shutil.which("time"), "-f", "%M", "-o", rss_path, *argv], env, cwd)
        with open(rss_path) as f:
            peak = max(peak, int(f.read().split()[-1]))
    return round(peak / 1024, 1)


@dataclasses.dataclass
class Case:
    name: str
    goal: float          # the largest acceptable ratio
    kind: str            # which corpus files: "photo-12mp", "camera-24mp", "pdf", ...
    kiln: object         # (input, out_dir) -> argv
    anchor: object       # (input, out_dir) -> [argv, ...], run one after another
    anchor_name: str
    rss_goal_mb: float = None     # kiln's largest acceptable peak RSS
    rss_goal_ratio: float = None  # ... or its largest ratio to the anchor's

    def rss_goal(self, anchor_rss_mb):
        """Kiln's largest acceptable peak RSS in MB next to this anchor, or None."""
        if self.rss_goal_ratio is not None:
            return round(self.rss_goal_ratio * anchor_rss_mb, 1)
        return self.rss_goal_mb


def cases(binary):
    def thumb_kiln(src, out):
        return [binary, "process", "thumbnail", src, os.path.join(out, "kiln.jpg")]

    def thumb_vips(src, out):
        return [["vipsthumbnail", src, "-s", f"{THUMBNAIL_BOX}x{THUMBNAIL_BOX}",
                 "-o", os.path.join(out, "vips.jpg") + ANCHOR_JPEG]]

    def thumbnail(name, goal, kind):
        return Case(name, goal, kind, thumb_kiln, thumb_vips, "vipsthumbnail",
                    rss_goal_mb=THUMBNAIL_RSS_GOAL_MB)

    def resize(name, kind):
        return Case(name, 0.4, kind,
                    lambda src, out: [binary, "process", "resize", src, os.path.join(out, "kiln")],
                    # `vips thumbnail` fits a W x W box; every corpus photo is landscape,
                    # so that is W wide, as Kiln's sizes are.
                    lambda src, out: [["vips", "thumbnail", src,
                                       os.path.join(out, f"vips-{w}.jpg") + ANCHOR_JPEG, str(w)]
                                      for w in RESIZE_WIDTHS],
                    "4 x vips thumbnail", rss_goal_mb=RESIZE_RSS_GOAL_MB)

    return [
        thumbnail("thumbnail-12mp", 0.5, "photo-12mp"),
        thumbnail("thumbnail-24mp", 0.6, "photo-24mp"),
        thumbnail("thumbnail-camera-12mp", 0.5, "camera-12mp"),
        thumbnail("thumbnail-camera-24mp", 0.5, "camera-24mp"),
        thumbnail("thumbnail-progressive", 0.6, "camera-progressive"),
        thumbnail("thumbnail-444", 0.5, "camera-444"),
        thumbnail("thumbnail-restart", 0.5, "camera-restart"),
        resize("resize", "photo-12mp"),
        resize("resize-camera", "camera-12mp"),
        Case("pdf_thumbnail", 0.6, "pdf",
             lambda src, out: [binary, "process", "pdf_thumbnail", src,
                               os.path.join(out, "kiln.png")],
             lambda src, out: [["pdftoppm", "-scale-to", str(THUMBNAIL_BOX), "-f", "1", "-l",
                                "1", "-png", src, os.path.join(out, "pdftoppm")]],
             "pdftoppm"),
        Case("webp", 1.0, "photo-12mp",
             lambda src, out: [binary, "process", "webp", src, os.path.join(out, "kiln.webp")],
             lambda src, out: [["cwebp", "-quiet", "-q", "80", src, "-o",
                                os.path.join(out, "cwebp.webp")]],
             "cwebp -q 80", rss_goal_ratio=WEBP_RSS_GOAL_RATIO),
    ]


def bench_env():
    env = {k: os.environ[k] for k in PASSED_VARS if k in os.environ}
    env["LOG_LEVEL"] = "warn"
    env["PDFIUM_LIBRARY"] = os.environ.get("PDFIUM_LIBRARY",
                                           os.path.join(ROOT, ".pdfium", "libpdfium.so"))
    return env


def bench_input(case, src, args, env, workdir):
    """Warm-up, then --repeat interleaved runs of each. Returns the measurements."""
    out = os.path.join(workdir, case.name, os.path.splitext(os.path.basename(src))[0])
    os.makedirs(out, exist_ok=True)
    kiln_argv, anchor_argvs = case.kiln(src, out), case.anchor(src, out)
    # Warm-up (page cache, PDFium load), which also measures peak RSS.
    rss = {"kiln": peak_rss_mb([kiln_argv], env, out),
           "anchor": peak_rss_mb(anchor_argvs, env, out)}
    samples = {"kiln": [], "anchor": []}
    for i in range(args.repeat):
        order = ("kiln", "anchor") if i % 2 == 0 else ("anchor", "kiln")
        for who in order:
            if who == "kiln":
                wall, cpu, kiln_stdout = timed(kiln_argv, env, out)
                samples[who].append((wall, cpu))
            else:
                samples[who].append(timed_all(anchor_argvs, env, out))
    result = {"case": case.name, "input": os.path.relpath(src, args.corpus),
              "kiln_command": " ".join(kiln_argv),
              "anchor_command": " && ".join(" ".join(a) for a in anchor_argvs),
              "kiln_output": kiln_stdout.strip().splitlines(), "out_dir": out}
    for who in ("kiln", "anchor"):
        walls = [s[0] for s in samples[who]]
        result[who] = {
            "median_ms": round(statistics.median(walls) * 1000, 1),
            "min_ms": round(min(walls) * 1000, 1),
            "max_ms": round(max(walls) * 1000, 1),
            "cpu_median_ms": round(statistics.median(s[1] for s in samples[who]) * 1000, 1),
            "peak_rss_mb": rss[who],
            "runs_ms": [round(w * 1000, 1) for w in walls],
        }
    result["ratio"] = round(result["kiln"]["median_ms"] / result["anchor"]["median_ms"], 3)
    result["goal"] = case.goal
    result["pass"] = result["ratio"] <= case.goal
    result["rss_goal_mb"] = case.rss_goal(rss["anchor"])
    result["rss_pass"] = result["rss_goal_mb"] is None or rss["kiln"] <= result["rss_goal_mb"]
    return result


def pillow_reference(src, width, height):
    """src reduced to width x height by Pillow's LANCZOS over the full decode, as RGB
    bytes: a second reference that shares no code with libvips. None without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return None
    with Image.open(src) as im:
        return im.convert("RGB").resize((width, height), Image.LANCZOS).tobytes()


def thumbnail_quality(r, src):
    """PSNR of kiln's and vipsthumbnail's thumbnails of src against Lanczos3 references
    of the same size (libvips', and Pillow's when it imports), and the JPEGs' chroma
    subsampling."""
    out = r["out_dir"]
    q = {"input": r["input"], "size": {}, "bytes": {}, "sampling": {}, "psnr_db": {}}
    pixels, refs = {}, {}
    for who, name in (("kiln", "kiln.jpg"), ("vips", "vips.jpg")):
        path = os.path.join(out, name)
        w, h, pixels[who] = to_ppm(path, path + ".ppm")
        q["size"][who] = f"{w}x{h}"
        q["bytes"][who] = os.path.getsize(path)
        q["sampling"][who] = jpeg_sampling(path)
        if (w, h) not in refs:
            refs[(w, h)] = {"vips": reference(src, w, h, os.path.join(out, f"ref-{w}x{h}.v"))[2]}
            by_pillow = pillow_reference(src, w, h)
            if by_pillow is not None:
                refs[(w, h)]["pillow"] = by_pillow
        for ref_name, ref in refs[(w, h)].items():
            q["psnr_db"].setdefault(ref_name, {})[who] = round(psnr(pixels[who], ref), 2)
    for scores in q["psnr_db"].values():
        scores["delta"] = round(scores["kiln"] - scores["vips"], 2)
    q["pass"] = (q["sampling"]["kiln"] == "4:2:0" and
                 all(s["delta"] >= -PSNR_TOLERANCE_DB for s in q["psnr_db"].values()))
    return q


# ------------------------------------------------------------------------ report


def machine():
    commit, dirty = git_commit()
    return {"nproc": os.cpu_count(), "cpu": cpu_model(), "memory": memory_total(),
            "kernel": platform.release(), "commit": commit,
            "uncommitted_changes": dirty, "tools": tool_versions(),
            "date": datetime.date.today().isoformat()}


def print_tables(results, quality, cases_by_name):
    print()
    print(f"{'case':<21} {'input':<34} {'kiln ms':>9} {'anchor ms':>10} {'ratio':>6} "
          f"{'goal':>6}  {'':<4} {'kiln CPU':>8} {'anch CPU':>8} {'kiln RSS':>8} "
          f"{'anch RSS':>8} {'RSS goal':>8}  anchor")
    for r in results:
        rss_goal = ("" if r["rss_goal_mb"] is None else
                    f"{r['rss_goal_mb']:.0f}MB {'ok' if r['rss_pass'] else 'FAIL'}")
        print(f"{r['case']:<21} {r['input']:<34} {r['kiln']['median_ms']:>9.1f} "
              f"{r['anchor']['median_ms']:>10.1f} {r['ratio']:>6.3f} {r['goal']:>5.1f}x  "
              f"{'ok' if r['pass'] else 'FAIL':<4} {r['kiln']['cpu_median_ms']:>8.1f} "
              f"{r['anchor']['cpu_median_ms']:>8.1f} {r['kiln']['peak_rss_mb']:>6.1f}MB "
              f"{r['anchor']['peak_rss_mb']:>6.1f}MB {rss_goal:>8}  "
              f"{cases_by_name[r['case']].anchor_name}")
    if quality:
        print(f"\nthumbnail PSNR against a Lanczos3 reduction of the full decode to the same "
              f"size (goal: kiln >= vips - {PSNR_TOLERANCE_DB:g} dB against every reference; "
              f"kiln's JPEG 4:2:0)")
        print(f"{'input':<34} {'reference':<9} {'kiln dB':>8} {'vips dB':>8} {'delta':>6}  "
              f"{'sizes kiln/vips':<17} {'bytes kiln/vips':<15} {'sampling':<11}")
        for q in quality:
            for ref_name, s in q["psnr_db"].items():
                print(f"{q['input']:<34} {ref_name:<9} {s['kiln']:>8.2f} {s['vips']:>8.2f} "
                      f"{s['delta']:>+6.2f}  {q['size']['kiln'] + '/' + q['size']['vips']:<17} "
                      f"{str(q['bytes']['kiln']) + '/' + str(q['bytes']['vips']):<15} "
                      f"{q['sampling']['kiln'] + '/' + q['sampling']['vips']:<11} "
                      f"{'ok' if s['delta'] >= -PSNR_TOLERANCE_DB else 'FAIL'}")
        bad = [q["input"] for q in quality if q["sampling"]["kiln"] != "4:2:0"]
        print("kiln JPEG chroma subsampling 4:2:0: "
              + ("ok" if not bad else f"FAIL ({', '.join(bad)})"))
        if all(len(q["psnr_db"]) == 1 for q in quality):
            print("(Pillow does not import here, so only libvips' reference is used)")
    print()
    for name, case in cases_by_name.items():
        rs = [r for r in results if r["case"] == name]
        if rs:
            worst = max(r["ratio"] for r in rs)
            print(f"{name}: worst ratio {worst:.3f} (median of per-input ratios "
                  f"{statistics.median(r['ratio'] for r in rs):.3f}), goal <= {case.goal:g}x: "
                  f"{'ok' if worst <= case.goal else 'FAIL'}"
                  + ("" if rs[0]["rss_goal_mb"] is None else
                     f"; peak RSS {max(r['kiln']['peak_rss_mb'] for r in rs):.1f} MB: "
                     + ("ok" if all(r["rss_pass"] for r in rs) else "FAIL")))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=7, help="timed runs of each tool per input")
    p.add_argument("--quick", action="store_true",
                   help="3 runs and the first input of each case only")
    p.add_argument("--case", action="append", dest="cases",
                   help="run only this case (repeatable): "
                        + ", ".join(c.name for c in cases("kiln")))
    p.add_argument("--binary", default="target/release/kiln")
    p.add_argument("--corpus", default=default_corpus_dir())
    p.add_argument("--rebuild-corpus", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the outputs (prints where)")
    p.add_argument("--json", action="store_true", help="also print one JSON document")
    args = p.parse_args()

    if args.quick:
        args.repeat = min(args.repeat, 3)
    if args.repeat < 1:
        sys.exit("[bench] --repeat must be at least 1")
    args.binary = os.path.abspath(os.path.join(ROOT, args.binary)
                                  if not os.path.isabs(args.binary) and
                                  not os.path.exists(args.binary) else args.binary)
    args.corpus = os.path.abspath(os.path.join(ROOT, args.corpus)
                                  if not os.path.isabs(args.corpus) else args.corpus)
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"[bench] {args.binary} not found; build it: cargo build --release --bin kiln")
    all_cases = cases(args.binary)
    cases_by_name = {c.name: c for c in all_cases}
    for name in args.cases or []:
        if name not in cases_by_name:
            sys.exit(f"[bench] unknown case {name}; the cases are {', '.join(cases_by_name)}")
    selected = [c for c in all_cases if not args.cases or c.name in args.cases]

    try:
        ensure_packages()
        manifest = build_corpus(args.corpus, args.rebuild_corpus)
    except BenchError as e:
        sys.exit(f"[bench] corpus: {e}")
    env = bench_env()
    if any(c.kind == "pdf" for c in selected) and not os.path.exists(env["PDFIUM_LIBRARY"]):
        sys.exit(f"[bench] {env['PDFIUM_LIBRARY']} is missing; run "
                 "`bash scripts/install-pdfium.sh` (or set PDFIUM_LIBRARY)")

    info = machine()
    info["binary_built"] = datetime.datetime.fromtimestamp(
        os.path.getmtime(args.binary), datetime.timezone.utc).isoformat(timespec="seconds")
    log(f"{info['nproc']} CPUs ({info['cpu']}), {info['memory']}; kiln {info['commit']}"
        + (" with uncommitted changes" if info["uncommitted_changes"] else "")
        + f"; {args.repeat} interleaved runs per input")
    if os.getloadavg()[0] > 0.5:
        log(f"warning: load average {os.getloadavg()[0]:.2f}: the machine was busy in the "
            "last minute; if something is still running, the timings will be noisy")
    workdir = tempfile.mkdtemp(prefix="kiln-bench-processors-")
    results, quality, failed = [], [], False
    try:
        for case in selected:
            inputs = [e for e in manifest["files"] if e["kind"] == case.kind]
            if args.quick:
                inputs = inputs[:1]
            for e in inputs:
                src = os.path.join(args.corpus, e["file"])
                log(f"{case.name}: {e['file']}, load average {os.getloadavg()[0]:.2f}")
                try:
                    r = bench_input(case, src, args, env, workdir)
                    results.append(r)
                    log(f"  kiln {r['kiln']['median_ms']:.1f} ms, {case.anchor_name} "
                        f"{r['anchor']['median_ms']:.1f} ms, ratio {r['ratio']:.3f}")
                    if case.name.startswith("thumbnail"):
                        quality.append(thumbnail_quality(r, src))
                except BenchError as err:
                    log(f"{case.name} {e['file']} failed: {err}")
                    failed = True
        print_tables(results, quality, cases_by_name)
        if args.json:
            print(json.dumps({"machine": info, "repeat": args.repeat, "results": results,
                              "quality": quality, "corpus": manifest}, indent=2))
    finally:
        if args.keep:
            log(f"outputs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
