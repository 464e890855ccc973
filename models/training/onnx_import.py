"""Read a shipped cloak ONNX back into the torch Generator (the repository keeps only the ONNX), so a
new model can be fine-tuned from the shipped one."""
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from .generator import Generator


def generator_from_onnx(path: Path) -> Generator:
    """The export keeps the torch parameter names as ONNX initializer names, so they map one to one."""
    model = onnx.load(str(path))
    state = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in model.graph.initializer}
    with_target = len(model.graph.input) == 2
    gen = Generator(with_target=with_target, **architecture(state, with_target))
    missing = set(gen.state_dict()) - set(state)
    if missing:
        raise ValueError(f"{path}: ONNX initializers do not match the Generator (missing {sorted(missing)[:3]})")
    gen.load_state_dict({k: state[k] for k in gen.state_dict()})
    return gen.eval()


def architecture(state: dict, with_target: bool) -> dict:
    """Stem, channels, blocks and factor, read back from the weight shapes."""
    blocks = sum(1 for k in state if k.endswith("body.0.weight"))
    if "net.0.weight" in state:  # a conv first: the patch stem, kernel = stride = factor
        ch, _, factor = state["net.0.weight"].shape[:3]
        return {"ch": int(ch), "blocks": blocks, "factor": int(factor), "stem": "patch"}
    ch, c_first = state["net.1.weight"].shape[:2]
    factor = int(round((c_first / (6 if with_target else 3)) ** 0.5))
    return {"ch": int(ch), "blocks": blocks, "factor": factor, "stem": "unshuffle"}


def max_difference(gen: Generator, path: Path, size: int = 96, seed: int = 0) -> float:
    """Largest |torch - onnxruntime| output difference on one random picture: the conversion check."""
    import onnxruntime as ort

    x = np.random.default_rng(seed).random((1, 3, size, size), dtype=np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"image": x}
    if gen.with_target:
        feeds["target"] = np.random.default_rng(seed + 1).random(x.shape, dtype=np.float32)
    ref = sess.run(None, feeds)[0]
    with torch.no_grad():
        out = gen(torch.from_numpy(x), torch.from_numpy(feeds["target"]) if gen.with_target else None).numpy()
    return float(np.abs(out - ref).max())
