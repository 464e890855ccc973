"""Measuring protection: `omamori evaluate ORIGINAL PROTECTED [--profile NAME] [--json] [--report FILE]`
and, for the editors, `check_pixels` (contract 1).

What an AI pipeline sees is the latent of its VAE encoder. On the shipped TAEF2 encoder (`measuring.py`):
r = ||E(x') - E(x)|| / ||E(x)|| and the distances to the style (on position-free statistics) and poison
targets, as saved and after simulated posting (`posting.py`); visibility as FLIP and PSNR (`visibility.py`).
Every figure stands beside the same figure for uniform noise calibrated to the same FLIP on the same
picture, so "protected" means "more than noise that shows as much". The cloaks were trained against TAEF2;
on encoders they never saw the change can be smaller or larger, so the benchmark's figures on held-out
encoders are given beside them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from . import bands, measuring, models, posting
from . import visibility as vis
from .cloak_targets import pick_style, poison_target, style_target
from .errors import Cancelled, InputError
from .i18n import Text, columns, current_language
from .visibility import MatchedNoise, to_levels, visibility

SCHEMA = 1
AS_SAVED = posting.AS_SAVED
TARGETS = ("style", "poison")
MARK_LEVELS = 16   # the largest cloak budget (epsilon) in 8-bit levels: more is a visible mark
TARGET_REACH = 16  # > how far the style target looks around a pixel (box blur 2 + gradient 1)
# Verdict thresholds (design choices, stated in the README): protection counts when it beats equally
# visible noise clearly; gain = r / r of noise, pull = 1 - target distance / that of noise.
STRONG_GAIN, SOME_GAIN = 1.5, 1.15
# The guard alone pulled up to 0.097 by chance (style, position-free, on 5 pictures): not a targeted effect.
STRONG_PULL, SOME_PULL = 0.25, 0.12


# ---- measuring --------------------------------------------------------------------

def flatten_rgb(rgba: np.ndarray) -> np.ndarray:
    """RGB on white where transparent (what a JPEG post and most viewers show), float32 in [0, 1]; RGBA is
    flattened a band of rows at a time (at once, its temporaries cost 28 bytes a pixel)."""
    rgba = np.asarray(rgba, np.float32)
    if rgba.shape[-1] == 3:  # already flat: no copy when in range (a copy costs 12 bytes a pixel)
        return rgba if rgba.size and rgba.min() >= 0 and rgba.max() <= 1 else np.clip(rgba, 0, 1)
    out = np.empty(rgba.shape[:-1] + (3,), np.float32)

    def band(rows: slice) -> None:
        alpha = rgba[rows, :, 3:4]
        out[rows] = np.clip(rgba[rows, :, :3] * alpha + (1 - alpha), 0, 1)

    bands.for_each_band(rgba.shape[0], band)
    return out


def same_size(original: np.ndarray, protected: np.ndarray) -> tuple[np.ndarray, bool]:
    """The original at the protected picture's size: a preset's size cap is not protection, so a shrunk
    output is compared with the original shrunk the same way. Other differences are refused."""
    (h, w), (ph, pw) = original.shape[:2], protected.shape[:2]
    if (h, w) == (ph, pw):
        return original, False
    if ph > h or pw > w or abs(h / w - ph / pw) > 0.01 * (h / w) + 1.0 / min(pw, ph):
        raise InputError(Text("the two pictures differ in size ({a} vs {b}) and are not the same picture "
                              "scaled down; give the original and its protected copy.",
                              "2 枚の画像のサイズが違い（{a} と {b}）、縮小しただけの同じ画像でもありません。"
                              "元画像とその保護済みコピーを指定してください。"),
                         a=f"{w}x{h}", b=f"{pw}x{ph}")
    return cv2.resize(original, (pw, ph), interpolation=cv2.INTER_AREA), True


TOO_SMALL = Text("{size} px is too small to measure: posted ({posting}) it would be {posted} px, and the AI "
                 "encoder needs at least {side}×{side} px ({latent}×{latent} of its latent pixels).",
                 "{size} ピクセルの画像は小さすぎて測定できません。投稿（{posting_ja}）すると {posted} ピクセルになりますが、"
                 "AI のエンコーダには {side}×{side} ピクセル（潜在表現で {latent}×{latent}）以上が必要です。")


def refuse_too_small(ways: list[posting.Posting], width: int, height: int) -> None:
    """Refuses a picture that some posting leaves under measuring.MIN_SIDE a side: its verdict would rest
    on a few latent pixels (one, for a 4x4 picture)."""
    smallest = min(ways, key=lambda way: min(way.size(width, height)))
    posted = smallest.size(width, height)
    if min(posted) < measuring.MIN_SIDE:
        raise InputError(TOO_SMALL, size=f"{width}×{height}", posted=f"{posted[0]}×{posted[1]}",
                         posting=smallest.label.en, posting_ja=smallest.label.ja, side=measuring.MIN_SIDE,
                         latent=measuring.MIN_SIDE // 8)


def measure_protection(original: np.ndarray, protected: np.ndarray, *, profile: str | None = None,
                       cancel=None) -> dict:
    """Every figure of `evaluate --json` for two float32 RGB(A) pictures in [0, 1]; `profile` names the
    posting profile to simulate besides the generic posting ("all": every profile)."""
    ways = posting.postings(profile)
    refuse_too_small(ways, protected.shape[1], protected.shape[0])
    protected = flatten_rgb(protected)
    original, resized = same_size(flatten_rgb(original), protected)
    noise = MatchedNoise(original)
    levels = [noise.levels, to_levels(protected)]  # the original's 8-bit levels are the noise's base
    marks = visible_marks(*levels)
    places = measuring.clear_places(marks, measuring.TILE)
    seen, noisy = visibility(original, protected, noise, measuring.clear_places(marks, vis.TILE), ~marks)
    del noise  # its unit noise (12 bytes a pixel) is done with: the latents take the noisy picture
    pictures = levels + [noisy]
    h, w = original.shape[:2]
    result = {"schema": SCHEMA, "size": [h, w], "original_resized_to_match": resized,
              "encoder": encoder_info(), "visibility": seen, "postings": {}, "latent": {},
              "sample": {"tiles": len(places), "tile": measuring.TILE, "flip_tile": vis.TILE,
                         "visible_marks_fraction": round(float(marks.mean()), 4)}}
    encoder = measuring.taef2("encoder")
    targets = (original, poison_levels(h, w))
    done: dict = {}
    for way in ways:
        _check(cancel)
        result["postings"][way.name] = way.describe(w, h)
        key = way.key(w, h)
        if key not in done:
            done[key] = latent_figures(encoder, pictures, way, places, targets)
        result["latent"][way.name] = done[key]
    result["verdict"] = verdict(result)
    result["limits"] = LIMITS.as_dict()
    return result


def largest_change(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The largest change per pixel over the channels, in 8-bit levels (uint8), of two uint8 pictures; a
    band of rows at a time (a whole picture's int16 differences cost 18 bytes a pixel)."""
    out = np.empty(before.shape[:2], np.uint8)

    def band(rows: slice) -> None:
        out[rows] = np.abs(after[rows].astype(np.int16) - before[rows]).max(axis=2)

    bands.for_each_band(before.shape[0], band)
    return out


