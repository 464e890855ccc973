"""The host kit: what every editor plug-in needs besides its editor (standard library only, Python >= 3.8).

Inside the core this is ``omamori.bridge.hostkit``; ``omamori install gimp|krita`` copies it beside
each plug-in as ``omamori_hostkit.py`` (next to the bridge client ``omamori_bridge.py``), so the
editors' own Python needs nothing extra. Keep it stdlib-only; its API is used by both plug-ins:

Language
    language(*host_settings) -> "en" | "ja"
        One precedence order everywhere: OMAMORI_LANG, then the editor's own language settings
        (passed in by the plug-in, first non-empty wins), then LANGUAGE, LC_ALL, LC_MESSAGES, LANG,
        then the process locale.
    language_of(name) -> "en" | "ja"         e.g. "ja_JP.UTF-8", "ja:en", "ja-JP" -> "ja"
    language_from(candidates) -> "en" | "ja" the first non-empty candidate's language ("en" if none)
Bilingual text
    pick(en, ja, lang=None) -> str           one of a pair, in `lang` (default: language())
    text(value, lang=None) -> str            a {"en", "ja"} dict, an (en, ja) pair, a plain string or None
Parameter declarations (the dicts the worker's "describe" returns)
    INT32_MAX, OPEN_RANGE
    is_wide_int(spec) -> bool                an int range that signed 32-bit widgets cannot hold
    value_range(spec) -> (low, high)         declared bounds, an undeclared side open
    choices(spec, lang=None) -> [(value, label)]
Pixels
    bytes_per_pixel(layout) -> int           e.g. "RGBA8" -> 4, "BGRAF32" -> 16
    expected_size(width, height, layout) -> int
    check_result_size(data, width, height, layout)   raises WrongSize before anything is written
Errors
    UserError(message_or_pair, **values)     a failure with a one-line message for the user; .message(lang)
    BridgeError(UserError), Cancelled(BridgeError), WrongSize(UserError)
    error_kind(error) -> CANCELLED | EXPECTED | UNEXPECTED   (the one table, ERROR_KINDS)
    describe_error(error, lang=None) -> str  "" for a cancel, the message, or "Omamori failed unexpectedly: ..."
Presets
    new_preset(base, name=None, steps=None) -> dict   "a new preset named X", ready to save
Files
    write_file(path, data, overwrite=False) -> str    whole or not at all; never replaces a file
                                                       unless `overwrite` (FileExistsError otherwise)
"""

from __future__ import annotations

import locale
import os
import uuid

LANGUAGES = ("en", "ja")
# After OMAMORI_LANG and the editor's own setting; LANGUAGE first, as gettext and KDE read it.
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


# --- language ------------------------------------------------------------------------------

def language_of(name: str) -> str:
    """'ja' for a Japanese locale or language name, else 'en'."""
    return "ja" if str(name).strip().lower().startswith("ja") else "en"


def language_from(candidates) -> str:
    """The language of the first non-empty candidate; 'en' when all are empty."""
    for value in candidates:
        if value:
            return language_of(value)
    return "en"


def language(*host_settings) -> str:
    """'ja' or 'en': OMAMORI_LANG, the editor's settings given here, the locale variables, the locale."""
    variables = [os.environ.get(name) for name in LOCALE_VARIABLES]
    return language_from([os.environ.get("OMAMORI_LANG"), *host_settings, *variables, _process_locale()])


def _process_locale() -> str:
    try:
        return locale.getlocale()[0] or ""
    except ValueError:  # an unparsable locale name must not stop a plug-in
        return ""


# --- bilingual text ------------------------------------------------------------------------

def pick(en: str, ja: str, lang: str | None = None) -> str:
    """`ja` in Japanese (when it is not empty), else `en`."""
    return ja if ja and (lang or language()) == "ja" else en


def text(value, lang: str | None = None) -> str:
    """A user-facing string from a {"en", "ja"} dict, an (en, ja) pair or a plain string ('' for None)."""
    if isinstance(value, dict):
        return pick(value.get("en") or "", value.get("ja") or "", lang)
    if isinstance(value, tuple) and len(value) == 2:
        return pick(value[0], value[1], lang)
    return "" if value is None else str(value)


# --- parameter declarations ------------------------------------------------------------------

INT32_MAX = 2 ** 31 - 1  # GIMP's int arguments and Qt's QSpinBox are signed 32-bit
OPEN_RANGE = 1e9  # widgets need bounds; an undeclared side of a non-int32 range means "no limit"


def is_wide_int(spec: dict) -> bool:
    """An int whose declared range a signed 32-bit widget cannot hold (e.g. a 32-bit author id)."""
    if spec.get("type") != "int":
        return False
    low, high = spec.get("min"), spec.get("max")
    return (low is not None and low < -INT32_MAX - 1) or (high is not None and high > INT32_MAX)


