"""Container bytes, read and written in one place: PNG chunks (iTXt, zTXt, iCCP),
JPEG segments, WebP RIFF chunks, TIFF directories and GIF blocks.

Everything here is bounded for hostile input: compressed chunks inflate to at most
MAX_METADATA_BYTES, TIFF directories are walked with a cap on their number and on
the value bytes they claim, and every loop advances through the data. Damage raises
`Damaged` (a ValueError) for the caller to turn into a one-line answer."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import InputError
from .i18n import Text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_METADATA_BYTES = 4 << 20  # one XMP packet, text chunk, ICC profile or EXIF block, decompressed
MAX_IFDS = 1024  # TIFF/EXIF directories followed per file (pages, Exif/GPS/Interop)...
MAX_ENTRIES = 200_000  # ...and their entries together: a few per page in honest files
XMP_KEYWORD = b"XML:com.adobe.xmp"
_JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\0"
_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_SUB_IFDS = (0x8769, 0x8825, 0xA005, 0x014A)  # Exif, GPS, Interoperability, SubIFDs


class Damaged(ValueError):
    """Container bytes that do not parse, or that claim more than the limits allow."""


class TooLarge(InputError):
    """A file over the size its reader allows."""


# ---- files -------------------------------------------------------------------

def read_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of a regular file; FIFOs, devices and sockets are refused before
    any read (a FIFO would block forever), and so are files over `max_bytes`."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise InputError(Text("{path}: no such file.", "{path}: ファイルがありません。"), path=path) from None
    except IsADirectoryError:
        raise _folder(path) from None
    except OSError as err:
        raise InputError(Text("{path}: cannot read ({why}).", "{path}: 読み込めません（{why}）。"),
                         path=path, why=err.strerror or err) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _folder(path)
        raise InputError(Text("{path}: not a regular file (a pipe or device); not read.",
                              "{path}: 通常のファイルではありません（パイプやデバイス）。読み込みません。"), path=path)
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > max_bytes:
            raise TooLarge(Text("{path}: {size} bytes is over the limit of {limit} bytes.",
                                "{path}: {size} バイトは上限の {limit} バイトを超えます。"),
                           path=path, size=info.st_size, limit=max_bytes)
        try:
            return handle.read(max_bytes + 1)[:max_bytes]
        except OSError as err:
            raise InputError(Text("{path}: cannot read ({why}).", "{path}: 読み込めません（{why}）。"),
                             path=path, why=err.strerror or err) from None


def _folder(path: Path) -> InputError:
    return InputError(Text("{path}: is a folder, not an image.", "{path}: 画像ではなくフォルダです。"), path=path)


def inflate(data: bytes, limit: int = MAX_METADATA_BYTES) -> bytes:
    """zlib data decompressed to at most `limit` bytes; more is a Damaged bomb."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as err:
        raise Damaged(f"bad zlib data ({err})") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise Damaged(f"compressed metadata inflates past {limit} bytes")
    return out


# ---- PNG ---------------------------------------------------------------------

@dataclass(frozen=True)
class Chunk:
    kind: bytes
    body: bytes


def png_chunks(data: bytes) -> Iterator[Chunk]:
    """The chunks of a PNG up to IEND (CRCs are not checked: readers tolerate them)."""
    if not data.startswith(PNG_SIGNATURE):
        raise Damaged("not a PNG")
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if pos + 12 + length > len(data):
            raise Damaged(f"chunk {kind!r} runs past the end")
        yield Chunk(kind, data[pos + 8:pos + 8 + length])
        if kind == b"IEND":
            return
        pos += 12 + length
    if pos < len(data):
        raise Damaged("a chunk header is cut off")


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_insert_after_ihdr(png: bytes, chunks: list[Chunk]) -> bytes:
    """`png` with `chunks` placed right after IHDR (where metadata readers look first)."""
    ihdr_end = len(PNG_SIGNATURE) + 12 + 13  # IHDR: length, type, 13 data bytes, CRC
    if png[12:16] != b"IHDR":
        raise Damaged("PNG without IHDR first")
    return png[:ihdr_end] + b"".join(png_chunk(c.kind, c.body) for c in chunks) + png[ihdr_end:]