def poison_levels(height: int, width: int) -> np.ndarray:
    """The poison target as 8-bit levels, drawn a band of rows at a time (the whole float wall and its
    transposed copy cost 24 bytes a pixel)."""
    out = np.empty((height, width, 3), np.uint8)

    def band(rows: slice) -> None:
        out[rows] = to_levels(poison_target(min(rows.stop, height) - rows.start, width, rows.start))

    bands.for_each_band(height, band)
    return out


def visible_marks(original: np.ndarray, protected: np.ndarray) -> np.ndarray:
    """Where the change between two uint8 pictures is beyond any cloak's budget (the notice, a watermark),
    widened a little: meant to be seen, so left out of the sample that measures the invisible protection."""
    marks = (largest_change(original, protected) > MARK_LEVELS).astype(np.uint8)
    return cv2.dilate(marks, np.ones((9, 9), np.uint8)).astype(bool)


def latent_figures(encoder: measuring.Net, pictures: list[np.ndarray], way: posting.Posting, places: list,
                   targets: tuple | None) -> dict:
    """r of the protected picture and of the matched noise after `way` (pictures: original, protected,
    noise as uint8); given `targets` (the float original, the uint8 poison target), also the distances to
    the style and poison targets, both posted the same way."""
    if targets is not None:
        original, poison = targets
        h, w = original.shape[:2]
        style = style_target_where_read(original, way.source_boxes(w, h, measuring.TILE, places))
        pictures = pictures + [style, poison]
    tiles = way.sample(pictures, measuring.TILE, places)
    latents = np.split(encoder(np.concatenate(tiles)), len(tiles))
    z, zp, zn = latents[:3]
    out = {"r": measuring.relative_change(zp, z), "r_noise": measuring.relative_change(zn, z)}
    for target, zt in zip(TARGETS, latents[3:]):
        out[f"{target}_distance"] = measuring.cloak_target_distance(target, zp, z, zt)
        out[f"{target}_distance_noise"] = measuring.cloak_target_distance(target, zn, z, zt)
    return out


