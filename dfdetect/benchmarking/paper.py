"""`dfdetect benchmark --protocol paper`: train AND test at each fake:real ratio, as the paper does.

For every ratio 1:K and seed s, a training set (train_fakes fakes, K * train_fakes reals) and a
test set (test_fakes fakes, K * test_fakes reals) are drawn from disjoint groups of a cached
synthetic pool (paper_data.py); every model × loss recipe is trained on the training set with
the same number of optimisation steps whatever the set's size (so ratios differ only in their
class mix, not in compute), then scored on the test set. K seeds give mean ± std and a 95 %
t-interval per cell.

This answers "does a detector trained under imbalance keep its AUC, and does the AUC loss help?".
The test-only protocol (runner.py) answers "does the test set's ratio change the measured AUC of
one detector trained at a fixed ratio?" (in expectation it does not).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from dfdetect import console
from dfdetect.errors import UsageError

PAPER_MODELS = ("dual", "meso4", "cnn")
PAPER_LOSSES = ("bce", "auc", "auc+fb")
PAPER_RATIOS = ("1:10", "1:20", "1:30", "1:100", "1:200")
MIN_TRAIN_FAKES, MIN_TEST_FAKES = 8, 10
#: Quick settings for the hundreds of cells of this protocol: timm's tiny `test_resnet` backbone
#: (a 4x cheaper CPU step than resnet10t at 64 px). meso4 runs as it is.
PAPER_MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "dual": {"backbone": "test_resnet", "hidden": 32, "layers": 1},
    "cnn": {"backbone": "test_resnet"},
}


@dataclass
class PaperOptions:
    models: Sequence[str] = PAPER_MODELS
    losses: Sequence[str] = PAPER_LOSSES
    ratios: Sequence[str] = PAPER_RATIOS
    seeds: int = 3
    train_fakes: int = MIN_TRAIN_FAKES
    test_fakes: int = MIN_TEST_FAKES
    steps: int = 40  # optimisation steps per cell, the same at every ratio
    epochs: int = 1  # the steps are spread over this many epochs
    batch_size: int = 16
    fake_per_batch: int = 2  # for +fb recipes
    lr: float = 1e-3
    frames: int = 4
    img_size: int = 64
    difficulty: float = 0.0
    out: Path | None = None
    cache_dir: Path | None = None  # None: $DFDETECT_CACHE or ~/.cache/dfdetect
    device: str = "auto"
    jobs: int | None = None
    seed: int = 0


@dataclass
class PaperResult:
    out_dir: Path
    pool_dir: Path
    pool_reused: bool
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per model × loss × ratio × seed
    summary: list[dict[str, Any]] = field(default_factory=list)  # one per model × loss × ratio
    timings: dict[str, float] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)


def check_paper_options(options: PaperOptions) -> list[tuple[int, int]]:
    """Refuse bad options before any work (UsageError naming the option); the parsed ratios."""
    from dfdetect.benchmarking.paper_data import FAKE_POOL
    from dfdetect.benchmarking.runner import refuse_duplicates
    from dfdetect.models import list_models
    from dfdetect.models.registry import MODELS
    from dfdetect.splitting import parse_ratio

    if options.train_fakes < MIN_TRAIN_FAKES or options.test_fakes < MIN_TEST_FAKES:
        raise UsageError(f"--train-fakes must be >= {MIN_TRAIN_FAKES} and --test-fakes >= {MIN_TEST_FAKES}: "
                         "fewer fakes make the AUC of a cell mostly noise")
    if not options.models or not options.losses or not options.ratios:
        raise UsageError("--models, --losses and --ratios need at least one entry each")
    if not 0 < options.fake_per_batch < options.batch_size:
        raise UsageError("--fake-per-batch must be between 1 and --batch-size - 1")
    refuse_duplicates(options.models, "--models")
    refuse_duplicates(options.losses, "--losses")
    ratios = [parse_ratio(r, "--ratios") for r in options.ratios]
    refuse_duplicates(ratios, "--ratios", list(options.ratios))
    widest = max(math.ceil(real / fake) for fake, real in ratios)
    if widest < FAKE_POOL:
        raise UsageError(f"--ratios {','.join(options.ratios)}: the widest ratio must hold at least {FAKE_POOL} reals "
                         f"per fake (1:{FAKE_POOL} or wider, e.g. --ratios {options.ratios[0]},1:10): the synthetic "
                         f"pool is sized by it and keeps {FAKE_POOL} times the fakes a draw needs")
    list_models()
    for name in options.models:
        MODELS.entry(name)
    return ratios


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, std, lo, hi): Student-t interval for the mean of a few seeds (std with ddof=1)."""
    import numpy as np
    from scipy.stats import t

    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if v.size == 0:
        return (math.nan,) * 4  # type: ignore[return-value]
    mean = float(v.mean())
    if v.size == 1:
        return mean, math.nan, math.nan, math.nan
    std = float(v.std(ddof=1))
    half = float(t.ppf(0.5 + level / 2, v.size - 1)) * std / math.sqrt(v.size)
    return mean, std, mean - half, mean + half


