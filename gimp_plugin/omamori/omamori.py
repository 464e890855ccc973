#!/usr/bin/env python3
"""Omamori for GIMP 3: protect artwork against AI training and image-to-image reuse.

This file is the GIMP plug-in exactly as GIMP loads it (folder and script share the name): it
declares the procedures and runs them. GIMP starts it as a script, so this folder is first on
sys.path and the helpers in omamori_gimp/ import like GIMP's own plug-ins import theirs. All image
work happens in Omamori's own Python environment, reached through ``omamori_bridge`` (copied here by
``omamori install gimp`` with the host kit ``omamori_hostkit`` and ``omamori.json``), so GIMP's Python
needs nothing extra.
"""

import functools
import json
import os
import sys
import traceback

import gi
import omamori_hostkit as hostkit

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, GLib, GObject, Gimp  # noqa: E402

from omamori_gimp import dialogs, host  # noqa: E402
from omamori_gimp.arguments import (RW, add_filter_arguments, add_param_argument, add_preset_arguments,  # noqa: E402
                                    arg_name, filter_params)
from omamori_gimp.engine import Engine  # noqa: E402
from omamori_gimp.settings import DEFAULT_PRESET, LastUsed  # noqa: E402
from omamori_gimp.strings import T, PlugInError, say, tr  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "plug-in-omamori-"
MENU = "<Image>/Filters/Omamori"
INTERACTIVE = Gimp.RunMode.INTERACTIVE


def result(procedure, status, message=None, values=()):
    error = GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0) if message else GLib.Error()
    ret = procedure.new_return_values(status, error)
    for i, value in enumerate(values, start=1):  # index 0 is the status
        ret.remove(i)
        ret.insert(i, GObject.Value(GObject.TYPE_STRING, value))
    return ret


def cancelled(procedure):
    return result(procedure, Gimp.PDBStatusType.CANCEL)


def guarded(run):
    """Turns failures into an error status with one line (the kit's classification), never a crash or SUCCESS."""
    @functools.wraps(run)
    def wrapper(procedure, *args, **options):
        try:
            return run(procedure, *args, **options)
        except Exception as err:
            kind = hostkit.error_kind(err)
            if kind == hostkit.CANCELLED:
                return cancelled(procedure)
            if kind == hostkit.UNEXPECTED:  # a bug must not take GIMP down; keep the traceback for reports
                traceback.print_exc()
            return result(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, hostkit.describe_error(err))
        finally:
            try:
                Gimp.progress_end()
            except Exception:
                pass
    return wrapper


def title(key):
    return tr(T[key]).replace("_", "")


@guarded
def run_protect(procedure, run_mode, image, drawables, config, _data, *, engine):
    host.check_image(image, drawables)
    catalog = engine.catalog()
    preset = config.get_property("preset") or DEFAULT_PRESET
    if run_mode == INTERACTIVE:
        if not dialogs.show_dialog(procedure, config, title("protect"),
                                   lambda d: dialogs.fill_protect_dialog(d, config, catalog)):
            return cancelled(procedure)
        preset = dialogs.dialog_preset(config, catalog, dialogs.chosen_preset(config, catalog))
    name = preset if isinstance(preset, str) else preset["name"]
    host.apply(image, drawables, engine.bridge(), preset, new_layer=config.get_property("new-layer"),
               name="Omamori ({})".format(name))
    LastUsed(Gimp.directory()).remember(dict(preset, base=name) if isinstance(preset, dict) else {"base": name})
    Gimp.displays_flush()
    return result(procedure, Gimp.PDBStatusType.SUCCESS)


