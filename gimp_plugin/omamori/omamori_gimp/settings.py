"""What the core offers (filters, presets) and the settings used last (for "Save as preset")."""

import json
import os
import sys

import omamori_hostkit as hostkit

DEFAULT_PRESET = "standard"
LAST_SETTINGS = "omamori-last-settings.json"


class Catalog:
    """The core's description (filters with parameter declarations, presets), as the worker sent it."""

    def __init__(self, description):
        self.description = description or {}

    def filters(self):
        """The filters that work on a layer in place. Those of category "size" (e.g. "Limit size") change the
        canvas, which a layer cannot follow: the core skips them when processing a layer, so they only take
        effect in "Export Protected Copy"."""
        return [f for f in self.description.get("filters", []) if f.get("category") != "size"]

    def presets(self):
        return self.description.get("presets", [])

    def preset_names(self):
        return [p["name"] for p in self.presets()] or [DEFAULT_PRESET]

    def default_index(self):
        names = self.preset_names()
        return names.index(DEFAULT_PRESET) if DEFAULT_PRESET in names else 0

    def find_preset(self, name):
        return next((p for p in self.presets() if p["name"] == name), None)

    def make_preset(self, name, steps, base_name=None):
        """A preset dict for the worker: the base preset's fields (schema, export…) with new steps."""
        base = self.find_preset(base_name) if base_name else None
        if base is None:  # still carry the schema version the core expects
            base = {k: v for k, v in (self.presets()[:1] or [{}])[0].items() if k == "schema"}
        return hostkit.new_preset(base, name, steps)


class LastUsed:
    """What was applied last, kept in GIMP's own folder, so "Save current settings as preset" saves exactly that."""

    def __init__(self, folder):
        self.path = os.path.join(folder, LAST_SETTINGS)

    def remember(self, preset):
        data = json.dumps(preset, ensure_ascii=False, indent=1).encode("utf-8")
        try:  # whole or nothing: a crash mid-write must not leave a half file for "Save as preset"
            hostkit.write_file(self.path, data, overwrite=True)
        except OSError as err:
            print("omamori: could not remember settings: {}".format(err), file=sys.stderr)

    def load(self):
        try:
            with open(self.path, encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None
