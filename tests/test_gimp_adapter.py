"""The GIMP plug-in's logic without GIMP: fake `gi` modules (tests/fake_gimp.py) and a fake bridge.

What the real GIMP does with these calls is checked in tests/hosts/test_gimp_real.py."""

import importlib.util
import json
import os
import stat
import sys
import types
from pathlib import Path

import pytest

import fake_gimp as fg
from omamori.bridge import hostkit

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "gimp_plugin" / "omamori"
PLUGIN = PLUGIN_DIR / "omamori.py"
PACKAGE = "omamori_gimp"  # the plug-in's helper modules, beside omamori.py

FILTERS = [
    {"name": "noise", "label": {"en": "Noise", "ja": "ノイズ"}, "help": {"en": "h", "ja": "h"}, "params": [
        {"name": "amount", "type": "float", "default": 0.03, "min": 0.0, "max": 0.5,
         "label": {"en": "Amount", "ja": "量"}, "help": {"en": "", "ja": ""}},
        {"name": "kind", "type": "choice", "default": "gaussian", "choices": ["gaussian", "uniform"],
         "choice_labels": [{"en": "Gaussian", "ja": "ガウス"}, {"en": "Uniform", "ja": "一様"}],
         "label": {"en": "Kind", "ja": "種類"}, "help": {"en": "", "ja": ""}},
        {"name": "luminance_only", "type": "bool", "default": False,
         "label": {"en": "Luminance only", "ja": "輝度のみ"}, "help": {"en": "", "ja": ""}},
        {"name": "seed", "type": "int", "default": 0, "min": 0, "max": None,
         "label": {"en": "Seed", "ja": "シード"}, "help": {"en": "", "ja": ""}},
        {"name": "author_id", "type": "int", "default": 7, "min": 0, "max": 4294967295,
         "label": {"en": "Author id", "ja": "作者 ID"}, "help": {"en": "", "ja": ""}},
    ]},
    {"name": "watermark", "label": {"en": "Watermark", "ja": "透かし"}, "help": {"en": "", "ja": ""}, "params": [
        {"name": "text", "type": "str", "default": "©", "label": {"en": "Text", "ja": "文字"}, "help": {"en": "", "ja": ""}},
        {"name": "color", "type": "color", "default": "#ffffff", "label": {"en": "Colour", "ja": "色"},
         "help": {"en": "", "ja": ""}},
    ]},
]
RESIZE = {"name": "resize", "category": "size", "label": {"en": "Limit size", "ja": "サイズ制限"}, "help": {},
          "params": [{"name": "long_edge", "type": "int", "default": 0, "min": 0, "max": 20000,
                      "label": {"en": "Long edge", "ja": "長辺"}, "help": {}}]}
FILTERS.append(RESIZE)
PRESETS = [
    {"schema": 1, "name": "standard", "label": {"en": "Standard", "ja": "標準"},
     "steps": [{"filter": "noise", "params": {"amount": 0.05}}]},
    {"schema": 1, "name": "light", "label": {"en": "Light", "ja": "軽め"},
     "steps": [{"filter": "watermark", "params": {"text": "x"}}]},
    {"schema": 1, "name": "x", "label": {"en": "X", "ja": "X"}, "export": {"profile": "x"},
     "steps": [{"filter": "noise", "params": {}}, {"filter": "resize", "params": {"long_edge": 4096}}]},
]


CHECK_RESULT = {"latent_distortion": 0.42, "psnr": 38.5, "verdict": "Protected / 保護されています",
                "posted": [{"profile": "x", "latent_distortion": 0.3}]}


