"""`guard`: anti image-to-image cloak (what Mist and PhotoGuard do, in one network pass).

Pushes the latent of a FLUX.2-like VAE encoder (surrogate TAEF2) away from the clean image's, so
image-to-image edits and inpainting built on it come out damaged. Model: models/guard.onnx; measured
strength and what defeats it: models/guard.json and models/README.md."""

from __future__ import annotations

from ..i18n import Text
from ..hooks import hookimpl
from ._cloak import CloakFilter


class GuardFilter(CloakFilter):
    name = "guard"
    label = Text("Anti-i2i guard", "i2i ガード")
    help = Text("Adds a faint learned pattern that disrupts image-to-image editing built on diffusion VAEs. "
                "Not a guarantee: purification and heavy re-encoding weaken it.",
                "拡散モデルの VAE を使う i2i（画像からの生成・編集）を乱す、かすかな学習済みパターンを加えます。"
                "万能ではなく、浄化処理や強い再圧縮で弱まります。")


@hookimpl
def omamori_register_filters(registry):
    registry.add(GuardFilter())
