"""Checkpoint ensembles: several models score the same face crops and their probabilities are averaged.

A seed ensemble (the same recipe trained with different seeds) is the cheapest way to cut the
run-to-run spread that a small training set gives: on the FaceForensics++ sample four seeds of one
recipe gave pooled out-of-fold AUCs from 0.805 to 0.876, and their ensemble 0.852. `predict -c A -c B` and
`eval A TEST.csv --ensemble B` use it. The members score the same crops, so they must have been
trained on the same extraction (crop size and scale); each keeps its own input size and frames.
Probabilities, not logits, are averaged: the mean of calibrated members stays a probability, and
it is what averaging the members' score files gives.
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any, Hashable, Iterable, Iterator, Sequence

import numpy as np

from dfdetect.errors import DfdetectError, UsageError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from dfdetect.scoring.inference import StackScorer

# extraction settings that decide what the crops look like; members must agree on them
_CROP_KEYS = ("size", "scale")


class EnsembleScorer:
    """Duck-types StackScorer: `score_many` yields (key, mean video prob, mean frame probs)."""

    def __init__(self, scorers: Sequence["StackScorer"], names: Sequence[str] | None = None) -> None:
        if not scorers:
            raise UsageError("an ensemble needs at least one checkpoint")
        self.scorers = list(scorers)
        self.names = list(names) if names else [f"member {i}" for i in range(len(self.scorers))]
        calibrated = [n for n, s in zip(self.names, self.scorers) if getattr(s, "calibration", None) is not None]
        if calibrated and len(calibrated) < len(self.scorers):
            raw = [n for n in self.names if n not in calibrated]
            # a calibrated and a raw probability are on different scales: their mean means nothing
            raise UsageError(f"cannot ensemble calibrated ({', '.join(calibrated)}) and uncalibrated "
                             f"({', '.join(raw)}) checkpoints; retrain the uncalibrated ones with --val, "
                             "or ensemble only one kind")

    @property
    def threshold(self) -> float | None:
        """The mean of the members' calibrated thresholds (each was chosen for its own calibrated
        probabilities, and the ensemble averages those); None for uncalibrated members."""
        stored = [s.threshold for s in self.scorers]
        return None if any(t is None for t in stored) else float(np.mean(stored))

    def raw_threshold(self, threshold: float) -> float:
        """Frames are averaged raw: the mean of the members' raw-scale thresholds."""
        return float(np.mean([s.raw_threshold(threshold) for s in self.scorers]))

    @property
    def frames(self) -> int:
        return max(s.frames for s in self.scorers)

    @property
    def settings(self) -> dict[str, Any]:
        return self.scorers[0].settings

    @property
    def forward_seconds(self) -> float:
        return sum(s.forward_seconds for s in self.scorers)

    def score_many(self, stacks: Iterable[tuple[Hashable, np.ndarray]]) -> Iterator[tuple[Hashable, float, np.ndarray]]:
        # Each member reads its own copy of the stream; the members yield in input order and read
        # at most one batch ahead, so tee buffers a few stacks, not the whole set.
        streams = itertools.tee(stacks, len(self.scorers))
        outputs = [s.score_many(stream) for s, stream in zip(self.scorers, streams)]
        for results in zip(*outputs):
            key = results[0][0]
            video = float(np.mean([r[1] for r in results]))  # NaN (an empty stack) stays NaN
            yield key, video, self._mean_frames(key, [r[2] for r in results])

    def _mean_frames(self, key: Hashable, frame_probs: list[np.ndarray]) -> np.ndarray:
        present = [(n, f) for n, f in zip(self.names, frame_probs) if len(f)]  # video-only members give none
        if not present:
            return np.zeros(0)
        lengths = {len(f) for _, f in present}
        if len(lengths) > 1:
            detail = ", ".join(f"{n}: {len(f)}" for n, f in present)
            raise DfdetectError(f"{key}: the ensemble's members scored different frames ({detail}); "
                                "use members with the same frame sampling")
        return np.mean([f for _, f in present], axis=0)


