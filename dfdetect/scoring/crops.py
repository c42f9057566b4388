"""Crops unlike the ones a checkpoint was trained on: a warning, or a refusal where the gap is large.

A checkpoint records the crop scale and size of its training data (`extraction` in its config).
Crops cut another way still score, but not comparably. Measured with the bundled model (scale 1.3,
160 px) on the seven fixture clips that have a face, mean |change in P(fake)| (max):
  scale 1.2: 0.030 (0.089)  1.37: 0.023 (0.042)  1.43: 0.026 (0.046)  1.5: 0.039 (0.092)
        1.7: 0.060 (0.142)  2.0: 0.095 (0.192)
  size   64: 0.088 (0.301)    80: 0.081 (0.268)   112: 0.022 (0.075)  128: 0.010 (0.028)
        224: 0.021 (0.050)
Where the line sits, and why:
- scale: the crop's side is the face box times the scale, so the face fills 1/scale of it. Within
  10 % (1.3 vs 1.43) the face's edge moves by at most ~4 % of the crop side and the scores moved by
  0.03 on average: a warning. Beyond it the shift doubles and keeps growing: refused.
- size: crops are resized to the model's input anyway. Larger crops are only downsampled (a
  warning, 0.02); smaller ones are upsampled, which blurs away the fine detail a detector learns
  from: 0.7× the trained size moved scores by 0.02, 0.5× by 0.08 (up to 0.27). Crops that need
  more than 1.5× upsampling are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from dfdetect.errors import UsageError

SCALE_TOLERANCE = 0.10  # relative difference in crop scale refused above this
SIZE_FACTOR = 1.5  # crops smaller than trained size / this (more upsampling) are refused


def trained_crops(config: Mapping[str, Any]) -> dict[str, float]:
    """The crop scale and size a checkpoint's training data had (either may be missing)."""
    from dfdetect.checkpoint import extraction_defaults

    out: dict[str, float] = {}
    for key, value in extraction_defaults(dict(config)).items():
        if key in ("scale", "size"):
            try:
                out[key] = float(value)
            except (TypeError, ValueError):
                pass
    return out


def check_crops(config: Mapping[str, Any], used: Mapping[str, Any], where: str, fix: str) -> list[str]:
    """Compare crops (`used`: scale and/or size) with the checkpoint's; return warnings, raise a
    UsageError where the gap is large. `where` names the crops ('--scale 2', 'test.csv'), `fix` says
    how to get matching ones."""
    trained = trained_crops(config)
    warnings: list[str] = []
    scale, want_scale = _number(used.get("scale")), trained.get("scale")
    if scale is not None and want_scale is not None and abs(scale - want_scale) > 1e-6:
        text = f"{where}: crops at scale {scale:g}, the checkpoint was trained on scale {want_scale:g}"
        if abs(scale - want_scale) / want_scale > SCALE_TOLERANCE + 1e-9:  # 1.43 vs 1.3 is within
            raise UsageError(f"{text}; refused above a {SCALE_TOLERANCE:.0%} difference (the face would fill a "
                             f"different share of the crop than in training, and the scores mean little); {fix}")
        warnings.append(f"{text}: the face fills a slightly different share of the crop, which moves the scores; {fix}")
    size, want_size = _number(used.get("size")), trained.get("size")
    if size is not None and want_size is not None and size != want_size:
        text = f"{where}: {size:g}-px crops, the checkpoint was trained on {want_size:g}-px crops"
        if size * SIZE_FACTOR < want_size:
            raise UsageError(f"{text}; refused when they need more than {SIZE_FACTOR:g}× upsampling (it blurs "
                             f"away the detail the model learned from); {fix}")
        warnings.append(f"{text}: they are resized to the model's input, which moves the scores; {fix}")
    return warnings


def csv_crops(path: str | Path) -> dict[str, float]:
    """The crop scale and size of a manifest-style CSV: its `scale`/`size` columns (written by
    `extract`), else the size of its first readable face stack. Mixed values give nothing."""
    import numpy as np

    from dfdetect.manifest import STATUS_OK, read_manifest, resolve_faces_path

    df = read_manifest(path, required=())
    ok = df[df["status"].astype(str).str.strip().str.lower() == STATUS_OK] if "status" in df.columns else df
    found: dict[str, float] = {}
    for key in ("scale", "size"):
        if key in ok.columns:
            values = {_number(v) for v in ok[key]} - {None}
            if len(values) == 1:
                found[key] = values.pop()
    if "size" not in found and "faces_file" in ok.columns:
        for faces in ok["faces_file"]:
            if not str(faces).strip():
                continue
            try:
                found["size"] = float(np.load(resolve_faces_path(path, faces), mmap_mode="r").shape[1])
            except (OSError, ValueError, IndexError):
                continue
            break
    return found


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN: an empty cell
