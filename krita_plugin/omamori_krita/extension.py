"""Menu actions (Tools › Scripts): "Protect with last preset" and "Export protected copy…".

Action ids and default (empty) shortcuts are declared in omamori_krita.action, so users
rebind them in Settings › Configure Krita › Keyboard Shortcuts.
"""

from __future__ import annotations

from PyQt5.QtWidgets import QMessageBox, QProgressDialog
from krita import Extension

from . import api, dialogs, engine, host, jobs, runner
from . import omamori_hostkit as hostkit
from .docker import export_summary
from .strings import tr

MENU = "tools/scripts"


class OmamoriExtension(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.task = None

    def setup(self):
        pass

    def createActions(self, window):
        window.createAction("omamori_protect", tr("action_protect"), MENU).triggered.connect(self.protect)
        window.createAction("omamori_export", tr("export"), MENU).triggered.connect(self.export)

    def protect(self):
        self._start(lambda: jobs.prepare_protect(host.active_document(), api.last_preset(), True))

    def export(self):
        path, overwrite = dialogs.export_target(_window())
        if path:
            self._start(lambda: jobs.prepare_export(host.active_document(), path, api.last_preset(), overwrite))

    def _start(self, prepare):
        parent = _window()
        try:
            job = prepare()
        except hostkit.UserError as problem:
            QMessageBox.warning(parent, tr("title"), runner.error_message(problem))
            return
        dialog = QProgressDialog(tr("working"), tr("cancel"), 0, 1000, parent)
        dialog.setWindowTitle(tr("title"))
        dialog.setMinimumDuration(300)

        def progress(fraction, message):
            dialog.setValue(int(fraction * 1000))
            if message:
                dialog.setLabelText(message)

        def done(task):
            dialog.reset()
            self.task = None
            if task.error is not None:
                if not runner.is_cancel(task.error):
                    QMessageBox.warning(parent, tr("title"), runner.error_message(task.error))
                return
            try:
                jobs.commit(job)
            except hostkit.UserError as problem:
                QMessageBox.warning(parent, tr("title"), runner.error_message(problem))
                return
            if isinstance(job, jobs.ExportJob):
                QMessageBox.information(parent, tr("title"), export_summary(task.result, job.path))

        self.task = runner.start(dialog, lambda p, c: jobs.compute(job, engine.bridge(), p, c), progress, done)
        dialog.canceled.connect(self.task.cancel)


def _window():
    window = host.app().activeWindow()
    return window.qwindow() if window is not None else None
