"""The per-user folder, and the checks shared by every versioned JSON file in it
(presets and posting profiles): bounded reading, schema version, known keys,
bilingual text."""

from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from . import containers
from .errors import InputError, PresetError
from .i18n import Text

SCHEMA_VERSION = 1
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # also a safe file name on every system
# Bounds for hostile or broken files: a real preset is a few kilobytes, a few levels deep.
MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 16
MAX_STRING = 10_000  # characters
MAX_ITEMS = 1_000  # entries in one list or object
MAX_INTEGER = 2**53  # beyond this JSON readers disagree on the value


def omamori_home() -> Path:
    """The one per-user folder GIMP, Krita and the CLI share (OMAMORI_HOME overrides)."""
    override = os.environ.get("OMAMORI_HOME")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "Omamori"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Omamori"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "omamori"


def read_json(path: Path) -> dict:
    """A JSON object from `path`, or a PresetError naming the file and the line (or
    the field, when a bound is crossed)."""
    try:
        raw = containers.read_file(path, MAX_FILE_BYTES)
    except InputError as err:
        raise PresetError(err.text, **err.values) from None
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_no_constant, parse_int=_integer)
    except UnicodeDecodeError as err:
        raise PresetError(Text("{where}: cannot read ({why}).", "{where}: 読み込めません（{why}）。"),
                          where=path, why=err) from None
    except json.JSONDecodeError as err:
        raise PresetError(Text("{where}: not valid JSON (line {line}: {why}).",
                               "{where}: JSON として不正です（{line} 行目: {why}）。"),
                          where=path, line=err.lineno, why=err.msg) from None
    except (ValueError, RecursionError) as err:  # a huge integer, NaN, or nesting past the parser's stack
        raise fail(str(path), "", Text("{why}.", "{why}。"), why=_reason(err)) from None
    check_bounds(data, str(path))
    return expect(data, dict, str(path), "")


class _Refused(ValueError):
    """A value the JSON reader refuses, with the reason in both languages."""

    def __init__(self, reason: Text):
        super().__init__(reason.en)
        self.reason = reason


def _no_constant(name: str):
    raise _Refused(Text(f"{name} is not a number JSON allows", f"{name} は JSON で使える数値ではありません"))


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 16:
        raise _Refused(Text(f"the integer {text[:20]}… is too long", f"整数 {text[:20]}… が長すぎます"))
    return int(text)


def _reason(err: Exception) -> Text | str:
    if isinstance(err, RecursionError):
        return Text(f"nested deeper than {MAX_DEPTH} levels", f"{MAX_DEPTH} 階層より深く入れ子になっています")
    if isinstance(err, _Refused):
        return err.reason
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def check_bounds(value: Any, where: str, field: str = "", depth: int = 0) -> None:
    """Refuses nesting, sizes and numbers no preset or profile needs, naming the field."""
    if depth > MAX_DEPTH:
        raise fail(where, field, Text("nested deeper than {n} levels.", "{n} 階層より深く入れ子になっています。"),
                   n=MAX_DEPTH)
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise fail(where, field, Text("text longer than {n} characters.", "{n} 文字を超える文字列です。"), n=MAX_STRING)
    if isinstance(value, float) and not math.isfinite(value) or \
            isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
        raise fail(where, field, Text("{value} is not a usable number.", "{value} は使える数値ではありません。"),
                   value=value)
    if isinstance(value, (list, dict)) and len(value) > MAX_ITEMS:
        raise fail(where, field, Text("more than {n} entries.", "{n} 個を超える項目があります。"), n=MAX_ITEMS)
    if isinstance(value, dict):
        for key, item in value.items():
            check_bounds(key, where, field)
            check_bounds(item, where, f"{field}.{key}" if field else str(key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_bounds(item, where, f"{field}[{index}]", depth + 1)


TOP_LEVEL = Text("(top level)", "（最上位）")


def fail(where: str | Text, field: str, problem: Text, **values) -> PresetError:
    """A PresetError that names the file (and step) and the field."""
    return PresetError(Text("{where}: {field}: " + problem.en, "{where}: {field}: " + problem.ja),
                       where=where, field=field or TOP_LEVEL, **values)


def expect(value: Any, kind: type | tuple, where: str, field: str) -> Any:
    """`value` if it has JSON type `kind` (bool is never a number here)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        named = [_JSON_NAMES.get(k) or Text(k.__name__, k.__name__) for k in kinds]
        names = Text(" or ".join(n.en for n in named), "または".join(n.ja for n in named))
        raise fail(where, field, Text("expected {want}, got {got!r}.", "{want}が必要です（{got!r}）。"),
                   want=names, got=value)
    return value


_JSON_NAMES = {dict: Text("an object", "オブジェクト"), list: Text("a list", "リスト"),
               str: Text("a string", "文字列"), int: Text("an integer", "整数"), float: Text("a number", "数値"),
               bool: Text("true/false", "true/false の値")}


def check_keys(data: dict, known: tuple[str, ...], where: str, field: str = "") -> None:
    """Unknown keys are an error: a typo must never be silently ignored."""
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise fail(where, field, Text("unknown key(s) {names}; known: {known}.",
                                      "不明なキー {names}（使えるもの: {known}）。"),
                   names=", ".join(unknown), known=", ".join(known))


def check_schema(data: dict, where: str) -> None:
    schema = expect(data.get("schema"), int, where, "schema")
    if schema > SCHEMA_VERSION:
        raise fail(where, "schema", Text(
            "version {found} comes from a newer Omamori (this one reads {known}); update Omamori.",
            "バージョン {found} は新しい Omamori のものです（このバージョンは {known} まで）。更新してください。"),
            found=schema, known=SCHEMA_VERSION)
    if schema < 1:
        raise fail(where, "schema", Text("{found} is not a schema version.", "{found} はスキーマ番号ではありません。"),
                   found=schema)


def check_name(value: Any, where: str) -> str:
    name = expect(value, str, where, "name")
    if not NAME.match(name):
        raise fail(where, "name", Text("{name!r}: use a-z, 0-9, '-' and '_' (up to 64).",
                                       "{name!r}: a-z・0-9・'-'・'_' の 64 文字までにしてください。"), name=name)
    return name


def text_field(value: Any, where: str, field: str) -> Text:
    """A bilingual text: {"en": ..., "ja": ...} (ja may be left out) or one string."""
    if isinstance(value, str):
        return Text(value, value)
    expect(value, dict, where, field)
    check_keys(value, ("en", "ja"), where, field)
    en = expect(value.get("en"), str, where, f"{field}.en")
    return Text(en, expect(value.get("ja", en), str, where, f"{field}.ja"))


def check_file_name(name: str, path: Path) -> None:
    """The file name is how users pick a preset or profile: the two must agree."""
    if name != path.stem:
        raise fail(str(path), "name", Text("{name!r} differs from the file name {stem!r}.",
                                           "{name!r} がファイル名 {stem!r} と違います。"),
                   name=name, stem=path.stem)
