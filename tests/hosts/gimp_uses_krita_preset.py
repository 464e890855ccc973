"""Runs inside the real GIMP 3 (python-fu-eval batch): the GIMP plug-in applies a preset that
the Krita plug-in saved (same OMAMORI_HOME). Started by test_krita_real.py; writes
$OMAMORI_TEST_OUT/gimp-krita-preset.json with what it saw."""

import json
import os
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp  # noqa: E402

OUT = os.environ["OMAMORI_TEST_OUT"]
W, H = 32, 24


def layer_bytes(layer):
    return bytes(layer.get_buffer().get(Gegl.Rectangle.new(0, 0, W, H), 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.CLAMP))


def main():
    image = Gimp.Image.new(W, H, Gimp.ImageBaseType.RGB)
    layer = Gimp.Layer.new(image, "art", W, H, Gimp.ImageType.RGBA_IMAGE, 100, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, W, H), "R'G'B'A u8", bytes([90, 140, 200, 255]) * (W * H))
    buffer.flush()
    before = layer_bytes(layer)
    proc = Gimp.get_pdb().lookup_procedure("plug-in-omamori-protect")
    if proc is None:
        return {"status": "missing"}
    config = proc.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", [layer])
    config.set_property("preset", os.environ["OMAMORI_TEST_PRESET"])
    values = proc.run(config)
    status = values.index(0)
    return {"status": status.value_nick, "error": Gimp.get_pdb().get_last_error(),
            "changed": layer_bytes(image.get_layers()[0]) != before or len(image.get_layers()) > 1}


try:
    result = main()
except Exception:  # noqa: BLE001 - reported to the test
    result = {"exception": traceback.format_exc()}
with open(os.path.join(OUT, "gimp-krita-preset.json"), "w", encoding="utf-8") as handle:
    json.dump(result, handle)
