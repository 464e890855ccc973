"""Where training runs keep their checkpoints ($OMAMORI_RUNS, default ~/.omamori/runs), written atomically,
and the device they run on."""
import argparse
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


def cpu_state(obj):
    """A state dict (or optimizer state, nested) with every tensor on the CPU: checkpoints load anywhere."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: cpu_state(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_state(v) for v in obj)
    return obj


def set_up_device(name: str) -> torch.device:
    """The torch device to train on; on a GPU, cuDNN picks its fastest kernels for the fixed crop size."""
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
    return device


def device_arg(name: str) -> str:
    """argparse type of --device: a torch device this machine has, else a one-line usage error."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"not a torch device: {name!r} (e.g. cpu, cuda)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{name}: no CUDA GPU on this machine (use cpu)")
    return name


def workers_arg(text: str) -> int:
    """argparse type of --workers: 0 or more processes."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a count of processes: {text!r} (0 or more)")
    return int(text)
