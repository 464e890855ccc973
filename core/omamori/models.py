"""ONNX Runtime for Omamori: the one session factory (`session`, `set_threads`) used by the cloaks and by
`omamori evaluate`, and the cloaking models' runtime (torch is never imported here).

A model is ``<name>.onnx`` plus its card ``<name>.json`` in the models folder ($OMAMORI_MODELS, else
the repository's ``models/``, else the wheel's copy in ``omamori/_models``). The file's sha256 must match the
card before a session is created. The net maps RGB in [0, 1] to a pattern in [-1, 1]; the caller
scales it by epsilon/255. Any size runs through overlapping tiles whose blend weights are zero
wherever a tile's border could have changed the result, so tiled output equals untiled output.
A card may add a pyramid: on each tile the net also runs on the tile shrunk 2x, and that pattern,
enlarged back, is used where the picture is smooth, the full-size pattern wherever it varies (coarser
grain survives a platform's downscale and JPEG; fine grain hides in texture; measured in
models/README.md). The pyramid widens the reach that tiles discard, so tiled output still equals one pass.
A card may also make the pattern grey ("luminance_only": brightness changes only).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from functools import partial
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .bands import for_each_band
from .cloak_targets import brick_wall_planes
from .errors import Cancelled, ModelError
from .i18n import Text

# v1 cards carry no architecture: PixelUnshuffle factor 4, 10 convs at 1/4 scale (receptive radius 44 px).
V1_ARCHITECTURE = {"factor": 4, "receptive_radius_px": 44}
RAMP = 32           # width of the cross-fade between tiles
TILE = 2048         # largest tile side: the nets work at 1/4 or 1/8 scale, so 2048² needs only ~0.3 GB

_SESSIONS: dict = {}  # (path, threads) -> ((file stamp, sha256), session): the only session cache
_LOCK = threading.Lock()
_threads: int | None = None


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
        card = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(card, dict):
            raise ValueError(path)
        return card
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
        # Tile origins and sizes stay multiples of `align`; tiles discard `reach` pixels at inner edges.
        self.factor, radius = architecture_of(self.card)
        self.reach = radius + self.factor
        self.pyramid = pyramid_of(self.card)
        self.luminance_only = luminance_only_of(self.card)
        self.align = self.factor
        if self.pyramid:
            f = self.pyramid["shrink"]
            self.align *= f  # the shrunk tile must sit on the net's grid too
            # On the shrunk tile: the net's reach, the texture window's, the cubic kernel's and a block's.
            self.reach = f * (self.reach + int(np.ceil(3 * self.pyramid["texture_sigma_px"] / f)) + 3)
        self.session = session(self.path, expected_sha256=self.card.get("sha256", ""))

    def pattern(self, rgb: np.ndarray, progress: Callable[[float], None] | None = None,
                cancelled: Callable[[], bool] | None = None, tile: int = TILE,
                out: np.ndarray | None = None) -> np.ndarray:
        """float32 (H, W, 3) in [0, 1] -> pattern (H, W, 3) in [-1, 1]; tiled, blended, cancellable.

        One tile: the result is a view of the net's output (no copy) and `out` is not used. Several
        tiles: they are blended in `out` (H, W, 3; a view is fine; allocated when None), which is
        returned. Tiles are clipped to [0, 1] and padded one at a time: no full-size copy of the input.
        With the card's pyramid each tile's pattern is `_pyramid_tile`'s."""
        h, w = rgb.shape[:2]
        f = self.align
        H, W = h + -h % f, w + -w % f
        overlap = 2 * self.reach + RAMP
        tile = max(tile - tile % f, overlap + 2 * f)
        (ys, th), (xs, tw) = _layout(H, tile, f, overlap), _layout(W, tile, f, overlap)
        if len(ys) * len(xs) == 1:
            pattern = self._tile(rgb, 0, 0, th, tw, cancelled)[:h, :w]
            if progress:
                progress(1.0)
            return pattern
        out = np.empty((h, w, 3), np.float32) if out is None else out
        out[...] = 0.0
        # The blend weights are separable (row ramp x column ramp), so their sum is too: two
        # 1-D sums instead of a full-size weight image.
        weight_y, weight_x = np.zeros(h, np.float32), np.zeros(w, np.float32)
        total, done = len(ys) * len(xs), 0
        for y in ys:
            wy = self._ramp(th, y > 0, y + th < H)[:h - y]  # rows past the picture are padding only
            weight_y[y:y + th] += wy
            for x in xs:
                pat = self._tile(rgb, y, x, th, tw, cancelled)[:h - y, :w - x]
                pat *= wy[:, None, None]
                pat *= self._ramp(tw, x > 0, x + tw < W)[None, :w - x, None]
                out[y:y + th, x:x + tw] += pat
                done += 1
                if progress:
                    progress(done / total)
        for x in xs:
            weight_x[x:x + tw] += self._ramp(tw, x > 0, x + tw < W)[:w - x]
        in_bands(out, lambda band, rows: _normalise(band, weight_y[rows], weight_x))
        return out

    def _ramp(self, n: int, fade_start: bool, fade_end: bool) -> np.ndarray:
        """1 inside; 0 within `reach` of an inner tile edge, then a linear ramp over RAMP pixels."""
        d = np.arange(n, dtype=np.float32)
        w = np.ones(n, np.float32)
        if fade_start:
            w = np.minimum(w, np.clip((d - self.reach + 0.5) / RAMP, 0, 1))
        if fade_end:
            w = np.minimum(w, np.clip((n - 1 - d - self.reach + 0.5) / RAMP, 0, 1))
        return w

    def _tile(self, rgb: np.ndarray, top: int, left: int, th: int, tw: int, cancelled) -> np.ndarray:
        pattern = self._run(rgb, top, left, th, tw, cancelled) if self.pyramid is None else \
            self._pyramid_tile(rgb, top, left, th, tw, cancelled)
        if self.luminance_only:
            _make_grey(pattern)
        return pattern

    def _pyramid_tile(self, rgb: np.ndarray, top: int, left: int, th: int, tw: int, cancelled) -> np.ndarray:
        """(u x the net's pattern of the tile + (1 - t) x its pattern of the tile shrunk `shrink` times by
        area, enlarged back by bicubic) / the largest sum of the weights; t = `texture` of the shrunk tile
        over texture_std, u the same over fine_std (at most texture_std), each at most 1, enlarged alike
        (texture measured there steers as well as at full size, models/README.md, for a quarter of the
        work): the fine pattern wherever the picture varies at all, the coarse one where it is smooth; the
        enlarged planes are clipped to their range. (th, tw, 3)."""
        f = self.pyramid["shrink"]
        fine = self._run(rgb, top, left, th, tw, cancelled)  # a view of the net's planar output
        part = rgb[top:top + th, left:left + tw]
        small = _shrunk(part, f)
        sh, sw = small.shape[:2]
        ph, pw = part.shape[:2]

        def enlarged(plane: np.ndarray) -> np.ndarray:
            big = cv2.resize(plane, (sw * f, sh * f), interpolation=cv2.INTER_CUBIC)[:ph, :pw]
            return np.clip(big, -1.0, 1.0, out=big)  # bicubic overshoots a little: stay in [-1, 1]

        sigma, std = self.pyramid["texture_sigma_px"] / f, self.pyramid["texture_std"]
        t = np.maximum(enlarged(texture(small, sigma, std)), 0.0)
        ratio = std / self.pyramid["fine_std"]
        u = np.minimum(t * np.float32(ratio), 1.0)  # t <= 1 reaches u = 1 first
        np.subtract(1.0, t, out=t)  # the coarse pattern's weight
        # The weights add up to at most 2 - 1 / ratio (where u first reaches 1): divided by that, the
        # pattern stays within [-1, 1]; without fine_std (ratio 1) this is t x fine + (1 - t) x coarse.
        most = np.float32(2.0 - 1.0 / ratio)
        u /= most
        t /= most
        coarse = self._run(small, 0, 0, th // f, tw // f, cancelled).transpose(2, 0, 1)  # planar
        for c in range(3):  # in place, plane by plane (the net's output is planar, so each is contiguous)
            plane, big = fine[:ph, :pw, c], enlarged(np.ascontiguousarray(coarse[c, :sh, :sw]))
            plane *= u
            big *= t
            plane += big
        return fine

    def _run(self, rgb: np.ndarray, top: int, left: int, th: int, tw: int, cancelled) -> np.ndarray:
        """The net's pattern for the (th, tw) tile at (top, left), as an (th, tw, 3) view of its output."""
        if cancelled and cancelled():
            raise Cancelled()
        feeds = {"image": _planar_tile(rgb, top, left, th, tw)}
        if self.target == "poison":  # the brick wall drawn at the tile's place, so tiles line up
            feeds["target"] = brick_wall_planes(th, tw, top, left)[None]
        try:
            return self.session.run(None, feeds)[0][0].transpose(1, 2, 0)
        except Exception as err:  # ORT raises its own types; the user gets one line
            raise ModelError(Text("model {name} failed to run: {err}", "モデル {name} を実行できません: {err}"),
                             name=self.name, err=str(err).splitlines()[0]) from None


def architecture_of(card: dict) -> tuple[int, int]:
    """(factor, receptive radius in px) of the card's "architecture" (V1_ARCHITECTURE without), checked."""
    arch = card.get("architecture", V1_ARCHITECTURE)
    try:
        factor, radius = int(arch["factor"]), int(arch["receptive_radius_px"])
        ok = factor >= 1 and radius >= 0
    except (TypeError, KeyError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ModelError(Text("model card {name}: bad architecture {arch}; reinstall Omamori.",
                              "モデルカード {name} のアーキテクチャ指定 {arch} が不正です。Omamori を入れ直してください。"),
                         name=card.get("name"), arch=arch)
    return factor, radius


def pyramid_of(card: dict) -> dict | None:
    """The card's "pyramid" ({"shrink": 2, "texture_sigma_px": 4, "texture_std": 0.1, "fine_std": 0.01}),
    checked; fine_std defaults to texture_std (then the fine and coarse weights add up to 1); None without."""
    pyramid = card.get("pyramid")
    if pyramid is None:
        return None
    try:
        checked = {"shrink": int(pyramid["shrink"]), "texture_sigma_px": float(pyramid["texture_sigma_px"]),
                   "texture_std": float(pyramid["texture_std"]),
                   "fine_std": float(pyramid.get("fine_std", pyramid["texture_std"]))}
        ok = checked["shrink"] in (2, 4) and checked["texture_sigma_px"] > 0 and \
            0 < checked["fine_std"] <= checked["texture_std"]
    except (TypeError, KeyError, ValueError):
        ok = False
    if not ok:
        raise ModelError(Text("model card {name}: bad pyramid {pyramid}; reinstall Omamori.",
                              "モデルカード {name} のピラミッド指定 {pyramid} が不正です。Omamori を入れ直してください。"),
                         name=card.get("name"), pyramid=pyramid)
    return checked


LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def luminance_only_of(card: dict) -> bool:
    """The card's "luminance_only" (true: the pattern changes brightness only), checked; False without."""
    value = card.get("luminance_only", False)
    if not isinstance(value, bool):
        raise ModelError(Text("model card {name}: bad luminance_only {value}; reinstall Omamori.",
                              "モデルカード {name} の luminance_only {value} が不正です。Omamori を入れ直してください。"),
                         name=card.get("name"), value=value)
    return value


def _make_grey(pattern: np.ndarray) -> None:
    """Each pixel's change replaced by its luma in all three channels, in place, plane by plane. At equal
    FLIP a grey pattern moves unseen encoders more after posting: the colour part shows, and the
    platform's downscale and 4:2:0 JPEG remove most of it (models/README.md, 8th round)."""
    planes = [pattern[..., c] for c in range(3)]
    grey = planes[0] * LUMA[0]
    grey += planes[1] * LUMA[1]
    grey += planes[2] * LUMA[2]
    for plane in planes:
        plane[...] = grey


def texture(rgb: np.ndarray, sigma: float, std_full: float) -> np.ndarray:
    """(H, W) in [0, 1]: the local standard deviation of luma (Gaussian window, `sigma` pixels) over
    `std_full`, at most 1; 0 where the picture is flat, 1 where it has texture."""
    luma = np.clip(rgb, 0.0, 1.0) @ LUMA
    reach = int(np.ceil(3 * sigma))
    size = (2 * reach + 1, 2 * reach + 1)
    mean = cv2.GaussianBlur(luma, size, sigma)
    var = cv2.GaussianBlur(luma * luma, size, sigma)
    var -= mean * mean
    std = np.sqrt(np.maximum(var, 0.0, out=var), out=var)
    return np.minimum(std / np.float32(std_full), 1.0, out=std)


def _shrunk(rgb: np.ndarray, f: int) -> np.ndarray:
    """The picture clipped to [0, 1] and shrunk f times by an area resize (the mean of f x f blocks), a
    band at a time; a size that f does not divide is padded by repeating the last row or column."""
    h, w = rgb.shape[:2]
    sh, sw = -(-h // f), -(-w // f)
    small = np.empty((sh, sw, 3), np.float32)

    def shrink_rows(rows: slice) -> None:
        n = len(range(sh)[rows])
        src = np.clip(rgb[rows.start * f:(rows.start + n) * f], 0.0, 1.0)
        if src.shape[:2] != (n * f, sw * f):
            src = cv2.copyMakeBorder(src, 0, n * f - src.shape[0], 0, sw * f - w, cv2.BORDER_REPLICATE)
        small[rows] = cv2.resize(src, (sw, n), interpolation=cv2.INTER_AREA)

    for_each_band(sh, shrink_rows)
    return small


def _planar_tile(rgb: np.ndarray, top: int, left: int, th: int, tw: int) -> np.ndarray:
    """(1, 3, th, tw) float32 of rgb clipped to [0, 1], one plane at a time (a clip straight into planar
    order costs half of clipping, then transposing); a tile past the picture's edge is mirrored."""
    part = rgb[top:top + th, left:left + tw]
    planes = np.empty((1, 3) + part.shape[:2], np.float32)

    def clip_rows(rows: slice) -> None:
        for c in range(3):
            np.clip(part[rows, :, c], 0.0, 1.0, out=planes[0, c, rows])

    for_each_band(part.shape[0], clip_rows)
    if part.shape[:2] == (th, tw):
        return planes
    mode = "reflect" if min(rgb.shape[:2]) > 1 else "edge"
    return np.pad(planes, ((0, 0), (0, 0), (0, th - part.shape[0]), (0, tw - part.shape[1])), mode=mode)


def _layout(size: int, limit: int, factor: int, overlap: int) -> tuple[list, int]:
    """(origins, side): the fewest equal tiles of at most `limit` that overlap by >= `overlap`, origins and
    side multiples of `factor` (size is one), so little work is repeated."""
    if size <= limit:
        return [0], size
    n = -(-(size - overlap) // (limit - overlap))
    side = min(size, -(-((size - overlap) // n + overlap) // factor) * factor + 2 * factor)
    starts = [(i * (size - side) // (n - 1)) // factor * factor for i in range(n - 1)] + [size - side]
    return starts, side


def set_threads(n: int | None) -> None:
    """Default onnxruntime threads for sessions made from now on (None: $OMAMORI_THREADS, else all cores);
    the batch sets it to divide the cores between its workers."""
    global _threads
    _threads = None if n is None else max(0, int(n))


def default_threads() -> int:
    if _threads is not None:
        return _threads
    return int(os.environ.get("OMAMORI_THREADS", "0"))  # 0 = all cores


def session(path: str | os.PathLike, *, threads: int | None = None, expected_sha256: str | None = None):
    """The one onnxruntime session factory: cached per (path, threads), the file's sha256 checked against
    `expected_sha256` before it is loaded. A file rewritten on disk (a re-export) is checked and loaded
    again, so no caller ever needs to clear the cache."""
    path = Path(path).resolve()
    threads = default_threads() if threads is None else threads
    with _LOCK:
        stamp = _file_stamp(path)
        cached = _SESSIONS.get((path, threads))
        if cached is not None and cached[0] == (stamp, expected_sha256):
            return cached[1]
        if expected_sha256 is not None and sha256_of(path) != expected_sha256:
            raise ModelError(Text("model {path} does not match its card (sha256); it may have been "
                                  "tampered with, so it was not loaded. Reinstall Omamori.",
                                  "モデル {path} の sha256 がカードと一致しません。改ざんの恐れがあるため"
                                  "読み込みません。Omamori を入れ直してください。"), path=path)
        loaded = _load_session(path, threads)
        _SESSIONS[(path, threads)] = ((stamp, expected_sha256), loaded)
        return loaded


def _file_stamp(path: Path) -> tuple:
    try:
        info = path.stat()
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):  # a folder in its place is as good as missing
        raise ModelError(Text("model {path} is missing; reinstall Omamori.",
                              "モデル {path} が見つかりません。Omamori を入れ直してください。"), path=path)
    return info.st_mtime_ns, info.st_size


def _load_session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), opts, providers=_providers())
    except Exception as err:  # ORT raises its own types; the user gets one line
        raise ModelError(Text("model {path} cannot be loaded: {err}", "モデル {path} を読み込めません: {err}"),
                         path=path, err=str(err).splitlines()[0]) from None


def load(name: str, folder: Path | None = None) -> CloakModel:
    return CloakModel(name, folder)


def protect(rgb: np.ndarray, model: CloakModel, epsilon: int, bit_depth: int = 8,
            progress=None, cancelled=None, out: np.ndarray | None = None, scale: float = 1.0) -> np.ndarray:
    """Adds scale x epsilon/255 x pattern; returns RGB on the `bit_depth` grid whose change against the
    input (rounded to the same grid) is at most epsilon 8-bit levels: the bound holds after rounding,
    whatever the scale (the strength level). `out` (H, W, 3), a view is fine, receives the result: no
    full-size temporary is made beyond the net's own output."""
    out = np.empty(rgb.shape, np.float32) if out is None else out
    pattern = model.pattern(rgb, progress, cancelled, out=out)
    if bit_depth >= 32:
        bound = np.float32(epsilon / 255.0)
        finish = partial(_add_within_bound, gain=bound * np.float32(scale), bound=bound)
    else:
        top = np.float32((1 << bit_depth) - 1)  # float32 holds these integers exactly (< 2**24)
        levels = np.float32(epsilon * int(top) // 255)  # exact: epsilon at 8 bits, epsilon*257 at 16 bits
        finish = partial(_round_into_budget, top=top, levels=levels, gain=levels * np.float32(scale))

    def one_band(rows: slice) -> None:
        # A channel at a time: with one tile the pattern is the net's planar output, where a band of one
        # channel is contiguous, so it is worked on in place without a transposing copy.
        for c in range(3):
            plane = np.ascontiguousarray(pattern[rows, :, c])
            finish(plane, rgb[rows, :, c])
            out[rows, :, c] = plane

    for_each_band(rgb.shape[0], one_band)
    return out


def in_bands(array: np.ndarray, update: Callable[[np.ndarray, slice], None], into: np.ndarray | None = None) -> None:
    """Calls update(band, rows) on contiguous bands of rows of `array` (on several threads) and writes
    them to `into` (default: back to `array`): elementwise work on a strided view (RGB inside RGBA, a
    planar net output) is several times slower than on a contiguous copy of a band."""
    into = array if into is None else into
    in_place = into is array and array.flags.c_contiguous  # then each band is a view, already in place

    def one_band(rows: slice) -> None:
        band = np.ascontiguousarray(array[rows])
        update(band, rows)
        if not in_place:
            into[rows] = band

    for_each_band(array.shape[0], one_band)


def _normalise(band: np.ndarray, weight_y: np.ndarray, weight_x: np.ndarray) -> None:
    band /= weight_y[:, None, None]
    band /= weight_x[None, :, None]


def _add_within_bound(pattern: np.ndarray, rgb: np.ndarray, gain: np.float32, bound: np.float32) -> None:
    """Float output, in place: rgb + gain x pattern, the change clipped to the bound, the result to [0, 1]."""
    pattern *= gain
    np.clip(pattern, -bound, bound, out=pattern)
    pattern += rgb
    np.clip(pattern, 0.0, 1.0, out=pattern)


def _round_into_budget(pattern: np.ndarray, rgb: np.ndarray, top: np.float32, levels: np.float32,
                       gain: np.float32) -> None:
    """In place: rint(base + gain x pattern) on the grid, base = the input rounded to the grid. The change
    is clipped to +-levels before it is added: base and levels are integers, so after rounding the change
    is still within +-levels, whatever the net or the blend produced; clipping to the grid's range can only
    bring a value nearer to base."""
    base = np.clip(rgb, 0.0, 1.0).astype(np.float32, copy=False)
    base *= top
    np.rint(base, out=base)
    pattern *= gain
    np.clip(pattern, -levels, levels, out=pattern)
    pattern += base
    np.rint(pattern, out=pattern)
    np.clip(pattern, 0.0, top, out=pattern)
    pattern /= top
