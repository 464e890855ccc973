"""The measuring encoder: TAEF2 (madebyollin/taesd, MIT), shipped as ONNX in `data/encoders/` for
`omamori evaluate` only, verified against its card's sha256 before loading.

A 2 MP picture at full resolution would cost the encoder tens of seconds on two cores, so latents are
taken on a fixed sample of square tiles spread evenly over the picture (the same places in both pictures):
r is a ratio of latent norms and the encoder is local, so the sample estimates the whole picture's r.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from . import models

ENCODERS_DIR = Path(__file__).parent / "data" / "encoders"
TILE = 96           # tile side in pixels (a multiple of 8: the encoder works at 1/8 scale)
MIN_SIDE = 64       # the least side a posted picture may have: 8x8 latent pixels (on fewer, one or
                    # a few latent pixels would carry the verdict)
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
    return models.read_card("taef2", ENCODERS_DIR)


def taef2(part: str) -> Net:
    """The shipped TAEF2 "encoder" or "decoder", checked against the card."""
    entry = card()["files"][part]
    return Net(ENCODERS_DIR / entry["file"], entry["sha256"])


def spread(grid: int = GRID) -> list[tuple[float, float]]:
    """Tile places as fractions of the free range, evenly spread: (i + 0.5) / grid on each axis."""
    steps = [(i + 0.5) / grid for i in range(grid)]
    return [(fy, fx) for fy in steps for fx in steps]


def place(places: list[tuple[float, float]], height: int, width: int, side: int) -> list[tuple[int, int]]:
    """Top-left corners of `side` tiles at fractional `places` of a height x width picture."""
    return [(round(fy * max(0, height - side)), round(fx * max(0, width - side))) for fy, fx in places]


def clear_places(overlay: np.ndarray, side: int, grid: int = GRID, limit: float = 0.005) -> list[tuple[float, float]]:
    """The evenly spread places, each moved to the nearest place on a finer lattice whose tile is clear of
    `overlay` (a mask of visible marks such as the notice, which are meant to be seen, not measured);
    where no tile is clear, the least covered one."""
    h, w = overlay.shape
    side = min(side, h, w)
    total = cv2.integral(overlay.astype(np.uint8))
    lattice = [((i + 0.5) / (4 * grid), (j + 0.5) / (4 * grid)) for i in range(4 * grid) for j in range(4 * grid)]

    def covered(frac):
        (y, x), = place([frac], h, w, side)
        return (total[y + side, x + side] - total[y, x + side] - total[y + side, x] + total[y, x]) / side ** 2

    cover = {frac: covered(frac) for frac in lattice + spread(grid)}
    chosen: list[tuple[float, float]] = []
    for home in spread(grid):
        free = [f for f in cover if f not in chosen]
        clear = [f for f in free if cover[f] <= limit]
        pool = clear or sorted(free, key=cover.get)[:1]
        chosen.append(min(pool, key=lambda f: (f[0] - home[0]) ** 2 + (f[1] - home[1]) ** 2))
    return chosen


def relative_change(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b||."""
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-12))


def position_free(f, concatenate=np.concatenate):
    """(N, C, H, W) features -> (N, 2C + C²): channel mean, std and Gram matrix (scaled by the mean channel
    spread), what stays when the content moves: a style. numpy arrays, or torch tensors with
    concatenate=torch.cat (training's differentiable loss is this same function)."""
    flat = f.reshape(f.shape[0], f.shape[1], -1)
    mean = flat.mean(2)
    centred = flat - mean[..., None]
    var = (centred ** 2).mean(2) + 1e-12  # a dead channel (var 0) must not give a NaN gradient
    gram = centred @ centred.swapaxes(1, 2) / flat.shape[2]
    scale = var.mean(1) ** 0.5
    return concatenate([mean, var ** 0.5, gram.reshape(f.shape[0], -1) / scale[:, None]], 1)


def target_distance(z_changed: np.ndarray, z_clean: np.ndarray, z_target: np.ndarray) -> float:
    """||E(x') - E(t)|| / ||E(x) - E(t)||: 1 = as far from the target as the clean picture, lower = pulled."""
    return float(np.linalg.norm(z_changed - z_target) / max(float(np.linalg.norm(z_clean - z_target)), 1e-12))


def cloak_target_distance(cloak: str, z_changed: np.ndarray, z_clean: np.ndarray, z_target: np.ndarray) -> float:
    """`target_distance` as each cloak aims: on the position-free statistics of the latent for style (a style
    is the same wherever the content sits), on the latent itself for poison. Latents (C, H, W) or (N, C, H, W)."""
    if cloak == "style":
        z_changed, z_clean, z_target = (position_free(z.reshape(-1, *z.shape[-3:])) for z in (z_changed, z_clean, z_target))
    return target_distance(z_changed, z_clean, z_target)