def itxt(keyword: bytes, text: bytes) -> Chunk:
    """An uncompressed iTXt chunk with no language tag."""
    return Chunk(b"iTXt", keyword + b"\0\0\0\0\0" + text)


def iccp(profile: bytes) -> Chunk:
    return Chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(profile))


def read_text_chunk(chunk: Chunk) -> tuple[bytes, bytes]:
    """(keyword, text bytes) of a tEXt, zTXt or iTXt chunk, inflated within the limit."""
    keyword, sep, rest = chunk.body.partition(b"\0")
    if not sep:
        raise Damaged("text chunk without keyword")
    if chunk.kind == b"tEXt":
        return keyword, rest
    if chunk.kind == b"zTXt":
        return keyword, inflate(rest[1:])
    if len(rest) < 2:
        raise Damaged("short iTXt")
    compressed, parts = rest[0], rest[2:].split(b"\0", 2)  # language, translated keyword, text
    if len(parts) < 3:
        raise Damaged("iTXt without its text")
    return keyword, inflate(parts[2]) if compressed else parts[2]


def png_without_bombs(data: bytes, budget: int = 4 * MAX_METADATA_BYTES) -> tuple[bytes, list[str]]:
    """`data` without the compressed chunks (zTXt, iTXt, iCCP) that inflate past
    MAX_METADATA_BYTES, are not valid zlib, or go over `budget` together, and the
    names of those left out (the picture itself is untouched)."""
    kept, dropped, pos, total = [data[:len(PNG_SIGNATURE)]], [], len(PNG_SIGNATURE), 0
    for chunk in png_chunks(data):
        size = 12 + len(chunk.body)
        if chunk.kind in (b"zTXt", b"iTXt", b"iCCP"):
            try:
                inflated = len(read_iccp(chunk) if chunk.kind == b"iCCP" else read_text_chunk(chunk)[1])
            except Damaged:
                inflated = budget + 1
            if total + inflated > budget:
                dropped.append(chunk.kind.decode("latin-1"))
                pos += size
                continue
            total += inflated
        kept.append(data[pos:pos + size])
        pos += size
    return (data, []) if not dropped else (b"".join(kept) + data[pos:], dropped)


def read_iccp(chunk: Chunk) -> bytes:
    _, sep, rest = chunk.body.partition(b"\0")
    if not sep or not rest:
        raise Damaged("iCCP without profile")
    return inflate(rest[1:])


# ---- JPEG, WebP --------------------------------------------------------------

