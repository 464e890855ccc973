"""Our own modules for the TAEF2 surrogate encoder/decoder, loading the public state dicts.

The weights are read from ``$OMAMORI_WEIGHTS`` (default ``<repo>/../shared/weights``) and are never
copied into the repository.
"""
import os
from pathlib import Path

import torch
import torch.nn as nn

REPO = Path(__file__).resolve().parents[2]


def weights_dir() -> Path:
    return Path(os.environ.get("OMAMORI_WEIGHTS", REPO.parent / "shared" / "weights"))


def conv(n_in, n_out, **kw):
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kw)


class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """TAESD residual block; the FLUX.2 variant adds a GroupNorm 'pool' branch first."""

    def __init__(self, n_in, n_out, pool=False):
        super().__init__()
        self.conv = nn.Sequential(conv(n_in, n_out), nn.ReLU(), conv(n_out, n_out), nn.ReLU(), conv(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.pool = nn.Sequential(nn.Conv2d(n_in, 4 * n_in, 1, bias=False), nn.GroupNorm(4, 4 * n_in), nn.ReLU(),
                                  nn.Conv2d(4 * n_in, n_in, 1, bias=False)) if pool else None
        self.relu = nn.ReLU()

    def forward(self, x):
        if self.pool is not None:
            x = x + self.pool(x)
        return self.relu(self.conv(x) + self.skip(x))


def taef2_encoder() -> nn.Sequential:
    """RGB in [0,1] (H, W multiples of 8) -> 32-channel latent at 1/8 size."""
    return nn.Sequential(
        conv(3, 64), Block(64, 64),
        conv(64, 64, stride=2, bias=False), Block(64, 64), Block(64, 64), Block(64, 64),
        conv(64, 64, stride=2, bias=False), Block(64, 64), Block(64, 64), Block(64, 64),
        conv(64, 64, stride=2, bias=False), Block(64, 64, True), Block(64, 64, True), Block(64, 64, True),
        conv(64, 32))


def taef2_decoder() -> nn.Sequential:
    """32-channel latent -> RGB approximately in [0,1] at 8x size."""
    return nn.Sequential(
        Clamp(), conv(32, 64), nn.ReLU(),
        Block(64, 64, True), Block(64, 64, True), Block(64, 64, True),
        nn.Upsample(scale_factor=2), conv(64, 64, bias=False), Block(64, 64), Block(64, 64), Block(64, 64),
        nn.Upsample(scale_factor=2), conv(64, 64, bias=False), Block(64, 64), Block(64, 64), Block(64, 64),
        nn.Upsample(scale_factor=2), conv(64, 64, bias=False), Block(64, 64), conv(64, 3))


def _load(module: nn.Module, name: str) -> nn.Module:
    path = weights_dir() / "taesd" / name
    if not path.is_file():
        raise FileNotFoundError(f"surrogate weights not found: {path} (set OMAMORI_WEIGHTS)")
    module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    module.eval().requires_grad_(False)
    return module


def load_encoder() -> nn.Sequential:
    return _load(taef2_encoder(), "taef2_encoder.pth")


def load_decoder() -> nn.Sequential:
    return _load(taef2_decoder(), "taef2_decoder.pth")


class DilatedResidual(nn.Module):
    """x + conv3x3(GELU(conv3x3, dilation d)(x)): the dilation widens the view without more weights."""

    def __init__(self, ch, dilation=1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation), nn.GELU(),
                                  nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


C_TAPS = (4, 8, 11, 12)  # surrogate C: ends of its 1/2, 1/4, 1/8 stages and the latent


def surrogate_c() -> nn.Sequential:
    """Extra training surrogate (an ensemble member beside TAEF2), distilled from TAEF2 by
    `judges.py c` like the judges but never one of them: a thin full-resolution layer, GELU, 4x4 and
    2x2 strided downsampling, residual blocks alternating dilation 2 and 1. RGB in [0, 1] -> 32 x 1/8."""
    return nn.Sequential(
        nn.Conv2d(3, 24, 3, padding=1), nn.GELU(),
        nn.Conv2d(24, 48, 4, stride=2, padding=1), nn.GELU(), DilatedResidual(48),
        nn.Conv2d(48, 96, 4, stride=2, padding=1), nn.GELU(), DilatedResidual(96, 2), DilatedResidual(96),
        nn.Conv2d(96, 160, 2, stride=2), DilatedResidual(160, 2), DilatedResidual(160),
        nn.Conv2d(160, 32, 1))


class TransferEncoder(nn.Module):
    """A deliberately different encoder (5x5 convs, SiLU, strided downsampling, other widths), distilled
    from TAEF2 on our training split and never used to train a protection: a stand-in for unseen VAEs."""

    def __init__(self, width=48):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 5, padding=2), nn.SiLU(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), nn.SiLU(), nn.Conv2d(2 * w, 2 * w, 5, padding=2), nn.SiLU(),
            nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1), nn.SiLU(), nn.Conv2d(2 * w, 2 * w, 5, padding=2), nn.SiLU(),
            nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1), nn.SiLU(), nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(2 * w, 32, 1))

    def forward(self, x):
        return self.net(x)
