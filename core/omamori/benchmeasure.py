"""Per-transform latent measurement for the model cards and the cloak benchmark
(`models/training/export.py`, `tests/benchmarks/bench_cloak.py`): r on a centre crop after each of
TRANSFORMS, PSNR, SSIM, decoder round trip, target distance, and a cloak's speed at 2048².
`omamori evaluate` uses `evaluate.py`.

Encoders: "taef2" is the shipped, verified TAEF2; any other name is <omamori home>/encoders/<name>_encoder.onnx
(+ _decoder.onnx), e.g. the benchmark's held-out encoder built by `python -m models.training.export encoders`;
an .onnx path works too.
"""

from __future__ import annotations

import io
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .cloak_targets import poison_target, style_target
from .errors import InputError, ModelError
from . import models
from .i18n import Text
from .measuring import Net, cloak_target_distance, relative_change, taef2
from .jsonchecks import omamori_home
from .visibility import psnr

MAX_SIDE = 1024  # larger images are measured on a centre crop: encoders at full res need GBs of RAM
TRANSFORMS = ("none", "jpeg85", "jpeg75", "resize0.75", "resize0.5", "blur", "resize0.75+jpeg85")


def encoders_dir() -> Path:
    """Encoders built on this machine live in the per-user folder (never in the project)."""
    return omamori_home() / "encoders"


def find_encoder(name_or_path: str) -> tuple[Net, Net | None]:
    """(encoder, decoder or None) by name or .onnx path."""
    if name_or_path == "taef2":
        return taef2("encoder"), taef2("decoder")
    path = Path(name_or_path)
    if path.suffix == ".onnx":
        enc, dec = path, path.with_name(path.name.replace("encoder", "decoder"))
    else:
        enc, dec = encoders_dir() / f"{name_or_path}_encoder.onnx", encoders_dir() / f"{name_or_path}_decoder.onnx"
    if not enc.is_file():
        raise ModelError(Text("encoder {enc} not found. Build it with `python -m models.training.export encoders` "
                              "(needs torch and the surrogate weights) or pass an .onnx path.",
                              "エンコーダ {enc} が見つかりません。`python -m models.training.export encoders`（torch と"
                              "代理モデルの重みが必要）で作るか、.onnx のパスを指定してください。"), enc=enc)
    return Net(enc), (Net(dec) if dec != enc and dec.is_file() else None)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"), np.float32) / 255.0


def resize(rgb: np.ndarray, scale: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)


def transform(rgb: np.ndarray, name: str) -> np.ndarray:
    """One platform-like transform by name (see TRANSFORMS)."""
    for part in name.split("+"):
        if part.startswith("jpeg"):
            rgb = jpeg(rgb, int(part[4:]))
        elif part.startswith("resize"):
            rgb = resize(rgb, float(part[6:]))
        elif part == "blur":
            rgb = cv2.GaussianBlur(rgb, (0, 0), 1.0)
    return rgb


def fit8(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return rgb[: h - h % 8, : w - w % 8]


def latent(enc: Net, rgb: np.ndarray) -> np.ndarray:
    return enc(fit8(rgb).transpose(2, 0, 1)[None])[0]


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM over RGB channels (Gaussian window, sigma 1.5, as Wang et al. 2004)."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    a, b = a.astype(np.float64), b.astype(np.float64)

    def blur(v):
        return cv2.GaussianBlur(v, (11, 11), 1.5)

    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma ** 2, blur(b * b) - mb ** 2, blur(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))
    return float(s.mean())


def target_image(cloak: str, original: np.ndarray) -> np.ndarray | None:
    if cloak == "style":
        return style_target(original)
    if cloak == "poison":
        return poison_target(*original.shape[:2])
    return None


def centre_crop(rgb: np.ndarray, side: int = MAX_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    y, x = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return rgb[y:y + side, x:x + side]


def measure(original: np.ndarray, protected: np.ndarray, enc: Net, dec: Net | None = None,
            cloak: str = "guard", transforms=TRANSFORMS) -> dict:
    """All metrics for float32 RGB images in [0, 1] of the same shape."""
    if original.shape != protected.shape:
        raise InputError(Text("the two images differ in size: {a} vs {b}.", "2 枚の画像のサイズが違います: {a} と {b}。"),
                         a=original.shape[:2], b=protected.shape[:2])
    x, xp = fit8(centre_crop(original)), fit8(centre_crop(protected))
    z, zp = latent(enc, x), latent(enc, xp)
    levels = np.abs(np.rint(np.clip(xp, 0, 1) * 255) - np.rint(np.clip(x, 0, 1) * 255))
    out = {"size": list(x.shape[:2]), "psnr": psnr(xp, x), "ssim": ssim(xp, x),
           "linf_levels": float(levels.max()), "r": {"none": relative_change(zp, z)}}
    for name in transforms:
        if name != "none":
            out["r"][name] = relative_change(latent(enc, transform(xp, name)), latent(enc, transform(x, name)))
    if dec is not None:
        out["decoder_psnr_clean"] = psnr(dec(z[None])[0].transpose(1, 2, 0), x)
        out["decoder_psnr_protected"] = psnr(dec(zp[None])[0].transpose(1, 2, 0), x)
    target = target_image(cloak, x)
    if target is not None:
        out["target_distance"] = cloak_target_distance(cloak, zp, z, latent(enc, target))
    return out


def pass_speed_2048(model: models.CloakModel, passes: int = 7) -> dict:
    """A model's full pass (pattern + rounding, ε 8) at 2048² on the threads set at start, in MP/s: the
    median of several passes after a warm-up, with the slowest and fastest beside it (single passes vary
    on a busy machine, so neither the best nor one pass says what a user gets)."""
    img = np.random.default_rng(1).random((2048, 2048, 3), dtype=np.float32)
    model.pattern(img[:256, :256])
    rates = []
    for _ in range(passes):
        start = time.perf_counter()
        models.protect(img, model, 8)
        rates.append(2048 * 2048 / 1e6 / (time.perf_counter() - start))
    return {"median": round(statistics.median(rates), 2), "slowest": round(min(rates), 2),
            "fastest": round(max(rates), 2), "passes": passes}
