"""`dfdetect extract`: videos in, face-crop stacks and a manifest out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from dfdetect import console
from dfdetect.commands._common import DeviceOption, SeedOption, handle_errors
from dfdetect.errors import UsageError

if TYPE_CHECKING:
    from dfdetect.extraction import ExtractSummary

# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect extract demo/videos.csv --out data",
    "dfdetect extract videos/real --label real --out data --workers 4",
    "dfdetect extract /datasets/FF++ --dataset ff++ --reencode crf=32,40 --out ffpp",
]


@handle_errors
def command(
    inputs: Annotated[
        Optional[list[str]],
        typer.Argument(help="Video files, folders (searched recursively) and CSV lists (path,label[,group,method]), or a dataset root with --dataset.",
                       show_default=False, metavar="INPUTS"),
    ] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output DATA folder (manifest.csv, faces/).")] = None,
    label: Annotated[Optional[str], typer.Option("--label", help="real or fake, for plain files/folders and CSV lists without a label column (unknown otherwise). Relabels videos already extracted with another label.")] = None,
    csv: Annotated[
        Optional[list[Path]], typer.Option("--csv", help="CSV list with columns path,label[,group,method]; repeatable.")
    ] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Dataset layout of INPUTS: ff++, celeb-df or dfdc.")] = None,
    compression: Annotated[str, typer.Option("--compression", help="FF++ quality folder: raw, c23 or c40.")] = "c23",
    detector: Annotated[str, typer.Option("--detector", help="Face detector: dlib, dlib-cnn, mtcnn or opencv (described under `dfdetect models`).")] = "dlib",
    detector_model: Annotated[
        Optional[Path], typer.Option("--detector-model", help="Model file for detectors that need one (dlib-cnn).")
    ] = None,
    frames: Annotated[str, typer.Option("--frames", help="Evenly spaced frames per video, or 'all'.")] = "32",
    scale: Annotated[float, typer.Option("--scale", help="Square crop side as a multiple of the face box.")] = 1.3,
    size: Annotated[int, typer.Option("--size", help="Crop side in pixels after resizing.")] = 128,
    workers: Annotated[int, typer.Option("--workers", "-j", help="Worker processes.")] = 1,
    shard: Annotated[
        Optional[str], typer.Option("--shard", help="Do only share i of n (1-based, e.g. 2/4), or 'auto' from the job array's environment (Slurm, Grid Engine, Kubernetes indexed Job: see README); writes manifest.part-i-of-n.csv.")
    ] = None,
    merge: Annotated[
        bool, typer.Option("--merge", help="Only merge DATA/manifest.part-*.csv into DATA/manifest.csv (DATA as INPUTS or --out).")
    ] = False,
    reencode: Annotated[
        Optional[str], typer.Option("--reencode", help="Also store each video re-encoded with H.264 at these CRFs (e.g. crf=32,40) as views of it: same group, one view drawn per training epoch.")
    ] = None,
    device: DeviceOption = "auto",
    seed: SeedOption = 0,
) -> None:
    """Extract face crops from videos into DATA/faces/<video_id>.npy plus DATA/manifest.csv."""
    from dfdetect.device import validate_device_string
    from dfdetect.extraction.options import ExtractOptions, parse_frames

    if merge:
        _merge(inputs or [], out)
        return
    if out is None:
        raise UsageError("missing option '--out': the DATA folder to write")
    if not inputs and not csv:
        raise UsageError("nothing to extract: give video files/folders, a dataset root with --dataset, or --csv")
    if label is not None and label.strip().lower() not in ("real", "fake", "0", "1"):
        raise UsageError(f"--label must be real or fake, not '{label}'")
    options = ExtractOptions(
        detector=detector, detector_model=None if detector_model is None else str(detector_model),
        frames=parse_frames(frames), scale=scale, size=size, device=validate_device_string(device), seed=seed,
    ).validate()
    from dfdetect.extraction import build_detector
    from dfdetect.extraction.views import parse_reencode
    from dfdetect.outputs import check_output_dir
    from dfdetect.sharding import parse_shard

    shard_spec = parse_shard(shard)
    # Every option is checked before anything is written: a refused --detector must not leave
    # an extract_config.json behind that then blocks the corrected command.
    build_detector(options)
    crfs = parse_reencode(reencode)
    if crfs:
        from dfdetect.robustness.ffmpeg import require_libx264

        require_libx264()
    check_output_dir(out)
    if dataset is not None:
        dataset = dataset.strip().lower()

    from dfdetect.extraction import gather_inputs, run_extraction

    items = gather_inputs(inputs or [], csvs=csv or [], dataset=dataset, compression=compression, label=label)
    console.info(f"extract: {len(items)} videos" + (f" and {len(items) * len(crfs)} re-encoded views" if crfs else "") + f" -> {out}" + (f" (shard {shard_spec[0]}/{shard_spec[1]})" if shard_spec else ""))
    summary = run_extraction(items, out, options, workers=workers, shard=shard_spec, reencode=crfs)
    render(summary)
    if summary.failed:
        raise typer.Exit(1)


def _merge(inputs: list[str], out: Optional[Path]) -> None:
    from dfdetect.extraction import merge_parts

    folders = [Path(p) for p in inputs] + ([out] if out is not None else [])
    if len(folders) != 1:
        raise UsageError("--merge takes exactly one DATA folder (as INPUTS or --out)")
    manifest, n = merge_parts(folders[0])
    console.info(f"merged into {manifest} ({n} videos)")


def render(summary: "ExtractSummary") -> None:
    """Counts and speed as a table on stdout; errors and where the manifest went on stderr."""
    from rich.table import Table

    table = Table(title="extract", title_justify="left")
    for name in ("videos", "ok", "no_face", "error", "skipped", "frames", "seconds", "frames/s"):
        table.add_column(name, justify="right")
    table.add_row(
        str(summary.total), str(summary.ok), str(summary.no_face), str(summary.error), str(summary.skipped),
        str(summary.frames), f"{summary.seconds:.1f}", f"{summary.frames_per_second:.1f}",
    )
    console.stdout.print(table)
    if summary.recovered:
        console.info(f"kept {summary.recovered} finished stack(s) that a killed run had not recorded in the manifest")
    for video_id, note in summary.notes[:20]:
        console.warn(f"{video_id}: {note}")
    for video_id, error in summary.errors[:20]:
        console.warn(f"{video_id}: {error}")
    if len(summary.errors) > 20:
        console.warn(f"... and {len(summary.errors) - 20} more errors (see the manifest's error column)")
    where = f"{summary.manifest}" + (" (all shards done: merged into manifest.csv)" if summary.merged else "")
    console.info(f"wrote {where}")
