"""The per-user folder, and the checks shared by every versioned JSON file in it
(presets and posting profiles): schema version, known keys, bilingual text."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from .errors import PresetError
from .i18n import Text

SCHEMA_VERSION = 1
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # also a safe file name on every system


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
    """A JSON object from `path`, or a PresetError naming the file and the line."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PresetError(Text("{where}: no such file.", "{where}: ファイルがありません。"), where=path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise PresetError(Text("{where}: cannot read ({why}).", "{where}: 読み込めません（{why}）。"),
                          where=path, why=getattr(err, "strerror", None) or err) from None
    except json.JSONDecodeError as err:
        raise PresetError(Text("{where}: not valid JSON (line {line}: {why}).",
                               "{where}: JSON として不正です（{line} 行目: {why}）。"),
                          where=path, line=err.lineno, why=err.msg) from None
    return expect(data, dict, str(path), "")


def fail(where: str, field: str, problem: Text, **values) -> PresetError:
    """A PresetError that names the file (and step) and the field."""
    return PresetError(Text("{where}: {field}: " + problem.en, "{where}: {field}: " + problem.ja),
                       where=where, field=field or "(top level)", **values)


def expect(value: Any, kind: type | tuple, where: str, field: str) -> Any:
    """`value` if it has JSON type `kind` (bool is never a number here)."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join(_JSON_NAMES.get(k, k.__name__) for k in kinds)
        raise fail(where, field, Text("expected {want}, got {got!r}.", "{want} が必要です（{got!r}）。"),
                   want=names, got=value)
    return value


_JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
               bool: "true/false"}


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
