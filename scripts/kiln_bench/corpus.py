"""The benchmark corpus: real photos and PDFs from Debian packages, built
reproducibly into a cache directory (default target/bench-corpus/) and re-used
while its manifest matches (same recipe, vips version, package versions and
source file hashes).

  photos/NAME-12mp.jpg, NAME-24mp.jpg  three mate-backgrounds photos (Storm 3:2,
      Wood 4:3, LadyBird 16:10), upscaled to 12 and 24 megapixels with
      `vips resize --kernel lanczos3`, saved Q=90 4:2:0 without metadata
  pdfs/  bash.pdf and bashref.pdf (bash-doc), debian-reference.en.pdf
      (debian-reference-en)

Missing packages are apt-installed when running as root.
"""

import datetime
import json
import os
import shutil
import subprocess

from .common import ROOT, BenchError, log, run, sha256

# command -> the Debian package that has it: what building the corpus needs.
CORPUS_TOOLS = {"vips": "libvips-tools", "vipsheader": "libvips-tools"}

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
# Bump when the recipe changes, so an old cache is rebuilt.
CORPUS_RECIPE = 1


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
    os.makedirs(os.path.join(directory, "photos"))
    os.makedirs(os.path.join(directory, "pdfs"))
    files = []
    for name, package, path in PHOTOS:
        for mp in PHOTO_MEGAPIXELS:
            rel = os.path.join("photos", f"{name}-{mp}mp.jpg")
            log(f"corpus: {rel} from {path} ({package})")
            w, h = upscale(path, os.path.join(directory, rel), mp)
            files.append({"file": rel, "kind": f"photo-{mp}mp", "source": path,
                          "package": package, "width": w, "height": h})
    for name, package, path in PDFS:
        rel = os.path.join("pdfs", f"{name}.pdf")
        shutil.copyfile(path, os.path.join(directory, rel))
        files.append({"file": rel, "kind": "pdf", "source": path, "package": package})
    return write_manifest(directory, spec, files)


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
