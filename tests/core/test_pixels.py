import numpy as np
import pytest

from omamori.errors import InputError
from omamori.pixels import bytes_to_rgba, layout_bit_depth, linear_to_srgb, rgba_to_bytes, srgb_to_linear


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


def hdr_samples(dtype) -> np.ndarray:
    """A (2, 3, 4) picture in `dtype`, with values a float layout can hold outside [0, 1]."""
    if np.issubdtype(dtype, np.integer):
        return np.arange(24, dtype=np.int64).reshape(2, 3, 4).astype(dtype) * (np.iinfo(dtype).max // 23)
    samples = np.linspace(-0.3, 2.5, 24, dtype=np.float32).reshape(2, 3, 4)
    samples[0, 0] = [2.5, -0.3, np.nan, 4.0]
    samples[1, 2] = [-0.0, np.inf, 1e4, -np.inf]
    return samples.astype(dtype)


@pytest.mark.parametrize("layout,dtype", [("RGBA8", np.uint8), ("BGRA16", np.uint16), ("RGBAF16", np.float16),
                                          ("BGRAF32", np.float32), ("RGBAF32", np.float32)])
def test_pixels_outside_the_selection_come_back_bit_identical(layout, dtype):
    original = hdr_samples(dtype).tobytes()
    filtered = np.full((2, 3, 4), 0.5, np.float32)
    mask = np.zeros((2, 3), np.float32)
    mask[:, 0] = 1.0
    out = np.frombuffer(rgba_to_bytes(filtered, layout, original, mask), dtype).reshape(2, 3, 4)
    assert out[:, 1:].tobytes() == hdr_samples(dtype)[:, 1:].tobytes()
    assert out[:, 0].tobytes() == rgba_to_bytes(filtered[:, :1], layout)  # the selected column is filtered


def test_a_feathered_edge_fades_from_the_filtered_value_to_the_hdr_original():
    original = np.array([[[2.5, -0.3, 0.25, 1.0]] * 3], np.float32)
    filtered = np.full((1, 3, 4), 0.5, np.float32)
    mask = np.array([[1.0, 0.5, 0.25]], np.float32)
    out = np.frombuffer(rgba_to_bytes(filtered, "RGBAF32", original.tobytes(), mask), np.float32).reshape(1, 3, 4)
    np.testing.assert_allclose(out[0, 0], [0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(out[0, 1], [0.5 + 0.5 * 1.5, 0.5 - 0.5 * 0.3, 0.5, 0.5])
    np.testing.assert_allclose(out[0, 2], [0.5 + 0.75 * 1.5, 0.5 - 0.75 * 0.3, 0.5, 0.5])


def test_float_layouts_are_clipped_without_a_selection_and_nan_becomes_zero():
    """No selection: the whole layer is the filters' domain, [0, 1]."""
    samples = np.array([[[2.5, -0.3, np.nan, 0.25]]], np.float32)
    rgba = bytes_to_rgba(samples.tobytes(), 1, 1, "RGBAF32")
    np.testing.assert_array_equal(rgba[0, 0], [1.0, 0.0, 0.0, 0.25])
    assert rgba_to_bytes(rgba, "RGBAF32") == np.array([1.0, 0.0, 0.0, 0.25], np.float32).tobytes()


# --- linear light (Krita's float default): the filters see sRGB-encoded values ----------------

def test_the_srgb_curve_and_its_inverse():
    linear = np.array([0.0, 0.0031308, 0.2140411, 0.5, 1.0], np.float32)
    encoded = np.array([0.0, 0.04045, 0.5, 0.7353570, 1.0], np.float32)
    np.testing.assert_allclose(linear_to_srgb(linear.copy()), encoded, atol=2e-6)
    np.testing.assert_allclose(srgb_to_linear(encoded.copy()), linear, atol=2e-6)
    ramp = np.linspace(0, 1, 4097, dtype=np.float32)
    np.testing.assert_allclose(srgb_to_linear(linear_to_srgb(ramp.copy())), ramp, atol=2e-6)


def test_linear_samples_are_read_encoded_and_written_back_linear():
    samples = np.array([[[0.2140411, 0.0031308, 1.0, 0.25]]], np.float32)
    rgba = bytes_to_rgba(samples.tobytes(), 1, 1, "RGBAF32", "linear")
    np.testing.assert_allclose(rgba[0, 0], [0.5, 0.04045, 1.0, 0.25], atol=2e-6)  # alpha is not light
    back = np.frombuffer(rgba_to_bytes(rgba, "RGBAF32", transfer="linear"), np.float32)
    np.testing.assert_allclose(back, samples.ravel(), atol=2e-6)


def test_a_linear_layer_keeps_hdr_values_outside_the_selection_and_their_share_on_the_edge():
    original = np.array([[[2.5, -0.3, 0.25, 1.0]] * 3], np.float32)
    filtered = np.full((1, 3, 4), 0.5, np.float32)  # sRGB-encoded: 0.2140411 in linear light
    mask = np.array([[1.0, 0.5, 0.0]], np.float32)
    out = np.frombuffer(rgba_to_bytes(filtered, "RGBAF32", original.tobytes(), mask, "linear"),
                        np.float32).reshape(1, 3, 4)
    light = 0.2140411
    np.testing.assert_allclose(out[0, 0], [light, light, light, 0.5], atol=2e-6)
    np.testing.assert_allclose(out[0, 1], [light + 0.5 * 1.5, light - 0.5 * 0.3, light, 0.5], atol=2e-6)
    assert out[0, 2].tobytes() == original[0, 2].tobytes()


def test_an_unknown_transfer_is_a_clear_error():
    with pytest.raises(InputError, match="unknown transfer 'gamma'") as info:
        bytes_to_rgba(b"\0" * 4, 1, 1, "RGBA8", "gamma")
    assert "伝達特性" in info.value.message("ja")