def build_scorer(members: Sequence[tuple["nn.Module", dict[str, Any]]], names: Sequence[str],
                 device: "str | torch.device", aggregate: str = "mean", batch_size: int = 8):
    """A StackScorer for one member, an EnsembleScorer over several (eval and predict share it)."""
    from dfdetect.scoring.inference import StackScorer

    from dfdetect import console

    scorers = [StackScorer(m.to(device), cfg, device, aggregate, batch_size) for m, cfg in members]
    scorer = scorers[0] if len(scorers) == 1 else EnsembleScorer(scorers, names)  # refuses mixed calibration
    if scorers[0].calibration is None:  # said once per command: eval and predict build one scorer
        console.info(f"note: {' + '.join(n or 'the model' for n in names)}: no calibration (trained before it "
                     "existed, or without --val); fake_prob is the model's raw output, threshold 0.5 unless --threshold")
    return scorer


def load_members(
    checkpoints: Sequence[str | os.PathLike[str]], device: "str | torch.device" = "cpu",
    reference_positive: str | None = None,
) -> list[tuple["nn.Module", dict[str, Any]]]:
    """Load every checkpoint; refuse members trained on differently extracted crops."""
    from dfdetect.checkpoint import load_model

    check_distinct(checkpoints)
    members = [load_model(c, device=device, reference_positive=reference_positive) for c in checkpoints]
    check_same_crops([str(c) for c in checkpoints], [config for _, config in members])
    return members


def check_distinct(checkpoints: Sequence[str | os.PathLike[str]]) -> None:
    """Refuse a member named twice (a RUN and its best.ckpt count as one): a copy would weigh
    that model double and make the ensemble look larger than it is."""
    from dfdetect.checkpoint import resolve_checkpoint

    seen: dict[str, str] = {}
    for name in checkpoints:
        key = os.path.realpath(resolve_checkpoint(name))
        if key in seen:
            raise UsageError(f"{name}: the same checkpoint as {seen[key]} ({key}); an ensemble's members must differ "
                             "(name each RUN once)")
        seen[key] = str(name)


def check_same_crops(names: Sequence[str], configs: Sequence[dict[str, Any]]) -> None:
    """Members score one set of crops: their recorded crop size and scale must match."""
    from dfdetect.checkpoint import extraction_defaults

    first = {k: v for k, v in extraction_defaults(configs[0]).items() if k in _CROP_KEYS}
    for name, config in zip(names[1:], configs[1:]):
        other = {k: v for k, v in extraction_defaults(config).items() if k in _CROP_KEYS}
        for key in _CROP_KEYS:
            if key in first and key in other and float(first[key]) != float(other[key]):
                raise UsageError(
                    f"{name}: trained on crops of {key} {other[key]}, but {names[0]} on {key} {first[key]}; "
                    "an ensemble's checkpoints must share the extraction (train them on the same crops)")


def ensemble_config(names: Sequence[str], configs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The first member's config, naming every member (what reports and results show)."""
    config = dict(configs[0])
    if len(configs) > 1:
        config["ensemble"] = list(names)
        config["ensemble_models"] = [str(c.get("model", "model")) for c in configs]  # members may differ
    return config


def describe_model(config: dict[str, Any]) -> str:
    """'dual'; for an ensemble 'ensemble of 4 × cnn', or 'ensemble of 4: 2 × cnn + 2 × dual' when
    its members differ (table titles, reports and results.csv's model column)."""
    model = str(config.get("model", "model"))
    members = config.get("ensemble") or []
    if len(members) <= 1:
        return model
    kinds = config.get("ensemble_models") or [model] * len(members)
    counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}  # first-seen order
    if len(counts) == 1:
        return f"ensemble of {len(members)} × {kinds[0]}"
    return f"ensemble of {len(members)}: " + " + ".join(f"{n} × {k}" for k, n in counts.items())
