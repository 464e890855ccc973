"""Third-party plugins through real entry points: a broken one is one bilingual line, never a crash."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omamori.errors import Cancelled, OmamoriError
from omamori.pipeline import build_steps, run_steps
from omamori.registry import PluginFilter, Registry, make_plugin_manager, register_filters

HEADER = """
import numpy as np
from omamori.filters.base import Filter
from omamori.hooks import hookimpl
from omamori.i18n import Text
from omamori.params import Param
T = Text("x", "x")
"""

GOOD = HEADER + """
class Good(Filter):
    name = "good"
    def apply(self, rgba, settings, ctx):
        return rgba.copy()

@hookimpl
def omamori_register_filters(registry):
    registry.add(Good())
"""

BROKEN = {
    "raises_on_import": "raise RuntimeError('boom')",
    "raises_in_hook": HEADER + """
@hookimpl
def omamori_register_filters(registry):
    raise RuntimeError('boom')
""",
    "misspelt_hook": HEADER + """
@hookimpl
def omamori_register_filter(registry):
    pass
""",
    "takes_a_builtin_name": HEADER + """
class Fake(Filter):
    name = "guard"

@hookimpl
def omamori_register_filters(registry):
    registry.add(Fake())
""",
    "bad_params": HEADER + """
class Bad(Filter):
    name = "bad"
    params = ({"name": "level"},)

@hookimpl
def omamori_register_filters(registry):
    registry.add(Bad())
""",
}


def install(folder, module: str, source: str) -> None:
    """A plugin as pip would leave it: a module and a dist-info naming it in the `omamori` group."""
    (folder / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = folder / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[omamori]\n{module} = {module}\n", encoding="utf-8")


@pytest.fixture(autouse=True)
def forget_test_plugins():
    """Each test imports its own copy of the plugin modules."""
    yield
    for module in [m for m in sys.modules if m.startswith("omamori_test_")]:
        del sys.modules[module]


def loaded(tmp_path, monkeypatch, plugins: dict) -> Registry:
    for module, source in plugins.items():
        install(tmp_path, module, source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("OMAMORI_NO_PLUGINS", raising=False)
    registry = Registry()
    register_filters(make_plugin_manager(), registry)
    return registry


@pytest.mark.parametrize("lang,word", [("en", "plug-in"), ("ja", "プラグイン")])
@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_plugin_is_one_line_and_the_rest_still_work(tmp_path, monkeypatch, capsys, kind, lang, word):
    monkeypatch.setenv("OMAMORI_LANG", lang)
    module = f"omamori_test_{kind}"
    registry = loaded(tmp_path, monkeypatch, {module: BROKEN[kind], "omamori_test_good": GOOD})
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and module in lines[0] and word in lines[0]
    assert {"guard", "noise", "blur", "good"} <= set(registry.names())
    assert not isinstance(registry.get("guard"), PluginFilter), "a plugin never replaces a built-in"
    assert "bad" not in registry.names()


@pytest.mark.parametrize("kind", ["raises_on_import", "takes_a_builtin_name"])
def test_a_broken_plugin_is_one_line_in_a_parallel_batch(tmp_path, kind):
    """Every batch worker loads the plug-ins again; the user still sees the skip once. A fresh process:
    the workers of this one fork from a server that an earlier test may have started, with its stderr."""
    module = f"omamori_test_{kind}"
    site = tmp_path / "site"
    site.mkdir()
    install(site, module, BROKEN[kind])
    pictures = [tmp_path / f"p{i}.png" for i in range(4)]
    for i, path in enumerate(pictures):
        Image.new("RGB", (24, 16), (60 * i, 90, 160)).save(path)
    core = Path(__file__).resolve().parents[2] / "core"
    env = {k: v for k, v in os.environ.items() if k != "OMAMORI_NO_PLUGINS"}
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(core)]), OMAMORI_LANG="en")
    proc = subprocess.run([sys.executable, "-m", "omamori.cli", "apply", "noise", "--jobs", "2",
                           "--out", str(tmp_path / "out"), *map(str, pictures)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == len(pictures)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and module in lines[0] and "skipped" in lines[0], proc.stderr


FAULTY = HEADER + """
class Faulty(Filter):
    name = "faulty"
    params = (Param("how", "choice", "nan", T, T, choices=("nan", "shape", "dtype", "raise", "ok")),)
    def apply(self, rgba, settings, ctx):
        how = settings["how"]
        if how == "raise":
            raise ZeroDivisionError("oops")
        if how == "ok":
            ctx.cancel.cancel()  # as if the user pressed cancel while this filter ignored the token
        out = rgba.copy()
        out[0, 0, 0] = np.nan if how == "nan" else 0.5
        return out[..., :3].copy() if how == "shape" else out.astype(np.float64) if how == "dtype" else out

@hookimpl
def omamori_register_filters(registry):
    registry.add(Faulty())
"""


@pytest.mark.parametrize("how", ["nan", "shape", "dtype", "raise"])
def test_bad_pixels_from_a_plugin_are_one_line_naming_it(tmp_path, monkeypatch, how):
    registry = loaded(tmp_path, monkeypatch, {"omamori_test_faulty": FAULTY})
    img = np.full((5, 7, 4), 0.5, np.float32)
    with pytest.raises(OmamoriError) as info:
        run_steps(img, build_steps([{"filter": "faulty", "params": {"how": how}}], registry))
    assert "omamori_test_faulty" in info.value.message("en") and "faulty" in info.value.message("ja")
    assert "\n" not in info.value.message("en")


def test_a_plugin_that_ignores_cancel_has_its_result_dropped(tmp_path, monkeypatch):
    registry = loaded(tmp_path, monkeypatch, {"omamori_test_faulty": FAULTY})
    with pytest.raises(Cancelled):
        run_steps(np.zeros((3, 3, 4), np.float32), build_steps([{"filter": "faulty", "params": {"how": "ok"}}],
                                                               registry))
