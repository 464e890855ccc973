"""Makes the crafted files beside this script (committed; rerun to rebuild them):

    python tests/data/crafted/make_crafted.py

Each is small and is one way a file can try to break a batch: a header that lies
about the size, metadata bombs, unparseable EXIF, odd sample formats, animations.
`tests/fuzz/test_crafted.py` says what answer each one must get."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
XMP_HEAD = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, extra: list[bytes] = (), idat: bytes | None = None) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    if idat is None:
        idat = zlib.compress((b"\0" + b"\x80" * width * 3) * height)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(extra) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def tiff_block(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A little-endian TIFF structure with one directory of (tag, type, count, value bytes)."""
    count = len(entries)
    data_at, blob, table = 8 + 2 + 12 * count + 4, b"", b""
    for tag, kind, n, value in sorted(entries):
        if len(value) <= 4:
            table += struct.pack("<HHI", tag, kind, n) + value.ljust(4, b"\0")
        else:
            table += struct.pack("<HHII", tag, kind, n, data_at + len(blob))
            blob += value + b"\0" * (len(value) & 1)
    return b"II*\0" + struct.pack("<IH", 8, count) + table + b"\0\0\0\0" + blob


def jpeg(exif: bytes | None = None, app1_xmp: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    rgb = np.full((16, 16, 3), 128, np.uint8)
    rgb[4:12, 4:12] = (200, 40, 40)
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90, **({"exif": exif} if exif else {}))
    data = buffer.getvalue()
    if app1_xmp is not None:
        body = b"http://ns.adobe.com/xap/1.0/\0" + app1_xmp
        data = data[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + data[2:]
    return data


def lying_header() -> bytes:
    """About 17 KB whose header says 12000×12000 (144 MP): real zlib data, far too little of it."""
    return png(12000, 12000, idat=zlib.compress(b"\0" * 17_000_000, 9))


def entity_bomb() -> bytes:
    lol = b"<!DOCTYPE x [<!ENTITY a0 'lol'>" + b"".join(
        b"<!ENTITY a%d '&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;'>" % ((i,) + (i - 1,) * 10)
        for i in range(1, 10)) + b"]>"
    return jpeg(app1_xmp=lol + XMP_HEAD + b"&a9;</x:xmpmeta>")


def backtracking_xmp() -> bytes:
    """1 MB of packet starts and no end (compressed): a lazy regex over it takes quadratic time."""
    packet = b"<x:xmpmeta " * 95_000
    return png(8, 8, [chunk(b"iTXt", b"XML:com.adobe.xmp\0\1\0\0\0" + zlib.compress(packet, 9))])


def inflating_xmp() -> bytes:
    """A compressed iTXt XMP packet of about 30 KB that inflates to 32 MB."""
    packet = XMP_HEAD + b" " * (32 << 20) + b"</x:xmpmeta>"
    return png(8, 8, [chunk(b"iTXt", b"XML:com.adobe.xmp\0\1\0\0\0" + zlib.compress(packet, 9))])


def inflating_ztxt() -> bytes:
    return png(8, 8, [chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"A" * (64 << 20), 9))])


def inflating_iccp() -> bytes:
    return png(8, 8, [chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(b"\0" * (64 << 20), 9))])


def bad_rationals() -> bytes:
    """EXIF Pillow cannot write back: a text ResolutionUnit, 0/0 and negative resolutions."""
    block = tiff_block([(0x011A, 5, 1, struct.pack("<II", 0, 0)), (0x011B, 10, 1, struct.pack("<ii", -72, 1)),
                        (0x0128, 2, 7, b"inches\0"), (0x013B, 2, 6, b"Hana\0\0")])
    return jpeg(exif=b"Exif\0\0" + block)


def exif_bomb() -> bytes:
    """3000 EXIF tags all pointing at the same 200 KB: a parser would copy it 3000 times."""
    shared = 200_000
    count = 3000
    table_end = 8 + 2 + 12 * count + 4
    table = b"".join(struct.pack("<HHII", 0xC000 + i, 7, shared, table_end) for i in range(count))
    block = b"II*\0" + struct.pack("<IH", 8, count) + table + b"\0\0\0\0" + b"\x41" * shared
    return png(8, 8, [chunk(b"eXIf", block)])


def raw_profile_exif_bomb() -> bytes:
    """The same kind of EXIF bomb as ImageMagick's hex 'Raw profile type exif' text, which Pillow reads."""
    count, shared = 3000, 100_000
    table_end = 8 + 2 + 12 * count + 4
    table = b"".join(struct.pack("<HHII", 0xC000 + i, 7, shared, table_end) for i in range(count))
    block = b"Exif\0\0II*\0" + struct.pack("<IH", 8, count) + table + b"\0\0\0\0" + b"A" * shared
    text = b"\nexif\n%8d\n" % len(block) + block.hex().encode()
    return png(8, 8, [chunk(b"zTXt", b"Raw profile type exif\0\0" + zlib.compress(text, 9))])


