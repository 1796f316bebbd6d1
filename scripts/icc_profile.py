"""Writes ICC colour profiles from their tags: the container both fixture scripts
(scripts/make_fixtures.py and fuzz/make_seeds.py) build their profiles in."""

import struct


def s15(v: float) -> bytes:
    """An ICC s15Fixed16Number."""
    return struct.pack(">i", round(v * 65536))


def icc_file(cls: bytes, space: bytes, pcs: bytes, tags, version: int = 2, created=(2026, 11, 28)) -> bytes:
    """A profile of class `cls` from colour space `space` to `pcs`, holding `tags`
    (signature, data) in order, with a D50 illuminant and `created` as its date."""

    def padded(data: bytes) -> bytes:
        return data + bytes(-len(data) % 4)

    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded(data)
    header = (
        struct.pack(">I", offset + len(body)) + bytes(4) + bytes((version, 0x40 if version == 4 else 0x10, 0, 0))
        + cls + space + pcs + struct.pack(">6H", *created, 0, 0, 0) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8)
        + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249) + bytes(4 + 16 + 28)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body
