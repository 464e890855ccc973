"""English and Japanese text: every user-facing string is a `Text` pair.

The language comes from the host kit (`bridge/hostkit.py`), the one precedence order that the
editor plug-ins share: OMAMORI_LANG, then LANGUAGE, LC_ALL, LC_MESSAGES, LANG, then the locale."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from .bridge.hostkit import language as current_language  # noqa: F401 - the core's name for it
from .bridge.hostkit import pick


@dataclass(frozen=True)
class Text:
    """One user-facing string in English and Japanese."""

    en: str
    ja: str

    def get(self, lang: str | None = None) -> str:
        return pick(self.en, self.ja, lang)

    def format(self, **values) -> str:
        return self.get().format(**values)

    def as_dict(self) -> dict:
        return {"en": self.en, "ja": self.ja}

    @classmethod
    def from_value(cls, value) -> "Text":
        """Accepts a Text, a {"en", "ja"} dict or one plain string used for both."""
        if isinstance(value, Text):
            return value
        if isinstance(value, dict):
            return cls(str(value.get("en", "")), str(value.get("ja") or value.get("en", "")))
        return cls(str(value), str(value))


def columns(text: str) -> int:
    """The width of `text` on a terminal (wide and full-width characters, as Japanese ones, take two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def join(*parts: "Text | str") -> Text:
    """The parts one after another, in each language (a plain string is the same in both)."""
    pairs = [Text.from_value(part) for part in parts]
    return Text("".join(p.en for p in pairs), "".join(p.ja for p in pairs))


def step_place(index: int, filter_name: str | None = None) -> Text:
    """Where in a preset a problem is: "step 2 (guard)" / "ステップ 2（guard）"."""
    if filter_name is None:
        return Text(f"step {index}", f"ステップ {index}")
    return Text(f"step {index} ({filter_name})", f"ステップ {index}（{filter_name}）")
