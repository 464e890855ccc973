"""The GIMP plug-in in the real GIMP 3.0 (Debian trixie root, headless).

As a user would: `omamori install gimp` from Omamori's own environment, then GIMP runs the
installed plug-in, which talks to that environment through the bridge. One GIMP start runs
every procedure (tests/hosts/gimp_batch.py, ~30 s); the tests below assert on what it measured.
A second start under Xvfb opens the "Protect…" dialog and screenshots it (into docs/images, for the
README, only with OMAMORI_REFRESH_SCREENSHOTS=1: see screenshots.py).
"""

import json
import shutil
import time

import pytest

import screenshots
from chroot import REPO, VENV_BIN, host_path, run_in_root

pytestmark = pytest.mark.realhost

WORK = "/tmp/omamori-gimp-test"          # inside the root
ENV = {"HOME": f"{WORK}/home", "OMAMORI_HOME": f"{WORK}/omamori-home", "OMAMORI_LANG": "en",
       "OMAMORI_TEST_OUT": f"{WORK}/out"}
BATCH = "gimp-console-3.0 -i --batch-interpreter=python-fu-eval -b \"exec(open('{}').read())\" --quit"
PLUGIN_DIR = f"{WORK}/home/.config/GIMP/3.0/plug-ins/omamori"


def omamori(args, **kwargs):
    """The CLI of the environment inside the root (the one `omamori install gimp` wires GIMP to)."""
    return run_in_root(f"{VENV_BIN}/omamori {args}", ENV, **kwargs)


def profile_preset():
    """A built-in preset that exports for a posting profile (so the export shows a checklist)."""
    listed = omamori("presets list", check=True).stdout.split()
    return next((name for name in ("x", "pixiv", "web") if name in listed), "standard")


@pytest.fixture(scope="module")
def gimp(trixie_root):
    """Installs the plug-in into a fresh home in the root and runs the batch once."""
    work = host_path(WORK)
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("home", "omamori-home", "out"):
        (work / sub).mkdir(parents=True)
    installed = omamori("install gimp", check=True)
    env = dict(ENV, OMAMORI_TEST_PROFILE_PRESET=profile_preset())
    started = time.time()
    proc = run_in_root(BATCH.format("/omamori/tests/hosts/gimp_batch.py"), env, timeout=600)
    seconds = time.time() - started
    results_file = work / "out" / "results.json"
    assert results_file.exists(), f"GIMP batch wrote no results (exit {proc.returncode}):\n{proc.stderr[-6000:]}"
    results = json.loads(results_file.read_text())
    return {"results": results, "log": proc.stdout + proc.stderr, "seconds": seconds,
            "installed": installed.stdout, "env": env}


def result(gimp, name):
    value = gimp["results"][name]
    assert "exception" not in value, value["exception"]
    return value


def test_install_puts_the_plugin_where_gimp_finds_it(gimp):
    folder = host_path(PLUGIN_DIR)
    script = folder / "omamori.py"
    assert script.read_bytes() == (REPO / "gimp_plugin" / "omamori" / "omamori.py").read_bytes()
    assert script.stat().st_mode & 0o111
    assert json.loads((folder / "omamori.json").read_text())["python"].startswith(VENV_BIN)
    assert (folder / "omamori_bridge.py").exists() and (folder / "omamori_hostkit.py").exists()
    # The helper modules GIMP imports from beside the script (the procedures below prove they load).
    package = REPO / "gimp_plugin" / "omamori" / "omamori_gimp"
    for source in package.glob("*.py"):
        assert (folder / "omamori_gimp" / source.name).read_bytes() == source.read_bytes(), source.name


def test_every_procedure_is_registered_under_filters_omamori(gimp):
    procs = result(gimp, "procedures")
    filters = json.loads(omamori("filters --json", check=True).stdout)
    # Size filters ("Limit size") change the canvas: GIMP gets them only through Export.
    names = [f["name"] for f in (filters["filters"] if isinstance(filters, dict) else filters)
             if f.get("category") != "size"]
    expected = {"plug-in-omamori-protect", "plug-in-omamori-export", "plug-in-omamori-save-preset",
                "plug-in-omamori-check"}
    expected |= {"plug-in-omamori-" + n.replace("_", "-") for n in names}
    assert set(procs["names"]) == expected
    assert procs["menus"]["plug-in-omamori-protect"] == ["<Image>/Filters/Omamori"]


@pytest.mark.parametrize("case", ["protect_rgba8", "protect_rgba16", "protect_float", "protect_grey"])
def test_protect_changes_colour_and_keeps_alpha(gimp, case):
    r = result(gimp, case)
    assert r["status"] == "success", r["error"]
    assert r["changed"] > 0.5 and r["mean_rgb"] > 0
    assert r["max_alpha"] == 0
    assert r["layers"] == 1


@pytest.mark.parametrize("case, slack", [("guard_budget_8bit", 1e-6), ("guard_budget_16bit", 1 / 65535)])
def test_guard_stays_within_its_budget(gimp, case, slack):
    r = result(gimp, case)
    assert r["status"] == "success", r["error"]
    assert 0 < r["max_rgb"] <= 4 / 255 + slack