def tiff_tag_bomb() -> bytes:
    """A TIFF whose own directory points 3000 tags at the same 200 KB."""
    rgb = np.full((8, 8, 3), 90, np.uint8)
    ok, encoded = cv2.imencode(".tiff", rgb)
    base = bytearray(encoded.tobytes())
    order = "<" if base[:2] == b"II" else ">"
    (first,) = struct.unpack(order + "I", base[4:8])
    (n,) = struct.unpack(order + "H", base[first:first + 2])
    entries = [bytes(base[first + 2 + 12 * i:first + 14 + 12 * i]) for i in range(n)]
    blob_at = len(base)
    base += b"\x41" * 200_000
    entries += [struct.pack(order + "HHII", 0xC000 + i, 7, 200_000, blob_at) for i in range(3000)]
    entries.sort(key=lambda e: struct.unpack(order + "H", e[:2])[0])
    table_at = len(base)
    base += struct.pack(order + "H", len(entries)) + b"".join(entries) + b"\0\0\0\0"
    base[4:8] = struct.pack(order + "I", table_at)
    return bytes(base)


def too_many_frames() -> bytes:
    """A 2000×2000 GIF with 60 one-pixel frames: 240 MP to decode, from a few hundred bytes."""
    header = b"GIF89a" + struct.pack("<HHBBB", 2000, 2000, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return header + frame * 60 + b"\x3b"


def control_characters() -> bytes:
    artist = b"\x1b[2J\x1b]0;owned\x07Hana\x1b[0m\0"
    return jpeg(exif=b"Exif\0\0" + tiff_block([(0x013B, 2, len(artist), artist)]))


def float_tiffs() -> dict[str, bytes]:
    y, x = np.mgrid[0:24, 0:32].astype(np.float32)
    rgb = np.stack([x / 31, y / 23, np.full_like(x, 0.5)], axis=2)
    out = {}
    for name, samples in {"float-rgb.tif": rgb[..., ::-1], "float-grey.tif": rgb[..., 0],
                          "float-grey-255.tif": rgb[..., 0] * 255,
                          "int32-grey.tif": (rgb[..., 0] * 2_000_000_000).astype(np.int32)}.items():
        ok, encoded = cv2.imencode(".tiff", np.ascontiguousarray(samples))
        out[name] = encoded.tobytes()
    return out


def animations() -> dict[str, bytes]:
    frames = []
    for index in range(3):
        rgba = np.zeros((24, 32, 4), np.uint8)
        rgba[..., :3] = (40 + 70 * index, 90, 200 - 60 * index)
        rgba[..., 3] = 255
        rgba[:6, :6, 3] = 0
        rgba[8:16, 4 + 8 * index:12 + 8 * index] = (250, 250, 250, 255)
        frames.append(Image.fromarray(rgba))
    out = {}
    for name, fmt, options in (
            ("animated.gif", "GIF", {"loop": 0, "disposal": 2}),
            ("animated.png", "PNG", {"loop": 2, "disposal": [0, 1, 2], "blend": 0}),
            ("animated.webp", "WEBP", {"loop": 3, "lossless": True})):
        buffer = io.BytesIO()
        frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=[100, 200, 300], **options)
        out[name] = buffer.getvalue()
    return out


def sixteen_bit_apng() -> bytes:
    """Two frames of 16-bit grey (Pillow reads animation frames with 8 bits)."""
    width, height = 5, 4

    def frame_control(sequence: int) -> bytes:
        return chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, width, height, 0, 0, 1, 10, 0, 0))

    def pixels(level: int) -> bytes:
        return zlib.compress((b"\0" + struct.pack(">H", level) * width) * height)

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"acTL", struct.pack(">II", 2, 0))
            + frame_control(0) + chunk(b"IDAT", pixels(20000)) + frame_control(1)
            + chunk(b"fdAT", struct.pack(">I", 2) + pixels(50000)) + chunk(b"IEND", b""))


def main() -> None:
    files = {
        "lying-header-144mp.png": lying_header(),
        "over-limit-900mp.png": png(30000, 30000, idat=zlib.compress(b"\0" * 1000)),
        "xmp-entity-bomb.jpg": entity_bomb(),
        "xmp-backtracking.png": backtracking_xmp(),
        "xmp-inflates-32mb.png": inflating_xmp(),
        "ztxt-inflates-64mb.png": inflating_ztxt(),
        "iccp-inflates-64mb.png": inflating_iccp(),
        "exif-bad-rationals.jpg": bad_rationals(),
        "exif-tag-bomb.png": exif_bomb(),
        "exif-raw-profile-bomb.png": raw_profile_exif_bomb(),
        "tiff-tag-bomb.tif": tiff_tag_bomb(),
        "gif-240mp-of-frames.gif": too_many_frames(),
        "exif-control-characters.jpg": control_characters(),
        **float_tiffs(),
        **animations(),
        "animated-16bit.png": sixteen_bit_apng(),
    }
    for name, data in files.items():
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
