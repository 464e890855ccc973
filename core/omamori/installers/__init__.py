"""Installers of the editor plug-ins for the current user, wired to this environment.

Each editor's module (gimp.py, krita.py) knows where its editor looks; the shared
steps are here: find the plug-in files (checkout or wheel), copy them, and put the
bridge client, the host kit and the config naming this Python beside them. Every
file is put in place whole (temp + rename), so an interrupted install never leaves
a half-written plug-in or config."""

from __future__ import annotations

import json
import secrets
import shutil
import site
import sys
from pathlib import Path

from .. import __version__
from ..bridge import client, hostkit
from ..atomicfile import write_atomic

REPO_ROOT = Path(__file__).resolve().parents[3]
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def plugin_source(folder: str) -> Path:
    """The shipped plug-in folder: `gimp_plugin` or `krita_plugin`.

    From a wheel they live in ``omamori/_plugins/``; from a source
    checkout (editable install, tests) at the repository root."""
    checkout = REPO_ROOT / folder
    if checkout.is_dir():
        return checkout
    return PACKAGE_DIR / "_plugins" / folder


def copy_plugin(source: Path, target: Path) -> None:
    """Replaces `target` with a copy of plug-in folder `source` (caches left behind) with the
    bridge wired in; built beside it and swapped in by renames."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.with_name(f".{target.name}.{secrets.token_hex(4)}.new")
    try:
        shutil.copytree(source, fresh, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        wire_bridge(fresh)
        remove_tree(target)
        fresh.rename(target)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)  # only left when something above failed


def remove_tree(target: Path) -> bool:
    """Removes a folder by renaming it aside first, so the editor never sees half of it."""
    if not target.exists():
        return False
    old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
    target.rename(old)
    shutil.rmtree(old)
    return True


def copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, source.read_bytes(), overwrite=True)


def wire_bridge(folder: Path) -> None:
    """Puts the bridge client, the host kit and the config naming this Python into `folder`."""
    copy_file(Path(client.__file__), folder / "omamori_bridge.py")
    copy_file(Path(hostkit.__file__), folder / client.KIT_NAME)
    config = {"python": sys.executable, "version": __version__, "isolated": not in_user_site()}
    write_atomic(folder / client.CONFIG_NAME, json.dumps(config, indent=2).encode("utf-8"), overwrite=True)


def in_user_site() -> bool:
    """True when Omamori was installed with `pip install --user`: `python -I` would not find it."""
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    return bool(user_site) and PACKAGE_DIR.is_relative_to(Path(user_site).resolve())


def home_dir(home: str | Path | None) -> Path:
    return Path(home).expanduser() if home else Path.home()
