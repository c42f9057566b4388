"""`dfdetect predict VIDEO [VIDEO...] --checkpoint RUN`: a fake probability and verdict per video."""

from __future__ import annotations

import inspect
import os
import sys
import time
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from dfdetect import console
from dfdetect.commands._common import DeviceOption, handle_errors, prefer_passive_openmp
from dfdetect.errors import Interrupted, UsageError

EPILOG = (
    "Exit codes: 0 every video was scored; 1 some input failed (missing, unreadable or no face; "
    "the others are still reported); 2 usage error (bad option, no checkpoint); 3 with --fail-on-fake "
    "when any video is judged fake (3 wins over 1)."
)

# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect predict clip.mp4   # no --checkpoint: the bundled default model gives P(fake) and a verdict",
    "dfdetect predict demo/fake/fake_000.mp4 --checkpoint runs/dual",
    "dfdetect predict videos/ -c runs/seed0 -c runs/seed1 --out results.csv   # an ensemble: mean probability",
]


@handle_errors
def command(
    videos: Annotated[List[str], typer.Argument(
        help="Video files, folders (searched recursively), or '-' to read paths from stdin.", show_default=False)],
    checkpoint: Annotated[Optional[List[str]], typer.Option(
        "--checkpoint", "-c", help="RUN folder or checkpoint file; repeat it for an ensemble (probabilities averaged).",
        show_default="$DFDETECT_CHECKPOINT, else the bundled model")] = None,
    threshold: Annotated[Optional[float], typer.Option(
        "--threshold", help="P(fake) at or above which a video is called fake.",
        show_default="the checkpoint's calibrated threshold, else 0.5")] = None,
    aggregate: Annotated[str, typer.Option(
        "--aggregate", help="Video score of models without a video head: mean, max or median of frame probabilities.")] = "mean",
    fmt: Annotated[Optional[str], typer.Option(
        "--format", "-f", help="table, csv, json or jsonl.", show_default="table on a terminal, csv when piped")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the results to this file (.csv, .json or .jsonl).")] = None,
    frames_out: Annotated[Optional[Path], typer.Option(
        "--frames-out", help="Write a per-frame score timeline (CSV + PNG) per video into this folder.")] = None,
    explain: Annotated[Optional[Path], typer.Option(
        "--explain", help="Write a Grad-CAM heat-map PNG per video (the frames that drive the verdict) into this folder.")] = None,
    explain_frames: Annotated[int, typer.Option("--explain-frames", min=1, help="Frames shown per video with --explain.")] = 6,
    fail_on_fake: Annotated[bool, typer.Option("--fail-on-fake", help="Exit with code 3 when any video is judged fake.")] = False,
    detector: Annotated[Optional[str], typer.Option("--detector", help="Face detector.", show_default="the checkpoint's, else dlib")] = None,
    detector_model: Annotated[Optional[str], typer.Option("--detector-model", help="Weights file for detectors that need one.")] = None,
    frames: Annotated[Optional[int], typer.Option("--frames", min=1, help="Frames sampled evenly per video.",
                                                  show_default="the checkpoint's if it records one (the bundled model does), else 32")] = None,
    scale: Annotated[Optional[float], typer.Option(
        "--scale", min=1.0, help="Crop = face box × scale; another than the checkpoint's warns, over 10 % off is refused.",
        show_default="the checkpoint's")] = None,
    size: Annotated[Optional[int], typer.Option(
        "--size", min=8, help="Face crop side in pixels; another than the checkpoint's warns, under 2/3 of it is refused.",
        show_default="the checkpoint's")] = None,
    reference_positive: Annotated[Optional[str], typer.Option(
        "--reference-positive", help="What a reference-code checkpoint's output means (real or fake) when it has no label_map.",
        show_default=False)] = None,
    device: DeviceOption = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Windows of T frames per forward pass.")] = 8,
    shard: Annotated[Optional[str], typer.Option(
        "--shard", help="Score only share i of n (e.g. 2/8), or 'auto' from the job array's environment; "
                        "--out FILE becomes FILE.part-i-of-n.EXT.")] = None,
) -> None:
    """Score videos: a fake probability and verdict per video, from the bundled default model or your checkpoint.

    With no --checkpoint (and no $DFDETECT_CHECKPOINT) the model that ships with dfdetect is used.
    Face extraction and the model run in one go; the model and detector load once per batch."""
    prefer_passive_openmp()
    from dfdetect.device import validate_device_string
    from dfdetect.scoring.inference import check_aggregate
    from dfdetect.outputs import check_output_dir, check_output_file
    from dfdetect.prediction.predictor import (
        CHECKPOINT_ENV, PredictOptions, PredictSummary, Predictor, expand_inputs, shard_inputs)
    from dfdetect.prediction.writers import ResultWriter, choose_format, write_frame_timeline

    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold {threshold} is outside [0, 1]")
    check_aggregate(aggregate)
    validate_device_string(device)
    stdout_format = choose_format(fmt, sys.stdout.isatty())
    file_format = _out_format(out, fmt, stdout_format) if out else None
    ckpt = [_checkpoint(c) for c in checkpoint] if checkpoint else [_checkpoint(None)]
    from dfdetect.sharding import parse_shard, part_path

    shard_spec = parse_shard(shard)
    paths = shard_inputs(expand_inputs(videos), shard_spec)
    if shard_spec:
        out = Path(part_path(out, shard_spec)) if out else None
        console.info(f"predict: shard {shard_spec[0]}/{shard_spec[1]}: {len(paths)} video(s)")
    if out:
        check_output_file(out, "--out")
    if frames_out:
        check_output_dir(frames_out, "--frames-out")
    if explain:
        check_output_dir(explain, "--explain")  # before any video: a file in the way is a usage error
    if detector is not None:  # a bad --detector is the one line, before the model loads and says anything
        from dfdetect.detectors import DETECTORS, import_backends

        import_backends()
        DETECTORS.entry(detector)
    predictor = Predictor(
        ckpt, PredictOptions(threshold, aggregate, device, batch_size),
        dict(detector=detector, detector_model=detector_model, frames=frames, scale=scale, size=size),
        reference_positive=reference_positive,
    )
    predictor.detector  # noqa: B018 -- a bad --detector is a usage error now, not an error row per video
    if ckpt == ["default"] and not checkpoint and not os.environ.get(CHECKPOINT_ENV, "").strip():
        from dfdetect.default_model import describe

        console.info(describe(threshold=predictor.options.threshold))  # once per run, with the threshold in use
    for message in predictor.crop_warnings:
        console.warn(message)
    if explain:
        from dfdetect.explain.video import check_explainable, explain_prediction

        check_explainable(predictor)  # a model without a layer to explain fails before any video
        predictor.keep_faces = True
    explain_seconds, explained, explain_taken = 0.0, 0, set()
    summary = PredictSummary()
    taken: set[str] = set()  # timeline file names used in this batch
    writers = [ResultWriter(sys.stdout, stdout_format)]
    # --out is written beside its final name and renamed at the end: an interrupted or failed
    # batch leaves no truncated file behind (nor clobbers an older complete one).
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp") if out else None
    out_stream = None
    try:
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            out_stream = tmp.open("w", newline="")
            writers.append(ResultWriter(out_stream, file_format))
        with console.progress_task("predicting", len(paths)) as (progress, task):
            for pred in predictor.predict_many(paths):
                summary.add(pred)
                for w in writers:
                    w.add(pred)
                if frames_out:
                    # frame probabilities are raw (scoring/inference.py): one calibration plots them on the
                    # verdict's scale; an ensemble's averaged raw frames get the threshold on theirs
                    calibration = getattr(predictor.scorer, "calibration", None)
                    threshold = predictor.options.threshold
                    write_frame_timeline(pred, frames_out, threshold if calibration else predictor.scorer.raw_threshold(threshold),
                                         taken, calibration)
                if explain:
                    start = time.perf_counter()
                    explained += explain_prediction(predictor, pred, explain, explain_frames, explain_taken) is not None
                    explain_seconds += time.perf_counter() - start
                progress.update(task, advance=1, status=Path(pred.path).name)
        for w in writers:
            w.close()
        if out_stream:
            out_stream.close()
            os.replace(tmp, out)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after {summary.n_videos} of {len(paths)} video(s)"
                          + (f"; {out} was not written" if out else "")) from None
    finally:
        if out_stream:
            out_stream.close()
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    n = max(summary.n_videos, 1)
    console.info(
        f"{summary.n_videos} video(s): {summary.n_fake} fake, {summary.n_real} real, {summary.n_failed} failed · "
        f"extract {summary.extract_seconds / n:.2f}s, model {summary.model_seconds / n:.2f}s per video"
        + (f" · results: {out}" if out else "") + (f" · timelines: {frames_out}" if frames_out else "")
        + (f" · explain +{explain_seconds / max(explained, 1):.2f}s per video: {explain}" if explain else "")
    )
    code = summary.exit_code(fail_on_fake)
    if code:
        raise typer.Exit(code)


