"""Tensor ops of the `mtcnn` package (ipazc/mtcnn 1.0) re-done in torch, batched and on any device.

Each function mirrors one TensorFlow/numpy step of that package so that our boxes match its
boxes, quirks included:
- `area_resize` = tf.image.resize(method=AREA): every output pixel is the exact, fractionally
  weighted mean of the input pixels it covers (torch's "area" mode is adaptive pooling, which
  rounds the bins and would shift the pyramid);
- `crop_and_resize` = tf.image.crop_and_resize (bilinear, boxes normalised by H/W but sampled on
  an (H-1)/(W-1) grid, samples outside the image set to 0);
- `suppressed_by_higher` = mtcnn.utils.bboxes.nms: a box is dropped when ANY higher-scored box
  overlaps it, whether or not that box survives itself (not the greedy NMS of torchvision).
Imports torch at import time; used only from MtcnnDetector, which is imported lazily.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=32)  # every chunk of a video reuses the same pyramid levels
def area_matrix(size_in: int, size_out: int, device: torch.device) -> torch.Tensor:
    """(size_out, size_in) weights: output pixel j averages [j*s, (j+1)*s) of the input, s = in/out,
    each input pixel weighted by the fraction of it that falls inside."""
    scale = size_in / size_out
    start = torch.arange(size_out, dtype=torch.float64)[:, None] * scale
    pixel = torch.arange(size_in, dtype=torch.float64)[None, :]
    overlap = (torch.minimum(pixel + 1, start + scale) - torch.maximum(pixel, start)).clamp(min=0)
    return (overlap / scale).float().to(device)


def area_resize(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Exact area resampling of (B, C, H, W) to (B, C, height, width) as two matmuls (cheap on a
    GPU; on the CPU the detector uses cv2's INTER_AREA, the same weights, instead)."""
    if images.shape[-2:] == (height, width):
        return images
    resized = images @ area_matrix(images.shape[-1], width, images.device).T
    return area_matrix(images.shape[-2], height, images.device) @ resized


def area_resize_cv2(frames: "list[np.ndarray]", height: int, width: int) -> torch.Tensor:
    """area_resize for float32 (H, W, 3) frames on the CPU: cv2's INTER_AREA is the same
    fractional-overlap average when shrinking, and an order of magnitude faster than matmuls."""
    import cv2

    return torch.from_numpy(
        np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])
    ).permute(0, 3, 1, 2)


def crop_and_resize(images: torch.Tensor, boxes: torch.Tensor, image_index: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (N, C, size, size) patches of `images` (B, C, H, W) at pixel `boxes` (N, 4 x1 y1 x2 y2)."""
    n = boxes.shape[0]
    _, c, h, w = images.shape
    patches = images.new_zeros((n, c, size, size))
    if n == 0:
        return patches
    steps = torch.arange(size, device=boxes.device, dtype=boxes.dtype) / max(size - 1, 1)
    # TF: in_y = y1/H*(H-1) + i*(y2-y1)/H*(H-1)/(size-1); the same along x.
    ys = (boxes[:, 1:2] + steps[None, :] * (boxes[:, 3:4] - boxes[:, 1:2])) / h * (h - 1)
    xs = (boxes[:, 0:1] + steps[None, :] * (boxes[:, 2:3] - boxes[:, 0:1])) / w * (w - 1)
    # TF sets a sample outside the image to 0 outright; grid_sample would blend it with the border.
    valid = ((ys >= 0) & (ys <= h - 1))[:, :, None] & ((xs >= 0) & (xs <= w - 1))[:, None, :]
    gx = (2 * xs / max(w - 1, 1) - 1)[:, None, :].expand(n, size, size)
    gy = (2 * ys / max(h - 1, 1) - 1)[:, :, None].expand(n, size, size)
    grid = torch.stack([gx, gy], dim=-1)  # (N, size, size, 2), grid_sample wants (x, y)
    for b in torch.unique(image_index).tolist():
        rows = (image_index == b).nonzero(as_tuple=True)[0]
        sampled = F.grid_sample(
            images[b : b + 1], grid[rows].reshape(1, -1, size, 2), mode="bilinear",
            padding_mode="zeros", align_corners=True,
        )  # (1, C, k*size, size)
        patches[rows] = sampled.view(c, len(rows), size, size).transpose(0, 1)
    return patches * valid[:, None].to(patches.dtype)


def pairwise_overlap(a: torch.Tensor, b: torch.Tensor, method: str = "union") -> torch.Tensor:
    """IoU (or intersection over the smaller area, method='min') of boxes a (N, 4) x b (M, 4)."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iw = (torch.minimum(a[:, None, 2], b[None, :, 2]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    ih = (torch.minimum(a[:, None, 3], b[None, :, 3]) - torch.maximum(a[:, None, 1], b[None, :, 1])).clamp(min=0)
    inter = iw * ih
    if method == "min":
        return inter / torch.minimum(area_a[:, None], area_b[None, :])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def suppressed_by_higher(boxes: torch.Tensor, threshold: float, method: str = "union", chunk: int = 2048) -> torch.Tensor:
    """For boxes sorted by descending score: True where an earlier box overlaps more than threshold."""
    n = boxes.shape[0]
    suppressed = torch.zeros(n, dtype=torch.bool, device=boxes.device)
    for lo in range(0, n, chunk):  # rows in chunks: memory O(chunk * n), not O(n^2)
        hi = min(n, lo + chunk)
        overlap = pairwise_overlap(boxes[lo:hi], boxes, method)
        earlier = torch.arange(lo, hi, device=boxes.device)[:, None] < torch.arange(n, device=boxes.device)[None, :]
        suppressed |= ((overlap > threshold) & earlier).any(dim=0)
    return suppressed


def nms_per_image(
    boxes: torch.Tensor, scores: torch.Tensor, image_index: torch.Tensor, threshold: float,
    method: str = "union", sort: bool = True,
) -> torch.Tensor:
    """Indices kept by mtcnn's NMS, applied image by image; returned in (image, -score) order.

    With sort=False the boxes must already be in descending score order within each image."""
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.argsort(scores, descending=True, stable=True) if sort else torch.arange(len(scores), device=boxes.device)
    order = order[torch.argsort(image_index[order], stable=True)]
    kept = []
    _, counts = torch.unique_consecutive(image_index[order], return_counts=True)
    for chunk in torch.split(order, counts.tolist()):
        kept.append(chunk[~suppressed_by_higher(boxes[chunk], threshold, method)])
    return torch.cat(kept)


def square_boxes(boxes: torch.Tensor) -> torch.Tensor:
    """Grow the shorter side of (N, 4) boxes to the longer one around the same centre."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    x1 = boxes[:, 0] + w * 0.5 - side * 0.5
    y1 = boxes[:, 1] + h * 0.5 - side * 0.5
    return torch.stack([x1, y1, x1 + side, y1 + side], dim=1)


def apply_regression(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """mtcnn's adjust_bboxes: offsets are fractions of the (+1 inclusive) box width/height."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    return boxes + offsets * torch.stack([w, h, w, h], dim=1)
