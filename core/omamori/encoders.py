"""A fast lossless PNG writer: libpng's fast filter choice, zlib-ng level 2, compressed in parallel.

PNG is lossless at every compression level, so the level only trades bytes for time. Each band of rows
gets, per row, the filter (none, sub or up) with the smallest sum of absolute differences, as libpng's
fast filter set does, then deflate by zlib-ng (the maintained zlib successor, as the python-zlib-ng
package): its level 2 is faster than zlib's level 1 and writes smaller files (its level 1 is faster
still but a third larger). The bands are filtered and compressed on all cores and joined into one zlib
stream, as pigz does: every band but the last ends on a sync flush, so the deflate blocks simply follow
each other, and the Adler-32 checksums of the bands are combined. Measured in README "Speed" with
tests/benchmarks/bench_encoders.py."""

from __future__ import annotations

import struct
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from zlib_ng import zlib_ng

from .bands import workers
from .containers import PNG_SIGNATURE, Chunk, png_chunk

PNG_LEVEL = 2
BAND_BYTES = 4 << 20  # raw bytes per band: enough to keep a core busy, little memory per band in flight
_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # samples per pixel -> PNG colour type (grey, grey+alpha, RGB, RGBA)
_ADLER_BASE = 65521


def png(samples: np.ndarray, chunks: list[Chunk] = ()) -> bytes:
    """(H, W, C) uint8 or uint16 samples, C = 1-4 -> PNG bytes, with `chunks` right after IHDR."""
    h, w, c = samples.shape
    depth = 16 if samples.dtype == np.uint16 else 8
    ihdr = struct.pack(">IIBBBBB", w, h, depth, _COLOUR_TYPE[c], 0, 0, 0)
    row_bytes = w * c * depth // 8
    rows_per_band = max(1, BAND_BYTES // max(row_bytes, 1))
    starts = list(range(0, h, rows_per_band))
    with ThreadPoolExecutor(max_workers=min(len(starts), workers())) as pool:  # the batch's thread share
        bands = list(pool.map(lambda s: _compress_band(samples, s, rows_per_band, s + rows_per_band >= h),
                              starts))
    adler = 1
    for band_adler, length in ((a, n) for _, a, n in bands):
        adler = _adler32_combine(adler, band_adler, length)
    header = b"\x78\x5e"  # zlib header: deflate, 32 KiB window, a fast level
    stream = [header] + [data for data, _, _ in bands] + [struct.pack(">I", adler)]
    return b"".join([PNG_SIGNATURE, png_chunk(b"IHDR", ihdr), *(png_chunk(k.kind, k.body) for k in chunks),
                     png_chunk(b"IDAT", b"".join(stream)), png_chunk(b"IEND", b"")])


def _compress_band(samples: np.ndarray, start: int, rows: int, last: bool) -> tuple[bytes, int, int]:
    """(raw deflate data, Adler-32, length) of the filtered rows start..start+rows; the row above the
    band is read too, for the up filter."""
    above = samples[start - 1:start] if start else samples[:0]
    band = samples[start:start + rows]
    big_endian = ">u2" if samples.dtype == np.uint16 else np.uint8
    row_bytes = samples.shape[1] * samples.shape[2] * samples.itemsize
    as_bytes = [np.ascontiguousarray(a, dtype=big_endian).view(np.uint8).reshape(a.shape[0], row_bytes)
                for a in (above, band)]
    filtered = _filter_rows(as_bytes[1], as_bytes[0], samples.shape[2] * samples.itemsize)
    compressor = zlib_ng.compressobj(PNG_LEVEL, zlib_ng.DEFLATED, -15)  # raw deflate: one header for all bands
    end = zlib_ng.Z_FINISH if last else zlib_ng.Z_SYNC_FLUSH
    data = compressor.compress(filtered) + compressor.flush(end)
    return data, zlib_ng.adler32(filtered), filtered.size


def _filter_rows(rows: np.ndarray, above: np.ndarray, pixel_bytes: int) -> np.ndarray:
    """Each row prefixed by its filter type: none (0), sub (1) or up (2), whichever has the smallest sum
    of absolute differences (bytes read as signed), libpng's heuristic."""
    n, width = rows.shape
    none = np.empty((n, width + 1), np.uint8)
    none[:, 0], none[:, 1:] = 0, rows
    sub = np.empty_like(none)
    sub[:, 0], sub[:, 1:1 + pixel_bytes] = 1, rows[:, :pixel_bytes]
    np.subtract(rows[:, pixel_bytes:], rows[:, :-pixel_bytes], out=sub[:, 1 + pixel_bytes:])
    up = np.empty_like(none)
    up[:, 0] = 2
    np.subtract(rows[1:], rows[:-1], out=up[1:, 1:])
    if above.size:
        np.subtract(rows[0], above[0], out=up[0, 1:])
    else:  # the image's first row has no row above: up equals none there
        up[0, 1:] = rows[0]
    candidates = (none, sub, up)
    # |b| of a byte read as signed is min(b, 256 - b); uint8 negation wraps to 256 - b.
    scores = np.stack([np.minimum(f[:, 1:], np.negative(f[:, 1:])).sum(1, dtype=np.uint64) for f in candidates])
    best = scores.argmin(0)
    for kind in (1, 2):
        chosen = best == kind
        none[chosen] = candidates[kind][chosen]
    return none


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of two byte strings joined, from each one's checksum (zlib's adler32_combine)."""
    a1, b1 = first & 0xFFFF, first >> 16
    a2, b2 = second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _ADLER_BASE
    b = (b1 + b2 + second_length * (a1 - 1)) % _ADLER_BASE
    return (b << 16) | a
