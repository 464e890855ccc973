"""A real `omamori` batch stopped by real signals (Ctrl-C, kill, a killed parent): one line, the
shell's exit status, no half-written file and no process left behind. POSIX only."""

import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from omamori import batch, export, imageio, jobs

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")

REPO = Path(__file__).resolve().parents[2]
INTERRUPTED = ("omamori: interrupted; nothing half-written was left. The same command again does the rest "
               "(files already written are kept and said to exist).")


SIZE = (480, 640)


def pictures(folder: Path, count: int, size=SIZE) -> Path:
    """Noise pictures, `count` of them in `folder`."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(count):
        export.write_picture(rng.random((*size, 4), dtype=np.float32), folder / f"p{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def art(tmp_path_factory) -> Path:
    """Enough pictures that a batch of them is still running when it is signalled."""
    return pictures(tmp_path_factory.mktemp("signals") / "art", 30)


def start(tmp_path: Path, *argv: str) -> subprocess.Popen:
    """`omamori ARGV` in its own session, as a terminal runs it, stderr kept in tmp_path/err."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "core"), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen([sys.executable, "-m", "omamori.cli", *argv], stdout=subprocess.DEVNULL,
                            stderr=(tmp_path / "err").open("wb"), start_new_session=True, env=env)


def session(sid: int) -> dict[int, str]:
    """Live processes of a session: pid -> command line (zombies wait for init, they are gone)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if entry.name.isdigit() and int(fields[3]) == sid and fields[0] != "Z":
                found[int(entry.name)] = (entry / "cmdline").read_text().replace("\0", " ")
        except (OSError, ValueError):  # ended while being read
            continue
    return found


def wait_until(condition, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            pytest.fail("timed out")
        time.sleep(0.01)


def workers_busy(proc: subprocess.Popen) -> bool:
    return sum("forkserver" in cmd for cmd in session(proc.pid).values()) >= 3  # the server and 2 workers


def finish(proc: subprocess.Popen, tmp_path: Path, out: Path) -> tuple[int, list[str]]:
    """Exit status and stderr lines, once every process of the run has ended; checks the outputs."""
    code = proc.wait(timeout=60)
    try:
        wait_until(lambda: not session(proc.pid), 20)
    finally:
        for pid in session(proc.pid):  # never leave them to the next test
            os.kill(pid, signal.SIGKILL)
    written = sorted(out.iterdir()) if out.exists() else []
    assert not [p.name for p in written if p.name.startswith(".")]
    for path in written:  # finished before the stop: whole
        assert imageio.load(path).pixels.shape == (*SIZE, 4)
    return code, (tmp_path / "err").read_text().splitlines()


def importing_numpy(proc: subprocess.Popen) -> bool:
    """Whether the fork server is importing omamori for its workers (it has numpy, not yet all)."""
    def has_numpy(pid):
        try:
            return "numpy" in Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            return False
    return any("forkserver" in cmd and has_numpy(pid) for pid, cmd in session(proc.pid).items())


def test_ctrl_c_while_the_workers_start_is_one_line(tmp_path, art):
    """The fork server imports omamori for its workers; a Ctrl-C then printed its traceback."""
    out = tmp_path / "out"
    proc = start(tmp_path, "apply", "noise", "--jobs", "2", "--out", str(out), str(art))
    wait_until(lambda: importing_numpy(proc))
    os.killpg(proc.pid, signal.SIGINT)
    code, err = finish(proc, tmp_path, out)
    assert code == 130 and err == [f"omamori: {art}: 30 pictures; 0 other files skipped.", INTERRUPTED]


def test_kill_stops_the_batch_and_its_workers(tmp_path, art):
    out = tmp_path / "out"
    proc = start(tmp_path, "apply", "noise", "--jobs", "2", "--out", str(out), str(art))
    wait_until(lambda: workers_busy(proc))
    proc.send_signal(signal.SIGTERM)  # the command only, as `kill PID` does: its workers were left running
    code, err = finish(proc, tmp_path, out)
    assert code == 128 + signal.SIGTERM and err[-1] == INTERRUPTED


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_the_whole_run_is_one_line(tmp_path, art, number):
    """`timeout`, a closed terminal: every process of the run gets the signal."""
    out = tmp_path / "out"
    proc = start(tmp_path, "apply", "noise", "--jobs", "2", "--out", str(out), str(art))
    wait_until(lambda: workers_busy(proc))
    os.killpg(proc.pid, number)
    code, err = finish(proc, tmp_path, out)
    assert code == 128 + number and err[-1] == INTERRUPTED and "Traceback" not in "\n".join(err)


def test_workers_end_when_the_batch_is_killed_outright(tmp_path, art):
    """SIGKILL (or a crash) gives the batch's process no chance to stop its pool."""
    out = tmp_path / "out"
    proc = start(tmp_path, "apply", "noise", "--jobs", "2", "--out", str(out), str(art))
    wait_until(lambda: workers_busy(proc))
    proc.kill()
    assert finish(proc, tmp_path, out)[0] == -signal.SIGKILL


def terminated_while_writing(task, preset, overwrite):
    """A worker call that gets SIGTERM halfway through writing its output, as a `kill` can."""
    real = export.write_atomic

    def slow(path, data, overwrite=False):
        def halves(handle):
            handle.write(data[:len(data) // 2])
            os.kill(os.getpid(), signal.SIGTERM)
            handle.write(data[len(data) // 2:])
        return real(path, halves, overwrite=overwrite)

    export.write_atomic = slow
    try:
        return batch.protect_task(task, preset, overwrite)
    finally:
        export.write_atomic = real


def test_a_worker_terminated_while_writing_leaves_no_temp_file(tmp_path):
    """It finishes the file (a write is never cut short) and ends; the pool reports its file."""
    art = pictures(tmp_path / "art", 2, size=(64, 64))
    preset = jobs.single_filter_preset("noise", {"amount": 4})
    planned = batch.plan([art], preset, tmp_path / "out")
    results = [None, None]
    call = partial(terminated_while_writing, preset=preset, overwrite=False)
    batch.run_in_processes(planned.tasks, [0, 1], call, 2, results.__setitem__)
    assert all("the worker process stopped" in r.error for r in results)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["p00-protected.png", "p01-protected.png"]  # whole: each try wrote all of it
    for name in written:
        assert imageio.load(tmp_path / "out" / name).pixels.shape == (64, 64, 4)
