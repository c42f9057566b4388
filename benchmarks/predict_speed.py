"""Does `predict` on a batch cost no more than 1.2x the sum of its parts per video?

    python benchmarks/predict_speed.py [--videos 8] [--clip-size 256] [--clip-frames 48]
                                       [--frames 16] [--checkpoint RUN] [--device cpu]

Measured in one run, on the same synthetic clips (dfdetect.synth, written once up front):
- extract: extract_faces(video) alone, per video (detector built once, as predict does);
- model: the model's share alone (preprocess + forward via the StackScorer), per stack;
- predict: Predictor.predict_one(video) per video, i.e. what `dfdetect predict` does per input
  once the model and detector are loaded.
Each is timed for every video after one warm-up video, the three interleaved per video; the
table gives medians. The target is
median(predict) <= 1.2 x (median(extract) + median(model)). Without --checkpoint an untrained
`dual` (the paper's ResNet-50 + GRU at 64 px, T = --frames) is saved to a temporary checkpoint.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_checkpoint(path: Path, frames: int) -> Path:
    import torch

    from dfdetect.checkpoint import save_checkpoint
    from dfdetect.models import create_model

    torch.manual_seed(0)
    model = create_model("dual", frames=frames)
    cfg = model.input_cfg
    config = {"model": "dual", "model_options": {}, "img_size": cfg["img_size"], "frames": frames,
              "mean": list(cfg["mean"]), "std": list(cfg["std"]), "pretrained": False, "loss": "auc"}
    return save_checkpoint(path, model, config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--clip-size", type=int, default=256)
    ap.add_argument("--clip-frames", type=int, default=48)
    ap.add_argument("--frames", type=int, default=16, help="frames sampled per video and model T")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `dfdetect predict` does, before torch loads

    from dfdetect.extraction import extract_faces
    from dfdetect.prediction.predictor import PredictOptions, Predictor
    from dfdetect.synth import make_clip

    with tempfile.TemporaryDirectory(prefix="dfdetect-predict-speed-") as tmp:
        root = Path(tmp)
        clips = [make_clip(root / f"clip_{i:02d}.mp4", fake=i % 2 == 1, seed=i, width=args.clip_size,
                           height=args.clip_size, n_frames=args.clip_frames) for i in range(args.videos + 1)]
        ckpt = args.checkpoint or make_checkpoint(root / "run" / "best.ckpt", args.frames)
        predictor = Predictor(ckpt, PredictOptions(device=args.device), {"frames": args.frames})
        opts, detector, scorer = predictor.extract_options, predictor.detector, predictor.scorer
        print(f"model {predictor.config.get('model')} T={scorer.frames} img={scorer.settings['img_size']} · "
              f"{args.videos} clips {args.clip_size}px x {args.clip_frames} frames · sample {opts.frames} "
              f"frames · detector {opts.detector} · device {predictor.device}", file=sys.stderr)

        warm, timed = clips[0], clips[1:]
        predictor.predict_one(str(warm))  # warm-up: detector, allocator, first forward

        # Interleaved per video (extract, model, then the whole predict) so that load changes on
        # a shared machine hit the three measurements alike.
        extract_s, model_s, predict_s, statuses = [], [], [], []
        for clip in timed:
            start = time.perf_counter()
            ex = extract_faces(clip, opts, detector=detector)
            extract_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            list(scorer.score_many([(0, ex.faces)]))
            model_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            statuses.append(predictor.predict_one(str(clip)).status)
            predict_s.append(time.perf_counter() - start)

    med = {k: statistics.median(v) for k, v in (("extract", extract_s), ("model", model_s), ("predict", predict_s))}
    parts = med["extract"] + med["model"]
    ratio = med["predict"] / parts
    print(f"{'stage':<10}{'median s/video':>16}{'min':>10}{'max':>10}")
    for name, values in (("extract", extract_s), ("model", model_s), ("predict", predict_s)):
        print(f"{name:<10}{med[name]:>16.3f}{min(values):>10.3f}{max(values):>10.3f}")
    print(f"{'sum parts':<10}{parts:>16.3f}")
    print(f"predict / (extract + model) = {ratio:.3f}  (target <= 1.2: {'PASS' if ratio <= 1.2 else 'FAIL'})")
    per_video = statistics.median(p / (e + m) for e, m, p in zip(extract_s, model_s, predict_s))
    print(f"median over videos of predict / (extract + model) = {per_video:.3f}")
    print(f"statuses: {', '.join(sorted(set(statuses)))}")


if __name__ == "__main__":
    main()
