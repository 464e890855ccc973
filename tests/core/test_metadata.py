"""Opt-out metadata as exiftool sees it, in every output format, and private data stripped."""

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from omamori import metadata
from omamori.errors import InputError
from omamori.export import ExportSettings, write_picture
from omamori.imageio import Picture, load
from omamori.metadata import OptOut, build_xmp, read_optout

AUTHOR = "Hanako Yamada 山田花子"
RIGHTS = "© 2026 Hanako Yamada"
URI = "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"
# exiftool ≥ 12.67 prints the label; Debian 12's 12.57 prints the raw URI.
DATA_MINING = {URI, "Prohibited for AI/ML training"}
SETTINGS = ExportSettings(metadata=OptOut(author=AUTHOR, copyright=RIGHTS))


def exiftool(path):
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (Debian: apt-get install libimage-exiftool-perl)")
    out = subprocess.run(["exiftool", "-j", "-G1", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def picture(bit_depth=8, alpha=True):
    rng = np.random.default_rng(1)
    px = rng.random((24, 32, 4), dtype=np.float32)
    px[..., 3] = 1.0
    if alpha:
        px[:4, :4, 3] = 0.25
    return Picture(px, bit_depth=bit_depth, has_alpha=alpha)


@pytest.mark.parametrize("ext,bits", [("png", 8), ("png", 16), ("jpg", 8), ("webp", 8), ("tif", 8), ("tif", 16)])
def test_optout_tags_exact(tmp_path, ext, bits):
    src = picture(bits)
    out = write_picture(src.pixels, tmp_path / f"a.{ext}", source=src, settings=SETTINGS)
    tags = exiftool(out)
    assert tags["XMP-plus:DataMining"] in DATA_MINING
    assert tags["XMP-dc:Rights"] == RIGHTS
    assert tags["XMP-dc:Creator"] == AUTHOR
    assert tags["XMP-xmpRights:Marked"] is True
    assert tags["XMP-xmpRights:UsageTerms"] == metadata.DEFAULT_TERMS.en
    assert tags["XMP-xmpRights:UsageTerms-ja"] == metadata.DEFAULT_TERMS.ja
    assert tags["IFD0:Artist"] == AUTHOR
    assert tags["IFD0:Copyright"] == RIGHTS
    assert tags["IFD0:Orientation"] == "Horizontal (normal)"
    if ext == "png":
        assert tags["PNG:Author"] == AUTHOR and tags["PNG:Copyright"] == RIGHTS
        assert tags["PNG:BitDepth"] == bits


@pytest.mark.parametrize("ext", ["png", "jpg", "webp", "tif"])
def test_reader_finds_what_export_wrote(tmp_path, ext):
    src = picture()
    out = write_picture(src.pixels, tmp_path / f"a.{ext}", source=src, settings=SETTINGS)
    found = read_optout(out)
    assert found == {"found": True, "data_mining": "DMI-PROHIBITED-AIMLTRAINING", "rights": RIGHTS,
                     "creator": AUTHOR, "marked": True, "usage_terms": metadata.DEFAULT_TERMS.en,
                     "exif_artist": AUTHOR, "exif_copyright": RIGHTS}


def test_reader_on_plain_and_damaged_files(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    assert read_optout(tmp_path / "plain.png")["found"] is False
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff\xe1\xff\xff garbage")
    assert read_optout(tmp_path / "junk.jpg")["found"] is False
    with pytest.raises(InputError, match="missing.png"):
        read_optout(tmp_path / "missing.png")


def test_reader_accepts_attribute_form_xmp(tmp_path):
    """Other tools write simple properties as attributes; inspect must still see them."""
    xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f'<rdf:Description rdf:about="" xmlns:plus="{metadata.PLUS_NS}" '
           f'xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/" plus:DataMining="{URI}" '
           f'xmpRights:Marked="True"/></rdf:RDF></x:xmpmeta>').encode()
    Image.new("RGB", (4, 4)).save(tmp_path / "a.jpg", xmp=xmp)
    found = read_optout(tmp_path / "a.jpg")
    assert found["found"] and found["data_mining"] == "DMI-PROHIBITED-AIMLTRAINING" and found["marked"] is True


def test_xmp_is_well_formed_and_escapes(tmp_path):
    settings = OptOut(author="A & <B>", url="https://example.com/?a=1&b=2")
    ET.fromstring(build_xmp(settings).split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0])
    src = picture()
    out = write_picture(src.pixels, tmp_path / "a.png", source=src, settings=ExportSettings(metadata=settings))
    tags = exiftool(out)
    assert tags["XMP-dc:Creator"] == "A & <B>"
    assert tags["XMP-xmpRights:WebStatement"] == "https://example.com/?a=1&b=2"


def test_see_constraint_code_writes_other_constraints(tmp_path):
    settings = OptOut(data_mining="DMI-PROHIBITED-SEECONSTRAINT")
    src = picture()
    out = write_picture(src.pixels, tmp_path / "a.jpg", source=src, settings=ExportSettings(metadata=settings))
    tags = exiftool(out)
    assert tags["XMP-plus:OtherConstraints"] == metadata.DEFAULT_TERMS.en
    assert "PROHIBITED-SEECONSTRAINT" in tags["XMP-plus:DataMining"] or "constraint" in tags["XMP-plus:DataMining"]
    assert read_optout(out)["data_mining"] == "DMI-PROHIBITED-SEECONSTRAINT"


def camera_jpeg(path):
    """A phone-like JPEG: make, model, serials, owner, maker note, GPS, a date, rotated."""
    exif = Image.Exif()
    exif.update({0x010F: "PhoneCo", 0x0110: "Phone 9", 0x0131: "Editor 1.0", 0x0112: 6})
    exif.get_ifd(0x8769).update({0x9003: "2024:05:06 07:08:09", 0xA431: "BODY123", 0xA435: "LENS456",
                                 0xA430: "Owner Name", 0x927C: b"MAKERNOTE", 0xA434: "Lens 4mm"})
    exif.get_ifd(0x8825).update({1: "N", 2: (35.0, 39.0, 29.0), 3: "E", 4: (139.0, 44.0, 28.0)})
    Image.new("RGB", (40, 20), (200, 100, 50)).save(path, exif=exif.tobytes())
    return path


PRIVATE = ("GPS", "Make", "Model", "SerialNumber", "OwnerName", "MakerNote", "LensModel")


@pytest.mark.parametrize("ext", ["jpg", "png", "tif"])
def test_private_exif_stripped_by_default(tmp_path, ext):
    source = camera_jpeg(tmp_path / "camera.jpg")
    before = exiftool(source)
    assert any("GPS" in k for k in before) and "IFD0:Make" in before and "ExifIFD:SerialNumber" in before
    assert "ExifIFD:MakerNoteUnknownText" in before and "ExifIFD:OwnerName" in before
    src = load(source)
    out = write_picture(src.pixels, tmp_path / f"out.{ext}", source=src, settings=SETTINGS)
    tags = exiftool(out)
    leaked = [k for k in tags if any(word in k.split(":")[-1] for word in PRIVATE)]
    assert leaked == []
    assert tags["ExifIFD:DateTimeOriginal"] == "2024:05:06 07:08:09"  # kept: evidence of authorship
    assert tags["IFD0:Software"] == "Editor 1.0"
    assert tags["IFD0:Orientation"] == "Horizontal (normal)"  # pixels are already upright
    assert Image.open(out).size == (20, 40)


def test_private_exif_kept_when_asked(tmp_path):
    src = load(camera_jpeg(tmp_path / "camera.jpg"))
    settings = ExportSettings(metadata=OptOut(author=AUTHOR, strip_private=False))
    tags = exiftool(write_picture(src.pixels, tmp_path / "out.jpg", source=src, settings=settings))
    assert tags["IFD0:Make"] == "PhoneCo" and tags["ExifIFD:SerialNumber"] == "BODY123"
    assert tags["GPS:GPSLatitudeRef"] == "North"
    assert "ExifIFD:MakerNoteUnknownText" not in tags and tags["IFD0:Orientation"] == "Horizontal (normal)"
    assert tags["IFD0:Artist"] == AUTHOR


def test_optout_settings_validate():
    good = OptOut.from_dict({"author": "a", "usage_terms": {"en": "x", "ja": "y"}}, "p.json", "metadata")
    assert good.author == "a" and good.usage_terms.ja == "y" and good.strip_private
    assert OptOut.from_dict(good.to_dict(), "p.json") == good
    with pytest.raises(Exception, match=r"p\.json: metadata: unknown key\(s\) autor"):
        OptOut.from_dict({"autor": "a"}, "p.json", "metadata")
    with pytest.raises(Exception, match=r"p\.json: metadata\.data_mining: 'DMI-NOPE'"):
        OptOut.from_dict({"data_mining": "DMI-NOPE"}, "p.json", "metadata")
    with pytest.raises(Exception, match=r"metadata\.strip_private: expected true/false"):
        OptOut.from_dict({"strip_private": "yes"}, "p.json", "metadata")


def test_without_author_the_terms_are_the_rights(tmp_path):
    """The default settings (no author yet) still write a rights statement everywhere."""
    src = picture()
    tags = exiftool(write_picture(src.pixels, tmp_path / "a.png", source=src))
    assert tags["XMP-dc:Rights"] == metadata.DEFAULT_TERMS.en
    assert tags["XMP-dc:Rights-ja"] == metadata.DEFAULT_TERMS.ja
    assert tags["IFD0:Copyright"] == tags["PNG:Copyright"] == metadata.DEFAULT_TERMS.en
    assert tags["XMP-plus:DataMining"] in DATA_MINING and tags["XMP-xmpRights:Marked"] is True
    assert "XMP-dc:Creator" not in tags and "IFD0:Artist" not in tags and "PNG:Author" not in tags


def test_xmp_with_a_dtd_or_too_large_is_not_parsed():
    good = build_xmp(OptOut())
    assert metadata.parse_xmp(good)["data_mining"] == "DMI-PROHIBITED-AIMLTRAINING"
    with_dtd = b'<!DOCTYPE x [<!ENTITY e "DMI-PROHIBITED">]>' + good
    assert metadata.parse_xmp(with_dtd)["data_mining"] is None
    assert metadata.parse_xmp(good + b" " * (4 << 20))["data_mining"] is None
    assert metadata.parse_xmp(b"<x:xmpmeta " * 50_000)["data_mining"] is None  # no end: linear, not quadratic


def test_clean_exif_drops_only_what_cannot_be_written():
    from PIL import TiffImagePlugin

    source = Image.Exif()
    source[0x013B] = "Hana"
    source[0x0128] = "inches"  # ResolutionUnit is a SHORT: text cannot be written back
    source[0x011A] = TiffImagePlugin.IFDRational(-72, 1)
    source.get_ifd(metadata.EXIF_IFD)[0x9003] = "2026:01:02 03:04:05"
    clean, dropped = metadata.clean_exif(source)
    assert sorted(dropped) == ["ResolutionUnit", "XResolution"]
    assert clean[0x013B] == "Hana" and clean.get_ifd(metadata.EXIF_IFD)[0x9003] == "2026:01:02 03:04:05"
    metadata.build_exif(OptOut(), clean).tobytes()  # and what is left writes


def tiff_with_blocks(path):
    """A TIFF from an editor: its XMP (saying DMI-ALLOWED, with other rights), IPTC and ICC sit in IFD0."""
    xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f'<rdf:Description rdf:about="" xmlns:plus="{metadata.PLUS_NS}" xmlns:dc="http://purl.org/dc/elements/1.1/">'
           f'<plus:DataMining>{metadata.VOCAB}DMI-ALLOWED</plus:DataMining><dc:rights><rdf:Alt>'
           f'<rdf:li xml:lang="x-default">OLD RIGHTS</rdf:li></rdf:Alt></dc:rights></rdf:Description>'
           f'</rdf:RDF></x:xmpmeta>').encode()
    iptc = b"\x1c\x02\x5a\x00\x07Shibuya"  # IPTC City
    Image.new("RGB", (40, 20), (200, 100, 50)).save(path, tiffinfo={0x010F: "PhoneCo", 700: xmp, 33723: iptc})
    return path


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "tif"])
def test_keeping_private_exif_never_carries_a_tiffs_own_blocks(tmp_path, ext):
    """XMP, IPTC and ICC are written on their own: a source TIFF's copies in its IFD0 must not ride along
    in the EXIF, where the old XMP contradicted the opt-out and the IPTC was malformed."""
    src = load(tiff_with_blocks(tmp_path / "editor.tif"))
    settings = ExportSettings(metadata=OptOut(author=AUTHOR, strip_private=False))
    out = write_picture(src.pixels, tmp_path / f"out.{ext}", source=src, settings=settings)
    tags = exiftool(out)
    assert tags["IFD0:Make"] == "PhoneCo"  # what was asked to be kept is kept
    assert tags["XMP-plus:DataMining"] in DATA_MINING and tags["XMP-dc:Rights"] == f"© {AUTHOR}"
    assert [key for key in tags if key.startswith("IPTC") or "Warning" in key] == []


