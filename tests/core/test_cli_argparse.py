"""argparse's own usage errors and help text follow the language like the rest of the CLI."""

import pytest

from omamori import cli
from omamori.bridge.hostkit import LOCALE_VARIABLES

# (arguments, argparse's English error line, the Japanese one)
USAGE_ERRORS = (
    (["protect"], "omamori protect: error: the following arguments are required: INPUT",
     "omamori protect: エラー: 次の引数が必要です: INPUT"),
    (["filters", "--nope"], "omamori: error: unrecognized arguments: --nope",
     "omamori: エラー: 認識できない引数です: --nope"),
    (["apply", "noise", "art.png", "--set"], "omamori apply: error: argument --set: expected one argument",
     "omamori apply: エラー: 引数 --set: 値を 1 つ指定してください"),
    (["install", "paint"], "omamori install: error: argument editor: invalid choice: 'paint' (choose from ",
     "omamori install: エラー: 引数 editor: 無効な選択です: 'paint'（選択肢: "),
    (["protect", "--o", "out", "art.png"], "omamori protect: error: ambiguous option: --o could match --out, --overwrite",
     "omamori protect: エラー: あいまいなオプションです: --o は --out, --overwrite のどれとも取れます"),
    (["protect", "--jobs", "x", "art.png"], "omamori protect: error: argument --jobs: 'x' is not a whole number",
     "omamori protect: エラー: 引数 --jobs: 'x' は 1 以上の整数ではありません。"),
)
IDS = [" ".join(argv) for argv, _, _ in USAGE_ERRORS]


@pytest.fixture
def japanese_locale(monkeypatch):
    """LANG=ja_JP.UTF-8 and nothing that comes before it."""
    for name in ("OMAMORI_LANG", *LOCALE_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")


def parse(capsys, argv, parser=None):
    with pytest.raises(SystemExit) as info:
        (parser or cli.build_parser()).parse_args(argv)
    out, err = capsys.readouterr()
    return info.value.code, out, err


def split_error(err):
    """(the usage block, the lines after it): argparse prints usage, then one error line."""
    lines = err.splitlines()
    usage = [lines[0]] + [line for line in lines[1:] if line.startswith(" ")]
    return usage, lines[len(usage):]


@pytest.mark.parametrize("argv, english, _", USAGE_ERRORS, ids=IDS)
def test_usage_errors_stay_argparse_english(capsys, argv, english, _):
    code, out, err = parse(capsys, argv)
    usage, after = split_error(err)
    assert code == 2 and out == "" and usage[0].startswith("usage: omamori")
    assert len(after) == 1 and after[0].startswith(english)


@pytest.mark.parametrize("argv, _, japanese", USAGE_ERRORS, ids=IDS)
def test_usage_errors_in_japanese(capsys, japanese_locale, argv, _, japanese):
    code, out, err = parse(capsys, argv)
    usage, after = split_error(err)
    assert code == 2 and out == "" and usage[0].startswith("使い方: omamori")
    assert len(after) == 1 and after[0].startswith(japanese) and "error" not in after[0]


def test_a_type_error_from_argparse_itself_in_japanese(capsys, japanese_locale):
    parser = cli.Parser(prog="t")
    parser.add_argument("--n", type=int)
    assert parse(capsys, ["--n", "x"], parser)[2].splitlines()[-1] == "t: エラー: 引数 --n: int として無効な値です: 'x'"


def test_an_unknown_argparse_message_is_left_as_it_is(japanese_locale):
    assert cli.argparse_message("argument --x: something new") == "引数 --x: something new"
    assert cli.argparse_message("something new") == "something new"


def test_help_in_english_is_argparse_own(capsys):
    code, out, _ = parse(capsys, ["protect", "--help"])
    assert code == 0 and out.startswith("usage: omamori protect")
    assert "\npositional arguments:\n" in out and "\noptions:\n" in out and "show this help message and exit" in out
    assert "show program's version number and exit" in parse(capsys, ["--help"])[1]


def test_help_in_japanese(capsys, japanese_locale):
    code, out, _ = parse(capsys, ["protect", "--help"])
    assert code == 0 and out.startswith("使い方: omamori protect")
    assert "\n位置引数:\n" in out and "\nオプション:\n" in out and "このヘルプを表示して終了する" in out
    assert not any(word in out for word in ("usage:", "options:", "positional arguments:", "show this help"))
    assert "バージョンを表示して終了する" in parse(capsys, ["--help"])[1]


def test_wrapped_usage_stays_aligned_in_japanese(capsys, japanese_locale):
    """Continuation lines start under the first argument: 使い方 is three two-column characters."""
    usage, _ = split_error(parse(capsys, ["protect"])[2])
    assert len(usage) > 1
    first = cli.columns("使い方: omamori protect ")
    assert all(len(line) - len(line.lstrip(" ")) == first for line in usage[1:])


def every_argument(parser, where="omamori"):
    """(command, action) for each argument of `parser` and its sub-commands, --help and hidden ones aside."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_argument(sub, f"{where} {name}")
        elif not isinstance(action, argparse._HelpAction) and action.help != argparse.SUPPRESS:
            yield where, action


def test_every_argument_is_explained_in_both_languages(monkeypatch):
    """`omamori apply --help` showed FILTER and --set with nothing beside them, and so did inspect's FILE,
    install's editor, evaluate's two pictures and the presets' names and paths."""
    monkeypatch.setenv("OMAMORI_LANG", "en")
    english = {(where, action.dest): action.help for where, action in every_argument(cli.build_parser())}
    monkeypatch.setenv("OMAMORI_LANG", "ja")
    japanese = {(where, action.dest): action.help for where, action in every_argument(cli.build_parser())}
    assert all(english.values()), [key for key, text in english.items() if not text]
    assert all(japanese[key] != text for key, text in english.items()), \
        [key for key, text in english.items() if japanese[key] == text]
