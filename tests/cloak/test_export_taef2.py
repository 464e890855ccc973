"""The shipped TAEF2 ONNX files are what `python -m models.training.export_taef2` makes (reproducible)."""

import json

import pytest

from omamori.measuring import ENCODERS_DIR


def test_export_reproduces_the_shipped_files(tmp_path):
    pytest.importorskip("torch")
    from models.training import export_taef2
    from models.training.surrogates import weights_dir

    if not (weights_dir() / "taesd" / "taef2_encoder.pth").is_file():
        pytest.skip(f"needs the surrogate weights in {weights_dir()}")
    card = export_taef2.export(tmp_path)
    shipped = json.loads((ENCODERS_DIR / "taef2.json").read_text(encoding="utf-8"))
    assert card["files"] == shipped["files"] and card["source"] == shipped["source"]
    assert (tmp_path / "LICENSE").read_bytes() == (ENCODERS_DIR / "LICENSE").read_bytes()
