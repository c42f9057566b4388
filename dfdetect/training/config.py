"""TrainConfig: every option of `dfdetect train`, in one JSON-able dataclass."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfdetect.errors import DfdetectError, UsageError

SCHEDULES = ("none", "cosine", "step")
# Options a resumed run must share with the run it continues (anything else may change).
RESUME_LOCKED = (
    "train_csv", "val_csv", "model", "loss", "backbone", "temporal", "head", "hidden", "layers", "frequency",
    "frames", "img_size", "batch_size", "lr", "alpha", "gamma", "p", "beta", "pos_weight", "balance",
    "fake_per_batch", "samples_per_epoch", "augment", "schedule", "clip_grad", "freeze", "pretrained", "weights",
    "init_from", "seed", "ema", "ema_warmup",
)
# Options that change on resume without harm.
RESUME_FREE = ("epochs", "early_stop", "workers", "device", "threshold_policy")
# Fields with no option of their own on the command line: set in a --config file (or from Python).
FILE_ONLY = ("samples_per_epoch", "project")
THRESHOLD_POLICIES = ("balanced", "fpr:X")


def option_name(key: str) -> str:
    """How a user sets the field `key`: its command-line option, or its --config file key."""
    if key == "train_csv":
        return "TRAIN_CSV"
    if key == "val_csv":
        return "--val"
    if key in FILE_ONLY:
        return f"{key} (a --config file key)"
    return "--" + key.replace("_", "-")


def parse_threshold_policy(policy: str) -> tuple[str, float | None]:
    """'balanced' -> ('balanced', None); 'fpr:0.05' -> ('fpr', 0.05); anything else: a one-line UsageError."""
    text = str(policy).strip().lower()
    if text == "balanced":
        return "balanced", None
    name, _, value = text.partition(":")
    if name == "fpr":
        try:
            rate = float(value)
        except ValueError:
            rate = math.nan
        if 0.0 < rate < 1.0:
            return "fpr", rate
    raise UsageError(
        f"--threshold-policy '{policy}': use 'balanced' or 'fpr:X' with 0 < X < 1 (e.g. fpr:0.05: "
        "the threshold that calls 5% of the real validation videos fake)"
    )


@dataclass
class TrainConfig:
    """All training options. None means "the model's own default" for model options."""

    train_csv: str
    val_csv: str | None = None
    model: str = "dual"
    loss: str = "auc"
    # model options (passed to create_model; None = the model's default)
    backbone: str | None = None
    temporal: str | None = None
    head: str | None = None
    hidden: int | None = None
    layers: int | None = None
    frequency: str | None = None
    # data
    frames: int | None = None  # None: the model's input_cfg["frames"]
    img_size: int | None = None  # None: the model's input_cfg["img_size"]
    augment: list[str] = field(default_factory=lambda: ["flip", "color"])
    balance: bool = False
    # batch class mix (training/samplers.py): k fakes in every batch; None/0 = plain shuffle
    fake_per_batch: int | None = None
    samples_per_epoch: int | None = None  # None: one pass over the training set
    workers: int | None = None  # None: min(4, cpu count)
    # optimisation (paper defaults: Adam, lr 1e-4, 20 epochs, batch 16)
    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-4
    alpha: float = 0.5
    gamma: float = 0.15
    p: float = 2.0
    beta: float = 0.6
    pos_weight: float | None = None
    schedule: str = "none"
    clip_grad: float | None = None
    ema: float | None = None  # decay of the weight average (training/ema.py); None: no average
    ema_warmup: bool = True  # timm's warm-up: the decay grows as 1 - (1 + step)^-2/3 up to `ema`
    freeze: int = 0  # stem + first K backbone stages kept fixed (dfdetect/models/freezing.py)
    early_stop: int | None = None
    # weights
    pretrained: bool = True
    weights: str | None = None
    init_from: str | None = None
    reference_positive: str | None = None  # for --init-from a reference checkpoint without label_map
    # run
    out: str | None = None
    project: str = "runs/train"
    resume: str | None = None
    device: str = "auto"
    seed: int = 0
    # how the run's decision threshold is chosen after training: balanced or fpr:X (0 < X < 1)
    threshold_policy: str = "balanced"

    def model_options(self) -> dict[str, Any]:
        """Options for create_model; unset ones are dropped by create_model itself."""
        opts = {k: getattr(self, k) for k in ("backbone", "temporal", "head", "hidden", "layers", "frequency")}
        return {k: v for k, v in opts.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("fake_per_batch") == 0:  # runs saved when 0 still meant "no class mix"
            values["fake_per_batch"] = None
        return cls(**values)

    def validate(self) -> None:
        """Check values that the CLI types cannot; raise UsageError naming the flag."""
        checks = [
            (self.epochs >= 1, "--epochs must be >= 1"),
            (self.batch_size >= 1, "--batch-size must be >= 1"),
            (self.lr > 0, "--lr must be > 0"),
            (self.frames is None or self.frames >= 1, "--frames must be >= 1"),
            (self.img_size is None or self.img_size >= 8, "--img-size must be >= 8"),
            (0.0 <= self.alpha <= 1.0, "--alpha must be in [0, 1]"),
            (0.0 <= self.beta <= 1.0, "--beta must be in [0, 1]"),
            (self.gamma > 0, "--gamma must be > 0"),
            (self.p > 0, "--p must be > 0"),
            (self.pos_weight is None or self.pos_weight > 0, "--pos-weight must be > 0"),
            (self.clip_grad is None or self.clip_grad > 0, "--clip-grad must be > 0"),
            (self.freeze >= 0, "--freeze must be >= 0"),
            (self.ema is None or 0.0 < self.ema < 1.0, "--ema must be between 0 and 1, e.g. 0.99 (see --help for the decay in effect)"),
            (self.early_stop is None or self.early_stop >= 1, "--early-stop must be >= 1"),
            (self.workers is None or self.workers >= 0, "--workers must be >= 0"),
            (self.fake_per_batch is None or 0 < self.fake_per_batch < self.batch_size,
             f"--fake-per-batch must be between 1 and --batch-size - 1 ({self.batch_size - 1}); "
             "leave it out for plain shuffled batches"),
            (not (self.fake_per_batch and self.balance),
             "--balance cannot be combined with --fake-per-batch; pick one"),
            (not (self.samples_per_epoch and self.balance),
             f"--balance cannot be combined with {option_name('samples_per_epoch')}; pick one"),
            (self.samples_per_epoch is None or self.samples_per_epoch >= 1,
             f"{option_name('samples_per_epoch')} must be >= 1"),
            (self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)
        name, rate = parse_threshold_policy(self.threshold_policy)
        self.threshold_policy = name if rate is None else f"fpr:{rate:g}"  # one spelling in config.json
        self.check_augment()

    def check_augment(self) -> None:
        """--augment names known augmentations, and sbi's landmark model is installed: checked here,
        with the other options, not in a DataLoader worker after training has started."""
        from dfdetect.training.augment import parse_augment

        if "sbi" in parse_augment(self.augment):
            from dfdetect.synth.sbi import landmark_model_path

            landmark_model_path()

    def check_inputs(self) -> None:
        """The input files exist: checked first, before a model (and its pretrained download) is built."""
        from dfdetect.outputs import check_input_file

        check_input_file(self.train_csv, "the train.csv written by `dfdetect split --out SPLITS`", "TRAIN_CSV")
        if self.val_csv:
            check_input_file(self.val_csv, "the val.csv written by `dfdetect split --out SPLITS`", "--val")
        if self.weights:
            check_input_file(self.weights, "a backbone state dict (.pth) saved with torch.save", "--weights")
        if self.init_from and not Path(self.init_from).is_dir():
            check_input_file(self.init_from, "a dfdetect run folder or checkpoint file", "--init-from")


def field_default(name: str) -> Any:
    """TrainConfig's default for the field `name` (the one place defaults are written)."""
    spec = TrainConfig.__dataclass_fields__[name]
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return spec.default


