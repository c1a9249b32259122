"""Multi-scale patch discriminator with spectral normalisation (pix2pixHD / SPADE style).

Each scale ``s = 0..S-1`` sees the input average-pooled ``s`` times (3×3, stride 2) and runs
``L`` stride-2 4×4 convolutions (``c, 2c, 4c, ...`` channels, at most ``8c``) with LeakyReLU 0.2,
then a stride-1 4×4 convolution to ``8c`` and a stride-1 4×4 convolution to one logit per
patch. Every convolution is spectral-normalised. The output is, per scale, the list of every
intermediate map followed by the logit map: the feature-matching loss compares the former, the
hinge loss uses the latter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["PatchDiscriminator", "MultiScaleDiscriminator"]


class PatchDiscriminator(nn.Module):
    """One scale: ``(B, C, H, W)`` → list of feature maps, the last one ``(B, 1, h, w)`` logits."""

    def __init__(self, in_channels: int, channels: int = 64, layers: int = 3) -> None:
        super().__init__()
        blocks = []
        c_in, c = in_channels, channels
        for _ in range(layers):
            blocks.append(nn.Sequential(spectral_norm(nn.Conv2d(c_in, c, 4, 2, 1)), nn.LeakyReLU(0.2)))
            c_in, c = c, min(2 * c, 8 * channels)
        blocks.append(nn.Sequential(spectral_norm(nn.Conv2d(c_in, c, 4, 1, 1)), nn.LeakyReLU(0.2)))
        blocks.append(spectral_norm(nn.Conv2d(c, 1, 4, 1, 1)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for b in self.blocks:
            x = b(x)
            out.append(x)
        return out


class MultiScaleDiscriminator(nn.Module):
    """``scales`` patch discriminators on the input at ``1, 1/2, 1/4, ...`` resolution.

    Args:
        in_channels: channels of the discriminator input (condition + sample).
        channels: channels of each scale's first layer.
        layers: stride-2 layers per scale.
        scales: number of scales.

    Shapes:
        ``forward(x)``: ``(B, in_channels, H, W)`` → ``scales`` lists of maps; the last map of each
        list is the ``(B, 1, h_s, w_s)`` patch logits.
    """

    def __init__(self, in_channels: int, channels: int = 64, layers: int = 3, scales: int = 2) -> None:
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(in_channels, channels, layers) for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        out = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(d(x))
        return out
