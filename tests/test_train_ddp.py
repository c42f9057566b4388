"""DDP smoke test: `torchrun --nproc_per_node=2 -m dfdetect train ...` on CPU with gloo."""

from __future__ import annotations

import json
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


def _torchrun(args: list[str], timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `torchrun --nproc_per_node=2 -m dfdetect ARGS`, output into files (a hung rank keeps a
    pipe open). On a timeout torchrun gets SIGTERM, which it passes on to its ranks (they run in
    sessions of their own, out of reach of a process-group kill), and the test fails."""
    import tempfile

    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", "-m", "dfdetect", *args]
    env = dict(env or os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE", COLUMNS="200")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            err.seek(0)
            pytest.fail(f"torchrun did not finish in {timeout:.0f} s (ranks ran different step counts?): "
                        f"{err.read()[-2000:]}")
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())


# Every sampler the trainer can pick, each with an odd number of batches over the two ranks: 5 real +
# 5 fake training clips in batches of 2. EpochSampler (plain, --balance) pads items to 5 per rank;
# ClassMixSampler (--fake-per-batch 1: 5 batches of 1 real + 1 fake; samples_per_epoch 10 from a
# config file: 5 plain batches) must pad its batch list, or one rank runs 3 steps, the other 2,
# and the gradient all-reduce hangs.
SAMPLERS = {"plain": [], "balance": ["--balance"], "fake-per-batch": ["--fake-per-batch", "1"],
            "samples-per-epoch": ["--config", "{config}"]}


@pytest.mark.slow  # two processes each import torch: ~20-60 s on two busy cores, per sampler
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_two_process_gloo_epoch(tmp_path: Path, sampler: str) -> None:
    train_csv, val_csv = tiny_splits(tmp_path / "data", n_train=5, n_val=3)
    config = tmp_path / "sampler.json"
    config.write_text(json.dumps({"samples_per_epoch": 10}))
    run = tmp_path / "ddp"
    proc = _torchrun([
        "train", str(train_csv), "--val", str(val_csv),
        "--backbone", "test_resnet", "--hidden", "8", "--layers", "1", "--frames", "3", "--img-size", "32",
        "--epochs", "1", "--batch-size", "2", "--workers", "0", "--no-pretrained", "--device", "cpu",
        "--out", str(run), *(a.format(config=config) for a in SAMPLERS[sampler]),
    ])
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["epoch"].tolist() == [1]
    assert 0.0 <= metrics.loc[0, "val_video_auc"] <= 1.0  # gathered from both ranks: both classes present
    assert "2 processes" in proc.stderr
    assert proc.stdout.count("train_loss") == 1  # only rank 0 renders the table
    model, config_json = load_model(run)
    assert config_json["train"]["batch_size"] == 2 and not any(k.startswith("module.") for k in model.state_dict())


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
