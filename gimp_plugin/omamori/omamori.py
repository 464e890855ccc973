#!/usr/bin/env python3
"""Omamori for GIMP 3: protect artwork against AI training and image-to-image reuse.

This file is the GIMP plug-in exactly as GIMP loads it (folder and script share the name).
It is deliberately thin: it moves pixels between GIMP and bytes, turns the core's parameter
declarations into PDB arguments and dialogs, and shows progress and errors. All image work
happens in Omamori's own Python environment, reached through ``omamori_bridge`` (copied here by
``omamori install gimp`` together with ``omamori.json``), so GIMP's Python needs nothing extra.
"""

import importlib.util
import json
import os
import sys
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, GLib, GObject, Gimp, GimpUi  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "plug-in-omamori-"
MENU = "<Image>/Filters/Omamori"
# Pixels travel in the image's own precision (lossless, and the core then knows the bit depth its
# changes must survive); linear and higher precisions go as float, which babl converts losslessly.
FLOAT_FORMAT, FLOAT_LAYOUT = "R'G'B'A float", "RGBAF32"
FORMATS = {"U8": ("R'G'B'A u8", "RGBA8"), "U16": ("R'G'B'A u16", "RGBA16")}
BYTES_PER_PIXEL = {"RGBA8": 4, "RGBA16": 8, "RGBAF32": 16}
MASK_FORMAT = "Y u8"  # the bridge takes one 8-bit weight per pixel
RW = GObject.ParamFlags.READWRITE
DEFAULT_PRESET = "standard"
INT_LIMIT = 2 ** 31 - 1
FLOAT_LIMIT = 1e9


