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
_CHANNELS = {"RGBA": slice(None), "BGRA": [2, 1, 0, 3]}  # swapping R and B is its own inverse


def parse_layout(layout: str) -> tuple[str, np.dtype]:
    order, sample = layout[:4], layout[4:]
    if order not in _CHANNELS or sample not in _SAMPLES:
        raise InputError(Text("unknown pixel layout {layout!r}.", "不明な画素レイアウト {layout!r}。"), layout=layout)
    return order, _SAMPLES[sample]


def to_float(samples: np.ndarray) -> np.ndarray:
    """Integer or float samples to float32 in [0, 1] (floats are clipped, not scaled, and NaN becomes 0:
    the filters' domain, where one NaN would spread through a blur); scaled in place, so only one
    full-size float array is made."""
    out = samples.astype(np.float32)
    if samples.dtype == np.uint8:
        out /= 255.0
    elif samples.dtype == np.uint16:
        out /= 65535.0
    else:
        np.nan_to_num(out, copy=False, nan=0.0)
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
        out[rows] = _quantized(np.clip(rgba[rows], 0.0, 1.0), dtype)

    for_each_band(rgba.shape[0], convert)
    return out


def _quantized(band: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A float32 band, already in range, scaled (in place) to the nearest level of an integer `dtype`;
    a float `dtype` takes it as it is."""
    if dtype.kind == "u":
        band *= np.iinfo(dtype).max
        np.rint(band, out=band)
    return band


def _clipped_part(samples: np.ndarray) -> np.ndarray:
    """What to_float cuts off float samples, as float32; inf and NaN have no finite share to keep."""
    part = samples.astype(np.float32)
    part -= to_float(samples)
    return np.nan_to_num(part, copy=False, nan=0.0, posinf=0.0, neginf=0.0)


def bytes_to_rgba(buffer: bytes, width: int, height: int, layout: str) -> np.ndarray:
    order, dtype = parse_layout(layout)
    expected = width * height * 4 * dtype.itemsize
    if len(buffer) != expected:
        raise InputError(Text("pixel buffer has {got} bytes, expected {want} for {w}×{h} {layout}.",
                              "画素バッファが {got} バイトです（{w}×{h} {layout} では {want} バイト）。"),
                         got=len(buffer), want=expected, w=width, h=height, layout=layout)
    samples = np.frombuffer(buffer, dtype=dtype).reshape(height, width, 4)
    return to_float(samples[..., _CHANNELS[order]])


def rgba_to_samples(rgba: np.ndarray, layout: str, original: bytes | None = None,
                    mask: np.ndarray | None = None) -> np.ndarray:
    """float32 RGBA to (H, W, 4) samples in `layout`'s order and type, a band of rows at a time.

    With the `original` buffer (same layout) and a selection `mask` (H, W) in [0, 1], nothing the
    selection leaves out is lost: where the mask is 0 the original samples come back bit-identical, and
    a float layout's values outside [0, 1], which to_float clipped, are kept in proportion to 1 - mask,
    so a feathered edge fades from the filtered pixels to the originals. Without a mask the whole
    layer counts as selected and comes back in [0, 1], the filters' domain."""
    order, dtype = parse_layout(layout)
    channels = _CHANNELS[order]
    out = np.empty(rgba.shape, dtype)
    source = None if mask is None else np.frombuffer(original, dtype).reshape(rgba.shape)

    def convert(rows: slice) -> None:
        band = np.clip(rgba[rows], 0.0, 1.0)
        if source is not None and dtype.kind == "f":
            band += (1.0 - np.clip(mask[rows], 0.0, 1.0))[..., None] * _clipped_part(source[rows][..., channels])
        out[rows] = _quantized(band, dtype)[..., channels]
        if source is not None:
            np.copyto(out[rows], source[rows], where=(mask[rows] <= 0.0)[..., None])

    for_each_band(rgba.shape[0], convert)
    return out


def rgba_to_bytes(rgba: np.ndarray, layout: str, original: bytes | None = None,
                  mask: np.ndarray | None = None) -> bytes:
    """rgba_to_samples as the raw bytes an editor takes."""
    return rgba_to_samples(rgba, layout, original, mask).tobytes()


def layout_bit_depth(layout: str) -> int:
    """The output bit depth a budget must hold at, for a layout."""
    sample = parse_layout(layout)[1]
    return 8 * sample.itemsize if sample.kind == "u" else 32
