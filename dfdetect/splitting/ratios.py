"""Imbalance ratios (written fake:real, fakes first, as in the paper) and the subsampling they need.

Rounding rule: a set of R real videos at ratio f:r gets n_fake = floor(R * f / r) fakes, so the
achieved imbalance is never milder than the one asked for. When there are fewer fakes than that
(typically 1:1 on a dataset short of fakes), every fake is kept and the reals are subsampled to
n_real = floor(F * r / f) instead, so the file still has the ratio its name promises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from dfdetect.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_TEST_RATIOS = ["1:1", "1:10", "1:20", "1:30", "1:100", "1:200"]

_RATIO = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


def parse_ratio(text: str, option: str = "--test-ratios") -> tuple[int, int]:
    """'1:10' -> (1, 10), i.e. (fake, real). Raises UsageError (exit 2) on anything else."""
    match = _RATIO.match(str(text))
    if not match:
        raise UsageError(
            f"{option}: '{text}' is not a ratio; write fake:real as two positive integers, e.g. 1:10"
        )
    fake, real = int(match.group(1)), int(match.group(2))
    if fake == 0 and real == 0:
        raise UsageError(f"{option}: '{text}' has neither fakes nor reals; write fake:real, e.g. 1:10")
    if fake == 0:
        raise UsageError(
            f"{option}: '{text}' asks for no fake videos, so AUC is undefined; use at least 1 fake, e.g. 1:{real}"
        )
    if real == 0:
        raise UsageError(
            f"{option}: '{text}' asks for no real videos, so AUC is undefined; use at least 1 real, e.g. {fake}:1"
        )
    return fake, real


def parse_ratios(values: str | Sequence[str], option: str = "--test-ratios") -> list[tuple[int, int]]:
    """'1:1,1:10' or ['1:1', '1:10'] -> [(1, 1), (1, 10)], duplicates dropped, order kept."""
    items = values.split(",") if isinstance(values, str) else [p for v in values for p in str(v).split(",")]
    ratios: list[tuple[int, int]] = []
    for item in items:
        if not item.strip():
            continue
        ratio = parse_ratio(item, option)
        if ratio not in ratios:
            ratios.append(ratio)
    return ratios


def ratio_text(ratio: tuple[int, int]) -> str:
    return f"{ratio[0]}:{ratio[1]}"


def ratio_slug(ratio: tuple[int, int]) -> str:
    """(1, 10) -> '1to10', the form used in file names (test_1to10.csv)."""
    return f"{ratio[0]}to{ratio[1]}"


def format_actual_ratio(n_fake: int, n_real: int) -> str:
    """The achieved fake:real ratio, normalised so that the smaller side is 1 ('1:10.2', '4.5:1')."""
    if n_fake == 0 and n_real == 0:
        return "-"
    if n_fake == 0:
        return f"0:{n_real}"
    if n_real == 0:
        return f"{n_fake}:0"
    if n_fake <= n_real:
        return f"1:{n_real / n_fake:.4g}"
    return f"{n_fake / n_real:.4g}:1"


@dataclass(frozen=True)
class RatioPlan:
    """How many videos of each class a ratio variant keeps, and why."""

    n_real: int
    n_fake: int
    reals_subsampled: bool  # True when fakes were short and reals were cut instead


def plan_ratio(n_real: int, n_fake: int, ratio: tuple[int, int]) -> RatioPlan:
    """Counts for `ratio` from a pool of n_real reals and n_fake fakes (see module docstring)."""
    fake, real = ratio
    want_fake = n_real * fake // real
    if want_fake <= n_fake:
        return RatioPlan(n_real=n_real, n_fake=want_fake, reals_subsampled=False)
    return RatioPlan(n_real=n_fake * real // fake, n_fake=n_fake, reals_subsampled=True)


def stratified_order(df: "pd.DataFrame", by: str, rng: "np.random.Generator") -> list[int]:
    """Row positions in an order whose every prefix is spread proportionally over `by`.

    Each row gets the key (rank within its stratum + a per-stratum random offset) / stratum size,
    ranks coming from a random permutation; sorting by that key interleaves the strata, so taking
    the first k rows samples every stratum (e.g. every manipulation method) in proportion (+-1).
    Prefixes are nested, so with one order per repeat 1:200 is a subset of 1:100 and so on.
    """
    import numpy as np

    n = len(df)
    if n == 0:
        return []
    strata = df[by].astype(str).to_numpy()
    noise = rng.random(n)
    keys = np.empty(n)
    for value in sorted(set(strata)):
        members = np.flatnonzero(strata == value)
        ranks = np.empty(len(members))
        ranks[np.argsort(noise[members], kind="stable")] = np.arange(len(members))
        keys[members] = (ranks + rng.random()) / len(members)
    return list(np.lexsort((np.arange(n), keys)))
