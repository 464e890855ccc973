"""`omamori install gimp` / `uninstall gimp`.

GIMP 3 loads a Python plug-in from a folder named like its script inside the user's
plug-ins folder (~/.config/GIMP/3.0/plug-ins/omamori/omamori.py, executable). The bridge
client and omamori.json beside it point the plug-in at this environment's Python.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..i18n import Text
from . import copy_plugin, plugin_source, remove_tree, reports_os_errors, xdg_dir

NAME = "omamori"


def config_dir(home=None) -> Path:
    """GIMP 3's per-user folder; GIMP3_DIRECTORY and XDG_CONFIG_HOME move it, as in GIMP itself."""
    if home is None and os.environ.get("GIMP3_DIRECTORY"):
        return Path(os.environ["GIMP3_DIRECTORY"]).expanduser()
    return xdg_dir("XDG_CONFIG_HOME", home, ".config") / "GIMP" / "3.0"


def plugin_dir(home=None) -> Path:
    return config_dir(home) / "plug-ins" / NAME


@reports_os_errors(Text("Could not install the GIMP plug-in", "GIMP プラグインを導入できませんでした"))
def install(home=None) -> list[Path]:
    """Copies the plug-in for the user at `home` (default: this user); GIMP picks it up on its next start."""
    target = plugin_dir(home)
    copy_plugin(plugin_source("gimp_plugin") / NAME, target)
    script = target / f"{NAME}.py"
    script.chmod(0o755)  # GIMP only runs executable plug-in scripts
    return [target]


@reports_os_errors(Text("Could not remove the GIMP plug-in", "GIMP プラグインを削除できませんでした"))
def uninstall(home=None) -> list[Path]:
    """Removes the plug-in folder; GIMP's other settings stay."""
    target = plugin_dir(home)
    return [target] if remove_tree(target) else []
