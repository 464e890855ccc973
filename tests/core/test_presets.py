"""Presets: built-ins, the user folder, save/import/export/delete and precise errors."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from omamori import presets, profiles
from omamori.errors import PresetError
from omamori.filters.base import Filter
from omamori.i18n import Text
from omamori.params import Param
from omamori.presets import (Preset, delete_preset, export_preset, import_preset, list_presets, load_preset,
                             omamori_home, preset_from_dict, save_preset)
from omamori.registry import Registry, get_registry

T = Text("t", "t")
BUILTINS = sorted(p.stem for p in presets.BUILTIN_DIR.glob("*.json"))


class Brighten(Filter):
    name = "brighten"
    params = (Param("amount", "float", 0.1, T, T, min=0, max=1),)

    def apply(self, rgba, settings, ctx):
        return np.clip(rgba + settings["amount"], 0, 1).astype(np.float32)


@pytest.fixture
def registry():
    reg = Registry()
    reg.add(Brighten())
    return reg


def raw(name="mine", **changes):
    data = {"schema": 1, "name": name, "label": {"en": "Mine", "ja": "私の"},
            "steps": [{"filter": "brighten", "params": {"amount": 0.2}}]}
    data.update(changes)
    return data


def write(path, data):
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_omamori_home(monkeypatch, tmp_path):
    assert omamori_home() == Path(os.environ["OMAMORI_HOME"])
    monkeypatch.delenv("OMAMORI_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert omamori_home() == tmp_path / ".config" / "omamori"
    monkeypatch.setattr("sys.platform", "darwin")
    assert omamori_home() == tmp_path / "Library" / "Application Support" / "Omamori"
    monkeypatch.setattr("sys.platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "Roaming"))
    assert omamori_home() == tmp_path / "Roaming" / "Omamori"


def test_required_builtins_exist():
    assert {"light", "standard", "strong", "x", "pixiv", "instagram", "bluesky", "web"} <= set(BUILTINS)
    assert set(p.name for p in profiles.list_profiles()) <= set(BUILTINS)  # one per posting profile


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_validates(name):
    preset = load_preset(name)
    assert preset.builtin and preset.label.en and preset.label.ja != preset.label.en and preset.help.ja
    assert preset_from_dict(preset.to_dict()).to_dict() == preset.to_dict()
    missing = sorted({s["filter"] for s in preset.steps} - set(get_registry().names()))
    if missing:
        pytest.skip(f"filter(s) {', '.join(missing)} not registered yet")
    preset.validate()


def test_standard_uses_the_measured_guard():
    steps = {s["filter"]: s["params"] for s in load_preset("standard").steps}
    assert steps["guard"] == {"epsilon": 8} and {"stamp", "notice"} <= set(steps)


@pytest.mark.parametrize("name", sorted(p.stem for p in profiles.BUILTIN_DIR.glob("*.json")))
def test_profile_preset_matches_its_profile(name):
    profile, preset = profiles.load_profile(name), load_preset(name)
    assert preset.export.profile == profile.name and preset.export.format == profile.format
    resize = preset.steps[0]
    assert resize["filter"] == "resize"  # first, so the protection is computed at the posted size
    caps = {"max_long_edge": profile.max_long_edge, "max_megapixels": profile.max_megapixels}
    assert resize["params"] == {k: v for k, v in caps.items() if v}
    standard = load_preset("standard").steps
    assert preset.steps[1:] == standard


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_steps_are_unchanged_by_their_own_profile(name):
    """The caps only bite when a profile is corrected: built-in outputs stay as they were."""
    preset = load_preset(name)
    assert [s.settings for s in preset.sized_steps()] == [s.settings for s in preset.validate()]


def test_a_corrected_profile_tightens_the_resize_step(scratch_home):
    data = profiles.load_profile("x").to_dict()
    (scratch_home / "profiles").mkdir()
    (scratch_home / "profiles" / "x.json").write_text(json.dumps({**data, "max_long_edge": 2000}), encoding="utf-8")
    resize = load_preset("x").sized_steps()[0]
    assert resize.filter.name == "resize" and resize.settings["max_long_edge"] == 2000


def test_save_list_load_round_trip(registry, monkeypatch):
    monkeypatch.setattr(presets, "get_registry", lambda: registry)
    preset = preset_from_dict(raw(seed=5, export={"format": "png", "metadata": {"author": "A"}}))
    path = save_preset(preset)
    assert path == omamori_home() / "presets" / "mine.json"
    loaded = load_preset("mine")
    assert loaded.to_dict() == preset.to_dict() and not loaded.builtin and loaded.source == str(path)
    assert loaded.seed == 5 and loaded.export.format == "PNG" and loaded.export.metadata.author == "A"
    listed = {p.name: p for p in list_presets(registry=registry)}
    assert listed["mine"].builtin is False and listed["standard"].builtin is True


def test_save_stores_typed_values(registry, monkeypatch):
    """`presets save --set brighten.amount=0.5` arrives as a string and is saved as a number."""
    monkeypatch.setattr(presets, "get_registry", lambda: registry)
    save_preset(preset_from_dict(raw(steps=[{"filter": "brighten", "params": {"amount": "0.5"}},
                                            {"filter": "brighten"}])))
    assert [s["params"] for s in load_preset("mine").steps] == [{"amount": 0.5}, {}]


def test_save_refuses_existing_and_builtin(registry, monkeypatch):
    monkeypatch.setattr(presets, "get_registry", lambda: registry)
    save_preset(preset_from_dict(raw()))
    with pytest.raises(PresetError, match="already exists"):
        save_preset(preset_from_dict(raw(label="changed")))
    save_preset(preset_from_dict(raw(label="changed")), overwrite=True)
    assert load_preset("mine").label.en == "changed"
    with pytest.raises(PresetError, match="'standard' is a built-in preset"):
        save_preset(preset_from_dict(raw("standard")), overwrite=True)


def test_save_validates_steps(registry, monkeypatch):
    monkeypatch.setattr(presets, "get_registry", lambda: registry)
    bad = preset_from_dict(raw(steps=[{"filter": "brighten", "params": {"amount": 5}}]))
    with pytest.raises(PresetError, match=r"step 1 \(brighten\): amount: 5.0 is outside"):
        save_preset(bad)
    assert not (omamori_home() / "presets" / "mine.json").exists()


def test_import_export_delete(tmp_path, registry, monkeypatch):
    monkeypatch.setattr(presets, "get_registry", lambda: registry)
    source = write(tmp_path / "shared.json", raw("shared"))
    assert import_preset(source) == omamori_home() / "presets" / "shared.json"
    out = export_preset("shared", tmp_path / "copy.json")
    assert json.loads(out.read_text(encoding="utf-8")) == load_preset("shared").to_dict()
    with pytest.raises(Exception, match="already exists"):
        export_preset("shared", out)
    export_preset("standard", tmp_path / "standard.json")  # built-ins can be shared too
    assert load_preset(str(tmp_path / "standard.json")).name == "standard"
    assert delete_preset("shared") == omamori_home() / "presets" / "shared.json"
    assert "shared" not in [p.name for p in list_presets()]
    with pytest.raises(PresetError, match="no user preset named 'shared'"):
        delete_preset("shared")
    with pytest.raises(PresetError, match="built-in"):
        delete_preset("light")


def test_load_by_path_and_dict(tmp_path):
    path = write(tmp_path / "any-name.json", raw("mine"))
    assert load_preset(str(path)).name == "mine" and load_preset(path).source == str(path)
    assert load_preset(raw("edited")).name == "edited"
    with pytest.raises(PresetError, match="unknown preset 'nope'; known: .*standard"):
        load_preset("nope")


def error_for(tmp_path, data, registry=None):
    path = write(tmp_path / "bad.json", data)
    with pytest.raises(PresetError) as caught:
        preset = load_preset(str(path))
        preset.validate(registry)
    message = caught.value.message("en")
    assert "\n" not in message and str(path) in message
    return message.replace(f"{path}: ", "")


def test_errors_name_file_step_and_field(tmp_path, registry):
    assert error_for(tmp_path, raw(colour="red")) == "(top level): unknown key(s) colour; known: " \
        "schema, name, label, help, seed, steps, export."
    assert error_for(tmp_path, raw(steps=[{"filter": "brighten"}, {"filtr": "brighten"}])).startswith(
        "step 2: (top level): unknown key(s) filtr")
    assert error_for(tmp_path, raw(steps=[{"params": {}}])) == "step 1: filter: expected a string, got None."
    assert error_for(tmp_path, raw(steps=[{"filter": "brighten", "params": []}])) == \
        "step 1: params: expected an object, got []."
    assert error_for(tmp_path, raw(steps=[{"filter": "brighten"}, {"filter": "brighter"}]), registry) == \
        "step 2: filter: unknown filter 'brighter'; known: brighten."
    assert error_for(tmp_path, raw(steps=[{"filter": "brighten", "params": {"amuont": 1}}]), registry) == \
        "step 1 (brighten): unknown parameter(s): amuont; known: amount."
    assert error_for(tmp_path, raw(steps=[{"filter": "brighten", "params": {"amount": "lots"}}]), registry) == \
        "step 1 (brighten): amount: 'lots' is not a valid float."
    assert error_for(tmp_path, raw(export={"metadata": {"data_mining": "ok"}})).startswith(
        "export.metadata.data_mining: 'ok' is not one of")
    assert error_for(tmp_path, raw(export={"profile": "myspace"}), registry) == \
        "export.profile: unknown posting profile 'myspace'."
    assert error_for(tmp_path, raw(seed="1")) == "seed: expected an integer, got '1'."
    assert error_for(tmp_path, raw(seed=-1)) == "seed: -1 is negative; use 0 or more."
    assert error_for(tmp_path, raw(name="My Preset")).startswith("name: 'My Preset': use a-z")
    assert error_for(tmp_path, raw(label={"en": "x", "fr": "y"})).startswith("label: unknown key(s) fr")


def test_errors_say_where_in_japanese_too(tmp_path, registry):
    """The place (step, top level) and the expected type are in the user's language, not left in English."""
    def japanese(preset, reg=None):
        path = tmp_path / "p.json"
        path.write_text(json.dumps(preset), encoding="utf-8")
        with pytest.raises(PresetError) as caught:
            load_preset(str(path)).validate(reg)
        return caught.value.message("ja").replace(f"{path}: ", "")

    assert japanese(raw(steps=[{"filter": "brighten", "params": {"amount": "lots"}}]), registry) == \
        "ステップ 1（brighten）: amount: 'lots' は数値として無効です。"
    assert japanese(raw(steps=[{"filter": "brighten", "params": []}])) == \
        "ステップ 1: params: オブジェクトが必要です（[]）。"
    assert japanese(raw(colour="red")).startswith("（最上位）: 不明なキー colour")


