"""Screenshots the real-host tests take of the plug-ins (the README shows them).

A plain test run keeps them in pytest's tmp_path, so it leaves the checkout as it was; with
OMAMORI_REFRESH_SCREENSHOTS=1 they replace the tracked copies in docs/images. Either way they are
checked first, so a blank or wrong-sized picture fails the test and never reaches docs/images.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PIL import Image

from chroot import REPO

IMAGES = REPO / "docs" / "images"
REFRESH = "OMAMORI_REFRESH_SCREENSHOTS"
MIN_COLOURS = 16  # a drawn panel has text and antialiasing; an empty grab has one or two colours


def check(shot: Path, size: tuple[int, int] | None = None, min_bytes: int = 0) -> None:
    """Fails unless `shot` is a PNG with drawn content (and `size` pixels, when given)."""
    assert shot.exists(), f"no screenshot at {shot}"
    assert shot.stat().st_size > min_bytes, f"{shot} has only {shot.stat().st_size} bytes"
    with Image.open(shot) as image:
        assert image.format == "PNG", (shot, image.format)
        assert size is None or image.size == size, (shot, image.size, size)
        assert image.convert("RGB").getcolors(MIN_COLOURS) is None, f"{shot} is blank"


def keep(shot: Path, tmp_path: Path) -> Path:
    """Copies a checked screenshot to tmp_path, or over docs/images' copy when refreshing; returns it."""
    folder = IMAGES if os.environ.get(REFRESH) == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(shot, folder / shot.name))
