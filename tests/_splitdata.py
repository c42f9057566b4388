"""Builders of small manifests (with real, tiny .npy face stacks) for the `split` tests."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from conftest import manifest_row
from dfdetect.manifest import MANIFEST_COLUMNS

METHODS = ["Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"]


def row(video_id: str, label: int, group: str, *, method: str = "", split: str = "", status: str = "ok",
        dataset: str = "synthetic") -> dict:
    ok = status == "ok"
    return manifest_row(video_id, label, group=group, method=method or ("real" if label == 0 else "fake"),
                        dataset=dataset, split=split, frames=2 if ok else 0, status=status,
                        error="" if ok else "no face found")


def ffpp_rows(n_groups: int, fakes_per_group: int = 4, *, split_of=None) -> list[dict]:
    """FF++-style: real `007` plus fakes `007_008_<method>` that all belong to group `007`."""
    rows = []
    for g in range(n_groups):
        real = f"{g:03d}"
        split = split_of(g) if split_of else ""
        rows.append(row(real, 0, real, split=split))
        for m in METHODS[:fakes_per_group]:
            rows.append(row(f"{real}_{(g + 1) % n_groups:03d}_{m}", 1, real, method=m, split=split))
    return rows


def plain_rows(n_real: int, n_fake: int, *, prefix: str = "", split: str = "", methods: Iterable[str] = ("fake",)) -> list[dict]:
    """Plain folders: every video is its own group."""
    methods = list(methods)
    rows = [row(f"{prefix}real{i:04d}", 0, f"{prefix}real{i:04d}", split=split) for i in range(n_real)]
    rows += [row(f"{prefix}fake{i:04d}", 1, f"{prefix}fake{i:04d}", method=methods[i % len(methods)], split=split)
             for i in range(n_fake)]
    return rows


def write_manifest(data_dir: Path, rows: list[dict], name: str = "manifest.csv", *, stacks: bool = True) -> Path:
    """Write rows as DATA/<name> and a tiny face stack per ok row, as `dfdetect extract` would."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if stacks:
        (data_dir / "faces").mkdir(exist_ok=True)
        for r in rows:
            if r["status"] == "ok" and r["faces_file"]:
                np.save(data_dir / r["faces_file"], np.full((2, 4, 4, 3), len(r["video_id"]), np.uint8))
    path = data_dir / name
    pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(path, index=False)
    return path


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)
