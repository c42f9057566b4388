"""Look at an HTML report in a real browser: a headless Chromium screenshot of it.

    python experiments/checks/report_screenshot.py REPORT.html [--out report.png] [--height 2000]

Without REPORT.html it builds one first: a tiny dual checkpoint evaluated on two small face-stack
test sets (random untrained weights, so there are mistakes to show), written to a temp folder.
Needs Debian's `chromium` (apt-get install chromium). Chromium runs with networking and
background services off, so the screenshot also shows that the page needs nothing from outside.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def demo_report(folder: Path) -> Path:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from _evaldata import save_tiny_checkpoint, write_test_set

    from dfdetect.evaluation.evaluate import EvalOptions, evaluate
    from dfdetect.report import write_eval_report

    csvs = [write_test_set(folder, "test", [0, 0, 0, 1, 1, 1, 0, 1], seed=0),
            write_test_set(folder, "test_1to2", [0, 0, 1, 0, 0, 1], seed=1)]
    ckpt = save_tiny_checkpoint(folder / "run" / "best.ckpt", frames=4, img_size=32)
    options = EvalOptions(device="cpu")
    return write_eval_report(evaluate(ckpt, csvs, options), folder / "report.html", options)


def screenshot(report: Path, out: Path, width: int = 1280, height: int = 2000) -> float:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        raise SystemExit("no chromium on PATH; install it with: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        start = time.perf_counter()
        subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}",
                        f"--window-size={width},{height}", report.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
    if not out.is_file():
        raise SystemExit(f"chromium wrote no screenshot to {out}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path)
    parser.add_argument("--out", type=Path, default=Path("report.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = args.report or demo_report(Path(tmp))
        seconds = screenshot(report, args.out, args.width, args.height)
        print(f"{report} ({report.stat().st_size / 1024:.0f} KiB) -> {args.out} in {seconds:.1f}s")


if __name__ == "__main__":
    main()
