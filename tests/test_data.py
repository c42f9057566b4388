"""FaceStackDataset, frame sampling/padding, samplers, augmentation and preprocess_batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from _traindata import write_split
from dfdetect.training.augment import augment_clip, color_jitter, parse_augment
from dfdetect.training.data import (
    EpochSampler,
    FaceStackDataset,
    balanced_weights,
    load_split,
    preprocess_batch,
    sample_indices,
)
from dfdetect.errors import DfdetectError, UsageError


def test_eval_sampling_is_deterministic_and_spread() -> None:
    idx, mask = sample_indices(100, 4, None)
    assert idx.tolist() == [12, 37, 62, 87]  # segment centres
    assert mask.all()
    assert sample_indices(100, 4, None)[0].tolist() == idx.tolist()


def test_train_sampling_jitters_inside_segments() -> None:
    draws = {tuple(sample_indices(100, 4, np.random.default_rng(s))[0]) for s in range(20)}
    assert len(draws) > 1
    for d in draws:
        assert all(25 * k <= v < 25 * (k + 1) for k, v in enumerate(d))


def test_short_stack_pads_with_last_frame_and_masks_it() -> None:
    idx, mask = sample_indices(3, 6, np.random.default_rng(0))
    assert idx.tolist() == [0, 1, 2, 2, 2, 2]
    assert mask.tolist() == [True, True, True, False, False, False]


def test_dataset_items(tmp_path: Path) -> None:
    csv = write_split(tmp_path, "train", 2, 2, frames=(3, 3), size=40)
    ds = FaceStackDataset(csv, frames=5, img_size=32, train=False)
    assert len(ds) == 4
    item = ds[2]
    assert item["frames"].dtype == torch.uint8 and item["frames"].shape == (5, 32, 32, 3)
    assert item["mask"].tolist() == [True, True, True, False, False]
    assert float(item["label"]) == 1.0 and item["video_id"] == "train_fake_002"
    assert torch.equal(item["frames"][3], item["frames"][2])  # padding repeats the last frame
    # eval items are deterministic; train items depend on (seed, epoch, index) only
    assert torch.equal(ds[2]["frames"], ds[(2, 7)]["frames"])
    tr = FaceStackDataset(csv, frames=2, img_size=32, train=True, augment=("flip", "color"), seed=3)
    assert torch.equal(tr[(1, 4)]["frames"], tr[(1, 4)]["frames"])
    assert any(not torch.equal(tr[(1, 4)]["frames"], tr[(1, e)]["frames"]) for e in range(5, 10))


def test_xray_adds_blended_fakes_from_real_clips(tmp_path: Path) -> None:
    csv = write_split(tmp_path, "train", 3, 1, frames=(4, 4), size=48)
    ds = FaceStackDataset(csv, frames=4, img_size=48, train=True, augment=("xray",), seed=0)
    assert len(ds) == 4 + 3
    assert ds.labels().tolist() == [0, 0, 0, 1, 1, 1, 1]
    extra = ds[(4, 0)]
    source = np.load(ds.records[0].faces_path)
    assert float(extra["label"]) == 1.0 and extra["video_id"].endswith("#xray")
    assert not np.array_equal(extra["frames"].numpy(), source)


def test_load_split_errors(tmp_path: Path) -> None:
    csv = write_split(tmp_path, "train", 2, 2)
    df = pd.read_csv(csv)
    first = tmp_path / df.loc[1, "faces_file"]
    first.unlink()
    (tmp_path / df.loc[3, "faces_file"]).unlink()
    with pytest.raises(DfdetectError, match=rf"2 of 4 face stacks missing, first {first}.*re-run `dfdetect extract`"):
        load_split(csv)
    df["status"] = "no_face"
    df.to_csv(csv, index=False)
    with pytest.raises(DfdetectError, match="no row with status 'ok'"):
        load_split(csv)
    df["status"] = "ok"
    df["label"] = ""
    df.to_csv(csv, index=False)
    with pytest.raises(DfdetectError, match="has no label"):
        load_split(csv)


def test_faces_file_resolves_against_csv_folder(tmp_path: Path) -> None:
    csv = write_split(tmp_path / "data", "train", 1, 1, faces_dir="faces")
    df = pd.read_csv(csv)
    df["faces_file"] = "../data/" + df["faces_file"]
    (tmp_path / "splits").mkdir()
    df.to_csv(tmp_path / "splits" / "train.csv", index=False)
    records, _ = load_split(tmp_path / "splits" / "train.csv")
    assert all(r.faces_path.is_file() for r in records)


def test_epoch_sampler_shards_cover_everything_once_plus_padding() -> None:
    seen = []
    for rank in range(3):
        s = EpochSampler(10, shuffle=True, seed=1, num_replicas=3, rank=rank)
        s.set_epoch(2)
        keys = list(s)
        assert len(keys) == len(s) == 4 and all(e == 2 for _, e in keys)
        seen += [i for i, _ in keys]
    assert set(seen) == set(range(10)) and len(seen) == 12
    a, b = EpochSampler(10, shuffle=True, seed=1), EpochSampler(10, shuffle=True, seed=1)
    b.set_epoch(1)
    assert list(a) != list(b)
    assert [i for i, _ in EpochSampler(5, shuffle=False)] == [0, 1, 2, 3, 4]


def test_balanced_sampler_draws_both_classes_evenly() -> None:
    labels = np.array([0] * 90 + [1] * 10)
    s = EpochSampler(100, shuffle=True, seed=0, weights=balanced_weights(labels))
    drawn = [labels[i] for e in range(20) for i, _ in (s.set_epoch(e) or s)]
    assert 0.4 < np.mean(drawn) < 0.6


def test_augmentation_is_consistent_across_frames() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    clip = np.stack([frame] * 4)
    out = color_jitter(clip, np.random.default_rng(1))
    assert not np.array_equal(out[0], frame)
    assert all(np.array_equal(out[0], out[t]) for t in range(4))
    for seed in range(6):
        aug = augment_clip(clip, np.random.default_rng(seed), ("flip", "color"))
        assert all(np.array_equal(aug[0], aug[t]) for t in range(4))
    assert parse_augment("flip,xray") == ("flip", "xray") and parse_augment("none") == ()
    with pytest.raises(UsageError, match="unknown --augment 'sharpen'"):
        parse_augment("flip,sharpen")


def test_preprocess_batch_normalises_and_is_channels_last() -> None:
    frames = torch.full((2, 3, 8, 8, 3), 255, dtype=torch.uint8)
    frames[..., 1] = 0
    x = preprocess_batch(frames, 8, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], "cpu")
    assert x.shape == (2, 3, 3, 8, 8) and x.dtype == torch.float32
    assert torch.allclose(x[:, :, 0], torch.ones(1)) and torch.allclose(x[:, :, 1], -torch.ones(1))
    assert x.flatten(0, 1).is_contiguous(memory_format=torch.channels_last)
    small = preprocess_batch(torch.randint(0, 256, (1, 2, 16, 16, 3), dtype=torch.uint8), 8, [0.0] * 3, [1.0] * 3)
    assert small.shape == (1, 2, 3, 8, 8) and 0.0 <= float(small.min()) and float(small.max()) <= 1.0
