"""Feed-forward perturbation network, cheap at full resolution.

All the work happens on a grid 1/factor the size of the picture; the output is a pattern in [-1, 1] (tanh)
that the runtime multiplies by epsilon/255, so the budget can change at run time. Two stems:
- "unshuffle" (v1: factor 4, 64 channels): PixelUnshuffle, then a 3x3 conv; input scaled to [-1, 1].
- "patch" (v2 students, distill.py: factor 8, 48 channels): one conv with an 8x8 kernel and stride 8 reads
  each block directly. It skips the unshuffle's memory transpose and the input scaling, which cost more
  than the convolutions at this width: about 5x faster than v1 at 2048² (README "Speed").
"""
import torch
import torch.nn as nn

FACTOR = 4  # v1's factor; inputs must have H and W divisible by the factor (the runtime pads)


class ResBlock(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), nn.ReLU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class Generator(nn.Module):
    """`with_target`: a second RGB input (the poison's brick-wall tile) that the net sees next to the image,
    because a translation-equivariant net cannot otherwise know where the bricks lie."""

    def __init__(self, ch: int = 64, blocks: int = 4, with_target: bool = False, factor: int = FACTOR,
                 stem: str = "unshuffle"):
        super().__init__()
        self.with_target, self.factor, self.stem = with_target, factor, stem
        self.arch = {"factor": factor, "channels": ch, "blocks": blocks, "stem": stem}
        rgb_in = 6 if with_target else 3
        c_out = 3 * factor * factor
        if stem == "patch":
            head = [nn.Conv2d(rgb_in, ch, factor, stride=factor)]
        else:
            head = [nn.PixelUnshuffle(factor), nn.Conv2d(rgb_in * factor * factor, ch, 3, padding=1)]
        self.first_conv = f"net.{len(head) - 1}.weight"
        self.net = nn.Sequential(
            *head, nn.ReLU(), *[ResBlock(ch) for _ in range(blocks)],
            nn.Conv2d(ch, c_out, 3, padding=1), nn.PixelShuffle(factor))

    def forward(self, x: torch.Tensor, target: torch.Tensor = None) -> torch.Tensor:
        """x (and target): (N, 3, H, W) RGB in [0, 1] -> pattern (N, 3, H, W) in [-1, 1]."""
        if self.with_target:
            x = torch.cat([x, target], 1)
        return torch.tanh(self.net(x if self.stem == "patch" else x * 2 - 1))

    def receptive_radius(self) -> int:
        """Pixels from a pattern pixel to the farthest input pixel that can change it: the runtime's tiles
        discard at least this much at each inner edge, so tiled output equals untiled output."""
        convs_3x3 = 2 * self.arch["blocks"] + 1 + (self.stem != "patch")
        return (convs_3x3 + 1) * self.factor

    def load_from(self, state: dict):
        """Load a checkpoint, also a guard's (3-channel) into a poison net: extra input weights start at 0."""
        first = self.first_conv
        if state[first].shape != self.state_dict()[first].shape:
            w = torch.zeros_like(self.state_dict()[first])
            w[:, : state[first].shape[1]] = state[first]
            state = {**state, first: w}
        self.load_state_dict(state)


def generator_for(info: dict) -> Generator:
    """An untrained Generator of a checkpoint's architecture (its `info`; v1 checkpoints carry none)."""
    arch = info.get("architecture") or {}
    return Generator(with_target=info.get("with_target", False), ch=arch.get("channels", 64),
                     blocks=arch.get("blocks", 4), factor=arch.get("factor", 4), stem=arch.get("stem", "unshuffle"))
