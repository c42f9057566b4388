"""Grad-CAM (Selvaraju et al. 2017) over the face crops of a clip, for every registered model.

Each model names the layer to explain in `model.cam_layer` (a dotted submodule path, set by its
factory; None plus `model.cam_unavailable` = why not). A forward hook keeps that layer's output
and `torch.autograd.grad` takes the gradient of the verdict's logit with respect to it; no
parameter gradients are computed, and nothing runs unless an explanation is asked for.

Why our own hooks rather than the `grad-cam` package (MIT, headless OpenCV since 1.5): its API
assumes one image in, one logit row out, whereas ours take (B, T, 3, H, W) windows, return a dict,
and the verdict of a video-level model is one logit over T frames. Wrapping that costs as many
lines as the hooks themselves, plus two dependencies (ttach, tqdm).

Target: the video logit when the model has a video head (it gives the verdict), else the sum of
the frame logits (each frame's logit depends on its own frame only, so one backward pass gives
every frame's own map). Layers of two shapes are handled:
- (B*T, C, h, w), a 2D backbone per frame: weights = spatial mean of the gradient per channel;
- (B, C, t, h, w), a 3D network (r3d): weights = mean over time and space; the (t, h, w) map is
  interpolated to the T input frames.
Stacks longer than the model's T frames are cut into the strided windows of dfdetect.scoring.inference;
a frame's map is the mean over the windows that hold it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dfdetect.errors import DfdetectError

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass
class StackExplanation:
    """Grad-CAM of one face stack. Arrays are per stack position (0..N-1)."""

    cams: np.ndarray  # (N, H, W) float32 >= 0, at the model's input size
    grad_norms: np.ndarray  # (N,) L2 norm of the target's gradient at each frame's layer output
    frame_probs: np.ndarray  # (N,) or empty for video-only models
    video_prob: float
    target: str  # "video" or "frame": which logit was explained
    layer: str
    chosen: list[int] = field(default_factory=list)  # positions that drive the verdict, best first


def resolve_cam_layer(model: "nn.Module") -> tuple[str, "nn.Module"]:
    """(name, module) of the layer a model asks to be explained, or a clear error."""
    name = getattr(model, "cam_layer", None)
    model_name = getattr(model, "model_name", type(model).__name__)
    if not name:
        why = getattr(model, "cam_unavailable", "") or "it names no layer to explain (no `cam_layer`)"
        raise DfdetectError(f"--explain is not available for model '{model_name}': {why}")
    try:
        return name, model.get_submodule(name)
    except AttributeError:
        raise DfdetectError(f"model '{model_name}': its cam_layer '{name}' is not a submodule") from None


def _window_cams(model: "nn.Module", layer: "nn.Module", x: "torch.Tensor") -> tuple[Any, Any, Any, Any, str]:
    """One batch of windows (k, T, 3, H, W) -> cams (k, T, H, W), grad norms (k, T), frame logits,
    video logits, target kind."""
    import torch
    import torch.nn.functional as F

    k, t, _, height, width = x.shape
    kept: dict[str, torch.Tensor] = {}

    def hook(_module: "nn.Module", _inputs: Any, output: "torch.Tensor") -> "torch.Tensor":
        # A leaf that requires grad: the gradient reaches it even under a frozen backbone, and
        # autograd skips everything before the layer.
        out = output.detach().requires_grad_(True)
        kept["act"] = out
        return out

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            out = model(x)
            video, frame = out.get("video"), out.get("frame")
            target = video if video is not None else frame
            if "act" not in kept:
                raise DfdetectError("the cam_layer did not run in the forward pass")
            (grad,) = torch.autograd.grad(target.float().sum(), kept["act"], allow_unused=True)
    finally:
        handle.remove()
    act = kept["act"].detach()
    if grad is None:
        raise DfdetectError("no gradient reached the cam_layer (is its output detached inside the model?)")
    if act.dim() == 4:  # (k*T, C, h, w)
        act, grad = act.unflatten(0, (k, t)), grad.unflatten(0, (k, t))
        weights = grad.mean(dim=(-2, -1), keepdim=True)
        cam = F.relu((weights * act).sum(dim=2))  # (k, T, h, w)
        norms = grad.flatten(2).norm(dim=2)  # (k, T)
    elif act.dim() == 5:  # (k, C, t', h, w)
        weights = grad.mean(dim=(2, 3, 4), keepdim=True)
        cam = F.relu((weights * act).sum(dim=1, keepdim=True))  # (k, 1, t', h, w)
        cam = F.interpolate(cam, size=(t, *cam.shape[-2:]), mode="trilinear", align_corners=False)[:, 0]
        norms = grad.pow(2).sum(dim=(1, 3, 4)).sqrt()[:, None, :]  # (k, 1, t')
        norms = F.interpolate(norms, size=t, mode="linear", align_corners=False)[:, 0]
    else:
        raise DfdetectError(f"cannot explain a layer with output shape {tuple(act.shape)} (need 4D or 5D)")
    cam = F.interpolate(cam.float(), size=(height, width), mode="bilinear", align_corners=False)
    logits_f = frame.detach().float() if frame is not None else None
    logits_v = video.detach().float() if video is not None else None
    return cam, norms, logits_f, logits_v, "video" if video is not None else "frame"


def explain_stack(
    model: "nn.Module",
    config: dict[str, Any],
    faces: np.ndarray,
    n_frames: int = 6,
    device: "torch.device | str" = "cpu",
    aggregate: str = "mean",
    batch_size: int = 8,
) -> StackExplanation:
    """Grad-CAM maps for a face stack (N, S, S, 3) uint8, and the positions that drive the verdict:
    the highest frame scores for frame-level models, the largest gradients for video-head models."""
    import torch

    from dfdetect.training.data import preprocess_batch
    from dfdetect.scoring.inference import aggregate_frames, input_settings, window_indices

    faces = np.asarray(faces)
    if faces.ndim != 4 or len(faces) == 0:
        raise DfdetectError(f"nothing to explain: expected a face stack (N, S, S, 3), got shape {faces.shape}")
    layer_name, layer = resolve_cam_layer(model)
    s = input_settings(model, config)
    device = torch.device(device)
    model.eval()
    n, size = len(faces), s["img_size"]
    windows = window_indices(n, s["frames"])
    cam_sum = np.zeros((n, size, size), np.float32)
    norm_sum, count = np.zeros(n), np.zeros(n)
    frame_sum, video_logits = np.zeros(n), []
    target, has_frame = "frame", False
    for start in range(0, len(windows), max(1, batch_size)):
        idx = windows[start:start + batch_size]
        x = preprocess_batch(np.stack([faces[i] for i in idx]), size, s["mean"], s["std"], device)
        cam, norms, frame, video, target = _window_cams(model, layer, x)
        cam, norms = cam.cpu().numpy(), norms.cpu().numpy()
        for j, positions in enumerate(idx):
            np.add.at(cam_sum, positions, cam[j])
            np.add.at(norm_sum, positions, norms[j])
            np.add.at(count, positions, 1)
            if frame is not None:
                has_frame = True
                np.add.at(frame_sum, positions, torch.sigmoid(frame[j]).cpu().numpy())
        if video is not None:
            video_logits += video.reshape(-1).cpu().tolist()
    count = np.maximum(count, 1)
    frame_probs = frame_sum / count if has_frame else np.zeros(0)
    if video_logits:
        video_prob = float(np.mean(1.0 / (1.0 + np.exp(-np.asarray(video_logits)))))
    else:
        video_prob = aggregate_frames(frame_probs, aggregate)
    exp = StackExplanation(cam_sum / count[:, None, None], norm_sum / count, frame_probs, video_prob, target, layer_name)
    exp.chosen = choose_frames(exp, n_frames)
    return exp


def choose_frames(exp: StackExplanation, n_frames: int) -> list[int]:
    """Positions that drive the verdict, best first (ties: earlier frame first)."""
    key = exp.grad_norms if exp.target == "video" or exp.frame_probs.size == 0 else exp.frame_probs
    order = np.argsort(-np.asarray(key), kind="stable")
    return [int(i) for i in order[: max(1, int(n_frames))]]


def heat_in_out_ratio(cam: np.ndarray, region: np.ndarray) -> float:
    """Mean heat inside `region` (bool mask) over mean heat outside it: 1 for a uniform map.

    The "pointing game" measure of the tests: a map that looks where the manipulation is scores
    clearly above 1; a uniform or random map stays near 1."""
    cam = np.asarray(cam, dtype=np.float64)
    region = np.asarray(region, dtype=bool)
    if region.shape != cam.shape:
        raise ValueError(f"region {region.shape} and heat map {cam.shape} differ in shape")
    if region.all() or not region.any():
        raise ValueError("the region must cover part of the map, not all or none of it")
    inside, outside = cam[region].mean(), cam[~region].mean()
    return float(inside / outside) if outside > 0 else float("inf") if inside > 0 else 1.0


def pointing_hit(cam: np.ndarray, region: np.ndarray) -> bool:
    """True when the map's hottest pixel lies inside the region (Zhang et al.'s pointing game)."""
    cam = np.asarray(cam)
    return bool(np.asarray(region, dtype=bool).flat[int(np.argmax(cam))])
