"""`make_splits`: manifests -> train/val/test CSVs, imbalanced test variants and splits.json."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from dfdetect.errors import DfdetectError, UsageError
from dfdetect.manifest import atomic_write, order_columns, write_csv_atomic
from dfdetect.splitting.assign import SETS, assign_sets
from dfdetect.splitting.inputs import load_manifests, relative_posix
from dfdetect.splitting.layout import SUMMARY_NAME, clear_folds_layout, remove_stale_files
from dfdetect.splitting.ratios import (
    DEFAULT_TEST_RATIOS,
    format_actual_ratio,
    parse_ratio,
    parse_ratios,
    plan_ratio,
    ratio_slug,
    ratio_text,
    stratified_order,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Independent random streams, so e.g. adding a ratio never changes the group split.
_STREAM_GROUPS, _STREAM_TRAIN_RATIO, _STREAM_TEST_RATIO = 0, 1, 2


@dataclass
class SplitFile:
    """One written CSV and what is in it."""

    file: str
    set: str
    n_real: int
    n_fake: int
    n_groups: int
    ratio: str  # achieved fake:real
    requested_ratio: str | None = None
    repeat: int | None = None
    n_views: int = 0  # re-encoded views of these videos written beside them (not counted above)

    @property
    def name(self) -> str:
        return self.file[: -len(".csv")]


@dataclass
class SplitSummary:
    """What `make_splits` wrote; `to_dict()` is the content of splits.json."""

    out_dir: Path
    files: list[SplitFile]
    seed: int
    options: dict[str, Any]
    manifests: list[str]
    n_rows: int
    n_used: int
    excluded: dict[str, int]
    sources: dict[str, str]
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def table(self) -> list[dict[str, Any]]:
        """Rows for the summary table: set x n_real x n_fake x ratio x actual x groups.

        `ratio` is the one the set is named for (test_1to4 -> 1:4, as `eval` reports it), else the
        achieved one; `actual` is the achieved fake:real where rounding moved it away from the name
        (10 reals at 1:4 keep 2 fakes: 1:5), else empty."""
        return [
            {"set": f.name, "n_real": f.n_real, "n_fake": f.n_fake, "ratio": f.requested_ratio or f.ratio,
             "actual": f.ratio if f.requested_ratio and f.ratio != f.requested_ratio else "", "groups": f.n_groups}
            for f in self.files
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "options": self.options,
            "manifests": self.manifests,
            "videos": {"rows": self.n_rows, "used": self.n_used, "excluded": self.excluded},
            "sources": self.sources,
            "files": [asdict(f) for f in self.files],
            "skipped": self.skipped,
            "warnings": self.warnings,
        }


def split_rng(seed: int, *stream: int) -> "np.random.Generator":
    import numpy as np

    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _subsample(df: "pd.DataFrame", ratio: tuple[int, int], rng: "np.random.Generator") -> tuple["pd.DataFrame", bool]:
    """Keep the rows a ratio plan asks for: fakes spread over methods, reals over datasets."""
    import pandas as pd

    reals, fakes = df[df["label"] == 0], df[df["label"] == 1]
    fake_order = stratified_order(fakes, "method", rng)
    real_order = stratified_order(reals, "dataset", rng)
    plan = plan_ratio(len(reals), len(fakes), ratio)
    kept = [reals.iloc[real_order[: plan.n_real]], fakes.iloc[fake_order[: plan.n_fake]]]
    return pd.concat(kept), plan.reals_subsampled


def describe_split(df: "pd.DataFrame", file: str, set_name: str, **extra: Any) -> SplitFile:
    n_fake = int((df["label"] == 1).sum())
    n_real = len(df) - n_fake
    return SplitFile(file=file, set=set_name, n_real=n_real, n_fake=n_fake, n_groups=int(df["group"].nunique()),
                     ratio=format_actual_ratio(n_fake, n_real), **extra)


def attach_views(info: SplitFile, part: "pd.DataFrame", views: "pd.DataFrame | None") -> tuple[SplitFile, "pd.DataFrame"]:
    """A train or val set with the re-encoded views of its videos (`extract --reencode`) added;
    the counts stay per video, `n_views` says how many views came along."""
    import pandas as pd

    if views is None or part.empty:
        return info, part
    mine = views[views["source_id"].isin(set(part["video_id"]))]
    if mine.empty:
        return info, part
    return replace(info, n_views=len(mine)), pd.concat([part, mine], ignore_index=True)


def split_frame_for_csv(df: "pd.DataFrame", set_name: str) -> "pd.DataFrame":
    out = order_columns(df.copy())
    out["split"] = set_name
    return out.sort_values("video_id", kind="stable").reset_index(drop=True)


def _coerce_ratios(values: Any, option: str = "--test-ratios") -> list[tuple[int, int]]:
    """'1:1,1:10', ['1:1', '1:10'] or [(1, 1), (1, 10)] -> validated (fake, real) pairs, no duplicates."""
    if isinstance(values, str):
        return parse_ratios(values, option)
    pairs = [parse_ratio(ratio_text(v) if isinstance(v, tuple) else v, option) for v in values]
    return list(dict.fromkeys(pairs))


def _validate_options(test_size: float, val_size: float, repeats: int, fakes_min: int | None, seed: int) -> None:
    if not 0 <= test_size < 1:
        raise UsageError(f"--test-size {test_size}: must be a fraction of groups in [0, 1), e.g. 0.2")
    if not 0 <= val_size < 1:
        raise UsageError(f"--val-size {val_size}: must be a fraction of groups in [0, 1), e.g. 0.1")
    if test_size + val_size >= 1:
        raise UsageError(f"--test-size {test_size} + --val-size {val_size} leave no groups for train; keep the sum below 1")
    if repeats < 1:
        raise UsageError(f"--repeats {repeats}: must be at least 1")
    if fakes_min is not None and fakes_min < 1:
        raise UsageError(f"--fakes-min {fakes_min}: must be at least 1")
    if seed < 0:
        raise UsageError(f"--seed {seed}: must be a non-negative integer")


def make_splits(
    manifests: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    test_size: float = 0.2,
    val_size: float = 0.1,
    test_ratios: str | Sequence[str] | Sequence[tuple[int, int]] = tuple(DEFAULT_TEST_RATIOS),
    repeats: int = 1,
    train_ratio: str | tuple[int, int] | None = None,
    fakes_min: int | None = None,
    resplit: bool = False,
    seed: int = 0,
) -> SplitSummary:
    """Split manifests into leakage-safe train/val/test CSVs plus test sets at fixed fake:real ratios.

    Writes OUT/train.csv, val.csv, test.csv, test_<f>to<r>[_r<k>].csv and splits.json; returns the
    summary. Same manifests and seed give byte-identical files.
    """

    _validate_options(test_size, val_size, repeats, fakes_min, seed)
    ratios = _coerce_ratios(test_ratios)
    train_pair = None if train_ratio is None else _coerce_ratios([train_ratio], "--train-ratio")[0]

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DfdetectError(f"{out}: exists and is not a folder; pass a folder for --out")
    loaded = load_manifests(manifests, out)
    rows = loaded.rows
    assignment = assign_sets(rows, test_size=test_size, val_size=val_size, resplit=resplit, rng=split_rng(seed, _STREAM_GROUPS))
    warnings = list(assignment.warnings)
    skipped: list[dict[str, str]] = []

    outputs: list[tuple[SplitFile, pd.DataFrame]] = []
    for set_name in SETS:
        part = rows[assignment.sets == set_name]
        if part.empty:
            continue
        if set_name == "train" and train_pair is not None:
            info, part = _train_at_ratio(part, train_pair, seed, warnings)
        else:
            info = describe_split(part, f"{set_name}.csv", set_name)
        # views go with training and validation videos; test sets hold each video once, as it is
        outputs.append(attach_views(info, part, loaded.views) if set_name != "test" else (info, part))
    test = rows[assignment.sets == "test"]
    if ratios and test.empty:
        warnings.append("no test set, so no ratio variants were written")
    elif ratios:
        outputs += _test_variants(test, ratios, repeats, fakes_min, seed, warnings, skipped)

    used = int((assignment.sets != "").sum())
    excluded = dict(sorted({**loaded.excluded, **assignment.excluded}.items()))
    summary = SplitSummary(
        out_dir=out, files=[f for f, _ in outputs], seed=seed,
        options={
            "test_size": test_size, "val_size": val_size, "test_ratios": [ratio_text(r) for r in ratios],
            "repeats": repeats, "train_ratio": ratio_text(train_pair) if train_pair else None,
            "fakes_min": fakes_min, "resplit": resplit,
        },
        manifests=[relative_posix(Path(p), out) or str(Path(p).resolve()) for p in loaded.paths],
        n_rows=loaded.n_rows, n_used=used, excluded=excluded, sources=assignment.sources,
        skipped=skipped, warnings=warnings,
    )
    _write(out, outputs, summary)
    return summary


def _train_at_ratio(
    train: "pd.DataFrame", ratio: tuple[int, int], seed: int, warnings: list[str]
) -> tuple[SplitFile, "pd.DataFrame"]:
    """--train-ratio: the paper's imbalanced training condition (fakes subsampled, reals kept)."""
    before = describe_split(train, "", "train")
    part, reals_cut = _subsample(train, ratio, split_rng(seed, _STREAM_TRAIN_RATIO))
    if (part["label"] == 1).sum() < 1 or (part["label"] == 0).sum() < 1:
        raise DfdetectError(
            f"--train-ratio {ratio_text(ratio)}: train has {before.n_real} real and {before.n_fake} "
            "fake videos, too few to reach it; choose a milder ratio"
        )
    if reals_cut:
        warnings.append(
            f"train {ratio_text(ratio)}: only {before.n_fake} fakes; kept them all and sampled "
            f"{(part['label'] == 0).sum()} of {before.n_real} reals"
        )
    return describe_split(part, "train.csv", "train", requested_ratio=ratio_text(ratio)), part


