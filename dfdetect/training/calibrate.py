"""After training: fit the calibration and the decision threshold on the validation videos.

best.ckpt's weights score every --val video through the same scorer eval and predict use
(dfdetect.scoring.inference.StackScorer, uncalibrated here), then dfdetect.evaluation.calibration
fits temperature (or Platt) scaling and picks the threshold by `threshold_policy`. The result is
recorded in best.ckpt's config and RUN/config.json as `calibration`, plain data only. Test data
never comes near it: only --val is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dfdetect import console
from dfdetect.errors import DfdetectError

if TYPE_CHECKING:
    import torch

    from dfdetect.evaluation.calibration import Calibration
    from dfdetect.training.config import TrainConfig

NO_CALIBRATION = "fake_prob stays the model's raw output and the threshold 0.5"
FEW_VAL = 50  # below this many validation videos the fit is noisy (benchmarks/calibration_check.py)


def score_validation(model: Any, config: dict[str, Any], val_csv: str | Path, device: "torch.device | str",
                     batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(labels, raw video probabilities) of the scorable --val videos (empty stacks left out)."""
    from dfdetect.scoring.inference import StackScorer, check_finite
    from dfdetect.training.data import load_split

    records, _ = load_split(val_csv, role="validation")
    scorer = StackScorer(model, config, device, batch_size=batch_size, calibrated=False)
    stacks = ((i, np.load(r.faces_path, mmap_mode="r")) for i, r in enumerate(records))
    labels, probs = [], []
    for i, prob, frame_probs in scorer.score_many(stacks):
        record = records[i]
        if np.isnan(prob) and len(frame_probs) == 0:
            continue  # an empty stack: no face, nothing to calibrate on
        check_finite(record.video_id, prob, frame_probs, "best.ckpt")
        labels.append(record.label)
        probs.append(prob)
    return np.asarray(labels, dtype=np.int64), np.asarray(probs, dtype=np.float64)


def calibrate_run(run_dir: Path, config: "TrainConfig", device: "torch.device | str") -> "Calibration | None":
    """Fit and record the calibration of RUN/best.ckpt on config.val_csv; None (said once) when
    there is nothing to fit it on."""
    from dfdetect.checkpoint import BEST, build_from_checkpoint, read_checkpoint, update_checkpoint_config
    from dfdetect.evaluation.calibration import fit_calibration

    best = Path(run_dir) / BEST
    if not config.val_csv:
        console.info(f"no --val set: no calibration; {NO_CALIBRATION}")
        return None
    if not best.is_file():
        console.warn(f"no {BEST} was saved: no calibration")
        return None
    model, ckpt_config = build_from_checkpoint(read_checkpoint(best), best)
    model.to(device).eval()
    labels, probs = score_validation(model, ckpt_config, config.val_csv, device, config.batch_size)
    n_fake = int(labels.sum())
    if n_fake == 0 or n_fake == len(labels):
        console.warn(f"{config.val_csv}: {len(labels)} scorable video(s) of one class only: no calibration; "
                     f"{NO_CALIBRATION}")
        return None
    try:
        calibration = fit_calibration(labels, probs, getattr(config, "threshold_policy", None) or "balanced")
    except DfdetectError as exc:  # e.g. a model that ranks validation backwards: the run itself stands
        console.warn(f"no calibration: {exc}; {NO_CALIBRATION}")
        return None
    record = calibration.to_dict()
    update_checkpoint_config(best, {"calibration": record})
    config_json = Path(run_dir) / "config.json"
    if config_json.is_file():
        from dfdetect.manifest import atomic_write

        data = {**json.loads(config_json.read_text()), "calibration": record}
        atomic_write(config_json, lambda fh: fh.write((json.dumps(data, indent=2, sort_keys=True) + "\n").encode()))
    how = (f"temperature {calibration.temperature:.3g}" if calibration.method == "temperature"
           else f"Platt a={calibration.a:.3g} b={calibration.b:.3g}")
    console.info(f"calibrated on {calibration.n_val} validation videos ({calibration.n_val_fake} fake, "
                 f"{calibration.n_val_real} real): {how}, val NLL {calibration.val_nll_raw:.3f} -> "
                 f"{calibration.val_nll:.3f}; threshold {calibration.threshold:.3g} ({calibration.policy})")
    if calibration.n_val < FEW_VAL:
        # measured on FF++ folds with 20 validation videos: held-out Brier/ECE moved either way
        console.warn(f"the calibration rests on {calibration.n_val} validation videos: its probabilities and "
                     f"threshold are rough (use {FEW_VAL} or more)")
    return calibration
