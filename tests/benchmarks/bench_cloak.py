"""Cloaks v2 benchmark: every cloak at each strength level beside uniform noise and PGD, on painted
AND flat-colour held-out crops, measured by visibility (NVIDIA FLIP, PSNR) and by effect on TAEF2 and
on the held-out judges (models/training/judges.py: distilled from TAEF2, never used to train a cloak),
before and after posting (0.75x area downscale + JPEG 85). A benchmark, not a test; needs
torch==2.13.0, flip-evaluator, ../shared and trained judges (their run folders in $OMAMORI_RUNS, else
the committed models/training/checkpoints/judge_{a,b}.pt).

    python tests/benchmarks/bench_cloak.py --pgd-only              # fill the PGD cache first (slow on CPU)
    python tests/benchmarks/bench_cloak.py [--images 3|all] [--crop 256] [--compare v1=DIR] [--cards] [--readme]

r = ||E(x') - E(x)|| / ||E(x)||. Target distances (1 = no pull, lower = pulled towards the target):
poison ||E(x') - E(t)|| / ||E(x) - E(t)|| with t = poison_target; style the same on position-free
latent statistics (channel mean, std and Gram matrix) with t = style_target(x); uniform-noise rows give
both, the yardstick for "no pull". PGD: sign-gradient ascent on ||E(x+d) - E(x)|| through TAEF2 from a
random start within one step, step eps/8; PGD-20 is the 20th iterate of the PGD-50 run; "PGD-50 towards
style|poison" descends the target distance instead (white-box on TAEF2, the iterative peers' targeted way);
its seconds are those measured when the cache was filled (the machine's load then is recorded).
Writes models/benchmark.json; --readme refreshes the table between the BENCHMARK markers of
models/README.md; --cards adds each cloak's figures to its card."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from omamori import measuring, models
from omamori.benchmeasure import pass_speed_2048, target_image
from omamori.pipeline import build_steps, run_steps

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # `models.training` lives at the repository root, beside the package

from models.training.data import Artwork, flat_dir  # noqa: E402
from models.training.judges import JUDGES, available, load_distilled  # noqa: E402
from models.training.runs import device_arg  # noqa: E402
from models.training.surrogates import load_encoder  # noqa: E402

CLOAKS = ("guard", "style", "poison")
LEVELS = ("low", "default", "high")


def to8(rgb: np.ndarray) -> np.ndarray:
    return (np.rint(np.clip(rgb, 0, 1) * 255) / 255).astype(np.float32)


def post(rgb: np.ndarray) -> np.ndarray:
    """What a platform does to an upload: 0.75x area downscale, then JPEG quality 85."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (round(w * 0.75) // 8 * 8, round(h * 0.75) // 8 * 8), interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(np.rint(np.clip(small, 0, 1) * 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
    return np.asarray(Image.open(buf).convert("RGB"), np.float32) / 255


def chw(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32))[None]


