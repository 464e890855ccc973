"""Hook markers and specifications for Omamori plugins; a leaf module (it imports only pluggy).

A plugin (built-in filter module or an installed package with an ``omamori`` entry point)
imports the marker from here and implements the hooks it wants::

    from omamori.hooks import hookimpl

    @hookimpl
    def omamori_register_filters(registry):
        registry.add(MyFilter())

Every hook name starts with ``omamori_``; the registry (registry.py) checks implementations
against the specifications below."""

import pluggy

PROJECT = "omamori"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def omamori_register_filters(registry) -> None:
    """Add filters with ``registry.add(filter_instance)``."""
