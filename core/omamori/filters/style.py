"""`style`: style cloak (what Glaze does, in one network pass).

Pulls the position-free statistics of the encoder's features (what a style is, wherever the content
sits) towards those of the picture drawn in the named style farthest from its own
(omamori.cloak_targets.style_target), so a model fine-tuned on the picture learns the wrong style.
Model: models/style.onnx; measurements: models/style.json and models/README.md."""

from __future__ import annotations

from ..i18n import Text
from ..hooks import hookimpl
from ._cloak import CloakFilter


class StyleFilter(CloakFilter):
    name = "style"
    label = Text("Style cloak", "画風クローク")
    help = Text("Adds a faint learned pattern that makes AI encoders see a different painting style, "
                "to mislead style mimicry. Not a guarantee against determined attackers.",
                "AI のエンコーダに別の画風として見せるかすかなパターンを加え、画風の模倣を妨げます。"
                "意図的な除去には万能ではありません。")


@hookimpl
def omamori_register_filters(registry):
    registry.add(StyleFilter())
