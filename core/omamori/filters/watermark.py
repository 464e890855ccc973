"""`watermark`: a visible text or logo mark, once or tiled in a diagonal grid.

Tiles get their own random shift, turn and scale, so they are not copies of one
patch: an inpainting tool cannot learn one tile and erase the rest with one stroke."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..i18n import Text
from ..params import Param
from ..hooks import hookimpl
from . import _overlay as ov
from .base import Context, Filter

MAX_SHIFT = 0.35  # of the tile step, at jitter 1: tiles wander but do not collide
MAX_TURN = 20.0  # degrees at jitter 1
MAX_SCALE = 0.25  # ± fraction at jitter 1
MARGIN = 0.03  # of the short edge, for a single mark
MIN_MARK_PX = 4


@dataclass(frozen=True)
class Tile:
    """Where one copy of the mark goes: centre (x, y), rotation in degrees, scale."""

    x: float
    y: float
    angle: float
    scale: float


class WatermarkFilter(Filter):
    name = "watermark"
    category = "mark"
    label = Text("Watermark", "透かし")
    help = Text("A visible text or logo mark, once or tiled over the whole image with per-tile jitter.",
                "文字またはロゴの目に見える透かし。1 か所、または画像全体にタイル状に（1 枚ずつずらして）入れます。")
    params = (
        Param("text", "str", "© artist", Text("Text", "文字"),
              Text("The mark's text (ignored when a logo is given).", "透かしの文字（ロゴを指定したときは使いません）。")),
        Param("logo", "path", "", Text("Logo", "ロゴ"),
              Text("An image file used as the mark instead of text (its own colours and transparency).",
                   "文字の代わりに使う画像ファイル（画像の色と透明度のまま）。")),
        Param("placement", "choice", "tiled", Text("Placement", "配置"),
              Text("tiled covers the whole image in a diagonal grid; the others place one mark.",
                   "タイル（tiled）は画像全体を斜めの格子で覆い、それ以外は 1 つだけ置きます。"),
              choices=("tiled",) + ov.PLACEMENTS,
              choice_labels=(Text("Tiled grid", "タイル"),) + ov.PLACEMENT_LABELS),
        Param("opacity", "float", 0.25, Text("Opacity", "不透明度"),
              Text("0 draws nothing, 1 is fully opaque.", "0 で何も描かず、1 で完全に不透明。"), min=0.0, max=1.0),
        Param("size", "float", 0.06, Text("Size", "大きさ"),
              Text("Mark height as a fraction of the image's short edge (for a banner wider than 4:1, "
                   "of a quarter of its width, as it is seen shrunk to the screen's width).",
                   "透かしの高さ（画像の短辺に対する割合。幅が高さの 4 倍を超える横長の画像では、画面の幅に"
                   "縮めて見られるため、幅の 4 分の 1 に対する割合）。"),
              min=0.01, max=0.5),
        Param("color", "color", "#ffffff", Text("Colour", "色"),
              Text("Text colour.", "文字の色。")),
        Param("outline", "float", 0.08, Text("Outline", "縁取り"),
              Text("Outline width as a fraction of the mark height (0: none).", "縁取りの幅（透かしの高さに対する割合、0 で無し）。"),
              min=0.0, max=0.3),
        Param("outline_color", "color", "#000000", Text("Outline colour", "縁取りの色"),
              Text("Colour of the outline.", "縁取りの色。")),
        Param("angle", "float", 30.0, Text("Angle", "角度"),
              Text("Rotation of the tiled grid in degrees.", "タイル格子の回転角（度）。"), min=-90.0, max=90.0),
        Param("spacing", "float", 1.5, Text("Spacing", "間隔"),
              Text("Gap between tiles in mark heights.", "タイルの間隔（透かしの高さの何倍か）。"), min=0.2, max=10.0),
        Param("jitter", "float", 0.5, Text("Jitter", "ゆらぎ"),
              Text("Random shift, turn and scale of each tile (0: a regular grid).",
                   "タイルごとの位置・角度・大きさのランダムなずれ（0 で規則的な格子）。"), min=0.0, max=1.0),
        Param("font", "path", "", Text("Font", "フォント"),
              Text("A TrueType/OpenType font file; empty uses the bundled BIZ UDPGothic Bold.",
                   "TrueType/OpenType フォントファイル。空なら同梱の BIZ UDPGothic Bold を使います。")),
    )

    def apply(self, rgba: np.ndarray, settings: dict, ctx: Context) -> np.ndarray:
        if settings["opacity"] == 0 or not (settings["logo"] or settings["text"].strip()):
            return rgba.copy()
        height, width = rgba.shape[:2]
        mark_px = max(MIN_MARK_PX, round(settings["size"] * ov.reference_edge(width, height)))
        out = rgba.copy()
        if settings["placement"] != "tiled":
            margin = round(MARGIN * min(height, width))
            colour, coverage = _fitted_sprite(settings, mark_px, (width, height), margin)
            x, y = ov.anchor(settings["placement"], (width, height), coverage.shape[::-1], margin)
            ov.draw(out, colour, coverage, x, y, settings["opacity"])
            return out
        colour, coverage = _sprite(settings, mark_px, math.ceil(math.hypot(width, height)))
        tiles = tile_layout((width, height), coverage.shape[::-1], settings, ctx.rng())
        for index, tile in enumerate(tiles):
            if index % 16 == 0:
                ctx.report(index / len(tiles))
            tile_colour, tile_cover, x, y = _transform(colour, coverage, tile)
            ov.draw(out, tile_colour, tile_cover, x, y, settings["opacity"])
        return out


def tile_layout(size: tuple[int, int], mark: tuple[int, int], settings: dict,
                rng: np.random.Generator) -> list[Tile]:
    """Tiles of a brick-offset grid turned by `angle`, covering an image of `size` (w, h)."""
    (width, height), (mark_w, mark_h) = size, mark
    gap = settings["spacing"] * mark_h
    step_u, step_v = mark_w + gap, mark_h + gap
    theta = math.radians(-settings["angle"])  # image y points down: negate for counter-clockwise
    cos, sin = math.cos(theta), math.sin(theta)
    extent = max(mark_w, mark_h)
    reach = math.hypot(width, height) / 2 + extent
    jitter = settings["jitter"]
    tiles = []
    for row in range(-math.ceil(reach / step_v), math.ceil(reach / step_v) + 1):
        offset = step_u / 2 if row % 2 else 0.0  # brick offset: no straight vertical seams
        for col in range(-math.ceil(reach / step_u) - 1, math.ceil(reach / step_u) + 2):
            # Draw all four random numbers for every lattice point, kept or not, so a tile's
            # jitter does not depend on which neighbours fell outside the image.
            shift_u, shift_v, turn, grow = rng.uniform(-1.0, 1.0, 4)
            u = col * step_u + offset + shift_u * jitter * MAX_SHIFT * step_u
            v = row * step_v + shift_v * jitter * MAX_SHIFT * step_v
            x = width / 2 + u * cos - v * sin
            y = height / 2 + u * sin + v * cos
            if -extent <= x <= width + extent and -extent <= y <= height + extent:
                tiles.append(Tile(x, y, settings["angle"] + turn * jitter * MAX_TURN,
                                  1.0 + grow * jitter * MAX_SCALE))
    return tiles


def _sprite(settings: dict, mark_px: int, longest: int) -> tuple[np.ndarray, np.ndarray]:
    """(premultiplied RGB, coverage) of the mark with its outline, `mark_px` high and
    at most `longest` wide (the image's diagonal: more is never seen)."""
    outline_px = round(settings["outline"] * mark_px)
    if settings["logo"]:
        colour, coverage = ov.logo_sprite(settings["logo"], mark_px)
        colour, coverage = colour[:, :longest], coverage[:, :longest]
    else:
        font = ov.load_font(settings["font"], mark_px)
        text = ov.visible_text(settings["text"].strip(), 2 * ov.MAX_ASPECT)
        ov.check_glyphs(font, text)
        coverage = ov.text_sprite(font, text)[:, :min(ov.MAX_ASPECT * mark_px, longest)]
        colour = coverage[..., None] * ov.hex_rgb(settings["color"])
    inner, ring, pad = ov.outline(coverage, outline_px)
    colour = np.pad(colour, ((pad, pad), (pad, pad), (0, 0)))
    return colour + ring[..., None] * ov.hex_rgb(settings["outline_color"]), inner + ring


def _fitted_sprite(settings: dict, mark_px: int, size: tuple[int, int], margin: int) -> tuple[np.ndarray, np.ndarray]:
    """The sprite of a single mark, shrunk to fit inside the margins of an image of `size` (w, h)."""
    width, height = size
    longest = math.ceil(math.hypot(width, height))

    def render(px: int):
        colour, coverage = _sprite(settings, px, longest)
        return (colour, coverage), coverage.shape

    return ov.shrunk_to_fit(render, mark_px, (width - 2 * margin, height - 2 * margin), MIN_MARK_PX)


def _transform(colour: np.ndarray, coverage: np.ndarray, tile: Tile) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The sprite turned and scaled for `tile`, and its top-left corner in the image."""
    height, width = coverage.shape
    side = math.ceil(math.hypot(width, height) * tile.scale) + 2
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), tile.angle, tile.scale)
    matrix[:, 2] += (side / 2 - width / 2, side / 2 - height / 2)
    x, y = round(tile.x - side / 2), round(tile.y - side / 2)
    warp = dict(dsize=(side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.warpAffine(colour, matrix, **warp), cv2.warpAffine(coverage, matrix, **warp), x, y


@hookimpl
def omamori_register_filters(registry):
    registry.add(WatermarkFilter())
