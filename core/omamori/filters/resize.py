"""`resize`: caps the long edge and/or the pixel count; never enlarges.

Posting smaller is itself a protection (less detail to train on or copy), and the
posting profiles use this to fit each platform's limits."""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from ..i18n import Text
from ..params import Param
from ..hooks import hookimpl
from .base import Context, Filter

EPS = 1e-6


class ResizeFilter(Filter):
    name = "resize"
    category = "size"
    changes_alpha = True  # alpha is resampled with the colour, or edges would not line up
    label = Text("Limit size", "サイズ制限")
    help = Text("Shrinks the image to a maximum long edge and/or megapixels with high-quality downsampling.",
                "長辺の最大値やメガピクセル数の上限まで、高品質な縮小で画像を小さくします。")
    params = (
        Param("max_long_edge", "int", 0, Text("Max long edge", "長辺の最大値"),
              Text("Longest side in pixels after resizing (0: no limit).", "縮小後の長辺のピクセル数（0 で制限なし）。"),
              min=0, max=65535),
        Param("max_megapixels", "float", 0.0, Text("Max megapixels", "最大メガピクセル"),
              Text("Largest pixel count in millions (0: no limit).", "画素数の上限（百万画素単位、0 で制限なし）。"),
              min=0.0, max=1000.0),
        Param("method", "choice", "area", Text("Method", "方式"),
              Text("area averages pixels (no ringing); lanczos is a little sharper.",
                   "面積平均（area）は画素を平均します（リンギングなし）。Lanczos（lanczos）は少しシャープです。"),
              choices=("area", "lanczos"),
              choice_labels=(Text("Area average", "面積平均"), Text("Lanczos", "Lanczos"))),
    )

    def apply(self, rgba: np.ndarray, settings: dict, ctx: Context) -> np.ndarray:
        height, width = rgba.shape[:2]
        new_w, new_h = target_size(width, height, settings["max_long_edge"], settings["max_megapixels"])
        if (new_w, new_h) == (width, height):
            return rgba.copy()
        # Premultiply so that the colour hidden under transparent pixels does not bleed
        # into visible edges as a dark fringe.
        alpha = rgba[..., 3:4]
        premultiplied = np.concatenate([rgba[..., :3] * alpha, alpha], axis=-1)
        small = _resample(premultiplied, new_w, new_h, settings["method"])
        small_alpha = small[..., 3:4]
        out = small.copy()
        out[..., :3] = small[..., :3] / np.maximum(small_alpha, EPS)
        hidden = small_alpha[..., 0] <= EPS
        if hidden.any():
            # Where nothing is visible, keep the plainly resized colour instead of dividing by ~0.
            ctx.report(0.5)
            straight = _resample(np.ascontiguousarray(rgba[..., :3]), new_w, new_h, settings["method"])
            out[hidden, :3] = straight[hidden]
        return np.clip(out, 0.0, 1.0)


def within_caps(settings: dict, max_long_edge: int | None, max_megapixels: float | None) -> dict:
    """`settings` with each cap lowered to the given one where that is tighter (0 or None: no cap)."""
    return {**settings, "max_long_edge": _tighter(settings["max_long_edge"], max_long_edge or 0),
            "max_megapixels": float(_tighter(settings["max_megapixels"], max_megapixels or 0.0))}


def _tighter(own, cap):
    return min(own, cap) if own and cap else own or cap


def target_size(width: int, height: int, max_long_edge: int, max_megapixels: float) -> tuple[int, int]:
    """The largest size within both caps with the same aspect ratio (never larger)."""
    scale = 1.0
    if max_long_edge:
        scale = min(scale, max_long_edge / max(width, height))
    if max_megapixels:
        scale = min(scale, math.sqrt(max_megapixels * 1e6 / (width * height)))
    if scale >= 1.0:
        return width, height
    # Floor (with a hair of tolerance for float error) so neither cap is ever exceeded.
    return max(1, math.floor(width * scale + 1e-9)), max(1, math.floor(height * scale + 1e-9))


def _resample(pixels: np.ndarray, width: int, height: int, method: str) -> np.ndarray:
    if method == "area":
        return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
    # Pillow's Lanczos widens its kernel when shrinking (true antialiasing); OpenCV's does not.
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(pixels[..., c]))
                         .resize((width, height), Image.Resampling.LANCZOS))
              for c in range(pixels.shape[2])]
    return np.stack(planes, axis=-1).astype(np.float32)


@hookimpl
def omamori_register_filters(registry):
    registry.add(ResizeFilter())
