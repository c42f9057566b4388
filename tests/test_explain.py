"""`predict --explain`: Grad-CAM for every registered model, and a test of what the maps mean.

The meaning test trains meso4 (the real registered model) on face crops of the synthetic portrait
against self-blended copies of them (dfdetect.synth.self_blend: a transformed copy pasted over the
inner face under a soft hull mask). The blended region of each held-out fake is where it differs
from its real crop. A map that points at the manipulation has clearly more heat per pixel inside
that region than outside; a uniform map has exactly as much, a random one about as much.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dfdetect.cli import app
from dfdetect.errors import DfdetectError
from dfdetect.explain import explain_stack, heat_in_out_ratio, pointing_hit
from dfdetect.prediction.predictor import CHECKPOINT_ENV

from _evaldata import save_tiny_checkpoint

RATIO_THRESHOLD = 1.3  # mean inside/outside heat density the trained model must beat
SMALL_OPTIONS = {
    "dual": {"backbone": "resnet18", "hidden": 16, "layers": 1, "pool": 4},
    "cnn": {"backbone": "resnet18"},
    "fwa": {"backbone": "resnet18"},
    "capsule": {"capsules": 2},
    "resvit": {"depth": 1},
}


def _models() -> list[str]:
    from dfdetect.models import list_models

    return list_models()


@pytest.mark.parametrize("name", _models())
def test_every_model_explains_or_says_why(name: str) -> None:
    import torch

    from dfdetect.models import create_model

    torch.manual_seed(0)
    model = create_model(name, img_size=64, frames=4, **SMALL_OPTIONS.get(name, {}))
    faces = np.random.default_rng(0).integers(0, 256, (7, 48, 48, 3), dtype=np.uint8)
    if name == "vit":
        with pytest.raises(DfdetectError, match="not available for model 'vit'.*no convolutional feature map"):
            explain_stack(model, {}, faces, 3)
        return
    exp = explain_stack(model, {}, faces, n_frames=3)
    assert exp.cams.shape == (7, 64, 64) and (exp.cams >= 0).all() and np.isfinite(exp.cams).all()
    assert len(exp.chosen) == 3 and len(set(exp.chosen)) == 3 and all(0 <= i < 7 for i in exp.chosen)
    assert 0.0 <= exp.video_prob <= 1.0
    if exp.target == "video":  # video-head models: the frames with the largest gradient
        assert exp.chosen == list(np.argsort(-exp.grad_norms, kind="stable")[:3])
    else:  # frame-level: the highest frame scores
        assert exp.chosen == list(np.argsort(-exp.frame_probs, kind="stable")[:3])
    assert (exp.grad_norms > 0).all(), f"{name}: no gradient reached {exp.layer}"


def test_explanation_matches_the_scorer_and_is_deterministic() -> None:
    from dfdetect.scoring.inference import score_stack
    from _evaldata import tiny_model

    model, _ = tiny_model("dual", frames=4, img_size=32)
    faces = np.random.default_rng(1).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    video_prob, frame_probs = score_stack(model, {}, faces)
    a, b = explain_stack(model, {}, faces, 4), explain_stack(model, {}, faces, 4)
    assert a.video_prob == pytest.approx(video_prob, abs=1e-5)
    np.testing.assert_allclose(a.frame_probs, frame_probs, atol=1e-5)
    np.testing.assert_array_equal(a.cams, b.cams)
    assert a.chosen == b.chosen


# --- meaning: a pointing game on self-blended fakes ---------------------------------------------

SIZE = 128  # meso4's last map is SIZE / 32 = 4 cells a side


def _crops(n: int, seed: int) -> list[np.ndarray]:
    """Face crops (1.3x the face box) of the portrait, jittered in place, scale, colour and mirror."""
    import cv2

    from dfdetect.synth import load_portrait
    from dfdetect.synth.portrait import FACE_CENTER, FACE_SIDE

    rng, img, out = np.random.default_rng(seed), load_portrait(), []
    for _ in range(n):
        side = FACE_SIDE * 1.3 * rng.uniform(0.92, 1.08)
        x0 = int(FACE_CENTER[0] + rng.uniform(-8, 8) - side / 2)
        y0 = int(FACE_CENTER[1] + rng.uniform(-8, 8) - side / 2)
        crop = cv2.resize(img[y0:y0 + int(side), x0:x0 + int(side)], (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        crop = crop.astype(np.float32) * rng.uniform(0.8, 1.2, 3) + rng.uniform(-20, 20, 3)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out.append(np.ascontiguousarray(np.clip(crop + rng.normal(0, 3, crop.shape), 0, 255).astype(np.uint8)))
    return out


def _pairs(n: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(reals, self-blended fakes, blended regions): a region is where the fake differs from its
    real by more than 6 grey levels, closed to fill the few unchanged pixels inside."""
    import cv2

    from dfdetect.synth import self_blend

    rng = np.random.default_rng(seed + 1000)
    reals = _crops(n, seed)
    fakes = [self_blend(c, rng, difficulty=0.0) for c in reals]
    regions = []
    for r, f in zip(reals, fakes):
        changed = (np.abs(f.astype(np.int16) - r.astype(np.int16)).max(axis=-1) > 6).astype(np.uint8)
        regions.append(cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)).astype(bool))
    return reals, fakes, regions


