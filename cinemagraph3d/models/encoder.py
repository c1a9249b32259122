"""Per-layer feature encoder of the neural preset: a truncated ResNet34 with a small U-Net head.

Architecture (defaults; they match the official 3D-Cinemagraphy ``feature_net``)::

    RGBA (B,4,H,W) ─ conv1 7x7/2 ─ BN ─ ReLU ─ maxpool/2 ─ layer1 (64, H/4) ─ layer2 (128, H/8)
                                                               │                   │
                                                 layer3 (256, H/16)                │
    upconv3: bilinear x2 ─ conv3x3 ─ BN ─ ELU (128) ── concat ◄─┘ (skip, zero-padded to fit)
    iconv3:  conv3x3 ─ BN ─ ELU (128)
    upconv2: bilinear x2 ─ conv3x3 ─ BN ─ ELU (64) ─── concat ◄── layer1 (skip)
    iconv2:  conv3x3 ─ BN ─ ELU (32) ─ out_conv 1x1 (32)          → (B,32,~H/4,~W/4)
    optional bilinear resize (align_corners=True) to (H, W)

The backbone is timm's ``resnet34`` built with ``features_only`` and cut after ``layer3`` (random
initialisation; nothing is downloaded). Two details follow the reference network and matter for
converted weights: every convolution with spatial padding pads by reflection, and every batch norm
has ``track_running_stats=False``, i.e. it always normalises with the statistics of the current
batch. Pass all LDI layers of one photo as one batch, as the reference renderer does; the features
of a layer then depend (weakly) on the other layers of the batch.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import check
from .registry import register_model

__all__ = ["FeatureEncoder"]


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, track_running_stats=False)


class _ConvBnElu(nn.Module):
    """3x3 reflect-padded convolution (with bias), batch-statistics BN, ELU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode="reflect")
        self.bn = _batch_norm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(self.bn(self.conv(x)))


class _UpConv(nn.Module):
    """Bilinear x2 upsampling (align_corners=True) followed by :class:`_ConvBnElu`."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = _ConvBnElu(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)
        return self.conv(x)


def _concat_with_skip(up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``cat([up, skip])`` after zero-padding ``skip`` (centred) to the size of ``up``."""
    dy = up.shape[-2] - skip.shape[-2]
    dx = up.shape[-1] - skip.shape[-1]
    if dy or dx:
        skip = F.pad(skip, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))
    return torch.cat([up, skip], dim=1)


@register_model("feature_encoder")
class FeatureEncoder(nn.Module):
    """ResNet34 (conv1 + layer1-3) feature encoder with two upsampling stages and skips.

    Args:
        in_channels: input channels; 4 for RGBA (colour in [0, 1], alpha = visibility in [0, 1]).
        out_channels: feature channels of the output.
        backbone: timm model name of the backbone (a ResNet with BasicBlocks or Bottlenecks).
        min_size: smallest accepted input height/width (reflection padding in ``layer3`` needs a
            feature map of at least 2x2).

    Shapes:
        ``forward(x)``: ``x`` ``(B, in_channels, H, W)`` with ``H, W >= min_size`` →
        ``(B, out_channels, H, W)``, or the native ``(B, out_channels, h4, w4)`` map with
        ``h4 = ceil(ceil(H/2)/2)`` (about ``H/4``) when ``full_size=False``.

    Example:
        >>> enc = FeatureEncoder()
        >>> enc(torch.rand(3, 4, 96, 160)).shape
        torch.Size([3, 32, 96, 160])
    """

    arch: str

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 32,
        backbone: str = "resnet34",
        min_size: int = 32,
    ) -> None:
        super().__init__()
        self.config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "backbone": backbone,
            "min_size": min_size,
        }
        import timm  # here, not at module level: the classic preset never builds it (≈ 3 s import)

        self.backbone = timm.create_model(
            backbone,
            pretrained=False,
            features_only=True,
            out_indices=(1, 2, 3),
            in_chans=in_channels,
            norm_layer=partial(nn.BatchNorm2d, track_running_stats=False),
        )
        for module in self.backbone.modules():
            if isinstance(module, nn.Conv2d) and any(p > 0 for p in module.padding):
                module.padding_mode = "reflect"
        c1, c2, c3 = self.backbone.feature_info.channels()
        self.upconv3 = _UpConv(c3, 128)
        self.iconv3 = _ConvBnElu(c2 + 128, 128)
        self.upconv2 = _UpConv(128, 64)
        self.iconv2 = _ConvBnElu(c1 + 64, out_channels)
        self.out_conv = nn.Conv2d(out_channels, out_channels, 1)
        for module in [self.upconv3, self.iconv3, self.upconv2, self.iconv2, self.out_conv]:
            for m in module.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor, full_size: bool = True) -> torch.Tensor:
        """Encode RGBA layers into feature maps.

        Args:
            x: ``(B, in_channels, H, W)``; batch = the LDI layers of one photo (see module notes).
            full_size: resize the ``~H/4`` map to ``(H, W)`` (bilinear, align_corners=True, as the
                reference renderer does before lifting features to points).
        """
        c = self.config["in_channels"]
        check(
            x.ndim == 4 and x.shape[1] == c,
            "feature encoder input",
            f"(B, {c}, H, W) tensor",
            tuple(x.shape),
        )
        m = self.config["min_size"]
        check(min(x.shape[-2:]) >= m, "feature encoder input size", f"H, W >= {m}", tuple(x.shape[-2:]))
        f1, f2, f3 = self.backbone(x)
        y = self.iconv3(_concat_with_skip(self.upconv3(f3), f2))
        y = self.iconv2(_concat_with_skip(self.upconv2(y), f1))
        y = self.out_conv(y)
        if full_size:
            y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=True)
        return y
