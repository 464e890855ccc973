"""`omamori inspect`: what protection a file carries, as far as a reader can tell."""

from __future__ import annotations

from pathlib import Path

from . import imageio, metadata
from .errors import escape_controls
from .filters import notice, stamp


def inspect_file(path: str | Path) -> dict:
    """Opt-out metadata, the invisible stamp's author id, and the visible notice.

    Text read from the file has its control characters escaped, so that no
    escape code hidden in EXIF or XMP reaches the terminal."""
    data = imageio.read_input(path)
    picture = imageio.load(path, data)
    author_id, confidence = stamp.decode(picture.pixels)
    if confidence < stamp.MIN_CONFIDENCE:  # a CRC can pass by chance on unmarked noise
        author_id = None
    return {
        "file": escape_controls(str(path)),
        "width": picture.pixels.shape[1],
        "height": picture.pixels.shape[0],
        "frames": max(1, len(picture.frames)),
        "optout": {key: escape_controls(value) if isinstance(value, str) else value
                   for key, value in metadata.read_optout(path, data).items()},
        "stamp": {"author_id": author_id, "confidence": round(confidence, 3)},
        "notice": notice.find_notice(picture.pixels),
    }
