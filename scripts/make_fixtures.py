#!/usr/bin/env python3
"""Generates the small real files under tests/fixtures/ that the processing tests use.

Run from anywhere: `python3 scripts/make_fixtures.py [NAME ...]` (needs `pip install pillow
pypdf`); with names, only those files are written (encrypted.pdf differs on every run).
The outputs are committed, so tests never need Python; rerun this only to change a
fixture. Every file stays well under 100 KB.

| file                 | what it is                                                          |
|----------------------|---------------------------------------------------------------------|
| photo.jpg            | 1200x800 photo-like gradient, red marker block in the top-left      |
| orientation6.jpg     | photo.jpg's pixels with EXIF Orientation=6 and a GPS position      |
| small.jpg            | 300x200 JPEG                                                        |
| alpha.png            | 400x300 RGBA: opaque left half, fully transparent right half       |
| logo.png             | 160x80 RGBA watermark: transparent 8 px border, opaque magenta left |
|                      | half, green at alpha 128 right half                                 |
| deep16.png           | 320x240 16-bit RGB PNG: left half red, right half (0, 0x8080, 0xffff) |
| cmyk.jpg             | 320x240 CMYK JPEG (Adobe): left half cyan, right half magenta       |
| cmyk-profiled.jpg    | 160x40 CMYK JPEG (Adobe) carrying a CMYK ICC profile of a made-up   |
|                      | press (see `press_profile`): four 40x40 patches of PRESS_PATCHES     |
| animated.gif         | 200x150, two frames: red, then blue                                 |
| animated.webp        | the same two frames as a lossless animated WebP                     |
| truncated.jpg        | photo.jpg cut at 60% of its bytes                                   |
| bomb.png             | 40-odd byte PNG whose IHDR claims 20000x20000                       |
| two-pages.pdf        | 2-page US Letter PDF with text (Helvetica)                          |
| encrypted.pdf        | two-pages.pdf encrypted with a user password (RC4-128)              |
| spoofed.jpg          | plain text with a .jpg name                                         |
"""

import io
import struct
import sys
import zlib
from pathlib import Path

from PIL import Image, ImageDraw
from pypdf import PdfReader, PdfWriter

from icc_profile import icc_file, s15

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"


def photo(width: int, height: int) -> Image.Image:
    """A smooth, photo-like RGB image with a few shapes and a red block at top-left."""
    img = Image.new("RGB", (width, height))
    px = img.load()
    for y in range(height):
        for x in range(width):
            px[x, y] = (
                40 + (160 * x) // width,
                60 + (150 * y) // height,
                200 - (120 * (x + y)) // (width + height),
            )
    draw = ImageDraw.Draw(img)
    draw.ellipse((width * 0.55, height * 0.30, width * 0.85, height * 0.75), fill=(240, 200, 60))
    draw.rectangle((width * 0.15, height * 0.55, width * 0.40, height * 0.90), fill=(30, 90, 50))
    # The marker: an unmistakable red block in the stored top-left corner, so tests can
    # tell where the top-left went after EXIF orientation.
    draw.rectangle((0, 0, width // 6, height // 6), fill=(255, 0, 0))
    return img


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png_file(width: int, height: int, bit_depth: int, color_type: int, raw: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw, 9))
        + png_chunk(b"IEND", b"")
    )


def deep16_png() -> bytes:
    width, height = 320, 240
    left = struct.pack(">HHH", 0xFFFF, 0, 0)
    right = struct.pack(">HHH", 0, 0x8080, 0xFFFF)
    row = b"\x00" + left * (width // 2) + right * (width // 2)
    return png_file(width, height, 16, 2, row * height)


def bomb_png() -> bytes:
    # 20000x20000 8-bit RGB claimed; the IDAT holds one compressed row. A decoder that
    # trusted the header would try to allocate 1.2 GB before noticing.
    row = b"\x00" + b"\x00" * (20000 * 3)
    return png_file(20000, 20000, 8, 2, row)


def pdf_text(pages: list[list[str]]) -> bytes:
    """A minimal, valid PDF 1.4 with one Helvetica text page per entry."""
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for page_id, lines in zip(page_ids, pages):
        ops = ["BT", "/F1 28 Tf", "72 700 Td", "34 TL"]
        for line in lines:
            ops.append(f"({line}) Tj T*")
        ops.append("ET")
        # A thick frame, so a rendered page is visibly not blank.
        ops.append("6 w 36 36 540 720 re S")
        stream = "\n".join(ops).encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> /Contents {page_id + 1} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def encrypt_pdf(plain: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain)))
    # RC4-128 needs no crypto library in pypdf; PDFium opens it only with the password.
    writer.encrypt(user_password="kiln-secret", owner_password="kiln-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# CMYK ink amounts (0-255) of the patches in cmyk-profiled.jpg; the Rust test keeps a
# copy and the same press model.
PRESS_PATCHES = [(128, 128, 0, 0), (0, 128, 255, 0), (255, 0, 128, 64), (64, 64, 64, 128)]


def press_rgb(c: float, m: float, y: float, k: float) -> tuple[float, float, float]:
    """The made-up press: sRGB (0-1) of ink amounts (0-1). Its inks are impure (cyan
    also darkens green a little, magenta red and blue), so colours through its profile
    differ clearly from the naive 1 - ink formula."""
    r = (1 - c) * (1 - 0.3 * m) * (1 - k)
    g = (1 - m) * (1 - 0.3 * c) * (1 - 0.3 * y) * (1 - k)
    b = (1 - y) * (1 - 0.2 * m) * (1 - k)
    return r, g, b


def srgb_to_lab_d50(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """sRGB (0-1) to CIELAB relative to D50, the ICC profile connection space."""
    lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
    # sRGB to XYZ with the Bradford adaptation to D50 folded in (the ICC sRGB matrix).
    m = [
        (0.4360747, 0.3850649, 0.1430804),
        (0.2225045, 0.7168786, 0.0606169),
        (0.0139322, 0.0971045, 0.7141733),
    ]
    x, y, z = (sum(row[i] * lin[i] for i in range(3)) for row in m)
    white = (0.9642, 1.0, 0.8249)

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = (f(v / w) for v, w in zip((x, y, z), white))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def press_profile(grid: int = 9) -> bytes:
    """An ICC v2 output profile (CMYK, Lab connection space) for press_rgb: one lut8
    A2B0 tag with a grid x grid x grid x grid table, plus the required desc, cprt and
    wtpt tags. Small enough for a fixture and free of anyone's licence."""

    identity = bytes(range(256))
    clut = bytearray()
    steps = [i / (grid - 1) for i in range(grid)]
    for c in steps:
        for m in steps:
            for y in steps:
                for k in steps:
                    lab = srgb_to_lab_d50(press_rgb(c, m, y, k))
                    encoded = (lab[0] * 255 / 100, lab[1] + 128, lab[2] + 128)
                    clut += bytes(min(255, max(0, round(v))) for v in encoded)
    matrix = b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    a2b0 = b"mft1" + bytes(4) + bytes((4, 3, grid, 0)) + matrix + identity * 4 + bytes(clut) + identity * 3
    text = b"Kiln test press"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text) + 1) + text + b"\0" + bytes(4 + 4 + 2 + 1 + 67)
    cprt = b"text" + bytes(4) + b"No copyright, test data\0"
    wtpt = b"XYZ " + bytes(4) + s15(0.9642) + s15(1.0) + s15(0.8249)
    tags = [(b"desc", desc), (b"cprt", cprt), (b"wtpt", wtpt), (b"A2B0", a2b0)]

    return icc_file(b"prtr", b"CMYK", b"Lab ", tags)


