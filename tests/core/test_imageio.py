import io
import os
import struct
import threading
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from omamori import imageio
from omamori.errors import InputError


def gradient(w=40, h=30):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 6, y * 8, (x + y) * 3], axis=2).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("TIFF", "tif"), ("WEBP", "webp")])
def test_lossless_formats_read_back_exactly(tmp_path, fmt, ext):
    rgb = gradient()
    path = tmp_path / f"a.{ext}"
    Image.fromarray(rgb).save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    pic = imageio.load(path)
    assert pic.format == fmt and pic.bit_depth == 8 and not pic.has_alpha
    np.testing.assert_array_equal(np.rint(pic.pixels[..., :3] * 255).astype(np.uint8), rgb)
    assert np.all(pic.pixels[..., 3] == 1.0) and pic.pixels.dtype == np.float32


def test_jpeg_reads(tmp_path):
    Image.fromarray(gradient()).save(tmp_path / "a.jpg", quality=95)
    pic = imageio.load(tmp_path / "a.jpg")
    assert pic.format == "JPEG" and pic.pixels.shape == (30, 40, 4)


@pytest.mark.parametrize("channels", [1, 3, 4])  # OpenCV writes no 2-channel PNG
def test_sixteen_bit_png_keeps_every_bit(tmp_path, channels):
    rng = np.random.default_rng(1)
    samples = rng.integers(0, 65536, (12, 9, channels), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "a.png"), samples if channels > 1 else samples[..., 0])
    pic = imageio.load(tmp_path / "a.png")
    assert pic.bit_depth == 16 and pic.has_alpha == (channels in (2, 4))
    back = np.rint(pic.pixels * 65535).astype(np.uint16)
    if channels >= 3:  # OpenCV stores BGR(A)
        np.testing.assert_array_equal(back[..., :3], samples[..., 2::-1])
    else:
        for c in range(3):
            np.testing.assert_array_equal(back[..., c], samples[..., 0])
    if channels in (2, 4):
        np.testing.assert_array_equal(back[..., 3], samples[..., -1])


def test_sixteen_bit_tiff(tmp_path):
    samples = (np.arange(5 * 7 * 3, dtype=np.uint16).reshape(5, 7, 3) * 601)
    cv2.imwrite(str(tmp_path / "a.tif"), samples)
    pic = imageio.load(tmp_path / "a.tif")
    assert pic.bit_depth == 16
    np.testing.assert_array_equal(np.rint(pic.pixels[..., :3] * 65535).astype(np.uint16), samples[..., ::-1])


@pytest.mark.parametrize("mode,alpha", [("L", False), ("LA", True), ("RGBA", True), ("1", False)])
def test_grey_and_alpha_modes(tmp_path, mode, alpha):
    Image.new(mode, (8, 6), 1 if mode == "1" else (100,) * len(mode)).save(tmp_path / "a.png")
    pic = imageio.load(tmp_path / "a.png")
    assert pic.has_alpha == alpha and pic.pixels.shape == (6, 8, 4)


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (4, 4), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.putpixel((1, 1), 1)
    im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    pic = imageio.load(tmp_path / "p.png")
    assert pic.has_alpha and pic.pixels[0, 0, 3] == 0.0 and pic.pixels[1, 1, 3] == 1.0
    assert pic.pixels[1, 1, 1] == 1.0


