"""`dfdetect benchmark`: models × losses × imbalance ratios, or `--speed` for throughput."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dfdetect import console
from dfdetect.commands._common import DeviceOption, SeedOption, handle_errors, prefer_passive_openmp
from dfdetect.errors import UsageError

# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect benchmark",
    "dfdetect benchmark --models dual,cnn --losses auc --epochs 3",
    "dfdetect benchmark --speed --models dual,meso4",
]


def _names(text: str, option: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError(f"{option} needs at least one name")
    return names


@handle_errors
def command(
    data: Annotated[Optional[Path], typer.Option(
        "--data", help="A split folder from `dfdetect split`.", show_default="built-in synthetic dataset")] = None,
    models: Annotated[str, typer.Option("--models", help="Comma-separated model names (see `dfdetect models`).")] = "dual,cnn,meso4,xception",
    losses: Annotated[str, typer.Option("--losses", help="Comma-separated loss names.")] = "bce,auc",
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Training epochs per model × loss.")] = 6,
    frames: Annotated[int, typer.Option("--frames", min=1, help="Frames per clip (synthetic data) and per model input.")] = 4,
    img_size: Annotated[Optional[int], typer.Option(
        "--img-size", min=16, help="Face crop / model input side in pixels.", show_default="64; 32 for xception")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Videos per training batch.")] = 8,
    test_ratios: Annotated[str, typer.Option("--test-ratios", help="Test fake:real ratios (synthetic data).")] = "1:1,1:10,1:20,1:30,1:100,1:200",
    train_ratio: Annotated[str, typer.Option("--train-ratio", help="Imbalanced training fake:real ratio (synthetic data).")] = "1:4",
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Test draws per ratio (synthetic data), reported as mean ± std.")] = 3,
    difficulty: Annotated[float, typer.Option("--difficulty", min=0.0, max=1.0, help="Synthetic fake subtlety: 0 easiest, 1 hardest.")] = 0.0,
    n_real: Annotated[Optional[int], typer.Option("--n-real", min=3, help="Synthetic real clips.", show_default="enough for the widest ratio")] = None,
    n_fake: Annotated[Optional[int], typer.Option("--n-fake", min=3, help="Synthetic fake clips.", show_default="a quarter of --n-real")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder.", show_default="runs/benchmark/<timestamp>")] = None,
    jobs: Annotated[Optional[int], typer.Option(
        "--jobs", min=1, help="Model × loss pairs trained in parallel processes.", show_default="2 on a CPU, 1 on a GPU")] = None,
    speed: Annotated[bool, typer.Option("--speed", help="Measure extraction and model inference frames/s instead.")] = False,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
) -> None:
    """Train and evaluate models × losses across fake:real ratios: the paper's experiment.

    Without --data it generates a small synthetic dataset, extracts faces with dlib, splits it
    (imbalanced train, test sets at each ratio), trains every model × loss with quick settings and
    prints the AUC table. results.csv, summary.csv and plots go to --out, with the checkpoints.
    Takes about 3 minutes on a 2-core CPU with the defaults (2 min 40 s measured; see the README).
    --speed prints throughput instead."""
    prefer_passive_openmp()
    from dfdetect.device import validate_device_string
    from dfdetect.splitting import parse_ratio

    from dfdetect.reporting import print_table

    validate_device_string(device)
    model_names = _names(models, "--models")
    if speed:
        from dfdetect.benchmarking.speed import SpeedOptions, run_speed, speed_table

        rows = run_speed(SpeedOptions(models=model_names, device=device, frames=frames, seed=seed))
        print_table(speed_table(rows))
        if out:
            import pandas as pd

            out.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows).to_csv(out / "speed.csv", index=False)
        return

    from dfdetect.benchmarking.runner import BenchmarkOptions, benchmark_table, run_benchmark

    ratios = _names(test_ratios, "--test-ratios")
    for r in ratios + [train_ratio]:
        parse_ratio(r)
    options = BenchmarkOptions(
        models=model_names, losses=_names(losses, "--losses"), data=data, out=out, epochs=epochs,
        frames=frames, img_size=img_size, batch_size=batch_size, test_ratios=ratios, train_ratio=train_ratio,
        difficulty=difficulty, repeats=repeats, n_real=n_real, n_fake=n_fake, device=device, jobs=jobs, seed=seed,
    )
    result = run_benchmark(options)
    print_table(benchmark_table(result.summary))
    total = result.timings.get("total", 0.0)
    console.info(f"done in {total:.0f}s · results: {result.out_dir / 'results.csv'} · plots: "
                 + ", ".join(str(p) for p in result.plots))
    if result.runs:
        best = max(result.runs, key=lambda k: result.test_auc.get(k) or 0.0)
        videos = result.out_dir / "videos"
        target = videos / "fake" if videos.is_dir() else Path("VIDEO.mp4")
        console.info(f"try the best model: dfdetect predict {target} --checkpoint {result.runs[best]}")
