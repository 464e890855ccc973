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

import math
import os
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from PIL import Image
from PIL.ExifTags import TAGS

from . import containers
from .containers import Chunk
from .i18n import Text
from .jsonchecks import check_keys, expect, fail, text_field

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
VOCAB = "http://ns.useplus.org/ldf/vocab/"
# IPTC Photo Metadata 2023.1 codes, each with what it says about AI training, coarse (for scripts) and in
# words (`omamori inspect`); the two pointing at rights expressions are left out because Omamori writes no
# rights expression for them to point at.
_PROHIBITED = "prohibited"
DATA_MINING = {
    "DMI-UNSPECIFIED": ("unspecified", Text("unspecified: no terms given", "指定なし（条件の記載なし）")),
    "DMI-ALLOWED": ("allowed", Text("data mining and AI/ML training ALLOWED",
                                    "データマイニング・AI 学習を「許可」")),
    "DMI-PROHIBITED-AIMLTRAINING": (_PROHIBITED, Text("AI/ML training prohibited",
                                                      "AI・機械学習の学習への利用を禁止")),
    "DMI-PROHIBITED-GENAIMLTRAINING": (_PROHIBITED, Text("training of generative AI prohibited (other AI/ML "
                                                         "training is not)",
                                                         "生成 AI の学習への利用を禁止（それ以外の AI 学習は禁止していません）")),
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": (_PROHIBITED, Text("all data mining prohibited except search "
                                                                    "engine indexing",
                                                                    "検索エンジンの索引作成を除き、データマイニングをすべて禁止")),
    "DMI-PROHIBITED": (_PROHIBITED, Text("all data mining prohibited", "データマイニングをすべて禁止")),
    "DMI-PROHIBITED-SEECONSTRAINT": (_PROHIBITED, Text("prohibited as the file's other constraints say",
                                                       "ファイル内の他の制約に記された範囲で禁止")),
}
DATA_MINING_CODES = tuple(DATA_MINING)
DEFAULT_TERMS = Text("No AI training or reposting without permission.", "AI学習・無断転載禁止")

_NS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "dc": "http://purl.org/dc/elements/1.1/",
       "xmpRights": "http://ns.adobe.com/xap/1.0/rights/", "plus": PLUS_NS}

# EXIF kept when stripping private data (tag ids): IFD0, then the Exif sub-IFD.
_KEEP_IFD0 = {0x010E, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132}  # description, resolution, software, date
_KEEP_EXIF = {0x9000, 0x9003, 0x9004, 0x9010, 0x9011, 0x9012, 0xA001}  # version, dates, offsets, colour space
# Never carried over as such: they describe the source file's layout or pixels, not the
# work (the maker note also holds offsets into the source file, so it would be garbage).
_STRUCTURAL = {0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0111, 0x0115, 0x0116, 0x0117, 0x011C,
               0x0201, 0x0202, 0x0213, 0x8769, 0x8825, 0xA005, 0xA002, 0xA003, 0x927C,
               # A TIFF source's IFD0 also holds its pixel layout (subfiles, sample range, predictor,
               # colour map, tiles, sub-IFDs, extra samples, sample format, JPEG tables, YCbCr)...
               0x00FE, 0x00FF, 0x0118, 0x0119, 0x013D, 0x0140, 0x0142, 0x0143, 0x0144, 0x0145, 0x014A,
               0x0152, 0x0153, 0x0154, 0x0155, 0x015B, 0x0211, 0x0212,
               # ...and blocks written on their own or not at all: its XMP (which may say DMI-ALLOWED),
               # IPTC, Photoshop resources, ICC profile and Photoshop layers (the unprotected picture).
               0x02BC, 0x83BB, 0x8649, 0x8773, 0x935C}
XRESOLUTION, YRESOLUTION, RESOLUTION_UNIT = 0x011A, 0x011B, 0x0128
_RESOLUTION_DEFAULTS = {XRESOLUTION: 72.0, YRESOLUTION: 72.0, RESOLUTION_UNIT: 2}  # 72 dpi, in inches
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

