"""Runs inside the real GIMP 3 (python-fu-eval batch) and drives every Omamori procedure.

Started by tests/hosts/test_gimp_real.py; all checks share one GIMP start (about 5 s), and the
facts they need go to $OMAMORI_TEST_OUT/results.json, which the test then asserts on. Nothing
here judges success: it only measures, so a failure shows the numbers that caused it.
"""

import json
import os
import time
import traceback

import gi
import numpy as np

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

OUT = os.environ["OMAMORI_TEST_OUT"]
PROFILE_PRESET = os.environ.get("OMAMORI_TEST_PROFILE_PRESET", "standard")
PRESET = "light"  # built-in and model-free: the GIMP side is under test here, not the models
SAVED_PRESET = "gimp-saved-preset"
W, H = 96, 64
PDB = Gimp.get_pdb()
RESULTS = {}
TYPES = {(Gimp.ImageBaseType.RGB, True): Gimp.ImageType.RGBA_IMAGE,
         (Gimp.ImageBaseType.RGB, False): Gimp.ImageType.RGB_IMAGE,
         (Gimp.ImageBaseType.GRAY, True): Gimp.ImageType.GRAYA_IMAGE,
         (Gimp.ImageBaseType.GRAY, False): Gimp.ImageType.GRAY_IMAGE}


def pixels(drawable):
    """Float RGBA of a drawable (lossless for every precision used here)."""
    w, h = drawable.get_width(), drawable.get_height()
    data = drawable.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, "R'G'B'A float", Gegl.AbyssPolicy.CLAMP)
    return np.frombuffer(data, np.float32).reshape(h, w, 4).copy()


