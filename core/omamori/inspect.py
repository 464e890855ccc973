"""`omamori inspect`: what protection a file carries, as far as a reader can tell."""

from __future__ import annotations

from pathlib import Path

from . import imageio, metadata
from .errors import escape_controls
from .filters import notice, stamp
from .i18n import Text

_NOT_STATED = Text("none: the file does not say that AI training is prohibited",
                   "なし（AI 学習の禁止は記されていません）")
_UNKNOWN = Text("not a value of the IPTC/PLUS vocabulary; its meaning is unknown",
                "IPTC/PLUS の語彙にない値のため、意味は不明です")


def inspect_file(path: str | Path) -> dict:
    """Opt-out metadata, the invisible stamp's author id, and the visible notice.

    The same keys for every file (`--json` prints them): optout.found says that a DataMining
    value is present, optout.ai_training what it says (`ai_training`); stamp.found that an author
    id was read; notices, what reading the file could not keep ({"en", "ja"} each). Text read
    from the file has its control characters escaped, so that no escape code hidden in EXIF or
    XMP reaches the terminal."""
    data = imageio.read_input(path)
    picture = imageio.load(path, data)
    optout = {key: escape_controls(value) if isinstance(value, str) else value
              for key, value in metadata.read_optout(path, data).items()}
    optout["ai_training"] = ai_training(optout["data_mining"])
    return {
        "file": shown_path(path),
        "width": picture.pixels.shape[1],
        "height": picture.pixels.shape[0],
        "frames": max(1, len(picture.frames)),
        "optout": optout,
        "stamp": read_stamp(picture),
        "notice": notice.find_notice(picture.pixels),
        "notices": [text.as_dict() for text in picture.notices],
    }


def shown_path(path: str | Path) -> str:
    """The path as one printable line of valid UTF-8: a name's undecodable bytes (kept by Python as
    lone surrogates, which no UTF-8 output can carry) are shown as \\xff escapes."""
    text = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return escape_controls(text)


def ai_training(code: str | None) -> str:
    """"prohibited", "allowed", "unspecified", "not_stated" (no DataMining value) or "unknown"."""
    if code is None:
        return "not_stated"
    return metadata.DATA_MINING[code][0] if code in metadata.DATA_MINING else "unknown"


def read_stamp(picture: imageio.Picture) -> dict:
    author_id, confidence = stamp.decode(picture.pixels)
    if confidence < stamp.MIN_CONFIDENCE:  # a CRC can pass by chance on unmarked noise
        author_id = None
    return {"found": author_id is not None, "author_id": author_id, "confidence": round(confidence, 3)}


def describe(report: dict, lang: str | None = None) -> list[str]:
    """`inspect_file`'s report as lines for people, in `lang` (default: the user's language)."""
    def say(pair: Text, **values) -> str:
        return pair.get(lang).format(**values)

    lines = [say(Text("{file}: {width}×{height} px", "{file}: {width}×{height} px"), **report)]
    lines += _optout_lines(report["optout"], say)
    lines.append(_stamp_line(report["stamp"], say))
    lines.append(_notice_line(report["notice"], say))
    lines.append(say(Text("Visible watermark: not checked; look at the picture.",
                          "見える透かし: 確認していません。画像を見て確かめてください。")))
    if report["frames"] > 1:
        lines.append(say(Text("An animation of {frames} frames: the mark and the notice were checked on the first "
                              "frame only.",
                              "{frames} フレームのアニメーションです。マークと表示は最初のフレームだけで確認しました。"),
                         frames=report["frames"]))
    lines += [Text.from_value(text).get(lang) for text in report["notices"]]
    return lines


def _optout_lines(optout: dict, say) -> list[str]:
    code = optout["data_mining"]
    meaning = (_NOT_STATED if code is None else metadata.DATA_MINING[code][1] if code in metadata.DATA_MINING
               else _UNKNOWN)
    lines = [say(Text("AI training opt-out (metadata): {meaning}", "AI 学習の拒否（メタデータ）: {meaning}"),
                 meaning=say(meaning))]
    if code is not None:
        lines[0] += say(Text(" (IPTC/PLUS DataMining = {code})", "（IPTC/PLUS DataMining = {code}）"), code=code)
    for key, label in _OPTOUT_FIELDS:
        value = optout[key]
        if isinstance(value, bool):
            value = say(Text("yes", "はい") if value else Text("no", "いいえ"))
        if value is not None:
            lines.append(f"  {say(label)}: {value}")
    return lines


_OPTOUT_FIELDS = (
    ("creator", Text("Creator (XMP dc:creator)", "作者（XMP dc:creator）")),
    ("rights", Text("Rights (XMP dc:rights)", "権利（XMP dc:rights）")),
    ("usage_terms", Text("Usage terms (XMP xmpRights:UsageTerms)", "利用条件（XMP xmpRights:UsageTerms）")),
    ("marked", Text("Marked as rights-managed (XMP xmpRights:Marked)", "権利管理の表示（XMP xmpRights:Marked）")),
    ("exif_artist", Text("Artist (EXIF)", "作者（EXIF Artist）")),
    ("exif_copyright", Text("Copyright (EXIF)", "著作権（EXIF Copyright）")),
)


def _stamp_line(found: dict, say) -> str:
    if not found["found"]:
        return say(Text("Invisible author mark: none could be read. Either the picture was never marked, or the mark "
                        "was erased (cropping, even 2 % off one edge, rotating, mirroring, or shrinking a small "
                        "picture and compressing it); this check cannot tell which.",
                        "見えない作者マーク: 読み取れませんでした。マークが付いていないか、消えたか（切り抜き〈端を 2 % "
                        "切るだけでも〉・回転・左右反転、小さい画像の縮小と圧縮）のどちらかで、この確認では区別できません。"))
    sure = say(Text("confidence {confidence:.2f} of 1", "確からしさ {confidence:.2f} / 1"), **found)
    if found["author_id"] == 0:
        return say(Text("Invisible author mark: id 0, Omamori's default ({sure}): marked with Omamori, but no "
                        "author id was chosen, so it does not say who drew it (set stamp.author_id).",
                        "見えない作者マーク: ID 0（Omamori の既定値、{sure}）。Omamori で処理した印ですが、作者 ID が"
                        "選ばれていないため、誰の作品かは示しません（stamp.author_id を設定してください）。"), sure=sure)
    return say(Text("Invisible author mark: author id {author_id} ({sure}).",
                    "見えない作者マーク: 作者 ID {author_id}（{sure}）。"), author_id=found["author_id"], sure=sure)


def _notice_line(found: dict, say) -> str:
    if found["found"]:
        return say(Text("Visible notice 「{text}」: found.", "見える表示「{text}」: あります。"), text=notice.DEFAULT_TEXT)
    return say(Text("Visible notice: not found. Only the default notice 「{text}」 is looked for: other text, a "
                    "notice cut by cropping, one under about 12 px high or one crossed by the drawing's lines "
                    "(about one picture in five) is not found.",
                    "見える表示: 見つかりませんでした。探すのは既定の表示「{text}」だけです。別の文言、切り抜きで"
                    "欠けた表示、高さ 12 px ほど未満の表示、絵の線が重なった表示（5 枚に 1 枚ほど）は見つかりません。"),
               text=notice.DEFAULT_TEXT)
