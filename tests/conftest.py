"""Shared fixtures and the builders behind them, each written once.

Fixtures: `runner` (a CliRunner with a wide terminal, so rich never wraps a message a test looks
for), `fixture_videos` (the real clips in ../shared/fixtures/videos; the test is skipped when they
are absent), `make_stack` (a tiny face stack with or without the "fake" bright square) and
`tiny_model` (a small model built by the registry). The plain functions are imported by the
helper modules (_evaldata, _extractdata, _splitdata, _traindata) and by tests that need them at
module level.

Slow tests: `@pytest.mark.slow` marks the tests that take tens of seconds (DDP with two processes,
the miniature benchmark, real subprocess kills). CI runs plain `pytest`, which INCLUDES them: the
whole suite stays within a few minutes on two cores, and these are the end-to-end checks most
worth having. `pytest -m "not slow"` is the quick loop while editing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dfdetect.manifest import MANIFEST_COLUMNS

FIXTURE_VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "videos"
WIDE_TERMINAL = {"COLUMNS": "250"}


# ------------------------------------------------------------------ the CLI
def wide_runner(**env: str) -> CliRunner:
    """A CliRunner whose terminal is wide enough that rich wraps no line."""
    return CliRunner(env={**WIDE_TERMINAL, **env})


def error_line(result) -> str:
    """The one `error: …` line a failed command printed (no traceback, nothing else on stderr)."""
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def runner() -> CliRunner:
    return wide_runner()


# ------------------------------------------------------------------ real fixture clips
def fixture_clip(name: str) -> Path:
    """A real clip from ../shared/fixtures/videos/{real,fake}; skips the test when absent."""
    for sub in ("real", "fake"):
        p = FIXTURE_VIDEOS / sub / name
        if p.is_file():
            return p
    pytest.skip(f"fixture clip {name} not available (../shared/fixtures absent)")


@pytest.fixture
def fixture_videos() -> Path:
    if not FIXTURE_VIDEOS.is_dir():
        pytest.skip(f"{FIXTURE_VIDEOS} not available")
    return FIXTURE_VIDEOS


# ------------------------------------------------------------------ manifests and face stacks
def manifest_row(video_id: str, label: int, *, group: str | None = None, path: str | None = None,
                 method: str | None = None, dataset: str = "synthetic", split: str = "", frames: int = 0,
                 faces: int | None = None, faces_file: str | None = None, status: str = "ok",
                 error: str = "") -> dict:
    """One row with exactly the manifest columns (docs/formats.md); `faces_file` defaults to
    faces/<id>.npy for an ok row and to "" otherwise."""
    row = {
        "video_id": video_id, "path": path if path is not None else f"videos/{video_id}.mp4", "label": label,
        "group": group if group is not None else video_id,
        "method": method if method is not None else ("fake" if label else "real"), "dataset": dataset,
        "split": split, "frames": frames, "faces": frames if faces is None else faces,
        "faces_file": faces_file if faces_file is not None else (f"faces/{video_id}.npy" if status == "ok" else ""),
        "status": status, "error": error,
    }
    assert list(row) == MANIFEST_COLUMNS
    return row


def make_stack(rng: np.random.Generator | int, fake: bool, frames: int, size: int, *,
               dim: tuple[int, int] = (0, 90), bright: tuple[int, int] = (200, 256),
               square: tuple[int, int] | None = None) -> np.ndarray:
    """(frames, size, size, 3) uint8 noise drawn from `dim`; a fake also gets a square of values
    from `bright` over rows and columns square[0]:square[1] (default: the centre half)."""
    rng = np.random.default_rng(rng) if isinstance(rng, int) else rng
    stack = rng.integers(dim[0], dim[1], size=(frames, size, size, 3), dtype=np.uint8)
    if fake:
        lo, hi = square if square is not None else (size // 4, size - size // 4)
        stack[:, lo:hi, lo:hi] = rng.integers(bright[0], bright[1], size=(frames, hi - lo, hi - lo, 3))
    return stack


@pytest.fixture(name="make_stack")
def _make_stack_fixture():
    return make_stack


# ------------------------------------------------------------------ models
TINY_DUAL = {"backbone": "resnet18", "hidden": 16, "layers": 1, "pool": 4}


def tiny_model(name: str = "dual", frames: int = 4, img_size: int = 32, seed: int = 0):
    """(model, model_options): a small, seeded model of the registry (dual gets a tiny head)."""
    import torch

    from dfdetect.models import create_model

    torch.manual_seed(seed)
    options = dict(TINY_DUAL) if name == "dual" else {}
    return create_model(name, img_size=img_size, frames=frames, **options), options


@pytest.fixture(name="tiny_model")
def _tiny_model_fixture():
    return tiny_model


# ------------------------------------------------------------------ synthetic clips' true face boxes
def synth_face_boxes(seed: int, width: int = 256, height: int = 256, n_frames: int = 48, fps: float = 25,
                     face_scale: float | None = None) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of the face in each frame of make_clip(seed=...)/render_frames(identity_seed=...),
    from the generator's own camera path, not from a detector. The box is the portrait's FACE_BOX
    carried into the frame (roll ignored: at most 6 degrees)."""
    from dfdetect.synth import clips

    identity = clips.Identity.sample(np.random.default_rng([seed, clips._STREAM_IDENTITY]))
    scale = clips.default_face_scale(width, height) if face_scale is None else float(face_scale)
    face_px = scale * min(width, height) * identity.size_jitter
    path = clips.CameraPath.sample(np.random.default_rng([seed, clips._STREAM_MOTION]), width, height, face_px)
    boxes = []
    for index in range(n_frames):
        cx, cy, side, _roll = path.pose(index / fps)
        half_w, half_h = side * identity.aspect / 2, side / 2
        boxes.append((cx - half_w, cy - half_h, cx + half_w, cy + half_h))
    return boxes


@pytest.fixture(scope="module")
def one_torch_thread():
    """Two busy cores: one intra-op thread per process is much faster than two fighting ones."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny learnable train.csv and val.csv (tests/_traindata.py), written once per module."""
    from _traindata import tiny_splits

    return tiny_splits(tmp_path_factory.mktemp("data"))
