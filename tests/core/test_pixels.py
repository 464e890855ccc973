import numpy as np
import pytest

from omamori.errors import InputError
from omamori.pixels import bytes_to_rgba, layout_bit_depth, rgba_to_bytes


@pytest.mark.parametrize("layout,dtype", [("RGBA8", np.uint8), ("BGRA8", np.uint8), ("RGBA16", np.uint16),
                                          ("BGRA16", np.uint16), ("RGBAF32", np.float32), ("BGRAF16", np.float16)])
def test_layouts_round_trip(layout, dtype):
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        samples = rng.integers(0, np.iinfo(dtype).max + 1, (3, 5, 4)).astype(dtype)
    else:
        samples = rng.random((3, 5, 4)).astype(dtype)
    rgba = bytes_to_rgba(samples.tobytes(), 5, 3, layout)
    assert rgba.dtype == np.float32 and rgba.shape == (3, 5, 4)
    assert rgba_to_bytes(rgba, layout) == samples.tobytes()


def test_bgra_is_swapped_to_rgba():
    rgba = bytes_to_rgba(bytes([10, 20, 30, 40]), 1, 1, "BGRA8")
    np.testing.assert_allclose(rgba[0, 0] * 255, [30, 20, 10, 40], atol=1e-4)


def test_wrong_sizes_and_layouts_are_clear_errors():
    with pytest.raises(InputError, match="expected 16"):
        bytes_to_rgba(b"\0" * 15, 2, 2, "RGBA8")
    with pytest.raises(InputError, match="unknown pixel layout"):
        bytes_to_rgba(b"", 0, 0, "ARGB8")


def test_bit_depths():
    assert layout_bit_depth("BGRA8") == 8 and layout_bit_depth("RGBA16") == 16 and layout_bit_depth("RGBAF16") == 32
