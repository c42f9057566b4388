"""Speed and memory of `dfdetect extract --detector dlib --frames 32` against a reference extractor.

The reference is written here in the style of DeepfakeBench's preprocessing: decode every frame
with cap.read() into a list, take 32 evenly spaced frames, run dlib HOG with upsample 1 on each
full-resolution grey frame, keep the largest face, crop 1.3x square (clipped to the frame),
resize to 128 and write PNGs. "Decode only" grabs every frame and retrieves the 32 sampled ones:
the floor that any streaming extractor pays.

Targets (issue 2): ours >= 8x faster than the reference, <= 2x decode-only, finds a face in at
least as many sampled frames, peak RSS < 500 MB. Runs are interleaved (reference, ours, decode
per repetition) so that load from other processes hits all three alike; medians are reported.

    python benchmarks/extract_speed.py                # synthetic 720p/1080p clips + fixture clips
    python benchmarks/extract_speed.py --runs 5 --json results.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "videos"
N_FRAMES, SIZE, SCALE = 32, 128, 1.3


# ---------------------------------------------------------------- the three contenders

_reference_detector = []


def reference_extract(path: Path, out_dir: Path) -> int:
    """DeepfakeBench-style: everything in memory, HOG upsample 1 at full resolution."""
    import dlib

    if not _reference_detector:  # built once per process, as DeepfakeBench does (and as ours is)
        _reference_detector.append(dlib.get_frontal_face_detector())
    detector = _reference_detector[0]
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    indices = np.linspace(0, len(frames) - 1, N_FRAMES).astype(int)
    found = 0
    for k, i in enumerate(indices):
        frame = frames[i]
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        faces = detector(grey, 1)
        if not faces:
            continue
        found += 1
        face = max(faces, key=lambda r: r.width() * r.height())
        cx, cy = (face.left() + face.right()) / 2, (face.top() + face.bottom()) / 2
        side = max(face.width(), face.height()) * SCALE
        h, w = frame.shape[:2]
        x1, y1 = max(int(cx - side / 2), 0), max(int(cy - side / 2), 0)
        x2, y2 = min(int(cx + side / 2), w), min(int(cy + side / 2), h)
        crop = cv2.resize(frame[y1:y2, x1:x2], (SIZE, SIZE))
        cv2.imwrite(str(out_dir / f"{k:03d}.png"), crop)
    return found


def decode_only(path: Path) -> int:
    """Grab every frame, retrieve the 32 sampled ones."""
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = set(np.linspace(0, total - 1, N_FRAMES).round().astype(int).tolist())
    got = 0
    for i in range(total):
        if not cap.grab():
            break
        if i in wanted:
            ok, _ = cap.retrieve()
            got += ok
    cap.release()
    return got


def ours(path: Path, out_dir: Path) -> int:
    """`dfdetect extract --detector dlib --frames 32`, single worker, through the library."""
    from dfdetect.extraction import ExtractOptions, gather_inputs, run_extraction
    from dfdetect.manifest import read_manifest

    summary = run_extraction(gather_inputs([path]), out_dir, ExtractOptions(frames=N_FRAMES, size=SIZE, scale=SCALE))
    if summary.error:
        raise RuntimeError(f"{path}: {summary.errors}")
    return int(read_manifest(summary.manifest)["faces"].astype(int).sum())


# The child reports its own VmHWM (peak RSS of its address space). A child's ru_maxrss would not
# do: on Linux it keeps the high-water mark of the forked parent's pages across exec.
_PEAK_RSS_WRAPPER = """
import atexit, sys
out = sys.argv[1]
def _report():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM'):
            open(out, 'w').write(line.split()[1])