def run_paper_protocol(options: PaperOptions) -> PaperResult:
    from dfdetect.benchmarking.cells import CellSpec, parse_recipe, run_cell
    from dfdetect.benchmarking.experiment import run_pool
    from dfdetect.benchmarking.paper_data import build_pool, draw_sets, pool_spec_for
    from dfdetect.benchmarking.runner import QUICK_MODEL_OPTIONS, default_out_dir, resolve_jobs

    ratios = check_paper_options(options)
    recipes = [parse_recipe(name) for name in options.losses]
    out = Path(options.out) if options.out else default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    spec = pool_spec_for(ratios, options.train_fakes, options.test_fakes, frames=options.frames,
                         size=options.img_size, difficulty=options.difficulty, seed=options.seed)
    pool_dir, reused = build_pool(spec, Path(options.cache_dir) if options.cache_dir else None)
    result = PaperResult(out, pool_dir, reused)
    result.timings["data"] = time.perf_counter() - started
    console.info(("reusing" if reused else "built") + f" synthetic pool {pool_dir} "
                 f"({spec.n_train_real}+{spec.n_train_fake} train, {spec.n_test_real}+{spec.n_test_fake} test stacks)")

    cells, meta = [], []
    for ratio_text, ratio in zip(options.ratios, ratios):
        tag = f"1to{ratio[1]}" if ratio[0] == 1 else f"{ratio[0]}to{ratio[1]}"
        for k in range(options.seeds):
            seed = options.seed + k
            draw = draw_sets(pool_dir, ratio, options.train_fakes, options.test_fakes, seed,
                             out / "draws" / f"{tag}_s{seed}", ratio_text)
            for model in options.models:
                for recipe in recipes:
                    cells.append((CellSpec(
                        model=model, recipe=recipe, train_csv=draw.train_csv, test_csv=draw.test_csv,
                        run_dir=out / "cells" / f"{model}-{recipe.name}" / f"{tag}_s{seed}",
                        train_counts=draw.train_counts, model_options=PAPER_MODEL_OPTIONS.get(model, QUICK_MODEL_OPTIONS.get(model, {})),
                        frames=options.frames, img_size=options.img_size, batch_size=options.batch_size,
                        lr=options.lr, epochs=options.epochs,
                        samples_per_epoch=math.ceil(options.steps / options.epochs) * options.batch_size,
                        fake_per_batch=options.fake_per_batch, seed=seed, device=options.device),))
                    meta.append({"model": model, "loss": recipe.name, "ratio": ratio_text, "real_per_fake": ratio[1] / ratio[0],
                                 "seed": seed, "train_real": draw.train_counts[0], "train_fake": draw.train_counts[1]})
    jobs = resolve_jobs(options.jobs, options.device)
    console.info(f"training {len(cells)} cells ({len(options.models)} models × {len(recipes)} losses × "
                 f"{len(ratios)} ratios × {options.seeds} seeds, {options.steps} steps each), {jobs} at a time ...")
    finished = [0]
    train_start = time.perf_counter()

    def done(i: int, row: dict[str, Any]) -> None:
        finished[0] += 1
        m = meta[i]
        auc = row.get("auc")
        console.info(f"[{finished[0]}/{len(cells)}] {m['model']}+{m['loss']} {m['ratio']} seed {m['seed']}: "
                     f"AUC {'n/a' if auc is None else f'{auc:.3f}'} ({row['train_s']:.0f}s train)")

    outcomes = run_pool(run_cell, cells, jobs, on_done=done, cost=[m["real_per_fake"] for m in meta])
    result.timings["cells"] = time.perf_counter() - train_start
    result.rows = [{**m, **o} for m, o in zip(meta, outcomes)]
    result.summary = summarise(result.rows)
    result.timings["total"] = time.perf_counter() - started
    _write_outputs(result)
    return result


def summarise(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per model × loss × ratio: mean, std and 95 % t-interval over seeds, for AUC and frame AUC."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["model"], r["loss"], r["ratio"]), []).append(r)
    out = []
    for (model, loss, ratio), members in groups.items():
        row: dict[str, Any] = {"model": model, "loss": loss, "ratio": ratio,
                               "real_per_fake": members[0]["real_per_fake"], "seeds": len(members)}
        for metric in ("auc", "frame_auc"):
            mean, std, lo, hi = t_interval([m.get(metric) for m in members])
            row.update({metric: mean, f"{metric}_std": std, f"{metric}_lo": lo, f"{metric}_hi": hi})
        out.append(row)
    return out


def _write_outputs(result: PaperResult) -> None:
    import pandas as pd

    from dfdetect.report.paper_figure import plot_paper_figure
    from dfdetect.manifest import write_csv_atomic

    out = result.out_dir
    write_csv_atomic(pd.DataFrame(result.rows), out / "results.csv")
    write_csv_atomic(pd.DataFrame(result.summary), out / "summary.csv")
    result.plots.append(plot_paper_figure(result.summary, out / "auc_vs_ratio.png"))
    pd.DataFrame([{"stage": k, "seconds": round(v, 2)} for k, v in result.timings.items()]).to_csv(
        out / "timings.csv", index=False)


def paper_table(summary: Sequence[dict[str, Any]], metric: str = "auc"):
    """Rows = model × loss, columns = ratios, cells = mean ± std [95 % interval]."""
    from dfdetect.benchmarking.runner import model_loss_table

    ratios = sorted({(r["real_per_fake"], r["ratio"]) for r in summary})
    seeds = max((r["seeds"] for r in summary), default=0)
    title = (f"dfdetect benchmark --protocol paper: video {metric.upper()}, trained and tested at each "
             f"fake:real ratio (mean ± std over {seeds} seeds, [95 % interval])")
    return model_loss_table(title, [(name, name) for _, name in ratios], summary, "ratio", lambda r: _cell(r, metric))


def _cell(r: dict[str, Any], metric: str) -> str:
    mean, std, lo, hi = (r.get(f"{metric}{s}") for s in ("", "_std", "_lo", "_hi"))
    if mean is None or math.isnan(mean):
        return "n/a"
    if std is None or math.isnan(std):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {std:.3f} [{max(lo, 0.0):.2f}, {min(hi, 1.0):.2f}]"
