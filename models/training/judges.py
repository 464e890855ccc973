"""Held-out judges: encoders distilled from TAEF2 that no cloak is ever trained on.

They stand in for the VAEs of pipelines Omamori never saw. Each is built differently from TAEF2 and
from the other (downsampling, kernel sizes, activations, widths, normalisation) and trained on its
own data order. Faithfulness is the relative latent error on held-out crops,
    err = ||J(x) - E(x)|| / ||E(x)||   (per crop, then averaged),
where E is TAEF2 and J the judge; issue 9 asks for err <= 0.2.
The same loop distils surrogate C (`surrogates.surrogate_c`, run folder surrogate_c): an extra member of
the cloaks' training ensemble (train.py --ensemble), never a judge.

    python -m models.training.judges a --minutes 30     # then: b; c for surrogate C
    python -m models.training.judges a --resume --minutes 60 --keep   # continue; keep it in the repository

A run writes to its run folder ($OMAMORI_RUNS/judge_a); `--keep` also copies the final checkpoint and its
log to checkpoints/ for committing: a fresh machine (no run folder) loads and resumes from there.
"""
import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .data import Artwork, PaintedAndFlat, batches, flat_dir
from .surrogates import C_TAPS, load_encoder, surrogate_c
from .runs import cpu_state, device_arg, runs_dir, save_atomic, set_up_device, workers_arg


class Residual(nn.Module):
    def __init__(self, ch, kernel, act, norm=False):
        super().__init__()
        pad = kernel // 2
        layers = [nn.GroupNorm(8, ch)] if norm else []
        layers += [nn.Conv2d(ch, ch, kernel, padding=pad), act(), nn.Conv2d(ch, ch, kernel, padding=pad)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.body(x)


class GlobalContext(nn.Module):
    """Per-picture channel mean and spread -> per-channel scale and shift of the features.

    TAEF2 normalises its 1/8 features over the whole picture (GroupNorm in its last blocks): swapping each
    picture's statistics for those of a batch moves its latent by 0.17 (painted) / 0.29 (flat) relative,
    which a purely local judge cannot follow. The last layer starts at zero, so the branch starts as the
    identity and a judge trained without it continues from its checkpoint."""

    def __init__(self, ch, hidden=128):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * ch, hidden), nn.SiLU(), nn.Linear(hidden, 2 * ch))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, x):
        stats = torch.cat([x.mean((2, 3)), (x.var((2, 3), unbiased=False) + 1e-6).sqrt()], 1)
        scale, shift = self.mlp(stats)[..., None, None].chunk(2, 1)
        return x * (1 + scale) + shift


class WithContext(nn.Module):
    """A sequential judge with GlobalContext after the layers listed in `at` (state keys of `net` unchanged)."""

    def __init__(self, net: nn.Sequential, at: dict):
        super().__init__()
        self.net = net
        self.context = nn.ModuleDict({str(i): GlobalContext(ch) for i, ch in at.items()})

    def forward(self, x):
        for i, layer in enumerate(self.net):
            x = layer(x)
            if str(i) in self.context:
                x = self.context[str(i)](x)
        return x


class JudgeA(WithContext):
    """Space-to-depth stem (no full-resolution layer), 3x3 residual stages at 1/2, 1/4, 1/8, LeakyReLU,
    global context at 1/8."""

    def __init__(self):
        act = lambda: nn.LeakyReLU(0.1)  # noqa: E731
        super().__init__(nn.Sequential(
            nn.PixelUnshuffle(2), nn.Conv2d(12, 48, 3, padding=1), act(), nn.Conv2d(48, 48, 3, padding=1), act(),
            nn.Conv2d(48, 96, 2, stride=2), act(), Residual(96, 3, act), Residual(96, 3, act),
            nn.Conv2d(96, 128, 2, stride=2), act(), Residual(128, 3, act), Residual(128, 3, act),
            Residual(128, 3, act), nn.Conv2d(128, 32, 1)), {10: 128, 11: 128, 12: 128, 13: 128})

    def forward(self, x):
        return super().forward(x * 2 - 1)


