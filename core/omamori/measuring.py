"""The measuring encoder: TAEF2 (madebyollin/taesd, MIT), shipped as ONNX in `data/encoders/` for
`omamori evaluate` only, verified against its card's sha256 before loading.

A 2 MP picture at full resolution would cost the encoder tens of seconds on two cores, so latents are
taken on a fixed sample of square tiles spread evenly over the picture (the same places in both pictures):
r is a ratio of latent norms and the encoder is local, so the sample estimates the whole picture's r.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import models
from .errors import ModelError
from .i18n import Text

ENCODERS_DIR = Path(__file__).parent / "data" / "encoders"
TILE = 96           # tile side in pixels (a multiple of 8: the encoder works at 1/8 scale)
GRID = 2            # GRID x GRID tiles per picture and posting
BATCH = 16          # tiles per encoder run: bounds memory (~0.3 GB) while batching for speed


class Net:
    """One ONNX network taking and returning float32 NCHW batches."""

    def __init__(self, path: Path, expected_sha256: str | None = None):
        self.path = Path(path)
        self.session = models.session(self.path, expected_sha256=expected_sha256)
        self.input = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        out = [self.session.run(None, {self.input: np.ascontiguousarray(batch[i:i + BATCH], np.float32)})[0]
               for i in range(0, len(batch), BATCH)]
        return np.concatenate(out)


@lru_cache(maxsize=1)
def card() -> dict:
    path = ENCODERS_DIR / "taef2.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelError(Text("measuring encoder card {path} is missing or unreadable; reinstall Omamori.",
                              "測定用エンコーダのカード {path} が見つからないか読めません。Omamori を入れ直してください。"),
                         path=path) from None


def taef2(part: str) -> Net:
    """The shipped TAEF2 "encoder" or "decoder", checked against the card."""
    entry = card()["files"][part]
    return Net(ENCODERS_DIR / entry["file"], entry["sha256"])


def tile_origins(height: int, width: int, tile: int = TILE, grid: int = GRID) -> list[tuple[int, int]]:
    """Top-left corners of grid x grid tiles spread evenly (overlapping on small pictures)."""
    ys = np.linspace(0, max(0, height - tile), grid).round().astype(int)
    xs = np.linspace(0, max(0, width - tile), grid).round().astype(int)
    return sorted({(int(y), int(x)) for y in ys for x in xs})


def relative_change(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b||."""
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-12))


def target_distance(z_changed: np.ndarray, z_clean: np.ndarray, z_target: np.ndarray) -> float:
    """||E(x') - E(t)|| / ||E(x) - E(t)||: 1 = as far from the target as the clean picture, lower = pulled."""
    return float(np.linalg.norm(z_changed - z_target) / max(float(np.linalg.norm(z_clean - z_target)), 1e-12))
