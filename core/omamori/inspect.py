"""`omamori inspect`: what protection a file carries, as far as a reader can tell."""

from __future__ import annotations

from pathlib import Path

from . import imageio, metadata
from .filters import notice, stamp


def inspect_file(path: str | Path) -> dict:
    """Opt-out metadata, the invisible author mark's payload, and the visible notice."""
    picture = imageio.load(path)
    author_id, confidence = stamp.decode(picture.pixels)
    if confidence < stamp.MIN_CONFIDENCE:  # a CRC can pass by chance on unmarked noise
        author_id = None
    found_notice = notice.find_notice(picture.pixels)
    return {
        "file": str(path),
        "width": picture.pixels.shape[1],
        "height": picture.pixels.shape[0],
        "optout": metadata.read_optout(path),
        "author_mark": {"author_id": author_id, "confidence": round(confidence, 3)},
        "notice": found_notice,
    }
