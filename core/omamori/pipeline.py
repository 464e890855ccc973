"""Runs preset steps in order, with progress, cancel and an optional selection mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .filters.base import CancelToken, Context, Filter, ProgressFn
from .i18n import Text, join, step_place
from .params import resolve
from .registry import Registry, get_registry


@dataclass(frozen=True)
class Step:
    """One filter with validated settings."""

    filter: Filter
    settings: dict


def build_steps(raw_steps: list[dict], registry: Registry | None = None, where: str | Text = "") -> list[Step]:
    """Validates ``[{"filter": name, "params": {...}}, ...]`` before anything runs."""
    registry = registry or get_registry()
    steps = []
    for index, raw in enumerate(raw_steps, start=1):
        filt = registry.get(raw["filter"])
        place = join(where, step_place(index, filt.name), ": ")
        steps.append(Step(filt, resolve(filt.params, raw.get("params", {}), place)))
    return steps


def check_pixels(rgba: np.ndarray) -> None:
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.float32 or min(rgba.shape[:2]) < 1:
        raise InputError(Text("pixels must be float32 RGBA of shape (H, W, 4), got {shape} {dtype}.",
                              "画素は (H, W, 4) の float32 RGBA である必要があります（{shape} {dtype}）。"),
                         shape=rgba.shape, dtype=rgba.dtype)


def run_steps(rgba: np.ndarray, steps: list[Step], *, seed: int = 0, bit_depth: int = 8,
              progress: ProgressFn | None = None, cancel: CancelToken | None = None,
              mask: np.ndarray | None = None) -> np.ndarray:
    """Applies `steps` to a copy of `rgba` and returns the result; `rgba` is never written.

    `mask` (H, W) in [0, 1] limits the effect to a selection; steps that change the
    image size (resize) ignore it. Deterministic for a given seed."""
    check_pixels(rgba)
    cancel = cancel or CancelToken()
    report = progress or (lambda fraction, message: None)
    current = rgba
    for index, step in enumerate(steps):
        ctx = Context(seed=seed + index, bit_depth=bit_depth, cancel=cancel,
                      progress=_step_progress(report, index, len(steps), step.filter))
        ctx.report(0.0, step.filter.label.get())
        result = step.filter.apply(_read_only(current), step.settings, ctx)
        ctx.check_cancelled()  # a step that finished after cancel (its last tile, a filter that never looks) is not used
        current = _keep_alpha_and_mask(current, result, step.filter, mask)
    report(1.0, Text("Done", "完了").get())
    return current if current is not rgba else rgba.copy()


def _read_only(rgba: np.ndarray) -> np.ndarray:
    view = rgba.view()
    view.flags.writeable = False
    return view


def _step_progress(report: ProgressFn, index: int, count: int, filt: Filter) -> ProgressFn:
    def step_report(fraction: float, message: str) -> None:
        report((index + fraction) / count, message or filt.label.get())
    return step_report


def _keep_alpha_and_mask(before: np.ndarray, after: np.ndarray, filt: Filter,
                         mask: np.ndarray | None) -> np.ndarray:
    """Enforces the alpha promise and the selection, whatever the filter did."""
    check_pixels(after)
    if after.shape != before.shape:
        return np.ascontiguousarray(after)
    out = _owned(after, before)
    if not filt.changes_alpha:
        out[..., 3] = before[..., 3]
    if mask is not None:
        weight = np.clip(mask, 0.0, 1.0).astype(np.float32)[..., None]
        out -= before
        out *= weight
        out += before
    return out


def _owned(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """`after` itself when the filter returned a fresh array (as filters should), else a copy:
    on a 16 MP picture each avoided copy is 256 MB less at the peak."""
    if after.flags.writeable and after.flags.c_contiguous and after.base is None \
            and not np.may_share_memory(after, before):
        return after
    return np.array(after, dtype=np.float32, copy=True)