class FakeBridge:
    """Records calls; `process` returns the input with every byte inverted (any change will do)."""

    instances = []

    def __init__(self, fail=None, result_size=None, report_dir=None):
        self.calls = []
        self.report_dir = report_dir
        self.fail = fail
        self.result_size = result_size

    @classmethod
    def from_folder(cls, folder, host):
        bridge = cls(**cls.next_options)
        cls.instances.append(bridge)
        return bridge

    def describe(self):
        if self.fail == "describe":
            raise BridgeError("no environment")
        return {"filters": FILTERS, "presets": PRESETS, "profiles": []}

    def process(self, pixels, width, height, layout, preset, mask=None, on_progress=None, should_cancel=None):
        self.calls.append(("process", width, height, layout, preset, mask))
        if self.fail:
            raise self.fail
        on_progress(0.5, "half")
        size = self.result_size if self.result_size is not None else len(pixels)
        return bytes(255 - b for b in pixels[:size])

    def export(self, pixels, width, height, layout, preset, path, overwrite=True, on_progress=None):
        self.calls.append(("export", width, height, layout, preset, path))
        self.overwrite = overwrite
        return {"output": path, "checklist": ["Turn off AI learning", "Check"], "notices": []}

    def check(self, pixels, width, height, layout, preset, mask=None, on_progress=None, should_cancel=None):
        """Answers like the worker's "check": the evaluate dict and a report picture of the caller's own."""
        self.calls.append(("check", width, height, layout, preset, mask))
        if self.fail:
            raise self.fail
        on_progress(0.5, "measuring")
        report = Path(self.report_dir) / "omamori-report-test.png"
        report.write_bytes(b"\x89PNG fake")
        return {"result": dict(CHECK_RESULT, preset=preset), "report_png": str(report)}

    def preset(self, name):
        return next(p for p in PRESETS if p["name"] == name)

    def save_preset(self, preset, overwrite=False):
        self.calls.append(("save_preset", preset, overwrite))
        return {"path": "/home/u/presets/{}.json".format(preset["name"])}


BridgeError, Cancelled = hostkit.BridgeError, hostkit.Cancelled  # as the real client raises them


def forget_plugin_modules():
    for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
        del sys.modules[name]


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A freshly imported plug-in (entry and omamori_gimp/) with fake gi and a fake omamori_bridge."""
    for name in ("gi", "gi.repository"):  # restored after the test, whatever was there
        monkeypatch.setitem(sys.modules, name, None)
    fg.install(tmp_path)
    fg.LOG.__init__()
    FakeBridge.instances.clear()
    FakeBridge.next_options = {"report_dir": str(tmp_path)}
    bridge_module = types.ModuleType("omamori_bridge")
    bridge_module.Bridge, bridge_module.BridgeError, bridge_module.Cancelled = FakeBridge, BridgeError, Cancelled
    # instead of omamori_bridge.py, which install copies in
    monkeypatch.setitem(sys.modules, "omamori_bridge", bridge_module)
    monkeypatch.setitem(sys.modules, "omamori_hostkit", hostkit)  # install copies it in as omamori_hostkit.py
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))  # as GIMP runs the script: its folder comes first
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # no __pycache__ in the shipped plug-in folder
    forget_plugin_modules()  # each test imports against its own fake gi
    spec = importlib.util.spec_from_file_location("omamori_gimp_plugin_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    forget_plugin_modules()


def procedure(plugin, name):
    return plugin.Omamori().do_create_procedure(plugin.PREFIX + name)


def part(name):
    """One of the plug-in's modules in omamori_gimp/ (imported by the plugin fixture)."""
    return importlib.import_module(PACKAGE + "." + name)


def catalog(plugin):
    return plugin.Omamori().engine().catalog()


def bridge():
    return FakeBridge.instances[-1]


def test_registers_fixed_and_per_filter_procedures(plugin):
    names = plugin.Omamori().do_query_procedures()
    assert names == ["plug-in-omamori-protect", "plug-in-omamori-export", "plug-in-omamori-save-preset",
                     "plug-in-omamori-check", "plug-in-omamori-noise", "plug-in-omamori-watermark"]
    protect = procedure(plugin, "protect")
    assert protect.menu_paths == ["<Image>/Filters/Omamori"]
    assert protect.arguments["preset"][:2] == ("string", False)
    assert protect.arguments["new-layer"][:2] == ("boolean", False)
    export = procedure(plugin, "export")
    assert export.arguments["file"][:2] == ("file", False) and export.returns == ["output", "checklist"]


