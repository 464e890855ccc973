"""The editor bridge: editor plug-ins run the core in Omamori's own Python environment through a worker
process, so the editor's Python needs nothing extra.

`client.py` and `hostkit.py` (standard library only) are copied beside each installed plug-in as
``omamori_bridge.py`` and ``omamori_hostkit.py``; `worker.py` is what the client starts."""
