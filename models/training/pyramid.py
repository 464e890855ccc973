"""The guard's pattern as the runtime makes it (core/omamori/models.py: the texture-steered pyramid,
made grey), in torch, so that a fine-tune sees what ships instead of the net's one colour pass."""
import torch
import torch.nn.functional as F

from omamori.models import LUMA, luminance_only_of, pyramid_of, read_card

from .perceptual import gaussian_blur


def shipped_guard_settings() -> dict:
    """The shipped guard card's pyramid, grey flag and default strength scale."""
    card = read_card("guard")
    return {"pyramid": pyramid_of(card), "grey": luminance_only_of(card),
            "scale": float(card["strength_scales"]["default"])}


def luma(rgb: torch.Tensor) -> torch.Tensor:
    return torch.einsum("c,nchw->nhw", torch.from_numpy(LUMA).to(rgb.dtype), rgb).unsqueeze(1)


def texture(rgb: torch.Tensor, sigma: float, std_full: float) -> torch.Tensor:
    """(N, 1, H, W) local std of luma over std_full, at most 1 (the runtime's `texture`)."""
    y = luma(rgb.clamp(0, 1))
    mean = gaussian_blur(y, sigma)
    var = gaussian_blur(y * y, sigma) - mean * mean
    return (var.clamp(min=0).sqrt() / std_full).clamp(max=1)


def pyramid_pattern(gen, x: torch.Tensor, settings: dict) -> torch.Tensor:
    """(u · gen(x) + (1 - t) · gen(x shrunk) enlarged) / (2 - fine_std / texture_std), grey if the card
    says so, times the default strength scale: the pattern the runtime adds, in [-1, 1] units of ε."""
    p = settings["pyramid"]
    f = p["shrink"]
    small = F.avg_pool2d(x, f)
    with torch.no_grad():  # where to put which pattern depends on the picture only
        t = F.interpolate(texture(small, p["texture_sigma_px"] / f, p["texture_std"]), scale_factor=f,
                          mode="bicubic").clamp(0, 1)
    u = (t * (p["texture_std"] / p["fine_std"])).clamp(max=1)
    coarse = F.interpolate(gen(small), scale_factor=f, mode="bicubic").clamp(-1, 1)
    pattern = (u * gen(x) + (1 - t) * coarse) / (2 - p["fine_std"] / p["texture_std"])
    if settings["grey"]:
        pattern = luma(pattern).expand(-1, 3, -1, -1)
    return settings["scale"] * pattern
