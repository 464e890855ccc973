"""Export a checkpoint to models/<name>.onnx + models/<name>.json (model card with measured metrics),
or build the surrogate encoders for `omamori evaluate` outside the repository.

    python -m models.training.export guard [--images 8]   # any time, from the latest checkpoint
    python -m models.training.export encoders             # -> $OMAMORI_HOME/encoders (never in the repo)
"""
import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .data import Artwork
from .generator import Generator, generator_for
from omamori import benchmeasure, models

from .surrogates import REPO, TransferEncoder, load_decoder, load_encoder
from .runs import runs_dir

OPSET = 17
OBJECTIVES = {
    "guard": "untargeted: maximise r = ||E(x')-E(x)|| / ||E(x)|| (anti image-to-image, like Mist/PhotoGuard)",
    "style": "targeted: pull E(x') towards E(restyle(x)), a flat ink-outlined warm poster style (like Glaze)",
    "poison": "targeted: pull E(x') towards E(poison_target), a brick wall, another concept (like Nightshade)",
}
# v2 (train.py --transfer): the same aims on an augmented TAEF2 (dropout / weight-noise copies), on the
# latent and the features after each downsampling stage (half weight), under a perceptual budget.
OBJECTIVES_V2 = {
    "guard": "untargeted: maximise the relative distortion of latent and stage features (half weight) of "
             "augmented TAEF2 copies (anti image-to-image, like Mist/PhotoGuard)",
    "style": "targeted: pull the position-free statistics (channel mean, std, Gram) of latent and stage "
             "features of augmented TAEF2 copies towards those of style_target(x), the named style farthest "
             "from the picture's own (like Glaze)",
    "poison": "targeted: pull latent and stage features of augmented TAEF2 copies towards those of "
              "poison_target, a brick wall, another concept (like Nightshade)",
}
TARGET_INPUTS = {"poison": "omamori.cloak_targets.brick_wall at the tile's place in the image"}
DEFEATED_BY = [
    "Gaussian noise followed by an upscaler, DiffPure and other diffusion purification (Hönig et al. 2024)",
    "IMPRESS-style VAE round-trip purification; pixel-space diffusion models (Xue & Chen 2024)",
    "strong JPEG (quality < 75) combined with downscaling weakens it; see benchmark (r_post_*: after 0.75x + JPEG 85)",
    "detectors trained on cloaked images (LightShed reports 99.98% for Nightshade)",
    "an encoder that differs enough from the surrogate: transfer is only estimated, on held-out judges distilled "
    "from TAEF2 (benchmark: r_judge_*, judges)",
]


def export_onnx(gen: Generator, path: Path) -> None:
    x = torch.rand(1, 3, 64, 64)
    inputs, names = ((x, torch.rand(1, 3, 64, 64)), ["image", "target"]) if gen.with_target else ((x,), ["image"])
    axes = {n: {0: "n", 2: "h", 3: "w"} for n in names + ["pattern"]}
    torch.onnx.export(gen.eval(), inputs, str(path), opset_version=OPSET, input_names=names,
                      output_names=["pattern"], dynamic_axes=axes, dynamo=False)


def export_encoders(out: Path) -> None:
    """TAEF2 (+ the distilled transfer encoder when trained) as ONNX for evaluate; stays on this machine."""
    out.mkdir(parents=True, exist_ok=True)
    nets = {"taef2_encoder": (load_encoder(), 3), "taef2_decoder": (load_decoder(), 32)}
    ckpt = runs_dir() / "transfer" / "encoder.pt"
    if ckpt.is_file():
        enc = TransferEncoder()
        enc.load_state_dict(torch.load(ckpt, weights_only=True)["state"])
        nets["transfer_encoder"] = (enc.eval(), 3)
        info = torch.load(ckpt, weights_only=True)["info"]
        (out / "transfer_encoder.json").write_text(json.dumps(info, indent=2) + "\n")
    for name, (net, ch) in nets.items():
        torch.onnx.export(net, (torch.rand(1, ch, 64, 64),), str(out / f"{name}.onnx"), opset_version=OPSET,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {2: "h", 3: "w"}, "y": {2: "h", 3: "w"}}, dynamo=False)
        print(f"wrote {out / f'{name}.onnx'}")


