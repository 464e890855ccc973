"""Installing the editor plug-ins for the current user, wired to this environment.

Each host module (gimp.py, krita.py) knows where its editor looks; the shared
steps are here: find the plug-in files (checkout or wheel), copy them, and put
the bridge client and its config beside them."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from .. import __version__
from ..bridge import client, hostkit

REPO_ROOT = Path(__file__).resolve().parents[3]


def plugin_source(folder: str) -> Path:
    """The shipped plug-in folder: `gimp_plugin` or `krita_plugin`.

    From a wheel they live in ``omamori/_hosts/``; from a source
    checkout (editable install, tests) at the repository root."""
    checkout = REPO_ROOT / folder
    if checkout.is_dir():
        return checkout
    return Path(__file__).resolve().parents[1] / "_hosts" / folder


def copy_tree(source: Path, target: Path) -> None:
    """Replaces `target` with a copy of `source`, leaving caches behind."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def wire_bridge(folder: Path) -> None:
    """Puts the bridge client, the host kit and the config naming this Python into `folder`."""
    shutil.copyfile(client.__file__, folder / "omamori_bridge.py")
    shutil.copyfile(hostkit.__file__, folder / client.KIT_NAME)
    config = {"python": sys.executable, "version": __version__}
    (folder / client.CONFIG_NAME).write_text(json.dumps(config, indent=2), encoding="utf-8")


def home_dir(home: str | Path | None) -> Path:
    return Path(home).expanduser() if home else Path.home()
