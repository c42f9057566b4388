"""The scores eval and predict report are the right numbers (issue 14, "Scores").

The reference score is computed here by hand: cv2 resize, /255, (x - mean) / std, the model's
forward and a plain sigmoid, so a sign flip or a skipped normalisation in the library's scoring
path makes these tests fail rather than agree with themselves.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from dfdetect.checkpoint import load_model, save_checkpoint
from dfdetect.cli import app
from dfdetect.models import create_model
from dfdetect.prediction.predictor import CHECKPOINT_ENV

ENV = {"COLUMNS": "250", CHECKPOINT_ENV: ""}
T, IMG = 4, 32
FAST = ["--frames", str(T), "--size", "48", "--device", "cpu"]
COLUMNS = ["video_id", "path", "label", "group", "method", "dataset", "split", "frames", "faces",
           "faces_file", "status", "error"]


def _checkpoint(path: Path, name: str = "dual", seed: int = 0, bias: float | None = None) -> Path:
    """A tiny model saved as `dfdetect train` saves it; `bias` sets every head to that constant logit."""
    torch.manual_seed(seed)
    options = {"backbone": "resnet18", "hidden": 16, "layers": 1, "pool": 4} if name == "dual" else {}
    model = create_model(name, img_size=IMG, frames=T, **options)
    if bias is not None:
        with torch.no_grad():
            for head in ("video_head", "frame_head"):
                layer = getattr(model, head)
                layer.weight.zero_()
                layer.bias.fill_(bias)
    cfg = model.input_cfg
    config = {"model": name, "model_options": options, "img_size": IMG, "frames": T,
              "mean": list(cfg["mean"]), "std": list(cfg["std"]), "pretrained": False, "loss": "bce"}
    return save_checkpoint(path, model, config)


def _stack(seed: int, n: int, side: int = 48, fake: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    stack = rng.integers(20, 110, size=(n, side, side, 3), dtype=np.uint8)
    if fake:
        q = side // 4
        stack[:, q: side - q, q: side - q] = rng.integers(190, 256, size=(n, side - 2 * q, side - 2 * q, 3))
    return stack


def _test_set(root: Path, stacks: dict[str, tuple[np.ndarray, int]], name: str = "test") -> Path:
    (root / "faces").mkdir(parents=True, exist_ok=True)
    rows = []
    for vid, (stack, label) in stacks.items():
        np.save(root / "faces" / f"{vid}.npy", stack)
        rows.append({"video_id": vid, "path": f"v/{vid}.mp4", "label": label, "group": vid, "method": "m",
                     "dataset": "tiny", "split": "", "frames": len(stack), "faces": len(stack),
                     "faces_file": f"faces/{vid}.npy", "status": "ok", "error": ""})
    csv_path = root / f"{name}.csv"
    pd.DataFrame(rows, columns=COLUMNS).to_csv(csv_path, index=False)
    return csv_path


def direct_probs(model: torch.nn.Module, config: dict, stack: np.ndarray, idx: list[int]) -> tuple[float | None, np.ndarray | None]:
    """P(fake) of one clip written out by hand (no dfdetect preprocessing)."""
    img = config["img_size"]
    interp = cv2.INTER_AREA if stack.shape[1] > img else cv2.INTER_CUBIC
    frames = np.stack([cv2.resize(np.ascontiguousarray(stack[i]), (img, img), interpolation=interp) for i in idx])
    x = torch.from_numpy(frames).double() / 255.0
    x = (x - torch.tensor(config["mean"], dtype=torch.float64)) / torch.tensor(config["std"], dtype=torch.float64)
    x = x.permute(0, 3, 1, 2).float()[None]
    with torch.no_grad():
        out = model.eval()(x)
    video = float(1 / (1 + np.exp(-float(out["video"].reshape(-1)[0])))) if out.get("video") is not None else None
    frame = 1 / (1 + np.exp(-out["frame"][0].double().numpy())) if out.get("frame") is not None else None
    return video, frame


def test_eval_scores_equal_the_direct_forward_pass(tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path / "run" / "best.ckpt", seed=1)
    model, config = load_model(ckpt)
    stacks = {"full": (_stack(1, T), 0), "short": (_stack(2, 3, fake=True), 1), "small": (_stack(3, T, side=24), 1),
              "real2": (_stack(4, T), 0)}
    test = _test_set(tmp_path, stacks)
    scores = tmp_path / "scores.csv"
    r = CliRunner().invoke(app, ["eval", str(ckpt), str(test), "--scores", str(scores), "--device", "cpu"], env=ENV)
    assert r.exit_code == 0, r.output
    sc = pd.read_csv(scores)
    windows = {"full": [0, 1, 2, 3], "short": [0, 1, 2, 2], "small": [0, 1, 2, 3], "real2": [0, 1, 2, 3]}
    for vid, idx in windows.items():
        video, frame = direct_probs(model, config, stacks[vid][0], idx)
        rows = sc[sc["video_id"] == vid]
        got_video = float(rows[rows["level"] == "video"]["prob"].iloc[0])
        got_frames = rows[rows["level"] == "frame"].sort_values("frame")["prob"].to_numpy()
        assert got_video == pytest.approx(video, abs=1e-6), vid
        n = len(stacks[vid][0])
        np.testing.assert_allclose(got_frames, frame[:n], rtol=0, atol=1e-6)  # padding is not a frame row


def test_predict_equals_the_direct_forward_pass_on_its_own_crops(tmp_path: Path) -> None:
    from dfdetect.extraction import ExtractOptions, extract_faces
    from dfdetect.synth import make_clip

    ckpt = _checkpoint(tmp_path / "run" / "best.ckpt", seed=2)
    video = make_clip(tmp_path / "clip.mp4", fake=True, seed=5, width=128, height=128, n_frames=6)
    r = CliRunner().invoke(app, ["predict", str(video), "-c", str(ckpt), "--format", "json", *FAST], env=ENV)
    assert r.exit_code == 0, r.output
    reported = json.loads(r.stdout)[0]["fake_prob"]
    ex = extract_faces(video, ExtractOptions(frames=T, size=48, device="cpu"))
    assert ex.faces is not None and len(ex.faces) == T
    model, config = load_model(ckpt)
    expected, _ = direct_probs(model, config, np.asarray(ex.faces), list(range(T)))
    assert reported == pytest.approx(expected, abs=1e-6)  # predict rounds to 6 decimals


@pytest.mark.parametrize("bias,verdict", [(10.0, "fake"), (-10.0, "real")])
def test_a_constant_logit_gives_the_verdict_it_means(tmp_path: Path, bias: float, verdict: str) -> None:
    from dfdetect.synth import make_clip

    ckpt = _checkpoint(tmp_path / "run" / "best.ckpt", bias=bias)
    video = make_clip(tmp_path / "clip.mp4", fake=False, seed=6, width=128, height=128, n_frames=6)
    frames_out = tmp_path / "frames"
    r = CliRunner().invoke(app, ["predict", str(video), "-c", str(ckpt), "--format", "json",
                                 "--frames-out", str(frames_out), *FAST], env=ENV)
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)[0]
    assert row["verdict"] == verdict
    assert (row["fake_prob"] > 0.99) if bias > 0 else (row["fake_prob"] < 0.01)
    timeline = list(csv.DictReader(next(frames_out.glob("*.csv")).open()))
    assert len(timeline) == T
    assert all((float(f["prob"]) > 0.99) if bias > 0 else (float(f["prob"]) < 0.01) for f in timeline)


def test_eval_of_a_trained_checkpoint_separates_its_data(tmp_path: Path) -> None:
    """The end-to-end training run learns a bright square; eval must report that, not 1 - AUC."""
    from dfdetect.training import TrainConfig, train

    def split(name: str, seed: int, n: int) -> Path:
        rng = np.random.default_rng(seed)
        stacks = {f"{name}_{i}": (_stack(int(rng.integers(1 << 30)), int(rng.integers(3, 7)), side=40, fake=bool(i % 2)), i % 2)
                  for i in range(n)}
        return _test_set(tmp_path / name, stacks, name)

    train_csv, val_csv, test_csv = split("train", 0, 12), split("val", 1, 8), split("test", 2, 10)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = train(TrainConfig(str(train_csv), str(val_csv), model="dual", backbone="test_resnet", hidden=16, layers=1,
                                frames=T, img_size=IMG, pretrained=False, epochs=2, batch_size=4, lr=1e-3,
                                workers=0, device="cpu", seed=0, out=str(tmp_path / "run")))
    finally:
        torch.set_num_threads(before)
    out = tmp_path / "results.csv"
    r = CliRunner().invoke(app, ["eval", str(run.run_dir), str(test_csv), "--out", str(out), "--device", "cpu"], env=ENV)
    assert r.exit_code == 0, r.output
    assert float(pd.read_csv(out)["auc"].iloc[0]) >= 0.9


@pytest.mark.parametrize("aggregate", ["max", "median"])
def test_aggregate_of_a_frame_level_model(tmp_path: Path, aggregate: str) -> None:
    ckpt = _checkpoint(tmp_path / "run" / "best.ckpt", name="meso4", seed=3)
    stacks = {f"v{i}": (_stack(10 + i, 5 + i, fake=bool(i % 2)), i % 2) for i in range(4)}
    test = _test_set(tmp_path, stacks)
    scores = tmp_path / "scores.csv"
    r = CliRunner().invoke(app, ["eval", str(ckpt), str(test), "--aggregate", aggregate, "--scores", str(scores),
                                 "--device", "cpu"], env=ENV)
    assert r.exit_code == 0, r.output
    sc = pd.read_csv(scores)
    fn = {"max": np.max, "median": np.median}[aggregate]
    spread = []
    for vid, (stack, _) in stacks.items():
        rows = sc[sc["video_id"] == vid]
        frames = rows[rows["level"] == "frame"]["prob"].to_numpy()
        assert len(frames) == len(stack)
        video = float(rows[rows["level"] == "video"]["prob"].iloc[0])
        assert video == pytest.approx(float(fn(frames)), abs=1e-9)
        spread.append(float(np.max(frames) - np.median(frames)))
    assert max(spread) > 1e-4  # max and median differ here, so the aggregate really was applied


def _blank_video(path: Path, n: int = 8) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (96, 96))
    for _ in range(n):
        writer.write(np.full((96, 96, 3), 128, np.uint8))
    writer.release()
    return path


def test_predict_on_a_clip_without_a_face(tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path / "run" / "best.ckpt")
    video = _blank_video(tmp_path / "blank.mp4")
    r = CliRunner().invoke(app, ["predict", str(video), "-c", str(ckpt), "--format", "csv", *FAST], env=ENV)
    assert r.exit_code == 1, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 1
    assert (rows[0]["status"], rows[0]["fake_prob"], rows[0]["verdict"]) == ("no_face", "", "")
    summary = [line for line in r.stderr.splitlines() if "video(s)" in line]
    assert len(summary) == 1
    assert re.fullmatch(r"1 video\(s\): 0 fake, 0 real, 1 failed · extract \d+\.\d\ds, model 0\.00s per video",
                        summary[0].strip()), summary


def test_non_finite_scores_stop_eval_and_predict(tmp_path: Path) -> None:
    from dfdetect.synth import make_clip

    ckpt = tmp_path / "run" / "best.ckpt"
    _checkpoint(ckpt, bias=float("nan"))
    test = _test_set(tmp_path, {"a": (_stack(1, T), 0), "b": (_stack(2, T, fake=True), 1)})
    r = CliRunner().invoke(app, ["eval", str(ckpt), str(test), "--device", "cpu"], env=ENV)
    assert r.exit_code == 1
    assert re.search(r"a \(.*a\.npy\): non-finite video score \(nan\) from checkpoint .*best\.ckpt", r.stderr), r.stderr
    video = make_clip(tmp_path / "clip.mp4", fake=False, seed=7, width=128, height=128, n_frames=6)
    r = CliRunner().invoke(app, ["predict", str(video), "-c", str(ckpt), "--format", "csv", *FAST], env=ENV)
    assert r.exit_code == 1
    assert re.search(r"clip\.mp4: non-finite video score \(nan\) from checkpoint .*best\.ckpt", r.stderr), r.stderr
    assert "Traceback" not in r.output


def test_skipped_videos_are_counted_by_reason(tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path / "run" / "best.ckpt")
    test = _test_set(tmp_path, {"a": (_stack(1, T), 0), "b": (_stack(2, T, fake=True), 1),
                                "empty": (np.zeros((0, 48, 48, 3), np.uint8), 1)})
    df = pd.read_csv(test, keep_default_na=False)
    extra = [dict(df.iloc[0], video_id="unlabelled", label=""),
             dict(df.iloc[0], video_id="noface", status="no_face", faces_file=""),
             dict(df.iloc[0], video_id="broken", status="error", faces_file="", error="unreadable")]
    pd.concat([df, pd.DataFrame(extra)]).to_csv(test, index=False)
    out = tmp_path / "results.csv"
    r = CliRunner().invoke(app, ["eval", str(ckpt), str(test), "--out", str(out), "--device", "cpu"], env=ENV)
    assert r.exit_code == 0, r.output
    assert "4 skipped: 2 no face, 1 no label, 1 error" in r.stdout
    row = pd.read_csv(out).iloc[0]
    assert (row["n_real"], row["n_fake"], row["n_skipped"]) == (1, 1, 4)
    assert (row["skipped_no_face"], row["skipped_no_label"], row["skipped_error"]) == (2, 1, 1)
