"""A few training steps on tiny crops and an ONNX export that the runtime loads (needs torch + ../shared)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `models.training` lives at the repo root

torch = pytest.importorskip("torch", reason="training needs the optional torch==2.13.0")


@pytest.fixture
def surrogate(monkeypatch, tmp_path, artwork_dir):
    from models.training import surrogates

    if not (surrogates.weights_dir() / "taesd" / "taef2_encoder.pth").is_file():
        pytest.skip(f"needs the surrogate weights in {surrogates.weights_dir()}")
    monkeypatch.setenv("OMAMORI_RUNS", str(tmp_path / "runs"))
    return tmp_path


def test_tiny_training_and_export(surrogate):
    from models.training import export, train
    from omamori import models

    train.main(["guard", "--tiny", "--threads", "1"])
    train.main(["poison", "--tiny", "--threads", "1", "--init", "guard"])
    out = surrogate / "models"
    for name in ("guard", "poison"):
        card = export.export_model(name, out, n_images=0)
        assert card["sha256"] == models.sha256_of(out / f"{name}.onnx") and card["steps"] >= 3
        model = models.load(name, out)
        pattern = model.pattern(np.random.default_rng(0).random((37, 53, 3)).astype(np.float32))
        assert pattern.shape == (37, 53, 3) and np.abs(pattern).max() <= 1


def test_differentiable_jpeg_is_close_to_real_jpeg():
    import io

    from PIL import Image

    from models.training.augment import jpeg

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64] / 64
    img = np.clip(np.stack([x, y, x * y], -1) + rng.normal(0, 0.03, (64, 64, 3)), 0, 1).astype(np.float32)
    buf = io.BytesIO()
    Image.fromarray(np.rint(img * 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
    real = np.asarray(Image.open(buf), np.float32) / 255
    approx = jpeg(torch.from_numpy(img).permute(2, 0, 1)[None], 85)[0].permute(1, 2, 0).numpy()
    assert np.sqrt(np.mean((approx - real) ** 2)) < np.sqrt(np.mean((img - real) ** 2))


def test_shipped_onnx_converts_back_to_torch():
    """Fine-tuning starts from the shipped ONNX: the converted Generator must reproduce it."""
    from models.training.onnx_import import generator_from_onnx, max_difference

    models_dir = Path(__file__).resolve().parents[2] / "models"
    for name in ("guard", "poison"):
        gen = generator_from_onnx(models_dir / f"{name}.onnx")
        assert max_difference(gen, models_dir / f"{name}.onnx") < 1e-4


def test_v2_tiny_training_from_the_shipped_guard(surrogate):
    from models.training import export, train
    from omamori import models

    models_dir = Path(__file__).resolve().parents[2] / "models"
    train.main(["guard", "--tiny", "--threads", "1", "--init-onnx", str(models_dir / "guard.onnx"), "--flat",
                "--transfer", "--visibility", "0.8", "--run", "guard_v2"])
    card = export.export_model("guard", surrogate / "models", n_images=0, run="guard_v2")
    assert card["steps"] >= 3 and card["training"]["visibility_budget"] == 0.8
    assert models.load("guard", surrogate / "models").pattern(np.zeros((20, 24, 3), np.float32)).shape == (20, 24, 3)


def test_the_pyramid_in_the_loop_is_the_runtimes_pattern():
    """Training with --pyramid-in-loop sees what the shipped card makes of the net (away from the borders,
    where the two pad differently)."""
    from models.training.generator import generator_for
    from models.training.pyramid import pyramid_pattern, shipped_guard_settings
    from omamori import models

    ckpt = torch.load(Path(__file__).resolve().parents[2] / "models/training/checkpoints/guard_student.pt",
                      weights_only=True)
    gen = generator_for(ckpt["info"])
    gen.load_state_dict(ckpt["state"])
    y, x = np.mgrid[0:96, 0:128] / 128
    picture = np.stack([x, y, 0.5 + 0.4 * np.sin(20 * x * y)], -1).astype(np.float32)
    picture[40:70, 30:90] = [0.8, 0.3, 0.2]  # a flat patch, where the coarse pattern rules
    settings = shipped_guard_settings()
    with torch.no_grad():
        got = pyramid_pattern(gen.eval(), torch.from_numpy(picture.transpose(2, 0, 1))[None], settings)[0]
    got = got.numpy().transpose(1, 2, 0) / settings["scale"]
    want = models.load("guard").pattern(picture)
    assert np.abs(got - want)[16:-16, 16:-16].max() < 1e-3 and np.abs(want).mean() > 0.1


def test_tiny_training_with_the_pyramid_in_the_loop(surrogate):
    from models.training import train

    ckpts = Path(__file__).resolve().parents[2] / "models" / "training" / "checkpoints"
    train.main(["guard", "--tiny", "--threads", "1", "--init-checkpoint", str(ckpts / "guard_student.pt"),
                "--flat", "--transfer", "--visibility", "2", "--pyramid-in-loop", "--run", "guard_pl"])
    info = torch.load(surrogate / "runs" / "guard_pl" / "last.pt", weights_only=True)["info"]
    assert info["steps"] == 3 and info["pyramid_in_loop"]["grey"] and info["pyramid_in_loop"]["scale"] > 0


def test_the_pyramid_in_the_loop_refuses_a_crop_it_cannot_shrink(capsys):
    from models.training import train

    with pytest.raises(SystemExit):  # inside torch it would be a shape error many lines deep
        train.main(["guard", "--steps", "1", "--crop", "40", "--pyramid-in-loop"])
    assert "--pyramid-in-loop needs --crop a multiple of 16" in capsys.readouterr().err


def test_v2_style_and_poison_from_a_student_checkpoint(surrogate):
    """Style and poison v2 start from a committed student checkpoint and keep its architecture."""
    from models.training import export, train

    ckpts = Path(__file__).resolve().parents[2] / "models" / "training" / "checkpoints"
    for name in ("style", "poison"):
        train.main([name, "--tiny", "--threads", "1", "--init-checkpoint", str(ckpts / f"{name}_student.pt"),
                    "--flat", "--transfer", "--visibility", "0.8", "--run", f"{name}_v2"])
        card = export.export_model(name, surrogate / "models", n_images=0, run=f"{name}_v2")
        assert card["architecture"]["stem"] == "patch" and card["training"]["transfer"]


def test_the_flat_share_of_a_training_batch(artwork_dir):
    from models.training.data import PaintedAndFlat

    data = PaintedAndFlat("train", flat_share=0.75)
    data.painted.crop = lambda rng, size: np.zeros((size, size, 3), np.float32)
    data.flat.crop = lambda rng, size: np.ones((size, size, 3), np.float32)
    batch = data.batch(np.random.default_rng(0), 8, 16)
    assert batch.shape == (8, 3, 16, 16) and batch.mean(axis=(1, 2, 3)).sum() == 6
    data.flat_share = 0.5
    assert data.batch(np.random.default_rng(0), 8, 16).mean(axis=(1, 2, 3)).sum() == 4


def test_flip_in_torch_is_nvidias_flip():
    """flip_loss.py, written from the paper, against NVIDIA's flip-evaluator: grain, coarse blocks and a
    one-pixel shift on the bundled painting and on flat colour with a line."""
    import flip_evaluator
    from PIL import Image

    from models.training.flip_loss import flip, flip_map

    rng = np.random.default_rng(3)
    example = Path(__file__).resolve().parents[2] / "examples" / "omamori-example.png"
    painting = np.asarray(Image.open(example).convert("RGB"), np.float32)[200:296, 300:424] / 255
    flat = np.full((96, 124, 3), [0.9, 0.75, 0.6], np.float32)
    flat[40:44] = 0.1
    for x in (painting, flat):
        changes = [rng.uniform(-8, 8, x.shape) / 255, np.roll(x, 1, 1) - x,
                   np.repeat(np.repeat(rng.uniform(-6, 6, (48, 62, 1)), 2, 0), 2, 1) / 255]
        for change in changes:
            xp = (np.round(np.clip(x + change, 0, 1) * 255) / 255).astype(np.float32)
            want_map, want, _ = flip_evaluator.evaluate(x, xp, "LDR", applyMagma=False)
            as_torch = [torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].double() for a in (x, xp)]
            assert abs(flip(*as_torch).item() - want) < 1e-3 * max(want, 0.01)
            assert np.abs(flip_map(*as_torch)[0, 0].numpy() - want_map.squeeze()).max() < 0.01


def test_position_free_statistics_ignore_where_the_content_sits():
    from models.training.transfer import position_free

    f = torch.randn(2, 8, 12, 12)
    moved = torch.roll(f, (5, 3), (2, 3)).flip(3)
    assert torch.allclose(position_free(f), position_free(moved), atol=1e-5)
    assert not torch.allclose(position_free(f), position_free(f * 1.5), atol=1e-3)


def test_pull_is_one_without_change_and_zero_at_the_target():
    from models.training.transfer import pull

    clean = [torch.randn(3, 4, 8, 8) for _ in range(4)]
    target = [torch.randn(3, 4, 8, 8) for _ in range(4)]
    for stats in (False, True):
        total, latent = pull(clean, clean, target, position_free_stats=stats)
        assert torch.allclose(latent, torch.ones(3)) and torch.allclose(total, torch.full((3,), 1.5))
        total, latent = pull(clean, target, target, position_free_stats=stats)
        assert torch.allclose(total, torch.zeros(3), atol=1e-5)


def test_visibility_penalty_follows_masking_and_frequency():
    """The same change costs more on flat colour than on texture, and fine grain less than mid-size blobs."""
    from models.training.perceptual import gaussian_blur, penalty

    gen = torch.Generator().manual_seed(0)
    flat = torch.full((1, 3, 64, 64), 0.5)
    texture = (0.5 + 0.3 * (torch.rand(1, 1, 64, 64, generator=gen) - 0.5)).repeat(1, 3, 1, 1)
    fine = (2 * torch.rand(1, 1, 64, 64, generator=gen) - 1).repeat(1, 3, 1, 1) * (4 / 255)
    assert penalty(fine, flat) > 3 * penalty(fine, texture)
    mid = gaussian_blur(fine, 2.5)
    mid = mid * (fine.pow(2).mean() / mid.pow(2).mean()).sqrt()  # same energy as the fine grain
    assert penalty(mid, flat) > penalty(fine, flat)


def test_visibility_penalty_rises_with_luminance_as_flip_does():
    """Uniform noise on flat fields: FLIP about 0.074 on white, 0.054 on mid-grey, 0.034 near black (level
    20); the penalty is a squared visibility, so its square root must keep those ratios roughly."""
    from models.training.perceptual import penalty

    torch.manual_seed(0)
    noise = (2 * torch.rand(1, 3, 64, 64) - 1) * (8 / 255)
    root = {level: penalty(noise, torch.full((1, 3, 64, 64), level / 255)).sqrt().item() for level in (20, 128, 255)}
    assert root[255] / root[128] == pytest.approx(0.074 / 0.054, rel=0.15)
    assert root[20] / root[128] == pytest.approx(0.034 / 0.054, rel=0.15)


def test_judges_match_the_latent_shape_and_replay_keeps_the_newest():
    from models.training.judges import DISTILLED, Replay

    x = torch.rand(2, 3, 64, 48)
    for cls, _seed in DISTILLED.values():
        assert cls()(x).shape == (2, 32, 8, 6)  # TAEF2's latent: 32 channels at 1/8
    replay = Replay(5)
    for i in range(4):
        replay.add(torch.full((2, 3, 8, 8), i / 255), torch.full((2, 4), float(i)))
    xs, zs = replay.sample(np.random.default_rng(0), 4)
    assert zs[:2].eq(3).all() and torch.allclose(xs[:2], torch.full_like(xs[:2], 3 / 255))
    all_x, all_z = replay.sample(np.random.default_rng(1), 200)
    assert set(all_z[:, 0].tolist()) == {1.0, 2.0, 3.0}, "a ring of 5: the first batch (0) was overwritten"


def test_a_kept_judge_loads_and_resumes_on_a_machine_without_its_run_folder(surrogate, monkeypatch):
    from models.training import judges

    monkeypatch.setattr(judges, "KEPT", surrogate / "kept")
    tiny = ["a", "--minutes", "0.02", "--batch", "2", "--fresh", "1", "--crop", "32", "--replay", "8", "--prefill", "2"]
    judges.main(tiny + ["--keep"])
    kept = torch.load(surrogate / "kept" / "judge_a.pt", weights_only=False)
    assert (surrogate / "kept" / "judge_a.json").is_file()
    monkeypatch.setenv("OMAMORI_RUNS", str(surrogate / "fresh_machine"))
    assert judges.available(["a", "b"]) == ["a"] and judges.load_distilled("a")[1]["evals"] == kept["info"]["evals"]
    judges.main(tiny + ["--resume"])
    resumed = torch.load(surrogate / "fresh_machine" / "judge_a" / "last.pt", weights_only=False)
    assert resumed["info"]["steps"] > kept["info"]["steps"] and len(resumed["info"]["evals"]) > 1


def test_judge_context_follows_picture_statistics_and_old_checkpoints_resume(surrogate, monkeypatch):
    from models.training import judges

    for cls, _seed in judges.JUDGES.values():
        old = cls()
        state = {k: v for k, v in old.state_dict().items() if not k.startswith("context.")}
        new = cls()
        assert not judges.load_weights(new, state), "a checkpoint without the branch is incomplete"
        x = torch.rand(1, 3, 64, 64)
        assert torch.equal(new(x), old(x)), "the new branch starts as the identity"
        with pytest.raises(RuntimeError, match="does not fit"):
            judges.load_weights(new, {**state, "stray.weight": torch.zeros(1)})
    context = judges.GlobalContext(4)
    torch.nn.init.normal_(context.mlp[2].weight)
    a = torch.rand(1, 4, 8, 8)
    b = torch.cat([a[..., :4], 3 * a[..., :4]], -1)  # the left half as in a, the rest of the picture other
    assert not torch.allclose(context(a)[..., :4], context(b)[..., :4]), "a pixel's answer depends on the whole picture"
    # a kept judge from before the branch resumes (fresh optimizer moments) and keeps the branch
    monkeypatch.setattr(judges, "KEPT", surrogate / "kept_old")
    (surrogate / "kept_old").mkdir()
    torch.save({"state": state, "info": {"steps": 5, "wall_time_s": 1.0, "evals": []}}, surrogate / "kept_old" / "judge_b.pt")
    monkeypatch.setenv("OMAMORI_RUNS", str(surrogate / "fresh_machine_b"))
    judges.main(["b", "--minutes", "0.02", "--batch", "2", "--fresh", "1", "--crop", "32", "--replay", "8",
                 "--prefill", "2", "--resume", "--context-lr-scale", "10"])
    resumed = torch.load(surrogate / "fresh_machine_b" / "judge_b" / "last.pt", weights_only=False)
    assert resumed["info"]["steps"] > 5 and any(k.startswith("context.") for k in resumed["state"])
    assert judges.load_weights(judges.JudgeB(), resumed["state"])


def test_surrogate_c_distils_apart_from_the_judges_and_joins_the_cloak_ensemble(surrogate):
    from models.training import export, judges, train
    from models.training.surrogates import load_encoder
    from models.training.transfer import AugmentedEncoder, features

    tiny = ["c", "--minutes", "0.02", "--batch", "4", "--fresh", "2", "--crop", "64", "--replay", "16"]
    judges.main(tiny)
    runs = surrogate / "runs"
    assert (runs / "surrogate_c" / "last.pt").is_file() and not list(runs.glob("judge_*")), "C is never a judge"
    first = torch.load(runs / "surrogate_c" / "last.pt", weights_only=False)
    judges.main(tiny + ["--resume"])
    resumed = torch.load(runs / "surrogate_c" / "last.pt", weights_only=False)
    adam_steps = [s["step"] for s in resumed["optimizer"]["state"].values()]
    assert resumed["info"]["steps"] > first["info"]["steps"] and adam_steps[0] == resumed["info"]["steps"], \
        "a resumed run goes on with the saved Adam moments, not fresh ones"
    members = AugmentedEncoder(load_encoder(), 0, [judges.load_ensemble_member("c")[0]])
    picked = [members.pick() for _ in range(40)]
    c_net, c_taps, dropout = next(p for p in picked if p[0] is members.extra[0][0])
    assert not dropout and len(picked) > sum(p[0] is c_net for p in picked) > 0
    x = torch.rand(1, 3, 64, 48)
    assert [tuple(f.shape[1:]) for f in features(c_net, x, None, c_taps)][-1] == (32, 8, 6)
    train.main(["guard", "--tiny", "--threads", "1", "--flat", "--transfer", "--ensemble", "--run", "guard_c"])
    card = export.export_model("guard", surrogate / "models", n_images=0, run="guard_c")
    [member] = card["training"]["ensemble"]
    assert member["name"] == "surrogate_c" and member["steps"] >= 1 and 0 < member["painted"] < 2


def test_patch_stem_reach_stays_within_its_receptive_radius():
    """The runtime's tiles discard receptive_radius() pixels: a change farther away must not matter."""
    from models.training.generator import Generator

    torch.manual_seed(0)
    gen = Generator(ch=8, blocks=2, factor=8, stem="patch").eval()
    radius = gen.receptive_radius()
    x = torch.rand(1, 3, 256, 256)
    bumped = x.clone()
    bumped[..., 128, 128] += 0.5
    with torch.no_grad():
        changed = (gen(bumped) - gen(x)).abs().amax(1)[0] > 0
    rows, cols = np.nonzero(changed.numpy())
    assert changed.any() and max(np.abs(rows - 128).max(), np.abs(cols - 128).max()) <= radius


