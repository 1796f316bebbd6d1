"""Image quality for the benchmarks: pixels of any image vips reads, and PSNR
against a plain Lanczos3 reference of the full decode (bench-processors.py scores
thumbnails with it, bench-delivery.py the transforms of both servers)."""

import math
import re

from .common import BenchError, run
from .corpus import image_size


def read_ppm(path):
    """(width, height, bytes) of a binary 8-bit PPM (P6) as vips writes it."""
    with open(path, "rb") as f:
        data = f.read()
    # Header: four whitespace-separated fields (magic, width, height, maxval), then
    # one whitespace byte; '#' comments may sit between fields.
    m = re.match(rb"(P6)(?:\s+(?:#[^\n]*\n\s*)*(\d+)){3}", data)
    fields = re.findall(rb"\d+", re.sub(rb"#[^\n]*\n", b"", data[2:m.end()])) if m else []
    if not m or len(fields) != 3 or fields[2] != b"255":
        raise BenchError(f"{path}: not an 8-bit binary PPM")
    w, h, pos = int(fields[0]), int(fields[1]), m.end()
    pixels = data[pos + 1:pos + 1 + w * h * 3]
    if len(pixels) != w * h * 3:
        raise BenchError(f"{path}: truncated PPM")
    return w, h, pixels


def to_ppm(src, dst):
    """Any image vips reads -> 8-bit sRGB PPM (no alpha)."""
    run(["vips", "colourspace", src, dst, "srgb"])
    return read_ppm(dst)


def psnr(a, b):
    """PSNR in dB of two same-sized 8-bit images (bytes); inf when identical."""
    if len(a) != len(b):
        raise BenchError("PSNR of images of different sizes")
    sq = sum((x - y) * (x - y) for x, y in zip(a, b))
    if sq == 0:
        return float("inf")
    mse = sq / len(a)
    return 10 * math.log10(255 * 255 / mse)


def reference(src, width, height, dst):
    """src reduced to width x height by a plain Lanczos3 over the full decode."""
    w, h = image_size(src)
    run(["vips", "resize", src, dst, repr(width / w), "--vscale", repr(height / h),
         "--kernel", "lanczos3", "--gap", "0"])
    got = image_size(dst)
    if got != (width, height):
        raise BenchError(f"reference for {src} came out {got}, wanted {(width, height)}")
    return to_ppm(dst, dst + ".ppm")
