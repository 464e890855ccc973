"""Writing the protected picture: PNG, JPEG, WebP, TIFF or GIF (animations too), with
opt-out metadata, the source's bit depth and ICC profile, atomically (never a partial
or clobbered file). The container bytes themselves are `containers`' business.

JPEG has no alpha: transparent areas are composited onto white, as editors do when
they export to JPEG. 16-bit output is kept for PNG and TIFF; the others are 8-bit."""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

from . import containers, encoders, metadata
from .atomicfile import check_target, write_atomic
from .errors import InputError
from .i18n import Text
from .imageio import ANIMATED_FORMATS, Frame, Picture
from .jsonchecks import check_keys, expect, fail
from .metadata import OptOut
from .pixels import from_float

if TYPE_CHECKING:
    from .profiles import Profile

EXTENSIONS = {"PNG": (".png",), "JPEG": (".jpg", ".jpeg"), "WEBP": (".webp",), "TIFF": (".tif", ".tiff"),
              "GIF": (".gif",)}
DEFAULT_QUALITY = 92
MIN_QUALITY = 50  # below this, fitting a byte limit ruins the picture: ask for a smaller size instead
MAX_SIDE = {"JPEG": 65500, "WEBP": 16383, "GIF": 65535}  # what each format can hold, in pixels a side
_XMP_TAG, _ICC_TAG, _EXTRA_SAMPLES = 700, 34675, 338


@dataclass
class ExportSettings:
    """A preset's export section: posting profile, format, quality, opt-out metadata."""

    profile: str | None = None  # its quality and byte limit apply unless overridden here; its size caps bound resize
    format: str | None = None  # None: the profile's format, else the input's
    quality: int | None = None  # JPEG/WebP; None: the profile's, else DEFAULT_QUALITY
    metadata: OptOut = field(default_factory=OptOut)

    def output_format(self, input_format: str | None) -> str | None:
        """The format to write: this section's, else its posting profile's (what the platform keeps), else
        the input's."""
        if self.format:
            return self.format
        return _profile(self).format if self.profile else input_format

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
                  settings: ExportSettings | None = None, overwrite: bool = False,
                  notices: list[Text] | None = None) -> Path:
    """Encodes float32 RGBA `pixels` in the format of `path`'s extension and writes it
    atomically with opt-out metadata. Refuses an existing file unless `overwrite`.
    What the format cannot keep is appended to `notices`."""
    path = Path(path)
    settings = settings or ExportSettings()
    fmt = format_of(path)
    check_target(path, overwrite)  # before encoding: a refusal should cost nothing
    _check_side(path, fmt, pixels.shape)
    if fmt == "GIF" and notices is not None:
        notices.append(_GIF_PALETTE)
    has_alpha = source.has_alpha if source else bool((pixels[..., 3] < 1.0).any())
    bit_depth = 16 if source and source.bit_depth == 16 and fmt in ("PNG", "TIFF") else 8
    samples = _samples(pixels, fmt, has_alpha, bit_depth)
    exif = metadata.build_exif(settings.metadata, source.exif if source else None, source.dpi if source else None)
    icc = _rgb_profile(source.icc_profile, notices) if source else None
    profile = _profile(settings)
    _note_shrinking(profile, pixels.shape, notices)
    quality, max_bytes = _limits(settings, profile)
    data = _fit(lambda q: _encode(samples, fmt, q, exif, icc, settings.metadata), fmt, quality, max_bytes,
                path, settings.profile)
    return write_atomic(path, data, overwrite=overwrite)


def write_frames(frames: list[Frame], path: str | os.PathLike, *, source: Picture,
                 settings: ExportSettings | None = None, overwrite: bool = False,
                 notices: list[Text] | None = None) -> Path:
    """Writes an animation (GIF, APNG or WebP) with each frame's duration and disposal
    and the source's loop count; a format without animation gets the first frame.
    What cannot be kept is appended to `notices`."""
    path = Path(path)
    settings = settings or ExportSettings()
    notices = notices if notices is not None else []
    fmt = format_of(path)
    check_target(path, overwrite)
    if fmt not in ANIMATED_FORMATS:
        notices.append(Text(f"{fmt} holds one picture: only the first of {len(frames)} frames was written "
                            "(GIF, PNG or WebP keep the animation).",
                            f"{fmt} は 1 枚しか保存できないため、{len(frames)} フレームのうち最初の 1 枚だけを書きました"
                            "（GIF・PNG・WebP ならアニメーションのまま保存できます）。"))
        return write_picture(frames[0].pixels, path, source=source, settings=settings, overwrite=overwrite,
                             notices=notices)
    _check_side(path, fmt, frames[0].samples.shape)
    if fmt == "GIF":
        notices.append(_GIF_PALETTE)
    images = [Image.fromarray(f.samples if source.has_alpha else np.ascontiguousarray(f.samples[..., :3]))
              for f in frames]
    exif = metadata.build_exif(settings.metadata, source.exif, source.dpi)
    profile = _profile(settings)
    _note_shrinking(profile, frames[0].samples.shape, notices)
    quality, max_bytes = _limits(settings, profile)
    icc = _rgb_profile(source.icc_profile, notices)
    data = _fit(lambda q: _animation(images, frames, fmt, q, exif, icc, settings.metadata, source.plays),
                fmt, quality, max_bytes, path, settings.profile)
    return write_atomic(path, data, overwrite=overwrite)


