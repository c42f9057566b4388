"""`dfdetect train`: train a detector on split CSVs; writes RUN/{best,last}.ckpt, config.json, metrics.csv."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Optional, get_args

import typer

from dfdetect import console
from dfdetect.commands._common import DeviceOption, SeedOption, handle_errors, prefer_passive_openmp
from dfdetect.training.config import default_text, field_default
from dfdetect.training.ema import EMA_HELP

if TYPE_CHECKING:
    from dfdetect.training.engine import TrainResult

_MODEL = "Model"
_DATA = "Data"
_OPTIM = "Optimisation"
_RUN = "Run"

# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect train splits/train.csv --val splits/val.csv --model dual --backbone resnet18 --frames 8 --epochs 10 --lr 1e-3 --batch-size 8 --no-pretrained --out runs/quick",
    "dfdetect train splits/train.csv --val splits/val.csv --config recipe.yaml --epochs 5",
    "dfdetect train --resume runs/dual --epochs 30",
]


def _d(name: str) -> str:
    """' (default X)': the effective default, read from TrainConfig (the one place defaults live)."""
    return f" (default {default_text(name)})"


def _b(name: str) -> str:
    """The default of a --x/--no-x flag, as the flag."""
    return f" (default --{'' if field_default(name) else 'no-'}{name.replace('_', '-')})"


DeviceHelp = get_args(DeviceOption)[1].help
SeedHelp = get_args(SeedOption)[1].help


@handle_errors
def command(
    train_csv: Annotated[
        Optional[str],
        typer.Argument(help="train.csv from `dfdetect split` (manifest columns). Not needed with --resume or a --config that names it.", show_default=False, metavar="TRAIN_CSV"),
    ] = None,
    config: Annotated[Optional[str], typer.Option("--config", help="YAML, TOML or JSON file of options (keys as the options: epochs, batch_size, val, ...; a run's config.json works too; paths are relative to the current folder). It sets the defaults; options typed here win.", rich_help_panel=_RUN)] = None,
    val: Annotated[Optional[str], typer.Option("--val", help="val.csv: selects best.ckpt (video AUC).", rich_help_panel=_DATA)] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Model name (`dfdetect models`)." + _d("model"), show_default=False, rich_help_panel=_MODEL)] = None,
    loss: Annotated[Optional[str], typer.Option("--loss", help="bce, auc, focal or ce." + _d("loss"), show_default=False, rich_help_panel=_OPTIM)] = None,
    backbone: Annotated[Optional[str], typer.Option("--backbone", help="resnet18..152 or a timm name (default: the model's).", rich_help_panel=_MODEL)] = None,
    temporal: Annotated[Optional[str], typer.Option("--temporal", help="gru, lstm, bigru or bilstm (default: the model's).", rich_help_panel=_MODEL)] = None,
    head: Annotated[Optional[str], typer.Option("--head", help="video, frame or dual (default: the model's).", rich_help_panel=_MODEL)] = None,
    hidden: Annotated[Optional[int], typer.Option("--hidden", help="Temporal hidden size (default: the model's).", rich_help_panel=_MODEL)] = None,
    layers: Annotated[Optional[int], typer.Option("--layers", help="Temporal layers (default: the model's).", rich_help_panel=_MODEL)] = None,
    frequency: Annotated[Optional[str], typer.Option("--frequency", help="none or dct input (default: the model's).", rich_help_panel=_MODEL)] = None,
    frames: Annotated[Optional[int], typer.Option("--frames", help="Frames per clip T (default: the model's, 32).", rich_help_panel=_DATA)] = None,
    img_size: Annotated[Optional[int], typer.Option("--img-size", help="Face size fed to the model (default: the model's; 64 for dual).", rich_help_panel=_DATA)] = None,
    augment: Annotated[Optional[str], typer.Option("--augment", help="Comma list of flip, color, xray, sbi (self-blended fakes), or none." + _d("augment"), show_default=False, rich_help_panel=_DATA)] = None,
    balance: Annotated[Optional[bool], typer.Option("--balance/--no-balance", help="Draw real and fake clips equally often." + _b("balance"), show_default=False, rich_help_panel=_DATA)] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="DataLoader worker processes (default min(4, CPUs)).", rich_help_panel=_DATA)] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", help="Epochs." + _d("epochs"), show_default=False, rich_help_panel=_OPTIM)] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", "-b", help="Videos per batch (per process under torchrun)." + _d("batch_size"), show_default=False, rich_help_panel=_OPTIM)] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Adam learning rate." + _d("lr"), show_default=False, rich_help_panel=_OPTIM)] = None,
    alpha: Annotated[Optional[float], typer.Option("--alpha", help="auc loss: weight of BCE vs the AUC term." + _d("alpha"), show_default=False, rich_help_panel=_OPTIM)] = None,
    gamma: Annotated[Optional[float], typer.Option("--gamma", help="auc loss: margin." + _d("gamma"), show_default=False, rich_help_panel=_OPTIM)] = None,
    p: Annotated[Optional[float], typer.Option("--p", help="auc loss: power." + _d("p"), show_default=False, rich_help_panel=_OPTIM)] = None,
    beta: Annotated[Optional[float], typer.Option("--beta", help="Weight of the video loss vs the frame loss." + _d("beta"), show_default=False, rich_help_panel=_OPTIM)] = None,
    pos_weight: Annotated[Optional[float], typer.Option("--pos-weight", help="BCE weight of the fake class.", rich_help_panel=_OPTIM)] = None,
    schedule: Annotated[Optional[str], typer.Option("--schedule", help="none, cosine or step (x0.1 every third of the run)." + _d("schedule"), show_default=False, rich_help_panel=_OPTIM)] = None,
    clip_grad: Annotated[Optional[float], typer.Option("--clip-grad", help="Clip the gradient norm to this value.", rich_help_panel=_OPTIM)] = None,
    ema: Annotated[Optional[float], typer.Option("--ema", help=EMA_HELP, rich_help_panel=_OPTIM)] = None,
    ema_warmup: Annotated[Optional[bool], typer.Option("--ema-warmup/--no-ema-warmup", help="With --ema: grow the decay as 1 - s^-2/3 at update s, up to DECAY (timm's warm-up), or use DECAY from the second update on." + _b("ema_warmup"), show_default=False, rich_help_panel=_OPTIM)] = None,
    early_stop: Annotated[Optional[int], typer.Option("--early-stop", help="Stop after N epochs without improvement.", rich_help_panel=_OPTIM)] = None,
    fake_per_batch: Annotated[Optional[int], typer.Option("--fake-per-batch", help="Put exactly K fakes in every batch, 1 <= K < --batch-size (imbalanced data: the AUC loss needs pairs).", rich_help_panel=_OPTIM)] = None,
    threshold_policy: Annotated[Optional[str], typer.Option("--threshold-policy", help="How the run's decision threshold is chosen on --val: balanced, or fpr:X (at most a fraction X of real videos called fake, 0 < X < 1)." + _d("threshold_policy"), show_default=False, rich_help_panel=_OPTIM)] = None,
    freeze: Annotated[Optional[int], typer.Option("--freeze", min=0, help="Keep the backbone's stem and first K stages fixed (small data; faster on a CPU)." + _d("freeze"), show_default=False, rich_help_panel=_MODEL)] = None,
    pretrained: Annotated[Optional[bool], typer.Option("--pretrained/--no-pretrained", help="Start from ImageNet weights." + _b("pretrained"), show_default=False, rich_help_panel=_MODEL)] = None,
    weights: Annotated[Optional[str], typer.Option("--weights", help="Local backbone state dict instead of a download.", rich_help_panel=_MODEL)] = None,
    init_from: Annotated[Optional[str], typer.Option("--init-from", help="Start from a dfdetect or reference-code checkpoint.", rich_help_panel=_MODEL)] = None,
    reference_positive: Annotated[Optional[str], typer.Option(
        "--reference-positive", help="What a reference-code checkpoint's output means (real or fake) when it has no label_map.",
        show_default=False, rich_help_panel=_MODEL)] = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Run folder (default runs/train/exp, exp2, ...).", rich_help_panel=_RUN)] = None,
    resume: Annotated[Optional[str], typer.Option("--resume", help="Continue the run in this folder from its last.ckpt.", rich_help_panel=_RUN)] = None,
    device: Annotated[Optional[str], typer.Option("--device", help=f"{DeviceHelp}{_d('device')}", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help=f"{SeedHelp}{_d('seed')}", show_default=False)] = None,
) -> None:
    """Train a detector (default: the paper's dual-level ResNet-50 + GRU with the AUC loss)."""
    prefer_passive_openmp()
    from dfdetect.device import validate_device_string
    from dfdetect.training import resume_config, train
    from dfdetect.training.config_file import merge_values, read_train_config, train_config_from

    # every option defaults to None: a value here was typed on the command line
    typed = {key: value for key, value in dict(
        train_csv=train_csv, val_csv=val, model=model, loss=loss, backbone=backbone, temporal=temporal, head=head,
        hidden=hidden, layers=layers, frequency=frequency, frames=frames, img_size=img_size, augment=augment,
        balance=balance, workers=workers, epochs=epochs, batch_size=batch_size, lr=lr, alpha=alpha, gamma=gamma,
        p=p, beta=beta, pos_weight=pos_weight, schedule=schedule, clip_grad=clip_grad, ema=ema,
        ema_warmup=ema_warmup, early_stop=early_stop, freeze=freeze, fake_per_batch=fake_per_batch,
        threshold_policy=threshold_policy, pretrained=pretrained, weights=weights, init_from=init_from,
        reference_positive=reference_positive, out=out, device=device, seed=seed,
    ).items() if value is not None}
    file_values = read_train_config(config) if config else {}
    if resume:
        # the saved run's options, with only those given (in the file or typed) overriding them
        given = merge_values(file_values, typed)
        if "device" in given:
            validate_device_string(given["device"])
        run_config = resume_config(resume, given)
    else:
        run_config = train_config_from(file_values, typed)
        validate_device_string(run_config.device)
        run_config.validate()  # every option checked before anything is built or loaded
    render(train(run_config))


def render(result: "TrainResult") -> None:
    """Per-epoch metrics on stdout; where the run went on stderr (rank 0 only under torchrun)."""
    from rich.table import Table

    if not result.main_process:
        return

    def fmt(value: object) -> str:
        return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"

    table = Table(title=f"training ({result.selected_on} selects best.ckpt)", title_justify="left")
    for name in ("epoch", "train_loss", "val_loss", "val_video_auc", "val_frame_auc", "lr", "time"):
        table.add_column(name, justify="right")
    for row in result.history:
        mark = " *" if row["epoch"] == result.best_epoch else ""
        table.add_row(
            f"{row['epoch']}{mark}", fmt(row["train_loss"]), fmt(row["val_loss"]), fmt(row["val_video_auc"]),
            fmt(row["val_frame_auc"]), f"{row['lr']:.2e}", f"{row['time']:.1f}s",
        )
    console.stdout.print(table)
    stop = ", stopped early" if result.stopped_early else ""
    console.info(f"best epoch {result.best_epoch}{stop}; results saved to {result.run_dir} (best.ckpt, last.ckpt, metrics.csv)")
