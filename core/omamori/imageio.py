"""Reading images into float32 RGBA, with the facts an export needs to keep."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .errors import InputError
from .i18n import Text
from .pixels import to_float

FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")
DEFAULT_MAX_MEGAPIXELS = 200.0
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, not a grey band


@dataclass
class Picture:
    """An image as the pipeline sees it, plus what export must carry over."""

    pixels: np.ndarray  # float32 (H, W, 4) in [0, 1]
    bit_depth: int = 8  # per channel in the source: 8 or 16
    format: str = "PNG"
    has_alpha: bool = True
    icc_profile: bytes | None = None
    exif: Image.Exif | None = None  # the source's EXIF, for export to filter
    notices: list[Text] = field(default_factory=list)


def max_pixels() -> int:
    """The decompression-bomb limit (OMAMORI_MAX_MEGAPIXELS overrides)."""
    try:
        megapixels = float(os.environ.get("OMAMORI_MAX_MEGAPIXELS", DEFAULT_MAX_MEGAPIXELS))
    except ValueError:
        megapixels = DEFAULT_MAX_MEGAPIXELS
    return int(megapixels * 1_000_000)


def load(path: str | os.PathLike) -> Picture:
    """Reads PNG, JPEG, WebP or TIFF (8/16-bit; grey, palette, RGB(A), CMYK).

    EXIF orientation is applied; the ICC profile is kept. Any failure is an
    InputError with a one-line reason."""
    path = Path(path)
    data = _read_bytes(path)
    with _open(path, data) as im:
        _check_size(path, im)
        fmt = "JPEG" if im.format == "MPO" else im.format
        if fmt not in FORMATS:
            raise InputError(Text("{path}: unsupported format {fmt} (use PNG, JPEG, WebP or TIFF).",
                                  "{path}: 未対応の形式 {fmt} です（PNG・JPEG・WebP・TIFF を使ってください）。"),
                             path=path, fmt=fmt)
        _decode(path, im)
        picture = _from_sixteen_bit(data, im) if _is_sixteen_bit(im, data) else _from_pillow(im)
        picture.format = fmt
        picture.exif = im.getexif()
        if picture.icc_profile is None and im.mode != "CMYK":
            picture.icc_profile = im.info.get("icc_profile")
    return picture


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(Text("{path}: no such file.", "{path}: ファイルがありません。"), path=path) from None
    except IsADirectoryError:
        raise InputError(Text("{path}: is a folder, not an image.", "{path}: 画像ではなくフォルダです。"), path=path) from None
    except OSError as err:
        raise InputError(Text("{path}: cannot read ({why}).", "{path}: 読み込めません（{why}）。"),
                         path=path, why=err.strerror or err) from None
    if not data:
        raise InputError(Text("{path}: the file is empty.", "{path}: ファイルが空です。"), path=path)
    return data


def _open(path: Path, data: bytes) -> Image.Image:
    import io

    Image.MAX_IMAGE_PIXELS = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(path) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InputError(Text("{path}: not an image, or a damaged one.", "{path}: 画像ではないか、壊れています。"),
                         path=path) from None


def _too_large(path: Path) -> InputError:
    return InputError(Text("{path}: too many pixels (over {mp:g} MP; set OMAMORI_MAX_MEGAPIXELS to allow).",
                           "{path}: 画素数が多すぎます（{mp:g} MP 超。OMAMORI_MAX_MEGAPIXELS で上限を変更できます）。"),
                      path=path, mp=max_pixels() / 1e6)


def _check_size(path: Path, im: Image.Image) -> None:
    width, height = im.size
    if width < 1 or height < 1:
        raise InputError(Text("{path}: the image has no pixels.", "{path}: 画素がありません。"), path=path)
    if width * height > max_pixels():
        raise _too_large(path)


def _decode(path: Path, im: Image.Image) -> None:
    """Decodes now so that truncated or lying files fail here, with their name."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(path) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise InputError(Text("{path}: damaged or truncated image ({why}).", "{path}: 画像が壊れているか途中で切れています（{why}）。"),
                         path=path, why=str(err).split("\n")[0]) from None


def _is_sixteen_bit(im: Image.Image, data: bytes) -> bool:
    if im.mode.startswith("I;16") or im.mode == "I":
        return True
    if im.format == "PNG":
        return data[24] == 16  # IHDR bit depth: Pillow reads 16-bit RGB PNGs as 8-bit
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        return max(bits if isinstance(bits, tuple) else (bits,)) == 16
    return False


def _from_pillow(im: Image.Image) -> Picture:
    notices = []
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
    if im.mode == "CMYK":
        notices.append(Text("converted from CMYK to RGB; check the colours.",
                            "CMYK から RGB に変換しました。色を確認してください。"))
    im = ImageOps.exif_transpose(im)
    rgba = np.asarray(im.convert("RGBA"))
    return Picture(pixels=to_float(rgba), bit_depth=8, has_alpha=has_alpha, notices=notices)


def _from_sixteen_bit(data: bytes, im: Image.Image) -> Picture:
    """OpenCV keeps all 16 bits where Pillow would drop half of them."""
    samples = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if samples is None or samples.dtype != np.uint16:
        return _from_pillow(im)
    if samples.ndim == 2:
        samples = samples[..., None]
    channels = samples.shape[2]
    rgb = samples[..., :1].repeat(3, axis=2) if channels <= 2 else samples[..., 2::-1]
    if channels in (2, 4):
        alpha = samples[..., -1:]
    else:
        alpha = np.full(samples.shape[:2] + (1,), 65535, np.uint16)
    rgba = _orient(np.concatenate([rgb, alpha], axis=2), im.getexif().get(0x0112, 1))
    return Picture(pixels=to_float(np.ascontiguousarray(rgba)), bit_depth=16, has_alpha=channels in (2, 4))


_ORIENT_OPS = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, -1)[::-1], 8: lambda a: np.rot90(a, 1),
}


def _orient(samples: np.ndarray, orientation: int) -> np.ndarray:
    """Applies an EXIF orientation tag to an array, as exif_transpose does to images."""
    return _ORIENT_OPS.get(orientation, lambda a: a)(samples)
