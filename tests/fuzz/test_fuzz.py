"""Property-based fuzzing of everything that reads untrusted bytes: the container
and metadata readers, the image loader and the preset parser. The one property:
hostile input gets Omamori's own one-line error (or a clean answer), never another
exception. Example counts come from conftest.py's profile."""

import io
import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from omamori import containers, imageio, metadata, presets
from omamori.errors import InputError, PresetError


def _seeds() -> list[bytes]:
    """Small valid files of every format, animations included, with metadata."""
    rng = np.random.default_rng(5)
    rgba = rng.integers(0, 256, (9, 11, 4), dtype=np.uint8)
    still = Image.fromarray(rgba)
    frames = [Image.fromarray(np.roll(rgba, i, axis=1)) for i in range(3)]
    exif = Image.Exif()
    exif[0x013B] = "Hana"
    xmp = metadata.build_xmp(metadata.OptOut(author="Hana"))
    out = []
    for fmt, image, options in (
            ("PNG", still, {"exif": exif}), ("JPEG", still.convert("RGB"), {"exif": exif, "xmp": xmp}),
            ("WEBP", still, {"exif": exif, "xmp": xmp}), ("TIFF", still, {}), ("GIF", still.convert("P"), {}),
            ("GIF", frames[0], {"save_all": True, "append_images": frames[1:], "duration": 40, "loop": 0}),
            ("PNG", frames[0], {"save_all": True, "append_images": frames[1:], "duration": 40}),
            ("WEBP", frames[0], {"save_all": True, "append_images": frames[1:], "duration": 40})):
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        out.append(buffer.getvalue())
    return out


SEEDS = _seeds()


@st.composite
def mutated(draw) -> bytes:
    """A seed file with a few bytes changed, a slice cut out or repeated, or truncated."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["byte", "cut", "repeat", "big-number"]))
        if kind == "byte":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "repeat":
            data[at:at] = data[at:at + draw(st.integers(1, 64))] * draw(st.integers(1, 8))
        else:  # lengths, sizes and offsets are where parsers trust the file
            data[at:at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\0\0\0\0"]))
        if not data:
            data = bytearray(b"\0")
    if draw(st.booleans()):
        data = data[:draw(st.integers(1, len(data)))]
    return bytes(data)


@given(mutated())
def test_image_loader_answers_in_its_own_words(data):
    try:
        picture = imageio.load("fuzz.bin", data)
    except InputError as err:
        assert "\n" not in err.message()
        return
    assert picture.pixels.dtype == np.float32 and picture.pixels.shape[2] == 4
    assert np.isfinite(picture.pixels).all() and 0 <= picture.pixels.min() and picture.pixels.max() <= 1


@given(st.one_of(mutated(), st.binary(max_size=2048)))
def test_metadata_readers_never_raise(data):
    found = metadata.read_optout("fuzz.bin", data)
    assert set(found) == {"found", "data_mining", "rights", "creator", "marked", "usage_terms",
                          "exif_artist", "exif_copyright"}


@given(st.binary(max_size=4096))
def test_xmp_parser_never_raises(packet):
    assert set(metadata.parse_xmp(b"<x:xmpmeta>" + packet)) >= {"data_mining", "rights"}


@given(st.one_of(mutated(), st.binary(max_size=2048)))
def test_container_walkers_raise_only_damaged(data):
    """Every kind of damage, data cut short included, is `Damaged` and nothing else."""
    for walk in (lambda d: list(containers.png_chunks(d)), lambda d: list(containers.jpeg_segments(d)),
                 lambda d: list(containers.riff_chunks(d)), containers.gif_frame_count,
                 containers.tiff_claimed_bytes, containers.png_without_bombs):
        try:
            walk(data)
        except containers.Damaged:
            pass


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20)
PRESET_KEYS = ("schema", "name", "label", "help", "seed", "steps", "export")


@given(st.dictionaries(st.sampled_from(PRESET_KEYS + ("extra",)), JSON_VALUES, max_size=7))
def test_preset_parser_answers_in_its_own_words(data):
    try:
        presets.load_preset(data).validate()
    except PresetError as err:
        assert "\n" not in err.message()


@given(st.one_of(st.binary(max_size=512), JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_preset_files_answer_in_their_own_words(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("presets") / "fuzz.json"
    path.write_bytes(raw)
    try:
        presets.load_preset(str(path)).validate()
    except PresetError as err:
        assert "fuzz.json" in err.message() and "\n" not in err.message()
