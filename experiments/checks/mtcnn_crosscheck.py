"""Cross-check dfdetect's PyTorch MTCNN against the `mtcnn` package's own TensorFlow pipeline.

Two steps, two virtual environments (dfdetect never needs TensorFlow):

1. In a venv with TensorFlow (`python3 -m venv /tmp/tfvenv &&
   /tmp/tfvenv/bin/pip install mtcnn tensorflow-cpu opencv-python-headless`):

       /tmp/tfvenv/bin/python experiments/checks/mtcnn_crosscheck.py tf --out /tmp/mtcnn_tf

   decodes a few evenly spaced frames of every fixture clip (plus grace_hopper.jpg), runs
   `mtcnn.MTCNN().detect_faces` on each, and writes the frames (frames.npz) and the boxes (tf.json).
   The frames are stored so that step 2 sees the very same pixels (OpenCV builds may decode
   differently).

2. In dfdetect's venv:

       python experiments/checks/mtcnn_crosscheck.py compare --out /tmp/mtcnn_tf [--device cpu]

   runs `create_detector("mtcnn")` on the stored frames (as one batch per frame size) and
   prints, per frame, the TF and torch box counts and each TF box's best-match IoU.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "videos"


def _grace_hopper() -> Path | None:
    try:
        from matplotlib import cbook

        return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    except ImportError:  # the TF venv has no matplotlib: borrow the file from dfdetect's venv
        hits = glob.glob(str(ROOT / ".venv" / "lib" / "python3*" / "site-packages" / "matplotlib" / "mpl-data"
                             / "sample_data" / "grace_hopper.jpg"))
        return Path(hits[0]) if hits else None


def load_frames(per_clip: int) -> dict[str, np.ndarray]:
    """name -> RGB uint8 frame: `per_clip` evenly spaced frames of every fixture clip."""
    import cv2

    frames: dict[str, np.ndarray] = {}
    portrait = _grace_hopper()
    if portrait is not None:
        frames["grace_hopper"] = cv2.cvtColor(cv2.imread(str(portrait)), cv2.COLOR_BGR2RGB)
    for clip in sorted(FIXTURES.glob("*/*.mp4")):
        cap = cv2.VideoCapture(str(clip))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = set(np.linspace(0, max(total - 1, 0), per_clip).round().astype(int).tolist())
        index = 0
        while wanted and cap.grab():
            if index in wanted:
                ok, bgr = cap.retrieve()
                if ok:
                    frames[f"{clip.parent.name}/{clip.stem}#{index}"] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                wanted.discard(index)
            index += 1
        cap.release()
    return frames


def run_tf(out: Path, per_clip: int) -> None:
    from mtcnn import MTCNN

    frames = load_frames(per_clip)
    detector = MTCNN()
    boxes = {}
    for name, frame in frames.items():
        rows = detector.detect_faces(frame, box_format="xyxy", output_type="numpy")
        rows = np.asarray(rows).reshape(-1, 16) if np.size(rows) else np.zeros((0, 16))
        boxes[name] = [[float(v) for v in row[1:6]] for row in rows]  # x1 y1 x2 y2 score
        print(f"{name}: {len(boxes[name])} face(s)", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "frames.npz", **{f"f{i}": f for i, f in enumerate(frames.values())})
    (out / "tf.json").write_text(json.dumps({"names": list(frames), "boxes": boxes}, indent=1))
    print(f"wrote {out / 'frames.npz'} and {out / 'tf.json'} ({len(frames)} frames)")


def _iou(a: list[float], b: list[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def run_compare(out: Path, device: str) -> int:
    sys.path.insert(0, str(ROOT))
    from dfdetect.detectors import create_detector

    meta = json.loads((out / "tf.json").read_text())
    stored = np.load(out / "frames.npz")
    frames = [stored[f"f{i}"] for i in range(len(meta["names"]))]
    detector = create_detector("mtcnn", device=device)
    found = detector.detect_batch(frames)  # frames of equal size share batches
    ious: list[float] = []
    exact_count = 0
    print(f"{'frame':48s} {'tf':>3s} {'torch':>5s}  best-match IoU per TF box")
    for name, frame, ours in zip(meta["names"], frames, found):
        h, w = frame.shape[:2]
        # The package clips to [0, W-1] x [0, H-1]; dfdetect to [0, W] x [0, H] (x2 exclusive).
        mine = [[min(b.x1, w - 1), min(b.y1, h - 1), min(b.x2, w - 1), min(b.y2, h - 1)] for b in ours]
        theirs = meta["boxes"][name]
        best = [max((_iou(t[:4], m) for m in mine), default=0.0) for t in theirs]
        ious += best
        exact_count += len(theirs) == len(mine)
        print(f"{name:48s} {len(theirs):3d} {len(mine):5d}  {' '.join(f'{v:.4f}' for v in best) or '-'}")
    arr = np.asarray(ious)
    print(
        f"\n{len(frames)} frames, {len(arr)} TF boxes; same box count on {exact_count}/{len(frames)} frames; "
        f"best-match IoU min {arr.min():.4f}, median {np.median(arr):.4f}, mean {arr.mean():.4f}; "
        f"{(arr >= 0.9).sum()}/{len(arr)} boxes >= 0.9"
    )
    return 0 if len(arr) and arr.min() >= 0.9 and exact_count == len(frames) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["tf", "compare"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/mtcnn_crosscheck"))
    parser.add_argument("--per-clip", type=int, default=5, help="frames per fixture clip (tf mode)")
    parser.add_argument("--device", default="cpu", help="torch device (compare mode)")
    args = parser.parse_args()
    if args.mode == "tf":
        run_tf(args.out, args.per_clip)
        return 0
    return run_compare(args.out, args.device)


if __name__ == "__main__":
    raise SystemExit(main())
