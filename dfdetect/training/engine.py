"""The training engine behind `dfdetect train` (and `torchrun ... dfdetect train`)."""

from __future__ import annotations

import inspect
import json
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfdetect import __version__, console
from dfdetect.errors import DfdetectError
from dfdetect.training.config import (
    TrainConfig,
    check_resume_compatible,
    default_workers,
    load_run_config,
    prepare_run_dir,
)
from dfdetect.training.distributed import DistContext
from dfdetect.training.validate import epoch_line

if TYPE_CHECKING:
    import torch

METRIC_COLUMNS = ["epoch", "train_loss", "val_loss", "val_video_auc", "val_frame_auc", "lr", "time"]


@dataclass
class TrainResult:
    run_dir: Path
    best_val_auc: float | None  # None when selection fell back to loss
    best_epoch: int | None
    epochs_run: int
    selected_on: str  # "val_video_auc", "val_loss" or "train_loss"
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    main_process: bool = True  # False on DDP ranks other than 0, which render nothing


def train(config: TrainConfig) -> TrainResult:
    """Train a model as `config` says; write RUN/{best,last}.ckpt, config.json and metrics.csv."""
    from dfdetect.device import select_device

    config.validate()
    config.check_inputs()
    device = select_device(config.device)
    dist = DistContext.from_env(device.type)
    try:
        if dist.enabled and device.type == "cuda":
            import torch

            device = torch.device("cuda", dist.local_rank)
            torch.cuda.set_device(device)
        return Trainer(config, device, dist).run()
    finally:
        dist.close()


def _loss_options(config: TrainConfig) -> dict[str, Any]:
    """The loss options the chosen loss takes (alpha/gamma/p mean the AUC loss's only)."""
    from dfdetect.training.losses import LOSSES

    wanted = {"pos_weight": config.pos_weight}
    if config.loss == "auc":
        wanted.update(alpha=config.alpha, gamma=config.gamma, p=config.p)
    accepted = set(inspect.signature(LOSSES.get(config.loss)).parameters)
    return {k: v for k, v in wanted.items() if k in accepted and v is not None}


