"""Reading images into float32 RGBA, with the facts an export needs to keep.

Hostile files are answered in bounded time and memory: only regular files are read,
the pixel count (all frames together) is checked against the header before
anything is decoded, directories and compressed metadata are bounded by
`containers`, and EXIF that cannot be written back is dropped with a notice."""

from __future__ import annotations

import io
import os
import struct
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile, PngImagePlugin, UnidentifiedImageError

from . import containers, metadata
from .errors import InputError
from .i18n import Text
from .pixels import rgb8_to_rgba, to_float

FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "GIF")
ANIMATED_FORMATS = ("PNG", "WEBP", "GIF")
DEFAULT_MAX_MEGAPIXELS = 200.0
BYTES_PER_PIXEL_ON_DISK = 8  # 16-bit RGBA uncompressed: no honest file is larger per pixel
DEFLATE_MAX_RATIO = 1032  # zlib cannot expand data more than this
ORIENTATION = 0x0112
_RAW_PROFILE = "Raw profile type exif"  # ImageMagick's hex EXIF in a PNG text chunk, which Pillow reads
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, not a grey band
PngImagePlugin.MAX_TEXT_CHUNK = containers.MAX_METADATA_BYTES  # one limit for Pillow and `containers`
# What decoders raise on damaged data (Pillow's parsers are not all careful about it).
# NotImplementedError: Pillow's readers of rare variants (e.g. DDS pixel formats) raise it when opening.
DECODER_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError,
                  NotImplementedError, struct.error, cv2.error)
_DISPOSAL = {"GIF": {0: "none", 1: "none", 2: "background", 3: "previous"},
             "PNG": {0: "none", 1: "background", 2: "previous"}}
# The decoders' quiet settings (the warnings filters, OpenCV's log level) are process-wide: two threads
# changing them at once restore each other's and leave warnings off, or let them through, for good.
_QUIET_DECODERS = threading.RLock()


@dataclass
class Frame:
    """One frame of an animation, as shown (already composited), full size."""

    samples: np.ndarray  # uint8 (H, W, 4): 4 bytes a pixel keeps long animations affordable
    duration: int = 100  # milliseconds
    disposal: str = "none"  # what a viewer does after showing it: "none", "background" or "previous"

    @property
    def pixels(self) -> np.ndarray:
        return to_float(self.samples)


@dataclass
class Picture:
    """An image as the pipeline sees it, plus what export must carry over."""

    pixels: np.ndarray  # float32 (H, W, 4) in [0, 1]; an animation's first frame
    bit_depth: int = 8  # per channel in the source: 8 or 16
    format: str = "PNG"
    has_alpha: bool = True
    icc_profile: bytes | None = None
    exif: Image.Exif | None = None  # the source's EXIF (only values that can be written back)
    notices: list[Text] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)  # animations: every frame; stills: empty
    plays: int = 1  # animations: how many times it plays, 0 for ever
    dpi: tuple[float, float] | None = None  # print resolution from PNG pHYs, JPEG JFIF or TIFF, when stated

    @property
    def animated(self) -> bool:
        return len(self.frames) > 1


def max_pixels() -> int:
    """The pixel limit over all frames (OMAMORI_MAX_MEGAPIXELS overrides)."""
    try:
        megapixels = float(os.environ.get("OMAMORI_MAX_MEGAPIXELS", DEFAULT_MAX_MEGAPIXELS))
    except ValueError:
        megapixels = DEFAULT_MAX_MEGAPIXELS
    if not megapixels > 0:  # also NaN
        megapixels = DEFAULT_MAX_MEGAPIXELS
    return int(min(megapixels, 1e6) * 1_000_000)


def read_input(path: str | os.PathLike) -> bytes:
    """The bytes of an input file: a regular file, no larger than an image within
    the pixel limit can honestly be."""
    try:
        data = containers.read_file(path, max_pixels() * BYTES_PER_PIXEL_ON_DISK + (64 << 20))
    except containers.TooLarge as err:
        raise InputError(Text("{path}: {size} bytes is more than an image within the pixel limit can hold "
                              "({limit} bytes; set OMAMORI_MAX_MEGAPIXELS to allow larger).",
                              "{path}: {size} バイトは画素数の上限で扱える大きさを超えます（{limit} バイト。"
                              "OMAMORI_MAX_MEGAPIXELS で上限を変更できます）。"), **err.values) from None
    if not data:
        raise InputError(Text("{path}: the file is empty.", "{path}: ファイルが空です。"), path=path)
    return data


