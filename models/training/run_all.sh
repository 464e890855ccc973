#!/bin/sh
# Reproduces the shipped cloak models and the benchmark's judges, from the repository root, on CPUs:
#   nohup sh models/training/run_all.sh > ~/.omamori/runs/pipeline.log 2>&1 &
# Checkpoints go to $OMAMORI_RUNS (default ~/.omamori/runs) every 3 minutes; each stage is its own
# process, so export can run on any checkpoint meanwhile. Times are wall-clock budgets (the step counts
# they reach depend on the machine's load; see the cards). Set THREADS to the cores you can spare.
set -eu
PY=${PY:-python}
THREADS=${THREADS:-1}
JUDGE_MIN=${JUDGE_MIN:-26}
GUARD_MIN=${GUARD_MIN:-38}
# 1. v1 (kept for style and poison; guard v2 starts from the v1 guard's ONNX, already in models/)
#    $PY -m models.training.train guard --minutes 60; $PY -m models.training.train style --minutes 14 --init guard
#    $PY -m models.training.train poison --minutes 14 --init guard
# 2. Held-out judges: distilled from TAEF2, never used to train a cloak (benchmark only).
$PY -m models.training.judges a --minutes "$JUDGE_MIN" --threads "$THREADS"
$PY -m models.training.judges b --minutes "$JUDGE_MIN" --threads "$THREADS"
# 3. Guard v2: fine-tuned from the shipped v1 guard with the perceptual budget and the transfer losses.
$PY -m models.training.train guard --minutes "$GUARD_MIN" --threads "$THREADS" --init-onnx models/training/checkpoints/guard_v1.onnx \
    --flat --transfer --visibility 0.8 --run guard_v2 --crop 96 --batch 8 --lr 3e-4
# 4. Export (ONNX + card) and measure.
$PY -m models.training.export guard --run guard_v2 --images 0 --strength-scales 0.7 1.0 1.4
$PY tests/benchmarks/bench_cloak.py --pgd-only
$PY tests/benchmarks/bench_cloak.py --cards --readme
