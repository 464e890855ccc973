"""Drawing helpers shared by `watermark` and `notice`: fonts, text and logo sprites,
outlines, and compositing a sprite onto the image without touching alpha."""

from __future__ import annotations

import io
import math
import os
import stat
import unicodedata
from importlib.resources import files
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from .. import containers
from ..errors import InputError, ParamError
from ..i18n import Text

BUNDLED_FONT = "BIZUDPGothic-Bold.ttf"
# A mark's cost grows with its width over its height (tiles are warped as squares of
# its width): a cap keeps a long text or a thin logo as cheap as an ordinary mark.
MAX_ASPECT = 24
# Pictures are shown fitted to the screen's width, so a banner much wider than it is tall is shrunk by its
# width: a mark sized on its height alone came out a few pixels tall on screen (8 px on a 4000×200 banner).
BANNER_ASPECT = 4
MAX_LOGO_BYTES = 64 << 20
MAX_LOGO_PIXELS = 40_000_000
# A private-use code point no real font maps: it renders as the font's .notdef glyph.
_MISSING = chr(0x10FFFD)


def bundled_font_path() -> Path:
    return Path(str(files("omamori") / "fonts" / BUNDLED_FONT))


def reference_edge(width: int, height: int) -> int:
    """What a mark's size is a fraction of: the short edge, or for a banner wider than
    BANNER_ASPECT:1, that fraction of its width."""
    return max(min(width, height), width // BANNER_ASPECT)


def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """The font at `path` (empty: the bundled Japanese font) at `size` pixels."""
    where = path or str(bundled_font_path())
    if path and not _regular(path):  # FreeType would block on a pipe
        raise ParamError(Text("font: cannot read a font from {path!r}.", "font: {path!r} からフォントを読めません。"),
                         path=where)
    try:
        # BASIC layout: the same rendering with or without libraqm, which Japanese does not need.
        return ImageFont.truetype(where, size, layout_engine=ImageFont.Layout.BASIC)
    except OSError:
        raise ParamError(Text("font: cannot read a font from {path!r}.", "font: {path!r} からフォントを読めません。"),
                         path=where) from None


def check_glyphs(font: ImageFont.FreeTypeFont, text: str) -> None:
    """Raises ParamError naming the first character `font` has no glyph for."""
    notdef = _glyph_signature(font, _MISSING)
    for char in dict.fromkeys(text):
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
            continue
        if _glyph_signature(font, char) == notdef:
            raise ParamError(Text("font {font!r} has no glyph for {char!r} (U+{code:04X}); choose a font that has it.",
                                  "フォント {font!r} には {char!r}（U+{code:04X}）の字形がありません。含むフォントを選んでください。"),
                             font=" ".join(font.getname()), char=char, code=ord(char))


def _glyph_signature(font: ImageFont.FreeTypeFont, char: str) -> tuple:
    mask = font.getmask(char)
    return font.getbbox(char), mask.size, bytes(mask)


def text_sprite(font: ImageFont.FreeTypeFont, text: str) -> np.ndarray:
    """Coverage (H, W) float32 in [0, 1] of one line of text, a full line height tall."""
    ascent, descent = font.getmetrics()
    canvas = Image.new("L", (max(1, int(np.ceil(font.getlength(text)))), ascent + descent), 0)
    ImageDraw.Draw(canvas).text((0, 0), text, font=font, fill=255)
    return np.asarray(canvas, np.float32) / 255.0


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def logo_sprite(path: str, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(premultiplied RGB, coverage) of the logo image at `path`, scaled to `height`
    px (and squeezed to MAX_ASPECT times as wide, if it is wider)."""
    try:
        data = containers.read_file(path, MAX_LOGO_BYTES)
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_LOGO_PIXELS:
                raise ParamError(Text("logo: {path!r} is over {mp} megapixels; use a smaller logo.",
                                      "logo: {path!r} は {mp} メガピクセルを超えます。小さいロゴを使ってください。"),
                                 path=path, mp=MAX_LOGO_PIXELS // 1_000_000)
            logo = image.convert("RGBA")
    except (InputError, OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        raise ParamError(Text("logo: cannot read an image from {path!r}.", "logo: {path!r} から画像を読めません。"),
                         path=path) from None
    width = min(MAX_ASPECT * height, max(1, round(logo.width * height / logo.height)))
    pixels = np.asarray(logo.resize((width, height), Image.Resampling.LANCZOS), np.float32) / 255.0
    coverage = pixels[..., 3]
    return pixels[..., :3] * coverage[..., None], coverage


def visible_text(text: str, limit: int) -> str:
    """`text` cut to `limit` characters: more could never be seen, only cost time."""
    return text[:max(1, limit)]


def outline(coverage: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(coverage padded for the outline, the outline ring behind it, the padding in px).

    The outline is what keeps a mark readable on both light and dark areas."""
    if width <= 0:
        return coverage, np.zeros_like(coverage), 0
    pad = width + 1
    padded = np.pad(coverage, pad)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    return padded, cv2.dilate(padded, kernel) * (1.0 - padded), pad


def shrunk_to_fit(render, px: int, room: tuple[int, int], min_px: int):
    """`render(px)` -> (drawing, its (height, width)): the drawing at `px`, or at the largest smaller size
    (not below `min_px`) that fits `room` (w, h). A mark or notice cut off at the image's edge loses what it
    says, so a single one shrinks instead."""
    while True:
        drawing, (height, width) = render(px)
        scale = min(room[0] / width, room[1] / height)
        # Glyph widths do not scale exactly (hinting, the outline's rounding): step again if still over.
        if scale >= 1 or px <= min_px:
            return drawing
        px = max(min_px, min(px - 1, math.floor(px * scale)))


def draw(out: np.ndarray, colour: np.ndarray, coverage: np.ndarray, x: int, y: int, opacity: float) -> None:
    """Lays a premultiplied sprite over `out`'s RGB at (x, y) in place, clipped; alpha untouched."""
    height, width = out.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + coverage.shape[1], width), min(y + coverage.shape[0], height)
    if x0 >= x1 or y0 >= y1:
        return
    src = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
    region = out[y0:y1, x0:x1, :3]
    region *= 1.0 - opacity * coverage[src][..., None]
    region += opacity * colour[src]
    np.clip(region, 0.0, 1.0, out=region)


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], np.float32) / 255.0


PLACEMENTS = ("top-left", "top", "top-right", "center", "bottom-left", "bottom", "bottom-right")
PLACEMENT_LABELS = tuple(Text(en, ja) for en, ja in (
    ("Top left", "左上"), ("Top", "上"), ("Top right", "右上"), ("Center", "中央"),
    ("Bottom left", "左下"), ("Bottom", "下"), ("Bottom right", "右下")))


def anchor(placement: str, size: tuple[int, int], box: tuple[int, int], margin: int) -> tuple[int, int]:
    """Top-left corner (x, y) of a `box` (w, h) placed in an image of `size` (w, h)."""
    (width, height), (box_w, box_h) = size, box
    vertical, _, horizontal = placement.partition("-") if "-" in placement else (placement, "", placement)
    x = {"left": margin, "right": width - box_w - margin}.get(horizontal, (width - box_w) // 2)
    y = {"top": margin, "bottom": height - box_h - margin}.get(vertical, (height - box_h) // 2)
    return x, y
