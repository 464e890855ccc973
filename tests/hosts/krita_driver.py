"""Runs inside the real Krita (`kritarunner -s krita_driver -f main`) and drives the installed plug-in.

Imports `omamori_krita` from where `omamori install krita` put it and goes through the plug-in's
own code paths: api.protect / api.export_protected (what the docker and actions call) and the
docker panel itself. Writes what it measured to $KT_DIR/out/results.json; test_krita_real.py
asserts on it. Each case records an "exception" instead of stopping the others.
"""

import array
import json
import os
import struct
import sys
import time
import traceback

KT = os.environ["KT_DIR"]
PRESET = os.environ.get("KT_PRESET", "standard")  # "light" where the cloak models are not built
OUT = os.path.join(KT, "out")
RESULTS = {}
CASES = []
SLOT_ERRORS = []  # exceptions raised inside Qt slots (the plug-in should show them inline instead)


def case(name):
    def decorator(func):
        CASES.append((name, func))
        return func
    return decorator


def samples(data, depth):
    """Channel values as numbers in Krita's order (B, G, R, A for integer depths, R, G, B, A for float)."""
    data = bytes(data)
    if depth == "U8":
        return list(data)
    if depth == "U16":
        return array.array("H", data).tolist()
    if depth == "F16":
        return list(struct.unpack("<%de" % (len(data) // 2), data))
    return array.array("f", data).tolist()


def compare(before, after, depth, columns=None, width=None):
    """Changed colour samples, alpha equality, and (optionally) per column range."""
    a, b = samples(before, depth), samples(after, depth)
    changed = total = alpha_diff = 0
    for i in range(0, len(a), 4):
        if columns is not None and (i // 4) % width not in columns:
            continue
        total += 1
        if a[i:i + 3] != b[i:i + 3]:
            changed += 1
        if a[i + 3] != b[i + 3]:
            alpha_diff += 1
    return {"changed": changed, "pixels": total, "alpha_diff": alpha_diff}


def open_doc(name):
    from krita import Krita
    doc = Krita.instance().openDocument(os.path.join(KT, name))
    assert doc is not None, name
    doc.waitForDone()
    return doc


def layers(doc):
    return [n.name() for n in doc.topLevelNodes() if n.type() == "paintlayer"]


def pixels(doc, node):
    return bytes(node.pixelData(0, 0, doc.width(), doc.height()))


def snapshot(doc):
    return [(n.name(), pixels(doc, n)) for n in doc.topLevelNodes() if n.type() == "paintlayer"]


def new_doc(depth, width=32, height=24):
    from krita import Krita
    doc = Krita.instance().createDocument(width, height, "omamori-" + depth, "RGBA", depth, "", 72.0)
    node = doc.topLevelNodes()[0]
    values = []
    for y in range(height):
        for x in range(width):
            values += [0.2 + 0.5 * x / width, 0.3 + 0.4 * y / height, 0.5, 1.0]
    fmt = {"F32": "<%df", "F16": "<%de"}[depth]
    node.setPixelData(struct.pack(fmt % len(values), *values), 0, 0, width, height)
    return doc, node


@case("environment")
def _():
    import omamori_krita
    from krita import Krita
    return {"krita": Krita.instance().version(), "python": sys.version.split()[0],
            "package": os.path.dirname(omamori_krita.__file__),
            "extensions": [type(e).__name__ for e in Krita.instance().extensions()]}


@case("new_layer_8bit")
def _():
    from omamori_krita import api
    doc = open_doc("rgba8.png")
    node = doc.topLevelNodes()[0]
    before = pixels(doc, node)
    started = time.time()
    layer = api.protect(doc, preset=PRESET, new_layer=True)
    return {"depth": doc.colorDepth(), "layers": layers(doc), "layer": layer.name(),
            "original_unchanged": pixels(doc, node) == before, "seconds": time.time() - started,
            **compare(before, pixels(doc, layer), doc.colorDepth())}


@case("this_layer_with_selection_8bit")
def _():
    from krita import Selection
    from omamori_krita import api
    doc = open_doc("rgba8.png")
    node = doc.topLevelNodes()[0]
    before = pixels(doc, node)
    selection = Selection()
    selection.select(0, 0, doc.width() // 2, doc.height(), 255)  # the left half
    doc.setSelection(selection)
    layer = api.protect(doc, preset=PRESET, new_layer=False)
    after = pixels(doc, layer)
    w = doc.width()
    return {"layers": layers(doc), "layer": layer.name(),
            "inside": compare(before, after, "U8", range(0, w // 2), w),
            "outside": compare(before, after, "U8", range(w // 2, w), w)}


@case("new_layer_16bit")
def _():
    from omamori_krita import api
    doc = open_doc("rgba16.png")
    node = doc.topLevelNodes()[0]
    before = pixels(doc, node)
    layer = api.protect(doc, preset=PRESET, new_layer=True)
    out = samples(pixels(doc, layer), "U16")
    return {"depth": doc.colorDepth(), "model": doc.colorModel(), "layers": layers(doc),
            "original_unchanged": pixels(doc, node) == before,
            # 8-bit values widened to 16 bits are multiples of 257; real 16-bit output is not.
            "not_8bit_levels": sum(1 for v in out if v % 257) / len(out),
            **compare(before, pixels(doc, layer), "U16")}


@case("float_depths")
def _():
    from omamori_krita import api
    out = {}
    for depth in ("F32", "F16"):
        doc, node = new_doc(depth)
        before = pixels(doc, node)
        layer = api.protect(doc, preset=PRESET, new_layer=True, node=node)
        out[depth] = {"depth": doc.colorDepth(), "layers": layers(doc),
                      **compare(before, pixels(doc, layer), depth)}
    return out


@case("float_export_colours")
def _():
    """A reddish picture in float documents (Krita's default linear profile), exported: the file must
    show the same red in sRGB, not blue (channel order) and not darker (linear values written as sRGB)."""
    from krita import Krita
    from omamori_krita import api
    out = {}
    for depth in ("F32", "F16"):
        doc = Krita.instance().createDocument(200, 200, "omamori-red-" + depth, "RGBA", "U8", "", 72.0)
        doc.topLevelNodes()[0].setPixelData(bytes([30, 60, 200, 255]) * (200 * 200), 0, 0, 200, 200)
        doc.setColorSpace("RGBA", depth, "")
        path = os.path.join(OUT, "krita-red-%s.png" % depth)
        if os.path.exists(path):
            os.unlink(path)
        api.export_protected(doc, path, preset=PRESET)
        exported = open_doc(path)  # an absolute path: os.path.join keeps it
        bgra = samples(exported.pixelData(100, 100, 1, 1), exported.colorDepth())
        scale = 255 / 65535 if exported.colorDepth() == "U16" else 1
        out[depth] = {"profile": doc.colorProfile(), "rgb": [round(v * scale) for v in bgra[2::-1]]}
        exported.close()
        doc.close()
    return out


def srgb_levels(doc, nodes, columns):
    """Each node's colour in `columns` as unrounded 8-bit sRGB levels, by Krita's own conversion of the
    document: a check of Omamori's transfer that does not use Omamori's formula."""
    doc.setColorSpace("RGBA", "F32", "sRGB-elle-V2-srgbtrc.icc")
    doc.waitForDone()
    found = []
    for node in nodes:
        values = samples(pixels(doc, node), "F32")
        found.append([v * 255 for i in range(0, len(values), 4) if (i // 4) % doc.width() in columns
                      for v in values[i:i + 3]])
    return found


def outside_identical(before, after, depth, columns, width):
    """Whether every pixel in `columns` kept its exact bytes (HDR values included)."""
    size = 16 if depth == "F32" else 8
    return all(before[i:i + size] == after[i:i + size]
               for i in range(0, len(before), size) if (i // size) % width in columns)


@case("float_apply_linear")
def _():
    """Apply on a layer in Krita's default linear float profile, left half selected: 8 levels of checker
    noise must be 8 sRGB levels in the dark too (the filters work on sRGB-encoded values, not linear light),
    and the right half's HDR values (above 1, below 0) must come back bit-identical."""
    from krita import Krita, Selection
    from omamori_krita import api
    preset = {"schema": 1, "name": "linear-apply", "steps": [
        {"filter": "noise", "params": {"kind": "checker", "amount": 8}}]}
    w, h = 32, 24
    inside, outside = range(0, w // 2), range(w // 2, w)
    out = {}
    for depth in ("F32", "F16"):
        doc = Krita.instance().createDocument(w, h, "omamori-linear-" + depth, "RGBA", depth, "", 72.0)
        node = doc.topLevelNodes()[0]
        dark, hdr = [0.0122, 0.0452, 0.2140, 1.0], [2.5, -0.25, 0.5, 1.0]  # dark: sRGB levels 30, 60, 128
        values = [v for i in range(w * h) for v in (dark if i % w in inside else hdr)]
        node.setPixelData(struct.pack({"F32": "<%df", "F16": "<%de"}[depth] % len(values), *values), 0, 0, w, h)
        selection = Selection()
        selection.select(0, 0, w // 2, h, 255)
        doc.setSelection(selection)
        profile = doc.colorProfile()
        before = pixels(doc, node)
        layer = api.protect(doc, preset=preset, new_layer=True, node=node)
        kept = outside_identical(before, pixels(doc, layer), depth, outside, w)
        steps = [abs(a - b) for a, b in zip(*srgb_levels(doc, (layer, node), inside))]
        out[depth] = {"profile": profile, "outside_identical": kept, "steps": [min(steps), max(steps)]}
        doc.close()
    return out


@case("unsupported_model")
def _():
    from krita import Krita
    from omamori_krita import api, strings
    doc = Krita.instance().createDocument(16, 16, "cmyk", "CMYKA", "U8", "", 72.0)
    try:
        api.protect(doc)
    except strings.Problem as problem:
        return {"refused": True, "en": problem.message("en"), "ja": problem.message("ja"), "layers": layers(doc)}
    return {"refused": False}


@case("cancel")
def _():
    from omamori_krita import api, omamori_hostkit
    doc = open_doc("rgba8.png")
    before = snapshot(doc)
    try:
        api.protect(doc, preset=PRESET, should_cancel=lambda: True)
        raised = None
    except Exception as err:  # noqa: BLE001 - the type is the result
        raised = type(err).__name__
    return {"raised": raised, "unchanged": snapshot(doc) == before,
            "cancelled_type": omamori_hostkit.Cancelled.__name__}


@case("export")
def _():
    from omamori_krita import api
    doc = open_doc("rgba8.png")
    api.protect(doc, preset=PRESET, new_layer=True)  # two layers: the export must flatten them
    before = snapshot(doc)
    path = os.path.join(OUT, "krita-export.png")
    result = api.export_protected(doc, path, preset=os.environ.get("KT_PROFILE_PRESET", "standard"))
    return {"result": result, "exists": os.path.exists(path), "unchanged": snapshot(doc) == before,
            "layers": layers(doc), "size": [doc.width(), doc.height()]}


@case("export_no_clobber")
def _():
    from omamori_krita import api
    doc = open_doc("rgba8.png")
    path = os.path.join(OUT, "krita-existing.png")
    with open(path, "wb") as handle:
        handle.write(b"the artist's file")
    try:
        api.export_protected(doc, path, preset=PRESET)
        refused = None
    except Exception as err:  # noqa: BLE001 - the message is the result
        refused = str(err)
    with open(path, "rb") as handle:
        kept = handle.read() == b"the artist's file"
    api.export_protected(doc, path, preset=PRESET, overwrite=True)
    with open(path, "rb") as handle:
        replaced = handle.read(4) == b"\x89PNG"
    return {"refused": refused, "kept": kept, "replaced_when_asked": replaced}


@case("check")
def _():
    from omamori_krita import api
    doc = open_doc("check.png")
    before = snapshot(doc)
    path = os.path.join(OUT, "krita-check-report.png")
    if os.path.exists(path):
        os.unlink(path)
    result = api.check(doc, preset=PRESET, report_path=path)
    with open(path, "rb") as handle:
        magic = handle.read(4)
    return {"result": result, "report_is_png": magic == b"\x89PNG", "unchanged": snapshot(doc) == before,
            "layers": layers(doc)}


@case("docker_check")
def _():
    from omamori_krita import host
    from omamori_krita.docker import OmamoriPanel
    panel = OmamoriPanel()
    panel.load(wait=True)
    doc = open_doc("check.png")
    host.active_document = lambda: doc
    before = snapshot(doc)
    panel.check()
    wait_for(panel, seconds=120)
    dialog = panel.report_dialog
    out = {"status": panel.status.text(), "unchanged": snapshot(doc) == before, "dialog": dialog is not None}
    if dialog is not None:
        from PyQt5.QtWidgets import QLabel
        pictures = [label.pixmap() for label in dialog.findChildren(QLabel) if label.pixmap() is not None]
        out["picture"] = [[p.width(), p.height()] for p in pictures if not p.isNull()]
        out["title"] = dialog.windowTitle()
        dialog.grab().save(os.path.join(OUT, "krita-check.png"))
    return out


@case("docker_layer_painted_meanwhile")
def _():
    """The artist paints on the layer while the docker works: the result must not cover it."""
    from omamori_krita import host
    from omamori_krita.docker import OmamoriPanel
    panel = OmamoriPanel()
    panel.load(wait=True)
    names = [panel.preset_box.itemData(i)["name"] for i in range(panel.preset_box.count())]
    panel.preset_box.setCurrentIndex(names.index(PRESET))
    out = {}
    for new_layer in (True, False):
        doc = open_doc("rgba8.png")
        host.active_document = lambda: doc
        node = doc.topLevelNodes()[0]
        panel.apply(new_layer)
        # A red dab (B, G, R, A) while the worker runs; its answer reaches the UI thread only in wait_for.
        node.setPixelData(bytes([0, 0, 255, 255]) * 16, 2, 2, 4, 4)
        painted = pixels(doc, node)
        wait_for(panel, seconds=120)
        top = doc.topLevelNodes()[-1]
        out["new_layer" if new_layer else "this_layer"] = {
            "layers": layers(doc), "kept": top.name() == node.name() and pixels(doc, top) == painted,
            "status": panel.status.text()}
    return out


def wait_for(panel, seconds=60):
    """Runs Qt's event loop until the docker's background task has finished."""
    from PyQt5.QtWidgets import QApplication
    deadline = time.time() + seconds
    while panel.task is not None and time.time() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)
    QApplication.processEvents()


def describe_widgets(panel):
    from PyQt5.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QGroupBox, QLineEdit, QSpinBox
    widgets = {}
    for (step, name), widget in panel.inputs.items():
        entry = {"class": type(widget).__name__, "object": widget.objectName()}
        if isinstance(widget, (QDoubleSpinBox, QSpinBox)):
            entry.update(value=widget.value(), min=widget.minimum(), max=widget.maximum())
        elif isinstance(widget, QCheckBox):
            entry.update(value=widget.isChecked())
        elif isinstance(widget, QComboBox):
            entry.update(value=widget.currentData(), items=[widget.itemData(i) for i in range(widget.count())])
        elif isinstance(widget, QLineEdit):
            entry.update(value=widget.text())
        widgets[f"{step}.{name}"] = entry
    groups = [box.title() for box in panel.findChildren(QGroupBox) if not box.isHidden()]  # old ones await deletion
    return widgets, groups


@case("docker")
def _():
    import glob
    from PyQt5.QtGui import QFontDatabase
    from omamori_krita import engine, host
    from omamori_krita.docker import OmamoriPanel
    # The root has no Japanese fonts (a Japanese desktop does): borrow Omamori's bundled one
    # so the screenshots show real glyphs.
    for font in glob.glob("/opt/omamori-venv/lib/python3*/site-packages/omamori/fonts/*.otf"):
        QFontDatabase.addApplicationFont(font)
    panel = OmamoriPanel()
    panel.load(wait=True)
    names = [panel.preset_box.itemData(i)["name"] for i in range(panel.preset_box.count())]
    panel.preset_box.setCurrentIndex(names.index(PRESET))
    widgets, groups = describe_widgets(panel)
    info = engine.bridge().describe()
    panel.resize(380, 900)
    panel.grab().save(os.path.join(OUT, "krita-docker.png"))
    result = {"presets": [panel.preset_box.itemData(i)["name"] for i in range(panel.preset_box.count())],
              "chosen": panel.preset_box.currentData(), "widgets": widgets, "groups": groups,
              "filters": info["filters"], "status": panel.status.text(),
              "buttons": {k: b.text() for k, b in panel.buttons.items()}}

    # The docker's own asynchronous path: worker thread, progress, commit on the UI thread.
    doc = open_doc("rgba8.png")
    host.active_document = lambda: doc  # kritarunner has no window, so no "active" document
    panel.apply(True)
    busy = not panel.buttons["apply_new"].isEnabled()
    wait_for(panel)
    result["apply"] = {"busy_while_running": busy, "layers": layers(doc), "status": panel.status.text()}

    before = snapshot(doc)
    panel.apply(True)
    panel.cancel()
    wait_for(panel)
    result["cancel"] = {"unchanged": snapshot(doc) == before, "status": panel.status.text()}

    result["run_preset_unedited"] = panel._preset_for_run()  # untouched controls: the preset's name
    # Edit a control, then "Save as preset…": the edited value is what gets saved.
    edited = None
    for (step, name), widget in panel.inputs.items():
        if type(widget).__name__ == "QDoubleSpinBox" and widget.maximum() > widget.value():
            widget.setValue(widget.maximum())
            edited = {"step": step, "name": name, "value": widget.value()}
            break
    result["edited"] = edited
    result["run_preset"] = panel._preset_for_run()
    panel.save_preset(os.environ.get("KT_SAVED_PRESET", "krita-saved"))
    wait_for(panel)
    result["save"] = {"status": panel.status.text(),
                      "presets_after": [panel.preset_box.itemData(i)["name"] for i in range(panel.preset_box.count())]}

    # Omamori's environment gone (e.g. its venv deleted): the docker says what to run, inline.
    real_here, real_bridge = engine.HERE, engine.bridge()
    engine.HERE, engine._bridge = os.path.join(KT, "nowhere"), None
    broken = OmamoriPanel()
    broken.load()
    wait_for(broken)
    result["missing_engine"] = {"status": broken.status.text(), "buttons_enabled": broken.buttons["apply_new"].isEnabled()}
    engine.HERE, engine._bridge = real_here, real_bridge

    os.environ["OMAMORI_LANG"] = "ja"
    panel_ja = OmamoriPanel()
    panel_ja.load(wait=True)
    panel_ja.preset_box.setCurrentIndex(names.index(PRESET))
    panel_ja.resize(380, 900)
    panel_ja.grab().save(os.path.join(OUT, "krita-docker-ja.png"))
    result["ja_buttons"] = {k: b.text() for k, b in panel_ja.buttons.items()}
    os.environ["OMAMORI_LANG"] = "en"
    return result


def main(args):
    import faulthandler
    # A hang must end with a stack trace in the results folder, not a silent test timeout.
    hang_log = open(os.path.join(OUT, "hang.txt"), "w")
    faulthandler.dump_traceback_later(float(os.environ.get("KT_HANG_SECONDS", "240")), exit=True, file=hang_log)
    from krita import Krita
    Krita.instance().setBatchmode(True)  # no dialogs from Krita itself
    # Krita's excepthook opens a modal dialog for errors in Qt slots, which would hang this run.
    sys.excepthook = lambda *exc: SLOT_ERRORS.append("".join(traceback.format_exception(*exc)))
    sys.path.insert(0, os.environ["KT_PYKRITA"])
    for name, func in CASES:
        started = time.time()
        try:
            RESULTS[name] = func()
        except Exception:  # noqa: BLE001 - recorded for the test to show
            RESULTS[name] = {"exception": traceback.format_exc()}
        RESULTS[name]["_seconds"] = round(time.time() - started, 2)
        RESULTS[name]["slot_errors"] = SLOT_ERRORS[:]
        SLOT_ERRORS.clear()
        with open(os.path.join(OUT, "results.json"), "w", encoding="utf-8") as handle:
            json.dump(RESULTS, handle, indent=1, default=str)
    # kritarunner can crash while tearing down Qt widgets made from Python; the results are written.
    os._exit(0)