def load(path: str | os.PathLike, data: bytes | None = None) -> Picture:
    """Reads PNG, JPEG, WebP, TIFF or GIF (8/16-bit, float or 32-bit TIFF; grey,
    palette, RGB(A), CMYK); animated GIF, PNG and WebP with every frame.

    EXIF orientation is applied; the ICC profile is kept. Any failure is an
    InputError with a one-line reason. `data`: the file's bytes when already read."""
    path = Path(path)
    data = read_input(path) if data is None else data  # outside the lock: other threads decode meanwhile
    with quiet_decoders():
        return _load(path, data)


@contextmanager
def quiet_decoders():
    """Decoders' warnings silenced (about damage they would print file paths and code: the one line is
    ours), one thread at a time. Every change of the warnings filters or OpenCV's log level in this
    module happens inside it."""
    with _QUIET_DECODERS, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _load(path: Path, data: bytes) -> Picture:
    notices: list[Text] = []
    data = _check_structure(path, data, notices)
    try:
        im = _open(path, data)
    except InputError:
        if data[:4] not in (b"II*\0", b"MM\0*"):
            raise
        im = None  # e.g. an RGB float TIFF, which Pillow cannot open but OpenCV can
    try:
        if im is None:
            return _from_opencv_tiff(path, data)
        with im:
            return _picture(path, data, im, notices)
    except DECODER_ERRORS as err:  # Pillow and OpenCV on damaged data: many kinds, one answer
        raise _damaged(path, str(err) or type(err).__name__) from None


def _picture(path: Path, data: bytes, im: Image.Image, notices: list[Text]) -> Picture:
    fmt = "JPEG" if im.format == "MPO" else im.format
    frames = _frame_count(data, im, fmt)
    _check_size(path, im.size, frames)
    if fmt not in FORMATS:
        raise InputError(Text("{path}: unsupported format {fmt} (use PNG, JPEG, WebP, TIFF or GIF).",
                              "{path}: 未対応の形式 {fmt} です（PNG・JPEG・WebP・TIFF・GIF を使ってください）。"),
                         path=path, fmt=fmt)
    _decode(path, im)  # before the EXIF: Pillow decodes a PNG to find it, and never retries a failed decode
    exif = _exif(im, notices)
    orientation = exif.get(ORIENTATION, 1)
    if frames > 1:
        try:
            picture = _animation(path, im, fmt, frames, orientation)
        except (InputError, *DECODER_ERRORS):
            if fmt != "PNG":
                raise
            picture = _still_of_broken_apng(path, data, orientation)
        if picture.animated and fmt == "PNG" and data[24] == 16:
            picture.notices.append(Text("the animation's frames are read with 8 bits a channel, not 16.",
                                        "アニメーションのフレームは 16 ビットではなく 8 ビットで読み込みました。"))
    else:
        picture = _still(data, im, orientation)
        pages = getattr(im, "n_frames", 1) if fmt == "TIFF" else 1
        if pages > 1:
            picture.notices.append(Text(f"only the first of {pages} pages is protected and written.",
                                        f"{pages} ページのうち最初のページだけを保護して書き出します。"))
    picture.format, picture.exif, picture.dpi = fmt, exif, _dpi(im)
    picture.notices = notices + picture.notices
    if picture.icc_profile is None and im.mode != "CMYK":
        picture.icc_profile = im.info.get("icc_profile")
    return picture


def _dpi(im: Image.Image) -> tuple[float, float] | None:
    """The print resolution Pillow read (pHYs in metres, JFIF or TIFF units), when it is a usable one."""
    try:
        x, y = (float(v) for v in im.info.get("dpi", ()))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(0 < v < 1e6 for v in (x, y)):  # also refuses NaN
        return None
    # pHYs counts per metre: 350 dpi is stored as 13780 and read back as 350.012; a whole dpi within that
    # rounding (half of 0.0254 dpi) is what was meant.
    return tuple(float(round(v)) if abs(v - round(v)) < 0.013 else v for v in (x, y))


