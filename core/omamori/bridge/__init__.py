"""The editor bridge: editor plug-ins run the core in Omamori's own Python
environment through a worker process, so the editor's Python needs nothing extra.

`client.py` (standard library only) is copied beside each installed plug-in;
`worker.py` is what it starts."""
