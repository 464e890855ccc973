"""Conversions between float32 RGBA in [0, 1] and the byte layouts editors use.

Kept in the core so that GIMP and Krita adapters move raw bytes and never carry
their own conversion loops. Layout names: channel order then sample type,
e.g. ``RGBA8``, ``BGRA16``, ``RGBAF16``, ``BGRAF32``. A transfer names how the
samples encode light: ``srgb`` (sRGB's curve, what files hold and the filters expect)
or ``linear`` (linear light, e.g. Krita's float default), converted on the way in and out."""

from __future__ import annotations

import numpy as np

from .bands import for_each_band
from .errors import InputError
from .i18n import Text

_SAMPLES = {"8": np.dtype("u1"), "16": np.dtype("<u2"), "F16": np.dtype("<f2"), "F32": np.dtype("<f4")}
_CHANNELS = {"RGBA": slice(None), "BGRA": [2, 1, 0, 3]}  # swapping R and B is its own inverse
SRGB, LINEAR = "srgb", "linear"


def parse_layout(layout: str) -> tuple[str, np.dtype]:
    order, sample = layout[:4], layout[4:]
    if order not in _CHANNELS or sample not in _SAMPLES:
        raise InputError(Text("unknown pixel layout {layout!r}.", "不明な画素レイアウト {layout!r}。"), layout=layout)
    return order, _SAMPLES[sample]


def _check_transfer(transfer: str) -> str:
    if transfer not in (SRGB, LINEAR):
        raise InputError(Text("unknown transfer {transfer!r} (expected 'srgb' or 'linear').",
                              "不明な伝達特性 {transfer!r} です（'srgb' か 'linear'）。"), transfer=transfer)
    return transfer


def linear_to_srgb(rgb: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] to sRGB-encoded values (IEC 61966-2-1's curve), in place; returns `rgb`."""
    dark = rgb <= np.float32(0.0031308)
    toe = rgb * np.float32(12.92)
    np.power(rgb, np.float32(1 / 2.4), out=rgb)
    rgb *= np.float32(1.055)
    rgb -= np.float32(0.055)
    np.copyto(rgb, toe, where=dark)
    return rgb


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] to linear light, in place (the inverse of linear_to_srgb); returns `rgb`."""
    dark = rgb <= np.float32(0.04045)
    toe = rgb / np.float32(12.92)
    rgb += np.float32(0.055)
    rgb /= np.float32(1.055)
    np.power(rgb, np.float32(2.4), out=rgb)
    np.copyto(rgb, toe, where=dark)
    return rgb


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


def bytes_to_rgba(buffer: bytes, width: int, height: int, layout: str, transfer: str = SRGB) -> np.ndarray:
    """An editor's samples as float32 RGBA in [0, 1], sRGB-encoded whatever their `transfer`."""
    order, dtype = parse_layout(layout)
    _check_transfer(transfer)
    expected = width * height * 4 * dtype.itemsize
    if len(buffer) != expected:
        raise InputError(Text("pixel buffer has {got} bytes, expected {want} for {w}×{h} {layout}.",
                              "画素バッファが {got} バイトです（{w}×{h} {layout} では {want} バイト）。"),
                         got=len(buffer), want=expected, w=width, h=height, layout=layout)
    samples = np.frombuffer(buffer, dtype=dtype).reshape(height, width, 4)
    rgba = to_float(samples[..., _CHANNELS[order]])
    if transfer == LINEAR:
        for_each_band(height, lambda rows: linear_to_srgb(rgba[rows, :, :3]))
    return rgba


def rgba_to_samples(rgba: np.ndarray, layout: str, original: bytes | None = None,
                    mask: np.ndarray | None = None, transfer: str = SRGB) -> np.ndarray:
    """float32 sRGB-encoded RGBA to (H, W, 4) samples in `layout`'s order and type and in `transfer`'s
    encoding, a band of rows at a time.

    With the `original` buffer (same layout) and a selection `mask` (H, W) in [0, 1], nothing the
    selection leaves out is lost: where the mask is 0 the original samples come back bit-identical, and
    a float layout's values outside [0, 1], which to_float clipped, are kept in proportion to 1 - mask,
    so a feathered edge fades from the filtered pixels to the originals. Without a mask the whole
    layer counts as selected and comes back in [0, 1], the filters' domain."""
    order, dtype = parse_layout(layout)
    linear = _check_transfer(transfer) == LINEAR
    channels = _CHANNELS[order]
    out = np.empty(rgba.shape, dtype)
    source = None if mask is None else np.frombuffer(original, dtype).reshape(rgba.shape)

    def convert(rows: slice) -> None:
        band = np.clip(rgba[rows], 0.0, 1.0)
        if linear:
            srgb_to_linear(band[..., :3])  # before the original's share: that is linear light too
        if source is not None and dtype.kind == "f":
            band += (1.0 - np.clip(mask[rows], 0.0, 1.0))[..., None] * _clipped_part(source[rows][..., channels])
        out[rows] = _quantized(band, dtype)[..., channels]
        if source is not None:
            np.copyto(out[rows], source[rows], where=(mask[rows] <= 0.0)[..., None])

    for_each_band(rgba.shape[0], convert)
    return out


def rgba_to_bytes(rgba: np.ndarray, layout: str, original: bytes | None = None,
                  mask: np.ndarray | None = None, transfer: str = SRGB) -> bytes:
    """rgba_to_samples as the raw bytes an editor takes."""
    return rgba_to_samples(rgba, layout, original, mask, transfer).tobytes()


def layout_bit_depth(layout: str) -> int:
    """The output bit depth a budget must hold at, for a layout."""
    sample = parse_layout(layout)[1]
    return 8 * sample.itemsize if sample.kind == "u" else 32
