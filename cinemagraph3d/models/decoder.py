"""Image decoder of the neural preset: learned two-way fusion followed by a U-Net to RGB.

Input channel layout of the splatted maps (``C = 37`` by default)::

    0-2 RGB in [0, 1] | 3 alpha (splat coverage) | 4-35 features (32) | 36 normalised disparity

Fusion (design doc, "Fusion"), with ``tau = t / N`` and the learned scalar ``a``::

    w_f = (1 - tau) * alpha_f * exp(a * disp_f),   w_b = tau * alpha_b * exp(a * disp_b)
    X   = (w_f * X_f + w_b * X_b) / max(w_f + w_b, 1e-6)          (all C channels)

U-Net on ``X`` (widths for the defaults; ``unit`` = conv3x3 (reflect) -> GroupNorm(C/32) -> PReLU)::

    stem   conv7x7 (zero pad, no bias) -> PReLU                        32 @ H
    down1..down4: maxpool/2, unit (a), unit (b)                64,128,256,512 @ H/2..H/16
    mid: unit (a), unit (b)                                           512 @ H/16
    up_k(x, skip_a, skip_b): bilinear x2 (align_corners=True), fit to skip_a, concat [skip_a, x],
        unit (a), concat [skip_b, a], unit (b)
        up1 uses (down4.b, down4.a), up2 (down3.b, down3.a), up3 (down2.b, down2.a),
        up4 (down1.b, down1.a)                                     256,128,64,32 @ H/16..H/2
    head: bilinear x2, concat [stem, x], conv3x3 (reflect), sigmoid     3 @ H

Reference quirk, reproduced on purpose: ``up1``'s input (``mid``) already has the size of its
skip (both at H/16), so the x2 upsampling is followed by a centre *crop* back to H/16 (the
"fit to skip" step pads by reflection when the upsampled map is smaller and crops when it is
larger; with a negative amount it crops ``floor(d/2)`` rows at the top and the rest at the bottom).
The trained weights expect exactly this, so the decoder's first up-step does not change resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import check
from ..ops import fusion_weights as _fusion
from .registry import register_model

__all__ = ["ImageDecoder", "fusion_weights"]


def fusion_weights(
    tau: float | torch.Tensor,
    alpha_f: torch.Tensor,
    disp_f: torch.Tensor,
    alpha_b: torch.Tensor,
    disp_b: torch.Tensor,
    a: float | torch.Tensor,
    eps: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised forward/backward blending weights ``(w_f, w_b)``, each ``(B, 1, H, W)``: the
    method's fusion formula (:func:`cinemagraph3d.ops.fusion_weights`) divided by
    ``max(w_f + w_b, eps)``.

    ``tau`` is a float or a ``(B,)`` tensor in [0, 1]; alphas and disparities are ``(B, 1, H, W)``;
    ``a`` weighs nearer points (larger disparity) more. ``w_f + w_b = 1`` wherever either
    splat covers the pixel, 0 where neither does.
    """
    if isinstance(tau, torch.Tensor) and tau.ndim > 0:
        tau = tau.reshape(-1, 1, 1, 1)
    w_f, w_b = _fusion(tau, alpha_f, disp_f, alpha_b, disp_b, a)
    total = torch.clamp(w_f + w_b, min=eps)
    return w_f / total, w_b / total


class _Unit(nn.Module):
    """conv3x3 (reflection padding, bias) -> GroupNorm(channels/32 groups) -> PReLU (one slope)."""

    def __init__(self, in_channels: int, out_channels: int, group_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode="reflect")
        self.norm = nn.GroupNorm(max(out_channels // group_size, 1), out_channels)
        self.act = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class _Pair(nn.Module):
    """Two units in sequence; returns both outputs (the U-Net uses both as skips)."""

    def __init__(self, in_channels: int, out_channels: int, group_size: int) -> None:
        super().__init__()
        self.a = _Unit(in_channels, out_channels, group_size)
        self.b = _Unit(out_channels, out_channels, group_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.a(x)
        return a, self.b(a)


class _Down(_Pair):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return super().forward(F.max_pool2d(x, 2))


def _fit_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Centre ``x`` on ``ref``'s size: reflection padding if smaller, cropping if larger."""
    dy = ref.shape[-2] - x.shape[-2]
    dx = ref.shape[-1] - x.shape[-1]
    if dy == 0 and dx == 0:
        return x
    return F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2], mode="reflect")


class _Up(nn.Module):
    """Upsample, fit to the first skip, two units each preceded by a concat with a skip."""

    def __init__(self, x_channels: int, skip_channels: int, out_channels: int, group_size: int) -> None:
        super().__init__()
        mid = skip_channels
        self.a = _Unit(skip_channels + x_channels, mid, group_size)
        self.b = _Unit(skip_channels + mid, out_channels, group_size)

    def forward(self, x: torch.Tensor, skip_b: torch.Tensor, skip_a: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)
        x = _fit_to(x, skip_b)
        a = self.a(torch.cat([skip_b, x], dim=1))
        return self.b(torch.cat([skip_a, a], dim=1))


class _Head(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode="reflect")

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)
        return torch.sigmoid(self.conv(torch.cat([skip, x], dim=1)))


