"""The plug-in's operations (protect, check, export), split by thread.

`prepare_*` and `commit` touch Krita (UI thread only); `compute` only talks to the
worker process, so the docker runs it on a QThread while scripts call it directly.
Nothing is written to the document before `commit`, which is why cancel or failure
leaves the document exactly as it was; `commit` writes only while the layer still holds
the pixels that were read, so strokes painted meanwhile are never covered.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from . import host
from . import omamori_hostkit as hostkit
from .strings import Problem, tr

Preset = Union[str, dict]  # a preset name, or a full preset dict edited in the docker


@dataclass
class ProtectJob:
    doc: Any
    node: Any
    pixels: host.Pixels
    preset: Preset
    new_layer: bool
    result: Optional[bytes] = None


@dataclass
class CheckJob:
    doc: Any
    pixels: host.Pixels
    preset: Preset
    result: dict = field(default_factory=dict)  # {"result": the evaluate dict, "report_png": a temp file}


@dataclass
class ExportJob:
    doc: Any
    pixels: host.Pixels
    preset: Preset
    path: str
    overwrite: bool = False
    result: dict = field(default_factory=dict)


def prepare_protect(doc, preset: Preset, new_layer: bool = True, node=None) -> ProtectJob:
    node = host.paint_target(doc, node)
    return ProtectJob(doc, node, host.read_layer(doc, node), preset, new_layer)


def prepare_check(doc, preset: Preset) -> CheckJob:
    """The document as it looks (what would be posted), limited to the selection if there is one."""
    return CheckJob(doc, host.read_flattened(doc, with_selection=True), preset)


def prepare_export(doc, path: str, preset: Preset, overwrite: bool = False) -> ExportJob:
    return ExportJob(doc, host.read_flattened(doc), preset, str(path), overwrite)


def compute(job, bridge, on_progress: Optional[Callable[[float, str], None]] = None,
            should_cancel: Optional[Callable[[], bool]] = None):
    """The heavy part, in the worker process; safe on any thread (no Krita calls)."""
    p = job.pixels
    if isinstance(job, ExportJob):
        job.result = bridge.export(p.data, p.width, p.height, p.layout, job.preset, job.path,
                                   overwrite=job.overwrite, on_progress=on_progress, should_cancel=should_cancel)
    elif isinstance(job, CheckJob):
        job.result = bridge.check(p.data, p.width, p.height, p.layout, job.preset, mask=p.mask,
                                  on_progress=on_progress, should_cancel=should_cancel)
    else:
        job.result = bridge.process(p.data, p.width, p.height, p.layout, job.preset, mask=p.mask,
                                    transfer=p.transfer, on_progress=on_progress, should_cancel=should_cancel)
    return job.result


def commit(job):
    """Writes a finished protect job into the document (UI thread); returns the layer."""
    if not isinstance(job, ProtectJob):
        return None  # checking and exporting never change the document
    host.ensure_unchanged(job.doc, job.node, job.pixels)
    if job.new_layer:
        name = tr("layer_suffix", name=job.node.name())
        return host.write_new_layer(job.doc, job.node, job.pixels, job.result, name)
    return host.replace_layer(job.doc, job.node, job.pixels, job.result)


def finish_check(answer: dict, report_path=None) -> dict:
    """The measurements of a finished check; its picture kept at `report_path` (never over a file,
    named in "report") or deleted."""
    result = dict(answer["result"])
    picture = answer["report_png"]
    try:
        if report_path is None:
            result.pop("report", None)  # it named the worker's folder, which is gone
        else:
            result["report"] = keep_new_file(picture, str(report_path))
    finally:
        os.unlink(picture)
    return result


def keep_new_file(source: str, target: str) -> str:
    """Copies `source` to `target` whole, only if `target` does not exist."""
    with open(source, "rb") as handle:
        data = handle.read()
    try:
        return hostkit.write_file(target, data)
    except FileExistsError:
        raise Problem("file_exists", path=target) from None


def preset_name(preset: Preset) -> str:
    return preset.get("name", "") if isinstance(preset, dict) else str(preset)
