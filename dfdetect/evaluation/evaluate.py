"""`dfdetect eval`: score test CSVs with a checkpoint and compute video- and frame-level metrics.

Every test CSV follows the manifest contract (docs/formats.md). Videos shared by several test sets
(test_1to10 and test_1to100 reuse the same real videos) are scored once. Rows that cannot be scored
are skipped and counted by reason (`SKIP_REASONS`: no face found or empty stack, no label,
extraction error) in the table's notes and in results.csv. A score that is not finite (a NaN from
an fp16 overflow, say) is no reason to skip: it stops eval with an error naming the video and the
checkpoint, since dropping it would quietly change the AUC.
Repeats written by `split --repeats` (test_1to100_r0.csv, _r1, ...) are summarised as mean ± std
per ratio; results.csv keeps every set plus those summaries.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from dfdetect import console
from dfdetect.errors import DfdetectError
from dfdetect.scoring.inference import ScoringOptions, check_finite, resolve_threshold
from dfdetect.manifest import STATUS_OK, parse_label, read_manifest, resolve_faces_path
from dfdetect.evaluation.metrics import (
    ALL_METRICS,
    CI_COLUMNS,
    aggregate_repeats,
    compute_metrics,
    format_ratio,
    frame_video_index,
    frames_with_video_labels,
    ratio_from_name,
    split_repeat,
)

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

EVAL_COLUMNS = ["video_id", "label", "faces_file", "status"]
SKIP_REASONS = ("no_face", "no_label", "error")


@dataclass
class EvalOptions(ScoringOptions):
    """Options of `dfdetect eval`."""

    prior: float = 1 / 101  # fake fraction where the detector is deployed, for precision_at_prior (--prior 1:100)


@dataclass
class SetResult:
    """One test CSV: its scored videos and metrics."""

    name: str
    path: Path
    video_ids: list[str]
    labels: np.ndarray
    video_scores: np.ndarray
    frame_scores: list[np.ndarray]
    n_skipped: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count (SKIP_REASONS)

    @property
    def group(self) -> str:
        return split_repeat(self.name)[0]

    @property
    def repeat(self) -> int | None:
        return split_repeat(self.name)[1]

    @property
    def ratio(self) -> tuple[int, int] | None:
        return ratio_from_name(self.name)

    def real_per_fake(self) -> float | None:
        """x position on the AUC-vs-ratio plot: K of 1:K (named ratio, else the counts')."""
        if self.ratio is not None:
            return self.ratio[1] / self.ratio[0]
        n_real, n_fake = self.metrics.get("n_real", 0), self.metrics.get("n_fake", 0)
        return n_real / n_fake if n_real and n_fake else None

    def row(self) -> dict[str, Any]:
        m = self.metrics
        return {"kind": "set", "set": self.name, "group": self.group, "repeat": self.repeat,
                "ratio": format_ratio(self.ratio, m["n_real"], m["n_fake"]), "n_real": m["n_real"],
                "n_fake": m["n_fake"], "n_skipped": self.n_skipped, **_skip_columns(self.skipped), "repeats": 1,
                **{k: m.get(k) for k in ALL_METRICS}, **{k: m.get(k) for k in CI_COLUMNS},
                "note": m.get("note", ""), "csv": str(self.path)}


@dataclass
class EvalReport:
    sets: list[SetResult]
    config: dict[str, Any] = field(default_factory=dict)
    checkpoint: str = ""
    threshold: float = 0.5  # the one used: --threshold, else the checkpoint's calibrated one, else 0.5

    def set_rows(self) -> list[dict[str, Any]]:
        return [s.row() for s in self.sets]

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per group in input order: a plain set as is, repeats as mean ± std."""
        groups: dict[str, list[SetResult]] = {}
        for s in self.sets:
            groups.setdefault(s.group, []).append(s)
        rows = []
        for group, members in groups.items():
            if len(members) == 1 and members[0].repeat is None:
                rows.append(members[0].row())
                continue
            agg = aggregate_repeats([m.metrics for m in members])
            first = members[0]
            rows.append({"kind": "repeats", "set": group, "group": group, "repeat": None,
                         "ratio": format_ratio(first.ratio, agg["n_real"], agg["n_fake"]),
                         "n_skipped": sum(m.n_skipped for m in members),
                         **_skip_columns(_sum_skips(m.skipped for m in members)), **agg, "csv": str(first.path.parent)})
        from dfdetect.evaluation.metrics import ratio_sort_key

        return sorted(rows, key=ratio_sort_key)  # stable: input order within equal ratios

    def results_frame(self) -> "pd.DataFrame":
        """results.csv: every set, then the repeat summaries (metric and metric_std columns)."""
        import pandas as pd

        rows = self.set_rows() + [r for r in self.summary_rows() if r["kind"] == "repeats"]
        cols = ["kind", "set", "group", "repeat", "ratio", "n_real", "n_fake", "n_skipped",
                *(f"skipped_{r}" for r in SKIP_REASONS), "repeats"]
        cols += [c for m in ALL_METRICS for c in (m, f"{m}_std")] + CI_COLUMNS + ["note", "csv"]
        from dfdetect.scoring.ensemble import describe_model

        members = self.config.get("ensemble") or []
        # an ensemble says so, and which checkpoints it averaged, not just its first member's model
        model = describe_model(self.config) if len(members) > 1 else self.config.get("model", "")
        df = pd.DataFrame(rows).reindex(columns=cols)
        df.insert(0, "model", model)
        if len(members) > 1:
            df.insert(1, "members", " + ".join(map(str, members)))
        df.insert(1, "threshold", self.threshold)
        return df

    def scores_frame(self) -> "pd.DataFrame":
        """scores.csv: one row per video (level=video) and per frame (level=frame)."""
        import pandas as pd

        parts = []
        for s in self.sets:
            n = len(s.video_ids)
            parts.append(pd.DataFrame({"set": s.name, "video_id": s.video_ids, "label": s.labels,
                                       "level": "video", "frame": pd.array([None] * n, dtype="Int64"),
                                       "prob": s.video_scores}))
            for vid, lab, fr in zip(s.video_ids, s.labels, s.frame_scores):
                if len(fr):
                    parts.append(pd.DataFrame({"set": s.name, "video_id": vid, "label": int(lab), "level": "frame",
                                               "frame": pd.array(np.arange(len(fr)), dtype="Int64"), "prob": fr}))
        if not parts:
            return pd.DataFrame(columns=["set", "video_id", "label", "level", "frame", "prob"])
        return pd.concat(parts, ignore_index=True)


def _set_names(paths: Sequence[Path]) -> list[str]:
    """CSV stems, prefixed with their folder where two stems collide."""
    stems = [p.stem for p in paths]
    return [f"{p.parent.name}/{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]


def _skip_columns(skipped: dict[str, int]) -> dict[str, int]:
    return {f"skipped_{r}": int(skipped.get(r, 0)) for r in SKIP_REASONS}


def _sum_skips(parts: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for reason, n in part.items():
            total[reason] = total.get(reason, 0) + n
    return total


def skip_note(skipped: dict[str, int]) -> str:
    """'3 skipped: 2 no face, 1 no label' (empty when nothing was skipped)."""
    n = sum(skipped.values())
    if not n:
        return ""
    parts = [f"{skipped[r]} {r.replace('_', ' ')}" for r in SKIP_REASONS if skipped.get(r)]
    return f"{n} skipped: " + ", ".join(parts)


def _read_test_set(path: Path) -> tuple[list[tuple[str, int, Path]], dict[str, int]]:
    """Scorable rows (video_id, label, faces path) and the skipped ones counted by reason."""
    df = read_manifest(path, required=EVAL_COLUMNS)
    rows: list[tuple[str, int, Path]] = []
    skipped: dict[str, int] = {}
    for rec in df.itertuples(index=False):
        label = parse_label(rec.label)
        status = str(rec.status).strip().lower()
        if status != STATUS_OK:
            reason = "no_face" if status == "no_face" else "error"
        elif not rec.faces_file:
            reason = "no_face"
        elif label is None:
            reason = "no_label"
        else:
            rows.append((rec.video_id, label, resolve_faces_path(path, rec.faces_file)))
            continue
        skipped[reason] = skipped.get(reason, 0) + 1
    return rows, skipped


def evaluate_model(
    model: "nn.Module",
    config: dict[str, Any],
    test_csvs: Sequence[str | Path],
    options: EvalOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    checkpoint: str = "",
) -> EvalReport:
    """Score every test CSV with an already loaded model; the library half of `dfdetect eval`.

    `checkpoint` names the model in the error raised for a non-finite score."""
    return evaluate_models([(model, config)], test_csvs, options, on_progress, [checkpoint])


def evaluate_models(
    members: Sequence[tuple["nn.Module", dict[str, Any]]],
    test_csvs: Sequence[str | Path],
    options: EvalOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    checkpoints: Sequence[str] = (),
) -> EvalReport:
    """Like evaluate_model, for one model or an ensemble (the members' probabilities averaged)."""
    from dfdetect.device import select_device
    from dfdetect.scoring.ensemble import build_scorer, ensemble_config
    from dfdetect.scoring.inference import check_aggregate

    options = options or EvalOptions()
    check_aggregate(options.aggregate)
    names = [c or cfg.get("checkpoint", "") for c, (_, cfg) in itertools.zip_longest(checkpoints, members, fillvalue="")]
    config = ensemble_config(names, [cfg for _, cfg in members])
    checkpoint = " + ".join(n for n in names if n)
    paths = [Path(p) for p in test_csvs]
    if not paths:
        raise DfdetectError("no test CSV given; pass e.g. SPLITS/test.csv SPLITS/test_1to10.csv")
    tables = [_read_test_set(p) for p in paths]
    unique: dict[Path, str] = {}  # faces path -> the video_id that names it in errors
    for rows, _ in tables:
        for vid, _, faces in rows:
            unique.setdefault(faces, vid)
    device = select_device(options.device)
    scorer = build_scorer(members, names, device, options.aggregate, options.batch_size)
    threshold = resolve_threshold(options.threshold, scorer)  # the calibrated one unless --threshold

    def stacks():
        for faces in unique:
            try:
                yield faces, np.load(faces, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise DfdetectError(f"{faces}: cannot read the face stack ({exc}); re-run `dfdetect extract`") from None

    scores: dict[Path, tuple[float, np.ndarray]] = {}
    empty: set[Path] = set()
    total = len(unique)
    for done, (faces, video_prob, frame_probs) in enumerate(scorer.score_many(stacks()), start=1):
        scores[faces] = (video_prob, frame_probs)
        if not np.isfinite(video_prob) and len(frame_probs) == 0 and _stack_is_empty(faces):
            empty.add(faces)  # an empty stack: no face, not a model failure
        else:
            check_finite(f"{unique[faces]} ({faces})", video_prob, frame_probs, checkpoint)
        if on_progress:
            on_progress(done, total)

    results = []
    for name, path, (rows, skipped) in zip(_set_names(paths), paths, tables):
        kept = [(vid, lab, faces) for vid, lab, faces in rows if faces not in empty]
        if len(kept) < len(rows):
            skipped = _sum_skips([skipped, {"no_face": len(rows) - len(kept)}])
        labels = np.array([lab for _, lab, _ in kept], dtype=np.int64)
        video_scores = np.array([scores[f][0] for _, _, f in kept], dtype=np.float64)
        frame_scores = [scores[f][1] for _, _, f in kept]
        flab, fscore = frames_with_video_labels(labels, frame_scores)
        metrics = compute_metrics(labels, video_scores, flab, fscore, threshold=threshold, prior=options.prior,
                                  frame_videos=frame_video_index(frame_scores))
        if skipped:
            metrics["note"] = "; ".join(x for x in (metrics["note"], skip_note(skipped)) if x)
        results.append(SetResult(name, path, [v for v, _, _ in kept], labels, video_scores, frame_scores,
                                 sum(skipped.values()), metrics, skipped))
    return EvalReport(results, config, threshold=threshold)


def evaluate(
    run: str | Path, test_csvs: Sequence[str | Path], options: EvalOptions | None = None,
    reference_positive: str | None = None, ensemble: Sequence[str | Path] = (),
) -> EvalReport:
    """Load RUN (a run folder or a checkpoint file) and evaluate it on the test CSVs.

    `ensemble` adds checkpoints whose probabilities are averaged with RUN's (dfdetect.scoring.ensemble).
    `reference_positive` (real|fake) is only for reference-code checkpoints without a label_map."""
    from dfdetect.scoring.ensemble import load_members

    options = options or EvalOptions()
    runs = [str(run), *map(str, ensemble)]
    members = load_members(runs, device="cpu", reference_positive=reference_positive)
    check_test_crops(members[0][1], test_csvs)
    with console.progress_task("scoring videos", None) as (progress, task):
        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = evaluate_models(members, test_csvs, options, on_progress=tick, checkpoints=runs)
    report.checkpoint = " + ".join(runs)
    return report


def check_test_crops(config: dict[str, Any], test_csvs: Sequence[str | Path]) -> None:
    """Warn when a test set's crops differ from the checkpoint's training crops; refuse a large
    gap before anything is scored (dfdetect.scoring.crops says where the line is)."""
    from dfdetect.scoring.crops import check_crops, csv_crops, trained_crops

    trained = trained_crops(config)
    if not trained:
        return  # e.g. a reference-code checkpoint: nothing recorded to compare with
    fix = "re-extract the test videos with " + " ".join(f"--{k} {v:g}" for k, v in trained.items())
    for path in test_csvs:
        for message in check_crops(config, csv_crops(path), str(path), fix):
            console.warn(message)


def _stack_is_empty(faces: Path) -> bool:
    return int(np.load(faces, mmap_mode="r").shape[0]) == 0
