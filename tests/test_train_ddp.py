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
