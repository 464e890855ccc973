"""Machine-readable "no AI training" metadata: what export writes, and a reader for
`omamori inspect`.

Written: an XMP packet (IPTC PLUS `plus:DataMining`, `dc:rights`, `dc:creator`,
`xmpRights:Marked`/`UsageTerms`/`WebStatement`), EXIF `Artist`/`Copyright`, and for
PNG the matching text chunks. The source EXIF is carried over through an allowlist
when `strip_private` is on (the default): GPS, camera make/model/serials, lens,
owner, maker notes and anything unknown are dropped. Capture dates are kept: they
are evidence of when a work existed, which helps an artist prove authorship. The
EXIF thumbnail is always dropped (it shows the unprotected picture) and the
orientation is reset to 1 (the pixels are already upright).
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image

from .errors import InputError
from .i18n import Text
from .userdata import check_keys, expect, fail, text_field

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
VOCAB = "http://ns.useplus.org/ldf/vocab/"
# IPTC Photo Metadata 2023.1 codes; the two pointing at rights expressions are left
# out because Omamori writes no rights expression for them to point at.
DATA_MINING_CODES = (
    "DMI-UNSPECIFIED", "DMI-ALLOWED", "DMI-PROHIBITED-AIMLTRAINING", "DMI-PROHIBITED-GENAIMLTRAINING",
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", "DMI-PROHIBITED", "DMI-PROHIBITED-SEECONSTRAINT",
)
DEFAULT_TERMS = Text("No AI training or reposting without permission.", "AI学習・無断転載禁止")

_NS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "dc": "http://purl.org/dc/elements/1.1/",
       "xmpRights": "http://ns.adobe.com/xap/1.0/rights/", "plus": PLUS_NS}
_XMP_LIMIT = 4 << 20  # a packet larger than this is not ours to parse

# EXIF kept when stripping private data (tag ids): IFD0, then the Exif sub-IFD.
_KEEP_IFD0 = {0x010E, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132}  # description, resolution, software, date
_KEEP_EXIF = {0x9000, 0x9003, 0x9004, 0x9010, 0x9011, 0x9012, 0xA001}  # version, dates, offsets, colour space
# Never carried over as such: they describe the source file's layout or pixels, not the
# work (the maker note also holds offsets into the source file, so it would be garbage).
_STRUCTURAL = {0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0111, 0x0115, 0x0116, 0x0117, 0x011C,
               0x0201, 0x0202, 0x0213, 0x8769, 0x8825, 0xA005, 0xA002, 0xA003, 0x927C}
_RESOLUTION_DEFAULTS = {0x011A: 72.0, 0x011B: 72.0, 0x0128: 2}  # 72 dpi, in inches
ARTIST, COPYRIGHT, ORIENTATION, EXIF_IFD, GPS_IFD = 0x013B, 0x8298, 0x0112, 0x8769, 0x8825


@dataclass
class OptOut:
    """Who made the work and what machines may do with it."""

    author: str = ""
    copyright: str = ""  # empty: "© <author>", or the usage terms when there is no author
    url: str = ""  # a page with the terms (xmpRights:WebStatement)
    data_mining: str = "DMI-PROHIBITED-AIMLTRAINING"
    usage_terms: Text = DEFAULT_TERMS
    strip_private: bool = True

    def rights(self) -> Text:
        """The rights statement (dc:rights, EXIF Copyright): never empty."""
        if self.copyright or self.author:
            text = self.copyright or f"© {self.author}"
            return Text(text, text)
        return self.usage_terms

    def to_dict(self) -> dict:
        return {"author": self.author, "copyright": self.copyright, "url": self.url,
                "data_mining": self.data_mining, "usage_terms": self.usage_terms.as_dict(),
                "strip_private": self.strip_private}

    @classmethod
    def from_dict(cls, data: dict, where: str, field: str = "metadata") -> "OptOut":
        """Validated settings; unknown keys and unknown codes are errors."""
        expect(data, dict, where, field)
        check_keys(data, tuple(cls().to_dict()), where, field)
        values = {k: expect(data[k], str, where, f"{field}.{k}") for k in ("author", "copyright", "url")
                  if k in data}
        if "data_mining" in data:
            code = expect(data["data_mining"], str, where, f"{field}.data_mining")
            if code not in DATA_MINING_CODES:
                raise fail(where, f"{field}.data_mining", Text("{code!r} is not one of {codes}.",
                                                               "{code!r} は {codes} のいずれでもありません。"),
                           code=code, codes=", ".join(DATA_MINING_CODES))
            values["data_mining"] = code
        if "usage_terms" in data:
            values["usage_terms"] = text_field(data["usage_terms"], where, f"{field}.usage_terms")
        if "strip_private" in data:
            values["strip_private"] = expect(data["strip_private"], bool, where, f"{field}.strip_private")
        return cls(**values)


# ---- writing ------------------------------------------------------------------

def build_xmp(settings: OptOut) -> bytes:
    """A complete XMP packet (UTF-8) carrying the opt-out."""
    props = [f"<plus:DataMining>{VOCAB}{settings.data_mining}</plus:DataMining>",
             "<xmpRights:Marked>True</xmpRights:Marked>",
             f"<xmpRights:UsageTerms>{_lang_alt(settings.usage_terms)}</xmpRights:UsageTerms>"]
    if settings.data_mining == "DMI-PROHIBITED-SEECONSTRAINT":  # the code means "read these terms"
        props.append(f"<plus:OtherConstraints>{_lang_alt(settings.usage_terms)}</plus:OtherConstraints>")
    props.append(f"<dc:rights>{_lang_alt(settings.rights())}</dc:rights>")
    if settings.author:
        props.append(f"<dc:creator><rdf:Seq><rdf:li>{escape(settings.author)}</rdf:li></rdf:Seq></dc:creator>")
    if settings.url:
        props.append(f"<xmpRights:WebStatement>{escape(settings.url)}</xmpRights:WebStatement>")
    namespaces = " ".join(f'xmlns:{p}="{u}"' for p, u in _NS.items() if p != "rdf")
    body = "\n   ".join(props)
    return (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:RDF xmlns:rdf="{_NS["rdf"]}">\n'
            f'  <rdf:Description rdf:about="" {namespaces}>\n   {body}\n  </rdf:Description>\n'
            f' </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>').encode("utf-8")


def _lang_alt(text: Text) -> str:
    items = f'<rdf:li xml:lang="x-default">{escape(text.en)}</rdf:li>'
    if text.ja != text.en:
        items += f'<rdf:li xml:lang="ja">{escape(text.ja)}</rdf:li>'
    return f"<rdf:Alt>{items}</rdf:Alt>"


def build_exif(settings: OptOut, source: Image.Exif | None = None) -> Image.Exif:
    """EXIF for the output: the source's tags (filtered), Artist, Copyright, orientation 1."""
    exif = Image.Exif()
    source = source if source is not None else Image.Exif()
    for tag, value in source.items():
        if tag not in _STRUCTURAL and (tag in _KEEP_IFD0 or not settings.strip_private):
            exif[tag] = value
    sub = {t: v for t, v in source.get_ifd(EXIF_IFD).items()
           if t not in _STRUCTURAL and (t in _KEEP_EXIF or not settings.strip_private)}
    if sub:
        exif.get_ifd(EXIF_IFD).update(sub)
    if not settings.strip_private and source.get_ifd(GPS_IFD):
        exif.get_ifd(GPS_IFD).update(source.get_ifd(GPS_IFD))
    exif[ORIENTATION] = 1
    for tag, value in _RESOLUTION_DEFAULTS.items():  # required in TIFF and JPEG EXIF (exiftool -validate)
        exif.setdefault(tag, value)
    # UTF-8 bytes: Pillow would turn non-ASCII str into "?", and exiftool reads UTF-8.
    if settings.author:
        exif[ARTIST] = settings.author.encode("utf-8")
    exif[COPYRIGHT] = settings.rights().en.encode("utf-8")
    return exif


