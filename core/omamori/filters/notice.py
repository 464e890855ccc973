"""`notice`: a visible "no AI training" notice drawn on the image.

Japanese renders everywhere because the default font is bundled (BIZ UDPGothic Bold,
SIL OFL 1.1, see ../fonts/README.md); a user font missing a glyph is refused with
a one-line error rather than drawing empty boxes."""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..i18n import Text
from ..params import Param
from ..hooks import hookimpl
from . import _overlay as ov
from .base import Context, Filter

DEFAULT_TEXT = "AI学習・無断転載禁止"
DEFAULT_SUBTEXT = "No AI training / reposting"
SUBTEXT_SCALE = 0.6  # the second line is a smaller translation, not a second headline
MIN_FONT_PX = 8  # the main line's: Japanese is a blur below it (the second line goes to 5 px)
# (text, outline) colours: auto picks whichever contrasts with the local background.
STYLES = {"light": ("#ffffff", "#000000"), "dark": ("#141414", "#ffffff")}
# placement "auto": where a notice is usually put first, and the coverage that will do.
AUTO_ORDER = ("bottom-right", "bottom-left", "top-right", "top-left", "bottom", "top", "center")
OPAQUE_ENOUGH = 0.9
# find_notice: the short edge it searches at, the sizes it tries, and the score that counts.
SEARCH_EDGE = 720
SEARCH_MIN_PX = 12  # smaller text matches random texture too easily
# 4 % apart from 0.025 to 0.12 of the reference edge (_overlay.reference_edge), with the default size itself among them.
SEARCH_SIZES = tuple(0.04 * 1.04 ** k for k in range(-12, 29))
FOUND_SCORE = 0.55
FLAT_SPREAD = 0.01  # luminance spread below which a window holds no text, only colour
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class NoticeFilter(Filter):
    name = "notice"
    category = "notice"
    label = Text("No-AI notice", "AI 学習禁止の表示")
    help = Text("Draws a short notice such as 「AI学習・無断転載禁止」 / \"No AI training / reposting\" on the image.",
                "「AI学習・無断転載禁止」/ \"No AI training / reposting\" などの短い注意書きを画像に描きます。")
    params = (
        Param("text", "str", DEFAULT_TEXT, Text("Text", "文言"),
              Text("The main line of the notice.", "注意書きの 1 行目。")),
        Param("subtext", "str", DEFAULT_SUBTEXT, Text("Second line", "2 行目"),
              Text("A smaller line under the main one (empty: none).", "1 行目の下の小さな行（空なら無し）。")),
        Param("placement", "choice", "auto", Text("Placement", "配置"),
              Text("Where the notice goes; auto is bottom right unless that corner is transparent, "
                   "then the most opaque corner or edge (text on transparent pixels cannot be seen).",
                   "注意書きを置く場所。自動（auto）は右下、ただしそこが透明なら最も不透明な角や辺に置きます"
                   "（透明な画素の上の文字は見えないため）。"),
              choices=("auto",) + ov.PLACEMENTS,
              choice_labels=(Text("Automatic", "自動"),) + ov.PLACEMENT_LABELS),
        Param("size", "float", 0.04, Text("Size", "大きさ"),
              Text("Main line height as a fraction of the image's short edge (for a banner wider than 4:1, "
                   "of a quarter of its width, as it is seen shrunk to the screen's width).",
                   "1 行目の高さ（画像の短辺に対する割合。幅が高さの 4 倍を超える横長の画像では、画面の幅に"
                   "縮めて見られるため、幅の 4 分の 1 に対する割合）。"),
              min=0.005, max=0.5),
        Param("opacity", "float", 0.85, Text("Opacity", "不透明度"),
              Text("0 draws nothing, 1 is fully opaque.", "0 で何も描かず、1 で完全に不透明。"), min=0.0, max=1.0),
        Param("style", "choice", "auto", Text("Colours", "配色"),
              Text("auto picks light or dark text from the background under the notice.",
                   "自動（auto）は注意書きの下の背景に合わせて明るい文字か暗い文字を選びます。"),
              choices=("auto", "light", "dark"),
              choice_labels=(Text("Automatic", "自動"), Text("Light text, dark outline", "明るい文字・暗い縁"),
                             Text("Dark text, light outline", "暗い文字・明るい縁"))),
        Param("outline", "float", 0.1, Text("Outline", "縁取り"),
              Text("Outline width as a fraction of the text height.", "縁取りの幅（文字の高さに対する割合）。"),
              min=0.0, max=0.3),
        Param("margin", "float", 0.02, Text("Margin", "余白"),
              Text("Distance from the edges as a fraction of the short edge.", "端からの距離（短辺に対する割合）。"),
              min=0.0, max=0.25),
        Param("font", "path", "", Text("Font", "フォント"),
              Text("A TrueType/OpenType font file; empty uses the bundled BIZ UDPGothic Bold.",
                   "TrueType/OpenType フォントファイル。空なら同梱の BIZ UDPGothic Bold を使います。")),
    )

    def apply(self, rgba: np.ndarray, settings: dict, ctx: Context) -> np.ndarray:
        height, width = rgba.shape[:2]
        # A glyph is at least about 2 px wide at the smallest size: more characters
        # than half the width could never be seen, only cost time.
        lines = [ov.visible_text(line, width // 2) for line in (settings["text"].strip(), settings["subtext"].strip())
                 if line]
        if settings["opacity"] == 0 or not lines:
            return rgba.copy()
        margin = round(settings["margin"] * min(height, width))
        font_px = max(MIN_FONT_PX, round(settings["size"] * ov.reference_edge(width, height)))
        inner, ring = _fitted(lines, settings, font_px, (width - 2 * margin, height - 2 * margin))
        coverage = inner + ring
        placement = settings["placement"]
        if placement == "auto":
            placement = _most_visible(rgba[..., 3], coverage.shape, margin)
        x, y = ov.anchor(placement, (width, height), coverage.shape[::-1], margin)
        style = settings["style"]
        if style == "auto":
            style = "dark" if _background_luma(rgba, x, y, coverage.shape) > 0.5 else "light"
        text_rgb, outline_rgb = (ov.hex_rgb(c) for c in STYLES[style])
        colour = inner[..., None] * text_rgb + ring[..., None] * outline_rgb
        out = rgba.copy()
        ov.draw(out, colour, coverage, x, y, settings["opacity"])
        return out


def _fitted(lines: list[str], settings: dict, font_px: int, room: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(text, outline) coverage of the notice, shrunk until it fits `room` (w, h), but not
    below MIN_FONT_PX: a notice cut off at the image's edge cannot be read."""
    fonts = [ov.load_font(settings["font"], size) for size in _sizes(font_px, len(lines))]
    ov.check_glyphs(fonts[0], "".join(lines))
    # Measure before drawing: a long notice drawn at full size only to be shrunk could be far larger than the image.
    widest = max(font.getlength(line) for font, line in zip(fonts, lines))
    font_px = max(MIN_FONT_PX, min(font_px, math.floor(font_px * room[0] / max(widest, 1.0))))

    def render(px: int):
        inner, ring, _ = ov.outline(_render(lines, settings["font"], px), round(settings["outline"] * px))
        return (inner, ring), inner.shape

    return ov.shrunk_to_fit(render, font_px, room, MIN_FONT_PX)


def _sizes(font_px: int, count: int) -> list[int]:
    """Font sizes of `count` lines: the main one, then the others SUBTEXT_SCALE of it (never
    more, so a second line does not outgrow the first as the notice shrinks)."""
    return [font_px] + [round(font_px * SUBTEXT_SCALE)] * (count - 1)


def _render(lines: list[str], font_path: str, font_px: int) -> np.ndarray:
    """Coverage of the lines stacked and centred, the main one `font_px` high."""
    sizes = _sizes(font_px, len(lines))
    parts = [ov.text_sprite(ov.load_font(font_path, size), line) for size, line in zip(sizes, lines)]
    out = np.zeros((sum(p.shape[0] for p in parts), max(p.shape[1] for p in parts)), np.float32)
    top = 0
    for part in parts:
        left = (out.shape[1] - part.shape[1]) // 2
        out[top:top + part.shape[0], left:left + part.shape[1]] = part
        top += part.shape[0]
    return out


def _most_visible(alpha: np.ndarray, shape: tuple[int, int], margin: int) -> str:
    """The first placement in AUTO_ORDER that is nearly opaque, else the most opaque one."""
    height, width = alpha.shape
    best, best_cover = AUTO_ORDER[0], -1.0
    for placement in AUTO_ORDER:
        x, y = ov.anchor(placement, (width, height), shape[::-1], margin)
        cover = float(alpha[max(y, 0):max(y + shape[0], 1), max(x, 0):max(x + shape[1], 1)].mean())
        if cover >= OPAQUE_ENOUGH:
            return placement
        if cover > best_cover:
            best, best_cover = placement, cover
    return best


def _background_luma(rgba: np.ndarray, x: int, y: int, shape: tuple[int, int]) -> float:
    """Mean luminance under the notice, weighted by alpha (transparent pixels show nothing)."""
    region = rgba[max(y, 0):max(y + shape[0], 1), max(x, 0):max(x + shape[1], 1)]
    weight = region[..., 3]
    luma = region[..., :3] @ _LUMA
    total = float(weight.sum())
    return float((luma * weight).sum() / total) if total > 0 else float(luma.mean())


def find_notice(rgba: np.ndarray) -> dict:
    """Whether the default notice is visible, for `omamori inspect`: {"found", "score"}.

    Matches the default two lines (bundled font, any placement) at a range of sizes
    against the luminance by normalised correlation; the template is text minus
    outline, so light and dark styles both match (with opposite sign). A notice with
    other text, or smaller than about 12 px, is not found."""
    luma = rgba[..., :3].astype(np.float32) @ _LUMA
    shrink = min(1.0, SEARCH_EDGE / min(luma.shape))  # speed: the notice is large enough at this size
    luma = cv2.resize(luma, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA) if shrink < 1 else luma
    best = 0.0
    for size in SEARCH_SIZES:
        font_px = round(size * ov.reference_edge(luma.shape[1], luma.shape[0]))
        if font_px < SEARCH_MIN_PX:
            continue
        sprite = _render([DEFAULT_TEXT, DEFAULT_SUBTEXT], "", font_px)
        inner, ring, _ = ov.outline(sprite, max(1, round(0.1 * font_px)))
        if inner.shape[0] > luma.shape[0] or inner.shape[1] > luma.shape[1]:
            continue
        # A blur of a few percent of the size lets one template match sizes between the steps.
        sigma = 0.08 * font_px
        template = cv2.GaussianBlur(inner - ring, (0, 0), sigma)
        blurred = cv2.GaussianBlur(luma, (0, 0), sigma)
        scores = cv2.matchTemplate(blurred, template, cv2.TM_CCOEFF_NORMED)
        # Over flat colour the normalisation divides by almost nothing and scores reach 1: a quarter of
        # unmarked drawings read as carrying the notice. Text always varies its window.
        scores[_window_spread(blurred, template.shape) < FLAT_SPREAD] = 0.0
        best = max(best, float(np.nanmax(np.abs(scores))))
    return {"found": best >= FOUND_SCORE, "score": round(best, 3)}


def _window_spread(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The standard deviation of `image` in every window of `shape`, laid out as cv2.matchTemplate's result
    (integral images: two sums a window, whatever its size)."""
    h, w = shape
    sums, squares = cv2.integral2(image, sdepth=cv2.CV_64F)

    def window(total: np.ndarray) -> np.ndarray:
        return total[h:, w:] - total[:-h, w:] - total[h:, :-w] + total[:-h, :-w]

    mean = window(sums) / (h * w)
    return np.sqrt(np.maximum(window(squares) / (h * w) - mean * mean, 0.0))


@hookimpl
def omamori_register_filters(registry):
    registry.add(NoticeFilter())
