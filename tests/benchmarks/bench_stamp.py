"""Robustness of the invisible author mark on the shared pictures (a benchmark, not a test).

    python tests/benchmarks/bench_stamp.py [--set artwork|flat] [--long-edge N] [--strength 1.0] [--every 1]
    python tests/benchmarks/bench_stamp.py --windows 100000

For each picture with a random id: PSNR of the 8-bit result, then each posting or
edit in ATTACKS: whether the id decodes (and whether a wrong id is ever read) and
the raw slot bit error rate. Unmarked pictures, as they are and after each attack,
must read as nothing. `artwork` (painted) is composited on a random flat colour, so
it is opaque, and its cut-out portraits are also marked as RGBA and flattened on
white; `flat` (flat-colour drawings on white) is used as it is. `--long-edge` first
scales each picture to that long edge (small pictures). `--windows N` instead decodes N random
windows of unmarked pictures (both sets, every third; a third to all of each side, half of them
mirrored) and counts how often the CRC passes by chance, and how often the confidence gate too.
The figures in omamori/filters/stamp.py's docstring come from this script."""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from omamori.filters import stamp
from omamori.filters.base import Context

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "filters"))
from filterkit import expected_slot_bits, flatten, read_stamp, slot_votes  # noqa: E402  (the tests' helpers)

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("OMAMORI_SHARED", REPO.parent / "shared")) / "data"
LANCZOS, BILINEAR, BICUBIC = Image.Resampling.LANCZOS, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC


def jpeg(image: Image.Image, quality: int = 75) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def scaled(image: Image.Image, fx: float, fy: float | None = None, method=LANCZOS) -> Image.Image:
    size = (max(1, round(image.width * fx)), max(1, round(image.height * (fx if fy is None else fy))))
    return image.resize(size, method)


def cropped(image: Image.Image, right: float = 0.0, top: float = 0.0) -> Image.Image:
    return image.crop((0, round(image.height * top), round(image.width * (1 - right)), image.height))


# What posting or a reposter does to a picture (PIL RGB in, PIL RGB out).
ATTACKS = {
    "none": lambda im: im,
    "JPEG 75": jpeg,
    "0.5x": lambda im: scaled(im, 0.5),
    "0.5x + JPEG 75": lambda im: jpeg(scaled(im, 0.5)),
    "screenshot 0.73x bilinear": lambda im: scaled(im, 0.73, method=BILINEAR),
    "1.37x bicubic + JPEG 90": lambda im: jpeg(scaled(im, 1.37, method=BICUBIC), 90),
    "aspect 0.81x by 0.77x": lambda im: scaled(im, 0.81, 0.77, BILINEAR),
    "crop 2% off the right": lambda im: cropped(im, right=0.02),
    "crop 10% off the right": lambda im: cropped(im, right=0.10),
    "crop 10% off the top": lambda im: cropped(im, top=0.10),
    "rotate 1 degree": lambda im: im.rotate(1, BICUBIC, fillcolor=(255, 255, 255)),
    "rotate 3 degrees": lambda im: im.rotate(3, BICUBIC, fillcolor=(255, 255, 255)),
    "mirror": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
}


def to_image(rgba: np.ndarray) -> Image.Image:
    return Image.fromarray(np.rint(np.clip(rgba[..., :3], 0, 1) * 255).astype(np.uint8))


def to_rgba(image: Image.Image) -> np.ndarray:
    rgb = np.asarray(image.convert("RGB"), np.float32) / 255
    return np.dstack([rgb, np.ones(rgb.shape[:2], np.float32)])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((np.rint(a[..., :3] * 255) - np.rint(b[..., :3] * 255)) ** 2)
    return float(10 * np.log10(255 ** 2 / mse))


def load(path: Path, long_edge: int | None) -> np.ndarray:
    image = Image.open(path).convert("RGBA")
    if long_edge:
        image = scaled(image, long_edge / max(image.size))
    return np.asarray(image, np.float32) / 255


