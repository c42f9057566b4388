"""Cost of the training-time degradations (issue 24 §2): epoch wall time against a plain epoch.

Real `Trainer.run_epoch` (FaceStackDataset -> DataLoader workers -> step) of the shipped recipe's
model (cnn on efficientnet_lite0, 160 px, T = 8, batch 8; no pretrained download) on synthetic
160 px face stacks, for several --augment settings, run round-robin in the same process so that
load changes on a shared machine hit all alike; median over --repeats epochs each.
  plain      flip,color (the default)
  degrade    flip,color,degrade (jpeg, downscale, blur, noise, h264 at their per-clip odds)
  h264-all   flip,color,h264 with every clip re-encoded (p forced to 1: the worst case)
  views      flip,color on a CSV whose videos each have two re-encoded views (`extract --reencode`):
             one of the three stacks is drawn per item, so an epoch has as many items as plain's
Target: degrade and views <= 1.5 x plain.

    python benchmarks/augment_speed.py [--videos 24] [--repeats 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `dfdetect train` does, before torch loads
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SIZE, FRAMES, IMG, BATCH = 160, 32, 160, 8
SETTINGS = {"plain": ["flip", "color"], "degrade": ["flip", "color", "degrade"], "h264-all": ["flip", "color", "h264"],
            "views": ["flip", "color"]}


def make_data(root: Path, n_videos: int) -> Path:
    """Smooth synthetic 'faces' (not noise: a codec's cost depends on the content)."""
    import cv2
    import pandas as pd

    rng = np.random.default_rng(0)
    (root / "faces").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_videos):
        base = cv2.resize(rng.integers(30, 220, (8, 8, 3), dtype=np.uint8), (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
        stack = np.stack([np.roll(base, t, axis=1) for t in range(FRAMES)])
        np.save(root / "faces" / f"v{i:03d}.npy", stack)
        rows.append({"video_id": f"v{i:03d}", "path": f"v{i:03d}.mp4", "label": i % 2, "group": f"v{i:03d}",
                     "method": "", "dataset": "", "split": "", "frames": FRAMES, "faces": FRAMES,
                     "faces_file": f"faces/v{i:03d}.npy", "status": "ok", "error": ""})
    csv = root / "train.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    # the same videos with two views each: blurred copies stand in for re-encoded stacks
    views = []
    for row in rows:
        stack = np.load(root / row["faces_file"])
        for k, crf in ((3, 32), (5, 40)):
            vid = f"{row['video_id']}__crf{crf}"
            np.save(root / "faces" / f"{vid}.npy", np.stack([cv2.GaussianBlur(f, (k, k), 0) for f in stack]))
            views.append({**row, "video_id": vid, "faces_file": f"faces/{vid}.npy", "view": f"crf{crf}",
                          "source_id": row["video_id"]})
    pd.DataFrame([{**r, "view": "", "source_id": ""} for r in rows] + views).to_csv(root / "train_views.csv", index=False)
    return csv


def csv_for(csv: Path, name: str) -> Path:
    return csv.with_name("train_views.csv") if name == "views" else csv


def build_trainer(csv: Path, out: Path, augment: list[str], workers: int):
    import torch

    from dfdetect.training.config import TrainConfig
    from dfdetect.training.distributed import DistContext
    from dfdetect.training.engine import Trainer

    config = TrainConfig(str(csv), None, model="cnn", backbone="efficientnet_lite0", loss="bce", frames=8, img_size=IMG,
                         batch_size=BATCH, workers=workers, pretrained=False, device="cpu", out=str(out),
                         augment=augment, epochs=100)
    trainer = Trainer(config, torch.device("cpu"), DistContext())
    trainer.setup()
    return trainer


def per_clip_ms(csv: Path, degrade, p_h264: float, rounds: int = 3) -> dict[str, float]:
    """Median ms of one training item per setting (no model): the augmentation's own cost."""
    from dfdetect.training.data import FaceStackDataset

    out = {}
    for name, augment in SETTINGS.items():
        degrade.P_H264 = 1.0 if name == "h264-all" else p_h264
        ds = FaceStackDataset(csv_for(csv, name), frames=8, img_size=IMG, train=True, augment=augment)
        ts = []
        for r in range(rounds):
            for i in range(len(ds)):
                start = time.perf_counter()
                ds[(i, r + 1)]
                ts.append(time.perf_counter() - start)
        out[name] = 1000 * statistics.median(ts)
    degrade.P_H264 = p_h264
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from dfdetect import console
    from dfdetect.training import degrade

    console.configure(quiet=True)
    with tempfile.TemporaryDirectory(prefix="dfdetect-augbench-") as tmp:
        root = Path(tmp)
        csv = make_data(root, args.videos)
        times: dict[str, list[float]] = {name: [] for name in SETTINGS}
        trainers = {name: build_trainer(csv_for(csv, name), root / name, aug, args.workers) for name, aug in SETTINGS.items()}
        p_h264 = degrade.P_H264
        for epoch in range(1, args.repeats + 2):  # the first epoch of each warms up (worker start, allocator)
            for name, trainer in trainers.items():
                degrade.P_H264 = 1.0 if name == "h264-all" else p_h264  # workers are forked per epoch and see it
                start = time.perf_counter()
                trainer.run_epoch(epoch)
                if epoch > 1:
                    times[name].append(time.perf_counter() - start)
        degrade.P_H264 = p_h264
        clip_ms = per_clip_ms(csv, degrade, p_h264)
    plain = statistics.median(times["plain"])
    print(f"{args.videos} clips of {FRAMES} x {SIZE}px, cnn/efficientnet_lite0 at {IMG}px, T=8, batch {BATCH}, "
          f"{args.workers} loader workers; median of {args.repeats} epochs each, run round-robin")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:9s} {med:7.2f} s/epoch  ({med / plain:.2f} x plain)   epochs: {', '.join(f'{t:.1f}' for t in ts)}")
    print("data pipeline alone (FaceStackDataset item: read, sample, resize, augment), median ms per clip, one process:")
    for name, ms in clip_ms.items():
        print(f"  {name:9s} {ms:7.1f} ms/clip  ({ms / clip_ms['plain']:.2f} x plain)")


if __name__ == "__main__":
    main()
