"""One experiment: train one TrainConfig, score its test sets with the one scorer, return the result.

    from dfdetect.benchmarking.experiment import run_experiment
    from dfdetect.training import TrainConfig

    result = run_experiment(TrainConfig(train_csv="SPLITS/train.csv", val_csv="SPLITS/val.csv", model="meso4"),
                            ["SPLITS/test.csv", "SPLITS/test_1to10.csv"], "runs/exp-meso4")
    result.row()      # the metrics of the first test set, with timings: one result row
    result.scores()   # one row per scored video (set, video_id, label, score)

Every study in dfdetect is this primitive in a loop: `benchmark`'s model × loss runs (runner.py),
the paper protocol's cells (cells.py), one model per fold (folds.py) and the FF++ experiments
(experiments/ffpp/). With `save=False` nothing is written: the model after the last epoch is
scored from memory (hundreds of paper cells would otherwise write gigabytes of checkpoints).
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from dfdetect.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from dfdetect.evaluation.evaluate import EvalReport, SetResult
    from dfdetect.training import TrainConfig

CHECKPOINTS = ("best", "last")


@dataclass
class ExperimentResult:
    """What one trained config scored: the scorer's report (one set per test CSV) and timings."""

    run_dir: Path
    report: "EvalReport"
    train_s: float
    eval_s: float
    cpu_s: float = 0.0  # this process's CPU time: wall time lies on a busy machine
    train_losses: list[float] = field(default_factory=list)  # per epoch; empty when a finished run was reused
    trained: bool = True  # False: a finished run in run_dir was scored without training again

    def test_set(self, index: int = 0) -> "SetResult":
        return self.report.sets[index]

    def row(self, index: int = 0) -> dict[str, Any]:
        """A flat result row for one test set: its metrics, counts and timings."""
        test = self.report.sets[index]
        m = test.metrics
        return {"set": test.name, "auc": m.get("auc"), "frame_auc": m.get("frame_auc"), "ap": m.get("ap"),
                "test_real": m["n_real"], "test_fake": m["n_fake"],
                "final_train_loss": self.train_losses[-1] if self.train_losses else None,
                "train_s": round(self.train_s, 2), "eval_s": round(self.eval_s, 2), "cpu_s": round(self.cpu_s, 2),
                "run": str(self.run_dir)}

    def scores(self) -> "pd.DataFrame":
        """One row per scored video of every test set: set, video_id, label, score (P(fake))."""
        import pandas as pd

        parts = [pd.DataFrame({"set": s.name, "video_id": s.video_ids, "label": s.labels, "score": s.video_scores})
                 for s in self.report.sets]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["set", "video_id", "label", "score"])


@contextmanager
def silent_stderr() -> Iterator[None]:
    """Mute dfdetect's stderr console (training logs, the 'no --val set' warning) for one run:
    dozens of runs would bury the one progress line per run a study prints."""
    from dfdetect import console

    previous = console.stderr.quiet
    console.stderr.quiet = True
    try:
        yield
    finally:
        console.stderr.quiet = previous


def finished_epochs(run_dir: Path) -> int:
    """Epochs a run folder's metrics.csv records (0 without one)."""
    import pandas as pd

    metrics = Path(run_dir) / "metrics.csv"
    return len(pd.read_csv(metrics)) if metrics.is_file() else 0


def run_experiment(
    config: "TrainConfig",
    test_csvs: Sequence[str | Path],
    out_dir: str | Path | None = None,
    *,
    save: bool = True,
    checkpoint: str = "best",
    resume: bool = False,
    overwrite: bool = False,
    threshold: float | None = None,
    threads: int | None = None,
    quiet: bool = False,
) -> ExperimentResult:
    """Train `config` (seeded with config.seed) and score every test CSV with the eval scorer.

    out_dir: the run folder (default config.out). save=False trains in memory and scores the model
    after the last epoch. checkpoint: which saved model is scored, "best" (selected on the
    validation set) or "last" (for a run without one). resume: a finished run in out_dir is scored
    without training again, an unfinished one continues from its last.ckpt. overwrite: an earlier
    run in out_dir is deleted first (a study re-run into the same folder); otherwise `train`
    refuses to overwrite it. threads: torch's thread count for this process (a pool worker)."""
    from dfdetect.device import seed_everything

    if checkpoint not in CHECKPOINTS:
        raise UsageError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}, got '{checkpoint}'")
    if not test_csvs:
        raise UsageError("run_experiment needs at least one test CSV")
    if threads:
        import torch

        torch.set_num_threads(threads)
    run_dir = Path(out_dir if out_dir is not None else (config.out or "runs/experiment"))
    if out_dir is not None:
        import dataclasses

        config = dataclasses.replace(config, out=str(run_dir))
    seed_everything(config.seed)
    if overwrite and not resume and (run_dir / "config.json").is_file():
        shutil.rmtree(run_dir)
    with silent_stderr() if quiet else _nothing():
        if not save:
            return _run_in_memory(config, run_dir, test_csvs, threshold)
        return _run_saved(config, run_dir, test_csvs, checkpoint, resume, threshold)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _run_saved(config: "TrainConfig", run_dir: Path, test_csvs: Sequence[str | Path], checkpoint: str, resume: bool,
               threshold: float | None) -> ExperimentResult:
    from dfdetect.checkpoint import load_model
    from dfdetect.evaluation.evaluate import EvalOptions, evaluate_model
    from dfdetect.training import resume_config, train

    start, cpu_start = time.perf_counter(), time.process_time()
    losses: list[float] = []
    done = resume and finished_epochs(run_dir) >= config.epochs and (run_dir / f"{checkpoint}.ckpt").is_file()
    if not done:
        # a killed run continues from its last.ckpt (resume=True), else a fresh one starts
        trained = train(resume_config(run_dir) if resume and (run_dir / "last.ckpt").is_file() else config)
        run_dir = Path(getattr(trained, "run_dir", run_dir))
        losses = [float(r["train_loss"]) for r in getattr(trained, "history", []) if "train_loss" in r]
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    model, ckpt_config = load_model(run_dir / f"{checkpoint}.ckpt", device="cpu")
    report = evaluate_model(model, ckpt_config, test_csvs, EvalOptions(threshold=threshold, device=config.device))
    return ExperimentResult(run_dir, report, train_s, time.perf_counter() - start,
                            time.process_time() - cpu_start, losses, trained=not done)


def _run_in_memory(config: "TrainConfig", run_dir: Path, test_csvs: Sequence[str | Path],
                   threshold: float | None) -> ExperimentResult:
    from dfdetect.device import select_device
    from dfdetect.evaluation.evaluate import EvalOptions, evaluate_model
    from dfdetect.training.distributed import DistContext
    from dfdetect.training.engine import Trainer

    start, cpu_start = time.perf_counter(), time.process_time()
    # The engine's loop without its per-epoch checkpoint files; no selection, the last epoch is scored.
    trainer = Trainer(config, select_device(config.device), DistContext())
    trainer.setup()
    losses = [trainer.run_epoch(epoch)["train_loss"] for epoch in range(1, config.epochs + 1)]
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    report = evaluate_model(trainer.bare_model, trainer.ckpt_config, test_csvs,
                            EvalOptions(threshold=threshold, device=config.device))
    return ExperimentResult(run_dir, report, train_s, time.perf_counter() - start,
                            time.process_time() - cpu_start, losses)


# The process pool that runs many experiments (benchmark's model × loss pairs, folds, paper cells).


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
