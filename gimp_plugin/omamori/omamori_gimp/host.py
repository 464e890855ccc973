"""The one module that reads and writes GIMP images: pixels in and out, the selection, undo, new views."""

import omamori_hostkit as hostkit
from gi.repository import Gegl, Gimp, Gio

from .strings import PlugInError, say

# Pixels travel in the image's own precision (lossless, and the core then knows the bit depth its
# changes must survive); linear and higher precisions go as float, which babl converts losslessly.
FLOAT_FORMAT, FLOAT_LAYOUT = "R'G'B'A float", "RGBAF32"
FORMATS = {"U8": ("R'G'B'A u8", "RGBA8"), "U16": ("R'G'B'A u16", "RGBA16")}
MASK_FORMAT = "Y u8"  # the bridge takes one 8-bit weight per pixel


def check_image(image, drawables):
    if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
        raise PlugInError("indexed")
    if not drawables:
        raise PlugInError("no-drawable")
    if any(d.is_group() for d in drawables):  # a group's pixels are its children's: nothing to write to
        raise PlugInError("group")


def pixel_format(image):
    """(babl format, bridge layout) for the image's precision."""
    precision = image.get_precision().value_nick.upper()  # e.g. "U8-NON-LINEAR", "U16-PERCEPTUAL", "HALF-LINEAR"
    depth = precision.split("-")[0]
    linear = precision.endswith("-LINEAR") and not precision.endswith("NON-LINEAR")
    if depth in FORMATS and not linear:
        return FORMATS[depth]
    return FLOAT_FORMAT, FLOAT_LAYOUT


def read_pixels(drawable, fmt):
    w, h = drawable.get_width(), drawable.get_height()
    rect = Gegl.Rectangle.new(0, 0, w, h)
    return drawable.get_buffer().get(rect, 1.0, fmt, Gegl.AbyssPolicy.CLAMP), w, h


def read_mask(image, drawable):
    """The selection over the drawable's area (one byte per pixel), or None without a selection.

    The core blends by it; the plug-in only fetches it."""
    if Gimp.Selection.is_empty(image):
        return None
    _ok, x, y = drawable.get_offsets()
    rect = Gegl.Rectangle.new(x, y, drawable.get_width(), drawable.get_height())
    return image.get_selection().get_buffer().get(rect, 1.0, MASK_FORMAT, Gegl.AbyssPolicy.NONE)


def write_pixels(drawable, data, fmt):
    """Writes through the shadow buffer, so the change is one undoable step."""
    w, h = drawable.get_width(), drawable.get_height()
    shadow = drawable.get_shadow_buffer()
    shadow.set(Gegl.Rectangle.new(0, 0, w, h), fmt, data)
    shadow.flush()
    drawable.merge_shadow(True)
    drawable.update(0, 0, w, h)


def progress(fraction, message=None):
    if message:
        Gimp.progress_set_text(message)
    Gimp.progress_update(max(0.0, min(1.0, fraction)))


def apply(image, drawables, bridge, preset, new_layer=False, name="Omamori"):
    """Runs the core on each drawable, then writes all results in one undo group. Nothing in the
    image changes until every result is back, so a failure or a cancel leaves it exactly as it was."""
    fmt, layout = pixel_format(image)
    Gimp.progress_init(say("working"))
    results = []
    for drawable in drawables:
        pixels, w, h = read_pixels(drawable, fmt)
        result = bridge.process(pixels, w, h, layout, preset, mask=read_mask(image, drawable), on_progress=progress)
        if len(result) != hostkit.expected_size(w, h, layout):
            raise PlugInError("wrong-size")
        results.append((drawable, result))
    image.undo_group_start()
    try:
        for drawable, result in results:
            target = drawable
            if new_layer and isinstance(drawable, Gimp.Layer):
                target = Gimp.Layer.new_from_drawable(drawable, image)
                target.set_name(name)
                image.insert_layer(target, drawable.get_parent(), image.get_item_position(drawable))
            write_pixels(target, result, fmt)
    finally:
        image.undo_group_end()
    Gimp.progress_end()


def export_copy(image, bridge, preset, path, overwrite):
    """Protects and writes a flattened duplicate: the open image, its layers and undo history stay untouched."""
    dup = image.duplicate()
    try:
        if dup.get_base_type() != Gimp.ImageBaseType.RGB:
            dup.convert_rgb()  # indexed/grey exports are fine: only the copy is converted
        layer = dup.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
        fmt, layout = pixel_format(dup)
        pixels, w, h = read_pixels(layer, fmt)
        Gimp.progress_init(say("working"))
        return bridge.export(pixels, w, h, layout, preset, path, overwrite=overwrite, on_progress=progress)
    finally:
        dup.delete()


def check_layer(image, drawable, bridge, preset):
    """The worker's check of `drawable` (a copy protected in memory); the image is only read."""
    fmt, layout = pixel_format(image)
    pixels, w, h = read_pixels(drawable, fmt)
    Gimp.progress_init(say("measuring"))
    return bridge.check(pixels, w, h, layout, preset, mask=read_mask(image, drawable), on_progress=progress)


def show_picture(path):
    """Opens a picture file as a new, clean image in a new view (GIMP asks nothing when it is closed)."""
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))
    image.clean_all()
    Gimp.Display.new(image)
    Gimp.displays_flush()
    return image
