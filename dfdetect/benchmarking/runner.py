"""`dfdetect benchmark`: models × losses × imbalance ratios -> AUC table and AUC-vs-ratio plot.

Every model × loss is one experiment (experiment.run_experiment): trained on the same train/val
CSVs with the same quick settings and seed, then scored on every test CSV of the split folder
(test.csv and test_1toK[_rN].csv). The checkpoints stay in OUT/runs/<model>-<loss>/ so that
`dfdetect eval` can measure them again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from dfdetect import console
from dfdetect.errors import DfdetectError, UsageError

if TYPE_CHECKING:
    from dfdetect.benchmarking.experiment import ExperimentResult
    from dfdetect.training import TrainConfig

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
    threshold: float | None = None  # None: each run's stored (calibrated) threshold, else 0.5
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


def quick_train_config(**values: Any) -> "TrainConfig":
    """A TrainConfig from the values its dataclass knows (the rest are quick-setting hints)."""
    from dfdetect.training import TrainConfig

    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in values.items() if k in names and v is not None})


def combo_config(model_name: str, loss: str, options: BenchmarkOptions, splits: Path,
                 run_dir: Path) -> "TrainConfig":
    """The TrainConfig of one model × loss: the quick settings on SPLITS/train.csv (val.csv if any)."""
    val_csv = splits / "val.csv"
    return quick_train_config(
        train_csv=str(splits / "train.csv"), val_csv=str(val_csv) if val_csv.is_file() else None,
        out=str(run_dir), model=model_name, loss=loss, epochs=options.epochs,
        frames=min(options.frames, QUICK_MAX_FRAMES.get(model_name, options.frames)),
        img_size=options.img_size or QUICK_IMG_SIZE.get(model_name, DEFAULT_IMG_SIZE),
        batch_size=options.batch_size, lr=options.lr, seed=options.seed, device=options.device,
        pretrained=False, workers=0, **QUICK_MODEL_OPTIONS.get(model_name, {}),
    )


def refuse_duplicates(values: Sequence[Any], option: str, shown: Sequence[str] | None = None) -> None:
    """A name given twice would train the same thing twice into the same run folder and count its
    videos twice (a narrower interval, "mean ± std over 2 seeds" of one seed): a UsageError."""
    seen: dict[Any, int] = {}
    for i, value in enumerate(values):
        if value in seen:
            first, again = (shown or values)[seen[value]], (shown or values)[i]
            same = f"'{again}'" if str(first) == str(again) else f"'{first}' and '{again}'"
            raise UsageError(f"{option}: {same} given twice; list each once")
        seen[value] = i


def check_benchmark_names(options: BenchmarkOptions) -> None:
    """Unknown model or loss names fail before any data is generated ("did you mean ...")."""
    from dfdetect.training.losses import LOSSES
    from dfdetect.models import list_models
    from dfdetect.models.registry import MODELS

    if not options.models or not options.losses:
        raise UsageError("--models and --losses need at least one name each")
    refuse_duplicates(options.models, "--models")
    refuse_duplicates(options.losses, "--losses")
    if options.data is None:
        from dfdetect.splitting import parse_ratio

        refuse_duplicates([parse_ratio(r, "--test-ratios") for r in options.test_ratios], "--test-ratios",
                          list(options.test_ratios))
        parse_ratio(options.train_ratio, "--train-ratio")
    list_models()  # fills the model registry
    for name in options.models:
        MODELS.entry(name)
    for name in options.losses:
        LOSSES.entry(name)


def run_combo(model_name: str, loss: str, options: BenchmarkOptions, splits: Path, test_csvs: list[Path],
              out: Path, threads: int | None = None) -> "ExperimentResult":
    """Train one model × loss on SPLITS and score every test CSV: an ExperimentResult.

    Module level, so that a process pool can run it (`--jobs`). An earlier run of the same
    model × loss in this --out (our own, from an earlier benchmark) is replaced."""
    from dfdetect.benchmarking.experiment import run_experiment

    run_dir = out / "runs" / f"{model_name}-{loss}"
    return run_experiment(combo_config(model_name, loss, options, splits, run_dir), test_csvs, run_dir,
                          overwrite=True, threshold=options.threshold, threads=threads)


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
    from dfdetect.benchmarking.experiment import resolve_threads, run_pool

    check_benchmark_names(options)
    if options.data is not None:
        splits = Path(options.data)
        if not splits.is_dir():
            raise DfdetectError(f"--data {splits}: no such folder; pass a folder written by `dfdetect split`")
        if not (splits / "train.csv").is_file():
            raise DfdetectError(f"{splits}: no train.csv; pass a folder written by `dfdetect split`")
    out = Path(options.out) if options.out else default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if options.data is None:
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
    finished: list[tuple[str, str]] = []

    def done(i: int, outcome: Any) -> None:
        finished.append(combos[i])
        auc = next((r.get("auc") for r in outcome.report.summary_rows() if r["set"] == "test"), None)
        console.info(f"[{len(finished)}/{len(combos)}] {combos[i][0]}+{combos[i][1]}: {outcome.train_s:.0f}s train, "
                     f"test AUC {'n/a' if auc is None else f'{auc:.3f}'}")

    workers = min(jobs, len(combos))
    console.info(f"training {len(combos)} model × loss pairs, {workers} at a time"
                 + (f" ({resolve_threads(jobs)} thread(s) each) ..." if workers > 1 else " ..."))
    results = run_pool(run_combo, [(m, loss, options, splits, test_csvs, out) for m, loss in combos], jobs,
                       on_done=done, cost=[RELATIVE_COST.get(m, 1) for m, _ in combos])
    outcomes = dict(zip(combos, results))

    reports = {}
    for model_name, loss in combos:  # the input order, whatever order the pool finished in
        label = f"{model_name}+{loss}"
        outcome = outcomes[(model_name, loss)]
        report = outcome.report
        timings[f"train {label}"], timings[f"eval {label}"] = outcome.train_s, outcome.eval_s
        reports[label] = report
        result.runs[label] = outcome.run_dir
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
