"""Train one cloaking model (or the transfer-check encoder) with checkpoints; time-bounded for CPUs.

    python -m models.training.train guard  --minutes 50
    python -m models.training.train style  --minutes 15 --init guard
    python -m models.training.train poison --minutes 15 --init guard
    python -m models.training.train transfer --minutes 5
    python -m models.training.train guard --tiny        # CI: a few steps on tiny crops

Checkpoints go to $OMAMORI_RUNS (default ~/.omamori/runs)/<name>/last.pt every --save-every minutes.
"""
import argparse
import math
import random
import time
from pathlib import Path

import numpy as np
import torch

from omamori.cloak_targets import brick_wall, restyle, style_target  # numpy only, shared with evaluate

from .augment import random_transform
from .data import Artwork, PaintedAndFlat, batches
from .flip_loss import relative_flip
from .generator import Generator, generator_for
from .judges import load_ensemble_member
from .onnx_import import generator_from_onnx
from .perceptual import relative_visibility
from .pyramid import pyramid_pattern, shipped_guard_settings
from .runs import cpu_state, device_arg, runs_dir, save_atomic, set_up_device, workers_arg
from .surrogates import TransferEncoder, load_encoder
from .transfer import AugmentedEncoder, distortion, dropout_masks, features, pull

EPS = 8 / 255       # training budget; the runtime rescales the [-1, 1] pattern to any epsilon
RMS_CAP = 6.0 / 255  # perturbation RMS cap: keeps PSNR >= 32.5 dB instead of saturating at +-eps (30.1 dB)
RMS_WEIGHT = 4000.0  # penalty weight on (rms - cap)^2 in [0,1] units: 1 level over the cap costs ~0.06
VIS_WEIGHT = 0.5     # weight on (relative visibility - budget)^2 (v2: replaces the RMS cap)


