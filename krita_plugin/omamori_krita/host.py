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

# Krita's colour depth id -> the bridge's pixel layout. Krita stores integer RGBA as B,G,R,A
# but its float colour spaces as R,G,B,A.
LAYOUTS = {"U8": "BGRA8", "U16": "BGRA16", "F16": "RGBAF16", "F32": "RGBAF32"}
# Files and the core take pixels as sRGB; Krita's floats default to a linear (g10) profile.
SRGB_PROFILE = "sRGB-elle-V2-srgbtrc.icc"
# Marks of the profiles whose samples hold linear light, in the names Krita gives them: its "-g10"
# profiles (sRGB, Rec2020, ACEScg...), "scRGB (linear)" and lcms' "sRGB built-in with linear gamma TRC".
LINEAR_MARKS = ("-g10", "linear")
SETTINGS_GROUP = "omamori"


@dataclass(frozen=True)
class Pixels:
    """A rectangle of pixels in the bridge's terms, plus an optional selection mask."""

    data: bytes
    width: int
    height: int
    layout: str
    mask: Optional[bytes] = None  # one byte per pixel, 0 = unselected, 255 = selected
    transfer: str = "srgb"  # "linear" when the samples hold linear light (the bridge's transfer)


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


def transfer_of(profile: str) -> str:
    """The bridge's transfer for a Krita profile name: "linear" for linear light, else "srgb".

    Only the tone curve is converted (the filters' strengths are tuned on sRGB's); a wide-gamut
    linear profile keeps its primaries, as every other profile does."""
    name = profile.lower()
    return "linear" if any(mark in name for mark in LINEAR_MARKS) else "srgb"


def read_layer(doc, node) -> Pixels:
    """The node's pixels over the canvas (as stored: commit compares them), the selection (if any)
    as a mask, and the transfer the core converts them through."""
    layout = layout_of(node.colorModel(), node.colorDepth())
    doc.waitForDone()  # a stroke just finished must be in the pixels (else commit sees it as a change)
    w, h = doc.width(), doc.height()
    return Pixels(bytes(node.pixelData(0, 0, w, h)), w, h, layout, read_selection(doc),
                  transfer_of(node.colorProfile()))


def read_flattened(doc, with_selection: bool = False) -> Pixels:
    """The document as it looks (all visible layers merged); the document is not changed."""
    layout = layout_of(doc.colorModel(), doc.colorDepth())
    doc.waitForDone()  # the projection must include the latest strokes
    doc.refreshProjection()
    w, h = doc.width(), doc.height()
    return Pixels(srgb_pixels(doc, w, h), w, h, layout, read_selection(doc) if with_selection else None)


def srgb_pixels(doc, w, h) -> bytes:
    """The merged picture in sRGB, converted on a clone when the document has another profile."""
    if doc.colorProfile() == SRGB_PROFILE:
        return bytes(doc.pixelData(0, 0, w, h))
    copy = doc.clone()
    try:
        copy.setColorSpace(doc.colorModel(), doc.colorDepth(), SRGB_PROFILE)
        copy.waitForDone()
        if copy.colorProfile() != SRGB_PROFILE:  # setColorSpace says True even when it did nothing
            raise Problem("unsupported_profile", profile=doc.colorProfile())
        copy.refreshProjection()
        return bytes(copy.pixelData(0, 0, w, h))
    finally:
        copy.close()


def read_selection(doc) -> Optional[bytes]:
    selection = doc.selection()
    if selection is None:
        return None
    return bytes(selection.pixelData(0, 0, doc.width(), doc.height()))


def parent_of(node):
    """The node's parent; the docker works in the background, so the layer may be gone by now."""
    parent = node.parentNode()
    if parent is None:
        raise Problem("layer_gone", name=node.name())
    return parent


def ensure_unchanged(doc, node, pixels: Pixels) -> None:
    """Refuses a result made from pixels the layer no longer holds: the docker works in the
    background, and writing it would hide what the artist painted meanwhile (or add a stale copy)."""
    parent_of(node)  # a removed layer is reported as removed
    doc.waitForDone()  # strokes still being applied count as changes
    w, h = doc.width(), doc.height()
    if (w, h) != (pixels.width, pixels.height) or bytes(node.pixelData(0, 0, w, h)) != pixels.data:
        raise Problem("layer_changed", name=node.name())


def write_new_layer(doc, node, pixels: Pixels, result: bytes, name: str):
    """Puts `result` in a new layer above `node`: exactly one undo step (the add).

    A duplicate, not a fresh layer, so that it has the node's own colour space (which the
    pixels are in), blending mode, opacity and masks."""
    hostkit.check_result_size(result, pixels.width, pixels.height, pixels.layout)
    parent = parent_of(node)
    layer = node.duplicate()
    layer.setName(name)
    layer.setPixelData(result, 0, 0, pixels.width, pixels.height)
    parent.addChildNode(layer, node)
    doc.setActiveNode(layer)
    doc.refreshProjection()
    return layer


def replace_layer(doc, node, pixels: Pixels, result: bytes):
    """Replaces `node` by a copy holding `result` (same name, position and properties).

    Written as add-copy + remove-original so that Krita's undo restores the original;
    Krita records these as two undo entries because Python cannot group commands."""
    hostkit.check_result_size(result, pixels.width, pixels.height, pixels.layout)
    parent = parent_of(node)
    copy = node.duplicate()
    copy.setName(node.name())
    copy.setPixelData(result, 0, 0, pixels.width, pixels.height)
    parent.addChildNode(copy, node)
    node.remove()
    doc.setActiveNode(copy)
    doc.refreshProjection()
    return copy


def read_setting(key: str, default: str = "") -> str:
    return app().readSetting(SETTINGS_GROUP, key, default)


def write_setting(key: str, value: str) -> None:
    app().writeSetting(SETTINGS_GROUP, key, value)