def jpeg_segments(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(marker, body) of the JPEG segments before the image data."""
    if not data.startswith(b"\xff\xd8"):
        raise Damaged("not a JPEG")
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker in (0xDA, 0xD9):  # image data follows: no more metadata segments
            return
        if length < 2:
            raise Damaged("JPEG segment shorter than its length field")
        yield marker, data[pos + 4:pos + 2 + length]
        pos += 2 + length


def riff_chunks(data: bytes) -> Iterator[Chunk]:
    """The chunks inside a WebP RIFF file."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise Damaged("not a WebP")
    pos = 12
    while pos + 8 <= len(data):
        kind, length = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        yield Chunk(kind, data[pos + 8:pos + 8 + length])
        pos += 8 + length + (length & 1)  # RIFF chunks are padded to even sizes


# ---- TIFF --------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One 12-byte TIFF directory entry."""

    tag: int
    type: int
    count: int
    raw: bytes  # the whole 12 bytes, as stored
    order: str

    @property
    def size(self) -> int:
        return _TIFF_TYPE_SIZES.get(self.type, 1) * self.count

    def value(self, tiff: bytes) -> bytes:
        """The value bytes (inline when they fit in 4, else at the offset)."""
        if self.size <= 4:
            return self.raw[8:8 + self.size]
        (at,) = struct.unpack(self.order + "I", self.raw[8:12])
        if at + self.size > len(tiff):
            raise Damaged(f"tag {self.tag} points past the end")
        return tiff[at:at + self.size]


def tiff_order(tiff: bytes) -> str:
    if len(tiff) < 8:
        raise Damaged("TIFF header cut off")
    if tiff[:4] == b"II*\0":
        return "<"
    if tiff[:4] == b"MM\0*":
        return ">"
    raise Damaged("not a TIFF structure")


def ifd_entries(tiff: bytes, offset: int | None = None) -> dict[int, Entry]:
    """The entries of the directory at `offset` (default: the first), by tag."""
    order = tiff_order(tiff)
    if offset is None:
        (offset,) = struct.unpack(order + "I", tiff[4:8])
    if offset + 2 > len(tiff):
        raise Damaged("directory past the end")
    (count,) = struct.unpack(order + "H", tiff[offset:offset + 2])
    if offset + 2 + 12 * count > len(tiff):
        raise Damaged("directory runs past the end")
    entries = {}
    for i in range(count):
        raw = tiff[offset + 2 + 12 * i:offset + 14 + 12 * i]
        tag, kind, n = struct.unpack(order + "HHI", raw[:8])
        entries[tag] = Entry(tag, kind, n, raw, order)
    return entries


def tiff_bytes_tag(tiff: bytes, tag: int) -> bytes | None:
    """The bytes of a single-byte-typed tag (ASCII, BYTE, UNDEFINED) in IFD0."""
    entry = ifd_entries(tiff).get(tag)
    return entry.value(tiff) if entry is not None and entry.type in (1, 2, 7) else None


def tiff_claimed_bytes(tiff: bytes) -> int:
    """The value bytes all reachable directories claim (what a full parse would read).

    Honest files claim about their own size; a crafted one can point thousands of
    tags at the same megabyte, which a parser would copy thousands of times."""
    order = tiff_order(tiff)
    (first,) = struct.unpack(order + "I", tiff[4:8])
    todo, seen, total, counted = [first], set(), 0, 0
    while todo:
        offset = todo.pop()
        if offset == 0 or offset in seen:
            continue
        if len(seen) >= MAX_IFDS:
            raise Damaged(f"more than {MAX_IFDS} directories")
        seen.add(offset)
        entries = ifd_entries(tiff, offset)
        (count,) = struct.unpack(order + "H", tiff[offset:offset + 2])
        counted += count
        if counted > MAX_ENTRIES:
            raise Damaged(f"more than {MAX_ENTRIES} directory entries")
        for entry in entries.values():
            total += entry.size if entry.size > 4 else 0
            if entry.tag in _SUB_IFDS and entry.type in (4, 13) and entry.count:
                todo.extend(struct.unpack(f"{entry.order}{min(entry.count, MAX_IFDS)}I",
                                          entry.value(tiff)[:4 * min(entry.count, MAX_IFDS)]))
        end = offset + 2 + 12 * count
        if end + 4 <= len(tiff):
            todo.append(struct.unpack(order + "I", tiff[end:end + 4])[0])
    return total


def check_tiff_claims(tiff: bytes) -> None:
    """Damaged when the directories claim far more value bytes than the data holds."""
    claimed = tiff_claimed_bytes(tiff)
    if claimed > 2 * len(tiff) + (1 << 20):
        raise Damaged(f"its directories claim {claimed} bytes of values in {len(tiff)} bytes")


def tiff_append_tags(tiff: bytes, serialise) -> bytes:
    """`tiff` with more tags: `serialise(offset)` returns a TIFF-structured block
    (header included) laid out for that file offset, in the same byte order; its
    IFD0 entries are merged with the file's IFD0 into a new first directory (ours
    win), appended at the end. The old entries are copied unchanged: their offsets
    stay valid because nothing before them moves."""
    out = bytearray(tiff)
    order = tiff_order(tiff)
    entries = {tag: e.raw for tag, e in ifd_entries(tiff).items()}
    out += b"\0" * (len(out) & 1)  # directories start on a word boundary
    ours_at = len(out)
    out += serialise(ours_at)[8:]  # skip the block's own 8-byte header
    entries.update({tag: e.raw for tag, e in ifd_entries(bytes(out), ours_at).items()})
    out += b"\0" * (len(out) & 1)
    table_at = len(out)
    out += struct.pack(order + "H", len(entries)) + b"".join(entries[t] for t in sorted(entries)) + b"\0" * 4
    out[4:8] = struct.pack(order + "I", table_at)
    return bytes(out)


# ---- GIF ---------------------------------------------------------------------

def gif_frame_count(data: bytes) -> int:
    """The number of images in a GIF, counted from its blocks without decoding any."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        raise Damaged("not a GIF")
    pos = 13
    if data[10] & 0x80:  # global colour table
        pos += 3 << ((data[10] & 7) + 1)
    frames = 0
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor, local colour table, LZW minimum size, data
            if pos + 10 > len(data):
                raise Damaged("image descriptor past the end")
            flags = data[pos + 9]
            pos += 10 + ((3 << ((flags & 7) + 1)) if flags & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)
            frames += 1
        else:
            raise Damaged(f"unknown GIF block 0x{block:02x}")
    return frames


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    return pos  # truncated: the decoder will say so


def gif_xmp_extension(packet: bytes) -> bytes:
    """An XMP application extension (Adobe's layout: the packet as raw sub-block bytes,
    then the 258-byte 'magic trailer' that lets GIF readers skip it)."""
    trailer = b"\x01" + bytes(range(0xFF, -1, -1)) + b"\0"
    return b"\x21\xff\x0bXMP DataXMP" + packet + trailer


def gif_insert_extension(gif: bytes, extension: bytes) -> bytes:
    """`gif` with `extension` placed after the header, colour table and any loop block."""
    pos = 13 + ((3 << ((gif[10] & 7) + 1)) if gif[10] & 0x80 else 0)
    while gif[pos] == 0x21 and gif[pos + 1] == 0xFF:  # keep NETSCAPE2.0 (loop) first
        pos = _skip_sub_blocks(gif, pos + 2)
    return gif[:pos] + extension + gif[pos:]


# ---- metadata blocks -----------------------------------------------------------

def find_metadata(data: bytes) -> tuple[bytes | None, bytes | None]:
    """(XMP packet, TIFF-structured EXIF) from any supported container; damage, a
    bomb or a format without them yields None for that block."""
    try:
        if data.startswith(PNG_SIGNATURE):
            return _png_metadata(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg_metadata(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_metadata(data)
        if data[:4] in (b"II*\0", b"MM\0*"):
            return tiff_bytes_tag(data, 700), data
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return _gif_xmp(data), None
    except (Damaged, struct.error, IndexError):
        pass
    return None, None


def _png_metadata(data: bytes) -> tuple[bytes | None, bytes | None]:
    xmp = exif = None
    for chunk in png_chunks(data):
        if chunk.kind == b"iTXt" and chunk.body.startswith(XMP_KEYWORD + b"\0"):
            xmp = read_text_chunk(chunk)[1]
        elif chunk.kind == b"eXIf":
            exif = chunk.body
    return xmp, exif


def _jpeg_metadata(data: bytes) -> tuple[bytes | None, bytes | None]:
    xmp = exif = None
    for marker, body in jpeg_segments(data):
        if marker == 0xE1 and body.startswith(_JPEG_XMP):
            xmp = body[len(_JPEG_XMP):]
        elif marker == 0xE1 and body.startswith(b"Exif\0\0"):
            exif = body[6:]
    return xmp, exif


def _webp_metadata(data: bytes) -> tuple[bytes | None, bytes | None]:
    xmp = exif = None
    for chunk in riff_chunks(data):
        if chunk.kind == b"XMP ":
            xmp = chunk.body
        elif chunk.kind == b"EXIF":
            exif = chunk.body[6:] if chunk.body.startswith(b"Exif\0\0") else chunk.body
    return xmp, exif


def _gif_xmp(data: bytes) -> bytes | None:
    at = data.find(b"\x21\xff\x0bXMP DataXMP")
    if at < 0:
        return None
    start = at + 14
    end = data.find(b"\x01\xff\xfe", start)  # the magic trailer's first bytes
    return data[start:end] if end > 0 else None
