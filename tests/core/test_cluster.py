"""The batch on a real Dask cluster on this machine: `dask scheduler` and two `dask worker`
processes on 127.0.0.1, started here and always torn down; outputs must equal a local run's."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from omamori import batch, export, imageio, presets
from omamori.cli import main

distributed = pytest.importorskip("distributed", reason="needs the cluster extra: pip install 'omamori[cluster]'")

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLE = REPO / "examples" / "omamori-example.png"
START_TIMEOUT_S = 120


def dask(*args: str, log: Path) -> subprocess.Popen:
    """One of dask's own commands, in its own process group so that teardown reaches its children;
    it can import this file, as pytest does, for the task a test submits from here."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True, env=env)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


@pytest.fixture
def cluster(tmp_path):
    """The scheduler's address, once two single-threaded workers have joined."""
    info = tmp_path / "scheduler.json"
    procs = [dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info),
                  log=tmp_path / "scheduler.log")]
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not info.exists():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                pytest.fail("dask scheduler did not start: " + (tmp_path / "scheduler.log").read_text()[-2000:])
            time.sleep(0.2)
        for n in range(2):
            procs.append(dask("worker", "--scheduler-file", str(info), "--host", "127.0.0.1", "--nthreads", "1",
                              "--nworkers", "1", "--no-dashboard", "--death-timeout", "60",
                              log=tmp_path / f"worker{n}.log"))
        address = json.loads(info.read_text())["address"]
        with distributed.Client(address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT_S)
        yield address
    finally:
        for proc in reversed(procs):
            stop(proc)


def crops(folder: Path, count: int) -> list[Path]:
    full = imageio.load(EXAMPLE).pixels
    folder.mkdir()
    paths = []
    for i in range(count):
        path = folder / f"art{i}.png"
        export.write_picture(np.ascontiguousarray(full[i * 40:i * 40 + 96, i * 60:i * 60 + 128]), path)
        paths.append(path)
    return paths


def test_a_cluster_run_equals_the_local_run(cluster, tmp_path, capsys):
    inputs = crops(tmp_path / "in", 4)
    broken = tmp_path / "in" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    inputs.insert(1, broken)
    preset = presets.load_preset("standard")
    local = batch.protect_paths(inputs, preset, tmp_path / "local", jobs=1)
    with distributed.Client(cluster) as client:
        remote = batch.protect_paths(inputs, preset, tmp_path / "remote", client=client)
    assert [r.input for r in remote] == [str(p) for p in inputs]
    assert [r.ok for r in remote] == [True, False, True, True, True]
    assert remote[1].error == local[1].error == f"{broken}: not an image, or a damaged one."
    for a, b in zip(local, remote):
        if a.ok:
            assert Path(a.output).read_bytes() == Path(b.output).read_bytes()
    # The command line the README shows: same files again, through --scheduler.
    code = main(["protect", "--scheduler", cluster, "--out", str(tmp_path / "cli"), str(tmp_path / "in")])
    out, err = capsys.readouterr()
    assert code == 1 and err.splitlines()[-1] == f"omamori: {broken}: not an image, or a damaged one."
    assert out.splitlines() == [str(tmp_path / "cli" / f"art{i}-protected.png") for i in range(4)]
    assert (tmp_path / "cli" / "art3-protected.png").read_bytes() == Path(local[4].output).read_bytes()


def die_once_after_writing(task, preset, overwrite, lang, report_dir, claims):
    """The worker holding art1.png dies once, right after its output is written and before its
    result is back; Dask then tries art1.png again on a worker that is alive."""
    result = batch.protect_task_on_worker(task, preset, overwrite, lang, report_dir, claims)
    died = Path(task.target).with_name("art1.died")
    if Path(task.input).name == "art1.png" and not died.exists():
        died.touch()
        os._exit(9)
    return result


def test_a_file_written_before_its_worker_died_is_tried_again_not_refused(cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "protect_task_on_worker", die_once_after_writing)
    inputs = crops(tmp_path / "in", 3)
    preset = presets.load_preset("standard")
    with distributed.Client(cluster) as client:
        remote = batch.protect_paths(inputs, preset, tmp_path / "remote", client=client)
    assert (tmp_path / "remote" / "art1.died").exists()
    assert [r.ok for r in remote] == [True, True, True], [r.error for r in remote]
    local = batch.protect_paths(inputs[1:2], preset, tmp_path / "local", jobs=1)
    assert Path(remote[1].output).read_bytes() == Path(local[0].output).read_bytes()


def test_an_unreachable_scheduler_is_one_line(tmp_path, capsys, monkeypatch):
    from omamori import cli

    monkeypatch.setattr(cli, "CONNECT_TIMEOUT_S", 2)
    art = crops(tmp_path / "in", 1)[0]
    code = main(["protect", "--scheduler", "tcp://127.0.0.1:9", str(art)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
    assert not (tmp_path / "in" / "art0-protected.png").exists()
