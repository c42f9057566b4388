"""`dfdetect train`: train a detector on split CSVs; writes RUN/{best,last}.ckpt, config.json, metrics.csv."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from dfdetect import console
from dfdetect.commands._common import DeviceOption, SeedOption, handle_errors, prefer_passive_openmp
from dfdetect.errors import UsageError

if TYPE_CHECKING:
    from dfdetect.training.engine import TrainResult

_MODEL = "Model"
_DATA = "Data"
_OPTIM = "Optimisation"
_RUN = "Run"

# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect train splits/train.csv --val splits/val.csv --model dual --backbone resnet18 --frames 8 --epochs 10 --lr 1e-3 --batch-size 8 --no-pretrained --out runs/quick",
    "dfdetect train splits/train.csv --val splits/val.csv --out runs/dual",
    "dfdetect train --resume runs/dual --epochs 30",
]


@handle_errors
def command(
    ctx: typer.Context,
    train_csv: Annotated[
        Optional[str],
        typer.Argument(help="train.csv from `dfdetect split` (manifest columns). Not needed with --resume.", show_default=False, metavar="TRAIN_CSV"),
    ] = None,
    val: Annotated[Optional[str], typer.Option("--val", help="val.csv: selects best.ckpt (video AUC).", rich_help_panel=_DATA)] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (`dfdetect models`).", rich_help_panel=_MODEL)] = "dual",
    loss: Annotated[str, typer.Option("--loss", help="bce, auc, focal or ce.", rich_help_panel=_OPTIM)] = "auc",
    backbone: Annotated[Optional[str], typer.Option("--backbone", help="resnet18..152 or a timm name.", rich_help_panel=_MODEL)] = None,
    temporal: Annotated[Optional[str], typer.Option("--temporal", help="gru, lstm, bigru or bilstm.", rich_help_panel=_MODEL)] = None,
    head: Annotated[Optional[str], typer.Option("--head", help="video, frame or dual.", rich_help_panel=_MODEL)] = None,
    hidden: Annotated[Optional[int], typer.Option("--hidden", help="Temporal hidden size.", rich_help_panel=_MODEL)] = None,
    layers: Annotated[Optional[int], typer.Option("--layers", help="Temporal layers.", rich_help_panel=_MODEL)] = None,
    frequency: Annotated[Optional[str], typer.Option("--frequency", help="none or dct input.", rich_help_panel=_MODEL)] = None,
    frames: Annotated[Optional[int], typer.Option("--frames", help="Frames per clip T (default: the model's, 32).", rich_help_panel=_DATA)] = None,
    img_size: Annotated[Optional[int], typer.Option("--img-size", help="Face size fed to the model (default: the model's; 64 for dual).", rich_help_panel=_DATA)] = None,
    augment: Annotated[str, typer.Option("--augment", help="Comma list of flip, color, xray, sbi (self-blended fakes), or none.", rich_help_panel=_DATA)] = "flip,color",
    balance: Annotated[bool, typer.Option("--balance", help="Draw real and fake clips equally often.", rich_help_panel=_DATA)] = False,
    workers: Annotated[Optional[int], typer.Option("--workers", help="DataLoader worker processes (default min(4, CPUs)).", rich_help_panel=_DATA)] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs.", rich_help_panel=_OPTIM)] = 20,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", help="Videos per batch (per process under torchrun).", rich_help_panel=_OPTIM)] = 16,
    lr: Annotated[float, typer.Option("--lr", help="Adam learning rate.", rich_help_panel=_OPTIM)] = 1e-4,
    alpha: Annotated[float, typer.Option("--alpha", help="auc loss: weight of BCE vs the AUC term.", rich_help_panel=_OPTIM)] = 0.5,
    gamma: Annotated[float, typer.Option("--gamma", help="auc loss: margin.", rich_help_panel=_OPTIM)] = 0.15,
    p: Annotated[float, typer.Option("--p", help="auc loss: power.", rich_help_panel=_OPTIM)] = 2.0,
    beta: Annotated[float, typer.Option("--beta", help="Weight of the video loss vs the frame loss.", rich_help_panel=_OPTIM)] = 0.6,
    pos_weight: Annotated[Optional[float], typer.Option("--pos-weight", help="BCE weight of the fake class.", rich_help_panel=_OPTIM)] = None,
    schedule: Annotated[str, typer.Option("--schedule", help="none, cosine or step (x0.1 every third of the run).", rich_help_panel=_OPTIM)] = "none",
    clip_grad: Annotated[Optional[float], typer.Option("--clip-grad", help="Clip the gradient norm to this value.", rich_help_panel=_OPTIM)] = None,
    ema: Annotated[Optional[float], typer.Option("--ema", help="Validate and save a moving average of the weights with this decay, e.g. 0.999.", rich_help_panel=_OPTIM)] = None,
    early_stop: Annotated[Optional[int], typer.Option("--early-stop", help="Stop after N epochs without improvement.", rich_help_panel=_OPTIM)] = None,
    fake_per_batch: Annotated[Optional[int], typer.Option("--fake-per-batch", help="Put exactly K fakes in every batch (imbalanced data: the AUC loss needs pairs).", rich_help_panel=_OPTIM)] = None,
    freeze: Annotated[int, typer.Option("--freeze", min=0, help="Keep the backbone's stem and first K stages fixed (small data; faster on a CPU).", rich_help_panel=_MODEL)] = 0,
    pretrained: Annotated[bool, typer.Option("--pretrained/--no-pretrained", help="Start from ImageNet weights.", rich_help_panel=_MODEL)] = True,
    weights: Annotated[Optional[str], typer.Option("--weights", help="Local backbone state dict instead of a download.", rich_help_panel=_MODEL)] = None,
    init_from: Annotated[Optional[str], typer.Option("--init-from", help="Start from a dfdetect or reference-code checkpoint.", rich_help_panel=_MODEL)] = None,
    reference_positive: Annotated[Optional[str], typer.Option(
        "--reference-positive", help="What a reference-code checkpoint's output means (real or fake) when it has no label_map.",
        show_default=False, rich_help_panel=_MODEL)] = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o", help="Run folder (default runs/train/exp, exp2, ...).", rich_help_panel=_RUN)] = None,
    resume: Annotated[Optional[str], typer.Option("--resume", help="Continue the run in this folder from its last.ckpt.", rich_help_panel=_RUN)] = None,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
) -> None:
    """Train a detector (default: the paper's dual-level ResNet-50 + GRU with the AUC loss)."""
    prefer_passive_openmp()
    from dfdetect.training.augment import parse_augment
    from dfdetect.device import validate_device_string
    from dfdetect.training import TrainConfig, resume_config, train

    validate_device_string(device)
    values = dict(
        train_csv=train_csv, val_csv=val, model=model, loss=loss, backbone=backbone, temporal=temporal, head=head,
        hidden=hidden, layers=layers, frequency=frequency, frames=frames, img_size=img_size,
        augment=list(parse_augment(augment)), balance=balance, workers=workers, epochs=epochs, batch_size=batch_size,
        lr=lr, alpha=alpha, gamma=gamma, p=p, beta=beta, pos_weight=pos_weight, schedule=schedule,
        clip_grad=clip_grad, ema=ema, early_stop=early_stop, freeze=freeze, fake_per_batch=fake_per_batch, pretrained=pretrained, weights=weights, init_from=init_from,
        reference_positive=reference_positive, out=out, device=device, seed=seed,
    )
    if resume:
        # only the options typed on the command line override the saved run's
        param_of = {"train_csv": "train_csv", "val_csv": "val"}
        given = {
            key: value for key, value in values.items()
            if value is not None
            and _given(ctx, param_of.get(key, key))
        }
        config = resume_config(resume, given)
    else:
        if not train_csv:
            raise UsageError("missing TRAIN_CSV (or --resume RUN to continue a run)")
        config = TrainConfig(**values)
    render(train(config))


def _given(ctx: typer.Context, name: str) -> bool:
    """Was this option typed on the command line (not a default)? Typer may vendor its own click,
    so the source is compared by name."""
    source = ctx.get_parameter_source(name)
    return source is not None and getattr(source, "name", "") not in ("DEFAULT", "DEFAULT_MAP")


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
