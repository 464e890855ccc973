import cv2
import numpy as np
import pytest
from PIL import Image

from filterkit import check_contract, check_declarations, check_rejects, cutout, run
from omamori.errors import ParamError
from omamori.filters.base import Context
from omamori.filters.watermark import tile_layout
from omamori.params import resolve
from omamori.registry import get_registry


def _flat(value=0.5, size=(300, 400)):
    img = np.full(size + (4,), value, np.float32)
    img[..., 3] = 1.0
    return img


def _changed(before, after):
    return np.abs(after[..., :3] - before[..., :3]).max(axis=2) > 1e-4


def _settings(**values):
    return resolve(get_registry().get("watermark").params, values)


def test_declarations():
    check_declarations("watermark")
    check_rejects("watermark", placement="diagonal", opacity=1.5, size=0, color="white", jitter=2, spacing=0)


def test_contract():
    check_contract("watermark", cutout(), {"opacity": 0}, {})
    check_contract("watermark", cutout(), {"text": "  "}, {"placement": "center", "text": "透かし"})


def test_tiles_cover_the_whole_image():
    img = _flat()
    drawn = _changed(img, run("watermark", img, opacity=0.5))
    # Every cell of a 3×3 grid over the image carries part of a mark.
    for rows in np.array_split(np.arange(300), 3):
        for cols in np.array_split(np.arange(400), 3):
            assert drawn[np.ix_(rows, cols)].mean() > 0.01


def test_single_placement_stays_in_its_corner():
    img = _flat()
    ys, xs = np.nonzero(_changed(img, run("watermark", img, placement="bottom-right", opacity=0.8)))
    assert ys.min() > 150 and xs.min() > 200


@pytest.mark.parametrize("placement", ["bottom-right", "top-left", "center"])
def test_single_mark_too_wide_for_the_image_shrinks_to_fit(placement):
    """A long credit at the default size is wider than a portrait picture: it must shrink, not lose its
    beginning (the name) past the edge."""
    img = _flat(0.5, (400, 300))
    out = run("watermark", img, text="© 2025 山田花子 / @hanako_art 無断転載禁止", placement=placement, opacity=1.0)
    ys, xs = np.nonzero(_changed(img, out))
    margin = round(0.03 * 300)
    assert xs.min() >= margin - 1 and xs.max() <= 300 - margin and xs.max() - xs.min() > 200


def test_jitter_differs_per_tile_and_zero_jitter_is_a_regular_grid():
    size, mark = (1200, 900), (180, 40)
    tiles = tile_layout(size, mark, _settings(jitter=0.6), np.random.default_rng(1))
    assert len(tiles) > 20
    assert len({t.angle for t in tiles}) == len(tiles) and len({t.scale for t in tiles}) == len(tiles)
    assert max(t.scale for t in tiles) - min(t.scale for t in tiles) > 0.1
    assert max(t.angle for t in tiles) - min(t.angle for t in tiles) > 5
    regular = tile_layout(size, mark, _settings(jitter=0), np.random.default_rng(1))
    assert {t.angle for t in regular} == {30.0} and {t.scale for t in regular} == {1.0}
    # The jittered tiles are off the regular lattice, each by its own amount.
    lattice = np.array([(t.x, t.y) for t in regular])
    offsets = [np.hypot(*(lattice - (t.x, t.y)).T).min() for t in tiles]
    assert np.mean(np.array(offsets) > 1.0) > 0.9 and len({round(o, 6) for o in offsets}) > 0.9 * len(tiles)


def test_drawn_tiles_are_not_copies_of_one_patch():
    """With jitter, two marks cut from the image differ; without it they match exactly."""
    img = _flat(0.0, (600, 800))

    def marks(jitter):
        out = run("watermark", img, jitter=jitter, opacity=1.0, angle=0, outline=0, seed=4)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            cv2.dilate(_changed(img, out).astype(np.uint8), np.ones((25, 25), np.uint8)))
        whole = [i for i in range(1, count) if stats[i, 0] > 0 and stats[i, 1] > 0
                 and stats[i, 0] + stats[i, 2] < 800 and stats[i, 1] + stats[i, 3] < 600]
        return [(stats[i, 2], stats[i, 3]) for i in whole]

    assert len(set(marks(0.0))) == 1  # identical boxes
    jittered = marks(0.8)
    assert len(jittered) >= 4 and len(set(jittered)) >= len(jittered) - 1


