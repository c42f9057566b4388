"""Tiny face-stack datasets for the training tests: a learnable pattern so that AUC means something.

Real clips are dim noise; fake clips carry a bright square in the middle. Stacks have a varying
number of frames (some fewer than the clip length, to exercise padding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import conftest
from conftest import manifest_row
from dfdetect.manifest import MANIFEST_COLUMNS


def make_stack(rng: np.random.Generator, fake: bool, n_frames: int, size: int = 40) -> np.ndarray:
    """Noise in 0..89; a fake's centre half is bright (200..255)."""
    return conftest.make_stack(rng, fake, n_frames, size)


def write_split(
    folder: Path, name: str, n_real: int, n_fake: int, *, seed: int = 0, size: int = 40,
    frames: tuple[int, int] = (3, 8), faces_dir: str = "faces",
) -> Path:
    """Write folder/<faces_dir>/<id>.npy stacks and folder/<name>.csv (relative faces_file)."""
    rng = np.random.default_rng(seed)
    (folder / faces_dir).mkdir(parents=True, exist_ok=True)
    rows = []
    for i, label in enumerate([0] * n_real + [1] * n_fake):
        vid = f"{name}_{'fake' if label else 'real'}_{i:03d}"
        n = int(rng.integers(frames[0], frames[1] + 1))
        np.save(folder / faces_dir / f"{vid}.npy", make_stack(rng, bool(label), n, size))
        rows.append(manifest_row(vid, label, path=f"/videos/{vid}.mp4", method="synthetic" if label else "real",
                                 dataset="tiny", split=name, frames=n, faces_file=f"{faces_dir}/{vid}.npy"))
    csv = folder / f"{name}.csv"
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(csv, index=False)
    return csv


def tiny_splits(folder: Path, n_train: int = 6, n_val: int = 4, seed: int = 0) -> tuple[Path, Path]:
    train = write_split(folder, "train", n_train, n_train, seed=seed)
    val = write_split(folder, "val", n_val, n_val, seed=seed + 1)
    return train, val


# options for a small, quick run of the real `dual` model
TINY_MODEL = dict(model="dual", backbone="test_resnet", hidden=16, layers=1, frames=4, img_size=32, pretrained=False)
