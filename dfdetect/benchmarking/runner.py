"""`dfdetect benchmark`: models × losses × imbalance ratios -> AUC table and AUC-vs-ratio plot.

Every model × loss is trained on the same train/val CSVs with the same quick settings and seed,
then evaluated on every test CSV of the split folder (test.csv and test_1toK[_rN].csv). The
checkpoints stay in OUT/runs/<model>-<loss>/ so that `dfdetect predict` can be tried on them.
"""

from __future__ import annotations

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
DEFAULT_IMG_SIZE = 64


@dataclass
class BenchmarkOptions:
    models: Sequence[str] = DEFAULT_MODELS
    losses: Sequence[str] = DEFAULT_LOSSES
    data: Path | None = None
    out: Path | None = None
    epochs: int = 3
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
    from dfdetect.metrics import ratio_from_name, split_repeat

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


def _check_names(options: BenchmarkOptions) -> None:
    from dfdetect.losses import create_loss  # noqa: F401  (fills the loss registry)
    from dfdetect.models import list_models

    for name in options.models:
        if name not in list_models():
            from dfdetect.models.registry import MODELS

            MODELS.entry(name)  # raises "unknown model ..., did you mean"
    try:
        from dfdetect.losses import LOSSES

        for name in options.losses:
            LOSSES.entry(name)
    except ImportError:
        pass
    if not options.models or not options.losses:
        raise UsageError("--models and --losses need at least one name each")


def run_benchmark(options: BenchmarkOptions) -> BenchmarkResult:
    from dfdetect.checkpoint import load_model
    from dfdetect.device import seed_everything
    from dfdetect.evaluation import EvalOptions, evaluate_model
    from dfdetect.training import train

    _check_names(options)
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
    val_csv = splits / "val.csv"
    result = BenchmarkResult(out, splits, timings=timings)
    reports = {}
    combos = [(m, loss) for m in options.models for loss in options.losses]
    for i, (model_name, loss) in enumerate(combos, start=1):
        label = f"{model_name}+{loss}"
        console.info(f"[{i}/{len(combos)}] training {label} ...")
        seed_everything(options.seed)
        start = time.perf_counter()
        run_dir = out / "runs" / f"{model_name}-{loss}"
        if (run_dir / "config.json").exists():  # our own run from an earlier benchmark into this --out
            shutil.rmtree(run_dir)
        cfg = _train_config(
            train_csv=str(splits / "train.csv"), val_csv=str(val_csv) if val_csv.is_file() else None,
            out=str(run_dir), model=model_name, loss=loss, epochs=options.epochs,
            frames=min(options.frames, QUICK_MAX_FRAMES.get(model_name, options.frames)),
            img_size=options.img_size or QUICK_IMG_SIZE.get(model_name, DEFAULT_IMG_SIZE), batch_size=options.batch_size, lr=options.lr, seed=options.seed,
            device=options.device, pretrained=False, workers=0, **QUICK_MODEL_OPTIONS.get(model_name, {}),
        )
        trained = train(cfg)
        timings[f"train {label}"] = time.perf_counter() - start
        start = time.perf_counter()
        model, config = load_model(getattr(trained, "run_dir", run_dir), device="cpu")
        report = evaluate_model(model, config, test_csvs, EvalOptions(threshold=options.threshold, device=options.device))
        timings[f"eval {label}"] = time.perf_counter() - start
        reports[label] = report
        result.runs[label] = Path(getattr(trained, "run_dir", run_dir))
        for row in report.set_rows():
            result.rows.append({"model": model_name, "loss": loss, **row})
        for row in report.summary_rows():
            result.summary.append({"model": model_name, "loss": loss, **row})
        auc = next((r.get("auc") for r in report.summary_rows() if r["set"] == "test"), None)
        result.test_auc[label] = auc
        console.info(f"    {label}: {timings[f'train {label}']:.0f}s train, test AUC "
                     f"{'n/a' if auc is None else f'{auc:.3f}'}")
    timings["total"] = time.perf_counter() - started
    _write_outputs(result, reports)
    return result


def _write_outputs(result: BenchmarkResult, reports: dict) -> None:
    import pandas as pd

    from dfdetect.manifest import write_csv_atomic
    from dfdetect.plots import plot_auc_vs_ratio, plot_roc_curves
    from dfdetect.reporting import auc_ratio_series

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
    from rich.table import Table

    from dfdetect.reporting import fmt_value

    columns: list[tuple[str, str]] = []  # (set name, header)
    for r in summary:
        header = "test (natural)" if r["set"] == "test" else str(r["ratio"])
        if (r["set"], header) not in columns:
            columns.append((r["set"], header))
    table = Table(title=f"dfdetect benchmark: video-level {metric.upper()} by test fake:real ratio",
                  header_style="bold")
    table.add_column("model", no_wrap=True)
    table.add_column("loss", no_wrap=True)
    for _, header in columns:
        table.add_column(header, justify="right", no_wrap=True)
    combos: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in summary:
        combos.setdefault((r["model"], r["loss"]), {})[r["set"]] = r
    for (model, loss), by_set in combos.items():
        cells = []
        for name, _ in columns:
            r = by_set.get(name)
            std = r.get(f"{metric}_std") if r and r.get("kind") == "repeats" else None
            cells.append(fmt_value(r.get(metric), std, sep="±") if r else "-")
        table.add_row(model, loss, *cells)
    return table
