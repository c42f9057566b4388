"""MTCNN's P-Net, R-Net and O-Net in PyTorch, loading the Keras weights the `mtcnn` wheel ships.

The `mtcnn` package (ipazc/mtcnn >= 1.0) stores each network as the flat list that Keras'
`model.get_weights()` returns, in layer order, saved with joblib + lz4. We rebuild the same layers
in torch and convert: conv kernels HWIO -> OIHW, dense kernels (in, out) -> (out, in), PReLU
alphas (1, 1, C) -> (C,). The Keras R-Net/O-Net permute (H, W, C) -> (W, H, C) before flattening
(a leftover of the Caffe original); `_keras_flatten` repeats that order so the dense weights are
used as they are. Max pooling with Keras "same" padding pads only at the bottom/right for every
input size these nets see, which is what `ceil_mode=True` does.

This module imports torch at import time; only `mtcnn_torch.MtcnnDetector` imports it, lazily.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dfdetect.errors import DfdetectError


def mtcnn_weights_dir() -> Path:
    """Folder holding pnet/rnet/onet.lz4 inside the installed `mtcnn` wheel (never imported: it
    would import TensorFlow)."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise DfdetectError(
            "detector 'mtcnn' needs the weights of the mtcnn package; fix: pip install mtcnn "
            "(TensorFlow is not needed)"
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "assets" / "weights"
    missing = [n for n in ("pnet.lz4", "rnet.lz4", "onet.lz4") if not (folder / n).is_file()]
    if missing:
        raise DfdetectError(
            f"mtcnn weights {', '.join(missing)} not found in {folder}; fix: pip install --force-reinstall 'mtcnn>=1.0'"
        )
    return folder


def _load_keras_weights(path: Path) -> list[np.ndarray]:
    import joblib

    weights = joblib.load(path)
    if not isinstance(weights, list) or not all(isinstance(w, np.ndarray) for w in weights):
        raise DfdetectError(f"{path} is not a list of weight arrays; fix: pip install --force-reinstall 'mtcnn>=1.0'")
    return weights


def _conv(kernel: np.ndarray, bias: np.ndarray) -> nn.Conv2d:
    kh, kw, cin, cout = kernel.shape
    conv = nn.Conv2d(cin, cout, (kh, kw))
    conv.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))).float()
    conv.bias.data = torch.from_numpy(bias).float()
    return conv


def _linear(kernel: np.ndarray, bias: np.ndarray) -> nn.Linear:
    cin, cout = kernel.shape
    linear = nn.Linear(cin, cout)
    linear.weight.data = torch.from_numpy(np.ascontiguousarray(kernel.T)).float()
    linear.bias.data = torch.from_numpy(bias).float()
    return linear


def _prelu(alpha: np.ndarray) -> nn.PReLU:
    alpha = alpha.reshape(-1)
    prelu = nn.PReLU(alpha.shape[0])
    prelu.weight.data = torch.from_numpy(alpha).float()
    return prelu


class _WeightReader:
    """Hands out the Keras weight list in order and checks every shape against the architecture."""

    def __init__(self, weights: list[np.ndarray], name: str, expected: list[tuple[int, ...]]) -> None:
        shapes = [tuple(w.shape) for w in weights]
        if shapes != expected:
            raise DfdetectError(
                f"mtcnn {name} weights have shapes {shapes}, expected {expected}; "
                "fix: pip install --force-reinstall 'mtcnn>=1.0'"
            )
        self._it = iter(weights)

    def conv(self) -> nn.Conv2d:
        return _conv(next(self._it), next(self._it))

    def linear(self) -> nn.Linear:
        return _linear(next(self._it), next(self._it))

    def prelu(self) -> nn.PReLU:
        return _prelu(next(self._it))


def _keras_flatten(x: torch.Tensor) -> torch.Tensor:
    # Keras: (B, H, W, C) -> Permute((2, 1, 3)) -> (B, W, H, C) -> Flatten. Torch holds (B, C, H, W).
    return x.permute(0, 3, 2, 1).flatten(1)


def _conv_shapes(*convs: tuple[int, int, int, int]) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    for kh, kw, cin, cout in convs:
        shapes += [(kh, kw, cin, cout), (cout,), (1, 1, cout)]
    return shapes