def test_schema_versions(tmp_path):
    assert "newer Omamori" in error_for(tmp_path, raw(schema=2))
    assert error_for(tmp_path, {k: v for k, v in raw().items() if k != "schema"}) == \
        "schema: expected an integer, got None."


def test_a_preset_saved_with_a_byte_order_mark_loads(tmp_path):
    """Windows Notepad (before 2019) saved UTF-8 with a BOM: such a file was "not valid JSON"."""
    path = tmp_path / "notepad.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(raw("notepad"), ensure_ascii=False).replace("\n", "\r\n").encode())
    assert load_preset(str(path)).name == "notepad"


def test_bad_json_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "schema": 1,\n  "name": "x",,\n}', encoding="utf-8")
    with pytest.raises(PresetError, match=r"bad.json: not valid JSON \(line 3"):
        load_preset(str(path))


def test_broken_user_preset_is_reported_not_fatal(registry, monkeypatch):
    folder = omamori_home() / "presets"
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{", encoding="utf-8")
    write(folder / "standard.json", raw("standard"))  # cannot shadow the built-in
    write(folder / "good.json", raw("good"))
    write(folder / "typo.json", raw("typo", steps=[{"filter": "brigten", "params": {}}]))
    write(folder / "wrong.json", raw("wrong", steps=[{"filter": "brighten", "params": {"amount": "lots"}}]))
    problems = []
    names = [p.name for p in list_presets(problems, registry)]
    assert "good" in names and "broken" not in names and names.count("standard") == 1
    assert "typo" not in names and "wrong" not in names, "a menu would offer presets that fail when chosen"
    assert len(problems) == 3 and "broken.json: not valid JSON" in problems[0]
    assert "unknown filter 'brigten'" in problems[1] and "amount" in problems[2]
    assert load_preset("standard").builtin


def test_file_name_must_match_name():
    folder = omamori_home() / "presets"
    folder.mkdir(parents=True)
    write(folder / "one.json", raw("two"))
    with pytest.raises(PresetError, match="one.json: name: 'two' differs from the file name 'one'"):
        load_preset("one")


def test_preset_dataclass_defaults():
    preset = Preset(name="p", label=Text("P", "P"))
    data = preset.to_dict()
    assert data["schema"] == presets.SCHEMA_VERSION and data["steps"] == [] and data["export"]["profile"] is None
    assert preset_from_dict(data).to_dict() == data


@pytest.mark.parametrize("text,answer", [
    ('{"schema": 1, "name": "x", "seed": NaN}', "(top level): NaN is not a number JSON allows."),
    ('{"schema": 1, "name": "x", "seed": 1e999}', "seed: inf is not a usable number."),
    ('{"schema": 1, "name": "x", "seed": ' + "9" * 5000 + "}", "(top level): the integer 99999999999999999999… is too long."),
    ('{"schema": 1, "name": "x", "help": {"en": "' + "x" * 10_001 + '"}}', "help.en: text longer than 10000 characters."),
    ('{"schema": 1, "steps": ' + "[" * 20 + "]" * 20 + "}", "steps[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: "
     "nested deeper than 16 levels."),
    ("[" * 100_000 + "]" * 100_000, "(top level): nested deeper than 16 levels."),
    ('{"steps": [' + "1," * 1000 + "1]}", "steps: more than 1000 entries."),
])
def test_hostile_preset_files_are_one_line_naming_the_field(tmp_path, text, answer):
    path = tmp_path / "hostile.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PresetError) as caught:
        load_preset(str(path))
    assert caught.value.message("en") == f"{path}: {answer}"


def test_preset_file_over_a_megabyte_and_pipes_are_refused(tmp_path):
    big = tmp_path / "big.json"
    big.write_text('{"help": "' + "x" * (1 << 20) + '"}', encoding="utf-8")
    with pytest.raises(PresetError, match="over the limit"):
        load_preset(str(big))
    os.mkfifo(tmp_path / "pipe.json")
    with pytest.raises(PresetError, match="not a regular file"):
        load_preset(str(tmp_path / "pipe.json"))
