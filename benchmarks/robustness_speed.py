"""Wall time of `dfdetect robustness`: cold (empty cache), warm (perturbed extractions cached,
probabilities not: what a second model on the same test set pays) and again (both cached).

Each run is the real command in a child process (what a user waits for, imports included), on the
clips of a folder holding real/ and fake/ subfolders (default: the shared fixture clips,
../shared/fixtures/videos; skipped when absent) or on a test CSV, with a fresh cache folder.

    python benchmarks/robustness_speed.py [--videos DIR | --csv TEST.csv] [--checkpoint default]
        [--perturbations all] [--workers 2] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures" / "videos"
VIDEO_EXT = {".mp4", ".avi", ".mov", ".mkv", ".webm"}


def folder_csv(folder: Path, out: Path, limit: int | None) -> int:
    rows = []
    for label in ("real", "fake"):
        files = sorted(p for p in (folder / label).glob("*") if p.suffix.lower() in VIDEO_EXT)
        rows += [{"video_id": f"{label}_{p.stem}", "path": str(p.resolve()), "label": label} for p in files[:limit]]
    with open(out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["video_id", "path", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def timed_run(args: list[str]) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="400")  # the summary line unwrapped
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dfdetect", "robustness", *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"robustness failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    summary = next((line for line in proc.stderr.splitlines()[::-1] if "cached" in line), "")
    return seconds, summary.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=Path, default=FIXTURES, help="a folder with real/ and fake/ subfolders")
    parser.add_argument("--csv", type=Path, default=None, help="a test CSV (path, label) instead of --videos")
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--perturbations", default="all")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="at most N videos per class (folder input)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dfdetect-robbench-") as tmp:
        tmp_path = Path(tmp)
        if args.csv is not None:
            test_csv, n = args.csv, sum(1 for _ in open(args.csv)) - 1
        else:
            if not (args.videos / "real").is_dir():
                print(f"skipped: {args.videos} absent (pass --videos DIR with real/ and fake/, or --csv)")
                return
            test_csv = tmp_path / "test.csv"
            n = folder_csv(args.videos, test_csv, args.limit)
        common = [args.checkpoint, str(test_csv), "--out", str(tmp_path / "out"), "--perturbations", args.perturbations,
                  "--cache", str(tmp_path / "cache"), "--workers", str(args.workers), "--device", "cpu"]
        cold, cold_summary = timed_run(common)
        shutil.rmtree(tmp_path / "cache" / "scores", ignore_errors=True)  # as if another model
        warm, warm_summary = timed_run(common)
        again, again_summary = timed_run(common)
        print(f"{n} videos, --perturbations {args.perturbations}, --workers {args.workers}, {args.checkpoint}, "
              f"{os.cpu_count()} CPUs")
        print(f"  cold (empty cache)                     : {cold:7.1f} s   {cold_summary}")
        print(f"  warm (extractions cached, scoring paid): {warm:7.1f} s   {warm_summary}")
        print(f"  again (scores cached too)              : {again:7.1f} s   {again_summary}")


if __name__ == "__main__":
    main()