class PNet(nn.Module):
    """Proposal net: fully convolutional, 12x12 receptive field, stride 2.
    Returns (box regression (B, 4, h, w), face probability (B, h, w))."""

    EXPECTED = _conv_shapes((3, 3, 3, 10), (3, 3, 10, 16), (3, 3, 16, 32)) + [(1, 1, 32, 4), (4,), (1, 1, 32, 2), (2,)]

    def __init__(self, weights: list[np.ndarray]) -> None:
        super().__init__()
        w = _WeightReader(weights, "pnet", self.EXPECTED)
        self.conv1, self.prelu1 = w.conv(), w.prelu()
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = w.conv(), w.prelu()
        self.conv3, self.prelu3 = w.conv(), w.prelu()
        self.conv4_1 = w.conv()
        self.conv4_2 = w.conv()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_1(x), torch.softmax(self.conv4_2(x), dim=1)[:, 1]


class RNet(nn.Module):
    """Refinement net on 24x24 patches. Returns (box regression (N, 4), face probability (N,))."""

    EXPECTED = _conv_shapes((3, 3, 3, 28), (3, 3, 28, 48), (2, 2, 48, 64)) + [
        (576, 128), (128,), (128,), (128, 4), (4,), (128, 2), (2,)
    ]

    def __init__(self, weights: list[np.ndarray]) -> None:
        super().__init__()
        w = _WeightReader(weights, "rnet", self.EXPECTED)
        self.conv1, self.prelu1 = w.conv(), w.prelu()
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = w.conv(), w.prelu()
        self.pool2 = nn.MaxPool2d(3, 2)
        self.conv3, self.prelu3 = w.conv(), w.prelu()
        self.fc4, self.prelu4 = w.linear(), w.prelu()
        self.fc5_1 = w.linear()
        self.fc5_2 = w.linear()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = self.prelu4(self.fc4(_keras_flatten(x)))
        return self.fc5_1(x), torch.softmax(self.fc5_2(x), dim=1)[:, 1]


class ONet(nn.Module):
    """Output net on 48x48 patches. Returns (box regression (N, 4), landmarks (N, 10),
    face probability (N,))."""

    EXPECTED = _conv_shapes((3, 3, 3, 32), (3, 3, 32, 64), (3, 3, 64, 64), (2, 2, 64, 128)) + [
        (1152, 256), (256,), (256,), (256, 4), (4,), (256, 10), (10,), (256, 2), (2,)
    ]

    def __init__(self, weights: list[np.ndarray]) -> None:
        super().__init__()
        w = _WeightReader(weights, "onet", self.EXPECTED)
        self.conv1, self.prelu1 = w.conv(), w.prelu()
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = w.conv(), w.prelu()
        self.pool2 = nn.MaxPool2d(3, 2)
        self.conv3, self.prelu3 = w.conv(), w.prelu()
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = w.conv(), w.prelu()
        self.fc5, self.prelu5 = w.linear(), w.prelu()
        self.fc6_1 = w.linear()
        self.fc6_2 = w.linear()
        self.fc6_3 = w.linear()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.fc5(_keras_flatten(x)))
        return self.fc6_1(x), self.fc6_2(x), torch.softmax(self.fc6_3(x), dim=1)[:, 1]


def load_mtcnn_nets(weights_dir: Path | None = None) -> tuple[PNet, RNet, ONet]:
    """The three networks with the wheel's weights, in eval mode on the CPU."""
    folder = Path(weights_dir).expanduser() if weights_dir is not None else mtcnn_weights_dir()
    missing = [n for n in ("pnet.lz4", "rnet.lz4", "onet.lz4") if not (folder / n).is_file()]
    if missing:
        raise DfdetectError(
            f"--detector-model {folder} lacks {', '.join(missing)}; fix: pass the folder holding the mtcnn "
            "wheel's pnet/rnet/onet.lz4, or leave --detector-model unset to use the installed mtcnn package"
        )
    nets = (
        PNet(_load_keras_weights(folder / "pnet.lz4")),
        RNet(_load_keras_weights(folder / "rnet.lz4")),
        ONet(_load_keras_weights(folder / "onet.lz4")),
    )
    for net in nets:
        net.eval().requires_grad_(False)
    return nets
