"""The shipped cloaking models through the runtime: budget, alpha, determinism, tiles, tampering."""

import shutil

import numpy as np
import pytest

from omamori import models
from omamori.errors import Cancelled, ModelError
from omamori.filters.base import CancelToken
from omamori.pipeline import build_steps, run_steps

NAMES = ("guard", "style", "poison")


@pytest.fixture(autouse=True)
def shipped_models(monkeypatch):
    folder = models.models_dir()
    if not all((folder / f"{n}.onnx").is_file() for n in NAMES):
        pytest.skip(f"shipped models not found in {folder}")
    monkeypatch.setenv("OMAMORI_THREADS", "1")
    return folder


def picture(h=70, w=90, seed=3):
    rng = np.random.default_rng(seed)
    img = rng.random((h, w, 4)).astype(np.float32)
    img[..., 3] = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    return img


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bit_depth", [8, 16])
@pytest.mark.parametrize("epsilon", [1, 8, 16])
def test_budget_after_rounding_and_alpha(name, bit_depth, epsilon):
    top = (1 << bit_depth) - 1
    img = np.rint(picture() * top) / top
    img = img.astype(np.float32)
    out = run_steps(img, build_steps([{"filter": name, "params": {"epsilon": epsilon}}]), bit_depth=bit_depth)
    before = np.rint(img[..., :3].astype(np.float64) * top)
    after = np.rint(out[..., :3].astype(np.float64) * top)
    assert np.allclose(out[..., :3] * top, after, atol=1e-3), "output is on the bit-depth grid"
    limit = epsilon * top / 255
    assert np.abs(after - before).max() <= limit
    assert np.abs(after - before).max() >= min(limit, 1), "the cloak changes something"
    assert np.array_equal(out[..., 3], img[..., 3])


def test_epsilon_out_of_range_is_refused():
    from omamori.errors import ParamError

    with pytest.raises(ParamError):
        build_steps([{"filter": "guard", "params": {"epsilon": 17}}])


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(name):
    model = models.load(name)
    img = picture()[..., :3]
    assert np.array_equal(models.protect(img, model, 8), models.protect(img, model, 8))


@pytest.mark.parametrize("name", NAMES)
def test_tiles_blend_without_seams(name):
    """Tiled output equals one untiled pass (blend weights are zero where a tile border could matter)."""
    model = models.load(name)
    img = np.random.default_rng(5).random((701, 903, 3)).astype(np.float32)  # several tiles at any reach
    whole = model.pattern(img, tile=2048)
    tiled = model.pattern(img, tile=160)
    assert np.abs(whole - tiled).max() < 1e-4


def test_progress_and_cancel():
    model = models.load("guard")
    img = np.zeros((1000, 1000, 3), np.float32)
    seen = []
    model.pattern(img, progress=seen.append, tile=500)
    assert len(seen) > 1 and seen[-1] == 1.0
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        model.pattern(img, cancelled=lambda: token.cancelled)


