"""Data for `benchmark --protocol paper`: a cached pool of tiny synthetic face stacks, and draws
of a training set and a test set at each fake:real ratio from disjoint groups.

What the data is: every clip is `frames` frames of a `size` px close-up of a synthetic face,
rendered by `dfdetect.synth` (a moving camera over a varied portrait; a fake is the same clip with
the inner face self-blended) with the face filling the frame, and saved directly as a face stack
(.npy). No mp4 encoding and no face detection happen: at 1:200 the protocol needs thousands of
clips, and the 8 ms it takes to render one is all the cost. Each identity is its own group; a fake
shares the group of the real clip of its identity.

The pool has a training part and a test part with disjoint identities, sized for the widest
ratio: train_fakes * K real training clips and test_fakes * K real test clips for 1:K, and
`fake_pool` times the fakes each set needs, so that seeds draw different fakes.
The pool is cached under $DFDETECT_CACHE (default ~/.cache/dfdetect)/paper-synth/<key>, where the
key hashes its parameters and the package version; a second run finds it and starts at training.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from dfdetect import __version__, console
from dfdetect.errors import DfdetectError, UsageError

POOL_COLUMNS = ["video_id", "path", "label", "group", "method", "dataset", "split",
                "frames", "faces", "faces_file", "status", "error"]
#: Bump when the rendering below changes, so that old caches are not reused.
GENERATOR_VERSION = 1
FACE_SCALE = 0.9  # face box side / frame side: a crop-like close-up
#: The pool holds this many times the fakes one draw needs, so that seeds draw different fakes.
FAKE_POOL = 4


@dataclass(frozen=True)
class PoolSpec:
    """Everything the cached pool depends on."""

    n_train_real: int
    n_train_fake: int
    n_test_real: int
    n_test_fake: int
    frames: int = 4
    size: int = 64
    difficulty: float = 0.0
    seed: int = 0

    def key(self) -> str:
        blob = json.dumps({**asdict(self), "version": __version__, "generator": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def pool_spec_for(ratios: Sequence[tuple[int, int]], train_fakes: int, test_fakes: int, *, fake_pool: int = FAKE_POOL,
                  frames: int = 4, size: int = 64, difficulty: float = 0.0, seed: int = 0) -> PoolSpec:
    """The smallest pool that holds a train and a test draw at every ratio."""
    worst = max(math.ceil(real / fake) for fake, real in ratios)
    return PoolSpec(n_train_real=train_fakes * worst, n_train_fake=train_fakes * fake_pool,
                    n_test_real=test_fakes * worst, n_test_fake=test_fakes * fake_pool,
                    frames=frames, size=size, difficulty=difficulty, seed=seed)


def cache_root() -> Path:
    env = os.environ.get("DFDETECT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dfdetect"


def _render(identity_seed: int, blend_seed: int | None, spec: PoolSpec) -> np.ndarray:
    from dfdetect.synth import render_frames

    frames = render_frames(identity_seed=identity_seed, blend_seed=blend_seed, width=spec.size, height=spec.size,
                           n_frames=spec.frames, difficulty=spec.difficulty, face_scale=FACE_SCALE)
    return np.stack(list(frames)).astype(np.uint8)


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def _render_pool(spec: PoolSpec, plan: list[tuple[str, int, bool]], partial: Path) -> None:
    """Render every planned clip into partial/faces/, then partial/pool.csv and spec.json."""
    import pandas as pd

    (partial / "faces").mkdir(parents=True)
    rows = []
    with console.progress_task(f"rendering {len(plan)} synthetic face stacks", len(plan)) as (progress, task):
        for done, (split, ident, fake) in enumerate(plan, start=1):
            vid = f"{split}_{'fake' if fake else 'real'}_{ident:05d}"
            stack = _render(_seed(spec.seed, 0, ident), _seed(spec.seed, 1, ident) if fake else None, spec)
            np.save(partial / "faces" / f"{vid}.npy", stack)
            rows.append({"video_id": vid, "path": "", "label": int(fake), "group": f"id{ident:05d}",
                         "method": "selfblend" if fake else "real", "dataset": "paper-synth", "split": split,
                         "frames": spec.frames, "faces": spec.frames, "faces_file": f"faces/{vid}.npy",
                         "status": "ok", "error": ""})
            progress.update(task, completed=done)
    pd.DataFrame(rows, columns=POOL_COLUMNS).to_csv(partial / "pool.csv", index=False)
    (partial / "spec.json").write_text(json.dumps({**asdict(spec), "version": __version__,
                                                   "generator": GENERATOR_VERSION}, indent=2) + "\n")


def build_pool(spec: PoolSpec, root: Path | None = None) -> tuple[Path, bool]:
    """The pool folder (pool.csv + faces/), generated unless cached; returns (folder, reused)."""
    folder = (root or cache_root()) / "paper-synth" / spec.key()
    if (folder / "pool.csv").is_file():
        return folder, True
    if spec.size < 64 or spec.size % 2:
        raise UsageError(f"--img-size {spec.size}: the synthetic paper data needs an even size >= 64")
    plan = []  # (split, identity index, fake?) ; identities of train and test never overlap
    for split, n_real, n_fake, offset in (("train", spec.n_train_real, spec.n_train_fake, 0),
                                          ("test", spec.n_test_real, spec.n_test_fake, spec.n_train_real)):
        if n_fake > n_real:
            raise UsageError(f"the pool needs at least as many real as fake {split} clips ({n_real} < {n_fake}); "
                             f"widen the widest of --ratios")
        plan += [(split, offset + i, False) for i in range(n_real)]
        plan += [(split, offset + i, True) for i in range(n_fake)]  # fake i blends identity i
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    start = time.perf_counter()
    try:
        _render_pool(spec, plan, partial)
    except BaseException:  # an error or ^C leaves no half-written .partial folder behind
        shutil.rmtree(partial, ignore_errors=True)
        raise
    try:
        os.replace(partial, folder)  # atomic: a killed run leaves only a .partial folder
    except OSError:
        if not (folder / "pool.csv").is_file():
            raise DfdetectError(f"{folder}: cannot write the synthetic data cache; set DFDETECT_CACHE to a writable folder") from None
        shutil.rmtree(partial, ignore_errors=True)  # another process finished the same pool first
    console.info(f"synthetic pool: {len(plan)} stacks in {time.perf_counter() - start:.0f}s -> {folder}")
    return folder, False


@dataclass(frozen=True)
class Draw:
    ratio: str
    seed: int
    train_csv: Path
    test_csv: Path
    train_counts: tuple[int, int]  # (real, fake)
    test_counts: tuple[int, int]


def draw_sets(pool_dir: Path, ratio: tuple[int, int], n_train_fake: int, n_test_fake: int, seed: int, out_dir: Path,
              name: str) -> Draw:
    """Write out_dir/train.csv and test.csv at the ratio (n_real = K * n_fake for 1:K), drawn with
    `seed` from the pool's train and test parts (disjoint groups). faces_file is absolute."""
    import pandas as pd

    pool = pd.read_csv(pool_dir / "pool.csv", dtype={"video_id": str, "group": str}, keep_default_na=False)
    pool["faces_file"] = [str((pool_dir / f).resolve()) for f in pool["faces_file"]]
    rng = np.random.default_rng([seed, ratio[0], ratio[1], 104729])
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, counts = [], []
    for split, n_fake in (("train", n_train_fake), ("test", n_test_fake)):
        part = pool[pool["split"] == split]
        n_real = math.ceil(n_fake * ratio[1] / ratio[0])
        reals, fakes = part[part["label"] == 0], part[part["label"] == 1]
        if n_real > len(reals) or n_fake > len(fakes):
            raise DfdetectError(f"{pool_dir}: the {split} pool holds {len(reals)} real / {len(fakes)} fake clips, "
                                f"{ratio[0]}:{ratio[1]} needs {n_real} / {n_fake}")
        chosen = pd.concat([reals.iloc[np.sort(rng.choice(len(reals), n_real, replace=False))],
                            fakes.iloc[np.sort(rng.choice(len(fakes), n_fake, replace=False))]])
        path = out_dir / f"{split}.csv"
        chosen.to_csv(path, index=False)
        paths.append(path)
        counts.append((n_real, n_fake))
    return Draw(name, seed, paths[0], paths[1], counts[0], counts[1])