def _out_format(out: Path, fmt: Optional[str], stdout_format: str) -> str:
    """The --out file's format: its extension (.csv, .json, .jsonl); no extension: --format, else csv."""
    ext = out.suffix.lower().lstrip(".")
    if ext in ("csv", "json", "jsonl"):
        return ext
    if ext:
        raise UsageError(f"--out {out}: unknown extension '.{ext}'; use .csv, .json or .jsonl")
    return stdout_format if fmt and stdout_format != "table" else "csv"


def _checkpoint(checkpoint: Optional[str]) -> str:
    """--checkpoint or $DFDETECT_CHECKPOINT, which must exist: a missing one is a usage error (exit 2)."""
    from dfdetect.commands._common import check_checkpoint_arg
    from dfdetect.default_model import default_checkpoint, is_default
    from dfdetect.prediction.predictor import CHECKPOINT_ENV, resolve_checkpoint

    if checkpoint is not None and not checkpoint.strip():
        raise UsageError("--checkpoint '': empty; pass a RUN folder or checkpoint file, or omit it for the bundled default model")
    value = resolve_checkpoint(checkpoint)
    if is_default(value):
        default_checkpoint()  # checksum first: a corrupted copy stops here, before any video
        return value
    check_checkpoint_arg(value, f"--checkpoint {value}" if checkpoint else f"{CHECKPOINT_ENV}={value}")
    return value


# cleandoc first: the unindented epilog would otherwise keep the docstring's indentation in --help
command.__doc__ = inspect.cleandoc(command.__doc__ or "") + "\n\n" + EPILOG
