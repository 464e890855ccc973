"""Conversions between float32 RGBA in [0, 1] and the byte layouts editors use.

Kept in the core so that GIMP and Krita adapters move raw bytes and never carry
their own conversion loops. Layout names: channel order then sample type,
e.g. ``RGBA8``, ``BGRA16``, ``RGBAF16``, ``BGRAF32``."""

from __future__ import annotations

import numpy as np

from .bands import for_each_band
from .errors import InputError
from .i18n import Text

_SAMPLES = {"8": np.dtype("u1"), "16": np.dtype("<u2"), "F16": np.dtype("<f2"), "F32": np.dtype("<f4")}
_ORDERS = ("RGBA", "BGRA")


def parse_layout(layout: str) -> tuple[str, np.dtype]:
    order, sample = layout[:4], layout[4:]
    if order not in _ORDERS or sample not in _SAMPLES:
        raise InputError(Text("unknown pixel layout {layout!r}.", "不明な画素レイアウト {layout!r}。"), layout=layout)
    return order, _SAMPLES[sample]


def to_float(samples: np.ndarray) -> np.ndarray:
    """Integer or float samples to float32 in [0, 1] (floats are clipped, not scaled); scaled in place,
    so only one full-size float array is made."""
    out = samples.astype(np.float32)
    if samples.dtype == np.uint8:
        out /= 255.0
    elif samples.dtype == np.uint16:
        out /= 65535.0
    else:
        np.clip(out, 0.0, 1.0, out=out)
    return out


def rgb8_to_rgba(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> float32 RGBA in [0, 1], opaque: written straight into the RGBA array, the same
    values as to_float of an RGBA conversion without making that conversion."""
    out = np.empty(rgb.shape[:2] + (4,), np.float32)
    np.divide(rgb, np.float32(255.0), out=out[..., :3])
    out[..., 3] = 1.0
    return out


def from_float(rgba: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float32 [0, 1] to `dtype` samples, rounding to the nearest level; a band of rows at a time, so
    no full-size float temporary is made (fresh memory costs more than the arithmetic)."""
    out = np.empty(rgba.shape, dtype)

    def convert(rows: slice) -> None:
        band = np.clip(rgba[rows], 0.0, 1.0)
        if dtype.kind == "u":
            band *= np.iinfo(dtype).max
            np.rint(band, out=band)
        out[rows] = band

    for_each_band(rgba.shape[0], convert)
    return out


def bytes_to_rgba(buffer: bytes, width: int, height: int, layout: str) -> np.ndarray:
    order, dtype = parse_layout(layout)
    expected = width * height * 4 * dtype.itemsize
    if len(buffer) != expected:
        raise InputError(Text("pixel buffer has {got} bytes, expected {want} for {w}×{h} {layout}.",
                              "画素バッファが {got} バイトです（{w}×{h} {layout} では {want} バイト）。"),
                         got=len(buffer), want=expected, w=width, h=height, layout=layout)
    samples = np.frombuffer(buffer, dtype=dtype).reshape(height, width, 4)
    if order == "BGRA":
        samples = samples[..., [2, 1, 0, 3]]
    return to_float(samples)


def rgba_to_bytes(rgba: np.ndarray, layout: str) -> bytes:
    order, dtype = parse_layout(layout)
    samples = from_float(rgba, dtype)
    if order == "BGRA":
        samples = samples[..., [2, 1, 0, 3]]
    return np.ascontiguousarray(samples).tobytes()


def layout_bit_depth(layout: str) -> int:
    """The output bit depth a budget must hold at, for a layout."""
    sample = parse_layout(layout)[1]
    return 8 * sample.itemsize if sample.kind == "u" else 32
