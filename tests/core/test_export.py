"""Export: formats, bit depth, ICC, alpha, atomic writes, refusals and plain errors."""

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from omamori import atomicfile
from omamori.errors import InputError
from omamori.export import ExportSettings, protected_path, write_picture
from omamori.imageio import Picture, load

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def picture(bit_depth=8, alpha=True, size=(24, 32)):
    rng = np.random.default_rng(3)
    levels = 65535 if bit_depth == 16 else 255
    px = (rng.integers(0, levels + 1, size + (4,)) / levels).astype(np.float32)
    px[..., 3] = px[..., 3] if alpha else 1.0
    return Picture(px, bit_depth=bit_depth, has_alpha=alpha, icc_profile=ICC)


def test_protected_path():
    assert protected_path("/in/cat.PNG") == Path("/in/cat-protected.PNG")
    assert protected_path("/in/cat.jpeg", "/out") == Path("/out/cat-protected.jpeg")
    assert protected_path("/in/cat.jpeg", None, "JPEG") == Path("/in/cat-protected.jpeg")  # spelling kept
    assert protected_path("/in/cat.png", "/out", "JPEG") == Path("/out/cat-protected.jpg")
    assert protected_path("/in/cat.png", None, "TIFF") == Path("/in/cat-protected.tif")


@pytest.mark.parametrize("ext", ["png", "tif"])
@pytest.mark.parametrize("alpha", [True, False])
def test_sixteen_bit_round_trip_exact(tmp_path, ext, alpha):
    src = picture(16, alpha)
    back = load(write_picture(src.pixels, tmp_path / f"a.{ext}", source=src))
    assert back.bit_depth == 16 and back.has_alpha == alpha
    assert np.array_equal(np.rint(back.pixels * 65535), np.rint(src.pixels * 65535))


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_eight_bit_lossless_round_trip_exact(tmp_path, ext):
    src = picture(8)
    back = load(write_picture(src.pixels, tmp_path / f"a.{ext}", source=src))
    assert back.bit_depth == 8 and np.array_equal(np.rint(back.pixels * 255), np.rint(src.pixels * 255))


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tif"])
def test_icc_profile_kept(tmp_path, ext):
    src = picture(8)
    assert load(write_picture(src.pixels, tmp_path / f"a.{ext}", source=src)).icc_profile == ICC


def test_jpeg_composites_alpha_on_white(tmp_path):
    src = picture(8)
    src.pixels[:16, :16] = (0.0, 0.0, 0.0, 0.0)  # transparent black must not turn black
    with Image.open(write_picture(src.pixels, tmp_path / "a.jpg", source=src)) as im:
        assert im.mode == "RGB" and min(im.getpixel((4, 4))) >= 250


def test_no_alpha_channel_when_source_had_none(tmp_path):
    src = picture(8, alpha=False)
    with Image.open(write_picture(src.pixels, tmp_path / "a.png", source=src)) as im:
        assert im.mode == "RGB"


def test_no_source_keeps_alpha_only_if_used(tmp_path, rgba):
    with Image.open(write_picture(rgba, tmp_path / "a.webp")) as im:
        assert im.mode == "RGBA"
    opaque = rgba.copy()
    opaque[..., 3] = 1.0
    with Image.open(write_picture(opaque, tmp_path / "b.png")) as im:
        assert im.mode == "RGB"


def test_refuses_to_overwrite_without_flag(tmp_path):
    src = picture()
    target = tmp_path / "a.png"
    target.write_bytes(b"keep me")
    with pytest.raises(InputError, match="already exists"):
        write_picture(src.pixels, target, source=src)
    assert target.read_bytes() == b"keep me"
    write_picture(src.pixels, target, source=src, overwrite=True)
    assert load(target).pixels.shape == (24, 32, 4)


def test_refuses_to_write_over_the_input(tmp_path):
    original = tmp_path / "art.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(original)
    before = original.read_bytes()
    src = load(original)
    with pytest.raises(InputError, match="art.png"):
        write_picture(src.pixels, original, source=src)
    assert original.read_bytes() == before


def only(folder):
    return sorted(p.name for p in folder.iterdir())


def test_failed_write_leaves_no_temp_and_no_output(tmp_path, monkeypatch):
    def disk_full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomicfile.os, "link", disk_full)
    src = picture()
    with pytest.raises(InputError) as caught:
        write_picture(src.pixels, tmp_path / "a.png", source=src)
    assert "No space left" in str(caught.value) and "\n" not in str(caught.value)
    assert only(tmp_path) == []


