"""`omamori install|uninstall gimp|krita` against a scratch home: what a user's folders can hold."""

import errno
import json
import shutil
from pathlib import Path

import pytest

from omamori.cli import main
from omamori.installers import gimp, krita

EDITORS = {"gimp": gimp, "krita": krita}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def plugin_folder(editor, home):
    return gimp.plugin_dir(home) if editor == "gimp" else krita.paths(home)["package"]


@pytest.mark.parametrize("editor", EDITORS)
def test_a_file_where_a_folder_belongs_is_one_line(capsys, tmp_path, editor):
    in_the_way = plugin_folder(editor, tmp_path).parent
    in_the_way.parent.mkdir(parents=True)
    in_the_way.write_text("not a folder")
    code, out, err = run(capsys, "install", editor, "--home", tmp_path)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "internal error" not in err and str(in_the_way) in err and "move it away" in err
    assert in_the_way.read_text() == "not a folder"


@pytest.mark.parametrize("editor", EDITORS)
def test_a_folder_that_cannot_be_written_is_one_line_naming_it(capsys, tmp_path, monkeypatch, editor):
    """As root (CI) a read-only folder can still be written, so the refusal the OS gives a user is played."""
    def refused(source, target, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(shutil, "copytree", refused)
    code, _, err = run(capsys, "install", editor, "--home", tmp_path)
    assert code == 1 and err.count("\n") == 1 and "internal error" not in err
    assert f"you may not write in {plugin_folder(editor, tmp_path).parent} (read-only?)" in err


def test_the_refusal_is_in_japanese_too(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OMAMORI_LANG", "ja")
    (tmp_path / ".config").write_text("")
    code, _, err = run(capsys, "install", "gimp", "--home", tmp_path)
    assert code == 1 and "GIMP プラグインを導入できませんでした" in err and "移動してから" in err


@pytest.mark.parametrize("action", ["install", "uninstall"])
def test_a_link_at_the_plugin_folder_is_left_alone(capsys, tmp_path, action):
    """A developer's link to a checkout: once renamed aside and then failing to delete, and GIMP lost it."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "omamori.py").write_text("# mine")
    link = gimp.plugin_dir(tmp_path)
    link.parent.mkdir(parents=True)
    link.symlink_to(checkout)
    code, _, err = run(capsys, action, "gimp", "--home", tmp_path)
    assert code == 1 and err.count("\n") == 1 and "is a link or a file" in err
    assert link.is_symlink() and (link / "omamori.py").read_text() == "# mine"
    assert sorted(p.name for p in link.parent.iterdir()) == ["omamori"]  # nothing renamed aside, nothing half-made


def test_krita_follows_the_xdg_folders(tmp_path, monkeypatch):
    """Qt (and so Krita) reads pykrita from XDG_DATA_HOME and kritarc from XDG_CONFIG_HOME when set."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    installed = krita.install()
    assert (tmp_path / "data/krita/pykrita/omamori_krita/__init__.py").exists()
    assert installed[-1] == tmp_path / "config/kritarc" and "enable_omamori_krita=true" in installed[-1].read_text()
    assert krita.paths(home=tmp_path)["kritarc"] == tmp_path / ".config/kritarc"  # an explicit home wins


def test_krita_uninstall_reports_a_leftover_enable_line(capsys, tmp_path):
    krita.install(home=tmp_path)
    shutil.rmtree(krita.paths(tmp_path)["package"])
    for key in ("desktop", "action"):
        krita.paths(tmp_path)[key].unlink()
    code, out, _ = run(capsys, "uninstall", "krita", "--home", tmp_path)
    assert code == 0 and out.splitlines() == [str(tmp_path / ".config/kritarc"), "Removed; restart Krita."]
    assert "enable_omamori_krita" not in (tmp_path / ".config/kritarc").read_text()


@pytest.mark.parametrize("editor", EDITORS)
def test_a_home_with_spaces_and_japanese_keeps_other_plugins(tmp_path, editor):
    home = tmp_path / "ホーム フォルダ"
    other = plugin_folder(editor, home).with_name("someone_elses")
    other.mkdir(parents=True)
    (other / "plugin.py").write_text("# theirs")
    installer = EDITORS[editor]
    installer.install(home=home)
    installer.install(home=home)  # twice: the same result
    folder = plugin_folder(editor, home)
    assert Path(json.loads((folder / "omamori.json").read_text("utf-8"))["python"]).exists()
    installer.uninstall(home=home)
    assert not folder.exists() and (other / "plugin.py").read_text() == "# theirs"
    assert sorted(p.name for p in folder.parent.iterdir()) == ["someone_elses"]
