"""Training and evaluation data: split CSVs -> face stacks -> uint8 clips -> model input.

The dataset reads the `.npy` face stacks that `extract` writes with memory mapping and hands out
uint8 clips (T, H, W, 3): uint8 through the DataLoader is 4x less copying than float, and the
one conversion to normalised float happens in `preprocess_batch`, batched on the target device.
Frame choice, padding and resize are `dfdetect.preprocess`, shared with eval and predict.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from dfdetect.training.augment import BLENDS
from dfdetect.errors import DfdetectError
from dfdetect.manifest import STATUS_OK, parse_label, read_manifest, resolve_faces_path
# preprocess_batch, resize_clip and sample_indices are re-exported: they lived here before.
from dfdetect.preprocess import clip_from_stack, preprocess_batch, resize_clip, sample_indices  # noqa: F401

SPLIT_COLUMNS = ("video_id", "label", "faces_file", "status")


@dataclass(frozen=True)
class ClipRecord:
    """One usable row of a split CSV."""

    video_id: str
    faces_path: Path
    label: int
    scale: float | None = None  # the crop scale it was extracted at (manifest `scale`); SBI needs it
    source_id: str = ""  # set on a re-encoded view (`extract --reencode`): the original's video_id


def load_split(csv_path: str | os.PathLike[str], *, role: str = "training") -> tuple[list[ClipRecord], dict[str, Any]]:
    """Read a split CSV (manifest columns): rows with status ok, labels parsed, stacks checked.

    Returns the records and a dict of extraction settings found in the CSV (e.g. scale, size).
    Raises a one-line DfdetectError naming the file and the fix for every problem.
    """
    csv_path = Path(csv_path)
    df = read_manifest(csv_path, required=SPLIT_COLUMNS)
    ok = df[df["status"].str.strip().str.lower() == STATUS_OK]
    if ok.empty:
        raise DfdetectError(
            f"{csv_path}: no row with status 'ok' ({len(df)} rows); run `dfdetect extract` and `dfdetect split` first"
        )
    records: list[ClipRecord] = []
    missing: list[Path] = []
    for row in ok.itertuples(index=False):
        try:
            label = parse_label(row.label)
        except DfdetectError as exc:
            raise DfdetectError(f"{csv_path}: video '{row.video_id}': {exc}") from None
        if label is None:
            raise DfdetectError(f"{csv_path}: video '{row.video_id}' has no label; {role} needs real/fake labels")
        path = resolve_faces_path(csv_path, row.faces_file)
        if not path.is_file():
            missing.append(path)
        source = getattr(row, "source_id", "")
        source = "" if not isinstance(source, str) else source.strip()
        records.append(ClipRecord(str(row.video_id), path, label, _crop_scale(getattr(row, "scale", "")), source))
    if missing:
        raise DfdetectError(
            f"{csv_path}: {len(missing)} of {len(records)} face stacks missing, first {missing[0]}; "
            "re-run `dfdetect extract`, or check that faces_file resolves against the CSV's folder"
        )
    extraction: dict[str, Any] = {}
    for key in ("scale", "size", "detector"):
        if key in df.columns:
            values = sorted({v for v in ok[key] if str(v).strip()})
            if len(values) == 1:
                extraction[key] = _number_or_text(values[0])
    return records, extraction


def _crop_scale(value: str) -> float | None:
    """The manifest's `scale` cell as a number; None when absent or not a scale (>= 1)."""
    try:
        scale = float(value)
    except (TypeError, ValueError):
        return None
    return scale if math.isfinite(scale) and scale >= 1.0 else None


