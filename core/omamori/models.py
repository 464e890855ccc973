"""Runtime for the cloaking models: ONNX Runtime only (torch is never imported here).

A model is ``<name>.onnx`` plus its card ``<name>.json`` in the models folder ($OMAMORI_MODELS, else
the repository's ``models/``, else the wheel's copy in ``omamori/_models``). The file's sha256 must match the
card before a session is created. The net maps RGB in [0, 1] to a pattern in [-1, 1]; the caller
scales it by epsilon/255. Any size runs through overlapping tiles whose blend weights are zero
wherever a tile's border could have changed the result, so tiled output equals untiled output.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from .cloak_targets import brick_wall
from .errors import Cancelled, ModelError
from .i18n import Text

FACTOR = 4          # PixelUnshuffle factor: tile origins and sizes stay multiples of it
REACH = 48          # > receptive-field radius of the shipped nets (10 convs at 1/4 scale = 40 px)
RAMP = 32           # width of the cross-fade between tiles
TILE = 2048         # largest tile side: the net works at 1/4 scale, so 2048² needs only ~0.3 GB
OVERLAP = 2 * REACH + RAMP

_SESSIONS: dict = {}
_LOCK = threading.Lock()


def models_dir() -> Path:
    env = os.environ.get("OMAMORI_MODELS")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "models"
    return repo if (repo / "guard.json").is_file() else Path(__file__).resolve().parent / "_models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_card(name: str, folder: Path | None = None) -> dict:
    path = (folder or models_dir()) / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelError(Text("model card {path} is missing or unreadable; reinstall Omamori.",
                              "モデルカード {path} が見つからないか読めません。Omamori を入れ直してください。"),
                         path=path) from None


def _providers() -> list:
    import onnxruntime as ort

    # GPU/NPU providers first when this onnxruntime build has them; TensorRT is skipped (slow engine builds).
    preferred = ["CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider"]
    available = ort.get_available_providers()
    return [p for p in preferred if p in available] + ["CPUExecutionProvider"]


class CloakModel:
    """One verified ONNX cloaking model with a cached session."""

    def __init__(self, name: str, folder: Path | None = None):
        folder = folder or models_dir()
        self.name = name
        self.card = read_card(name, folder)
        self.path = folder / f"{name}.onnx"
        self.target = self.card.get("target") if "target" in self.card.get("inputs", ["image"]) else None
        self.session = _session(self.path, self.card.get("sha256", ""))

    def pattern(self, rgb: np.ndarray, progress: Callable[[float], None] | None = None,
                cancelled: Callable[[], bool] | None = None, tile: int = TILE) -> np.ndarray:
        """float32 (H, W, 3) in [0, 1] -> pattern (H, W, 3) in [-1, 1]; tiled, blended, cancellable."""
        h, w = rgb.shape[:2]
        ph, pw = -h % FACTOR, -w % FACTOR
        img = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
        H, W = img.shape[:2]
        tile = max(tile - tile % FACTOR, OVERLAP + 2 * FACTOR)
        (ys, th), (xs, tw) = _layout(H, tile), _layout(W, tile)
        out = np.zeros((H, W, 3), np.float32)
        weight = np.zeros((H, W, 1), np.float32)
        total, done = len(ys) * len(xs), 0
        for y in ys:
            for x in xs:
                if cancelled and cancelled():
                    raise Cancelled()
                pat = self._run(img[y:y + th, x:x + tw], y, x)
                wy = _ramp(th, y > 0, y + th < H)
                wx = _ramp(tw, x > 0, x + tw < W)
                wgt = (wy[:, None] * wx[None, :])[..., None]
                out[y:y + th, x:x + tw] += pat * wgt
                weight[y:y + th, x:x + tw] += wgt
                done += 1
                if progress:
                    progress(done / total)
        return (out / weight)[:h, :w]

    def _run(self, tile: np.ndarray, top: int, left: int) -> np.ndarray:
        feeds = {"image": tile.transpose(2, 0, 1)[None].astype(np.float32)}
        if self.target == "poison":  # the brick wall drawn at the tile's place, so tiles line up
            feeds["target"] = brick_wall(tile.shape[0], tile.shape[1], top, left).transpose(2, 0, 1)[None]
        try:
            return self.session.run(None, feeds)[0][0].transpose(1, 2, 0)
        except Exception as err:  # ORT raises its own types; the user gets one line
            raise ModelError(Text("model {name} failed to run: {err}", "モデル {name} を実行できません: {err}"),
                             name=self.name, err=str(err).splitlines()[0]) from None


def _layout(size: int, limit: int) -> tuple[list, int]:
    """(origins, side): the fewest equal tiles of at most `limit` that overlap by >= OVERLAP, origins and
    side multiples of FACTOR (size is one), so little work is repeated."""
    if size <= limit:
        return [0], size
    n = -(-(size - OVERLAP) // (limit - OVERLAP))
    side = min(size, -(-((size - OVERLAP) // n + OVERLAP) // FACTOR) * FACTOR + 2 * FACTOR)
    starts = [(i * (size - side) // (n - 1)) // FACTOR * FACTOR for i in range(n - 1)] + [size - side]
    return starts, side


def _ramp(n: int, fade_start: bool, fade_end: bool) -> np.ndarray:
    """1 inside; 0 within REACH of an inner tile edge, then a linear ramp over RAMP pixels."""
    d = np.arange(n, dtype=np.float32)
    w = np.ones(n, np.float32)
    if fade_start:
        w = np.minimum(w, np.clip((d - REACH + 0.5) / RAMP, 0, 1))
    if fade_end:
        w = np.minimum(w, np.clip((n - 1 - d - REACH + 0.5) / RAMP, 0, 1))
    return w


def _session(path: Path, expected_sha: str):
    with _LOCK:
        if path in _SESSIONS:
            return _SESSIONS[path]
        if not path.is_file():
            raise ModelError(Text("protection model {path} is missing; reinstall Omamori.",
                                  "保護モデル {path} が見つかりません。Omamori を入れ直してください。"), path=path)
        if sha256_of(path) != expected_sha:
            raise ModelError(Text("protection model {path} does not match its card (sha256); it may have been "
                                  "tampered with, so it was not loaded. Reinstall Omamori.",
                                  "保護モデル {path} の sha256 がカードと一致しません。改ざんの恐れがあるため"
                                  "読み込みません。Omamori を入れ直してください。"), path=path)
        import onnxruntime as ort

        opts = ort.SessionOptions()
        threads = int(os.environ.get("OMAMORI_THREADS", "0"))
        opts.intra_op_num_threads = threads  # 0 = all cores
        try:
            session = ort.InferenceSession(str(path), opts, providers=_providers())
        except Exception as err:
            raise ModelError(Text("protection model {path} cannot be loaded: {err}",
                                  "保護モデル {path} を読み込めません: {err}"),
                             path=path, err=str(err).splitlines()[0]) from None
        _SESSIONS[path] = session
        return session


def load(name: str, folder: Path | None = None) -> CloakModel:
    return CloakModel(name, folder)


def protect(rgb: np.ndarray, model: CloakModel, epsilon: int, bit_depth: int = 8,
            progress=None, cancelled=None) -> np.ndarray:
    """Adds epsilon/255 x pattern; returns RGB on the `bit_depth` grid whose change against the input
    (rounded to the same grid) is at most epsilon 8-bit levels: the bound holds after rounding."""
    pattern = model.pattern(np.clip(rgb, 0.0, 1.0), progress, cancelled)
    if bit_depth >= 32:
        return np.clip(rgb + np.clip(epsilon / 255.0 * pattern, -epsilon / 255.0, epsilon / 255.0), 0.0, 1.0)
    top = np.float32((1 << bit_depth) - 1)  # float32 holds these integers exactly (< 2**24)
    levels = np.float32(epsilon * int(top) // 255)  # exact: epsilon at 8 bits, epsilon*257 at 16 bits
    base = np.rint(np.clip(rgb, 0.0, 1.0).astype(np.float32) * top)
    out = np.clip(np.rint(base + levels * pattern), 0.0, top)
    # Clip the final change in the pixel domain, after rounding, whatever the net or the blend produced.
    out = base + np.clip(out - base, -levels, levels)
    return (out / top).astype(np.float32)
