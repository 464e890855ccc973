"""A third-party filter: registers through the same hook as Omamori's own."""

import numpy as np

from omamori.filters.base import Filter
from omamori.i18n import Text
from omamori.params import Param
from omamori.hooks import hookimpl


class Posterize(Filter):
    name = "posterize"
    label = Text("Posterize", "ポスタリゼーション")
    help = Text("Reduce the number of tone levels.", "階調の数を減らします。")
    params = (Param("levels", "int", 0, Text("Levels", "階調数"),
                    Text("0 keeps the image unchanged.", "0 は変更なし。"), min=0, max=64),)

    def apply(self, rgba, settings, ctx):
        levels = settings["levels"]
        if levels == 0:
            return rgba.copy()
        out = rgba.copy()
        out[..., :3] = np.round(rgba[..., :3] * (levels - 1)) / (levels - 1)
        return out


@hookimpl
def omamori_register_filters(registry):
    registry.add(Posterize())