def _check_side(path: Path, fmt: str, shape: tuple[int, ...]) -> None:
    """Refuses, before encoding, a picture larger than its format can hold (the encoders fail
    with unclear words, or print to the terminal)."""
    height, width = shape[:2]
    limit = MAX_SIDE.get(fmt)
    if limit and max(width, height) > limit:
        raise InputError(Text("{path}: {width}×{height} is larger than {fmt} allows ({limit} pixels a side); "
                              "use PNG or TIFF, or limit the size.",
                              "{path}: {width}×{height} は {fmt} で保存できる大きさ（一辺 {limit} ピクセル）を超えます。"
                              "PNG か TIFF を使うか、サイズを制限してください。"),
                         path=path, width=width, height=height, fmt=fmt, limit=limit)


_GIF_PALETTE = Text("GIF holds 256 colours a frame: part of the protection's fine detail is lost in the palette "
                    "(PNG or WebP keep all of it).",
                    "GIF は 1 フレーム 256 色のため、保護の細かな変化の一部がパレットで失われます"
                    "（PNG・WebP ならすべて残ります）。")


def _rgb_profile(icc: bytes | None, notices: list[Text] | None) -> bytes | None:
    """The source's ICC profile when it describes RGB, as every output is; another (a grey picture's) would be
    invalid there, and readers drop it with a warning, so it is left out with a notice."""
    if not icc or icc[16:20] == b"RGB ":
        return icc
    if notices is not None:
        space = "".join(c for c in icc[16:20].decode("latin-1") if c.isascii() and c.isalnum()) or "?"  # untrusted
        notices.append(Text(f"the colour profile ({space}) cannot describe the RGB file written and was left out; "
                            "colour-managed apps may show its tones slightly differently.",
                            f"カラープロファイル（{space}）は書き出した RGB のファイルには使えないため除きました。"
                            "カラーマネジメント対応のアプリでは階調がわずかに違って見えることがあります。"))
    return None


def _fit(encode, fmt: str, quality: int, max_bytes: int | None, path: Path, profile: str | None) -> bytes:
    """`encode(quality)`, stepping the quality down until a platform's byte limit fits."""
    data = encode(quality)
    while max_bytes and len(data) > max_bytes and fmt in ("JPEG", "WEBP") and quality > MIN_QUALITY:
        quality = max(MIN_QUALITY, quality - 5)
        data = encode(quality)
    if max_bytes and len(data) > max_bytes:
        raise InputError(Text("{path}: {size} bytes is over the {profile} limit of {limit}; use a smaller size or JPEG.",
                              "{path}: {size} バイトで {profile} の上限 {limit} を超えます。サイズを下げるか JPEG にしてください。"),
                         path=path, size=len(data), limit=max_bytes, profile=profile)
    return data


def _profile(settings: ExportSettings) -> Profile | None:
    """The export's posting profile, or None."""
    if not settings.profile:
        return None
    from .profiles import load_profile  # late: profiles read user files, plain exports need none

    return load_profile(settings.profile)


def _limits(settings: ExportSettings, profile: Profile | None) -> tuple[int, int | None]:
    if profile is None:
        return settings.quality or DEFAULT_QUALITY, None
    return settings.quality or profile.quality, profile.max_bytes


_SHRUNK = Text("{profile} shrinks pictures over {limit}: this one ({width}×{height}) will be shrunk after posting, "
               "which weakens the cloak; add a resize step (Limit size) to the preset.",
               "{profile} は {limit} を超える画像を縮小します。この画像（{width}×{height}）は投稿後に縮小され、"
               "保護が弱まります。プリセットに resize（サイズ制限）のステップを加えてください。")


def _note_shrinking(profile: Profile | None, shape: tuple[int, ...], notices: list[Text] | None) -> None:
    """Warns when the platform will shrink the picture: the cloak is made for the size it is posted at."""
    if profile is None or notices is None:
        return
    height, width = shape[:2]
    if profile.posted_size(width, height) == (width, height):
        return
    caps = [f"{profile.max_long_edge}×{profile.max_long_edge} px"] if profile.max_long_edge else []
    caps += [f"{profile.max_megapixels:g} MP"] if profile.max_megapixels else []
    values = {"limit": " / ".join(caps), "width": width, "height": height}
    notices.append(Text(_SHRUNK.en.format(profile=profile.label.en, **values),
                        _SHRUNK.ja.format(profile=profile.label.ja, **values)))


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
    if fmt == "GIF":
        return _gif([Image.fromarray(samples)], None, optout, plays=1)
    options = {"quality": quality, "exif": exif.tobytes(), "xmp": metadata.build_xmp(optout)}
    if fmt == "JPEG":
        options["dpi"] = metadata.exif_dpi(exif)  # JFIF's density, else "no unit" beside EXIF's dpi
    if icc:
        options["icc_profile"] = icc
    return _save(Image.fromarray(samples), fmt, options)