def test_tampered_model_is_refused(tmp_path, shipped_models):
    for suffix in (".onnx", ".json"):
        shutil.copy(shipped_models / f"guard{suffix}", tmp_path / f"guard{suffix}")
    data = bytearray((tmp_path / "guard.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "guard.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="tampered"):
        models.load("guard", tmp_path)


def test_missing_model_is_a_clear_error(tmp_path, shipped_models):
    shutil.copy(shipped_models / "guard.json", tmp_path / "guard.json")
    with pytest.raises(ModelError, match="missing"):
        models.load("guard", tmp_path)
    with pytest.raises(ModelError, match="card"):
        models.load("style", tmp_path)
    (tmp_path / "guard.onnx").mkdir()  # a folder where the model should be is missing too, not an internal error
    with pytest.raises(ModelError, match="missing"):
        models.load("guard", tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_strength_levels_order_and_bound(name):
    """low < default <= high in mean change, and every level keeps the epsilon bound."""
    img = np.rint(picture(64, 64) * 255) / 255
    img = img.astype(np.float32)
    mean_change = {}
    for level in ("low", "default", "high"):
        out = run_steps(img, build_steps([{"filter": name, "params": {"epsilon": 8, "strength": level}}]))
        change = np.abs(np.rint(out[..., :3] * 255) - np.rint(img[..., :3] * 255))
        assert change.max() <= 8
        mean_change[level] = change.mean()
    assert mean_change["low"] < mean_change["default"] <= mean_change["high"]


def test_unknown_strength_is_refused():
    from omamori.errors import ParamError

    with pytest.raises(ParamError, match="strength"):
        build_steps([{"filter": "guard", "params": {"strength": "max"}}])


def with_pyramid(tmp_path, shipped_models, pyramid, luminance_only=False) -> models.CloakModel:
    """The shipped guard with its card's pyramid replaced, or removed for None, and its luminance_only set
    (the sha256 covers the ONNX file, not the card)."""
    import json

    folder = tmp_path / f"{'plain' if pyramid is None else 'pyramid'}_{luminance_only}"
    folder.mkdir(exist_ok=True)
    shutil.copy(shipped_models / "guard.onnx", folder / "guard.onnx")
    card = json.loads((shipped_models / "guard.json").read_text())
    card.pop("pyramid", None)
    if pyramid is not None:
        card["pyramid"] = pyramid
    card["luminance_only"] = luminance_only
    (folder / "guard.json").write_text(json.dumps(card))
    return models.load("guard", folder)


PYRAMID = {"shrink": 2, "texture_sigma_px": 4.0, "texture_std": 0.1}


@pytest.mark.parametrize("size, fine_std", [((256, 256), None), ((304, 400), None), ((608, 96), None),
                                            ((256, 256), 0.01), ((304, 400), 0.02)])
def test_pyramid_uses_the_coarse_pattern_where_the_picture_is_smooth(tmp_path, shipped_models, size, fine_std):
    """u x the net's pattern + (1 - t) x its pattern of the picture shrunk 2x by area, enlarged back by
    bicubic; t = local luma std (Gaussian, sigma 4 / 2 on the shrunk picture) / texture_std, at most 1,
    enlarged alike, both clipped to their range; u = t x texture_std / fine_std, at most 1 (without
    fine_std: u = t); divided by the largest sum of the two weights. Sizes on the net's grid at both scales, so that no padding is involved."""
    import cv2

    pyramid = PYRAMID if fine_std is None else dict(PYRAMID, fine_std=fine_std)
    model, plain = with_pyramid(tmp_path, shipped_models, pyramid), with_pyramid(tmp_path, shipped_models, None)
    h, w = size
    img = np.random.default_rng(7).random((h, w, 3)).astype(np.float32)
    img[:, : w // 2] = 0.5  # a smooth half: t about 0 there, only the coarse pattern
    small = cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    luma = small @ np.array([0.299, 0.587, 0.114], np.float32)
    mean, square = (cv2.GaussianBlur(v, (13, 13), 2.0) for v in (luma, luma * luma))
    t_small = np.minimum(np.sqrt(np.maximum(square - mean * mean, 0)) / 0.1, 1)
    coarse = cv2.resize(np.dstack([plain.pattern(small), t_small]), (w, h), interpolation=cv2.INTER_CUBIC)
    coarse = np.clip(coarse, -1, 1)
    t = np.clip(coarse[..., 3:], 0, 1)
    assert t[:, : w // 2 - 20].max() < 0.01 and t[:, w // 2 + 20:].mean() > 0.9
    u = np.minimum(t * 0.1 / (fine_std or 0.1), 1)
    most = 2 - (fine_std or 0.1) / 0.1  # the largest sum of the two weights: 1 without fine_std
    expected = (u * plain.pattern(img) + (1 - t) * coarse[..., :3]) / most
    assert np.abs(model.pattern(img) - expected).max() < 1e-5


@pytest.mark.parametrize("size", [(37, 53), (301, 403), (1, 7), (700, 90)])
def test_pyramid_tiles_equal_one_pass_within_the_bound(tmp_path, shipped_models, size):
    """The pyramid widens the reach tiles discard (shrink x the net's, the texture window's and the cubic
    kernel's), so tiles still blend into one pass, at any size."""
    model = with_pyramid(tmp_path, shipped_models, dict(PYRAMID, fine_std=0.01))
    assert model.align == 2 * model.factor and model.reach > 2 * (model.factor + 80)
    img = np.random.default_rng(8).random(size + (3,)).astype(np.float32)
    whole = np.array(model.pattern(img))
    assert whole.shape == size + (3,) and np.abs(whole).max() <= 1
    assert np.abs(model.pattern(img, tile=model.align * 30) - whole).max() < 1e-4
    out = models.protect(img, model, 8)
    assert np.abs(np.rint(out * 255) - np.rint(img * 255)).max() <= 8


def test_pyramid_progress_reaches_one_and_cancels(tmp_path, shipped_models):
    model = with_pyramid(tmp_path, shipped_models, PYRAMID)
    seen = []
    model.pattern(np.zeros((700, 700, 3), np.float32), progress=seen.append, tile=480)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) > 2
    with pytest.raises(Cancelled):
        model.pattern(np.zeros((300, 300, 3), np.float32), cancelled=lambda: True)


@pytest.mark.parametrize("pyramid", [dict(PYRAMID, shrink=3), dict(PYRAMID, texture_std=0), {"shrink": 2}, [[1, 1]],
                                     dict(PYRAMID, fine_std=0.2), dict(PYRAMID, fine_std=0)])
def test_bad_pyramid_is_a_clear_error(tmp_path, shipped_models, pyramid):
    with pytest.raises(ModelError, match="pyramid"):
        with_pyramid(tmp_path, shipped_models, pyramid)


@pytest.mark.parametrize("size", [(300, 300), (700, 90)])
def test_luminance_only_makes_the_pattern_grey_in_tiles_too(tmp_path, shipped_models, size):
    """Each pixel's change becomes its luma in all three channels (after the pyramid's mix), the same in
    tiles as in one pass; the shipped guard is grey."""
    import json

    assert json.loads((shipped_models / "guard.json").read_text())["luminance_only"] is True
    grey = with_pyramid(tmp_path, shipped_models, PYRAMID, luminance_only=True)
    colour = with_pyramid(tmp_path, shipped_models, PYRAMID)
    img = np.random.default_rng(9).random(size + (3,)).astype(np.float32)
    whole, coloured = np.array(grey.pattern(img)), np.array(colour.pattern(img))
    assert np.abs(coloured[..., 0] - coloured[..., 1]).max() > 0.1, "the net's own pattern has colour"
    assert np.array_equal(whole[..., 0], whole[..., 1]) and np.array_equal(whole[..., 0], whole[..., 2])
    assert np.abs(whole[..., 0] - coloured @ np.array([0.299, 0.587, 0.114], np.float32)).max() < 1e-5
    assert np.abs(grey.pattern(img, tile=grey.align * 30) - whole).max() < 1e-4


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_bad_luminance_only_is_a_clear_error(tmp_path, shipped_models, value):
    with pytest.raises(ModelError, match="luminance_only"):
        with_pyramid(tmp_path, shipped_models, PYRAMID, luminance_only=value)


def card_changed(tmp_path, shipped_models, **fields):
    """A models folder holding the shipped guard with its card's `fields` replaced."""
    import json

    shutil.copy(shipped_models / "guard.onnx", tmp_path / "guard.onnx")
    card = json.loads((shipped_models / "guard.json").read_text())
    (tmp_path / "guard.json").write_text(json.dumps(dict(card, **fields)))
    return tmp_path


@pytest.mark.parametrize("fields, word", [
    ({"architecture": {}}, "architecture"), ({"architecture": [8]}, "architecture"),
    ({"architecture": {"factor": "x", "receptive_radius_px": 80}}, "architecture"),
    ({"strength_scales": {"low": 0.5}}, "strength_scales"),
    ({"strength_scales": {"low": "x", "default": "x", "high": "x"}}, "strength_scales"),
    ({"strength_scales": {"low": float("nan"), "default": float("nan"), "high": 1.0}}, "strength_scales"),
])
def test_a_damaged_card_is_one_line_naming_the_field(tmp_path, shipped_models, monkeypatch, fields, word):
    """Not an internal error, and never NaN pixels (a NaN scale would pass max())."""
    monkeypatch.setenv("OMAMORI_MODELS", str(card_changed(tmp_path, shipped_models, **fields)))
    with pytest.raises(ModelError, match=word) as info:
        run_steps(picture(9, 7), build_steps([{"filter": "guard", "params": {}}]))
    assert "Omamori" in info.value.message("ja")


def test_a_card_that_is_not_an_object_is_unreadable(tmp_path):
    (tmp_path / "guard.json").write_text("[]")
    with pytest.raises(ModelError, match="unreadable"):
        models.load("guard", tmp_path)