def test_keeping_private_exif_never_carries_a_tiffs_layout(tmp_path):
    """A float TIFF's SampleFormat, carried over onto the 16-bit output, made a file no reader could open."""
    Image.fromarray(np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64), "F").save(tmp_path / "f.tif")
    src = load(tmp_path / "f.tif")
    settings = ExportSettings(metadata=OptOut(strip_private=False))
    back = load(write_picture(src.pixels, tmp_path / "out.tif", source=src, settings=settings))
    assert back.bit_depth == 16 and np.allclose(back.pixels, src.pixels, atol=1 / 65535)


@pytest.mark.parametrize("ext", ["jpg", "png", "webp", "tif"])
def test_kept_text_in_japanese_is_kept_byte_for_byte(tmp_path, ext):
    """Pillow reads EXIF text as Latin-1 and writes it back as ASCII: a caption in UTF-8 came out as '?'s."""
    exif = Image.Exif()
    exif.update({0x010E: "夕焼けの絵".encode(), 0x0131: "クリスタ".encode()})
    Image.new("RGB", (8, 8)).save(tmp_path / "drawn.jpg", exif=exif.tobytes())
    src = load(tmp_path / "drawn.jpg")
    tags = exiftool(write_picture(src.pixels, tmp_path / f"out.{ext}", source=src, settings=SETTINGS))
    assert (tags["IFD0:ImageDescription"], tags["IFD0:Software"]) == ("夕焼けの絵", "クリスタ")