def jpeg_bytes(img: Image.Image, **kwargs) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80, **kwargs)
    return out.getvalue()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}

    big = photo(1200, 800)
    files["photo.jpg"] = jpeg_bytes(big)

    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    exif[0x010F] = "KilnCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"  # GPSLatitudeRef
    gps[2] = (52.0, 31.0, 12.0)  # GPSLatitude
    gps[3] = "E"  # GPSLongitudeRef
    gps[4] = (13.0, 24.0, 36.0)  # GPSLongitude
    files["orientation6.jpg"] = jpeg_bytes(big, exif=exif.tobytes())

    files["small.jpg"] = jpeg_bytes(photo(300, 200))

    alpha = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    ImageDraw.Draw(alpha).rectangle((0, 0, 199, 299), fill=(20, 120, 220, 255))
    buf = io.BytesIO()
    alpha.save(buf, "PNG")
    files["alpha.png"] = buf.getvalue()

    logo = Image.new("RGBA", (160, 80), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rectangle((8, 8, 79, 71), fill=(255, 0, 255, 255))
    ImageDraw.Draw(logo).rectangle((80, 8, 151, 71), fill=(0, 255, 0, 128))
    buf = io.BytesIO()
    logo.save(buf, "PNG")
    files["logo.png"] = buf.getvalue()

    files["deep16.png"] = deep16_png()

    cmyk = Image.new("CMYK", (320, 240), (0, 255, 0, 0))  # magenta
    ImageDraw.Draw(cmyk).rectangle((0, 0, 159, 239), fill=(255, 0, 0, 0))  # cyan
    files["cmyk.jpg"] = jpeg_bytes(cmyk)

    patches = Image.new("CMYK", (40 * len(PRESS_PATCHES), 40))
    for i, ink in enumerate(PRESS_PATCHES):
        ImageDraw.Draw(patches).rectangle((40 * i, 0, 40 * i + 39, 39), fill=ink)
    files["cmyk-profiled.jpg"] = jpeg_bytes(patches, icc_profile=press_profile())

    red = Image.new("RGB", (200, 150), (255, 0, 0))
    blue = Image.new("RGB", (200, 150), (0, 0, 255))
    buf = io.BytesIO()
    red.save(buf, "GIF", save_all=True, append_images=[blue], duration=200, loop=0)
    files["animated.gif"] = buf.getvalue()
    buf = io.BytesIO()
    red.save(buf, "WEBP", save_all=True, append_images=[blue], duration=200, loop=0, lossless=True)
    files["animated.webp"] = buf.getvalue()

    whole = files["photo.jpg"]
    files["truncated.jpg"] = whole[: len(whole) * 6 // 10]

    files["bomb.png"] = bomb_png()

    pdf = pdf_text([["Kiln test document", "Page one of two"], ["Page two of two"]])
    files["two-pages.pdf"] = pdf
    files["encrypted.pdf"] = encrypt_pdf(pdf)

    files["spoofed.jpg"] = b"This is plain text pretending to be a JPEG.\n"

    only = set(sys.argv[1:])
    unknown = only - files.keys()
    assert not unknown, f"no such fixture: {sorted(unknown)}"
    for name, data in sorted(files.items()):
        assert len(data) < 100_000, f"{name} is {len(data)} bytes"
        if not only or name in only:
            (OUT / name).write_bytes(data)
        print(f"{name:18} {len(data):7} bytes")


if __name__ == "__main__":
    main()