def style_target_where_read(original: np.ndarray, boxes: list | None) -> np.ndarray:
    """The style target as 8-bit levels, drawn only inside `boxes` (where the sample reads; everywhere
    when None): the whole picture's would cost more than the rest of the measurement."""
    if boxes is None:
        return to_levels(style_target(original))
    h, w = original.shape[:2]
    name = pick_style(original)  # the whole picture's choice, drawn window by window
    style = np.zeros(original.shape, np.uint8)
    for x0, y0, x1, y1 in boxes:
        ey0, ex0 = max(0, y0 - TARGET_REACH), max(0, x0 - TARGET_REACH)
        window = style_target(original[ey0:min(h, y1 + TARGET_REACH), ex0:min(w, x1 + TARGET_REACH)],
                              style=name, top=ey0, left=ex0)
        style[y0:y1, x0:x1] = to_levels(window[y0 - ey0:y1 - ey0, x0 - ex0:x1 - ex0])
    return style


def _check(cancel) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled()


def encoder_info() -> dict:
    """Which encoder measured, and the benchmark's held-out-encoder figures to read beside it."""
    return {"name": "TAEF2", "sha256": measuring.card()["files"]["encoder"]["sha256"],
            "trained_against": True,
            "note": Text("The cloaks were trained against this encoder; on encoders they were never trained "
                         "against the change can be smaller or larger: the benchmark's figures on such encoders "
                         "(held_out) stand beside them.",
                         "クロークはこのエンコーダに対して学習しました。学習に使っていないエンコーダでは変化が"
                         "小さくも大きくもなりえます。そうしたエンコーダ（held_out）でのベンチマークの数値を並べて"
                         "示します。").as_dict(),
            "held_out": held_out_figures()}


def held_out_figures() -> dict | None:
    """r after posting of each cloak at its default strength (epsilon 8) and of uniform noise, on the
    trained-against encoder and on each held-out judge, as measured by the benchmark
    (models/benchmark.json, painted and flat-colour crops averaged); None when it is not installed."""
    try:
        bench = json.loads((models.models_dir() / "benchmark.json").read_text(encoding="utf-8"))
        kinds = list(bench["methods"].values())
        judges = list(bench["judges"])
        keys = {"guard": "guard default", "style": "style default", "poison": "poison default",
                "uniform_noise": "uniform noise ±eps"}

        def mean_r(key: str, encoders: list[str]) -> float:
            return float(np.mean([kind[key][f"r_post_{enc}"] for kind in kinds for enc in encoders]))

        taef2 = {name: mean_r(key, ["taef2"]) for name, key in keys.items()}
        # Each judge apart: they differ (judge B answers the guard less than noise), an average would hide it.
        held = {f"judge_{j}": {name: mean_r(key, [f"judge_{j}"]) for name, key in keys.items()} for j in judges}
        return {"source": "models/benchmark.json (tests/benchmarks/bench_cloak.py)", "epsilon": bench["epsilon"],
                "crops": sum(bench["crops"].values()), "crop": bench["crop"], "after": bench["posting"],
                "encoder": "judges distilled from TAEF2 with other architectures, never trained against",
                "judges_relative_error": bench["judges"],
                "r_taef2": _rounded(taef2),
                "r_held_out": {judge: _rounded(r) for judge, r in held.items()},
                # comparable with this picture's gain over noise (verdict.gain_over_noise)
                "gain_over_noise_taef2": _gains(taef2),
                "gain_over_noise_held_out": {judge: _gains(r) for judge, r in held.items()}}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _rounded(r: dict) -> dict:
    return {k: round(v, 4) for k, v in r.items()}


