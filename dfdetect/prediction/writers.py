"""Writing `dfdetect predict` results: table, csv, json, jsonl, and per-frame timelines.

csv and jsonl are streamed one row per video as results arrive, so `find … | dfdetect predict -`
shows results while the batch runs; table and json are written once at the end.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, TextIO

from dfdetect.errors import UsageError
from dfdetect.manifest import safe_video_id
from dfdetect.prediction.predictor import RESULT_COLUMNS, VideoPrediction

if TYPE_CHECKING:
    from rich.table import Table

    from dfdetect.evaluation.calibration import Calibration

FORMATS = ("table", "csv", "json", "jsonl")


def choose_format(fmt: str | None, is_terminal: bool, out: Path | None = None) -> str:
    """--format if given; for --out files its extension; else table on a terminal, csv when piped."""
    if fmt:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise UsageError(f"invalid --format '{fmt}'; use one of {', '.join(FORMATS)}")
        return fmt
    if out is not None:
        ext = out.suffix.lower().lstrip(".")
        return ext if ext in ("csv", "json", "jsonl") else "csv"
    return "table" if is_terminal else "csv"


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


class ResultWriter:
    """Writes predictions to a text stream in one format; call `add` per video, then `close`."""

    def __init__(self, stream: TextIO, fmt: str) -> None:
        self.stream, self.fmt = stream, fmt
        self.rows: list[dict[str, Any]] = []
        self._csv = None
        if fmt == "csv":
            self._csv = csv.DictWriter(stream, fieldnames=RESULT_COLUMNS, lineterminator="\n")
            self._csv.writeheader()
            stream.flush()

    def add(self, pred: VideoPrediction) -> None:
        row = pred.record()
        self.rows.append(row)
        if self.fmt == "csv":
            self._csv.writerow({k: _cell(v) for k, v in row.items()})
            self.stream.flush()
        elif self.fmt == "jsonl":
            self.stream.write(json.dumps(row) + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.fmt == "json":
            json.dump(self.rows, self.stream, indent=2)
            self.stream.write("\n")
        elif self.fmt == "table":
            import os

            from rich.console import Console

            piped = not (hasattr(self.stream, "isatty") and self.stream.isatty()) and not os.environ.get("COLUMNS")
            Console(file=self.stream, soft_wrap=True, width=200 if piped else None).print(results_table(self.rows))
        self.stream.flush()


def results_table(rows: Sequence[dict[str, Any]]) -> "Table":
    from rich.table import Table

    thresholds = sorted({r["threshold"] for r in rows if r.get("threshold") is not None})
    caption = "verdict: fake when P(fake) ≥ " + ", ".join(f"{t:.3g}" for t in thresholds) if thresholds else None
    table = Table(header_style="bold", caption=caption, caption_justify="left")
    for col, justify in (("path", "left"), ("P(fake)", "right"), ("verdict", "left"), ("frames", "right"),
                         ("faces", "right"), ("status", "left"), ("error", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for r in rows:
        verdict = {"fake": "[bold red]fake[/]", "real": "[green]real[/]"}.get(r["verdict"], "-")
        prob = "n/a" if r["fake_prob"] is None else f"{r['fake_prob']:.3f}"
        table.add_row(r["path"], prob, verdict, str(r["frames"]), str(r["faces"]), r["status"], r["error"] or "")
    return table


def write_frame_timeline(pred: VideoPrediction, out_dir: Path, threshold: float,
                         taken: set[str] | None = None, calibration: "Calibration | None" = None) -> list[Path]:
    """out_dir/<video_id>.csv (frame, prob, detected) and out_dir/<video_id>.png for a scored video.

    `threshold` is the verdict's. Frame probabilities are the model's raw ones (`prob`); with a
    `calibration` the CSV adds each frame's `calibrated` probability, and the PNG plots those, so its
    frames, threshold line and video line share the verdict's scale. `taken` holds the names used so
    far in this batch: a second clip.mp4 from another folder becomes clip-2 instead of overwriting
    the first.
    """
    from dfdetect.report.plots import plot_frame_timeline

    if pred.failed or not pred.frame_probs:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = base = safe_video_id(pred.path)
    if taken is not None:
        n = 2
        while stem in taken:
            stem, n = f"{base}-{n}", n + 1
        taken.add(stem)
    csv_path = out_dir / f"{stem}.csv"
    detected = pred.detected if len(pred.detected) == len(pred.frame_probs) else [""] * len(pred.frame_probs)
    calibrated = list(calibration.apply(pred.frame_probs)) if calibration is not None else None
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["frame", "prob", "detected", *(["calibrated"] if calibrated else [])])
        for k, (idx, prob, det) in enumerate(zip(pred.frame_indices, pred.frame_probs, detected)):
            w.writerow([idx, f"{prob:.6f}", int(det) if det != "" else "",
                        *([f"{calibrated[k]:.6f}"] if calibrated else [])])
    png = plot_frame_timeline(pred.frame_indices, calibrated or pred.frame_probs, out_dir / f"{stem}.png", threshold,
                              pred.fake_prob, title=Path(pred.path).name)
    return [csv_path, png]