@register_model("image_decoder")
class ImageDecoder(nn.Module):
    """Fuses the forward and backward splatted feature maps and decodes them to an RGB frame.

    Args:
        in_channels: channels of a splatted map (RGB + alpha + features + disparity).
        out_channels: output channels (3, RGB in [0, 1]).
        base_channels: width of the stem; the U-Net doubles it at each of four levels.
        group_size: channels per GroupNorm group.
        fusion_init: initial value of the learned fusion scalar ``a``.
        alpha_channel: index of the splat-coverage channel used by the fusion.
        disparity_channel: index of the normalised-disparity channel (negative counts from the end).

    Shapes:
        ``forward(x_f, x_b, tau)``: ``x_f, x_b`` ``(B, in_channels, H, W)`` with ``H, W >= 32``,
        ``tau`` float or ``(B,)`` → ``(B, out_channels, H, W)``. (The reference network fails on
        odd sizes; here an odd map is padded by one reflected row/column and the output cropped.)

    Example:
        >>> dec = ImageDecoder()
        >>> x = torch.rand(1, 37, 96, 160)
        >>> dec(x, x, 0.25).shape
        torch.Size([1, 3, 96, 160])
    """

    arch: str

    def __init__(
        self,
        in_channels: int = 37,
        out_channels: int = 3,
        base_channels: int = 32,
        group_size: int = 32,
        fusion_init: float = 1.0,
        alpha_channel: int = 3,
        disparity_channel: int = -1,
    ) -> None:
        super().__init__()
        self.config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "base_channels": base_channels,
            "group_size": group_size,
            "fusion_init": fusion_init,
            "alpha_channel": alpha_channel,
            "disparity_channel": disparity_channel,
        }
        c = base_channels
        g = group_size
        self.fusion_a = nn.Parameter(torch.tensor(float(fusion_init)))
        self.stem_conv = nn.Conv2d(in_channels, c, 7, padding=3, bias=False)
        self.stem_act = nn.PReLU()
        self.down1 = _Down(c, 2 * c, g)
        self.down2 = _Down(2 * c, 4 * c, g)
        self.down3 = _Down(4 * c, 8 * c, g)
        self.down4 = _Down(8 * c, 16 * c, g)
        self.mid = _Pair(16 * c, 16 * c, g)
        self.up1 = _Up(16 * c, 16 * c, 8 * c, g)
        self.up2 = _Up(8 * c, 8 * c, 4 * c, g)
        self.up3 = _Up(4 * c, 4 * c, 2 * c, g)
        self.up4 = _Up(2 * c, 2 * c, c, g)
        self.head = _Head(2 * c, out_channels)

    def fuse(self, x_f: torch.Tensor, x_b: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
        """Blend the forward (``x_f``) and backward (``x_b``) splats with the learned ``a``.

        Args:
            x_f, x_b: ``(B, C, H, W)`` splatted maps (layout in the module docstring).
            tau: ``t / N`` in [0, 1], float or ``(B,)``; 0 shows only the forward splat.

        Returns:
            ``(B, C, H, W)`` fused map.
        """
        self._check_input(x_f, "forward splat x_f")
        self._check_input(x_b, "backward splat x_b")
        check(x_f.shape == x_b.shape, "x_b", f"the shape of x_f {tuple(x_f.shape)}", tuple(x_b.shape))
        ia = self.config["alpha_channel"]
        idisp = self.config["disparity_channel"]
        w_f, w_b = fusion_weights(
            tau,
            x_f[:, ia : ia + 1],
            x_f[:, [idisp]],
            x_b[:, ia : ia + 1],
            x_b[:, [idisp]],
            self.fusion_a,
        )
        return w_f * x_f + w_b * x_b

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Run the U-Net on a fused map ``(B, C, H, W)`` → RGB ``(B, 3, H, W)`` in [0, 1]."""
        self._check_input(x, "fused map")
        h, w = x.shape[-2:]
        if h % 2 or w % 2:
            x = F.pad(x, [0, w % 2, 0, h % 2], mode="reflect")
        s = self.stem_act(self.stem_conv(x))
        d1a, d1b = self.down1(s)
        d2a, d2b = self.down2(d1b)
        d3a, d3b = self.down3(d2b)
        d4a, d4b = self.down4(d3b)
        _, m = self.mid(d4b)
        u = self.up1(m, d4b, d4a)
        u = self.up2(u, d3b, d3a)
        u = self.up3(u, d2b, d2a)
        u = self.up4(u, d1b, d1a)
        return self.head(u, s)[..., :h, :w]

    def forward(self, x_f: torch.Tensor, x_b: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
        """Fuse then decode; see :meth:`fuse` and :meth:`decode`."""
        return self.decode(self.fuse(x_f, x_b, tau))

    def _check_input(self, x: torch.Tensor, name: str) -> None:
        c = self.config["in_channels"]
        check(x.ndim == 4 and x.shape[1] == c, name, f"(B, {c}, H, W) tensor", tuple(x.shape))
        check(min(x.shape[-2:]) >= 32, f"{name} size", "H, W >= 32", tuple(x.shape[-2:]))
