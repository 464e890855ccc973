import numpy as np
import pytest

from filterkit import check_contract, check_declarations, check_rejects, cutout, painting, run


def _roughness(rgba):
    """Mean absolute difference between neighbouring pixels (high for fine detail)."""
    rgb = rgba[..., :3]
    return float(np.abs(np.diff(rgb, axis=0)).mean() + np.abs(np.diff(rgb, axis=1)).mean())


def test_declarations():
    check_declarations("blur")
    check_rejects("blur", kind="box", radius=-1, edge=0)


@pytest.mark.parametrize("kind", ("gaussian", "bilateral"))
def test_contract(kind):
    check_contract("blur", cutout(), {"kind": kind, "radius": 0}, {"kind": kind, "radius": 2})


@pytest.mark.parametrize("kind", ("gaussian", "bilateral"))
def test_blur_smooths_fine_detail(kind):
    noisy = painting()
    noisy[..., :3] = np.clip(noisy[..., :3] + np.random.default_rng(1).normal(0, 0.05, noisy[..., :3].shape), 0, 1)
    light, strong = (run("blur", noisy, kind=kind, radius=r, edge=0.3) for r in (1, 3))
    assert _roughness(strong) < _roughness(light) < 0.6 * _roughness(noisy)


def test_bilateral_keeps_edges_gaussian_does_not():
    step = np.zeros((64, 64, 4), np.float32)
    step[:, 32:, :3] = 1.0
    step[..., 3] = 1.0
    gauss = run("blur", step, kind="gaussian", radius=3)
    bilateral = run("blur", step, kind="bilateral", radius=3, edge=0.1)
    assert gauss[32, 31, 0] > 0.3  # the edge is smeared
    assert bilateral[32, 31, 0] < 0.01 and bilateral[32, 32, 0] > 0.99


def test_bilateral_strips_match_one_call():
    """The strip-wise bilateral (for progress and cancel) equals OpenCV on the whole image."""
    import cv2

    from omamori.filters import blur

    rng = np.random.default_rng(2)
    img = rng.random((blur.STRIP * 2 + 37, 40, 4), dtype=np.float32)
    out = run("blur", img, kind="bilateral", radius=2, edge=0.2)
    whole = cv2.bilateralFilter(np.ascontiguousarray(img[..., :3]), 7, 0.2, 2, borderType=cv2.BORDER_REFLECT)
    assert np.allclose(out[..., :3], np.clip(whole, 0, 1), atol=1e-6)


def test_gaussian_does_not_bleed_hidden_colour_into_edges():
    """Transparent pixels often hold black; a plain blur would darken the visible edge."""
    img = np.zeros((32, 32, 4), np.float32)
    img[:, 16:] = (1.0, 1.0, 1.0, 1.0)  # opaque white beside transparent black
    out = run("blur", img, radius=3)
    assert out[:, 16:, :3].min() > 0.999


def test_bilateral_reports_progress_and_stops_when_cancelled():
    from omamori.errors import Cancelled
    from omamori.filters.base import CancelToken, Context
    from omamori.params import resolve
    from omamori.registry import get_registry

    filt = get_registry().get("blur")
    settings = resolve(filt.params, {"kind": "bilateral", "radius": 1})
    img = np.random.default_rng(3).random((700, 30, 4), dtype=np.float32)
    seen = []
    filt.apply(img, settings, Context(progress=lambda fraction, message: seen.append(fraction)))
    assert len(seen) >= 3 and seen == sorted(seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        filt.apply(img, settings, Context(cancel=token))
