"""Frequency-domain input transforms (the seed's DCT variant of the dual-level network)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def dct_matrix(n: int = 8) -> torch.Tensor:
    """The orthonormal DCT-II matrix D (n x n): coefficients of a block X are D @ X @ D.T."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.float()


class BlockDCT(nn.Module):
    """Per-block 8x8 DCT-II of every channel, coefficients written back in place of their block
    (JPEG layout), so the image keeps its shape and any backbone accepts it. Orthonormal, so the
    energy (and hence the scale BatchNorm sees) is preserved. Fixed, not learned; one einsum.
    Sides that are not a multiple of the block are reflect-padded, then cropped back."""

    def __init__(self, block: int = 8) -> None:
        super().__init__()
        self.block = block
        # Not persistent: it is a constant, so it stays out of checkpoints.
        self.register_buffer("basis", dct_matrix(block), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        b = self.block
        pad_h, pad_w = (-h) % b, (-w) % b
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(h, w) > max(pad_h, pad_w) else "replicate")
        hh, ww = x.shape[-2] // b, x.shape[-1] // b
        blocks = x.reshape(n, c, hh, b, ww, b)
        d = self.basis.to(x.dtype)
        coeffs = torch.einsum("ki,nchiwj,lj->nchkwl", d, blocks, d)
        out = coeffs.reshape(n, c, hh * b, ww * b)
        return out[..., :h, :w]
