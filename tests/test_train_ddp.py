"""DDP smoke test: `torchrun --nproc_per_node=2 -m dfdetect train ...` on CPU with gloo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from _traindata import tiny_splits
from dfdetect.checkpoint import load_model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two processes each import torch: ~20-60 s on two busy cores
def test_two_process_gloo_epoch(tmp_path: Path) -> None:
    train_csv, val_csv = tiny_splits(tmp_path / "data", n_train=5, n_val=3)
    run = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}", "-m", "dfdetect", "train", str(train_csv), "--val", str(val_csv),
        "--backbone", "test_resnet", "--hidden", "8", "--layers", "1", "--frames", "3", "--img-size", "32",
        "--epochs", "1", "--batch-size", "2", "--workers", "0", "--no-pretrained", "--device", "cpu",
        "--out", str(run),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", COLUMNS="200")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["epoch"].tolist() == [1]
    assert 0.0 <= metrics.loc[0, "val_video_auc"] <= 1.0  # gathered from both ranks: both classes present
    assert "2 processes" in proc.stderr
    assert proc.stdout.count("train_loss") == 1  # only rank 0 renders the table
    model, config = load_model(run)
    assert config["train"]["batch_size"] == 2 and not any(k.startswith("module.") for k in model.state_dict())


class _TwoRanks:
    """Stands in for rank 0 of a two-process group: rank 1's shard is a copy of rank 0's results
    for the indices it was given, which is what the all_gather would return."""

    enabled, world_size, rank, is_main = True, 2, 0, True

    def __init__(self, other_indices: list[int]) -> None:
        self.other = other_indices

    def all_gather_object(self, obj):
        indices, video, labels, frames, loss_sum, n_batches = obj
        pos = {i: j for j, i in enumerate(indices)}
        mine = [pos[i] for i in self.other]
        other = ([indices[j] for j in mine], [video[j] for j in mine], [labels[j] for j in mine],
                 [frames[j] for j in mine], loss_sum, n_batches)
        return [obj, other]


def test_gathered_validation_drops_padding_duplicates(tmp_path: Path) -> None:
    from contextlib import nullcontext

    import torch

    from dfdetect.training.data import EpochSampler, FaceStackDataset, make_loader, preprocess_batch
    from dfdetect.training.losses import DualLevelLoss, create_loss
    from dfdetect.models import create_model
    from dfdetect.training.validate import run_validation

    _, val_csv = tiny_splits(tmp_path, n_train=1, n_val=3)
    ds = FaceStackDataset(val_csv, frames=3, img_size=32)
    model = create_model("dual", backbone="test_resnet", hidden=8, layers=1)
    loader = make_loader(ds, EpochSampler(len(ds), shuffle=False), 2, 0, False)

    def prepare(batch):
        return preprocess_batch(batch["frames"], 32, model.input_cfg["mean"], model.input_cfg["std"]), batch["label"], batch["mask"]

    loss_fn = DualLevelLoss(create_loss("auc"))
    single = run_validation(model, loader, loss_fn, prepare, nullcontext, _TwoRanks([]))
    # the other rank saw videos 0 and 5 again (DistributedSampler-style padding): counted once
    doubled = run_validation(model, loader, loss_fn, prepare, nullcontext, _TwoRanks([0, 5]))
    assert single.n_videos == doubled.n_videos == 6
    assert doubled.video_auc == single.video_auc and doubled.frame_auc == single.frame_auc
    assert torch.isfinite(torch.tensor(single.loss))
