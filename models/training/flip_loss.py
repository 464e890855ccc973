"""FLIP (Andersson et al., "FLIP: A Difference Evaluator for Alternating Images", HPG 2020), LDR, in
torch, written from the paper so that training can hold a cloak at the visibility it is judged by.

Colour: sRGB -> linear -> YCxCz (the opponent space, linear); each channel filtered by its contrast
sensitivity (sums of Gaussians in degrees of visual angle); back to linear RGB, clamped; CIELAB with the
Hunt adjustment (a, b scaled by L / 100); HyAB distance, raised to qc and spread over [0, 1] (a linear
part below pc of the largest distance, green to blue, the rest compressed into the top 1 - pt). Features:
edges and points of the normalised luminance (first and second Gaussian derivatives, sigma set by the
feature width w); their largest difference, raised to qf, lowers the exponent of the colour error.
`tests/cloak/test_training.py` checks it against NVIDIA's flip-evaluator.
"""
import math

import torch

from .perceptual import separable_conv

PPD = 67.0
QC, QF, PC, PT, W = 0.7, 0.5, 0.4, 0.95, 0.082
# Contrast sensitivity per YCxCz channel as (a1, b1, a2, b2): a sum of two Gaussians over degrees.
CSF = ((1.0, 0.0047, 0.0, 1e-5), (1.0, 0.0053, 0.0, 1e-5), (34.1, 0.04, 13.5, 0.025))
RGB_TO_XYZ = torch.tensor([[0.4124564, 0.3575761, 0.1804375],
                           [0.2126729, 0.7151522, 0.0721750],
                           [0.0193339, 0.1191920, 0.9503041]])
WHITE = RGB_TO_XYZ.sum(1)  # D65, the XYZ of linear (1, 1, 1)
XYZ_TO_RGB = torch.linalg.inv(RGB_TO_XYZ)


def linear(srgb: torch.Tensor) -> torch.Tensor:
    return torch.where(srgb <= 0.04045, srgb / 12.92, ((srgb.clamp(min=0) + 0.055) / 1.055) ** 2.4)


def _mix(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("oc,nchw->nohw", m.to(x), x)


def ycxcz(rgb_linear: torch.Tensor) -> torch.Tensor:
    x, y, z = (_mix(RGB_TO_XYZ, rgb_linear) / WHITE.to(rgb_linear).view(1, 3, 1, 1)).unbind(1)
    return torch.stack([116 * y - 16, 500 * (x - y), 200 * (y - z)], 1)


def ycxcz_to_linear(c: torch.Tensor) -> torch.Tensor:
    y = (c[:, 0] + 16) / 116
    xyz = torch.stack([c[:, 1] / 500 + y, y, y - c[:, 2] / 200], 1) * WHITE.to(c).view(1, 3, 1, 1)
    return _mix(XYZ_TO_RGB, xyz)


def hunt_lab(rgb_linear: torch.Tensor) -> torch.Tensor:
    """CIELAB with a and b scaled by L / 100."""
    t = _mix(RGB_TO_XYZ, rgb_linear) / WHITE.to(rgb_linear).view(1, 3, 1, 1)
    d = 6 / 29
    f = torch.where(t > d ** 3, t.clamp(min=d ** 3) ** (1 / 3), t / (3 * d * d) + 4 / 29)
    lum = 116 * f[:, 1] - 16
    return torch.stack([lum, 0.01 * lum * 500 * (f[:, 0] - f[:, 1]), 0.01 * lum * 200 * (f[:, 1] - f[:, 2])], 1)


def hyab(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = a - b
    return d[:, :1].abs() + (d[:, 1:2] ** 2 + d[:, 2:3] ** 2 + 1e-12).sqrt()


def csf_filtered(c: torch.Tensor) -> torch.Tensor:
    """Each channel convolved with its contrast sensitivity (normalised to sum 1), one separable
    Gaussian at a time."""
    radius = math.ceil(3 * math.sqrt(max(max(p[1], p[3]) for p in CSF) / (2 * math.pi ** 2)) * PPD)
    d2 = (torch.arange(-radius, radius + 1, dtype=c.dtype, device=c.device) / PPD) ** 2
    out = []
    for i, (a1, b1, a2, b2) in enumerate(CSF):
        terms = [(a * math.sqrt(math.pi / b), torch.exp(-math.pi ** 2 * d2 / b)) for a, b in ((a1, b1), (a2, b2)) if a]
        total = sum(w * g.sum() ** 2 for w, g in terms)
        out.append(sum(w * g.sum() ** 2 / total * separable_conv(c[:, i:i + 1], g / g.sum(), g / g.sum())
                       for w, g in terms))
    return torch.cat(out, 1)


def _feature_kernels(like: torch.Tensor) -> tuple:
    sigma = 0.5 * W * PPD
    radius = math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=like.dtype, device=like.device)
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    edge = -x * g
    edge = edge / edge.clamp(min=0).sum()
    point = (x ** 2 / sigma ** 2 - 1) * g
    point = torch.where(point > 0, point / point.clamp(min=0).sum(), point / -point.clamp(max=0).sum())
    return g / g.sum(), edge, point


def feature_magnitudes(y: torch.Tensor) -> tuple:
    """(edge, point) magnitudes of normalised luminance (N, 1, H, W)."""
    g, edge, point = _feature_kernels(y)
    e = (separable_conv(y, edge, g) ** 2 + separable_conv(y, g, edge) ** 2 + 1e-12).sqrt()
    p = (separable_conv(y, point, g) ** 2 + separable_conv(y, g, point) ** 2 + 1e-12).sqrt()
    return e, p


def _cmax(dtype) -> float:
    green, blue = torch.tensor([0.0, 1.0, 0.0], dtype=dtype), torch.tensor([0.0, 0.0, 1.0], dtype=dtype)
    lab = hunt_lab(torch.stack([green, blue]).view(2, 3, 1, 1))
    return float(hyab(lab[:1], lab[1:]).item() ** QC)


def flip_map(reference: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) FLIP error of sRGB pictures (N, 3, H, W) in [0, 1]."""
    ref_c, test_c = ycxcz(linear(reference)), ycxcz(linear(test))
    lab = [hunt_lab(ycxcz_to_linear(csf_filtered(c)).clamp(0, 1)) for c in (ref_c, test_c)]
    colour = (hyab(*lab) + 1e-8) ** QC
    cmax = _cmax(reference.dtype)
    colour = torch.where(colour < PC * cmax, PT / (PC * cmax) * colour,
                         PT + (colour - PC * cmax) / (cmax - PC * cmax) * (1 - PT))
    (e_r, p_r), (e_t, p_t) = (feature_magnitudes((c[:, :1] + 16) / 116) for c in (ref_c, test_c))
    feature = ((torch.maximum((e_r - e_t).abs(), (p_r - p_t).abs()) / math.sqrt(2) + 1e-8) ** QF)
    return colour ** (1 - feature)


def flip(reference: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """Mean FLIP error per picture, (N,)."""
    return flip_map(reference, test).mean(dim=(1, 2, 3))


def relative_flip(delta: torch.Tensor, rgb: torch.Tensor, eps: float) -> torch.Tensor:
    """Per-picture FLIP of rgb + delta over that of uniform +-eps noise on the same picture, (N,)."""
    with torch.no_grad():
        noise = flip(rgb, (rgb + eps * (2 * torch.rand_like(rgb) - 1)).clamp(0, 1))
    return flip(rgb, (rgb + delta).clamp(0, 1)) / noise
