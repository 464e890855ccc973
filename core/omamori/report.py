"""The report picture of `omamori evaluate --report`: original | protected, where it changed (heat map)
beside the figures, and "what an AI model sees" (each picture's round trip through the TAEF2 encoder and
decoder, on a full-size centre detail), with the verdict on top, in English and Japanese.

1080 px wide (a phone screen's width in pixels) with text of 26 px or more, so it reads on a phone.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from . import measuring
from .evaluate import AS_SAVED, flatten_rgb, gain_row, judge_gain_rows, largest_change, same_size
from .visibility import to_levels
from .atomicfile import write_atomic
from .filters._overlay import load_font

WIDTH = 1080
PAD = 20
PANEL = (WIDTH - 3 * PAD) // 2  # two panels a row
DETAIL = 256                    # side of the centre detail sent through the encoder and decoder
HEAT_LEVELS = 16                # the heat map's scale tops out at this many 8-bit levels of change
INK, PAPER, GREY = (20, 20, 28), (250, 248, 244), (95, 95, 105)
GRADE_COLOURS = {"strong": (22, 120, 60), "some": (170, 110, 0), "weak": (180, 40, 40), "faint": (180, 40, 40),
                 "unchanged": (180, 40, 40)}


def write_report(path: str | os.PathLike, original: np.ndarray, protected: np.ndarray, result: dict) -> Path:
    """Draws the report of `result` (from `evaluate.measure_protection`) and writes it atomically as PNG."""
    picture = draw_report(original, protected, result)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", optimize=False)
    return write_atomic(path, buffer.getvalue(), overwrite=True)


def draw_report(original: np.ndarray, protected: np.ndarray, result: dict) -> Image.Image:
    after = flatten_rgb(protected)
    before, _ = same_size(flatten_rgb(original), after)
    box, seen = round_trips(before, after)
    page = Page()
    page.title("Omamori protection check  ·  お守り 保護チェック")
    page.verdict(result["verdict"])
    page.pair((before, "Original · 元画像", box), (after, "Protected · 保護後", box))
    page.heat_and_figures(heat_map(before, after), result)
    page.pair((seen[0], "What an AI model sees: original · AIに見える元画像", None),
              (seen[1], "What an AI model sees: protected · AIに見える保護後", None))
    page.note(f"Centre detail ({box[2]}×{box[2]} px, framed above) through the TAEF2 encoder and decoder. "
              f"中央部分（上の枠）を TAEF2 のエンコーダとデコーダに通した結果です。")
    page.note(both(result["limits"]))
    page.note(both(result["encoder"]["note"]))
    held = result["encoder"].get("held_out")
    if held:
        page.note("Benchmark after posting, gain over noise (ε {e}) · 投稿後のベンチマークのノイズ比: TAEF2 {a}; held-out encoders · "
                  "学習外のエンコーダ: {b}".format(e=held["epsilon"], a=gain_row(held["gain_over_noise_taef2"], "×"),
                                                b=judge_gain_rows(held, "×")))
    return page.finish()


def both(value: dict) -> str:
    """English then Japanese of a {"en", "ja"} pair."""
    return f"{value['en']} {value['ja']}"


def round_trips(before: np.ndarray, after: np.ndarray) -> tuple[tuple[int, int, int], list[np.ndarray]]:
    """((top, left, side) of the centre detail, [its round trip for each picture])."""
    h, w = before.shape[:2]
    side = max(8, min(DETAIL, h - h % 8, w - w % 8))
    top, left = (h - side) // 2, (w - side) // 2
    crops = np.stack([p[top:top + side, left:left + side] for p in (before, after)]).transpose(0, 3, 1, 2)
    decoded = measuring.taef2("decoder")(measuring.taef2("encoder")(crops))
    return (top, left, side), list(np.clip(decoded, 0, 1).transpose(0, 2, 3, 1))


def heat_map(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Largest change per pixel over the channels, 0..HEAT_LEVELS 8-bit levels, as an inferno colour map."""
    change = largest_change(to_levels(before), to_levels(after)).astype(np.float32)
    scale = PANEL / max(before.shape[:2])
    if scale < 1:  # the area average shows how dense the change is at the panel's size
        change = cv2.resize(change, (max(1, round(before.shape[1] * scale)), max(1, round(before.shape[0] * scale))),
                            interpolation=cv2.INTER_AREA)
    levels = np.clip(change / HEAT_LEVELS * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB).astype(np.float32) / 255


