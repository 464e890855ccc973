"""PNG writing choices on protected pictures (a benchmark, not a test): median seconds to
encode, bytes, and whether the decoded pixels equal the input (every choice must). The chosen one,
omamori.encoders.png, uses every core; the others run on one.

    python tests/benchmarks/bench_encoders.py [--runs 5]

The pictures: the bundled example painting tiled to 2048x2048 and protected by `apply guard`
(the noisy case the cloak makes), and the same painting unprotected. imagecodecs is measured
when it is installed (it is not a dependency)."""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import picture  # noqa: E402

from omamori import encoders, jobs  # noqa: E402
from omamori.pixels import from_float  # noqa: E402


def opencv(level: int, *extra: int):
    def encode(rgb: np.ndarray) -> bytes:
        return cv2.imencode(".png", rgb[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, level, *extra])[1].tobytes()
    return encode


def pillow(level: int):
    def encode(rgb: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "PNG", compress_level=level)
        return buffer.getvalue()
    return encode


def choices() -> dict:
    found = {
        "omamori.encoders.png (chosen)": encoders.png,
        "OpenCV level 6": opencv(6),
        "OpenCV level 1, fast filters (before)": opencv(1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FAST_FILTERS),
        "OpenCV level 1": opencv(1),
        "OpenCV level 3, fast filters": opencv(3, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FAST_FILTERS),
        "OpenCV level 1, RLE": opencv(1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE),
        "Pillow level 6": pillow(6),
        "Pillow level 1": pillow(1),
    }
    try:
        import imagecodecs

        found["imagecodecs libpng level 1"] = lambda rgb: imagecodecs.png_encode(rgb, level=1)
        found["imagecodecs spng level 1"] = lambda rgb: imagecodecs.spng_encode(rgb, level=1)
    except ImportError:
        pass
    return found


def measure(name: str, rgb: np.ndarray, encode, runs: int) -> tuple[float, int]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        data = encode(rgb)
        times.append(time.perf_counter() - start)
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    if not np.array_equal(decoded, rgb):
        raise SystemExit(f"{name} is not lossless")
    return statistics.median(times), len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    painting = picture(4.3)[:2048, :2048]
    protected = jobs.protect_pixels(painting, jobs.single_filter_preset("guard", {}))
    for label, rgba in (("guard-protected painting 2048²", protected), ("plain painting 2048²", painting)):
        rgb = from_float(rgba[..., :3], np.dtype(np.uint8))
        print(f"{label}; load average {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")
        rows = [(name, *measure(name, rgb, encode, args.runs)) for name, encode in choices().items()]
        chosen = next(row for row in rows if "chosen" in row[0])
        for name, seconds, size in rows:
            print(f"  {name:<40} {seconds:6.3f} s ({seconds / chosen[1]:4.2f}x chosen)  "
                  f"{size / 1e6:6.2f} MB ({size / chosen[2]:4.2f}x)  lossless")


if __name__ == "__main__":
    main()