def default_text(name: str) -> str:
    """A field's default as a user would type it: lists comma-joined."""
    value = field_default(name)
    return ",".join(value) if isinstance(value, list) else str(value)


def default_workers() -> int:
    return min(4, os.cpu_count() or 1)


def next_run_dir(project: str | os.PathLike[str], name: str = "exp") -> Path:
    """ultralytics style: runs/train/exp, exp2, exp3, ... (the first free one)."""
    root = Path(project)
    if not (root / name).exists():
        return root / name
    taken = [int(m.group(1) or 1) for p in root.glob(f"{name}*") if (m := re.fullmatch(rf"{name}(\d*)", p.name))]
    return root / f"{name}{max(taken, default=1) + 1}"


# What a run folder holds; a folder with anything else (a SPLITS or DATA folder) is not one.
RUN_FILES = ("config.json", "best.ckpt", "last.ckpt", "metrics.csv")


def prepare_run_dir(config: TrainConfig) -> Path:
    """The run folder for a new run: --out, or the next free runs/train/expN. Never overwrite a run.

    Nothing is created here (the engine writes the folder with the first checkpoint); a folder
    left by a run that failed before its first checkpoint (config.json only) counts as new.
    """
    from dfdetect.outputs import check_output_dir

    run_dir = Path(config.out) if config.out else next_run_dir(config.project)
    check_output_dir(run_dir)
    if (run_dir / "last.ckpt").exists() or (run_dir / "best.ckpt").exists():
        raise DfdetectError(
            f"{run_dir}: already holds a training run; continue it with --resume {run_dir} or choose another --out"
        )
    if run_dir.is_dir():
        others = sorted(p.name for p in run_dir.iterdir() if p.name not in RUN_FILES and not p.name.startswith("."))
        if others:
            shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
            raise DfdetectError(
                f"{run_dir}: holds files that are not a training run ({shown}); give --out a new or empty folder"
            )
    return run_dir


