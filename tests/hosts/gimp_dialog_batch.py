"""Runs inside the real GIMP 3 under Xvfb: opens Omamori's "Protect…" dialog interactively.

test_gimp_real.py takes a screenshot of the dialog, then clicks its OK button; this script then
records what the interactive run did to $OMAMORI_TEST_OUT/dialog-result-$OMAMORI_LANG.json."""

import json
import os

import gi
import numpy as np

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp  # noqa: E402

W, H = 320, 240
FORMAT = "R'G'B'A float"
image = Gimp.Image.new(W, H, Gimp.ImageBaseType.RGB)
layer = Gimp.Layer.new(image, "art", W, H, Gimp.ImageType.RGBA_IMAGE, 100, Gimp.LayerMode.NORMAL)
image.insert_layer(layer, None, 0)
y, x = np.mgrid[0:H, 0:W].astype(np.float32)
before = np.stack([x / W, y / H, ((x // 16 + y // 16) % 2) * 0.5 + 0.25, np.ones_like(x)], -1).astype(np.float32)
rect = Gegl.Rectangle.new(0, 0, W, H)
layer.get_buffer().set(rect, FORMAT, before.tobytes())
proc = Gimp.get_pdb().lookup_procedure("plug-in-omamori-protect")
config = proc.create_config()
config.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
config.set_property("image", image)
config.set_core_object_array("drawables", [layer])
status = proc.run(config).index(0)
after = np.frombuffer(layer.get_buffer().get(rect, 1.0, FORMAT, Gegl.AbyssPolicy.CLAMP), np.float32).reshape(H, W, 4)
result = {"status": status.value_nick, "error": Gimp.get_pdb().get_last_error(),
          "changed": float((np.abs(after - before)[..., :3].max(axis=2) > 1e-6).mean()),
          "layers": [item.get_name() for item in image.get_layers()]}
with open(os.path.join(os.environ["OMAMORI_TEST_OUT"], "dialog-result-{}.json".format(os.environ["OMAMORI_LANG"])),
          "w") as fh:
    json.dump(result, fh)
image.delete()
