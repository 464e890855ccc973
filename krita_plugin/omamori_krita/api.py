"""Scripting API for Krita's Scripter and batch scripts; the docker does the same steps.

    from omamori_krita import api
    api.protect(Krita.instance().activeDocument(), preset="standard", new_layer=True)
    api.export_protected(doc, "/tmp/post.png", preset="standard")
    report = api.check(doc, preset="standard")

All block until done (scripts want the result); the docker runs `jobs.compute` on a
worker thread instead. Errors raise the host kit's `UserError`: `strings.Problem`,
the bridge's `BridgeError` (its `Cancelled` when `should_cancel()` said so).
"""

from __future__ import annotations

import json

from . import engine, host, jobs

LAST_PRESET_KEY = "last_preset"


def protect(document, preset="standard", new_layer=True, node=None, on_progress=None, should_cancel=None):
    """Protects `node` (default: the active paint layer) of `document`; returns the layer holding the result.

    `new_layer=True` adds the result above the layer (one undo step); False replaces the
    layer's pixels. The selection, if any, limits the effect."""
    job = jobs.prepare_protect(document, preset, new_layer, node)
    jobs.compute(job, engine.bridge(), on_progress, should_cancel)
    layer = jobs.commit(job)
    remember(preset)
    return layer


def check(document, preset="standard", report_path=None, on_progress=None, should_cancel=None) -> dict:
    """How well `preset` protects `document` as it looks (within the selection, if any).

    A protected copy is measured in Omamori's environment; the document is not changed.
    Returns the same fields as `omamori evaluate --json`; with `report_path` the report
    picture is also written there (never over an existing file) and named in "report"."""
    job = jobs.prepare_check(document, preset)
    return jobs.finish_check(jobs.compute(job, engine.bridge(), on_progress, should_cancel), report_path)


def export_protected(document, path, preset="standard", overwrite=False, on_progress=None, should_cancel=None):
    """Writes a flattened, protected copy with opt-out metadata to `path`.

    An existing file is replaced only with `overwrite=True`. The document is not changed.
    Returns the bridge's report (output path, posting checklist)."""
    job = jobs.prepare_export(document, path, preset, overwrite)
    result = jobs.compute(job, engine.bridge(), on_progress, should_cancel)
    remember(preset)
    return result


def last_preset(default="standard"):
    """The preset of the last apply or export: a name, or the settings edited in the docker."""
    saved = host.read_setting(LAST_PRESET_KEY, "")
    if saved.startswith("{"):
        try:
            return json.loads(saved)
        except ValueError:  # a damaged setting must not block the action
            return default
    return saved or default


def remember(preset) -> None:
    host.write_setting(LAST_PRESET_KEY, json.dumps(preset) if isinstance(preset, dict) else str(preset))