def resume_hint(run_dir: Path) -> str:
    """What to tell a user whose training stopped (Ctrl-C): the command that continues it."""
    if (run_dir / "last.ckpt").is_file():
        return f"interrupted; continue with: dfdetect train --resume {run_dir}"
    return f"interrupted before the first epoch ended; nothing was saved in {run_dir}, re-run the same command"


def load_run_config(run_dir: str | os.PathLike[str]) -> TrainConfig:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise DfdetectError(f"{run_dir}: no config.json; --resume needs a run folder written by `dfdetect train`")
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise DfdetectError(f"{path}: not valid JSON ({exc})") from None
    return TrainConfig.from_dict(data.get("train", data))


def resume_config(run_dir: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The saved config of RUN with `overrides` (options given on the command line) applied.

    An override of an option that shapes the model or the optimisation is refused: the
    continued run would not be the run that was killed.
    """
    if not (Path(run_dir) / "last.ckpt").is_file() and (Path(run_dir) / "config.json").is_file():
        raise DfdetectError(
            f"{run_dir}: no last.ckpt: that run stopped before its first epoch ended; "
            f"start it again with --out {run_dir} instead of --resume"
        )
    saved = load_run_config(run_dir)
    for key, value in (overrides or {}).items():
        if key in ("resume", "out", "project"):
            continue
        if key in ("train_csv", "val_csv") and value:
            value = str(Path(value).resolve())
        if key in RESUME_LOCKED and value != getattr(saved, key):
            raise DfdetectError(
                f"cannot resume {run_dir}: {option_name(key)} {value} differs from the run's "
                f"{getattr(saved, key)}; drop the option or start a new run with another --out"
            )
        setattr(saved, key, value)
    saved.resume = str(run_dir)
    saved.out = str(run_dir)
    return saved


def check_resume_compatible(config: TrainConfig, saved: TrainConfig, run_dir: str | os.PathLike[str]) -> None:
    """Refuse to resume with options that differ from the saved run in a locked field."""
    for key in RESUME_LOCKED:
        a, b = getattr(config, key), getattr(saved, key)
        if key in ("train_csv", "val_csv") and a and b:
            a, b = str(Path(a).resolve()), str(Path(b).resolve())
        if a != b:
            raise DfdetectError(
                f"cannot resume {run_dir}: {key.replace('_', '-')} is {getattr(config, key)!r} here but "
                f"{getattr(saved, key)!r} in the run; resume with the same options or start a new run"
            )
