"""How visible a change is: NVIDIA's FLIP (mean error at 67 pixels per degree, a phone or monitor at
arm's length) and PSNR, and uniform noise calibrated to the same FLIP on the same picture, so the
protection can be compared with noise that shows as much.

FLIP costs about 4 µs a pixel on one core, so it is taken on a strip of tiles spread over the picture
(the same places in every picture, clear of visible marks); PSNR on the whole picture less the marks.
"""

from __future__ import annotations

import numpy as np

from . import bands
from .measuring import place
from .pixels import from_float, to_float

PPD = 67.0
TILE = 128
NOISE_SEED = 0
CLOSE_ENOUGH = 0.03  # relative FLIP mismatch at which the noise calibration stops
CALIBRATION_TRIES = 8  # FLIP measurements at most (usually two or three)
BAND_ROWS = bands.ROWS  # whole-picture work goes band by band: temporaries stay small on huge pictures


def psnr(a: np.ndarray, b: np.ndarray, keep: np.ndarray | None = None) -> float:
    """PSNR of two [0, 1] pictures (or 8-bit levels), over the pixels where `keep` (all when None)."""
    return psnr_of(mean_squared_error(a, b, keep))


def psnr_of(mse: float) -> float:
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def mean_squared_error(a: np.ndarray, b: np.ndarray, keep: np.ndarray | None = None) -> float:
    """Over the pixels where `keep`, of [0, 1] pictures or 8-bit levels; summed a band at a time
    (bands.for_each_band), then in band order, so the figure does not depend on which thread finished first."""
    sums: dict[int, tuple[float, int]] = {}

    def band(rows: slice) -> None:
        diff = to_float(a[rows]) - to_float(b[rows])  # 8-bit levels or floats, in [0, 1] either way
        if keep is not None:
            diff = diff[keep[rows]]
        sums[rows.start] = float(np.sum(np.square(diff, dtype=np.float64))), diff.size

    bands.for_each_band(a.shape[0], band, BAND_ROWS)
    total = sum(sums[start][0] for start in sorted(sums))
    return total / max(sum(count for _, count in sums.values()), 1)


def to_levels(rgb: np.ndarray) -> np.ndarray:
    """8-bit levels of a [0, 1] picture (band by band: no full-size float temporaries)."""
    return from_float(rgb, np.dtype(np.uint8))


def mosaic(rgb: np.ndarray, places: list, tile: int = TILE) -> np.ndarray:
    """The tiles at fractional `places` side by side in one strip (one FLIP call instead of many)."""
    h, w = rgb.shape[:2]
    side = min(tile, h, w)
    return np.concatenate([rgb[y:y + side, x:x + side] for y, x in place(places, h, w, side)], axis=1)


def mean_flip(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean FLIP error of two float32 RGB pictures in [0, 1] (sRGB), 0 = identical."""
    import flip_evaluator

    if np.array_equal(reference, test):
        return 0.0
    _, mean, _ = flip_evaluator.evaluate(np.ascontiguousarray(reference, np.float32),
                                         np.ascontiguousarray(test, np.float32), "LDR",
                                         applyMagma=False, parameters={"ppd": PPD})
    return float(mean)


class MatchedNoise:
    """Uniform noise of +-amplitude 8-bit levels, rounded to 8 bits, on one picture (fixed seed)."""

    def __init__(self, rgb: np.ndarray):
        self.levels = to_levels(rgb)  # 8-bit: a quarter of float32's memory
        self.unit = np.random.default_rng(NOISE_SEED).random(rgb.shape, dtype=np.float32)
        self.unit *= 2
        self.unit -= 1

    def picture(self, amplitude: float) -> np.ndarray:
        """The whole noisy picture as 8-bit levels."""
        out = np.empty(self.levels.shape, np.uint8)

        def band(rows: slice) -> None:
            out[rows] = _noisy(self.levels[rows], self.unit[rows], amplitude)

        bands.for_each_band(out.shape[0], band, BAND_ROWS)
        return out

    def mosaic(self, amplitude: float, places: list) -> np.ndarray:
        """`mosaic` of the noisy picture, float32 in [0, 1], made on the tiles alone: the calibration
        measures FLIP there only."""
        return to_float(_noisy(mosaic(self.levels, places), mosaic(self.unit, places), amplitude))

    def calibrate(self, flip_target: float, mse_hint: float, flip_of) -> tuple[float, float]:
        """(amplitude, its FLIP) with FLIP close to `flip_target`; `flip_of(amplitude)` measures.

        Starts where noise has the protected picture's MSE (uniform +-a has MSE a^2/3), then takes
        secant steps: FLIP grows smoothly with the amplitude, so two or three measurements do. Where it does
        not (under about 0.7 levels most of the noise rounds away, and FLIP jumps), the steps stay between
        the closest amplitudes tried below and above the target."""
        if flip_target <= 0:
            return 0.0, 0.0
        tried = []
        amplitude = max(0.5, float(np.sqrt(3 * mse_hint)) * 255)
        for _ in range(CALIBRATION_TRIES):
            tried.append((amplitude, flip_of(amplitude)))
            if abs(tried[-1][1] / flip_target - 1) <= CLOSE_ENOUGH:
                break
            amplitude = _next_amplitude(tried, flip_target)
        return min(tried, key=lambda t: abs(t[1] - flip_target))


def _noisy(levels: np.ndarray, unit: np.ndarray, amplitude: float) -> np.ndarray:
    return np.clip(np.rint(levels + amplitude * unit), 0, 255).astype(np.uint8)


def _next_amplitude(tried: list[tuple[float, float]], target: float) -> float:
    (a0, f0), (a1, f1) = ([(0.0, 0.0)] + tried)[-2:]
    slope = (f1 - f0) / (a1 - a0) if a1 != a0 else 0.0
    step = (target - f1) / slope if slope > 0 else a1  # no usable slope: double
    secant = float(np.clip(a1 + step, 0.25 * a1, 4 * a1 + 0.5))
    below = [a for a, f in tried if f < target]
    above = [a for a, f in tried if f > target]
    if below and above and not max(below) < secant < min(above):
        return (max(below) + min(above)) / 2  # the secant left the bracket: halve it instead
    return secant


def visibility(original: np.ndarray, protected: np.ndarray, noise: MatchedNoise, places: list,
               keep: np.ndarray) -> tuple[dict, np.ndarray]:
    """FLIP (on the tiles at `places`) and PSNR (where `keep`, off the visible marks) of the protection and
    of uniform noise calibrated to the same FLIP; and that noisy picture (8-bit levels), made once, for
    the latents to measure the very noise whose visibility is given."""
    ref = mosaic(original, places)
    flip_protected = mean_flip(ref, mosaic(protected, places))
    if not keep.any():
        keep = np.ones_like(keep)
    mse = mean_squared_error(original, protected, keep)
    amplitude, flip_noise = noise.calibrate(flip_protected, mse, lambda a: mean_flip(ref, noise.mosaic(a, places)))
    noisy = noise.picture(amplitude)
    figures = {"flip": flip_protected, "psnr": psnr_of(mse),
               "noise": {"amplitude_levels": round(amplitude, 3), "flip": flip_noise,
                         "psnr": psnr(original, noisy, keep)}}
    return figures, noisy
