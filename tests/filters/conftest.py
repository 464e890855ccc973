"""Fixtures for the built-in filter tests: small synthetic pictures."""

import numpy as np
import pytest


@pytest.fixture
def painting():
    """A 192×256 opaque synthetic 'painting': gradients, flat shapes, soft strokes, grain."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:192, 0:256].astype(np.float32)
    img = np.zeros((192, 256, 4), np.float32)
    img[..., 0] = 0.2 + 0.6 * x / 255
    img[..., 1] = 0.3 + 0.4 * np.sin(y / 19) ** 2
    img[..., 2] = 0.5 + 0.3 * np.cos((x + y) / 37)
    img[40:120, 60:150, :3] = (0.85, 0.8, 0.7)  # a flat light shape
    img[100:170, 150:230, :3] = (0.1, 0.12, 0.2)  # a flat dark shape
    img[..., :3] += rng.normal(0, 0.01, (192, 256, 3)).astype(np.float32)
    img[..., 3] = 1.0
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture
def cutout(painting):
    """The painting with a soft alpha: transparent left edge, opaque right."""
    img = painting.copy()
    img[..., 3] = np.clip(np.linspace(-0.5, 1.5, 256, dtype=np.float32), 0, 1)[None, :]
    return img
