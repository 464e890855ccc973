"""Throughput of a preset on 1, 4 and 16 MP images: median megapixels per second and
peak memory, each size in a fresh process (a benchmark, not a test).

    python tests/benchmarks/bench_pipeline.py [--preset standard] [--runs 3]

The picture is tiled from the bundled example painting, so no shared data is needed."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "omamori-example.png"
SIZES_MP = (1, 4, 16)


def picture(megapixels: float):
    """A square painting of about `megapixels`, tiled from the example."""
    import numpy as np

    from omamori import imageio

    tile = imageio.load(EXAMPLE).pixels
    side = int(round((megapixels * 1e6) ** 0.5))
    reps = (side // tile.shape[0] + 1, side // tile.shape[1] + 1, 1)
    return np.ascontiguousarray(np.tile(tile, reps)[:side, :side])


def measure_one(megapixels: float, preset_name: str, runs: int) -> dict:
    """Runs in the child: times `runs` passes of the preset over one picture."""
    from omamori import jobs, presets

    rgba = picture(megapixels)
    preset = presets.load_preset(preset_name)
    jobs.protect_pixels(rgba[:256, :256], preset)  # warm-up: model load and session creation
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        jobs.protect_pixels(rgba, preset)
        times.append(time.perf_counter() - start)
    mp = rgba.shape[0] * rgba.shape[1] / 1e6
    return {"megapixels": round(mp, 2), "seconds": [round(t, 3) for t in times],
            "median_s": round(statistics.median(times), 3), "mp_per_s": round(mp / statistics.median(times), 3)}


def run_child(megapixels: float, preset: str, runs: int) -> dict:
    """Runs one size in a fresh process so that its peak memory is its own."""
    cmd = [sys.executable, __file__, "--child", str(megapixels), "--preset", preset, "--runs", str(runs)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"benchmark child for {megapixels} MP failed")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux reports KiB
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_one(args.child, args.preset, args.runs)))
        return
    print(f"preset {args.preset}, {args.runs} runs per size, {os.cpu_count()} CPU cores")
    print(f"{'MP':>6} {'median s':>9} {'MP/s':>7} {'peak RSS MB':>12}")
    for mp in SIZES_MP:
        r = run_child(mp, args.preset, args.runs)
        print(f"{r['megapixels']:>6} {r['median_s']:>9} {r['mp_per_s']:>7} {r['peak_rss_mb']:>12}")


if __name__ == "__main__":
    main()