def test_interrupted_write_leaves_no_temp(tmp_path, monkeypatch):
    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomicfile.os, "fsync", interrupt)
    src = picture()
    with pytest.raises(KeyboardInterrupt):
        write_picture(src.pixels, tmp_path / "a.png", source=src)
    assert only(tmp_path) == []


def test_failed_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.png"
    target.write_bytes(b"old")
    monkeypatch.setattr(atomicfile.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(InputError, match="I/O error"):
        write_picture(picture().pixels, target, source=picture(), overwrite=True)
    assert target.read_bytes() == b"old" and only(tmp_path) == ["a.png"]


def test_missing_folder_is_one_plain_line(tmp_path):
    with pytest.raises(InputError) as caught:
        write_picture(picture().pixels, tmp_path / "nope" / "a.png")
    message = caught.value.message("en")
    assert "nope" in message and "does not exist" in message and "\n" not in message
    assert "ありません" in caught.value.message("ja")


def test_folder_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="does not exist"):
        write_picture(picture().pixels, tmp_path / "file" / "a.png")


def test_permission_denied_is_one_plain_line(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(atomicfile.os, "open", denied)
    with pytest.raises(InputError) as caught:
        write_picture(picture().pixels, tmp_path / "a.png")
    assert str(caught.value) == f"{tmp_path / 'a.png'}: cannot write into {tmp_path} (Permission denied)."
    assert only(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InputError, match="cannot write into"):
            write_picture(picture().pixels, folder / "a.png")
    finally:
        folder.chmod(0o700)


def test_unknown_extension(tmp_path):
    with pytest.raises(InputError, match=r"\.bmp"):
        write_picture(picture().pixels, tmp_path / "a.bmp")


def test_new_file_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        out = write_picture(picture().pixels, tmp_path / "a.png")
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


def test_profile_byte_limit_lowers_jpeg_quality(tmp_path):
    """Bluesky takes 2,000,000 bytes: noisy pixels at quality 92 are larger than that."""
    src = picture(size=(1700, 1700), alpha=False)
    settings = ExportSettings(profile="bluesky")
    free = write_picture(src.pixels, tmp_path / "free.jpg", source=src, settings=ExportSettings(quality=92))
    assert free.stat().st_size > 2_000_000
    capped = write_picture(src.pixels, tmp_path / "capped.jpg", source=src, settings=settings)
    assert capped.stat().st_size <= 2_000_000


def test_profile_byte_limit_refuses_lossless(tmp_path):
    src = picture(size=(1400, 1400), alpha=False)
    with pytest.raises(InputError, match="over the bluesky limit"):
        write_picture(src.pixels, tmp_path / "a.png", source=src, settings=ExportSettings(profile="bluesky"))
    assert only(tmp_path) == []


def test_export_settings_validate():
    settings = ExportSettings.from_dict({"profile": "x", "format": "jpeg", "quality": 80}, "p.json")
    assert (settings.profile, settings.format, settings.quality) == ("x", "JPEG", 80)
    assert ExportSettings.from_dict(settings.to_dict(), "p.json") == settings
    with pytest.raises(Exception, match=r"p\.json: export\.format: 'BMP'"):
        ExportSettings.from_dict({"format": "BMP"}, "p.json")
    with pytest.raises(Exception, match=r"p\.json: export\.quality: 0 is outside"):
        ExportSettings.from_dict({"quality": 0}, "p.json")
    with pytest.raises(Exception, match=r"p\.json: export: unknown key\(s\) qualty"):
        ExportSettings.from_dict({"qualty": 80}, "p.json")


def test_oversized_exif_is_a_plain_error(tmp_path):
    """JPEG holds at most 64 KB of EXIF; a huge kept description must not end in a traceback."""
    src = picture()
    src.exif = Image.Exif()
    src.exif[0x010E] = "x" * 70_000  # ImageDescription is kept: it is the artist's own caption
    with pytest.raises(InputError, match="JPEG encoding failed"):
        write_picture(src.pixels, tmp_path / "a.jpg", source=src)
    assert only(tmp_path) == []
    assert load(write_picture(src.pixels, tmp_path / "a.png", source=src)).exif[0x010E] == "x" * 70_000


@pytest.mark.parametrize("ext,side", [("webp", 16384), ("jpg", 65501), ("gif", 65536)])
def test_a_picture_larger_than_its_format_holds_is_one_plain_line(tmp_path, capfd, ext, side):
    """A long webtoon strip: the encoders would fail unclearly, print to the terminal or crash."""
    pixels = np.ones((side, 2, 4), np.float32)
    with pytest.raises(InputError, match=rf"2×{side} is larger than .* allows") as info:
        write_picture(pixels, tmp_path / f"strip.{ext}")
    assert "\n" not in info.value.message() and capfd.readouterr().err == "" and list(tmp_path.iterdir()) == []


def test_a_picture_over_the_profile_caps_gets_one_notice_in_both_languages(tmp_path):
    notices = []
    big, small = picture(size=(10, 1100)), picture(size=(10, 1080))
    write_picture(small.pixels, tmp_path / "small.jpg", source=small, settings=ExportSettings("instagram"),
                  notices=notices)
    assert notices == []  # within Instagram's 1080 px
    write_picture(big.pixels, tmp_path / "big.jpg", source=big, settings=ExportSettings("instagram"),
                  notices=notices)
    assert len(notices) == 1 and "over 1080×1080 px" in notices[0].en and "(1100×10)" in notices[0].en
    assert notices[0].ja.startswith("Instagram / Facebook は 1080×1080 px を超える画像を縮小します。")


@pytest.mark.parametrize("frames", [1, 3])
def test_webp_exif_chunk_holds_the_tiff_structure(tmp_path, frames):
    """The WebP container's EXIF chunk starts with the TIFF header; Pillow's animated writer kept JPEG's
    "Exif\\0\\0" prefix, which exiftool called an improper header and stricter readers do not parse."""
    from omamori import containers
    from omamori.export import write_frames
    from omamori.imageio import Frame

    src = picture(8, alpha=False)
    levels = [(src.pixels * 255).astype(np.uint8)] * frames
    src.frames = [Frame(np.ascontiguousarray(level), 80) for level in levels]
    out = write_frames(src.frames, tmp_path / "a.webp", source=src)
    exif = [c.body for c in containers.riff_chunks(out.read_bytes()) if c.kind == b"EXIF"]
    assert len(exif) == 1 and exif[0][:4] in (b"II*\0", b"MM\0*")


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tif"])
def test_a_grey_colour_profile_is_not_put_on_a_colour_file(tmp_path, ext):
    """A grey picture is written as RGB; its grey ICC profile there is invalid (libpng: 'Gray color space not
    permitted on RGB PNG'), so it is left out, with a notice, and an RGB profile is still kept."""
    grey_icc = ICC[:16] + b"GRAY" + ICC[20:]
    Image.new("L", (16, 8), 90).save(tmp_path / "grey.png", icc_profile=grey_icc)
    src, notices = load(tmp_path / "grey.png"), []
    out = write_picture(src.pixels, tmp_path / f"out.{ext}", source=src, notices=notices)
    assert load(out).icc_profile is None
    assert len(notices) == 1 and "GRAY" in notices[0].en and "GRAY" in notices[0].ja
    assert load(write_picture(src.pixels, tmp_path / f"rgb.{ext}", source=picture(8))).icc_profile == ICC


@pytest.mark.parametrize("ext, dpi", [("png", 350), ("jpg", 300), ("tif", 600), ("webp", 144)])
def test_print_resolution_is_kept(tmp_path, ext, dpi):
    """A 350 dpi PNG (pHYs) or 300 dpi JPEG (JFIF) without an EXIF resolution came out saying 72 dpi in EXIF,
    and JPEGs said "no unit" in JFIF beside it: the source's resolution is written in both now."""
    from omamori.metadata import XRESOLUTION

    source = tmp_path / f"in.{ext}"
    pixels = (np.random.default_rng(1).random((24, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(source, dpi=(dpi, dpi))
    out = write_picture(load(source).pixels, tmp_path / f"out.{ext}", source=load(source))
    with Image.open(out) as written:
        assert float(written.getexif()[XRESOLUTION]) == (dpi if ext != "webp" else 72)  # WebP keeps no dpi
        if ext in ("png", "jpg"):
            assert [round(v) for v in written.info["dpi"]] == [dpi, dpi]


def test_plain_picture_says_72_dpi_everywhere(tmp_path):
    out = write_picture(picture().pixels, tmp_path / "out.jpg", source=picture())
    with Image.open(out) as written:
        assert written.info["dpi"] == (72, 72) and float(written.getexif()[0x011A]) == 72


def test_an_animated_png_states_its_resolution_like_a_still_one(tmp_path):
    """Stills and animations get the same PNG metadata chunks (one helper): pHYs beside the EXIF."""
    from omamori import jobs

    frames = [Image.fromarray((np.random.default_rng(i).random((20, 24, 3)) * 255).astype(np.uint8))
              for i in range(3)]
    source = tmp_path / "anim.png"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=100, dpi=(300, 300))
    result = jobs.protect_file(source, jobs.single_filter_preset("noise", {}))
    with Image.open(result.output) as written:
        assert getattr(written, "n_frames", 1) == 3 and [round(v) for v in written.info["dpi"]] == [300, 300]
