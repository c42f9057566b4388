"""MTCNN (Zhang et al. 2016) in PyTorch, batched over frames, with the `mtcnn` wheel's weights.

The pipeline copies ipazc/mtcnn 1.0 (`mtcnn.MTCNN().detect_faces`, stages P-Net -> R-Net ->
O-Net) step by step, so its boxes match the TensorFlow package without needing TensorFlow:
pixels (x - 127.5) / 128, pyramid scales 12/min_face_size * 0.709^k, exact area resize, P-Net
proposals (stride 2, cells [2i+1, 2i+12], regression applied before NMS), NMS 0.5 per scale and 0.7
across scales, squared boxes, bilinear 24 px / 48 px patches, regression on the +1-inclusive
box size, NMS 0.7 (R-Net, union) and 0.7 (O-Net, over the smaller area).

Batching: every frame of a chunk goes through each pyramid level of P-Net together, then all
candidates of all frames through R-Net, then O-Net. Frames of different sizes are grouped by
size (the package pads them to one size instead; for equal sizes the two agree).
torch is imported inside the class: listing detectors or `--detector dlib` never loads it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from dfdetect.detectors.base import DETECTORS, FaceBox, FaceDetector

#: The mtcnn 1.0 package defaults (StagePNet/StageRNet/StageONet).
DEFAULT_THRESHOLDS = (0.6, 0.7, 0.8)


def scale_pyramid(width: int, height: int, min_face_size: float, scale_factor: float, min_size: int = 12) -> np.ndarray:
    """mtcnn.utils.images.build_scale_pyramid, including its level count (which ignores
    min_face_size): levels whose image would be smaller than 12 px are skipped by the caller."""
    min_dim = min(width, height)
    if min_dim < 1:
        return np.zeros(0)
    count = round(-((np.log(min_dim / min_size) / np.log(scale_factor)) + 1))
    return (min_size / min_face_size) * scale_factor ** np.arange(max(0, count))


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The pyramid level's size: tf.image.resize truncates the float size (shape * scale)."""
    return int(height * scale), int(width * scale)


def as_rgb(frame: np.ndarray) -> np.ndarray:
    """(H, W) grey, (H, W, 1), (H, W, 3) or (H, W, 4) uint8 -> (H, W, 3)."""
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    if frame.shape[2] == 1:
        return np.repeat(frame, 3, axis=2)
    return frame[:, :, :3]


