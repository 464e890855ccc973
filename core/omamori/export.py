"""Writing the protected picture: PNG, JPEG, WebP or TIFF, with opt-out metadata, the
source's bit depth and ICC profile, atomically (never a partial or clobbered file).

JPEG has no alpha: transparent areas are composited onto white, as editors do when
they export to JPEG. 16-bit output is kept for PNG and TIFF; JPEG and WebP are 8-bit."""

from __future__ import annotations

import io
import os
import secrets
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from . import encoders, metadata
from .errors import InputError
from .i18n import Text
from .imageio import Picture
from .metadata import OptOut
from .pixels import from_float
from .userdata import check_keys, expect, fail

EXTENSIONS = {"PNG": (".png",), "JPEG": (".jpg", ".jpeg"), "WEBP": (".webp",), "TIFF": (".tif", ".tiff")}
DEFAULT_QUALITY = 92
MIN_QUALITY = 50  # below this, fitting a byte limit ruins the picture: ask for a smaller size instead
_XMP_TAG, _ICC_TAG, _EXTRA_SAMPLES = 700, 34675, 338


@dataclass
class ExportSettings:
    """A preset's export section: posting profile, format, quality, opt-out metadata."""

    profile: str | None = None  # its quality and byte limit apply unless overridden here
    format: str | None = None  # None: the input's format
    quality: int | None = None  # JPEG/WebP; None: the profile's, else DEFAULT_QUALITY
    metadata: OptOut = field(default_factory=OptOut)

    def to_dict(self) -> dict:
        return {"profile": self.profile, "format": self.format, "quality": self.quality,
                "metadata": self.metadata.to_dict()}

    @classmethod
    def from_dict(cls, data: dict, where: str, field: str = "export") -> "ExportSettings":
        expect(data, dict, where, field)
        check_keys(data, tuple(cls().to_dict()), where, field)
        profile = data.get("profile")
        if profile is not None:
            expect(profile, str, where, f"{field}.profile")
        fmt = data.get("format")
        if fmt is not None and str(fmt).upper() not in EXTENSIONS:
            raise fail(where, f"{field}.format", Text("{fmt!r} is not one of {known}.",
                                                      "{fmt!r} は {known} のいずれでもありません。"),
                       fmt=fmt, known=", ".join(EXTENSIONS))
        quality = data.get("quality")
        if quality is not None and not 1 <= expect(quality, int, where, f"{field}.quality") <= 100:
            raise fail(where, f"{field}.quality", Text("{q} is outside 1–100.", "{q} は 1〜100 の外です。"), q=quality)
        meta = OptOut.from_dict(data.get("metadata", {}), where, f"{field}.metadata")
        return cls(profile, fmt.upper() if fmt else None, quality, meta)


def format_of(path: str | os.PathLike) -> str:
    """The output format named by a file extension."""
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in EXTENSIONS.items():
        if suffix in suffixes:
            return fmt
    raise InputError(Text("{path}: cannot tell the format from {suffix!r} (use .png, .jpg, .webp or .tif).",
                          "{path}: 拡張子 {suffix!r} から形式が分かりません（.png・.jpg・.webp・.tif を使ってください）。"),
                     path=path, suffix=suffix)


def protected_path(input_path: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                   fmt: str | None = None) -> Path:
    """``<stem>-protected.<ext>`` beside the input or in `out_dir`; the input's own
    extension spelling is kept when the format does not change."""
    source = Path(input_path)
    suffix = source.suffix
    if fmt and suffix.lower() not in EXTENSIONS.get(fmt.upper(), ()):
        suffix = EXTENSIONS[fmt.upper()][0]
    folder = Path(out_dir) if out_dir is not None else source.parent
    return folder / f"{source.stem}-protected{suffix}"


