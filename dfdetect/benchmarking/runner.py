"""`dfdetect benchmark`: models × losses × imbalance ratios -> AUC table and AUC-vs-ratio plot.

Every model × loss is trained on the same train/val CSVs with the same quick settings and seed,
then evaluated on every test CSV of the split folder (test.csv and test_1toK[_rN].csv). The
checkpoints stay in OUT/runs/<model>-<loss>/ so that `dfdetect predict` can be tried on them.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from dfdetect import console
from dfdetect.errors import DfdetectError, UsageError

DEFAULT_MODELS = ("dual", "cnn", "meso4", "xception")
DEFAULT_LOSSES = ("bce", "auc")

#: Light settings per model for the 5-minute CPU budget (`dfdetect train` keeps the paper's
#: defaults: dual = ResNet-50 + 3-layer GRU, T = 32). ResNet-10-T instead of ResNet-18 costs ~0.6x;
#: xception, by far the heaviest on a CPU (depthwise convolutions), sees 32 px crops (its own default
#: is 299) unless --img-size is given, and samples 2 frames per clip per training step (a frame-level
#: model: evaluation still scores every frame).
QUICK_MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "dual": {"backbone": "resnet10t", "hidden": 64, "layers": 1},
    "cnn": {"backbone": "resnet10t"},
}
QUICK_IMG_SIZE: dict[str, int] = {"xception": 32}
QUICK_MAX_FRAMES: dict[str, int] = {"xception": 2}
#: Rough relative cost, so that parallel runs start the longest pairs first.
RELATIVE_COST: dict[str, int] = {"xception": 3, "dual": 2, "cnn": 2, "meso4": 0}
DEFAULT_IMG_SIZE = 64


@dataclass
class BenchmarkOptions:
    models: Sequence[str] = DEFAULT_MODELS
    losses: Sequence[str] = DEFAULT_LOSSES
    data: Path | None = None
    out: Path | None = None
    epochs: int = 6  # ~2m40s for the default run on 2 cores; 3 epochs left every model near chance
    frames: int = 4
    img_size: int | None = None  # None: DEFAULT_IMG_SIZE, or QUICK_IMG_SIZE for that model
    batch_size: int = 8
    lr: float = 1e-3
    test_ratios: Sequence[str] = ("1:1", "1:10", "1:20", "1:30", "1:100", "1:200")
    train_ratio: str = "1:4"
    difficulty: float = 0.0
    repeats: int = 3
    n_real: int | None = None
    n_fake: int | None = None
    threshold: float = 0.5
    device: str = "auto"
    jobs: int | None = None  # parallel trainings; None = resolve_jobs' choice
    seed: int = 0


@dataclass
class BenchmarkResult:
    out_dir: Path
    splits_dir: Path
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per model × loss × test set
    summary: list[dict[str, Any]] = field(default_factory=list)  # one per model × loss × ratio group
    runs: dict[str, Path] = field(default_factory=dict)
    test_auc: dict[str, float | None] = field(default_factory=dict)  # AUC on the natural test.csv
    timings: dict[str, float] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)


def default_out_dir() -> Path:
    base = Path("runs") / "benchmark" / datetime.now().strftime("%Y%m%d-%H%M%S")
    out, n = base, 2
    while out.exists():
        out, n = base.with_name(f"{base.name}-{n}"), n + 1
    return out


def find_test_csvs(splits: Path) -> list[Path]:
    """test.csv first, then the ratio variants in ratio order (1:1 ... 1:200), repeats together."""
    from dfdetect.evaluation.metrics import ratio_from_name, split_repeat

    found = sorted(splits.glob("test*.csv"))
    if not found:
        raise DfdetectError(f"{splits}: no test*.csv; pass a folder written by `dfdetect split`")

    def key(p: Path) -> tuple:
        ratio = ratio_from_name(p.stem)
        base, rep = split_repeat(p.stem)
        return (ratio is not None, (ratio[1] / ratio[0]) if ratio else 0.0, base, rep or 0)

    return sorted(found, key=key)


def _train_config(**values: Any):
    """A TrainConfig from the values its dataclass knows (the rest are quick-setting hints)."""
    from dfdetect.training import TrainConfig

    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in names and v is not None})


def check_benchmark_names(options: BenchmarkOptions) -> None:
    """Unknown model or loss names fail before any data is generated ("did you mean ...")."""
    from dfdetect.training.losses import LOSSES
    from dfdetect.models import list_models
    from dfdetect.models.registry import MODELS

    if not options.models or not options.losses:
        raise UsageError("--models and --losses need at least one name each")
    list_models()  # fills the model registry
    for name in options.models:
        MODELS.entry(name)
    for name in options.losses:
        LOSSES.entry(name)


def run_combo(model_name: str, loss: str, options: BenchmarkOptions, splits: Path, test_csvs: list[Path],
               out: Path, threads: int | None = None) -> tuple[Path, Any, float, float]:
    """Train one model × loss and evaluate it: (run_dir, EvalReport, train s, eval s).

    Module level, so that a process pool can run it (`--jobs`)."""
    from dfdetect.checkpoint import load_model
    from dfdetect.device import seed_everything
    from dfdetect.evaluation.evaluate import EvalOptions, evaluate_model
    from dfdetect.training import train

    if threads:
        import torch

        torch.set_num_threads(threads)
    seed_everything(options.seed)
    start = time.perf_counter()
    run_dir = out / "runs" / f"{model_name}-{loss}"
    if (run_dir / "config.json").exists():  # our own run from an earlier benchmark into this --out
        shutil.rmtree(run_dir)
    val_csv = splits / "val.csv"
    cfg = _train_config(
        train_csv=str(splits / "train.csv"), val_csv=str(val_csv) if val_csv.is_file() else None,
        out=str(run_dir), model=model_name, loss=loss, epochs=options.epochs,
        frames=min(options.frames, QUICK_MAX_FRAMES.get(model_name, options.frames)),
        img_size=options.img_size or QUICK_IMG_SIZE.get(model_name, DEFAULT_IMG_SIZE),
        batch_size=options.batch_size, lr=options.lr, seed=options.seed, device=options.device,
        pretrained=False, workers=0, **QUICK_MODEL_OPTIONS.get(model_name, {}),
    )
    trained = train(cfg)
    run_dir = Path(getattr(trained, "run_dir", run_dir))
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    model, config = load_model(run_dir, device="cpu")
    report = evaluate_model(model, config, test_csvs, EvalOptions(threshold=options.threshold, device=options.device))
    return run_dir, report, train_s, time.perf_counter() - start


def resolve_jobs(jobs: int | None, device: str) -> int:
    """--jobs: None/0 = 2 parallel trainings on a CPU with 2+ cores (one thread each: small
    convolutions use two cores better as two processes, and a busy machine gives two processes
    twice the share), 1 on a GPU."""
    if jobs:
        return max(1, int(jobs))
    if device not in ("auto", "cpu"):
        return 1
    if device == "auto":
        from dfdetect.device import select_device

        if select_device("auto").type != "cpu":
            return 1
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def run_benchmark(options: BenchmarkOptions) -> BenchmarkResult:
    check_benchmark_names(options)
    out = Path(options.out) if options.out else default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if options.data is not None:
        splits = Path(options.data)
        if not (splits / "train.csv").is_file():
            raise DfdetectError(f"{splits}: no train.csv; pass a folder written by `dfdetect split`")
    else:
        from dfdetect.benchmarking.synthetic import SyntheticOptions, build_synthetic_splits

        synth = SyntheticOptions(
            test_ratios=options.test_ratios, train_ratio=options.train_ratio, n_real=options.n_real,
            n_fake=options.n_fake, frames=options.frames, crop_size=options.img_size or DEFAULT_IMG_SIZE,
            difficulty=options.difficulty, repeats=options.repeats, seed=options.seed,
        )
        splits = build_synthetic_splits(out, synth)
        timings.update(synth.timings)
    test_csvs = find_test_csvs(splits)
    result = BenchmarkResult(out, splits, timings=timings)
    combos = [(m, loss) for m in options.models for loss in options.losses]
    jobs = resolve_jobs(options.jobs, options.device)
    # One thread count per --jobs, whether or not a pool is used, so that results depend on the
    # seed and --jobs only (float sums differ with the thread count).
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    workers = min(jobs, len(combos))
    outcomes: dict[tuple[str, str], tuple] = {}

    def done(combo: tuple[str, str], outcome: tuple) -> None:
        outcomes[combo] = outcome
        _, report, train_s, _ = outcome
        auc = next((r.get("auc") for r in report.summary_rows() if r["set"] == "test"), None)
        console.info(f"[{len(outcomes)}/{len(combos)}] {combo[0]}+{combo[1]}: {train_s:.0f}s train, "
                     f"test AUC {'n/a' if auc is None else f'{auc:.3f}'}")

    if workers == 1:
        import torch

        previous = torch.get_num_threads()
        try:
            for model_name, loss in combos:
                console.info(f"training {model_name}+{loss} ...")
                done((model_name, loss), run_combo(model_name, loss, options, splits, test_csvs, out, threads))
        finally:
            torch.set_num_threads(previous)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        console.info(f"training {len(combos)} model × loss pairs, {workers} at a time ({threads} thread(s) each) ...")
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            longest_first = sorted(combos, key=lambda c: -RELATIVE_COST.get(c[0], 1))
            futures = {pool.submit(run_combo, m, loss, options, splits, test_csvs, out, threads): (m, loss)
                       for m, loss in longest_first}
            for future in as_completed(futures):
                done(futures[future], future.result())

    reports = {}
    for model_name, loss in combos:  # the input order, whatever order the pool finished in
        label = f"{model_name}+{loss}"
        run_dir, report, train_s, eval_s = outcomes[(model_name, loss)]
        timings[f"train {label}"], timings[f"eval {label}"] = train_s, eval_s
        reports[label] = report
        result.runs[label] = run_dir
        result.rows += [{"model": model_name, "loss": loss, **row} for row in report.set_rows()]
        result.summary += [{"model": model_name, "loss": loss, **row} for row in report.summary_rows()]
        result.test_auc[label] = next((r.get("auc") for r in report.summary_rows() if r["set"] == "test"), None)
    timings["total"] = time.perf_counter() - started
    _write_outputs(result, reports)
    from dfdetect.report import write_benchmark_report

    write_benchmark_report(result, reports, options)  # OUT/report.html, one self-contained page
    return result


def _write_outputs(result: BenchmarkResult, reports: dict) -> None:
    import pandas as pd

    from dfdetect.manifest import write_csv_atomic
    from dfdetect.report.plots import plot_auc_vs_ratio, plot_roc_curves
    from dfdetect.report.tables import auc_ratio_series

    out = result.out_dir
    write_csv_atomic(pd.DataFrame(result.rows), out / "results.csv")
    write_csv_atomic(pd.DataFrame(result.summary), out / "summary.csv")
    result.plots.append(plot_auc_vs_ratio(auc_ratio_series(reports), out / "auc_vs_ratio.png",
                                          title="Benchmark: AUC against imbalance ratio"))
    curves = []
    for label, rep in reports.items():
        natural = next((s for s in rep.sets if s.name == "test"), rep.sets[0] if rep.sets else None)
        if natural is not None:
            curves.append((label, natural.labels, natural.video_scores))
    result.plots.append(plot_roc_curves(curves, out / "roc_test.png", title="Benchmark: ROC on test.csv"))
    pd.DataFrame([{"stage": k, "seconds": round(v, 2)} for k, v in result.timings.items()]).to_csv(
        out / "timings.csv", index=False)


def benchmark_table(summary: Sequence[dict[str, Any]], metric: str = "auc"):
    """Rows = model + loss, columns = test sets in ratio order, cells = AUC (mean ± std)."""
    from dfdetect.report.tables import fmt_value

    columns: list[tuple[str, str]] = []  # (set name, header)
    for r in summary:
        header = "test (natural)" if r["set"] == "test" else str(r["ratio"])
        if (r["set"], header) not in columns:
            columns.append((r["set"], header))

    def cell(r: dict[str, Any]) -> str:
        std = r.get(f"{metric}_std") if r.get("kind") == "repeats" else None
        return fmt_value(r.get(metric), std, sep="±")

    return model_loss_table(f"dfdetect benchmark: video-level {metric.upper()} by test fake:real ratio",
                            columns, summary, "set", cell)


def model_loss_table(title: str, columns: Sequence[tuple[str, str]], summary: Sequence[dict[str, Any]],
                     column_key: str, cell: Any):
    """The rich table both benchmark modes print: a row per (model, loss), a column per
    (key, header) in `columns`; `cell(row)` renders a summary row, "-" where none exists."""
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    table.add_column("model", no_wrap=True)
    table.add_column("loss", no_wrap=True)
    for _, header in columns:
        table.add_column(header, justify="right", no_wrap=True)
    combos: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in summary:
        combos.setdefault((r["model"], r["loss"]), {})[r[column_key]] = r
    for (model, loss), by_key in combos.items():
        table.add_row(model, loss, *(cell(by_key[key]) if key in by_key else "-" for key, _ in columns))
    return table
