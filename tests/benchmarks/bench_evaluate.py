"""How long `omamori evaluate` takes on a 2 MP picture (goal: <= 5 s on 2 cores), per phase.

    python tests/benchmarks/bench_evaluate.py [--runs 3] [--threads 2] [--report out.png]

The picture is a 4x3 mosaic of held-out-style artwork portraits (../shared/data/artwork, or
$OMAMORI_DATA) on a gradient, 1632x1224 (2.0 MP), protected with the guard cloak at epsilon 8. Prints the
median of --runs timings of each phase and the machine's load average, so figures read on a busy machine
can be judged.
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "core"))

from omamori import evaluate, jobs, models  # noqa: E402

DATA = Path(os.environ.get("OMAMORI_DATA", ROOT.parent / "shared" / "data" / "artwork"))


def two_megapixel_picture() -> np.ndarray:
    """float32 RGBA 1224x1632: 12 portraits composited on a vertical gradient."""
    h, w = 1224, 1632
    canvas = np.zeros((h, w, 4), np.float32)
    canvas[..., :3] = np.linspace([0.85, 0.8, 0.7], [0.3, 0.4, 0.6], h, dtype=np.float32)[:, None, :]
    canvas[..., 3] = 1.0
    files = sorted(DATA.glob("*.png"))[:12]
    for i, path in enumerate(files):
        tile = np.asarray(Image.open(path).convert("RGBA").resize((408, 408)), np.float32) / 255
        y, x = (i // 4) * 408, (i % 4) * 408
        alpha = tile[..., 3:4]
        canvas[y:y + 408, x:x + 408, :3] = tile[..., :3] * alpha + canvas[y:y + 408, x:x + 408, :3] * (1 - alpha)
    return canvas


def timed(fn, runs: int) -> tuple[float, float, object]:
    """(median wall seconds, median CPU seconds of this process, last result)."""
    walls, cpus, out = [], [], None
    for _ in range(runs):
        start, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--report", type=Path, help="also time the report picture, written here")
    args = p.parse_args(argv)
    models.set_threads(args.threads)
    original = two_megapixel_picture()
    preset = jobs.single_filter_preset("guard", {"epsilon": 8})
    protected = jobs.protect_pixels(original, preset)
    evaluate.measure_protection(original, protected)  # warm-up: sessions loaded, caches filled
    seconds, cpu, result = timed(lambda: evaluate.measure_protection(original, protected), args.runs)
    row = {"picture": "1632x1224 (2.0 MP), guard epsilon 8", "threads": args.threads, "runs": args.runs,
           "evaluate_median_s": round(seconds, 2), "evaluate_median_cpu_s": round(cpu, 2)}
    if args.report:
        from omamori.report import write_report

        wall, cpu, _ = timed(lambda: write_report(args.report, original, protected, result), args.runs)
        row["report_median_s"], row["report_median_cpu_s"] = round(wall, 2), round(cpu, 2)
    row["load_average"] = [round(v, 2) for v in os.getloadavg()]
    row["verdict"] = result["verdict"]["en"]
    print(json.dumps(row, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
