"""Artwork loader: fixed validation split by file-name hash, RGBA portraits composited on varied
backgrounds, random training crops and deterministic 512² validation crops."""
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .surrogates import REPO


def data_dir() -> Path:
    """Painted artwork."""
    return Path(os.environ.get("OMAMORI_DATA", REPO.parent / "shared" / "data" / "artwork"))


def flat_dir() -> Path:
    """Flat-colour drawings (cel-shaded look: where a cloak's pattern is easiest to see)."""
    return Path(os.environ.get("OMAMORI_FLAT", REPO.parent / "shared" / "data" / "flat"))


def is_validation(name: str, salt: str = "") -> bool:
    """About 1 file in 8 is held out, chosen by a hash of its name so the split never moves. The flat
    folder arrives with the unsalted share already removed (kept back by the project for its own
    tests), so it is split again with a salt."""
    return hashlib.sha256((salt + name).encode()).digest()[0] % 8 == 0


def list_files(split: str, root: Path = None) -> list:
    root = root or data_dir()
    files = sorted(p for p in root.iterdir() if p.suffix in (".png", ".jpg"))
    if not files:
        raise FileNotFoundError(f"no images in {root} (set OMAMORI_DATA / OMAMORI_FLAT)")
    salt = "" if root == data_dir() else "flat:"
    return [p for p in files if is_validation(p.name, salt) == (split == "val")]


def load(path: Path) -> np.ndarray:
    """float32 (H, W, 3) RGB or (H, W, 4) RGBA in [0, 1]."""
    im = Image.open(path)
    im = im.convert("RGBA" if im.mode in ("RGBA", "LA", "P") else "RGB")
    return np.asarray(im, np.float32) / 255.0


def background(rng: np.random.Generator, h: int, w: int, scenes: list) -> np.ndarray:
    """Solid colour, gradient, smooth noise or a crop of a landscape: portraits get posted on all of these."""
    kind = rng.integers(4)
    if kind == 0:
        return np.broadcast_to(rng.random(3, dtype=np.float32), (h, w, 3)).copy()
    if kind == 1:
        a, b = rng.random(3, dtype=np.float32), rng.random(3, dtype=np.float32)
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        return np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).copy()
    if kind == 2 or not scenes:
        small = rng.random((h // 32 + 2, w // 32 + 2, 3), dtype=np.float32)
        big = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w + 64, h + 64), Image.BICUBIC))
        return big[:h, :w].astype(np.float32) / 255.0
    scene = scenes[rng.integers(len(scenes))]
    y, x = rng.integers(scene.shape[0] - h + 1), rng.integers(scene.shape[1] - w + 1)
    return scene[y:y + h, x:x + w, :3].copy()


def composite(img: np.ndarray, bg: np.ndarray) -> np.ndarray:
    if img.shape[2] == 3:
        return img
    a = img[..., 3:]
    return img[..., :3] * a + bg * (1 - a)


def resize(img: np.ndarray, scale: float) -> np.ndarray:
    h, w = img.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    chans = [Image.fromarray(img[..., c]).resize(size, Image.BICUBIC) for c in range(img.shape[2])]
    return np.clip(np.stack([np.asarray(c) for c in chans], -1), 0, 1)


class Artwork:
    """All images of one split of one folder in memory (a few hundred files fit easily)."""

    def __init__(self, split: str, root: Path = None):
        self.files = list_files(split, root)
        self.images = [load(p) for p in self.files]
        self.scenes = [im for im in self.images if im.shape[2] == 3 and min(im.shape[:2]) >= 512]

    def crop(self, rng: np.random.Generator, size: int) -> np.ndarray:
        img = self.images[rng.integers(len(self.images))]
        # Vary the drawing's scale so the model sees strokes at several sizes.
        lo = max(size / min(img.shape[:2]), 0.35 if img.shape[2] == 3 else 0.6)
        img = resize(img, rng.uniform(lo, max(lo, 1.2)))
        h, w = img.shape[:2]
        y, x = rng.integers(h - size + 1), rng.integers(w - size + 1)
        img = img[y:y + size, x:x + size]
        out = composite(img, background(rng, size, size, self.scenes))
        return np.ascontiguousarray(out[:, :, ::-1] if rng.random() < 0.5 else out)  # random mirror

    def batch(self, rng: np.random.Generator, n: int, size: int) -> np.ndarray:
        """(n, 3, size, size) float32 in [0, 1]."""
        return np.stack([self.crop(rng, size).transpose(2, 0, 1) for _ in range(n)])

    def validation_crops(self, n: int, size: int = 512) -> list:
        """Deterministic centre crops (portraits scaled up to cover `size`, composited on fixed backgrounds)."""
        out = []
        picks = np.linspace(0, len(self.images) - 1, min(n, len(self.images))).round().astype(int)
        for i in picks:  # evenly spread, so a few crops still include landscapes
            img, rng = self.images[i], np.random.default_rng(int(i))
            img = resize(img, max(1.0, size / min(img.shape[:2])))
            h, w = img.shape[:2]
            y, x = (h - size) // 2, (w - size) // 2
            img = img[y:y + size, x:x + size]
            out.append(np.ascontiguousarray(composite(img, background(rng, size, size, self.scenes))))
        return out


class PaintedAndFlat:
    """Both kinds of art in training: each batch is `flat_share` flat-colour, the rest painted (shuffled order)."""

    def __init__(self, split: str, flat_share: float = 0.5):
        self.painted, self.flat = Artwork(split), Artwork(split, flat_dir())
        self.flat_share = flat_share

    def batch(self, rng: np.random.Generator, n: int, size: int) -> np.ndarray:
        flat = round(n * self.flat_share)
        # Flat slots spread evenly; half and half alternates painted, flat as before shares existed, so
        # earlier runs draw the same crops.
        kinds = [self.flat if (i + 1) * flat // n > i * flat // n else self.painted for i in range(n)]
        return np.stack([kinds[i].crop(rng, size).transpose(2, 0, 1) for i in rng.permutation(n)])


class _Stream(torch.utils.data.IterableDataset):
    """Endless batches from `make_batch(rng)`, each worker on its own stream of one seed."""

    def __init__(self, make_batch, seed: int):
        self.make_batch, self.seed = make_batch, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, info.id if info else 0])
        while True:
            yield self.make_batch(rng)


def batches(make_batch, rng: np.random.Generator, workers: int = 0):
    """Endless batches from `make_batch(rng)`. With no workers they are made here in turn from `rng` (the
    order CPU runs have always drawn); with workers, in that many processes ahead of use, so that a GPU
    does not wait for the crops."""
    if not workers:
        while True:
            yield make_batch(rng)
    stream = _Stream(make_batch, int(rng.integers(2 ** 32)))
    yield from torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers, prefetch_factor=4,
                                           persistent_workers=True)
