"""`dfdetect models`: the model registry as a table (or JSON)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from dfdetect import console
from dfdetect.commands._common import handle_errors
from dfdetect.errors import UsageError

# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect models",
    "dfdetect models 'meso*' --no-params",
    "dfdetect models --format json",
]


def _human(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}K"


@handle_errors
def command(
    pattern: Annotated[str, typer.Argument(help="Only names matching this glob, e.g. 'meso*'.")] = "*",
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    params: Annotated[bool, typer.Option("--params/--no-params", help="Count parameters (builds each model on the meta device).")] = True,
) -> None:
    """List the models `train --model` accepts (level, default input, parameters, options),
    the losses `train --loss` takes and the face detectors of `extract --detector`."""
    if output_format not in ("table", "json"):
        raise UsageError(f"--format must be table or json, not '{output_format}'")
    from dfdetect.models.summary import model_rows

    rows = model_rows(pattern, params=params)
    if not rows:
        import difflib

        from dfdetect.models import list_models

        close = difflib.get_close_matches(pattern, list_models(), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f" (available: {', '.join(list_models())})"
        raise UsageError(f"no model matches '{pattern}'{hint}")
    if output_format == "json":
        console.stdout.print_json(json.dumps(rows))
        return
    from rich.table import Table

    # Five narrow columns and a wrapping description fit 80 columns; the per-model options
    # (long key=value lists) get their own table below instead of a squeezed column.
    table = Table(title=r"models (train --model; logit 1 = fake; \[pretrained weights] take --pretrained)", title_justify="left")
    for column, justify in (("name", "left"), ("level", "left"), ("input T×3×H×W", "right"),
                            ("params", "right"), ("description", "left")):
        table.add_column(column, justify=justify, no_wrap=column != "description")
    for row in rows:
        pretrained = " [pretrained weights]" if row["pretrained"] else ""
        table.add_row(row["name"], row["level"], row["input"], _human(row["params"]), row["description"] + pretrained)
    console.stdout.print(table)
    options = Table(title="model options (train --backbone, --temporal, ...; auto = the model's default)",
                    title_justify="left")
    options.add_column("name", no_wrap=True)
    options.add_column("options")
    for row in rows:
        options.add_row(row["name"], ", ".join(f"{k}={'auto' if v is None else v}" for k, v in row["options"].items()) or "-")
    console.stdout.print(options)
    if pattern == "*":
        _print_backbones()
        _print_bundled()
        from dfdetect.detectors import DETECTORS, import_backends
        from dfdetect.training.losses import LOSSES

        losses = Table(title="losses (train --loss; --alpha/--gamma/--p for auc, --beta joins the levels)", title_justify="left")
        losses.add_column("name", no_wrap=True)
        losses.add_column("description")
        for entry in LOSSES:
            losses.add_row(entry.name, entry.description)
        console.stdout.print(losses)
        detectors = Table(title="face detectors (extract/predict --detector)", title_justify="left")
        detectors.add_column("name", no_wrap=True)
        detectors.add_column("description")
        import_backends()
        for entry in DETECTORS:
            detectors.add_row(entry.name, entry.description)
        console.stdout.print(detectors)


def _print_backbones() -> None:
    """Which --backbone names have ImageNet weights on this machine (usable without a network)."""
    from rich.table import Table

    from dfdetect.models.summary import backbone_rows

    table = Table(title="backbones (--backbone; ImageNet weights for --pretrained)", title_justify="left")
    for column in ("backbone", "offline", "weights from"):
        table.add_column(column)
    for row in backbone_rows():
        if row["offline"] == "package":
            where = f"package {row['package']}"
        elif row["offline"] == "cache":
            where = "an earlier download (cache)"
        elif row["package"]:
            where = "download, or pip extra [weights]"
        else:
            where = "download on first --pretrained"
        table.add_row(row["backbone"], "yes" if row["offline"] else "no", where)
    console.stdout.print(table)


def _print_bundled() -> None:
    """The checkpoint that ships with the package (`--checkpoint default`, predict's fallback)."""
    from rich.table import Table

    from dfdetect.default_model import ASSETS, CHECKPOINT_FILE, metadata

    table = Table(title="bundled checkpoint (predict/eval --checkpoint default; predict's fallback)", title_justify="left")
    for column in ("name", "model", "trained on", "out-of-fold AUC"):
        table.add_column(column, no_wrap=column == "name", overflow="fold")
    try:
        meta = metadata()
    except Exception as exc:  # a broken install: say so in the table rather than fail the listing
        table.add_row("default", "unavailable", str(exc).splitlines()[0], "")
    else:
        auc = meta.get("oof_auc")
        quality = f"{auc['auc']:.2f} [{auc['lo']:.2f}, {auc['hi']:.2f}]" if auc else "n/a"
        size = (ASSETS / CHECKPOINT_FILE).stat().st_size / 1e6 if (ASSETS / CHECKPOINT_FILE).is_file() else 0
        table.add_row("default", f"{meta.get('model', '?')} ({size:.1f} MB)", meta.get("trained_on", "?"), quality)
    console.stdout.print(table)
