"""Differentiable expectation over transformations: what a platform does to an upload.

Each transform is applied with identical random parameters to the clean and the protected batch
(they are concatenated), so the loss compares like with like.
"""
import math
import random

import torch
import torch.nn.functional as F

# Standard JPEG luminance/chrominance quantisation tables (ITU T.81, Annex K).
_QY = torch.tensor([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=torch.float32).view(8, 8)
_QC = torch.full((8, 8), 99.0)
_QC[:4, :4] = torch.tensor([[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]], dtype=torch.float32)


def _dct_matrix() -> torch.Tensor:
    k = torch.arange(8, dtype=torch.float32)
    m = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m


_D = _dct_matrix()


def _quality_scale(q: float) -> float:
    return (5000 / q if q < 50 else 200 - 2 * q) / 100


def _soft_round(x: torch.Tensor) -> torch.Tensor:
    """Rounding with a useful gradient (Shin & Song 2017): round(x) + (x - round(x))^3."""
    r = torch.round(x)
    return r + (x - r) ** 3


def _blockwise(ch: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """DCT, quantise with `table`, dequantise and invert on 8x8 blocks of (N, H, W) in 0..255 units."""
    n, h, w = ch.shape
    b = ch.view(n, h // 8, 8, w // 8, 8).transpose(2, 3)
    d = _D.to(ch.device)
    coef = d @ (b - 128) @ d.T
    coef = _soft_round(coef / table) * table
    return (d.T @ coef @ d + 128).transpose(2, 3).reshape(n, h, w)


def jpeg(x: torch.Tensor, quality: float) -> torch.Tensor:
    """Differentiable JPEG approximation with 4:2:0 chroma; H and W must be multiples of 16."""
    s = _quality_scale(quality)
    qy, qc = (_QY.to(x.device) * s).clamp(min=1), (_QC.to(x.device) * s).clamp(min=1)
    r, g, b = (x.clamp(0, 1) * 255).unbind(1)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    y = _blockwise(y, qy)
    chroma = F.avg_pool2d(torch.stack([cb, cr], 1), 2)
    n, _, hc, wc = chroma.shape
    chroma = _blockwise(chroma.reshape(n * 2, hc, wc), qc).view(n, 2, hc, wc)
    cb, cr = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False).unbind(1)
    r = y + 1.402 * (cr - 128)
    g = y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)
    b = y + 1.772 * (cb - 128)
    return (torch.stack([r, g, b], 1) / 255).clamp(0, 1)


def rescale(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Antialiased bilinear downscale to a size that stays a multiple of 16 (for jpeg and the encoder)."""
    h, w = x.shape[-2:]
    size = (max(16, round(h * scale / 16) * 16), max(16, round(w * scale / 16) * 16))
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    k = torch.arange(-2, 3, dtype=x.dtype, device=x.device)
    k = torch.exp(-k ** 2 / (2 * sigma ** 2))
    k = (k / k.sum()).view(1, 1, 1, 5).repeat(3, 1, 1, 1)
    x = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), k, groups=3)
    return F.conv2d(F.pad(x, (0, 0, 2, 2), mode="replicate"), k.transpose(2, 3), groups=3)


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Crop by a few pixels (a re-crop moves the 8-pixel grid of JPEG and of the encoder); keeps size % 16."""
    h, w = x.shape[-2:]
    return F.pad(x[..., dy:, dx:], (0, dx, 0, dy), mode="replicate")


def random_transform(x: torch.Tensor, rng: random.Random, p_identity: float = 0.3) -> torch.Tensor:
    """One random platform-like chain: shift, blur, rescale 0.5-1x, JPEG 60-95 (each with some probability)."""
    if rng.random() < p_identity:
        return x
    if rng.random() < 0.5:
        x = shift(x, rng.randrange(8), rng.randrange(8))
    if rng.random() < 0.25:
        x = blur(x, rng.uniform(0.4, 1.2))
    if rng.random() < 0.6:
        x = rescale(x, rng.uniform(0.5, 1.0))
    if rng.random() < 0.6:
        x = jpeg(x, rng.uniform(60, 95))
    return x