def _test_variants(
    test: "pd.DataFrame", ratios: list[tuple[int, int]], repeats: int, fakes_min: int | None, seed: int,
    warnings: list[str], skipped: list[dict[str, str]],
) -> list[tuple[SplitFile, "pd.DataFrame"]]:
    """test_<f>to<r>[_r<k>]: all real test videos, fakes subsampled (see ratios.py for the rounding)."""
    import pandas as pd

    reals, fakes = test[test["label"] == 0], test[test["label"] == 1]
    n_real, n_fake = len(reals), len(fakes)
    plans = {r: plan_ratio(n_real, n_fake, r) for r in ratios}
    for r, plan in plans.items():
        if fakes_min is not None and plan.n_fake < fakes_min:
            raise DfdetectError(
                f"test {ratio_text(r)} would hold {plan.n_fake} fake(s), below --fakes-min {fakes_min}: "
                f"{n_real} real and {n_fake} fake test videos; drop {ratio_text(r)} from --test-ratios, "
                "lower --fakes-min or add videos"
            )
        if plan.n_fake < 1 or plan.n_real < 1:
            reason = (
                f"{n_real} real test videos are too few for one fake at {ratio_text(r)} "
                f"(floor({n_real}*{r[0]}/{r[1]}) = 0)" if plan.n_fake < 1
                else f"{n_fake} fake test videos are too few for one real at {ratio_text(r)}"
            )
            skipped.append({"ratio": ratio_text(r), "reason": reason})
            warnings.append(f"skipped test {ratio_text(r)}: {reason}")
        elif plan.reals_subsampled:
            warnings.append(
                f"test {ratio_text(r)}: only {n_fake} fake test videos; kept them all and sampled "
                f"{plan.n_real} of {n_real} reals"
            )
    # One stratified order per repeat: nested prefixes, so 1:200 is a subset of 1:100.
    orders = []
    for k in range(repeats):
        rng = split_rng(seed, _STREAM_TEST_RATIO, k)
        orders.append((stratified_order(fakes, "method", rng), stratified_order(reals, "dataset", rng)))
    outputs = []
    for r, plan in plans.items():
        if plan.n_fake < 1 or plan.n_real < 1:
            continue
        for k, (fake_order, real_order) in enumerate(orders):
            part = pd.concat([reals.iloc[real_order[: plan.n_real]], fakes.iloc[fake_order[: plan.n_fake]]])
            name = f"test_{ratio_slug(r)}{f'_r{k}' if repeats > 1 else ''}.csv"
            info = describe_split(part, name, "test", requested_ratio=ratio_text(r), repeat=k if repeats > 1 else None)
            outputs.append((info, part))
    return outputs


def _write(out: Path, outputs: list[tuple[SplitFile, "pd.DataFrame"]], summary: SplitSummary) -> None:
    out.mkdir(parents=True, exist_ok=True)
    note = clear_folds_layout(out)
    if note:
        summary.warnings.append(note)
    remove_stale_files(out, {f.file for f, _ in outputs})
    for info, df in outputs:
        write_csv_atomic(split_frame_for_csv(df, info.set), out / info.file)
    text = json.dumps(summary.to_dict(), indent=2) + "\n"
    atomic_write(out / SUMMARY_NAME, lambda fh: fh.write(text.encode("utf-8")))