def _xml_text(text: str) -> str:
    """Text escaped for XML content (&, <, >), as xml.sax.saxutils.escape does; that module pulls in
    urllib and http, a noticeable share of a one-picture run's start-up."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def build_xmp(settings: OptOut) -> bytes:
    """A complete XMP packet (UTF-8) carrying the opt-out."""
    props = [f"<plus:DataMining>{VOCAB}{settings.data_mining}</plus:DataMining>",
             "<xmpRights:Marked>True</xmpRights:Marked>",
             f"<xmpRights:UsageTerms>{_lang_alt(settings.usage_terms)}</xmpRights:UsageTerms>"]
    if settings.data_mining == "DMI-PROHIBITED-SEECONSTRAINT":  # the code means "read these terms"
        props.append(f"<plus:OtherConstraints>{_lang_alt(settings.usage_terms)}</plus:OtherConstraints>")
    props.append(f"<dc:rights>{_lang_alt(settings.rights())}</dc:rights>")
    if settings.author:
        props.append(f"<dc:creator><rdf:Seq><rdf:li>{_xml_text(settings.author)}</rdf:li></rdf:Seq></dc:creator>")
    if settings.url:
        props.append(f"<xmpRights:WebStatement>{_xml_text(settings.url)}</xmpRights:WebStatement>")
    namespaces = " ".join(f'xmlns:{p}="{u}"' for p, u in _NS.items() if p != "rdf")
    body = "\n   ".join(props)
    return (f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            f'<x:xmpmeta xmlns:x="adobe:ns:meta/">\n <rdf:RDF xmlns:rdf="{_NS["rdf"]}">\n'
            f'  <rdf:Description rdf:about="" {namespaces}>\n   {body}\n  </rdf:Description>\n'
            f' </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>').encode("utf-8")


def _lang_alt(text: Text) -> str:
    items = f'<rdf:li xml:lang="x-default">{_xml_text(text.en)}</rdf:li>'
    if text.ja != text.en:
        items += f'<rdf:li xml:lang="ja">{_xml_text(text.ja)}</rdf:li>'
    return f"<rdf:Alt>{items}</rdf:Alt>"


def build_exif(settings: OptOut, source: Image.Exif | None = None,
               dpi: tuple[float, float] | None = None) -> Image.Exif:
    """EXIF for the output: the source's tags (filtered), Artist, Copyright, orientation 1, and a
    resolution: the source EXIF's, else `dpi` (the file's pHYs or JFIF), else 72 dpi."""
    exif = Image.Exif()
    source = source if source is not None else Image.Exif()
    for tag, value in source.items():
        if tag not in _STRUCTURAL and (tag in _KEEP_IFD0 or not settings.strip_private):
            exif[tag] = _as_read(value)
    sub = {t: _as_read(v) for t, v in source.get_ifd(EXIF_IFD).items()
           if t not in _STRUCTURAL and (t in _KEEP_EXIF or not settings.strip_private)}
    if sub:
        exif.get_ifd(EXIF_IFD).update(sub)
    if not settings.strip_private and source.get_ifd(GPS_IFD):
        exif.get_ifd(GPS_IFD).update({t: _as_read(v) for t, v in source.get_ifd(GPS_IFD).items()})
    exif[ORIENTATION] = 1
    if dpi and XRESOLUTION not in exif:  # a 350 dpi PNG said 72 dpi once protected
        exif[XRESOLUTION], exif[YRESOLUTION], exif[RESOLUTION_UNIT] = *(round(v, 4) for v in dpi), 2
    for tag, value in _RESOLUTION_DEFAULTS.items():  # required in TIFF and JPEG EXIF (exiftool -validate)
        exif.setdefault(tag, value)
    # UTF-8 bytes: Pillow would turn non-ASCII str into "?", and exiftool reads UTF-8.
    if settings.author:
        exif[ARTIST] = settings.author.encode("utf-8")
    exif[COPYRIGHT] = settings.rights().en.encode("utf-8")
    return exif


def exif_dpi(exif: Image.Exif) -> tuple[float, float]:
    """The resolution `exif` states, in dots per inch (unit 3 is centimetres), for the PNG pHYs and JPEG
    JFIF fields written beside it: the two must agree."""
    per_inch = 2.54 if exif.get(RESOLUTION_UNIT) == 3 else 1.0
    return float(exif[XRESOLUTION]) * per_inch, float(exif[YRESOLUTION]) * per_inch


def _as_read(value):
    """A source value to write back. Pillow reads EXIF text as Latin-1 and writes str as ASCII, every other
    character a '?': non-ASCII text goes back as the bytes it was read from (a Japanese caption in UTF-8)."""
    if isinstance(value, str) and not value.isascii():
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:  # not from Pillow's reader: the UTF-8 that exiftool reads
            return value.encode("utf-8")
    return value


def exif_bytes(exif: Image.Exif) -> bytes:
    """The TIFF-structured EXIF block, without the JPEG "Exif\\0\\0" prefix."""
    return exif.tobytes()[6:]


def png_text_chunks(settings: OptOut) -> list[Chunk]:
    """The PNG text chunks: the XMP packet plus the standard text keywords."""
    chunks = [containers.itxt(containers.XMP_KEYWORD, build_xmp(settings))]
    fields = [(b"Author", settings.author), (b"Copyright", settings.rights().en),
              (b"Disclaimer", f"{settings.usage_terms.en} / {settings.usage_terms.ja}"
               if settings.usage_terms.ja != settings.usage_terms.en else settings.usage_terms.en)]
    for key, value in fields:
        if value:
            try:
                chunks.append(Chunk(b"tEXt", key + b"\0" + value.encode("latin-1")))
            except UnicodeEncodeError:  # tEXt is Latin-1 only: Japanese goes into iTXt
                chunks.append(containers.itxt(key, value.encode("utf-8")))
    return chunks


# ---- carrying the source's EXIF over ----------------------------------------------

def clean_exif(source: Image.Exif) -> tuple[Image.Exif, list[str]]:
    """The source EXIF without the values that cannot be written back (a text
    ResolutionUnit, a negative or NaN XResolution...), and the names of those dropped:
    one odd tag must cost the tag, never the file. Layout tags, which no output
    carries over, are left out too."""
    clean, dropped = Image.Exif(), []
    for tag, value in source.items():
        if tag in _STRUCTURAL:  # never carried over as such (see build_exif); sub-IFDs below
            continue
        if _writable(tag, value):
            clean[tag] = value
        else:
            dropped.append(_tag_name(tag))
    for ifd in (EXIF_IFD, GPS_IFD):
        try:
            values = dict(source.get_ifd(ifd))
        except (OSError, ValueError, struct.error, TypeError, KeyError):
            values, dropped = {}, dropped + [_tag_name(ifd)]
        kept = {tag: value for tag, value in values.items() if _writable(tag, value, ifd)}
        dropped += [_tag_name(tag) for tag in values if tag not in kept]
        if kept:
            clean.get_ifd(ifd).update(kept)
    return clean, dropped


def _writable(tag: int, value, ifd: int | None = None) -> bool:
    if tag in _RESOLUTION_DEFAULTS and tag != RESOLUTION_UNIT:
        try:
            if not (math.isfinite(float(value)) and float(value) > 0):
                return False  # a resolution of NaN or -72 dpi means nothing
        except (TypeError, ValueError, ZeroDivisionError):
            return False
    probe = Image.Exif()
    try:
        if ifd is None:
            probe[tag] = value
        else:
            probe.get_ifd(ifd)[tag] = value
        probe.tobytes()
    except (struct.error, TypeError, ValueError, OverflowError, KeyError, AttributeError, ZeroDivisionError):
        return False
    return True


def _tag_name(tag: int) -> str:
    return TAGS.get(tag, f"0x{tag:04X}")


# ---- reading ------------------------------------------------------------------

def read_optout(path: str | os.PathLike, data: bytes | None = None) -> dict:
    """The opt-out metadata found in a PNG, JPEG, WebP, TIFF or GIF (`data`: the
    file's bytes when already read). `found` is true when a `plus:DataMining`
    value is present."""
    if data is None:
        from .imageio import read_input  # late: imageio uses this module to clean EXIF

        data = read_input(path)
    xmp, exif = containers.find_metadata(data)
    result = parse_xmp(xmp)
    tags = _tiff_text(exif, (ARTIST, COPYRIGHT)) if exif else {}
    result.update(exif_artist=tags.get(ARTIST), exif_copyright=tags.get(COPYRIGHT))
    result["found"] = result["data_mining"] is not None
    return result


def _tiff_text(tiff: bytes, tags: tuple[int, ...]) -> dict[int, str]:
    found = {}
    try:
        for tag in tags:
            raw = containers.tiff_bytes_tag(tiff, tag)
            if raw is not None:
                found[tag] = raw[:containers.MAX_METADATA_BYTES].rstrip(b"\0").decode("utf-8", "replace")
    except (containers.Damaged, struct.error, IndexError):
        pass
    return found


def parse_xmp(packet: bytes | None) -> dict:
    """The opt-out fields of an XMP packet; a packet that is too large, declares a
    DTD (entities could expand it) or does not parse yields no fields."""
    result = {"data_mining": None, "rights": None, "creator": None, "marked": None, "usage_terms": None}
    if not packet or len(packet) > containers.MAX_METADATA_BYTES or b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        return result
    start, end = packet.find(b"<x:xmpmeta"), packet.rfind(b"</x:xmpmeta>")  # linear: no regex over untrusted text
    if 0 <= start < end:
        packet = packet[start:end + len(b"</x:xmpmeta>")]
    try:
        root = ET.fromstring(packet)
    except (ET.ParseError, RecursionError, ValueError):
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
