"""`dfdetect robustness`: perturb every test video, extract and score it again, one row per condition.

Extraction uses the checkpoint's recorded settings (`dfdetect.checkpoint.extraction_defaults`, as
`predict` does), scoring the one inference path (`dfdetect.scoring`, calibration included where
the checkpoint has one). Both phases show a progress bar; the extraction phase is cached
(dfdetect.robustness.cache) and can use several worker processes.

The verdict threshold (for balanced accuracy, tpr and fpr) is `--threshold` when given, else the
checkpoint's calibrated one (`config["calibration"]["threshold"]`), else 0.5; the result says which.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dfdetect import console
from dfdetect.errors import DfdetectError, UsageError
from dfdetect.robustness.jobs import CLEAN, Job, JobResult, run_jobs
from dfdetect.robustness.registry import Perturbation

if TYPE_CHECKING:
    import pandas as pd

    from dfdetect.extraction import ExtractOptions

REQUIRED_COLUMNS = ["video_id", "path", "label"]


@dataclass
class RobustnessOptions:
    """Options of `dfdetect robustness` (the CLI groups its flags into this)."""

    perturbations: str = "all"
    workers: int = 1
    seed: int = 0
    device: str = "auto"
    cache: Path | None = None
    threshold: float | None = None
    batch_size: int = 8
    aggregate: str = "mean"
    frames: int | None = None  # frames sampled per video; None: the checkpoint's extraction setting


@dataclass
class TestVideo:
    video_id: str
    path: Path
    label: int
    sha256: str = ""


@dataclass
class RobustnessResult:
    """Per condition (clean first), the scored videos; `rows()` turns them into robustness.csv."""

    conditions: list[tuple[str, int, Any]]  # (perturbation, level, parameter); ("clean", 0, "") first
    labels: dict[tuple[str, int], np.ndarray]
    scores: dict[tuple[str, int], np.ndarray]
    failures: dict[tuple[str, int], dict[str, int]]  # status -> count (no_face, error, missing)
    errors: dict[tuple[str, int], list[str]]
    threshold: float
    threshold_source: str
    checkpoint: str
    config: dict[str, Any] = field(default_factory=dict)
    n_videos: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    cache_hits: int = 0
    cache_misses: int = 0
    scores_cached: int = 0  # stacks whose probability this checkpoint had already given
    video_ids: dict[tuple[str, int], list[str]] = field(default_factory=dict)  # aligned with labels/scores

    def video_scores(self) -> "pd.DataFrame":
        """One row per scored (condition, video): perturbation, level, video_id, label, fake_prob,
        verdict at the threshold; `robustness_scores.csv`, for pooling folds or paired tests."""
        import pandas as pd

        rows = [
            {"perturbation": name, "level": level, "video_id": vid, "label": int(y), "fake_prob": float(p),
             "verdict": "fake" if p >= self.threshold else "real"}
            for (name, level), ids in self.video_ids.items()
            for vid, y, p in zip(ids, self.labels[(name, level)], self.scores[(name, level)])
        ]
        return pd.DataFrame(rows, columns=["perturbation", "level", "video_id", "label", "fake_prob", "verdict"])

    def frame(self) -> "pd.DataFrame":
        from dfdetect.robustness.results import condition_rows

        return condition_rows(self)


def resolve_threshold(config: dict[str, Any], override: float | None) -> tuple[float, str]:
    if override is not None:
        if not 0.0 <= override <= 1.0:
            raise UsageError(f"--threshold {override} is outside [0, 1]")
        return float(override), "--threshold"
    calibration = config.get("calibration") or {}
    if isinstance(calibration, dict) and calibration.get("threshold") is not None:
        return float(calibration["threshold"]), "the checkpoint's calibrated threshold"
    return 0.5, "default: the checkpoint has no calibrated threshold"


def read_test_videos(csv_path: str | Path) -> list[TestVideo]:
    """Labelled rows of a test CSV, their `path` resolved (absolute as is; relative against the
    CSV's folder, then the working directory). Unlabelled rows are left out."""
    from dfdetect.manifest import parse_label, read_manifest

    csv_path = Path(csv_path)
    df = read_manifest(csv_path, required=REQUIRED_COLUMNS)
    videos = []
    for rec in df.itertuples(index=False):
        label = parse_label(rec.label)
        raw = str(rec.path or "").strip()
        if label is None or not raw:
            continue
        p = Path(raw)
        if not p.is_absolute():
            p = csv_path.parent / p if (csv_path.parent / p).exists() else p
        videos.append(TestVideo(str(rec.video_id), p, label))
    if not videos:
        raise DfdetectError(f"{csv_path}: no labelled video with a path; robustness re-extracts from the videos, "
                            "so the CSV needs path and label columns (a manifest or split CSV has them)")
    return videos


def extraction_settings(options: "ExtractOptions") -> dict[str, Any]:
    """What changes a face stack: part of every cache key."""
    return {"detector": options.detector, "detector_model": options.detector_model, "frames": options.frames,
            "scale": options.scale, "size": options.size, "detect_size": options.detect_size,
            "max_upscale": options.max_upscale}


def plan_jobs(videos: list[TestVideo], conditions: list[tuple[Perturbation, int]], settings: dict[str, Any],
              cache: Path, seed: int) -> dict[tuple[str, int], list[Job | None]]:
    """Per condition, one job per video (None for a video that is missing)."""
    from dfdetect.robustness.cache import entry_path
    from dfdetect.robustness.perturb import operation_key, seed_words

    plan: dict[tuple[str, int], list[Job | None]] = {}
    frozen = tuple(sorted(settings.items()))
    for pert, level in [(None, 0), *conditions]:
        op = CLEAN if pert is None else operation_key(pert, level)
        key_settings = {**settings, "operation": op, **({"seed": seed} if pert is not None and pert.random else {})}
        jobs: list[Job | None] = []
        for v in videos:
            if not v.sha256:
                jobs.append(None)
                continue
            jobs.append(Job(v.path, entry_path(cache, op, v.sha256, key_settings), pert, level,
                            tuple(seed_words(seed, v.sha256, op)), frozen))
        plan[(CLEAN if pert is None else pert.name, level)] = jobs
    return plan


def run_robustness(run: str | Path, test_csv: str | Path, options: RobustnessOptions | None = None) -> RobustnessResult:
    """The library half of `dfdetect robustness` (writes only cache entries)."""
    from dfdetect.checkpoint import load_model
    from dfdetect.prediction.predictor import build_extract_options
    from dfdetect.robustness.cache import default_cache_dir, file_sha256
    from dfdetect.robustness.spec import parse_spec

    options = options or RobustnessOptions()
    conditions = parse_spec(options.perturbations)
    if any(p.kind == "video" for p, _ in conditions):
        from dfdetect.robustness.ffmpeg import require_libx264

        require_libx264()
    videos = read_test_videos(test_csv)
    started = time.perf_counter()
    model, config = load_model(run, device="cpu")
    threshold, source = resolve_threshold(config, options.threshold)
    extract_options = build_extract_options(config, device=options.device, frames=options.frames).validate()
    settings = extraction_settings(extract_options)
    missing = 0
    for v in videos:
        try:
            v.sha256 = file_sha256(v.path)
        except OSError:
            missing += 1
    if missing == len(videos):
        raise DfdetectError(f"{test_csv}: none of its {len(videos)} videos can be read (first: {videos[0].path}); "
                            "the path column must point at the video files")
    if missing:
        console.warn(f"{missing} of {len(videos)} videos cannot be read (missing or unreadable); counted as failed")
    cache = Path(options.cache) if options.cache else default_cache_dir()
    plan = plan_jobs(videos, conditions, settings, cache, options.seed)
    results: dict[Path, JobResult] = {}
    unique = list({j.cache_path: j for jobs in plan.values() for j in jobs if j is not None}.values())
    with console.progress_task("extracting perturbed videos", len(unique)) as (progress, task):
        for res in run_jobs(unique, extract_options, options.workers):
            results[res.cache_path] = res
            progress.update(task, advance=1, status=f"{sum(r.cached for r in results.values())} cached")
    extracted = time.perf_counter()
    ok_paths = [p for p, r in results.items() if r.status == "ok"]
    scores, scores_cached = _score(model, config, str(run), ok_paths, options, cache)
    result = RobustnessResult(
        [(CLEAN, 0, "")] + [(p.name, lv, p.param(lv)) for p, lv in conditions], {}, {}, {}, {},
        threshold, source, str(run), config, len(videos),
        cache_hits=sum(r.cached for r in results.values()), cache_misses=sum(not r.cached for r in results.values()),
        scores_cached=scores_cached)
    for key, jobs in plan.items():
        labels, probs, failed, errors, ids = [], [], {}, [], []
        for v, job in zip(videos, jobs):
            res = results.get(job.cache_path) if job is not None else None
            status = "missing" if res is None else res.status
            if status == "ok" and np.isfinite(scores.get(job.cache_path, np.nan)):
                ids.append(v.video_id)
                labels.append(v.label)
                probs.append(scores[job.cache_path])
                continue
            failed[status] = failed.get(status, 0) + 1
            if res is not None and res.error:
                errors.append(f"{v.video_id}: {res.error}")
        result.labels[key], result.scores[key] = np.array(labels, dtype=np.int64), np.array(probs, dtype=np.float64)
        result.failures[key], result.errors[key], result.video_ids[key] = failed, errors, ids
    result.seconds = {"extract": extracted - started, "score": time.perf_counter() - extracted}
    return result


def _score(model: Any, config: dict[str, Any], name: str, paths: list[Path], options: RobustnessOptions,
           cache: Path) -> tuple[dict[Path, float], int]:
    """Video probability per cached stack, through the one inference path (each stack once).

    Probabilities are kept per checkpoint (its bytes' hash) next to the stacks, so re-running the
    same model (another --threshold, one more perturbation, a report) scores only what is new."""
    from dfdetect.checkpoint import resolve_checkpoint
    from dfdetect.device import select_device
    from dfdetect.robustness.cache import load_entry, load_scores, scores_path, store_scores
    from dfdetect.scoring.ensemble import build_scorer
    from dfdetect.scoring.inference import check_finite

    store = scores_path(cache, resolve_checkpoint(name), options.aggregate)
    known = load_scores(store)
    names = {p: p.relative_to(cache).as_posix() for p in paths}
    out: dict[Path, float] = {p: known[names[p]] for p in paths if names[p] in known}
    todo, n_cached = [p for p in paths if p not in out], len(out)
    if not todo:
        return out, n_cached
    device = select_device(options.device)
    scorer = build_scorer([(model, config)], [name], device, options.aggregate, options.batch_size)

    def stacks():
        for p in todo:
            entry = load_entry(p)
            yield p, entry.faces if entry is not None else np.zeros((0, 1, 1, 3), np.uint8)

    with console.progress_task("scoring", len(todo)) as (progress, task):
        for key, prob, frame_probs in scorer.score_many(stacks()):
            if len(frame_probs) or np.isfinite(prob):
                check_finite(str(key), prob, frame_probs, name)
            out[key] = prob
            progress.update(task, advance=1)
    store_scores(store, {**known, **{names[p]: float(v) for p, v in out.items() if np.isfinite(v)}})
    return out, n_cached
