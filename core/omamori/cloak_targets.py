"""Target images for the targeted cloaks, in numpy so that training and `omamori evaluate` agree.

- `style_target(rgb)`: the picture re-rendered in the target style the `style` cloak pulls towards, one
  of a few named procedural styles (`STYLES`), the one farthest from the picture's own style by a
  position-free statistic (as Glaze picks a distant style).
- `poison_target(height, width)`: the image of another concept that the `poison` cloak pulls every
  latent towards: a procedurally drawn brick wall (`brick_wall`, tiled to any size).
All take and return float32 RGB arrays in [0, 1] of shape (H, W, 3).
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


_BAND_ROWS = 32  # rows of the brick wall drawn at once: a band's temporaries stay in cache


def brick_wall(height: int, width: int, top: int = 0, left: int = 0) -> np.ndarray:
    """A red brick wall (the poison's unrelated concept): 64x32 px bricks, 4 px mortar, fixed per-brick tint.

    `top`/`left` give the window's place in the whole image, so tiles of one image line up. (H, W, 3)."""
    return np.ascontiguousarray(brick_wall_planes(height, width, top, left).transpose(1, 2, 0))


def brick_wall_planes(height: int, width: int, top: int = 0, left: int = 0) -> np.ndarray:
    """`brick_wall` as three planes (3, H, W), the layout the poison's net takes, without a transposing copy."""
    # Drawn a band of rows at a time: a 2048² wall drawn at once took several full-size float64
    # temporaries, whose page faults made the poison's speed erratic.
    planes = np.empty((3, height, width), np.float32)
    x = np.arange(left, left + width)[None, :]
    for start in range(0, height, _BAND_ROWS):
        stop = min(start + _BAND_ROWS, height)
        y = np.arange(top + start, top + stop)[:, None]
        row = y // 32
        xs = x + (row % 2) * 32  # running bond: every other row shifted by half a brick
        mortar = ((y % 32) < 4) | ((xs % 64) < 4)
        tint = ((row * 7919 + (xs // 64) * 104729) % 97) / 97.0  # deterministic per-brick variation
        grain = 0.04 * np.sin(x * 1.7 + y * 2.3)  # fine texture inside bricks
        for channel, (base, spread) in enumerate(((0.55, 0.2), (0.22, 0.08), (0.15, 0.05))):
            planes[channel, start:stop] = np.where(mortar, 0.78, np.clip(base + spread * tint + grain, 0.0, 1.0))
    return planes


def poison_target(height: int, width: int, top: int = 0) -> np.ndarray:
    """The poison's other concept for a whole picture of this size: the brick wall from its top-left corner;
    with `top`, the band of a taller picture's wall that starts at that row."""
    return brick_wall(height, width, top)


def _luminance(img: np.ndarray) -> np.ndarray:
    return img @ np.array([0.299, 0.587, 0.114], np.float32)


def _grid(img: np.ndarray, top: int, left: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates in the whole picture of a window at (top, left): a pattern drawn on a window
    then matches the whole picture's."""
    return np.mgrid[top:top + img.shape[0], left:left + img.shape[1]]


def hatching(img: np.ndarray, top: int = 0, left: int = 0) -> np.ndarray:
    """Engraving style: sepia paper, dark ink cross-hatching whose density follows the picture's darkness."""
    dark = 1.0 - _luminance(_box_blur(np.asarray(img, np.float32), 1))
    y, x = (c.astype(np.float32) for c in _grid(img, top, left))
    # Triangle waves in [0, 1] along three line directions; a line is drawn where the wave is below a
    # darkness-dependent threshold, so darker areas get more and thicker lines.
    def wave(t, period):
        return np.abs((t / period) % 1.0 - 0.5) * 2.0
    ink = ((wave(x + y, 6.0) < dark * 0.8) | (wave(x - y, 6.0) < (dark - 0.4) * 1.2)
           | (wave(y, 4.0) < (dark - 0.75) * 2.0))
    paper, ink_colour = np.float32([0.95, 0.91, 0.80]), np.float32([0.16, 0.10, 0.07])
    return np.where(ink[..., None], ink_colour, paper).astype(np.float32)


def pointillist(img: np.ndarray, top: int = 0, left: int = 0) -> np.ndarray:
    """Pointillist style: saturated dots of the local colour on a pale canvas."""
    colour = _box_blur(np.asarray(img, np.float32), 3)
    grey = colour.mean(-1, keepdims=True)
    colour = np.clip(grey + 1.8 * (colour - grey), 0.0, 1.0)
    y, x = _grid(img, top, left)
    dot = ((y % 6 - 2.5) ** 2 + ((x + 3 * (y // 6 % 2)) % 6 - 2.5) ** 2) < 6.5  # staggered dot grid
    canvas = 0.75 + 0.25 * colour
    return np.where(dot[..., None], colour, canvas).astype(np.float32)


def poster(img: np.ndarray, top: int = 0, left: int = 0) -> np.ndarray:
    """The first style cloak's target (`restyle`); it has no pattern, so its position does not matter."""
    return restyle(img)


# The named target styles (name -> renderer(img, top, left)).
STYLES = {"poster": poster, "hatching": hatching, "pointillist": pointillist}
CHOICE_SIDE = 256  # the style is chosen on a thumbnail: cheap at any size, and the look is the same


def style_signature(img: np.ndarray) -> np.ndarray:
    """Position-free description of a picture's look: colour mean/spread, saturation, and the share of
    fine detail (gradient energy) at two scales. Unchanged by moving or mirroring the content."""
    img = np.asarray(img, np.float32)
    lum = _luminance(img)
    sat = img.max(-1) - img.min(-1)
    fine = np.hypot(*np.gradient(lum))
    coarse = np.hypot(*np.gradient(_luminance(_box_blur(img, 3))))
    return np.array([*img.mean((0, 1)), *img.std((0, 1)), sat.mean(), sat.std(),
                     4 * fine.mean(), 4 * coarse.mean(), (fine > 0.1).mean()], np.float32)


def thumbnail(img: np.ndarray, side: int = CHOICE_SIDE) -> np.ndarray:
    """The picture averaged over square blocks until its long edge is at most `side`."""
    img = np.asarray(img, np.float32)
    f = -(-max(img.shape[:2]) // side)
    if f <= 1:
        return img
    h, w = img.shape[0] // f * f, img.shape[1] // f * f
    return img[:h, :w].reshape(h // f, f, w // f, f, -1).mean((1, 3))


def pick_style(img: np.ndarray) -> str:
    """The named style whose rendering of this picture is farthest from the picture's own signature
    (judged on a thumbnail)."""
    img = thumbnail(img)
    own = style_signature(img)
    return max(STYLES, key=lambda name: float(np.linalg.norm(style_signature(STYLES[name](img)) - own)))


def style_target(rgb: np.ndarray, *, style: str | None = None, top: int = 0, left: int = 0) -> np.ndarray:
    """The picture in the target style the `style` cloak pulls its latent statistics towards: `style`
    (default: the one farthest from this picture's look) drawn as if `rgb` sat at (top, left) of a
    larger picture."""
    rgb = np.asarray(rgb, np.float32)
    return STYLES[style or pick_style(rgb)](rgb, top, left)