class JudgeB(WithContext):
    """5x5 strided stem, SiLU, pixel-unshuffle downsampling, GroupNorm residual blocks and global context
    at 1/8."""

    def __init__(self):
        act = nn.SiLU
        super().__init__(nn.Sequential(
            nn.Conv2d(3, 64, 5, stride=2, padding=2), act(),
            nn.PixelUnshuffle(2), nn.Conv2d(256, 112, 1), act(), Residual(112, 3, act), Residual(112, 3, act),
            nn.PixelUnshuffle(2), nn.Conv2d(448, 160, 1), act(), Residual(160, 3, act, norm=True),
            Residual(160, 3, act, norm=True), nn.Conv2d(160, 32, 3, padding=1)), {9: 160, 10: 160, 11: 160})


JUDGES = {"a": (JudgeA, 101), "b": (JudgeB, 202)}  # architecture and its own data-order seed
ENSEMBLE = {"c": (surrogate_c, 303)}  # distilled the same way, for training cloaks only
ENSEMBLE_TAPS = {"c": C_TAPS}  # where transfer.py reads each member's stage features
DISTILLED = JUDGES | ENSEMBLE
LR = {"a": 2e-3, "b": 7e-4, "c": 2e-3}  # B's GroupNorm stages diverged at 2e-3


KEPT = Path(__file__).parent / "checkpoints"  # committed checkpoints: training outlives the machine


def run_folder(name: str):
    return runs_dir() / (f"judge_{name}" if name in JUDGES else f"surrogate_{name}")


def last_checkpoint(name: str) -> Path | None:
    """The run folder's last.pt, else the committed copy (a fresh machine), else None."""
    found = [p for p in (run_folder(name) / "last.pt", KEPT / f"{run_folder(name).name}.pt") if p.is_file()]
    return found[0] if found else None


def available(names) -> list:
    return [n for n in names if last_checkpoint(n)]


def load_distilled(name: str) -> tuple:
    """(network ready to use, its training info: steps, evaluations) from the last checkpoint."""
    ckpt = torch.load(last_checkpoint(name), weights_only=True)
    net = DISTILLED[name][0]()
    load_weights(net, ckpt["state"])
    return net.eval().requires_grad_(False), ckpt["info"]


