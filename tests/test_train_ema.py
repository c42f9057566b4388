"""`train --ema`: the saved and validated weights are the documented moving average of the
training weights, the training itself is unchanged, and a killed run resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from _traindata import TINY_MODEL
from conftest import wide_runner
from dfdetect.checkpoint import load_model, read_checkpoint
from dfdetect.cli import app
from dfdetect.training import TrainConfig, resume_config, train

QUICK = dict(TINY_MODEL, batch_size=4, lr=1e-3, workers=0, device="cpu", seed=0, epochs=2, schedule="cosine")
DECAY = 0.9


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def recorded_run(splits, out: Path, **options):
    """An --ema run that also records the raw weights after every optimiser step."""
    from dfdetect.training import engine

    snapshots: list[dict[str, torch.Tensor]] = []
    original = engine.Trainer._step

    def recording_step(self, batch, epoch):
        loss = original(self, batch, epoch)
        snapshots.append({k: v.detach().clone().double() for k, v in self.bare_model.state_dict().items()})
        return loss

    engine.Trainer._step = recording_step
    try:
        result = train(TrainConfig(str(splits[0]), str(splits[1]), out=str(out), **options, **QUICK))
    finally:
        engine.Trainer._step = original
    return result, snapshots


@pytest.fixture(scope="module")
def ema_run(splits, tmp_path_factory: pytest.TempPathFactory):
    return recorded_run(splits, tmp_path_factory.mktemp("runs") / "ema", ema=DECAY)


def expected_average(snapshots: list[dict[str, torch.Tensor]], warmup: bool = True) -> dict[str, torch.Tensor]:
    """The average by its documented formula: the first update copies the weights, update k + 1
    uses decay min(1 - (1 + k)^(-2/3), DECAY) with the warm-up, DECAY without; integer buffers are copied."""
    average = {k: v.clone() for k, v in snapshots[0].items()}
    for k, weights in enumerate(snapshots[1:], start=1):
        decay = min(1 - (1 + k) ** (-2 / 3), DECAY) if warmup else DECAY
        for name, value in weights.items():
            if value.is_floating_point():
                average[name] = decay * average[name] + (1 - decay) * value
            else:
                average[name] = value.clone()
    return average


def test_saved_weights_are_the_moving_average_of_the_training_weights(ema_run) -> None:
    result, snapshots = ema_run
    assert len(snapshots) >= 6  # enough steps that the average and the last weights differ
    last = read_checkpoint(result.run_dir / "last.ckpt")
    saved, raw = last["state_dict"], last["train_state"]["raw_weights"]
    assert last["train_state"]["ema_steps"] == len(snapshots)
    want = expected_average(snapshots)
    moved = 0
    for name, tensor in saved.items():
        assert torch.equal(raw[name].double(), snapshots[-1][name]), name  # raw = the last step's weights
        if tensor.is_floating_point():
            assert torch.allclose(tensor.double(), want[name], atol=1e-5, rtol=1e-4), name
            moved += int(not torch.allclose(tensor.double(), snapshots[-1][name], atol=1e-6))
    assert moved > 0  # the average really is not the last weights


def test_without_warmup_the_decay_is_the_one_given(splits, tmp_path: Path) -> None:
    """--no-ema-warmup: every update after the first uses DECAY itself (issue 23 §3)."""
    result, snapshots = recorded_run(splits, tmp_path / "flat", ema=DECAY, ema_warmup=False)
    saved = read_checkpoint(result.run_dir / "last.ckpt")["state_dict"]
    flat, warm = expected_average(snapshots, warmup=False), expected_average(snapshots, warmup=True)
    apart = 0
    for name, tensor in saved.items():
        if tensor.is_floating_point():
            assert torch.allclose(tensor.double(), flat[name], atol=1e-5, rtol=1e-4), name
            apart += int(not torch.allclose(flat[name], warm[name], atol=1e-5, rtol=1e-4))
    assert apart > 0  # the two schedules really give different weights on this run


def test_effective_decay_matches_timm_and_the_documented_figures() -> None:
    from timm.utils import ModelEmaV3

    from dfdetect.training.ema import decay_at, short_run_warning, warmup_steps

    for warmup in (True, False):
        reference = ModelEmaV3(torch.nn.Linear(2, 2), decay=0.999, use_warmup=warmup)
        for step in (1, 2, 3, 30, 354, 504, 31_622, 31_623, 40_000):
            assert decay_at(step, 0.999, warmup) == pytest.approx(reference.get_decay(step), abs=1e-12)
    # the figures in ema.py's docstring and --help
    assert round(decay_at(30, 0.999), 2) == 0.90 and round(decay_at(354, 0.999), 2) == 0.98
    assert round(decay_at(504, 0.999), 3) == 0.984
    assert warmup_steps(0.999) == 31_623 and warmup_steps(0.99) == 1_000
    assert decay_at(warmup_steps(0.99) - 1, 0.99) < 0.99 == decay_at(warmup_steps(0.99), 0.99)
    assert "31,623" in short_run_warning(0.999, True, 500) and "0.9842" in short_run_warning(0.999, True, 504)
    assert short_run_warning(0.999, False, 500) is None and short_run_warning(0.9, True, 500) is None


def test_ema_leaves_training_unchanged(ema_run, splits, tmp_path: Path) -> None:
    """The raw weights of an --ema run equal a plain run's: averaging never touches training."""
    plain = train(TrainConfig(str(splits[0]), str(splits[1]), out=str(tmp_path / "plain"), **QUICK))
    plain_weights = read_checkpoint(plain.run_dir / "last.ckpt")["state_dict"]
    raw = read_checkpoint(ema_run[0].run_dir / "last.ckpt")["train_state"]["raw_weights"]
    for name, tensor in plain_weights.items():
        assert torch.equal(tensor, raw[name]), name
    a = pd.read_csv(plain.run_dir / "metrics.csv")
    b = pd.read_csv(ema_run[0].run_dir / "metrics.csv")
    pd.testing.assert_series_equal(a["train_loss"], b["train_loss"])
    assert not a["val_loss"].equals(b["val_loss"])  # validation scored the average, not the raw weights


