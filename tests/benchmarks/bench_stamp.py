"""Robustness of the invisible author mark on the shared artwork (a benchmark, not a test).

    python tests/benchmarks/bench_stamp.py [--strength 1.0] [--every 1]

For each picture (composited on a random flat colour, so it is opaque) with a random
id: PSNR of the 8-bit result, then Lanczos 0.5× and JPEG quality 75, the raw slot bit
accuracy and whether the id decodes; unmarked pictures must read as nothing. Cut-out
portraits are also marked as RGBA, flattened on white and attacked the same way.
The figures in omamori/filters/stamp.py's docstring come from this script."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from omamori.filters import stamp
from omamori.filters.base import Context

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "filters"))
from filterkit import expected_slot_bits, flatten, jpeg_attack, read_stamp, slot_votes  # noqa: E402  (the tests' posting simulation)

REPO = Path(__file__).resolve().parents[2]
ARTWORK = Path(os.environ.get("OMAMORI_SHARED", REPO.parent / "shared")) / "data" / "artwork"


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
        attacked = jpeg_attack(marked, scale=0.5)
        accuracies.append(float(np.mean((slot_votes(attacked) < 0) == expected_slot_bits(author))))
        half += read_stamp(attacked) == author
        full += read_stamp(jpeg_attack(marked)) == author
        unmarked = jpeg_attack(opaque, scale=0.5)
        false_reads += read_stamp(unmarked) is not None
        clean_conf.append(stamp.decode(unmarked)[1])
        if (raw[..., 3] < 0.01).mean() > 0.05:
            cutouts += 1
            on_white = flatten(mark.apply(raw, settings, Context()))
            cut_full += read_stamp(jpeg_attack(on_white)) == author
            cut_half += read_stamp(jpeg_attack(on_white, scale=0.5)) == author
    n = len(paths)
    print(f"pictures {n}, strength {args.strength}")
    print(f"PSNR {min(psnrs):.1f}-{max(psnrs):.1f} dB (mean {np.mean(psnrs):.1f})")
    print(f"JPEG 75: {full}/{n} decoded; 0.5x + JPEG 75: {half}/{n} decoded, "
          f"raw slot accuracy min {min(accuracies):.3f} mean {np.mean(accuracies):.3f}")
    print(f"cut-outs flattened on white: JPEG 75 {cut_full}/{cutouts}, 0.5x + JPEG 75 {cut_half}/{cutouts}")
    print(f"unmarked: {false_reads}/{n} false reads, confidence max {max(clean_conf):.2f}")


if __name__ == "__main__":
    main()
