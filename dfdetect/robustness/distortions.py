"""Frame-level perturbations: DeeperForensics-1.0's six per-frame distortions and a downscale.

Levels follow DeeperForensics-1.0's `perturbation/add_distortion_to_video.py`
(`get_distortion_parameter`) and `perturbation/distortions.py` (EndlessSora/DeeperForensics-1.0):
  CS  colour saturation: chroma scaled by 0.4, 0.3, 0.2, 0.1, 0.0 in YCbCr
  CC  colour contrast:   pixels scaled by 0.85, 0.725, 0.6, 0.475, 0.35
  BW  local block-wise:  16, 32, 48, 64, 80 grey (128) 8x8 blocks per 256 px of the shorter side
  GNC white Gaussian noise in YCbCr: variance 0.001, 0.002, 0.005, 0.01, 0.05 on the [0, 1] scale
  GB  Gaussian blur:     kernel 7, 9, 13, 17, 21, sigma = kernel / 6
  JPEG: their code implements it as a down-then-up resize by 2..6, not as a JPEG codec; here `jpeg`
      is a real JPEG of every frame (cv2.imencode) at quality 90, 70, 50, 30, 10, and their
      resize is covered by `downscale`.
`downscale` keeps the video at the lower resolution (as a site that serves 360p does), so the
face detector sees the smaller frame: factors 1.5, 2, 2.5, 3, 4.
"""

from __future__ import annotations

import numpy as np

from dfdetect.robustness.registry import FRAME, register_perturbation

_BLOCK = 8  # DeeperForensics' block side


def _to_ycrcb(frame_bgr: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YCrCb).astype(np.float32)


def _to_bgr(ycrcb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.clip(ycrcb, 0, 255).round().astype(np.uint8), cv2.COLOR_YCrCb2BGR)


@register_perturbation("saturation", kind=FRAME, params=(0.4, 0.3, 0.2, 0.1, 0.0), param_name="chroma scale",
                       description="colour saturation change (DeeperForensics CS)")
def color_saturation(frame: np.ndarray, param: float, rng: np.random.Generator | None = None) -> np.ndarray:
    ycc = _to_ycrcb(frame)
    ycc[..., 1:] = 128.0 + (ycc[..., 1:] - 128.0) * float(param)
    return _to_bgr(ycc)


@register_perturbation("contrast", kind=FRAME, params=(0.85, 0.725, 0.6, 0.475, 0.35), param_name="pixel scale",
                       description="colour contrast change (DeeperForensics CC)")
def color_contrast(frame: np.ndarray, param: float, rng: np.random.Generator | None = None) -> np.ndarray:
    return (frame.astype(np.float32) * float(param)).astype(np.uint8)  # truncation, as DeeperForensics


@register_perturbation("blockwise", kind=FRAME, params=(16, 32, 48, 64, 80), param_name="blocks per 256 px",
                       description="local block-wise distortion: grey 8x8 blocks (DeeperForensics BW)", random=True)
def block_wise(frame: np.ndarray, param: int, rng: np.random.Generator) -> np.ndarray:
    h, w = frame.shape[:2]
    out = frame.copy()
    # DeeperForensics scales the count by min(h, w) // 256 (0 below 256 px); at least 1x here
    count = max(1, min(h, w) // 256) * int(param)
    if h <= _BLOCK or w <= _BLOCK:
        return out
    ys = rng.integers(0, h - _BLOCK, size=count)
    xs = rng.integers(0, w - _BLOCK, size=count)
    for y, x in zip(ys, xs):
        out[y:y + _BLOCK, x:x + _BLOCK] = 128
    return out


@register_perturbation("noise", kind=FRAME, params=(0.001, 0.002, 0.005, 0.01, 0.05), param_name="variance",
                       description="white Gaussian noise in the colour components (DeeperForensics GNC)", random=True)
def gaussian_noise(frame: np.ndarray, param: float, rng: np.random.Generator) -> np.ndarray:
    ycc = _to_ycrcb(frame)
    ycc += rng.standard_normal(ycc.shape, dtype=np.float32) * np.float32(255.0 * np.sqrt(param))
    return _to_bgr(ycc)


@register_perturbation("blur", kind=FRAME, params=(7, 9, 13, 17, 21), param_name="kernel",
                       description="Gaussian blur (DeeperForensics GB)")
def gaussian_blur(frame: np.ndarray, param: int, rng: np.random.Generator | None = None) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(frame, (int(param), int(param)), int(param) / 6.0)


@register_perturbation("jpeg", kind=FRAME, params=(90, 70, 50, 30, 10), param_name="quality",
                       description="JPEG compression of every frame")
def jpeg_compression(frame: np.ndarray, param: int, rng: np.random.Generator | None = None) -> np.ndarray:
    import cv2

    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(param)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


@register_perturbation("downscale", kind=FRAME, params=(1.5, 2.0, 2.5, 3.0, 4.0), param_name="factor",
                       description="resolution downscale (the video stays small)")
def downscale(frame: np.ndarray, param: float, rng: np.random.Generator | None = None) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    # even sides: the lossless writer and most players want them
    nw, nh = max(2, int(round(w / param / 2)) * 2), max(2, int(round(h / param / 2)) * 2)
    return cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)
