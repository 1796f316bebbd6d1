"""Small helpers every benchmark script uses."""

import hashlib
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_prefix = "bench"


class BenchError(Exception):
    pass


def set_log_prefix(prefix):
    """The word in brackets before every log line (default `bench`)."""
    global _prefix
    _prefix = prefix


def log(msg):
    print(f"[{_prefix}] {msg}", file=sys.stderr, flush=True)


def run(argv, **kw):
    """Runs a helper command; raises BenchError with its stderr when it fails."""
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()[-500:]}")
    return r.stdout


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def memory_total():
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
            return f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        return None


def git_commit():
    """(short commit, whether the work tree has uncommitted changes)."""
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or None
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain"],
                           capture_output=True, text=True).stdout.strip() != ""
    return commit, dirty
