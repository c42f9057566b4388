"""What `dfdetect extract` was asked for: paths, CSV lists and dataset layouts, as one list of inputs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from dfdetect.errors import DfdetectError, UsageError
from dfdetect.extraction.datasets import DATASETS, dataset_inputs
from dfdetect.extraction.inputs import VideoInput, drop_duplicates, inputs_from_csv, inputs_from_paths, uniquify
from dfdetect.video_io import VIDEO_EXTENSIONS


def gather_inputs(
    paths: Iterable[str | os.PathLike[str]] = (),
    *,
    csvs: Iterable[str | os.PathLike[str]] = (),
    dataset: str | None = None,
    compression: str = "c23",
    label: str | None = None,
) -> list[VideoInput]:
    """Everything `dfdetect extract` was asked for, with unique ids across the sources."""
    paths = list(paths)
    csvs = list(csvs)
    if dataset is None:
        # A CSV named as an input is a video list (`dfdetect extract videos.csv`), never a video.
        csvs += [p for p in paths if str(p).lower().endswith(".csv")]
        paths = [p for p in paths if not str(p).lower().endswith(".csv")]
    items: list[VideoInput] = []
    if dataset is not None:
        if dataset not in DATASETS:
            raise UsageError(f"unknown --dataset '{dataset}' (choose from {', '.join(DATASETS)})")
        if not paths:
            raise UsageError(f"--dataset {dataset} needs the dataset's root folder as INPUT")
        if label is not None:
            raise UsageError("--label does not apply to --dataset (labels come from the layout)")
        for root in paths:
            items += dataset_inputs(dataset, Path(root), compression=compression)
    else:
        items += inputs_from_paths(paths, label)
    for csv_path in csvs:
        items += inputs_from_csv(csv_path, label)
    if not items:
        asked = ", ".join(str(x) for x in [*paths, *csvs][:3]) or "the inputs"
        raise DfdetectError(f"no videos found in {asked}; pass video files ({', '.join(sorted(VIDEO_EXTENSIONS))}), "
                            "folders that hold them, or a CSV list with rows")
    return uniquify(drop_duplicates(items))
