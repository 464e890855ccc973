"""The jobs users run, shared by the CLI and the editor bridge: protect pixels,
protect a file, export a protected copy, describe what is available."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import __version__, export, imageio, presets, profiles
from .atomicfile import check_target
from .errors import Cancelled, OmamoriError, escape_controls
from .filters.base import CancelToken, ProgressFn
from .i18n import Text
from .pipeline import run_steps
from .pixels import from_float
from .registry import get_registry


@dataclass
class FileResult:
    """What happened to one input file (the CLI's --json line)."""

    input: str
    output: str | None = None
    ok: bool = False
    error: str | None = None
    notices: list[str] = field(default_factory=list)
    debug: str | None = None  # the traceback of an internal error, shown only with --debug

    def as_dict(self) -> dict:
        return {"input": self.input, "output": self.output, "ok": self.ok, "error": self.error}


def describe() -> dict:
    """Everything an editor needs to build its dialogs, from the core's declarations."""
    return {
        "version": __version__,
        "filters": [f.describe() for f in get_registry().all()],
        "presets": [p.to_dict() for p in presets.list_presets()],
        "profiles": [p.to_dict() for p in profiles.list_profiles()],
    }


def protect_pixels(rgba: np.ndarray, preset: presets.Preset, *, bit_depth: int = 8,
                   mask: np.ndarray | None = None, seed: int | None = None, keep_size: bool = False,
                   progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> np.ndarray:
    """Runs the preset's steps (validated first, `resize` within its posting profile's caps)
    over float32 RGBA pixels.

    `keep_size` skips size-changing steps (posting-profile caps): an editor layer
    cannot change size, so those steps only apply when a copy is exported."""
    steps = preset.sized_steps()
    if keep_size:
        steps = [step for step in steps if step.filter.category != "size"]
    return run_steps(rgba, steps, seed=preset.seed if seed is None else int(seed),
                     bit_depth=bit_depth, progress=progress, cancel=cancel, mask=mask)


def export_pixels(rgba: np.ndarray, preset: presets.Preset, path: Path, *, bit_depth: int = 8,
                  overwrite: bool = True, source: imageio.Picture | None = None,
                  progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> dict:
    """Protects and writes a copy with opt-out metadata; returns the output and the
    posting checklist to show the user."""
    out = protect_pixels(rgba, preset, bit_depth=bit_depth, progress=progress, cancel=cancel)
    notices = list(source.notices) if source else []
    written = export.write_picture(out, path, source=source, settings=preset.export, overwrite=overwrite,
                                   notices=notices)
    return {"output": str(written), "checklist": posting_checklist(preset), "notices": [n.get() for n in notices]}


def posting_checklist(preset: presets.Preset) -> list[str]:
    """The posting profile's checklist lines, in the user's language."""
    profile = preset.export.profile
    return profiles.load_profile(profile).checklist_lines() if profile else []


def protect_file(path: str | Path, preset: presets.Preset, *, out_dir: str | Path | None = None,
                 overwrite: bool = False, target: str | Path | None = None, progress: ProgressFn | None = None,
                 cancel: CancelToken | None = None) -> FileResult:
    """Protects one file into `target` (default ``<stem>-protected.<ext>``), every
    frame of an animation; never raises: a failure is the result's one-line error
    (an unexpected one says "internal error" and keeps its traceback in `debug`)."""
    result = FileResult(input=str(path))
    try:
        picture = imageio.load(path)
        target = Path(target) if target is not None else export.protected_path(
            Path(path), out_dir, preset.export.output_format(picture.format))
        check_target(target, overwrite)  # before any pixel work: a refusal should cost nothing
        if picture.animated:
            info = _export_animation(picture, preset, target, overwrite, progress, cancel)
        else:
            info = export_pixels(picture.pixels, preset, target, bit_depth=picture.bit_depth,
                                 overwrite=overwrite, source=picture, progress=progress, cancel=cancel)
    except Cancelled as err:  # the user's own stop, not a fault of this file
        result.error = err.message()
        return result
    except OmamoriError as err:
        result.error = naming_the_file(path, err.message())
        return result
    except MemoryError:
        result.error = naming_the_file(path, Text(
            "not enough memory for this image; lower OMAMORI_MAX_MEGAPIXELS or use a smaller one.",
            "この画像にはメモリが足りません。OMAMORI_MAX_MEGAPIXELS を下げるか、小さい画像を使ってください。").get())
        return result
    except Exception as err:  # noqa: BLE001 - one bad file must never stop a batch
        return internal_error(str(path), err)
    result.output, result.ok, result.notices = info["output"], True, info["notices"]
    return result


def internal_error(path: str, err: BaseException, debug: str | None = None) -> FileResult:
    """A one-line result for a failure nobody foresaw; the traceback waits for --debug."""
    why = (str(err).splitlines() or [""])[0]
    result = FileResult(input=path, error=escape_controls(Text(
        "{path}: internal error ({kind}: {why}); run with --debug for details.",
        "{path}: 内部エラー（{kind}: {why}）。詳しくは --debug を付けて実行してください。").format(
        path=path, kind=type(err).__name__, why=why)))
    result.debug = debug or "".join(traceback.format_exception(err))
    return result


def naming_the_file(path: str | Path, message: str) -> str:
    """A batch's line names its file, whichever layer raised the error."""
    name = str(path)
    return message if message.startswith(name) else f"{name}: {message}"


def _export_animation(picture: imageio.Picture, preset: presets.Preset, target: Path, overwrite: bool,
                      progress: ProgressFn | None, cancel: CancelToken | None) -> dict:
    """Runs the preset over every frame with the same seed (so the pattern holds still
    from frame to frame) and writes the animation back."""
    report = progress or (lambda fraction, message: None)
    count = len(picture.frames)
    done = []
    for index, frame in enumerate(picture.frames):
        def frame_progress(fraction: float, message: str, index=index) -> None:
            report((index + fraction) / count, message)

        out = protect_pixels(frame.pixels, preset, bit_depth=8, progress=frame_progress, cancel=cancel)
        done.append(replace(frame, samples=from_float(out, np.dtype(np.uint8))))
    notices = list(picture.notices)
    written = export.write_frames(done, target, source=picture, settings=preset.export, overwrite=overwrite,
                                  notices=notices)
    return {"output": str(written), "checklist": posting_checklist(preset), "notices": [n.get() for n in notices]}


def single_filter_preset(name: str, params: dict) -> presets.Preset:
    """A one-step preset for `omamori apply` and the editors' per-filter actions."""
    return presets.preset_from_dict({
        "schema": presets.SCHEMA_VERSION, "name": f"apply-{name}",
        "label": Text(name, name).as_dict(), "steps": [{"filter": name, "params": params}],
    }, source=f"omamori apply {name}")
