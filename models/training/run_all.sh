#!/bin/sh
# The full CPU training schedule (about 105 minutes on 2 cores; the shipped models used these defaults), run from the repository root:
#   nohup sh models/training/run_all.sh > ~/.omamori/runs/pipeline.log 2>&1 &
# Each stage is a separate process, so export can be re-run on any checkpoint while this runs.
set -u
GUARD_MIN=${GUARD_MIN:-60}
TUNE_MIN=${TUNE_MIN:-14}
python -m models.training.train guard --minutes "$GUARD_MIN"
python -m models.training.export guard
python -m models.training.train style --minutes "$TUNE_MIN" --init guard
python -m models.training.export style
python -m models.training.train poison --minutes "$TUNE_MIN" --init guard
python -m models.training.export poison
python -m models.training.train transfer --minutes 12
python -m models.training.export encoders  # TAEF2 + transfer encoder for evaluate and the benchmark (outside the repo)
