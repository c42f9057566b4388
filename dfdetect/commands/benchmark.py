"""`dfdetect benchmark`: models × losses × imbalance ratios (two protocols), k-fold evaluation of
a folds folder, or `--speed` for throughput."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dfdetect import console
from dfdetect.commands._common import DeviceOption, SeedOption, handle_errors, prefer_passive_openmp
from dfdetect.errors import UsageError

PROTOCOLS = ("test-only", "paper")
# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect benchmark",
    "dfdetect benchmark --protocol paper",
    "dfdetect benchmark --data SPLITS --models cnn --losses bce,auc   # SPLITS from split --folds K: pooled OOF AUC",
]


def _names(text: str, option: str) -> list[str]:
    from dfdetect.benchmarking.runner import refuse_duplicates

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"{option} needs at least one name")
    refuse_duplicates(names, option)
    return names


@handle_errors
def command(
    data: Annotated[Optional[Path], typer.Option(
        "--data", help="A split folder from `dfdetect split`, or a folds folder (fold_0/ … from `split --folds K`): "
        "then one model per fold, pooled out-of-fold AUC with its 95 % interval.",
        show_default="built-in synthetic dataset")] = None,
    protocol: Annotated[str, typer.Option(
        "--protocol", help="test-only: train once at --train-ratio, test at every --test-ratios (does the test "
        "set's ratio change the measured AUC? In expectation it does not). paper: train AND test at each of "
        "--ratios, as the paper does (does a detector trained under imbalance keep its AUC, and does the AUC "
        "loss help?).")] = "test-only",
    models: Annotated[Optional[str], typer.Option(
        "--models", help="Comma-separated model names (see `dfdetect models`).",
        show_default="dual,cnn,meso4,xception; paper: dual,meso4,cnn")] = None,
    losses: Annotated[Optional[str], typer.Option(
        "--losses", help="Comma-separated losses. With --protocol paper a loss may carry modifiers: +pw "
        "(pos_weight = real/fake of the training set), +fb (--fake-per-batch fakes in every batch).",
        show_default="bce,auc; paper: bce,auc,auc+fb")] = None,
    epochs: Annotated[Optional[int], typer.Option(
        "--epochs", min=1, help="Training epochs per model × loss.", show_default="6; paper: 1 (see --steps)")] = None,
    frames: Annotated[int, typer.Option("--frames", min=1, help="Frames per clip (synthetic data) and per model input.")] = 4,
    img_size: Annotated[Optional[int], typer.Option(
        "--img-size", min=16, help="Face crop / model input side in pixels.", show_default="64; 32 for xception")] = None,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", min=1, help="Videos per training batch.", show_default="8; paper: 16")] = None,
    test_ratios: Annotated[str, typer.Option("--test-ratios", help="test-only: test fake:real ratios (synthetic data).")] = "1:1,1:10,1:20,1:30,1:100,1:200",
    train_ratio: Annotated[str, typer.Option("--train-ratio", help="test-only: imbalanced training fake:real ratio (synthetic data).")] = "1:4",
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="test-only: test draws per ratio (synthetic data), reported as mean ± std.")] = 3,
    ratios: Annotated[str, typer.Option("--ratios", help="paper: fake:real ratios of the training AND test sets.")] = "1:10,1:20,1:30,1:100,1:200",
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="paper: trainings per cell, each with its own seed and data draw; mean ± std and 95 % interval.")] = 3,
    steps: Annotated[int, typer.Option("--steps", min=1, help="paper: optimisation steps per training, the same at every ratio.")] = 40,
    train_fakes: Annotated[int, typer.Option("--train-fakes", min=8, help="paper: fakes in each training set (reals = ratio × fakes).")] = 8,
    test_fakes: Annotated[int, typer.Option("--test-fakes", min=10, help="paper: fakes in each test set (reals = ratio × fakes).")] = 10,
    fake_per_batch: Annotated[int, typer.Option("--fake-per-batch", min=1, help="paper: fakes in every batch for +fb losses.")] = 2,
    difficulty: Annotated[float, typer.Option("--difficulty", min=0.0, max=1.0, help="Synthetic fake subtlety: 0 easiest, 1 hardest.")] = 0.0,
    n_real: Annotated[Optional[int], typer.Option("--n-real", min=3, help="test-only: synthetic real clips.", show_default="enough for the widest ratio")] = None,
    n_fake: Annotated[Optional[int], typer.Option("--n-fake", min=3, help="test-only: synthetic fake clips.", show_default="a quarter of --n-real")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder.", show_default="runs/benchmark/<timestamp>")] = None,
    jobs: Annotated[Optional[int], typer.Option(
        "--jobs", min=1, help="Trainings run in parallel processes.", show_default="2 on a CPU, 1 on a GPU")] = None,
    speed: Annotated[bool, typer.Option("--speed", help="Measure extraction and model inference frames/s instead.")] = False,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
) -> None:
    """Train and evaluate models × losses across fake:real ratios, or across the folds of --data.

    --protocol test-only (default): generates a small synthetic dataset (mp4, dlib extraction,
    split), trains every model × loss once at --train-ratio and tests it at every --test-ratios
    (about 3 minutes on a 2-core CPU). --protocol paper: the paper's experiment; for each of
    --ratios and --seeds a training set and a test set at that ratio are drawn from disjoint
    groups of a cached pool of tiny synthetic face stacks, and every model × loss is trained and
    tested on them. With a folds folder as --data: one model per fold, pooled out-of-fold AUC
    with DeLong's 95 % interval and the per-fold spread. Tables go to stdout; results.csv, plots
    and checkpoints to --out. --speed prints throughput."""
    prefer_passive_openmp()
    from dfdetect.device import validate_device_string
    from dfdetect.report.tables import print_table
    from dfdetect.splitting import parse_ratio

    validate_device_string(device)
    if protocol not in PROTOCOLS:
        raise UsageError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got '{protocol}'")
    paper = protocol == "paper"
    model_names = _names(models or ("dual,meso4,cnn" if paper else "dual,cnn,meso4,xception"), "--models")
    loss_names = _names(losses or ("bce,auc,auc+fb" if paper else "bce,auc"), "--losses")
    if speed:
        from dfdetect.benchmarking.speed import SpeedOptions, run_speed, speed_table

        rows = run_speed(SpeedOptions(models=model_names, device=device, frames=frames, seed=seed))
        print_table(speed_table(rows))
        if out:
            import pandas as pd

            out.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows).to_csv(out / "speed.csv", index=False)
        return

    if paper:
        if data is not None:
            raise UsageError("--protocol paper draws its own synthetic data; drop --data (it is for test-only and folds)")
        from dfdetect.benchmarking.paper import PaperOptions, paper_table, run_paper_protocol

        ratio_list = _names(ratios, "--ratios")
        for r in ratio_list:
            parse_ratio(r, "--ratios")
        result = run_paper_protocol(PaperOptions(
            models=model_names, losses=loss_names, ratios=ratio_list, seeds=seeds, train_fakes=train_fakes,
            test_fakes=test_fakes, steps=steps, epochs=epochs or 1, batch_size=batch_size or 16,
            fake_per_batch=fake_per_batch, frames=frames, img_size=img_size or 64, difficulty=difficulty,
            out=out, device=device, jobs=jobs, seed=seed))
        print_table(paper_table(result.summary))
        console.info(f"done in {result.timings.get('total', 0.0):.0f}s (data {result.timings.get('data', 0.0):.0f}s"
                     f"{', cached' if result.pool_reused else ''}) · results: {result.out_dir / 'results.csv'} · "
                     f"figure: {result.plots[0]}")
        return

    from dfdetect.benchmarking.runner import BenchmarkOptions, benchmark_table, run_benchmark

    test_ratio_list = _names(test_ratios, "--test-ratios")
    for r in test_ratio_list:
        parse_ratio(r, "--test-ratios")
    parse_ratio(train_ratio, "--train-ratio")
    options = BenchmarkOptions(
        models=model_names, losses=loss_names, data=data, out=out, epochs=epochs or 6,
        frames=frames, img_size=img_size, batch_size=batch_size or 8, test_ratios=test_ratio_list,
        train_ratio=train_ratio, difficulty=difficulty, repeats=repeats, n_real=n_real, n_fake=n_fake,
        device=device, jobs=jobs, seed=seed,
    )
    if data is not None:
        from dfdetect.benchmarking.folds import find_folds, folds_table, run_folds

        if find_folds(data):
            folds = run_folds(options)
            print_table(folds_table(folds.pooled))
            console.info(f"done in {folds.timings['total']:.0f}s · pooled results: {folds.out_dir / 'results.csv'} · "
                         f"per fold: {folds.out_dir / 'folds.csv'} · scores: {folds.out_dir / 'oof_scores.csv'}")
            return
    result = run_benchmark(options)
    print_table(benchmark_table(result.summary))
    total = result.timings.get("total", 0.0)
    console.info(f"done in {total:.0f}s · results: {result.out_dir / 'results.csv'} · plots: "
                 + ", ".join(str(p) for p in result.plots))
    if result.runs:
        # Not "try predict with it": these quick models rank fakes above reals, but predict's 0.5
        # threshold called every fake of the default run real (issue 23).
        best = max(result.runs, key=lambda k: result.test_auc.get(k) or 0.0)
        auc = result.test_auc.get(best)
        console.info(f"checkpoints: {result.out_dir / 'runs'} (best test AUC: {best}"
                     + ("" if auc is None else f", {auc:.3f}") + "). These are quick models for this table: AUC "
                     "says how well they rank videos, not that a 0.5 score separates fake from real; measure one "
                     f"with dfdetect eval {result.runs[best]} {result.splits_dir / 'test.csv'}")
