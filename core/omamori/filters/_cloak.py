"""Shared base of the three cloaking filters (guard, style, poison): an ONNX model's pattern scaled
to epsilon and to a strength level, with the L-infinity bound enforced after rounding to the output
bit depth."""

from __future__ import annotations

import math

import numpy as np

from .. import models
from ..errors import ModelError
from ..i18n import Text
from ..params import Param
from .base import Context, Filter

EPSILON = Param(
    "epsilon", "int", 8, Text("Limit ε (epsilon)", "上限 ε（イプシロン）"),
    Text("Largest change per channel in 8-bit levels (1-16), a hard limit. 8 is the measured default; higher "
         "protects more and shows more.",
         "1 画素の各チャンネルを変えてよい上限（8 ビット階調で 1〜16）。これを超えて変えることはありません。"
         "8 が実測で確かめた既定値で、大きいほど強く守り、目立ちます。"),
    min=1, max=16)

LEVELS = ("low", "default", "high")
STRENGTH = Param(
    "strength", "choice", "default", Text("Intensity", "強さ"),
    Text("How much of epsilon the pattern uses: low shows least, high protects most. Each level's measured "
         "visibility and effect are in the model card.",
         "パターンが上限 ε のどこまでを使うか。弱（low）は最も目立たず、強（high）は最も強く守ります。"
         "各段階の実測の目立ち方と効果はモデルカードにあります。"),
    choices=LEVELS,
    choice_labels=(Text("Low (least visible)", "弱（最も目立たない）"), Text("Default", "標準"),
                   Text("High (strongest)", "強（最も強い）")))

# Pattern scale per level when a card gives none (cards measured for v2 carry their own).
DEFAULT_SCALES = {"low": 0.5, "default": 0.75, "high": 1.0}


def strength_scale(card: dict, level: str, epsilon: int) -> float:
    """The card's measured scale for this level (fraction of epsilon), else DEFAULT_SCALES; never below
    one 8-bit level of amplitude (1/epsilon), or a small epsilon would round the whole pattern away."""
    scales = card.get("strength_scales", DEFAULT_SCALES)
    try:
        scale = float(scales[level])
    except (TypeError, KeyError, ValueError):
        scale = math.nan
    if not math.isfinite(scale) or scale <= 0:  # NaN would pass max() and be written as garbage pixels
        raise ModelError(Text("model card {name}: bad strength_scales {scales}; reinstall Omamori.",
                              "モデルカード {name} の strength_scales {scales} が不正です。Omamori を入れ直してください。"),
                         name=card.get("name"), scales=scales)
    return max(scale, 1.0 / epsilon)


class CloakFilter(Filter):
    """Runs models/<name>.onnx on RGB; alpha is returned untouched."""

    category = "protect"
    params = (EPSILON, STRENGTH)

    def apply(self, rgba: np.ndarray, settings: dict, ctx: Context) -> np.ndarray:
        model = models.load(self.name)
        out = np.empty_like(rgba)
        out[..., 3] = rgba[..., 3]
        # The runtime clips the final change at epsilon after rounding, so the bound holds for any scale;
        # above 1 the pattern saturates at epsilon.
        models.protect(rgba[..., :3], model, settings["epsilon"], ctx.bit_depth, progress=ctx.report,
                       cancelled=lambda: ctx.cancel.cancelled, out=out[..., :3],  # written in place
                       scale=strength_scale(model.card, settings["strength"], settings["epsilon"]))
        return out
