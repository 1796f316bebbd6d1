#!/usr/bin/env python3
"""Writes the small seed inputs under fuzz/seeds/ that tests/fixtures lacks.

The fuzz corpora start from tests/fixtures (scripts/fuzz.sh passes it to every target),
which holds the shapes of files the tests need: a few JPEGs, PNGs, one GIF, one
animated WebP, PDFs. A coverage-guided fuzzer gets much further from small files that
already take each decoder's other roads: progressive and 4:4:4 JPEGs, restart markers,
interlaced and palette PNGs, lossy and lossless WebP, every TIFF compression, BMP's
header versions and run-length encodings, ICC profiles of each kind, multipart bodies,
processor options, PDFs written by hand (text, vector paths, images with soft masks,
compressed streams, rotated pages, object and cross-reference streams, incremental
updates) and the frames a processor child replies with. This script writes those (about 32x24 pixels each, a few
hundred bytes); they are committed, so `make fuzz` needs no Python packages. Rerun it
only to change them:

    python3 -m venv /tmp/seeds && /tmp/seeds/bin/pip install pillow
    /tmp/seeds/bin/python fuzz/make_seeds.py
"""

import io
import json
import shutil
import struct
import sys
import zlib
from pathlib import Path

from PIL import Image, ImageCms, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from icc_profile import icc_file, s15  # noqa: E402

SEEDS = Path(__file__).resolve().parent / "seeds"
W, H = 32, 24