def test_cmyk_is_converted_with_a_notice(tmp_path):
    Image.new("CMYK", (5, 5), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    pic = imageio.load(tmp_path / "c.jpg")
    assert pic.notices and "CMYK" in pic.notices[0].en and "CMYK" in pic.notices[0].ja
    assert pic.pixels[2, 2, 0] > 0.9 and pic.pixels[2, 2, 1] < 0.1


def test_exif_orientation_is_applied(tmp_path):
    rgb = gradient(40, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    Image.fromarray(rgb).save(tmp_path / "o.jpg", exif=exif, quality=100)
    pic = imageio.load(tmp_path / "o.jpg")
    assert pic.pixels.shape[:2] == (40, 30)


def test_sixteen_bit_orientation_matches_pillow(tmp_path):
    base = (np.arange(6 * 4 * 3, dtype=np.uint16).reshape(4, 6, 3) * 900)
    for tag in range(1, 9):
        ok, png = cv2.imencode(".png", base)
        exif = Image.Exif()
        exif[0x0112] = tag
        reference = np.asarray(Image.fromarray((base[..., ::-1] >> 8).astype(np.uint8)).transpose(
            {1: None, 2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}[tag]) if tag > 1
            else Image.fromarray((base[..., ::-1] >> 8).astype(np.uint8)))
        got = imageio._orient(base[..., ::-1], tag) >> 8
        np.testing.assert_array_equal(got, reference, err_msg=f"orientation {tag}")


def test_icc_profile_is_kept(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(gradient()).save(tmp_path / "i.png", icc_profile=icc)
    assert imageio.load(tmp_path / "i.png").icc_profile == icc


def png_with_size(width, height):
    """A PNG whose header claims `width`×`height` but whose data is tiny."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


def good_png_bytes():
    buffer = io.BytesIO()
    Image.fromarray(gradient(64, 64)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("name,content,reason", [
    ("empty.png", b"", "empty"),
    ("text.png", b"hello, I am not an image\n" * 10, "not an image"),
    ("truncated.png", good_png_bytes()[:200], "truncated"),
    ("corrupt.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 300, "not an image"),
    ("bomb.png", png_with_size(30000, 30000), "too many pixels"),
    ("lying.png", png_with_size(300, 200), "truncated"),
])
def test_bad_files_give_one_line_errors(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        imageio.load(path)
    text = info.value.message()
    assert reason in text and name in text and "\n" not in text
    assert path.read_bytes() == content


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        imageio.load(tmp_path / "nope.png")
    with pytest.raises(InputError, match="folder"):
        imageio.load(tmp_path)


def test_unsupported_format(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "a.bmp")
    with pytest.raises(InputError, match="unsupported format BMP"):
        imageio.load(tmp_path / "a.bmp")


def test_pipes_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "art.png"
    os.mkfifo(fifo)
    with pytest.raises(InputError) as info:
        imageio.load(fifo)  # would block for ever if it were opened for a plain read
    assert "not a regular file" in info.value.message() and "art.png" in info.value.message()


def test_frames_count_against_the_pixel_limit(tmp_path, monkeypatch):
    frames = [Image.new("RGB", (100, 100), (i * 20, 0, 0)) for i in range(5)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=40)
    assert len(imageio.load(tmp_path / "a.gif").frames) == 5
    monkeypatch.setenv("OMAMORI_MAX_MEGAPIXELS", "0.04")  # 40 000 pixels: 4 frames' worth
    with pytest.raises(InputError, match=r"too many pixels \(over 0.04 MP, 5 frames"):
        imageio.load(tmp_path / "a.gif")


def test_still_gif_reads_like_any_picture(tmp_path):
    Image.fromarray(gradient()).convert("P").save(tmp_path / "a.gif")
    pic = imageio.load(tmp_path / "a.gif")
    assert pic.format == "GIF" and not pic.animated and pic.frames == [] and pic.pixels.shape == (30, 40, 4)


def test_oversized_file_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(imageio, "max_pixels", lambda: 10)
    path = tmp_path / "big.png"
    path.write_bytes(good_png_bytes() + b"\0" * (70 << 20))
    with pytest.raises(InputError, match="OMAMORI_MAX_MEGAPIXELS"):
        imageio.load(path)


def test_unparseable_exif_is_dropped_with_a_notice():
    """A text ResolutionUnit, 0/0 and negative resolutions (made by make_crafted.py)."""
    from pathlib import Path

    pic = imageio.load(Path(__file__).resolve().parents[1] / "data" / "crafted" / "exif-bad-rationals.jpg")
    assert not {0x011A, 0x011B, 0x0128} & set(pic.exif) and pic.exif[0x013B].rstrip("\0") == "Hana"
    notice = next(n for n in pic.notices if "ResolutionUnit" in n.en)
    assert "XResolution" in notice.en and "YResolution" in notice.en and "ResolutionUnit" in notice.ja


def test_multi_page_tiff_says_only_the_first_page_is_kept():
    buffer = io.BytesIO()
    pages = [Image.new("RGB", (6, 4), (10 * i, 0, 0)) for i in range(3)]
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:])
    pic = imageio.load("pages.tif", buffer.getvalue())
    assert pic.pixels.shape == (4, 6, 4) and any("first of 3 pages" in n.en for n in pic.notices)


def test_an_apng_with_broken_frames_keeps_its_still_picture(tmp_path):
    """Frames without their data (no fdAT): viewers show the default image, and so is it protected."""
    from omamori import containers

    first, second = Image.new("RGB", (16, 12), (200, 40, 40)), Image.new("RGB", (16, 12), (40, 40, 200))
    buffer = io.BytesIO()
    first.save(buffer, "PNG", save_all=True, append_images=[second], duration=100)
    chunks = [c for c in containers.png_chunks(buffer.getvalue()) if c.kind != b"fdAT"]
    path = tmp_path / "broken.png"
    path.write_bytes(containers.PNG_SIGNATURE + b"".join(containers.png_chunk(c.kind, c.body) for c in chunks))
    picture = imageio.load(path)
    assert not picture.animated and picture.pixels.shape == (12, 16, 4)
    assert np.allclose(picture.pixels[0, 0, :3], np.array([200, 40, 40]) / 255)
    assert any("damaged" in notice.en for notice in picture.notices)


def test_a_reader_that_raises_not_implemented_is_one_line(tmp_path):
    """Pillow's DDS reader raises NotImplementedError for pixel formats it lacks."""
    header = struct.pack("<7I", 124, 0x1007, 4, 4, 0, 0, 0) + bytes(44)
    pixel_format = struct.pack("<2I4s5I", 32, 8, bytes(4), 0, 0, 0, 0, 0)  # flags 8: unknown to Pillow
    path = tmp_path / "odd.dds"
    path.write_bytes(b"DDS " + header + pixel_format + struct.pack("<5I", 0x1000, 0, 0, 0, 0) + bytes(64))
    with pytest.raises(InputError, match="not an image, or a damaged one"):
        imageio.load(path)


@pytest.mark.parametrize("animated", [False, True])
def test_a_png_with_damaged_pixel_data_is_refused(tmp_path, animated):
    """Pillow decodes a PNG to look for its EXIF; a failure there is the picture's damage, not
    bad EXIF, and must not leave a half-decoded picture to protect."""
    rng = np.random.default_rng(3)
    frames = [Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", **({"save_all": True, "append_images": frames[1:]} if animated else {}))
    data = bytearray(buffer.getvalue())
    at = data.find(b"IDAT") + 2000
    data[at:at + 200] = bytes(200)  # the chunk's length and CRC still hold: only the data is wrong
    path = tmp_path / "damaged.png"
    path.write_bytes(data)
    with pytest.raises(InputError, match="damaged or truncated") as info:
        imageio.load(path)
    assert "damaged.png" in info.value.message() and "\n" not in info.value.message()


def tiff_with_bad_entry(tag, kind=None, count=None):
    """A small RGB TIFF whose `tag` entry claims another type or count."""
    buffer = io.BytesIO()
    Image.fromarray(gradient(8, 6)).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    (offset,) = struct.unpack("<I", data[4:8])
    (entries,) = struct.unpack("<H", data[offset:offset + 2])
    for at in range(offset + 2, offset + 2 + 12 * entries, 12):
        entry_tag, entry_kind, entry_count = struct.unpack("<HHI", data[at:at + 8])
        if entry_tag == tag:
            data[at + 2:at + 8] = struct.pack("<HI", kind or entry_kind, count or entry_count)
    return bytes(data)


@pytest.mark.parametrize("bad", [{"tag": 262, "kind": 100}, {"tag": 258, "count": 458756}])
def test_decoders_say_nothing_of_their_own_about_damage(tmp_path, capfd, recwarn, bad):
    """Pillow's warnings and OpenCV's logs would print many lines; the answer is omamori's own."""
    path = tmp_path / "damaged.tif"
    path.write_bytes(tiff_with_bad_entry(**bad))
    try:
        imageio.load(path)
    except InputError as err:
        assert "\n" not in err.message()
    assert capfd.readouterr().err == "" and len(recwarn) == 0


def outcome(path) -> bytes | str:
    """What a load gives: the pixels, or the one line."""
    try:
        return imageio.load(path).pixels.tobytes()
    except InputError as err:
        return err.message()


def test_loads_in_threads_at_once_leave_warnings_as_they_were(tmp_path, recwarn, capfd):
    """Editors and library users may load in threads of one process. The decoders' quiet settings
    (warnings filters, OpenCV's log level) are process-wide: two loads changing them at once could
    restore each other's and leave warnings off, or let them through, for good."""
    paths = [tmp_path / "plain.png", tmp_path / "deep.png", tmp_path / "damaged.tif"]
    Image.fromarray(gradient(64, 48)).save(paths[0])
    cv2.imwrite(str(paths[1]), np.random.default_rng(2).integers(0, 65536, (48, 64, 3), dtype=np.uint16))  # OpenCV
    paths[2].write_bytes(tiff_with_bad_entry(tag=258, count=458756))  # Pillow warns, OpenCV logs
    alone = [outcome(path) for path in paths]
    filters, log_level = list(warnings.filters), cv2.utils.logging.getLogLevel()
    threads, rounds = 6, 20
    start = threading.Barrier(threads)

    def load_often(path):
        start.wait()
        return [outcome(path) for _ in range(rounds)]

    with ThreadPoolExecutor(threads) as pool:
        together = list(pool.map(load_often, paths * (threads // len(paths))))
    assert together == [[one] * rounds for one in alone * (threads // len(paths))]
    assert isinstance(alone[2], str) and "damaged" in alone[2]
    assert warnings.filters == filters and cv2.utils.logging.getLogLevel() == log_level
    assert not recwarn.list and capfd.readouterr().err == ""
