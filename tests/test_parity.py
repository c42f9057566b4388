"""Train/val and eval/predict feed the model the very same tensor (issue 8, items 1 and 2).

The training side is the real `FaceStackDataset` through a DataLoader and `preprocess_batch` (what
`Trainer._prepare` calls); the eval/predict side is the real `StackScorer`, whose model input is
recorded with a forward pre-hook. Both must agree bit for bit (max |delta| = 0) for the same
frame indices, at every crop/model size pair and for clips shorter than, equal to and longer
than the model's T.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from dfdetect.training.data import FaceStackDataset
from dfdetect.scoring.inference import StackScorer, scoring_windows
from dfdetect.preprocess import preprocess_batch, sample_indices

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "videos"
FIXTURE_CLIP = FIXTURES / "real" / "dfdc_facecrop_aayrffkzxn.mp4"
T = 8
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
SIZES = [(128, 64), (64, 64), (128, 224), (100, 64)]  # (stored crop side, model input side)
LENGTHS = [5, T, 2 * T]  # N < T, N = T, N > T (2T: the scorer's first window is val's centre pick)


@pytest.fixture(scope="module")
def real_crops() -> np.ndarray:
    """16 real 128 px face crops from a fixture clip (dlib, as `extract` makes them)."""
    if not FIXTURE_CLIP.is_file():
        pytest.skip(f"fixture clip missing: {FIXTURE_CLIP}")
    from dfdetect.extraction import ExtractOptions, extract_faces

    ex = extract_faces(FIXTURE_CLIP, ExtractOptions(frames=2 * T, size=128))
    assert ex.status == "ok" and ex.faces is not None and len(ex.faces) == 2 * T
    return np.asarray(ex.faces)


def _stack(source: str, side: int, n: int, real_crops: np.ndarray | None) -> np.ndarray:
    if source == "random":
        return np.random.default_rng(side * 100 + n).integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)
    off = (128 - side) // 2  # a centre crop keeps real face pixels at every side, without a resize
    return np.ascontiguousarray(real_crops[:n, off : off + side, off : off + side])


def _write_csv(tmp_path: Path, stack: np.ndarray) -> Path:
    np.save(tmp_path / "clip.npy", stack)
    csv = tmp_path / "val.csv"
    pd.DataFrame([{"video_id": "clip", "label": 1, "faces_file": "clip.npy", "status": "ok"}]).to_csv(csv, index=False)
    return csv


def _dataset_tensor(csv: Path, img: int, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from torch.utils.data import DataLoader

    ds = FaceStackDataset(csv, frames=T, img_size=img, train=train, seed=3)
    batch = next(iter(DataLoader(ds, batch_size=1)))
    return preprocess_batch(batch["frames"], img, MEAN, STD, "cpu"), batch["mask"][0]


def _scorer_inputs(stack: np.ndarray, img: int) -> list[torch.Tensor]:
    from dfdetect.models import create_model

    model = create_model("meso4", img_size=img, frames=T)
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    config = {"img_size": img, "frames": T, "mean": MEAN, "std": STD}
    list(StackScorer(model, config, "cpu", batch_size=1).score_many([("clip", stack)]))
    return seen


@pytest.mark.parametrize("source", ["random", "real"])
@pytest.mark.parametrize("side,img", SIZES)
@pytest.mark.parametrize("n", LENGTHS)
def test_val_and_eval_feed_identical_tensors(tmp_path, request, source, side, img, n) -> None:
    crops = request.getfixturevalue("real_crops") if source == "real" else None
    stack = _stack(source, side, n, crops)
    val_x, val_mask = _dataset_tensor(_write_csv(tmp_path, stack), img, train=False)
    windows, masks = scoring_windows(n, T)
    val_idx, expected_mask = sample_indices(n, T, None)
    assert windows[0].tolist() == val_idx.tolist()  # the same frame indices on both sides
    eval_x = _scorer_inputs(stack, img)[0]
    assert val_x.shape == eval_x.shape == (1, T, 3, img, img)
    assert float((val_x - eval_x).abs().max()) == 0.0
    assert val_mask.tolist() == masks[0].tolist() == expected_mask.tolist()
    if n < T:  # short clips: padded by repeating the last frame, on both sides
        assert windows[0].tolist() == list(range(n)) + [n - 1] * (T - n)
        assert torch.equal(eval_x[0, -1], eval_x[0, n - 1])


@pytest.mark.parametrize("n", [5, T])
def test_training_items_match_eval_when_no_jitter_applies(tmp_path, n) -> None:
    """Training (train=True, no augmentation) jitters only inside segments; with N <= T there is
    nothing to jitter, so its tensor equals eval's too."""
    stack = _stack("random", 128, n, None)
    train_x, mask = _dataset_tensor(_write_csv(tmp_path, stack), 64, train=True)
    eval_x = _scorer_inputs(stack, 64)[0]
    assert float((train_x - eval_x).abs().max()) == 0.0
    assert mask.tolist() == [True] * n + [False] * (T - n)


def test_padded_frames_stay_out_of_frame_scores() -> None:
    """A 3-frame stack scored with T=8: three frame probabilities, not eight, and the repeated last
    frame counts once."""
    from dfdetect.scoring.inference import score_stack
    from dfdetect.models import create_model

    torch.manual_seed(0)
    model = create_model("meso4", img_size=32, frames=T)
    stack = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    config = {"img_size": 32, "frames": T, "mean": MEAN, "std": STD}
    video, frames = score_stack(model, config, stack)
    with torch.no_grad():
        direct = torch.sigmoid(model(preprocess_batch(stack[None], 32, MEAN, STD))["frame"])[0].double().numpy()
    np.testing.assert_allclose(frames, direct, rtol=0, atol=1e-6)
    assert video == pytest.approx(float(direct.mean()), abs=1e-6)  # mean over real frames only