def test_filter_arguments_come_from_the_declaration(plugin):
    noise = procedure(plugin, "noise").arguments
    assert noise["amount"] == ("double", False, "Amount", (0.0, 0.5, 0.03))
    assert noise["kind"][0] == "choice" and noise["kind"][3][1] == "gaussian"
    assert [nick for nick, _ in noise["kind"][3][0].items] == ["gaussian", "uniform"]
    assert noise["luminance-only"] == ("boolean", False, "Luminance only", (False,))
    assert noise["seed"][3] == (0, hostkit.INT32_MAX, 0)  # no declared max: GIMP still needs one
    # Beyond GIMP's 32-bit ints (a 32-bit author id): a double argument, sent back as an int.
    assert noise["author-id"] == ("double", False, "Author id", (0.0, 4294967295.0, 7.0))
    watermark = procedure(plugin, "watermark").arguments
    assert watermark["text"] == ("string", False, "Text", ("©",))
    assert watermark["color"][0] == "color" and watermark["color"][3][1].get_rgba()[:3] == (1.0, 1.0, 1.0)
    # The Protect dialog gets an editable copy of every parameter as aux arguments.
    protect = procedure(plugin, "protect").arguments
    assert protect["noise-amount"][:2] == ("double", True) and protect["use-noise"][:2] == ("boolean", True)
    # GIMP 3.0.4 crashes on choice aux arguments: the dialog's choices are indexes shown as combos.
    assert protect["noise-kind"] == ("int", True, "Kind", (0, 1, 0))
    assert protect["preset-index"] == ("int", True, "Preset", (0, 2, 0))
    assert "use-resize" not in protect  # size filters only run on export
    assert not [name for name, arg in protect.items() if arg[0] == "choice" and arg[1]]


def test_japanese_labels(plugin, monkeypatch):
    monkeypatch.setenv("OMAMORI_LANG", "ja")
    assert procedure(plugin, "noise").arguments["amount"][2] == "量"
    assert procedure(plugin, "protect").menu_label == "保護(_P)…"
    monkeypatch.delenv("OMAMORI_LANG")
    monkeypatch.setenv("LANGUAGE", "ja_JP:en")  # what GIMP sets from its UI-language preference
    assert part("strings").language() == "ja"


def test_registration_survives_a_missing_environment(plugin):
    FakeBridge.next_options = {"fail": "describe"}
    names = plugin.Omamori().do_query_procedures()
    assert names == ["plug-in-omamori-protect", "plug-in-omamori-export", "plug-in-omamori-save-preset",
                     "plug-in-omamori-check"]
    assert procedure(plugin, "protect").arguments["preset"][3] == ("standard",)


@pytest.mark.parametrize("precision, fmt, layout", [
    (fg.Precision.U8_NON_LINEAR, "R'G'B'A u8", "RGBA8"),
    (fg.Precision.U16_PERCEPTUAL, "R'G'B'A u16", "RGBA16"),
    (fg.Precision.U8_LINEAR, "R'G'B'A float", "RGBAF32"),   # linear 8-bit: float avoids rounding twice
    (fg.Precision.HALF_LINEAR, "R'G'B'A float", "RGBAF32"),
    (fg.Precision.FLOAT_NON_LINEAR, "R'G'B'A float", "RGBAF32"),
])
def test_protect_in_place_one_undo_group(plugin, precision, fmt, layout):
    image = fg.Image(precision=precision)
    proc = procedure(plugin, "protect")
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config(preset="standard"))
    assert ret.status == fg.PDBStatusType.SUCCESS, ret.error.message
    assert bridge().calls == [("process", 4, 3, layout, "standard", None)]
    layer = image.layers[0]
    assert layer.written[0] == fmt and layer.written[1] == bytes([0xEF]) * len(layer.written[1])
    calls = [c[0] for c in fg.LOG.calls]
    # Read, compute, then exactly one undo group around the shadow write.
    assert calls.count("undo-start") == calls.count("undo-end") == 1
    start, end = calls.index("undo-start"), calls.index("undo-end")
    assert start < calls.index("shadow-set") < calls.index("merge-shadow") < end
    assert ("merge-shadow", "layer0", True, 1) in fg.LOG.calls
    assert ("progress", 0.5) in fg.LOG.calls


