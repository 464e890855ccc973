"""Helpers for the built-in filter tests: run a filter the way the pipeline does, and
check the contract every filter keeps (identity at 0, new array, alpha, range, seed),
and make small synthetic pictures.

Imported by the tests as `filterkit` (pytest puts this folder on sys.path)."""

import io

import numpy as np
import pytest
from PIL import Image

from omamori.errors import ParamError
from omamori.filters import stamp
from omamori.filters.base import Context
from omamori.params import resolve
from omamori.registry import get_registry


def run(name, rgba, seed=0, **params):
    """Applies filter `name` to a read-only view of `rgba`, as the pipeline does."""
    filt = get_registry().get(name)
    view = rgba.view()
    view.flags.writeable = False
    before = rgba.copy()
    out = filt.apply(view, resolve(filt.params, params), Context(seed=seed))
    assert np.array_equal(rgba, before), "the filter wrote into its input"
    assert out is not rgba and not np.shares_memory(out, rgba), "the filter must return a new array"
    assert out.dtype == np.float32 and out.ndim == 3 and out.shape[2] == 4
    return out


def check_contract(name, rgba, zero, active):
    """`zero`: settings that must be the identity; `active`: settings that change the image."""
    assert np.array_equal(run(name, rgba, **zero), rgba)
    first = run(name, rgba, seed=3, **active)
    assert not np.array_equal(first, rgba), "active settings left the image unchanged"
    assert np.array_equal(first, run(name, rgba, seed=3, **active)), "not deterministic for a seed"
    assert np.isfinite(first).all() and first.min() >= 0.0 and first.max() <= 1.0
    if not get_registry().get(name).changes_alpha:
        assert np.array_equal(first[..., 3], rgba[..., 3]), "alpha changed"
    return first


def check_declarations(name):
    """English and Japanese label and help on the filter and every parameter; defaults valid."""
    filt = get_registry().get(name)
    assert filt.name == name
    for text in [filt.label, filt.help] + [t for p in filt.params for t in (p.label, p.help)]:
        assert text.en.strip() and text.ja.strip() and text.en != text.ja
    for param in filt.params:
        assert param.coerce(param.default) == param.default
        if param.type == "choice":
            assert len(param.choice_labels) == len(param.choices)


def check_rejects(name, **bad):
    filt = get_registry().get(name)
    for key, value in bad.items():
        with pytest.raises(ParamError) as err:
            resolve(filt.params, {key: value})
        assert key in str(err.value)

def painting():
    """A 192×256 opaque synthetic 'painting': gradients, flat shapes, soft strokes, grain."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:192, 0:256].astype(np.float32)
    img = np.zeros((192, 256, 4), np.float32)
    img[..., 0] = 0.2 + 0.6 * x / 255
    img[..., 1] = 0.3 + 0.4 * np.sin(y / 19) ** 2
    img[..., 2] = 0.5 + 0.3 * np.cos((x + y) / 37)
    img[40:120, 60:150, :3] = (0.85, 0.8, 0.7)  # a flat light shape
    img[100:170, 150:230, :3] = (0.1, 0.12, 0.2)  # a flat dark shape
    img[..., :3] += rng.normal(0, 0.01, (192, 256, 3)).astype(np.float32)
    img[..., 3] = 1.0
    return np.clip(img, 0, 1).astype(np.float32)


def cutout():
    """The painting with a soft alpha: transparent left edge, opaque right."""
    img = painting()
    img[..., 3] = np.clip(np.linspace(-0.5, 1.5, 256, dtype=np.float32), 0, 1)[None, :]
    return img


def jpeg_attack(rgba, quality=75, scale=1.0):
    """What posting does: 8-bit RGB, optionally a Lanczos downscale, then JPEG at `quality`."""
    image = Image.fromarray(np.rint(np.clip(rgba[..., :3], 0, 1) * 255).astype(np.uint8))
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    back = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), np.float32) / 255
    return np.dstack([back, np.ones(back.shape[:2], np.float32)])


def flatten(rgba, background=(1.0, 1.0, 1.0)):
    """The picture composited on an opaque `background`, as a JPEG export or a platform shows it."""
    flat = rgba.copy()
    flat[..., :3] = rgba[..., :3] * rgba[..., 3:] + np.float32(background) * (1 - rgba[..., 3:])
    flat[..., 3] = 1.0
    return flat


# ---- reading the invisible author mark (tests and the stamp benchmark) ------------

def read_stamp(rgba):
    """The author id hidden by `stamp`, or None when there is none (or too damaged)."""
    payload, confidence = stamp.decode(rgba)
    return payload if confidence >= stamp.MIN_CONFIDENCE else None


def slot_votes(rgba):
    """Soft vote per slot in [-1, 1]: +1 means a clear 0 bit, -1 a clear 1 bit."""
    return stamp._votes(stamp._to_grid(stamp._seen_luma(rgba)))


def expected_slot_bits(author_id):
    """The bit each slot carries for `author_id` (for measuring raw bit accuracy)."""
    return stamp._encode(author_id)[stamp._bit_of_slot()]