class Page:
    """A growing column of text and picture rows on a light background."""

    def __init__(self):
        self.rows: list[Image.Image] = []

    def text_row(self, text: str, size: int, colour=INK) -> None:
        font = load_font("", size)
        lines = wrap(text, font, WIDTH - 2 * PAD)
        row = Image.new("RGB", (WIDTH, int(len(lines) * size * 1.3) + PAD // 2), PAPER)
        draw = ImageDraw.Draw(row)
        for i, line in enumerate(lines):
            draw.text((PAD, int(i * size * 1.3)), line, font=font, fill=colour)
        self.rows.append(row)

    def title(self, text: str) -> None:
        self.rows.append(Image.new("RGB", (WIDTH, PAD), PAPER))
        self.text_row(text, 40)

    def verdict(self, verdict: dict) -> None:
        colour = GRADE_COLOURS.get(verdict["grade"], INK)
        self.text_row(verdict["en"], 32, colour)
        self.text_row(verdict["ja"], 32, colour)

    def note(self, text: str) -> None:
        self.text_row(text, 26, GREY)

    def pair(self, left: tuple, right: tuple) -> None:
        panels = [panel(*item) for item in (left, right)]
        self.side_by_side(panels)

    def heat_and_figures(self, heat: np.ndarray, result: dict) -> None:
        heat_panel = panel(heat, f"Where it changed (0–{HEAT_LEVELS}+ levels) · 変化した場所", None)
        self.side_by_side([heat_panel, figures_panel(result, heat_panel.height)])

    def side_by_side(self, panels: list[Image.Image]) -> None:
        row = Image.new("RGB", (WIDTH, max(p.height for p in panels) + PAD), PAPER)
        for i, p in enumerate(panels):
            row.paste(p, (PAD + i * (PANEL + PAD), 0))
        self.rows.append(row)

    def finish(self) -> Image.Image:
        self.rows.append(Image.new("RGB", (WIDTH, PAD), PAPER))
        page = Image.new("RGB", (WIDTH, sum(r.height for r in self.rows)), PAPER)
        y = 0
        for row in self.rows:
            page.paste(row, (0, y))
            y += row.height
        return page


def panel(rgb: np.ndarray, caption: str, frame: tuple | None) -> Image.Image:
    """A picture fitted into PANEL x PANEL with a caption under it; `frame` (top, left, side) is outlined."""
    h, w = rgb.shape[:2]
    scale = min(PANEL / w, PANEL / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = Image.fromarray(to_levels(rgb))  # band by band: no full-size float temporaries
    image = image.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST)
    font = load_font("", 26)
    lines = wrap(caption, font, PANEL)
    out = Image.new("RGB", (PANEL, size[1] + 8 + 34 * len(lines)), PAPER)
    out.paste(image, ((PANEL - size[0]) // 2, 0))
    draw = ImageDraw.Draw(out)
    if frame is not None:
        top, left, side = (v * scale for v in frame)
        x0 = (PANEL - size[0]) // 2 + left
        draw.rectangle((x0, top, x0 + side, top + side), outline=(0, 200, 255), width=3)
    for i, line in enumerate(lines):
        draw.text((0, size[1] + 6 + 34 * i), line, font=font, fill=INK)
    return out


def figures_panel(result: dict, height: int) -> Image.Image:
    """The figures beside the heat map: visibility and r against equally visible noise."""
    vis, noise = result["visibility"], result["visibility"]["noise"]
    lines = ["Protected (equally visible noise) · 保護（同じ見え方のノイズ）",
             f"FLIP {vis['flip']:.3f} ({noise['flip']:.3f})",
             f"PSNR {vis['psnr']:.1f} dB ({noise['psnr']:.1f})",
             "r = AI latent change · AI の潜在変化"]
    for name, fig in result["latent"].items():
        lines.append(f"{posting_label(result, name)}: {fig['r']:.2f} ({fig['r_noise']:.2f})")
    verdict = result["verdict"]
    lines.append(f"gain over noise · ノイズ比 ({posting_label(result, verdict['posting'])}) "
                 + ("–" if verdict["gain_over_noise"] is None else f"{verdict['gain_over_noise']:.2f}×"))
    lines.append("target distance (1 = not pulled) · 目標との距離（1 = 引き寄せなし）")
    for name, fig in result["latent"].items():
        if "style_distance" in fig:
            lines.append(f"{posting_label(result, name)}: style {fig['style_distance']:.2f} "
                         f"({fig['style_distance_noise']:.2f}), poison {fig['poison_distance']:.2f} ({fig['poison_distance_noise']:.2f})")
    font = load_font("", 26)
    wrapped = [part for line in lines for part in wrap(line, font, PANEL)]
    out = Image.new("RGB", (PANEL, max(height, 34 * len(wrapped) + 8)), (238, 236, 230))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(wrapped):
        draw.text((10, 6 + 34 * i), line, font=font, fill=INK)
    return out


def posting_label(result: dict, name: str) -> str:
    """A posting's name in English and Japanese."""
    return "as saved · 保存したまま" if name == AS_SAVED else " · ".join(result["postings"][name]["label"].values())


# Japanese never starts a line with these (kinsoku): "1.3 倍" must not become "1.3" and "倍".
NO_LINE_START = "倍、。，．）」』％%・:：;；!！?？"


def wrap(text: str, font, width: int) -> list[str]:
    """Lines of at most `width` pixels; breaks at spaces, or anywhere in Japanese text (never before
    a character that must not start a line)."""
    lines, line = [], ""
    for char in text:
        candidate = line + char
        if font.getlength(candidate) <= width - 10 or not line:
            line = candidate
            continue
        cut = line.rfind(" ")
        while cut > len(line) // 2 and (line[cut + 1:] + char)[0] in NO_LINE_START:
            cut = line.rfind(" ", 0, cut)
        if cut > len(line) // 2:  # a word boundary not far back: keep the word whole
            lines.append(line[:cut])
            line = line[cut + 1:] + char
        elif char in NO_LINE_START and len(line) > 1:  # carry the last character over with it
            lines.append(line[:-1])
            line = line[-1] + char
        else:
            lines.append(line)
            line = char
    return lines + [line] if line else lines