atexit.register(_report)
sys.argv = ['dfdetect'] + sys.argv[2:]
from dfdetect.cli import main
main()
"""


def cli_peak_rss(path: Path, extra: list[str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `dfdetect extract` run as its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "hwm"
        cmd = [sys.executable, "-c", _PEAK_RSS_WRAPPER, str(report), "--quiet", "extract", str(path),
               "--out", str(Path(tmp) / "data"), "--detector", "dlib", "--frames", str(N_FRAMES), *(extra or [])]
        start = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"dfdetect extract failed on {path} (exit {proc.returncode}): {proc.stderr[-500:]}")
        return wall, int(report.read_text()) / 1024.0  # VmHWM is in kB


# ---------------------------------------------------------------- clips

def make_clips(work: Path, sizes: list[str], n_frames: int) -> list[Path]:
    from dfdetect.synth import make_clip

    clips = []
    for spec in sizes:
        w, h = (int(v) for v in spec.split("x"))
        p = work / f"synth_{h}p_{n_frames}f.mp4"
        if not p.exists():
            print(f"writing {p} ...", file=sys.stderr, flush=True)
            make_clip(p, fake=False, seed=0, width=w, height=h, n_frames=n_frames)
        clips.append(p)
    return clips


def make_long_clip(src: Path, work: Path, n_frames: int) -> Path:
    """`src` looped to `n_frames` frames (to show that memory does not grow with length)."""
    out = work / f"{src.stem}_long{n_frames}.mp4"
    if out.exists():
        return out
    print(f"writing {out} ...", file=sys.stderr, flush=True)
    cap = cv2.VideoCapture(str(src))
    writer = None
    written = 0
    while written < n_frames:
        ok, frame = cap.read()
        if not ok:
            cap.release()
            cap = cv2.VideoCapture(str(src))
            continue
        if writer is None:
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
        writer.write(frame)
        written += 1
    cap.release()
    writer.release()
    return out


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="repetitions per clip (median reported)")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "dfdetect-bench")
    ap.add_argument("--sizes", default="1280x720,1920x1080", help="synthetic clip sizes")
    ap.add_argument("--clip-frames", type=int, default=300)
    ap.add_argument("--no-fixtures", action="store_true")
    ap.add_argument("--workers-check", type=int, default=2, help="also time a batch with this many workers")
    ap.add_argument("--long-frames", type=int, default=3000,
                    help="also measure peak RSS on the largest synthetic clip looped to this many frames (0: skip)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    clips = make_clips(args.work, [s for s in args.sizes.split(",") if s], args.clip_frames)
    hd_clips = list(clips)
    if not args.no_fixtures and FIXTURES.is_dir():
        clips += sorted(FIXTURES.glob("*/*.mp4"))

    from dfdetect.extraction import ExtractOptions

    rows = []
    for clip in clips:
        t_ref, t_ours, t_dec = [], [], []
        c_ref, c_ours, c_dec = [], [], []  # CPU seconds: steadier than wall time on a shared machine
        faces_ref = faces_ours = 0
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
                s, c = time.perf_counter(), time.process_time()
                faces_ref = reference_extract(clip, Path(a))
                t_ref.append(time.perf_counter() - s); c_ref.append(time.process_time() - c)
                s, c = time.perf_counter(), time.process_time()
                faces_ours = ours(clip, Path(b))
                t_ours.append(time.perf_counter() - s); c_ours.append(time.process_time() - c)
            s, c = time.perf_counter(), time.process_time()
            decode_only(clip)
            t_dec.append(time.perf_counter() - s); c_dec.append(time.process_time() - c)
        cli_wall, rss = cli_peak_rss(clip)
        cap = cv2.VideoCapture(str(clip))
        w, h, n = int(cap.get(3)), int(cap.get(4)), int(cap.get(7))
        cap.release()
        row = {
            "clip": clip.name, "size": f"{w}x{h}", "frames": n,
            "reference_s": _median(t_ref), "ours_s": _median(t_ours), "decode_s": _median(t_dec),
            "speedup": _median(t_ref) / _median(t_ours), "vs_decode": _median(t_ours) / _median(t_dec),
            "reference_cpu_s": _median(c_ref), "ours_cpu_s": _median(c_ours), "decode_cpu_s": _median(c_dec),
            "faces_ref": faces_ref, "faces_ours": faces_ours, "cli_wall_s": cli_wall, "peak_rss_mb": rss,
        }
        rows.append(row)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), file=sys.stderr, flush=True)

    long_rss = None
    if args.long_frames and hd_clips:
        long_clip = make_long_clip(hd_clips[-1], args.work, args.long_frames)
        wall, rss = cli_peak_rss(long_clip)
        long_rss = {"clip": long_clip.name, "frames": args.long_frames, "cli_wall_s": wall, "peak_rss_mb": rss}

    workers = {}
    if args.workers_check > 1:
        from dfdetect.extraction import gather_inputs, run_extraction

        for n in (1, args.workers_check):
            with tempfile.TemporaryDirectory() as tmp:
                s = run_extraction(gather_inputs(clips), tmp, ExtractOptions(frames=N_FRAMES), workers=n)
                workers[n] = {"frames": s.frames, "seconds": s.seconds, "frames_per_s": s.frames_per_second}

    print(f"\n{'clip':34} {'size':>9} {'ref s':>7} {'ours s':>7} {'decode s':>8} {'speedup':>7} "
          f"{'/decode':>7} {'faces ref':>9} {'ours':>5} {'RSS MB':>7}")
    for r in rows:
        print(f"{r['clip'][:34]:34} {r['size']:>9} {r['reference_s']:7.2f} {r['ours_s']:7.2f} {r['decode_s']:8.2f} "
              f"{r['speedup']:6.1f}x {r['vs_decode']:6.2f}x {r['faces_ref']:9d} {r['faces_ours']:5d} {r['peak_rss_mb']:7.0f}")
    hd = [r for r in rows if r["clip"].startswith("synth_")]
    if hd:
        total_ref = sum(r["reference_s"] for r in hd)
        total_ours = sum(r["ours_s"] for r in hd)
        total_dec = sum(r["decode_s"] for r in hd)
        print(f"\nsynthetic 720p/1080p total: reference {total_ref:.1f} s, ours {total_ours:.1f} s "
              f"({total_ref / total_ours:.1f}x faster; target >= 8x), decode-only {total_dec:.1f} s "
              f"(ours = {total_ours / total_dec:.2f}x decode; target <= 2x)")
        cpu = [sum(r[k] for r in hd) for k in ("reference_cpu_s", "ours_cpu_s", "decode_cpu_s")]
        print(f"same in CPU seconds: reference {cpu[0]:.1f}, ours {cpu[1]:.1f} ({cpu[0] / cpu[1]:.1f}x), "
              f"decode-only {cpu[2]:.1f} (ours = {cpu[1] / cpu[2]:.2f}x)")
    print(f"all clips: faces found ours {sum(r['faces_ours'] for r in rows)} vs reference "
          f"{sum(r['faces_ref'] for r in rows)}; peak RSS max {max(r['peak_rss_mb'] for r in rows):.0f} MB (target < 500)")
    if long_rss:
        print(f"long clip {long_rss['clip']} ({long_rss['frames']} frames): peak RSS {long_rss['peak_rss_mb']:.0f} MB, "
              f"CLI wall {long_rss['cli_wall_s']:.1f} s")
    for n, w in workers.items():
        print(f"--workers {n}: {w['frames']} frames in {w['seconds']:.1f} s = {w['frames_per_s']:.1f} frames/s")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "workers": workers, "long": long_rss}, indent=1))


if __name__ == "__main__":
    main()
