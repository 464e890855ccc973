"""PDB arguments made from the core's parameter declarations, and config values sent back to the core."""

import omamori_hostkit as hostkit
from gi.repository import Gegl, GObject, Gimp

from .settings import DEFAULT_PRESET
from .strings import T, tr

RW = GObject.ParamFlags.READWRITE


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
    lo, hi = hostkit.value_range(spec)
    if kind == "float" or hostkit.is_wide_int(spec):  # a double holds a wide int (a 32-bit author id) exactly
        add("double", float(lo), float(hi), float(spec["default"]))
    elif kind == "int":
        add("int", int(lo), int(hi), int(spec["default"]))
    elif kind == "bool":
        add("boolean", bool(spec["default"]))
    elif kind == "choice" and aux:
        # GIMP 3.0.4 crashes the plug-in on choice *aux* arguments; an index shown as a combo does instead.
        add("int", 0, len(spec["choices"]) - 1, spec["choices"].index(spec["default"]))
    elif kind == "choice":
        choice = Gimp.Choice.new()
        for i, (nick, nick_label) in enumerate(hostkit.choices(spec)):
            choice.add(nick, i, nick_label, "")
        add("choice", choice, spec["default"])
    elif kind == "color":
        add("color", False, Gegl.Color.new(spec["default"]))
    else:  # str, path and anything newer: a string is always accepted by the core's coercion
        add("string", "" if spec["default"] is None else str(spec["default"]))


def choice_labels(spec):
    return [label for _value, label in hostkit.choices(spec)]


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
    elif spec["type"] == "float" or hostkit.is_wide_int(spec):
        value = float(value)
    config.set_property(name, value)


def filter_params(config, spec, name_of=arg_name):
    """{parameter: value} of one filter, read from the config arguments `name_of(param)`."""
    return {p["name"]: config_value(config, name_of(p["name"]), p) for p in spec["params"]}


def add_preset_arguments(procedure, catalog):
    """`preset` (a name or path, for scripts) and `preset-index`, the dialogs' chooser: an index into
    the catalogue's preset names (see the choice note above)."""
    procedure.add_string_argument("preset", tr(T["preset"]), tr(T["preset-help"]), DEFAULT_PRESET, RW)
    procedure.add_int_aux_argument("preset-index", tr(T["preset"]), tr(T["preset-help"]),
                                   0, len(catalog.preset_names()) - 1, catalog.default_index(), RW)


def add_filter_arguments(procedure, catalog):
    """The Protect dialog's editable copy of every filter's values (aux: dialogs only)."""
    for f in catalog.filters():
        procedure.add_boolean_aux_argument(arg_name("use-" + f["name"]),
                                           tr(T["use"]).format(filter=tr(f.get("label") or f["name"])),
                                           tr(f.get("help")), False, RW)
        for p in f["params"]:
            add_param_argument(procedure, param_arg(f["name"], p["name"]), p, aux=True)