class Tally:
    def __init__(self):
        self.decoded = {name: 0 for name in ATTACKS}
        self.wrong = {name: 0 for name in ATTACKS}
        self.errors = {name: [] for name in ATTACKS}
        self.psnrs, self.false_reads, self.unmarked, self.clean_conf = [], 0, 0, []
        self.cutouts, self.cut_decoded = 0, {"JPEG 75": 0, "0.5x + JPEG 75": 0}

    def marked(self, marked: np.ndarray, author: int) -> None:
        image = to_image(marked)
        for name, attack in ATTACKS.items():
            attacked = to_rgba(attack(image))
            found = read_stamp(attacked)
            self.decoded[name] += found == author
            self.wrong[name] += found is not None and found != author
            self.errors[name].append(float(np.mean((slot_votes(attacked) < 0) != expected_slot_bits(author))))

    def clean(self, picture: np.ndarray) -> None:
        image = to_image(picture)
        for attack in ATTACKS.values():
            attacked = to_rgba(attack(image))
            self.unmarked += 1
            self.false_reads += read_stamp(attacked) is not None
            self.clean_conf.append(stamp.decode(attacked)[1])

    def cutout(self, marked_rgba: np.ndarray, author: int) -> None:
        self.cutouts += 1
        image = to_image(flatten(marked_rgba))
        for name in self.cut_decoded:
            self.cut_decoded[name] += read_stamp(to_rgba(ATTACKS[name](image))) == author

    def print(self, n: int, args) -> None:
        print(f"set {args.set}, pictures {n}, long edge {args.long_edge or 'as stored'}, strength {args.strength}")
        print(f"PSNR {min(self.psnrs):.1f}-{max(self.psnrs):.1f} dB (mean {np.mean(self.psnrs):.1f})")
        for name in ATTACKS:
            errors = self.errors[name]
            print(f"  {name:28s} decoded {self.decoded[name]:4d}/{n}  wrong id {self.wrong[name]}  "
                  f"raw slot BER mean {np.mean(errors):.3f} max {max(errors):.3f}")
        if self.cutouts:
            print("cut-outs flattened on white: " + ", ".join(
                f"{name} {count}/{self.cutouts}" for name, count in self.cut_decoded.items()))
        print(f"unmarked (each picture as it is and after every attack): {self.false_reads}/{self.unmarked} "
              f"false reads, confidence max {max(self.clean_conf):.3f} "
              f"(99th percentile {np.percentile(self.clean_conf, 99):.3f}; the gate is {stamp.MIN_CONFIDENCE})")


def chance_reads(count: int) -> None:
    rng = np.random.default_rng(5)
    paths = sorted((DATA / "flat").glob("*.png")) + sorted((DATA / "artwork").iterdir())
    pictures = [to_rgba(Image.open(path)) for path in paths[::3]]
    crc = gated = 0
    for _ in range(count):
        picture = pictures[rng.integers(len(pictures))]
        height, width = picture.shape[:2]
        rows, cols = rng.integers(height // 3, height + 1), rng.integers(width // 3, width + 1)
        top, left = rng.integers(0, height - rows + 1), rng.integers(0, width - cols + 1)
        window = picture[top:top + rows, left:left + cols]
        payload, confidence = stamp.decode(np.ascontiguousarray(window[:, ::-1] if rng.random() < 0.5 else window))
        crc += payload is not None
        gated += payload is not None and confidence >= stamp.MIN_CONFIDENCE
    print(f"unmarked windows {count}: CRC passes {crc}, of which over the confidence gate {gated}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("artwork", "flat"), default="artwork")
    parser.add_argument("--long-edge", type=int, default=None, help="scale each picture to this long edge first")
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--every", type=int, default=1, help="use every N-th picture")
    parser.add_argument("--windows", type=int, default=0, help="count chance reads on N unmarked windows instead")
    args = parser.parse_args()
    if args.windows:
        chance_reads(args.windows)
        return
    rng = np.random.default_rng(0)
    mark = stamp.StampFilter()
    tally = Tally()
    paths = sorted(p for p in (DATA / args.set).iterdir() if p.suffix in (".png", ".jpg"))[::args.every]
    for path in paths:
        raw = load(path, args.long_edge)
        settings = {"author_id": int(rng.integers(0, 2**32)), "strength": args.strength}
        opaque = flatten(raw, rng.uniform(0.1, 0.9, 3)) if args.set == "artwork" else flatten(raw)
        marked = mark.apply(opaque, settings, Context())
        tally.psnrs.append(psnr(opaque, marked))
        tally.marked(marked, settings["author_id"])
        tally.clean(opaque)
        if (raw[..., 3] < 0.01).mean() > 0.05:
            tally.cutout(mark.apply(raw, settings, Context()), settings["author_id"])
    tally.print(len(paths), args)


if __name__ == "__main__":
    main()