def picture(mode: str = "RGB", width: int = W, height: int = H) -> Image.Image:
    """A gradient with a disc and a block: edges and smooth areas for every codec."""
    img = Image.new("RGB", (width, height))
    px = img.load()
    for y in range(height):
        for x in range(width):
            px[x, y] = (255 * x // width, 255 * y // height, 128 + 127 * ((x + y) % 2))
    draw = ImageDraw.Draw(img)
    draw.ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(250, 200, 40))
    draw.rectangle((0, 0, width // 6, height // 6), fill=(255, 0, 0))
    if mode == "RGBA":
        rgba = img.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize((width, height)))
        return rgba
    if mode == "LA":
        return picture("RGBA", width, height).convert("LA")
    if mode == "P":
        return img.quantize(16)
    return img.convert(mode)


def saved(img: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **kwargs)
    return out.getvalue()


def matrix_profile(primaries, white, gamma: float, version: int = 2) -> bytes:
    """An RGB display profile of the matrix/TRC kind (as phones and cameras embed):
    colourants as XYZ tags, one gamma curve per channel."""

    def xyz(v) -> bytes:
        return b"XYZ " + bytes(4) + b"".join(s15(c) for c in v)

    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    text = b"Kiln fuzz seed"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text) + 1) + text + b"\0" + bytes(79)
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(white)),
        (b"rXYZ", xyz(primaries[0])),
        (b"gXYZ", xyz(primaries[1])),
        (b"bXYZ", xyz(primaries[2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    return icc_file(b"mntr", b"RGB ", b"XYZ ", tags, version, created=(2026, 12, 2))


# Display P3 and Adobe RGB (1998) colourants, adapted to D50 as ICC profiles store them.
P3 = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
ADOBE = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
D50 = (0.9642, 1.0, 0.8249)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def interlaced_png(img: Image.Image) -> bytes:
    """An Adam7-interlaced 8-bit RGB PNG (Pillow writes none)."""
    rgb = img.convert("RGB")
    width, height = rgb.size
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        xs = range(x0, width, dx)
        for y in range(y0, height, dy):
            if xs:
                raw += b"\x00" + b"".join(bytes(rgb.getpixel((x, y))) for x in xs)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def bmp_file(dib: bytes, palette: bytes, pixels: bytes) -> bytes:
    offset = 14 + len(dib) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + dib + palette + pixels


def bmp_info(width, height, bpp, compression, size_image=0, colours=0, extra=b"", header=40) -> bytes:
    dib = struct.pack("<IiiHHIIiiII", header, width, height, 1, bpp, compression, size_image, 2835, 2835, colours, 0)
    return (dib + extra).ljust(header, b"\0")


def bmp_variants() -> dict[str, bytes]:
    img = picture()
    out: dict[str, bytes] = {}
    grey = img.convert("L")
    palette = b"".join(bytes((i, i, i, 0)) for i in range(256))

    # 8-bit run-length encoded (RLE8), bottom-up.
    rows = b""
    for y in reversed(range(H)):
        row = [grey.getpixel((x, y)) for x in range(W)]
        x = 0
        while x < W:
            run = 1
            while x + run < W and row[x + run] == row[x] and run < 255:
                run += 1
            rows += bytes((run, row[x]))
            x += run
        rows += b"\x00\x00"
    rows += b"\x00\x01"
    out["rle8.bmp"] = bmp_file(bmp_info(W, H, 8, 1, len(rows), 256), palette, rows)

    # 4-bit run-length encoded (RLE4), with an absolute run and a delta.
    pal16 = b"".join(bytes((i * 17, i * 17, i * 17, 0)) for i in range(16))
    rle4 = b""
    for y in range(H):
        level = (y * 16 // H) & 0xF
        rle4 += bytes((W // 2, (level << 4) | (15 - level), 0, 4, 0x12, 0x34, W // 2 - 4, level * 0x11, 0, 0))
    rle4 = rle4[:-2] + b"\x00\x02\x01\x01\x00\x01"
    out["rle4.bmp"] = bmp_file(bmp_info(W, H, 4, 2, len(rle4), 16), pal16, rle4)

    # 16-bit 5-6-5 with BI_BITFIELDS masks, top-down (negative height).
    rgb = img.convert("RGB")
    px16 = b""
    for y in range(H):
        for x in range(W):
            r, g, b = rgb.getpixel((x, y))
            px16 += struct.pack("<H", ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3))
    masks = struct.pack("<III", 0xF800, 0x07E0, 0x001F)
    out["rgb565-topdown.bmp"] = bmp_file(bmp_info(W, -H, 16, 3, len(px16)), masks, px16)

    # 32-bit with an alpha mask in a V5 header, with an embedded (linked-profile) sRGB.
    rgba = picture("RGBA")
    px32 = b"".join(bytes((b, g, r, a)) for y in reversed(range(H)) for x in range(W) for r, g, b, a in [rgba.getpixel((x, y))])
    masks = struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000) + b"BGRs"
    out["argb-v5.bmp"] = bmp_file(bmp_info(W, H, 32, 3, len(px32), extra=masks, header=124), b"", px32)

    # OS/2 1.x core header (12 bytes), 24-bit.
    core = struct.pack("<IHHHH", 12, W, H, 1, 24)
    stride = (W * 3 + 3) & ~3
    px24 = b"".join(
        b"".join(bytes(rgb.getpixel((x, y))[::-1]) for x in range(W)).ljust(stride, b"\0") for y in reversed(range(H))
    )
    out["os2-core.bmp"] = bmp_file(core, b"", px24)

    out["rgb24.bmp"] = saved(img, "BMP")
    out["palette8.bmp"] = saved(picture("P"), "BMP")
    out["mono1.bmp"] = saved(img.convert("1"), "BMP")
    out["rgba32.bmp"] = saved(picture("RGBA"), "BMP")
    return out


def image_seeds() -> dict[str, bytes]:
    img = picture()
    p3 = matrix_profile(P3, D50, 2.2)
    out: dict[str, bytes] = {}

    # JPEG: the roads through zune-jpeg and libjpeg (mozjpeg) differ by all of these.
    out["baseline-420.jpg"] = saved(img, "JPEG", quality=75)
    out["baseline-444.jpg"] = saved(img, "JPEG", quality=90, subsampling=0)
    out["baseline-422.jpg"] = saved(img, "JPEG", quality=60, subsampling=1)
    out["progressive.jpg"] = saved(img, "JPEG", quality=80, progressive=True)
    out["optimized.jpg"] = saved(img, "JPEG", quality=80, optimize=True)
    out["grey.jpg"] = saved(img.convert("L"), "JPEG")
    out["grey-progressive.jpg"] = saved(img.convert("L"), "JPEG", progressive=True)
    out["cmyk.jpg"] = saved(img.convert("CMYK"), "JPEG")
    out["restart.jpg"] = saved(picture("RGB", 64, 48), "JPEG", restart_marker_blocks=2)
    out["wide-64.jpg"] = saved(picture("RGB", 64, 48), "JPEG", quality=70)
    out["p3.jpg"] = saved(img, "JPEG", icc_profile=p3)
    for orientation in (2, 3, 5, 6, 7, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        out[f"orientation{orientation}.jpg"] = saved(img, "JPEG", exif=exif.tobytes())

    # PNG: colour types, bit depths, interlacing, ancillary chunks, APNG.
    out["rgb.png"] = saved(img, "PNG")
    out["rgba.png"] = saved(picture("RGBA"), "PNG")
    out["grey-alpha.png"] = saved(picture("LA"), "PNG")
    out["palette-trns.png"] = saved(picture("P"), "PNG", transparency=0)
    out["mono1.png"] = saved(img.convert("1"), "PNG")
    out["grey16.png"] = saved(img.convert("I;16"), "PNG")
    out["interlaced.png"] = interlaced_png(img)
    exif = Image.Exif()
    exif[0x0112] = 6
    out["p3-exif.png"] = saved(img, "PNG", icc_profile=p3, exif=exif.tobytes())
    out["animated.png"] = saved(img, "PNG", save_all=True, append_images=[img.rotate(90)], duration=100)

    # GIF: interlaced, transparent, animated with local palettes and disposal.
    out["still.gif"] = saved(picture("P"), "GIF")
    out["interlaced.gif"] = saved(picture("P", 32, 40), "GIF", interlace=True)
    out["transparent.gif"] = saved(picture("P"), "GIF", transparency=3, comment=b"kiln")
    frames = [picture("P"), img.rotate(180).quantize(8)]
    out["animated.gif"] = saved(frames[0], "GIF", save_all=True, append_images=frames[1:], disposal=2, loop=0)

    # WebP: lossy (VP8), lossy with alpha (VP8X + ALPH), lossless (VP8L), animated, chunks.
    out["lossy.webp"] = saved(img, "WEBP", quality=60)
    out["lossy-alpha.webp"] = saved(picture("RGBA"), "WEBP", quality=60)
    out["lossless.webp"] = saved(picture("RGBA"), "WEBP", lossless=True)
    out["icc-exif.webp"] = saved(img, "WEBP", icc_profile=p3, exif=exif.tobytes())
    out["animated-lossy.webp"] = saved(img, "WEBP", save_all=True, append_images=[img.rotate(90)], quality=50)

    # TIFF: each compression the tiff crate reads, several layouts.
    for compression in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg"):
        out[f"{compression}.tiff"] = saved(img, "TIFF", compression=compression)
    out["grey.tiff"] = saved(img.convert("L"), "TIFF")
    out["grey16.tiff"] = saved(img.convert("I;16"), "TIFF")
    out["palette.tiff"] = saved(picture("P"), "TIFF")
    out["rgba-lzw.tiff"] = saved(picture("RGBA"), "TIFF", compression="tiff_lzw")
    out["cmyk.tiff"] = saved(img.convert("CMYK"), "TIFF")
    out["mono-g4.tiff"] = saved(img.convert("1"), "TIFF", compression="group4")
    out["strips.tiff"] = saved(img, "TIFF", strip_size=256)
    out["p3.tiff"] = saved(img, "TIFF", icc_profile=p3)

    out.update(bmp_variants())
    return out


def icc_seeds() -> dict[str, bytes]:
    def lcms(profile) -> bytes:
        return ImageCms.ImageCmsProfile(profile).tobytes()

    return {
        "p3-v2.icc": matrix_profile(P3, D50, 2.2),
        "adobe-v4.icc": matrix_profile(ADOBE, D50, 2.19921875, version=4),
        "srgb-lcms.icc": lcms(ImageCms.createProfile("sRGB")),
        "lab-lcms.icc": lcms(ImageCms.createProfile("LAB")),
        "xyz-lcms.icc": lcms(ImageCms.createProfile("XYZ")),
    }


def form(boundary: str, parts: list[tuple[str, bytes]], epilogue: bytes = b"") -> bytes:
    body = b""
    for headers, data in parts:
        body += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode() + epilogue


def multipart_seeds(images: dict[str, bytes]) -> dict[str, bytes]:
    def seed(boundary_header: str, body: bytes) -> bytes:
        return f"multipart/form-data; {boundary_header}\n".encode() + body

    jpeg = images["baseline-420.jpg"]
    options = json.dumps({"thumbnail": {"width": 120, "fit": "cover"}, "watermark": {"text": "© Kiln"}}).encode()
    return {
        "upload.txt": seed(
            "boundary=kiln",
            form(
                "kiln",
                [
                    ('Content-Disposition: form-data; name="file"; filename="photo.jpg"\r\nContent-Type: image/jpeg', jpeg),
                    ('Content-Disposition: form-data; name="processors"', b"thumbnail,watermark"),
                    ('Content-Disposition: form-data; name="options"', options),
                ],
            ),
        ),
        "fields-first.txt": seed(
            'boundary="----WebKitFormBoundary7MA4YWxkTrZu0gW"',
            form(
                "----WebKitFormBoundary7MA4YWxkTrZu0gW",
                [
                    ('Content-Disposition: form-data; name="processors"', b"resize"),
                    ('Content-Disposition: form-data; name="note"', b"ignored"),
                    ("Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%E2%80%AEgpj.exe", jpeg[:200]),
                    ('Content-Disposition: form-data; name="file"; filename="second.jpg"', b"second file"),
                ],
            ),
        ),
        "preamble.txt": seed(
            "boundary=b; charset=utf-8",
            b"preamble text\r\n"
            + form("b", [('Content-Disposition: form-data; name="file"; filename="..\\\\a/b.png"', images["rgb.png"])], b"epilogue"),
        ),
        "unterminated.txt": seed("boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\npartial"),
    }


def options_seeds() -> dict[str, bytes]:
    def seed(processors: str, options: dict | None) -> bytes:
        return processors.encode() + (b"\n" + json.dumps(options).encode() if options is not None else b"")

    return {
        "defaults.txt": seed("thumbnail,resize", None),
        "thumbnail.txt": seed("thumbnail", {"thumbnail": {"width": 640, "height": 480, "fit": "cover", "format": "webp", "quality": 70}}),
        "resize-sizes.txt": seed("resize", {"resize": {"sizes": ["sm", "xl"], "format": "png"}}),
        "resize-box.txt": seed("resize, webp", {"resize": {"width": 800, "fit": "contain"}, "webp": {"lossless": True, "max_width": 2000}}),
        "watermark-text.txt": seed("watermark", {"watermark": {"text": "© Kiln ✓", "position": "bottom-right", "opacity": 0.25, "font_size": 48}}),
        "watermark-image.txt": seed("watermark", {"watermark": {"image": "0190d7a2-6c3e-7b8e-9a51-1f2d3c4b5a69", "scale": 0.3, "format": "jpg"}}),
        "pdf.txt": seed("pdf_thumbnail", {"pdf_thumbnail": {"page": 2, "width": 1024, "format": "jpeg", "quality": 90}}),
        "unknown.txt": seed("thumbnail,sharpen", {"thumbnail": {"widht": 1e309}}),
    }


def pdf_file(objects: list[bytes], trailer: bytes = b"", header: bytes = b"%PDF-1.4") -> bytes:
    """A PDF of numbered `objects` (1-based, the catalog first) with its xref table."""
    out = bytearray(header + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(objects) + 1, trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(data)) + data + b"\nendstream"


def pdf_seeds() -> dict[str, bytes]:
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    text = b"BT /F1 18 Tf 20 60 Td (Kiln seed) Tj ET 0 0 1 rg 10 10 50 30 re f"
    paths = (
        b"q 2 w 1 0 0 RG 10 10 m 150 90 l 150 10 l h S Q "
        b"q 0 1 0 rg 80 50 30 0 360 re f Q 0.5 g 5 5 m 40 80 70 0 100 50 c f"
    )

    def one_page(content: bytes, page_extra: bytes = b"", resources: bytes = b"/Font << /F1 4 0 R >>"):
        return [
            catalog,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 160 100] /Contents 5 0 R "
            b"/Resources << %s >> %s>>" % (resources, page_extra),
            font,
            content,
        ]

    pixels = b"".join(bytes((x * 30, y * 30, 128)) for y in range(8) for x in range(8))
    mask = bytes(x * 30 for y in range(8) for x in range(8))
    image_page = one_page(
        stream(b"", b"q 120 0 0 80 20 10 cm /Im1 Do Q"),
        resources=b"/XObject << /Im1 6 0 R >>",
    ) + [
        stream(
            b"/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /FlateDecode /SMask 7 0 R",
            zlib.compress(pixels),
        ),
        stream(
            b"/Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Filter /ASCIIHexDecode",
            mask.hex().encode() + b">",
        ),
    ]
    two_pages = [
        catalog,
        b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 160 100] /Contents 5 0 R "
        b"/Resources << /Font << /F1 4 0 R >> >> >>",
        font,
        stream(b"", text),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 300] /Rotate 90 "
        b"/CropBox [10 10 90 290] /Contents 7 0 R >>",
        stream(b"/Filter /FlateDecode", zlib.compress(paths)),
    ]
    seeds = {
        "text.pdf": pdf_file(one_page(stream(b"", text))),
        "paths-flate.pdf": pdf_file(
            one_page(stream(b"/Filter /FlateDecode", zlib.compress(paths)))
        ),
        "image-smask.pdf": pdf_file(image_page),
        "two-pages-rotated.pdf": pdf_file(two_pages),
    }

    # PDF 1.5: the page objects in an object stream, found through an xref stream.
    inner = [
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 160 100] /Contents 5 0 R "
        b"/Resources << /Font << /F1 4 0 R >> >> >>",
        font,
    ]
    offsets, body = [], b""
    for item in inner:
        offsets.append(len(body))
        body += item + b" "
    index = b" ".join(b"%d %d" % (n, off) for n, off in zip((2, 3, 4), offsets)) + b" "
    objstm = stream(
        b"/Type /ObjStm /N 3 /First %d /Filter /FlateDecode" % len(index),
        zlib.compress(index + body),
    )
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    positions = {}
    for number, item in ((1, catalog), (5, stream(b"", text)), (6, objstm)):
        positions[number] = len(out)
        out += b"%d 0 obj\n" % number + item + b"\nendobj\n"
    positions[7] = len(out)
    rows = [b"\x00\x00\x00\xff\xff"]
    for number in range(1, 8):
        if number in (2, 3, 4):
            rows.append(b"\x02" + struct.pack(">HH", 6, number - 2))
        else:
            rows.append(b"\x01" + struct.pack(">HH", positions[number], 0))
    xref = stream(b"/Type /XRef /Size 8 /W [1 2 2] /Root 1 0 R", b"".join(rows))
    out += b"7 0 obj\n" + xref + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % positions[7]
    seeds["object-streams.pdf"] = bytes(out)

    # An incremental update that replaces the page's content.
    first = pdf_file(one_page(stream(b"", text)))
    previous = int(first.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    update = bytearray(first)
    offset = len(update)
    update += b"5 0 obj\n" + stream(b"", paths) + b"\nendobj\n"
    xref = len(update)
    update += b"xref\n5 1\n%010d 00000 n \n" % offset
    update += b"trailer\n<< /Size 6 /Root 1 0 R /Prev %d >>\n" % previous
    update += b"startxref\n%d\n%%%%EOF\n" % xref
    seeds["incremental-update.pdf"] = bytes(update)
    return seeds


def reply_frame(header: dict, *payloads: bytes) -> bytes:
    """A processor child's reply: the JSON header's length (u32, little-endian),
    the header, then the payloads."""
    data = json.dumps(header).encode()
    return struct.pack("<I", len(data)) + data + b"".join(payloads)


def reply_seeds(images: dict[str, bytes]) -> dict[str, bytes]:
    png = images["palette.png"] if "palette.png" in images else next(iter(images.values()))

    def output(variant: str, length: int) -> dict:
        return {"variant": variant, "format": "png", "width": W, "height": H, "len": length}

    source = {"width": W, "height": H, "page_count": None}
    return {
        "done.bin": reply_frame({"Done": {"outputs": [output("thumbnail", len(png))], "source": source}}, png),
        "done-no-outputs.bin": reply_frame({"Done": {"outputs": [], "source": source}}),
        "done-two-outputs.bin": reply_frame(
            {"Done": {"outputs": [output("thumbnail", 4), output("thumbnail", 4)], "source": source}},
            b"abcdefgh",
        ),
        "done-other-variant.bin": reply_frame(
            {"Done": {"outputs": [output("sm", 4)], "source": source}}, b"abcd"
        ),
        "done-short.bin": reply_frame(
            {"Done": {"outputs": [output("thumbnail", 1 << 19)], "source": source}}, b"abcd"
        ),
        "refused.bin": reply_frame({"Refused": {"Corrupt": "a truncated JPEG"}}),
        "refused-pixels.bin": reply_frame(
            {"Refused": {"TooManyPixels": {"width": 9000, "height": 9000, "max": 50000000}}}
        ),
        "refused-encrypted.bin": reply_frame({"Refused": "Encrypted"}),
        "panicked.bin": reply_frame({"Panicked": "index out of bounds"}),
    }


def main() -> None:
    shutil.rmtree(SEEDS, ignore_errors=True)
    images = image_seeds()
    sets = {
        "images": images,
        "icc": icc_seeds(),
        "multipart": multipart_seeds(images),
        "options": options_seeds(),
        "pdf": pdf_seeds(),
        "reply": reply_seeds(images),
    }
    total = 0
    for directory, files in sets.items():
        (SEEDS / directory).mkdir(parents=True)
        for name, data in sorted(files.items()):
            assert len(data) < 16_000, f"{directory}/{name} is {len(data)} bytes"
            (SEEDS / directory / name).write_bytes(data)
            total += len(data)
        print(f"{directory:10} {len(files):3} files")
    print(f"{total} bytes in all")


if __name__ == "__main__":
    main()
