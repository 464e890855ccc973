"""The link to Omamori's own Python environment: a worker process, reached through the bridge client.

`omamori install gimp` copies the standard-library-only client beside the plug-in as
``omamori_bridge.py`` with ``omamori.json`` naming the environment's python, so GIMP's Python needs
nothing extra. One Engine lives as long as the plug-in process (the entry creates it)."""

import importlib
import os
import sys

from .settings import Catalog
from .strings import PlugInError, language


class Engine:
    """The bridge and the core's catalogue, made on first use and kept for this process."""

    def __init__(self, folder):
        self.folder = folder
        self._module = None
        self._bridge = None
        self._catalog = None

    def module(self):
        """The bridge client module (a bare checkout never installed has none: say how to fix it)."""
        if self._module is None:
            try:
                self._module = importlib.import_module("omamori_bridge")
            except ImportError:
                raise PlugInError("not-installed", detail=os.path.join(self.folder, "omamori_bridge.py")) from None
        return self._module

    def bridge(self):
        """The worker-process bridge, configured by omamori.json in the plug-in folder."""
        if self._bridge is None:
            # The worker then answers in GIMP's UI language (see strings.language), not only the locale's.
            os.environ.setdefault("OMAMORI_LANG", language())
            self._bridge = self.module().Bridge.from_folder(self.folder, "gimp")
        return self._bridge

    def catalog(self):
        """The core's filters and presets; empty if the environment is unavailable."""
        if self._catalog is None:
            try:
                description = self.bridge().describe()
            except Exception as err:  # registration must never fail: GIMP would drop the whole plug-in
                print("omamori: {}".format(err), file=sys.stderr)
                description = {}
            self._catalog = Catalog(description)
        return self._catalog
