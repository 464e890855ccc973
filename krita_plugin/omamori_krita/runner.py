"""Runs bridge calls on a QThread so that Krita's UI never waits on the worker process.

The thread only calls the bridge (plain Python, pipes to the worker process); results
come back to the UI thread through Qt's queued `finished` signal, where Krita's API may
be used again.
"""

from __future__ import annotations

from PyQt5.QtCore import QThread, pyqtSignal

from . import omamori_hostkit as hostkit
from .strings import language, tr


class Task(QThread):
    progressed = pyqtSignal(float, str)

    def __init__(self, work, parent=None):
        super().__init__(parent)
        self._work = work
        self._cancel = False
        self.result = None
        self.error = None

    def cancel(self) -> None:
        self._cancel = True  # read by the bridge between progress messages; it then kills the worker

    def run(self) -> None:
        try:
            self.result = self._work(self.progressed.emit, lambda: self._cancel)
        except BaseException as err:  # reported on the UI thread, never lost
            self.error = err


def start(parent, work, on_progress, on_done) -> Task:
    """Starts `work(on_progress, should_cancel)`; calls `on_done(task)` on the UI thread."""
    task = Task(work, parent)
    task.progressed.connect(on_progress)
    task.finished.connect(lambda: on_done(task))
    task.start()
    return task


def error_message(error) -> str:
    """One plain line for any failure; '' for a cancel (the caller words that itself)."""
    kind = hostkit.error_kind(error)
    if kind == hostkit.CANCELLED:
        return ""
    if isinstance(error, hostkit.BridgeError):  # the worker's line, with what failed
        return tr("failed", message=error.message(language()))
    if kind == hostkit.EXPECTED:
        return error.message(language())
    return tr("failed", message=f"{type(error).__name__}: {error}")


def is_cancel(error) -> bool:
    return hostkit.error_kind(error) == hostkit.CANCELLED
