"""Qt widgets for the docker's generated controls (controls.Control -> widget, widget -> value)."""

from __future__ import annotations

from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

from .controls import Control


def make(control: Control) -> QWidget:
    if control.widget == "double":
        widget = QDoubleSpinBox()
        widget.setDecimals(control.decimals)
        widget.setRange(control.minimum, control.maximum)
        widget.setSingleStep(control.single_step)
        widget.setValue(float(control.value))
    elif control.widget == "int":
        widget = QSpinBox()
        widget.setRange(int(control.minimum), int(control.maximum))
        widget.setValue(int(control.value))
    elif control.widget == "check":
        widget = QCheckBox()
        widget.setChecked(bool(control.value))
    elif control.widget == "combo":
        widget = QComboBox()
        for value, label in control.choices:
            widget.addItem(label, value)
        widget.setCurrentIndex(max(widget.findData(control.value), 0))
    else:
        widget = QLineEdit("" if control.value is None else str(control.value))
        if control.widget == "color":
            widget.setInputMask(r"\#HHHHHH")
            widget.setStyleSheet(f"border-left: 12px solid {QColor(str(control.value)).name()};")
    return widget


def value_of(widget: QWidget):
    if isinstance(widget, (QDoubleSpinBox, QSpinBox)):
        return widget.value()
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QComboBox):
        return widget.currentData()
    return widget.text()
