"""The plug-in's two operations, split by thread.

`prepare_*` and `commit` touch Krita (UI thread only); `compute` only talks to the
worker process, so the docker runs it on a QThread while scripts call it directly.
Nothing is written to the document before `commit`, which is why cancel or failure
leaves the document exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from . import host
from .strings import tr

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
class ExportJob:
    doc: Any
    pixels: host.Pixels
    preset: Preset
    path: str
    result: dict = field(default_factory=dict)


def prepare_protect(doc, preset: Preset, new_layer: bool = True, node=None) -> ProtectJob:
    node = host.paint_target(doc, node)
    return ProtectJob(doc, node, host.read_layer(doc, node), preset, new_layer)


def prepare_export(doc, path: str, preset: Preset) -> ExportJob:
    return ExportJob(doc, host.read_flattened(doc), preset, str(path))


def compute(job, bridge, on_progress: Optional[Callable[[float, str], None]] = None,
            should_cancel: Optional[Callable[[], bool]] = None):
    """The heavy part, in the worker process; safe on any thread (no Krita calls)."""
    p = job.pixels
    if isinstance(job, ExportJob):
        job.result = bridge.export(p.data, p.width, p.height, p.layout, job.preset, job.path,
                                   on_progress=on_progress, should_cancel=should_cancel)
    else:
        job.result = bridge.process(p.data, p.width, p.height, p.layout, job.preset, mask=p.mask,
                                    on_progress=on_progress, should_cancel=should_cancel)
    return job.result


def commit(job):
    """Writes a finished protect job into the document (UI thread); returns the layer."""
    if isinstance(job, ExportJob):
        return None  # exporting never changes the document
    if job.new_layer:
        name = tr("layer_suffix", name=job.node.name())
        return host.write_new_layer(job.doc, job.node, job.pixels, job.result, name)
    return host.replace_layer(job.doc, job.node, job.pixels, job.result)


def preset_name(preset: Preset) -> str:
    return preset.get("name", "") if isinstance(preset, dict) else str(preset)
