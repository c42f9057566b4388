"""The built-in synthetic benchmark data: generate clips -> extract faces with dlib -> split.

Sizes are chosen for the 5-minute budget of `dfdetect benchmark` on a 2-core CPU. The test set
must hold at least 200 real videos for a 1:200 set with one fake, so most real clips go to test
(the ratio sets reuse the same real test videos, nested); the training set is small and
imbalanced (--train-ratio). Clips are small (128 px, a few frames): dlib finds the synthetic
face at that size and extraction stays cheap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from dfdetect import console
from dfdetect.errors import UsageError


@dataclass
class SyntheticOptions:
    test_ratios: Sequence[str] = ("1:1", "1:10", "1:20", "1:30", "1:100", "1:200")
    train_ratio: str = "1:4"
    n_real: int | None = None  # None: enough for the most imbalanced ratio (see plan_counts)
    n_fake: int | None = None
    frames: int = 8
    clip_size: int = 128
    crop_size: int = 64
    difficulty: float = 0.0
    repeats: int = 3
    workers: int = 2
    seed: int = 0
    timings: dict[str, float] = field(default_factory=dict)


#: Fractions of groups (one group per real clip, its fakes with it) per set.
TEST_SIZE, VAL_SIZE = 0.72, 0.08


def plan_counts(test_ratios: Sequence[str], n_real: int | None, n_fake: int | None) -> tuple[int, int]:
    """Real and fake clip counts: enough real test videos for one fake at the widest ratio."""
    from dfdetect.splitting import parse_ratio

    worst = max(parse_ratio(r)[1] / parse_ratio(r)[0] for r in test_ratios) if test_ratios else 1
    if n_real is None:
        # test gets TEST_SIZE of the groups; leave slack for rounding in the group split
        n_real = max(40, math.ceil((worst + 4) / TEST_SIZE))
    if n_fake is None:
        n_fake = max(12, round(n_real * 0.25))
    return n_real, n_fake


def build_synthetic_splits(out_dir: Path, options: SyntheticOptions) -> Path:
    """Write OUT/videos (mp4), OUT/data (manifest + faces), OUT/splits; return the splits folder."""
    from dfdetect.extraction import ExtractOptions, inputs_from_csv, run_extraction
    from dfdetect.splitting import make_splits
    from dfdetect.synth import make_dataset

    n_real, n_fake = plan_counts(options.test_ratios, options.n_real, options.n_fake)
    if n_real < 3 or n_fake < 3:
        raise UsageError("the synthetic benchmark needs at least 3 real and 3 fake clips")
    videos, data, splits = out_dir / "videos", out_dir / "data", out_dir / "splits"

    start = time.perf_counter()
    with console.progress_task(f"generating {n_real} real + {n_fake} fake clips", n_real + n_fake) as (progress, task):
        csv_path = make_dataset(
            videos, n_real=n_real, n_fake=n_fake, seed=options.seed, width=options.clip_size,
            height=options.clip_size, n_frames=options.frames, difficulty=options.difficulty, groups=True,
            progress=lambda done, total: progress.update(task, completed=done),
        )
    options.timings["generate"] = time.perf_counter() - start
    console.info(f"generated {n_real + n_fake} clips in {options.timings['generate']:.1f}s")

    start = time.perf_counter()
    extract_opts = ExtractOptions(detector="dlib", frames=options.frames, size=options.crop_size)
    run_extraction(inputs_from_csv(csv_path), data, extract_opts, workers=options.workers)
    options.timings["extract"] = time.perf_counter() - start
    _sort_manifest(data / "manifest.csv")
    console.info(f"extracted faces in {options.timings['extract']:.1f}s")

    start = time.perf_counter()
    summary = make_splits(
        [data / "manifest.csv"], splits, test_size=TEST_SIZE, val_size=VAL_SIZE,
        test_ratios=list(options.test_ratios), repeats=options.repeats, train_ratio=options.train_ratio,
        seed=options.seed,
    )
    options.timings["split"] = time.perf_counter() - start
    for warning in getattr(summary, "warnings", []) or []:
        console.info(f"split: {warning}")
    return splits


def _sort_manifest(path: Path) -> None:
    """Rows in video_id order: parallel extraction writes them in completion order, and the
    ratio test sets drawn by `split` depend on the row order, so the same --seed must see the
    same order."""
    from dfdetect.manifest import read_manifest, write_csv_atomic

    df = read_manifest(path)
    write_csv_atomic(df.sort_values("video_id", kind="stable").reset_index(drop=True), path)
