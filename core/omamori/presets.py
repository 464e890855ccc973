"""Presets: named, versioned JSON recipes (steps + export settings) shared by GIMP,
Krita and the CLI. Built-ins live in `omamori/data/presets/` and cannot be changed;
user presets live in `<omamori_home()>/presets/<name>.json`.

A bad preset gets a PresetError naming the file, the step and the field; unknown keys
are errors, never silently ignored; a newer schema version asks for an update."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ParamError, PresetError
from .atomicfile import write_atomic
from .export import ExportSettings
from .filters.resize import ResizeFilter, within_caps
from .i18n import Text, join, step_place
from .pipeline import Step, build_steps
from .profiles import list_profiles, load_profile
from .registry import Registry, get_registry
from .jsonchecks import (SCHEMA_VERSION, check_bounds, check_file_name, check_keys, check_name, check_schema,
                         expect, fail, omamori_home, read_json, text_field)

__all__ = ["SCHEMA_VERSION", "Preset", "omamori_home", "preset_from_dict", "list_presets", "load_preset",
           "save_preset", "import_preset", "export_preset", "delete_preset"]

BUILTIN_DIR = Path(__file__).parent / "data" / "presets"
_KEYS = ("schema", "name", "label", "help", "seed", "steps", "export")
UNSAVED = Text("<preset>", "<プリセット>")  # where a preset that is no file comes from, for messages


def named_source(name) -> Text:
    """How messages name a preset that is no file (an editor's or `presets save`'s): by its name."""
    return Text(f"preset {name!r}", f"プリセット {name!r}") if isinstance(name, str) and name else UNSAVED


@dataclass
class Preset:
    """Steps to run and how to write the result."""

    name: str
    label: Text
    help: Text = Text("", "")
    seed: int = 0
    steps: list[dict] = field(default_factory=list)  # [{"filter": name, "params": {...}}], as written
    export: ExportSettings = field(default_factory=ExportSettings)
    builtin: bool = False
    source: str | Text = UNSAVED  # the file it came from, for messages

    def to_dict(self) -> dict:
        """The JSON form (what a preset file holds)."""
        return {"schema": SCHEMA_VERSION, "name": self.name, "label": self.label.as_dict(),
                "help": self.help.as_dict(), "seed": self.seed,
                "steps": [{"filter": s["filter"], "params": dict(s.get("params", {}))} for s in self.steps],
                "export": self.export.to_dict()}

    def validate(self, registry: Registry | None = None) -> list[Step]:
        """Checks every step's filter and parameters against the registry."""
        registry = registry or get_registry()
        if self.export.profile and self.export.profile not in [p.name for p in list_profiles()]:
            raise fail(self.source, "export.profile", Text("unknown posting profile {name!r}.",
                                                           "不明な投稿プロファイル {name!r}。"),
                       name=self.export.profile)
        for index, step in enumerate(self.steps, start=1):
            if step["filter"] not in registry.names():
                raise fail(join(self.source, ": ", step_place(index)), "filter", Text(
                    "unknown filter {name!r}; known: {known}.", "不明なフィルタ {name!r}（使えるもの: {known}）。"),
                    name=step["filter"], known=", ".join(registry.names()))
        try:
            return build_steps(self.steps, registry, where=join(self.source, ": "))
        except ParamError as err:  # already names the step and the parameter
            raise PresetError(err.text, **err.values) from None

    def sized_steps(self, registry: Registry | None = None) -> list[Step]:
        """The validated steps, each `resize` also within the posting profile's size caps: the cloak
        is made for the size the platform keeps, and a user's corrected profile must change that size."""
        steps = self.validate(registry)
        if not self.export.profile:
            return steps
        profile = load_profile(self.export.profile)
        return [replace(step, settings=within_caps(step.settings, profile.max_long_edge, profile.max_megapixels))
                if step.filter.name == ResizeFilter.name else step for step in steps]


def preset_from_dict(data: dict, source: str | Text = UNSAVED, builtin: bool = False) -> Preset:
    """A structurally valid preset (filters are checked by `Preset.validate`)."""
    expect(data, dict, source, "")
    check_schema(data, source)
    check_keys(data, _KEYS, source)
    name = check_name(data.get("name"), source)
    seed = expect(data.get("seed", 0), int, source, "seed")
    if seed < 0:  # NumPy's generators take only non-negative seeds
        raise fail(source, "seed", Text("{seed} is negative; use 0 or more.", "{seed} は負の数です。0 以上にしてください。"),
                   seed=seed)
    steps = [_step(raw, join(source, ": ", step_place(i)))
             for i, raw in enumerate(expect(data.get("steps", []), list, source, "steps"), start=1)]
    return Preset(name=name, label=text_field(data.get("label", name), source, "label"),
                  help=text_field(data.get("help", ""), source, "help"), seed=seed, steps=steps,
                  export=ExportSettings.from_dict(data.get("export", {}), source), builtin=builtin, source=source)


