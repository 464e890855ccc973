import pytest

from omamori.errors import ParamError
from omamori.i18n import Text
from omamori.params import Param, resolve

T = Text("x", "x")
AMOUNT = Param("amount", "float", 4.0, T, T, min=0, max=16)
KIND = Param("kind", "choice", "a", T, T, choices=("a", "b"))
FLAG = Param("luma", "bool", False, T, T)
COUNT = Param("count", "int", 1, T, T, min=0, max=3)
COLOR = Param("color", "color", "#FFFFFF", T, T)


def test_coerces_strings_from_the_command_line():
    assert AMOUNT.coerce("2.5") == 2.5
    assert COUNT.coerce("3") == 3
    assert FLAG.coerce("yes") is True and FLAG.coerce("off") is False
    assert COLOR.coerce("#A0B0C0") == "#a0b0c0"


@pytest.mark.parametrize("param,value", [
    (AMOUNT, 16.5), (AMOUNT, -1), (AMOUNT, "nan"), (AMOUNT, True), (COUNT, 1.5), (COUNT, 4),
    (KIND, "c"), (FLAG, "maybe"), (COLOR, "red"), (COLOR, "#12345"),
])
def test_rejects_bad_values_naming_the_parameter(param, value):
    with pytest.raises(ParamError) as info:
        param.coerce(value)
    assert param.name in str(info.value)
    assert param.name in info.value.message("ja")


def test_resolve_fills_defaults_and_reports_unknown_keys():
    params = (AMOUNT, KIND)
    assert resolve(params, {"kind": "b"}) == {"amount": 4.0, "kind": "b"}
    with pytest.raises(ParamError, match=r"preset x step 1: unknown parameter\(s\): amout"):
        resolve(params, {"amout": 1}, where="preset x step 1: ")
    with pytest.raises(ParamError, match="file.json: amount"):
        resolve(params, {"amount": 99}, where="file.json: ")


def test_a_bad_default_fails_at_declaration():
    with pytest.raises(ParamError):
        Param("n", "int", 9, T, T, min=0, max=3)
    with pytest.raises(ValueError):
        Param("n", "complex", 0, T, T)


def test_a_default_is_coerced_like_a_value():
    """A default written as text reaches the filter typed, as --set and presets would give it."""
    flag, count = Param("f", "bool", "false", T, T), Param("n", "int", "3", T, T, min=0, max=3)
    assert resolve((flag, count), {}) == {"f": False, "n": 3}
    assert flag.as_dict()["default"] is False


def test_as_dict_carries_both_languages():
    described = Param("n", "int", 1, Text("Count", "個数"), Text("help", "説明"), min=0, max=3).as_dict()
    assert described["label"] == {"en": "Count", "ja": "個数"}
    assert (described["min"], described["max"], described["default"]) == (0, 3, 1)
