"""Posting profiles: a platform's size limits, the format and quality to post in, and a
dated checklist of the account and posting settings that matter for AI use there. A preset that
names a profile has its `resize` steps capped by the profile's size limits too (`Preset.sized_steps`).

Built-ins live in `omamori/data/profiles/`; users add or edit profiles as JSON files in
`<omamori_home>/profiles/` (a user file with a built-in's name replaces it, so that a
user can correct a profile when a platform changes before Omamori is updated)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PresetError
from .filters.resize import target_size
from .i18n import Text, current_language
from .jsonchecks import (SCHEMA_VERSION, check_file_name, check_keys, check_name, check_schema, expect, fail,
                       omamori_home, read_json, text_field)

BUILTIN_DIR = Path(__file__).parent / "data" / "profiles"
FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ChecklistItem:
    """One thing to check before posting, with the day it was last checked."""

    text: Text
    checked: str  # ISO date
    confirmed: bool = True  # False: only a secondary source was found

    def line(self, lang: str | None = None) -> str:
        lang = lang or current_language()
        if lang == "ja":
            return f"{self.text.ja}（{self.checked} 確認{'' if self.confirmed else '・未確認'}）"
        return f"{self.text.en} (checked {self.checked}{'' if self.confirmed else ', unconfirmed'})"

    def to_dict(self) -> dict:
        return {**self.text.as_dict(), "checked": self.checked, "confirmed": self.confirmed}


@dataclass
class Profile:
    """Where a picture will be posted, and what to do about it."""

    name: str
    label: Text
    format: str = "JPEG"
    quality: int = 90
    max_long_edge: int | None = None
    max_megapixels: float | None = None
    max_bytes: int | None = None
    checklist: list[ChecklistItem] = field(default_factory=list)
    builtin: bool = False

    def posted_size(self, width: int, height: int) -> tuple[int, int]:
        """The size the platform keeps of a width x height picture: within its caps, never larger."""
        return target_size(width, height, self.max_long_edge or 0, self.max_megapixels or 0.0)

    def checklist_lines(self, lang: str | None = None) -> list[str]:
        return [item.line(lang) for item in self.checklist]

    def to_dict(self) -> dict:
        return {"schema": SCHEMA_VERSION, "name": self.name, "label": self.label.as_dict(),
                "format": self.format, "quality": self.quality, "max_long_edge": self.max_long_edge,
                "max_megapixels": self.max_megapixels, "max_bytes": self.max_bytes,
                "checklist": [item.to_dict() for item in self.checklist]}

    @classmethod
    def from_dict(cls, data: dict, where: str, builtin: bool = False) -> "Profile":
        """A validated profile; errors name `where` and the field."""
        expect(data, dict, where, "")
        check_schema(data, where)
        check_keys(data, tuple(cls(name="", label=Text("", "")).to_dict()), where)
        fmt = str(data.get("format", "JPEG")).upper()
        if fmt not in FORMATS:
            raise fail(where, "format", Text("{fmt!r} is not one of {known}.", "{fmt!r} は {known} のいずれでもありません。"),
                       fmt=data.get("format"), known=", ".join(FORMATS))
        return cls(
            name=check_name(data.get("name"), where),
            label=text_field(data.get("label", data.get("name")), where, "label"),
            format=fmt,
            quality=_number(data.get("quality", 90), int, 1, 100, where, "quality"),
            max_long_edge=_optional(data, "max_long_edge", int, 16, 100_000, where),
            max_megapixels=_optional(data, "max_megapixels", (int, float), 0.01, 1000, where),
            max_bytes=_optional(data, "max_bytes", int, 10_000, 10**10, where),
            checklist=[_item(item, where, f"checklist[{i}]")
                       for i, item in enumerate(expect(data.get("checklist", []), list, where, "checklist"))],
            builtin=builtin)


def _number(value, kind, lo, hi, where: str, name: str):
    expect(value, kind, where, name)
    if not lo <= value <= hi:
        raise fail(where, name, Text("{value} is outside {lo}–{hi}.", "{value} は範囲 {lo}〜{hi} の外です。"),
                   value=value, lo=lo, hi=hi)
    return value


def _optional(data: dict, name: str, kind, lo, hi, where: str):
    value = data.get(name)
    return None if value is None else _number(value, kind, lo, hi, where, name)


def _item(data, where: str, field: str) -> ChecklistItem:
    expect(data, dict, where, field)
    check_keys(data, ("en", "ja", "checked", "confirmed"), where, field)
    checked = expect(data.get("checked"), str, where, f"{field}.checked")
    if not _DATE.match(checked):
        raise fail(where, f"{field}.checked", Text("{date!r} is not a date like 2026-11-25.",
                                                   "{date!r} は 2026-11-25 の形の日付ではありません。"), date=checked)
    text = text_field({k: data[k] for k in ("en", "ja") if k in data}, where, field)
    return ChecklistItem(text, checked, expect(data.get("confirmed", True), bool, where, f"{field}.confirmed"))


def user_dir() -> Path:
    return omamori_home() / "profiles"


def _files() -> dict[str, tuple[Path, bool]]:
    """Profile files by name: built-ins, then user files (which win)."""
    found = {p.stem: (p, True) for p in sorted(BUILTIN_DIR.glob("*.json"))}
    if user_dir().is_dir():
        found.update({p.stem: (p, False) for p in sorted(user_dir().glob("*.json"))})
    return found


def _read(path: Path, builtin: bool) -> Profile:
    profile = Profile.from_dict(read_json(path), str(path), builtin)
    check_file_name(profile.name, path)
    return profile


def list_profiles(problems: list[str] | None = None) -> list[Profile]:
    """Every valid profile by name; a broken user file is left out and, when
    `problems` is given, its one-line error is appended there."""
    profiles = []
    for path, builtin in _files().values():
        try:
            profiles.append(_read(path, builtin))
        except PresetError as err:
            if builtin:
                raise  # a broken built-in is our bug, not the user's
            if problems is not None:
                problems.append(err.message())
    return sorted(profiles, key=lambda p: p.name)


def load_profile(name_or_path: str | Path) -> Profile:
    """A profile by name (user folder first) or from a JSON file path."""
    text = str(name_or_path)
    if text.endswith(".json") or "/" in text or "\\" in text:
        return _read(Path(text), builtin=False)
    entry = _files().get(text)
    if entry is None:
        raise PresetError(Text("unknown posting profile {name!r}; known: {known}.",
                               "不明な投稿プロファイル {name!r}（使えるもの: {known}）。"),
                          name=text, known=", ".join(sorted(_files())))
    return _read(*entry)
