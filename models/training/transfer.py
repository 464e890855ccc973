"""Losses that transfer to encoders the cloak never saw (issue 9, "transfer by design").

- Model augmentation: each step uses TAEF2 as is, with channel dropout on its inner stages, or a copy
  whose weights are perturbed by a few per cent (refreshed every few steps), so the pattern cannot
  rely on one exact set of weights.
- Ensemble (optional): other encoders with their own taps, e.g. surrogate C (distilled from TAEF2 with
  another architecture, never a judge), each picked as often as one TAEF2 member.
- Intermediate features: the distortion (guard) or the pull towards the target (style, poison) is
  measured after each downsampling stage as well as on the latent (feature-level attacks transfer
  better than output-level ones). Style compares position-free statistics (`position_free`), because
  a style is the same wherever the content sits.
Clean, protected and target pictures go through the same member with the same dropout masks.
"""
import copy
import random

import torch
import torch.nn as nn

from omamori import measuring

TAPS = (5, 9, 13, 14)      # TAEF2 layers: end of the 1/2, 1/4, 1/8 stages and the latent
DROP_AT = (5, 9, 13)       # channel dropout after these layers (the dropout member)
DROP_P = 0.1
WEIGHT_SIGMA = 0.03        # relative weight noise of the perturbed member
REFRESH_EVERY = 10         # steps between new weight perturbations
FEATURE_WEIGHT = 0.5       # feature taps together weigh half as much as the latent


class AugmentedEncoder:
    def __init__(self, encoder: nn.Sequential, seed: int = 0, extra: list | tuple = ()):
        """`extra`: (network, taps) pairs of further ensemble members."""
        self.base = encoder
        self.extra = list(extra)
        self.perturbed = copy.deepcopy(encoder)
        self.rng = random.Random(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.calls = 0

    def _refresh(self) -> None:
        with torch.no_grad():
            for p, q in zip(self.base.parameters(), self.perturbed.parameters()):
                q.copy_(p * (1 + WEIGHT_SIGMA * torch.randn(p.shape, generator=self.gen).to(p.device)))

    def pick(self):
        """One member for this step: (network, its taps, whether to drop TAEF2 channels)."""
        if self.calls % REFRESH_EVERY == 0:
            self._refresh()
        self.calls += 1
        augmented = [(self.base, TAPS, False), (self.base, TAPS, True), (self.perturbed, TAPS, False)]
        return self.rng.choice(augmented + [(net, taps, False) for net, taps in self.extra])


def features(net: nn.Sequential, x: torch.Tensor, masks: dict | None, taps: tuple = TAPS) -> list:
    out = []
    for i, layer in enumerate(net):
        x = layer(x)
        if masks is not None and i in masks:
            x = x * masks[i]
        if i in taps:
            out.append(x)
    return out


def dropout_masks(n: int, channels: int = 64, generator=None, device="cpu") -> dict:
    # Drawn on the CPU generator whatever the device, so a seed gives the same masks everywhere.
    return {i: ((torch.rand(n, channels, 1, 1, generator=generator) > DROP_P).float() / (1 - DROP_P)).to(device)
            for i in DROP_AT}


def position_free(f: torch.Tensor) -> torch.Tensor:
    """`omamori.measuring.position_free` on tensors: the statistics the benchmark and `omamori evaluate`
    measure style with."""
    return measuring.position_free(f, concatenate=torch.cat)


def _stages_and_latent(per_tap: list) -> tuple:
    """Latent figure + FEATURE_WEIGHT x the mean over the stage taps, and the latent figure alone, (N,)."""
    stages = torch.stack(per_tap[:-1]).mean(0)
    return per_tap[-1] + FEATURE_WEIGHT * stages, per_tap[-1]


def pull(feats_clean: list, feats_adv: list, feats_target: list, position_free_stats: bool):
    """Per-image distance to the target relative to the clean picture's (1 = no pull; lower is better),
    on every tap; returns (total, latent) as `distortion` does."""
    per_tap = []
    for c, a, t in zip(feats_clean, feats_adv, feats_target):
        if position_free_stats:
            c, a, t = position_free(c), position_free(a), position_free(t)
        per_tap.append((a - t).flatten(1).norm(dim=1) / (c - t).flatten(1).norm(dim=1).clamp(min=1e-6))
    return _stages_and_latent(per_tap)


def distortion(feats_clean: list, feats_adv: list) -> torch.Tensor:
    """Per-image relative distortion: the latent's plus FEATURE_WEIGHT x the mean over the stage taps, (N,)."""
    def rel(a, b):
        return (b - a).flatten(1).norm(dim=1) / a.flatten(1).norm(dim=1).clamp(min=1e-6)

    return _stages_and_latent([rel(a, b) for a, b in zip(feats_clean, feats_adv)])
