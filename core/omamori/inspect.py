"""`omamori inspect`: what protection a file carries, as far as a reader can tell."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from . import imageio, metadata
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
        "optout": {key: escape_controls(value) for key, value in metadata.read_optout(path, data).items()},
        "stamp": {"author_id": author_id, "confidence": round(confidence, 3)},
        "notice": notice.find_notice(picture.pixels),
    }


def escape_controls(value):
    """`value` with control and format characters (ESC, bidi overrides...) written as
    \\x1b or \\u202e; other values unchanged."""
    if not isinstance(value, str):
        return value
    return "".join(_escape(char) if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char
                   for char in value)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
