"""Whole-process figures of the command line (a benchmark, not a test): from process start to
files written, median of several runs, with the load average beside every figure.

    python tests/benchmarks/bench_batch.py [--runs 5] [--only guard,batch,memory]

- guard: `omamori apply guard` on one 2048x2048 PNG, MP/s, until the file is written and until the
  process has exited.
- batch: `omamori protect` (standard) over 16 pictures of 1 MP, `--jobs 1` against the default
  (one worker per core), run in turn (1, default, 1, default, ...) so that a drifting machine
  moves both; MP/s and the ratio.
- memory: peak resident memory of `omamori protect` (standard) on one picture of 1, 4 and 16 MP
  (`--sizes 100` for the 100 MP canvas).

The pictures are tiled from the bundled example painting, so no shared data is needed."""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import picture  # noqa: E402  (the same test picture as the pipeline benchmark)

OMAMORI = [sys.executable, "-m", "omamori.cli"]


def write_picture(path: Path, megapixels: float, offset: int = 0) -> Path:
    import numpy as np

    from omamori import export

    rgba = picture(megapixels + 0.5)  # a little larger, so that crops at an offset stay full-size
    side = int(round((megapixels * 1e6) ** 0.5))
    export.write_picture(np.ascontiguousarray(rgba[offset:offset + side, offset:offset + side]), path)
    return path


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def bench_guard(work: Path, runs: int) -> None:
    """Two figures per run: until the file is in place (the folder's last change: the protected file is
    linked into place, then its temporary name removed) and until the process has exited (Python's
    teardown and the thread pools' shutdown come after the file is written)."""
    source = write_picture(work / "guard.png", 2048 * 2048 / 1e6)
    out = work / "guard-out"
    written, exited = [], []
    for _ in range(runs + 1):  # the first run warms the disk cache and is not counted
        shutil.rmtree(out, ignore_errors=True)
        start = time.time_ns()
        exited.append(timed(OMAMORI + ["apply", "guard", "--out", str(out), str(source)])[0])
        written.append((out.stat().st_mtime_ns - start) / 1e9)
    for label, times in (("to file written", written[1:]), ("to process exit", exited[1:])):
        median = statistics.median(times)
        print(f"apply guard 2048², {label}: median {median:.2f} s over {runs} runs "
              f"(min {min(times):.2f}, max {max(times):.2f}), {4.194 / median:.2f} MP/s, load {load()}")


def bench_batch(work: Path, runs: int) -> None:
    folder = work / "batch"
    folder.mkdir()
    for i in range(16):
        write_picture(folder / f"art{i:02d}.png", 1.0, offset=i * 31)
    out = work / "batch-out"
    figures: dict[str, list[float]] = {"--jobs 1": [], "default": []}
    for run in range(runs + 1):
        for name, extra in (("--jobs 1", ["--jobs", "1"]), ("default", [])):
            shutil.rmtree(out, ignore_errors=True)
            seconds = timed(OMAMORI + ["protect", "--out", str(out), *extra, str(folder)])[0]
            if run:  # the first round warms up
                figures[name].append(seconds)
    one, default = (statistics.median(figures[k]) for k in ("--jobs 1", "default"))
    ratios = [a / b for a, b in zip(figures["--jobs 1"], figures["default"])]
    print(f"standard 16 x 1 MP: --jobs 1 median {one:.2f} s ({16 / one:.2f} MP/s); default "
          f"({os.cpu_count()} cores) median {default:.2f} s ({16 / default:.2f} MP/s); "
          f"pairwise speed-up median {statistics.median(ratios):.2f}x; load {load()}")


def bench_memory(work: Path, runs: int, sizes: tuple = (1, 4, 16)) -> None:
    for megapixels in sizes:
        source = write_picture(work / f"mem{megapixels}.png", megapixels)
        peaks = []
        for _ in range(runs):
            out = work / f"mem{megapixels}-out"
            shutil.rmtree(out, ignore_errors=True)
            peaks.append(timed(OMAMORI + ["protect", "--out", str(out), str(source)])[1])
        print(f"protect standard {megapixels} MP: peak {statistics.median(peaks):.0f} MiB "
              f"(min {min(peaks):.0f}, max {max(peaks):.0f}), load {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="guard,batch,memory")
    parser.add_argument("--sizes", default="1,4,16", help="megapixels for the memory runs (e.g. 100)")
    args = parser.parse_args()
    sizes = tuple(float(x) if "." in x else int(x) for x in args.sizes.split(","))
    print(f"{os.cpu_count()} CPU cores; load average (1/5/15 min) {load()} at the start")
    # As `pip install` does: every process then loads bytecode instead of compiling the sources it imports
    # (an editable install under PYTHONDONTWRITEBYTECODE would otherwise compile them on every start).
    import omamori

    compileall.compile_dir(Path(omamori.__file__).parent, quiet=1)
    work = Path(tempfile.mkdtemp(prefix="omamori-bench-"))
    try:
        for name in args.only.split(","):
            if name == "memory":
                bench_memory(work, args.runs, sizes)
            else:
                {"guard": bench_guard, "batch": bench_batch}[name](work, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
