"""Distil a shipped cloak into a faster student network (same job, about 4x fewer operations per pixel).

The student sees what the teacher sees (painted and flat-colour training crops, the poison's brick-wall tile)
and learns to reproduce the teacher's [-1, 1] pattern. Distillation keeps what the teacher was measured to
do (transfer, visibility) while the architecture gets cheaper; the exported student is measured again by
tests/benchmarks/bench_cloak.py, never assumed equal.

    python -m models.training.distill guard --teacher models/training/checkpoints/guard_v1.onnx --minutes 40
    python -m models.training.export guard --run guard_fast    # then the benchmark

Checkpoints go to $OMAMORI_RUNS/<name>_fast/last.pt, or --run (resumed when present).
"""
import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from .data import PaintedAndFlat
from .generator import Generator
from .onnx_import import generator_from_onnx
from .runs import runs_dir, save_atomic
from .train import brick_wall_batch

STUDENT = {"factor": 8, "ch": 48, "blocks": 4, "stem": "patch"}


def teacher_inputs(kind, x: torch.Tensor, rng) -> torch.Tensor | None:
    """The poison's second input (brick-wall tile); the style and guard nets see only the image."""
    if kind == "poison":
        return torch.from_numpy(brick_wall_batch(rng, x.shape[0], x.shape[-1]))
    return None


def resume(student: Generator, out) -> tuple[int, float]:
    ckpt = out / "last.pt"
    if not ckpt.is_file():
        return 0, 0.0
    saved = torch.load(ckpt, weights_only=True)
    student.load_state_dict(saved["state"])
    return saved["info"]["steps"], saved["info"]["wall_time_s"]


def distil(args) -> None:
    teacher = generator_from_onnx(args.teacher).eval()
    student = Generator(with_target=teacher.with_target, **dict(STUDENT, ch=args.channels))
    out = runs_dir() / (args.run or f"{args.name}_fast")
    out.mkdir(parents=True, exist_ok=True)
    step, wall_before = resume(student, out)
    student.train()
    data = PaintedAndFlat("train")
    opt = torch.optim.Adam(student.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed + step)
    torch.manual_seed(args.seed + step)
    start = last_save = time.time()
    ema = None
    first_step = step
    while (step - first_step < args.steps) if args.steps else (time.time() - start < args.minutes * 60):
        frac = (step - first_step) / args.steps if args.steps else (time.time() - start) / (args.minutes * 60)
        for g in opt.param_groups:  # cosine decay over this run's time budget
            g["lr"] = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        x = torch.from_numpy(data.batch(rng, args.batch, args.crop))
        target = teacher_inputs(args.name, x, rng)
        with torch.no_grad():
            want = teacher(x, target)
        loss = (student(x, target) - want).pow(2).mean() / want.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 20 == 0:
            print(f"{args.name}_fast step {step} t={time.time() - start:.0f}s rel_mse={loss.item():.4f} "
                  f"ema={ema:.4f}", flush=True)
        if time.time() - last_save > args.save_every * 60:
            save(out, student, args, step, wall_before + time.time() - start, ema)
            last_save = time.time()
    save(out, student, args, step, wall_before + time.time() - start, ema)


def save(out, student, args, step, wall, ema) -> None:
    info = {"name": args.name, "steps": step, "wall_time_s": round(wall, 1), "train_metric_ema": ema,
            "batch": args.batch, "crop": args.crop, "lr": args.lr, "seed": args.seed, "eps": 8,
            "rms_cap_levels": None, "with_target": student.with_target, "flat": True,
            "architecture": student.arch, "distilled_from": str(args.teacher)}
    save_atomic(out / "last.pt", {"state": student.state_dict(), "info": info})
    print(f"saved {out / 'last.pt'} step {step}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=["guard", "style", "poison"])
    p.add_argument("--teacher", type=Path, required=True, help="the shipped ONNX to distil, e.g. models/guard.onnx")
    p.add_argument("--minutes", type=float, default=40)
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps instead of --minutes")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=192)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--channels", type=int, default=STUDENT["ch"], help="student width")
    p.add_argument("--run", help="checkpoint folder under $OMAMORI_RUNS (default: <name>_fast)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=float, default=3, help="minutes between checkpoints")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    distil(args)


if __name__ == "__main__":
    main()