def test_seed_moves_the_tiles():
    img = _flat()
    assert not np.array_equal(run("watermark", img, seed=1), run("watermark", img, seed=2))


def test_logo(tmp_path):
    logo = np.zeros((20, 40, 4), np.uint8)
    logo[..., 0], logo[..., 3] = 255, 255  # an opaque red bar
    path = tmp_path / "logo.png"
    Image.fromarray(logo).save(path)
    img = _flat(0.0)
    out = run("watermark", img, logo=str(path), placement="center", opacity=1.0, outline=0)
    centre = out[150, 200, :3]
    assert centre[0] > 0.95 and centre[1] < 0.05
    with pytest.raises(ParamError, match="logo"):
        run("watermark", img, logo=str(tmp_path / "missing.png"))


def test_font_without_the_glyph_is_a_clear_error(tmp_path):
    from PIL import ImageFont

    latin = tmp_path / "latin.ttf"
    latin.write_bytes(ImageFont.load_default(20).font_bytes)
    run("watermark", _flat(), text="(c) me", font=str(latin))
    with pytest.raises(ParamError, match=r"'作' \(U\+4F5C\)"):
        run("watermark", _flat(), text="© 作者", font=str(latin))


def test_outline_and_colour():
    img = _flat(0.5)
    out = run("watermark", img, placement="center", opacity=1.0, color="#ff0000", outline_color="#0000ff",
              outline=0.15, size=0.2)
    ink = out[_changed(img, out)]
    assert (ink[:, 0] > 0.95).sum() > 50 and (ink[:, 2] > 0.95).sum() > 50  # red text, blue outline


def test_progress_is_reported():
    calls = []
    filt = get_registry().get("watermark")
    filt.apply(_flat(), _settings(size=0.02), Context(progress=lambda f, m: calls.append(f)))
    assert calls and all(0 <= f <= 1 for f in calls)


def test_cost_is_bounded_whatever_the_text_length():
    """Only what could be seen is drawn: a text thousands of characters long draws the
    same mark as its first characters, so it costs no more than they do."""
    img = _flat()
    long_text = "© artist " * 20_000
    np.testing.assert_array_equal(run("watermark", img, text=long_text),
                                  run("watermark", img, text=long_text[:48].strip()))


def test_a_very_wide_logo_is_squeezed_not_unbounded(tmp_path):
    from omamori.filters import _overlay as ov

    Image.new("RGBA", (4000, 2), (255, 0, 0, 255)).save(tmp_path / "thin.png")
    colour, coverage = ov.logo_sprite(str(tmp_path / "thin.png"), 10)
    assert coverage.shape == (10, 10 * ov.MAX_ASPECT)
    out = run("watermark", _flat(), logo=str(tmp_path / "thin.png"), size=0.05)
    assert _changed(_flat(), out).any()


def test_logo_from_a_pipe_is_a_param_error(tmp_path):
    import os

    os.mkfifo(tmp_path / "logo.png")
    with pytest.raises(ParamError, match="logo"):
        run("watermark", _flat(), logo=str(tmp_path / "logo.png"))


@pytest.mark.parametrize("placement", ("bottom-right", "tiled"))
def test_a_wide_banner_gets_a_mark_readable_at_its_shown_size(placement):
    """A 4000×200 banner is seen shrunk to a screen's width: sized on its height the mark was 12 px
    (4 px on a 1500 px screen). It is sized on a quarter of the width, like the notice, and still fits."""
    banner = _flat(0.5, (200, 4000))
    drawn = _changed(banner, run("watermark", banner, placement=placement, jitter=0, angle=0, opacity=1.0))
    rows = np.nonzero(drawn.any(axis=1))[0]
    if placement == "tiled":  # the tallest glyph (with its outline) of any tile
        assert cv2.connectedComponentsWithStats(drawn.astype(np.uint8))[2][1:, cv2.CC_STAT_HEIGHT].max() > 30
    else:
        assert rows.max() - rows.min() > 40 and rows.min() >= 6 and rows.max() < 194
    strip = _flat(0.5, (4000, 200))  # a tall strip is seen at its width, its short edge: unchanged
    drawn = _changed(strip, run("watermark", strip, placement="bottom-right", opacity=1.0))
    rows = np.nonzero(drawn.any(axis=1))[0]
    assert rows.max() - rows.min() < 20