def test_noise_stays_within_its_peak(gimp):
    r = result(gimp, "noise_budget_8bit")
    assert r["status"] == "success", r["error"]
    assert 0 < r["max_rgb"] <= 3.5 / 255 + 1e-6   # peak 3 levels, plus rounding to 8 bits


def test_selection_limits_the_change(gimp):
    r = result(gimp, "selection")
    assert r["status"] == "success", r["error"]
    assert r["inside"]["changed"] > 0.5
    assert r["outside"]["max_rgb"] == 0 and r["outside"]["max_alpha"] == 0


def test_new_layer_keeps_the_original(gimp):
    r = result(gimp, "new_layer")
    assert r["status"] == "success", r["error"]
    assert r["layers"] == ["Omamori (light)", "art"]
    assert r["original"]["max_rgb"] == 0 and r["new"]["changed"] > 0.5


def test_indexed_images_are_refused_clearly(gimp):
    r = result(gimp, "indexed")
    assert r["status"] == "execution-error"
    assert "indexed" in r["error"].lower() and "RGB" in r["error"]
    assert r["unchanged"]["max_rgb"] == 0


def test_layer_groups_are_refused_clearly(gimp):
    r = result(gimp, "group")
    assert r["status"] == "execution-error" and "group" in r["error"]
    assert r["unchanged"]["max_rgb"] == 0


def test_several_selected_layers_in_one_run(gimp):
    r = result(gimp, "two_layers")
    assert r["status"] == "success", r["error"]
    assert r["first"]["changed"] > 0.5 and r["second"]["changed"] > 0.5


def test_core_errors_come_back_as_errors(gimp):
    r = result(gimp, "bad_preset")
    assert r["status"] == "execution-error" and "no-such-preset-xyz" in r["error"]
    assert r["max_rgb"] == 0


def test_every_filter_procedure_runs_with_its_declared_defaults(gimp):
    runs = {name: r for name, r in result(gimp, "filters").items() if name.startswith("plug-in-")}
    assert runs, "no per-filter procedures ran"
    for name, r in runs.items():
        assert r["status"] == "success", f"{name}: {r['error']}"
        assert r["max_alpha"] == 0, name


def test_export_writes_a_protected_copy_with_opt_out_metadata(gimp):
    r = result(gimp, "export")
    assert r["status"] == "success", r["error"]
    assert r["values"][0] == r["path"] and r["exists"]
    assert r["unchanged"]["max_rgb"] == 0 and r["layers_after"] == 2
    assert r["images_open"] == 1  # the flattened duplicate was deleted
    tags = json.loads(run_in_root(f"exiftool -j -G1 -a {r['path']}", check=True).stdout)[0]
    mining = [v for k, v in tags.items() if k.endswith(":DataMining")]
    assert mining and "prohibited" in str(mining[0]).lower(), tags
    assert any(k.endswith(":Marked") for k in tags), tags


def test_export_for_a_posting_profile_returns_its_checklist(gimp):
    r = result(gimp, "export_profile")
    assert r["status"] == "success", r["error"]
    assert r["exists"] and r["unchanged"]["max_rgb"] == 0
    assert r["values"][1].strip(), f"{gimp['env']['OMAMORI_TEST_PROFILE_PRESET']}: no posting checklist"