def load_weights(net: nn.Module, state: dict) -> bool:
    """Load a checkpoint; one from before the judges' GlobalContext lacks only that branch, which then
    stays the identity. True when every weight was there."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("context.") for k in missing):
        raise RuntimeError(f"checkpoint does not fit {type(net).__name__}: missing {missing}, unexpected {unexpected}")
    return not missing


def param_groups(net: nn.Module, context_lr_scale: float) -> list:
    """The context branch in its own group: when it is new on a trained judge it learns at a higher rate
    than the trained layers, which a high rate would first undo."""
    context = [p for n, p in net.named_parameters() if n.startswith("context.")]
    rest = [p for n, p in net.named_parameters() if not n.startswith("context.")]
    return [{"params": rest, "lr_scale": 1.0}] + ([{"params": context, "lr_scale": context_lr_scale}] if context else [])


def load_ensemble_member(name: str) -> tuple:
    """((network, taps) for transfer.AugmentedEncoder, what a cloak's card keeps of the member: its run
    folder, steps and last held-out error)."""
    net, info = load_distilled(name)
    return (net, ENSEMBLE_TAPS[name]), {"name": run_folder(name).name, **info["evals"][-1]}


def held_out_crops(size: int = 256, per_kind: int = 8) -> dict:
    """Deterministic held-out crops of each kind (the file-name-hash validation split)."""
    return {"painted": Artwork("val").validation_crops(per_kind, size),
            "flat": Artwork("val", flat_dir()).validation_crops(per_kind, size)}


def relative_error(judge, teacher_latents, crops) -> float:
    errs = []
    with torch.no_grad():
        for z, x in zip(teacher_latents, crops):
            j = judge(torch.from_numpy(x.transpose(2, 0, 1))[None].to(z.device))
            errs.append(((j - z).norm() / z.norm()).item())
    return float(np.mean(errs))


class Replay:
    """The teacher costs more than the student, so each teacher answer is reused a few times: a ring
    buffer of (crop, latent) pairs; every batch mixes the newest crops with older ones."""

    def __init__(self, size: int):
        self.size, self.x, self.z, self.n = size, None, None, 0

    def add(self, x: torch.Tensor, z: torch.Tensor) -> None:
        if self.x is None:
            self.x = torch.empty((self.size, *x.shape[1:]), dtype=torch.uint8, device=x.device)
            self.z = torch.empty((self.size, *z.shape[1:]), device=z.device)
        idx = torch.arange(self.n, self.n + len(x), device=x.device) % self.size
        self.x[idx] = (x * 255).round().to(torch.uint8)  # inputs are on the 8-bit grid: stored exactly
        self.z[idx] = z
        self.n += len(x)
        self.newest = idx

    def sample(self, rng: np.random.Generator, n: int):
        old = torch.from_numpy(rng.integers(min(self.n, self.size), size=n - len(self.newest))).to(self.x.device)
        idx = torch.cat([self.newest, old])
        return self.x[idx].float() / 255, self.z[idx]


def train(args):
    cls, seed = DISTILLED[args.name]
    device = set_up_device(args.device)
    teacher, judge = load_encoder().to(device), cls().to(device)
    out = run_folder(args.name)
    out.mkdir(parents=True, exist_ok=True)
    state = {"steps": 0, "wall_time_s": 0.0, "evals": []}
    opt = torch.optim.AdamW(param_groups(judge, args.context_lr_scale), lr=args.lr, weight_decay=1e-4)
    resume_from = last_checkpoint(args.name) if args.resume else None
    if resume_from:
        ckpt = torch.load(resume_from, weights_only=False, map_location=device)
        complete = load_weights(judge, ckpt["state"])
        state = ckpt["info"]
        # Checkpoints before session 19 lack the optimizer, those before session 23 the context branch:
        # fresh moments then, which the warm-up below covers.
        if complete and "optimizer" in ckpt:
            opt.load_state_dict(ckpt["optimizer"])
    data = PaintedAndFlat("train")
    held = held_out_crops()
    with torch.no_grad():
        held_z = {k: [teacher(torch.from_numpy(x.transpose(2, 0, 1))[None].to(device)) for x in v]
                  for k, v in held.items()}
    rng = np.random.default_rng(seed + state["steps"])
    torch.manual_seed(seed)
    replay = Replay(args.replay)
    fresh = batches(lambda r: data.batch(r, args.fresh, args.crop), rng, args.workers)
    # With a near-empty buffer the first steps would fit a few crops over and over: after a resume that
    # undoes trained ground, so part of the buffer is filled first.
    while replay.n < min(args.prefill, args.replay):
        add_teacher_crops(replay, teacher, fresh, device)
    start, last_save = time.time(), time.time()
    budget, first_step = args.minutes * 60, state["steps"]
    while time.time() - start < budget:
        frac = (time.time() - start) / budget
        # Warm-up over this run's steps: a resumed run from a checkpoint without optimizer state has fresh moments.
        warm = min(1.0, (state["steps"] - first_step + 1) / 100)
        for g in opt.param_groups:
            g["lr"] = args.lr * g["lr_scale"] * warm * (0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * frac)))
        add_teacher_crops(replay, teacher, fresh, device)
        x, z = replay.sample(rng, args.batch)
        loss = ((judge(x) - z).flatten(1).norm(dim=1) / z.flatten(1).norm(dim=1)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        # Judge B diverged once at lr 2e-3 (GroupNorm + SiLU, loss spike x100 at step 110): clip.
        torch.nn.utils.clip_grad_norm_(judge.parameters(), 1.0)
        opt.step()
        state["steps"] += 1
        if state["steps"] % 20 == 0:
            print(f"{out.name} step {state['steps']} t={time.time() - start:.0f}s "
                  f"rel_err_train={loss.item() ** 0.5:.3f}", flush=True)
        if time.time() - last_save > args.save_every * 60 or time.time() - start >= budget:
            evaluate_and_save(judge, opt, held_z, held, state, out, time.time() - start + state["wall_time_s"])
            last_save = time.time()
    evaluate_and_save(judge, opt, held_z, held, state, out, time.time() - start + state["wall_time_s"], final=True)
    if args.keep:
        keep(out)


def keep(out: Path) -> None:
    """Copy the run's checkpoint and evaluation log to checkpoints/, the files a later session continues from."""
    KEPT.mkdir(exist_ok=True)
    shutil.copyfile(out / "last.pt", KEPT / f"{out.name}.pt.tmp")
    (KEPT / f"{out.name}.pt.tmp").replace(KEPT / f"{out.name}.pt")
    shutil.copyfile(out / "log.json", KEPT / f"{out.name}.json")
    print(f"kept in {KEPT / out.name}.pt", flush=True)


