
import cv2
import numpy as np
import pytest
from PIL import ImageFont

from filterkit import check_contract, check_declarations, check_rejects, cutout, jpeg_attack, painting, run
from omamori.errors import ParamError
from omamori.filters import _overlay, notice


def _flat(value, size=(300, 400)):
    img = np.full(size + (4,), value, np.float32)
    img[..., 3] = 1.0
    return img


def _changed(before, after):
    return np.abs(after[..., :3] - before[..., :3]).max(axis=2) > 1e-6


@pytest.fixture
def latin_only_font(tmp_path):
    """Pillow's built-in Aileron: a real TrueType font with no Japanese glyphs."""
    path = tmp_path / "aileron.ttf"
    path.write_bytes(ImageFont.load_default(20).font_bytes)
    return str(path)


def test_declarations():
    check_declarations("notice")
    check_rejects("notice", placement="middle", size=0.6, opacity=2, style="neon", outline=-1)


def test_contract():
    check_contract("notice", cutout(), {"opacity": 0}, {})
    assert np.array_equal(run("notice", cutout(), text="", subtext=" "), cutout())


def test_bundled_font_is_packaged_with_its_licence():
    path = _overlay.bundled_font_path()
    assert path.is_file() and path.stat().st_size < 6_000_000
    assert "SIL OPEN FONT LICENSE" in (path.parent / "OFL.txt").read_text()
    assert path.name in (path.parent / "README.md").read_text()
    assert _overlay.load_font("", 20).getname() == ("BIZ UDPGothic", "Bold")


def test_japanese_renders_with_the_bundled_font():
    font = _overlay.load_font("", 32)
    _overlay.check_glyphs(font, notice.DEFAULT_TEXT + notice.DEFAULT_SUBTEXT)  # no tofu for any character
    tofu = np.asarray(font.getmask(chr(0x10FFFD)))
    for char in "学習禁止":
        assert np.asarray(font.getmask(char)).shape != tofu.shape or not np.array_equal(font.getmask(char), tofu)
    img = _flat(0.5)
    out = run("notice", img, subtext="", placement="center", size=0.1)
    drawn = _changed(img, out)
    ys, xs = np.nonzero(drawn)
    # Ten full-width characters at 30 px: about 300 px of ink in one line, centred.
    assert 250 < xs.max() - xs.min() < 360 and 25 < ys.max() - ys.min() < 60
    assert abs((xs.max() + xs.min()) / 2 - 200) < 10 and abs((ys.max() + ys.min()) / 2 - 150) < 15


def test_user_font_without_the_glyph_is_a_clear_error(latin_only_font):
    run("notice", _flat(0.5), text="No AI", subtext="", font=latin_only_font)  # Latin text: fine
    with pytest.raises(ParamError) as err:
        run("notice", _flat(0.5), font=latin_only_font)
    message = str(err.value)
    assert "'学'" in message and "U+5B66" in message and "\n" not in message and "Aileron" in message
    assert "学" in err.value.message("ja")


def test_bundled_font_reports_a_missing_rare_glyph():
    with pytest.raises(ParamError, match=r"U\+20BB7"):
        run("notice", _flat(0.5), text="吉野家の\U00020BB7")


def test_unreadable_font_is_a_param_error(tmp_path):
    bad = tmp_path / "not-a-font.ttf"
    bad.write_bytes(b"hello")
    with pytest.raises(ParamError, match="font"):
        run("notice", _flat(0.5), font=str(bad))


@pytest.mark.parametrize("background, dark_text", ((0.95, True), (0.05, False)))
def test_auto_contrast_picks_text_against_the_background(background, dark_text):
    img = _flat(background)
    out = run("notice", img, opacity=1.0, outline=0.0, size=0.1)
    ink = out[_changed(img, out)][:, 0]
    assert (ink.min() < 0.15) if dark_text else (ink.max() > 0.85)
    # Auto follows the local background: a white corner on a dark image still gets dark text.
    mixed = _flat(0.05)
    mixed[150:, 200:, :3] = 0.95
    local = run("notice", mixed, opacity=1.0, outline=0.0, placement="bottom-right", size=0.05)
    assert local[_changed(mixed, local)][:, 0].min() < 0.15


@pytest.mark.parametrize("placement, corner", (("bottom-right", (1, 1)), ("top-left", (0, 0)),
                                               ("top-right", (0, 1)), ("bottom-left", (1, 0))))
def test_placement(placement, corner):
    img = _flat(0.5)
    ys, xs = np.nonzero(_changed(img, run("notice", img, placement=placement)))
    assert ((ys.min() >= 150) if corner[0] else (ys.max() < 150)) and ((xs.min() >= 200) if corner[1] else (xs.max() < 200))


