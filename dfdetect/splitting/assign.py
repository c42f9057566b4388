"""Which set (train, val or test) each video goes to: official splits first, then a stratified
group split, with no group ever in two sets.

Rules (also in the README):
- Official splits are used unless `resplit`. Official test is fixed; so is official val. Official
  train is "open": train is whatever is left, so a missing val (or test) may be carved from it.
- A video outside the official test set whose group is in it is excluded, so the official test set
  stays exactly the official list and no group leaks. One whose group is in official val joins val.
- Open groups are split by `test_size`/`val_size`, fractions of all groups (rounded half up, at
  least one group per requested set), stratified by group composition (real-only, fake-only,
  mixed, e.g. an FF++ real with its fakes) and dataset, then repaired so every set holds both
  classes.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dfdetect.errors import DfdetectError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SETS = ("train", "val", "test")
EXCLUDED_BY_TEST_GROUP = "shares a group with the official test set"


@dataclass
class Assignment:
    sets: "pd.Series"  # per row: train, val, test, or "" when excluded
    sources: dict[str, str] = field(default_factory=dict)  # set -> official / group split / ...
    excluded: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


def groups_for_fraction(fraction: float, total: int) -> int:
    return max(1, math.floor(fraction * total + 0.5)) if fraction > 0 else 0


def group_table(rows: "pd.DataFrame") -> "pd.DataFrame":
    """One row per group: n_real, n_fake, composition and dataset, sorted by group id."""
    table = rows.groupby("group", sort=True).agg(n_fake=("label", "sum"), n=("label", "size"))
    pairs = rows[["group", "dataset"]].astype(str).drop_duplicates().sort_values(["group", "dataset"])
    table["dataset"] = pairs.groupby("group", sort=True)["dataset"].agg("+".join)
    table["n_real"] = table["n"] - table["n_fake"]
    table["composition"] = "mixed"
    table.loc[table["n_fake"] == 0, "composition"] = "real"
    table.loc[table["n_real"] == 0, "composition"] = "fake"
    return table


def stratified_group_split(groups: "pd.DataFrame", targets: dict[str, int], rng: "np.random.Generator") -> dict[str, str]:
    """Assign each group (rows of `group_table`) to a set so each set gets exactly targets[set] groups.

    Groups are ordered by stratum (composition, dataset), randomly within it, and dealt out in
    that order to whichever set is furthest behind its share: systematic sampling, so every
    stratum is spread over the sets in proportion (+-1 group).
    """
    strata = groups["composition"] + "|" + groups["dataset"]
    ordered: list[str] = []
    for stratum in sorted(set(strata)):
        members = sorted(groups.index[strata == stratum].tolist())
        ordered.extend(members[i] for i in rng.permutation(len(members)))
    total = len(ordered)
    shares = {s: targets[s] / total for s in SETS if targets.get(s, 0) > 0}
    assigned = {s: 0 for s in shares}
    result: dict[str, str] = {}
    for i, group in enumerate(ordered, start=1):
        best = max(shares, key=lambda s: (shares[s] * i - assigned[s], -SETS.index(s)))
        assigned[best] += 1
        result[group] = best
    _repair_classes(result, groups, list(shares))
    return result


def _repair_classes(result: dict[str, str], groups: "pd.DataFrame", sets: list[str]) -> None:
    """Move groups so that every set holds at least one real and one fake video."""
    has = {
        "real": set(groups.index[groups["n_real"] > 0]),
        "fake": set(groups.index[groups["n_fake"] > 0]),
    }
    for _ in range(4 * len(sets)):
        members = {s: {g for g, a in result.items() if a == s} for s in sets}
        lacking = [(s, c) for s in sets for c in ("real", "fake") if not (members[s] & has[c])]
        if not lacking:
            return
        target, cls = lacking[0]
        other = "fake" if cls == "real" else "real"
        moved = False
        # Donors: the sets richest in this class first; a donor must keep both classes.
        for donor in sorted((s for s in sets if s != target), key=lambda s: -len(members[s] & has[cls])):
            for group in sorted(members[donor] & has[cls], key=lambda g: (g not in has[other], g)):
                rest = members[donor] - {group}
                if rest & has["real"] and rest & has["fake"]:
                    result[group] = target
                    moved = True
                    break
            if moved:
                break
        if not moved:
            break
    counts = {c: len(has[c]) for c in has}
    raise DfdetectError(
        f"cannot give {', '.join(sets)} both classes: {counts['real']} group(s) hold reals and "
        f"{counts['fake']} hold fakes; add videos, or lower the number of sets (--val-size 0)"
    )


def assign_sets(
    rows: "pd.DataFrame", *, test_size: float, val_size: float, resplit: bool, rng: "np.random.Generator"
) -> Assignment:
    import pandas as pd

    sets = pd.Series("", index=rows.index, dtype=object)
    official = rows["split"] if not resplit else pd.Series("", index=rows.index)
    fixed = [s for s in ("test", "val") if (official == s).any()]
    out = Assignment(sets=sets)

    open_mask = ~official.isin(fixed)
    dropped = pd.Series(False, index=rows.index)
    if "test" in fixed:
        is_test = official == "test"
        sets[is_test] = "test"
        dropped = ~is_test & rows["group"].isin(set(rows.loc[is_test, "group"]))
        if dropped.any():
            out.excluded[EXCLUDED_BY_TEST_GROUP] += int(dropped.sum())
            out.warnings.append(
                f"{int(dropped.sum())} video(s) outside the official test set share a group with it; "
                "excluded so no group is in two sets"
            )
        open_mask &= ~dropped
    if "val" in fixed:
        is_val = (official == "val") & ~dropped
        # Open videos whose group is in official val follow it there.
        is_val |= open_mask & rows["group"].isin(set(rows.loc[is_val, "group"]))
        sets[is_val] = "val"
        open_mask &= ~is_val
    for s in fixed:
        out.sources[s] = "official"

    total_groups = rows.loc[(sets != "") | open_mask, "group"].nunique()
    targets = {s: 0 for s in SETS}
    if "test" not in fixed:
        targets["test"] = groups_for_fraction(test_size, total_groups)
    if "val" not in fixed:
        targets["val"] = groups_for_fraction(val_size, total_groups)
    open_rows = rows[open_mask]
    groups = group_table(open_rows) if len(open_rows) else None
    n_open = 0 if groups is None else len(groups)
    targets["train"] = n_open - targets["test"] - targets["val"]
    if targets["train"] < 1:
        carved = [s for s in ("test", "val") if targets[s]]
        raise DfdetectError(
            f"only {n_open} group(s) to split into train{''.join('/' + s for s in carved)}: need at least "
            f"{targets['test'] + targets['val'] + 1}; add videos, lower --test-size/--val-size, or pass --resplit"
        )
    result = stratified_group_split(groups, targets, rng)
    sets[open_mask] = open_rows["group"].map(result)
    official_train = (official == "train").any()
    carved = targets["test"] + targets["val"] > 0
    for s in SETS:
        if s in out.sources or not (sets == s).any():
            continue
        if s == "train" and official_train:
            all_official = (official[open_mask] == "train").all() and not carved
            out.sources[s] = "official" if all_official else "official + group split"
        else:
            out.sources[s] = "group split"
    out.sources = {s: out.sources[s] for s in SETS if s in out.sources}
    for s in fixed:
        labels = set(rows.loc[sets == s, "label"])
        if not labels:
            out.warnings.append(f"the official {s} set is empty once videos sharing a group with test are excluded")
        elif len(labels) < 2:
            out.warnings.append(f"the official {s} set holds only {'fakes' if labels == {1} else 'reals'}")
    return out
