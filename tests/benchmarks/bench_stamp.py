"""Robustness of the invisible author mark on the shared artwork (a benchmark, not a test).

    python tests/benchmarks/bench_stamp.py [--strength 1.0] [--every 1]

For each picture (composited on a random flat colour, so it is opaque) with a random
id: PSNR of the 8-bit result, then Lanczos 0.5× and JPEG quality 75, the raw slot bit
accuracy and whether the id decodes; unmarked pictures must read as nothing. Cut-out
portraits are also marked as RGBA, flattened on white and attacked the same way.
The figures in omamori/filters/stamp.py's docstring come from this script."""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from omamori.filters import stamp
from omamori.filters.base import Context

REPO = Path(__file__).resolve().parents[2]
ARTWORK = Path(os.environ.get("OMAMORI_SHARED", REPO.parent / "shared")) / "data" / "artwork"


def attack(rgba: np.ndarray, scale: float, quality: int = 75) -> np.ndarray:
    image = Image.fromarray(np.rint(np.clip(rgba[..., :3], 0, 1) * 255).astype(np.uint8))
    if scale != 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    back = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), np.float32) / 255
    return np.dstack([back, np.ones(back.shape[:2], np.float32)])


def flatten(rgba: np.ndarray, background) -> np.ndarray:
    flat = rgba.copy()
    flat[..., :3] = rgba[..., :3] * rgba[..., 3:] + np.float32(background) * (1 - rgba[..., 3:])
    flat[..., 3] = 1.0
    return flat


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((np.rint(a[..., :3] * 255) - np.rint(b[..., :3] * 255)) ** 2)
    return float(10 * np.log10(255 ** 2 / mse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--every", type=int, default=1, help="use every N-th picture")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    mark = stamp.StampFilter()
    psnrs, accuracies, full, half, false_reads, clean_conf, cut_full, cut_half = [], [], 0, 0, 0, [], 0, 0
    paths = sorted(ARTWORK.iterdir())[::args.every]
    cutouts = 0
    for path in paths:
        raw = np.asarray(Image.open(path).convert("RGBA"), np.float32) / 255
        author = int(rng.integers(0, 2**32))
        settings = {"author_id": author, "strength": args.strength}
        opaque = flatten(raw, rng.uniform(0.1, 0.9, 3))
        marked = mark.apply(opaque, settings, Context())
        psnrs.append(psnr(opaque, marked))
        attacked = attack(marked, 0.5)
        accuracies.append(float(np.mean((stamp.slot_votes(attacked) < 0) == stamp.expected_slot_bits(author))))
        half += stamp.read_stamp(attacked) == author
        full += stamp.read_stamp(attack(marked, 1.0)) == author
        unmarked = attack(opaque, 0.5)
        false_reads += stamp.read_stamp(unmarked) is not None
        clean_conf.append(stamp.decode(unmarked)[1])
        if (raw[..., 3] < 0.01).mean() > 0.05:
            cutouts += 1
            on_white = flatten(mark.apply(raw, settings, Context()), (1.0, 1.0, 1.0))
            cut_full += stamp.read_stamp(attack(on_white, 1.0)) == author
            cut_half += stamp.read_stamp(attack(on_white, 0.5)) == author
    n = len(paths)
    print(f"pictures {n}, strength {args.strength}")
    print(f"PSNR {min(psnrs):.1f}-{max(psnrs):.1f} dB (mean {np.mean(psnrs):.1f})")
    print(f"JPEG 75: {full}/{n} decoded; 0.5x + JPEG 75: {half}/{n} decoded, "
          f"raw slot accuracy min {min(accuracies):.3f} mean {np.mean(accuracies):.3f}")
    print(f"cut-outs flattened on white: JPEG 75 {cut_full}/{cutouts}, 0.5x + JPEG 75 {cut_half}/{cutouts}")
    print(f"unmarked: {false_reads}/{n} false reads, confidence max {max(clean_conf):.2f}")


if __name__ == "__main__":
    main()