def brick_wall_batch(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Brick-wall crops at random phases, as the runtime's tiles see them."""
    big = brick_wall(size + 64, size + 128)
    out = []
    for _ in range(n):
        y, x = rng.integers(64), rng.integers(128)
        out.append(big[y:y + size, x:x + size].transpose(2, 0, 1))
    return np.stack(out)


def latent_loss(kind, enc, x, x_adv, target, rng):
    """Per-model objective under one random platform transform (same transform for every input)."""
    n = x.shape[0]
    batch = torch.cat([x, x_adv] + ([target] if target is not None else []))
    t = random_transform(batch, rng)
    with torch.no_grad():
        z_ref = enc(torch.cat([t[:n], t[2 * n:]]))  # clean (and target) latents need no gradient
    z_adv = enc(t[n:2 * n])
    z = z_ref[:n]
    def norm(v):
        return v.flatten(1).norm(dim=1)

    if kind == "guard":  # maximise relative latent distortion r
        r = norm(z_adv - z) / norm(z)
        return -r.mean(), r.mean()
    zt = z_ref[n:]
    d = norm(z_adv - zt) / norm(z - zt)  # 1 = no progress towards the target
    return d.mean(), d.mean()


def transfer_loss(kind, members: AugmentedEncoder, x, x_adv, target, rng):
    """v2 objectives on latent + stage features of one augmented TAEF2 member, under one random platform
    transform: guard maximises the distortion, style pulls position-free statistics towards the style
    target, poison pulls the features towards the other concept. Returns (loss, latent figure)."""
    n = x.shape[0]
    t = random_transform(torch.cat([x, x_adv] + ([target] if target is not None else [])), rng)
    net, taps, use_dropout = members.pick()
    masks = dropout_masks(n, generator=members.gen, device=x.device) if use_dropout else None
    with torch.no_grad():  # the clean and target pictures share the adversarial copy's masks
        refs = features(net, torch.cat([t[:n], t[2 * n:]]), _repeat(masks, len(t) // n - 1), taps)
    adv = features(net, t[n:2 * n], masks, taps)
    clean = [f[:n] for f in refs]
    if kind == "guard":
        total, latent = distortion(clean, adv)
        return -total.mean(), latent.mean()
    total, latent = pull(clean, adv, [f[n:] for f in refs], position_free_stats=kind == "style")
    return total.mean(), latent.mean()


def _repeat(masks: dict | None, times: int) -> dict | None:
    return None if masks is None else {k: m.repeat(times, 1, 1, 1) for k, m in masks.items()}


def initial_generator(args, kind) -> Generator:
    # Poison sees the brick-wall tile: a translation-equivariant net cannot otherwise know where the bricks lie.
    if args.init_onnx:
        return generator_from_onnx(Path(args.init_onnx)).train()
    if args.init_checkpoint:  # any checkpoint with its architecture, e.g. a distilled student's
        ckpt = torch.load(args.init_checkpoint, weights_only=True)
        gen = generator_for(ckpt["info"])
        gen.load_state_dict(ckpt["state"])
        return gen.train()
    gen = Generator(with_target=kind == "poison")
    if args.init:
        gen.load_from(torch.load(runs_dir() / args.init / "last.pt", weights_only=True)["state"])
    return gen


def ensemble_members(args) -> tuple[list, list]:
    """Further members for AugmentedEncoder (surrogate C with --transfer --ensemble) and what the card
    keeps of each as loaded."""
    if not (args.transfer and args.ensemble):
        return [], []
    member, record = load_ensemble_member("c")
    return [member], [record]


def visibility_loss(args, delta, x):
    """Perceptual budget (perceptual.py, or FLIP itself) when --visibility is set, else the v1 RMS cap. Returns
    (loss, figure to log: relative visibility or RMS in levels)."""
    if args.visibility:
        rel = (relative_flip if args.visibility_measure == "flip" else relative_visibility)(delta, x, EPS)
        return VIS_WEIGHT * torch.relu(rel - args.visibility).pow(2).mean(), rel.mean()
    rms = delta.pow(2).mean(dim=(1, 2, 3)).sqrt()
    return RMS_WEIGHT * torch.relu(rms - RMS_CAP).pow(2).mean(), rms.mean() * 255


def batch_maker(kind: str, data, args):
    """make(rng) -> (crops, target or None) as numpy: the style's target per crop, the poison's brick wall."""
    restyled = style_target if args.transfer else restyle  # v2: the farthest named style; v1: poster

    def make(rng):
        x = data.batch(rng, args.batch, args.crop)
        if kind == "style":
            return x, np.stack([restyled(im.transpose(1, 2, 0)).transpose(2, 0, 1) for im in x])
        return x, brick_wall_batch(rng, args.batch, args.crop) if kind == "poison" else None
    return make


def train_generator(args):
    kind = args.name
    device = set_up_device(args.device)
    gen = initial_generator(args, kind).to(device)
    enc = load_encoder().to(device)
    extra, ensemble = ensemble_members(args)
    extra = [(net.to(device), taps) for net, taps in extra]
    members = AugmentedEncoder(enc, args.seed, extra) if args.transfer else None
    data = PaintedAndFlat("train", args.flat_share) if args.flat else Artwork("train")
    shipped = shipped_guard_settings() if args.pyramid_in_loop else None
    opt = torch.optim.Adam(gen.parameters(), lr=args.lr)
    nrng, prng = np.random.default_rng(args.seed), random.Random(args.seed)
    torch.manual_seed(args.seed)
    out = runs_dir() / (args.run or kind)
    out.mkdir(parents=True, exist_ok=True)
    origin = init_record(args)
    stream = batches(batch_maker(kind, data, args), nrng, args.workers)
    start = last_save = time.time()
    step, ema = 0, None
    while True:
        # Progress through the budget: steps when given (repeatable), else wall time.
        frac = step / args.steps if args.steps else (time.time() - start) / (args.minutes * 60)
        if frac >= 1:
            break
        for g in opt.param_groups:  # cosine decay over the time budget
            g["lr"] = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1))))
        x, target = (None if t is None else torch.as_tensor(t).to(device) for t in next(stream))
        delta = EPS * (pyramid_pattern(gen, x, shipped) if shipped else gen(x, target))
        x_adv = (x + delta).clamp(0, 1)
        if members is not None:
            loss, metric = transfer_loss(kind, members, x, x_adv, target, prng)
        else:
            loss, metric = latent_loss(kind, enc, x, x_adv, target, prng)
        vis_loss, vis = visibility_loss(args, delta, x)
        loss = loss + vis_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        ema = metric.item() if ema is None else 0.98 * ema + 0.02 * metric.item()
        if step % 10 == 0 or args.tiny:
            print(f"{kind} step {step} t={time.time() - start:.0f}s metric={metric.item():.3f} ema={ema:.3f} "
                  f"{'visibility' if args.visibility else 'rms'}={vis.item():.2f}", flush=True)
        if time.time() - last_save > args.save_every * 60:
            save(out, gen, kind, args, step, time.time() - start, ema, origin, ensemble, shipped)
            last_save = time.time()
    save(out, gen, kind, args, step, time.time() - start, ema, origin, ensemble, shipped)


def init_record(args) -> tuple[str | None, dict]:
    """The checkpoint a fine-tuning run starts from and its info (for cumulative steps and time), read
    once at the start: the run's own saves must not re-read it."""
    path = args.init_checkpoint or (runs_dir() / args.init / "last.pt" if args.init else None)
    if path is None:
        return None, {}
    return args.init or str(path), torch.load(path, weights_only=True)["info"]


