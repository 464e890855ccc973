"""The crafted corpus (tests/data/crafted, made by make_crafted.py): every file gets a
one-line answer, the right one, and a good picture behind bad ones is still protected.

Time and memory per file are measured by tests/benchmarks/bench_crafted.py."""

from pathlib import Path

import numpy as np
import pytest

from omamori import imageio, jobs
from omamori.inspect import inspect_file

CRAFTED = Path(__file__).resolve().parents[1] / "data" / "crafted"
REFUSED = {
    "lying-header-144mp.png": ("damaged or truncated", "12000×12000"),
    "over-limit-900mp.png": ("too many pixels", "OMAMORI_MAX_MEGAPIXELS"),
    "gif-240mp-of-frames.gif": ("too many pixels", "60 frames"),
    "tiff-tag-bomb.tif": ("damaged or truncated", "claim"),
}
DROPPED = {  # protected, with a notice naming what was left out
    "xmp-inflates-32mb.png": "iTXt",
    "ztxt-inflates-64mb.png": "zTXt",
    "iccp-inflates-64mb.png": "iCCP",
    "exif-tag-bomb.png": "EXIF",
    "exif-raw-profile-bomb.png": "EXIF",
    "exif-bad-rationals.jpg": "ResolutionUnit",
}


def corpus():
    return sorted(p for p in CRAFTED.iterdir() if p.suffix != ".py")


@pytest.fixture(scope="module")
def noise():
    return jobs.single_filter_preset("noise", {})


def test_corpus_is_complete_and_small():
    names = {p.name for p in corpus()}
    assert set(REFUSED) | set(DROPPED) <= names and len(names) >= 21
    assert sum(p.stat().st_size for p in corpus()) < 1_000_000


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_in_one_line(tmp_path, noise, name):
    result = jobs.protect_file(CRAFTED / name, noise, out_dir=tmp_path)
    assert not result.ok and result.debug is None
    assert name in result.error and "\n" not in result.error
    for part in REFUSED[name]:
        assert part in result.error
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", sorted(DROPPED))
def test_metadata_bombs_cost_the_metadata_not_the_picture(tmp_path, noise, name):
    result = jobs.protect_file(CRAFTED / name, noise, out_dir=tmp_path)
    assert result.ok, result.error
    assert any(DROPPED[name] in notice for notice in result.notices), result.notices
    assert imageio.load(result.output).pixels.shape[:2] == imageio.load(CRAFTED / name).pixels.shape[:2]


def test_bad_rationals_get_the_default_resolution(tmp_path, noise):
    result = jobs.protect_file(CRAFTED / "exif-bad-rationals.jpg", noise, out_dir=tmp_path)
    exif = imageio.load(result.output).exif
    assert float(exif[0x011A]) == 72.0 and exif[0x0128] == 2


@pytest.mark.parametrize("name", ["xmp-entity-bomb.jpg", "xmp-backtracking.png", "xmp-inflates-32mb.png"])
def test_hostile_xmp_reads_as_no_optout(name):
    assert inspect_file(CRAFTED / name)["optout"]["found"] is False


def test_inspect_escapes_control_characters():
    report = inspect_file(CRAFTED / "exif-control-characters.jpg")
    artist = report["optout"]["exif_artist"]
    assert "\x1b" not in artist and "\x07" not in artist
    assert artist == "\\x1b[2J\\x1b]0;owned\\x07Hana\\x1b[0m"


@pytest.mark.parametrize("name,scale", [("float-grey.tif", 1.0), ("float-grey-255.tif", 1.0),
                                        ("int32-grey.tif", 2_000_000_000 / 2147483647)])
def test_wide_grey_tiffs_keep_their_brightness(name, scale):
    picture = imageio.load(CRAFTED / name)
    expected = np.arange(32, dtype=np.float32) / 31 * scale
    np.testing.assert_allclose(picture.pixels[5, :, 0], expected, atol=2e-3)
    assert picture.pixels[..., :3].mean() > 0.4  # not black
    assert any("0–255" in n.en for n in picture.notices) == (name == "float-grey-255.tif")


def test_float_rgb_tiff_reads_its_colours():
    picture = imageio.load(CRAFTED / "float-rgb.tif")
    y, x = 10, 20
    np.testing.assert_allclose(picture.pixels[y, x], (x / 31, y / 23, 0.5, 1.0), atol=2e-3)


@pytest.mark.parametrize("name,disposals,plays", [
    ("animated.gif", ["background"] * 3, 0),
    ("animated.png", ["none", "background", "previous"], 2),
    ("animated.webp", ["none"] * 3, 3),
])
def test_animations_keep_every_frame_timing_loop_and_disposal(tmp_path, noise, name, disposals, plays):
    source = imageio.load(CRAFTED / name)
    result = jobs.protect_file(CRAFTED / name, noise, out_dir=tmp_path)
    assert result.ok, result.error
    out = imageio.load(result.output)
    assert len(out.frames) == 3 and [f.duration for f in out.frames] == [100, 200, 300]
    assert [f.disposal for f in out.frames] == disposals and out.plays == plays
    for before, after in zip(source.frames, out.frames):
        change = np.abs(after.pixels[..., :3] - before.pixels[..., :3])
        assert 0 < change.mean() < 0.08  # protected, and still the same frame
        np.testing.assert_array_equal(after.samples[..., 3] > 127, before.samples[..., 3] > 127)


def test_sixteen_bit_animation_keeps_its_brightness_with_a_notice():
    picture = imageio.load(CRAFTED / "animated-16bit.png")
    assert [round(float(f.pixels[0, 0, 0]), 2) for f in picture.frames] == [0.31, 0.76]  # 20000 and 50000 of 65535
    assert any("8 bits" in n.en for n in picture.notices)


def test_same_seed_on_every_frame(tmp_path, noise):
    """A still scene must not shimmer: every frame gets the same pattern."""
    from PIL import Image

    frames = [Image.new("RGB", (24, 16), (120 + i, 80, 60)) for i in range(2)]  # equal frames would be merged
    path = tmp_path / "still-scene.png"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[50, 50])
    out = imageio.load(jobs.protect_file(path, noise).output)
    changes = [f.samples[..., :3].astype(int) - np.asarray(src, int) for f, src in zip(out.frames, frames)]
    assert len(changes) == 2 and np.abs(changes[0]).sum() > 0
    assert np.abs(changes[0] - changes[1]).max() <= 1  # the same pattern, up to rounding


def test_a_batch_goes_on_past_every_bad_file(tmp_path, noise):
    good = CRAFTED / "animated.png"
    results = [jobs.protect_file(p, noise, out_dir=tmp_path) for p in corpus() + [good]]
    for result in results:
        assert result.ok or (result.error and "\n" not in result.error and "internal error" not in result.error)
    assert results[-1].ok or "already exists" in results[-1].error
    assert sum(r.ok for r in results) == len(corpus()) - len(REFUSED)
