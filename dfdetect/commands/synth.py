"""`dfdetect synth`: write a labelled demo dataset of synthetic real and self-blended fake clips."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from dfdetect import console
from dfdetect.commands._common import SeedOption, handle_errors
from dfdetect.errors import UsageError

# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect synth demo --real 24 --fake 24",
    "dfdetect synth hd --real 2 --fake 2 --size 1920x1080 --frames 300",
    "dfdetect synth hard --real 20 --fake 20 --difficulty 0.8 --seed 1",
]


def parse_size(text: str) -> tuple[int, int]:
    """'256' or '1280x720' -> (width, height)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", text)
    if not match:
        raise UsageError(f"--size {text!r} is not WIDTHxHEIGHT (e.g. 256x256 or 1280x720)")
    width = int(match.group(1))
    height = int(match.group(2) or width)
    return width, height


@handle_errors
def command(
    out: Annotated[Path, typer.Argument(help="Output folder: real/*.mp4, fake/*.mp4 and videos.csv.", show_default=False)],
    real: Annotated[int, typer.Option("--real", min=0, help="Number of real clips.")] = 8,
    fake: Annotated[int, typer.Option("--fake", min=0, help="Number of fake clips (fake j derives from real j mod --real).")] = 8,
    size: Annotated[str, typer.Option("--size", help="Frame size WIDTHxHEIGHT (even numbers), or one number for a square.")] = "256x256",
    frames: Annotated[int, typer.Option("--frames", min=1, help="Frames per clip.")] = 48,
    fps: Annotated[float, typer.Option("--fps", min=1.0, help="Frame rate written to the mp4.")] = 25.0,
    difficulty: Annotated[
        float, typer.Option("--difficulty", min=0.0, max=1.0, help="How subtle the fakes are: 0 obvious, 1 hardest.")
    ] = 0.5,
    face_scale: Annotated[
        Optional[float],
        typer.Option("--face-scale", min=0.1, max=0.9, help="Face size as a fraction of the shorter side (default: by resolution)."),
    ] = None,
    groups: Annotated[
        bool, typer.Option("--groups/--no-groups", help="Fakes derive from (and share the group of) a real clip.")
    ] = True,
    seed: SeedOption = 0,
) -> None:
    """Generate synthetic face videos (a moving real portrait, and Face X-ray style self-blended fakes)."""
    from dfdetect.outputs import check_output_dir
    from dfdetect.synth import make_dataset
    from dfdetect.synth.clips import MAX_SIDE

    width, height = parse_size(size)
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise UsageError(f"--size {size}: use even sizes of at least 64x64")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise UsageError(f"--size {size}: too large; at most {MAX_SIDE}x{MAX_SIDE}")
    if real + fake == 0:
        raise UsageError("nothing to do: give --real and/or --fake a positive count")
    check_output_dir(out, "OUT")
    with console.progress_task(f"writing {real} real + {fake} fake clips", real + fake) as (progress, task):
        csv_path = make_dataset(
            out, n_real=real, n_fake=fake, seed=seed, width=width, height=height, n_frames=frames, fps=fps,
            difficulty=difficulty, groups=groups, face_scale=face_scale,
            progress=lambda done, total: progress.update(task, completed=done),
        )
    console.info(f"wrote {real} real and {fake} fake clips ({width}x{height}, {frames} frames) to {out}")
    console.stdout.print(str(csv_path), highlight=False)