@guarded
def run_filter(procedure, run_mode, image, drawables, config, _data, *, engine, spec):
    """plug-in-omamori-FILTER: one filter with its typed arguments."""
    host.check_image(image, drawables)
    if run_mode == INTERACTIVE:
        if not dialogs.show_dialog(procedure, config, tr(spec.get("label") or spec["name"]), lambda d: d.fill(None)):
            return cancelled(procedure)
    steps = [{"filter": spec["name"], "params": filter_params(config, spec)}]
    preset = engine.catalog().make_preset("apply-" + spec["name"], steps)
    host.apply(image, drawables, engine.bridge(), preset, name="Omamori ({})".format(spec["name"]))
    LastUsed(Gimp.directory()).remember(preset)
    Gimp.displays_flush()
    return result(procedure, Gimp.PDBStatusType.SUCCESS)


@guarded
def run_export(procedure, run_mode, image, _drawables, config, _data, *, engine):
    if run_mode == INTERACTIVE:
        catalog = engine.catalog()
        if not dialogs.show_dialog(procedure, config, title("export"),
                                   lambda d: dialogs.fill_preset_dialog(d, config, catalog, ["file"])):
            return cancelled(procedure)
        dialogs.chosen_preset(config, catalog)
    gfile = config.get_property("file")
    if gfile is None or not gfile.get_path():
        raise PlugInError("file-help")
    path = gfile.get_path()
    overwrite = bool(config.get_property("overwrite"))
    # Checked before any pixel work; the worker checks again when it writes (no-clobber, atomic).
    if os.path.lexists(path) and not overwrite:
        if run_mode != INTERACTIVE:
            raise PlugInError("exists", path=path)
        if not dialogs.confirm(say("replace", path=path)):
            return cancelled(procedure)
        overwrite = True
    info = host.export_copy(image, engine.bridge(), config.get_property("preset") or DEFAULT_PRESET, path, overwrite)
    output, checklist = info.get("output", path), "\n".join(info.get("checklist", []))
    if run_mode == INTERACTIVE and checklist:
        Gimp.message("{}\n\n{}:\n{}".format(output, tr(T["checklist"]), checklist))
    return result(procedure, Gimp.PDBStatusType.SUCCESS, values=[output, checklist])


@guarded
def run_save_preset(procedure, run_mode, _image, _drawables, config, _data, *, engine):
    if run_mode == INTERACTIVE:
        if not dialogs.show_dialog(procedure, config, title("save-preset"), lambda d: d.fill(["name"])):
            return cancelled(procedure)
    name = (config.get_property("name") or "").strip()
    if not name:
        raise PlugInError("name-help")
    catalog, base = engine.catalog(), config.get_property("preset")
    settings = None if base else LastUsed(Gimp.directory()).load()
    if not settings or "steps" not in settings:
        base = base or (settings or {}).get("base") or DEFAULT_PRESET
        # The catalogue knows the listed presets; the worker also resolves preset file paths.
        settings = {"base": base, "steps": (catalog.find_preset(base) or engine.bridge().preset(base)).get("steps", [])}
    preset = catalog.make_preset(name, settings["steps"], settings.get("base"))
    saved = engine.bridge().save_preset(preset, overwrite=True)
    if run_mode == INTERACTIVE:
        Gimp.message(say("saved", name=name))
    return result(procedure, Gimp.PDBStatusType.SUCCESS, values=[saved.get("path", name)])


@guarded
def run_check(procedure, run_mode, image, drawables, config, _data, *, engine):
    """Measures the preset on a copy of the (first selected) layer; returns the figures as JSON."""
    host.check_image(image, drawables)
    if run_mode == INTERACTIVE:
        catalog = engine.catalog()
        if not dialogs.show_dialog(procedure, config, title("check"),
                                   lambda d: dialogs.fill_preset_dialog(d, config, catalog, [])):
            return cancelled(procedure)
        dialogs.chosen_preset(config, catalog)
    answer = host.check_layer(image, drawables[0], engine.bridge(), config.get_property("preset") or DEFAULT_PRESET)
    report = answer.get("report_png")
    try:
        if run_mode == INTERACTIVE and report:  # headless runs only return the figures
            host.show_picture(report)
    finally:
        if report and os.path.exists(report):  # a temporary file of this call's own
            os.remove(report)
    return result(procedure, Gimp.PDBStatusType.SUCCESS, values=[json.dumps(answer["result"], ensure_ascii=False)])


