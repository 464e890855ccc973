"""`omamori install krita` / `uninstall krita`, and the zip for Krita's plug-in importer.

Krita looks for user Python plug-ins in ~/.local/share/krita/pykrita (a package folder
plus NAME.desktop), for their shortcuts in ~/.local/share/krita/actions, and enables
them with `enable_NAME=true` in the [python] group of ~/.config/kritarc. Qt puts those
two base folders at XDG_DATA_HOME and XDG_CONFIG_HOME when they are set.
"""

from __future__ import annotations

import codecs
import io
import tempfile
import zipfile
from pathlib import Path

from ..errors import InputError
from ..atomicfile import write_atomic
from ..i18n import Text
from . import copy_file, copy_plugin, plugin_source, remove_tree, reports_os_errors, xdg_dir

NAME = "omamori_krita"
ENABLE_KEY = f"enable_{NAME}"


def paths(home=None) -> dict:
    data = xdg_dir("XDG_DATA_HOME", home, ".local/share") / "krita"
    return {"package": data / "pykrita" / NAME, "desktop": data / "pykrita" / f"{NAME}.desktop",
            "action": data / "actions" / f"{NAME}.action",
            "kritarc": xdg_dir("XDG_CONFIG_HOME", home, ".config") / "kritarc"}


@reports_os_errors(Text("Could not install the Krita plug-in", "Krita プラグインを導入できませんでした"))
def install(home=None) -> list[Path]:
    """Copies the plug-in for the user at `home` (default: this user) and enables it."""
    where = paths(home)
    source = plugin_source("krita_plugin")
    copy_plugin(source / NAME, where["package"])
    copy_file(source / f"{NAME}.desktop", where["desktop"])
    copy_file(source / f"{NAME}.action", where["action"])
    set_enabled(where["kritarc"], True)
    return [where["package"], where["desktop"], where["action"], where["kritarc"]]


@reports_os_errors(Text("Could not remove the Krita plug-in", "Krita プラグインを削除できませんでした"))
def uninstall(home=None) -> list[Path]:
    """Removes what install() put in place; other plug-ins and settings stay."""
    where = paths(home)
    removed = [where["package"]] if remove_tree(where["package"]) else []
    for key in ("desktop", "action"):
        if where[key].exists():
            where[key].unlink()
            removed.append(where[key])
    if set_enabled(where["kritarc"], False):
        removed.append(where["kritarc"])
    return removed


@reports_os_errors(Text("Could not build the Krita plug-in zip", "Krita プラグインの zip を作れませんでした"))
def build_zip(out) -> Path:
    """A zip that Krita's Tools › Scripts › Import Python Plugin from File… accepts; never replaces a file.

    Its importer finds NAME.desktop, the NAME/ folder with __init__.py and NAME.action;
    the bridge and omamori.json inside point at this environment's Python, so the zip
    is for this machine (other machines run `omamori install krita` themselves)."""
    out = Path(out)
    if out.exists():  # said before the work; write_atomic refuses again if it appears meanwhile
        raise _zip_exists(out)
    source = plugin_source("krita_plugin")
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / NAME
        copy_plugin(source / NAME, package)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            # Folder entries too: the importer finds the package by its "omamori_krita/" entry.
            archive.write(package, f"{NAME}/")
            for path in sorted(package.rglob("*")):
                archive.write(path, f"{NAME}/{path.relative_to(package).as_posix()}" + ("/" if path.is_dir() else ""))
            archive.write(source / f"{NAME}.desktop", f"{NAME}.desktop")
            archive.write(source / f"{NAME}.action", f"{NAME}.action")
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(out, buffer.getvalue(), overwrite=False)


def _zip_exists(out: Path) -> InputError:
    return InputError(Text("{path} already exists; choose another file name or remove it first.",
                           "{path} は既にあります。別のファイル名にするか、先に削除してください。"), path=out)


def set_enabled(kritarc: Path, enabled: bool) -> bool:
    """Adds or removes `enable_omamori_krita=true` under [python], keeping every other byte;
    True when kritarc changed.

    kritarc is a KConfig file that configparser would rewrite (case, comments, groups like
    [KisDocument][...]), so this edits the lines of one group only. It is read as UTF-8 (a BOM
    kept), else as Latin-1, which maps every byte to itself, and written back in the same
    encoding, line endings and all, as a whole new file (temp + rename)."""
    raw = kritarc.read_bytes() if kritarc.exists() else b""
    bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""
    body = raw[len(bom):]
    try:
        encoding, text = "utf-8", body.decode("utf-8")
    except UnicodeDecodeError:
        encoding, text = "latin-1", body.decode("latin-1")
    lines = _with_enabled(text.splitlines(keepends=True), enabled)
    new = bom + "".join(lines).encode(encoding)
    if new == raw or not (raw or enabled):
        return False
    kritarc.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(kritarc, new, overwrite=True)
    return True


def _with_enabled(lines: list, enabled: bool) -> list:
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    entry = f"{ENABLE_KEY}=true{newline}"
    start = next((i for i, line in enumerate(lines) if line.strip() == "[python]"), None)
    if start is None:
        if not enabled:
            return lines
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        if lines and lines[-1].strip():
            lines.append(newline)
        return lines + [f"[python]{newline}", entry]
    if not lines[start].endswith(("\n", "\r")):
        lines[start] += newline
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    body = [line for line in lines[start + 1:end] if line.split("=", 1)[0].strip() != ENABLE_KEY]
    if enabled:
        body.insert(0, entry)
    return lines[:start + 1] + body + lines[end:]
