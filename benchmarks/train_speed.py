"""Training throughput (frames/s) of `dual` (ResNet-50 + GRU) at 64x64, T=32, B=2 on CPU.

Three pipelines, measured in the same run, each the median over several training steps:
  ours  - the real path: FaceStackDataset (mmap'd .npy stacks, uint8, cv2 resize in the worker)
          -> DataLoader workers -> Trainer._step (preprocess_batch, batched backbone, Adam step);
          a step's time includes waiting for its batch.
  bare  - the same forward + backward + Adam step on a float batch already in memory.
  seed  - the seed's style: every frame read from its own PNG per item with PIL + torchvision
          transforms, float tensors through the DataLoader, the backbone called in a Python
          loop over time.
Targets: ours >= 0.8 x bare, ours >= 3 x seed.

    python benchmarks/train_speed.py [--iters 5] [--seed-iters 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# as `dfdetect train` does: OpenMP threads sleep rather than spin while waiting (before torch loads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

B, T, IMG, STACK_SIZE, STACK_FRAMES = 2, 32, 64, 128, 48


def make_data(root: Path, n_videos: int) -> Path:
    """Face stacks at the extract default size (128) plus one PNG per frame for the seed pipeline."""
    import cv2
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_videos):
        vid = f"v{i:03d}"
        stack = rng.integers(0, 256, size=(STACK_FRAMES, STACK_SIZE, STACK_SIZE, 3), dtype=np.uint8)
        (root / "faces").mkdir(parents=True, exist_ok=True)
        np.save(root / "faces" / f"{vid}.npy", stack)
        (root / "png" / vid).mkdir(parents=True, exist_ok=True)
        for t, frame in enumerate(stack):
            cv2.imwrite(str(root / "png" / vid / f"{t:04d}.png"), frame[..., ::-1])
        rows.append({"video_id": vid, "path": f"{vid}.mp4", "label": i % 2, "group": vid, "method": "", "dataset": "",
                     "split": "", "frames": STACK_FRAMES, "faces": STACK_FRAMES, "faces_file": f"faces/{vid}.npy",
                     "status": "ok", "error": ""})
    csv = root / "train.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


def frames_per_s(times: list[float]) -> float:
    return B * T / statistics.median(times)


def interleaved(pipelines: dict, iters: dict, warmup: int = 1) -> dict[str, list[float]]:
    """Run the pipelines' steps round-robin so that load changes on a shared machine hit all alike.
    Each step's time includes fetching its batch (a DataLoader that cannot keep up shows here)."""
    its = {name: iter(batches) for name, (_, batches) in pipelines.items()}
    for name, (step, _) in pipelines.items():
        for _ in range(warmup):
            step(next(its[name]))
    times: dict[str, list[float]] = {name: [] for name in pipelines}
    for round_ in range(max(iters.values())):
        for name, (step, _) in pipelines.items():
            if round_ < iters[name]:
                start = time.perf_counter()
                step(next(its[name]))
                times[name].append(time.perf_counter() - start)
    return times


def bench_ours(csv: Path, run_dir: Path, workers: int):
    """The engine's real step through Dataset + DataLoader; returns (times, trainer)."""
    import torch

    from dfdetect.training.config import TrainConfig
    from dfdetect.training.distributed import DistContext
    from dfdetect.training.engine import Trainer

    config = TrainConfig(
        str(csv), None, model="dual", backbone="resnet50", frames=T, img_size=IMG, batch_size=B, workers=workers,
        pretrained=False, device="cpu", out=str(run_dir), augment=["flip", "color"],
    )
    trainer = Trainer(config, torch.device("cpu"), DistContext())
    trainer.setup()
    trainer.model.train()

    def batches():
        epoch = 1
        while True:
            trainer.train_sampler.set_epoch(epoch)
            yield from trainer.train_loader
            epoch += 1

    return (lambda b: trainer._step(b, 1), batches()), trainer


def bench_bare(trainer, channels_last: bool):
    """Forward + backward + Adam step on a float batch already in memory (no data loading)."""
    import torch

    from dfdetect.training.data import preprocess_batch

    frames = torch.randint(0, 256, (B, T, IMG, IMG, 3), dtype=torch.uint8)
    x = preprocess_batch(frames, IMG, trainer.mean, trainer.std, "cpu")
    y, mask = torch.tensor([0.0, 1.0]), torch.ones(B, T, dtype=torch.bool)

    model = trainer.model
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def step(_):
        model.to(memory_format=memory_format)  # a no-op after the first call unless formats alternate
        loss, _ = trainer.loss_fn(model(x.flatten(0, 1).contiguous(memory_format=memory_format).unflatten(0, (B, T))), y, mask)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()
        model.to(memory_format=torch.contiguous_format)

    return step, iter(lambda: 0, 1)


