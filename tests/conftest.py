"""Shared fixtures: the ../shared folder, scratch OMAMORI_HOME, small images."""

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OMAMORI_SHARED", REPO.parent / "shared"))
ARTWORK = SHARED / "data" / "artwork"


@pytest.fixture(autouse=True)
def scratch_home(tmp_path_factory, monkeypatch):
    """Every test gets its own user folder, so user presets never leak between tests."""
    home = tmp_path_factory.mktemp("omamori-home")
    monkeypatch.setenv("OMAMORI_HOME", str(home))
    monkeypatch.setenv("OMAMORI_LANG", "en")
    return home


@pytest.fixture
def artwork_dir():
    if not ARTWORK.is_dir():
        pytest.skip(f"needs the shared artwork at {ARTWORK} (absent here)")
    return ARTWORK


@pytest.fixture
def rgba():
    """A small deterministic RGBA picture with a soft alpha edge."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    img = np.stack([x / 63, y / 47, (x + y) / 110, np.clip(x / 32, 0, 1)], axis=2).astype(np.float32)
    img[..., :3] += rng.normal(0, 0.02, (48, 64, 3)).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)