def measure_model(name: str, folder: Path, n_images: int, eps: int = 8) -> dict:
    """Card metrics on held-out 512² crops via the shipped runtime (ONNX, 8-bit rounding, real JPEG)."""
    enc, dec = benchmeasure.find_encoder("taef2")
    transfer = benchmeasure.find_encoder("transfer")[0] if (benchmeasure.encoders_dir() / "transfer_encoder.onnx").is_file() else None
    model = models.CloakModel(name, folder)
    crops = Artwork("val").validation_crops(n_images, 512)
    rng = np.random.default_rng(0)
    rows, noise_rows, t_rows, tn_rows, times = [], [], [], [], []
    for x in crops:
        x = np.rint(x * 255) / 255
        t0 = time.perf_counter()
        xp = models.protect(x, model, eps)
        times.append(time.perf_counter() - t0)
        xn = np.clip(np.rint(x * 255 + rng.integers(-eps, eps + 1, x.shape)) / 255, 0, 1)
        rows.append(benchmeasure.measure(x, xp, enc, dec, cloak=name))
        noise_rows.append(benchmeasure.measure(x, xn, enc, None, transforms=("none",)))
        if transfer is not None:
            t_rows.append(benchmeasure.measure(x, xp, transfer, None, transforms=("none", "resize0.75+jpeg85")))
            tn_rows.append(benchmeasure.measure(x, xn, transfer, None, transforms=("none",)))
    mean = lambda rs, f: float(np.mean([f(r) for r in rs]))  # noqa: E731
    m = {"images": n_images, "crop": 512, "epsilon": eps, "split": "held-out (file-name hash, see data.py)",
         "r_taef2": {k: round(mean(rows, lambda r: r["r"][k]), 4) for k in rows[0]["r"]},
         "r_uniform_noise_taef2": round(mean(noise_rows, lambda r: r["r"]["none"]), 4),
         "psnr_db": round(mean(rows, lambda r: r["psnr"]), 2), "ssim": round(mean(rows, lambda r: r["ssim"]), 4),
         "max_change_levels": max(r["linf_levels"] for r in rows),
         "decoder_psnr_db": {"clean": round(mean(rows, lambda r: r["decoder_psnr_clean"]), 2),
                             "protected": round(mean(rows, lambda r: r["decoder_psnr_protected"]), 2)},
         "seconds_per_512_image": round(float(np.mean(times)), 3)}
    m["kept_after_resize0.75+jpeg85"] = round(m["r_taef2"]["resize0.75+jpeg85"] / m["r_taef2"]["none"], 3)
    if "target_distance" in rows[0]:
        m["target_distance"] = round(mean(rows, lambda r: r["target_distance"]), 4)
    if t_rows:
        info_path = benchmeasure.encoders_dir() / "transfer_encoder.json"
        m["transfer"] = {"encoder": "distilled from TAEF2, other architecture, never trained against",
                         "distillation": json.loads(info_path.read_text()) if info_path.is_file() else None,
                         "r": round(mean(t_rows, lambda r: r["r"]["none"]), 4),
                         "r_after_resize0.75+jpeg85": round(mean(t_rows, lambda r: r["r"]["resize0.75+jpeg85"]), 4),
                         "r_uniform_noise": round(mean(tn_rows, lambda r: r["r"]["none"]), 4)}
        m["transfer"]["ratio_to_noise"] = round(m["transfer"]["r"] / m["transfer"]["r_uniform_noise"], 3)
    m["mp_per_s_2048"] = benchmeasure.pass_speed_2048(model)
    return m


def teacher_summary(teacher: Path, info: dict) -> dict:
    """What a distilled student inherits: its teacher's file, sha256 and training (from the teacher's card
    beside it), and how closely the student reproduces the teacher's pattern."""
    card_path = (REPO / teacher if not teacher.is_absolute() else teacher).with_suffix(".json")
    teacher_card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    return {"teacher": str(teacher), "teacher_sha256": teacher_card.get("sha256"),
            "teacher_training": {k: teacher_card.get(k) for k in ("training", "steps", "wall_time_s", "data")},
            "loss": "mean squared pattern difference / mean squared teacher pattern, on painted and flat crops",
            "relative_mse_ema": info.get("train_metric_ema")}