def make_image(precision=Gimp.Precision.U8_NON_LINEAR, base=Gimp.ImageBaseType.RGB, alpha=True, size=(W, H)):
    """A small artwork-like image: gradients, a hard-edged pattern and varying alpha."""
    w, h = size
    image = Gimp.Image.new_with_precision(w, h, base, precision)
    layer = Gimp.Layer.new(image, "art", w, h, TYPES[(base, alpha)], 100, Gimp.LayerMode.NORMAL)
    image.insert_layer(layer, None, 0)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgba = np.stack([x / w, y / h, ((x // 8 + y // 8) % 2) * 0.6 + 0.2, 0.4 + 0.6 * x / w], -1).astype(np.float32)
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), "R'G'B'A float", rgba.tobytes())
    buffer.flush()
    layer.update(0, 0, w, h)
    return image, layer


def run(proc_name, image=None, drawables=None, **args):
    """Runs a procedure non-interactively; returns (status nick, error message, return values)."""
    proc = PDB.lookup_procedure(proc_name)
    if proc is None:
        return "missing", "no procedure " + proc_name, []
    config = proc.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    if image is not None:
        config.set_property("image", image)
        config.set_core_object_array("drawables", drawables or image.get_selected_layers() or image.get_layers())
    for key, value in args.items():
        config.set_property(key, value)
    values = proc.run(config)
    status = values.index(0)
    extra = [values.index(i) for i in range(1, values.length())]
    error = PDB.get_last_error() if status != Gimp.PDBStatusType.SUCCESS else ""
    return status.value_nick, error, [v if isinstance(v, (str, int, float, bool)) else str(v) for v in extra]


def diff_stats(before, after, region=None):
    """Largest and mean change of colour and alpha, optionally within a boolean region."""
    d = np.abs(after - before)
    if region is not None:
        d = d[region]
    else:
        d = d.reshape(-1, 4)
    if d.size == 0:
        return {"max_rgb": 0.0, "mean_rgb": 0.0, "max_alpha": 0.0, "changed": 0.0}
    return {"max_rgb": float(d[:, :3].max()), "mean_rgb": float(d[:, :3].mean()),
            "max_alpha": float(d[:, 3].max()), "changed": float((d[:, :3].max(axis=1) > 1e-6).mean())}


def case(name):
    """Records a case's measurements, its time, or the exception it raised."""
    def decorator(func):
        started = time.time()
        try:
            RESULTS[name] = func()
        except Exception:
            RESULTS[name] = {"exception": traceback.format_exc()}
        RESULTS[name]["seconds"] = round(time.time() - started, 2)
        return func
    return decorator


def protect_case(precision, base=Gimp.ImageBaseType.RGB, alpha=True, proc="plug-in-omamori-protect", **args):
    image, layer = make_image(precision, base, alpha)
    before = pixels(layer)
    status, error, _ = run(proc, image, [layer], **args)
    after = pixels(image.get_layers()[-1])
    result = {"status": status, "error": error, "layers": len(image.get_layers()), **diff_stats(before, after)}
    image.delete()
    return result


@case("procedures")
def _():
    names = PDB.query_procedures("plug-in-omamori-.*", ".*", ".*", ".*", ".*", ".*", ".*", ".*")
    menus = {n: list(PDB.lookup_procedure(n).get_menu_paths()) for n in names}
    return {"names": sorted(names), "menus": menus}


@case("protect_rgba8")
def _():
    return protect_case(Gimp.Precision.U8_NON_LINEAR, preset=PRESET)


@case("protect_rgba16")
def _():
    return protect_case(Gimp.Precision.U16_NON_LINEAR, preset=PRESET)


@case("protect_float")
def _():
    return protect_case(Gimp.Precision.FLOAT_LINEAR, preset=PRESET)


@case("protect_grey")
def _():
    return protect_case(Gimp.Precision.U8_NON_LINEAR, Gimp.ImageBaseType.GRAY, alpha=False, preset=PRESET)


@case("guard_budget_8bit")
def _():
    return protect_case(Gimp.Precision.U8_NON_LINEAR, proc="plug-in-omamori-guard", epsilon=4)


@case("guard_budget_16bit")
def _():
    return protect_case(Gimp.Precision.U16_NON_LINEAR, proc="plug-in-omamori-guard", epsilon=4)


@case("noise_budget_8bit")
def _():
    # noise "uniform": `amount` is the peak change in 8-bit levels (a budget needing no model).
    return protect_case(Gimp.Precision.U8_NON_LINEAR, proc="plug-in-omamori-noise", kind="uniform", amount=3.0)


@case("selection")
def _():
    image, layer = make_image()
    image.select_rectangle(Gimp.ChannelOps.REPLACE, 0, 0, W // 2, H)
    before = pixels(layer)
    status, error, _ = run("plug-in-omamori-protect", image, [layer], preset=PRESET)
    after = pixels(layer)
    inside = np.zeros((H, W), bool)
    inside[:, :W // 2] = True
    result = {"status": status, "error": error, "inside": diff_stats(before, after, inside),
              "outside": diff_stats(before, after, ~inside)}
    image.delete()
    return result


@case("new_layer")
def _():
    image, layer = make_image()
    before = pixels(layer)
    status, error, _ = run("plug-in-omamori-protect", image, [layer], preset=PRESET, **{"new-layer": True})
    layers = image.get_layers()
    result = {"status": status, "error": error, "layers": [item.get_name() for item in layers],
              "original": diff_stats(before, pixels(layer)), "new": diff_stats(before, pixels(layers[0]))}
    image.delete()
    return result


@case("indexed")
def _():
    image, layer = make_image(alpha=False)
    image.convert_indexed(Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16, False, False, "")
    layer = image.get_layers()[0]
    before = pixels(layer)
    status, error, _ = run("plug-in-omamori-protect", image, [layer], preset=PRESET)
    result = {"status": status, "error": error, "unchanged": diff_stats(before, pixels(layer))}
    image.delete()
    return result


@case("group")
def _():
    image, layer = make_image()
    group = Gimp.GroupLayer.new(image, "group")
    image.insert_layer(group, None, 0)
    image.reorder_item(layer, group, 0)
    before = pixels(layer)
    status, error, _ = run("plug-in-omamori-protect", image, [group], preset=PRESET)
    result = {"status": status, "error": error, "unchanged": diff_stats(before, pixels(layer))}
    image.delete()
    return result


@case("two_layers")
def _():
    # Two selected layers: both protected by one call (one undo group, see test_gimp_adapter).
    image, layer = make_image()
    second = Gimp.Layer.new_from_drawable(layer, image)
    image.insert_layer(second, None, 0)
    before = pixels(layer)
    status, error, _ = run("plug-in-omamori-protect", image, [second, layer], preset=PRESET)
    result = {"status": status, "error": error, "first": diff_stats(before, pixels(second)),
              "second": diff_stats(before, pixels(layer))}
    image.delete()
    return result


@case("bad_preset")
def _():
    # An error from the core must come back as an error status with its message, image untouched.
    return protect_case(Gimp.Precision.U8_NON_LINEAR, preset="no-such-preset-xyz")


@case("filters")
def _():
    out = {}
    for name in sorted(RESULTS["procedures"]["names"]):
        if name.split("plug-in-omamori-")[1] in ("protect", "export", "save-preset", "check"):
            continue
        started = time.time()
        out[name] = protect_case(Gimp.Precision.U8_NON_LINEAR, proc=name)
        out[name]["seconds"] = round(time.time() - started, 2)
    return out


def export_case(preset, filename, **args):
    image, layer = make_image()
    extra = Gimp.Layer.new(image, "top", W // 2, H // 2, Gimp.ImageType.RGBA_IMAGE, 50, Gimp.LayerMode.NORMAL)
    image.insert_layer(extra, None, 0)
    extra.fill(Gimp.FillType.WHITE)
    before = pixels(layer)
    path = os.path.join(OUT, filename)
    status, error, values = run("plug-in-omamori-export", image, None, preset=preset, file=Gio.File.new_for_path(path),
                                **args)
    result = {"status": status, "error": error, "values": values, "path": path, "exists": os.path.exists(path),
              "layers_after": len(image.get_layers()), "unchanged": diff_stats(before, pixels(layer)),
              "images_open": len(Gimp.get_images())}
    image.delete()
    return result


@case("export")
def _():
    return export_case(PRESET, "exported.png")


@case("export_profile")
def _():
    return export_case(PROFILE_PRESET, "exported-profile.png")


def export_over_existing(filename, **args):
    """Exports onto a file that is already there; records whether its bytes survived."""
    path = os.path.join(OUT, filename)
    with open(path, "wb") as fh:
        fh.write(b"an artist's existing file")
    result = export_case(PRESET, filename, **args)
    with open(path, "rb") as fh:
        result["kept"] = fh.read() == b"an artist's existing file"
    return result


@case("export_existing")
def _():
    return export_over_existing("existing.png")  # overwrite defaults to FALSE


@case("export_overwrite")
def _():
    return export_over_existing("replaced.png", overwrite=True)


@case("check")
def _():
    # Measures on a copy: the image stays as it was and, headless, no report view opens. 128x96: evaluate
    # measures pictures from 85 px a side (its generic posting shrinks them 0.75x).
    image, layer = make_image(size=(128, 96))
    before, open_before = pixels(layer), len(Gimp.get_images())
    status, error, values = run("plug-in-omamori-check", image, [layer], preset=PRESET)
    result = {"status": status, "error": error, "values": values, "unchanged": diff_stats(before, pixels(layer)),
              "images_opened": len(Gimp.get_images()) - open_before, "original": os.path.join(OUT, "checked.png")}
    # The same picture as a file, for `omamori evaluate` to measure beside it (test_gimp_real).
    Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(result["original"]), None)
    image.delete()
    return result


@case("save_preset")
def _():
    image, layer = make_image()
    run("plug-in-omamori-noise", image, [layer], amount=3.0)  # the settings "Save as preset" saves
    status, error, values = run("plug-in-omamori-save-preset", image, None, name=SAVED_PRESET)
    reuse = protect_case(Gimp.Precision.U8_NON_LINEAR, preset=SAVED_PRESET)
    image.delete()
    return {"status": status, "error": error, "values": values, "reuse": reuse}


@case("undo")
def _():
    # GIMP 3's PDB has no "undo" call; what a plug-in controls is that its group is closed.
    # GIMP warns ("left image undo in inconsistent state") if not; test_gimp_real checks stderr.
    image, layer = make_image()
    run("plug-in-omamori-protect", image, [layer], preset=PRESET)
    result = {"undo_enabled": image.undo_is_enabled()}
    image.delete()
    return result


with open(os.path.join(OUT, "results.json"), "w") as fh:
    json.dump(RESULTS, fh, indent=1, default=str)