def write_picture(pixels: np.ndarray, path: str | os.PathLike, *, source: Picture | None = None,
                  settings: ExportSettings | None = None, overwrite: bool = False) -> Path:
    """Encodes float32 RGBA `pixels` in the format of `path`'s extension and writes it
    atomically with opt-out metadata. Refuses an existing file unless `overwrite`."""
    path = Path(path)
    settings = settings or ExportSettings()
    fmt = format_of(path)
    _check_target(path, overwrite)  # before encoding: a refusal should cost nothing
    has_alpha = source.has_alpha if source else bool((pixels[..., 3] < 1.0).any())
    bit_depth = 16 if source and source.bit_depth == 16 and fmt in ("PNG", "TIFF") else 8
    samples = _samples(pixels, fmt, has_alpha, bit_depth)
    exif = metadata.build_exif(settings.metadata, source.exif if source else None)
    icc = source.icc_profile if source else None
    quality, max_bytes = _limits(settings)
    data = _encode(samples, fmt, quality, exif, icc, settings.metadata)
    while max_bytes and len(data) > max_bytes and fmt in ("JPEG", "WEBP") and quality > MIN_QUALITY:
        quality = max(MIN_QUALITY, quality - 5)  # step down until the platform's byte limit fits
        data = _encode(samples, fmt, quality, exif, icc, settings.metadata)
    if max_bytes and len(data) > max_bytes:
        raise InputError(Text("{path}: {size} bytes is over the {profile} limit of {limit}; use a smaller size or JPEG.",
                              "{path}: {size} バイトで {profile} の上限 {limit} を超えます。サイズを下げるか JPEG にしてください。"),
                         path=path, size=len(data), limit=max_bytes, profile=settings.profile)
    return write_atomic(path, data, overwrite=overwrite)


def _limits(settings: ExportSettings) -> tuple[int, int | None]:
    if not settings.profile:
        return settings.quality or DEFAULT_QUALITY, None
    from .profiles import load_profile  # late: profiles read user files, plain exports need none

    profile = load_profile(settings.profile)
    return settings.quality or profile.quality, profile.max_bytes


def _samples(pixels: np.ndarray, fmt: str, has_alpha: bool, bit_depth: int) -> np.ndarray:
    """Integer RGB(A) samples for the encoder."""
    rgba = np.asarray(pixels, np.float32)
    if fmt == "JPEG":
        alpha = rgba[..., 3:4]
        return from_float(rgba[..., :3] * alpha + (1.0 - alpha), np.dtype(np.uint8))  # onto white
    channels = 4 if has_alpha else 3
    return from_float(rgba[..., :channels], np.dtype(np.uint16 if bit_depth == 16 else np.uint8))


def _encode(samples: np.ndarray, fmt: str, quality: int, exif: Image.Exif, icc: bytes | None,
            optout: OptOut) -> bytes:
    if fmt == "PNG":
        return _png(samples, exif, icc, optout)
    if fmt == "TIFF":
        return _tiff(samples, exif, icc, optout)
    buffer = io.BytesIO()
    options = {"quality": quality, "exif": exif.tobytes(), "xmp": metadata.build_xmp(optout)}
    if icc:
        options["icc_profile"] = icc
    try:
        Image.fromarray(samples).save(buffer, fmt, **options)
    except (ValueError, OSError) as err:  # e.g. a kept source EXIF too long for one JPEG segment
        raise InputError(Text("{fmt} encoding failed ({why}).", "{fmt} への変換に失敗しました（{why}）。"),
                         fmt=fmt, why=err) from None
    return buffer.getvalue()


def _opencv_order(samples: np.ndarray) -> np.ndarray:
    return samples[..., [2, 1, 0, 3] if samples.shape[2] == 4 else [2, 1, 0]]


