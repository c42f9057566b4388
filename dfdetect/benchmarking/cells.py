"""One benchmark cell: train a model with a loss recipe on one training CSV and score one test CSV,
in memory (no checkpoint files), with the experiment primitive (experiment.py).

A loss recipe is a registered loss name with optional modifiers joined by '+':
  `+pw`  pos_weight = n_real / n_fake of the training set (BCE's usual answer to imbalance);
  `+fb`  every batch holds `fake_per_batch` fakes (training/samplers.py ClassMixSampler), so the
         AUC loss's pairwise term always has fake × real pairs to work on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfdetect.errors import UsageError

if TYPE_CHECKING:
    from dfdetect.training import TrainConfig

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
    threshold: float | None = None  # None: the run's stored (calibrated) threshold, else 0.5


def cell_config(spec: CellSpec) -> "TrainConfig":
    """The TrainConfig of one cell: the recipe's loss, its modifiers, the protocol's quick settings."""
    from dfdetect.training import TrainConfig

    n_real, n_fake = spec.train_counts
    r = spec.recipe
    return TrainConfig(
        train_csv=str(spec.train_csv), val_csv=None, out=str(spec.run_dir), model=spec.model, loss=r.loss,
        epochs=spec.epochs, frames=spec.frames, img_size=spec.img_size, batch_size=spec.batch_size, lr=spec.lr,
        pos_weight=(n_real / max(n_fake, 1)) if r.pos_weight else None,
        fake_per_batch=spec.fake_per_batch if r.fake_batches else None, samples_per_epoch=spec.samples_per_epoch,
        seed=spec.seed, device=spec.device, pretrained=False, workers=0, **spec.model_options,
    )


def run_cell(spec: CellSpec, threads: int | None = None) -> dict[str, Any]:
    """Train and evaluate one cell in memory (no checkpoint files); the metrics and timings as a flat dict."""
    from dfdetect.benchmarking.experiment import run_experiment

    result = run_experiment(cell_config(spec), [spec.test_csv], spec.run_dir, save=False, overwrite=True,
                            threshold=spec.threshold, threads=threads, quiet=True)
    row = result.row()
    return {k: row[k] for k in ("auc", "frame_auc", "ap", "test_real", "test_fake", "final_train_loss",
                                "train_s", "eval_s", "cpu_s")}
