"""Encoder settings chosen for speed where the written file stays the same picture.

PNG is lossless at every compression level, so the level only trades bytes for time.
Measured with tests/benchmarks/bench_encoders.py (README "Speed"): zlib level 1 with
libpng's fast filter set (none, sub, up) writes protected paintings several times faster
than level 6, with files about 12 % larger; OpenCV's encoder beat Pillow's and
imagecodecs' at every level tried, so no extra dependency is needed."""

from __future__ import annotations

import cv2

PNG_LEVEL = 1


def png_options() -> list[int]:
    """cv2.imencode flags for a fast lossless PNG."""
    return [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FAST_FILTERS]
