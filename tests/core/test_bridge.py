"""The editor bridge: the stdlib client drives a real worker process in this environment."""

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from omamori import installers
from omamori.bridge import worker
from omamori.bridge.client import Bridge, BridgeError, Cancelled
from omamori.pixels import bytes_to_rgba, rgba_to_bytes

NOISE = {"schema": 1, "name": "n", "steps": [{"filter": "noise", "params": {"amount": 8, "seed": 1}}]}


@pytest.fixture
def bridge():
    return Bridge(sys.executable, editor="gimp")


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


def test_a_linear_layer_is_filtered_in_srgb_and_comes_back_linear(bridge, rgba):
    """8 levels of checker noise on linear light are 8 sRGB levels, not 8 linear ones."""
    h, w = rgba.shape[:2]
    encoded = rgba_to_bytes(rgba, "RGBAF32")
    linear = rgba_to_bytes(bytes_to_rgba(encoded, w, h, "RGBAF32"), "RGBAF32", transfer="linear")
    checker = {"schema": 1, "name": "c", "steps": [{"filter": "noise", "params": {"kind": "checker", "amount": 8}}]}
    out = bridge.process(linear, w, h, "RGBAF32", checker, transfer="linear")
    seen = bytes_to_rgba(out, w, h, "RGBAF32", "linear")
    want = bytes_to_rgba(bridge.process(encoded, w, h, "RGBAF32", checker), w, h, "RGBAF32")
    np.testing.assert_allclose(seen, want, atol=1e-5)
    with pytest.raises(BridgeError, match="unknown transfer") as info:
        bridge.process(linear, w, h, "RGBAF32", checker, transfer="gamma")
    assert "\n" not in str(info.value)


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
        Bridge(str(tmp_path / "gone" / "python"), editor="krita").describe()
    with pytest.raises(BridgeError, match="omamori install gimp"):
        Bridge.from_folder(str(tmp_path), editor="gimp")


def test_environment_without_omamori_says_how_to_fix(tmp_path):
    """A Python that lacks the package: the message names the pip command, not a traceback."""
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -I -S \"$@\"\n")
    fake.chmod(0o755)
    with pytest.raises(BridgeError, match="pip install omamori"):
        Bridge(str(fake), editor="gimp").describe()


def test_layers_keep_their_size_under_a_posting_preset(bridge, rgba):
    """A posting profile caps the size; a layer processed in place cannot change size."""
    h, w = rgba.shape[:2]
    preset = {"schema": 1, "name": "cap", "steps": [{"filter": "resize", "params": {"max_long_edge": 16}},
                                                    {"filter": "noise", "params": {"amount": 4}}]}
    out = bridge.process(rgba_to_bytes(rgba, "RGBA8"), w, h, "RGBA8", preset)
    assert len(out) == w * h * 4


def test_export_never_replaces_a_file_unless_asked(bridge, rgba, tmp_path):
    h, w = rgba.shape[:2]
    target = tmp_path / "post.png"
    target.write_bytes(b"the artist's own file")
    with pytest.raises(BridgeError, match="post.png"):
        bridge.export(rgba_to_bytes(rgba, "RGBA8"), w, h, "RGBA8", NOISE, str(target))
    assert target.read_bytes() == b"the artist's own file"
    bridge.export(rgba_to_bytes(rgba, "RGBA8"), w, h, "RGBA8", NOISE, str(target), overwrite=True)
    assert target.read_bytes().startswith(b"\x89PNG")


