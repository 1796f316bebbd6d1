"""The benchmark corpus: real photos and PDFs from Debian packages, built
reproducibly into a cache directory (default target/bench-corpus/) and re-used
while its manifest matches (same recipe, vips version, package versions and
source file hashes).

  photos/NAME-12mp.jpg, NAME-24mp.jpg  three mate-backgrounds photos (Storm 3:2,
      Wood 4:3, LadyBird 16:10), upscaled to 12 and 24 megapixels with
      `vips resize --kernel lanczos3`, saved Q=90 4:2:0 without metadata
  camera/NAME-12mp.jpg, NAME-24mp.jpg  the same upscaled photos made like a
      camera's: seeded sensor-like noise added (luminance and per-channel chroma
      Gaussian noise), saved Q=92 4:2:0, about 2.5 bits per pixel
  camera/storm-12mp-progressive.jpg  the same as storm-12mp, progressive
  camera/wood-12mp-444.jpg  the same as wood-12mp, 4:4:4 (no chroma subsampling)
  camera/ladybird-12mp-restart.jpg  ladybird-12mp with a restart marker after
      every MCU row (`jpegtran -restart 1`, lossless)
  pdfs/  bash.pdf and bashref.pdf (bash-doc), debian-reference.en.pdf
      (debian-reference-en)

Missing packages are apt-installed when running as root.
"""

import datetime
import json
import os
import shutil
import subprocess
import tempfile

from .common import ROOT, BenchError, log, run, sha256

# command -> the Debian package that has it: what building the corpus needs.
CORPUS_TOOLS = {"vips": "libvips-tools", "vipsheader": "libvips-tools",
                "jpegtran": "libjpeg-turbo-progs"}

# (name, package, path): real photos, upscaled below to camera sizes.
PHOTOS = (
    ("storm", "mate-backgrounds", "/usr/share/backgrounds/mate/nature/Storm.jpg"),
    ("wood", "mate-backgrounds", "/usr/share/backgrounds/mate/nature/Wood.jpg"),
    ("ladybird", "mate-backgrounds", "/usr/share/backgrounds/mate/nature/LadyBird.jpg"),
)
PHOTO_MEGAPIXELS = (12, 24)
PDFS = (
    ("bash", "bash-doc", "/usr/share/doc/bash/bash.pdf"),
    ("bashref", "bash-doc", "/usr/share/doc/bash/bashref.pdf"),
    ("debian-reference", "debian-reference-en",
     "/usr/share/debian-reference/debian-reference.en.pdf"),
)
# Camera-like noise: the standard deviation (in 8-bit levels) of the Gaussian
# noise added to all three channels alike (luminance) and to each on its own
# (chroma), and the JPEG quality: about 2.5 bits per pixel, as a camera's files.
CAMERA_LUMA_SIGMA = 5.5
CAMERA_CHROMA_SIGMA = 3.5
CAMERA_QUALITY = 92
# (file suffix, kind, source photo, what differs from the plain camera-like JPEG)
CAMERA_VARIANTS = (
    ("progressive", "camera-progressive", "storm", "interlace"),
    ("444", "camera-444", "wood", "4:4:4"),
    ("restart", "camera-restart", "ladybird", "restart"),
)
# Bump when the recipe changes, so an old cache is rebuilt.
CORPUS_RECIPE = 2


def default_corpus_dir():
    return os.environ.get("KILN_BENCH_CORPUS", "target/bench-corpus")


def package_version(name):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def ensure_packages(tools=CORPUS_TOOLS):
    """Installs what is missing (the `tools` commands' packages and the corpus
    sources) when root; otherwise says what to install."""
    wanted = set(tools[t] for t in tools if not shutil.which(t))
    wanted |= set(pkg for _, pkg, path in PHOTOS + PDFS if not os.path.exists(path))
    if not wanted:
        return
    missing = sorted(wanted)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchError("missing Debian packages: " + " ".join(missing) +
                         "; install them: apt-get install --no-install-recommends " +
                         " ".join(missing))
    log(f"apt-get install {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        # A fresh machine may have no package lists yet.
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "--no-install-recommends", *missing], env=env)