@DETECTORS.register(
    "mtcnn", description="MTCNN P/R/O-Net in PyTorch, batched over frames on --device (weights of the mtcnn wheel)",
)
class MtcnnDetector(FaceDetector):
    name = "mtcnn"
    batched = True

    def __init__(
        self,
        device: str = "auto",
        min_face_size: float = 20.0,
        scale_factor: float = 0.709,
        thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
        max_batch_pixels: int | None = None,
        model_path: str | None = None,
    ) -> None:
        """model_path: a folder with pnet.lz4, rnet.lz4, onet.lz4 (default: the mtcnn wheel's)."""
        import torch

        from dfdetect.detectors.mtcnn_nets import load_mtcnn_nets
        from dfdetect.device import select_device

        self._torch = torch
        self.device = select_device(device)
        self.min_face_size = float(min_face_size)
        self.scale_factor = float(scale_factor)
        self.thresholds = tuple(float(t) for t in thresholds)
        # Frames per forward pass, bounded by pixels: a GPU takes a whole 32-frame 1080p chunk,
        # the CPU gains nothing from huge batches and would only pay their memory.
        default_pixels = 8_000_000 if self.device.type == "cpu" else 128_000_000
        self.max_batch_pixels = int(max_batch_pixels or default_pixels)
        # Pyramid levels: cv2's INTER_AREA on the CPU (fast), exact-area matmuls on an accelerator.
        self.cv2_resize = self.device.type == "cpu"
        self.pnet, self.rnet, self.onet = (net.to(self.device) for net in load_mtcnn_nets(model_path))

    # -- public -------------------------------------------------------------------------------
    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[list[FaceBox]]:
        results: list[list[FaceBox]] = [[] for _ in frames]
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for i, frame in enumerate(frames):
            groups[tuple(frame.shape[:2])].append(i)
        for (h, w), indices in groups.items():
            per_chunk = max(1, self.max_batch_pixels // max(1, h * w))
            for lo in range(0, len(indices), per_chunk):
                chunk = indices[lo : lo + per_chunk]
                for i, boxes in zip(chunk, self._detect_same_size([as_rgb(frames[i]) for i in chunk])):
                    results[i] = boxes
        return results

    # -- pipeline -----------------------------------------------------------------------------
    def _detect_same_size(self, frames: list[np.ndarray]) -> list[list[FaceBox]]:
        torch = self._torch
        h, w = frames[0].shape[:2]
        scales = scale_pyramid(w, h, self.min_face_size, self.scale_factor)
        if len(scales) == 0:
            return [[] for _ in frames]
        with torch.inference_mode():
            if self.cv2_resize:
                normalized = [(f.astype(np.float32) - 127.5) / 128.0 for f in frames]
                images = torch.from_numpy(np.stack(normalized)).permute(0, 3, 1, 2)
            else:  # uint8 crosses to the device (4x less traffic), then becomes float there
                normalized = None
                pixels = torch.from_numpy(np.stack(frames)).to(self.device).permute(0, 3, 1, 2).float()
                images = (pixels - 127.5) / 128.0
                del pixels
            boxes, image_index = self._stage_pnet(images, normalized, scales)
            boxes, image_index = self._stage_refine(images, boxes, image_index, stage=2)
            boxes, image_index = self._stage_refine(images, boxes, image_index, stage=3)
            boxes[:, 0:4:2] = boxes[:, 0:4:2].clamp(0, w)
            boxes[:, 1:4:2] = boxes[:, 1:4:2].clamp(0, h)
            rows = boxes.cpu().numpy()
            owners = image_index.cpu().numpy()
        results: list[list[FaceBox]] = [[] for _ in frames]
        for (x1, y1, x2, y2, score), owner in zip(rows.tolist(), owners.tolist()):
            if x2 > x1 and y2 > y1:
                results[owner].append(FaceBox(x1, y1, x2, y2, score))
        return results

    def _stage_pnet(self, images, normalized: list[np.ndarray] | None, scales: np.ndarray):
        """Proposals from every pyramid level: rows (x1, y1, x2, y2, score) and their frame index."""
        torch = self._torch
        from dfdetect.detectors import mtcnn_ops as ops

        _, _, h, w = images.shape
        level_boxes, level_owner = [], []
        for scale in scales.tolist():
            hs, ws = scaled_size(h, w, scale)
            if hs < 12 or ws < 12:  # P-Net's window no longer fits (the package would fail here)
                continue
            if normalized is not None and scale <= 1:
                level = ops.area_resize_cv2(normalized, hs, ws)
            else:
                level = ops.area_resize(images, hs, ws)
            regression, face_prob = self.pnet(level)
            owner, ys, xs = torch.nonzero(face_prob > self.thresholds[0], as_tuple=True)
            if owner.numel() == 0:
                continue
            score = face_prob[owner, ys, xs]
            reg = regression[owner, :, ys, xs]
            # The package's cell spans [2i + 1, 2i + 12] (11 px) at stride 2; regression scales by 11.
            x1, y1 = (2 * xs + 1).float(), (2 * ys + 1).float()
            boxes = torch.stack([x1, y1, x1 + 11, y1 + 11], dim=1) + reg * 11
            boxes = torch.cat([boxes / scale, score[:, None]], dim=1)
            keep = ops.nms_per_image(boxes[:, :4], boxes[:, 4], owner, 0.5, "union")
            level_boxes.append(boxes[keep])
            level_owner.append(owner[keep])
        if not level_boxes:
            return images.new_zeros((0, 5)), torch.zeros(0, dtype=torch.long, device=images.device)
        boxes, owner = torch.cat(level_boxes), torch.cat(level_owner)
        keep = ops.nms_per_image(boxes[:, :4], boxes[:, 4], owner, 0.7, "union")
        boxes, owner = boxes[keep], owner[keep]
        return torch.cat([ops.square_boxes(boxes[:, :4]), boxes[:, 4:]], dim=1), owner

    def _stage_refine(self, images, boxes, owner, stage: int, chunk: int = 4096):
        """R-Net (stage 2) or O-Net (stage 3) on every candidate of every frame at once."""
        torch = self._torch
        from dfdetect.detectors import mtcnn_ops as ops

        if boxes.shape[0] == 0:
            return boxes, owner
        net, size = (self.rnet, 24) if stage == 2 else (self.onet, 48)
        offsets, scores = [], []
        for lo in range(0, boxes.shape[0], chunk):
            patches = ops.crop_and_resize(images, boxes[lo : lo + chunk, :4], owner[lo : lo + chunk], size)
            out = net(patches)
            offsets.append(out[0])
            scores.append(out[-1])
        refined = ops.apply_regression(boxes[:, :4], torch.cat(offsets))
        score = torch.cat(scores)
        keep = score > self.thresholds[stage - 1]
        refined, score, owner = refined[keep], score[keep], owner[keep]
        keep = ops.nms_per_image(refined, score, owner, 0.7, "union" if stage == 2 else "min")
        refined, score, owner = refined[keep], score[keep], owner[keep]
        if stage == 2:
            refined = ops.square_boxes(refined)
        return torch.cat([refined, score[:, None]], dim=1), owner
