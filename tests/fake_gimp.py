"""A small fake of the `gi` modules GIMP 3 plug-ins use (Gimp, GimpUi, Gegl, GLib, GObject, Gio, Gtk).

Just enough of the API for gimp_plugin/omamori/ (omamori.py and omamori_gimp/) to register its procedures and run
them on in-memory images, recording what it did (undo groups, shadow writes, messages) so that
tests can check the adapter's logic without GIMP. Pixel buffers hold raw bytes in whatever babl
format the plug-in asks for; the fake does no conversion and records the format instead.
"""

import enum
import sys
import types


class _Enum(enum.Enum):
    @property
    def value_nick(self):
        return self.name.lower().replace("_", "-")


RunMode = _Enum("RunMode", "INTERACTIVE NONINTERACTIVE WITH_LAST_VALS")
PDBStatusType = _Enum("PDBStatusType", "SUCCESS EXECUTION_ERROR CALLING_ERROR CANCEL PASS_THROUGH")
PDBProcType = _Enum("PDBProcType", "PLUGIN")
ImageBaseType = _Enum("ImageBaseType", "RGB GRAY INDEXED")
Precision = _Enum("Precision", "U8_NON_LINEAR U8_LINEAR U16_NON_LINEAR U16_PERCEPTUAL HALF_LINEAR FLOAT_NON_LINEAR")
MergeType = _Enum("MergeType", "CLIP_TO_IMAGE")
FileChooserAction = _Enum("FileChooserAction", "SAVE OPEN")
AbyssPolicy = _Enum("AbyssPolicy", "CLAMP NONE")
ResponseType = _Enum("ResponseType", "YES NO")
MessageType = _Enum("MessageType", "QUESTION")
ButtonsType = _Enum("ButtonsType", "YES_NO")


class ProcedureSensitivityMask(enum.IntFlag):
    DRAWABLE = 1
    DRAWABLES = 2
    ALWAYS = 4


class ParamFlags(enum.IntFlag):
    READWRITE = 3


class Log:
    """Everything the plug-in asked GIMP to do, in order."""

    def __init__(self):
        self.calls = []
        self.messages = []
        self.questions = []   # texts of yes/no questions asked
        self.answers = []     # what the user answers them, in order
        self.opened = []      # images opened from files
        self.displays = []    # images shown in a new view
        self.dialog_ok = True  # whether the user presses OK in procedure dialogs


LOG = Log()


class Rectangle:
    def __init__(self, x, y, w, h):
        self.x, self.y, self.width, self.height = x, y, w, h

    @classmethod
    def new(cls, x, y, w, h):
        return cls(x, y, w, h)


class Color:
    def __init__(self, text):
        text = text.lstrip("#")
        self.rgba = tuple(int(text[i:i + 2], 16) / 255 for i in (0, 2, 4)) + (1.0,)

    @classmethod
    def new(cls, text):
        return cls(text)

    def get_rgba(self):
        return self.rgba


class Buffer:
    """A drawable's pixels: bytes per format, as if babl had converted them."""

    def __init__(self, owner, shadow=False):
        self.owner, self.shadow = owner, shadow

    def get(self, rect, scale, fmt, abyss):
        LOG.calls.append(("get", self.owner.name, fmt, (rect.x, rect.y, rect.width, rect.height)))
        return self.owner.data_for(fmt, rect)

    def set(self, rect, fmt, data):
        LOG.calls.append(("shadow-set" if self.shadow else "set", self.owner.name, fmt, len(data)))
        self.owner.pending = (fmt, bytes(data))

    def flush(self):
        LOG.calls.append(("flush", self.owner.name))


class Drawable:
    def __init__(self, image, name, width, height, offsets=(0, 0), fill=b"\x10"):
        self.image, self.name, self.width, self.height = image, name, width, height
        self.offsets = offsets
        self.fill = fill
        self.written = None   # (format, bytes) after merge_shadow
        self.pending = None
        self.parent = None

    def data_for(self, fmt, rect):
        size = {"R'G'B'A u8": 4, "R'G'B'A u16": 8, "R'G'B'A float": 16, "Y u8": 1}[fmt]
        return self.fill * (rect.width * rect.height * size)

    def get_width(self):
        return self.width

    def get_height(self):
        return self.height

    def get_offsets(self):
        return (True,) + tuple(self.offsets)

    def get_buffer(self):
        return Buffer(self)

    def get_shadow_buffer(self):
        return Buffer(self, shadow=True)

    def merge_shadow(self, push_undo):
        LOG.calls.append(("merge-shadow", self.name, push_undo, self.image.undo_depth))
        self.written, self.pending = self.pending, None

    def update(self, x, y, w, h):
        LOG.calls.append(("update", self.name))

    def get_parent(self):
        return self.parent

    def is_group(self):
        return getattr(self, "group", False)

    def set_name(self, name):
        self.name = name


