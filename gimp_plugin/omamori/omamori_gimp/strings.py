"""The plug-in's own words in English and Japanese.

Filter and parameter labels come from the core's declarations (through the worker); the choice
between the languages is the host kit's (omamori_hostkit.py, copied beside omamori.py by
`omamori install gimp`)."""

import omamori_hostkit as hostkit

# Every string the plug-in shows, in English and Japanese.
T = {
    "protect": {"en": "_Protect…", "ja": "保護(_P)…"},
    "protect-help": {"en": "Protect the active layer with an Omamori preset.",
                     "ja": "Omamori のプリセットでアクティブなレイヤーを保護します。"},
    "export": {"en": "_Export Protected Copy…", "ja": "保護したコピーを書き出し(_E)…"},
    "export-help": {"en": "Export a protected, flattened copy with opt-out metadata; the image is not changed.",
                    "ja": "AI 学習拒否のメタデータ付きで、保護・統合したコピーを書き出します。画像自体は変更しません。"},
    "save-preset": {"en": "_Save Current Settings as Preset…", "ja": "現在の設定をプリセットとして保存(_S)…"},
    "save-preset-help": {"en": "Save the last used Omamori settings as a preset shared with Krita and the CLI.",
                         "ja": "最後に使った設定を、Krita や CLI と共有するプリセットとして保存します。"},
    "check": {"en": "_Check Protection…", "ja": "保護の効果を確認(_C)…"},
    "check-help": {"en": "Measure how well a preset protects the active layer, on a copy; the image is not "
                         "changed. Shows the report picture and returns the figures as JSON.",
                   "ja": "プリセットがアクティブなレイヤーをどれだけ保護するかをコピーで測ります。画像自体は変更しません。"
                         "レポート画像を表示し、数値を JSON で返します。"},
    "filters-menu": {"en": "Single Filter", "ja": "個別フィルタ"},
    "preset": {"en": "Preset", "ja": "プリセット"},
    "preset-help": {"en": "A preset name or the path of a preset file.",
                    "ja": "プリセット名、またはプリセットファイルのパス。"},
    "base-preset-help": {"en": "Preset to copy; empty: the last used settings.",
                         "ja": "コピー元のプリセット。空欄なら最後に使った設定。"},
    "new-layer": {"en": "Apply to a _new layer", "ja": "新しいレイヤーに適用(_N)"},
    "new-layer-help": {"en": "Put the result on a new layer above the active one.",
                       "ja": "結果をアクティブなレイヤーの上の新しいレイヤーに置きます。"},
    "file": {"en": "File", "ja": "ファイル"},
    "file-help": {"en": "Where to write the protected copy.", "ja": "保護したコピーの書き出し先。"},
    "overwrite": {"en": "Replace an existing file", "ja": "既存のファイルを置き換える"},
    "overwrite-help": {"en": "Without it an existing file is never replaced (scripts); the dialog asks instead.",
                       "ja": "オフのとき既存のファイルは置き換えません（スクリプト用。ダイアログでは確認します）。"},
    "exists": {"en": "{path} already exists; choose another file name, or set overwrite to TRUE to replace it.",
               "ja": "{path} は既にあります。別のファイル名にするか、overwrite を TRUE にして置き換えてください。"},
    "replace": {"en": "{path} already exists. Replace it?", "ja": "{path} は既にあります。置き換えますか？"},
    "name": {"en": "Preset name", "ja": "プリセット名"},
    "name-help": {"en": "Name of the new preset.", "ja": "新しいプリセットの名前。"},
    "use": {"en": "Use {filter}", "ja": "「{filter}」を使う"},
    "output": {"en": "Output file", "ja": "出力ファイル"},
    "checklist": {"en": "Posting checklist", "ja": "投稿前のチェックリスト"},
    "result-json": {"en": "Report (JSON)", "ja": "レポート（JSON）"},
    "report-name": {"en": "Omamori check: {preset}", "ja": "Omamori 確認: {preset}"},
    "working": {"en": "Omamori: protecting…", "ja": "Omamori: 保護しています…"},
    "measuring": {"en": "Omamori: measuring…", "ja": "Omamori: 測定しています…"},
    "indexed": {"en": "Omamori cannot work on indexed images. Use Image › Mode › RGB first.",
                "ja": "Omamori はインデックスカラー画像を処理できません。先に［画像］›［モード］›［RGB］に変換してください。"},
    "no-drawable": {"en": "Select a layer first.", "ja": "先にレイヤーを選択してください。"},
    "group": {"en": "Omamori works on pixel layers, not layer groups: select a layer inside the group.",
              "ja": "Omamori はレイヤーグループには使えません。グループ内のレイヤーを選択してください。"},
    "not-installed": {"en": "Omamori's Python environment is not set up for GIMP. Run `omamori install gimp` "
                            "in the environment where Omamori is installed, then restart GIMP. ({detail})",
                      "ja": "GIMP 用の Omamori 環境が設定されていません。Omamori をインストールした環境で "
                            "`omamori install gimp` を実行し、GIMP を再起動してください。（{detail}）"},
    "wrong-size": {"en": "This preset changes the image size; use “Export Protected Copy” for it.",
                   "ja": "このプリセットは画像サイズを変えます。「保護したコピーを書き出し」を使ってください。"},
    "saved": {"en": "Saved preset “{name}”.", "ja": "プリセット「{name}」を保存しました。"},
}


class PlugInError(hostkit.UserError):
    """A failure from T with a one-line message for the user."""

    def __init__(self, key, **values):
        super().__init__(T[key], **values)


def language():
    """'ja' or 'en' in the kit's order. GIMP has no setting of its own to add: it passes its
    UI-language preference to plug-ins as LANGUAGE, which the kit reads."""
    return hostkit.language()


def tr(text, lang=None):
    """The user's language from a {"en", "ja"} pair (or a plain string)."""
    return hostkit.text(text, lang)


def say(key, **values):
    """One of this plug-in's strings, in the user's language, with its {fields} filled in."""
    return tr(T[key]).format(**values)
