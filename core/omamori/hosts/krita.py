"""`omamori install krita` / `uninstall krita`, and the zip for Krita's plug-in importer.

Krita looks for user Python plug-ins in ~/.local/share/krita/pykrita (a package folder
plus NAME.desktop), for their shortcuts in ~/.local/share/krita/actions, and enables
them with `enable_NAME=true` in the [python] group of ~/.config/kritarc.
"""

from __future__ import annotations

import configparser
import shutil
import tempfile
import zipfile
from pathlib import Path

from . import copy_tree, home_dir, plugin_source, wire_bridge

NAME = "omamori_krita"


def paths(home=None) -> dict:
    base = home_dir(home)
    data = base / ".local" / "share" / "krita"
    return {"package": data / "pykrita" / NAME, "desktop": data / "pykrita" / f"{NAME}.desktop",
            "action": data / "actions" / f"{NAME}.action", "kritarc": base / ".config" / "kritarc"}


def install(home=None) -> list[Path]:
    """Copies the plug-in for the user at `home` (default: this user) and enables it."""
    where = paths(home)
    source = plugin_source("krita_plugin")
    copy_tree(source / NAME, where["package"])
    wire_bridge(where["package"])
    where["desktop"].parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / f"{NAME}.desktop", where["desktop"])
    where["action"].parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / f"{NAME}.action", where["action"])
    set_enabled(where["kritarc"], True)
    return [where["package"], where["desktop"], where["action"], where["kritarc"]]


def uninstall(home=None) -> list[Path]:
    """Removes what install() put in place; other plug-ins and settings stay."""
    where = paths(home)
    removed = []
    if where["package"].exists():
        shutil.rmtree(where["package"])
        removed.append(where["package"])
    for key in ("desktop", "action"):
        if where[key].exists():
            where[key].unlink()
            removed.append(where[key])
    if where["kritarc"].exists():
        set_enabled(where["kritarc"], None)
    return removed


def build_zip(out) -> Path:
    """A zip that Krita's Tools › Scripts › Import Python Plugin from File… accepts.

    Its importer finds NAME.desktop, the NAME/ folder with __init__.py and NAME.action;
    the bridge and omamori.json inside point at this environment's Python, so the zip
    is for this machine (other machines run `omamori install krita` themselves)."""
    out = Path(out)
    source = plugin_source("krita_plugin")
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / NAME
        copy_tree(source / NAME, package)
        wire_bridge(package)
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            # Folder entries too: the importer finds the package by its "omamori_krita/" entry.
            archive.write(package, f"{NAME}/")
            for path in sorted(package.rglob("*")):
                archive.write(path, f"{NAME}/{path.relative_to(package).as_posix()}" + ("/" if path.is_dir() else ""))
            archive.write(source / f"{NAME}.desktop", f"{NAME}.desktop")
            archive.write(source / f"{NAME}.action", f"{NAME}.action")
    return out


def set_enabled(kritarc: Path, value) -> None:
    """Sets (True) or removes (None) `enable_omamori_krita` under [python], touching nothing else.

    kritarc is a KConfig file that configparser would rewrite (case, comments, groups
    like [KisDocument][...]), so this edits the lines of one group and keeps the rest."""
    key = f"enable_{NAME}"
    lines = kritarc.read_text(encoding="utf-8").splitlines() if kritarc.exists() else []
    start = next((i for i, line in enumerate(lines) if line.strip() == "[python]"), None)
    if start is None:
        if value is None:
            return
        if lines and lines[-1].strip():
            lines.append("")
        lines += ["[python]", f"{key}=true"]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
        body = [line for line in lines[start + 1:end] if line.split("=", 1)[0].strip() != key]
        if value is not None:
            body.insert(0, f"{key}=true")
        lines[start + 1:end] = body
    kritarc.parent.mkdir(parents=True, exist_ok=True)
    kritarc.write_text("\n".join(lines) + "\n", encoding="utf-8")


def is_enabled(kritarc: Path) -> bool:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(kritarc.read_text(encoding="utf-8"))
    except (OSError, configparser.Error):
        return False
    return parser.get("python", f"enable_{NAME}", fallback="false").strip().lower() == "true"
