"""The docker's own words in English and Japanese, and Krita's language setting.

Filter and parameter labels come from the core's declarations (via the bridge); the
choice between the languages is the host kit's (omamori_hostkit.py, copied beside this
package by `omamori install krita`).
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from . import omamori_hostkit as hostkit

STRINGS = {
    "title": ("Omamori", "Omamori（お守り）"),
    "preset": ("Preset", "プリセット"),
    "steps": ("Steps", "処理ステップ"),
    "apply_new": ("Apply to new layer", "新しいレイヤーに適用"),
    "apply_this": ("Apply to this layer", "このレイヤーに適用"),
    "action_protect": ("Protect with last preset", "前回のプリセットで保護"),
    "export": ("Export protected copy…", "保護したコピーを書き出す…"),
    "check": ("Check protection", "保護の効果を確認"),
    "check_title": ("Omamori: protection check", "Omamori: 保護の確認"),
    "done_check": ("Checked: {verdict}", "確認しました: {verdict}"),
    "overwrite_file": ("“{name}” already exists. Replace it?", "「{name}」は既にあります。置き換えますか？"),
    "save_preset": ("Save as preset…", "プリセットとして保存…"),
    "overwrite_preset": ("Replace your preset “{name}”?", "プリセット「{name}」を置き換えますか？"),
    "save_preset_prompt": ("Name of the new preset:", "新しいプリセットの名前:"),
    "cancel": ("Cancel", "キャンセル"),
    "ready": ("Ready.", "準備完了。"),
    "loading": ("Starting Omamori…", "Omamori を起動中…"),
    "working": ("Working…", "処理中…"),
    "done_new": ("Protected copy added as layer “{name}”.", "保護したレイヤー「{name}」を追加しました。"),
    "done_this": ("Layer “{name}” protected.", "レイヤー「{name}」を保護しました。"),
    "done_export": ("Exported {path}", "{path} を書き出しました"),
    "saved_preset": ("Preset “{name}” saved; GIMP and the CLI see it too.",
                     "プリセット「{name}」を保存しました（GIMP と CLI でも使えます）。"),
    "cancelled": ("Cancelled; the document was not changed.", "キャンセルしました。ドキュメントは変更されていません。"),
    "checklist": ("Before posting", "投稿前のチェックリスト"),
    "export_filter": ("Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)", "画像 (*.png *.jpg *.jpeg *.webp *.tif *.tiff)"),
    "layer_suffix": ("{name} (Omamori)", "{name}（Omamori）"),
    # Problems: one plain line each, saying what to do.
    "no_document": ("Open a document first.", "先にドキュメントを開いてください。"),
    "not_paint_layer": ("Select a paint layer (the active node is a {kind}).",
                        "ペイントレイヤーを選択してください（現在のノード: {kind}）。"),
    "layer_locked": ("Layer “{name}” is locked; unlock it first.", "レイヤー「{name}」はロックされています。解除してください。"),
    "unsupported_model": ("Colour model {model} is not supported; convert the image to RGB/Alpha "
                          "(Image › Convert Image Color Space).",
                          "カラーモデル {model} には対応していません。RGB/Alpha に変換してください"
                          "（画像 › 画像の色空間を変換）。"),
    "unsupported_depth": ("Channel depth {depth} is not supported; use 8-bit, 16-bit or float.",
                          "チャンネル深度 {depth} には対応していません（8/16 ビット整数か浮動小数点を使ってください）。"),
    "unsupported_profile": ("Could not convert a copy from colour profile {profile} to sRGB; convert the image "
                            "to sRGB (Image › Convert Image Color Space).",
                            "カラープロファイル {profile} のコピーを sRGB に変換できませんでした。画像を sRGB に変換してください"
                            "（画像 › 画像の色空間を変換）。"),
    "layer_gone": ("Layer “{name}” was removed while Omamori worked; nothing was changed.",
                   "処理中にレイヤー「{name}」が削除されたため、何も変更していません。"),
    "layer_changed": ("Layer “{name}” changed while Omamori worked; nothing was changed — run it again.",
                      "処理中にレイヤー「{name}」が変更されたため、何も変更していません。もう一度実行してください。"),
    "not_installed": ("Omamori's engine was not found. Run “omamori install krita” in a terminal, "
                      "then restart Krita.",
                      "Omamori 本体が見つかりません。ターミナルで「omamori install krita」を実行して"
                      "Krita を再起動してください。"),
    "file_exists": ("{path} already exists; choose another name.", "{path} は既にあります。別の名前にしてください。"),
    "failed": ("Omamori failed: {message}", "Omamori でエラー: {message}"),
}


class Problem(hostkit.UserError):
    """A user-facing failure from STRINGS, shown inline in the docker in the user's language."""

    def __init__(self, key: str, **values):
        self.key = key
        super().__init__(STRINGS[key], **values)

    def message(self, lang: str | None = None) -> str:
        return super().message(lang or language())


def tr(key: str, lang: str | None = None, **values) -> str:
    return text(STRINGS[key], lang).format(**values)


def text(value, lang: str | None = None) -> str:
    """A core-declared {"en", "ja"} label (or one of STRINGS' pairs) in Krita's UI language."""
    return hostkit.text(value, lang or language())


def language() -> str:
    """The kit's order, with Krita's own UI language as the editor's setting (then Qt's)."""
    return hostkit.language(_krita_language(), _qt_language())


def _krita_language() -> str:
    # Settings › Switch Application Language writes here; empty when never changed.
    path = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "klanguageoverridesrc"
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
        return parser.get("Language", "krita", fallback="").split(":")[0]
    except (OSError, configparser.Error, UnicodeDecodeError):
        return ""


def _qt_language() -> str:
    try:
        from PyQt5.QtCore import QLocale
    except ImportError:  # unit tests run without Qt
        return ""
    languages = QLocale().uiLanguages()
    return languages[0] if languages else QLocale().name()
