"""Encoder settings chosen for speed where the written file stays the same picture.

PNG is lossless at every compression level, so the level only trades bytes for time.
Measured with tests/benchmarks/bench_encoders.py (README "Speed"): zlib level 1 with
libpng's fast filter set (none, sub, up) wrote a guard-protected 2048² painting 1.8x and
the plain painting 2.9x faster than level 6, files 8 % larger. On the protected picture
it was also faster than Pillow's and imagecodecs' (libpng, spng) encoders at level 1;
imagecodecs was faster on the unprotected one, not enough to add a 45 MB dependency."""

from __future__ import annotations

import cv2

PNG_LEVEL = 1


def png_options() -> list[int]:
    """cv2.imencode flags for a fast lossless PNG."""
    return [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FAST_FILTERS]
