"""experiments/ffpp/run.py on tiny synthetic folds (no FF++ data): recipes read from config files,
one model per fold through the experiment primitive, pooled OOF results with both intervals,
finished folds cached, and a data option (train+val, last epoch scored) applied."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from test_benchmark_folds import write_folds

RUNNER = Path(__file__).resolve().parents[1] / "experiments" / "ffpp" / "run.py"
TINY = """model: meso4
loss: bce
pretrained: false
augment: []
img_size: 32
frames: 4
epochs: 1
batch_size: 4
lr: 0.001
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(RUNNER), *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow  # four tiny trainings in a subprocess
def test_runner_on_tiny_folds(tmp_path: Path) -> None:
    ids = write_folds(tmp_path, k=2, per_class=4)
    recipes = tmp_path / "recipes"
    recipes.mkdir()
    (recipes / "tiny.yaml").write_text(TINY)
    (recipes / "tiny-tv.yaml").write_text(TINY)
    (tmp_path / "data.yaml").write_text("tiny-tv: {trainval: true}\n")
    work = tmp_path / "work"
    args = ["--folds-dir", str(tmp_path / "folds"), "--work", str(work), "--recipes", "tiny,tiny-tv",
            "--recipes-dir", str(recipes), "--data-options", str(tmp_path / "data.yaml")]
    first = _run(*args)
    assert first.returncode == 0, first.stderr[-3000:]

    results = pd.read_csv(work / "results.csv", dtype={"folds": str}).set_index("recipe")
    assert set(results.index) == {"tiny", "tiny-tv"}
    for name in ("tiny", "tiny-tv"):
        row = results.loc[name]
        assert row["videos"] == 16 and row["fakes"] == 8 and row["folds"] == "0,1" and row["groups"] == 16
        assert row["auc_lo"] <= row["auc"] <= row["auc_hi"]
        assert row["auc_group_lo"] <= row["auc"] <= row["auc_group_hi"]  # the identity-group bootstrap beside DeLong
        oof = pd.read_csv(work / f"oof_{name}.csv")
        assert sorted(oof["video_id"]) == sorted(ids)  # every video scored once, by its fold's model
    # the default: best.ckpt chosen on the fold's val.csv; trainval: val trains too, last.ckpt scored
    for fold in ("fold_0", "fold_1"):
        assert (work / "runs" / "tiny" / fold / "train" / "best.ckpt").is_file()
        trainval = pd.read_csv(work / "runs" / "tiny-tv" / fold / "trainval.csv")
        parts = [pd.read_csv(tmp_path / "folds" / fold / f"{s}.csv") for s in ("train", "val")]
        assert sorted(trainval["video_id"]) == sorted(pd.concat(parts)["video_id"])
        saved = json.loads((work / "runs" / "tiny-tv" / fold / "train" / "config.json").read_text())["train"]
        assert saved["val_csv"] is None and saved["train_csv"].endswith("trainval.csv")
    assert "pooled OOF video AUC" in first.stdout and "by identity group" in first.stdout

    stamp = (work / "runs" / "tiny" / "fold_0" / "train" / "last.ckpt").stat().st_mtime_ns
    again = _run(*args)  # finished folds come from their cache: the same table, nothing trained
    assert again.returncode == 0, again.stderr[-3000:]
    assert (work / "runs" / "tiny" / "fold_0" / "train" / "last.ckpt").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(pd.read_csv(work / "results.csv", dtype={"folds": str}).set_index("recipe"), results)

    bad = _run("--folds-dir", str(tmp_path / "folds"), "--work", str(work), "--recipes", "nope",
               "--recipes-dir", str(recipes))
    assert bad.returncode == 2 and "unknown recipe nope; choose from tiny, tiny-tv" in bad.stderr
