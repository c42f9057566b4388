"""`dfdetect robustness RUN TEST.csv --out DIR`: AUC and verdicts under degraded video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dfdetect import console
from dfdetect.commands._common import DeviceOption, SeedOption, handle_errors, prefer_passive_openmp

EXAMPLES = [
    "dfdetect robustness runs/dual splits/test.csv --out robustness",
    "dfdetect robustness default splits/test.csv --out rob --perturbations 'reencode:1,5;blur:1-5' --workers 2",
]


@handle_errors
def command(
    run: Annotated[str, typer.Argument(help="A RUN folder (its best.ckpt is used), a checkpoint file, or 'default'.")],
    test_csv: Annotated[Path, typer.Argument(
        help="A test CSV with path and label columns (SPLITS/test.csv, or a manifest): its videos are re-extracted.",
        show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for robustness.csv and robustness.png.", show_default=False)],
    perturbations: Annotated[str, typer.Option(
        "--perturbations", help="NAME[:LEVELS] joined by ';' (levels 1-5, e.g. 'h264:3,5;blur:1-5'), or 'all': "
                                "saturation, contrast, blockwise, noise, blur, jpeg, downscale, h264, reencode.")] = "all",
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes that perturb and extract videos.")] = 1,
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    cache: Annotated[Optional[Path], typer.Option(
        "--cache", help="Folder of cached perturbed extractions (default: $DFDETECT_CACHE/robustness or "
                        "~/.cache/dfdetect/robustness); shared by every model scored on the same videos.",
        show_default=False)] = None,
    threshold: Annotated[Optional[float], typer.Option(
        "--threshold", help="P(fake) at or above which a video is called fake (default: the checkpoint's "
                            "calibrated threshold, else 0.5).", show_default=False)] = None,
    report_html: Annotated[Optional[Path], typer.Option(
        "--report", help="Add the plot and table to this self-contained HTML report (created when missing).",
        show_default=False)] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Windows of T frames per forward pass.")] = 8,
    frames: Annotated[Optional[int], typer.Option(
        "--frames", min=1, help="Frames sampled per video (default: the checkpoint's extraction setting); fewer "
                                "make a sweep faster, and its scores then differ from `predict`'s.", show_default=False)] = None,
) -> None:
    """Measure robustness: perturb each test video, extract its faces again and score them.

    Default set: DeeperForensics-1.0's seven distortions at its five levels, a resolution
    downscale and a second H.264 re-encode (CRF 23 = FF++ c23 ... 40 = c40). Writes
    DIR/robustness.csv (one row per perturbation and level, plus the clean set) and
    DIR/robustness.png. Perturbed extractions are cached, so a re-run or a second model
    pays only the scoring; a video that fails under a perturbation is counted, not fatal."""
    prefer_passive_openmp()
    from dfdetect.device import validate_device_string
    from dfdetect.manifest import write_csv_atomic
    from dfdetect.outputs import check_input_file, check_output_dir, check_output_file
    from dfdetect.report.tables import print_table
    from dfdetect.robustness.results import plot_robustness, report_section, robustness_table
    from dfdetect.robustness.runner import RobustnessOptions, resolve_threshold, run_robustness
    from dfdetect.robustness.spec import parse_spec

    # every option checked before anything is written
    parse_spec(perturbations)
    validate_device_string(device)
    resolve_threshold({}, threshold)
    check_input_file(test_csv, "a test CSV with path and label columns (SPLITS/test.csv or DATA/manifest.csv)")
    check_output_dir(out, "--out")
    if cache is not None:
        check_output_dir(cache, "--cache")
    if report_html is not None:
        check_output_file(report_html, "--report")
    options = RobustnessOptions(perturbations=perturbations, workers=workers, seed=seed, device=device, cache=cache,
                                threshold=threshold, batch_size=batch_size, frames=frames)
    result = run_robustness(run, test_csv, options)
    df = result.frame()
    out.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(df, out / "robustness.csv")
    write_csv_atomic(result.video_scores(), out / "robustness_scores.csv")
    png = plot_robustness(df, out / "robustness.png")
    title = f"robustness · {run} · {result.n_videos} videos · threshold {result.threshold:g} ({result.threshold_source})"
    print_table(robustness_table(df, title))
    failed = [(name, level, e) for (name, level), errors in result.errors.items() for e in errors]
    if failed:  # counted in the table's `failed` column; one line here, not one per condition
        name, level, first = failed[0]
        console.warn(f"{len(failed)} (video, condition) pairs failed and are left out of their rows; "
                     f"first: {name}{f':{level}' if level else ''} {first}")
    console.info(f"results: {out / 'robustness.csv'}, {png} · {result.cache_hits} cached, {result.cache_misses} extracted "
                 f"in {result.seconds['extract']:.0f} s; scored in {result.seconds['score']:.0f} s "
                 f"({result.scores_cached} scores cached)")
    if report_html is not None:
        from dfdetect.report.html import add_section

        add_section(report_html, "robustness", "Robustness to degraded video", report_section(df, png, title),
                    "dfdetect robustness report")
        console.info(f"report: {report_html}")
