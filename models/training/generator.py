"""Feed-forward perturbation network, cheap at full resolution.

PixelUnshuffle(4) moves all the work to 1/16 of the pixels; the output is a pattern in [-1, 1]
(tanh) that the runtime multiplies by epsilon/255, so the budget can change at run time.
"""
import torch
import torch.nn as nn

FACTOR = 4  # inputs must have H and W divisible by this (the runtime pads)


class ResBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), nn.ReLU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class Generator(nn.Module):
    """`with_target`: a second RGB input (the poison's brick-wall tile) that the net sees next to the image,
    because a translation-equivariant net cannot otherwise know where the bricks lie."""

    def __init__(self, ch: int = 64, blocks: int = 4, with_target: bool = False):
        super().__init__()
        self.with_target = with_target
        c_in = 3 * FACTOR * FACTOR
        c_first = 2 * c_in if with_target else c_in
        self.net = nn.Sequential(
            nn.PixelUnshuffle(FACTOR), nn.Conv2d(c_first, ch, 3, padding=1), nn.ReLU(),
            *[ResBlock(ch) for _ in range(blocks)],
            nn.Conv2d(ch, c_in, 3, padding=1), nn.PixelShuffle(FACTOR))

    def forward(self, x: torch.Tensor, target: torch.Tensor = None) -> torch.Tensor:
        """x (and target): (N, 3, H, W) RGB in [0, 1] -> pattern (N, 3, H, W) in [-1, 1]."""
        if self.with_target:
            x = torch.cat([x, target], 1)
        return torch.tanh(self.net(x * 2 - 1))

    def load_from(self, state: dict):
        """Load a checkpoint, also a guard's (3-channel) into a poison net: extra input weights start at 0."""
        first = "net.1.weight"
        if state[first].shape != self.state_dict()[first].shape:
            w = torch.zeros_like(self.state_dict()[first])
            w[:, : state[first].shape[1]] = state[first]
            state = {**state, first: w}
        self.load_state_dict(state)
