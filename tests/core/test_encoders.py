"""The PNG writer: lossless for every sample type, one valid zlib stream across bands, chunks after IHDR."""

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from omamori import containers, encoders
from omamori.imageio import load


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_round_trip_is_lossless(tmp_path, monkeypatch, channels, dtype):
    monkeypatch.setattr(encoders, "BAND_BYTES", 1000)  # many bands, so joining them is exercised
    rng = np.random.default_rng(channels)
    top = np.iinfo(dtype).max
    samples = rng.integers(0, top + 1, (61, 37, channels)).astype(dtype)
    samples[:30] //= 5  # a smoother half, where sub and up filters win
    path = tmp_path / "x.png"
    path.write_bytes(encoders.png(samples))
    picture = load(path)
    assert picture.bit_depth == 8 * np.dtype(dtype).itemsize
    expected = samples.astype(np.float32) / top
    got = picture.pixels if channels == 4 else picture.pixels[..., :3]
    assert np.abs(got - expected).max() < 0.5 / top


def test_bands_form_one_zlib_stream_with_the_right_checksum(monkeypatch):
    monkeypatch.setattr(encoders, "BAND_BYTES", 4096)
    samples = np.random.default_rng(0).integers(0, 256, (200, 90, 3)).astype(np.uint8)
    data = encoders.png(samples)
    idat = b"".join(c.body for c in containers.png_chunks(data) if c.kind == b"IDAT")
    raw = zlib.decompress(idat)  # raises if the combined Adler-32 is wrong
    assert len(raw) == 200 * (90 * 3 + 1) and set(raw[:: 90 * 3 + 1]) <= {0, 1, 2}


def test_chunks_follow_ihdr_and_pillow_reads_them():
    data = encoders.png(np.zeros((2, 3, 3), np.uint8), [containers.itxt(b"Comment", "お守り".encode())])
    kinds = [c.kind for c in containers.png_chunks(data)]
    assert kinds == [b"IHDR", b"iTXt", b"IDAT", b"IEND"]
    assert Image.open(io.BytesIO(data)).text["Comment"] == "お守り"


def test_adler32_combine_matches_zlib():
    rng = np.random.default_rng(1)
    first, second = rng.bytes(70000), rng.bytes(12345)
    combined = encoders._adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(first + second)