def language():
    """'ja' or 'en'. LANGUAGE comes first: GIMP sets it for plug-ins from its UI-language preference."""
    for var in ("OMAMORI_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def tr(text, lang=None):
    """The user's language from a {"en", "ja"} pair (or a plain string)."""
    if isinstance(text, dict):
        return text.get(lang or language()) or text.get("en", "")
    return text or ""


# Every string this file shows, in English and Japanese.
T = {
    "protect": {"en": "_Protect…", "ja": "保護(_P)…"},
    "protect-help": {"en": "Protect the active layer with an Omamori preset.",
                     "ja": "Omamori のプリセットでアクティブなレイヤーを保護します。"},
    "export": {"en": "_Export Protected Copy…", "ja": "保護したコピーを書き出し(_E)…"},
    "export-help": {"en": "Export a protected, flattened copy with opt-out metadata; the image is not changed.",
                    "ja": "AI 学習拒否のメタデータ付きで、保護・統合したコピーを書き出します。画像自体は変更しません。"},
    "save-preset": {"en": "_Save Current Settings as Preset…", "ja": "現在の設定をプリセットとして保存(_S)…"},
    "save-preset-help": {"en": "Save the last used Omamori settings as a preset shared with Krita and the CLI.",
                         "ja": "最後に使った設定を、Krita や CLI と共有するプリセットとして保存します。"},
    "filters-menu": {"en": "Single Filter", "ja": "個別フィルタ"},
    "preset": {"en": "Preset", "ja": "プリセット"},
    "preset-help": {"en": "A preset name or the path of a preset file.",
                    "ja": "プリセット名、またはプリセットファイルのパス。"},
    "new-layer": {"en": "Apply to a _new layer", "ja": "新しいレイヤーに適用(_N)"},
    "new-layer-help": {"en": "Put the result on a new layer above the active one.",
                       "ja": "結果をアクティブなレイヤーの上の新しいレイヤーに置きます。"},
    "file": {"en": "File", "ja": "ファイル"},
    "file-help": {"en": "Where to write the protected copy.", "ja": "保護したコピーの書き出し先。"},
    "name": {"en": "Preset name", "ja": "プリセット名"},
    "name-help": {"en": "Name of the new preset.", "ja": "新しいプリセットの名前。"},
    "use": {"en": "Use {filter}", "ja": "「{filter}」を使う"},
    "output": {"en": "Output file", "ja": "出力ファイル"},
    "checklist": {"en": "Posting checklist", "ja": "投稿前チェックリスト"},
    "working": {"en": "Omamori: protecting…", "ja": "Omamori: 保護しています…"},
    "indexed": {"en": "Omamori cannot work on indexed images. Use Image › Mode › RGB first.",
                "ja": "Omamori はインデックスカラー画像を処理できません。先に［画像］›［モード］›［RGB］に変換してください。"},
    "no-drawable": {"en": "Select a layer first.", "ja": "先にレイヤーを選択してください。"},
    "group": {"en": "Omamori works on pixel layers, not layer groups: select a layer inside the group.",
              "ja": "Omamori はレイヤーグループには使えません。グループ内のレイヤーを選択してください。"},
    "not-installed": {"en": "Omamori's Python environment is not set up for GIMP. Run `omamori install gimp` "
                            "in the environment where Omamori is installed, then restart GIMP. ({detail})",
                      "ja": "GIMP 用の Omamori 環境が設定されていません。Omamori をインストールした環境で "
                            "`omamori install gimp` を実行し、GIMP を再起動してください。（{detail}）"},
    "internal": {"en": "Omamori failed unexpectedly: {detail}", "ja": "Omamori で予期しないエラーが起きました: {detail}"},
    "wrong-size": {"en": "This preset changes the image size; use “Export Protected Copy” for it.",
                   "ja": "このプリセットは画像サイズを変えます。「保護したコピーを書き出し」を使ってください。"},
    "saved": {"en": "Saved preset “{name}”.", "ja": "プリセット「{name}」を保存しました。"},
}


class PlugInError(Exception):
    """A failure with a message for the user (already in their language)."""


# ---------------------------------------------------------------- bridge to the core

_BRIDGE_MODULE = None
_BRIDGE = None
_DESCRIPTION = None


def bridge_module():
    """omamori_bridge.py beside this file (put there by `omamori install gimp`), loaded by path
    so that GIMP's sys.path stays as it was."""
    global _BRIDGE_MODULE
    if _BRIDGE_MODULE is None:
        path = os.path.join(HERE, "omamori_bridge.py")
        if not os.path.exists(path):
            raise PlugInError(tr(T["not-installed"]).format(detail=path))
        spec = importlib.util.spec_from_file_location("omamori_bridge", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _BRIDGE_MODULE = module
    return _BRIDGE_MODULE


def bridge():
    """The worker-process bridge, configured by omamori.json beside this file."""
    global _BRIDGE
    if _BRIDGE is None:
        # The worker then answers in GIMP's UI language (see language()), not only the locale's.
        os.environ.setdefault("OMAMORI_LANG", language())
        _BRIDGE = bridge_module().Bridge.from_folder(HERE, "gimp")
    return _BRIDGE


def description():
    """The core's filters (with parameter specs), presets and posting profiles; {} if unavailable."""
    global _DESCRIPTION
    if _DESCRIPTION is None:
        try:
            _DESCRIPTION = bridge().describe()
        except Exception as err:  # registration must never fail: GIMP would drop the whole plug-in
            print("omamori: {}".format(err), file=sys.stderr)
            _DESCRIPTION = {}
    return _DESCRIPTION


def filters():
    """The filters that work on a layer in place. Those of category "size" (e.g. "Limit size") change the
    canvas, which a layer cannot follow: the core skips them when processing a layer, so they only take
    effect in "Export Protected Copy"."""
    return [f for f in description().get("filters", []) if f.get("category") != "size"]


def presets():
    return description().get("presets", [])


def bridge_errors():
    """(exception classes whose message is already user-facing, the cancel exception class)."""
    try:
        module = bridge_module()
    except PlugInError:
        return (PlugInError,), ()
    return (PlugInError, module.BridgeError), module.Cancelled


# ---------------------------------------------------------------- arguments from declarations

def arg_name(name):
    """GIMP argument/procedure names allow letters, digits and dashes only."""
    return name.replace("_", "-").lower()


def param_arg(filter_name, param_name):
    """The aux-argument name of a filter parameter in the Protect dialog (e.g. noise-amount)."""
    return arg_name("{}-{}".format(filter_name, param_name))


def add_param_argument(procedure, name, spec, aux=False):
    """Adds one typed argument from a core parameter declaration (name, type, default, min, max, …)."""
    kind = spec["type"]
    label, blurb = tr(spec.get("label") or spec["name"]), tr(spec.get("help"))
    suffix = "_aux_argument" if aux else "_argument"
    add = lambda what, *args: getattr(procedure, "add_" + what + suffix)(name, label, blurb, *args, RW)  # noqa: E731
    lo, hi = spec.get("min"), spec.get("max")
    if kind == "float":
        add("double", float(-FLOAT_LIMIT if lo is None else lo), float(FLOAT_LIMIT if hi is None else hi),
            float(spec["default"]))
    elif kind == "int" and not wide_int(spec):
        add("int", int(-INT_LIMIT if lo is None else lo), int(INT_LIMIT if hi is None else hi), int(spec["default"]))
    elif kind == "int":  # beyond GIMP's 32-bit int (e.g. a 32-bit author id): a double holds it exactly
        add("double", float(lo), float(hi), float(spec["default"]))
    elif kind == "bool":
        add("boolean", bool(spec["default"]))
    elif kind == "choice" and aux:
        # GIMP 3.0.4 crashes the plug-in on choice *aux* arguments; an index shown as a combo does instead.
        add("int", 0, len(spec["choices"]) - 1, spec["choices"].index(spec["default"]))
    elif kind == "choice":
        choice = Gimp.Choice.new()
        labels = spec.get("choice_labels") or []
        for i, nick in enumerate(spec["choices"]):
            choice.add(nick, i, tr(labels[i]) if i < len(labels) else nick, "")
        add("choice", choice, spec["default"])
    elif kind == "color":
        add("color", False, Gegl.Color.new(spec["default"]))
    else:  # str, path and anything newer: a string is always accepted by the core's coercion
        add("string", "" if spec["default"] is None else str(spec["default"]))


def wide_int(spec):
    """An int whose declared range GIMP's (signed 32-bit) int arguments cannot hold."""
    lo, hi = spec.get("min"), spec.get("max")
    return (lo is not None and lo < -INT_LIMIT) or (hi is not None and hi > INT_LIMIT)


def choice_labels(spec):
    labels = spec.get("choice_labels") or []
    return [tr(labels[i]) if i < len(labels) else nick for i, nick in enumerate(spec["choices"])]


def config_value(config, name, spec):
    """A config property as the core expects it (colours as #rrggbb, choices as their nick)."""
    value = config.get_property(name)
    if spec["type"] == "choice" and isinstance(value, int):  # the dialog's index form (aux)
        return spec["choices"][value]
    if spec["type"] == "int":
        return int(round(value))
    if spec["type"] == "color":
        r, g, b, _a = value.get_rgba()
        return "#{:02x}{:02x}{:02x}".format(*(max(0, min(255, round(c * 255))) for c in (r, g, b)))
    return value


def set_config_value(config, name, spec, value):
    if spec["type"] == "choice" and isinstance(config.get_property(name), int):
        value = spec["choices"].index(value)
    elif spec["type"] == "color":
        value = Gegl.Color.new(value)
    elif spec["type"] == "float" or (spec["type"] == "int" and wide_int(spec)):
        value = float(value)
    config.set_property(name, value)


def preset_names():
    return [p["name"] for p in presets()] or [DEFAULT_PRESET]


def add_preset_index(procedure):
    """The dialogs' preset chooser: an index into preset_names() (see the choice note above)."""
    names = preset_names()
    default = names.index(DEFAULT_PRESET) if DEFAULT_PRESET in names else 0
    procedure.add_int_aux_argument("preset-index", tr(T["preset"]), tr(T["preset-help"]),
                                   0, len(names) - 1, default, RW)


def preset_combo(dialog, config):
    """Shows preset-index as a combo of preset labels, starting at the `preset` argument's value."""
    names = preset_names()
    if config.get_property("preset") in names:
        config.set_property("preset-index", names.index(config.get_property("preset")))
    labels = [tr((find_preset(n) or {}).get("label") or n) for n in names]
    dialog.get_int_combo("preset-index", int_store(labels))


def int_store(labels):
    """A GimpUi.IntStore of labels with values 0, 1, … for a combo box."""
    store = GimpUi.IntStore()
    for i, label in enumerate(labels):
        row = store.append()
        store.set_value(row, GimpUi.IntStoreColumns.VALUE, i)
        store.set_value(row, GimpUi.IntStoreColumns.LABEL, label)
    return store


def chosen_preset(config):
    """The preset picked in a dialog; also kept in `preset` so that GIMP remembers it by name."""
    name = preset_names()[config.get_property("preset-index")]
    config.set_property("preset", name)
    return name


def find_preset(name):
    for p in presets():
        if p["name"] == name:
            return p
    return None


def make_preset(name, steps, base_name=None):
    """A preset dict for the bridge: the base preset's fields (schema, export…) with new steps."""
    base = find_preset(base_name) if base_name else None
    if base is None:  # still carry the schema version the core expects
        base = {k: v for k, v in (presets()[:1] or [{}])[0].items() if k == "schema"}
    preset = dict(base, name=name, steps=steps)
    if not base_name or base_name != name:
        preset["label"] = {"en": name, "ja": name}
    return preset


# ---------------------------------------------------------------- pixels

def check_image(image, drawables):
    if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
        raise PlugInError(tr(T["indexed"]))
    if not drawables:
        raise PlugInError(tr(T["no-drawable"]))
    if any(d.is_group() for d in drawables):  # a group's pixels are its children's: nothing to write to
        raise PlugInError(tr(T["group"]))


def pixel_format(image):
    """(babl format, bridge layout) for the image's precision."""
    precision = image.get_precision().value_nick.upper()  # e.g. "U8-NON-LINEAR", "U16-PERCEPTUAL", "HALF-LINEAR"
    depth = precision.split("-")[0]
    linear = precision.endswith("-LINEAR") and not precision.endswith("NON-LINEAR")
    if depth in FORMATS and not linear:
        return FORMATS[depth]
    return FLOAT_FORMAT, FLOAT_LAYOUT


def read_pixels(drawable, fmt):
    w, h = drawable.get_width(), drawable.get_height()
    rect = Gegl.Rectangle.new(0, 0, w, h)
    return drawable.get_buffer().get(rect, 1.0, fmt, Gegl.AbyssPolicy.CLAMP), w, h


def read_mask(image, drawable):
    """The selection over the drawable's area (bytes of float32), or None without a selection.

    The core blends by it; the plug-in only fetches it."""
    if Gimp.Selection.is_empty(image):
        return None
    _ok, x, y = drawable.get_offsets()
    rect = Gegl.Rectangle.new(x, y, drawable.get_width(), drawable.get_height())
    return image.get_selection().get_buffer().get(rect, 1.0, MASK_FORMAT, Gegl.AbyssPolicy.NONE)


def write_pixels(drawable, data, fmt):
    """Writes through the shadow buffer, so the change is one undoable step."""
    w, h = drawable.get_width(), drawable.get_height()
    shadow = drawable.get_shadow_buffer()
    shadow.set(Gegl.Rectangle.new(0, 0, w, h), fmt, data)
    shadow.flush()
    drawable.merge_shadow(True)
    drawable.update(0, 0, w, h)


def progress(fraction, message=None):
    if message:
        Gimp.progress_set_text(message)
    Gimp.progress_update(max(0.0, min(1.0, fraction)))


def apply(image, drawables, preset, new_layer=False, name="Omamori"):
    """Runs the core on each drawable, then writes all results in one undo group. Nothing in the
    image changes until every result is back, so a failure or a cancel leaves it exactly as it was."""
    fmt, layout = pixel_format(image)
    Gimp.progress_init(tr(T["working"]))
    results = []
    for drawable in drawables:
        pixels, w, h = read_pixels(drawable, fmt)
        result = bridge().process(pixels, w, h, layout, preset, mask=read_mask(image, drawable),
                                  on_progress=progress)
        if len(result) != w * h * BYTES_PER_PIXEL[layout]:
            raise PlugInError(tr(T["wrong-size"]))
        results.append((drawable, result))
    image.undo_group_start()
    try:
        for drawable, result in results:
            target = drawable
            if new_layer and isinstance(drawable, Gimp.Layer):
                target = Gimp.Layer.new_from_drawable(drawable, image)
                target.set_name(name)
                image.insert_layer(target, drawable.get_parent(), image.get_item_position(drawable))
            write_pixels(target, result, fmt)
    finally:
        image.undo_group_end()
    Gimp.progress_end()


# ---------------------------------------------------------------- last-used settings (for "Save as preset")

def last_settings_path():
    return os.path.join(Gimp.directory(), "omamori-last-settings.json")


def remember(preset):
    """Keeps what was applied last, so "Save current settings as preset" saves exactly that."""
    try:
        with open(last_settings_path(), "w", encoding="utf-8") as fh:
            json.dump(preset, fh, ensure_ascii=False, indent=1)
    except OSError as err:
        print("omamori: could not remember settings: {}".format(err), file=sys.stderr)


def last_settings():
    try:
        with open(last_settings_path(), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- procedures

def result(procedure, status, message=None, values=()):
    error = GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0) if message else GLib.Error()
    ret = procedure.new_return_values(status, error)
    for i, value in enumerate(values, start=1):  # index 0 is the status
        ret.remove(i)
        ret.insert(i, GObject.Value(GObject.TYPE_STRING, value))
    return ret


def guarded(run):
    """Turns expected failures into an error status with a message, never a crash or SUCCESS."""
    def wrapper(procedure, *args):
        expected, cancelled = bridge_errors()
        try:
            return run(procedure, *args)
        except cancelled:
            return result(procedure, Gimp.PDBStatusType.CANCEL)
        except expected as err:
            return result(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, str(err))
        except Exception as err:  # a bug must not take GIMP down; keep the traceback for reports
            traceback.print_exc()
            return result(procedure, Gimp.PDBStatusType.EXECUTION_ERROR,
                          tr(T["internal"]).format(detail=err))
        finally:
            try:
                Gimp.progress_end()
            except Exception:
                pass
    return wrapper


def show_dialog(procedure, config, title, fill):
    """A GimpUi.ProcedureDialog (interactive runs only); False if the user cancelled."""
    GimpUi.init("omamori")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, title)
    fill(dialog)
    ok = dialog.run()
    dialog.destroy()
    return ok


def dialog_preset(config, base_name):
    """The preset the Protect dialog describes: the chosen preset with the steps and values edited."""
    base = find_preset(base_name) or {"steps": []}
    order = [s["filter"] for s in base.get("steps", [])]
    order += [f["name"] for f in filters() if f["name"] not in order]
    specs = {f["name"]: f for f in filters()}
    steps = []
    for name in order:
        if name in specs and config.get_property(arg_name("use-" + name)):
            params = {p["name"]: config_value(config, param_arg(name, p["name"]), p) for p in specs[name]["params"]}
            steps.append({"filter": name, "params": params})
    return make_preset(base_name, steps, base_name)


def load_preset_into_config(config, name):
    """Sets the dialog's per-filter values from a preset (called when the preset choice changes)."""
    preset = find_preset(name) or {"steps": []}
    by_filter = {s["filter"]: s.get("params", {}) for s in preset.get("steps", [])}
    for f in filters():
        config.set_property(arg_name("use-" + f["name"]), f["name"] in by_filter)
        for p in f["params"]:
            value = by_filter.get(f["name"], {}).get(p["name"], p["default"])
            try:
                set_config_value(config, param_arg(f["name"], p["name"]), p, value)
            except (TypeError, ValueError):
                pass  # a value the widget cannot show keeps the default; the core validates anyway


def fill_protect_dialog(dialog, config):
    preset_combo(dialog, config)
    config.connect("notify::preset-index",
                   lambda cfg, _pspec: load_preset_into_config(cfg, preset_names()[cfg.get_property("preset-index")]))
    initial = preset_names()[config.get_property("preset-index")]
    load_preset_into_config(config, initial)
    # Tabs: the opening preset's steps first, in its order, then the other filters.
    steps = [s["filter"] for s in (find_preset(initial) or {}).get("steps", [])]
    ordered = sorted(filters(), key=lambda f: steps.index(f["name"]) if f["name"] in steps else len(steps))
    pages, labels = [], []
    for f in ordered:
        for p in f["params"]:
            if p["type"] == "choice":
                dialog.get_int_combo(param_arg(f["name"], p["name"]), int_store(choice_labels(p)))
        box = "box-" + arg_name(f["name"])
        dialog.fill_box(box, [param_arg(f["name"], p["name"]) for p in f["params"]])
        frame = "frame-" + arg_name(f["name"])
        dialog.fill_frame(frame, arg_name("use-" + f["name"]), False, box)
        pages.append(frame)
        labels.append("label-" + arg_name(f["name"]))
        dialog.get_label(labels[-1], tr(f.get("label") or f["name"]), False, False)
    if pages:
        dialog.fill_notebook("filters", labels, pages)
    dialog.fill(["preset-index", "new-layer"] + (["filters"] if pages else []))


@guarded
def run_protect(procedure, run_mode, image, drawables, config, _data):
    check_image(image, drawables)
    preset = config.get_property("preset") or DEFAULT_PRESET
    if run_mode == Gimp.RunMode.INTERACTIVE:
        if not show_dialog(procedure, config, tr(T["protect"]).replace("_", ""),
                           lambda d: fill_protect_dialog(d, config)):
            return result(procedure, Gimp.PDBStatusType.CANCEL)
        preset = dialog_preset(config, chosen_preset(config))
    new_layer = config.get_property("new-layer")
    apply(image, drawables, preset, new_layer=new_layer,
          name="Omamori ({})".format(preset if isinstance(preset, str) else preset["name"]))
    remember(dict(preset, base=preset["name"]) if isinstance(preset, dict) else {"base": preset})
    Gimp.displays_flush()
    return result(procedure, Gimp.PDBStatusType.SUCCESS)


def make_filter_run(spec):
    """The run function of plug-in-omamori-FILTER: one filter with its typed arguments."""
    @guarded
    def run_filter(procedure, run_mode, image, drawables, config, _data):
        check_image(image, drawables)
        if run_mode == Gimp.RunMode.INTERACTIVE:
            title = tr(spec.get("label") or spec["name"])
            if not show_dialog(procedure, config, title, lambda d: d.fill(None)):
                return result(procedure, Gimp.PDBStatusType.CANCEL)
        params = {p["name"]: config_value(config, arg_name(p["name"]), p) for p in spec["params"]}
        preset = make_preset("apply-" + spec["name"], [{"filter": spec["name"], "params": params}])
        apply(image, drawables, preset, name="Omamori ({})".format(spec["name"]))
        remember(preset)
        Gimp.displays_flush()
        return result(procedure, Gimp.PDBStatusType.SUCCESS)
    return run_filter


@guarded
def run_export(procedure, run_mode, image, _drawables, config, _data):
    if run_mode == Gimp.RunMode.INTERACTIVE:
        if not show_dialog(procedure, config, tr(T["export"]).replace("_", ""),
                           lambda d: (preset_combo(d, config), d.fill(["preset-index", "file"]))):
            return result(procedure, Gimp.PDBStatusType.CANCEL)
        chosen_preset(config)
    gfile = config.get_property("file")
    if gfile is None or not gfile.get_path():
        raise PlugInError(tr(T["file-help"]))
    # A flattened duplicate: the open image, its layers and its undo history stay untouched.
    dup = image.duplicate()
    try:
        if dup.get_base_type() != Gimp.ImageBaseType.RGB:
            dup.convert_rgb()  # indexed/grey exports are fine: only the copy is converted
        layer = dup.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
        fmt, layout = pixel_format(dup)
        pixels, w, h = read_pixels(layer, fmt)
        Gimp.progress_init(tr(T["working"]))
        info = bridge().export(pixels, w, h, layout, config.get_property("preset") or DEFAULT_PRESET,
                               gfile.get_path(), on_progress=progress)
    finally:
        dup.delete()
    checklist = "\n".join(info.get("checklist", []))
    if run_mode == Gimp.RunMode.INTERACTIVE and checklist:
        Gimp.message("{}\n\n{}:\n{}".format(info.get("output", gfile.get_path()), tr(T["checklist"]), checklist))
    return result(procedure, Gimp.PDBStatusType.SUCCESS, values=[info.get("output", gfile.get_path()), checklist])


@guarded
def run_save_preset(procedure, run_mode, _image, _drawables, config, _data):
    if run_mode == Gimp.RunMode.INTERACTIVE:
        if not show_dialog(procedure, config, tr(T["save-preset"]).replace("_", ""), lambda d: d.fill(["name"])):
            return result(procedure, Gimp.PDBStatusType.CANCEL)
    name = (config.get_property("name") or "").strip()
    if not name:
        raise PlugInError(tr(T["name-help"]))
    base = config.get_property("preset")
    settings = None if base else last_settings()
    if not settings or "steps" not in settings:
        base = base or (settings or {}).get("base") or DEFAULT_PRESET
        # find_preset knows the listed presets; the bridge also resolves preset file paths.
        settings = {"base": base, "steps": (find_preset(base) or bridge().preset(base)).get("steps", [])}
    saved = bridge().save_preset(make_preset(name, settings["steps"], settings.get("base")), overwrite=True)
    if run_mode == Gimp.RunMode.INTERACTIVE:
        Gimp.message(tr(T["saved"]).format(name=name))
    return result(procedure, Gimp.PDBStatusType.SUCCESS, values=[saved.get("path", name)])


class Omamori(Gimp.PlugIn):
    """Registers Omamori's procedures; names and arguments come from the core's declarations."""

    def do_set_i18n(self, _name):
        return False  # labels come in English and Japanese from the core; see language()

    def do_query_procedures(self):
        names = [PREFIX + "protect", PREFIX + "export", PREFIX + "save-preset"]
        return names + [PREFIX + arg_name(f["name"]) for f in filters()]

    def do_create_procedure(self, name):
        Gegl.init(None)  # colour arguments need babl, which is not initialised during GIMP's query
        lang = language()
        if name == PREFIX + "protect":
            proc = self._image_procedure(name, run_protect, T["protect"], T["protect-help"])
            proc.add_string_argument("preset", tr(T["preset"]), tr(T["preset-help"]), DEFAULT_PRESET, RW)
            proc.add_boolean_argument("new-layer", tr(T["new-layer"]), tr(T["new-layer-help"]), False, RW)
            add_preset_index(proc)
            for f in filters():  # the dialog's editable copy of the chosen preset's values
                proc.add_boolean_aux_argument(arg_name("use-" + f["name"]),
                                              tr(T["use"]).format(filter=tr(f.get("label") or f["name"])),
                                              tr(f.get("help")), False, RW)
                for p in f["params"]:
                    add_param_argument(proc, param_arg(f["name"], p["name"]), p, aux=True)
        elif name == PREFIX + "export":
            proc = self._image_procedure(name, run_export, T["export"], T["export-help"])
            proc.add_string_argument("preset", tr(T["preset"]), tr(T["preset-help"]), DEFAULT_PRESET, RW)
            proc.add_file_argument("file", tr(T["file"]), tr(T["file-help"]), Gimp.FileChooserAction.SAVE,
                                   False, None, RW)
            add_preset_index(proc)
            proc.add_string_return_value("output", tr(T["output"]), "", "", RW)
            proc.add_string_return_value("checklist", tr(T["checklist"]), "", "", RW)
        elif name == PREFIX + "save-preset":
            proc = self._image_procedure(name, run_save_preset, T["save-preset"], T["save-preset-help"])
            proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.ALWAYS)
            proc.add_string_argument("name", tr(T["name"]), tr(T["name-help"]), "", RW)
            proc.add_string_argument("preset", tr(T["preset"]),
                                     tr({"en": "Preset to copy; empty: the last used settings.",
                                         "ja": "コピー元のプリセット。空欄なら最後に使った設定。"}), "", RW)
            proc.add_string_return_value("saved", tr(T["name"]), "", "", RW)
        else:
            spec = next(f for f in filters() if PREFIX + arg_name(f["name"]) == name)
            label = spec.get("label") or {"en": spec["name"], "ja": spec["name"]}
            proc = self._image_procedure(name, make_filter_run(spec),
                                         {k: v + "…" for k, v in label.items()} if isinstance(label, dict) else label,
                                         spec.get("help") or "",
                                         menu=MENU + "/" + tr(T["filters-menu"], lang))
            for p in spec["params"]:
                add_param_argument(proc, arg_name(p["name"]), p)
        return proc

    def _image_procedure(self, name, run, label, help_text, menu=MENU):
        proc = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        # "*": indexed images reach run() and get a clear message instead of a greyed-out menu entry.
        proc.set_image_types("*")
        proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE | Gimp.ProcedureSensitivityMask.DRAWABLES)
        proc.set_menu_label(tr(label))
        proc.add_menu_path(menu)
        proc.set_documentation(tr(help_text).replace("_", ""), tr(help_text), name)
        proc.set_attribution("Omamori", "Omamori contributors", "2026")
        return proc


if __name__ == "__main__":
    Gimp.main(Omamori.__gtype__, sys.argv)