def exif_bytes(exif: Image.Exif) -> bytes:
    """The TIFF-structured EXIF block, without the JPEG "Exif\\0\\0" prefix."""
    return exif.tobytes()[6:]


def png_text_chunks(settings: OptOut) -> list[tuple[bytes, bytes]]:
    """(type, data) of the PNG chunks: the XMP packet plus the standard text keywords."""
    chunks = [(b"iTXt", _itxt(b"XML:com.adobe.xmp", build_xmp(settings)))]
    fields = [(b"Author", settings.author), (b"Copyright", settings.rights().en),
              (b"Disclaimer", f"{settings.usage_terms.en} / {settings.usage_terms.ja}"
               if settings.usage_terms.ja != settings.usage_terms.en else settings.usage_terms.en)]
    for key, value in fields:
        if value:
            try:
                chunks.append((b"tEXt", key + b"\0" + value.encode("latin-1")))
            except UnicodeEncodeError:  # tEXt is Latin-1 only: Japanese goes into iTXt
                chunks.append((b"iTXt", _itxt(key, value.encode("utf-8"))))
    return chunks


def _itxt(keyword: bytes, text: bytes) -> bytes:
    # keyword, no compression (flag 0, method 0), empty language and translated keyword
    return keyword + b"\0\0\0\0\0" + text


# ---- reading ------------------------------------------------------------------