def latent(net, rgb: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(chw(rgb).to(device_of(net)))[0].cpu().numpy()


def effect(nets: dict, x: np.ndarray, xp: np.ndarray, targets: tuple) -> dict:
    """r on every encoder, before and after posting, and the distance to each target in `targets`
    ("style", "poison") on each encoder: `<target>_dist_<encoder>`."""
    out = {}
    px, pxp = post(x), post(xp)
    pictures = {kind: target_image(kind, x) for kind in targets}
    for name, net in nets.items():
        z, zp = latent(net, x), latent(net, xp)
        out[f"r_{name}"] = measuring.relative_change(zp, z)
        out[f"r_post_{name}"] = measuring.relative_change(latent(net, pxp), latent(net, px))
        for kind in targets:
            out[f"{kind}_dist_{name}"] = measuring.cloak_target_distance(kind, zp, z, latent(net, pictures[kind]))
    return out


def flip(x: np.ndarray, xp: np.ndarray) -> float:
    import flip_evaluator  # here, not above: --pgd-only also runs on a GPU machine without it

    return float(flip_evaluator.evaluate(x, xp, "LDR", applyMagma=False)[1])


def visibility(x: np.ndarray, xp: np.ndarray) -> dict:
    mse = float(np.mean((xp.astype(np.float64) - x) ** 2))
    return {"flip": flip(x, xp), "psnr": 10 * np.log10(1 / max(mse, 1e-12)),
            "linf": float(np.abs(np.rint(xp * 255) - np.rint(x * 255)).max())}


def attack_objective(enc, x: np.ndarray, target: str | None):
    """What PGD ascends: the latent change (untargeted, the guard's aim), or minus the distance to the
    target picture's latent (poison) or to its position-free statistics (style), as the cloaks are measured."""
    def stats(z):
        return measuring.position_free(z, torch.cat) if target == "style" else z

    with torch.no_grad():
        ref = stats(enc(chw(x if target is None else target_image(target, x)).to(device_of(enc))))
    if target is None:
        return lambda z: (z - ref).norm()
    return lambda z: -(stats(z) - ref).norm()


def device_of(net) -> torch.device:
    return next(net.parameters()).device


def device_name(net) -> str:
    """Where PGD's seconds were measured: the cache keeps it beside them."""
    device = device_of(net)
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"


def pgd(enc, x: np.ndarray, eps: int, steps: int, target: str | None = None, keep=(20,)) -> dict:
    """{step: 8-bit image} for the iterates in `keep` and the last one, plus the seconds taken."""
    xt, objective = chw(x).to(device_of(enc)), attack_objective(enc, x, target)
    e, alpha = eps / 255, eps / 255 / 8
    # Random start within one step (the norm's gradient is zero at delta = 0); seeded for a stable cache.
    gen = torch.Generator().manual_seed(0)
    delta = (alpha * (2 * torch.rand(xt.shape, generator=gen) - 1)).to(xt.device).requires_grad_(True)
    out, start = {}, time.perf_counter()
    for step in range(1, steps + 1):
        (grad,) = torch.autograd.grad(objective(enc((xt + delta).clamp(0, 1))), delta)
        with torch.no_grad():
            delta += alpha * grad.sign()
            delta.clamp_(-e, e)
        if step in keep or step == steps:
            out[f"s{step}"] = to8((xt + delta).clamp(0, 1)[0].permute(1, 2, 0).detach().cpu().numpy())
            out[f"t{step}"] = np.float64(time.perf_counter() - start)
    return out


def pgd_cached(enc, x: np.ndarray, key: str, args, target: str | None = None) -> dict:
    """{"PGD-k": (image, seconds)} (targeted: "PGD-k towards <target>") from the cache, computing and
    storing it when missing."""
    prefix = "pgd" if target is None else f"pgd_{target}"
    path = args.cache / f"{prefix}_{key}_{x.shape[0]}_eps{args.eps}_{args.pgd_steps}.npz"
    if not path.is_file():
        args.cache.mkdir(parents=True, exist_ok=True)
        res = pgd(enc, x, args.eps, args.pgd_steps, target, keep=(20,) if target is None else ())
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez_compressed(tmp, x=x, load=np.array(os.getloadavg()), device=np.array(device_name(enc)), **res)
        tmp.replace(path)
    data = np.load(path)
    args.pgd_devices.add(str(data["device"]) if "device" in data.files else "CPU (filled before session 29)")
    if not np.array_equal(data["x"], x):
        raise SystemExit(f"stale PGD cache {path}: delete it")
    suffix = "" if target is None else f" towards {target}"
    return {f"PGD-{k[1:]}{suffix}": (data[k], float(data["t" + k[1:]])) for k in data.files if k.startswith("s")}


def crop_key(kind: str, x: np.ndarray) -> str:
    """The PGD cache's name for a crop: by content, since --images changes which pictures are picked."""
    return f"{kind}_{hashlib.sha256(x.tobytes()).hexdigest()[:12]}"


def every_pgd(enc, x: np.ndarray, key: str, args) -> dict:
    """Untargeted PGD (beside the guard) and PGD towards each target (beside style and poison)."""
    out = pgd_cached(enc, x, key, args)
    for target in ("style", "poison"):
        out.update(pgd_cached(enc, x, key, args, target))
    return out


def scaled_to_flip(x: np.ndarray, xp: np.ndarray, goal: float, steps: int = 10) -> np.ndarray:
    """x + s (xp - x) on the 8-bit grid, the largest s in [0, 1] (bisection) whose FLIP stays within `goal`:
    an attack shown at another method's visibility."""
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if flip(x, to8(x + mid * (xp - x))) <= goal else (lo, mid)
    return to8(x + lo * (xp - x))


BESIDE = {"guard": "", "style": " towards style", "poison": " towards poison"}  # cloak: the PGD set beside it


def pgd_at_flip_label(cloak: str, pgd_steps: int) -> str:
    """The row of the PGD set beside `cloak`, scaled to its FLIP: "PGD-50 towards style at style's FLIP"."""
    return f"PGD-{pgd_steps}{BESIDE[cloak]} at {cloak}'s FLIP"


def at_cloak_visibility(x: np.ndarray, outputs: dict, pgd_steps: int) -> dict:
    """Each PGD scaled down to the FLIP of the shipped cloak it is set beside (at its default) on this
    crop: the issue compares them "at that visibility", and full PGD shows about twice as much."""
    out = {}
    for cloak, suffix in BESIDE.items():
        name, default = f"PGD-{pgd_steps}{suffix}", f"{cloak} default"
        if name in outputs and default in outputs:
            image, seconds = outputs[name]
            goal = flip(x, outputs[default][0])
            out[pgd_at_flip_label(cloak, pgd_steps)] = (scaled_to_flip(x, image, goal), seconds)
    return out


def cloak_outputs(x: np.ndarray, folders: dict, eps: int) -> dict:
    """{"guard default": (image, seconds), ...} for every model folder and strength level, through the
    filters exactly as users run them."""
    out = {}
    rgba = np.dstack([x, np.ones(x.shape[:2], np.float32)])
    for tag, folder in folders.items():
        os.environ["OMAMORI_MODELS"] = str(folder)
        for name in CLOAKS:
            if not (folder / f"{name}.onnx").is_file():
                continue
            for level in LEVELS:
                steps = build_steps([{"filter": name, "params": {"epsilon": eps, "strength": level}}])
                t = time.perf_counter()
                xp = run_steps(rgba, steps)[..., :3]
                label = f"{name} {level}" + ("" if tag == "shipped" else f" ({tag})")
                out[label] = (xp, time.perf_counter() - t)
    return out


def speed_2048(folder: Path, passes: int = 7) -> dict:
    """Each shipped cloak's `benchmeasure.pass_speed_2048` (median of several 2048² passes)."""
    return {name: pass_speed_2048(models.load(name, folder), passes)
            for name in CLOAKS if (folder / f"{name}.onnx").is_file()}


def speed_line(speeds: dict, threads: int) -> str:
    """The speed runs as one line of the README's benchmark section."""
    parts = [f"{n} {s['median']} ({s['slowest']}–{s['fastest']})" for n, s in speeds.items()]
    passes = next(iter(speeds.values()))["passes"] if speeds else 0
    return (f"Pass at 2048² on {threads} threads, pattern and rounding, median of {passes} passes "
            f"(slowest–fastest), MP/s: " + ", ".join(parts) + ".")


def targets_of(method: str) -> tuple:
    """The targets a method's row reports: its own for style, poison and targeted PGD, both for uniform
    noise (the yardstick: how far plain grain moves each statistic), none for the guard and plain PGD."""
    first = method.split()[0]
    if first in ("style", "poison"):
        return (first,)
    if " towards " in method:  # targeted PGD, full or at a cloak's FLIP
        return (method.split(" towards ")[1].split()[0],)
    return ("style", "poison") if method.startswith("uniform noise") else ()


def guard_against_pgd(rows: dict, pgd_steps: int, draws: int = 5000) -> dict:
    """The issue's guard target per kind and encoder: mean r after posting of the guard (default) over
    PGD's scaled to its FLIP, with a 90% bootstrap interval over the crops (how sure a verdict is)."""
    out = {}
    rng = np.random.default_rng(0)
    for kind, by_method in rows.items():
        guard, pgd_rows = by_method.get("guard default"), by_method.get(pgd_at_flip_label("guard", pgd_steps))
        if not guard or not pgd_rows:
            continue
        picks = rng.integers(0, len(guard), (draws, len(guard)))
        for key in (k for k in guard[0] if k.startswith("r_post_")):
            g, p = np.array([r[key] for r in guard]), np.array([r[key] for r in pgd_rows])
            boots = g[picks].mean(1) / p[picks].mean(1)
            out.setdefault(kind, {})[key[len("r_post_"):]] = {
                "ratio": round(float(g.mean() / p.mean()), 3),
                "interval_90": [round(float(v), 3) for v in np.percentile(boots, [5, 95])]}
    return out


def ratio_line(ratios: dict, pgd_steps: int) -> str:
    """The guard's ratios to PGD as one line of the README's benchmark section."""
    parts = [f"{kind}: " + ", ".join(f"{enc} {v['ratio']:.2f}× ({v['interval_90'][0]:.2f}–{v['interval_90'][1]:.2f})"
                                     for enc, v in encs.items()) for kind, encs in ratios.items()]
    return (f"Guard (default) r after posting over PGD-{pgd_steps}'s at the guard's FLIP, 90% bootstrap interval "
            f"over the crops: " + "; ".join(parts) + ".")


def summarise(rows: dict) -> dict:
    return {kind: {m: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for m, rs in by_method.items()}
            for kind, by_method in rows.items()}


def table(methods: dict, judges: list) -> str:
    cols = ["method", "FLIP", "PSNR", "r TAEF2", "r TAEF2 posted"]
    for j in judges:
        cols += [f"r judge {j}", f"r judge {j} posted"]
    cols += ["target dist. (TAEF2 / judges)", "s / crop"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, m in methods.items():
        cells = [name, f"{m['flip']:.4f}", f"{m['psnr']:.2f}", f"{m['r_taef2']:.3f}", f"{m['r_post_taef2']:.3f}"]
        for j in judges:
            cells += [f"{m[f'r_judge_{j}']:.3f}", f"{m[f'r_post_judge_{j}']:.3f}"]
        dists = []
        for kind in targets_of(name):
            figures = " / ".join(f"{m[f'{kind}_dist_{e}']:.3f}" for e in ["taef2"] + [f"judge_{j}" for j in judges])
            dists.append(f"{kind} {figures}" if name.startswith("uniform noise") else figures)
        cells += ["; ".join(dists) or "–", f"{m['seconds']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def crop_count(value: str) -> int | None:
    """--images: a number of crops per kind, or "all" (None): one centre crop of every held-out picture."""
    return None if value == "all" else int(value)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=crop_count, default=3,
                   help="held-out crops per kind (painted, flat), or all: one from every held-out picture")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--eps", type=int, default=8)
    p.add_argument("--pgd-steps", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--compare", action="append", default=[], metavar="TAG=DIR",
                   help="also measure the models in DIR (e.g. v1=/tmp/v1-models)")
    p.add_argument("--out", type=Path, default=REPO / "models" / "benchmark.json")
    p.add_argument("--readme", action="store_true", help="refresh the table in models/README.md")
    p.add_argument("--cards", action="store_true", help="add the results to the model cards")
    p.add_argument("--cache", type=Path, default=Path.home() / ".omamori" / "bench_cache")
    p.add_argument("--pgd-only", action="store_true", help="only fill the PGD cache")
    p.add_argument("--device", type=device_arg, default="cpu",
                   help="torch device for PGD, e.g. cuda to fill the cache on a GPU")
    p.add_argument("--no-speed", action="store_true", help="skip the 2048² speed runs")
    p.add_argument("--no-pgd", action="store_true", help="skip PGD (a quick look at the cloaks only)")
    args = p.parse_args(argv)
    args.pgd_devices = set()  # where the PGD seconds read from the cache were measured
    torch.set_num_threads(args.threads)
    os.environ["OMAMORI_THREADS"] = str(args.threads)
    taef2 = load_encoder().to(args.device)
    nets = {"taef2": taef2}
    judges = [] if args.pgd_only else available(sorted(JUDGES))
    loaded = {j: load_distilled(j) for j in judges}  # (network, training info): one read of each checkpoint
    nets.update({f"judge_{j}": net for j, (net, _info) in loaded.items()})
    folders = {"shipped": models.models_dir(), **{t: Path(d) for t, d in (c.split("=", 1) for c in args.compare)}}
    arts = {"painted": Artwork("val"), "flat": Artwork("val", flat_dir())}
    sets = {kind: art.validation_crops(len(art.images) if args.images is None else args.images, args.crop)
            for kind, art in arts.items()}
    rows: dict = {}
    rng = np.random.default_rng(0)
    for kind, crops in sets.items():
        for i, x in enumerate(crops):
            x = to8(x)
            iterates = {} if args.no_pgd else every_pgd(taef2, x, crop_key(kind, x), args)
            print(f"{kind} {i + 1}/{len(crops)}", flush=True)
            if args.pgd_only:
                continue
            noise = to8(x + rng.integers(-args.eps, args.eps + 1, x.shape) / 255)
            outputs = {**cloak_outputs(x, folders, args.eps), "uniform noise ±eps": (noise, 0.0), **iterates}
            outputs.update(at_cloak_visibility(x, outputs, args.pgd_steps))
            for method, (xp, seconds) in outputs.items():
                rows.setdefault(kind, {}).setdefault(method, []).append(
                    {**visibility(x, xp), **effect(nets, x, xp, targets_of(method)), "seconds": seconds})
    if args.pgd_only:
        return 0
    summary = {"crops": {kind: len(crops) for kind, crops in sets.items()}, "crop": args.crop,
               "epsilon": args.eps, "threads": args.threads,
               "posting": "0.75x area downscale + JPEG 85", "flip": "flip-evaluator, LDR, 67 ppd, mean error",
               "judges": {j: info["evals"][-1] for j, (_net, info) in loaded.items()},
               "cpu": os.cpu_count(), "load_average_at_end": os.getloadavg(), "methods": summarise(rows),
               "guard_over_pgd_at_its_flip": guard_against_pgd(rows, args.pgd_steps),
               "pgd_seconds_measured_on": sorted(args.pgd_devices)}
    if not args.no_speed:
        summary["mp_per_s_2048"] = speed_2048(folders["shipped"])
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    text = "\n\n".join(f"**{kind}** ({summary['crops'][kind]} held-out {args.crop}² crops)\n\n"
                       + table(m, judges) for kind, m in summary["methods"].items())
    if summary["guard_over_pgd_at_its_flip"]:
        text += "\n\n" + ratio_line(summary["guard_over_pgd_at_its_flip"], args.pgd_steps)
    if "mp_per_s_2048" in summary:
        text += "\n\n" + speed_line(summary["mp_per_s_2048"], args.threads)
    print(text)
    if args.cards:
        for name in CLOAKS:
            path = folders["shipped"] / f"{name}.json"
            card = json.loads(path.read_text())
            card["benchmark"] = {kind: {m: v for m, v in ms.items() if m.split()[0] == name and "(" not in m}
                                 for kind, ms in summary["methods"].items()}
            card["benchmark"]["reference"] = {kind: {m: v for m, v in ms.items() if m.split()[0] not in CLOAKS}
                                              for kind, ms in summary["methods"].items()}
            card["benchmark"]["script"] = "tests/benchmarks/bench_cloak.py"
            card["benchmark"]["crops"] = {"size": args.crop, **summary["crops"]}
            if name == "guard" and summary["guard_over_pgd_at_its_flip"]:
                card["benchmark"]["over_pgd_at_its_flip"] = summary["guard_over_pgd_at_its_flip"]
            card["benchmark"]["judges"] = summary["judges"]  # how faithful the judges were (steps, error)
            if name in summary.get("mp_per_s_2048", {}):
                card["benchmark"]["mp_per_s_2048"] = summary["mp_per_s_2048"][name]
            path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    if args.readme:
        readme = REPO / "models" / "README.md"
        body = readme.read_text()
        start, end = "<!-- BENCHMARK -->", "<!-- /BENCHMARK -->"
        head, rest = body.split(start, 1)
        readme.write_text(head + start + "\n" + text + "\n" + end + rest.split(end, 1)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
