"""A small stand-in for Krita's `krita` module, enough for the Omamori adapter's logic.

It models what the adapter relies on, including the undo facts of Krita 5.2's libkis:
`Node.addChildNode` and `Node.remove` are undoable commands, `setPixelData` is not.
`Document.undo()` reverts the last command, as Edit › Undo would. A removed node has no
parent, and `Document.setColorSpace` answers True even for a profile it does not know.
"""

from __future__ import annotations

import types

BPP = {"U8": 4, "U16": 8, "F16": 8, "F32": 16}
SRGB, LINEAR = "sRGB-elle-V2-srgbtrc.icc", "sRGB-elle-V2-g10.icc"


class Node:
    def __init__(self, doc, name, kind="paintlayer", data=None):
        self.doc, self._name, self._type = doc, name, kind
        self.children, self.parent = [], None
        self._locked = False
        size = doc.width() * doc.height() * BPP[doc.colorDepth()]
        self.data = bytearray(data if data is not None else bytes(size))

    def name(self): return self._name
    def setName(self, name): self._name = name
    def type(self): return self._type
    def locked(self): return self._locked
    def colorModel(self): return self.doc.colorModel()
    def colorDepth(self): return self.doc.colorDepth()
    def colorProfile(self): return self.doc.colorProfile()
    def parentNode(self): return self.parent
    def childNodes(self): return list(self.children)

    def pixelData(self, x, y, w, h):
        assert (x, y, w, h) == (0, 0, self.doc.width(), self.doc.height())
        return bytes(self.data)

    def setPixelData(self, data, x, y, w, h):  # not undoable in Krita
        assert len(data) == w * h * BPP[self.doc.colorDepth()]
        self.data[:] = data
        return True

    def duplicate(self):
        copy = Node(self.doc, self._name, self._type, self.data)
        return copy

    def addChildNode(self, child, above):
        index = self.children.index(above) + 1 if above is not None else len(self.children)
        self.children.insert(index, child)
        child.parent = self
        self.doc.undo_stack.append(("add", self, child))
        return True

    def remove(self):
        index = self.parent.children.index(self)
        self.parent.children.remove(self)
        self.doc.undo_stack.append(("remove", self.parent, self, index))
        self.parent = None
        return True


class Selection:
    def __init__(self, mask: bytes):
        self.mask = mask

    def pixelData(self, x, y, w, h):
        return self.mask


class Document:
    def __init__(self, width=4, height=3, depth="U8", model="RGBA", profile=SRGB):
        self._w, self._h, self._depth, self._model, self._profile = width, height, depth, model, profile
        self.clones, self.closed = [], False
        self.undo_stack = []
        self.root = Node(self, "root", "grouplayer")
        self.active = None
        self._selection = None
        self.projection = None  # bytes returned by pixelData (the flattened image)

    def width(self): return self._w
    def height(self): return self._h
    def colorDepth(self): return self._depth
    def colorModel(self): return self._model
    def colorProfile(self): return self._profile
    def close(self): self.closed = True

    def clone(self):
        """A copy holding the projection (libkis' clone: not one of the application's documents)."""
        copy = Document(self._w, self._h, self._depth, self._model, self._profile)
        copy.projection = self.pixelData(0, 0, self._w, self._h)
        self.clones.append(copy)
        return copy

    def setColorSpace(self, model, depth, profile):
        """Converts between the two profiles it knows; the fake's conversion inverts every byte."""
        if {profile, self._profile} == {SRGB, LINEAR}:
            self._profile = profile
            self.projection = bytes(255 - b for b in self.pixelData(0, 0, self._w, self._h))
        return True
    def rootNode(self): return self.root
    def topLevelNodes(self): return self.root.childNodes()
    def activeNode(self): return self.active
    def setActiveNode(self, node): self.active = node
    def selection(self): return self._selection
    def setSelection(self, selection): self._selection = selection
    def refreshProjection(self): pass
    def waitForDone(self): pass
    def createNode(self, name, kind): return Node(self, name, kind)

    def pixelData(self, x, y, w, h):
        return self.projection if self.projection is not None else bytes(self.active.data)

    def add_layer(self, name, data=None):
        """Test helper: a layer that is already part of the image (no undo entry)."""
        node = Node(self, name, data=data)
        node.parent = self.root
        self.root.children.append(node)
        self.active = node
        return node

    def undo(self):
        entry = self.undo_stack.pop()
        if entry[0] == "add":
            entry[1].children.remove(entry[2])
        else:
            entry[1].children.insert(entry[3], entry[2])
            entry[2].parent = entry[1]


class App:
    def __init__(self):
        self.document = None
        self.settings = {}
        self.extensions, self.dockers = [], []

    def activeDocument(self): return self.document
    def readSetting(self, group, key, default): return self.settings.get((group, key), default)
    def writeSetting(self, group, key, value): self.settings[(group, key)] = value
    def addExtension(self, extension): self.extensions.append(extension)
    def addDockWidgetFactory(self, factory): self.dockers.append(factory)
    def activeWindow(self): return None


def module() -> types.ModuleType:
    """A fresh `krita` module whose Krita.instance() is a new App."""
    app = App()
    mod = types.ModuleType("krita")
    mod.Krita = types.SimpleNamespace(instance=lambda: app)
    mod.app = app
    return mod