def read_optout(path: str | Path) -> dict:
    """The opt-out metadata found in a PNG, JPEG, WebP or TIFF (standard library only).

    `found` is true when a `plus:DataMining` value is present."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(Text("{path}: cannot read ({why}).", "{path}: 読み込めません（{why}）。"),
                         path=path, why=err.strerror or err) from None
    xmp, exif = _find_blocks(data)
    result = _parse_xmp(xmp)
    tags = _tiff_ascii(exif, (ARTIST, COPYRIGHT)) if exif else {}
    result.update(exif_artist=tags.get(ARTIST), exif_copyright=tags.get(COPYRIGHT))
    result["found"] = result["data_mining"] is not None
    return result


def _find_blocks(data: bytes) -> tuple[bytes | None, bytes | None]:
    """(XMP packet, TIFF-structured EXIF) from the file's container; damage yields None."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return _png_blocks(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg_blocks(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_blocks(data)
        if data[:4] in (b"II*\0", b"MM\0*"):
            xmp = _tiff_raw(data, 700)
            return xmp, data
    except (struct.error, IndexError, ValueError, zlib.error):
        pass
    return None, None


def _png_blocks(data: bytes) -> tuple[bytes | None, bytes | None]:
    xmp = exif = None
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\0"):
            rest = body[len(b"XML:com.adobe.xmp\0"):]
            compressed, text = rest[0], rest[2:].split(b"\0", 2)[2]  # skip language, translated keyword
            xmp = zlib.decompress(text) if compressed else text
        elif kind == b"eXIf":
            exif = body
        elif kind == b"IEND":
            break
        pos += 12 + length
    return xmp, exif


def _jpeg_blocks(data: bytes) -> tuple[bytes | None, bytes | None]:
    xmp = exif = None
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker in (0xDA, 0xD9):  # image data follows: no more metadata segments
            break
        body = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and body.startswith(b"http://ns.adobe.com/xap/1.0/\0"):
            xmp = body[29:]
        elif marker == 0xE1 and body.startswith(b"Exif\0\0"):
            exif = body[6:]
        pos += 2 + length
    return xmp, exif


def _webp_blocks(data: bytes) -> tuple[bytes | None, bytes | None]:
    xmp = exif = None
    pos = 12
    while pos + 8 <= len(data):
        kind, length = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"XMP ":
            xmp = body
        elif kind == b"EXIF":
            exif = body[6:] if body.startswith(b"Exif\0\0") else body
        pos += 8 + length + (length & 1)  # RIFF chunks are padded to even sizes
    return xmp, exif


def _tiff_entries(tiff: bytes):
    """(tag, type, count, value-or-offset bytes, byte order) of a TIFF's first IFD."""
    order = "<" if tiff[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", tiff[4:8])
    (count,) = struct.unpack(order + "H", tiff[offset:offset + 2])
    for i in range(count):
        entry = tiff[offset + 2 + 12 * i:offset + 14 + 12 * i]
        tag, kind, n = struct.unpack(order + "HHI", entry[:8])
        yield tag, kind, n, entry[8:], order


def _tiff_raw(tiff: bytes, wanted: int) -> bytes | None:
    """The bytes of one single-byte-typed tag (ASCII, BYTE, UNDEFINED) in IFD0."""
    for tag, kind, n, value, order in _tiff_entries(tiff):
        if tag == wanted and kind in (1, 2, 7):
            if n <= 4:
                return value[:n]
            (at,) = struct.unpack(order + "I", value)
            return tiff[at:at + n]
    return None


def _tiff_ascii(tiff: bytes, tags: tuple[int, ...]) -> dict[int, str]:
    found = {}
    try:
        for tag in tags:
            raw = _tiff_raw(tiff, tag)
            if raw is not None:
                found[tag] = raw.rstrip(b"\0").decode("utf-8", "replace")
    except (struct.error, IndexError):
        pass
    return found


def _parse_xmp(packet: bytes | None) -> dict:
    result = {"data_mining": None, "rights": None, "creator": None, "marked": None, "usage_terms": None}
    if not packet or len(packet) > _XMP_LIMIT:
        return result
    match = re.search(rb"<x:xmpmeta.*?</x:xmpmeta>", packet, re.S)
    try:
        root = ET.fromstring(match.group(0) if match else packet)
    except ET.ParseError:
        return result
    for desc in root.iter(f"{{{_NS['rdf']}}}Description"):
        mining = _prop(desc, "plus", "DataMining")
        if mining:
            result["data_mining"] = mining.removeprefix(VOCAB)
        result["rights"] = _prop(desc, "dc", "rights") or result["rights"]
        result["creator"] = _prop(desc, "dc", "creator") or result["creator"]
        result["usage_terms"] = _prop(desc, "xmpRights", "UsageTerms") or result["usage_terms"]
        marked = _prop(desc, "xmpRights", "Marked")
        if marked:
            result["marked"] = marked.strip().lower() == "true"
    return result


def _prop(desc: ET.Element, prefix: str, name: str) -> str | None:
    """A property as attribute, simple element, rdf:resource, or the first item of a container."""
    key = f"{{{_NS[prefix]}}}{name}"
    if key in desc.attrib:
        return desc.attrib[key]
    elem = desc.find(key)
    if elem is None:
        return None
    resource = elem.get(f"{{{_NS['rdf']}}}resource")
    if resource:
        return resource
    item = elem.find(f".//{{{_NS['rdf']}}}li")
    return ((item if item is not None else elem).text or "").strip() or None
