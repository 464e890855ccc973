"""Measuring a cloak: `omamori evaluate ORIGINAL PROTECTED [--encoder NAME|PATH] [--json] [--report out.png]`.

r = ||E(x') - E(x)|| / ||E(x)|| on a surrogate encoder E, also after JPEG 85/75, 0.75x/0.5x resize,
blur and JPEG 85 after 0.75x (the same transform applied to both images); PSNR and SSIM of x' vs x;
the decoder round trip; for style/poison the distance to the target latent. Runs on ONNX Runtime.

Encoders are ONNX files: a path, or a name looked up in <omamori home>/encoders (OMAMORI_HOME, default
~/.config/omamori on Linux) as <name>_encoder.onnx (+ <name>_decoder.onnx). The surrogate weights may not be
shipped, so they are built on the user's machine: `python -m models.training.export encoders`.
"""

from __future__ import annotations

import io
import json
import os
import threading
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .cloak_targets import poison_target, restyle
from .errors import InputError, ModelError
from .i18n import Text
from .userdata import omamori_home

MAX_SIDE = 1024  # larger images are measured on a centre crop: encoders at full res need GBs of RAM
TRANSFORMS = ("none", "jpeg85", "jpeg75", "resize0.75", "resize0.5", "blur", "resize0.75+jpeg85")
_SESSIONS: dict = {}
_LOCK = threading.Lock()


def encoders_dir() -> Path:
    """Encoders live in the same per-user folder as presets (never in the project)."""
    return omamori_home() / "encoders"


def _session(path: Path):
    with _LOCK:
        if path not in _SESSIONS:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = int(os.environ.get("OMAMORI_THREADS", "0"))
            _SESSIONS[path] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return _SESSIONS[path]


class Net:
    """An ONNX encoder or decoder taking and returning NCHW float32."""

    def __init__(self, path: Path):
        self.path = path
        self.session = _session(path)

    def __call__(self, array: np.ndarray) -> np.ndarray:
        name = self.session.get_inputs()[0].name
        return self.session.run(None, {name: array[None].astype(np.float32)})[0][0]


def find_encoder(name_or_path: str) -> tuple[Net, Net | None]:
    """(encoder, decoder or None) for a name in encoders_dir() or an .onnx path."""
    path = Path(name_or_path)
    if path.suffix == ".onnx":
        enc, dec = path, path.with_name(path.name.replace("encoder", "decoder"))
    else:
        enc, dec = encoders_dir() / f"{name_or_path}_encoder.onnx", encoders_dir() / f"{name_or_path}_decoder.onnx"
    if not enc.is_file():
        raise ModelError(Text(
            "encoder {enc} not found. Build it with `python -m models.training.export encoders` "
            "(needs torch and the surrogate weights) or pass --encoder PATH.onnx.",
            "エンコーダ {enc} が見つかりません。`python -m models.training.export encoders`（torch と代理モデルの"
            "重みが必要）で作るか、--encoder PATH.onnx を指定してください。"), enc=enc)
    return Net(enc), (Net(dec) if dec != enc and dec.is_file() else None)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(to_u8(rgb)).save(buf, "JPEG", quality=quality)
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