class Layer(Drawable):
    @classmethod
    def new_from_drawable(cls, drawable, image):
        LOG.calls.append(("new-layer", drawable.name))
        return cls(image, drawable.name + " copy", drawable.width, drawable.height, drawable.offsets, drawable.fill)


class Selection:
    @staticmethod
    def is_empty(image):
        return image.selection is None


class Image:
    def __init__(self, width=4, height=3, base=ImageBaseType.RGB, precision=Precision.U8_NON_LINEAR,
                 layers=1, selection=None):
        self.width, self.height, self.base, self.precision = width, height, base, precision
        self.layers = [Layer(self, f"layer{i}", width, height) for i in range(layers)]
        self.selection = selection  # a Drawable over the whole image, or None
        self.undo_depth = 0
        self.undo_groups = 0
        self.deleted = False
        self.duplicates = []
        self.path, self.dirty = None, False

    def get_base_type(self):
        return self.base

    def get_precision(self):
        return self.precision

    def get_selection(self):
        return self.selection

    def undo_group_start(self):
        LOG.calls.append(("undo-start",))
        self.undo_depth += 1
        self.undo_groups += 1
        return True

    def undo_group_end(self):
        LOG.calls.append(("undo-end",))
        self.undo_depth -= 1
        return True

    def insert_layer(self, layer, parent, position):
        LOG.calls.append(("insert-layer", layer.name, position))
        self.layers.insert(position, layer)
        return True

    def get_item_position(self, item):
        return self.layers.index(item)

    def duplicate(self):
        dup = Image(self.width, self.height, self.base, self.precision, layers=len(self.layers))
        self.duplicates.append(dup)
        return dup

    def convert_rgb(self):
        LOG.calls.append(("convert-rgb",))
        self.base = ImageBaseType.RGB

    def merge_visible_layers(self, merge_type):
        self.layers = [Layer(self, "merged", self.width, self.height)]
        return self.layers[0]

    def delete(self):
        self.deleted = True

    def clean_all(self):
        LOG.calls.append(("clean-all", self.path))
        self.dirty = False


def file_load(run_mode, gfile):
    """An opened picture file: a one-layer image remembering its path."""
    LOG.calls.append(("file-load", gfile.get_path()))
    image = Image()
    image.path, image.dirty = gfile.get_path(), True
    LOG.opened.append(image)
    return image


class Display:
    @classmethod
    def new(cls, image):
        LOG.calls.append(("display", image.path))
        LOG.displays.append(image)
        return cls()


class ProcedureDialog:
    """GimpUi's procedure dialog: records what was put in it; OK unless LOG.dialog_ok says otherwise."""

    @classmethod
    def new(cls, procedure, config, title):
        LOG.calls.append(("dialog", procedure.name, title))
        return cls()

    def __getattr__(self, name):  # fill, fill_box, get_int_combo, …
        return lambda *args: LOG.calls.append(("dialog-" + name,) + args)

    def run(self):
        return LOG.dialog_ok

    def destroy(self):
        pass


class IntStore:
    def append(self):
        return object()

    def set_value(self, row, column, value):
        pass


class MessageDialog:
    """Gtk's question dialog: answers with LOG.answers (YES unless a test says otherwise)."""

    def __init__(self, message_type=None, buttons=None, text=""):
        LOG.questions.append(text)

    def run(self):
        return LOG.answers.pop(0) if LOG.answers else ResponseType.YES

    def destroy(self):
        pass


class File:
    def __init__(self, path):
        self.path = path

    @classmethod
    def new_for_path(cls, path):
        return cls(path)

    def get_path(self):
        return self.path


class Choice:
    def __init__(self):
        self.items = []

    @classmethod
    def new(cls):
        return cls()

    def add(self, nick, id_, label, help_):
        self.items.append((nick, label))


