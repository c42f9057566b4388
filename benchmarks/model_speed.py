"""Training-step speed of the models: forward + backward + Adam step on tensors in memory.

    python benchmarks/model_speed.py [--models dual,cnn] [--batch 2] [--frames 32] [--img-size 64]
                                     [--repeats 5] [--device cpu] [--loop-baseline]

For each model, frames/s = B*T / (median time of one step) after one warm-up step. With
`--loop-baseline`, `dual` is also timed with its backbone called in a Python loop over time
(the seed's style), in the same run, so the batched call's gain is measured on the same machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from dfdetect.device import select_device
from dfdetect.training.losses import DualLevelLoss, create_loss
from dfdetect.models import create_model


def looped_forward(model: torch.nn.Module, x: torch.Tensor) -> dict:
    """`dual` with its backbone called once per time step (the reference code's pattern)."""
    feats = torch.stack([model.backbone(model.frequency(x[:, t])) for t in range(x.shape[1])], dim=1)
    return model.forward_head(feats)


def time_steps(model: torch.nn.Module, x: torch.Tensor, repeats: int, forward=None) -> float:
    forward = forward or model
    loss_fn = DualLevelLoss(create_loss("auc"))
    targets = (torch.arange(x.shape[0], device=x.device) % 2).float()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    times = []
    for i in range(repeats + 1):
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        loss, _ = loss_fn(forward(x), targets)
        loss.backward()
        optimiser.step()
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step warms up kernels and allocators
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="dual")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--img-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--loop-baseline", action="store_true")
    args = parser.parse_args()
    device = select_device(args.device)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.frames, 3, args.img_size, args.img_size, device=device)
    frames = args.batch * args.frames
    print(f"device={device} B={args.batch} T={args.frames} img={args.img_size} threads={torch.get_num_threads()}", flush=True)
    print(f"{'model':<22}{'step s (median)':>16}{'frames/s':>12}")
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        model = create_model(name, img_size=args.img_size, frames=args.frames).to(device).train()
        seconds = time_steps(model, x, args.repeats)
        print(f"{name:<22}{seconds:>16.3f}{frames / seconds:>12.1f}", flush=True)
        if args.loop_baseline and name == "dual":
            loop_seconds = time_steps(model, x, args.repeats, forward=lambda v: looped_forward(model, v))
            print(f"{'dual (loop over T)':<22}{loop_seconds:>16.3f}{frames / loop_seconds:>12.1f}")
            print(f"batched / loop speed-up: {loop_seconds / seconds:.2f}x")


if __name__ == "__main__":
    main()
