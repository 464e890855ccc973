"""The only module that touches Krita's document, node and selection objects.

Everything here runs on Krita's UI thread. It turns Krita state into plain values
(bytes, sizes, layout names) for the worker process and writes results back; it
holds no image logic. Undo: Krita's Python API gives no undo macros, but adding and
removing a node are undoable commands while `setPixelData` is not, so results are
always written into a node *before* it joins the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import omamori_hostkit as hostkit
from .strings import Problem

# Krita's colour depth id -> the bridge's pixel layout (Krita stores RGBA as B,G,R,A).
LAYOUTS = {"U8": "BGRA8", "U16": "BGRA16", "F16": "BGRAF16", "F32": "BGRAF32"}
SETTINGS_GROUP = "omamori"


@dataclass(frozen=True)
class Pixels:
    """A rectangle of pixels in the bridge's terms, plus an optional selection mask."""

    data: bytes
    width: int
    height: int
    layout: str
    mask: Optional[bytes] = None  # one byte per pixel, 0 = unselected, 255 = selected


def layout_of(color_model: str, color_depth: str) -> str:
    """The bridge layout for a Krita colour space, or a Problem the user can act on."""
    if color_model != "RGBA":
        raise Problem("unsupported_model", model=color_model)
    try:
        return LAYOUTS[color_depth]
    except KeyError:
        raise Problem("unsupported_depth", depth=color_depth) from None


def app():
    from krita import Krita  # imported late: this module must import without Krita for tests

    return Krita.instance()


def active_document():
    doc = app().activeDocument()
    if doc is None:
        raise Problem("no_document")
    return doc


def paint_target(doc, node=None):
    """`node`, else the active node, else the top paint layer, if its pixels can be written.

    Batch scripts (kritarunner, no view) have no active node, hence the fallback."""
    node = node or doc.activeNode() or next(
        (n for n in reversed(doc.topLevelNodes()) if n.type() == "paintlayer"), None)
    if node is None or node.type() != "paintlayer":
        raise Problem("not_paint_layer", kind=node.type() if node is not None else "-")
    if node.locked():
        raise Problem("layer_locked", name=node.name())
    return node


def read_layer(doc, node) -> Pixels:
    """The node's pixels over the canvas, and the selection (if any) as a mask."""
    layout = layout_of(node.colorModel(), node.colorDepth())
    w, h = doc.width(), doc.height()
    return Pixels(bytes(node.pixelData(0, 0, w, h)), w, h, layout, read_selection(doc))


def read_flattened(doc, with_selection: bool = False) -> Pixels:
    """The document as it looks (all visible layers merged); the document is not changed."""
    layout = layout_of(doc.colorModel(), doc.colorDepth())
    doc.waitForDone()  # the projection must include the latest strokes
    doc.refreshProjection()
    w, h = doc.width(), doc.height()
    return Pixels(bytes(doc.pixelData(0, 0, w, h)), w, h, layout, read_selection(doc) if with_selection else None)


def read_selection(doc) -> Optional[bytes]:
    selection = doc.selection()
    if selection is None:
        return None
    return bytes(selection.pixelData(0, 0, doc.width(), doc.height()))


def write_new_layer(doc, node, pixels: Pixels, result: bytes, name: str):
    """Puts `result` in a new layer above `node`: exactly one undo step (the add).

    A duplicate, not a fresh layer, so that it has the node's own colour space (which the
    pixels are in), blending mode, opacity and masks."""
    hostkit.check_result_size(result, pixels.width, pixels.height, pixels.layout)
    layer = node.duplicate()
    layer.setName(name)
    layer.setPixelData(result, 0, 0, pixels.width, pixels.height)
    node.parentNode().addChildNode(layer, node)
    doc.setActiveNode(layer)
    doc.refreshProjection()
    return layer


def replace_layer(doc, node, pixels: Pixels, result: bytes):
    """Replaces `node` by a copy holding `result` (same name, position and properties).

    Written as add-copy + remove-original so that Krita's undo restores the original;
    Krita records these as two undo entries because Python cannot group commands."""
    hostkit.check_result_size(result, pixels.width, pixels.height, pixels.layout)
    copy = node.duplicate()
    copy.setName(node.name())
    copy.setPixelData(result, 0, 0, pixels.width, pixels.height)
    node.parentNode().addChildNode(copy, node)
    node.remove()
    doc.setActiveNode(copy)
    doc.refreshProjection()
    return copy


def read_setting(key: str, default: str = "") -> str:
    return app().readSetting(SETTINGS_GROUP, key, default)


def write_setting(key: str, value: str) -> None:
    app().writeSetting(SETTINGS_GROUP, key, value)
