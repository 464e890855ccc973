"""The batch: planning (folders, distinct names, checks before pixel work), parallel runs with
identical outputs, one line per failure whatever raised it."""

import os
import time
from pathlib import Path

import numpy as np
import pytest

from omamori import batch, export, imageio, jobs, presets
from omamori.cli import main
from omamori.jobs import FileResult

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "omamori-example.png"


def small_picture(path: Path, seed: int, size=(72, 96)) -> Path:
    """A small painting crop, different per seed, written as PNG (or the suffix's format)."""
    full = imageio.load(EXAMPLE).pixels
    y, x = (seed * 37) % (full.shape[0] - size[0]), (seed * 53) % (full.shape[1] - size[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    export.write_picture(np.ascontiguousarray(full[y:y + size[0], x:x + size[1]]), path)
    return path


def noise_preset():
    return jobs.single_filter_preset("noise", {"amount": 4})


def test_a_folder_is_walked_and_mirrored_under_out(tmp_path):
    art = tmp_path / "art"
    small_picture(art / "a.png", 1)
    small_picture(art / "sub" / "deeper" / "b.jpg", 2)
    (art / "notes.txt").write_text("not a picture")
    (art / ".hidden.png").write_bytes(b"x")
    small_picture(art / "c-protected.png", 3)  # an earlier output: not protected again
    out = tmp_path / "posted" / "new"
    results = batch.protect_paths([art], noise_preset(), out, jobs=1)
    assert [(Path(r.input).name, r.ok) for r in results] == [("a.png", True), ("b.jpg", True)]
    assert results[1].output == str(out / "sub" / "deeper" / "b-protected.jpg")
    assert imageio.load(results[1].output).format == "JPEG"
    planned = batch.plan([art], noise_preset(), out)
    assert planned.notices == [f"{art}: 2 pictures; 3 other files skipped."]


def test_an_out_folder_inside_the_input_folder_is_not_walked(tmp_path):
    art = tmp_path / "art"
    small_picture(art / "a.png", 1)
    small_picture(art / "protected" / "a-protected-copy.png", 2)  # under --out: never an input
    planned = batch.plan([art], noise_preset(), art / "protected")
    assert [Path(t.input).name for t in planned.tasks] == ["a.png"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_outputs_that_would_collide_get_distinct_names(tmp_path, overwrite):
    one = small_picture(tmp_path / "one" / "art.png", 1)
    two = small_picture(tmp_path / "two" / "art.png", 2)
    three = small_picture(tmp_path / "three" / "ART.png", 3)  # one file on case-insensitive disks
    out = tmp_path / "out"
    results = batch.protect_paths([one, two, three, one], noise_preset(), out, jobs=1, overwrite=overwrite)
    assert [r.output for r in results] == [str(out / "art-protected.png"), str(out / "art-protected-2.png"),
                                           str(out / "ART-protected-3.png")]  # the repeated input runs once
    assert "another input of this batch already writes art-protected.png" in results[1].notices[0]
    written = [imageio.load(r.output).pixels for r in results]
    assert not np.array_equal(written[0], written[1])  # nothing was replaced


def test_an_output_never_replaces_an_input_of_the_batch(tmp_path):
    art = small_picture(tmp_path / "art.png", 1)
    earlier = small_picture(tmp_path / "art-protected.png", 2)
    before = earlier.read_bytes()
    results = batch.protect_paths([art, earlier], noise_preset(), None, jobs=1, overwrite=True)
    assert results[0].output == str(tmp_path / "art-protected-2.png") and earlier.read_bytes() == before


def test_the_target_is_checked_before_any_pixel_work(tmp_path, monkeypatch):
    art = small_picture(tmp_path / "art.png", 1)
    (tmp_path / "art-protected.png").write_bytes(b"keep me")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    loaded = []
    monkeypatch.setattr(imageio, "load", lambda path: loaded.append(path))
    results = batch.protect_paths([art], noise_preset(), None, jobs=1)
    results += batch.protect_paths([art], noise_preset(), blocker / "sub", jobs=1)
    assert [r.ok for r in results] == [False, False] and loaded == []
    assert results[0].error == f"{tmp_path / 'art-protected.png'}: already exists; not overwritten (use --overwrite)."
    assert results[1].error.startswith(f"{blocker / 'sub' / 'art-protected.png'}: cannot create the folder")
    assert (tmp_path / "art-protected.png").read_bytes() == b"keep me"


def test_parallel_output_is_byte_identical_and_in_input_order(tmp_path):
    """The guard cloak too: onnxruntime threads differ between --jobs 1 and --jobs 3."""
    inputs = [small_picture(tmp_path / "in" / f"p{i}.png", i) for i in range(5)]
    inputs.insert(2, tmp_path / "in" / "missing.png")
    preset = presets.load_preset("standard")
    one = batch.protect_paths(inputs, preset, tmp_path / "one", jobs=1)
    three = batch.protect_paths(inputs, preset, tmp_path / "three", jobs=3)
    assert [r.input for r in three] == [str(p) for p in inputs]
    assert [r.ok for r in three] == [True, True, False, True, True, True]
    assert three[2].error == f"{inputs[2]}: no such file."
    for a, b in zip(one, three):
        if a.ok:
            assert Path(a.output).read_bytes() == Path(b.output).read_bytes()


def crash_on_named(task, preset, overwrite):
    """A worker call that kills its process on one file, as an out-of-memory kill would."""
    if Path(task.input).name == "crash.png":
        os._exit(9)
    return batch.protect_task(task, preset, overwrite)


def test_a_dead_worker_is_one_line_and_the_batch_goes_on(tmp_path):
    from functools import partial

    inputs = [small_picture(tmp_path / name, i) for i, name in enumerate(["a.png", "crash.png", "b.png", "c.png"])]
    planned = batch.plan(inputs, noise_preset(), tmp_path / "out")
    results = [None] * len(inputs)
    call = partial(crash_on_named, preset=noise_preset(), overwrite=False)
    batch.run_in_processes(planned.tasks, list(range(len(inputs))), call, 2, results.__setitem__)
    assert [r.ok for r in results] == [True, False, True, True], [r.error for r in results]
    assert results[1].error.startswith(f"{inputs[1]}: the worker process stopped while protecting this file")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a-protected.png", "b-protected.png",
                                                                  "c-protected.png"]


def crash_after_a_neighbour_wrote(task, preset, overwrite):
    """crash.png dies once b.png's output is written but before b.png's result is back, as it can
    happen under load: b.png is then in flight at the death and is run again alone."""
    out = Path(task.target).parent
    died = out / "crash.died"
    if Path(task.input).name == "crash.png":
        wait_for(out / "b-protected.png")
        died.touch()
        os._exit(9)
    result = batch.protect_task(task, preset, overwrite)
    if Path(task.input).name == "b.png" and not died.exists():
        wait_for(died)
        time.sleep(0.5)  # the pool sees the death first
    return result


def wait_for(path: Path, seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < end:
        time.sleep(0.02)


def test_a_neighbour_written_before_the_death_is_run_again_not_refused(tmp_path):
    from functools import partial

    inputs = [small_picture(tmp_path / name, i) for i, name in enumerate(["a.png", "crash.png", "b.png"])]
    planned = batch.plan(inputs, noise_preset(), tmp_path / "out")
    results = [None] * len(inputs)
    call = partial(crash_after_a_neighbour_wrote, preset=noise_preset(), overwrite=False)
    batch.run_in_processes(planned.tasks, list(range(len(inputs))), call, 2, results.__setitem__)
    assert [r.ok for r in results] == [True, False, True], [r.error for r in results]
    assert results[1].error.startswith(f"{inputs[1]}: the worker process stopped")


def test_an_unexpected_exception_is_one_line_and_debug_shows_it(tmp_path, monkeypatch, capsys):
    good = small_picture(tmp_path / "good.png", 1)
    odd = small_picture(tmp_path / "odd.png", 2)
    real = jobs.protect_file

    def flaky(path, *args, **kwargs):
        if Path(path).name == "odd.png":
            raise ZeroDivisionError("division by zero\nsecond line")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(jobs, "protect_file", flaky)
    code = main(["apply", "noise", "--jobs", "1", str(odd), str(good)])
    out, err = capsys.readouterr()
    assert code == 1 and out.strip() == str(tmp_path / "good-protected.png")
    assert err == (f"omamori: {odd}: internal error (ZeroDivisionError: division by zero); "
                   "run with --debug for details.\n")
    (tmp_path / "good-protected.png").unlink()
    main(["apply", "noise", "--jobs", "1", "--debug", str(odd), str(good)])
    assert "Traceback" in capsys.readouterr().err


def test_a_cancelled_worker_writes_nothing(tmp_path, monkeypatch):
    import threading

    art = small_picture(tmp_path / "art.png", 1)
    flag = threading.Event()
    flag.set()
    monkeypatch.setattr(batch, "_cancel_event", flag)
    task = batch.plan([art], noise_preset(), None).tasks[0]
    result = batch.protect_task(task, noise_preset(), False)
    assert not result.ok and result.error == "Cancelled." and sorted(p.name for p in tmp_path.iterdir()) == ["art.png"]


def test_report_dir_gets_a_report_picture_per_protected_file(tmp_path):
    art = small_picture(tmp_path / "art.png", 1, size=(96, 128))  # evaluate measures from 85 px a side
    tiny = small_picture(tmp_path / "tiny.png", 2)
    results = batch.protect_paths([art, tmp_path / "nope.png", tiny], noise_preset(), tmp_path / "out", jobs=1,
                                  report_dir=tmp_path / "reports")
    assert [r.ok for r in results] == [True, False, True]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["art-protected-report.png"]
    assert any("art-protected-report.png" in notice for notice in results[0].notices)
    assert any("no report" in notice and "too small" in notice for notice in results[2].notices)


def test_cli_folder_input_overwrite_and_jobs(capsys, tmp_path):
    art = tmp_path / "art"
    small_picture(art / "a.png", 1)
    small_picture(art / "sub" / "b.png", 2)
    (art / "readme.md").write_text("x")
    out = tmp_path / "out"
    assert main(["apply", "noise", "--out", str(out), "--jobs", "2", str(art)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [str(out / "a-protected.png"), str(out / "sub" / "b-protected.png")]
    assert captured.err == f"omamori: {art}: 2 pictures; 1 other files skipped.\n"
    assert main(["apply", "noise", "--out", str(out), str(art)]) == 1
    assert capsys.readouterr().err.count("already exists") == 2
    assert main(["apply", "noise", "--out", str(out), "--overwrite", str(art)]) == 0
    with pytest.raises(SystemExit) as info:
        main(["apply", "noise", "--jobs", "0", str(art)])
    assert info.value.code == 2


def test_file_results_are_plain_data():
    """Results travel between processes and cluster workers: they must survive pickling."""
    import pickle

    result = batch.internal_error("x.png", ValueError("bad"))
    copy = pickle.loads(pickle.dumps(result))
    assert isinstance(copy, FileResult) and copy.error == result.error and "ValueError" in copy.debug


def test_ctrl_c_stops_a_parallel_batch_and_leaves_no_partial_file(tmp_path, monkeypatch, capsys):
    inputs = [small_picture(tmp_path / "in" / f"p{i}.png", i) for i in range(6)]
    real_wait, calls = batch.wait, []

    def interrupted_wait(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # as if the user pressed Ctrl-C while the first two files were running
            raise KeyboardInterrupt
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(batch, "wait", interrupted_wait)
    code = main(["apply", "noise", "--jobs", "2", "--out", str(tmp_path / "out"), *map(str, inputs)])
    assert code == 130 and "interrupted" in capsys.readouterr().err
    written = sorted((tmp_path / "out").iterdir())
    assert len(written) <= 2 and not [p for p in written if p.name.startswith(".")]
    for path in written:  # a file that was finished before the flag reached it is whole
        assert imageio.load(path).pixels.shape == (72, 96, 4)


def test_messages_are_bilingual(tmp_path, monkeypatch):
    monkeypatch.setenv("OMAMORI_LANG", "ja")
    art = tmp_path / "art"
    small_picture(art / "a.png", 1)
    small_picture(art / "sub" / "a.png", 2)
    (art / "notes.txt").write_text("x")
    planned = batch.plan([art], noise_preset(), tmp_path / "out")
    assert planned.notices == [f"{art}: 画像 2 件。ほかのファイル 1 件は飛ばしました。"]
    planned = batch.plan([art / "a.png", art / "sub" / "a.png"], noise_preset(), tmp_path / "out")
    assert planned.tasks[1].notices == ("a-protected-2.png として書き出しました（a-protected.png はこの一括処理の別の入力が使います）。",)
    (tmp_path / "out" / "a-protected.png").write_bytes(b"x")
    assert "既に存在するため上書きしません" in batch.plan([art / "a.png"], noise_preset(), tmp_path / "out").tasks[0].error


def test_planning_a_huge_picture_says_nothing_of_its_own(tmp_path, monkeypatch, recwarn):
    """The header is read for the output name only: limits are the loader's one line, later."""
    from PIL import Image

    art = small_picture(tmp_path / "art.png", 1)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4000)  # 6912 pixels: a warning, not an error
    assert batch.plan([art], noise_preset(), None).tasks[0].target == str(tmp_path / "art-protected.png")
    assert not recwarn.list


def test_an_output_name_too_long_for_the_disk_is_one_line_and_the_batch_goes_on(tmp_path):
    """Japanese titles are 3 bytes a character: `-protected` can push a legal name past 255 bytes."""
    long = small_picture(tmp_path / ("あ" * 83 + ".png"), 1)  # 253 bytes; its output would be 263
    near = small_picture(tmp_path / ("い" * 80 + ".png"), 2)  # its output is 254 bytes: allowed
    results = batch.protect_paths([long, near, small_picture(tmp_path / "art.png", 3)], noise_preset(), None, jobs=1)
    assert [r.ok for r in results] == [False, True, True]
    assert "cannot write into" in results[0].error and "\n" not in results[0].error
