"""`dfdetect eval`, the inference windows, the report formats and the plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dfdetect.cli import app
from dfdetect.scoring.inference import aggregate_frames, window_indices
from dfdetect.report.plots import plot_auc_vs_ratio, plot_frame_timeline, plot_roc_curves
from dfdetect.report.tables import fmt_value, metrics_table

from _evaldata import save_tiny_checkpoint, write_test_set

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path, min_side: int = 100) -> None:
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = mpimg.imread(path)
    assert img.ndim == 3 and min(img.shape[:2]) >= min_side
    assert float(img[..., :3].std()) > 0.01  # something was drawn


@pytest.mark.parametrize("n,t", [(8, 4), (10, 4), (3, 4), (4, 4), (33, 8), (1, 5)])
def test_windows_cover_every_frame_at_clip_wide_spacing(n: int, t: int) -> None:
    idx = window_indices(n, t)
    assert idx.shape == (max(1, -(-n // t)), t)
    assert set(idx.ravel().tolist()) == set(range(n))
    assert (np.diff(idx, axis=1) >= 0).all()  # each window is in temporal order
    assert idx[:, -1].max() == n - 1 and idx[:, 0].min() == 0


def test_aggregate_frames() -> None:
    probs = np.array([0.1, 0.2, 0.9])
    assert aggregate_frames(probs, "mean") == pytest.approx(0.4)
    assert aggregate_frames(probs, "max") == pytest.approx(0.9)
    assert aggregate_frames(probs, "median") == pytest.approx(0.2)


def test_plots_are_valid_pngs(tmp_path: Path) -> None:
    roc = plot_roc_curves([("a", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), ("one-class", [0, 0], [0.2, 0.3])],
                          tmp_path / "roc.png")
    ratio = plot_auc_vs_ratio({"dual+auc": [(1, 0.9, 0.01), (10, 0.85, 0.05), (200, None, None)],
                               "dual+bce": [(1, 0.8, 0.0), (10, 0.7, 0.1)]}, tmp_path / "sub" / "ratio.png")
    timeline = plot_frame_timeline([0, 4, 8], [0.2, 0.7, 0.4], tmp_path / "t.png", video_prob=0.5)
    for p in (roc, ratio):
        assert_png(p, 300)
    assert_png(timeline, 150)


def test_table_formats_na_and_repeats() -> None:
    from rich.console import Console

    assert fmt_value(None) == "n/a" and fmt_value(float("nan")) == "n/a"
    assert fmt_value(0.91234, 0.0123) == "0.912 ± 0.012"
    rows = [
        {"kind": "set", "set": "test_1to1", "ratio": "1:1", "n_real": 2, "n_fake": 2, "auc": 0.75, "note": ""},
        {"kind": "set", "set": "only_real", "ratio": "n/a", "n_real": 3, "n_fake": 0, "auc": None,
         "note": "one class only: AUC/AP/EER undefined"},
        {"kind": "repeats", "set": "test_1to10", "ratio": "1:10", "n_real": 10, "n_fake": 1, "repeats": 3,
         "auc": 0.8, "auc_std": 0.1, "note": ""},
    ]
    console = Console(width=200, record=True)
    console.print(metrics_table(rows, metrics=["auc"]))
    text = console.export_text()
    assert "0.750" in text and "n/a" in text and "0.800±0.100" in text and "test_1to10 (×3)" in text
    assert "one class only" in text


@pytest.fixture(scope="module")
def eval_setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("eval")
    ckpt = save_tiny_checkpoint(root / "run" / "best.ckpt")
    bad = {"video_id": "broken", "path": "videos/broken.mp4", "label": 1, "group": "broken", "method": "x",
           "dataset": "tiny", "split": "", "frames": 0, "faces": 0, "faces_file": "", "status": "error",
           "error": "unreadable"}
    sets = {
        "test": write_test_set(root, "test", [0, 0, 0, 1, 1, 1], seed=1, extra_rows=[bad]),
        "test_1to2_r0": write_test_set(root, "test_1to2_r0", [0, 0, 1], seed=1),
        "test_1to2_r1": write_test_set(root, "test_1to2_r1", [0, 0, 1], seed=2),
        "real_only": write_test_set(root, "real_only", [0, 0, 0], seed=3),
    }
    return {"root": root, "ckpt": ckpt, "sets": sets}


def test_eval_cli_end_to_end(eval_setup: dict) -> None:
    root, sets = eval_setup["root"], eval_setup["sets"]
    out, scores, plots = root / "results.csv", root / "scores.csv", root / "plots"
    args = ["eval", str(root / "run"), *map(str, sets.values()), "--out", str(out), "--scores", str(scores),
            "--plot", str(plots), "--device", "cpu", "--batch-size", "3"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "test_1to2 (×2)" in text and "±" in text and "real_only" in text and "n/a" in text
    assert "1 skipped" in text

    res = pd.read_csv(out)
    per_set = res[res["kind"] == "set"].set_index("set")
    assert list(per_set.index) == ["test", "test_1to2_r0", "test_1to2_r1", "real_only"]
    assert per_set.loc["test", "n_real"] == 3 and per_set.loc["test", "n_fake"] == 3
    assert per_set.loc["test", "n_skipped"] == 1
    assert pd.isna(per_set.loc["real_only", "auc"]) and per_set.loc["real_only", "note"].startswith("one class")
    summary = res[res["kind"] == "repeats"].set_index("set")
    r0, r1 = per_set.loc["test_1to2_r0", "auc"], per_set.loc["test_1to2_r1", "auc"]
    assert summary.loc["test_1to2", "auc"] == pytest.approx((r0 + r1) / 2)
    assert summary.loc["test_1to2", "auc_std"] == pytest.approx(np.std([r0, r1], ddof=1))

    # the metrics agree with sklearn applied to the written scores
    from sklearn.metrics import roc_auc_score

    sc = pd.read_csv(scores)
    video = sc[(sc["set"] == "test") & (sc["level"] == "video")]
    assert len(video) == 6
    assert per_set.loc["test", "auc"] == pytest.approx(roc_auc_score(video["label"], video["prob"]))
    frame = sc[(sc["set"] == "test") & (sc["level"] == "frame")]
    assert len(frame) == 6 * 6  # every frame of every stack
    assert per_set.loc["test", "frame_auc"] == pytest.approx(roc_auc_score(frame["label"], frame["prob"]))
    # shared videos are scored once, identically, across sets
    shared = sc[(sc["level"] == "video") & sc["video_id"].isin(video["video_id"])]
    assert shared.groupby("video_id")["prob"].nunique().max() == 1

    assert_png(plots / "roc.png", 300)
    assert_png(plots / "auc_vs_ratio.png", 300)


def test_eval_threshold_and_aggregate_change_results(eval_setup: dict) -> None:
    from dfdetect.checkpoint import load_model
    from dfdetect.evaluation.evaluate import EvalOptions, evaluate_model

    model, config = load_model(eval_setup["ckpt"])
    test = eval_setup["sets"]["test"]
    low = evaluate_model(model, config, [test], EvalOptions(threshold=0.0, device="cpu")).sets[0]
    high = evaluate_model(model, config, [test], EvalOptions(threshold=1.0, device="cpu")).sets[0]
    assert low.metrics["recall"] == 1.0 and low.metrics["acc"] == pytest.approx(0.5)
    assert high.metrics["recall"] == 0.0 and high.metrics["precision"] == 0.0
    assert high.metrics["auc"] == pytest.approx(low.metrics["auc"])  # ranking metrics ignore the threshold


def test_eval_usage_errors(eval_setup: dict, tmp_path: Path) -> None:
    runner = CliRunner()
    root, test = eval_setup["root"], str(eval_setup["sets"]["test"])
    r = runner.invoke(app, ["eval", str(root / "run"), test, "--aggregate", "mode"], env={"COLUMNS": "200"})
    assert r.exit_code == 2 and "aggregate" in r.output
    r = runner.invoke(app, ["eval", str(root / "run"), str(tmp_path / "missing.csv")], env={"COLUMNS": "200"})
    assert r.exit_code == 1 and "missing.csv" in r.output and "Traceback" not in r.output