@pytest.fixture(scope="module")
def blend_model():
    import torch
    import torch.nn.functional as F

    from dfdetect.training.data import preprocess_batch
    from dfdetect.device import seed_everything
    from dfdetect.models import create_model

    seed_everything(0)
    model = create_model("meso4", img_size=SIZE, frames=1)
    reals, fakes, _ = _pairs(32, seed=0)
    cfg = model.input_cfg
    x = preprocess_batch(np.stack(reals + fakes)[:, None], SIZE, cfg["mean"], cfg["std"])
    y = torch.tensor([0.0] * len(reals) + [1.0] * len(fakes))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(8):
        model.train()
        order = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), 16):
            b = order[i:i + 16]
            loss = F.binary_cross_entropy_with_logits(model(x[b])["frame"][:, 0], y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def test_heat_maps_point_at_the_blended_region(blend_model) -> None:
    import cv2
    from sklearn.metrics import roc_auc_score

    from dfdetect.scoring.inference import score_stack

    reals, fakes, regions = _pairs(12, seed=99)  # held out: other crops, other blends
    _, scores = score_stack(blend_model, {}, np.stack(reals + fakes))  # one frame-level pass
    assert roc_auc_score([0] * 12 + [1] * 12, scores) > 0.85  # the model did learn the fakes

    maps = [cv2.resize(explain_stack(blend_model, {}, f[None], 1).cams[0], (SIZE, SIZE)) for f in fakes]
    ratios = [heat_in_out_ratio(m, r) for m, r in zip(maps, regions)]
    assert np.mean(ratios) > RATIO_THRESHOLD, ratios
    assert np.mean([pointing_hit(m, r) for m, r in zip(maps, regions)]) >= 0.5

    # The measure cannot be passed by a map that does not look: uniform and random maps fail it.
    rng = np.random.default_rng(0)
    uniform = [heat_in_out_ratio(np.ones((SIZE, SIZE)), r) for r in regions]
    noise = [heat_in_out_ratio(rng.random((SIZE, SIZE)), r) for r in regions]
    assert np.mean(uniform) == pytest.approx(1.0)
    assert np.mean(noise) < 1.1 < RATIO_THRESHOLD
    # ... and the trained maps do better than the same maps shuffled across pixels.
    shuffled = [heat_in_out_ratio(rng.permutation(m.ravel()).reshape(m.shape), r) for m, r in zip(maps, regions)]
    assert np.mean(shuffled) < 1.1


def test_region_measure_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        heat_in_out_ratio(np.ones((4, 4)), np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="part of the map"):
        heat_in_out_ratio(np.ones((4, 4)), np.ones((4, 4), bool))


# --- the CLI ---------------------------------------------------------------------------------------

def test_predict_explain_writes_one_png_per_video(tmp_path: Path) -> None:
    import cv2

    from dfdetect.synth import make_clip

    real = make_clip(tmp_path / "a" / "clip.mp4", fake=False, seed=1, width=128, height=128, n_frames=6)
    fake = make_clip(tmp_path / "b" / "clip.mp4", fake=True, seed=2, width=128, height=128, n_frames=6)
    ckpt = save_tiny_checkpoint(tmp_path / "run" / "best.ckpt", frames=4, img_size=32)
    out = tmp_path / "why"
    r = CliRunner().invoke(app, ["predict", str(real), str(fake), "-c", str(ckpt), "--frames", "4", "--size", "32",
                                 "--device", "cpu", "--explain", str(out), "--explain-frames", "2"],
                           env={"COLUMNS": "200", CHECKPOINT_ENV: ""})
    assert r.exit_code == 0, r.output
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 2 and pngs[0] != pngs[1]  # two clip.mp4 from two folders: two files
    image = cv2.imread(str(out / pngs[0]))
    assert image is not None and image.shape[0] >= 2 * 160  # a row per frame (160 px faces): 2 rows
    assert "explain +" in r.stderr and "per video" in r.stderr


def test_predict_explain_fails_clearly_for_a_model_without_a_layer(tmp_path: Path) -> None:
    from dfdetect.checkpoint import save_checkpoint
    from dfdetect.models import create_model

    model = create_model("vit", img_size=32, frames=2)
    config = {"model": "vit", "model_options": dict(model.model_options), **model.input_cfg, "pretrained": False}
    ckpt = save_checkpoint(tmp_path / "run" / "best.ckpt", model, config)
    video = tmp_path / "missing.mp4"
    r = CliRunner().invoke(app, ["predict", str(video), "-c", str(ckpt), "--device", "cpu", "--explain", str(tmp_path)],
                           env={"COLUMNS": "200", CHECKPOINT_ENV: ""})
    assert r.exit_code == 1
    assert "--explain is not available for model 'vit'" in r.stderr
    assert "Traceback" not in r.output