def test_tiny_distillation_exports_a_student_the_runtime_tiles(surrogate):
    """distill.py: a few steps against the shipped guard, exported with its architecture in the card."""
    from models.training import distill, export
    from models.training.onnx_import import generator_from_onnx, max_difference
    from omamori import models

    teacher = Path(__file__).resolve().parents[2] / "models" / "guard.onnx"
    distill.main(["guard", "--teacher", str(teacher), "--steps", "2", "--batch", "2", "--crop", "64"])
    out = surrogate / "models"
    export.main(["guard", "--run", "guard_fast", "--images", "0", "--out", str(out), "--threads", "1",
                 "--strength-scales", "0.6", "0.9", "1.5", "--pyramid", "2", "4", "0.1", "--fine-std", "0.01",
                 "--luminance-only"])  # as run_all.sh
    card = json.loads((out / "guard.json").read_text())
    assert card["architecture"]["stem"] == "patch" and card["architecture"]["factor"] == 8
    assert card["pyramid"] == {"shrink": 2, "texture_sigma_px": 4.0, "texture_std": 0.1, "fine_std": 0.01}
    assert card["strength_scales"]["default"] == 0.9 and card["luminance_only"] is True
    assert max_difference(generator_from_onnx(out / "guard.onnx"), out / "guard.onnx") < 1e-4
    model = models.load("guard", out)
    assert model.pyramid == card["pyramid"] and model.luminance_only
    img = np.random.default_rng(2).random((300, 410, 3)).astype(np.float32)
    assert np.abs(model.pattern(img) - model.pattern(img, tile=200)).max() < 1e-4
    with pytest.raises(SystemExit):  # --fine-std alone would be silently ignored
        export.main(["guard", "--run", "guard_fast", "--images", "0", "--out", str(out), "--fine-std", "0.01"])