def _step(raw, where: str | Text) -> dict:
    expect(raw, dict, where, "")
    check_keys(raw, ("filter", "params"), where)
    return {"filter": expect(raw.get("filter"), str, where, "filter"),
            "params": dict(expect(raw.get("params", {}), dict, where, "params"))}


def user_dir() -> Path:
    return omamori_home() / "presets"


def _builtin_path(name: str) -> Path:
    return BUILTIN_DIR / f"{name}.json"


def _read(path: Path, builtin: bool) -> Preset:
    preset = preset_from_dict(read_json(path), str(path), builtin)
    check_file_name(preset.name, path)
    return preset


def list_presets(problems: list[str] | None = None, registry: Registry | None = None) -> list[Preset]:
    """Built-in then user presets, by name; a broken user file (bad JSON, or a step the filters in
    `registry` refuse: an editor's menu would offer a preset that fails when chosen) is left out and,
    when `problems` is given, its one-line error is appended there."""
    found = [_read(path, True) for path in sorted(BUILTIN_DIR.glob("*.json"))]
    builtin_names = {p.name for p in found}
    user = sorted(user_dir().glob("*.json")) if user_dir().is_dir() else []
    for path in user:
        if path.stem in builtin_names:
            continue  # never shadow a built-in; save_preset refuses such names
        try:
            preset = _read(path, False)
            preset.validate(registry)
            found.append(preset)
        except PresetError as err:
            if problems is not None:
                problems.append(err.message())
    return found


def load_preset(preset: str | Path | dict) -> Preset:
    """A preset by name (built-in first, then the user folder), from a JSON file path,
    or from a dict (a preset edited in an editor's dialog)."""
    if isinstance(preset, dict):
        source = named_source(preset.get("name"))
        check_bounds(preset, source)
        return preset_from_dict(preset, source)
    text = str(preset)
    if text.endswith(".json") or "/" in text or "\\" in text:
        path = Path(text)
        return preset_from_dict(read_json(path), str(path))
    if _builtin_path(text).is_file():
        return _read(_builtin_path(text), True)
    if (user_dir() / f"{text}.json").is_file():
        return _read(user_dir() / f"{text}.json", False)
    raise PresetError(Text("unknown preset {name!r}; known: {known}.", "不明なプリセット {name!r}（使えるもの: {known}）。"),
                      name=text, known=", ".join(p.name for p in list_presets()))


def save_preset(preset: Preset, overwrite: bool = False) -> Path:
    """Validates `preset` and writes it to the user folder; built-in names are refused."""
    _refuse_builtin(preset.name)
    # Store typed values ("0.5" from a command line becomes 0.5), only for the keys given,
    # so that unset parameters keep following the filter's default.
    steps = [{"filter": raw["filter"], "params": {k: step.settings[k] for k in raw["params"]}}
             for raw, step in zip(preset.steps, preset.validate())]
    preset = replace(preset, steps=steps)
    folder = user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{preset.name}.json"
    if target.exists() and not overwrite:
        raise PresetError(Text("preset {name!r} already exists ({path}); use --overwrite to replace it.",
                               "プリセット {name!r} は既にあります（{path}）。置き換えるには --overwrite を付けてください。"),
                          name=preset.name, path=target)
    return write_atomic(target, _json_bytes(preset), overwrite=overwrite)


def import_preset(path: str | Path, overwrite: bool = False) -> Path:
    """Copies a preset file into the user folder, after validating it."""
    path = Path(path)
    return save_preset(preset_from_dict(read_json(path), str(path)), overwrite=overwrite)


def export_preset(name: str, path: str | Path, overwrite: bool = False) -> Path:
    """Writes preset `name` (built-in or user) to `path`, to share it."""
    return write_atomic(Path(path), _json_bytes(load_preset(name)), overwrite=overwrite)


def delete_preset(name: str) -> Path:
    """Removes a user preset; built-ins cannot be deleted."""
    _refuse_builtin(check_name(name, UNSAVED))
    target = user_dir() / f"{name}.json"
    if not target.is_file():
        raise PresetError(Text("no user preset named {name!r} in {folder}.", "{folder} にユーザープリセット {name!r} はありません。"),
                          name=name, folder=user_dir())
    target.unlink()
    return target


def _refuse_builtin(name: str) -> None:
    if _builtin_path(name).is_file():
        raise PresetError(Text("{name!r} is a built-in preset and cannot be changed or deleted; save under another name.",
                               "{name!r} は組み込みプリセットのため変更・削除できません。別の名前で保存してください。"),
                          name=name)


def _json_bytes(preset: Preset) -> bytes:
    return (json.dumps(preset.to_dict(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