def _gains(r: dict) -> dict:
    return {k: round(v / r["uniform_noise"], 3) for k, v in r.items() if k != "uniform_noise"}


# ---- verdict ----------------------------------------------------------------------

def effect(posted: dict) -> tuple[float, float, str | None]:
    """(gain over noise, best pull towards a target beyond the noise's, which target) of one posting's figures."""
    # Noise as faint as the change can round away to nothing: no gain can be shown then, never "inf x".
    gain = posted["r"] / posted["r_noise"] if posted["r_noise"] > 0 else 0.0
    pulls = {t: 1 - posted[f"{t}_distance"] / posted[f"{t}_distance_noise"]
             for t in TARGETS if posted.get(f"{t}_distance_noise")}
    best = max(pulls, key=pulls.get) if pulls else None
    return gain, (pulls[best] if best else 0.0), best


VERDICTS = {
    "unchanged": Text("Not protected: the two pictures are the same.", "保護されていません: 2 枚は同じ画像です。"),
    "strong": Text("Well protected: an AI encoder sees {how}.", "しっかり保護されています: AI のエンコーダには{how}。"),
    "some": Text("Somewhat protected: an AI encoder sees {how}.", "ある程度保護されています: AI のエンコーダには{how}。"),
    "weak": Text("Barely protected: an AI encoder sees {how}, about what plain noise does.",
                 "ほとんど保護されていません: AI のエンコーダには{how}。ただのノイズと同程度です。"),
    "faint": Text("Barely protected: the change is too faint to compare with noise (noise that shows as much rounds "
                  "away to nothing after posting ({posting})), so it cannot be shown to do more than plain noise.",
                  "ほとんど保護されていません: 変化がかすかすぎてノイズと比べられません（同じ目立ち方のノイズは投稿後"
                  "（{posting_ja}）に丸められて消えます）。ただのノイズ以上の効果は示せません。"),
}
# What the figures cannot show (the model cards' "defeated_by"): stated beside every verdict.
LIMITS = Text("What this does not measure: blur, added noise followed by upscaling, AI purification (diffusion or "
              "an encoder-decoder round trip) and strong JPEG with shrinking can remove a cloak; no cloak stops a "
              "determined attacker.",
              "この測定に含まれないこと: ぼかし、ノイズを加えてからの拡大、AI による浄化（拡散モデルやエンコーダと"
              "デコーダの往復）、強い JPEG 圧縮と縮小の組み合わせ。これらでクロークは消せます。本気の相手を止められる"
              "クロークはありません。")
GAIN = Text("{gain:.1f}x the change that equally visible noise makes, after posting ({posting})",
            "投稿後（{posting_ja}）も、同じ目立ち方のノイズの {gain:.1f} 倍の変化が見えます")
PULL = Text("a picture pulled {pull:.0%} closer to the {target} target than equally visible noise pulls it, "
            "after posting ({posting})",
            "投稿後（{posting_ja}）も、同じ目立ち方のノイズより {pull:.0%} 多く{target_ja}へ引き寄せられた画像が見えます")
TARGET_JA = {"style": "別の画風の目標", "poison": "別の概念の目標（毒）"}


def grade_of(gain: float, pull: float) -> str:
    if gain >= STRONG_GAIN or pull >= STRONG_PULL:
        return "strong"
    return "some" if gain >= SOME_GAIN or pull >= SOME_PULL else "weak"


RANK = {"weak": 0, "some": 1, "strong": 2}


def weakest_posting(result: dict) -> str:
    """The posting (generic or a profile the user asked for) where the protection does worst: the verdict
    speaks for every platform measured, not only the generic one."""
    effects = {name: effect(figures) for name, figures in result["latent"].items() if name != AS_SAVED}
    return min(effects, key=lambda name: (RANK[grade_of(*effects[name][:2])], effects[name][0]))


