"""Simulated posting: what a platform does to a picture (shrink to its size cap, re-encode as JPEG at its
quality), from the posting profiles' real limits, plus a generic 0.75x + JPEG 85."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .export import MIN_QUALITY
from .i18n import Text
from .measuring import place
from .profiles import Profile, list_profiles, load_profile

GENERIC = "generic"
AS_SAVED = "as_saved"
BLOCK = 16   # JPEG's largest block (a 4:2:0 MCU): windows start on this grid
MARGIN = 16  # beyond the tile: JPEG's chroma upsampling reads one pixel across a block edge
LOCAL = ("JPEG", "PNG", "TIFF")  # formats whose windows equal the whole picture's (WebP predicts across blocks)
LANCZOS_LOBES = 3  # Pillow's Lanczos reads 3 output pixels' worth of source on each side


@dataclass(frozen=True)
class Posting:
    """One way a picture gets posted."""

    name: str
    label: Text
    scale: float | None = None          # fixed rescale (generic, as saved); None: the profile's caps
    profile: Profile | None = None
    quality: int = 85
    fmt: str = "JPEG"                   # PNG: no re-encoding

    def size(self, width: int, height: int) -> tuple[int, int]:
        if self.profile is None:
            return max(1, round(width * self.scale)), max(1, round(height * self.scale))
        return self.profile.posted_size(width, height)

    def key(self, width: int, height: int) -> tuple:
        """Postings with the same key do the same thing to this picture (measured once)."""
        return self.size(width, height), self.fmt, self.quality, self.profile.max_bytes if self.profile else None

    def describe(self, width: int, height: int) -> dict:
        w, h = self.size(width, height)
        lossy = self.fmt in ("JPEG", "WEBP")
        return {"name": self.name, "label": self.label.as_dict(), "size": [h, w], "format": self.fmt,
                "quality": self.quality if lossy else None}

    def sample(self, pictures: list[np.ndarray], tile: int, places: list) -> list[np.ndarray]:
        """Tiles (N, 3, t, t) float32 of each same-size uint8 RGB picture as the platform would serve it,
        at the same fractional `places` (measuring.place); a byte cap's quality is chosen on pictures[1]
        (the protected one) and used for all. Only windows around the tiles are resized and encoded:
        Pillow's box resize reads the whole source and JPEG works in 16 px blocks, so a window aligned to
        the blocks with a margin gives the tile as the whole posted picture would (checked in the tests)."""
        h, w = pictures[0].shape[:2]
        size = self.size(w, h)
        side = tile_side(size[1], size[0], tile)
        quality = self.quality_for(pictures[1])
        local = self.fmt in LOCAL
        origins = place(places, size[1], size[0], side)
        out = []
        for picture in pictures:
            image = Image.fromarray(picture)
            if local:
                tiles = [self._window_tile(image, size, quality, y, x, side) for y, x in origins]
            else:
                whole = self._post(image, size, quality, (0, 0) + size)
                tiles = [whole[y:y + side, x:x + side] for y, x in origins]
            out.append(np.stack(tiles).transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255))
        return out

    def source_boxes(self, width: int, height: int, tile: int, places: list) -> list[tuple] | None:
        """The boxes (x0, y0, x1, y1) of a width x height source picture that `sample` reads, or None when
        it reads the whole picture (so a picture can be drawn only where it will be read)."""
        if self.fmt not in LOCAL:
            return None
        size = self.size(width, height)
        side = tile_side(size[1], size[0], tile)
        sx, sy = width / size[0], height / size[1]
        reach = 0 if size == (width, height) else LANCZOS_LOBES * max(sx, sy) + 1
        boxes = []
        for y, x in place(places, size[1], size[0], side):
            x0, y0, x1, y1 = _window(size, y, x, side)
            boxes.append((max(0, math.floor(x0 * sx - reach)), max(0, math.floor(y0 * sy - reach)),
                          min(width, math.ceil(x1 * sx + reach)), min(height, math.ceil(y1 * sy + reach))))
        return boxes

    def _window_tile(self, image: Image.Image, size: tuple[int, int], quality: int, y: int, x: int,
                     side: int) -> np.ndarray:
        x0, y0, x1, y1 = _window(size, y, x, side)
        return self._post(image, size, quality, (x0, y0, x1, y1))[y - y0:y - y0 + side, x - x0:x - x0 + side]

    def _post(self, image: Image.Image, size: tuple[int, int], quality: int, box: tuple) -> np.ndarray:
        """The window `box` (in posted coordinates) of the posted picture, uint8 RGB."""
        x0, y0, x1, y1 = box
        if size != image.size:
            sx, sy = image.width / size[0], image.height / size[1]
            window = image.resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS,
                                  box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy))
        else:
            window = image.crop(box)
        if self.fmt in ("JPEG", "WEBP"):
            window = Image.open(io.BytesIO(_save(window, self.fmt, quality)))
        return np.asarray(window.convert("RGB"))

    def quality_for(self, picture: np.ndarray) -> int:
        """The profile's quality, stepped down as the export does until the picture fits its byte cap."""
        quality, limit = self.quality, self.profile.max_bytes if self.profile else None
        if not limit or self.fmt not in ("JPEG", "WEBP"):
            return quality
        image = Image.fromarray(picture)
        image = image.resize(self.size(image.width, image.height), Image.Resampling.LANCZOS)
        while len(_save(image, self.fmt, quality)) > limit and quality > MIN_QUALITY:
            quality = max(MIN_QUALITY, quality - 5)
        return quality


def _window(size: tuple[int, int], y: int, x: int, side: int) -> tuple[int, int, int, int]:
    """The block-aligned window (x0, y0, x1, y1) of the posted picture that holds the tile at (y, x)."""
    x0, y0 = max(0, (x - MARGIN) // BLOCK * BLOCK), max(0, (y - MARGIN) // BLOCK * BLOCK)
    return x0, y0, min(size[0], x + side + MARGIN), min(size[1], y + side + MARGIN)


def tile_side(height: int, width: int, tile: int) -> int:
    """The tile side: `tile`, or the largest multiple of 8 that fits (the encoder works at 1/8 scale)."""
    return min(tile, height - height % 8, width - width % 8)


def _save(image: Image.Image, fmt: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=quality)
    return buffer.getvalue()


def as_saved() -> Posting:
    return Posting(AS_SAVED, Text("as saved", "保存したまま"), scale=1.0, fmt="PNG")


def generic() -> Posting:
    return Posting(GENERIC, Text("generic: 0.75x + JPEG 85", "一般的な投稿: 0.75 倍 + JPEG 85"), scale=0.75)


def from_profile(profile: Profile) -> Posting:
    return Posting(profile.name, profile.label, profile=profile, quality=profile.quality, fmt=profile.format)


def postings(profile: str | None = None) -> list[Posting]:
    """As saved, the generic posting, then the named profile's ("all": every profile's)."""
    chosen = list_profiles() if profile == "all" else [load_profile(profile)] if profile else []
    return [as_saved(), generic()] + [from_profile(p) for p in chosen]
