"""The plug-in's own dialogs: where to export (never over a file without asking) and the check report.

Shared by the docker and the menu actions; Qt only, no Krita calls.
"""

from __future__ import annotations

import os

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QPixmap
from PyQt5.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QLabel, QMessageBox, QScrollArea,
                             QVBoxLayout)

from .strings import text, tr

REPORT_WIDTH = 960  # the report picture is drawn for phone screens; this keeps it readable on a desktop


def export_target(parent, path: str = "") -> tuple:
    """(path, overwrite) for an export, or ("", False) when the user backed out.

    Qt's own overwrite prompt is off so that every path, typed or chosen, gets the same
    question in Omamori's words; saying no leaves the existing file alone."""
    if not path:
        path, _ = QFileDialog.getSaveFileName(parent, tr("export"), "", tr("export_filter"),
                                              options=QFileDialog.DontConfirmOverwrite)
        if not path:
            return "", False
    if not os.path.exists(path):
        return path, False
    answer = QMessageBox.question(parent, tr("export"), tr("overwrite_file", name=os.path.basename(path)),
                                  QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return (path, True) if answer == QMessageBox.Yes else ("", False)


def show_report(parent, answer: dict) -> QDialog:
    """Shows the check's report picture and verdict (non-modal); the picture file is then deleted."""
    picture = answer.get("report_png") or ""
    pixmap = QPixmap(picture)
    if picture:
        os.unlink(picture)  # loaded: the temporary file is ours to remove
    dialog = QDialog(parent)
    dialog.setObjectName("omamori_report")
    dialog.setWindowTitle(tr("check_title"))
    layout = QVBoxLayout(dialog)
    verdict = QLabel(text(answer.get("result", {}).get("verdict")))
    verdict.setWordWrap(True)
    verdict.setTextInteractionFlags(Qt.TextSelectableByMouse)
    layout.addWidget(verdict)
    image = QLabel()
    if not pixmap.isNull() and pixmap.width() > REPORT_WIDTH:
        pixmap = pixmap.scaledToWidth(REPORT_WIDTH, Qt.SmoothTransformation)
    image.setPixmap(pixmap)
    scroll = QScrollArea()
    scroll.setWidget(image)
    layout.addWidget(scroll, 1)
    buttons = QDialogButtonBox(QDialogButtonBox.Close)
    buttons.rejected.connect(dialog.close)
    layout.addWidget(buttons)
    dialog.resize(min(pixmap.width(), REPORT_WIDTH) + 40, min(pixmap.height(), 800) + 100)
    dialog.show()
    return dialog
