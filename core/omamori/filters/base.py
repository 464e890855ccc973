"""The filter interface every built-in and third-party filter implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import Cancelled
from ..i18n import Text
from ..params import Param

ProgressFn = Callable[[float, str], None]


class CancelToken:
    """Set from any thread (a UI button, a signal handler); checked by long filters."""

    def __init__(self):
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled


@dataclass
class Context:
    """What a running filter may know besides its pixels and settings."""

    seed: int = 0
    bit_depth: int = 8  # of the output: budgets hold after rounding to it
    progress: ProgressFn = field(default=lambda fraction, message: None)
    cancel: CancelToken = field(default_factory=CancelToken)

    def report(self, fraction: float, message: str = "") -> None:
        """Reports progress within this step (0..1) and stops here if cancelled."""
        self.check_cancelled()
        self.progress(min(max(fraction, 0.0), 1.0), message)

    def check_cancelled(self) -> None:
        if self.cancel.cancelled:
            raise Cancelled()

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


class Filter:
    """A named image operation over float32 RGBA in [0, 1], shape (H, W, 4).

    `apply` returns a new array and never writes into its input (the pipeline hands
    it a read-only view). Settings arrive validated against `params`."""

    name: str = ""
    label: Text = Text("", "")
    help: Text = Text("", "")
    params: tuple[Param, ...] = ()
    category: str = "other"  # protect | noise | mark | notice | size | other
    changes_alpha: bool = False  # only filters about alpha may touch it

    def apply(self, rgba: np.ndarray, settings: dict, ctx: Context) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict:
        """A JSON-ready description of the filter and its parameters."""
        return {
            "name": self.name, "category": self.category,
            "label": self.label.as_dict(), "help": self.help.as_dict(),
            "params": [p.as_dict() for p in self.params],
        }
