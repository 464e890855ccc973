"""GimpUi dialogs, shown in interactive runs only (scripts get the same procedures without them)."""

import gi

gi.require_version("Gtk", "3.0")
from gi.repository import GimpUi, Gtk  # noqa: E402

from .arguments import arg_name, choice_labels, filter_params, param_arg, set_config_value  # noqa: E402
from .strings import tr  # noqa: E402


def show_dialog(procedure, config, title, fill):
    """A GimpUi.ProcedureDialog; False if the user cancelled."""
    GimpUi.init("omamori")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, title)
    fill(dialog)
    ok = dialog.run()
    dialog.destroy()
    return ok


def confirm(question):
    """A yes/no question; True only for "yes"."""
    GimpUi.init("omamori")
    dialog = Gtk.MessageDialog(message_type=Gtk.MessageType.QUESTION, buttons=Gtk.ButtonsType.YES_NO,
                               text=question)
    answer = dialog.run()
    dialog.destroy()
    return answer == Gtk.ResponseType.YES


def int_store(labels):
    """A GimpUi.IntStore of labels with values 0, 1, … for a combo box."""
    store = GimpUi.IntStore()
    for i, label in enumerate(labels):
        row = store.append()
        store.set_value(row, GimpUi.IntStoreColumns.VALUE, i)
        store.set_value(row, GimpUi.IntStoreColumns.LABEL, label)
    return store


def preset_combo(dialog, config, catalog):
    """Shows preset-index as a combo of preset labels, starting at the `preset` argument's value."""
    names = catalog.preset_names()
    if config.get_property("preset") in names:
        config.set_property("preset-index", names.index(config.get_property("preset")))
    labels = [tr((catalog.find_preset(n) or {}).get("label") or n) for n in names]
    dialog.get_int_combo("preset-index", int_store(labels))


def fill_preset_dialog(dialog, config, catalog, fields):
    """A dialog with the preset chooser first, then `fields`."""
    preset_combo(dialog, config, catalog)
    dialog.fill(["preset-index"] + list(fields))


def chosen_preset(config, catalog):
    """The preset picked in a dialog; also kept in `preset` so that GIMP remembers it by name."""
    name = catalog.preset_names()[config.get_property("preset-index")]
    config.set_property("preset", name)
    return name


def dialog_preset(config, catalog, base_name):
    """The preset the Protect dialog describes: the chosen preset with the steps and values edited."""
    base = catalog.find_preset(base_name) or {"steps": []}
    order = [s["filter"] for s in base.get("steps", [])]
    order += [f["name"] for f in catalog.filters() if f["name"] not in order]
    specs = {f["name"]: f for f in catalog.filters()}
    steps = []
    for name in order:
        if name in specs and config.get_property(arg_name("use-" + name)):
            params = filter_params(config, specs[name], lambda param, f=name: param_arg(f, param))
            steps.append({"filter": name, "params": params})
    return catalog.make_preset(base_name, steps, base_name)


def load_preset_into_config(config, catalog, name):
    """Sets the dialog's per-filter values from a preset (called when the preset choice changes)."""
    preset = catalog.find_preset(name) or {"steps": []}
    by_filter = {s["filter"]: s.get("params", {}) for s in preset.get("steps", [])}
    for f in catalog.filters():
        config.set_property(arg_name("use-" + f["name"]), f["name"] in by_filter)
        for p in f["params"]:
            value = by_filter.get(f["name"], {}).get(p["name"], p["default"])
            try:
                set_config_value(config, param_arg(f["name"], p["name"]), p, value)
            except (TypeError, ValueError):
                pass  # a value the widget cannot show keeps the default; the core validates anyway


def fill_protect_dialog(dialog, config, catalog):
    preset_combo(dialog, config, catalog)
    names = catalog.preset_names()
    config.connect("notify::preset-index",
                   lambda cfg, _pspec: load_preset_into_config(cfg, catalog, names[cfg.get_property("preset-index")]))
    initial = names[config.get_property("preset-index")]
    load_preset_into_config(config, catalog, initial)
    # Tabs: the opening preset's steps first, in its order, then the other filters.
    steps = [s["filter"] for s in (catalog.find_preset(initial) or {}).get("steps", [])]
    ordered = sorted(catalog.filters(), key=lambda f: steps.index(f["name"]) if f["name"] in steps else len(steps))
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
