"""Errors that reach users as one plain line (never a traceback)."""

from __future__ import annotations

import unicodedata

from .i18n import Text


class OmamoriError(Exception):
    """An expected failure with a one-line bilingual message."""

    def __init__(self, message: Text | str, **values):
        self.text = Text.from_value(message)
        self.values = values
        super().__init__(self.message("en"))

    def message(self, lang: str | None = None) -> str:
        # A value may itself be bilingual (where the problem is: "step 2" / "ステップ 2").
        values = {key: value.get(lang) if isinstance(value, Text) else value for key, value in self.values.items()}
        # Values come from files and file names: their control characters must not break the line.
        return escape_controls(self.text.get(lang).format(**values))


def escape_controls(value: str) -> str:
    """`value` with control and format characters (newline, ESC, bidi overrides...)
    written as escapes such as \\x1b or \\u202e, so that it prints as one plain line."""
    return "".join(_escape(char) if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") else char
                   for char in value)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class InputError(OmamoriError):
    """An image that cannot be read or written."""


class ParamError(OmamoriError):
    """A parameter value out of range or of the wrong type."""


class PresetError(OmamoriError):
    """A preset or posting profile that does not validate."""


class ModelError(OmamoriError):
    """A protection model that is missing, tampered with or cannot run."""


class Cancelled(OmamoriError):
    """The user cancelled; nothing was written."""

    def __init__(self):
        super().__init__(Text("Cancelled.", "キャンセルしました。"))