def test_batches_come_in_turn_without_workers_and_from_separate_streams_with_them():
    from models.training.data import batches

    def draw(rng):
        return rng.random(4)

    in_turn = batches(draw, np.random.default_rng(7))
    expected = np.random.default_rng(7)
    assert all(np.array_equal(next(in_turn), expected.random(4)) for _ in range(3))
    ahead = batches(draw, np.random.default_rng(7), workers=2)
    got = [np.asarray(next(ahead)) for _ in range(4)]
    assert all(g.shape == (4,) for g in got) and len({g.tobytes() for g in got}) == 4


def test_a_run_with_crops_from_workers_records_its_device_and_the_card_its_lineage(surrogate):
    from models.training import export, train

    ckpts = Path(__file__).resolve().parents[2] / "models" / "training" / "checkpoints"
    train.main(["style", "--tiny", "--threads", "1", "--workers", "1", "--init-checkpoint",
                str(ckpts / "style_student.pt"), "--flat", "--transfer", "--run", "style_w"])
    card = export.export_model("style", surrogate / "models", n_images=0, run="style_w")
    runs = card["lineage"]
    assert runs[0] == {"started_from": str(ckpts / "style_student.pt"), "steps": 3,
                       "wall_time_s": runs[0]["wall_time_s"], "device": "cpu"}
    assert card["training"]["device"] == "cpu" and len(runs) >= 2
    assert card["steps"] == sum(r["steps"] for r in runs) and runs[1]["started_from"].endswith("style_v1.onnx")