def lineage(info: dict) -> list:
    """Every training run a checkpoint grew from, newest first: what it started from, its steps, wall time
    and device (runs before session 29 recorded none: they all ran on CPUs)."""
    runs = []
    while info:
        runs.append({"started_from": info.get("init") or info.get("init_onnx") or info.get("distilled_from"),
                     "steps": info.get("steps", 0), "wall_time_s": info.get("wall_time_s", 0),
                     "device": info.get("device", "cpu")})
        info = info.get("init_info") or {}
    return runs


def made_by(folder: Path, card: dict, export_command: str | None) -> dict:
    """How the model was made: the pipeline, the commands of the runs in its lineage and its export. The
    training commands are written by hand into a card (as in models/README.md, 'Commands', and
    models/training/run_all.sh); a re-export keeps them only while it writes the very same model: same
    ONNX (sha256) and the same card settings the runtime reads (levels, pyramid, grey)."""
    card_path = folder / f"{card['name']}.json"
    old = json.loads(card_path.read_text()) if card_path.is_file() else {}
    same = all(old.get(k) == card.get(k) for k in ("sha256", "strength_scales", "pyramid", "luminance_only"))
    kept = old.get("made_by", {}) if same else {}
    out = {"pipeline": "models/training/run_all.sh (models/README.md, 'Commands')"}
    if "commands" in kept:
        out["commands"] = kept["commands"]
    if export_command or kept.get("export"):
        out["export"] = export_command or kept["export"]
    return out


