"""Cloaking models vs PGD on the same surrogate, same epsilon, same held-out images, in one run
(a benchmark, not a test; needs torch==2.13.0, ../shared and the encoders of
`python -m models.training.export encoders`).

    python tests/benchmarks/bench_cloak.py [--images 3] [--pgd-steps 50] [--readme]

PGD: sign-gradient ascent on ||E(x+d) - E(x)|| through the TAEF2 encoder, step eps/8, L-inf projection;
PGD-20 is the 20th iterate of the same run (identical to a separate 20-step run with this step size).
PGD iterates can be precomputed in the background (--pgd-only, e.g. under `nice`) into --cache; the
benchmark then times a few fresh PGD steps on the same image in the same run as the models and reports
PGD-k's time as k x that step time (so PGD is never timed under a different load than the models). Every method's output is rounded to 8 bits and measured by omamori.evaluate
with the same ONNX encoders. Writes models/benchmark.json; --readme also refreshes the table in
models/README.md between the BENCHMARK markers."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "core")]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from models.training.data import Artwork  # noqa: E402
from models.training.surrogates import load_encoder  # noqa: E402
from omamori import evaluate, models  # noqa: E402

TRANSFORMS = ("none", "jpeg85", "resize0.75+jpeg85")


def pgd(enc, x: np.ndarray, eps: int, steps: int, keep=(20,), target: np.ndarray | None = None) -> dict:
    """{step: (8-bit image, seconds)} for the iterates in `keep` and the last one. Untargeted, or
    towards E(target) when a target image is given (as the style and poison cloaks are trained)."""
    xt = torch.from_numpy(x.transpose(2, 0, 1))[None]
    with torch.no_grad():
        z = enc(xt if target is None else torch.from_numpy(target.transpose(2, 0, 1))[None])
    sign = 1.0 if target is None else -1.0
    e, alpha = eps / 255, eps / 255 / 8
    delta = torch.zeros_like(xt, requires_grad=True)
    out, start = {}, time.perf_counter()
    for step in range(1, steps + 1):
        loss = sign * (enc((xt + delta).clamp(0, 1)) - z).norm()
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta += alpha * grad.sign()
            delta.clamp_(-e, e)
        if step in keep or step == steps:
            img = np.rint((xt + delta).clamp(0, 1)[0].permute(1, 2, 0).detach().numpy() * 255) / 255
            out[step] = (img.astype(np.float32), time.perf_counter() - start)
    return out


def pgd_cached(enc, x, i, args) -> dict:
    """PGD iterates from the cache (computing and storing them when missing), timed by fresh steps."""
    path = args.cache / f"pgd_{i}_eps{args.eps}_{args.pgd_steps}.npz"
    if not path.is_file():
        args.cache.mkdir(parents=True, exist_ok=True)
        res = pgd(enc, x, args.eps, args.pgd_steps)
        np.savez_compressed(path, **{f"s{k}": v[0] for k, v in res.items()}, x=x)
    data = np.load(path)
    assert np.array_equal(data["x"], x), f"stale PGD cache {path}: delete it"
    if args.pgd_only:
        return {}
    per_step = pgd(enc, x, args.eps, args.timing_steps, keep=())[args.timing_steps][1] / args.timing_steps
    return {int(k[1:]): (data[k], per_step * int(k[1:])) for k in data.files if k.startswith("s")}


def row(x, xp, seconds, enc, transfer, cloak="guard") -> dict:
    m = evaluate.measure(x, xp, enc, None, cloak=cloak, transforms=TRANSFORMS)
    r = {"r": m["r"]["none"], "r_jpeg85": m["r"]["jpeg85"], "r_post": m["r"]["resize0.75+jpeg85"],
         "psnr": m["psnr"], "ssim": m["ssim"], "seconds": seconds}
    if "target_distance" in m:
        r["target_distance"] = m["target_distance"]
    if transfer is not None:
        r["transfer_r"] = evaluate.measure(x, xp, transfer, None, transforms=("none",))["r"]["none"]
    return r


def speed_2048(threads: int) -> float:
    os.environ["OMAMORI_THREADS"] = str(threads)
    models._SESSIONS.clear()
    model = models.load("guard")
    img = np.random.default_rng(1).random((2048, 2048, 3), dtype=np.float32)
    model.pattern(img[:512, :512])  # warm-up
    best = min(_timed(lambda: models.protect(img, model, 8)) for _ in range(3))
    return 2048 * 2048 / 1e6 / best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def table(summary: dict) -> str:
    cols = ["method", "r TAEF2", "r after JPEG85", "r after 0.75x+JPEG85", "kept", "transfer r",
            "PSNR dB", "SSIM", "s / 512² image", "target dist."]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, m in summary["methods"].items():
        kept = m["r_post"] / m["r"] if m["r"] else 0
        lines.append("| " + " | ".join([
            name, f"{m['r']:.3f}", f"{m['r_jpeg85']:.3f}", f"{m['r_post']:.3f}", f"{kept:.0%}",
            f"{m.get('transfer_r', float('nan')):.3f}", f"{m['psnr']:.2f}", f"{m['ssim']:.4f}",
            f"{m['seconds']:.2f}", f"{m['target_distance']:.3f}" if "target_distance" in m else "–"]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=3)
    p.add_argument("--eps", type=int, default=8)
    p.add_argument("--pgd-steps", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=REPO / "models" / "benchmark.json")
    p.add_argument("--readme", action="store_true", help="refresh the table in models/README.md")
    p.add_argument("--cards", action="store_true", help="add the results to the model cards (JSON only)")
    p.add_argument("--cache", type=Path, default=Path.home() / ".omamori" / "bench_cache")
    p.add_argument("--pgd-only", action="store_true", help="only fill the PGD cache (run it under nice)")
    p.add_argument("--targeted-images", type=int, default=1, help="images for the targeted PGD calibration")
    p.add_argument("--targeted-steps", type=int, default=20)
    p.add_argument("--timing-steps", type=int, default=3, help="fresh PGD steps timed per image")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ["OMAMORI_THREADS"] = str(args.threads)
    enc, _ = evaluate.find_encoder("taef2")
    has_transfer = (evaluate.encoders_dir() / "transfer_encoder.onnx").is_file()
    transfer = evaluate.find_encoder("transfer")[0] if has_transfer else None
    torch_enc = load_encoder()
    cloaks = [n for n in ("guard", "style", "poison") if (models.models_dir() / f"{n}.onnx").is_file()]
    rows: dict = {}
    rng = np.random.default_rng(0)
    crops = Artwork("val").validation_crops(args.images, 512)
    for i, x in enumerate(crops):
        x = (np.rint(x * 255) / 255).astype(np.float32)
        iterates = pgd_cached(torch_enc, x, i, args)
        if args.pgd_only:
            print(f"PGD cached for image {i + 1}/{len(crops)}", flush=True)
            continue
        for name in cloaks:
            model = models.load(name)
            t = time.perf_counter()
            xp = models.protect(x, model, args.eps)
            rows.setdefault(name, []).append(row(x, xp, time.perf_counter() - t, enc, transfer, cloak=name))
        noise = np.clip(np.rint(x * 255 + rng.integers(-args.eps, args.eps + 1, x.shape)) / 255, 0, 1)
        rows.setdefault("uniform noise ±eps", []).append(row(x, noise.astype(np.float32), 0.0, enc, transfer))
        for steps, (xp, seconds) in sorted(iterates.items()):
            rows.setdefault(f"PGD-{steps}", []).append(row(x, xp, seconds, enc, transfer))
        if i < args.targeted_images:  # calibration for style/poison: PGD towards the same targets
            for name in ("style", "poison"):
                xt = pgd(torch_enc, x, args.eps, args.targeted_steps, keep=(),
                         target=evaluate.target_image(name, x))[args.targeted_steps][0]
                rows.setdefault(f"PGD-{args.targeted_steps} to {name} target", []).append(
                    row(x, xt, float("nan"), enc, transfer, cloak=name))
        print(f"image {i + 1}/{len(crops)} done", flush=True)
    if args.pgd_only:
        return 0
    methods = {name: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for name, rs in rows.items()}
    pgd_name = f"PGD-{args.pgd_steps}"
    summary = {"images": len(crops), "crop": 512, "epsilon": args.eps, "threads": args.threads,
               "pgd_seconds": f"{args.pgd_steps} x a fresh {args.timing_steps}-step timing per image",
               "cpu": os.cpu_count(), "load_average_at_end": os.getloadavg(), "methods": methods, "per_image": rows}
    if "guard" in methods:
        g, ref, noise = methods["guard"], methods[pgd_name], methods["uniform noise ±eps"]
        summary["guard_vs_pgd"] = {
            "r_ratio": g["r"] / ref["r"], "kept_after_post": g["r_post"] / g["r"],
            "pgd_kept_after_post": ref["r_post"] / ref["r"], "r_post_ratio": g["r_post"] / ref["r_post"],
            "speedup": ref["seconds"] / g["seconds"],
            "transfer_vs_noise": g.get("transfer_r", float("nan")) / noise.get("transfer_r", float("nan")),
            "mp_per_s_2048": speed_2048(args.threads)}
        gv = summary["guard_vs_pgd"]
        goals = {"mp_per_s_2048": 2.0, "speedup": 1000.0, "r_ratio": 0.9, "kept_after_post": 0.7,
                 "transfer_vs_noise": 2.0}
        summary["targets"] = {k: {"measured": round(gv[k], 3), "goal": f">= {v}", "met": bool(gv[k] >= v)}
                              for k, v in goals.items()}
        summary["targets"]["psnr_db"] = {"measured": round(g["psnr"], 2), "goal": ">= 32",
                                         "met": bool(g["psnr"] >= 32)}
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    text = table(summary)
    print(text)
    print(json.dumps(summary.get("guard_vs_pgd", {}), indent=2))
    if args.cards:
        for name in cloaks:
            path = models.models_dir() / f"{name}.json"
            card = json.loads(path.read_text())
            card["benchmark"] = {"images": len(crops), "crop": 512, "epsilon": args.eps, "this_model": methods[name],
                                 pgd_name: methods[pgd_name], "uniform_noise": methods["uniform noise ±eps"],
                                 "script": "tests/benchmarks/bench_cloak.py"}
            if name == "guard":
                card["benchmark"]["issue_targets"] = summary["targets"]
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
