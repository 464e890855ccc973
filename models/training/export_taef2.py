"""Export the TAEF2 encoder and decoder (madebyollin/taesd, MIT) to ONNX inside the package, for
`omamori evaluate` only (the measuring encoder; never a training input of a shipped cloak's judge).

    python -m models.training.export_taef2        # -> core/omamori/data/encoders/ (+ card, LICENSE)

The source state dicts are checked against their published sha256 first, so the export is reproducible.
"""
import argparse
import hashlib
import json
import shutil
from pathlib import Path

import torch

from .surrogates import REPO, load_decoder, load_encoder, weights_dir

OUT = REPO / "core" / "omamori" / "data" / "encoders"
OPSET = 17
SOURCE = {
    "repository": "https://github.com/madebyollin/taesd",
    "commit": "5cccb12dc72074a4be35680c3b108548a7c69978",
    "licence": "MIT (LICENSE beside this card, Copyright (c) 2023 Ollin Boer Bohan)",
    "sha256": {  # as listed in ../shared/weights/README.md
        "taef2_encoder.pth": "10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6",
        "taef2_decoder.pth": "0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5",
    },
}
NETS = {  # name: (loader, input channels, io)
    "encoder": (load_encoder, 3, "x: float32 (N,3,H,W) RGB in [0,1], H and W multiples of 8 -> "
                                 "y: raw latents (N,32,H/8,W/8)"),
    "decoder": (load_decoder, 32, "x: latents (N,32,h,w) -> y: RGB (N,3,8h,8w), approximately in [0,1]"),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_sources() -> None:
    for name, expected in SOURCE["sha256"].items():
        got = sha256(weights_dir() / "taesd" / name)
        if got != expected:
            raise SystemExit(f"{name}: sha256 {got} is not the published {expected}; refusing to export")


def check_onnx(net: torch.nn.Module, path: Path, channels: int, tolerance: float = 1e-3) -> None:
    """The ONNX file computes what the torch module does (at another size than the export's)."""
    import onnxruntime as ort

    side = (96, 80) if channels == 3 else (12, 10)  # the decoder's input is 1/8 size
    x = torch.rand(2, channels, *side, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = net(x).numpy()
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    if got.shape != expected.shape or float(abs(got - expected).max()) > tolerance:
        raise SystemExit(f"{path.name}: ONNX output differs from torch (max {float(abs(got - expected).max()):.2e})")


def export(out: Path = OUT) -> dict:
    check_sources()
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for part, (loader, channels, io) in NETS.items():
        path = out / f"taef2_{part}.onnx"
        torch.onnx.export(loader(), (torch.rand(1, channels, 64, 64),), str(path), opset_version=OPSET,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "h", 3: "w"}},
                          dynamo=False)
        check_onnx(loader(), path, channels)
        files[part] = {"file": path.name, "sha256": sha256(path), "size_bytes": path.stat().st_size, "io": io}
    shutil.copyfile(weights_dir() / "taesd" / "LICENSE", out / "LICENSE")
    card = {
        "name": "taef2",
        "what": "TAEF2: tiny autoencoder distilled from the FLUX.2 VAE (by Ollin Boer Bohan, madebyollin/taesd)",
        "use": "omamori evaluate only: the measuring encoder (latent distortion) and decoder (what an AI model "
               "sees). The shipped cloaks were trained against this encoder, so its figures are the optimistic "
               "end; see the held-out-encoder figures in models/benchmark.json.",
        "source": SOURCE,
        "format": "onnx", "opset": OPSET, "torch": torch.__version__,
        "export": "python -m models.training.export_taef2",
        "files": files,
    }
    (out / "taef2.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return card


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    print(json.dumps(export(args.out)["files"], indent=1))


if __name__ == "__main__":
    main()