def _png(samples: np.ndarray, exif: Image.Exif, icc: bytes | None, optout: OptOut) -> bytes:
    """OpenCV writes 8- and 16-bit RGB(A) PNG (Pillow cannot write 16-bit colour);
    the metadata chunks go in right after IHDR."""
    ok, encoded = cv2.imencode(".png", _opencv_order(samples), encoders.png_options())
    if not ok:
        raise InputError(Text("PNG encoding failed.", "PNG への変換に失敗しました。"))
    png = encoded.tobytes()
    chunks = [(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc))] if icc else []
    chunks.append((b"eXIf", metadata.exif_bytes(exif)))
    chunks += metadata.png_text_chunks(optout)
    ihdr_end = 8 + 12 + 13  # signature, then IHDR (length, type, 13 data bytes, CRC)
    body = b"".join(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
                    for kind, data in chunks)
    return png[:ihdr_end] + body + png[ihdr_end:]


def _tiff(samples: np.ndarray, exif: Image.Exif, icc: bytes | None, optout: OptOut) -> bytes:
    """OpenCV writes the 8- or 16-bit TIFF; our tags (EXIF, XMP, ICC, alpha) are then
    appended with a new first IFD that also holds OpenCV's entries unchanged (their
    offsets stay valid because nothing before them moves)."""
    ok, encoded = cv2.imencode(".tiff", _opencv_order(samples))
    if not ok:
        raise InputError(Text("TIFF encoding failed.", "TIFF への変換に失敗しました。"))
    tiff = bytearray(encoded.tobytes())
    order = "<" if tiff[:2] == b"II" else ">"
    exif.endian = order  # the tags are serialized into this file, so in its byte order
    exif[_XMP_TAG] = metadata.build_xmp(optout)
    if icc:
        exif[_ICC_TAG] = icc
    if samples.shape[2] == 4:
        exif[_EXTRA_SAMPLES] = 2  # unassociated alpha: OpenCV leaves the fourth sample unlabelled
    entries = _ifd_entries(bytes(tiff), struct.unpack(order + "I", tiff[4:8])[0], order)
    tiff += b"\0" * (len(tiff) & 1)  # IFDs start on a word boundary
    ours_at = len(tiff)
    tiff += exif.tobytes(ours_at)[14:]  # skip "Exif\0\0" and the 8-byte header
    entries.update(_ifd_entries(bytes(tiff), ours_at, order))
    tiff += b"\0" * (len(tiff) & 1)
    table_at = len(tiff)
    tiff += struct.pack(order + "H", len(entries)) + b"".join(entries[t] for t in sorted(entries)) + b"\0" * 4
    tiff[4:8] = struct.pack(order + "I", table_at)
    return bytes(tiff)


def _ifd_entries(tiff: bytes, offset: int, order: str) -> dict[int, bytes]:
    """The raw 12-byte entries of the IFD at `offset`, by tag."""
    (count,) = struct.unpack(order + "H", tiff[offset:offset + 2])
    raw = (tiff[offset + 2 + 12 * i:offset + 14 + 12 * i] for i in range(count))
    return {struct.unpack(order + "H", entry[:2])[0]: entry for entry in raw}


def _check_target(path: Path, overwrite: bool) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise InputError(Text("{path}: the folder {folder} does not exist.", "{path}: フォルダ {folder} がありません。"),
                         path=path, folder=folder)
    if path.is_dir():
        raise InputError(Text("{path}: is a folder.", "{path}: フォルダです。"), path=path)
    if path.exists() and not overwrite:
        raise InputError(Text("{path}: already exists; not overwritten (use --overwrite).",
                              "{path}: 既に存在するため上書きしません（--overwrite で上書き）。"), path=path)


def write_atomic(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Writes `data` to a temp file in the same folder, then renames it over `path`:
    readers see the old file or the whole new one, never a partial one."""
    path = Path(path)
    _check_target(path, overwrite)
    temp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        # os.open with 0o666 lets the umask decide the permissions, like any new file
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as err:
        raise _write_error(path, err) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException as err:  # also Ctrl-C: never leave the temp file behind
        temp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise _write_error(path, err) from None
        raise
    return path


def _write_error(path: Path, err: OSError) -> InputError:
    return InputError(Text("{path}: cannot write into {folder} ({why}).", "{path}: {folder} に書き込めません（{why}）。"),
                      path=path, folder=path.parent, why=err.strerror or err)
