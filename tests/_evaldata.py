"""Tiny face-stack test sets and checkpoints for the eval/predict/benchmark tests.

Stacks are written straight to .npy (no extraction) with the manifest columns, so eval tests run
in a second. Fakes carry a bright square, reals do not: a model can learn it in a few steps, and
an untrained model still gives real scores to check the bookkeeping against.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import conftest
from conftest import manifest_row, tiny_model  # noqa: F401  (tiny_model: re-exported)
from dfdetect.manifest import MANIFEST_COLUMNS

STACK_FRAMES, STACK_SIZE = 6, 32


def make_stack(fake: bool, seed: int, frames: int = STACK_FRAMES, size: int = STACK_SIZE) -> np.ndarray:
    """Noise in 40..119; a fake's upper-left inner quarter is 230."""
    return conftest.make_stack(seed, fake, frames, size, dim=(40, 120), bright=(230, 231), square=(size // 4, size // 2))


def write_test_set(root: Path, name: str, labels: list[int], seed: int = 0, extra_rows: list[dict] | None = None) -> Path:
    """root/faces/<id>.npy and root/<name>.csv with manifest columns; returns the CSV path."""
    faces = root / "faces"
    faces.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, label in enumerate(labels):
        vid = f"{'fake' if label else 'real'}_{seed}_{i:03d}"
        np.save(faces / f"{vid}.npy", make_stack(bool(label), seed * 1000 + i))
        rows.append(manifest_row(vid, label, method="square" if label else "real", dataset="tiny",
                                 frames=STACK_FRAMES))
    rows += extra_rows or []
    csv = root / f"{name}.csv"
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(csv, index=False)
    return csv


def save_tiny_checkpoint(path: Path, name: str = "dual", frames: int = 4, img_size: int = 32, seed: int = 0) -> Path:
    from dfdetect.checkpoint import save_checkpoint

    model, options = tiny_model(name, frames, img_size, seed)
    cfg = dict(model.input_cfg)
    config = {"model": name, "model_options": options, "img_size": img_size, "frames": frames,
              "mean": list(cfg["mean"]), "std": list(cfg["std"]), "pretrained": False, "loss": "bce"}
    save_checkpoint(path, model, config)
    return path