def test_size_steps_are_left_to_export(plugin, tmp_path):
    assert "plug-in-omamori-resize" not in plugin.Omamori().do_query_procedures()
    image = fg.Image()
    proc = procedure(plugin, "protect")
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config(preset="x"))
    assert ret.status == fg.PDBStatusType.SUCCESS
    assert bridge().calls[0][4] == "x"  # the core skips size steps for layers (tests/core/test_bridge.py)
    export = procedure(plugin, "export")
    export(fg.RunMode.NONINTERACTIVE, image, export.config(preset="x", file=fg.File(str(tmp_path / "o.png"))))
    assert bridge().calls[-1][4] == "x"  # the export keeps the whole preset


def test_several_layers_are_one_undo_step(plugin):
    image = fg.Image(layers=3)
    proc = procedure(plugin, "protect")
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config(), drawables=image.layers[:2])
    assert ret.status == fg.PDBStatusType.SUCCESS
    assert len(bridge().calls) == 2 and image.undo_groups == 1
    assert [layer.written is not None for layer in image.layers] == [True, True, False]
    merges = [c for c in fg.LOG.calls if c[0] == "merge-shadow"]
    assert [c[3] for c in merges] == [1, 1]  # both inside the one group


def test_selection_mask_is_sent_not_applied(plugin):
    image = fg.Image(width=4, height=3)
    image.selection = fg.Drawable(image, "selection", 10, 10, fill=b"\x80")
    image.layers[0].offsets = (2, 1)
    proc = procedure(plugin, "protect")
    proc(fg.RunMode.NONINTERACTIVE, image, proc.config())
    # The selection is read at the layer's offsets, one 8-bit weight per pixel, and the core blends.
    assert ("get", "selection", "Y u8", (2, 1, 4, 3)) in fg.LOG.calls
    assert bridge().calls[0][5] == b"\x80" * 12


def test_new_layer_leaves_the_original(plugin):
    image = fg.Image()
    original = image.layers[0]
    proc = procedure(plugin, "protect")
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config(**{"new-layer": True}))
    assert ret.status == fg.PDBStatusType.SUCCESS
    assert len(image.layers) == 2 and image.layers[1] is original and original.written is None
    assert image.layers[0].name == "Omamori (standard)" and image.layers[0].written is not None
    calls = [c[0] for c in fg.LOG.calls]
    assert calls.index("undo-start") < calls.index("new-layer") < calls.index("undo-end")


def test_indexed_images_are_refused(plugin):
    image = fg.Image(base=fg.ImageBaseType.INDEXED)
    proc = procedure(plugin, "protect")
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config())
    assert ret.status == fg.PDBStatusType.EXECUTION_ERROR
    assert "indexed" in ret.error.message and "RGB" in ret.error.message
    assert not FakeBridge.instances or not bridge().calls
    assert image.layers[0].written is None


def test_layer_groups_are_refused(plugin):
    image = fg.Image()
    image.layers[0].group = True
    proc = procedure(plugin, "protect")
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config())
    assert ret.status == fg.PDBStatusType.EXECUTION_ERROR and "group" in ret.error.message
    assert image.layers[0].written is None