def _animation(images: list[Image.Image], frames: list[Frame], fmt: str, quality: int, exif: Image.Exif,
               icc: bytes | None, optout: OptOut, plays: int) -> bytes:
    if fmt == "GIF":
        return _gif(images, frames, optout, plays)
    options = {"save_all": True, "append_images": images[1:], "duration": [f.duration for f in frames],
               "loop": plays}
    if fmt == "PNG":  # each frame replaces the canvas (blend "source"): frames are already composited
        options.update(disposal=[_APNG_DISPOSAL[f.disposal] for f in frames], blend=[0] * len(frames))
        return containers.png_insert_after_ihdr(_save(images[0], "PNG", options), _png_chunks(exif, icc, optout))
    # WebP's EXIF chunk holds the bare TIFF structure: Pillow's animated writer, unlike its still one, does not
    # take JPEG's "Exif\0\0" prefix off itself.
    options.update(quality=quality, exif=metadata.exif_bytes(exif), xmp=metadata.build_xmp(optout))
    if icc:
        options["icc_profile"] = icc
    return _save(images[0], fmt, options)


_APNG_DISPOSAL = {"none": 0, "background": 1, "previous": 2}
_GIF_DISPOSAL = {"none": 1, "background": 2, "previous": 3}


def _gif(images: list[Image.Image], frames: list[Frame] | None, optout: OptOut, plays: int) -> bytes:
    """GIF through Pillow (palette per frame), the rights as its comment and the XMP
    packet as an application extension (GIF has no EXIF)."""
    options = {"comment": optout.rights().en.encode("utf-8")}
    if frames:
        disposals = [_GIF_DISPOSAL[f.disposal] for f in frames]
        # One value when all agree: Pillow merges identical frames, and when only one is left it writes
        # it with the options as given, where a list fails.
        options.update(save_all=True, append_images=images[1:], duration=[f.duration for f in frames],
                       disposal=disposals[0] if len(set(disposals)) == 1 else disposals)
    if plays != 1:
        options["loop"] = max(0, plays - 1) if plays else 0  # GIF counts repeats after the first play
    gif = _save(images[0], "GIF", options)
    return containers.gif_insert_extension(gif, containers.gif_xmp_extension(metadata.build_xmp(optout)))


def _save(image: Image.Image, fmt: str, options: dict) -> bytes:
    buffer = io.BytesIO()
    try:
        image.save(buffer, fmt, **options)
    except (ValueError, OSError) as err:  # e.g. a kept source EXIF too long for one JPEG segment
        raise InputError(Text("{fmt} encoding failed ({why}).", "{fmt} への変換に失敗しました（{why}）。"),
                         fmt=fmt, why=err) from None
    return buffer.getvalue()


def _opencv_order(samples: np.ndarray) -> np.ndarray:
    return samples[..., [2, 1, 0, 3] if samples.shape[2] == 4 else [2, 1, 0]]


def _png(samples: np.ndarray, exif: Image.Exif, icc: bytes | None, optout: OptOut) -> bytes:
    """8- and 16-bit RGB(A) PNG by encoders.png (Pillow cannot write 16-bit colour), with the metadata
    chunks right after IHDR."""
    return encoders.png(samples, _png_chunks(exif, icc, optout))


def _png_chunks(exif: Image.Exif, icc: bytes | None, optout: OptOut) -> list:
    """The metadata chunks of every PNG written, still or animated: colour profile, resolution (as the
    EXIF says it), EXIF and the opt-out text."""
    chunks = [containers.iccp(icc)] if icc else []
    chunks.append(containers.Chunk(b"pHYs", _phys(metadata.exif_dpi(exif))))
    chunks.append(containers.Chunk(b"eXIf", metadata.exif_bytes(exif)))
    return chunks + metadata.png_text_chunks(optout)


def _phys(dpi: tuple[float, float]) -> bytes:
    """PNG's pHYs: pixels per metre, unit 1 (metre)."""
    return struct.pack(">IIB", *(round(v / 0.0254) for v in dpi), 1)


def _tiff(samples: np.ndarray, exif: Image.Exif, icc: bytes | None, optout: OptOut) -> bytes:
    """OpenCV writes the 8- or 16-bit TIFF; our tags (EXIF, XMP, ICC, alpha) are then
    added in a new first directory."""
    ok, encoded = cv2.imencode(".tiff", _opencv_order(samples))
    if not ok:
        raise InputError(Text("TIFF encoding failed.", "TIFF への変換に失敗しました。"))
    tiff = encoded.tobytes()
    exif.endian = containers.tiff_order(tiff)  # the tags are serialized into this file, so in its byte order
    exif[_XMP_TAG] = metadata.build_xmp(optout)
    if icc:
        exif[_ICC_TAG] = icc
    if samples.shape[2] == 4:
        exif[_EXTRA_SAMPLES] = 2  # unassociated alpha: OpenCV leaves the fourth sample unlabelled
    return containers.tiff_append_tags(tiff, lambda offset: exif.tobytes(offset)[6:])
