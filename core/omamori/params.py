"""Parameter declarations: declared once per filter, they drive CLI flags, preset
validation, GIMP procedure arguments and Krita widgets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ParamError
from .i18n import Text

TYPES = ("float", "int", "bool", "choice", "str", "color", "path")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# How a type is named to users: `--set` values and preset fields (the English is the type's own name).
TYPE_NAMES = {
    "float": Text("float", "数値"), "int": Text("int", "整数"), "bool": Text("bool", "オン・オフの値（true / false）"),
    "choice": Text("choice", "選択肢"), "str": Text("str", "文字列"), "color": Text("color", "色（#rrggbb）"),
    "path": Text("path", "ファイルのパス"),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One typed, ranged, labelled parameter of a filter."""

    name: str
    type: str
    default: Any
    label: Text
    help: Text
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    choice_labels: tuple[Text, ...] = field(default=())

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"unknown parameter type {self.type!r} for {self.name}")
        # A bad default is a programming error: fail at import. The coerced value is kept, so a default
        # declared as "false" or "3" reaches the filter as the same False or 3 that --set would give.
        object.__setattr__(self, "default", self.coerce(self.default))

    def coerce(self, value: Any) -> Any:
        """Returns `value` as this parameter's type, or raises ParamError naming it."""
        try:
            converted = _CONVERT[self.type](self, value)
        except (TypeError, ValueError):
            raise ParamError(
                Text("{name}: {value!r} is not a valid {type}.", "{name}: {value!r} は{type}として無効です。"),
                name=self.name, value=value, type=TYPE_NAMES[self.type]) from None
        self._check_range(converted)
        return converted

    def _check_range(self, value: Any) -> None:
        if self.type in ("float", "int"):
            if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
                raise ParamError(
                    Text("{name}: {value} is outside {lo}–{hi}.", "{name}: {value} は範囲 {lo}〜{hi} の外です。"),
                    name=self.name, value=value, lo=self.min, hi=self.max)
        elif self.type == "choice" and value not in self.choices:
            raise ParamError(
                Text("{name}: {value!r} is not one of {choices}.", "{name}: {value!r} は {choices} のいずれでもありません。"),
                name=self.name, value=value, choices=", ".join(self.choices))

    def as_dict(self) -> dict:
        """A JSON-ready description, for editors and `omamori filters --json`."""
        return {
            "name": self.name, "type": self.type, "default": self.default,
            "min": self.min, "max": self.max, "choices": list(self.choices),
            "choice_labels": [t.as_dict() for t in self.choice_labels],
            "label": self.label.as_dict(), "help": self.help.as_dict(),
        }


def _to_bool(_param: Param, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def _to_int(_param: Param, value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    number = float(value)
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


def _to_float(_param: Param, value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(value)
    return number


def _to_color(_param: Param, value: Any) -> str:
    text = str(value).strip()
    if not _COLOR.match(text):
        raise ValueError(value)
    return text.lower()


def _to_str(_param: Param, value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise TypeError(value)
    return str(value)


_CONVERT = {
    "float": _to_float, "int": _to_int, "bool": _to_bool,
    "choice": _to_str, "str": _to_str, "path": _to_str, "color": _to_color,
}


def resolve(params: tuple[Param, ...], values: dict, where: str | Text = "") -> dict:
    """Validates `values` against `params` and fills defaults.

    Unknown keys are an error, never silently ignored; `where` prefixes messages
    (e.g. the preset file and step) so users know what to fix."""
    known = {p.name: p for p in params}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParamError(
            Text("{where}unknown parameter(s): {names}; known: {known}.",
                 "{where}不明なパラメータ: {names}（使えるもの: {known}）。"),
            where=where, names=", ".join(unknown), known=", ".join(known))
    resolved = {}
    for name, param in known.items():
        try:
            resolved[name] = param.coerce(values[name]) if name in values else param.default
        except ParamError as err:
            # `where` is a value, not part of the template: a file name may hold braces.
            raise type(err)(Text("{_where}" + err.text.en, "{_where}" + err.text.ja), _where=where,
                            **err.values) from None
    return resolved
