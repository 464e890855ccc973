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

import numpy as np
import pluggy

from . import filters as builtin_filters
from . import hooks
from .errors import OmamoriError, ParamError
from .filters.base import Context, Filter
from .hooks import PROJECT, hookimpl  # noqa: F401 - hookimpl also here for filter modules of other branches
from .i18n import Text
from .params import Param

EP_PREFIX = f"{PROJECT}-ep-"  # the pluggy name of a third-party plugin: EP_PREFIX + its entry point
SKIPPED = Text("plug-in {plugin!r} skipped: {err}; update or uninstall it.",
               "プラグイン {plugin!r} を読み込みませんでした: {err}。更新するかアンインストールしてください。")
_skips_said_here = True  # False in a batch worker: its parent loaded the same plug-ins and said so once


class Registry:
    """The filters known to this process, by name."""

    def __init__(self):
        self._filters: dict[str, Filter] = {}

    def add(self, filt: Filter) -> None:
        problem = filter_problem(filt)
        if problem:
            raise ValueError(problem)
        if filt.name in self._filters:
            raise ValueError(f"filter name {filt.name!r} is registered twice")
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


def filter_problem(filt) -> str:
    """Why the CLI, presets or editors could not use `filt`, or ''."""
    if not isinstance(filt, Filter):
        return f"{filt!r} is not a Filter"
    if not isinstance(filt.name, str) or not filt.name:
        return f"{type(filt).__name__} has no name"
    if not (isinstance(filt.label, Text) and isinstance(filt.help, Text)):
        return f"filter {filt.name!r}: label and help must be Text"
    params = filt.params
    if not isinstance(params, (tuple, list)) or not all(isinstance(p, Param) for p in params):
        return f"filter {filt.name!r}: params must be Param declarations"
    if len({p.name for p in params}) != len(params):
        return f"filter {filt.name!r}: two parameters share a name"
    return ""


class PluginFilter(Filter):
    """A third-party filter behind a check: an exception or unusable pixels become one line naming it."""

    def __init__(self, inner: Filter, plugin: str):
        self.inner, self.plugin = inner, plugin
        self.name, self.label, self.help = inner.name, inner.label, inner.help
        self.params, self.category, self.changes_alpha = tuple(inner.params), inner.category, inner.changes_alpha

    def apply(self, rgba: np.ndarray, settings: dict, ctx: Context) -> np.ndarray:
        try:
            out = self.inner.apply(rgba, settings, ctx)
        except OmamoriError:  # already one line for the user (a cancel too)
            raise
        except Exception as err:
            raise self._failed(f"{type(err).__name__}: {(str(err).splitlines() or [''])[0]}") from err
        problem = _pixels_problem(out)
        if problem:
            raise self._failed(problem)
        return out

    def describe(self) -> dict:
        return self.inner.describe()

    def _failed(self, why: str) -> OmamoriError:
        return OmamoriError(Text("filter {name!r} of plug-in {plugin!r} failed ({why}); update or uninstall it.",
                                 "プラグイン {plugin!r} のフィルタ {name!r} が失敗しました（{why}）。"
                                 "更新するかアンインストールしてください。"),
                            name=self.name, plugin=self.plugin, why=why)


def _pixels_problem(out) -> str:
    """What is wrong with a filter's result, or '': NaN would be written as arbitrary colours."""
    if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.ndim != 3 or out.shape[2] != 4 \
            or min(out.shape[:2]) < 1:
        return f"returned {type(out).__name__} {getattr(out, 'shape', '')} {getattr(out, 'dtype', '')}, " \
               "not float32 RGBA (H, W, 4)"
    if not np.isfinite(out).all():
        return "returned NaN or infinite values"
    return ""


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
        name = EP_PREFIX + ep.name
        try:
            pm.register(ep.load(), name=name)
            pm.check_pending()  # a misspelt hook in a plugin skips that plugin, not Omamori
        except Exception as err:  # a third-party bug must not stop the built-ins
            if pm.has_plugin(name):
                pm.unregister(name=name)
            _skipped(ep.name, err)


def _skipped(plugin: str, err: Exception) -> None:
    if not _skips_said_here:
        return
    why = (str(err).splitlines() or [""])[0] or type(err).__name__
    print(f"omamori: {SKIPPED.format(plugin=plugin, err=why)}", file=sys.stderr)


def leave_skips_to_parent() -> None:
    """For a worker process whose parent has loaded the registry: the user sees each skipped plug-in
    once per run, not once more per worker."""
    global _skips_said_here
    _skips_said_here = False


def make_plugin_manager() -> pluggy.PluginManager:
    """Built-ins first, then entry points; a misspelt hook in a built-in fails loudly."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hooks)
    for module in _builtin_modules():
        pm.register(module, name=module.__name__)
    pm.check_pending()
    if os.environ.get("OMAMORI_NO_PLUGINS") != "1":
        _load_entry_points(pm)
    return pm


def register_filters(pm: pluggy.PluginManager, registry: Registry) -> None:
    """Built-ins straight into `registry` (a bug there is ours: loud); then each plugin into a registry of
    its own first, so that a plugin that raises, declares a bad filter or takes a name already in use adds
    nothing, is reported and stops nothing. Plugin filters are wrapped in PluginFilter."""
    impls = pm.hook.omamori_register_filters.get_hookimpls()
    for impl in impls:
        if not impl.plugin_name.startswith(EP_PREFIX):
            _call(impl, registry)
    for impl in impls:
        if impl.plugin_name.startswith(EP_PREFIX):
            plugin = impl.plugin_name[len(EP_PREFIX):]
            try:
                _add_plugin_filters(impl, plugin, registry)
            except Exception as err:  # a third-party bug must not stop the built-ins
                _skipped(plugin, err)


def _call(impl, registry: Registry) -> None:
    # The hook has one argument; an implementation may leave it out, as pluggy allows.
    impl.function(**dict.fromkeys(impl.argnames, registry))


def _add_plugin_filters(impl, plugin: str, registry: Registry) -> None:
    own = Registry()
    _call(impl, own)
    taken = sorted(set(own.names()) & set(registry.names()))
    if taken:
        raise ValueError(f"filter name(s) {', '.join(taken)} already in use")
    for filt in own.all():
        registry.add(PluginFilter(filt, plugin))


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry, built on first use (not at import)."""
    registry = Registry()
    register_filters(make_plugin_manager(), registry)
    return registry
