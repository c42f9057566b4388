"""`--perturbations SPEC`: which perturbations at which levels.

Grammar (spaces are ignored, names are case-insensitive):
    SPEC   := 'all' | ITEM (';' ITEM)*
    ITEM   := NAME | NAME ':' LEVELS
    LEVELS := RANGE (',' RANGE)*
    RANGE  := N | N '-' M          (levels 1..5; 1 = mildest, 5 = worst)
A NAME without levels means all five. Examples: `all`, `h264:3,5;blur:1-5`, `reencode:1,5;noise`.
Every mistake is one UsageError naming what is valid, raised before anything is written.
"""

from __future__ import annotations

import re

from dfdetect.errors import UsageError
from dfdetect.robustness import distortions, video  # noqa: F401  (they fill the registry)
from dfdetect.robustness.registry import Perturbation, all_perturbations, get_perturbation

DEFAULT_SPEC = "all"
GRAMMAR = "NAME[:LEVELS] joined by ';', LEVELS like 1,3 or 2-5 (e.g. 'h264:3,5;blur:1-5', or 'all')"
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def _names() -> str:
    return ", ".join(p.name for p in all_perturbations())


def _levels(name: str, text: str, valid: tuple[int, ...]) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        m = _RANGE.match(part)
        if not m:
            raise UsageError(f"--perturbations: bad level '{part or text}' for {name}; levels are "
                             f"{valid[0]}-{valid[-1]}, written like 3 or 1,3 or 2-5")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo > hi or lo not in valid or hi not in valid:
            raise UsageError(f"--perturbations: level {part} of {name} is out of range; its levels are "
                             f"{valid[0]}-{valid[-1]} (1 = mildest)")
        out += [lv for lv in range(lo, hi + 1) if lv not in out]
    return sorted(out)


def parse_spec(spec: str | None) -> list[tuple[Perturbation, int]]:
    """'h264:3,5;blur:1-5' -> [(h264, 3), (h264, 5), (blur, 1), ...] in registry order."""
    text = re.sub(r"\s+", "", spec if spec is not None else DEFAULT_SPEC).lower()
    if not text:
        raise UsageError(f"--perturbations is empty; write {GRAMMAR}")
    wanted: dict[str, list[int]] = {}
    if text in ("all", "default"):
        return [(p, lv) for p in all_perturbations() for lv in p.levels]
    for item in text.split(";"):
        if not item:
            continue
        name, sep, levels = item.partition(":")
        if not name:
            raise UsageError(f"--perturbations: '{item}' names no perturbation; write {GRAMMAR}")
        try:
            pert = get_perturbation(name)
        except UsageError as exc:
            raise UsageError(f"--perturbations: {exc}") from None
        if sep and not levels:
            raise UsageError(f"--perturbations: '{item}' has ':' but no levels; write e.g. {name}:1-5")
        chosen = _levels(name, levels, pert.levels) if sep else list(pert.levels)
        wanted[name] = sorted(set(wanted.get(name, [])) | set(chosen))
    if not wanted:
        raise UsageError(f"--perturbations names nothing; write {GRAMMAR}")
    return [(p, lv) for p in all_perturbations() if p.name in wanted for lv in wanted[p.name]]


def describe_perturbations() -> list[dict[str, str]]:
    """One row per perturbation: name, what it does, its parameter per level (for --help and docs)."""
    return [{"name": p.name, "description": p.description,
             "levels": f"{p.param_name} " + ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in p.params)}
            for p in all_perturbations()]