def value_range(spec: dict) -> tuple:
    """(low, high) of a numeric parameter: the declared bounds, an undeclared side open."""
    limit = INT32_MAX if spec.get("type") == "int" and not is_wide_int(spec) else OPEN_RANGE
    low, high = spec.get("min"), spec.get("max")
    return (-limit if low is None else low, limit if high is None else high)


def choices(spec: dict, lang: str | None = None) -> list:
    """(value, label) pairs of a choice parameter; a value without a declared label shows itself."""
    labels = spec.get("choice_labels") or []
    return [(value, text(labels[i], lang) if i < len(labels) else value)
            for i, value in enumerate(spec.get("choices") or [])]


# --- pixels --------------------------------------------------------------------------------

SAMPLE_BYTES = {"8": 1, "16": 2, "F16": 2, "F32": 4}  # the bridge's layouts: RGBA|BGRA + sample type


def bytes_per_pixel(layout: str) -> int:
    return 4 * SAMPLE_BYTES[layout[4:]]


def expected_size(width: int, height: int, layout: str) -> int:
    return width * height * bytes_per_pixel(layout)


def check_result_size(data: bytes, width: int, height: int, layout: str) -> None:
    """Refuses a result that does not fill the layer exactly, before anything is written."""
    expected = expected_size(width, height, layout)
    if len(data) != expected:
        raise WrongSize(got=len(data), expected=expected)


# --- errors --------------------------------------------------------------------------------

class UserError(Exception):
    """A failure with a one-line message for the user: plain text, or an (en, ja) pair with {values}."""

    def __init__(self, message, **values):
        self.pair = message if isinstance(message, (tuple, dict)) else (str(message), str(message))
        self.values = values
        super().__init__(self.message())

    def message(self, lang: str | None = None) -> str:
        line = text(self.pair, lang)
        return line.format(**self.values) if self.values else line


class BridgeError(UserError):
    """A failure reported by the worker or the bridge, already in the user's language."""


class Cancelled(BridgeError):
    """The user cancelled; the worker was stopped and nothing was returned."""


class WrongSize(UserError):
    def __init__(self, got: int, expected: int):
        super().__init__(("Omamori returned {got} bytes, expected {expected}; nothing was changed.",
                          "Omamori の結果が {got} バイトでした（期待値 {expected}）。何も変更していません。"),
                         got=got, expected=expected)


CANCELLED, EXPECTED, UNEXPECTED = "cancelled", "expected", "unexpected"
# The one table: first match wins, so the cancel (a BridgeError too) comes first.
ERROR_KINDS = ((Cancelled, CANCELLED), (UserError, EXPECTED))
UNEXPECTED_LINE = ("Omamori failed unexpectedly: {kind}: {detail}",
                   "Omamori で予期しないエラーが起きました: {kind}: {detail}")


def error_kind(error: BaseException) -> str:
    """CANCELLED (say nothing), EXPECTED (show its message) or UNEXPECTED (a bug: keep the traceback)."""
    for kind_type, kind in ERROR_KINDS:
        if isinstance(error, kind_type):
            return kind
    return UNEXPECTED


def describe_error(error: BaseException, lang: str | None = None) -> str:
    """One line for any failure: '' for a cancel, the message of an expected one, else what broke."""
    kind = error_kind(error)
    if kind == CANCELLED:
        return ""
    if kind == EXPECTED:
        return error.message(lang)
    return text(UNEXPECTED_LINE, lang).format(kind=type(error).__name__, detail=error)


# --- presets -------------------------------------------------------------------------------

ORIGIN_FIELDS = ("builtin", "source", "path")  # where a described preset came from, not what it does


def new_preset(base: dict, name: str | None = None, steps: list | None = None) -> dict:
    """A copy of preset dict `base` (with `steps` if given) to save, named `name` when given.

    Under a new name it gets its own label and loses the base's help, which described the base."""
    out = {key: value for key, value in (base or {}).items() if key not in ORIGIN_FIELDS}
    if steps is not None:
        out["steps"] = steps
    if name and name != out.get("name"):
        out.update(name=name, label={"en": name, "ja": name})
        out.pop("help", None)
    return out


# --- files ---------------------------------------------------------------------------------

def write_file(path: str, data: bytes, overwrite: bool = False) -> str:
    """Writes `data` to a temp file beside `path`, then puts it in place: readers see no half file.

    Without `overwrite` the temp file is linked into place, which fails with FileExistsError
    when `path` exists, even if another process made it a moment ago (no test-then-replace)."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    temp = os.path.join(folder, ".{}.{}.tmp".format(name, uuid.uuid4().hex[:8]))
    # os.open with 0o666: the umask decides the permissions, as for any new file
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(temp, flags, 0o666), "wb") as handle:
        handle.write(data)
    try:
        if overwrite:
            os.replace(temp, path)
        else:
            _link_or_create(temp, path, data)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path


def _link_or_create(temp: str, path: str, data: bytes) -> None:
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: an exclusive create still never replaces
        with open(path, "xb") as handle:
            handle.write(data)