def _still_of_broken_apng(path: Path, data: bytes, orientation: int) -> Picture:
    """An APNG whose frames are broken still holds its default image, which viewers without APNG show."""
    with Image.open(io.BytesIO(data)) as still:
        _decode(path, still)
        picture = _still(data, still, orientation)
    picture.notices.append(Text("the animation is damaged: only its still picture is protected and written.",
                                "アニメーションが壊れているため、静止画だけを保護して書き出します。"))
    return picture


def _check_structure(path: Path, data: bytes, notices: list[Text]) -> bytes:
    """Refuses, before Pillow parses anything, what would make it work without bound;
    a PNG's metadata bombs are cut out (the picture is kept) with a notice."""
    try:
        if data[:4] in (b"II*\0", b"MM\0*"):
            containers.check_tiff_claims(data)
        elif data.startswith(containers.PNG_SIGNATURE):
            _check_png_data(path, data)
            data, dropped = containers.png_without_bombs(data)
            if dropped:
                notices.append(_dropped([f"{name} (over {containers.MAX_METADATA_BYTES >> 20} MB or damaged)"
                                         for name in dropped]))
    except (containers.Damaged, IndexError, ValueError, struct.error) as err:
        raise _damaged(path, str(err)) from None
    return data


def _check_png_data(path: Path, data: bytes) -> None:
    """A header that claims more pixels than the compressed data could ever hold is a
    lie: refuse it before a decoder allocates the claimed size."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _not_an_image(path)
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    raw = height * (1 + (width * channels * depth + 7) // 8)
    compressed = sum(len(c.body) for c in containers.png_chunks(data) if c.kind in (b"IDAT", b"fdAT"))
    if width * height <= max_pixels() and raw > compressed * DEFLATE_MAX_RATIO + (1 << 20):
        raise _damaged(path, f"the header says {width}×{height} but the data holds far fewer pixels")


def _damaged(path: Path, why: str) -> InputError:
    return InputError(Text("{path}: damaged or truncated image ({why}).", "{path}: 画像が壊れているか途中で切れています（{why}）。"),
                      path=path, why=why.split("\n")[0])


def _open(path: Path, data: bytes) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(path) from None
    except (UnidentifiedImageError,) + DECODER_ERRORS:
        raise _not_an_image(path) from None


def _not_an_image(path: Path) -> InputError:
    return InputError(Text("{path}: not an image, or a damaged one.", "{path}: 画像ではないか、壊れています。"),
                      path=path)


def _too_large(path: Path, frames: int = 1) -> InputError:
    return InputError(Text("{path}: too many pixels (over {mp:g} MP{frames}; set OMAMORI_MAX_MEGAPIXELS to allow).",
                           "{path}: 画素数が多すぎます（{mp:g} MP 超{frames}。OMAMORI_MAX_MEGAPIXELS で上限を変更できます）。"),
                      path=path, mp=max_pixels() / 1e6, frames=f", {frames} frames" if frames > 1 else "")


def _frame_count(data: bytes, im: Image.Image, fmt: str) -> int:
    """Frames from the headers alone (a GIF's blocks are counted, not decoded)."""
    if fmt == "GIF":
        try:
            return max(1, containers.gif_frame_count(data))
        except containers.Damaged:
            return 1
    return int(getattr(im, "n_frames", 1)) if fmt in ANIMATED_FORMATS else 1


def _check_size(path: Path, size: tuple[int, int], frames: int = 1) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise InputError(Text("{path}: the image has no pixels.", "{path}: 画素がありません。"), path=path)
    if width * height * frames > max_pixels():
        raise _too_large(path, frames)


def _decode(path: Path, im: Image.Image) -> None:
    """Decodes now so that truncated or lying files fail here, with their name."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(path) from None
    except DECODER_ERRORS as err:
        raise _damaged(path, str(err) or type(err).__name__) from None


def _exif(im: Image.Image, notices: list[Text]) -> Image.Exif:
    """The source EXIF, cleaned; a bomb or a block that does not parse is dropped."""
    key = "exif" if "exif" in im.info else _RAW_PROFILE if _RAW_PROFILE in im.info else None
    if key:
        try:
            raw = im.info[key] if key == "exif" else bytes.fromhex("".join(im.info[key].split("\n")[3:]))
            containers.check_tiff_claims(raw[6:] if raw.startswith(b"Exif\0\0") else raw)
        except (containers.Damaged, IndexError, ValueError, TypeError, AttributeError, struct.error):
            del im.info[key]  # so that Pillow never parses it
            notices.append(_dropped(["EXIF"]))
            return Image.Exif()
    try:
        source = im.getexif()
        exif, dropped = metadata.clean_exif(source)
    except Exception:  # noqa: BLE001 - any EXIF Pillow cannot parse costs the EXIF, never the file
        notices.append(_dropped(["EXIF"]))
        return Image.Exif()
    if dropped:
        notices.append(_dropped(dropped))
    return exif


def _dropped(names: list[str]) -> Text:
    listed = ", ".join(dict.fromkeys(names))
    return Text(f"metadata that cannot be written back was left out: {listed}.",
                f"書き戻せないメタデータを除きました: {listed}。")


def _still(data: bytes, im: Image.Image, orientation: int) -> Picture:
    if im.mode == "F" or (im.mode in ("I", "I;32", "I;32B", "I;32S") and _bits(im) == 32):
        samples = _opencv_decode(data)
        if samples is None and im.mode == "F":  # OpenCV reads fewer float TIFF layouts than Pillow does
            samples = np.asarray(im, np.float32)
        return _from_opencv_samples(samples, orientation)
    if _is_sixteen_bit(im, data):
        samples = _opencv_decode(data)
        if samples is not None and samples.dtype == np.uint16:
            return _from_opencv_samples(samples, orientation)
    return _from_pillow(im, orientation)


def _bits(im: Image.Image) -> int:
    bits = im.tag_v2.get(258, (8,)) if im.format == "TIFF" else (8,)
    return max(bits if isinstance(bits, tuple) else (bits,))


def _is_sixteen_bit(im: Image.Image, data: bytes) -> bool:
    if im.mode.startswith("I;16") or im.mode == "I":
        return True
    if im.format == "PNG":
        return data[24] == 16  # IHDR bit depth: Pillow reads 16-bit RGB PNGs as 8-bit
    return im.format == "TIFF" and _bits(im) == 16


def _from_pillow(im: Image.Image, orientation: int) -> Picture:
    notices = []
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
    if im.mode == "CMYK":
        notices.append(Text("converted from CMYK to RGB; check the colours.",
                            "CMYK から RGB に変換しました。色を確認してください。"))
    if im.mode == "RGB" and not has_alpha:  # the common case: no RGBA copy of the picture is made
        pixels = rgb8_to_rgba(_orient(np.asarray(im), orientation))
    else:
        pixels = to_float(np.ascontiguousarray(_orient(np.asarray(im.convert("RGBA")), orientation)))
    return Picture(pixels=pixels, bit_depth=8, has_alpha=has_alpha, notices=notices)


def _opencv_decode(data: bytes) -> np.ndarray | None:
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)  # its many-line logs on damaged data: the one line is ours
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    finally:
        logging.setLogLevel(level)


def _from_opencv_tiff(path: Path, data: bytes) -> Picture:
    """TIFFs Pillow cannot open (RGB float, 32-bit), through OpenCV, size checked first."""
    try:
        tags = containers.ifd_entries(data)
        width, height = (_entry_int(data, tags[t]) for t in (256, 257))
    except (containers.Damaged, KeyError, IndexError, ValueError, struct.error):
        raise _not_an_image(path) from None
    _check_size(path, (width, height))
    samples = _opencv_decode(data)
    if samples is None:
        raise _damaged(path, "OpenCV cannot decode this TIFF")
    orientation = _entry_int(data, tags[274]) if 274 in tags else 1
    picture = _from_opencv_samples(samples, orientation)
    picture.format = "TIFF"
    return picture


def _entry_int(data: bytes, entry: containers.Entry) -> int:
    code = {3: "H", 4: "I", 8: "h", 9: "i"}.get(entry.type)
    if code is None:
        raise ValueError("not an integer tag")
    return struct.unpack(entry.order + code, entry.value(data)[:struct.calcsize(code)])[0]


def _from_opencv_samples(samples: np.ndarray | None, orientation: int) -> Picture:
    """OpenCV's BGR(A) samples of any depth (16-bit, 32-bit, float) as a Picture."""
    if samples is None:
        raise InputError(Text("the image data cannot be decoded.", "画像データを復号できません。"))
    if samples.ndim == 2:
        samples = samples[..., None]
    channels = samples.shape[2]
    values, notices = _unit_range(samples)
    rgb = values[..., :1].repeat(3, axis=2) if channels <= 2 else values[..., 2::-1]
    alpha = values[..., -1:] if channels in (2, 4) else np.ones(values.shape[:2] + (1,), np.float32)
    rgba = _orient(np.concatenate([rgb, alpha], axis=2), orientation)
    bit_depth = 8 if samples.dtype == np.uint8 else 16  # float and 32-bit are written as 16-bit
    return Picture(pixels=np.ascontiguousarray(rgba, np.float32), bit_depth=bit_depth,
                   has_alpha=channels in (2, 4), notices=notices)


def _unit_range(samples: np.ndarray) -> tuple[np.ndarray, list[Text]]:
    """Samples scaled to [0, 1] by their type's full range; floats are taken as
    0–1, unless their largest value shows they were stored as 0–255 or 0–65535."""
    if samples.dtype.kind in "ui":
        top = np.iinfo(samples.dtype).max
        return np.clip(samples.astype(np.float32) / top, 0.0, 1.0), []
    values = np.nan_to_num(samples.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    largest = float(values.max()) if values.size else 0.0
    scale = next((s for s in (1.0, 255.0, 65535.0) if largest <= s * 1.001), largest)
    notices = []
    if scale != 1.0:
        notices.append(Text(f"floating-point samples up to {largest:g} were read as a 0–{scale:g} range.",
                            f"浮動小数点の値（最大 {largest:g}）を 0〜{scale:g} の範囲として読みました。"))
    return np.clip(values / scale, 0.0, 1.0), notices


def _animation(path: Path, im: Image.Image, fmt: str, count: int, orientation: int) -> Picture:
    """Every frame, composited as a viewer shows it, with its duration and disposal."""
    frames = []
    for index in range(count):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                im.seek(index)  # a GIF frame's extents can grow the canvas past the header's size
            _decode(path, im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_large(path) from None
        except EOFError:
            break  # the header counted more frames than there are: keep the ones that exist
        except InputError:
            if not frames:
                raise
            break
        samples = _orient(_rgba8(im), orientation)
        disposal = im.disposal_method if fmt == "GIF" else im.info.get("disposal", 0)
        frames.append(Frame(np.ascontiguousarray(samples), int(im.info.get("duration") or 0),
                            _DISPOSAL.get(fmt, {}).get(disposal, "none")))
    has_alpha = any(bool((frame.samples[..., 3] < 255).any()) for frame in frames)
    picture = Picture(pixels=frames[0].pixels, bit_depth=8, has_alpha=has_alpha, frames=frames,
                      plays=_plays(fmt, im.info.get("loop")))
    if len(frames) < count:
        picture.notices.append(Text(
            f"the animation is damaged: {len(frames)} of its {count} frames could be read; those are protected.",
            f"アニメーションが壊れています。{count} フレームのうち読めた {len(frames)} フレームを保護します。"))
    return picture


def _rgba8(im: Image.Image) -> np.ndarray:
    """8-bit RGBA of a frame; 16-bit grey is scaled down (Pillow's convert would clip it white)."""
    if im.mode.startswith("I;16") or im.mode == "I":
        grey = (np.asarray(im).astype(np.uint32) >> 8).clip(0, 255).astype(np.uint8)
        return np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    return np.asarray(im.convert("RGBA"))


def _plays(fmt: str, loop) -> int:
    """How many times an animation plays (0: for ever). A GIF's loop count is the
    repeats after the first play, and no count at all means it plays once."""
    if fmt != "GIF":
        return int(loop or 0)
    return 1 if loop is None else 0 if loop == 0 else int(loop) + 1


_ORIENT_OPS = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, -1)[::-1], 8: lambda a: np.rot90(a, 1),
}


def _orient(samples: np.ndarray, orientation) -> np.ndarray:
    """Applies an EXIF orientation tag to an array, as exif_transpose does to images."""
    return _ORIENT_OPS.get(orientation if isinstance(orientation, int) else 1, lambda a: a)(samples)