class Trainer:
    def __init__(self, config: TrainConfig, device: "torch.device", dist: DistContext) -> None:
        self.config, self.device, self.dist = config, device, dist
        self.main = dist.is_main

    # ---------------------------------------------------------------- setup
    def _run_dir(self) -> Path:
        c = self.config
        if c.resume:
            run_dir = Path(c.resume)
            check_resume_compatible(c, load_run_config(run_dir), run_dir)
            if not (run_dir / "last.ckpt").is_file():
                raise DfdetectError(f"{run_dir}: no last.ckpt to resume from; start a new run instead")
            return run_dir
        # rank 0 picks the folder; an error there must stop every rank, not leave them waiting
        chosen: tuple[str | None, str | None] = (None, None)
        if self.main:
            try:
                chosen = (str(prepare_run_dir(c)), None)
            except DfdetectError as exc:
                chosen = (None, str(exc))
        run_dir, error = self.dist.broadcast_object(chosen)
        if error:
            raise DfdetectError(error)
        return Path(run_dir)

    def _data(self) -> None:
        from dfdetect.training.data import EpochSampler, FaceStackDataset, balanced_weights, class_counts, make_loader

        c = self.config
        self.train_set = FaceStackDataset(
            c.train_csv, frames=self.frames, img_size=self.img_size, train=True, augment=c.augment, seed=c.seed
        )
        # blended fakes (--augment sbi/xray) count: real videos alone can train a detector (as in SBI)
        labels = self.train_set.labels()
        n_real, n_fake = int((labels == 0).sum()), int((labels == 1).sum())
        if n_real == 0 or n_fake == 0:
            only = "fake" if n_real == 0 else "real"
            raise DfdetectError(
                f"{c.train_csv}: every usable video is {only} ({len(self.train_set.records)}); training needs "
                "both real and fake videos (or real ones with --augment sbi), check the labels or the split"
            )
        weights = balanced_weights(self.train_set.labels()) if c.balance else None
        workers = default_workers() if c.workers is None else c.workers
        pin = self.device.type == "cuda"
        shard = dict(num_replicas=self.dist.world_size, rank=self.dist.rank)
        if c.fake_per_batch or c.samples_per_epoch:
            from dfdetect.training.samplers import ClassMixSampler

            self.train_sampler = ClassMixSampler(self.train_set.labels(), c.batch_size, fakes_per_batch=c.fake_per_batch or 0,
                                                 samples_per_epoch=c.samples_per_epoch, seed=c.seed, **shard)
        else:
            self.train_sampler = EpochSampler(len(self.train_set), shuffle=True, seed=c.seed, weights=weights, **shard)
        self.train_loader = make_loader(self.train_set, self.train_sampler, c.batch_size, workers, pin)
        self.val_loader = None
        self.select_on = "val_video_auc"
        if c.val_csv:
            val_set = FaceStackDataset(c.val_csv, frames=self.frames, img_size=self.img_size, train=False, role="validation")
            if 0 in class_counts(val_set.records):
                if self.main:
                    console.warn(f"{c.val_csv}: holds one class only; AUC is undefined, so best.ckpt is selected on val loss")
                self.select_on = "val_loss"
            sampler = EpochSampler(len(val_set), shuffle=False, **shard)
            self.val_loader = make_loader(val_set, sampler, c.batch_size, workers, pin)
        else:
            if self.main:
                console.warn("no --val set: best.ckpt is selected on the training loss")
            self.select_on = "train_loss"
        self.extraction = self.train_set.extraction

    def _model(self) -> None:
        import torch

        from dfdetect.models import create_model, model_info

        c = self.config
        info = model_info(c.model)
        self.level = info["level"]
        pretrained = c.pretrained and bool(info.get("has_pretrained", True)) and not c.weights
        torch.manual_seed(c.seed)
        model = create_model(
            c.model, pretrained=pretrained, weights_path=c.weights,
            frames=c.frames, img_size=c.img_size, **c.model_options(),
        )
        cfg = model.input_cfg
        self.frames, self.img_size = int(cfg["frames"]), int(cfg["img_size"])
        self.mean, self.std = list(cfg["mean"]), list(cfg["std"])
        if c.init_from and not c.resume:
            from dfdetect.checkpoint import init_weights_from

            source = init_weights_from(model, c.init_from, c.reference_positive)
            if self.main:
                console.info(f"initialised weights from {c.init_from} ({source})")
        if c.freeze:
            from dfdetect.models.freezing import freeze_stages

            frozen = freeze_stages(model, c.freeze)
            if self.main:
                console.info(f"--freeze {c.freeze}: {frozen:,} backbone parameters kept fixed")
        # channels_last pays on CUDA (tensor cores); 5-D (video) convs cannot use it
        self.channels_last = self.device.type == "cuda" and all(p.dim() != 5 for p in model.parameters())
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.bare_model = model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
        self.model = model

    def _checkpoint_config(self) -> dict[str, Any]:
        m = self.bare_model
        return {
            "model": self.config.model,
            "model_options": dict(getattr(m, "model_options", {})),
            "level": self.level,
            "img_size": self.img_size,
            "frames": self.frames,
            "mean": self.mean,
            "std": self.std,
            "pretrained": bool(getattr(m, "pretrained", self.config.pretrained)),
            "pretrained_source": getattr(m, "pretrained_source", None),
            "init_from": self.config.init_from,
            "loss": {"name": self.config.loss, **_loss_options(self.config), "beta": self.config.beta},
            "extraction": self.extraction,
            "dfdetect_version": __version__,
            "train": self.config.to_dict(),
        }

    # ---------------------------------------------------------------- loop
    def setup(self) -> int:
        """Build the run folder, model, data, loss and optimiser; restore state on resume.
        Returns the first epoch to run. (benchmarks/train_speed.py drives `_step` after this.)"""
        import torch

        from dfdetect.device import seed_everything
        from dfdetect.training.losses import DualLevelLoss, create_loss
        from dfdetect.training.state import amp_setup, make_optimizer, make_scheduler

        c = self.config
        for key in ("train_csv", "val_csv"):
            if getattr(c, key):
                setattr(c, key, str(Path(getattr(c, key)).resolve()))
        if c.augment:
            from dfdetect.training.augment import parse_augment

            c.augment = list(parse_augment(c.augment))
        self.run_dir = self._run_dir()
        seed_everything(c.seed)
        torch.manual_seed(c.seed)
        self._model()
        self._data()
        self.loss_fn = DualLevelLoss(create_loss(c.loss, **_loss_options(c)), beta=c.beta)
        self.optimizer = make_optimizer(self.model, c)
        self.scheduler = make_scheduler(self.optimizer, c)
        self.autocast, self.scaler, precision = amp_setup(self.device)
        self.average = None
        if c.ema:
            from dfdetect.training.ema import WeightAverage

            self.average = WeightAverage(self.bare_model, c.ema, c.ema_warmup)
        self.ckpt_config = self._checkpoint_config()
        start_epoch, self.history = 1, []
        self.best_metric, self.best_epoch, self.since_best = None, None, 0
        if c.resume:
            start_epoch = self._restore()
        if self.main:
            console.info(
                f"training {c.model} ({self.level}) on {len(self.train_set)} clips x {self.frames} frames at "
                f"{self.img_size}px, {self.device} {precision}"
                + (f", weight average {c.ema}" if c.ema else "")
                + (f", {self.dist.world_size} processes" if self.dist.enabled else "")
                + f" -> {self.run_dir}"
            )
            if c.ema:
                from dfdetect.training.ema import short_run_warning

                # a run too short for the warm-up to reach DECAY averages with a smaller decay: say so
                warning = short_run_warning(c.ema, c.ema_warmup, c.epochs * len(self.train_loader))
                if warning:
                    console.warn(warning)
        return start_epoch

    def run(self) -> TrainResult:
        try:
            return self._run()
        except KeyboardInterrupt:
            from dfdetect.errors import Interrupted
            from dfdetect.training.config import resume_hint

            run_dir = getattr(self, "run_dir", None)
            raise Interrupted(resume_hint(run_dir) if run_dir is not None else "interrupted") from None

    def _run(self) -> TrainResult:
        c = self.config
        start_epoch = self.setup()
        stopped_early = False
        epoch = start_epoch - 1
        for epoch in range(start_epoch, c.epochs + 1):
            row = self.run_epoch(epoch)
            self.history.append(row)
            improved = self._update_best(row)
            self._save(epoch, improved)
            if self.main:
                ema_note = f"  {self.average.describe()}" if self.average is not None else ""
                console.info(epoch_line(row, c.epochs, improved) + ema_note)
            if c.early_stop and self.since_best >= c.early_stop:
                stopped_early = True
                if self.main:
                    console.info(f"early stop: no improvement in {self.select_on} for {c.early_stop} epochs")
                break
        if self.main:  # calibration and threshold on --val with best.ckpt's weights (training/calibrate.py)
            from dfdetect.training.calibrate import calibrate_run

            calibrate_run(self.run_dir, c, self.device)
        self.dist.barrier()
        auc = self.best_metric if self.select_on == "val_video_auc" else None
        return TrainResult(
            self.run_dir, auc, self.best_epoch, len(self.history), self.select_on, stopped_early, self.history, self.main
        )

    def _prepare(self, batch: dict[str, Any]) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
        from dfdetect.preprocess import preprocess_batch

        x = preprocess_batch(batch["frames"], self.img_size, self.mean, self.std, self.device)
        y = batch["label"].to(self.device, non_blocking=True)
        mask = batch["mask"].to(self.device, non_blocking=True)
        return x, y, mask

    def run_epoch(self, epoch: int) -> dict[str, Any]:
        import torch

        from dfdetect.training.validate import run_validation

        c = self.config
        started = time.perf_counter()
        torch.manual_seed(c.seed * 1_000_003 + epoch)  # dropout etc.: a function of (seed, epoch) only
        self.train_sampler.set_epoch(epoch)
        self.model.train()
        lr = self.optimizer.param_groups[0]["lr"]
        loss_sum, steps = 0.0, 0
        progress = console.make_progress(transient=True) if self.main else None
        with progress if progress is not None else nullcontext():
            task = progress.add_task(f"epoch {epoch}/{c.epochs}", total=len(self.train_loader), status="") if progress else None
            for batch in self.train_loader:
                loss = self._step(batch, epoch)
                loss_sum += loss
                steps += 1
                if progress is not None:
                    progress.update(task, advance=1, status=f"loss {loss_sum / steps:.4f}")
        if self.scheduler is not None:
            self.scheduler.step()
        val = run_validation(self._kept_model(), self.val_loader, self.loss_fn, self._prepare, self.autocast, self.dist) if self.val_loader else None
        return {
            "epoch": epoch,
            "train_loss": loss_sum / max(steps, 1),
            "val_loss": val.loss if val else math.nan,
            "val_video_auc": val.video_auc if val else math.nan,
            "val_frame_auc": val.frame_auc if val else math.nan,
            "lr": lr,
            "time": round(time.perf_counter() - started, 3),
        }

    def _step(self, batch: dict[str, Any], epoch: int) -> float:
        import torch

        x, y, mask = self._prepare(batch)
        with self.autocast():
            outputs = self.model(x)
        loss, _ = self.loss_fn(outputs, y, mask)
        mean_loss = self.dist.mean_scalar(loss.detach())
        if not torch.isfinite(mean_loss):
            ids = ", ".join(batch["video_id"][:8]) + (" ..." if len(batch["video_id"]) > 8 else "")
            raise DfdetectError(
                f"loss is {float(mean_loss)} at epoch {epoch} (batch videos: {ids}); "
                "lower --lr, add --clip-grad, or check those face stacks"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.clip_grad:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.average is not None:
            self.average.update(self.bare_model)
        return float(mean_loss)

    def _kept_model(self) -> "torch.nn.Module":
        """What is validated and saved: the weight average under --ema, else the model itself."""
        return self.average.module if self.average is not None else self.model

    # ---------------------------------------------------------------- selection and files
    def _update_best(self, row: dict[str, Any]) -> bool:
        value = row[self.select_on]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            self.since_best += 1
            return False
        higher_is_better = self.select_on == "val_video_auc"
        better = self.best_metric is None or (value > self.best_metric if higher_is_better else value < self.best_metric)
        if better:
            self.best_metric, self.best_epoch, self.since_best = float(value), row["epoch"], 0
        else:
            self.since_best += 1
        return better

    def _save(self, epoch: int, improved: bool) -> None:
        import pandas as pd

        from dfdetect.checkpoint import save_checkpoint
        from dfdetect.manifest import write_csv_atomic
        from dfdetect.training.state import make_train_state

        if self.main:
            if not getattr(self, "_config_written", False):  # the run's files appear with its first checkpoint
                self._config_written = True
                self.run_dir.mkdir(parents=True, exist_ok=True)
                (self.run_dir / "config.json").write_text(json.dumps(self.ckpt_config, indent=2, sort_keys=True) + "\n")
            config = {**self.ckpt_config, "epoch": epoch}
            if improved:
                save_checkpoint(self.run_dir / "best.ckpt", self._kept_model(), {**config, self.select_on: self.best_metric})
            state = make_train_state(
                epoch=epoch, optimizer=self.optimizer, scheduler=self.scheduler, scaler=self.scaler,
                best_metric=self.best_metric, best_epoch=self.best_epoch, epochs_since_best=self.since_best,
                history=self.history, extra=self.average.state(self.bare_model) if self.average is not None else None,
            )
            save_checkpoint(self.run_dir / "last.ckpt", self._kept_model(), config, state)
            write_csv_atomic(pd.DataFrame(self.history, columns=METRIC_COLUMNS), self.run_dir / "metrics.csv")
        self.dist.barrier()

    def _restore(self) -> int:
        from dfdetect.training.state import restore_train_state

        state = restore_train_state(self.run_dir / "last.ckpt", self.bare_model, self.optimizer, self.scheduler, self.scaler,
                                    self.average)
        self.best_metric, self.best_epoch = state["best_metric"], state["best_epoch"]
        self.since_best, self.history = state["epochs_since_best"], state["history"]
        if self.main:
            console.info(f"resuming {self.run_dir} after epoch {state['epoch']}")
            (self.run_dir / "config.json").write_text(json.dumps(self.ckpt_config, indent=2, sort_keys=True) + "\n")
        return state["epoch"] + 1
