import numpy as np
import pytest

from filterkit import check_declarations, check_rejects, cutout, run
from omamori.filters.resize import target_size, within_caps
from omamori.pipeline import build_steps, run_steps


def test_declarations():
    check_declarations("resize")
    check_rejects("resize", max_long_edge=-1, max_megapixels=-0.5, method="nearest")


def test_no_cap_or_small_image_is_identity():
    assert np.array_equal(run("resize", cutout()), cutout())
    assert np.array_equal(run("resize", cutout(), max_long_edge=4096, max_megapixels=8), cutout())


@pytest.mark.parametrize("method", ("area", "lanczos"))
def test_long_edge_cap(method):
    out = run("resize", cutout(), max_long_edge=100, method=method)
    assert out.shape == (75, 100, 4)
    assert out.min() >= 0 and out.max() <= 1 and np.array_equal(out, run("resize", cutout(), max_long_edge=100,
                                                                           method=method))


@pytest.mark.parametrize("size, edge, mp", [
    ((6000, 4000), 0, 8.3), ((4000, 6000), 2048, 0), ((1001, 1000), 500, 0),
    ((5000, 5000), 4096, 2.0), ((4096, 17), 1080, 0), ((3, 20000), 16, 0)])
def test_target_size_respects_both_caps_and_aspect(size, edge, mp):
    w, h = target_size(*size, edge, mp)
    assert (not edge or max(w, h) <= edge) and (not mp or w * h <= mp * 1e6)
    scale = max(w, h) / max(size)
    assert abs(w - size[0] * scale) <= 1 and abs(h - size[1] * scale) <= 1  # aspect kept to the pixel
    if edge and not mp:
        assert max(w, h) == edge  # as large as the cap allows


def test_never_upscales():
    assert target_size(800, 600, 4096, 100) == (800, 600)


def test_downsampling_averages_instead_of_aliasing():
    """A 1-px checkerboard halved must become flat grey (area), not a moiré of picked pixels."""
    checker = np.zeros((64, 64, 4), np.float32)
    checker[..., :3] = ((np.indices((64, 64)).sum(axis=0) % 2)[..., None]).astype(np.float32)
    checker[..., 3] = 1.0
    for method in ("area", "lanczos"):
        out = run("resize", checker, max_long_edge=32, method=method)
        assert np.abs(out[4:-4, 4:-4, :3] - 0.5).max() < 0.05


def test_alpha_is_resized_premultiplied():
    """Opaque red beside transparent black: no dark fringe on the red after shrinking."""
    img = np.zeros((40, 40, 4), np.float32)
    img[:, 21:] = (1.0, 0.0, 0.0, 1.0)
    out = run("resize", img, max_long_edge=20)
    edge = out[:, 10]
    assert 0.2 < edge[0, 3] < 0.8  # alpha is blended at the seam...
    assert np.allclose(edge[:, 0], 1.0, atol=1e-5)  # ...but the colour stays pure red


def test_pipeline_passes_the_new_size_through():
    out = run_steps(cutout(), build_steps([{"filter": "resize", "params": {"max_long_edge": 64}}]))
    assert out.shape == (48, 64, 4)


@pytest.mark.parametrize("own, profile, tighter", [
    ((4096, 0.0), (2048, None), (2048, 0.0)),   # the profile's smaller cap wins
    ((1080, 0.0), (4096, None), (1080, 0.0)),   # the step's own smaller cap stays
    ((0, 0.0), (4000, 8.3), (4000, 8.3)),       # a step with no cap takes the profile's
    ((2048, 2.0), (None, None), (2048, 2.0)),   # a profile with no caps changes nothing
    ((0, 12.0), (0, 8.3), (0, 8.3))])
def test_within_caps_keeps_the_tighter_of_each(own, profile, tighter):
    settings = {"max_long_edge": own[0], "max_megapixels": own[1], "method": "lanczos"}
    out = within_caps(settings, *profile)
    assert (out["max_long_edge"], out["max_megapixels"], out["method"]) == (*tighter, "lanczos")
    assert settings["max_long_edge"] == own[0]  # the step's own settings are not changed