def test_auto_placement_avoids_transparent_corners():
    img = _flat(0.5)
    ys, xs = np.nonzero(_changed(img, run("notice", img)))
    assert ys.min() >= 150 and xs.min() >= 200  # opaque: bottom right
    img[150:, :, 3] = 0.0  # the bottom half is transparent: the notice would not show there
    ys, xs = np.nonzero(_changed(img, run("notice", img)))
    assert ys.max() < 150 and xs.min() >= 200  # so it goes top right
    img[:, :, 3] = 0.0
    img[100:200, 50:350, 3] = 1.0  # only a band in the middle is opaque
    out = run("notice", img)
    assert img[..., 3][_changed(img, out)].mean() > 0.8


def test_long_notice_shrinks_to_fit_a_narrow_image():
    img = _flat(0.5, (400, 200))  # at size 0.3 the main line alone would be 600 px wide
    ys, xs = np.nonzero(_changed(img, run("notice", img, size=0.3, margin=0.05, placement="top")))
    assert xs.min() >= 10 and xs.max() < 190 and xs.max() - xs.min() > 150


def test_find_notice_sees_the_default_notice_afterjpeg_attack():
    scene = cv2.resize(painting(), (800, 600), interpolation=cv2.INTER_CUBIC)
    assert notice.find_notice(jpeg_attack(scene))["found"] is False
    for placement in ("bottom-right", "top-left", "center"):
        found = notice.find_notice(jpeg_attack(run("notice", scene, placement=placement)))
        assert found["found"] is True, (placement, found)


def test_cost_is_bounded_whatever_the_text_length():
    """A notice longer than could ever be seen is cut at half the width in characters."""
    img = _flat(0.5, (300, 400))
    long_text = "学習禁止" * 25_000
    np.testing.assert_array_equal(run("notice", img, text=long_text, subtext=""),
                                  run("notice", img, text=long_text[:200], subtext=""))


def _ink_box(img, out):
    ys, xs = np.nonzero(_changed(img, out))
    return xs.min(), xs.max(), ys.min(), ys.max()


@pytest.mark.parametrize("size", ((80, 100), (100, 90), (64, 110)))
def test_both_lines_fit_a_small_picture(size):
    """Under about 120 px the second line at the smallest size was wider than the picture."""
    img = _flat(0.5, size)
    margin = round(0.02 * min(size))
    left, right, top, bottom = _ink_box(img, run("notice", img, placement="bottom-right"))
    assert left >= margin and right < size[1] - margin and top >= margin and bottom < size[0] - margin
    assert right - left > size[1] // 2  # shrunk to fit, not cut down to one short line


@pytest.mark.parametrize("placement", ("bottom-right", "top", "center"))
def test_notice_shrinks_to_fit_the_height(placement):
    img = _flat(0.5, (80, 600))  # at size 0.5 the two lines alone would be about 70 px high
    left, right, top, bottom = _ink_box(img, run("notice", img, size=0.5, margin=0.25, placement=placement))
    assert top >= 20 and bottom < 60 and left >= 20 and right < 580
    assert bottom - top > 20  # as large as the room allows


@pytest.mark.parametrize("size", ((1, 1), (1, 300), (300, 1), (12, 12), (30, 40)))
def test_a_notice_that_cannot_fit_is_drawn_as_far_as_it_goes(size):
    img = _flat(0.5, size)
    out = run("notice", img, size=0.5, margin=0.25)
    assert out.shape == img.shape and np.isfinite(out).all()
    if min(size) > 10:
        assert _changed(img, out).any()


def test_a_long_notice_is_measured_before_it_is_drawn(monkeypatch):
    """Drawing it at full size first, only to shrink it, would make a picture far wider than the image."""
    widths = []
    text_sprite = _overlay.text_sprite
    monkeypatch.setattr(_overlay, "text_sprite", lambda font, text: widths.append(font.getlength(text))
                        or text_sprite(font, text))
    run("notice", _flat(0.5, (400, 400)), text="学習禁止" * 10, size=0.5)  # 8000 px wide at 200 px
    assert widths and max(widths) <= 400


def test_a_wide_banner_gets_a_notice_readable_at_its_shown_size():
    """A 4000×200 banner is seen shrunk to a screen's width (about 1500 px): sized on its 200 px height,
    the notice was 8 px tall (the second line 5 px), 3 px on screen. Sized on a quarter of its width it is
    40 px, still inside the banner, and `inspect` finds it."""
    banner = cv2.resize(painting(), (4000, 200), interpolation=cv2.INTER_CUBIC)
    out = run("notice", banner)
    left, right, top, bottom = _ink_box(banner, out)
    assert bottom - top > 50 and top >= 4 and bottom < 196 and right < 3996
    assert notice.find_notice(out)["found"] is True
    # A tall strip is seen at its width, which is already its short edge: unchanged.
    strip = np.ascontiguousarray(banner.transpose(1, 0, 2))
    left, right, top, bottom = _ink_box(strip, run("notice", strip))
    assert bottom - top < 20 and right - left < 192
