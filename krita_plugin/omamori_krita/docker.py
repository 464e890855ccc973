"""The "Omamori" docker: preset, generated controls, apply/check/export, progress and status.

Widgets are generated from the parameter declarations the worker describes
(controls.py); the docker itself knows no filter. Work runs on a runner.Task.
"""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (QComboBox, QFormLayout, QFrame, QGroupBox, QHBoxLayout, QInputDialog, QLabel,
                             QLineEdit, QMessageBox, QProgressBar, QPushButton, QScrollArea, QVBoxLayout, QWidget)
from krita import DockWidget

from . import api, controls, dialogs, engine, host, jobs, runner, widgets
from . import omamori_hostkit as hostkit
from .strings import text, tr

DOCKER_ID = "omamori_docker"


class OmamoriPanel(QWidget):
    """The docker's content; a plain QWidget so tests can build and grab it offscreen."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.info = None          # bridge.describe(): filters, presets, profiles
        self.task = None
        self.report_dialog = None  # the last check's report, kept alive while shown
        self.inputs = {}          # (step index, param name) -> widget
        self.controls = []
        layout = QVBoxLayout(self)
        self.preset_box = QComboBox()
        self.preset_box.currentIndexChanged.connect(self._show_preset)
        row = QFormLayout()
        row.addRow(tr("preset"), self.preset_box)
        layout.addLayout(row)
        # Steps scroll: a preset like "strong" has more controls than a docker is tall.
        steps = QWidget()
        self.steps_area = QVBoxLayout(steps)
        self.steps_area.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setWidget(steps)
        layout.addWidget(scroll, 1)
        self.buttons = {}
        for key, slot in (("apply_new", lambda: self.apply(True)), ("apply_this", lambda: self.apply(False)),
                          ("check", self.check), ("export", self.export), ("save_preset", self.save_preset)):
            button = QPushButton(tr(key))
            button.setObjectName(key)
            button.clicked.connect(slot)
            layout.addWidget(button)
            self.buttons[key] = button
        bar = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.cancel_button = QPushButton(tr("cancel"))
        self.cancel_button.clicked.connect(self.cancel)
        bar.addWidget(self.progress)
        bar.addWidget(self.cancel_button)
        layout.addLayout(bar)
        self.status = QLabel(tr("loading"))
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.status)
        self._busy(False)

    # --- loading the core's description -------------------------------------------------
    def load(self, wait: bool = False, status: str = "") -> None:
        """Asks the worker for filters and presets (off the UI thread unless `wait`).

        `status` is shown once loaded (e.g. "preset saved"), instead of "Ready."."""
        def loaded(task):
            self._loaded(task, status or tr("ready"))
        if wait:
            loaded(_Done(engine.bridge().describe()))
            return
        self._run(lambda progress, cancel: engine.bridge().describe(), loaded)

    def _loaded(self, task, status: str) -> None:
        if not self._report(task):
            return
        self.info = task.result
        current = api.last_preset()
        current_name = jobs.preset_name(current)
        self.preset_box.blockSignals(True)
        self.preset_box.clear()
        names = []
        for preset in self.info.get("presets", []):
            self.preset_box.addItem(text(preset.get("label") or preset["name"]), preset)
            names.append(preset["name"])
        self.preset_box.setCurrentIndex(names.index(current_name) if current_name in names else 0)
        self.preset_box.blockSignals(False)
        self._show_preset()
        self._say(status)

    def _show_preset(self, *_args) -> None:
        """Rebuilds the step controls; a slot, so failures are shown inline (Krita would open a dialog)."""
        try:
            self._build_controls()
        except Exception as err:  # noqa: BLE001 - one bad declaration must not break the docker
            self._say(runner.error_message(err), error=True)

    def _build_controls(self) -> None:
        while self.steps_area.count():
            item = self.steps_area.takeAt(0)
            widget = item.widget()
            if widget is not None:  # hide now: deleteLater alone leaves it drawn until the event loop turns
                widget.hide()
                widget.deleteLater()
        self.inputs, self.controls = {}, []
        preset = self.preset_box.currentData()
        if not preset:
            return
        filters = self.filters()
        self.controls = controls.controls_for(preset, filters)
        groups = {}
        for index, step in enumerate(preset.get("steps", [])):
            spec = filters.get(step.get("filter"), {})
            box = QGroupBox(f"{index + 1}. {text(spec.get('label') or step.get('filter'))}")
            box.setObjectName(f"step{index}")
            box.setToolTip(text(spec.get("help")))
            box.setLayout(QFormLayout())
            groups[index] = box
            self.steps_area.addWidget(box)
        for control in self.controls:
            widget = widgets.make(control)
            widget.setObjectName(f"{control.step}.{control.name}")
            widget.setToolTip(control.tooltip)
            groups[control.step].layout().addRow(control.label, widget)
            self.inputs[(control.step, control.name)] = widget
        self.steps_area.addStretch(1)

    def filters(self) -> dict:
        return {f["name"]: f for f in (self.info or {}).get("filters", [])}

    def edits(self) -> dict:
        """The values the user changed, by (step, param); spin boxes round to their decimals."""
        out = {}
        for control in self.controls:
            widget = self.inputs.get((control.step, control.name))
            if widget is None:  # its step failed to build; nothing to read
                continue
            value = controls.typed(control, widgets.value_of(widget))
            if control.widget == "double":
                same = abs(value - float(control.value)) <= 0.5 * 10 ** -control.decimals
            elif isinstance(widget, QLineEdit):  # an unset text (None) shows as ""
                same = value == ("" if control.value is None else str(control.value))
            else:
                same = value == control.value
            if not same:
                out[(control.step, control.name)] = value
        return out

    def current_preset(self, name=None) -> dict:
        """The chosen preset with the user's edits applied."""
        return controls.edited_preset(self.preset_box.currentData() or {}, self.edits(), name)

    def _preset_for_run(self):
        """The preset's name when nothing was edited (the worker resolves it), else the edited dict."""
        if not self.edits():
            return (self.preset_box.currentData() or {}).get("name", "standard")
        return self.current_preset()

    # --- actions -------------------------------------------------------------------------
    def apply(self, new_layer: bool) -> None:
        preset = self._preset_for_run()

        def finish(job, task):
            try:
                layer = jobs.commit(job)
            except hostkit.UserError as problem:
                self._say(runner.error_message(problem), error=True)
                return
            api.remember(preset)
            self._say(tr("done_new" if new_layer else "done_this", name=layer.name()))
        self._start(lambda: jobs.prepare_protect(host.active_document(), preset, new_layer), finish)

    def check(self) -> None:
        """Measures a protected copy of the document with the current settings; shows the report."""
        def finish(job, task):
            self.report_dialog = dialogs.show_report(self, task.result)
            self._say(tr("done_check", verdict=text(task.result["result"].get("verdict"))))
        preset = self._preset_for_run()
        self._start(lambda: jobs.prepare_check(host.active_document(), preset), finish)

    def export(self, path: str = "", overwrite: bool = False) -> None:
        """Exports a protected copy; an existing file is replaced only once the user said so."""
        preset = self._preset_for_run()

        def prepare():
            doc = host.active_document()  # before the file dialog: no document, no question
            target, replace = (path, True) if overwrite else dialogs.export_target(self, path)
            return jobs.prepare_export(doc, target, preset, replace) if target else None

        def finish(job, task):
            api.remember(preset)
            self._say(export_summary(task.result, job.path))
        self._start(prepare, finish)

    def save_preset(self, name: str = "", overwrite: bool = False) -> None:
        if not name:
            name, ok = QInputDialog.getText(self, tr("save_preset"), tr("save_preset_prompt"))
            if not ok or not name.strip():
                return
            known = [p["name"] for p in (self.info or {}).get("presets", [])]
            if name.strip() in known:  # built-in names are refused by the core with a message
                answer = QMessageBox.question(self, tr("save_preset"), tr("overwrite_preset", name=name.strip()))
                if answer != QMessageBox.Yes:
                    return
                overwrite = True
        preset = self.current_preset(name.strip())

        def done(task):
            if self._report(task):
                api.remember(preset["name"])
                self.load(status=tr("saved_preset", name=preset["name"]))  # the new preset joins the chooser
        self._run(lambda progress, cancel: engine.bridge().save_preset(preset, overwrite=overwrite), done)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    # --- plumbing ------------------------------------------------------------------------
    def _start(self, prepare, finish) -> None:
        """`prepare()` on the UI thread (a problem is shown inline; None: the user backed out), the
        bridge call on a worker thread, then `finish(job, task)` on the UI thread if it succeeded."""
        try:
            job = prepare()
        except hostkit.UserError as problem:
            self._say(runner.error_message(problem), error=True)
            return
        if job is None:
            return

        def done(task):
            if self._report(task):
                finish(job, task)
        self._run(lambda progress, cancel: jobs.compute(job, engine.bridge(), progress, cancel), done)

    def _run(self, work, on_done) -> None:
        def finished(task):
            self.task = None
            self._busy(False)
            on_done(task)
        self._busy(True)
        self._say(tr("working"))
        self.task = runner.start(self, work, self._progress, finished)

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
        if message:
            self._say(message)

    def _report(self, task) -> bool:
        """True when `task` succeeded; otherwise shows why, inline."""
        if task.error is None:
            return True
        if runner.is_cancel(task.error):
            self._say(tr("cancelled"))
        else:
            self._say(runner.error_message(task.error), error=True)
        return False

    def _busy(self, busy: bool) -> None:
        for button in self.buttons.values():
            button.setEnabled(not busy)
        self.preset_box.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.progress.setValue(0)

    def _say(self, message: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #c0392b;" if error else "")
        self.status.setText(message)


class OmamoriDocker(DockWidget):
    def __init__(self):
        super().__init__()
        self.setWindowTitle(tr("title"))
        self.panel = OmamoriPanel(self)
        self.setWidget(self.panel)
        self.panel.load()

    def canvasChanged(self, canvas):  # required by DockWidget; the panel reads the active document when used
        pass


class _Done:
    """A finished synchronous call, shaped like a runner.Task."""

    def __init__(self, result):
        self.result, self.error = result, None


def export_summary(result: dict, path: str) -> str:
    lines = [tr("done_export", path=result.get("output") or path)]
    checklist = result.get("checklist") or []
    if checklist:
        lines += ["", tr("checklist") + ":"] + [f"• {text(item)}" for item in checklist]
    return "\n".join(lines)