def verdict(result: dict) -> dict:
    """One line in English and Japanese, and its grade, after the posting where the protection does worst."""
    where = weakest_posting(result)
    gain, pull, target = effect(result["latent"][where])
    if result["visibility"]["flip"] == 0 and result["latent"][AS_SAVED]["r"] == 0:
        grade = "unchanged"
    elif result["latent"][where]["r_noise"] == 0:
        grade = "faint"
    else:
        grade = grade_of(gain, pull)
    # Name the pull only when it is what earns the grade (a pull below SOME_PULL explains nothing).
    by_pull = pull >= SOME_PULL and pull / STRONG_PULL > (gain - 1) / (STRONG_GAIN - 1)
    how = PULL if by_pull else GAIN
    label = Text.from_value(result["postings"][where]["label"])
    values = {"gain": gain, "pull": pull, "target": target, "target_ja": TARGET_JA.get(target, ""),
              "posting": label.en, "posting_ja": label.ja}
    line = VERDICTS[grade]
    return {"grade": grade, "posting": where, "gain_over_noise": None if grade == "faint" else round(gain, 3),
            "pull_over_noise": round(pull, 3), "en": line.en.format(how=how.en.format(**values), **values),
            "ja": line.ja.format(how=how.ja.format(**values), **values)}


# ---- editors (contract 1) ------------------------------------------------------------

def check_pixels(rgba: np.ndarray, preset, *, bit_depth: int = 8, mask: np.ndarray | None = None,
                 report_path: str | os.PathLike | None = None, progress=None, cancel=None) -> dict:
    """Protects a copy of float32 RGBA `rgba` in memory with `preset` (size steps skipped, like an editor
    layer), measures it as `omamori evaluate --json` does and returns that dict; with `report_path` it also
    writes the report picture there and adds "report". `rgba` is never written."""
    from .jobs import protect_pixels
    from .presets import load_preset

    preset = load_preset(preset) if isinstance(preset, (str, dict, Path)) else preset
    # Before protecting: a layer too small to measure should not first wait for its cloak.
    refuse_too_small(posting.postings(preset.export.profile), rgba.shape[1], rgba.shape[0])
    say = progress or (lambda fraction, message: None)
    protected = protect_pixels(rgba, preset, bit_depth=bit_depth, mask=mask, keep_size=True, cancel=cancel,
                               progress=lambda f, m: say(0.5 * f, m))
    say(0.5, Text("Measuring", "測定中").get())
    # The same fields as `evaluate --json`; the pictures are layers in memory, not files.
    result = {"original": None, "protected": None,
              **measure_protection(rgba, protected, profile=preset.export.profile, cancel=cancel)}
    if report_path is not None:
        from .report import write_report

        _check(cancel)
        say(0.8, Text("Drawing the report", "レポートを作成中").get())
        result["report"] = str(write_report(report_path, rgba, protected, result))
    say(1.0, Text("Done", "完了").get())
    return result


# ---- files and the command line --------------------------------------------------------

def evaluate_files(original: str | os.PathLike, protected: str | os.PathLike, *, profile: str | None = None,
                   report: str | os.PathLike | None = None) -> dict:
    """`omamori evaluate` on two files; the report is refused when it would replace either input."""
    from .imageio import load

    if report is not None:
        refuse_input_as_report(report, (original, protected))
    # Flattened at once, so the loaded RGBA (16 bytes a pixel each) is freed before measuring.
    before, after = flatten_rgb(load(original).pixels), flatten_rgb(load(protected).pixels)
    result = measure_protection(before, after, profile=profile)
    result = {"original": str(original), "protected": str(protected), **result}
    if report is not None:
        from .report import write_report

        result["report"] = str(write_report(report, before, after, result))
    return result


def refuse_input_as_report(report: str | os.PathLike, inputs) -> None:
    target = Path(report)
    for path in map(Path, inputs):
        if target.resolve() == path.resolve() or (target.exists() and path.exists() and target.samefile(path)):
            raise InputError(Text("{report}: the report would replace an input picture; choose another file.",
                                  "{report}: レポートが入力画像を上書きしてしまいます。別のファイル名にしてください。"),
                             report=report)


