"""Errors that reach users as one plain line (never a traceback)."""

from __future__ import annotations

from .i18n import Text


class OmamoriError(Exception):
    """An expected failure with a one-line bilingual message."""

    def __init__(self, message: Text | str, **values):
        self.text = Text.from_value(message)
        self.values = values
        super().__init__(self.text.en.format(**values))

    def message(self, lang: str | None = None) -> str:
        return self.text.get(lang).format(**self.values)


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
