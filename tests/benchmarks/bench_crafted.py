"""Time and peak memory to answer each crafted file (a benchmark, not a test).

    python tests/benchmarks/bench_crafted.py [--runs 3] [--preset noise]

Each file is protected (the one-file job, `jobs.protect_file`) and inspected in a
fresh process, `--runs` times; the table shows the median wall time and the largest
peak resident memory (ru_maxrss of that process, interpreter and imports included),
beside the same figures for an empty run that only imports Omamori. The target: every
file answered within 10 s and 2 GB."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CRAFTED = Path(__file__).resolve().parents[1] / "data" / "crafted"
CHILD = r"""
import json, resource, sys, tempfile, time
from omamori import jobs
from omamori.errors import OmamoriError
from omamori.inspect import inspect_file
path, preset = sys.argv[1], sys.argv[2]
start = time.perf_counter()
answer = "imports only"
if path != "-":
    result = jobs.protect_file(path, jobs.single_filter_preset(preset, {}), out_dir=tempfile.mkdtemp())
    answer = "protected" if result.ok else result.error.split(": ", 1)[-1]
    try:
        inspect_file(path)
    except OmamoriError:
        pass
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "answer": answer}))
"""


def measure(path: str, preset: str, runs: int) -> dict:
    samples = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", CHILD, path, preset], capture_output=True, text=True,
                              timeout=600, cwd=tempfile.gettempdir(), check=True)
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {"seconds": statistics.median(s["seconds"] for s in samples),
            "peak_mb": max(s["peak_mb"] for s in samples), "answer": samples[0]["answer"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--preset", default="noise", help="a filter name, run with its defaults")
    args = parser.parse_args()
    baseline = measure("-", args.preset, args.runs)
    print(f"{'file':32} {'median s':>9} {'peak MB':>8}  answer")
    print(f"{'(imports only)':32} {baseline['seconds']:9.3f} {baseline['peak_mb']:8.0f}")
    for path in sorted(p for p in CRAFTED.iterdir() if p.suffix != ".py"):
        row = measure(str(path), args.preset, args.runs)
        print(f"{path.name:32} {row['seconds']:9.3f} {row['peak_mb']:8.0f}  {row['answer'][:70]}")


if __name__ == "__main__":
    main()
