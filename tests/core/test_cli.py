"""The `omamori` command line, end to end (in-process for speed, one real subprocess)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omamori import imageio
from omamori.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "omamori-example.png"


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "art.png"
    shutil.copyfile(EXAMPLE, path)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_protect_writes_beside_the_input_and_keeps_it(capsys, picture):
    before = picture.read_bytes()
    code, out, err = run(capsys, "protect", "--preset", "light", picture)
    target = picture.with_name("art-protected.png")
    assert code == 0 and out.strip() == str(target) and err == ""
    assert picture.read_bytes() == before
    assert not np.array_equal(imageio.load(target).pixels, imageio.load(picture).pixels)


def corrected_x_profile(home, max_long_edge):
    """A user's own "x" profile, as when the platform changed before Omamori was updated."""
    from omamori.profiles import load_profile

    folder = home / "profiles"
    folder.mkdir(exist_ok=True)
    data = {**load_profile("x").to_dict(), "max_long_edge": max_long_edge}
    (folder / "x.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_a_corrected_profile_sets_the_protected_size(capsys, picture, scratch_home):
    corrected_x_profile(scratch_home, 512)  # the example is 768×576; the built-in preset says 4096
    code, out, err = run(capsys, "protect", "--preset", "x", picture)
    with Image.open(out.strip()) as im:
        assert code == 0 and im.size == (512, 384)
    assert "shrinks" not in err  # protected at the size it will be posted at


def test_a_preset_that_will_be_shrunk_after_posting_says_so(capsys, picture, scratch_home, tmp_path):
    corrected_x_profile(scratch_home, 512)
    preset = tmp_path / "no-resize.json"
    preset.write_text(json.dumps({"schema": 1, "name": "no-resize", "steps": [{"filter": "noise"}],
                                  "export": {"profile": "x"}}), encoding="utf-8")
    code, out, err = run(capsys, "protect", "--preset", preset, picture)
    with Image.open(out.strip()) as im:
        assert code == 0 and im.size == (768, 576)  # a notice, not a refusal
    assert ("X (Twitter) shrinks pictures over 512×512 px: this one (768×576) will be shrunk after posting, "
            "which weakens the cloak; add a resize step (Limit size) to the preset.") in err


def test_batch_goes_on_past_bad_files_and_reports_json(capsys, picture, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run(capsys, "protect", "--preset", "light", "--json", "--out", out_dir, bad, picture)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert lines[0] == {"input": str(bad), "output": None, "ok": False,
                        "error": f"{bad}: not an image, or a damaged one."}
    assert lines[1]["ok"] and lines[1]["output"] == str(out_dir / "art-protected.png") and lines[1]["error"] is None
    assert sorted(p.name for p in out_dir.iterdir()) == ["art-protected.png"]  # nothing partial for the bad one


def test_existing_output_needs_overwrite(capsys, picture):
    target = picture.with_name("art-protected.png")
    target.write_bytes(b"keep me")
    code, _, err = run(capsys, "protect", "--preset", "light", picture)
    assert code == 1 and "already exists" in err and target.read_bytes() == b"keep me"
    assert run(capsys, "protect", "--preset", "light", "--overwrite", picture)[0] == 0
    assert imageio.load(target).pixels.shape == (576, 768, 4)


def test_unwritable_output_folder_is_one_line(capsys, picture, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    code, _, err = run(capsys, "protect", "--preset", "light", "--out", blocker, picture)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err


def test_an_out_that_looks_like_a_file_name_is_refused_in_one_line(capsys, picture, tmp_path):
    code, out, err = run(capsys, "protect", "--preset", "light", "--out", tmp_path / "p.png", picture)
    assert code == 1 and out == "" and err.count("\n") == 1 and "names a folder, not a file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art.png"]  # no folder called p.png
    (tmp_path / "p.png").mkdir()  # an existing folder of that name is a folder: used as given
    assert run(capsys, "protect", "--preset", "light", "--out", tmp_path / "p.png", picture)[0] == 0
    assert (tmp_path / "p.png" / "art-protected.png").is_file()


def test_usage_errors_exit_2_before_touching_files(capsys, picture):
    assert run(capsys, "apply", "noise", "--set", "amount=99", picture)[0] == 2
    code, _, err = run(capsys, "apply", "nope", picture)
    assert code == 2 and "unknown filter 'nope'" in err
    code, _, err = run(capsys, "protect", "--preset", "nope", picture)
    assert code == 2 and "unknown preset" in err
    assert run(capsys, "apply", "noise", "--set", "amount", picture)[0] == 2  # a malformed --set is a usage error
    assert sorted(p.name for p in picture.parent.iterdir()) == ["art.png"]
    with pytest.raises(SystemExit) as info:
        main(["protect"])
    assert info.value.code == 2


def test_apply_runs_one_filter_with_validated_settings(capsys, picture, tmp_path):
    code, out, _ = run(capsys, "apply", "noise", "--set", "amount=6", "--set", "seed=3", "--json",
                       "--out", tmp_path / "o" / "deeper", picture)
    result = json.loads(out)  # the missing output folders were created
    assert code == 0 and result["ok"] and result["output"] == str(tmp_path / "o" / "deeper" / "art-protected.png")
    delta = imageio.load(result["output"]).pixels - imageio.load(picture).pixels
    assert 0 < np.abs(delta).max() * 255 <= 6 * 6


def test_filters_json_comes_from_the_declarations(capsys):
    code, out, _ = run(capsys, "filters", "--json")
    described = {f["name"]: f for f in json.loads(out)}
    assert code == 0 and {"noise", "blur", "watermark", "notice", "stamp", "resize"} <= set(described)
    amount = next(p for p in described["noise"]["params"] if p["name"] == "amount")
    assert amount["label"]["ja"] and amount["label"]["en"] and amount["max"] is not None


def test_presets_save_show_export_import_delete(capsys, tmp_path):
    assert run(capsys, "presets", "save", "mine", "--base", "light", "--set", "noise.amount=3")[0] == 0
    code, out, _ = run(capsys, "presets", "show", "mine")
    shown = json.loads(out)
    assert code == 0 and next(s for s in shown["steps"] if s["filter"] == "noise")["params"]["amount"] == 3.0
    assert "mine" in run(capsys, "presets", "list")[1]
    exported = tmp_path / "mine.json"
    assert run(capsys, "presets", "export", "mine", exported)[0] == 0
    assert run(capsys, "presets", "delete", "mine")[0] == 0
    assert "mine" not in run(capsys, "presets", "list")[1]
    assert run(capsys, "presets", "import", exported)[0] == 0
    assert "mine" in run(capsys, "presets", "list")[1]
    code, _, err = run(capsys, "presets", "save", "x2", "--base", "light", "--set", "nofilter.a=1")
    assert code == 2 and "FILTER.PARAM" in err  # a usage error


def test_inspect_reads_back_marks_and_metadata(capsys, picture, tmp_path):
    preset = {"schema": 1, "name": "marks", "steps": [
        {"filter": "stamp", "params": {"author_id": 123456789}}, {"filter": "notice", "params": {}}],
        "export": {"metadata": {"author": "Hanako"}}}
    path = tmp_path / "marks.json"
    path.write_text(json.dumps(preset))
    assert run(capsys, "protect", "--preset", path, picture)[0] == 0
    code, out, _ = run(capsys, "inspect", "--json", picture.with_name("art-protected.png"))
    report = json.loads(out)
    assert code == 0 and report["stamp"]["author_id"] == 123456789
    assert report["notice"]["found"] and report["optout"]["found"] and report["optout"]["creator"] == "Hanako"
    code, out, _ = run(capsys, "inspect", "--json", picture)
    report = json.loads(out)
    assert report["stamp"]["author_id"] is None and not report["notice"]["found"]
    assert not report["optout"]["found"]


def test_inspect_takes_several_files_and_goes_on_past_a_bad_one(capsys, picture, tmp_path):
    """Checking a folder of posted pictures: one report each, a bad file is one line and the rest are read."""
    assert run(capsys, "protect", "--preset", "light", picture)[0] == 0
    protected, junk = picture.with_name("art-protected.png"), tmp_path / "junk.png"
    junk.write_text("not a picture")
    code, out, err = run(capsys, "inspect", picture, junk, protected)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "junk.png" in err
    assert out.count("Visible notice") == 2 and str(protected) in out
    code, out, _ = run(capsys, "inspect", "--json", picture, protected)
    reports = [json.loads(line) for line in out.splitlines()]  # one object a line, like protect --json
    assert code == 0 and [r["optout"]["found"] for r in reports] == [False, True]


def test_messages_follow_the_language(capsys, picture, monkeypatch):
    monkeypatch.setenv("OMAMORI_LANG", "ja")
    code, _, err = run(capsys, "protect", "--preset", "light", picture.with_name("missing.png"))
    assert code == 1 and "ファイルがありません" in err


def test_japanese_inspect_and_checklist_say_no_english_keys(capsys, picture, monkeypatch, tmp_path):
    monkeypatch.setenv("OMAMORI_LANG", "ja")
    code, _, err = run(capsys, "protect", "--preset", "x", "--out", tmp_path / "out", picture)
    assert code == 0 and "投稿前のチェックリスト（X（旧Twitter））:" in err  # the profile's name, not "x"
    code, out, _ = run(capsys, "inspect", next((tmp_path / "out").iterdir()))
    assert code == 0 and "見えない作者マーク: ID 0" in out and "見える表示「AI学習・無断転載禁止」: あります" in out
    assert "True" not in out and "\nwidth:" not in out  # the described report, not the raw keys


def test_console_script_never_shows_a_traceback(tmp_path):
    """The installed `omamori` on bad input: one line per file, exit 1."""
    # The venv's bin is not on PATH when pytest runs as .venv/bin/python (CI): look beside the interpreter too.
    beside = Path(sys.executable).with_name("omamori")
    exe = str(beside) if beside.is_file() else shutil.which("omamori") or pytest.skip(
        "the omamori console script is not installed")
    empty, text = tmp_path / "empty.png", tmp_path / "notes.jpg"
    empty.write_bytes(b"")
    text.write_text("not a picture")
    proc = subprocess.run([exe, "protect", "--preset", "light", str(empty), str(text)],
                          capture_output=True, text=True, env=dict(os.environ, OMAMORI_LANG="en"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [f"omamori: {empty}: the file is empty.",
                                        f"omamori: {text}: not an image, or a damaged one."]


def test_a_third_party_filter_plugin_is_found(tmp_path):
    """Installs tests/data/example_plugin with pip and sees its filter in the CLI and a preset."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(REPO / "tests" / "data" / "example_plugin")], check=True)
    env = dict(os.environ, PYTHONPATH=str(target), OMAMORI_LANG="en")
    listed = subprocess.run([sys.executable, "-m", "omamori.cli", "filters", "--json"],
                            capture_output=True, text=True, env=env, check=True)
    assert "posterize" in {f["name"] for f in json.loads(listed.stdout)}
    preset = tmp_path / "poster.json"
    preset.write_text(json.dumps({"schema": 1, "name": "poster",
                                  "steps": [{"filter": "posterize", "params": {"levels": 4}}]}))
    art = tmp_path / "art.png"
    shutil.copyfile(EXAMPLE, art)
    subprocess.run([sys.executable, "-m", "omamori.cli", "protect", "--preset", str(preset), str(art)],
                   env=env, check=True, capture_output=True)
    levels = np.unique(np.asarray(Image.open(tmp_path / "art-protected.png"))[..., 0])
    assert len(levels) <= 4
    without = subprocess.run([sys.executable, "-m", "omamori.cli", "filters", "--json"],
                             capture_output=True, text=True, env=dict(env, OMAMORI_NO_PLUGINS="1"), check=True)
    assert "posterize" not in {f["name"] for f in json.loads(without.stdout)}
    # The same plugin as a zipped egg (no folders to scan): found through importlib.metadata.
    egg = shutil.make_archive(str(tmp_path / "plugin"), "zip", target)
    zipped = subprocess.run([sys.executable, "-m", "omamori.cli", "filters", "--json"], capture_output=True,
                            text=True, env=dict(env, PYTHONPATH=egg), check=True)
    assert "posterize" in {f["name"] for f in json.loads(zipped.stdout)}


def test_presets_list_reports_a_broken_user_file_and_goes_on(capsys, scratch_home):
    (scratch_home / "presets").mkdir(exist_ok=True)
    (scratch_home / "presets" / "broken.json").write_text("{not json")
    code, out, err = run(capsys, "presets", "list")
    assert code == 0 and "standard" in out and "broken.json" in err and err.count("\n") == 1


def test_an_unexpected_error_outside_a_file_is_one_line(capsys, monkeypatch):
    from omamori import cli

    def broken(args):
        raise KeyError("surprise")

    monkeypatch.setattr(cli, "cmd_filters", broken)
    code, out, err = run(capsys, "filters")
    assert code == 1 and err == "omamori: internal error (KeyError: 'surprise'); run with --debug for details.\n"


@pytest.mark.parametrize("editor, menu", [("gimp", "Filters › Omamori"), ("krita", "Settings › Dockers › Omamori")])
def test_install_prints_each_path_and_what_to_do_next(capsys, tmp_path, editor, menu):
    assert main(["install", editor, "--home", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(Path(line).exists() for line in lines[:-1]) and lines[:-1] and menu in lines[-1]
    assert main(["uninstall", editor, "--home", str(tmp_path)]) == 0
    assert "restart" in capsys.readouterr().out.splitlines()[-1]
    assert main(["uninstall", editor, "--home", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"The {editor.title() if editor == 'krita' else 'GIMP'} plug-in was not installed; nothing removed."


def test_every_presets_action_has_help(capsys):
    with pytest.raises(SystemExit):
        main(["presets", "--help"])
    out = capsys.readouterr().out
    for action in ("list", "show", "save", "import", "export", "delete"):
        assert any(line.split()[:1] == [action] and len(line.split()) > 1 for line in out.splitlines()), action


def test_json_mode_keeps_notices_on_stderr(capsys, picture, tmp_path):
    """--json keeps stdout to one object per input; a notice (here: a renamed output) still reaches the user."""
    other = tmp_path / "b" / "art.png"
    other.parent.mkdir()
    shutil.copyfile(picture, other)
    code, out, err = run(capsys, "protect", "--preset", "light", "--json", "--out", tmp_path / "o", picture, other)
    assert code == 0 and [json.loads(line)["ok"] for line in out.splitlines()] == [True, True]
    assert err == (f"omamori: {other}: written as art-protected-2.png: another input of this batch already "
                   "writes art-protected.png.\n")


def test_main_runs_in_a_thread(capsys):
    """Stop signals can only be caught in the main thread: main() called from another (a GUI's worker
    thread, a test runner) said 'internal error (ValueError: signal only works in main thread...)'."""
    import threading

    codes = []
    thread = threading.Thread(target=lambda: codes.append(main(["filters"])))
    thread.start()
    thread.join()
    assert codes == [0] and "internal error" not in capsys.readouterr().err
