"""`omamori evaluate` on tiny images with a stand-in ONNX encoder (8x8 average pooling)."""

import json

import numpy as np
import pytest
from PIL import Image

from omamori import evaluate


@pytest.fixture
def pool_encoder(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[8, 8], strides=[8, 8])
    graph = helper.make_graph([node], "pool8",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, None, None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, None, None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "pool_encoder.onnx"
    onnx.save(model, path)
    return path


def pair(tmp_path):
    rng = np.random.default_rng(0)
    img = (rng.random((64, 80, 3)) * 200 + 20).astype(np.uint8)
    changed = np.clip(img.astype(int) + rng.integers(-8, 9, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(changed).save(tmp_path / "b.png")
    return tmp_path / "a.png", tmp_path / "b.png"


def test_measure_identical_is_zero(pool_encoder):
    enc, _ = evaluate.find_encoder(str(pool_encoder))
    img = np.random.default_rng(1).random((64, 64, 3)).astype(np.float32)
    m = evaluate.measure(img, img, enc, cloak="poison")
    assert all(v == 0 for v in m["r"].values()) and m["psnr"] == float("inf")
    assert m["target_distance"] == pytest.approx(1.0)


def test_cli_json_and_report(tmp_path, pool_encoder, capsys):
    from omamori import cli

    a, b = pair(tmp_path)
    report = tmp_path / "report.png"
    code = cli.main(["evaluate", str(a), str(b), "--encoder", str(pool_encoder), "--json", "--report", str(report)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert set(evaluate.TRANSFORMS) == set(result["r"]) and result["linf_levels"] <= 8
    assert 25 < result["psnr"] < 40 and result["alpha_unchanged"]
    assert Image.open(report).size == (4 * 80, 64)


def test_missing_encoder_is_one_clear_line(tmp_path, capsys):
    from omamori import cli

    a, b = pair(tmp_path)
    assert cli.main(["evaluate", str(a), str(b), "--encoder", "nonexistent"]) == 1
    err = capsys.readouterr().err
    assert "models.training.export encoders" in err and len(err.strip().splitlines()) == 1