class Omamori(Gimp.PlugIn):
    """Registers Omamori's procedures; names and arguments come from the core's declarations."""

    def engine(self):
        # GIMP makes one plug-in object per plug-in process: the worker link and catalogue live with it.
        if getattr(self, "_engine", None) is None:
            self._engine = Engine(HERE)
        return self._engine

    def do_set_i18n(self, _name):
        return False  # labels come in English and Japanese from the core; see strings.language()

    def do_query_procedures(self):
        names = [PREFIX + "protect", PREFIX + "export", PREFIX + "save-preset", PREFIX + "check"]
        return names + [PREFIX + arg_name(f["name"]) for f in self.engine().catalog().filters()]

    def do_create_procedure(self, name):
        Gegl.init(None)  # colour arguments need babl, which is not initialised during GIMP's query
        catalog = self.engine().catalog()
        bind = functools.partial(functools.partial, engine=self.engine())
        if name == PREFIX + "protect":
            proc = self._image_procedure(name, bind(run_protect), "protect")
            add_preset_arguments(proc, catalog)
            proc.add_boolean_argument("new-layer", tr(T["new-layer"]), tr(T["new-layer-help"]), False, RW)
            add_filter_arguments(proc, catalog)
        elif name == PREFIX + "export":
            proc = self._image_procedure(name, bind(run_export), "export")
            add_preset_arguments(proc, catalog)
            proc.add_file_argument("file", tr(T["file"]), tr(T["file-help"]), Gimp.FileChooserAction.SAVE,
                                   False, None, RW)
            proc.add_boolean_argument("overwrite", tr(T["overwrite"]), tr(T["overwrite-help"]), False, RW)
            proc.add_string_return_value("output", tr(T["output"]), "", "", RW)
            proc.add_string_return_value("checklist", tr(T["checklist"]), "", "", RW)
        elif name == PREFIX + "save-preset":
            proc = self._image_procedure(name, bind(run_save_preset), "save-preset")
            proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.ALWAYS)
            proc.add_string_argument("name", tr(T["name"]), tr(T["name-help"]), "", RW)
            proc.add_string_argument("preset", tr(T["preset"]), tr(T["base-preset-help"]), "", RW)
            proc.add_string_return_value("saved", tr(T["name"]), "", "", RW)
        elif name == PREFIX + "check":
            proc = self._image_procedure(name, bind(run_check), "check")
            add_preset_arguments(proc, catalog)
            proc.add_string_return_value("result-json", tr(T["result-json"]), "", "", RW)
        else:
            spec = next(f for f in catalog.filters() if PREFIX + arg_name(f["name"]) == name)
            label = tr(spec.get("label") or spec["name"]) + "…"
            proc = self._image_procedure(name, bind(run_filter, spec=spec), label, spec.get("help") or "",
                                         menu=MENU + "/" + tr(T["filters-menu"]))
            for p in spec["params"]:
                add_param_argument(proc, arg_name(p["name"]), p)
        return proc

    def _image_procedure(self, name, run, key, help_text=None, menu=MENU):
        """A procedure on the image's drawables, labelled by a key of strings.T or by a label and help text."""
        label = tr(T[key]) if help_text is None else key
        help_text = T[key + "-help"] if help_text is None else help_text
        proc = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        # "*": indexed images reach run() and get a clear message instead of a greyed-out menu entry.
        proc.set_image_types("*")
        proc.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE | Gimp.ProcedureSensitivityMask.DRAWABLES)
        proc.set_menu_label(label)
        proc.add_menu_path(menu)
        proc.set_documentation(tr(help_text).replace("_", ""), tr(help_text), name)
        proc.set_attribution("Omamori", "Omamori contributors", "2026")
        return proc


if __name__ == "__main__":
    Gimp.main(Omamori.__gtype__, sys.argv)
