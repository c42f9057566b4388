"""`dfdetect benchmark --speed`: face-extraction frames/s per detector and model inference
frames/s per model (at its own input size) on the chosen device.

Inputs are deterministic (a synthetic clip from dfdetect.synth and seeded random tensors), and
each figure is the median of a few timed repeats after one warm-up, so re-runs with the same
--seed time the same work.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from dfdetect import console


@dataclass
class SpeedOptions:
    detectors: Sequence[str] | None = None  # None: every registered detector
    models: Sequence[str] = ("dual", "cnn", "meso4", "xception")
    device: str = "auto"
    frames: int = 8  # T per clip for models, frames per video for extraction
    batch_size: int = 2  # clips per forward pass
    repeats: int = 3
    clip_size: int = 256
    seed: int = 0


def _median_time(fn: Callable[[], Any], repeats: int, sync: Callable[[], None] = lambda: None) -> float:
    fn()  # warm-up: lazy initialisation, allocator, cudnn autotune
    sync()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def extraction_speed(options: SpeedOptions, workdir: Path) -> list[dict[str, Any]]:
    from dfdetect.detectors import create_detector, list_detectors
    from dfdetect.extraction import ExtractOptions, extract_faces
    from dfdetect.synth import make_clip

    clip = make_clip(workdir / "speed_clip.mp4", fake=False, seed=options.seed, width=options.clip_size,
                     height=options.clip_size, n_frames=options.frames)
    rows = []
    for name in options.detectors or list_detectors():
        try:
            opts = ExtractOptions(detector=name, frames=options.frames, device=options.device)
            detector = create_detector(name, **({"device": options.device} if name != "dlib" else {}))
            seconds = _median_time(lambda: extract_faces(clip, opts, detector=detector), options.repeats)
            rows.append({"stage": "extract", "name": name, "input": f"{options.clip_size}px video",
                         "frames_per_s": options.frames / seconds, "ms_per_frame": 1000 * seconds / options.frames,
                         "note": ""})
        except Exception as exc:  # a detector without its weights is reported, not fatal
            rows.append({"stage": "extract", "name": name, "input": f"{options.clip_size}px video",
                         "frames_per_s": None, "ms_per_frame": None, "note": str(exc).splitlines()[0][:80]})
    return rows


def model_speed(options: SpeedOptions) -> list[dict[str, Any]]:
    import torch

    from dfdetect.device import select_device
    from dfdetect.models import create_model, model_info

    device = select_device(options.device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    rows = []
    for name in options.models:
        torch.manual_seed(options.seed)
        img = int(model_info(name)["img_size"])
        model = create_model(name, frames=options.frames).to(device).eval()
        img = int(getattr(model, "input_cfg", {}).get("img_size", img))
        gen = torch.Generator().manual_seed(options.seed)
        x = torch.randn(options.batch_size, options.frames, 3, img, img, generator=gen).to(device)

        def forward() -> None:
            with torch.inference_mode():
                model(x)

        seconds = _median_time(forward, options.repeats, sync)
        n = options.batch_size * options.frames
        rows.append({"stage": "model", "name": name, "input": f"{options.batch_size}x{options.frames}x3x{img}x{img}",
                     "frames_per_s": n / seconds, "ms_per_frame": 1000 * seconds / n, "note": str(device)})
    return rows


def run_speed(options: SpeedOptions) -> list[dict[str, Any]]:
    """Rows of stage, name, input, frames_per_s, ms_per_frame, note."""
    from dfdetect.device import seed_everything

    seed_everything(options.seed)
    with tempfile.TemporaryDirectory(prefix="dfdetect-speed-") as tmp:
        console.info("timing face extraction ...")
        rows = extraction_speed(options, Path(tmp))
    console.info("timing model inference ...")
    return rows + model_speed(options)


def speed_table(rows: Sequence[dict[str, Any]]):
    from rich.table import Table

    table = Table(title="dfdetect speed", header_style="bold")
    for col in ("stage", "name", "input", "frames/s", "ms/frame", "note"):
        table.add_column(col, justify="right" if "/" in col else "left")
    for r in rows:
        fps = "n/a" if r["frames_per_s"] is None else f"{r['frames_per_s']:.1f}"
        ms = "n/a" if r["ms_per_frame"] is None else f"{r['ms_per_frame']:.2f}"
        table.add_row(r["stage"], r["name"], r["input"], fps, ms, r["note"])
    return table
