"""One benchmark cell: train a model with a loss recipe on one training CSV and score one test CSV,
in memory (no checkpoint files), and the process pool that runs many cells.

A loss recipe is a registered loss name with optional modifiers joined by '+':
  `+pw`  pos_weight = n_real / n_fake of the training set (BCE's usual answer to imbalance);
  `+fb`  every batch holds `fake_per_batch` fakes (training/samplers.py ClassMixSampler), so the
         AUC loss's pairwise term always has fake × real pairs to work on.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from dfdetect.errors import UsageError

MODIFIERS = {"pw": "pos_weight = n_real / n_fake of the training set",
             "fb": "fake_per_batch fakes in every batch"}


@dataclass(frozen=True)
class Recipe:
    name: str  # as written, e.g. "auc+fb"
    loss: str
    pos_weight: bool = False
    fake_batches: bool = False


def parse_recipe(text: str) -> Recipe:
    """'bce', 'auc+fb', 'bce+pw' -> Recipe; unknown losses or modifiers are a UsageError."""
    from dfdetect.training.losses import LOSSES

    base, *mods = [p.strip() for p in text.strip().split("+")]
    LOSSES.entry(base)  # "unknown loss ...; did you mean ...?"
    bad = [m for m in mods if m not in MODIFIERS]
    if bad:
        known = ", ".join(f"+{k} ({v})" for k, v in MODIFIERS.items())
        raise UsageError(f"loss recipe '{text}': unknown modifier '+{bad[0]}'; known: {known}")
    return Recipe(text.strip(), base, "pw" in mods, "fb" in mods)


@dataclass(frozen=True)
class CellSpec:
    model: str
    recipe: Recipe
    train_csv: Path
    test_csv: Path
    run_dir: Path
    train_counts: tuple[int, int]  # (real, fake)
    model_options: dict[str, Any]
    frames: int
    img_size: int
    batch_size: int
    lr: float
    epochs: int
    samples_per_epoch: int | None
    fake_per_batch: int
    seed: int
    device: str = "cpu"
    threshold: float = 0.5


@contextmanager
def silent_stderr() -> Iterator[None]:
    """Mute dfdetect's stderr console (training logs, the 'no --val set' warning) for one cell:
    dozens of cells would bury the one progress line per cell the benchmark prints."""
    from dfdetect import console

    previous = console.stderr.quiet
    console.stderr.quiet = True
    try:
        yield
    finally:
        console.stderr.quiet = previous


def run_cell(spec: CellSpec, threads: int | None = None) -> dict[str, Any]:
    """Train and evaluate one cell; returns the metrics and timings as a flat dict."""
    import torch

    from dfdetect.device import seed_everything, select_device
    from dfdetect.evaluation.evaluate import EvalOptions, evaluate_model
    from dfdetect.training import TrainConfig
    from dfdetect.training.distributed import DistContext
    from dfdetect.training.engine import Trainer

    if threads:
        torch.set_num_threads(threads)
    seed_everything(spec.seed)
    n_real, n_fake = spec.train_counts
    r = spec.recipe
    config = TrainConfig(
        train_csv=str(spec.train_csv), val_csv=None, out=str(spec.run_dir), model=spec.model, loss=r.loss,
        epochs=spec.epochs, frames=spec.frames, img_size=spec.img_size, batch_size=spec.batch_size, lr=spec.lr,
        pos_weight=(n_real / max(n_fake, 1)) if r.pos_weight else None,
        fake_per_batch=spec.fake_per_batch if r.fake_batches else None, samples_per_epoch=spec.samples_per_epoch,
        seed=spec.seed, device=spec.device, pretrained=False, workers=0, **spec.model_options,
    )
    if (spec.run_dir / "config.json").is_file():  # this cell from an earlier benchmark into the same --out
        shutil.rmtree(spec.run_dir)
    start, cpu_start = time.perf_counter(), time.process_time()
    with silent_stderr():
        # The engine's loop without its per-epoch checkpoint files: hundreds of cells would
        # otherwise write gigabytes. The model after the last epoch is scored (no selection).
        trainer = Trainer(config, select_device(spec.device), DistContext())
        trainer.setup()
        losses = [trainer.run_epoch(epoch)["train_loss"] for epoch in range(1, spec.epochs + 1)]
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        report = evaluate_model(trainer.bare_model, trainer.ckpt_config, [spec.test_csv],
                                EvalOptions(threshold=spec.threshold, device=spec.device))
    test = report.sets[0]
    m = test.metrics
    return {"auc": m.get("auc"), "frame_auc": m.get("frame_auc"), "ap": m.get("ap"),
            "test_real": m["n_real"], "test_fake": m["n_fake"], "final_train_loss": losses[-1],
            "train_s": round(train_s, 2), "eval_s": round(time.perf_counter() - start, 2),
            "cpu_s": round(time.process_time() - cpu_start, 2)}  # this process's CPU time: wall time lies on a busy machine


def resolve_threads(jobs: int) -> int | None:
    """One thread count per --jobs, whether or not a pool is used: float sums differ with the
    thread count, and results must depend on the seed and --jobs only."""
    return max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None


def run_pool(fn: Callable[..., Any], tasks: Sequence[tuple], jobs: int,
             on_done: Callable[[int, Any], None] | None = None, cost: Sequence[float] | None = None) -> list[Any]:
    """fn(*task, threads) for every task, `jobs` processes at a time; results in task order.
    With `cost`, a pool starts the costliest tasks first (a long last task would run alone)."""
    threads = resolve_threads(jobs)
    results: list[Any] = [None] * len(tasks)
    if jobs <= 1 or len(tasks) <= 1:
        import torch

        previous = torch.get_num_threads()
        try:
            for i, task in enumerate(tasks):
                results[i] = fn(*task, threads)
                if on_done:
                    on_done(i, results[i])
        finally:
            torch.set_num_threads(previous)
        return results
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    with ProcessPoolExecutor(min(jobs, len(tasks)), mp_context=get_context("spawn")) as pool:
        order = sorted(range(len(tasks)), key=lambda i: -cost[i]) if cost else range(len(tasks))
        futures = {pool.submit(fn, *tasks[i], threads): i for i in order}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            if on_done:
                on_done(i, results[i])
    return results