def _number_or_text(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def class_counts(records: Sequence[ClipRecord]) -> tuple[int, int]:
    """(n_real, n_fake)."""
    n_fake = sum(r.label for r in records)
    return len(records) - n_fake, n_fake


def read_stack(path: Path) -> np.ndarray:
    """Memory-map one face stack and check its shape and dtype."""
    try:
        stack = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise DfdetectError(f"{path}: not a readable .npy face stack ({exc}); re-run `dfdetect extract`") from None
    if stack.ndim != 4 or stack.shape[-1] != 3 or stack.dtype != np.uint8 or stack.shape[0] == 0:
        raise DfdetectError(
            f"{path}: expected a uint8 (frames, S, S, 3) face stack, got {stack.dtype} {tuple(stack.shape)}"
        )
    return stack


class FaceStackDataset:
    """A torch-style map dataset over a split CSV.

    Items are dicts: frames uint8 (T, img, img, 3), mask bool (T,), label float32, index, video_id.
    Keys may be an int or an (index, epoch) pair from `EpochSampler`: the random state of an item
    is derived from (seed, epoch, index), so augmentation is the same whatever the worker count
    and an interrupted run resumes exactly.

    With `augment` holding "xray", every real clip also appears once more as a self-blended fake
    (label 1), made on the fly.

    Re-encoded views (rows with a `source_id`): for training, a video and its views are one item,
    and each epoch draws one of them (so an epoch costs what it did without views, and the video
    keeps its weight); for validation every view is an item of its own, so the calibration and
    the threshold are fitted over clean and re-encoded videos alike.
    """

    def __init__(
        self,
        csv_path: str | os.PathLike[str] | None = None,
        *,
        frames: int = 32,
        img_size: int | None = 64,
        train: bool = False,
        augment: Sequence[str] = (),
        seed: int = 0,
        records: Sequence[ClipRecord] | None = None,
        role: str | None = None,
    ) -> None:
        if records is None:
            if csv_path is None:
                raise ValueError("FaceStackDataset needs csv_path or records")
            records, self.extraction = load_split(csv_path, role=role or ("training" if train else "validation"))
        else:
            self.extraction = {}
        self.records = list(records)
        self.views: dict[int, list[ClipRecord]] = {}
        if train:
            self.records, self.views = _fold_views(self.records)
        self.frames = int(frames)
        self.img_size = img_size
        self.train = train
        self.augment = tuple(a for a in augment if a != "none") if train else ()
        self.seed = seed
        # xray: extra items, one per real clip, that become blended fakes
        self.xray_sources = [i for i, r in enumerate(self.records) if r.label == 0] if set(BLENDS) & set(self.augment) else []

    def __len__(self) -> int:
        return len(self.records) + len(self.xray_sources)

    def labels(self) -> np.ndarray:
        """The label of every item (blended extras count as fake)."""
        base = [r.label for r in self.records]
        return np.array(base + [1] * len(self.xray_sources), dtype=np.int64)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        import torch

        index, epoch = (key, 0) if isinstance(key, (int, np.integer)) else key
        index = int(index)
        blended = index >= len(self.records)
        base = self.xray_sources[index - len(self.records)] if blended else index
        record = self.records[base]
        rng = np.random.default_rng([self.seed, epoch, index]) if self.train else None
        views = self.views.get(base)
        if views and rng is not None:
            record = views[int(rng.integers(len(views)))]
        stack = read_stack(record.faces_path)
        idx, mask = sample_indices(stack.shape[0], self.frames, rng)
        clip = clip_from_stack(stack, idx, self.img_size)  # step 1 of the one path (dfdetect.preprocess)
        label = record.label
        if self.augment:
            from dfdetect.training.augment import augment_clip

            clip = augment_clip(clip, rng, self.augment, blend=blended, scale=record.scale)
            label = 1 if blended else label
        return {
            "frames": torch.from_numpy(np.ascontiguousarray(clip)),
            "mask": torch.from_numpy(mask),
            "label": torch.tensor(float(label), dtype=torch.float32),
            "index": index,
            "video_id": record.video_id + ("#xray" if blended else ""),
        }


def _fold_views(records: list[ClipRecord]) -> tuple[list[ClipRecord], dict[int, list[ClipRecord]]]:
    """One record per original video, and for those with views: [original, *views] by position.
    A view whose original is not in the set stands for itself."""
    by_id = {r.video_id: i for i, r in enumerate(records) if not r.source_id}
    originals = [r for r in records if not r.source_id or r.source_id not in by_id]
    position = {id(r): i for i, r in enumerate(originals)}
    views: dict[int, list[ClipRecord]] = {}
    for r in records:
        if r.source_id and r.source_id in by_id:
            i = position[id(records[by_id[r.source_id]])]
            views.setdefault(i, [originals[i]]).append(r)
    return originals, views


class EpochSampler:
    """Yields (index, epoch) keys: shuffled, class-balanced or sequential, and sharded across
    DDP ranks like DistributedSampler (the tail padded by repeating the first indices).

    The order depends only on (seed, epoch), never on a global RNG, which makes resume exact.
    """

    def __init__(
        self,
        n_items: int,
        *,
        shuffle: bool,
        seed: int = 0,
        weights: np.ndarray | None = None,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        self.n_items = n_items
        self.shuffle = shuffle
        self.seed = seed
        self.weights = weights
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.n_items / self.num_replicas)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        import torch

        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + self.epoch)
        if self.weights is not None:
            order = torch.multinomial(torch.as_tensor(self.weights, dtype=torch.float64), self.n_items, True, generator=g)
        elif self.shuffle:
            order = torch.randperm(self.n_items, generator=g)
        else:
            order = torch.arange(self.n_items)
        indices = order.tolist()
        total = len(self) * self.num_replicas
        indices += (indices * math.ceil(total / max(len(indices), 1)))[: total - len(indices)]
        for i in indices[self.rank : total : self.num_replicas]:
            yield (i, self.epoch)


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Per-item weights so that both classes are drawn equally often (--balance)."""
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    return 1.0 / counts[labels]


def make_loader(dataset: FaceStackDataset, sampler: EpochSampler, batch_size: int, workers: int, pin_memory: bool) -> Any:
    """A DataLoader tuned for uint8 clips: persistent workers with prefetch, optional pinning."""
    from torch.utils.data import DataLoader

    kwargs: dict[str, Any] = {}
    if workers > 0:
        kwargs.update(persistent_workers=True, prefetch_factor=4)
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers, pin_memory=pin_memory, **kwargs
    )
