"""The editor bridge: the stdlib client drives a real worker process in this environment."""

import sys
import time

import numpy as np
import pytest

from omamori.bridge.client import Bridge, BridgeError, Cancelled
from omamori.pixels import bytes_to_rgba, rgba_to_bytes

NOISE = {"schema": 1, "name": "n", "steps": [{"filter": "noise", "params": {"amount": 8, "seed": 1}}]}


@pytest.fixture
def bridge():
    return Bridge(sys.executable, host="gimp")


def test_describe_lists_filters_presets_and_profiles(bridge):
    described = bridge.describe()
    names = {f["name"] for f in described["filters"]}
    assert {"noise", "notice", "stamp"} <= names
    assert "standard" in {p["name"] for p in described["presets"]}
    assert "x" in {p["name"] for p in described["profiles"]}


@pytest.mark.parametrize("layout", ["BGRA8", "RGBA16", "RGBAF32"])
def test_process_returns_the_same_layout(bridge, rgba, layout):
    h, w = rgba.shape[:2]
    out = bridge.process(rgba_to_bytes(rgba, layout), w, h, layout, NOISE)
    back = bytes_to_rgba(out, w, h, layout)
    delta = np.abs(back - bytes_to_rgba(rgba_to_bytes(rgba, layout), w, h, layout))
    assert 0 < delta[..., :3].max() and np.all(delta[..., 3] == 0)


def test_mask_keeps_unselected_pixels(bridge, rgba):
    h, w = rgba.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    mask[:, : w // 2] = 255
    data = rgba_to_bytes(rgba, "RGBA8")
    out = np.frombuffer(bridge.process(data, w, h, "RGBA8", NOISE, mask=mask.tobytes()), np.uint8)
    src = np.frombuffer(data, np.uint8)
    out, src = out.reshape(h, w, 4), src.reshape(h, w, 4)
    assert np.array_equal(out[:, w // 2:], src[:, w // 2:]) and not np.array_equal(out[:, : w // 2], src[:, : w // 2])


def test_progress_reaches_the_editor(bridge, rgba):
    seen = []
    h, w = rgba.shape[:2]
    bridge.process(rgba_to_bytes(rgba, "RGBA8"), w, h, "RGBA8", NOISE, on_progress=lambda f, m: seen.append(f))
    assert seen and seen[-1] == 1.0


def test_cancel_stops_the_worker(bridge, rgba):
    h, w = rgba.shape[:2]
    start = time.monotonic()
    with pytest.raises(Cancelled):
        bridge.process(rgba_to_bytes(rgba, "RGBA8"), w, h, "RGBA8", NOISE, should_cancel=lambda: True)
    assert time.monotonic() - start < 10


def test_core_errors_arrive_as_one_line(bridge, rgba):
    h, w = rgba.shape[:2]
    with pytest.raises(BridgeError) as info:
        bridge.process(rgba_to_bytes(rgba, "RGBA8"), w, h, "RGBA8", "no-such-preset")
    assert "unknown preset" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(BridgeError, match="expected"):
        bridge.process(b"\0" * 10, w, h, "RGBA8", NOISE)


def test_export_writes_a_file_with_a_checklist(bridge, rgba, tmp_path):
    h, w = rgba.shape[:2]
    target = tmp_path / "post.jpg"
    preset = dict(NOISE, export={"profile": "x", "format": "jpeg"})
    result = bridge.export(rgba_to_bytes(rgba, "RGBA8"), w, h, "RGBA8", preset, str(target))
    assert result["output"] == str(target) and target.stat().st_size > 0
    assert any("Grok" in line for line in result["checklist"])


def test_missing_environment_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("OMAMORI_LANG", "ja")
    with pytest.raises(BridgeError, match="omamori install krita"):
        Bridge(str(tmp_path / "gone" / "python"), host="krita").describe()
    with pytest.raises(BridgeError, match="omamori install gimp"):
        Bridge.from_folder(str(tmp_path), host="gimp")


def test_environment_without_omamori_says_how_to_fix(tmp_path):
    """A Python that lacks the package: the message names the pip command, not a traceback."""
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -I -S \"$@\"\n")
    fake.chmod(0o755)
    with pytest.raises(BridgeError, match="pip install omamori"):
        Bridge(str(fake), host="gimp").describe()


def test_layers_keep_their_size_under_a_posting_preset(bridge, rgba):
    """A posting profile caps the size; a layer processed in place cannot change size."""
    h, w = rgba.shape[:2]
    preset = {"schema": 1, "name": "cap", "steps": [{"filter": "resize", "params": {"max_long_edge": 16}},
                                                    {"filter": "noise", "params": {"amount": 4}}]}
    out = bridge.process(rgba_to_bytes(rgba, "RGBA8"), w, h, "RGBA8", preset)
    assert len(out) == w * h * 4
