"""Offline training of Omamori's cloaking models (needs torch==2.13.0; never imported at runtime).

Run from the repository root, e.g. ``python -m models.training.train all`` (see models/README.md).
"""
