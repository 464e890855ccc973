"""Container bytes: chunks, segments and directories read back what was written, and
hostile sizes are refused within the limits."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from omamori import containers
from omamori.containers import Chunk, Damaged


def png_bytes(**options):
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (10, 20, 30)).save(buffer, "PNG", **options)
    return buffer.getvalue()


def test_png_chunks_insert_and_read_text():
    png = containers.png_insert_after_ihdr(png_bytes(), [containers.itxt(b"Author", "山田".encode()),
                                                         Chunk(b"zTXt", b"Note\0\0" + zlib.compress(b"hello"))])
    chunks = list(containers.png_chunks(png))
    assert [c.kind for c in chunks[:3]] == [b"IHDR", b"iTXt", b"zTXt"] and chunks[-1].kind == b"IEND"
    assert containers.read_text_chunk(chunks[1]) == (b"Author", "山田".encode())
    assert containers.read_text_chunk(chunks[2]) == (b"Note", b"hello")
    with Image.open(io.BytesIO(png)) as im:  # still a valid PNG: CRCs and order right
        assert im.info["Author"] == "山田" and im.info["Note"] == "hello"


def test_iccp_round_trip():
    chunk = containers.iccp(b"profile bytes" * 10)
    assert containers.read_iccp(chunk) == b"profile bytes" * 10


def test_inflate_refuses_a_bomb_without_inflating_it():
    bomb = zlib.compress(b"\0" * (64 << 20), 9)
    assert len(bomb) < 100_000
    with pytest.raises(Damaged, match="inflates past"):
        containers.inflate(bomb)
    assert containers.inflate(zlib.compress(b"x" * 100), limit=100) == b"x" * 100
    with pytest.raises(Damaged, match="zlib"):
        containers.inflate(b"not zlib")


def test_png_without_bombs_keeps_the_picture():
    bomb = Chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"A" * (8 << 20), 9))
    fine = Chunk(b"zTXt", b"Title\0\0" + zlib.compress(b"ok"))
    png = containers.png_insert_after_ihdr(png_bytes(), [bomb, fine])
    cleaned, dropped = containers.png_without_bombs(png)
    assert dropped == ["zTXt"]
    with Image.open(io.BytesIO(cleaned)) as im:
        assert im.info.get("Title") == "ok" and "Comment" not in im.info and im.getpixel((0, 0)) == (10, 20, 30)
    assert containers.png_without_bombs(png_bytes()) == (png_bytes(), [])


def test_truncated_chunk_is_damaged():
    with pytest.raises(Damaged):
        list(containers.png_chunks(png_bytes()[:40]))


def test_jpeg_and_webp_metadata_found():
    exif = Image.Exif()
    exif[0x013B] = "Hana"
    for fmt in ("JPEG", "WEBP"):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buffer, fmt, exif=exif.tobytes(), xmp=b"<x:xmpmeta>packet</x:xmpmeta>")
        xmp, tiff = containers.find_metadata(buffer.getvalue())
        assert xmp == b"<x:xmpmeta>packet</x:xmpmeta>"
        assert containers.tiff_bytes_tag(tiff, 0x013B) == b"Hana\0"


def test_tiff_append_tags_keeps_the_picture_and_adds_ours():
    buffer = io.BytesIO()
    Image.new("RGB", (5, 4), (200, 100, 50)).save(buffer, "TIFF")
    exif = Image.Exif()
    exif[0x013B] = "Hana"
    exif.endian = containers.tiff_order(buffer.getvalue())
    out = containers.tiff_append_tags(buffer.getvalue(), lambda offset: exif.tobytes(offset)[6:])
    assert containers.tiff_bytes_tag(out, 0x013B) == b"Hana\0"
    with Image.open(io.BytesIO(out)) as im:
        assert im.getpixel((2, 2)) == (200, 100, 50) and im.tag_v2[0x013B] == "Hana"


def test_tiff_claims_count_every_directory_and_refuse_overlaps():
    shared = 100_000
    count = 500
    end = 8 + 2 + 12 * count + 4
    table = b"".join(struct.pack("<HHII", 0xC000 + i, 7, shared, end) for i in range(count))
    bomb = b"II*\0" + struct.pack("<IH", 8, count) + table + b"\0\0\0\0" + b"A" * shared
    assert containers.tiff_claimed_bytes(bomb) == count * shared
    with pytest.raises(Damaged, match="claim"):
        containers.check_tiff_claims(bomb)
    loop = b"II*\0" + struct.pack("<IH", 8, 0) + struct.pack("<I", 8)  # a directory chain pointing at itself
    assert containers.tiff_claimed_bytes(loop) == 0


def test_gif_frames_counted_without_decoding(tmp_path):
    frames = [Image.fromarray(np.full((6, 7, 3), 40 * i, np.uint8)) for i in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert containers.gif_frame_count(buffer.getvalue()) == 4
    with pytest.raises(Damaged):
        containers.gif_frame_count(b"GIF89a" + b"\0" * 7 + b"\x99")


def test_gif_xmp_extension_is_skipped_by_readers_and_found_by_ours():
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(buffer, "GIF")
    packet = b"<x:xmpmeta>\xe5\xb1\xb1</x:xmpmeta>"
    gif = containers.gif_insert_extension(buffer.getvalue(), containers.gif_xmp_extension(packet))
    assert containers.find_metadata(gif) == (packet, None)
    with Image.open(io.BytesIO(gif)) as im:
        assert im.convert("RGB").getpixel((1, 1)) == (1, 2, 3)


def test_read_file_refuses_pipes_and_large_files(tmp_path):
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(Exception, match="not a regular file"):
        containers.read_file(fifo, 100)
    big = tmp_path / "big.png"
    big.write_bytes(b"x" * 101)
    with pytest.raises(Exception, match="101 bytes"):
        containers.read_file(big, 100)
