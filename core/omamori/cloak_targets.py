"""Target images for the targeted cloaks, in numpy so that training and `omamori evaluate` agree.

- `restyle`: the re-styled version of an image that the `style` cloak pushes the latent towards
  (a flat, ink-outlined, warm-toned "poster" style: box blur, posterise, dark edges, colour shift).
- `anchor`: the image of another concept that the `poison` cloak pushes every latent towards
  (a procedurally drawn brick wall, tiled to any size).
Both take and return float32 RGB arrays in [0, 1] of shape (H, W, 3).
"""

from __future__ import annotations

import numpy as np

# Warm, desaturated palette shift (rows: output R, G, B) so the style differs in colour too.
_WARM = np.array([[0.75, 0.35, 0.05], [0.25, 0.65, 0.10], [0.10, 0.25, 0.45]], np.float32)


def _box_blur(img: np.ndarray, radius: int) -> np.ndarray:
    """Separable box blur with edge padding (cumulative sums: cheap at any size)."""
    out = img
    for axis in (0, 1):
        pad = [(0, 0)] * img.ndim
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float64)
        n = out.shape[axis]
        hi = np.take(c, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
        lo = np.take(c, np.arange(0, n), axis=axis)
        out = ((hi - lo) / (2 * radius + 1)).astype(np.float32)
    return out


def restyle(img: np.ndarray, levels: int = 5) -> np.ndarray:
    """Poster style: smooth, posterise to `levels` per channel, ink the edges, warm the palette."""
    img = np.asarray(img, np.float32)
    smooth = _box_blur(img, 2)
    poster = np.round(smooth * (levels - 1)) / (levels - 1)
    lum = smooth @ np.array([0.299, 0.587, 0.114], np.float32)
    gy, gx = np.gradient(lum)
    ink = np.clip((np.hypot(gx, gy) - 0.04) * 12.0, 0.0, 1.0)[..., None]
    warm = np.clip(poster @ _WARM.T, 0.0, 1.0)
    return (warm * (1.0 - 0.85 * ink)).astype(np.float32)


def anchor(height: int, width: int, top: int = 0, left: int = 0) -> np.ndarray:
    """A red brick wall (the poison's unrelated concept): 64x32 px bricks, 4 px mortar, fixed per-brick tint.

    `top`/`left` give the window's place in the whole image, so tiles of one image line up."""
    y, x = np.mgrid[top:top + height, left:left + width]
    row = y // 32
    xs = x + (row % 2) * 32  # running bond: every other row shifted by half a brick
    col = xs // 64
    mortar = ((y % 32) < 4) | ((xs % 64) < 4)
    tint = ((row * 7919 + col * 104729) % 97) / 97.0  # deterministic per-brick variation
    brick = np.stack([0.55 + 0.2 * tint, 0.22 + 0.08 * tint, 0.15 + 0.05 * tint], -1)
    grain = 0.04 * np.sin(x * 1.7 + y * 2.3)[..., None]  # fine texture inside bricks
    img = np.where(mortar[..., None], np.float32(0.78), brick + grain)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def style_target(rgb: np.ndarray) -> np.ndarray:
    """The picture the `style` cloak pulls the latent towards (issue 9's name for `restyle`)."""
    return restyle(rgb)


def poison_target(height: int, width: int) -> np.ndarray:
    """The picture the `poison` cloak pulls every latent towards (issue 9's name for `anchor`)."""
    return anchor(height, width)
