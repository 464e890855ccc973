"""`poison`: concept poison (what Nightshade does, in one network pass).

Pulls the encoder latent towards an unrelated concept (a procedurally drawn brick wall,
omamori.cloak_targets.poison_target), so models trained on scraped copies associate the picture's concept
with the wrong one. Model: models/poison.onnx; measurements: models/poison.json and models/README.md."""

from __future__ import annotations

from ..i18n import Text
from ..hooks import hookimpl
from ._cloak import CloakFilter


class PoisonFilter(CloakFilter):
    name = "poison"
    label = Text("Concept poison", "概念ポイズン")
    help = Text("Adds a faint learned pattern that makes AI encoders see an unrelated concept (a brick wall), "
                "to poison unauthorised training. Detectors and purification can remove it.",
                "AI のエンコーダに無関係な概念（レンガ壁）として見せるかすかなパターンを加え、無断学習を汚染します。"
                "検出器や浄化処理で除去されることがあります。")


@hookimpl
def omamori_register_filters(registry):
    registry.add(PoisonFilter())