def first_line(argv):
    """The first line a version command prints, or None."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True)
    except OSError:
        return None
    out = (r.stdout or r.stderr).strip().splitlines()
    return out[0] if out else None


def vips_version():
    return first_line(["vips", "--version"])


def corpus_spec():
    """What the corpus is made of; the cache is re-used only while this is unchanged."""
    return {
        "recipe": CORPUS_RECIPE,
        "vips": vips_version(),
        "packages": {p: package_version(p) for p in sorted({pkg for _, pkg, _ in PHOTOS + PDFS})},
        "photos": [[name, path, sha256(path)] for name, _, path in PHOTOS],
        "pdfs": [[name, path, sha256(path)] for name, _, path in PDFS],
        "megapixels": list(PHOTO_MEGAPIXELS),
        "camera": [CAMERA_LUMA_SIGMA, CAMERA_CHROMA_SIGMA, CAMERA_QUALITY,
                   [list(v) for v in CAMERA_VARIANTS]],
        "jpegtran": first_line(["jpegtran", "-version"]),
    }


def image_size(path):
    out = run(["vipsheader", "-f", "width", path]), run(["vipsheader", "-f", "height", path])
    return int(out[0]), int(out[1])


def upscale(src, dst, megapixels):
    """src resized (Lanczos3, aspect kept) to about `megapixels`, Q=90 4:2:0 JPEG."""
    w, h = image_size(src)
    aspect = w / h
    tw = round((megapixels * 1e6 * aspect) ** 0.5)
    th = round(tw / aspect)
    tmp = dst + ".partial.jpg"
    run(["vips", "resize", src, f"{tmp}[Q=90,subsample-mode=on,strip]", repr(tw / w),
         "--vscale", repr(th / h), "--kernel", "lanczos3"])
    os.replace(tmp, dst)
    return image_size(dst)


def camera_like(upscaled, dst, seed, workdir, save="subsample-mode=on"):
    """`upscaled` with seeded sensor-like noise, saved as a camera would (Q=92,
    no metadata, `save` for the subsampling or progressive scans)."""
    w, h = image_size(upscaled)
    layers = []
    for band, sigma in enumerate((CAMERA_LUMA_SIGMA,) + (CAMERA_CHROMA_SIGMA,) * 3):
        layer = os.path.join(workdir, f"noise{band}.v")
        run(["vips", "gaussnoise", layer, str(w), str(h), "--sigma", repr(sigma),
             "--mean", "0", "--seed", str(seed * 4 + band)])
        layers.append(layer)
    chroma, noise, noisy, camera = (os.path.join(workdir, n) for n in
                                    ("chroma.v", "noise.v", "noisy.v", "camera.v"))
    run(["vips", "bandjoin", " ".join(layers[1:]), chroma])
    run(["vips", "add", chroma, layers[0], noise])
    run(["vips", "add", upscaled, noise, noisy])
    run(["vips", "cast", noisy, camera, "uchar"])
    tmp = dst + ".partial.jpg"
    run(["vips", "copy", camera, f"{tmp}[Q={CAMERA_QUALITY},{save},strip]"])
    os.replace(tmp, dst)


def build_camera(directory, photos, files):
    """The camera-like JPEGs, from each photo's upscaled JPEG in `photos` (name ->
    {megapixels: path}); adds their manifest entries to `files`."""
    os.makedirs(os.path.join(directory, "camera"))
    work = tempfile.mkdtemp(prefix="kiln-bench-camera-")
    try:
        for seed, (name, sizes) in enumerate(sorted(photos.items()), start=1):
            for mp, upscaled in sorted(sizes.items()):
                rel = os.path.join("camera", f"{name}-{mp}mp.jpg")
                log(f"corpus: {rel}")
                camera_like(upscaled, os.path.join(directory, rel), seed * 100 + mp, work)
                files.append({"file": rel, "kind": f"camera-{mp}mp", "source": upscaled})
        for suffix, kind, name, change in CAMERA_VARIANTS:
            rel = os.path.join("camera", f"{name}-12mp-{suffix}.jpg")
            dst = os.path.join(directory, rel)
            log(f"corpus: {rel}")
            seed = (sorted(photos).index(name) + 1) * 100 + 12
            if change == "restart":
                plain = os.path.join(directory, "camera", f"{name}-12mp.jpg")
                run(["jpegtran", "-restart", "1", "-copy", "none", "-outfile", dst, plain])
            else:
                save = {"interlace": "subsample-mode=on,interlace",
                        "4:4:4": "subsample-mode=off"}[change]
                camera_like(photos[name][12], dst, seed, work, save)
            files.append({"file": rel, "kind": kind, "source": photos[name][12]})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for e in files:
        if e["kind"].startswith("camera"):
            w, h = image_size(os.path.join(directory, e["file"]))
            e.update(width=w, height=h, source=os.path.relpath(e["source"], directory))


def cached_manifest(what, directory, spec, rebuild):
    """The manifest of the `what` corpus in `directory` when it was built from
    `spec` and all its files are there; otherwise None, with `directory` emptied
    for a rebuild (one these scripts did not make is refused, never emptied)."""
    manifest_path = os.path.join(directory, "manifest.json")
    if not rebuild and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
        if manifest.get("spec") == spec and all(
                os.path.exists(os.path.join(directory, e["file"])) for e in manifest["files"]):
            log(f"{what}: re-using {os.path.relpath(directory, ROOT)}")
            return manifest
        log(f"{what}: the cached one was built from something else; rebuilding")
    if os.path.isdir(directory) and os.listdir(directory) and not os.path.exists(manifest_path):
        # e.g. a mistyped --corpus
        raise BenchError(f"{directory} is not empty and has no manifest.json; "
                         "give it a new or empty directory")
    shutil.rmtree(directory, ignore_errors=True)
    return None


def build_corpus(directory, rebuild=False):
    """Builds the corpus into `directory` (or re-uses it); returns its manifest."""
    spec = corpus_spec()
    manifest = cached_manifest("corpus", directory, spec, rebuild)
    if manifest is not None:
        return manifest
    try:
        os.makedirs(os.path.join(directory, "photos"))
        os.makedirs(os.path.join(directory, "pdfs"))
        files, upscaled = [], {}
        for name, package, path in PHOTOS:
            for mp in PHOTO_MEGAPIXELS:
                rel = os.path.join("photos", f"{name}-{mp}mp.jpg")
                log(f"corpus: {rel} from {path} ({package})")
                w, h = upscale(path, os.path.join(directory, rel), mp)
                upscaled.setdefault(name, {})[mp] = os.path.join(directory, rel)
                files.append({"file": rel, "kind": f"photo-{mp}mp", "source": path,
                              "package": package, "width": w, "height": h})
        build_camera(directory, upscaled, files)
        for name, package, path in PDFS:
            rel = os.path.join("pdfs", f"{name}.pdf")
            shutil.copyfile(path, os.path.join(directory, rel))
            files.append({"file": rel, "kind": "pdf", "source": path, "package": package})
        return write_manifest(directory, spec, files)
    except BaseException:
        # A half-built corpus has no manifest, which a later run would refuse.
        shutil.rmtree(directory, ignore_errors=True)
        raise


def write_manifest(directory, spec, files):
    """Adds each file's size and SHA-256 to its entry and writes the manifest that
    lets a later run re-use `directory`; returns it."""
    for e in files:
        full = os.path.join(directory, e["file"])
        e["bytes"] = os.path.getsize(full)
        e["sha256"] = sha256(full)
    manifest = {"spec": spec, "files": files,
                "built": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds")}
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    return manifest
