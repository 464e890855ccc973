"""`jobs.protect_file` (contract 4): one file in, one result out, never an exception."""

import numpy as np
import pytest
from PIL import Image

from omamori import export, imageio, jobs


@pytest.fixture
def art(tmp_path):
    path = tmp_path / "art.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def noise():
    return jobs.single_filter_preset("noise", {})


def test_unexpected_exception_is_one_line_with_the_traceback_kept(art, noise, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(jobs, "protect_pixels", broken)
    result = jobs.protect_file(art, noise)
    assert not result.ok and result.error == f"{art}: internal error (RuntimeError: boom); run with --debug for details."
    assert "Traceback" in result.debug and "second line" in result.debug
    assert "debug" not in result.as_dict()  # --json lines stay as they were


def test_out_of_memory_is_one_line(art, noise, monkeypatch):
    monkeypatch.setattr(jobs, "protect_pixels", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    result = jobs.protect_file(art, noise)
    assert not result.ok and "OMAMORI_MAX_MEGAPIXELS" in result.error and result.debug is None


def test_target_is_used_and_checked_before_any_pixel_work(art, noise, monkeypatch, tmp_path):
    chosen = tmp_path / "chosen name.png"
    result = jobs.protect_file(art, noise, target=chosen)
    assert result.ok and result.output == str(chosen) and imageio.load(chosen).pixels.shape == (20, 30, 4)
    monkeypatch.setattr(jobs, "protect_pixels", lambda *a, **k: pytest.fail("protected before checking the target"))
    again = jobs.protect_file(art, noise, target=chosen)
    assert not again.ok and "already exists" in again.error


def test_animation_into_a_still_format_keeps_the_first_frame_with_a_notice(tmp_path, noise):
    frames = [Image.new("RGB", (12, 8), (200, 10 * i, 10)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    preset = jobs.single_filter_preset("noise", {})
    preset.export.format = "JPEG"
    result = jobs.protect_file(tmp_path / "anim.gif", preset)
    assert result.ok and result.output.endswith("anim-protected.jpg")
    assert any("only the first of 3 frames" in n for n in result.notices)


def test_gif_output_carries_the_optout(tmp_path, noise):
    from omamori.metadata import read_optout

    Image.new("RGB", (12, 8), (20, 30, 40)).save(tmp_path / "a.gif")
    result = jobs.protect_file(tmp_path / "a.gif", noise)
    found = read_optout(result.output)
    assert found["found"] and found["data_mining"] == "DMI-PROHIBITED-AIMLTRAINING"
    assert export.format_of(result.output) == "GIF" and any("256 colours" in n for n in result.notices)


def test_gif_whose_frames_merge_into_one_is_protected(tmp_path):
    """Pillow merges identical GIF frames; with one frame left it used to fail on per-frame options."""
    # Two frames: a grey one, then a fully transparent one that leaves it showing (both decode the same).
    grey, clear = Image.new("P", (24, 16), 1), Image.new("P", (24, 16), 0)
    for frame in (grey, clear):
        frame.putpalette([0, 0, 0, 90, 90, 90] + [0] * 762)
    path = tmp_path / "twice.gif"
    grey.save(path, save_all=True, append_images=[clear], duration=[100, 100], disposal=1, transparency=0)
    assert Image.open(path).n_frames == 2
    result = jobs.protect_file(path, jobs.single_filter_preset("notice", {}))
    assert result.ok, result.error
    assert Image.open(result.output).size == (24, 16)


def test_every_failure_names_its_file(tmp_path, noise):
    path = tmp_path / "plain.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    result = jobs.protect_file(path, noise)
    assert not result.ok and result.error.startswith(f"{path}: ")


def test_a_preset_with_a_posting_profile_writes_the_profile_format(art, tmp_path):
    """README: profiles set formats. A hand-written preset naming `x` but no format wrote PNG, which X
    re-encodes itself; the profile's JPEG is written now, in one file and in a batch alike."""
    from omamori import batch

    preset = jobs.single_filter_preset("noise", {})
    preset.export.profile = "x"
    for folder in ("one", "own"):
        (tmp_path / folder).mkdir()
    result = jobs.protect_file(art, preset, out_dir=tmp_path / "one")
    assert result.ok and result.output.endswith("art-protected.jpg"), result
    assert Image.open(result.output).format == "JPEG"
    [batched] = batch.protect_paths([art], preset, tmp_path / "many", jobs=1)
    assert batched.ok and batched.output.endswith("art-protected.jpg"), batched
    preset.export.format = "WEBP"  # the preset's own choice still wins
    assert jobs.protect_file(art, preset, out_dir=tmp_path / "own").output.endswith("art-protected.webp")
