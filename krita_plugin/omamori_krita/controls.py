"""Widget descriptions generated from the core's parameter declarations.

Pure data (no Qt) so that unit tests can check that every declared type, range and
default reaches the docker; docker.py only turns a `Control` into a Qt widget.
Ranges and defaults live in the declaration, never here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from . import omamori_hostkit as hostkit
from .strings import language, text

WIDGETS = {"float": "double", "int": "int", "bool": "check", "choice": "combo",
           "str": "line", "path": "line", "color": "color"}


@dataclass(frozen=True)
class Control:
    step: int            # index of the preset step the parameter belongs to
    name: str
    type: str            # the declared type (values go back to the core as this type)
    widget: str          # one of WIDGETS' values
    label: str
    tooltip: str
    value: Any           # the preset's value, else the declared default
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    decimals: int = 0
    single_step: float = 1.0
    choices: tuple = ()  # (value, label) pairs for combo boxes


def controls_for(preset: dict, filters: dict, lang: Optional[str] = None) -> list:
    """One Control per declared parameter of each of the preset's steps."""
    out = []
    for index, step in enumerate(preset.get("steps", [])):
        spec = filters.get(step.get("filter"), {})
        values = step.get("params", {})
        for param in spec.get("params", []):
            out.append(control_for(index, param, values.get(param["name"], param.get("default")), lang))
    return out


def control_for(step: int, param: dict, value: Any, lang: Optional[str] = None) -> Control:
    kind = WIDGETS.get(param.get("type"), "line")
    common = dict(step=step, name=param["name"], type=param.get("type", "str"), widget=kind,
                  label=text(param.get("label") or param["name"], lang), tooltip=text(param.get("help"), lang),
                  value=value)
    if kind in ("double", "int"):
        lo, hi = hostkit.value_range(param)
        if kind == "int" and not hostkit.is_wide_int(param):
            return Control(minimum=int(lo), maximum=int(hi), **common)
        if kind == "int":  # wider than QSpinBox (e.g. a 32-bit author id): a 0-decimal box
            common["widget"] = "double"
            return Control(minimum=float(lo), maximum=float(hi), decimals=0, **common)
        span = hi - lo if abs(hi - lo) < hostkit.OPEN_RANGE else 100.0
        decimals = 3 if span <= 1 else 2
        return Control(minimum=float(lo), maximum=float(hi), decimals=decimals,
                       single_step=round(span / 100.0, decimals) or 10 ** -decimals, **common)
    if kind == "combo":
        return Control(choices=tuple(hostkit.choices(param, lang or language())), **common)
    return Control(**common)


def typed(control: Control, value):
    """A widget's value as the declared type (a 0-decimal spin box gives floats for ints)."""
    return int(round(value)) if control.type == "int" else value


def edited_preset(preset: dict, values: dict, name: Optional[str] = None) -> dict:
    """A copy of `preset` with `values[(step, param)]` applied (the docker's current state), named `name`."""
    steps = []
    for index, step in enumerate(preset.get("steps", [])):
        params = dict(step.get("params", {}))
        params.update({param: value for (i, param), value in values.items() if i == index})
        steps.append({**step, "params": params})
    return hostkit.new_preset(preset, name, steps)