def test_a_device_or_worker_count_that_cannot_be_used_is_a_one_line_usage_error(capsys):
    from models.training import judges, train

    for main, argv in ((train.main, ["style", "--tiny", "--device", "nonsense"]),
                       (train.main, ["style", "--tiny", "--workers", "-1"]),
                       (judges.main, ["a", "--device", "nonsense"])):
        with pytest.raises(SystemExit):
            main(argv)
        assert "error: argument --" in capsys.readouterr().err


@pytest.mark.parametrize("name, run, checkpoint", [("guard", "guard_fast", "guard_student.pt"),
                                                   ("style", "style_gpu2", "style_gpu2.pt"),
                                                   ("poison", "poison_fl", "poison_fl.pt")])
def test_the_committed_checkpoints_export_to_the_shipped_models_and_their_cards_say_how(surrogate, name, run,
                                                                                      checkpoint):
    """models/training reproduces what ships: each shipped ONNX comes from a committed checkpoint with the
    export flags its card gives (the same output; with torch 2.13.0 the same bytes), and the card keeps the
    commands that made it; another level is another model, whose card does not inherit them."""
    import onnxruntime as ort

    from models.training import export

    repo = Path(__file__).resolve().parents[2]
    shipped = json.loads((repo / "models" / f"{name}.json").read_text())
    commands = shipped["made_by"]["commands"]
    assert any(f"checkpoints/{checkpoint}" in c for c in commands)
    flags = shipped["made_by"]["export"].split("#")[0].split()[3:]
    assert flags[:3] == [name, "--run", run]
    out = surrogate / "models"
    out.mkdir()
    for suffix in (".onnx", ".json"):
        (out / f"{name}{suffix}").write_bytes((repo / "models" / f"{name}{suffix}").read_bytes())
    argv = [name, "--checkpoint", str(repo / "models" / "training" / "checkpoints" / checkpoint), "--out", str(out),
            "--threads", "1"] + flags[3:]
    export.main(argv)
    card = json.loads((out / f"{name}.json").read_text())
    feeds = {i.name: np.random.default_rng(3).random((1, 3, 64, 96), dtype=np.float32)
             for i in ort.InferenceSession(str(repo / "models" / f"{name}.onnx")).get_inputs()}
    runs = [ort.InferenceSession(str(f)).run(None, feeds)[0] for f in (repo / "models" / f"{name}.onnx",
                                                                         out / f"{name}.onnx")]
    assert np.abs(runs[0] - runs[1]).max() < 1e-5
    for key in ("strength_scales", "pyramid", "luminance_only", "lineage", "steps", "inputs", "architecture"):
        assert card.get(key) == shipped.get(key), key
    if card["sha256"] == shipped["sha256"]:
        assert card["made_by"]["commands"] == commands
    export.main(argv + ["--strength-scales", "0.1", "0.2", "0.3"])  # the last value of a flag counts
    assert "commands" not in json.loads((out / f"{name}.json").read_text())["made_by"]
