"""The targets the style and poison cloaks pull towards (numpy only)."""

import numpy as np
import pytest

from omamori.cloak_targets import (STYLES, brick_wall, brick_wall_planes, pick_style, poison_target, style_signature,
                                   style_target)


def flat_drawing(h=96, w=128):
    """A flat-colour drawing: two colour fields and a dark outline."""
    img = np.full((h, w, 3), (0.9, 0.8, 0.3), np.float32)
    y, x = np.mgrid[:h, :w]
    disc = (y - h / 2) ** 2 + (x - w / 2) ** 2 < (h / 3) ** 2
    img[disc] = (0.2, 0.5, 0.9)
    ring = np.abs(np.sqrt((y - h / 2) ** 2 + (x - w / 2) ** 2) - h / 3) < 1.5
    img[ring] = 0.05
    return img


def test_style_target_shape_range_and_distance():
    img = flat_drawing()
    target = style_target(img)
    assert target.shape == img.shape and target.dtype == np.float32
    assert 0 <= target.min() and target.max() <= 1
    own = style_signature(img)
    chosen = np.linalg.norm(style_signature(target) - own)
    others = [np.linalg.norm(style_signature(f(img)) - own) for f in STYLES.values()]
    assert chosen == pytest.approx(max(others)), "the farthest named style is chosen"


def test_style_choice_is_position_free():
    img = flat_drawing()
    assert pick_style(img) == pick_style(img[:, ::-1]) == pick_style(np.roll(img, 17, axis=1))


def test_poison_target_is_the_same_wall_at_any_size():
    small, big = poison_target(40, 60), poison_target(100, 130)
    assert small.shape == (40, 60, 3) and small.dtype == np.float32
    assert np.array_equal(small, big[:40, :60])
    assert 0 <= big.min() and big.max() <= 1 and big.std() > 0.05


def test_a_window_of_the_wall_is_the_same_as_the_crop_of_the_whole_in_either_layout():
    whole = poison_target(300, 200)
    for top, left, h, w in ((0, 0, 300, 200), (45, 91, 100, 77), (31, 63, 1, 1), (200, 3, 97, 150)):
        window = brick_wall(h, w, top, left)  # bands of rows start at the window's top, not the wall's
        assert window.flags.c_contiguous and np.array_equal(window, whole[top:top + h, left:left + w])
        assert np.array_equal(brick_wall_planes(h, w, top, left), window.transpose(2, 0, 1))