def test_best_ckpt_is_the_validated_average(ema_run, splits) -> None:
    from contextlib import nullcontext

    from dfdetect.training.data import EpochSampler, FaceStackDataset, make_loader, preprocess_batch
    from dfdetect.training.losses import DualLevelLoss, create_loss
    from dfdetect.training.distributed import DistContext
    from dfdetect.training.validate import run_validation

    result = ema_run[0]
    model, config = load_model(result.run_dir)
    assert config["train"]["ema"] == DECAY
    val_set = FaceStackDataset(splits[1], frames=config["frames"], img_size=config["img_size"])
    loader = make_loader(val_set, EpochSampler(len(val_set), shuffle=False), 4, 0, False)

    def prepare(batch):
        x = preprocess_batch(batch["frames"], config["img_size"], config["mean"], config["std"], "cpu")
        return x, batch["label"], batch["mask"]

    got = run_validation(model, loader, DualLevelLoss(create_loss("auc"), beta=0.6), prepare, nullcontext, DistContext())
    row = pd.read_csv(result.run_dir / "metrics.csv").set_index("epoch").loc[result.best_epoch]
    assert got.loss == pytest.approx(row["val_loss"], abs=1e-6)
    assert got.video_auc == pytest.approx(row["val_video_auc"], abs=1e-9)


def test_killed_ema_run_resumes_to_the_same_average(ema_run, splits, tmp_path: Path, monkeypatch) -> None:
    from dfdetect.training import engine

    out = tmp_path / "killed"
    original = engine.Trainer.run_epoch

    def killed_in_epoch_two(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(engine.Trainer, "run_epoch", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(str(splits[0]), str(splits[1]), out=str(out), ema=DECAY, **QUICK))
    monkeypatch.setattr(engine.Trainer, "run_epoch", original)
    train(resume_config(out))
    resumed, whole = read_checkpoint(out / "last.ckpt"), read_checkpoint(ema_run[0].run_dir / "last.ckpt")
    assert resumed["train_state"]["ema_steps"] == whole["train_state"]["ema_steps"]
    for key, tensor in whole["state_dict"].items():
        assert torch.equal(tensor, resumed["state_dict"][key]), key
        assert torch.equal(whole["train_state"]["raw_weights"][key], resumed["train_state"]["raw_weights"][key]), key


def test_cli_ema_flag_and_bad_values(splits, tmp_path: Path) -> None:
    runner = wide_runner()
    base = ["train", str(splits[0]), "--model", "dual", "--backbone", "test_resnet", "--hidden", "16", "--layers", "1",
            "--frames", "4", "--img-size", "32", "--no-pretrained", "--epochs", "1", "-b", "4", "--workers", "0",
            "--device", "cpu"]
    bad = runner.invoke(app, [*base, "--ema", "1.5", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "--ema must be between 0 and 1" in bad.output
    assert not (tmp_path / "bad").exists()
    ok = runner.invoke(app, [*base, "--ema", "0.99", "--out", str(tmp_path / "ok")])
    assert ok.exit_code == 0, ok.output
    # 12 clips, batches of 4: 3 updates, the last at decay 1 - 3^-2/3; the log says so, and that 0.99 is far
    assert "ema_decay 0.5193 (--ema 0.99 from update 1,000)" in ok.output
    assert "reaches 0.99 only after 1,000 updates; this run has 3" in ok.output and "--no-ema-warmup" in ok.output
    flat = runner.invoke(app, [*base, "--ema", "0.99", "--no-ema-warmup", "--out", str(tmp_path / "flat")])
    assert flat.exit_code == 0, flat.output
    assert "ema_decay 0.9900" in flat.output and "only after" not in flat.output
    assert json.loads((tmp_path / "flat" / "config.json").read_text())["train"]["ema_warmup"] is False
    assert json.loads((tmp_path / "ok" / "config.json").read_text())["train"]["ema"] == 0.99
    # the average is part of what a resumed run must share
    clash = runner.invoke(app, ["train", "--resume", str(tmp_path / "ok"), "--ema", "0.9", "--epochs", "2"])
    assert clash.exit_code != 0 and "ema" in clash.output
