"""`dfdetect train`: run files, best.ckpt reload, exact resume, the CLI and every bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from _traindata import TINY_MODEL, write_split
from conftest import wide_runner
from dfdetect.checkpoint import load_model, read_checkpoint
from dfdetect.cli import app
from dfdetect.errors import DfdetectError
from dfdetect.training import TrainConfig, resume_config, train
from dfdetect.training.config import next_run_dir, prepare_run_dir

QUICK = dict(TINY_MODEL, batch_size=4, lr=1e-3, workers=0, device="cpu", seed=0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def full_run(splits: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    train_csv, val_csv = splits
    out = tmp_path_factory.mktemp("runs") / "full"
    return train(TrainConfig(str(train_csv), str(val_csv), epochs=2, schedule="cosine", out=str(out), **QUICK))


def test_run_writes_files_and_learns(full_run) -> None:
    run = full_run.run_dir
    for name in ("best.ckpt", "last.ckpt", "config.json", "metrics.csv"):
        assert (run / name).is_file(), name
    metrics = pd.read_csv(run / "metrics.csv")
    assert list(metrics.columns) == ["epoch", "train_loss", "val_loss", "val_video_auc", "val_frame_auc", "lr", "time"]
    assert metrics["epoch"].tolist() == [1, 2]
    assert full_run.best_val_auc is not None and full_run.best_val_auc >= 0.9  # a learnable pattern
    assert full_run.best_val_auc == metrics["val_video_auc"].max()
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "dual" and config["img_size"] == 32 and config["frames"] == 4
    assert config["pretrained"] is False and config["loss"]["name"] == "auc"
    assert config["train"]["lr"] == 1e-3 and config["model_options"]["backbone"] == "test_resnet"


def test_best_ckpt_reload_reproduces_the_recorded_validation(full_run, splits) -> None:
    """The reloaded best.ckpt scores the val set exactly as the training run recorded."""
    from contextlib import nullcontext

    from dfdetect.training.data import EpochSampler, FaceStackDataset, make_loader, preprocess_batch
    from dfdetect.training.losses import DualLevelLoss, create_loss
    from dfdetect.training.distributed import DistContext
    from dfdetect.training.validate import run_validation

    model, config = load_model(full_run.run_dir)
    val_set = FaceStackDataset(splits[1], frames=config["frames"], img_size=config["img_size"])
    loader = make_loader(val_set, EpochSampler(len(val_set), shuffle=False), 4, 0, False)

    def prepare(batch):
        x = preprocess_batch(batch["frames"], config["img_size"], config["mean"], config["std"], "cpu")
        return x, batch["label"], batch["mask"]

    loss_fn = DualLevelLoss(create_loss("auc"), beta=0.6)
    result = run_validation(model, loader, loss_fn, prepare, nullcontext, DistContext())
    row = pd.read_csv(full_run.run_dir / "metrics.csv").set_index("epoch").loc[full_run.best_epoch]
    assert result.loss == pytest.approx(row["val_loss"], abs=1e-6)
    assert result.video_auc == pytest.approx(row["val_video_auc"], abs=1e-9)
    assert result.frame_auc == pytest.approx(row["val_frame_auc"], abs=1e-9)
    model2, _ = load_model(full_run.run_dir / "best.ckpt")
    x = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x)["video"], model2(x)["video"])


def test_resume_after_a_kill_matches_the_uninterrupted_run(full_run, splits, tmp_path: Path, monkeypatch) -> None:
    from dfdetect.training import engine

    out = tmp_path / "killed"
    original = engine.Trainer.run_epoch

    def killed_in_epoch_two(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt  # the process dies after last.ckpt of epoch 1 was written
        return original(self, epoch)

    monkeypatch.setattr(engine.Trainer, "run_epoch", killed_in_epoch_two)
    config = TrainConfig(str(splits[0]), str(splits[1]), epochs=2, schedule="cosine", out=str(out), **QUICK)
    with pytest.raises(KeyboardInterrupt):
        train(config)
    monkeypatch.setattr(engine.Trainer, "run_epoch", original)
    assert len(pd.read_csv(out / "metrics.csv")) == 1

    result = train(resume_config(out))
    assert result.epochs_run == 2
    resumed, uninterrupted = read_checkpoint(out / "last.ckpt"), read_checkpoint(full_run.run_dir / "last.ckpt")
    for key, tensor in uninterrupted["state_dict"].items():
        assert torch.equal(tensor, resumed["state_dict"][key]), key
    a = pd.read_csv(out / "metrics.csv").drop(columns="time")
    b = pd.read_csv(full_run.run_dir / "metrics.csv").drop(columns="time")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow  # a child process imports torch and trains
def test_sigkill_while_saving_last_ckpt_then_resume_matches(full_run, splits, tmp_path: Path) -> None:
    """A real SIGKILL halfway through writing epoch 2's last.ckpt (the test-only hook in
    dfdetect/faults.py makes the child kill itself there): epoch 1's last.ckpt survives whole,
    and resuming from it ends exactly where the uninterrupted run ended."""
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "killed"
    config = dict(QUICK, train_csv=str(splits[0]), val_csv=str(splits[1]), epochs=2, schedule="cosine", out=str(out))
    script = (
        "import torch; torch.set_num_threads(1)\n"  # the same arithmetic as this process
        "from dfdetect.training import TrainConfig, train\n"
        f"train(TrainConfig(**{config!r}))\n"
    )
    env = dict(os.environ, DFDETECT_TEST_KILL_AT_WRITE="last.ckpt:2", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert [p.name.startswith(".last.ckpt.") for p in out.glob(".*.tmp")] == [True]  # the half-written one
    assert read_checkpoint(out / "last.ckpt")["train_state"]["epoch"] == 1  # the old file, whole
    assert pd.read_csv(out / "metrics.csv")["epoch"].tolist() == [1]

    result = train(resume_config(out))
    assert result.epochs_run == 2
    resumed, uninterrupted = read_checkpoint(out / "last.ckpt"), read_checkpoint(full_run.run_dir / "last.ckpt")
    assert resumed["state_dict"].keys() == uninterrupted["state_dict"].keys()
    for key, tensor in uninterrupted["state_dict"].items():
        assert torch.equal(tensor, resumed["state_dict"][key]), key
    best_a, best_b = read_checkpoint(out / "best.ckpt"), read_checkpoint(full_run.run_dir / "best.ckpt")
    assert all(torch.equal(v, best_a["state_dict"][k]) for k, v in best_b["state_dict"].items())
    a = pd.read_csv(out / "metrics.csv").drop(columns="time")
    b = pd.read_csv(full_run.run_dir / "metrics.csv").drop(columns="time")
    pd.testing.assert_frame_equal(a, b)


def test_cli_train_then_incompatible_resume(splits, tmp_path: Path) -> None:
    runner = wide_runner()
    run = tmp_path / "cli"
    args = ["train", str(splits[0]), "--val", str(splits[1]), "--model", "dual", "--loss", "auc",
            "--backbone", "test_resnet", "--hidden", "16", "--layers", "1", "--frames", "4", "--img-size", "32",
            "--epochs", "1", "--batch-size", "4", "--workers", "0", "--no-pretrained", "--device", "cpu",
            "--augment", "flip,color,xray", "--balance", "--pos-weight", "2", "--out", str(run)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "val_video_auc" in result.output and (run / "best.ckpt").is_file()
    assert json.loads((run / "config.json").read_text())["train"]["augment"] == ["flip", "color", "xray"]

    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "already holds a training run" in again.output

    bad = runner.invoke(app, ["train", "--resume", str(run), "--model", "cnn"])
    assert bad.exit_code == 1
    assert "cannot resume" in bad.output and "--model cnn" in bad.output and "Traceback" not in bad.output

    config = TrainConfig(str(splits[0]), str(splits[1]), resume=str(run), **dict(QUICK, hidden=32))
    with pytest.raises(DfdetectError, match="cannot resume .*hidden"):
        train(config)

    more = runner.invoke(app, ["train", "--resume", str(run), "--epochs", "2"])
    assert more.exit_code == 0, more.output
    assert pd.read_csv(run / "metrics.csv")["epoch"].tolist() == [1, 2]


def test_train_csv_with_one_class(tmp_path: Path) -> None:
    only_fake = write_split(tmp_path, "train", 0, 3)
    with pytest.raises(DfdetectError, match="every usable video is fake .*needs both real and fake"):
        train(TrainConfig(str(only_fake), out=str(tmp_path / "r"), **QUICK))


def test_real_videos_alone_train_with_blended_fakes(tmp_path: Path) -> None:
    # SBI's protocol: no fake video, the self-blended copies of the reals are the fake class
    only_real = write_split(tmp_path, "train", 4, 0)
    with pytest.raises(DfdetectError, match="every usable video is real .*--augment sbi"):
        train(TrainConfig(str(only_real), out=str(tmp_path / "plain"), **QUICK))
    result = train(TrainConfig(str(only_real), out=str(tmp_path / "r"), epochs=1, augment=["xray"], **QUICK))
    assert result.epochs_run == 1 and math.isfinite(result.history[0]["train_loss"])
    assert (tmp_path / "r" / "last.ckpt").is_file()


def test_val_with_one_class_warns_and_selects_on_loss(splits, tmp_path: Path, capsys) -> None:
    val = write_split(tmp_path, "val", 3, 0, seed=5)
    result = train(TrainConfig(str(splits[0]), str(val), epochs=1, out=str(tmp_path / "r"), **QUICK))
    assert result.selected_on == "val_loss" and result.best_val_auc is None
    assert (tmp_path / "r" / "best.ckpt").is_file()
    assert math.isnan(result.history[0]["val_video_auc"])
    assert "AUC is undefined" in capsys.readouterr().err


def test_nan_loss_stops_with_the_batch_video_ids(splits, tmp_path: Path) -> None:
    config = TrainConfig(str(splits[0]), str(splits[1]), epochs=2, out=str(tmp_path / "r"), **dict(QUICK, lr=1e30))
    with pytest.raises(DfdetectError, match=r"loss is nan at epoch \d \(batch videos: train_(real|fake)_\d+"):
        train(config)


def test_missing_stacks_is_one_line_error(splits, tmp_path: Path) -> None:
    df = pd.read_csv(splits[0])
    df["faces_file"] = "gone/" + df["faces_file"]
    csv = tmp_path / "train.csv"
    df.to_csv(csv, index=False)
    result = wide_runner().invoke(
        app, ["train", str(csv), "--no-pretrained", "--backbone", "test_resnet", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 1
    assert "12 of 12 face stacks missing, first" in result.output and "re-run `dfdetect extract`" in result.output


def test_run_folders_are_numbered_and_never_overwritten(tmp_path: Path) -> None:
    project = tmp_path / "runs" / "train"
    assert next_run_dir(project) == project / "exp"
    (project / "exp").mkdir(parents=True)
    assert next_run_dir(project) == project / "exp2"
    (project / "exp2").mkdir()
    assert next_run_dir(project) == project / "exp3"
    (project / "exp" / "last.ckpt").write_bytes(b"")  # a checkpoint makes a folder a run (config.json alone does not)
    with pytest.raises(DfdetectError, match="already holds a training run; continue it with --resume"):
        prepare_run_dir(TrainConfig("x.csv", out=str(project / "exp")))


def test_frame_level_model_trains_and_scores_videos_by_mean_frame_prob(splits, tmp_path: Path) -> None:
    options = dict(QUICK, model="cnn", hidden=None, layers=None)
    result = train(TrainConfig(str(splits[0]), str(splits[1]), epochs=1, loss="bce", out=str(tmp_path / "r"), **options))
    row = result.history[0]
    assert 0.0 <= row["val_video_auc"] <= 1.0 and 0.0 <= row["val_frame_auc"] <= 1.0
    assert json.loads((tmp_path / "r" / "config.json").read_text())["level"] == "frame"


def test_init_from_loads_a_checkpoint_into_a_fresh_model(full_run) -> None:
    from dfdetect.checkpoint import init_weights_from
    from dfdetect.models import create_model

    config = json.loads((full_run.run_dir / "config.json").read_text())
    model = create_model("dual", **config["model_options"])
    assert "dfdetect checkpoint" in init_weights_from(model, full_run.run_dir)
    best = read_checkpoint(full_run.run_dir / "best.ckpt")["state_dict"]
    assert all(torch.equal(v, best[k]) for k, v in model.state_dict().items())
    wrong = create_model("dual", **dict(config["model_options"], hidden=4))
    with pytest.raises(DfdetectError, match="weights do not fit the model"):
        init_weights_from(wrong, full_run.run_dir)


def test_early_stop_after_patience_without_improvement(splits, tmp_path: Path) -> None:
    result = train(TrainConfig(str(splits[0]), str(splits[1]), epochs=6, early_stop=1, out=str(tmp_path / "r"), **QUICK))
    # the val AUC saturates at 1.0 within a few epochs, so one epoch later the run stops
    assert result.stopped_early and result.epochs_run == result.best_epoch + 1 < 6
    assert len(pd.read_csv(tmp_path / "r" / "metrics.csv")) == result.epochs_run


def test_local_backbone_weights_are_recorded(splits, tmp_path: Path) -> None:
    from dfdetect.models import create_model

    donor = create_model("dual", backbone="test_resnet", hidden=16, layers=1)
    torch.save(donor.backbone.net.state_dict(), tmp_path / "backbone.pth")
    options = dict(QUICK, pretrained=True)
    result = train(TrainConfig(str(splits[0]), None, epochs=1, weights=str(tmp_path / "backbone.pth"), out=str(tmp_path / "r"), **options))
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["pretrained"] is True and config["pretrained_source"].startswith("local:")
    assert result.selected_on == "train_loss"
