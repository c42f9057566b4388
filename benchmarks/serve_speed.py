"""How fast is a check through the warm `dfdetect serve`, against `dfdetect predict` on the same clip?

    python benchmarks/serve_speed.py [--repeats 5] [--batch 8] [--source CLIP] [--checkpoint default]

Measured in one run, on one 10 s 1920x1080 H.264 clip made up front from a fixture clip (each
frame scaled to 1080 rows and centred on a black 1920-wide canvas, looped to 10 s, encoded with
imageio-ffmpeg's libx264):
- cli: `python -m dfdetect predict CLIP --format json`, a fresh process each time (Python, torch,
  the model and the detector start every time), wall clock, median of --repeats;
- server: `POST /v1/predict` of the same file to a warm `dfdetect serve` on loopback (upload,
  scoring, answer), wall clock per request, one after another after one warm-up, median of --repeats;
- throughput: --batch copies of the clip sent at once to a server with --workers 1, then to one
  with --workers 2: videos per second.
The scores must agree: the script stops if the server's fake_prob differs from the CLI's.
Target (issue 22): server median <= 1.0 s on this CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "videos"
DEFAULT_SOURCE = FIXTURES / "real" / "fomm_demo_04.mp4"


def make_1080p_clip(source: Path, out: Path, seconds: float = 10.0) -> Path:
    """SOURCE's frames, scaled to 1080 rows on a 1920x1080 canvas, looped to SECONDS, as H.264."""
    import cv2
    import imageio_ffmpeg
    import numpy as np

    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        h, w = frame.shape[:2]
        scale = min(1080 / h, 1920 / w)
        small = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
        canvas = np.zeros((1080, 1920, 3), np.uint8)
        y, x = (1080 - small.shape[0]) // 2, (1920 - small.shape[1]) // 2
        canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
        frames.append(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB))
    cap.release()
    if not frames:
        raise SystemExit(f"{source}: no frames")
    writer = imageio_ffmpeg.write_frames(str(out), (1920, 1080), fps=fps, codec="libx264", macro_block_size=8,
                                         output_params=["-preset", "veryfast", "-crf", "23"])
    writer.send(None)
    for i in range(int(round(seconds * fps))):
        writer.send(frames[i % len(frames)])
    writer.close()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, checkpoint: str, workers: int) -> None:
        import httpx

        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        started = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "dfdetect", "-q", "serve", "-c", checkpoint, "--port", port,
                                      "--device", "cpu", "--workers", str(workers), "--queue", "64"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            if self.proc.poll() is not None:
                raise SystemExit("dfdetect serve exited; run it by hand to see why")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        self.start_seconds = time.perf_counter() - started

    def predict(self, clip: Path) -> tuple[float, dict]:
        import httpx

        started = time.perf_counter()
        with clip.open("rb") as fh:
            r = httpx.post(self.url + "/v1/predict", files={"file": (clip.name, fh, "video/mp4")}, timeout=600)
        r.raise_for_status()
        return time.perf_counter() - started, r.json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(120)


def cli_predict(clip: Path, checkpoint: str) -> tuple[float, dict]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "dfdetect", "-q", "predict", str(clip), "-c", checkpoint,
                          "--format", "json", "--device", "cpu"], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(out.stdout)[0]


def throughput(clip: Path, checkpoint: str, workers: int, batch: int) -> tuple[float, float]:
    server = Server(checkpoint, workers)
    try:
        server.predict(clip)  # warm-up: every worker's first video
        started = time.perf_counter()
        with ThreadPoolExecutor(batch) as pool:
            list(pool.map(lambda _: server.predict(clip), range(batch)))
        wall = time.perf_counter() - started
    finally:
        server.stop()
    return batch / wall, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8, help="clips sent at once for the throughput rows")
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="clip to upscale (a fixture clip)")
    ap.add_argument("--checkpoint", default="default")
    args = ap.parse_args()
    if not args.source.is_file():
        raise SystemExit(f"{args.source}: not found; pass --source CLIP")
    with tempfile.TemporaryDirectory(prefix="dfdetect-serve-speed-") as tmp:
        clip = make_1080p_clip(args.source, Path(tmp) / "clip_1080p_10s.mp4")
        print(f"clip: {clip.name} from {args.source.name}, {clip.stat().st_size / 1e6:.1f} MB; CPU cores: {os.cpu_count()}",
              file=sys.stderr)
        server = Server(args.checkpoint, 1)
        try:
            server.predict(clip)  # warm-up
            serve_times, cli_times, scores, parts = [], [], set(), []
            for _ in range(args.repeats):  # interleaved, so both see the same machine load
                seconds, row = cli_predict(clip, args.checkpoint)
                cli_times.append(seconds)
                scores.add(("cli", row["fake_prob"]))
                seconds, body = server.predict(clip)
                serve_times.append(seconds)
                parts.append(body["seconds"])
                scores.add(("serve", body["fake_prob"]))
        finally:
            server.stop()
        if len({p for _, p in scores}) != 1:
            raise SystemExit(f"scores differ between the CLI and the server: {sorted(scores)}")
        tput1, wall1 = throughput(clip, args.checkpoint, 1, args.batch)
        tput2, wall2 = throughput(clip, args.checkpoint, 2, args.batch)
    cli_med, serve_med = statistics.median(cli_times), statistics.median(serve_times)
    print("| measure | value |\n|---|---|")
    print(f"| `dfdetect predict` (fresh process), median of {args.repeats} | {cli_med:.2f} s |")
    print(f"| warm server `POST /v1/predict`, median of {args.repeats} | {serve_med:.2f} s |")
    print(f"| of which face extraction (decode + detect) / model, medians | "
          f"{statistics.median(p['extract'] for p in parts):.2f} s / {statistics.median(p['model'] for p in parts):.2f} s |")
    print(f"| speed-up | {cli_med / serve_med:.1f}x |")
    print(f"| server start (model loaded, /healthz 200) | {server.start_seconds:.1f} s |")
    print(f"| throughput, {args.batch} clips at once, --workers 1 | {tput1:.2f} videos/s ({wall1:.1f} s) |")
    print(f"| throughput, {args.batch} clips at once, --workers 2 | {tput2:.2f} videos/s ({wall2:.1f} s) |")
    print(f"| fake_prob (CLI = server) | {next(iter(scores))[1]} |")
    print(f"target: server <= 1.0 s: {'met' if serve_med <= 1.0 else 'NOT met'}", file=sys.stderr)


if __name__ == "__main__":
    main()
