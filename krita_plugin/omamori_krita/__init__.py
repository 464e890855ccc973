"""Omamori for Krita: protects artwork from AI training and image-to-image reuse.

Krita imports this package at start-up (see omamori_krita.desktop); registering the
extension and the docker here is how Krita plug-ins declare themselves. Scripts use
`omamori_krita.api`. All image work happens in Omamori's own environment (engine.py).
"""

from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita

from .docker import DOCKER_ID, OmamoriDocker
from .extension import OmamoriExtension


def _register(app) -> None:
    # Guarded so that a second import (e.g. a script reloading the package) adds nothing twice.
    if getattr(app, "_omamori_registered", False):
        return
    app.addExtension(OmamoriExtension(app))
    app.addDockWidgetFactory(DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, OmamoriDocker))
    app._omamori_registered = True


_register(Krita.instance())