class Procedure:
    """Records its arguments; `config()` gives a config object with their defaults."""

    def __init__(self, plugin, name, run):
        self.name, self.run_func = name, run
        self.arguments = {}   # name -> (kind, aux, args)
        self.returns = []
        self.menu_label, self.menu_paths = None, []

    @classmethod
    def new(cls, plugin, name, proc_type, run, data):
        return cls(plugin, name, run)

    def __getattr__(self, attr):
        if attr.startswith("add_") and attr.endswith("_argument"):
            aux = attr.endswith("_aux_argument")
            kind = attr[4:-len("_aux_argument" if aux else "_argument")]

            def add(name, nick, blurb, *rest):
                *values, _flags = rest
                self.arguments[name] = (kind, aux, nick, tuple(values))
            return add
        if attr.startswith("add_") and attr.endswith("_return_value"):
            return lambda name, *rest: self.returns.append(name)
        if attr.startswith("set_"):
            return lambda *args: setattr(self, attr[4:], args[0] if len(args) == 1 else args)
        raise AttributeError(attr)

    def add_menu_path(self, path):
        self.menu_paths.append(path)

    def config(self, **values):
        defaults = {}
        for name, (kind, _aux, _nick, args) in self.arguments.items():
            if kind in ("double", "int"):
                defaults[name] = args[2]
            elif kind == "file":
                defaults[name] = args[2]
            elif kind == "color":
                defaults[name] = args[1]
            else:
                defaults[name] = args[-1]
        defaults.update(values)
        return Config(defaults)

    def new_return_values(self, status, error):
        return ReturnValues(status, error, len(self.returns))

    def __call__(self, run_mode, image, config, drawables=None):
        drawables = drawables if drawables is not None else (image.layers[:1] if image else [])
        return self.run_func(self, run_mode, image, drawables, config, None)


class Config:
    def __init__(self, values):
        self.values = dict(values)
        self.handlers = []

    def get_property(self, name):
        return self.values[name]

    def set_property(self, name, value):
        self.values[name] = value

    def connect(self, signal, handler):
        self.handlers.append((signal, handler))


class Error:
    def __init__(self, message=None):
        self.message = message

    @classmethod
    def new_literal(cls, quark, message, code):
        return cls(message)


class ReturnValues:
    def __init__(self, status, error, n_returns):
        self.status, self.error = status, error
        self.values = [status] + [""] * n_returns

    def remove(self, i):
        del self.values[i]

    def insert(self, i, value):
        self.values.insert(i, value.value)


class Value:
    def __init__(self, gtype, value):
        self.value = value


class PlugIn:
    @staticmethod
    def error_quark():
        return 0


def _record(name):
    def call(*args):
        LOG.calls.append((name,) + args)
        return True
    return call


def install(directory):
    """Puts fake gi modules into sys.modules; returns the fake Gimp module namespace."""
    Gimp = types.SimpleNamespace(
        RunMode=RunMode, PDBStatusType=PDBStatusType, PDBProcType=PDBProcType, ImageBaseType=ImageBaseType,
        Precision=Precision, MergeType=MergeType, FileChooserAction=FileChooserAction,
        ProcedureSensitivityMask=ProcedureSensitivityMask, PlugIn=PlugIn, ImageProcedure=Procedure,
        Layer=Layer, Selection=Selection, Choice=Choice, Display=Display, file_load=file_load,
        progress_init=_record("progress-init"), progress_update=_record("progress"),
        progress_set_text=_record("progress-text"), progress_end=_record("progress-end"),
        displays_flush=_record("flush-displays"), directory=lambda: str(directory),
        message=lambda text: LOG.messages.append(text), main=lambda *a: None)
    GimpUi = types.SimpleNamespace(init=_record("ui-init"), ProcedureDialog=ProcedureDialog, IntStore=IntStore,
                                   IntStoreColumns=types.SimpleNamespace(VALUE=0, LABEL=1))
    Gegl = types.SimpleNamespace(Rectangle=Rectangle, Color=Color, AbyssPolicy=AbyssPolicy, init=lambda argv: None)
    GLib = types.SimpleNamespace(Error=Error)
    GObject = types.SimpleNamespace(ParamFlags=ParamFlags, Value=Value, TYPE_STRING="gchararray")
    Gio = types.SimpleNamespace(File=File)
    Gtk = types.SimpleNamespace(MessageDialog=MessageDialog, MessageType=MessageType, ButtonsType=ButtonsType,
                                ResponseType=ResponseType)
    repository = types.ModuleType("gi.repository")
    modules = dict(Gimp=Gimp, GimpUi=GimpUi, Gegl=Gegl, GLib=GLib, GObject=GObject, Gio=Gio, Gtk=Gtk)
    for name, module in modules.items():
        setattr(repository, name, module)
    gi = types.ModuleType("gi")
    gi.require_version = lambda *a: None
    gi.repository = repository
    sys.modules["gi"] = gi
    sys.modules["gi.repository"] = repository
    return Gimp