def test_the_worker_is_isolated_from_the_editors_folder_and_variables(bridge, tmp_path, monkeypatch):
    """A folder holding a module named like Omamori's (or the editor's PYTHONPATH) must not replace it."""
    planted = tmp_path / "editor-folder" / "omamori"
    planted.mkdir(parents=True)
    marker = tmp_path / "planted-ran"
    (planted / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.chdir(planted.parent)
    monkeypatch.setenv("PYTHONPATH", str(planted.parent))
    assert "standard" in {p["name"] for p in bridge.describe()["presets"]}
    assert not marker.exists()
    command = bridge.command("JOB")
    assert command[1] == "-I" and command[-3:] == ["-m", "omamori.bridge.worker", "JOB"]


def test_a_user_site_install_keeps_the_user_site_but_not_the_variables(tmp_path, monkeypatch):
    monkeypatch.setattr(installers, "in_user_site", lambda: True)
    installers.wire_bridge(tmp_path)
    config = json.loads((tmp_path / "omamori.json").read_text())
    assert config["isolated"] is False and config["python"] == sys.executable
    assert Bridge.from_folder(str(tmp_path), "gimp").command("JOB")[1] == "-E"
    assert (tmp_path / "omamori_hostkit.py").read_text().startswith('"""The host kit')


def fake_check_pixels(calls):
    def check_pixels(rgba, preset, *, bit_depth=8, mask=None, report_path=None, progress=None, cancel=None):
        calls.append((rgba.shape, preset.name, bit_depth, None if mask is None else float(mask.mean())))
        progress(0.5, "measuring")
        report_path.write_bytes(b"\x89PNG fake report")
        return {"verdict": "protected", "latent": {"r": 0.4}, "report": str(report_path)}
    return check_pixels


def test_the_check_operation_measures_a_protected_copy(rgba, tmp_path, monkeypatch, capsys):
    """Contract 2, in the worker's own process: evaluate.check_pixels (contract 1) is faked here."""
    calls = []
    monkeypatch.setattr("omamori.evaluate.check_pixels", fake_check_pixels(calls), raising=False)
    h, w = rgba.shape[:2]
    data = rgba_to_bytes(rgba, "BGRA16")
    mask = np.full((h, w), 255, np.uint8)
    mask[:, : w // 2] = 0
    Bridge._write_request(str(tmp_path), "check", {"width": w, "height": h, "layout": "BGRA16",
                                                   "preset": "standard"}, data, mask.tobytes())
    assert worker.main(["worker", str(tmp_path)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"progress": 0.5, "message": "measuring"}
    answer = lines[-1]["result"]
    assert answer["result"]["verdict"] == "protected" and answer["report_png"] == str(tmp_path / "report.png")
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")
    assert calls == [((h, w, 4), "standard", 16, pytest.approx(0.5, abs=0.02))]
    assert (tmp_path / "input.raw").read_bytes() == data  # the editor's pixels are not touched


def test_the_client_keeps_the_report_picture_after_the_job_folder_is_gone(rgba, tmp_path):
    """The client side of "check", against a stand-in worker that answers as contract 2 says."""
    fake = tmp_path / "python"
    fake.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import json, os, sys
        folder = sys.argv[-1]
        request = json.load(open(os.path.join(folder, "request.json")))
        open(os.path.join(folder, "report.png"), "wb").write(b"PNG " + request["op"].encode())
        print(json.dumps({{"result": {{"result": {{"verdict": "ok"}}, "report_png": os.path.join(folder, "report.png")}}}}))
        """))
    fake.chmod(0o755)
    h, w = rgba.shape[:2]
    answer = Bridge(str(fake), editor="krita").check(rgba_to_bytes(rgba, "RGBA8"), w, h, "RGBA8", "standard")
    try:
        assert answer["result"] == {"verdict": "ok"}
        with open(answer["report_png"], "rb") as handle:
            assert handle.read() == b"PNG check"
        assert "omamori-job-" not in answer["report_png"]
    finally:
        os.unlink(answer["report_png"])


@pytest.mark.parametrize("layout,dtype", [("RGBA8", np.uint8), ("BGRA16", np.uint16), ("RGBAF16", np.float16),
                                          ("RGBAF32", np.float32), ("BGRAF32", np.float32)])
def test_nothing_outside_the_selection_is_lost(bridge, rgba, layout, dtype):
    """HDR and linear values (above 1, below 0) outside the selection come back bit-identical."""
    h, w = rgba.shape[:2]
    samples = np.frombuffer(rgba_to_bytes(rgba, layout), dtype).reshape(h, w, 4).copy()
    if samples.dtype.kind == "f":
        samples[::3, ::5, 0], samples[1::4, ::3, 1], samples[5, 7, 2] = 2.5, -0.3, np.nan
    mask = np.zeros((h, w), np.uint8)
    mask[:, : w // 2] = 255
    out = bridge.process(samples.tobytes(), w, h, layout, NOISE, mask=mask.tobytes())
    out = np.frombuffer(out, dtype).reshape(h, w, 4)
    assert out[:, w // 2:].tobytes() == samples[:, w // 2:].tobytes()
    assert out[:, : w // 2].tobytes() != samples[:, : w // 2].tobytes()


def test_a_partly_selected_hdr_pixel_keeps_its_share_of_the_original(bridge, rgba):
    h, w = rgba.shape[:2]
    samples = np.full((h, w, 4), 2.5, np.float32)
    mask = np.full((h, w), 128, np.uint8)
    out = bridge.process(samples.tobytes(), w, h, "RGBAF32", NOISE, mask=mask.tobytes())
    out = np.frombuffer(out, np.float32)
    np.testing.assert_allclose(out.reshape(h, w, 4)[..., 3], 1.0 + 127 / 255 * 1.5, rtol=1e-6)  # alpha: no noise
    np.testing.assert_allclose(out, 1.0 + 127 / 255 * 1.5, atol=0.1)


def test_a_worker_whose_editor_is_gone_removes_its_job_folder(tmp_path, rgba):
    """GIMP kills a cancelled plug-in: the worker finds its output pipe closed and must not leave
    the job folder (a raw copy of the layer) behind."""
    folder = tmp_path / "omamori-job-x"
    folder.mkdir()
    h, w = rgba.shape[:2]
    (folder / "request.json").write_text(json.dumps({"op": "process", "args": {
        "width": w, "height": h, "layout": "RGBA8", "preset": NOISE}}))
    (folder / "input.raw").write_bytes(rgba_to_bytes(rgba, "RGBA8"))
    process = subprocess.Popen([sys.executable, "-m", "omamori.bridge.worker", str(folder)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the editor is gone before the first progress line
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 1 and not folder.exists()
    assert b"Traceback" not in stderr
