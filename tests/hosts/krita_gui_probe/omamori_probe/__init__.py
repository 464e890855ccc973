"""Test-only Krita plug-in: checks Omamori in Krita's real main window, then exits.

kritarunner has no main window (opening one there crashes), so dockers, menu actions and
Edit › Undo can only be checked in the full application: test_krita_real.py starts
`krita` under Xvfb with this probe enabled next to the installed omamori_krita.
"""

import json
import os
import time
import traceback

from krita import Extension, Krita
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication

KT = os.environ.get("KT_DIR", "/tmp")
PRESET = os.environ.get("KT_PRESET", "standard")
RESULT = {}


def pump(seconds=0.3):
    end = time.time() + seconds
    while time.time() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def state(doc):
    doc.waitForDone()
    return [(n.name(), bytes(n.pixelData(0, 0, doc.width(), doc.height())))
            for n in doc.topLevelNodes() if n.type() == "paintlayer"]


def undo(app, doc):
    app.action("edit_undo").trigger()
    doc.waitForDone()
    pump()


def check():
    from omamori_krita import api
    app = Krita.instance()
    window = app.activeWindow()
    RESULT["dockers"] = [d.objectName() for d in window.dockers()]
    ours = [d for d in window.dockers() if type(d).__name__ == "OmamoriDocker"]
    RESULT["docker_title"] = ours[0].windowTitle() if ours else None
    RESULT["actions"] = {name: (app.action(name).text() if app.action(name) else None)
                         for name in ("omamori_protect", "omamori_export")}
    doc = app.openDocument(os.path.join(KT, "rgba8.png"))
    window.addView(doc)
    pump()
    original = state(doc)
    node = doc.topLevelNodes()[0]

    api.protect(doc, preset=PRESET, new_layer=True, node=node)
    added = len(state(doc))
    undo(app, doc)
    RESULT["new_layer"] = {"layers_after_apply": added, "restored_by_one_undo": state(doc) == original}

    api.protect(doc, preset=PRESET, new_layer=False, node=node)
    replaced = state(doc)
    undo(app, doc)
    one = state(doc) == original
    undo(app, doc)
    RESULT["this_layer"] = {"changed": replaced != original, "restored_by_one_undo": one,
                            "restored_by_two_undos": state(doc) == original}

    # The menu action itself: runs on a worker thread, commits on the UI thread.
    doc.setActiveNode(doc.topLevelNodes()[0])
    before = len(state(doc))
    app.action("omamori_protect").trigger()
    deadline = time.time() + 120
    while len(state(doc)) == before and time.time() < deadline:
        pump(0.1)
    RESULT["action_protect"] = {"layers_before": before, "layers_after": len(state(doc))}

    # The export action: its file dialog and final message box are modal, so answer them here.
    from omamori_krita import dialogs, extension
    path = os.path.join(KT, "out", "action-export.png")
    messages = []
    dialogs.QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (path, ""))
    extension.QMessageBox.information = staticmethod(lambda parent, title, text: messages.append(text))
    extension.QMessageBox.warning = staticmethod(lambda parent, title, text: messages.append("warning: " + text))
    snapshot = state(doc)
    app.action("omamori_export").trigger()
    deadline = time.time() + 120
    while not messages and time.time() < deadline:
        pump(0.1)
    RESULT["action_export"] = {"exists": os.path.exists(path), "messages": messages,
                               "unchanged": state(doc) == snapshot}

    # Again onto the same file: Omamori asks first, and "No" leaves the file alone.
    questions = []

    def answer_no(parent, title, text, *args):
        questions.append(text)
        return dialogs.QMessageBox.No
    dialogs.QMessageBox.question = staticmethod(answer_no)
    with open(path, "rb") as handle:
        first = handle.read()
    app.action("omamori_export").trigger()
    pump(2.0)
    with open(path, "rb") as handle:
        RESULT["export_again"] = {"questions": questions, "kept": handle.read() == first,
                                  "messages": len(messages)}


def run():
    try:
        check()
    except Exception:  # noqa: BLE001 - reported to the test
        RESULT["exception"] = traceback.format_exc()
    with open(os.path.join(KT, "out", "gui.json"), "w", encoding="utf-8") as handle:
        json.dump(RESULT, handle, indent=1)
    os._exit(0)  # no "save changes?" dialogs: the test only needs the results


class Probe(Extension):
    def setup(self):
        pass

    def createActions(self, window):
        QTimer.singleShot(1500, run)  # after the window and its dockers exist


Krita.instance().addExtension(Probe(Krita.instance()))
