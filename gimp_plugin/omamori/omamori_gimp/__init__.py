"""The GIMP plug-in's modules; ../omamori.py (the script GIMP runs) registers the procedures.

strings: the plug-in's own words; engine: the worker process; settings: presets and the last-used
settings; arguments: PDB arguments from the core's declarations; host: the one module that reads and
writes GIMP images; dialogs: GimpUi dialogs, interactive runs only.
"""
