"""English and Japanese text: every user-facing string is a `Text` pair."""

from __future__ import annotations

import locale
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    """One user-facing string in English and Japanese."""

    en: str
    ja: str

    def get(self, lang: str | None = None) -> str:
        return self.ja if (lang or current_language()) == "ja" else self.en

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


def current_language() -> str:
    """'ja' or 'en': OMAMORI_LANG wins, then the usual locale variables."""
    for var in ("OMAMORI_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(var)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    loc = locale.getlocale()[0] or ""
    return "ja" if loc.lower().startswith("ja") else "en"
