"""Unit tests of the Krita adapter's logic, with a fake `krita` module (tests/fake_krita.py).

The plug-in's Qt modules (docker, extension, runner, __init__) are exercised in the real
Krita by tests/hosts/test_krita_real.py; here the package is loaded without running its
__init__ (which registers with Krita), so everything below runs without Krita or Qt.
"""

from __future__ import annotations

import configparser
import importlib
import importlib.util
import json
import os
import struct
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import pytest

import fake_krita

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "krita_plugin"
BRIDGE = REPO / "core" / "omamori" / "bridge"


def load_beside(name, path):
    """A module as `omamori install krita` puts it beside the package (omamori_krita.NAME)."""
    spec = importlib.util.spec_from_file_location(f"omamori_krita.{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class FakeBridge:
    """Records calls; `process` inverts colour bytes so results are easy to check."""

    def __init__(self, client, error=None):
        self.client, self.error = client, error
        self.calls = []

    def _work(self, on_progress, should_cancel):
        for step in range(4):
            if self.error:
                raise self.client.BridgeError(self.error)
            if should_cancel and should_cancel():
                raise self.client.Cancelled("Cancelled.")
            if on_progress:
                on_progress(step / 4, f"step {step}")

    def process(self, pixels, width, height, layout, preset, mask=None, transfer="srgb", on_progress=None,
                should_cancel=None):
        self.calls.append(("process", width, height, layout, preset, mask, transfer, pixels))
        self._work(on_progress, should_cancel)
        return bytes(255 - b for b in pixels)

    def export(self, pixels, width, height, layout, preset, path, overwrite=False, on_progress=None,
               should_cancel=None):
        self.calls.append(("export", width, height, layout, preset, path, pixels))
        self.overwrite = overwrite
        self._work(on_progress, should_cancel)
        return {"output": path, "checklist": ["X: turn off Grok training"], "notices": []}

    def check(self, pixels, width, height, layout, preset, mask=None, on_progress=None, should_cancel=None):
        """As the client answers "check": the evaluate dict and a report picture of its own."""
        self.calls.append(("check", width, height, layout, preset, mask, pixels))
        self._work(on_progress, should_cancel)
        handle, picture = tempfile.mkstemp(suffix=".png")
        os.write(handle, b"\x89PNG report")
        os.close(handle)
        return {"result": {"verdict": "well protected", "latent": {"r": 0.41}, "report": "/gone/report.png"},
                "report_png": picture}


@pytest.fixture
def kp(monkeypatch):
    """The plug-in package (without its Krita registration), a fake Krita and a fake bridge."""
    krita = fake_krita.module()
    monkeypatch.setitem(sys.modules, "krita", krita)
    for name in [n for n in sys.modules if n == "omamori_krita" or n.startswith("omamori_krita.")]:
        monkeypatch.delitem(sys.modules, name)
    package = types.ModuleType("omamori_krita")
    package.__path__ = [str(PLUGIN / "omamori_krita")]
    monkeypatch.setitem(sys.modules, "omamori_krita", package)
    for name in ("omamori_hostkit", "omamori_bridge"):  # restored by monkeypatch after the test
        monkeypatch.setitem(sys.modules, f"omamori_krita.{name}", None)
    hostkit = load_beside("omamori_hostkit", BRIDGE / "hostkit.py")
    client = load_beside("omamori_bridge", BRIDGE / "client.py")
    monkeypatch.setenv("OMAMORI_LANG", "en")
    ns = types.SimpleNamespace(krita=krita, app=krita.app, client=client, hostkit=hostkit)
    for name in ("api", "controls", "engine", "host", "jobs", "strings"):
        setattr(ns, name, importlib.import_module(f"omamori_krita.{name}"))
    ns.bridge = FakeBridge(client)
    ns.engine.set_bridge(ns.bridge)
    return ns


def document(kp, depth="U8", model="RGBA", width=4, height=3):
    doc = fake_krita.Document(width, height, depth, model)
    size = width * height * fake_krita.BPP[depth]
    doc.add_layer("Paint", bytes(i % 251 for i in range(size)))
    kp.app.document = doc
    return doc


# --- pixels between Krita and bytes ---------------------------------------------------

# Krita keeps integer RGBA as B,G,R,A and float RGBA as R,G,B,A (checked in the real Krita 5.2.9).
@pytest.mark.parametrize("depth,layout", [("U8", "BGRA8"), ("U16", "BGRA16"), ("F16", "RGBAF16"), ("F32", "RGBAF32")])
def test_every_rgba_depth_reaches_the_bridge_with_its_layout(kp, depth, layout):
    doc = document(kp, depth)
    original = bytes(doc.active.data)
    layer = kp.api.protect(doc, preset="standard", new_layer=True)
    call = kp.bridge.calls[0]
    assert call[1:5] == (4, 3, layout, "standard")
    assert bytes(layer.data) == bytes(255 - b for b in original)


@pytest.mark.parametrize("model", ["CMYKA", "GRAYA", "LABA", "XYZA"])
def test_unsupported_colour_models_are_refused_with_a_clear_message(kp, model):
    doc = document(kp, model=model)
    with pytest.raises(kp.strings.Problem) as caught:
        kp.api.protect(doc)
    assert model in caught.value.message("en") and "RGB" in caught.value.message("en")
    assert "RGB/Alpha" in caught.value.message("ja")
    assert kp.bridge.calls == [] and doc.undo_stack == []


# Names as Krita 5.2.9 lists them for RGBA (Krita.profiles); its float documents default to the first.
@pytest.mark.parametrize("profile,transfer", [
    ("sRGB-elle-V2-g10.icc", "linear"), ("Rec2020-elle-V4-g10.icc", "linear"), ("scRGB (linear)", "linear"),
    ("krita-2.5, lcms sRGB built-in with linear gamma TRC", "linear"), ("sRGB-elle-V2-srgbtrc.icc", "srgb"),
    ("sRGB built-in", "srgb"), ("ClayRGB-elle-V2-g22.icc", "srgb")])
def test_apply_tells_the_core_whether_the_layer_holds_linear_light(kp, profile, transfer):
    """The core then runs the filters on sRGB-encoded values and writes linear ones back; the layer's
    own bytes are sent (commit compares against them)."""
    doc = document(kp, "F32")
    doc._profile = profile
    original = bytes(doc.active.data)
    kp.api.protect(doc)
    assert kp.bridge.calls[0][6:] == (transfer, original)


def test_unknown_channel_depth_is_refused(kp):
    with pytest.raises(kp.strings.Problem, match="depth"):
        kp.host.layout_of("RGBA", "U32")


# --- apply: new layer, this layer, undo, selection, cancel ------------------------------

def test_apply_to_new_layer_adds_one_layer_above_in_one_undo_step(kp):
    doc = document(kp)
    original_node = doc.active
    original = bytes(original_node.data)
    layer = kp.api.protect(doc, preset="light", new_layer=True)
    assert doc.root.children == [original_node, layer]
    assert layer.name() == "Paint (Omamori)" and doc.activeNode() is layer
    assert bytes(original_node.data) == original           # the painting itself is untouched
    assert len(doc.undo_stack) == 1                          # one undo step...
    doc.undo()
    assert doc.root.children == [original_node]              # ...that restores the document


def test_apply_to_this_layer_replaces_pixels_and_undo_restores_the_original(kp):
    doc = document(kp)
    original_node = doc.active
    original = bytes(original_node.data)
    layer = kp.api.protect(doc, new_layer=False)
    assert doc.root.children == [layer] and layer.name() == "Paint"
    assert bytes(layer.data) == bytes(255 - b for b in original)
    assert bytes(original_node.data) == original  # kept intact for undo
    while doc.undo_stack:  # Krita's Python API cannot group commands: add + remove
        doc.undo()
    assert doc.root.children == [original_node] and bytes(original_node.data) == original


def test_selection_is_sent_to_the_core_as_a_mask(kp):
    doc = document(kp)
    mask = bytes([255, 255, 0, 0] * 3)
    doc.setSelection(fake_krita.Selection(mask))
    kp.api.protect(doc)
    assert kp.bridge.calls[0][5] == mask
    doc.setSelection(None)
    kp.api.protect(doc)
    assert kp.bridge.calls[1][5] is None


def test_cancel_leaves_the_document_as_it_was(kp):
    doc = document(kp)
    before = (list(doc.root.children), bytes(doc.active.data))
    with pytest.raises(kp.client.Cancelled):
        kp.api.protect(doc, should_cancel=lambda: len(kp.bridge.calls) > 0)
    assert (list(doc.root.children), bytes(doc.active.data)) == before and doc.undo_stack == []


def test_bridge_failure_leaves_the_document_and_says_why(kp):
    doc = document(kp)
    kp.bridge.error = "preset 'nope' not found"
    with pytest.raises(kp.client.BridgeError, match="nope"):
        kp.api.protect(doc, preset="nope")
    assert len(doc.root.children) == 1 and doc.undo_stack == []


def test_a_layer_removed_during_the_run_is_reported_and_nothing_is_written(kp):
    doc = document(kp)
    job = kp.jobs.prepare_protect(doc, "light", new_layer=True)
    kp.jobs.compute(job, kp.bridge)
    job.node.remove()  # the docker works in the background: the user may delete the layer meanwhile
    for new_layer in (True, False):
        job.new_layer = new_layer
        with pytest.raises(kp.strings.Problem, match="removed"):
            kp.jobs.commit(job)
    assert doc.root.children == [] and len(doc.undo_stack) == 1  # only the user's own removal


@pytest.mark.parametrize("new_layer", [True, False])
def test_a_layer_painted_on_during_the_run_is_kept_and_nothing_is_written(kp, new_layer):
    doc = document(kp)
    node = doc.active
    painted = bytes(255 - b for b in node.data[:4]) + bytes(node.data[4:])

    def paint(fraction, message):  # the docker works in the background: the artist keeps painting
        node.setPixelData(painted, 0, 0, doc.width(), doc.height())
    with pytest.raises(kp.strings.Problem, match="changed while Omamori worked") as problem:
        kp.api.protect(doc, new_layer=new_layer, on_progress=paint)
    assert doc.root.children == [node] and bytes(node.data) == painted and doc.undo_stack == []
    assert "Paint" in problem.value.message("en") and "もう一度" in problem.value.message("ja")


def test_a_canvas_resized_during_the_run_counts_as_a_change(kp):
    doc = document(kp)
    job = kp.jobs.prepare_protect(doc, "light", new_layer=False)
    kp.jobs.compute(job, kp.bridge)
    doc._w, doc._h = 3, 4  # same number of pixels, so only the size tells
    with pytest.raises(kp.strings.Problem, match="changed"):
        kp.jobs.commit(job)
    assert doc.root.children == [job.node] and doc.undo_stack == []


def test_progress_is_reported(kp):
    seen = []
    kp.api.protect(document(kp), on_progress=lambda f, m: seen.append((f, m)))
    assert seen[0] == (0.0, "step 0") and len(seen) == 4


def test_only_unlocked_paint_layers_are_written(kp):
    doc = document(kp)
    doc.active._type = "vectorlayer"
    with pytest.raises(kp.strings.Problem, match="paint layer"):
        kp.api.protect(doc)
    doc.active._type, doc.active._locked = "paintlayer", True
    with pytest.raises(kp.strings.Problem, match="locked"):
        kp.api.protect(doc)
    kp.app.document = None
    with pytest.raises(kp.strings.Problem, match="Open a document"):
        kp.host.active_document()


def test_a_wrong_sized_result_is_refused_before_touching_the_document(kp):
    doc = document(kp)
    kp.bridge.process = lambda *a, **k: b"\0" * 5
    with pytest.raises(kp.hostkit.UserError, match="5 bytes"):
        kp.api.protect(doc)
    assert doc.undo_stack == []


# --- export -------------------------------------------------------------------------------

def test_export_sends_the_flattened_image_and_leaves_the_document_unchanged(kp, tmp_path):
    doc = document(kp, "U16")
    doc.projection = b"\x07" * (4 * 3 * 8)
    before = bytes(doc.active.data)
    result = kp.api.export_protected(doc, tmp_path / "post.png", preset="x-twitter")
    op, w, h, layout, preset, path, pixels = kp.bridge.calls[0]
    assert (op, w, h, layout, preset, path, pixels) == (
        "export", 4, 3, "BGRA16", "x-twitter", str(tmp_path / "post.png"), doc.projection)
    assert result["checklist"] and bytes(doc.active.data) == before and doc.undo_stack == []


def test_export_of_a_linear_document_sends_srgb_pixels_from_a_converted_clone(kp, tmp_path):
    doc = document(kp, "F32")
    doc._profile = fake_krita.LINEAR  # Krita's default for float documents
    doc.projection = bytes(range(4 * 3 * 16))
    before = (bytes(doc.active.data), doc.projection)
    kp.api.export_protected(doc, tmp_path / "post.png")
    sent = kp.bridge.calls[0][6]
    assert sent == bytes(255 - b for b in before[1])  # the fake's conversion to sRGB
    assert [c.colorProfile() for c in doc.clones] == [fake_krita.SRGB] and doc.clones[0].closed
    assert (bytes(doc.active.data), doc.projection, doc.colorProfile()) == (*before, fake_krita.LINEAR)


def test_export_refuses_a_profile_krita_cannot_convert_to_srgb(kp, tmp_path):
    doc = document(kp, "F32")
    doc._profile = "Some-Camera-RGB.icc"  # the fake, like Krita, answers True and leaves it as it was
    with pytest.raises(kp.strings.Problem, match="Some-Camera-RGB.icc"):
        kp.api.export_protected(doc, tmp_path / "post.png")
    assert kp.bridge.calls == [] and doc.clones[0].closed


def test_export_replaces_a_file_only_when_asked(kp, tmp_path):
    doc = document(kp)
    kp.api.export_protected(doc, tmp_path / "post.png")
    assert kp.bridge.overwrite is False
    kp.api.export_protected(doc, tmp_path / "post.png", overwrite=True)
    assert kp.bridge.overwrite is True


# --- check ----------------------------------------------------------------------------------

def test_check_measures_the_picture_and_leaves_the_document_untouched(kp):
    doc = document(kp, "F16")
    doc.projection = b"\x01" * (4 * 3 * 8)
    mask = bytes([255, 0, 0, 0] * 3)
    doc.setSelection(fake_krita.Selection(mask))
    before = (list(doc.root.children), bytes(doc.active.data))
    seen = []
    report = kp.api.check(doc, preset="strong", on_progress=lambda f, m: seen.append(f))
    op, w, h, layout, preset, sent_mask, pixels = kp.bridge.calls[0]
    assert (op, w, h, layout, preset, sent_mask, pixels) == ("check", 4, 3, "RGBAF16", "strong", mask, doc.projection)
    assert report == {"verdict": "well protected", "latent": {"r": 0.41}}  # no path into the worker's folder
    assert (list(doc.root.children), bytes(doc.active.data)) == before and doc.undo_stack == [] and seen


def test_check_keeps_the_report_picture_where_asked_and_never_over_a_file(kp, tmp_path):
    doc = document(kp)
    target = tmp_path / "report.png"
    report = kp.api.check(doc, report_path=target)
    assert report["report"] == str(target) and target.read_bytes() == b"\x89PNG report"
    with pytest.raises(kp.strings.Problem, match="already exists"):
        kp.api.check(doc, report_path=target)
    assert target.read_bytes() == b"\x89PNG report" and sorted(p.name for p in tmp_path.iterdir()) == ["report.png"]


def test_check_leaves_no_temporary_picture_behind(kp, monkeypatch):
    pictures = []
    real_check = kp.bridge.check

    def check(*args, **kwargs):
        answer = real_check(*args, **kwargs)
        pictures.append(answer["report_png"])
        return answer
    monkeypatch.setattr(kp.bridge, "check", check)
    kp.api.check(document(kp))
    assert pictures and not os.path.exists(pictures[0])


def test_a_cancelled_check_changes_nothing(kp):
    doc = document(kp)
    with pytest.raises(kp.client.Cancelled):
        kp.api.check(doc, should_cancel=lambda: True)
    assert len(doc.root.children) == 1 and doc.undo_stack == []


def test_last_preset_is_remembered_for_the_protect_action(kp):
    doc = document(kp)
    assert kp.api.last_preset() == "standard"
    kp.api.protect(doc, preset="strong")
    assert kp.api.last_preset() == "strong"
    edited = {"name": "mine", "steps": [{"filter": "noise", "params": {"amount": 0.02}}]}
    kp.api.protect(doc, preset=edited)
    assert kp.api.last_preset() == edited
    kp.app.settings[("omamori", "last_preset")] = "{broken"
    assert kp.api.last_preset() == "standard"


# --- controls generated from the core's declarations -----------------------------------

FILTERS = {
    "noise": {"name": "noise", "label": {"en": "Noise", "ja": "ノイズ"}, "params": [
        {"name": "amount", "type": "float", "default": 0.03, "min": 0.0, "max": 0.2,
         "label": {"en": "Amount", "ja": "量"}, "help": {"en": "How strong", "ja": "強さ"}},
        {"name": "seed", "type": "int", "default": 0, "min": 0, "max": None,
         "label": {"en": "Seed", "ja": "シード"}, "help": {"en": "", "ja": ""}},
        {"name": "luma", "type": "bool", "default": False, "label": {"en": "Luminance only", "ja": "輝度のみ"}},
        {"name": "kind", "type": "choice", "default": "gaussian", "choices": ["gaussian", "uniform"],
         "choice_labels": [{"en": "Gaussian", "ja": "ガウス"}, {"en": "Uniform", "ja": "一様"}],
         "label": {"en": "Kind", "ja": "種類"}},
        {"name": "color", "type": "color", "default": "#ffffff", "label": {"en": "Colour", "ja": "色"}},
    ]},
}


def test_controls_follow_the_declarations_and_the_preset_values(kp):
    preset = {"name": "p", "steps": [{"filter": "noise", "params": {"amount": 0.05, "kind": "uniform"}}]}
    controls = {c.name: c for c in kp.controls.controls_for(preset, FILTERS, "en")}
    amount = controls["amount"]
    assert (amount.widget, amount.minimum, amount.maximum, amount.value) == ("double", 0.0, 0.2, 0.05)
    assert amount.decimals == 3 and amount.label == "Amount" and amount.tooltip == "How strong"
    seed = controls["seed"]
    assert (seed.widget, seed.minimum, seed.value) == ("int", 0, 0) and seed.maximum >= 10 ** 9
    assert controls["luma"].widget == "check" and controls["luma"].value is False
    assert controls["kind"].choices == (("gaussian", "Gaussian"), ("uniform", "Uniform"))
    assert controls["kind"].value == "uniform" and controls["color"].widget == "color"
    ja = {c.name: c for c in kp.controls.controls_for(preset, FILTERS, "ja")}
    assert ja["amount"].label == "量" and ja["kind"].choices[0] == ("gaussian", "ガウス")


def test_integers_wider_than_a_qspinbox_get_a_whole_number_box(kp):
    param = {"name": "author", "type": "int", "default": 0, "min": 0, "max": 2 ** 32 - 1}
    control = kp.controls.control_for(0, param, 5, "en")
    assert (control.widget, control.decimals, control.maximum) == ("double", 0, 2 ** 32 - 1)
    assert kp.controls.typed(control, 4294967295.0) == 4294967295
    assert isinstance(kp.controls.typed(control, 7.0), int)


def test_edited_preset_keeps_unedited_values_and_drops_origin_fields(kp):
    preset = {"name": "standard", "builtin": True, "steps": [{"filter": "noise", "params": {"amount": 0.05}}]}
    out = kp.controls.edited_preset(preset, {(0, "seed"): 7}, name="mine")
    assert out == {"name": "mine", "label": {"en": "mine", "ja": "mine"},
                   "steps": [{"filter": "noise", "params": {"amount": 0.05, "seed": 7}}]}
    assert preset["steps"][0]["params"] == {"amount": 0.05}  # the described preset is not mutated


# --- strings, language, engine set-up -------------------------------------------------

def test_language_choice(kp, monkeypatch, tmp_path):
    assert kp.hostkit.language_from([None, "", "ja_JP.UTF-8", "en_US"]) == "ja"
    assert kp.hostkit.language_from(["C"]) == "en" and kp.hostkit.language_from([]) == "en"
    monkeypatch.delenv("OMAMORI_LANG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    (tmp_path / "klanguageoverridesrc").write_text("[Language]\nkrita=ja\n")  # Krita's own language switch
    assert kp.strings.language() == "ja"
    assert kp.strings.tr("apply_new") == "新しいレイヤーに適用"
    assert kp.strings.text({"en": "Noise", "ja": "ノイズ"}) == "ノイズ"
    assert all(len(pair) == 2 and all(pair) for pair in kp.strings.STRINGS.values())


def test_missing_engine_gives_an_actionable_message(kp, monkeypatch):
    kp.engine.set_bridge(None)
    monkeypatch.delitem(sys.modules, "omamori_krita.omamori_bridge")  # a checkout never installed
    with pytest.raises(kp.strings.Problem) as caught:
        kp.api.protect(document(kp))
    assert "omamori install krita" in caught.value.message("en")


def test_engine_reads_the_installed_config(kp, monkeypatch, tmp_path):
    kp.engine.set_bridge(None)
    monkeypatch.setattr(kp.engine, "HERE", tmp_path)
    with pytest.raises(kp.client.BridgeError, match="omamori install krita"):
        kp.engine.bridge()
    (tmp_path / "omamori.json").write_text(json.dumps({"python": sys.executable}))
    assert kp.engine.bridge().python == sys.executable


# --- install / uninstall / zip --------------------------------------------------------

@pytest.fixture
def installer():
    pytest.importorskip("numpy")  # the omamori package imports it
    sys.path.insert(0, str(REPO / "core"))
    try:
        yield importlib.import_module("omamori.installers.krita")
    finally:
        sys.path.remove(str(REPO / "core"))


def is_enabled(kritarc: Path) -> bool:
    """What Krita reads: enable_omamori_krita=true under [python] (configparser is close enough here)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(kritarc.read_bytes().decode("utf-8-sig", "replace"))
    except (OSError, configparser.Error):
        return False
    return parser.get("python", "enable_omamori_krita", fallback="false").strip().lower() == "true"


def test_install_and_uninstall_keep_other_krita_settings(installer, tmp_path):
    rc = tmp_path / ".config" / "kritarc"
    rc.parent.mkdir(parents=True)
    rc.write_text("[General]\nfoo=1\n\n[python]\nenable_ten_brushes=true\n\n[MainWindow]\nState=abc==\n")
    installer.install(home=tmp_path)
    pykrita = tmp_path / ".local/share/krita/pykrita"
    assert (pykrita / "omamori_krita/__init__.py").exists() and (pykrita / "omamori_krita.desktop").exists()
    assert (tmp_path / ".local/share/krita/actions/omamori_krita.action").exists()
    config = json.loads((pykrita / "omamori_krita/omamori.json").read_text())
    assert Path(config["python"]).exists()
    assert "class Bridge" in (pykrita / "omamori_krita/omamori_bridge.py").read_text()
    text = rc.read_text()
    assert "enable_omamori_krita=true" in text and "enable_ten_brushes=true" in text
    assert "[General]\nfoo=1" in text and "State=abc==" in text and is_enabled(rc)
    installer.install(home=tmp_path)  # again: still one entry
    assert rc.read_text().count("enable_omamori_krita") == 1
    installer.uninstall(home=tmp_path)
    assert not (pykrita / "omamori_krita").exists() and not (pykrita / "omamori_krita.desktop").exists()
    assert not is_enabled(rc) and "enable_ten_brushes=true" in rc.read_text()
    assert "State=abc==" in rc.read_text()


def test_install_into_a_fresh_home_creates_kritarc(installer, tmp_path):
    installer.install(home=tmp_path)
    assert is_enabled(tmp_path / ".config/kritarc")


@pytest.mark.parametrize("encoding,bom,newline", [("latin-1", b"", "\n"), ("utf-8", b"\xef\xbb\xbf", "\r\n"),
                                                  ("utf-8", b"", "\n")])
def test_odd_kritarc_encodings_survive_install_and_uninstall(installer, tmp_path, encoding, bom, newline):
    """A kritarc in Latin-1, with a BOM or with CRLF: the rest of it is kept byte for byte."""
    rc = tmp_path / ".config" / "kritarc"
    rc.parent.mkdir(parents=True)
    lines = ["[General]", "recent=/home/b\u00e9a/caf\u00e9.kra", "", "[python]", "enable_ten_brushes=true", "",
             "[MainWindow]", "State=abc=="]
    original = bom + newline.join(lines).encode(encoding)  # no newline at the end, as an editor may leave it
    rc.write_bytes(original)
    installer.install(home=tmp_path)
    installed = rc.read_bytes()
    assert installed.startswith(bom + "[General]".encode()) and is_enabled(rc)
    assert f"[python]{newline}enable_omamori_krita=true{newline}enable_ten_brushes=true".encode() in installed
    assert "caf\u00e9".encode(encoding) in installed
    installer.uninstall(home=tmp_path)
    assert rc.read_bytes() == original
    assert not list(rc.parent.glob(".kritarc*"))  # no temp file left behind


def test_kritarc_without_a_python_group_gets_one_and_uninstall_leaves_none_behind(installer, tmp_path):
    rc = tmp_path / ".config" / "kritarc"
    rc.parent.mkdir(parents=True)
    rc.write_bytes(b"[General]\nfoo=1")
    installer.install(home=tmp_path)
    assert rc.read_bytes() == b"[General]\nfoo=1\n\n[python]\nenable_omamori_krita=true\n"
    installer.uninstall(home=tmp_path)
    assert not is_enabled(rc) and rc.read_bytes().startswith(b"[General]\nfoo=1\n")


def test_uninstall_without_kritarc_creates_none(installer, tmp_path):
    installer.uninstall(home=tmp_path)
    assert not (tmp_path / ".config" / "kritarc").exists()


def test_zip_never_replaces_an_existing_file(installer, tmp_path):
    out = tmp_path / "omamori-krita.zip"
    out.write_bytes(b"mine")
    with pytest.raises(installer.InputError, match="already exists"):
        installer.build_zip(out)
    assert out.read_bytes() == b"mine"


def test_cli_zip_onto_an_existing_file_is_one_line(installer, tmp_path, capsys):
    from omamori import cli
    out = tmp_path / "omamori-krita.zip"
    out.write_bytes(b"mine")
    assert cli.main(["install", "krita", "--zip", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "\n" not in err and out.read_bytes() == b"mine"


def test_zip_has_the_layout_krita_importer_expects(installer, tmp_path):
    out = installer.build_zip(tmp_path / "omamori-krita.zip")
    names = zipfile.ZipFile(out).namelist()
    assert {"omamori_krita/", "omamori_krita.desktop", "omamori_krita.action", "omamori_krita/__init__.py",
            "omamori_krita/api.py", "omamori_krita/omamori_bridge.py", "omamori_krita/omamori.json",
            "omamori_krita/omamori_hostkit.py"} <= set(names)
    assert not any("__pycache__" in n for n in names)
    desktop = zipfile.ZipFile(out).read("omamori_krita.desktop").decode()
    assert "X-KDE-Library=omamori_krita" in desktop and "ServiceTypes=Krita/PythonPlugin" in desktop


def test_action_file_declares_both_actions():
    text = (PLUGIN / "omamori_krita.action").read_text()
    assert '<Action name="omamori_protect">' in text and '<Action name="omamori_export">' in text
    assert "<text>Protect with last preset</text>" in text and "<text>Export protected copy…</text>" in text


# --- the plug-in code with the real bridge and core (no Krita) --------------------------

def test_real_bridge_round_trip_16bit_with_selection(kp):
    """The same api.protect path, with the real worker: 16-bit BGRA in, outside the selection unchanged."""
    pytest.importorskip("omamori.jobs", exc_type=ImportError)
    kp.engine.set_bridge(kp.client.Bridge(sys.executable, editor="krita"))
    doc = document(kp, "U16", width=8, height=6)
    doc.active.data[:] = struct.pack("<" + "H" * (8 * 6 * 4), *([30000, 20000, 10000, 65535] * 48))
    mask = bytes(([255] * 4 + [0] * 4) * 6)  # left half selected
    doc.setSelection(fake_krita.Selection(mask))
    original = bytes(doc.active.data)
    preset = {"schema": 1, "name": "unit", "steps": [{"filter": "noise", "params": {"amount": 16.0}}]}
    layer = kp.api.protect(doc, preset=preset, new_layer=True)
    out = struct.unpack("<" + "H" * (8 * 6 * 4), bytes(layer.data))
    src = struct.unpack("<" + "H" * (8 * 6 * 4), original)
    right = [i for i in range(8 * 6) if i % 8 >= 4]
    left = [i for i in range(8 * 6) if i % 8 < 4]
    assert all(out[4 * i:4 * i + 4] == src[4 * i:4 * i + 4] for i in right)
    assert any(out[4 * i:4 * i + 3] != src[4 * i:4 * i + 3] for i in left)
    assert all(out[4 * i + 3] == 65535 for i in range(8 * 6))  # alpha kept


def srgb_encoded(linear):
    """IEC 61966-2-1's curve, written out here so the test does not check the core against itself."""
    return [12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055 for v in linear]


def test_real_bridge_filters_a_linear_float_layer_in_srgb(kp):
    """A float layer in Krita's default linear profile: the filters see sRGB-encoded values (8 levels of
    checker noise are 8 sRGB levels, in the dark too), a feathered edge fades in sRGB, and HDR values
    outside the selection come back bit-identical."""
    pytest.importorskip("omamori.jobs", exc_type=ImportError)
    kp.engine.set_bridge(kp.client.Bridge(sys.executable, editor="krita"))
    doc = document(kp, "F32", width=8, height=6)
    doc._profile = fake_krita.LINEAR
    dark = [0.0122, 0.0452, 0.2140, 1.0]  # linear light of sRGB levels 30, 60, 128
    hdr = [2.5, -0.25, 0.5, 1.0]
    values = [v for i in range(8 * 6) for v in (dark if i % 8 < 4 else hdr)]
    doc.active.data[:] = struct.pack("<%df" % len(values), *values)
    doc.setSelection(fake_krita.Selection(bytes([255, 255, 255, 128, 0, 0, 0, 0] * 6)))
    preset = {"schema": 1, "name": "unit", "steps": [{"filter": "noise", "params": {"kind": "checker", "amount": 8}}]}
    layer = kp.api.protect(doc, preset=preset, new_layer=True)
    out = struct.unpack("<%df" % len(values), bytes(layer.data))
    for i in range(8 * 6):
        got = out[4 * i:4 * i + 4]
        if i % 8 >= 4:
            assert struct.pack("<4f", *got) == struct.pack("<4f", *hdr)  # outside: bit-identical
            continue
        steps = [(a - b) * 255 for a, b in zip(srgb_encoded(got[:3]), srgb_encoded(dark[:3]))]
        weight = 1.0 if i % 8 < 3 else 128 / 255  # the feathered column
        assert steps == pytest.approx([8 * weight if s > 0 else -8 * weight for s in steps], abs=0.02), (i, steps)
        assert got[3] == 1.0


def test_batch_scripts_without_an_active_node_get_the_top_paint_layer(kp):
    doc = document(kp)
    top = doc.add_layer("Top", bytes(4 * 3 * 4))
    doc.active = None  # kritarunner: no view, so no active node
    kp.api.protect(doc)
    assert doc.root.children[1] is top and doc.root.children[2].name() == "Top (Omamori)"
    explicit = doc.root.children[0]
    kp.api.protect(doc, node=explicit)
    assert doc.root.children[1].name() == "Paint (Omamori)"
