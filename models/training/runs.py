"""Where training runs keep their checkpoints ($OMAMORI_RUNS, default ~/.omamori/runs), written atomically."""
import os
from pathlib import Path

import torch


def runs_dir() -> Path:
    return Path(os.environ.get("OMAMORI_RUNS", Path.home() / ".omamori" / "runs"))


def save_atomic(path: Path, obj) -> None:
    """torch.save through a temp file and a rename: readers (export, resumed runs) never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
