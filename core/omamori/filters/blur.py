"""`blur`: gaussian or edge-preserving (bilateral) softening, with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

from ..i18n import Text
from ..params import Param
from ..hooks import hookimpl
from .base import Context, Filter

EPS = 1e-6
STRIP = 256  # rows per bilateral call


class BlurFilter(Filter):
    name = "blur"
    category = "other"
    label = Text("Blur", "ぼかし")
    help = Text("Softens fine detail: gaussian everywhere, or bilateral, which keeps strong edges sharp.",
                "細部をぼかします。ガウス（gaussian）は全体を、輪郭保持（bilateral）は強い輪郭を保ったままぼかします。")
    params = (
        Param("kind", "choice", "gaussian", Text("Kind", "種類"),
              Text("gaussian blurs everything; bilateral keeps edges.", "ガウス（gaussian）は全体を、輪郭保持（bilateral）は輪郭を残してぼかします。"),
              choices=("gaussian", "bilateral"),
              choice_labels=(Text("Gaussian", "ガウス"), Text("Edge-preserving (bilateral)", "輪郭保持（バイラテラル）"))),
        Param("radius", "float", 1.0, Text("Radius", "半径"),
              Text("Blur radius in pixels (the gaussian's standard deviation); 0 does nothing. "
                   "Bilateral is slow at large radii: its time grows with the square of the radius.",
                   "ぼかしの半径（ピクセル、ガウスの標準偏差）。0 で何もしません。"
                   "輪郭保持（bilateral）は半径が大きいと遅く、時間は半径の 2 乗に比例します。"),
              min=0.0, max=10.0),
        Param("edge", "float", 0.1, Text("Edge threshold", "輪郭のしきい値"),
              Text("bilateral only: colour difference (0–1) above which pixels count as across an edge.",
                   "輪郭保持（bilateral）のみ: これより大きい色の差（0〜1）を輪郭の向こう側とみなします。"), min=0.01, max=1.0),
    )

    def apply(self, rgba: np.ndarray, settings: dict, ctx: Context) -> np.ndarray:
        radius = settings["radius"]
        if radius == 0:
            return rgba.copy()
        out = rgba.copy()
        if settings["kind"] == "bilateral":
            out[..., :3] = _bilateral(rgba[..., :3], radius, settings["edge"], ctx)
        else:
            # Blur colour weighted by alpha, so the hidden colour of transparent pixels
            # does not bleed into visible edges as a dark or coloured fringe.
            alpha = rgba[..., 3:4]
            blurred = cv2.GaussianBlur(rgba[..., :3] * alpha, (0, 0), radius, borderType=cv2.BORDER_REFLECT)
            weight = cv2.GaussianBlur(np.ascontiguousarray(alpha[..., 0]), (0, 0), radius,
                                      borderType=cv2.BORDER_REFLECT)[..., None]
            out[..., :3] = np.where(weight > EPS, blurred / np.maximum(weight, EPS), rgba[..., :3])
        np.clip(out[..., :3], 0.0, 1.0, out=out[..., :3])
        return out


def _bilateral(rgb: np.ndarray, radius: float, edge: float, ctx: Context) -> np.ndarray:
    """cv2.bilateralFilter in row strips, so that progress and cancel work on large images.

    Each strip carries `reach` rows of real neighbours, so the result is the same as one call."""
    reach = max(1, round(1.5 * radius))  # OpenCV's own window for this sigma: weights beyond are tiny
    height = rgb.shape[0]
    out = np.empty_like(rgb)
    for top in range(0, height, STRIP):
        ctx.report(top / height)
        bottom = min(top + STRIP, height)
        lo, hi = max(top - reach, 0), min(bottom + reach, height)
        strip = cv2.bilateralFilter(np.ascontiguousarray(rgb[lo:hi]), 2 * reach + 1, edge, radius,
                                    borderType=cv2.BORDER_REFLECT)
        out[top:bottom] = strip[top - lo:top - lo + bottom - top]
    return out


@hookimpl
def omamori_register_filters(registry):
    registry.add(BlurFilter())