@pytest.mark.parametrize("failure, status", [
    (BridgeError("Omamori: preset 'x' not found"), fg.PDBStatusType.EXECUTION_ERROR),
    (Cancelled("Cancelled."), fg.PDBStatusType.CANCEL),
    (RuntimeError("boom"), fg.PDBStatusType.EXECUTION_ERROR),
])
def test_failures_leave_the_image_untouched(plugin, failure, status):
    FakeBridge.next_options = {"fail": failure}
    image = fg.Image()
    proc = procedure(plugin, "protect")
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config())
    assert ret.status == status
    if status == fg.PDBStatusType.EXECUTION_ERROR:
        assert str(failure) in ret.error.message
    assert image.layers[0].written is None and image.undo_depth == 0
    assert "undo-start" not in [c[0] for c in fg.LOG.calls]
    assert ("progress-end",) in fg.LOG.calls


def test_wrong_size_result_is_an_error(plugin):
    FakeBridge.next_options = {"result_size": 8}
    image = fg.Image()
    proc = procedure(plugin, "protect")
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config())
    assert ret.status == fg.PDBStatusType.EXECUTION_ERROR and "Export" in ret.error.message
    assert image.layers[0].written is None


def test_filter_procedure_sends_a_one_step_preset(plugin):
    image = fg.Image()
    proc = procedure(plugin, "watermark")
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config(text="mine", color=fg.Color("#ff0000")))
    assert ret.status == fg.PDBStatusType.SUCCESS
    preset = bridge().calls[0][4]
    assert preset["schema"] == 1 and preset["name"] == "apply-watermark"
    assert preset["steps"] == [{"filter": "watermark", "params": {"text": "mine", "color": "#ff0000"}}]


def test_export_works_on_a_flattened_duplicate(plugin, tmp_path):
    image = fg.Image(base=fg.ImageBaseType.INDEXED, layers=2)
    proc = procedure(plugin, "export")
    out = str(tmp_path / "out.png")
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config(preset="x", file=fg.File(out)))
    assert ret.status == fg.PDBStatusType.SUCCESS, ret.error.message
    assert ret.values[1:] == [out, "Turn off AI learning\nCheck"]
    assert bridge().calls == [("export", 4, 3, "RGBA8", "x", out)]
    dup = image.duplicates[0]
    assert dup.deleted and dup.base == fg.ImageBaseType.RGB          # only the copy was converted
    assert image.base == fg.ImageBaseType.INDEXED and len(image.layers) == 2
    assert all(layer.written is None for layer in image.layers) and image.undo_groups == 0


def test_save_preset_saves_the_last_applied_settings(plugin):
    image = fg.Image()
    noise = procedure(plugin, "noise")
    noise(fg.RunMode.NONINTERACTIVE, image, noise.config(amount=0.2))
    save = procedure(plugin, "save-preset")
    ret = save(fg.RunMode.NONINTERACTIVE, image, save.config(name="mine"))
    assert ret.status == fg.PDBStatusType.SUCCESS and ret.values[1].endswith("mine.json")
    _, preset, overwrite = bridge().calls[-1]
    assert preset["name"] == "mine" and preset["schema"] == 1 and preset["label"] == {"en": "mine", "ja": "mine"}
    assert preset["steps"] == [{"filter": "noise", "params": {
        "amount": 0.2, "kind": "gaussian", "luminance_only": False, "seed": 0, "author_id": 7}}]
    assert type(preset["steps"][0]["params"]["author_id"]) is int


def test_save_preset_from_a_named_preset(plugin):
    save = procedure(plugin, "save-preset")
    ret = save(fg.RunMode.NONINTERACTIVE, fg.Image(), save.config(name="copy", preset="standard"))
    assert ret.status == fg.PDBStatusType.SUCCESS
    assert bridge().calls[-1][1]["steps"] == PRESETS[0]["steps"]
    ret = save(fg.RunMode.NONINTERACTIVE, fg.Image(), save.config(name="  "))
    assert ret.status == fg.PDBStatusType.EXECUTION_ERROR


