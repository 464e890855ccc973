import numpy as np
import pytest

from filterkit import check_contract, check_declarations, check_rejects, cutout, painting, run

KINDS = ("gaussian", "uniform", "dither", "checker", "bands")


def test_declarations():
    check_declarations("noise")
    check_rejects("noise", kind="pink", amount=65, cell=0, seed=-1, luminance_only="maybe")


@pytest.mark.parametrize("kind", KINDS)
def test_contract(kind):
    check_contract("noise", cutout(), {"kind": kind, "amount": 0}, {"kind": kind, "amount": 6})


def test_seed_param_changes_the_noise():
    a = run("noise", painting(), amount=6, seed=1)
    b = run("noise", painting(), amount=6, seed=2)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("kind, expected_std", [("gaussian", 1.0), ("uniform", 1 / np.sqrt(3))])
def test_random_noise_has_the_asked_amount(kind, expected_std):
    grey = np.full((128, 128, 4), 0.5, np.float32)
    delta = (run("noise", grey, kind=kind, amount=8) - grey)[..., :3] * 255
    assert abs(delta.mean()) < 0.2
    assert delta.std() == pytest.approx(8 * expected_std, rel=0.05)


def test_luminance_only_keeps_hue():
    grey = np.full((64, 64, 4), 0.5, np.float32)
    out = run("noise", grey, amount=8, luminance_only=True)
    assert np.allclose(out[..., 0], out[..., 1]) and np.allclose(out[..., 1], out[..., 2])
    colour = run("noise", grey, amount=8)
    assert not np.allclose(colour[..., 0], colour[..., 1])


def _high_frequency_share(delta):
    """Share of the pattern's energy above half the Nyquist frequency in x or y."""
    power = np.abs(np.fft.fftshift(np.fft.fft2(delta))) ** 2
    h, w = delta.shape
    fy, fx = np.meshgrid(np.abs(np.arange(h) - h // 2) / h, np.abs(np.arange(w) - w // 2) / w, indexing="ij")
    return power[(fy >= 0.25) | (fx >= 0.25)].sum() / power.sum()


@pytest.mark.parametrize("kind", ("dither", "checker", "bands"))
def test_structured_patterns_are_high_frequency(kind):
    grey = np.full((128, 128, 4), 0.5, np.float32)
    delta = (run("noise", grey, kind=kind, amount=6, seed=5) - grey)[..., 0]
    assert np.abs(delta).max() * 255 == pytest.approx(6, abs=0.01)  # peak = amount
    assert _high_frequency_share(delta) > 0.9
    # Larger cells move the energy down: the cell size really sets the pattern scale.
    coarse = (run("noise", grey, kind=kind, amount=6, seed=5, cell=8) - grey)[..., 0]
    assert _high_frequency_share(coarse) < 0.5


def test_checker_is_a_checkerboard():
    grey = np.full((32, 32, 4), 0.5, np.float32)
    delta = run("noise", grey, kind="checker", amount=4, luminance_only=True)[..., 0] - 0.5
    assert np.allclose(delta[:, 1:], -delta[:, :-1]) and np.allclose(delta[1:, :], -delta[:-1, :])


def test_gaussian_grain_is_white_not_structured():
    grey = np.full((128, 128, 4), 0.5, np.float32)
    delta = (run("noise", grey, amount=6) - grey)[..., 0]
    assert 0.6 < _high_frequency_share(delta) < 0.85  # white noise: 1 - 0.5² = 0.75 of the band


def test_bands_are_stripes_in_every_orientation():
    grey = np.full((32, 32, 4), 0.5, np.float32)
    orientations = set()
    for seed in range(12):
        delta = np.sign(run("noise", grey, kind="bands", amount=4, seed=seed, luminance_only=True)[..., 0] - 0.5)
        constant_rows = np.all(delta == delta[:, :1], axis=1).all()
        constant_cols = np.all(delta == delta[:1, :], axis=0).all()
        diagonal = np.array_equal(delta[1:, :-1], delta[:-1, 1:]) or np.array_equal(delta[1:, 1:], delta[:-1, :-1])
        assert constant_rows or constant_cols or diagonal
        assert not np.allclose(delta[:, 1:], -delta[:, :-1]) or constant_cols  # never a checkerboard
        orientations.add((constant_rows, constant_cols, diagonal))
    assert len(orientations) >= 3
