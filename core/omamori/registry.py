"""The filter registry, on pluggy.

Built-in filter modules and third-party plugins (entry-point group ``omamori``)
register through the same hook, ``omamori_register_filters(registry)``, marked
with ``omamori.hooks.hookimpl``. Set ``OMAMORI_NO_PLUGINS=1`` to load only the
built-ins when debugging."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import pkgutil
import sys
from functools import lru_cache

import pluggy

from . import filters as builtin_filters
from . import hooks
from .errors import ParamError
from .filters.base import Filter
from .hooks import PROJECT, hookimpl  # noqa: F401 - hookimpl also here for filter modules of other branches
from .i18n import Text


class Registry:
    """The filters known to this process, by name."""

    def __init__(self):
        self._filters: dict[str, Filter] = {}

    def add(self, filt: Filter) -> None:
        if not filt.name or filt.name in self._filters:
            raise ValueError(f"filter name {filt.name!r} is empty or registered twice")
        self._filters[filt.name] = filt

    def get(self, name: str) -> Filter:
        try:
            return self._filters[name]
        except KeyError:
            raise ParamError(
                Text("unknown filter {name!r}; known: {known}.", "不明なフィルタ {name!r}（使えるもの: {known}）。"),
                name=name, known=", ".join(self.names())) from None

    def names(self) -> list[str]:
        return sorted(self._filters)

    def all(self) -> list[Filter]:
        return [self._filters[n] for n in self.names()]


def _builtin_modules():
    for info in pkgutil.iter_modules(builtin_filters.__path__):
        if not info.name.startswith("_") and info.name != "base":
            yield importlib.import_module(f"{builtin_filters.__name__}.{info.name}")


def _any_entry_points_file_names_us() -> bool:
    """Whether any installed distribution's entry_points.txt names our group. A plain read of those small
    files; importlib.metadata itself pulls in the email package, a noticeable part of every start, so it
    is imported only when there is a plugin to load."""
    header = f"[{PROJECT}]"
    for folder in sys.path:
        try:
            entries = os.scandir(folder or ".")
        except OSError:
            continue
        with entries:
            for entry in entries:
                if not entry.name.endswith((".dist-info", ".egg-info")):
                    continue
                try:
                    with open(os.path.join(entry.path, "entry_points.txt"), encoding="utf-8") as fh:
                        if header in fh.read():
                            return True
                except (OSError, UnicodeDecodeError):
                    continue
    return False


def _distributions_outside_folders() -> bool:
    """A zip (an egg) on sys.path, or an import finder that serves its own distributions: only
    importlib.metadata reads those."""
    if any(os.path.isfile(entry) for entry in sys.path if entry):
        return True
    return any(hasattr(finder, "find_distributions") and finder is not importlib.machinery.PathFinder
               for finder in sys.meta_path)


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Loads third-party plugins; a broken one is reported and skipped, never fatal."""
    if not (_any_entry_points_file_names_us() or _distributions_outside_folders()):
        return
    from importlib.metadata import entry_points

    for ep in entry_points(group=PROJECT):
        try:
            pm.register(ep.load(), name=f"{PROJECT}-ep-{ep.name}")
        except Exception as err:  # a third-party bug must not stop the built-ins
            print(f"omamori: plugin {ep.name!r} skipped: {err}", file=sys.stderr)


def make_plugin_manager() -> pluggy.PluginManager:
    """Built-ins first, then entry points; a misspelt hook fails loudly."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hooks)
    for module in _builtin_modules():
        pm.register(module, name=module.__name__)
    if os.environ.get("OMAMORI_NO_PLUGINS") != "1":
        _load_entry_points(pm)
    pm.check_pending()
    return pm


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry, built on first use (not at import)."""
    registry = Registry()
    make_plugin_manager().hook.omamori_register_filters(registry=registry)
    return registry