def test_dialog_values_follow_the_chosen_preset(plugin):
    proc = procedure(plugin, "protect")
    config = proc.config()
    plugin.dialogs.load_preset_into_config(config, catalog(plugin), "standard")
    assert config.get_property("use-noise") is True and config.get_property("noise-amount") == 0.05
    assert config.get_property("use-watermark") is False
    config.set_property("noise-amount", 0.1)
    config.set_property("noise-kind", 1)
    config.set_property("use-watermark", True)
    preset = plugin.dialogs.dialog_preset(config, catalog(plugin), "standard")
    assert [s["filter"] for s in preset["steps"]] == ["noise", "watermark"]
    assert preset["steps"][0]["params"]["amount"] == 0.1 and preset["name"] == "standard"
    assert preset["steps"][0]["params"]["kind"] == "uniform"
    assert preset["steps"][1]["params"]["color"] == "#ffffff"
    config.set_property("preset-index", 1)
    assert plugin.dialogs.chosen_preset(config, catalog(plugin)) == "light" and config.get_property("preset") == "light"


def test_missing_bridge_says_how_to_fix_it(plugin, monkeypatch):
    monkeypatch.setitem(sys.modules, "omamori_bridge", None)  # a bare checkout has no omamori_bridge.py
    proc = procedure(plugin, "protect")
    ret = proc(fg.RunMode.NONINTERACTIVE, fg.Image(), proc.config())
    assert ret.status == fg.PDBStatusType.EXECUTION_ERROR and "omamori install gimp" in ret.error.message


def test_install_and_uninstall(tmp_path):
    from omamori.installers import gimp

    installed = gimp.install(home=tmp_path)
    folder = tmp_path / ".config" / "GIMP" / "3.0" / "plug-ins" / "omamori"
    assert installed == [folder]
    script = folder / "omamori.py"
    assert script.read_bytes() == PLUGIN.read_bytes()
    assert script.stat().st_mode & stat.S_IXUSR
    assert (folder / "omamori_bridge.py").exists()
    assert json.loads((folder / "omamori.json").read_text())["python"] == sys.executable
    gimp.install(home=tmp_path)  # again: replaces, never nests
    assert sorted(p.name for p in folder.iterdir()) == ["omamori.json", "omamori.py", "omamori_bridge.py",
                                                        PACKAGE, "omamori_hostkit.py"]
    # The whole plug-in folder, helper modules included (GIMP imports them from beside the script).
    sources = sorted(p.relative_to(PLUGIN_DIR) for p in (PLUGIN_DIR / PACKAGE).glob("*.py"))
    assert sources and sorted(p.relative_to(folder) for p in (folder / PACKAGE).glob("*.py")) == sources
    assert all((folder / p).read_bytes() == (PLUGIN_DIR / p).read_bytes() for p in sources)
    assert gimp.uninstall(home=tmp_path) == [folder] and not folder.exists()
    assert gimp.uninstall(home=tmp_path) == []


def test_install_follows_gimp3_directory(tmp_path, monkeypatch):
    from omamori.installers import gimp

    monkeypatch.setenv("GIMP3_DIRECTORY", str(tmp_path / "gimpdir"))
    assert gimp.plugin_dir() == tmp_path / "gimpdir" / "plug-ins" / "omamori"
    assert os.fspath(gimp.plugin_dir(home=tmp_path)).startswith(os.fspath(tmp_path / ".config"))


def test_protect_dialog_opens_on_the_presets_own_steps(plugin):
    """Builds the dialog against a recording fake: tabs start with the preset's filters."""
    calls = []

    class Dialog:
        def __getattr__(self, name):
            return lambda *args: calls.append((name,) + args)

    plugin.dialogs.GimpUi.IntStore = type("IntStore", (), {"append": lambda self: object(),
                                                           "set_value": lambda *a: None})
    plugin.dialogs.GimpUi.IntStoreColumns = type("Columns", (), {"VALUE": 0, "LABEL": 3})
    proc = procedure(plugin, "protect")
    config = proc.config(preset="light")
    plugin.dialogs.fill_protect_dialog(Dialog(), config, catalog(plugin))
    notebook = next(c for c in calls if c[0] == "fill_notebook")
    assert notebook[3] == ["frame-watermark", "frame-noise"]
    assert ("get_int_combo", "preset-index") == next(c for c in calls if c[0] == "get_int_combo")[:2]
    assert calls[-1] == ("fill", ["preset-index", "new-layer", "filters"])
    assert config.get_property("preset-index") == 1 and config.get_property("watermark-text") == "x"
    assert config.get_property("use-watermark") and not config.get_property("use-noise")


