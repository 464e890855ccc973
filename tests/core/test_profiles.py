"""Posting profiles: the built-in facts, dated checklists, user profiles and errors."""

import json
import re

import pytest

from omamori.errors import PresetError
from omamori.profiles import BUILTIN_DIR, Profile, list_profiles, load_profile
from omamori.jsonchecks import omamori_home

NAMES = sorted(p.stem for p in BUILTIN_DIR.glob("*.json"))  # not list_profiles(): no user folder at import


def builtin(name):
    """A built-in profile, read inside a test (the user folder is a scratch one there)."""
    return load_profile(name)


def test_required_profiles_exist():
    assert {"x", "pixiv", "instagram", "bluesky", "web"} <= set(NAMES)
    assert [p.name for p in list_profiles()] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_builtin_profile_is_complete(name):
    profile = builtin(name)
    assert profile.builtin and profile.label.en and profile.label.ja
    assert profile.max_long_edge or profile.max_megapixels
    assert len(profile.checklist) >= 2
    for item in profile.checklist:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", item.checked)
        assert item.text.en and item.text.ja != item.text.en and re.search(r"[ぁ-んァ-ン一-龯]", item.text.ja)
    assert Profile.from_dict(profile.to_dict(), "round trip", True).to_dict() == profile.to_dict()


def test_platform_facts():
    """The numbers in docs/metadata-and-platforms.md."""
    x, bluesky, instagram = builtin("x"), builtin("bluesky"), builtin("instagram")
    assert (x.format, x.quality, x.max_long_edge, x.max_bytes) == ("JPEG", 85, 4096, 5_000_000)
    assert (bluesky.max_long_edge, bluesky.max_bytes) == (4000, 2_000_000)
    assert instagram.max_long_edge == 1080
    assert builtin("mastodon").max_megapixels == 8.2944 and builtin("misskey").max_long_edge == 2048
    assert any("Grok" in item.text.en for item in x.checklist)
    unconfirmed = [item.text.en for item in builtin("pixiv").checklist if not item.confirmed]
    assert unconfirmed == ["Upload limit 32 MB per image."]


def test_checklist_lines_are_dated_in_both_languages():
    pixiv = builtin("pixiv")
    en, ja = pixiv.checklist_lines("en"), pixiv.checklist_lines("ja")
    date = pixiv.checklist[0].checked
    assert en[0].endswith(f"(checked {date})") and ja[0].endswith(f"（{date} 確認）")
    assert en[3].endswith(", unconfirmed)") and ja[3].endswith("・未確認）")
    assert load_profile("pixiv").checklist_lines() == en  # the tests run with OMAMORI_LANG=en


def user_profile(name="x", **changes):
    data = builtin("x").to_dict()
    data.update(name=name, **changes)
    folder = omamori_home() / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_user_profile_replaces_builtin_and_adds_new():
    user_profile("x", quality=80)
    user_profile("my-gallery", max_long_edge=900)
    assert load_profile("x").quality == 80 and not load_profile("x").builtin
    listed = {p.name: p for p in list_profiles()}
    assert listed["my-gallery"].max_long_edge == 900 and listed["pixiv"].builtin


def error_for(**changes):
    path = user_profile("broken", **changes)
    problems = []
    assert "broken" not in [p.name for p in list_profiles(problems)]  # left out of the list, reported
    with pytest.raises(PresetError) as caught:
        load_profile("broken")
    message = caught.value.message("en")
    assert problems == [message] and "\n" not in message
    return message.replace(f"{path}: ", "")


def test_errors_name_file_and_field():
    assert error_for(format="GIF") == "format: 'GIF' is not one of PNG, JPEG, WEBP, TIFF."
    assert error_for(quality=0) == "quality: 0 is outside 1–100."
    assert error_for(max_long_edge="big") == "max_long_edge: expected an integer, got 'big'."
    assert error_for(maxbytes=5).startswith("(top level): unknown key(s) maxbytes; known: schema, name")
    assert error_for(schema=9).startswith("schema: version 9 comes from a newer Omamori")
    bad_item = dict(builtin("x").to_dict()["checklist"][0], checked="last week")
    assert error_for(checklist=[bad_item]) == "checklist[0].checked: 'last week' is not a date like 2026-11-25."
    assert error_for(checklist=[{"en": "x", "checked": "2026-01-01", "source": "y"}]).startswith(
        "checklist[0]: unknown key(s) source")


def test_unknown_profile():
    with pytest.raises(PresetError, match="unknown posting profile 'myspace'; known: .*bluesky"):
        load_profile("myspace")


@pytest.mark.parametrize("name", ["x", "pixiv", "instagram", "bluesky", "mastodon", "misskey"])
def test_a_platform_that_strips_metadata_says_so(name):
    """Where the platform removes metadata, the visible notice and the author mark are the only signals left:
    the checklist must say so (Misskey's said only that a copy is made when metadata is present)."""
    stripped = re.compile(r"metadata\b[^.]*\b(strip|remov)|\b(strip|remov)\w*[^.]*\bmetadata")
    lines = [item.text for item in builtin(name).checklist if stripped.search(item.text.en)]
    assert lines and all("メタデータ" in text.ja and "削除" in text.ja for text in lines)


def test_mastodon_cap_is_its_exact_pixel_limit():
    """Mastodon keeps at most 8,294,400 pixels (3840×2160; app/models/media_attachment.rb): a cap of 8.3 MP
    let 3524×2355 (8,299,020) through, which Mastodon then shrank, with no notice and the cloak resampled."""
    mastodon = builtin("mastodon")
    assert mastodon.posted_size(3840, 2160) == (3840, 2160)
    width, height = mastodon.posted_size(3524, 2355)
    assert width * height <= 8_294_400 and (width, height) != (3524, 2355)
