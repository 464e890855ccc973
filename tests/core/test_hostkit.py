"""The host kit that both editor plug-ins and the bridge client share (standard library only)."""

import ast
import sys

import pytest

from omamori.bridge import hostkit

LOCALE_VARIABLES = ("OMAMORI_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture
def no_language(monkeypatch):
    for name in LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hostkit, "_process_locale", lambda: "")
    return monkeypatch


def test_the_kit_needs_only_the_standard_library():
    tree = ast.parse(open(hostkit.__file__, encoding="utf-8").read())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported <= set(sys.stdlib_module_names)


def test_language_names():
    assert hostkit.language_from([None, "", "ja_JP.UTF-8", "en_US"]) == "ja"
    assert hostkit.language_from(["C"]) == "en" and hostkit.language_from([]) == "en"
    assert [hostkit.language_of(v) for v in ("ja:en", "ja-JP", "JA", "en_GB", "de")] == ["ja", "ja", "ja", "en", "en"]


def test_one_precedence_order(no_language):
    assert hostkit.language() == "en"
    no_language.setenv("LANG", "ja_JP.UTF-8")
    assert hostkit.language() == "ja"
    no_language.setenv("LC_ALL", "en_US.UTF-8")  # LC_ALL before LANG
    assert hostkit.language() == "en"
    no_language.setenv("LANGUAGE", "ja:en")  # LANGUAGE (GIMP sets it from its preference) before LC_ALL
    assert hostkit.language() == "ja"
    assert hostkit.language("en_US") == "en"  # the editor's own setting before the environment
    assert hostkit.language("", None, "en") == "en"  # empty settings are skipped
    no_language.setenv("OMAMORI_LANG", "ja")  # the user's explicit choice wins over everything
    assert hostkit.language("en_US") == "ja"


def test_the_process_locale_is_the_last_resort(no_language):
    no_language.setattr(hostkit, "_process_locale", lambda: "ja_JP")
    assert hostkit.language() == "ja"
    no_language.setenv("LANG", "en_US.UTF-8")
    assert hostkit.language() == "en"


def test_bilingual_choice():
    assert hostkit.pick("Noise", "ノイズ", "ja") == "ノイズ" and hostkit.pick("Noise", "ノイズ", "en") == "Noise"
    assert hostkit.pick("Noise", "", "ja") == "Noise"  # an untranslated string falls back to English
    assert hostkit.text({"en": "Noise", "ja": "ノイズ"}, "ja") == "ノイズ"
    assert hostkit.text({"en": "Noise"}, "ja") == "Noise" and hostkit.text(("a", "あ"), "ja") == "あ"
    assert hostkit.text("plain", "ja") == "plain" and hostkit.text(None) == ""


def test_ranges_fill_undeclared_sides_within_what_widgets_hold():
    assert hostkit.value_range({"type": "float", "min": 0.0, "max": None}) == (0.0, hostkit.OPEN_RANGE)
    assert hostkit.value_range({"type": "int", "min": None, "max": 5}) == (-hostkit.INT32_MAX, 5)
    wide = {"type": "int", "min": 0, "max": 2 ** 32 - 1}
    assert hostkit.is_wide_int(wide) and hostkit.value_range(wide) == (0, 2 ** 32 - 1)
    assert not hostkit.is_wide_int({"type": "int", "min": -2 ** 31, "max": 2 ** 31 - 1})
    assert not hostkit.is_wide_int({"type": "float", "min": 0, "max": 1e12})


def test_choices_pair_values_with_labels():
    spec = {"choices": ["gaussian", "uniform", "salt"],
            "choice_labels": [{"en": "Gaussian", "ja": "ガウス"}, {"en": "Uniform", "ja": "一様"}]}
    assert hostkit.choices(spec, "ja") == [("gaussian", "ガウス"), ("uniform", "一様"), ("salt", "salt")]
    assert hostkit.choices({}, "en") == []


@pytest.mark.parametrize("layout,size", [("RGBA8", 4), ("BGRA16", 8), ("RGBAF16", 8), ("BGRAF32", 16)])
def test_bytes_per_pixel(layout, size):
    assert hostkit.bytes_per_pixel(layout) == size and hostkit.expected_size(3, 2, layout) == 6 * size


def test_a_wrong_sized_result_is_refused():
    hostkit.check_result_size(b"\0" * 24, 3, 2, "RGBA8")
    with pytest.raises(hostkit.WrongSize, match="5 bytes, expected 24") as caught:
        hostkit.check_result_size(b"\0" * 5, 3, 2, "RGBA8")
    assert "5 バイト" in caught.value.message("ja")


def test_errors_are_classified_in_one_table():
    assert hostkit.error_kind(hostkit.Cancelled("x")) == hostkit.CANCELLED
    assert hostkit.error_kind(hostkit.BridgeError("x")) == hostkit.EXPECTED
    assert hostkit.error_kind(hostkit.WrongSize(1, 2)) == hostkit.EXPECTED
    assert hostkit.error_kind(KeyError("x")) == hostkit.UNEXPECTED
    assert hostkit.describe_error(hostkit.Cancelled("Cancelled.")) == ""
    assert hostkit.describe_error(hostkit.BridgeError("preset {x} missing")) == "preset {x} missing"
    assert hostkit.describe_error(ZeroDivisionError("boom"), "en") == "Omamori failed unexpectedly: ZeroDivisionError: boom"


def test_user_errors_speak_both_languages():
    error = hostkit.UserError(("Layer {name} is locked.", "レイヤー {name} はロックされています。"), name="A")
    assert error.message("en") == "Layer A is locked." and error.message("ja") == "レイヤー A はロックされています。"
    assert str(error) == "Layer A is locked."  # OMAMORI_LANG=en in tests


def test_a_new_preset_named_x():
    base = {"schema": 1, "name": "standard", "label": {"en": "Standard", "ja": "標準"}, "help": {"en": "h"},
            "builtin": True, "source": "builtin", "path": "/x", "steps": [{"filter": "noise"}],
            "export": {"format": "png"}}
    mine = hostkit.new_preset(base, "mine", steps=[])
    assert mine == {"schema": 1, "name": "mine", "label": {"en": "mine", "ja": "mine"}, "steps": [],
                    "export": {"format": "png"}}
    same = hostkit.new_preset(base, "standard")
    assert same["label"] == base["label"] and same["help"] == base["help"] and "builtin" not in same
    assert base["builtin"] is True and base["steps"] == [{"filter": "noise"}]  # the base is not changed


def test_files_are_written_whole_and_never_replaced_unless_asked(tmp_path):
    target = tmp_path / "settings.json"
    assert hostkit.write_file(target, b"one") == str(target) and target.read_bytes() == b"one"
    with pytest.raises(FileExistsError):
        hostkit.write_file(target, b"two")
    assert target.read_bytes() == b"one"
    hostkit.write_file(target, b"three", overwrite=True)
    assert target.read_bytes() == b"three" and [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_without_hard_links_an_exclusive_create_still_never_replaces(tmp_path, monkeypatch):
    def no_links(source, target):
        raise PermissionError("hard links not supported")
    monkeypatch.setattr(hostkit.os, "link", no_links)
    target = tmp_path / "report.png"
    hostkit.write_file(target, b"png")
    assert target.read_bytes() == b"png"
    with pytest.raises(FileExistsError):
        hostkit.write_file(target, b"other")
    assert target.read_bytes() == b"png" and len(list(tmp_path.iterdir())) == 1
