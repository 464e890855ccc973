"""A differentiable visibility penalty for cloak patterns (our own design, from the vision literature).

Two facts decide how visible a small change is (Mannos & Sakrison 1974; Legge & Foley 1980; Daly's
VDP 1993; the FLIP paper, Andersson et al. 2020):
- contrast sensitivity depends on spatial frequency and colour: at 67 pixels per degree, luminance
  is seen best at periods of about 6-16 px (4-10 cycles/degree), less at the finest 2-3 px grain
  and at slow ramps; colour differences are seen only at low frequencies;
- texture masks: the same change is much harder to see on busy texture and edges than on flat
  colour or a smooth gradient (threshold elevation grows with local contrast, exponent about 0.7);
- in sRGB-encoded values the same change shows more on light colour than on dark (FLIP works on
  linear light): FLIP of uniform +-8 noise on flat fields rises from 0.034 at level 20 to 0.054 at 128
  and 0.074 at 255 (measured in session 19), about 0.6 + 0.8 x luminance of its mid-grey value.
So the change is split into an opponent colour space (luminance, red-green, blue-yellow), each
split into three difference-of-Gaussian bands weighted by a CSF, divided by a threshold that rises
with the picture's local luminance contrast and falls with its local luminance, and the squared
result is averaged. Uniform noise is the yardstick: `relative_visibility` returns penalty(pattern) /
penalty(uniform noise of the same L-inf).
"""
import torch
import torch.nn.functional as F

# Rows: luminance, red-green, blue-yellow (from sRGB-encoded values, which are closer to perceptual).
_OPPONENT = torch.tensor([[0.299, 0.587, 0.114], [0.5, -0.5, 0.0], [-0.25, -0.25, 0.5]])
# CSF weights per band (fine: period <~4 px; mid: ~4-16 px; coarse: longer), relative to the luminance peak.
_BAND_WEIGHTS = torch.tensor([[0.35, 1.0, 0.55],   # luminance: band-pass
                              [0.05, 0.3, 0.6],    # red-green: low-pass
                              [0.03, 0.2, 0.45]])  # blue-yellow: lower still
T0 = 1.5 / 255       # detection threshold of a mid-frequency luminance change on flat colour
MASK_C0 = 0.01       # local contrast at which masking doubles the threshold
MASK_EXP = 0.7
LUM_BASE, LUM_GAIN = 0.6, 0.8  # visibility relative to mid-grey: LUM_BASE + LUM_GAIN * local luminance


def separable_conv(x: torch.Tensor, kx: torch.Tensor, ky: torch.Tensor) -> torch.Tensor:
    """Each channel convolved with kx along rows, then ky along columns (odd lengths), edges repeated."""
    c, rx, ry = x.shape[1], kx.numel() // 2, ky.numel() // 2
    x = F.conv2d(F.pad(x, (rx, rx, 0, 0), mode="replicate"), kx.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, ry, ry), mode="replicate"), ky.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(3 * sigma))
    k = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-k ** 2 / (2 * sigma ** 2))
    return separable_conv(x, k / k.sum(), k / k.sum())


def opponent(rgb: torch.Tensor) -> torch.Tensor:
    return torch.einsum("oc,nchw->nohw", _OPPONENT.to(rgb), rgb)


def bands(x: torch.Tensor) -> list:
    """Fine, mid and coarse difference-of-Gaussian bands (they sum back to x)."""
    b1, b4 = gaussian_blur(x, 1.0), gaussian_blur(x, 4.0)
    return [x - b1, b1 - b4, b4]


def masking_threshold(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) threshold: T0 on flat mid-grey, rising with the local luminance contrast (std over
    ~5 px), lower on light colour and higher on dark."""
    lum = opponent(rgb)[:, :1]
    local_mean = gaussian_blur(lum, 2.0)
    contrast = gaussian_blur((lum - local_mean) ** 2, 2.0).clamp(min=0).add(1e-8).sqrt()
    return T0 * (1 + (contrast / MASK_C0) ** MASK_EXP) / (LUM_BASE + LUM_GAIN * local_mean)


def visibility_map(delta: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) squared visibility of the change `delta` on the picture `rgb` (both (N, 3, H, W))."""
    threshold = masking_threshold(rgb)
    w = _BAND_WEIGHTS.to(delta)
    total = 0
    for i, band in enumerate(bands(opponent(delta))):
        total = total + ((band * w[:, i].view(1, 3, 1, 1)) ** 2).sum(1, keepdim=True)
    return total / threshold ** 2


def penalty(delta: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared visibility, (N,)."""
    return visibility_map(delta, rgb).mean(dim=(1, 2, 3))


def relative_visibility(delta: torch.Tensor, rgb: torch.Tensor, eps: float) -> torch.Tensor:
    """Per-image penalty of `delta` divided by that of uniform +-eps noise on the same picture, (N,)."""
    with torch.no_grad():
        noise = penalty(eps * (2 * torch.rand_like(rgb) - 1), rgb)
    return penalty(delta, rgb) / noise
