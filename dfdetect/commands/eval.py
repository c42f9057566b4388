"""`dfdetect eval RUN TEST_CSV [TEST_CSV...]`: metrics per test set, as a table, CSV and plots."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from dfdetect import console
from dfdetect.commands._common import DeviceOption, handle_errors, prefer_passive_openmp
from dfdetect.errors import DfdetectError, UsageError

# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect eval runs/dual splits/test*.csv --plot plots",
    "dfdetect eval runs/dual/best.ckpt splits/test_1to10.csv --out results.csv --scores scores.csv",
]


@handle_errors
def command(
    run: Annotated[str, typer.Argument(help="A RUN folder (its best.ckpt is used) or a checkpoint file.")],
    test_csvs: Annotated[List[Path], typer.Argument(
        help="Test CSVs written by `dfdetect split` (test.csv, test_1to10.csv, ...).", show_default=False)],
    threshold: Annotated[Optional[float], typer.Option(
        "--threshold", help="P(fake) at or above which a video is called fake.",
        show_default="the checkpoint's calibrated threshold, else 0.5")] = None,
    prior: Annotated[str, typer.Option(
        "--prior", help="Share of fakes where the detector is deployed, fake:real, for the precision_at_prior column.")] = "1:100",
    aggregate: Annotated[str, typer.Option(
        "--aggregate", help="Video score of models without a video head: mean, max or median of frame probabilities.")] = "mean",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write one row per test set (and repeat summaries) as CSV.")] = None,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="Write per-video and per-frame scores as CSV.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Write roc.png and auc_vs_ratio.png into this folder.")] = None,
    reference_positive: Annotated[Optional[str], typer.Option(
        "--reference-positive", help="What a reference-code checkpoint's output means (real or fake) when it has no label_map.",
        show_default=False)] = None,
    ensemble: Annotated[Optional[List[str]], typer.Option(
        "--ensemble", help="Another RUN or checkpoint whose probabilities are averaged with RUN's (a seed ensemble); "
                           "repeat for more. All must be trained on the same crops.", show_default=False)] = None,
    report_html: Annotated[Optional[Path], typer.Option(
        "--report", help="Write one self-contained HTML report (metrics, plots, confident mistakes with heat maps).")] = None,
    device: DeviceOption = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Windows of T frames per forward pass.")] = 8,
) -> None:
    """Evaluate a checkpoint on test sets: AUC, AP, EER, accuracy, F1, ... per set.

    Video level: AUC, AP, EER, accuracy, precision, recall, F1 and balanced accuracy at
    --threshold (default: the calibrated one the checkpoint stores); calibration: Brier score, ECE
    (15 bins), recall at 1 % and 5 % false positives, and precision at --prior; frame level: AUC
    and AP. Repeats (test_1to100_r0.csv, _r1, ...)
    are reported as mean ± std; sets holding one class show n/a for AUC, AP and EER."""
    prefer_passive_openmp()
    from dfdetect.device import validate_device_string
    from dfdetect.scoring.ensemble import describe_model
    from dfdetect.evaluation.evaluate import EvalOptions, evaluate
    from dfdetect.scoring.inference import check_aggregate
    from dfdetect.manifest import write_csv_atomic
    from dfdetect.report.tables import calibration_table, metrics_table, print_table, write_eval_plots

    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold {threshold} is outside [0, 1]")
    from dfdetect.evaluation.calibration import prior_from_ratio

    prior_fake = prior_from_ratio(prior, "--prior")
    check_aggregate(aggregate)
    validate_device_string(device)
    _check_checkpoints(run, ensemble or [])
    _check_files(test_csvs, out, scores, plot, report_html)
    options = EvalOptions(threshold=threshold, aggregate=aggregate, device=device, batch_size=batch_size,
                          prior=prior_fake)
    report = evaluate(run, test_csvs, options, reference_positive=reference_positive, ensemble=ensemble or ())
    model = describe_model(report.config)
    title = f"{model} · {report.checkpoint} · threshold {report.threshold:.3g} · prior {prior}"
    print_table(metrics_table(report.summary_rows(), title=title))
    print_table(calibration_table(report.summary_rows(), report.threshold, prior))
    if out:
        write_csv_atomic(report.results_frame(), out)
        console.info(f"results: {out}")
    if scores:
        write_csv_atomic(report.scores_frame(), scores)
        console.info(f"scores: {scores}")
    if plot:
        paths = write_eval_plots(report, plot)
        console.info("plots: " + ", ".join(str(p) for p in paths))
    if report_html:
        from dfdetect.report import write_eval_report

        console.info(f"report: {write_eval_report(report, report_html, options)}")


def _check_checkpoints(run: str, ensemble: List[str]) -> None:
    """RUN and every --ensemble member exist (a usage error, exit 2, like a missing --checkpoint)."""
    from dfdetect.commands._common import check_checkpoint_arg
    from dfdetect.default_model import is_default

    for value, where in ((run, f"RUN {run}"), *((e, f"--ensemble '{e}'") for e in ensemble)):
        if not is_default(value):
            check_checkpoint_arg(value, where)


def _check_files(test_csvs: List[Path], out: Optional[Path], scores: Optional[Path], plot: Optional[Path],
                 report_html: Optional[Path] = None) -> None:
    """Inputs readable and outputs writable before the model scores anything."""
    from dfdetect.evaluation.evaluate import EVAL_COLUMNS
    from dfdetect.manifest import read_manifest
    from dfdetect.outputs import check_input_file, check_output_dir, check_output_file

    for path in test_csvs:
        check_input_file(path, "a test CSV written by `dfdetect split` (SPLITS/test.csv, SPLITS/test_1to10.csv, ...)")
        if read_manifest(path, required=EVAL_COLUMNS).empty:
            raise DfdetectError(f"{path}: holds no videos; nothing to evaluate (re-run `dfdetect split`, or drop it)")
    for path, option in ((out, "--out"), (scores, "--scores"), (report_html, "--report")):
        if path is not None:
            check_output_file(path, option)
    if plot is not None:
        check_output_dir(plot, "--plot")