def save(out, gen, kind, args, step, wall, ema, origin, ensemble, shipped=None):
    prev = out / "last.pt"
    init, init_info = origin
    info = {"name": kind, "steps": step, "wall_time_s": round(wall, 1), "train_metric_ema": ema,
            "batch": args.batch, "crop": args.crop, "lr": args.lr, "seed": args.seed, "eps": 8,
            "rms_cap_levels": None if args.visibility else RMS_CAP * 255, "init": init, "init_info": init_info,
            "with_target": gen.with_target, "init_onnx": args.init_onnx, "flat": args.flat,
            "flat_share": args.flat_share if args.flat else None,
            "transfer": args.transfer, "ensemble": ensemble,
            "visibility_budget": args.visibility, "visibility_measure": args.visibility_measure,
            "architecture": gen.arch, "pyramid_in_loop": shipped, "device": args.device}
    save_atomic(prev, {"state": cpu_state(gen.state_dict()), "info": info})  # export may read it at any time
    print(f"saved {prev} step {step}", flush=True)


def train_transfer(args):
    """Distil a differently built encoder from TAEF2 (latent MSE) as a stand-in for unseen VAEs."""
    teacher, student = load_encoder(), TransferEncoder()
    data = Artwork("train")
    opt = torch.optim.Adam(student.parameters(), lr=args.lr)
    nrng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    out = runs_dir() / "transfer"
    out.mkdir(parents=True, exist_ok=True)
    start, step = time.time(), 0
    while (step < args.steps) if args.steps else (time.time() - start < args.minutes * 60):
        x = torch.from_numpy(data.batch(nrng, args.batch, args.crop))
        with torch.no_grad():
            z = teacher(x)
        loss = (student(x) - z).pow(2).mean() / z.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 20 == 0 or args.tiny:
            print(f"transfer step {step} t={time.time() - start:.0f}s rel_mse={loss.item():.4f}", flush=True)
    torch.save({"state": student.state_dict(), "info": {"steps": step, "wall_time_s": time.time() - start,
                "rel_mse": loss.item()}}, out / "encoder.pt")
    print(f"saved {out / 'encoder.pt'}", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=["guard", "style", "poison", "transfer"])
    p.add_argument("--minutes", type=float, default=50)
    p.add_argument("--steps", type=int, default=0, help="stop after this many steps instead of --minutes")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", help="start from this run's last.pt (e.g. guard)")
    p.add_argument("--init-onnx", help="start from a shipped model, e.g. models/guard.onnx")
    p.add_argument("--init-checkpoint", type=Path,
                   help="start from a checkpoint file with its architecture, e.g. checkpoints/style_student.pt")
    p.add_argument("--run", help="checkpoint folder name under $OMAMORI_RUNS (default: the model name)")
    p.add_argument("--flat", action="store_true", help="train on painted and flat-colour art (half each)")
    p.add_argument("--flat-share", type=float, default=0.5, help="with --flat: the flat-colour share of each batch")
    p.add_argument("--transfer", action="store_true",
                   help="v2: augmented TAEF2 members and stage-feature losses (transfer.py); style: towards "
                        "the farthest named style on position-free statistics")
    p.add_argument("--ensemble", action="store_true",
                   help="with --transfer: surrogate C (judges.py c, distilled from TAEF2) joins the members")
    p.add_argument("--visibility", type=float, default=0.0,
                   help="perceptual budget: visibility relative to uniform +-8 noise (0: v1 RMS cap)")
    p.add_argument("--visibility-measure", choices=["proxy", "flip"], default="proxy",
                   help="what --visibility measures: our CSF-and-masking proxy (perceptual.py) or FLIP itself "
                        "(flip_loss.py, the benchmark's measure)")
    p.add_argument("--pyramid-in-loop", action="store_true",
                   help="guard: train on the pattern as the shipped card makes it (pyramid, grey, default level)")
    p.add_argument("--save-every", type=float, default=3, help="minutes between checkpoints")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", type=device_arg, default="cpu", help="torch device, e.g. cuda (a GPU machine)")
    p.add_argument("--workers", type=workers_arg, default=0,
                   help="processes making crops ahead of use (0: in turn, the order CPU runs have drawn)")
    p.add_argument("--tiny", action="store_true", help="CI smoke config: 3 steps, batch 2, 32 px crops")
    args = p.parse_args(argv)
    if args.pyramid_in_loop and args.name != "guard":
        p.error("--pyramid-in-loop is the guard's (its card carries the pyramid)")
    if args.tiny:
        args.steps, args.batch, args.crop = args.steps or 3, 2, 32
    if args.pyramid_in_loop and args.crop % (step := 8 * shipped_guard_settings()["pyramid"]["shrink"]):
        p.error(f"--pyramid-in-loop needs --crop a multiple of {step} (the shrink times the net's factor 8)")
    torch.set_num_threads(args.threads)
    (train_transfer if args.name == "transfer" else train_generator)(args)


if __name__ == "__main__":
    main()