def write_card(name: str, folder: Path, info: dict, metrics: dict | None, export_command: str | None = None) -> dict:
    onnx_path = folder / f"{name}.onnx"
    runs = lineage(info)
    gen = generator_for(info)
    card = {
        "name": name, "format": "onnx", "opset": OPSET,
        "inputs": ["image", "target"] if info.get("with_target") else ["image"],
        "target": name if info.get("with_target") else None,
        "architecture": dict(gen.arch, receptive_radius_px=gen.receptive_radius(),
                             parameters=sum(p.numel() for p in gen.parameters())),
        "io": f"image: float32 (N,3,H,W) RGB in [0,1], H and W multiples of {gen.factor}"
              + (f"; target: {TARGET_INPUTS[name]}" if info.get("with_target") else "")
              + "; pattern: same shape in [-1,1], the runtime adds epsilon/255 * pattern",
        "targets": {"encoder": "TAEF2 (tiny distilled FLUX.2 VAE encoder, madebyollin/taesd)",
                    "objective": (OBJECTIVES_V2 if info.get("transfer") else OBJECTIVES)[name]},
        "budget": {"epsilon_default": 8, "epsilon_range": [1, 16], "trained_at_epsilon": info["eps"],
                   "unit": "L-infinity in 8-bit levels, enforced after rounding",
                   "rms_cap_levels_at_training": info["rms_cap_levels"]},
        "data": "Wesnoth 1.16 artwork (GPL-2.0+), ../shared/data/artwork, training split; portraits composited on "
                "varied backgrounds; random 0.35-1.2x scale, crops of %d px" % info["crop"]
                + ("; %d%% of each batch flat-colour drawings (../shared/data/flat, public domain, training split)"
                   % round(100 * (info.get("flat_share") or 0.5)) if info.get("flat") else ""),
        "training": {k: info.get(k) for k in ("batch", "crop", "lr", "seed", "init", "init_onnx", "transfer",
                                              "ensemble", "visibility_budget", "train_metric_ema",
                                              "distilled_from", "pyramid_in_loop",
                                              "visibility_measure", "device")},
        "lineage": runs,
        "steps": sum(r["steps"] for r in runs),
        "wall_time_s": round(sum(r["wall_time_s"] for r in runs), 1),
        "sha256": models.sha256_of(onnx_path), "size_bytes": onnx_path.stat().st_size,
        "metrics": metrics, "defeated_by": DEFEATED_BY,
    }
    if info.get("distilled_from"):
        card["distillation"] = teacher_summary(Path(info["distilled_from"]), info)
    if info.get("strength_scales"):  # fraction of epsilon per strength level, read by the filters
        card["strength_scales"] = info["strength_scales"]
    if info.get("pyramid"):  # read by the runtime (omamori.models.pyramid_of)
        card["pyramid"] = info["pyramid"]
        card["io"] += ("; pyramid: on each tile the runtime mixes in the pattern of the tile shrunk `shrink` "
                       "times (area), enlarged back (bicubic), where the picture is smooth: weight 1 - t, t = local "
                       "std of luma of the shrunk tile (Gaussian, texture_sigma_px / shrink there) / texture_std, "
                       "at most 1, enlarged alike; the full-size pattern's weight is the same std / fine_std, "
                       "at most 1")
    if info.get("luminance_only"):  # read by the runtime (omamori.models.luminance_only_of)
        card["luminance_only"] = True
        card["io"] += ("; luminance_only: the runtime replaces each pixel's change by its luma "
                       "(0.299 R + 0.587 G + 0.114 B) in all three channels, a grey pattern")
    card["made_by"] = made_by(folder, card, export_command)
    (folder / f"{name}.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return card


def export_model(name: str, folder: Path, n_images: int, checkpoint: Path | None = None, run: str = None,
                 scales: dict | None = None, pyramid: dict | None = None, luminance_only: bool = False,
                 export_command: str | None = None) -> dict:
    """Checkpoint (default: the run's last.pt) -> ONNX + card. The runtime caches one session per path,
    so measure a re-exported model in a fresh process (as the command line does)."""
    ckpt = torch.load(checkpoint or runs_dir() / (run or name) / "last.pt", weights_only=True)
    info = dict(ckpt["info"], strength_scales=scales, pyramid=pyramid, luminance_only=luminance_only)
    gen = generator_for(info)
    gen.load_state_dict(ckpt["state"])
    folder.mkdir(parents=True, exist_ok=True)
    export_onnx(gen, folder / f"{name}.onnx")
    write_card(name, folder, info, None, export_command)  # the runtime needs the sha256 before it measures anything
    metrics = None
    if n_images:
        if not (benchmeasure.encoders_dir() / "taef2_encoder.onnx").is_file():
            export_encoders(benchmeasure.encoders_dir())
        metrics = measure_model(name, folder, n_images)
    card = write_card(name, folder, info, metrics, export_command)
    print(json.dumps(card["metrics"], indent=1))
    return card


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=["guard", "style", "poison", "encoders"])
    p.add_argument("--out", type=Path, default=REPO / "models", help="folder for <name>.onnx/.json")
    p.add_argument("--checkpoint", type=Path)
    p.add_argument("--run", help="checkpoint folder under $OMAMORI_RUNS (default: the model name)")
    p.add_argument("--strength-scales", type=float, nargs=3, metavar=("LOW", "DEFAULT", "HIGH"),
                   help="pattern scale per strength level (fraction of epsilon; the runtime clips at epsilon)")
    p.add_argument("--pyramid", nargs=3, type=float, metavar=("SHRINK", "SIGMA", "STD"),
                   help="where the picture is smooth, use the pattern of the picture shrunk SHRINK times "
                        "(texture: local luma std, Gaussian SIGMA px, over STD), e.g. 2 4 0.1 (models/README.md)")
    p.add_argument("--fine-std", type=float,
                   help="with --pyramid: the full-size pattern's weight is the local luma std over FINE_STD "
                        "(at most STD), at most 1, e.g. 0.01 (default: STD, the two weights add up to 1)")
    p.add_argument("--luminance-only", action="store_true",
                   help="the runtime makes the pattern grey (each pixel's change = its luma), models/README.md")
    p.add_argument("--images", type=int, default=8, help="held-out 512² crops to measure (0: skip metrics)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    if args.fine_std is not None and not args.pyramid:
        p.error("--fine-std only means something with --pyramid")
    torch.set_num_threads(args.threads)
    if args.name == "encoders":
        export_encoders(benchmeasure.encoders_dir())
    else:
        scales = dict(zip(("low", "default", "high"), args.strength_scales)) if args.strength_scales else None
        pyramid = args.pyramid and dict(zip(("shrink", "texture_sigma_px", "texture_std"), args.pyramid),
                                        shrink=int(args.pyramid[0]), fine_std=args.fine_std or args.pyramid[2])
        command = "python -m models.training.export " + shlex.join(sys.argv[1:] if argv is None else argv)
        export_model(args.name, args.out, args.images, args.checkpoint, args.run, scales, pyramid,
                     args.luminance_only, command)


if __name__ == "__main__":
    main()