def test_export_never_replaces_an_existing_file_unless_asked(gimp):
    r = result(gimp, "export_existing")
    assert r["status"] == "execution-error" and r["path"] in r["error"] and "overwrite" in r["error"]
    assert "\n" not in r["error"].strip() and r["kept"]
    assert r["unchanged"]["max_rgb"] == 0 and r["images_open"] == 1
    r = result(gimp, "export_overwrite")
    assert r["status"] == "success", r["error"]
    assert not r["kept"] and host_path(r["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_check_returns_the_evaluate_report_and_leaves_the_image(gimp):
    r = result(gimp, "check")
    assert r["status"] == "success", r["error"]
    report = json.loads(r["values"][0])
    assert r["unchanged"]["max_rgb"] == 0 and r["unchanged"]["max_alpha"] == 0
    assert r["images_opened"] == 0  # headless: the figures only, no report view
    # The same fields as `omamori evaluate --json` of that picture and its protected copy.
    host_path(f"{WORK}/out/check-cli").mkdir(exist_ok=True)
    protected = json.loads(omamori(f"protect --preset light --out {WORK}/out/check-cli --json {r['original']}",
                                   check=True).stdout.splitlines()[0])["output"]
    # With --report, as the worker measures (it draws the report picture, so its dict names one too).
    evaluated = json.loads(omamori(f"evaluate {r['original']} {protected} --json "
                                   f"--report {WORK}/out/check-cli/report.png", check=True).stdout)
    assert set(report) == set(evaluated), (sorted(report), sorted(evaluated))


def test_saved_preset_is_shared_with_the_cli(gimp):
    r = result(gimp, "save_preset")
    assert r["status"] == "success", r["error"]
    saved = host_path(r["values"][0])
    assert saved.exists() and str(saved).startswith(str(host_path(ENV["OMAMORI_HOME"])))
    steps = json.loads(saved.read_text())["steps"]
    assert steps[0]["filter"] == "noise" and steps[0]["params"]["amount"] == 3.0
    assert r["reuse"]["status"] == "success", r["reuse"]["error"]
    assert "gimp-saved-preset" in omamori("presets list", check=True).stdout
    host_path(f"{WORK}/out/cli").mkdir(exist_ok=True)
    out = json.loads(omamori(f"protect --preset gimp-saved-preset --out {WORK}/out/cli --json "
                             f"{result(gimp, 'export')['path']}", check=True).stdout.splitlines()[0])
    assert out["ok"], out


def test_uninstall_removes_the_plugin(gimp):
    folder = host_path(PLUGIN_DIR)
    omamori("uninstall gimp", check=True)
    assert not folder.exists()
    omamori("install gimp", check=True)  # later tests (screenshots) use it again
    assert (folder / "omamori.py").exists()


def test_undo_groups_are_always_closed_and_nothing_crashed(gimp):
    assert result(gimp, "undo")["undo_enabled"]
    log = gimp["log"]
    assert "inconsistent state" not in log          # GIMP's warning for an undo group left open
    assert "omamori.py" not in log or "Traceback" not in log, log[-4000:]


def test_batch_is_quick(gimp):
    assert gimp["seconds"] < 240, f"one GIMP batch took {gimp['seconds']:.0f} s"


def test_menu_labels_follow_gimps_language(gimp):
    """GIMP sets LANGUAGE for plug-ins from its UI-language preference and re-registers them when it changes."""
    batch = host_path(f"{WORK}/out/labels.py")
    batch.write_text(
        "import json\nfrom gi.repository import Gimp\n"
        "pdb = Gimp.get_pdb()\n"
        "labels = {n: [pdb.lookup_procedure(n).get_menu_label()] + list(pdb.lookup_procedure(n).get_menu_paths())\n"
        "          for n in ('plug-in-omamori-protect', 'plug-in-omamori-noise')}\n"
        f"json.dump(labels, open('{WORK}/out/labels.json', 'w'), ensure_ascii=False)\n")
    env = {k: v for k, v in gimp["env"].items() if k != "OMAMORI_LANG"}
    run_in_root(BATCH.format(f"{WORK}/out/labels.py"), dict(env, LANGUAGE="ja"), timeout=300)
    labels = json.loads(host_path(f"{WORK}/out/labels.json").read_text())
    assert labels["plug-in-omamori-protect"] == ["保護(_P)…", "<Image>/Filters/Omamori"]
    assert labels["plug-in-omamori-noise"] == ["ノイズ…", "<Image>/Filters/Omamori/個別フィルタ"]


@pytest.mark.parametrize("lang, name", [("en", "gimp-protect-dialog.png"), ("ja", "gimp-protect-dialog-ja.png")])
def test_protect_dialog_interactive(gimp, lang, name, tmp_path):
    """Opens Protect… interactively under Xvfb, keeps a screenshot (for the README when refreshing),
    then clicks OK and checks that the dialog's settings protected the layer."""
    shot = f"{WORK}/out/{name}"
    script = host_path(f"{WORK}/out/dialog-{lang}.sh")
    script.write_text(
        BATCH.format("/omamori/tests/hosts/gimp_dialog_batch.py") + f" >{WORK}/out/dialog-{lang}.log 2>&1 &\n"
        "pid=$!\n"
        f"box=$(/usr/bin/python3 /omamori/tests/hosts/grab_screen.py {shot} 120 | sed -n 's/^BOX //p')\n"
        '[ -n "$box" ] || { kill $pid; exit 1; }\n'
        "set -- $box\n"
        # No window manager: the dialog is the whole non-black area and OK is its bottom-right button.
        'xdotool mousemove $(($3 - 50)) $(($4 - 30)) click 1\n'
        "for i in $(seq 90); do kill -0 $pid 2>/dev/null || exit 0; sleep 1; done\n"
        "kill $pid; exit 2\n")
    proc = run_in_root(f"xvfb-run -a -s '-screen 0 1280x1024x24' sh {WORK}/out/dialog-{lang}.sh",
                       dict(gimp["env"], OMAMORI_LANG=lang, LANGUAGE=lang), timeout=300)
    log = host_path(f"{WORK}/out/dialog-{lang}.log").read_text()
    assert proc.returncode == 0, proc.stdout + proc.stderr + log[-3000:]
    screenshots.check(host_path(shot), min_bytes=5000)
    screenshots.keep(host_path(shot), tmp_path)
    outcome = json.loads(host_path(f"{WORK}/out/dialog-result-{lang}.json").read_text())
    assert outcome["status"] == "success", outcome["error"]
    assert outcome["changed"] > 0.5 and outcome["layers"] == ["art"]
