"""`omamori inspect`: what it says about our outputs, other tools' files and unmarked pictures."""

import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from omamori import metadata
from omamori.cli import main
from omamori.filters import notice
from omamori.inspect import describe, inspect_file

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def with_data_mining(path, code):
    """A picture as another tool (exiftool ≥ 12.67, Photoshop) writes DataMining: the vocabulary URI."""
    xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f'<rdf:Description rdf:about="" xmlns:plus="{metadata.PLUS_NS}">'
           f'<plus:DataMining>{metadata.VOCAB}{code}</plus:DataMining></rdf:Description></rdf:RDF></x:xmpmeta>')
    painted(path, xmp=xmp.encode())
    return path


def painted(path, **options):
    rng = np.random.default_rng(7)
    smooth = np.kron(rng.integers(0, 256, (12, 16, 3)), np.ones((16, 16, 1))).astype(np.uint8)
    Image.fromarray(smooth).save(path, **options)
    return path


@pytest.fixture
def marked(tmp_path, capsys):
    source = painted(tmp_path / "art.png")
    assert main(["apply", "stamp", "--set", "author_id=123456789", str(source)]) == 0
    capsys.readouterr()
    return tmp_path / "art-protected.png"


def test_a_picture_that_allows_ai_training_is_not_reported_as_opted_out(tmp_path):
    report = inspect_file(with_data_mining(tmp_path / "allowed.jpg", "DMI-ALLOWED"))
    assert report["optout"]["data_mining"] == "DMI-ALLOWED" and report["optout"]["ai_training"] == "allowed"
    assert "ALLOWED" in describe(report, "en")[1] and "許可" in describe(report, "ja")[1]


@pytest.mark.parametrize("code", metadata.DATA_MINING_CODES)
def test_every_data_mining_value_is_explained(tmp_path, code):
    report = inspect_file(with_data_mining(tmp_path / "a.jpg", code))
    assert report["optout"]["ai_training"] == metadata.DATA_MINING[code][0]
    assert code.startswith("DMI-PROHIBITED") == (report["optout"]["ai_training"] == "prohibited")
    assert metadata.DATA_MINING[code][1].en in describe(report, "en")[1]


def test_a_value_outside_the_vocabulary_is_called_unknown(tmp_path):
    report = inspect_file(with_data_mining(tmp_path / "a.jpg", "DMI-MAYBE"))
    assert report["optout"]["ai_training"] == "unknown" and "unknown" in describe(report, "en")[1]


def test_no_mark_is_said_honestly_and_keys_stay_the_same(tmp_path, marked):
    plain = inspect_file(painted(tmp_path / "plain.png"))
    ours = inspect_file(marked)
    assert ours["stamp"] == {"found": True, "author_id": 123456789, "confidence": ours["stamp"]["confidence"]}
    assert plain["stamp"]["found"] is False and plain["stamp"]["author_id"] is None
    assert plain["optout"]["ai_training"] == "not_stated" and ours["optout"]["ai_training"] == "prohibited"
    assert _keys(plain) == _keys(ours)
    text = "\n".join(describe(plain, "en"))
    assert "never marked, or the mark was erased" in text and "cannot tell which" in text and "author id" not in text
    assert "author id 123456789" in "\n".join(describe(ours, "en"))


def _keys(report, prefix=""):
    return {prefix + key for key in report} | {k for key, value in report.items() if isinstance(value, dict)
                                               for k in _keys(value, f"{prefix}{key}.")}


def test_the_default_author_id_is_explained(tmp_path, capsys):
    source = painted(tmp_path / "art.png")
    assert main(["apply", "stamp", str(source)]) == 0
    capsys.readouterr()
    line = describe(inspect_file(tmp_path / "art-protected.png"), "en")
    assert any("id 0, Omamori's default" in part and "no author id was chosen" in part for part in line)


def test_every_line_is_in_japanese_too(marked):
    report = inspect_file(marked)
    english, japanese = describe(report, "en"), describe(report, "ja")
    assert len(english) == len(japanese)
    # The first line is the file and its size; the indented ones quote the file's own text.
    assert all(JAPANESE.search(line) for line in japanese[1:] if not line.startswith("  "))
    assert all(line.split(":")[0] != other.split(":")[0] for line, other in zip(english[1:], japanese[1:]))


def test_an_animation_says_only_its_first_frame_was_checked(tmp_path):
    frames = [Image.new("RGB", (64, 48), (i * 60, 20, 90)) for i in range(3)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    report = inspect_file(tmp_path / "a.gif")
    assert report["frames"] == 3 and "first frame only" in describe(report, "en")[-1]


def test_json_is_valid_utf8_whatever_the_file_name(tmp_path, capsys):
    """A name that is not UTF-8 (copied from an old archive): its bytes reached --json raw, so the
    output could not be decoded."""
    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/art\xff\x1b.png")
    painted(tmp_path / "source.png")
    os.rename(tmp_path / "source.png", name)
    report = inspect_file(name)
    assert report["file"].endswith("art\\xff\\x1b.png")
    json.dumps(report, ensure_ascii=False).encode("utf-8")


def test_no_notice_is_claimed_on_flat_colour():
    """Drawings with large flat areas (a quarter of the shared artwork) read as carrying the notice."""
    pixels = np.zeros((640, 640, 4), np.float32)
    pixels[..., 3] = 1.0
    pixels[:320, :, :3] = 1.0  # white above black: found, score 1.0
    assert notice.find_notice(pixels)["found"] is False