class SeedStyleDataset:
    """One PNG per frame, opened with PIL and transformed frame by frame into float tensors."""

    def __init__(self, root: Path, videos: list[str]) -> None:
        from torchvision import transforms

        self.root, self.videos = root, videos
        self.transform = transforms.Compose([
            transforms.Resize((IMG, IMG)), transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ])

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int):
        import torch
        from PIL import Image

        folder = self.root / "png" / self.videos[i]
        files = sorted(folder.glob("*.png"))[:T]
        clip = torch.stack([self.transform(Image.open(f).convert("RGB")) for f in files])
        return clip, torch.tensor(float(i % 2))


def bench_seed(root: Path, trainer, workers: int):
    import torch
    from torch.utils.data import DataLoader

    model = trainer.bare_model.to(memory_format=torch.contiguous_format)
    videos = sorted(p.name for p in (root / "png").iterdir())
    loader = DataLoader(SeedStyleDataset(root, videos), batch_size=B, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0)
    mask = torch.ones(B, T, dtype=torch.bool)

    def batches():
        while True:
            yield from loader

    def step(batch):
        x, y = batch
        feats = torch.stack([model.backbone(x[:, t]) for t in range(x.shape[1])], dim=1)  # a loop over time
        loss, _ = trainer.loss_fn(model.forward_head(feats), y, mask)
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        trainer.optimizer.step()

    return step, batches()


def bench_resize(csv: Path, repeats: int = 20) -> tuple[float, float]:
    """ms per batch to resize 128->64: cv2 per frame in the worker vs F.interpolate batched."""
    import torch

    from dfdetect.training.data import preprocess_batch, read_stack, resize_clip

    stack = np.asarray(read_stack(csv.parent / "faces" / "v000.npy")[:T])
    batch = torch.from_numpy(np.stack([stack] * B))
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

    def cv2_path():
        small = torch.from_numpy(np.stack([resize_clip(stack, IMG) for _ in range(B)]))
        preprocess_batch(small, IMG, mean, std)

    def torch_path():  # the alternative: batched F.interpolate (no longer in preprocess_batch)
        import torch.nn.functional as F

        x = batch.flatten(0, 1).permute(0, 3, 1, 2).float().div_(255.0)
        x = F.interpolate(x, size=(IMG, IMG), mode="bilinear", antialias=True, align_corners=False)
        m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
        x.sub_(m).div_(s)

    result = []
    for fn in (cv2_path, torch_path):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        result.append(1000 * statistics.median(times))
    return result[0], result[1]


def show(name: str, times: list[float]) -> None:
    print(f"{name:42s} {frames_per_s(times):8.2f} frames/s  (median step {statistics.median(times):.2f} s of {len(times)})",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=5, help="timed steps for ours and bare (median)")
    parser.add_argument("--seed-iters", type=int, default=3, help="timed steps for the (slow) seed pipeline")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (both pipelines)")
    parser.add_argument("--skip-seed", action="store_true")
    args = parser.parse_args()

    import torch

    from dfdetect import console

    console.configure(quiet=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, dual resnet50 {IMG}x{IMG} T={T} B={B}, CPU fp32")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        csv = make_data(root, n_videos=8)  # the loaders cycle over epochs
        cv2_ms, torch_ms = bench_resize(csv)
        print(f"resize 128->64 per batch: cv2 in worker {cv2_ms:.1f} ms, F.interpolate batched {torch_ms:.1f} ms", flush=True)
        ours_pipeline, trainer = bench_ours(csv, root / "run", args.workers)
        pipelines = {"ours": ours_pipeline, "bare": bench_bare(trainer, False), "bare_cl": bench_bare(trainer, True)}
        iters = {"ours": args.iters, "bare": args.iters, "bare_cl": args.iters}
        if not args.skip_seed:
            pipelines["seed"] = bench_seed(root, trainer, args.workers)
            iters["seed"] = args.seed_iters
        times = interleaved(pipelines, iters)
    ours, bare = times["ours"], times["bare"]
    show("ours (Dataset+DataLoader+engine step)", ours)
    show("bare step, tensors in memory", bare)
    show("bare step, channels_last", times["bare_cl"])
    if not args.skip_seed:
        seed = times["seed"]
        show("seed-style (PNG per frame, loop over T)", seed)
    print(f"ours / bare = {frames_per_s(ours) / frames_per_s(bare):.2f}  (target >= 0.8)")
    if not args.skip_seed:
        print(f"ours / seed = {frames_per_s(ours) / frames_per_s(seed):.2f}  (target >= 3)")


if __name__ == "__main__":
    main()
