"""The one ONNX session factory (omamori.models.session): cache, threads, sha256, a re-written file."""

import os
import shutil

import pytest

from omamori import models
from omamori.errors import ModelError
from omamori.measuring import ENCODERS_DIR, card


@pytest.fixture
def net(tmp_path):
    path = tmp_path / "enc.onnx"
    shutil.copyfile(ENCODERS_DIR / "taef2_encoder.onnx", path)
    return path, card()["files"]["encoder"]["sha256"]


@pytest.fixture(autouse=True)
def default_threads():
    yield
    models.set_threads(None)


def test_cached_per_path_and_threads(net):
    path, sha = net
    first = models.session(path, threads=1, expected_sha256=sha)
    assert models.session(path, threads=1, expected_sha256=sha) is first
    assert models.session(path, threads=2, expected_sha256=sha) is not first
    models.set_threads(1)
    assert models.session(path, expected_sha256=sha) is first


def test_threads_default_from_the_environment(monkeypatch):
    monkeypatch.setenv("OMAMORI_THREADS", "3")
    assert models.default_threads() == 3
    models.set_threads(2)
    assert models.default_threads() == 2


def test_a_rewritten_file_is_checked_again(net):
    path, sha = net
    models.session(path, threads=1, expected_sha256=sha)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(1, 1))  # a new stamp even on file systems with coarse times
    with pytest.raises(ModelError, match="tampered"):
        models.session(path, threads=1, expected_sha256=sha)


def test_missing_and_broken_files_are_one_line(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        models.session(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot be loaded") as err:
        models.session(tmp_path / "bad.onnx")
    assert "\n" not in err.value.message()