def report_file(original: str | os.PathLike, output: str | os.PathLike, report_dir: str | os.PathLike, *,
                profile: str | None = None) -> Path:
    """`protect --report DIR`: measures one protected output against its input and writes the report
    picture as DIR/<output stem>-report.png (DIR is made if needed); raises OmamoriError."""
    folder = Path(report_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(Text("{folder}: cannot make the report folder ({why}).",
                              "{folder}: レポートのフォルダを作れません（{why}）。"),
                         folder=folder, why=err.strerror or err) from None
    target = folder / f"{Path(output).stem}-report.png"
    return Path(evaluate_files(original, output, profile=profile, report=target)["report"])


def summary_lines(result: dict, lang: str | None = None) -> list[str]:
    """The plain-text form of `omamori evaluate`."""
    ja = (lang or current_language()) == "ja"
    vis, noise = result["visibility"], result["visibility"]["noise"]
    lines = [result["verdict"]["ja" if ja else "en"], ""]
    lines.append(("見え方 FLIP {f:.4f}（同じ FLIP のノイズ {nf:.4f}、±{a:.1f} 階調）  PSNR {p:.2f} dB（ノイズ {np_:.2f} dB）"
                  if ja else
                  "visibility FLIP {f:.4f} (noise of the same FLIP {nf:.4f}, ±{a:.1f} levels)  PSNR {p:.2f} dB "
                  "(noise {np_:.2f} dB)").format(f=vis["flip"], nf=noise["flip"], a=noise["amplitude_levels"],
                                                  p=vis["psnr"], np_=noise["psnr"]))
    lines.append("r = 潜在表現の変化、style・poison = 目標との距離（1 = 引き寄せなし、小さいほど近い）（保護 / ノイズ）:"
                 if ja else "r = latent change, style and poison = distance to that target (1 = not pulled, lower = "
                 "pulled closer) (protected / noise):")
    for name, figures in result["latent"].items():
        label = (("保存したまま" if ja else "as saved") if name == AS_SAVED
                 else Text.from_value(result["postings"][name]["label"]).get("ja" if ja else "en"))
        line = f"  {pad(label, 32)} r {figures['r']:.3f} / {figures['r_noise']:.3f}"
        for target in TARGETS:
            if f"{target}_distance" in figures:
                line += f"  {target} {figures[f'{target}_distance']:.3f} / {figures[f'{target}_distance_noise']:.3f}"
        lines.append(line)
    enc = result["encoder"]
    lines += ["", result["limits"]["ja" if ja else "en"], Text.from_value(enc["note"]).get("ja" if ja else "en")]
    if enc["held_out"]:
        held = enc["held_out"]
        lines.append(("ベンチマーク（ε {e}、投稿後、ノイズ比）: TAEF2 で {a}。学習に使っていないエンコーダで {b}" if ja else
                      "benchmark (epsilon {e}, after posting, gain over noise): TAEF2 {a}; held-out encoders {b}").format(
            e=held["epsilon"], a=gain_row(held["gain_over_noise_taef2"], *((" 倍", "、") if ja else ())),
            b=judge_gain_rows(held, *((" 倍", "、", "。") if ja else ()))))
    if "report" in result:
        lines.append(("レポート: " if ja else "report: ") + result["report"])
    return lines


def gain_row(values: dict, times: str = "x", comma: str = ", ") -> str:
    return comma.join(f"{k} {v:.2f}{times}" for k, v in values.items())


def judge_gain_rows(held: dict, times: str = "x", comma: str = ", ", semicolon: str = "; ") -> str:
    """Each held-out judge's gains over noise: "judge a guard 0.99x, ...; judge b ..."."""
    return semicolon.join(f"{judge.replace('_', ' ')} {gain_row(gains, times, comma)}"
                          for judge, gains in held["gain_over_noise_held_out"].items())


def pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (a Japanese character takes two)."""
    return text + " " * max(0, width - columns(text))


def run_evaluate(args) -> int:
    result = evaluate_files(args.original, args.protected, profile=args.profile, report=args.report)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print("\n".join(summary_lines(result)))
    return 0
