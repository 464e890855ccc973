"""Runs inside the real GIMP 3 under Xvfb: opens Omamori's "Protect…" dialog for a screenshot.

The dialog blocks until closed; test_gimp_real.py grabs the screen and then stops GIMP."""

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp  # noqa: E402

image = Gimp.Image.new(640, 480, Gimp.ImageBaseType.RGB)
layer = Gimp.Layer.new(image, "art", 640, 480, Gimp.ImageType.RGBA_IMAGE, 100, Gimp.LayerMode.NORMAL)
image.insert_layer(layer, None, 0)
proc = Gimp.get_pdb().lookup_procedure("plug-in-omamori-protect")
config = proc.create_config()
config.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
config.set_property("image", image)
config.set_core_object_array("drawables", [layer])
proc.run(config)
