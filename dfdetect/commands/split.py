"""`dfdetect split`: leakage-safe train/val/test sets and imbalanced test sets from extract manifests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from dfdetect import console
from dfdetect.commands._common import SeedOption, handle_errors
from dfdetect.errors import UsageError

if TYPE_CHECKING:
    from dfdetect.splitting import FoldsSummary, SplitSummary

_DEFAULT_RATIOS = "1:1,1:10,1:20,1:30,1:100,1:200"

# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect split data --out splits --test-ratios 1:1,1:4",
    "dfdetect split data --out splits --train-ratio 1:10 --repeats 3",
    "dfdetect split 'data/manifest.part-*.csv' --out splits",
]


@handle_errors
def command(
    manifests: Annotated[
        list[str],
        typer.Argument(
            help="Manifest CSV(s) from `dfdetect extract`, a DATA folder, or a quoted glob of parts "
            "('DATA/manifest.part-*.csv').",
            show_default=False,
            metavar="MANIFEST",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the split CSVs and splits.json.")],
    test_size: Annotated[float, typer.Option("--test-size", help="Fraction of groups for test (without an official test split).")] = 0.2,
    val_size: Annotated[float, typer.Option("--val-size", help="Fraction of groups for val; 0 writes no val set.")] = 0.1,
    test_ratios: Annotated[
        str, typer.Option("--test-ratios", help="Comma-separated fake:real ratios; each writes test_<f>to<r>.csv. '' for none.")
    ] = _DEFAULT_RATIOS,
    repeats: Annotated[int, typer.Option("--repeats", help="Differently subsampled variants per ratio (_r0, _r1, ...).")] = 1,
    train_ratio: Annotated[
        Optional[str], typer.Option("--train-ratio", help="Subsample train fakes to this fake:real ratio, e.g. 1:10.")
    ] = None,
    fakes_min: Annotated[
        Optional[int], typer.Option("--fakes-min", help="Fail instead of skipping when a ratio variant gets fewer fakes.")
    ] = None,
    resplit: Annotated[bool, typer.Option("--resplit", help="Ignore official splits and split everything by group.")] = False,
    folds: Annotated[
        Optional[int], typer.Option("--folds", help="K identity-safe group folds instead: OUT/fold_<i>/{train,val,test}.csv, "
                                    "every video tested once; --val-size is then a fraction of each fold's training groups.")
    ] = None,
    seed: SeedOption = 0,
) -> None:
    """Split manifests into leakage-safe train/val/test sets plus test sets at fixed fake:real ratios,
    or (--folds K) into K group folds for cross-validation."""
    from dfdetect.outputs import check_output_dir
    from dfdetect.splitting import make_folds, make_splits, parse_ratios

    if folds is not None:
        changed = [name for name, value, default in (
            ("--test-size", test_size, 0.2), ("--test-ratios", test_ratios, _DEFAULT_RATIOS), ("--repeats", repeats, 1),
            ("--train-ratio", train_ratio, None), ("--fakes-min", fakes_min, None), ("--resplit", resplit, False),
        ) if value != default]
        if changed:
            raise UsageError(f"--folds makes its own test sets (one per fold); drop {', '.join(changed)}")
        render_folds(make_folds(manifests, out, folds=folds, val_size=val_size, seed=seed))
        return
    # Parse flags before reading any data, so a bad flag is a usage error (exit 2) straight away.
    ratios = parse_ratios(test_ratios, "--test-ratios")
    check_output_dir(out)
    summary = make_splits(
        manifests, out, test_size=test_size, val_size=val_size, test_ratios=ratios, repeats=repeats,
        train_ratio=train_ratio, fakes_min=fakes_min, resplit=resplit, seed=seed,
    )
    render(summary)


def render(summary: "SplitSummary") -> None:
    """The summary table on stdout; exclusions, warnings and where files went on stderr."""
    from rich.table import Table

    table = Table(title=f"splits (seed {summary.seed})", title_justify="left")
    table.add_column("set")
    rows = summary.table
    actual = any(row["actual"] for row in rows)  # the column only when rounding moved a ratio
    for name in ("n_real", "n_fake", "ratio", *(("actual",) if actual else ()), "groups"):
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(row["set"], str(row["n_real"]), str(row["n_fake"]), row["ratio"],
                      *((row["actual"],) if actual else ()), str(row["groups"]))
    if actual:
        table.caption = "ratio: the one a set is named for (as eval reports it); actual: its fake:real after rounding"
    console.stdout.print(table)
    if summary.sources:
        console.info("sets: " + ", ".join(f"{name} from {source}" for name, source in summary.sources.items()))
    if summary.excluded:
        detail = ", ".join(f"{reason}: {count}" for reason, count in summary.excluded.items())
        console.info(f"excluded {sum(summary.excluded.values())} of {summary.n_rows} videos ({detail})")
    for message in summary.warnings:
        console.warn(message)
    console.info(f"wrote {len(summary.files)} CSV files and splits.json to {summary.out_dir}")


def render_folds(summary: "FoldsSummary") -> None:
    """One row per fold (real/fake counts per set) on stdout; notes and where files went on stderr."""
    from rich.table import Table

    table = Table(title=f"{len(summary.folds)} group folds (seed {summary.seed}); real/fake videos", title_justify="left")
    for column in ("fold", "train", "val", "test", "test groups"):
        table.add_column(column, justify="left" if column == "fold" else "right")
    for row in summary.table:
        table.add_row(row["fold"], row.get("train", "-"), row.get("val", "-"), row.get("test", "-"), str(row.get("test_groups", "-")))
    console.stdout.print(table)
    if summary.excluded:
        detail = ", ".join(f"{reason}: {count}" for reason, count in summary.excluded.items())
        console.info(f"excluded {sum(summary.excluded.values())} of {summary.n_rows} videos ({detail})")
    for message in summary.warnings:
        console.warn(message)
    console.info(f"wrote {len(summary.folds)} fold folders (fold_0 ... fold_{len(summary.folds) - 1}) and folds.json to {summary.out_dir}")
