"""The link to Omamori's own Python environment (a worker process, via the bridge).

Krita's Python needs nothing but the standard library: `omamori install krita` copies
the stdlib-only bridge client beside this file as `omamori_bridge.py`, with
`omamori.json` naming the environment's python. A checkout that was never installed
gets an actionable message, never a crash.
"""

from __future__ import annotations

import os
from pathlib import Path

from .strings import Problem, language

HERE = Path(__file__).resolve().parent
_bridge = None


def bridge():
    """The shared Bridge (created on first use, not at import: Krita starts faster)."""
    global _bridge
    if _bridge is None:
        _bridge = _make_bridge()
    return _bridge


def set_bridge(value) -> None:
    """Tests and scripts may supply their own bridge (or None to reset)."""
    global _bridge
    _bridge = value


def _make_bridge():
    try:
        from . import omamori_bridge
    except ImportError:  # a bare checkout copied by hand: the installer never ran
        raise Problem("not_installed") from None
    # The worker's messages should speak the language the docker speaks (Krita's, not only the env's).
    os.environ.setdefault("OMAMORI_LANG", language())
    # Reads omamori.json; a missing config or python raises BridgeError with what to run.
    return omamori_bridge.Bridge.from_folder(str(HERE), "krita")