def test_worker_answers_in_gimps_language(plugin, monkeypatch):
    monkeypatch.delenv("OMAMORI_LANG")
    monkeypatch.setenv("LANGUAGE", "ja")
    monkeypatch.setenv("LANG", "en_US.UTF-8")  # the bridge alone would pick English from this
    plugin.Omamori().engine().bridge()
    assert os.environ["OMAMORI_LANG"] == "ja"


INSTALLED_RUN = """
import json, runpy, sys
tests, folder, gimp_dir = sys.argv[1:4]
sys.path.insert(0, tests)
import fake_gimp
fake_gimp.install(gimp_dir)
sys.path.insert(0, folder)  # as GIMP runs the script: its own folder first on sys.path
entry = runpy.run_path(folder + "/omamori.py", run_name="omamori_plugin")
names = entry["Omamori"]().do_query_procedures()
modules = {name: sys.modules[name].__file__ for name in ("omamori_gimp", "omamori_hostkit", "omamori_bridge")}
print(json.dumps({"names": names, "modules": modules}))
"""


def test_installed_folder_runs_on_its_own(tmp_path):
    """The installed folder alone (fake gi, no checkout on sys.path) registers the core's real filters."""
    import subprocess

    from omamori.installers import gimp

    folder = gimp.install(home=tmp_path)[0]
    proc = subprocess.run([sys.executable, "-I", "-c", INSTALLED_RUN, str(Path(__file__).parent), str(folder),
                           str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(path.startswith(str(folder)) for path in out["modules"].values()), out["modules"]
    assert {"plug-in-omamori-protect", "plug-in-omamori-check", "plug-in-omamori-noise"} <= set(out["names"])



def test_check_returns_the_report_as_json_and_leaves_the_image(plugin, tmp_path):
    image = fg.Image(precision=fg.Precision.U16_PERCEPTUAL)
    image.selection = fg.Drawable(image, "selection", 4, 3, fill=b"\x80")
    proc = procedure(plugin, "check")
    assert proc.returns == ["result-json"] and proc.arguments["preset"][:2] == ("string", False)
    ret = proc(fg.RunMode.NONINTERACTIVE, image, proc.config(preset="light"))
    assert ret.status == fg.PDBStatusType.SUCCESS, ret.error.message
    assert json.loads(ret.values[1]) == dict(CHECK_RESULT, preset="light")  # the worker's dict, as JSON
    assert bridge().calls == [("check", 4, 3, "RGBA16", "light", b"\x80" * 12)]
    # Only read: no write, no undo step; headless, so no new view; the report file is not left behind.
    calls = [c[0] for c in fg.LOG.calls]
    assert image.layers[0].written is None and "undo-start" not in calls and "shadow-set" not in calls
    assert not fg.LOG.displays and not list(tmp_path.glob("omamori-report-*"))
    assert ("progress", 0.5) in fg.LOG.calls


def test_check_interactive_shows_the_report_picture_in_a_new_view(plugin, tmp_path):
    image = fg.Image()
    proc = procedure(plugin, "check")
    config = proc.config(preset="standard")
    ret = proc(fg.RunMode.INTERACTIVE, image, config)
    assert ret.status == fg.PDBStatusType.SUCCESS, ret.error.message
    report = str(tmp_path / "omamori-report-test.png")
    assert [shown.path for shown in fg.LOG.displays] == [report]
    assert not fg.LOG.displays[0].dirty  # closing the report asks nothing
    assert not Path(report).exists()  # loaded into GIMP, then the temporary file removed
    assert json.loads(ret.values[1])["verdict"] == CHECK_RESULT["verdict"]
    assert image.layers[0].written is None and image.undo_groups == 0
    assert ("dialog-fill", ["preset-index"]) in fg.LOG.calls


def test_check_cancelled_in_its_dialog_does_nothing(plugin):
    fg.LOG.dialog_ok = False
    proc = procedure(plugin, "check")
    ret = proc(fg.RunMode.INTERACTIVE, fg.Image(), proc.config())
    assert ret.status == fg.PDBStatusType.CANCEL and not bridge().calls


@pytest.mark.parametrize("failure, status", [
    (BridgeError("Omamori: preset 'x' not found"), fg.PDBStatusType.EXECUTION_ERROR),
    (Cancelled("Cancelled."), fg.PDBStatusType.CANCEL),
])
def test_check_failures_come_back_as_a_status(plugin, failure, status, tmp_path):
    FakeBridge.next_options = {"fail": failure, "report_dir": str(tmp_path)}
    image = fg.Image()
    proc = procedure(plugin, "check")
    ret = proc(fg.RunMode.INTERACTIVE, image, proc.config())
    assert ret.status == status and not fg.LOG.displays and image.layers[0].written is None
    if status == fg.PDBStatusType.EXECUTION_ERROR:
        assert ret.error.message == str(failure)


def test_check_refuses_indexed_images_like_protect(plugin):
    proc = procedure(plugin, "check")
    ret = proc(fg.RunMode.NONINTERACTIVE, fg.Image(base=fg.ImageBaseType.INDEXED), proc.config())
    assert ret.status == fg.PDBStatusType.EXECUTION_ERROR and "RGB" in ret.error.message
    assert not bridge().calls


def test_export_never_replaces_a_file_from_a_script(plugin, tmp_path):
    out = tmp_path / "art.png"
    out.write_bytes(b"the artist's own file")
    proc = procedure(plugin, "export")
    assert proc.arguments["overwrite"] == ("boolean", False, "Replace an existing file", (False,))
    ret = proc(fg.RunMode.NONINTERACTIVE, fg.Image(), proc.config(file=fg.File(str(out))))
    assert ret.status == fg.PDBStatusType.EXECUTION_ERROR
    assert str(out) in ret.error.message and "overwrite" in ret.error.message and "\n" not in ret.error.message
    assert not bridge().calls and out.read_bytes() == b"the artist's own file"  # refused before any work
    ret = proc(fg.RunMode.NONINTERACTIVE, fg.Image(), proc.config(file=fg.File(str(out)), overwrite=True))
    assert ret.status == fg.PDBStatusType.SUCCESS and bridge().overwrite is True


def test_export_to_a_new_file_asks_nothing_and_never_overwrites(plugin, tmp_path):
    proc = procedure(plugin, "export")
    ret = proc(fg.RunMode.INTERACTIVE, fg.Image(), proc.config(file=fg.File(str(tmp_path / "new.png"))))
    assert ret.status == fg.PDBStatusType.SUCCESS and not fg.LOG.questions
    assert bridge().overwrite is False  # a file appearing meanwhile is still not replaced by the worker


@pytest.mark.parametrize("answer", [fg.ResponseType.NO, fg.ResponseType.YES])
def test_export_asks_before_replacing_in_the_dialog(plugin, tmp_path, answer):
    out = tmp_path / "art.png"
    out.write_bytes(b"old")
    fg.LOG.answers = [answer]
    proc = procedure(plugin, "export")
    ret = proc(fg.RunMode.INTERACTIVE, fg.Image(), proc.config(file=fg.File(str(out))))
    assert len(fg.LOG.questions) == 1 and str(out) in fg.LOG.questions[0]
    if answer == fg.ResponseType.NO:
        assert ret.status == fg.PDBStatusType.CANCEL and not bridge().calls
    else:
        assert ret.status == fg.PDBStatusType.SUCCESS and bridge().overwrite is True
