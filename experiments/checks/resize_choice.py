"""Which resize filter should the one preprocessing path use? Speed and result on real face crops.

Usage:  python experiments/checks/resize_choice.py STACK.npy [STACK.npy ...]
        (face stacks from `dfdetect extract --size 256`; the larger crop is the ground truth)

For each case the script prints, per candidate, the median time to resize one 32-frame clip and
the error against a reference made from the 256 px crop with PIL Lanczos (the best-quality
antialiased filter at hand):
    down   256 -> 128 (the stored crop), then 128 -> 64 (the default model input)
    up     256 -> 128, then 128 -> 224 (an ImageNet-size backbone); truth = 256 -> 224 directly
    same   64 -> 64 must be a copy
mae: mean absolute grey-level error (0..255); hf: high-frequency energy (Laplacian variance)
relative to the reference (1.0 = as sharp, < 1 blurrier, > 1 aliased/ringing).
Candidates: cv2 in the DataLoader worker (per frame, uint8) and torch F.interpolate on the batch
(float, as `preprocess_batch` did for eval/predict before the parity fix).
"""

from __future__ import annotations

import statistics
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

FRAMES = 32
REPEATS = 15


def cv2_resize(clip: np.ndarray, size: int, down: int, up: int) -> np.ndarray:
    interp = down if clip.shape[1] > size else up
    out = np.empty((clip.shape[0], size, size, 3), np.uint8)
    for t in range(clip.shape[0]):
        cv2.resize(clip[t], (size, size), dst=out[t], interpolation=interp)
    return out


def torch_resize(clip: np.ndarray, size: int, mode: str) -> np.ndarray:
    x = torch.from_numpy(clip).permute(0, 3, 1, 2).float().div_(255)
    kw = {"antialias": clip.shape[1] > size} if mode in ("bilinear", "bicubic") else {}
    y = F.interpolate(x, size=(size, size), mode=mode, align_corners=False if kw else None, **kw)
    return (y.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def pil_resize(clip: np.ndarray, size: int) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.LANCZOS)) for f in clip])


CANDIDATES = {
    "cv2 area/linear (worker)": lambda c, s: cv2_resize(c, s, cv2.INTER_AREA, cv2.INTER_LINEAR),
    "cv2 area/cubic (worker)": lambda c, s: cv2_resize(c, s, cv2.INTER_AREA, cv2.INTER_CUBIC),
    "cv2 linear (no antialias)": lambda c, s: cv2_resize(c, s, cv2.INTER_LINEAR, cv2.INTER_LINEAR),
    "torch bilinear+antialias": lambda c, s: torch_resize(c, s, "bilinear"),
    "torch bicubic+antialias": lambda c, s: torch_resize(c, s, "bicubic"),
}


def hf_energy(clip: np.ndarray) -> float:
    grey = clip.astype(np.float32).mean(-1)
    return float(np.mean([cv2.Laplacian(g, cv2.CV_32F).var() for g in grey]))


def median_ms(fn, clip: np.ndarray, size: int) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn(clip, size)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(paths: list[str]) -> None:
    torch.set_num_threads(1)  # one DataLoader worker = one core; cv2 likewise
    cv2.setNumThreads(1)
    big = np.concatenate([np.load(p) for p in paths])
    if big.shape[1] < 224:
        sys.exit("pass stacks extracted with --size 256 (or larger)")
    clips = [big[i : i + FRAMES] for i in range(0, len(big) - FRAMES + 1, FRAMES)] or [big]
    print(f"{len(big)} real face crops of {big.shape[1]} px from {len(paths)} stacks, {len(clips)} clips of {FRAMES}")
    stored = [pil_resize(c, 128) for c in clips]
    cases = [("down 128->64", 64, stored, [pil_resize(c, 64) for c in clips]),
             ("up 128->224", 224, stored, [pil_resize(c, 224) for c in clips]),
             ("down 100->64", 64, [pil_resize(c, 100) for c in clips], [pil_resize(c, 64) for c in clips])]
    for name, size, inputs, truths in cases:
        print(f"\n{name}: median ms per {FRAMES}-frame clip, mae vs Lanczos-from-256, hf ratio")
        base_ms = None
        for label, fn in CANDIDATES.items():
            ms = median_ms(fn, inputs[0], size)
            outs = [fn(c, size) for c in inputs]
            mae = np.mean([np.abs(o.astype(np.int16) - t).mean() for o, t in zip(outs, truths)])
            hf = np.mean([hf_energy(o) / hf_energy(t) for o, t in zip(outs, truths)])
            base_ms = base_ms or ms
            print(f"  {label:28s} {ms:7.2f} ms  x{ms / base_ms:4.2f}   mae {mae:5.2f}   hf {hf:4.2f}")
    same = CANDIDATES["cv2 area/linear (worker)"](stored[0][:, :64, :64].copy(), 64)
    print("\nsame 64->64 copy exact:", bool(np.array_equal(same, stored[0][:, :64, :64])))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
