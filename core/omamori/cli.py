"""The `omamori` command line (help and messages in English or Japanese)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading
import traceback
from typing import NoReturn

from . import __version__, batch, jobs, presets
from .bridge.hostkit import new_preset
from .errors import OmamoriError, ParamError, PresetError
from .i18n import Text, columns, current_language
from .registry import get_registry

T = Text
CONNECT_TIMEOUT_S = 20


def say(text: Text, **values) -> str:
    return text.get().format(**values)


def fail_line(message: str) -> None:
    print(f"omamori: {message}", file=sys.stderr)


# ---- protect / apply -------------------------------------------------------

def add_batch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help=say(T(
        "image files, or folders (the pictures inside, sub-folders included)",
        "画像ファイル、またはフォルダ（中の画像をサブフォルダも含めて）")))
    parser.add_argument("--out", metavar="DIR", help=say(T(
        "write into DIR (created if missing; sub-folders mirrored) instead of beside each input",
        "入力の隣ではなく DIR に書き出す（無ければ作成。サブフォルダの構成も再現）")))
    parser.add_argument("--overwrite", action="store_true", help=say(T(
        "replace outputs that already exist (inputs are never written)",
        "既にある出力を置き換える（入力ファイルには書き込みません）")))
    parser.add_argument("--jobs", type=positive_int, metavar="N", help=say(T(
        "protect N files at once (default: one per CPU core)", "同時に N 件処理する（既定: CPU コア数）")))
    parser.add_argument("--json", action="store_true", help=say(T(
        "one JSON object per input on stdout", "入力ごとに JSON を1行ずつ標準出力へ")))
    parser.add_argument("--debug", action="store_true", help=say(T(
        "show the full traceback of an internal error", "内部エラーの詳細（トレースバック）を表示する")))


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(say(T("{value!r} is not a whole number of at least 1.",
                                               "{value!r} は 1 以上の整数ではありません。"), value=value))
    return number


def run_batch(args: argparse.Namespace, preset: presets.Preset) -> int:
    """Protects every input (folders walked), going on past bad files; 1 if any failed."""
    client = connect(args.scheduler) if getattr(args, "scheduler", None) else None
    planned = batch.plan(args.inputs, preset, args.out, overwrite=args.overwrite)
    for notice in planned.notices:
        fail_line(notice)
    bar = progress_bar(len(planned.tasks), enabled=not args.json and sys.stderr.isatty())
    try:
        results = batch.run(planned, preset, overwrite=args.overwrite, workers=args.jobs, client=client,
                            report_dir=getattr(args, "report", None),
                            on_result=lambda result: report_result(result, args.json, args.debug),
                            on_progress=lambda done, total: bar.update(done - bar.n))
    finally:
        bar.close()
        if client is not None:
            client.close()
    failures = sum(not result.ok for result in results)
    if not args.json and preset.export.profile and failures < len(results):
        print_checklist(preset)
    return 1 if failures else 0


def connect(address: str):
    """A Dask client for `--scheduler`; a missing extra or an unreachable scheduler is one line."""
    try:
        from distributed import Client
    except ImportError:
        raise OmamoriError(T("--scheduler needs the cluster extra: pip install 'omamori[cluster]'.",
                             "--scheduler にはクラスタ用の追加機能が必要です: pip install 'omamori[cluster]'。")) from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, ValueError, TimeoutError) as err:
        raise OmamoriError(T("cannot reach the Dask scheduler at {address} ({why}).",
                             "Dask スケジューラ {address} に接続できません（{why}）。"),
                           address=address, why=str(err).splitlines()[0] if str(err) else type(err).__name__) from None


def report_result(result: jobs.FileResult, as_json: bool, debug: bool = False) -> None:
    if as_json:
        print(json.dumps(result.as_dict(), ensure_ascii=False), flush=True)
    elif result.ok:
        print(result.output, flush=True)
    else:
        fail_line(result.error)
    if result.ok:  # on stderr with --json too: stdout stays one object per input
        for notice in result.notices:
            fail_line(f"{result.input}: {notice}")
    if debug and result.debug:
        print(result.debug, file=sys.stderr, end="" if result.debug.endswith("\n") else "\n")


def print_checklist(preset: presets.Preset) -> None:
    lines = jobs.posting_checklist(preset)
    if lines:
        print(say(T("Before posting ({profile}):", "投稿前のチェックリスト（{profile}）:"),
                  profile=profile_label(preset.export.profile)), file=sys.stderr)
        for line in lines:
            print(f"  - {line}", file=sys.stderr)


def profile_label(name: str) -> str:
    """A posting profile's name as people know it ("X（旧Twitter）"), else its file name."""
    from .profiles import load_profile

    try:
        return load_profile(name).label.get()
    except OmamoriError:
        return name


def progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled or total < 1, unit=say(T("file", "件")), file=sys.stderr)


def cmd_protect(args: argparse.Namespace) -> int:
    preset = presets.load_preset(args.preset)
    preset.validate()
    return run_batch(args, preset)


def cmd_apply(args: argparse.Namespace) -> int:
    filt = get_registry().get(args.filter)
    params = dict(parse_assignment(item) for item in args.set or [])
    preset = jobs.single_filter_preset(filt.name, params)
    preset.validate()
    return run_batch(args, preset)


def parse_assignment(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ParamError(T("--set needs PARAM=VALUE, got {item!r}.", "--set には PARAM=VALUE が必要です（{item!r}）。"),
                           item=item)
    return name.strip(), value


# ---- filters / presets / inspect ----------------------------------------------

def cmd_filters(args: argparse.Namespace) -> int:
    described = [f.describe() for f in get_registry().all()]
    if args.json:
        print(json.dumps(described, ensure_ascii=False, indent=2))
        return 0
    lang_key = current_language()
    for filt in described:
        print(f"{filt['name']:<10} {filt['label'][lang_key]} — {filt['help'][lang_key]}")
        for p in filt["params"]:
            bounds = f" [{p['min']}–{p['max']}]" if p["min"] is not None else ""
            choices = f" {{{', '.join(p['choices'])}}}" if p["choices"] else ""
            print(f"    --set {p['name']}=…  {p['type']}{bounds}{choices} = {p['default']!r}  {p['label'][lang_key]}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    action = args.action
    if action == "list":
        problems: list[str] = []
        for preset in presets.list_presets(problems):
            kind = say(T("built-in", "組み込み")) if preset.builtin else say(T("user", "ユーザー"))
            print(f"{preset.name:<16} {kind:<8} {preset.label.get()}")
        for problem in problems:  # a broken user file is shown, not fatal
            fail_line(problem)
    elif action == "show":
        print(json.dumps(presets.load_preset(args.name).to_dict(), ensure_ascii=False, indent=2))
    elif action == "save":
        saved = presets.save_preset(preset_from_base(args), overwrite=args.overwrite)
        print(saved)
    elif action == "import":
        print(presets.import_preset(args.path))
    elif action == "export":
        print(presets.export_preset(args.name, args.path))
    elif action == "delete":
        presets.delete_preset(args.name)
    return 0


def preset_from_base(args: argparse.Namespace) -> presets.Preset:
    """A copy of --base under NAME, with --set FILTER.PARAM=VALUE changes."""
    data = new_preset(presets.load_preset(args.base).to_dict(), args.name)
    for item in args.set or []:
        key, value = parse_assignment(item)
        filter_name, _, param = key.partition(".")
        step = next((s for s in data["steps"] if s["filter"] == filter_name), None)
        if step is None or not param:
            raise ParamError(T("--set {key}: use FILTER.PARAM with a filter of the preset.",
                                 "--set {key}: プリセット内のフィルタを FILTER.PARAM で指定してください。"), key=key)
        step.setdefault("params", {})[param] = value
    return presets.preset_from_dict(data, presets.named_source(args.name))


def cmd_inspect(args: argparse.Namespace) -> int:
    """Each file in turn; a file that cannot be read is one line and the others are still inspected."""
    from .inspect import describe, inspect_file

    status = 0
    for index, path in enumerate(args.files):
        try:
            report = inspect_file(path)
        except OmamoriError as err:
            fail_line(err.message())
            status = 1
            continue
        if args.json:  # one file: as before; several: one object a line, like protect --json
            print(json.dumps(report, ensure_ascii=False, indent=2 if len(args.files) == 1 else None), flush=True)
        else:  # what each value means, in the user's language
            print(("\n" if index else "") + "\n".join(describe(report)), flush=True)
    return status


# ---- install ------------------------------------------------------------------

def cmd_install(args: argparse.Namespace) -> int:
    from .installers import gimp, krita

    installer = {"gimp": gimp, "krita": krita}[args.editor]
    if args.action == "install" and args.editor == "krita" and args.zip:
        print(krita.build_zip(args.zip))
        return 0
    where = installer.install(args.home) if args.action == "install" else installer.uninstall(args.home)
    for path in where:
        print(path)
    print(next_step(args.action, args.editor, bool(where)))
    return 0


NEXT_STEPS = {
    ("install", "gimp"): T("Restart GIMP, then use Filters › Omamori.", "GIMP を再起動し、フィルター › Omamori から使ってください。"),
    ("install", "krita"): T("Restart Krita, then open Settings › Dockers › Omamori.",
                            "Krita を再起動し、設定 › ドッキングパネル › Omamori を開いてください。"),
    ("uninstall", "gimp"): T("Removed; restart GIMP.", "削除しました。GIMP を再起動してください。"),
    ("uninstall", "krita"): T("Removed; restart Krita.", "削除しました。Krita を再起動してください。"),
}


def next_step(action: str, editor: str, changed: bool) -> str:
    """What to do after `omamori install|uninstall EDITOR`: an uninstall that found nothing says so."""
    if action == "uninstall" and not changed:
        return say(T("The {editor} plug-in was not installed; nothing removed.",
                     "{editor} のプラグインは入っていませんでした。何も削除していません。"),
                   editor={"gimp": "GIMP", "krita": "Krita"}[editor])
    return say(NEXT_STEPS[action, editor])


# ---- argparse in the user's language ------------------------------------------

# argparse's own usage errors (the same wording in Python 3.11–3.13), a `{field}` where it fills
# something in: each is matched in English and said again in the user's language.
ARGPARSE_MESSAGES = tuple(T(en, ja) for en, ja in (
    ("the following arguments are required: {names}", "次の引数が必要です: {names}"),
    ("unrecognized arguments: {args}", "認識できない引数です: {args}"),
    ("argument {name}: {message}", "引数 {name}: {message}"),
    ("expected one argument", "値を 1 つ指定してください"),
    ("expected at least one argument", "値を 1 つ以上指定してください"),
    ("invalid choice: {value} (choose from {choices})", "無効な選択です: {value}（選択肢: {choices}）"),
    ("invalid {type} value: {value}", "{type} として無効な値です: {value}"),
    ("ambiguous option: {option} could match {matches}",
     "あいまいなオプションです: {option} は {matches} のどれとも取れます"),
    ("ignored explicit argument {value}", "このオプションは値を取りません（{value}）"),
))
USAGE = T("usage: ", "使い方: ")
HEADINGS = (T("positional arguments:", "位置引数:"), T("options:", "オプション:"))


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors, usage line and help headings follow the language."""

    def __init__(self, *args, add_help: bool = True, **kwargs):
        super().__init__(*args, add_help=False, **kwargs)
        if add_help:  # argparse's own -h says this in English only
            self.add_argument("-h", "--help", action="help", help=say(T(
                "show this help message and exit", "このヘルプを表示して終了する")))

    def format_usage(self) -> str:
        return localise_usage(super().format_usage())

    def format_help(self) -> str:
        lines = localise_usage(super().format_help()).split("\n")
        return "\n".join(next((h.get() for h in HEADINGS if line == h.en), line) for line in lines)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, say(T("{prog}: error: {message}\n", "{prog}: エラー: {message}\n"),
                         prog=self.prog, message=argparse_message(message)))


def argparse_message(message: str) -> str:
    """One of argparse's messages in the user's language; one it does not know stays as it is."""
    for text in ARGPARSE_MESSAGES:
        match = re.fullmatch(template_pattern(text.en), message, re.DOTALL)
        if match:
            values = match.groupdict()
            if "message" in values:  # "argument X: …" wraps another of argparse's messages
                values["message"] = argparse_message(values["message"])
            return text.get().format(**values)
    return message


def template_pattern(template: str) -> str:
    """A regular expression for `template`, each `{field}` matching any text."""
    return re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(template))


def localise_usage(text: str) -> str:
    """`text` with argparse's "usage: " in the user's language, its wrapped lines kept aligned."""
    if not text.startswith(USAGE.en):
        return text
    usage, gap, rest = text.partition("\n\n")
    # Japanese characters take two columns: indent the continuation lines by the difference.
    shift = " " * (columns(USAGE.get()) - len(USAGE.en))
    usage = USAGE.get() + re.sub(r"\n(?= )", "\n" + shift, usage[len(USAGE.en):])
    return usage + gap + rest


# ---- parser -------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="omamori", description=say(T(
        "Protect illustrations from AI training and image-to-image reuse.",
        "イラストを AI 学習と i2i（画像からの生成）から守ります。")))
    parser.add_argument("--version", action="version", version=f"omamori {__version__}", help=say(T(
        "show program's version number and exit", "バージョンを表示して終了する")))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    protect = sub.add_parser("protect", help=say(T("protect images with a preset", "プリセットで画像を保護")))
    protect.add_argument("--preset", default="standard", help=say(T(
        "preset name or JSON file (default: standard)", "プリセット名または JSON ファイル（既定: standard）")))
    protect.add_argument("--scheduler", metavar="ADDRESS", help=say(T(
        "run the batch on a Dask cluster (e.g. tcp://10.0.0.5:8786; needs omamori[cluster])",
        "Dask クラスタで処理する（例: tcp://10.0.0.5:8786。omamori[cluster] が必要）")))
    protect.add_argument("--report", metavar="DIR", help=say(T(
        "also write a protection report picture per input into DIR (see `omamori evaluate`)",
        "入力ごとに保護レポート画像を DIR に書き出す（`omamori evaluate` と同じ測定）")))
    add_batch_options(protect)
    protect.set_defaults(run=cmd_protect)

    apply = sub.add_parser("apply", help=say(T("run one filter", "フィルタを1つ実行")),
                           epilog=say(T("`omamori filters` lists each filter's parameters.",
                                        "各フィルタのパラメータは `omamori filters` で確認できます。")))
    apply.add_argument("filter", metavar="FILTER", help=say(T(
        "the filter to run, e.g. guard, noise, notice (see `omamori filters`)",
        "実行するフィルタ（例: guard・noise・notice。`omamori filters` で一覧）")))
    apply.add_argument("--set", action="append", metavar="PARAM=VALUE", help=say(T(
        "set one of the filter's parameters, e.g. --set strength=high (repeatable)",
        "フィルタのパラメータを指定（例: --set strength=high。繰り返し可）")))
    add_batch_options(apply)
    apply.set_defaults(run=cmd_apply)

    filters = sub.add_parser("filters", help=say(T("list filters and parameters", "フィルタとパラメータの一覧")))
    filters.add_argument("--json", action="store_true", help=say(T(
        "the declarations as JSON (what the editors build their dialogs from)",
        "宣言を JSON で出力（エディタのダイアログはこれから作られます）")))
    filters.set_defaults(run=cmd_filters)

    add_presets_parser(sub)

    inspect = sub.add_parser("inspect", help=say(T(
        "show opt-out metadata, author mark and notice", "オプトアウト情報・作者マーク・表示の確認")))
    inspect.add_argument("--json", action="store_true", help=say(T(
        "the report as JSON (one object a line for several files)", "レポートを JSON で出力（複数のファイルは 1 行に 1 つ）")))
    inspect.add_argument("files", metavar="FILE", nargs="+", help=say(T(
        "pictures to inspect", "確認する画像")))
    inspect.set_defaults(run=cmd_inspect)

    for action in ("install", "uninstall"):
        cmd = sub.add_parser(action, help=say(T(f"{action} the GIMP or Krita plug-in",
                                                "GIMP / Krita プラグインの" + ("導入" if action == "install" else "削除"))))
        cmd.add_argument("editor", choices=("gimp", "krita"), help=say(T("the editor", "エディタ")))
        cmd.add_argument("--home", help=argparse.SUPPRESS)  # tests install into a scratch home
        if action == "install":
            cmd.add_argument("--zip", metavar="FILE", help=say(T(
                "Krita: build a zip for “Import Python Plugin from File…” instead",
                "Krita: 「ファイルから Python プラグインをインポート」用の zip を作る")))
        cmd.set_defaults(run=cmd_install, action=action)

    add_evaluate_command(sub)
    return parser


NAME_HELP = T("the preset's name (see `omamori presets list`)", "プリセット名（`omamori presets list` で一覧）")
PATH_HELP = T("the preset's JSON file", "プリセットの JSON ファイル")


def add_presets_parser(sub) -> None:
    cmd = sub.add_parser("presets", help=say(T("manage presets", "プリセットの管理")))
    actions = cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help=say(T("list the presets", "プリセットの一覧")))
    actions.add_parser("show", help=say(T("print a preset as JSON", "プリセットを JSON で表示"))).add_argument(
        "name", help=say(NAME_HELP))
    save = actions.add_parser("save", help=say(T("save a copy of --base with changes", "--base を変更して保存")))
    save.add_argument("name", help=say(NAME_HELP))
    save.add_argument("--base", default="standard", help=say(T(
        "the preset to start from (default: standard)", "元にするプリセット（既定: standard）")))
    save.add_argument("--set", action="append", metavar="FILTER.PARAM=VALUE", help=say(T(
        "change one step's parameter, e.g. --set notice.placement=top-left (repeatable)",
        "ステップのパラメータを変更（例: --set notice.placement=top-left。繰り返し可）")))
    save.add_argument("--overwrite", action="store_true", help=say(T(
        "replace a preset of yours with that name", "同じ名前の自分のプリセットを置き換える")))
    actions.add_parser("import", help=say(T("add a preset from a JSON file", "JSON ファイルからプリセットを追加"))
                       ).add_argument("path", help=say(PATH_HELP))
    export = actions.add_parser("export", help=say(T("write a preset to a JSON file", "プリセットを JSON ファイルに書き出す")))
    export.add_argument("name", help=say(NAME_HELP))
    export.add_argument("path", help=say(PATH_HELP))
    actions.add_parser("delete", help=say(T("delete a preset of yours", "自分のプリセットを削除"))).add_argument(
        "name", help=say(NAME_HELP))
    cmd.set_defaults(run=cmd_presets)


def add_evaluate_command(sub) -> None:
    """Adds `evaluate` to the `omamori` sub-command parser."""
    say = Text.format
    cmd = sub.add_parser("evaluate", help=say(Text(
        "measure how well a protected copy is protected", "保護済みコピーの保護の強さを測定")))
    cmd.add_argument("original", metavar="ORIGINAL", help=say(Text("the picture before protection", "保護前の画像")))
    cmd.add_argument("protected", metavar="PROTECTED", help=say(Text("its protected copy", "その保護済みコピー")))
    cmd.add_argument("--profile", metavar="NAME", help=say(Text(
        "also simulate posting with this posting profile, or `all` for every profile (default: the generic "
        "0.75x + JPEG 85 posting and the file as saved)",
        "この投稿プロファイルでの投稿もシミュレート（`all` ですべてのプロファイル。既定: 一般的な 0.75 倍 + JPEG 85 "
        "と保存したままのファイル）")))
    cmd.add_argument("--json", action="store_true", help=say(Text("all figures as JSON", "すべての数値を JSON で出力")))
    cmd.add_argument("--report", metavar="FILE", help=say(Text(
        "also write a report picture (PNG): original, protected, where it changed, what an AI model sees",
        "レポート画像（PNG）も書き出す: 元画像・保護後・変化した場所・AI モデルに見える画像")))
    cmd.set_defaults(run=_run_evaluate)


def _run_evaluate(args) -> int:
    from .evaluate import run_evaluate  # the measuring code loads only for this command

    return run_evaluate(args)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, stopping a run as Ctrl-C does (every `except KeyboardInterrupt` cleans up)."""

    def __init__(self, number: int):
        super().__init__(number)
        self.number = number


def stop_like_ctrl_c(number: int, frame) -> NoReturn:
    raise Stopped(number)


@contextlib.contextmanager
def stop_signals_like_ctrl_c():
    """A `kill`, `timeout` or closed terminal would end this process at once: its worker processes
    would be left running, and nothing would say that the batch stopped."""
    if threading.current_thread() is not threading.main_thread():  # only there can handlers be set
        yield
        return
    numbers = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    before = {number: signal.signal(number, stop_like_ctrl_c) for number in numbers}
    try:
        yield
    finally:  # main() also runs inside other programs (the tests): leave their handlers as they were
        for number, handler in before.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with stop_signals_like_ctrl_c():
            return args.run(args)
    except (ParamError, PresetError) as err:
        fail_line(err.message())
        return 2  # a usage problem: nothing was processed
    except OmamoriError as err:
        fail_line(err.message())
        return 1
    except BrokenPipeError:  # `omamori filters | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except KeyboardInterrupt as err:
        fail_line(say(T("interrupted; nothing half-written was left. The same command again does the rest "
                        "(files already written are kept and said to exist).",
                        "中断しました。書きかけのファイルは残っていません。同じコマンドをもう一度実行すると残りを"
                        "処理します（書き終えたファイルはそのまま残り、既にあると表示されます）。")))
        return 128 + getattr(err, "number", signal.SIGINT)  # the shell's convention: 130 for Ctrl-C, 143 for a kill
    except Exception as err:  # a bug, not the user's doing: one line, the traceback on request
        if getattr(args, "debug", False):
            traceback.print_exc()
        fail_line(say(T("internal error ({kind}: {why}); run with --debug for details.",
                        "内部エラー（{kind}: {why}）。詳しくは --debug を付けて実行してください。"),
                      kind=type(err).__name__, why=(str(err).splitlines() or [""])[0]))
        return 1


if __name__ == "__main__":
    sys.exit(main())