def to_u8(rgb: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def fit8(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return rgb[: h - h % 8, : w - w % 8]


def latent(enc: Net, rgb: np.ndarray) -> np.ndarray:
    return enc(np.ascontiguousarray(fit8(rgb).transpose(2, 0, 1)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2, dtype=np.float64))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


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


def rel(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b||."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12))


def target_image(cloak: str, original: np.ndarray) -> np.ndarray | None:
    if cloak == "style":
        return restyle(original)
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
    out = {"size": list(x.shape[:2]), "psnr": psnr(xp, x), "ssim": ssim(xp, x),
           "linf_levels": float(np.abs(to_u8(xp).astype(int) - to_u8(x).astype(int)).max()),
           "r": {"none": rel(zp, z)}}
    for name in transforms:
        if name != "none":
            out["r"][name] = rel(latent(enc, transform(xp, name)), latent(enc, transform(x, name)))
    if dec is not None:
        out["decoder_psnr_clean"] = psnr(np.transpose(dec(z), (1, 2, 0)), x)
        out["decoder_psnr_protected"] = psnr(np.transpose(dec(zp), (1, 2, 0)), x)
    target = target_image(cloak, x)
    if target is not None:
        zt = latent(enc, target)
        # 1.0 = as far from the target as the clean image; lower = pulled towards it.
        out["target_distance"] = float(np.linalg.norm(zp - zt) / max(np.linalg.norm(z - zt), 1e-12))
    return out


def report_png(path: str | os.PathLike, original: np.ndarray, protected: np.ndarray, dec: Net | None,
               enc: Net) -> None:
    """Original | protected | difference amplified 10x | decoded round trip of the protected image."""
    x, xp = fit8(centre_crop(original)), fit8(centre_crop(protected))
    diff = np.clip((xp - x) * 10 + 0.5, 0, 1)
    decoded = np.transpose(dec(latent(enc, xp)), (1, 2, 0)) if dec is not None else np.full_like(x, 0.5)
    strip = np.concatenate([x, xp, diff, np.clip(decoded, 0, 1)], axis=1)
    Image.fromarray(to_u8(strip)).save(path)


def _load_rgb(path: str) -> tuple[np.ndarray, np.ndarray]:
    from .imageio import load

    pixels = load(path).pixels
    return pixels[..., :3], pixels[..., 3]


def run_evaluate(args) -> int:
    original, alpha = _load_rgb(args.original)
    protected, alpha_p = _load_rgb(args.protected)
    enc, dec = find_encoder(args.encoder)
    result = measure(original, protected, enc, dec, cloak=args.cloak)
    result["encoder"] = str(enc.path)
    result["alpha_unchanged"] = bool(alpha.shape == alpha_p.shape and np.array_equal(alpha, alpha_p))
    if args.report:
        report_png(args.report, original, protected, dec, enc)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"encoder: {result['encoder']}  size: {result['size'][1]}x{result['size'][0]}")
        print(f"PSNR {result['psnr']:.2f} dB  SSIM {result['ssim']:.4f}  max change {result['linf_levels']:.0f}/255")
        for name, value in result["r"].items():
            print(f"r[{name}] = {value:.3f}")
        if "decoder_psnr_clean" in result:
            print(f"decoder round trip PSNR: clean {result['decoder_psnr_clean']:.2f} dB, "
                  f"protected {result['decoder_psnr_protected']:.2f} dB")
        if "target_distance" in result:
            print(f"distance to the {args.cloak} target latent: {result['target_distance']:.3f} (clean = 1)")
    return 0


def add_evaluate_command(sub) -> None:
    """Adds `evaluate` to the `omamori` sub-command parser."""
    say = Text.format
    cmd = sub.add_parser("evaluate", help=say(Text(
        "measure a cloak on a surrogate encoder", "代理エンコーダでクロークの効果を測定")))
    cmd.add_argument("original", metavar="ORIGINAL")
    cmd.add_argument("protected", metavar="PROTECTED")
    cmd.add_argument("--encoder", default="taef2", metavar="NAME|PATH", help=say(Text(
        "encoder name in $OMAMORI_HOME/encoders or an .onnx file (default: taef2)",
        "$OMAMORI_HOME/encoders 内の名前または .onnx ファイル（既定: taef2）")))
    cmd.add_argument("--cloak", default="guard", choices=("guard", "style", "poison"), help=say(Text(
        "which cloak was applied (style/poison also report the distance to their target)",
        "適用したクローク（style / poison は目標までの距離も表示）")))
    cmd.add_argument("--json", action="store_true")
    cmd.add_argument("--report", metavar="PNG", help=say(Text(
        "write original | protected | 10x difference | decoded round trip",
        "元画像・保護後・差分10倍・デコード結果を並べた PNG を書き出す")))
    cmd.set_defaults(run=run_evaluate)
