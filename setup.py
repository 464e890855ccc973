"""Only adds the editor plug-in folders to built wheels (pyproject.toml holds the metadata).

`gimp_plugin/` and `krita_plugin/` are not Python packages of ours, so package discovery
skips them; they are copied as data to omamori/_hosts/, where omamori.hosts.plugin_source
finds them when Omamori runs from a wheel (a checkout uses the repository folders)."""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PLUGIN_FOLDERS = ("gimp_plugin", "krita_plugin")


class BuildPyWithPlugins(build_py):
    def run(self):
        super().run()
        for folder in PLUGIN_FOLDERS:
            if os.path.isdir(folder):
                self.copy_tree(folder, os.path.join(self.build_lib, "omamori", "_hosts", folder))


setup(cmdclass={"build_py": BuildPyWithPlugins})
