"""Shared base of the three cloaking filters (guard, style, poison): an ONNX model's pattern scaled
to epsilon, with the L-infinity bound enforced after rounding to the output bit depth."""

from __future__ import annotations

import numpy as np

from .. import models
from ..i18n import Text
from ..params import Param
from .base import Context, Filter

EPSILON = Param(
    "epsilon", "int", 8, Text("Strength (epsilon)", "強さ（イプシロン）"),
    Text("Largest change per channel in 8-bit levels (1-16). 8 is the measured default; higher protects more "
         "and shows more.",
         "各チャンネルの最大変化量（8 ビット階調で 1〜16）。8 が検証済みの標準値です。大きいほど強く、目立ちます。"),
    min=1, max=16)


class CloakFilter(Filter):
    """Runs models/<name>.onnx on RGB; alpha is returned untouched."""

    category = "protect"
    params = (EPSILON,)

    def apply(self, rgba: np.ndarray, settings: dict, ctx: Context) -> np.ndarray:
        model = models.load(self.name)
        out = np.empty_like(rgba)
        out[..., 3] = rgba[..., 3]
        models.protect(rgba[..., :3], model, settings["epsilon"], ctx.bit_depth, progress=ctx.report,
                       cancelled=lambda: ctx.cancel.cancelled, out=out[..., :3])  # written in place
        return out
