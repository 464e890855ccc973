"""Worker side of the editor bridge: ``python -m omamori.bridge.worker DIR``.

Reads DIR/request.json (and input.raw, mask.raw), prints JSON lines of progress
on stdout and ends with one ``{"result": ...}`` or ``{"error": "..."}`` line.
Pixels come back in DIR/output.raw, written atomically; the "check" operation's
report picture in DIR/report.png. DIR is the bridge's private job folder."""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
from pathlib import Path

import numpy as np

from .. import jobs, presets
from ..errors import OmamoriError
from ..pixels import SRGB, bytes_to_rgba, layout_bit_depth, rgba_to_samples


def emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def report_progress(fraction: float, message: str) -> None:
    emit({"progress": round(fraction, 4), "message": message})


def read_pixels(folder: Path, args: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """The input as sRGB-encoded float32 RGBA (converted from linear light when args["transfer"] says so)."""
    width, height = int(args["width"]), int(args["height"])
    rgba = bytes_to_rgba((folder / "input.raw").read_bytes(), width, height, args["layout"],
                         args.get("transfer", SRGB))
    mask_path = folder / "mask.raw"
    mask = None
    if mask_path.exists():
        mask = np.frombuffer(mask_path.read_bytes(), np.uint8).reshape(height, width).astype(np.float32) / 255.0
    return rgba, mask


def op_describe(folder: Path, args: dict) -> dict:
    return jobs.describe()


def op_preset(folder: Path, args: dict) -> dict:
    return presets.load_preset(args["preset"]).to_dict()


def op_save_preset(folder: Path, args: dict) -> dict:
    saved = presets.save_preset(presets.preset_from_dict(args["preset"]), overwrite=bool(args.get("overwrite")))
    return {"path": str(saved)}


def op_process(folder: Path, args: dict) -> dict:
    """Protects the layer's pixels. Nothing outside the selection is lost: where the mask is 0 the
    input's bytes come back unchanged, values outside [0, 1] included (see pixels.rgba_to_samples);
    with no selection the whole layer is processed and comes back in [0, 1], the filters' domain. The
    filters work on sRGB-encoded values; a linear layer comes back in linear light (args["transfer"])."""
    rgba, mask = read_pixels(folder, args)
    preset = presets.load_preset(args["preset"])
    out = jobs.protect_pixels(rgba, preset, bit_depth=layout_bit_depth(args["layout"]), mask=mask,
                              seed=args.get("seed"), keep_size=True, progress=report_progress)
    del rgba  # freed before the input is read back, so the peak holds no more than before
    original = None if mask is None else (folder / "input.raw").read_bytes()
    samples = rgba_to_samples(out, args["layout"], original=original, mask=mask,
                              transfer=args.get("transfer", SRGB))
    temp = folder / "output.raw.tmp"
    temp.write_bytes(memoryview(samples).cast("B"))  # the array's own memory: no bytes copy of it
    os.replace(temp, folder / "output.raw")
    return {"width": out.shape[1], "height": out.shape[0]}


def op_check(folder: Path, args: dict) -> dict:
    """Protects a copy with the preset and measures it as `omamori evaluate --json` does."""
    from ..evaluate import check_pixels  # imported here: the measuring encoder is only needed for checks

    rgba, mask = read_pixels(folder, args)
    preset = presets.load_preset(args["preset"])
    report = folder / REPORT_NAME
    result = check_pixels(rgba, preset, bit_depth=layout_bit_depth(args["layout"]), mask=mask,
                          report_path=report, progress=report_progress)
    return {"result": result, "report_png": str(report)}


def op_export(folder: Path, args: dict) -> dict:
    rgba, _ = read_pixels(folder, args)
    preset = presets.load_preset(args["preset"])
    return jobs.export_pixels(rgba, preset, Path(args["path"]), bit_depth=layout_bit_depth(args["layout"]),
                              overwrite=bool(args.get("overwrite", False)), progress=report_progress)


REPORT_NAME = "report.png"
OPERATIONS = {"describe": op_describe, "preset": op_preset, "save_preset": op_save_preset,
              "process": op_process, "check": op_check, "export": op_export}


def main(argv: list[str]) -> int:
    folder = Path(argv[1])
    try:
        return run(folder)
    except BrokenPipeError:
        return editor_gone(folder)


def editor_gone(folder: Path) -> int:
    """The editor stopped listening (GIMP kills a plug-in whose progress is cancelled): nobody will
    collect the job or remove its folder, which holds a raw copy of the artist's layer, so the worker does."""
    shutil.rmtree(folder, ignore_errors=True)
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second broken pipe at exit
    return 1


def run(folder: Path) -> int:
    try:
        request = json.loads((folder / "request.json").read_text(encoding="utf-8"))
        result = OPERATIONS[request["op"]](folder, request.get("args", {}))
    except OmamoriError as err:
        emit({"error": err.message()})
        return 1
    except BrokenPipeError:
        raise
    except Exception as err:  # report, never hang the editor; the trace goes to stderr for bug reports
        traceback.print_exc()
        emit({"error": f"internal error / 内部エラー: {type(err).__name__}: {err}"})
        return 1
    emit({"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