def add_teacher_crops(replay, teacher, stream, device) -> None:
    fresh = torch.as_tensor(next(stream)).to(device)
    n = len(fresh)
    # Half the fresh crops with uniform noise up to 12 levels: judges must also answer small perturbations.
    amp = torch.rand(n, 1, 1, 1, device=device) * (12 / 255) * (torch.arange(n, device=device) % 2).view(-1, 1, 1, 1)
    fresh = ((fresh + amp * (2 * torch.rand_like(fresh) - 1)).clamp(0, 1) * 255).round() / 255
    with torch.no_grad():
        replay.add(fresh, teacher(fresh))


def evaluate_and_save(judge, opt, held_z, held, state, out, wall, final=False):
    judge.eval()
    errs = {k: round(relative_error(judge, held_z[k], held[k]), 4) for k in held}
    judge.train()
    info = dict(state, wall_time_s=round(wall, 1))
    info["evals"] = state["evals"] + [{"steps": state["steps"], "wall_s": round(wall), **errs}]
    save_atomic(out / "last.pt", {"state": cpu_state(judge.state_dict()), "optimizer": cpu_state(opt.state_dict()),
                                  "info": info})
    (out / "log.json").write_text(json.dumps(info, indent=1))
    print(f"held-out relative latent error {errs} (saved step {state['steps']}{', final' if final else ''})",
          flush=True)
    if final:
        state.update(info)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=sorted(DISTILLED))
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--batch", type=int, default=16, help="crops per step (fresh + replayed)")
    p.add_argument("--fresh", type=int, default=4, help="new teacher crops per step")
    p.add_argument("--replay", type=int, default=6000, help="replay buffer size (crops)")
    p.add_argument("--prefill", type=int, default=512, help="teacher crops in the buffer before the first step")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, help="default: LR[name]")
    p.add_argument("--context-lr-scale", type=float, default=1.0,
                   help="learning rate of the global-context branch relative to --lr (higher when it is new)")
    p.add_argument("--save-every", type=float, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", type=device_arg, default="cpu", help="torch device, e.g. cuda (a GPU machine)")
    p.add_argument("--workers", type=workers_arg, default=0,
                   help="processes making crops ahead of use (0: in turn, the order CPU runs have drawn)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the run's last.pt, or from the committed checkpoints/<run>.pt")
    p.add_argument("--keep", action="store_true", help="copy the final checkpoint and log to checkpoints/")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.lr = args.lr or LR[args.name]
    train(args)


if __name__ == "__main__":
    main()
