"""Only adds non-package data to built wheels (pyproject.toml holds all the metadata).

Package discovery (`packages.find` in core/) never sees the repository-level folders, so
the `package-dir` entries for them in pyproject.toml put nothing in the wheel. Copied here:
`gimp_plugin/` and `krita_plugin/` to omamori/_plugins/ (omamori.installers.plugin_source) and
the shipped models (models/*.onnx, *.json) to omamori/_models/ (omamori.models)."""

import glob
import os

from setuptools import setup
from setuptools.command.build_py import build_py

PLUGIN_FOLDERS = ("gimp_plugin", "krita_plugin")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        for folder in PLUGIN_FOLDERS:
            if os.path.isdir(folder):
                self.copy_tree(folder, os.path.join(self.build_lib, "omamori", "_plugins", folder))
        models = os.path.join(self.build_lib, "omamori", "_models")
        for path in glob.glob("models/*.onnx") + glob.glob("models/*.json"):
            self.mkpath(models)
            self.copy_file(path, os.path.join(models, os.path.basename(path)))


setup(cmdclass={"build_py": BuildPyWithData})
