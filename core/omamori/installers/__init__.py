"""Installers of the editor plug-ins for the current user, wired to this environment.

Each editor's module (gimp.py, krita.py) knows where its editor looks; the shared
steps are here: find the plug-in files (checkout or wheel), copy them, and put the
bridge client, the host kit and the config naming this Python beside them. Every
file is put in place whole (temp + rename), so an interrupted install never leaves
a half-written plug-in or config."""

from __future__ import annotations

import errno
import functools
import json
import os
import secrets
import shutil
import site
import sys
from pathlib import Path

from .. import __version__
from ..bridge import client, hostkit
from ..atomicfile import write_atomic
from ..errors import InputError
from ..i18n import Text

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
    """Removes a folder by renaming it aside first, so the editor never sees half of it.

    A link or a file at that name is not what an install made (a developer's link to a checkout,
    say): it is refused, untouched, rather than renamed aside and then failing to delete."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise InputError(Text("{path} is a link or a file, not a folder Omamori installed; it was left as it is. "
                              "Move it away, then try again.",
                              "{path} は Omamori が入れたフォルダではなく、リンクかファイルです（そのままにしてあります）。"
                              "移動してからもう一度実行してください。"), path=target)
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


def xdg_dir(variable: str, home: str | Path | None, default: str) -> Path:
    """An XDG base folder (XDG_CONFIG_HOME, XDG_DATA_HOME) as the editors find it: the variable when set
    (only for this user, not for an explicit `home`), else `default` under the home folder."""
    if home is None and os.environ.get(variable):
        return Path(os.environ[variable]).expanduser()
    return home_dir(home) / default


def reports_os_errors(failed: Text):
    """Makes an OSError of the decorated step one line: `failed` ("Could not install the GIMP plug-in"),
    the path and what to do, instead of an "internal error" naming a Python exception."""
    def decorate(step):
        @functools.wraps(step)
        def run(*args, **kwargs):
            try:
                return step(*args, **kwargs)
            except OSError as err:
                raise os_error(failed, err) from None
        return run
    return decorate


def os_error(failed: Text, err: OSError) -> InputError:
    path = Path(err.filename) if err.filename else None
    if path is not None and err.errno in (errno.EEXIST, errno.ENOTDIR):
        reason = Text("{path} is a file where a folder is needed; move it away, then try again.",
                      "{path} はフォルダが必要な場所にあるファイルです。移動してからもう一度実行してください。")
        return InputError(_joined(failed, reason), path=_in_the_way(path))
    if path is not None and err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        # Creating, renaming or removing an entry needs the right to write in the folder holding it.
        reason = Text("you may not write in {path} (read-only?); fix its permissions, then try again.",
                      "{path} に書き込む権限がありません（読み取り専用？）。権限を直してからもう一度実行してください。")
        return InputError(_joined(failed, reason), path=path.parent)
    return InputError(_joined(failed, Text("{path}: {why}.", "{path}: {why}。")), path=path or "?",
                      why=err.strerror or err)


def _joined(failed: Text, reason: Text) -> Text:
    return Text(f"{failed.en}: {reason.en}", f"{failed.ja}: {reason.ja}")


def _in_the_way(path: Path) -> Path:
    """The file that stands where `path` or one of its folders should be (mkdir names the folder it wanted)."""
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return path
