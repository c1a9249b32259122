"""Learned LDI inpainting back-end: partial-convolution U-Nets for depth and colour.

These are the two inpainting networks of "3D Photography using Context-aware Layered Depth
Inpainting" (Shih et al., 2020) as the 3D-Cinemagraphy reference uses them (its edge network is
not used: the edge input is all zeros).

Input layout, ``(B, C, H, W)`` with ``H, W`` multiples of 128::

    depth net  (C = 4): zero-mean log-depth (0 outside context) | edge | context | holes
    colour net (C = 6): RGB * context                          | edge | context | holes

``context`` marks known pixels, ``holes`` the pixels to fill. The partial-convolution validity
mask of the input is ``clamp(context + holes, 0, 1)`` on every channel; pixels outside both are
treated as missing.

Architecture (identical for both nets apart from input/output channels and biases; widths shown
for the official ``base_channels = 64``, a smaller value scales them all, e.g. for tests)::

    enc_1: pconv 7x7/2 -> ReLU (no BN)         64 @ H/2
    enc_2: pconv 5x5/2 -> BN -> ReLU           128 @ H/4
    enc_3: pconv 5x5/2 -> BN -> ReLU           256 @ H/8
    enc_4..enc_7: pconv 3x3/2 -> BN -> ReLU    512 @ H/16..H/128
    dec_k (k = 7..2): nearest x2 of the previous output (and of its mask), concat with the output
        of enc_{k-1} (and its mask), pconv 3x3 -> BN -> LeakyReLU(0.2)   512,512,512,256,128,64
    dec_1: nearest x2, concat with the input, pconv 3x3 (bias)        1 (depth) / 3 (colour)
    output: depth net raw; colour net sigmoid.

A partial convolution computes ``W^T (X * M) * (window size / sum(M)) + b`` where the window
holds any valid input (``sum(M) > 0``) and 0 elsewhere; its output mask is 1 where the window held
a valid input. ``mask_conv.weight`` (all ones, not trained) is kept as a frozen parameter for
checkpoint compatibility; when it is all ones (always, for trained nets) ``sum(M)`` is computed
as one single-channel box sum instead of a full convolution, which halves the cost.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import check
from .registry import register_model

__all__ = ["PartialConv2d", "DepthInpaintNet", "ColorInpaintNet", "inpaint_depth", "inpaint_color"]


class PartialConv2d(nn.Module):
    """Partial convolution (Liu et al. 2018) with a frozen all-ones ``mask_conv``.

    ``forward(x, mask)`` takes ``x`` and ``mask`` of shape ``(B, C_in, H, W)`` (mask in {0, 1})
    and returns ``(y, new_mask)``, both ``(B, C_out, h, w)``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int, bias: bool
    ) -> None:
        super().__init__()
        self.input_conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self.mask_conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        nn.init.kaiming_normal_(self.input_conv.weight, a=0, mode="fan_in")
        if bias:
            nn.init.zeros_(self.input_conv.bias)
        nn.init.ones_(self.mask_conv.weight)
        self.mask_conv.weight.requires_grad_(False)
        self.window = in_channels * kernel_size * kernel_size

    def _mask_sum(self, mask: torch.Tensor) -> torch.Tensor:
        w = self.mask_conv.weight
        if bool((w == 1).all()):
            k = w.shape[-1]
            ones = torch.ones(1, 1, k, k, dtype=mask.dtype, device=mask.device)
            total = mask.sum(dim=1, keepdim=True)
            out = F.conv2d(total, ones, stride=self.mask_conv.stride, padding=self.mask_conv.padding)
            return out.expand(-1, w.shape[0], -1, -1)
        return self.mask_conv(mask)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.input_conv(x * mask)
        with torch.no_grad():
            mask_sum = self._mask_sum(mask)
            holes = mask_sum == 0
            mask_sum = mask_sum.masked_fill(holes, 1.0)
            new_mask = (~holes).to(x.dtype)
        bias = self.input_conv.bias
        if bias is not None:
            b = bias.view(1, -1, 1, 1)
            out = (out - b) * self.window / mask_sum + b
        else:
            out = out * self.window / mask_sum
        return out.masked_fill(holes, 0.0), new_mask


class _Block(nn.Module):
    """Partial conv, optional BatchNorm (with running statistics), optional activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        bias: bool,
        bn: bool,
        activation: str | None,
    ) -> None:
        super().__init__()
        self.conv = PartialConv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias)
        self.bn = nn.BatchNorm2d(out_channels) if bn else None
        self.activation = activation

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, mask = self.conv(x, mask)
        if self.bn is not None:
            x = self.bn(x)
        if self.activation == "relu":
            x = F.relu(x)
        elif self.activation == "leaky":
            x = F.leaky_relu(x, 0.2)
        return x, mask


class _PartialConvUNet(nn.Module):
    """Seven-level partial-convolution U-Net shared by the depth and colour nets."""

    levels = 7
    arch: str

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        enc_bias: tuple[bool, ...],
        output_activation: str | None,
        base_channels: int = 64,
    ) -> None:
        super().__init__()
        self.config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "base_channels": base_channels,
        }
        self.output_activation = output_activation
        b = base_channels
        enc = [in_channels, b, 2 * b, 4 * b, 8 * b, 8 * b, 8 * b, 8 * b]
        kernels = [7, 5, 5, 3, 3, 3, 3]
        for k in range(1, 8):
            bias = enc_bias[k - 1] if k - 1 < len(enc_bias) else False
            block = _Block(enc[k - 1], enc[k], kernels[k - 1], 2, bias, bn=k > 1, activation="relu")
            setattr(self, f"enc_{k}", block)
        for k in range(7, 1, -1):
            # input: upsampled output of the level below (enc[k] wide) + skip from enc_{k-1}
            block = _Block(enc[k] + enc[k - 1], enc[k - 1], 3, 1, False, bn=True, activation="leaky")
            setattr(self, f"dec_{k}", block)
        self.dec_1 = _Block(enc[1] + in_channels, out_channels, 3, 1, True, bn=False, activation=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inpaint one padded input.

        Args:
            x: ``(B, in_channels, H, W)``, ``H, W`` multiples of 128, layout in the module doc.

        Returns:
            ``(B, out_channels, H, W)``: normalised log-depth (depth net) or RGB in [0, 1]
            (colour net) for every pixel (use it inside ``holes``).
        """
        c = self.config["in_channels"]
        check(x.ndim == 4 and x.shape[1] == c, f"{self.arch} input", f"(B, {c}, H, W)", tuple(x.shape))
        unit = 2**self.levels
        check(
            x.shape[-2] % unit == 0 and x.shape[-1] % unit == 0,
            f"{self.arch} input size",
            f"multiples of {unit} (use inpaint_depth / inpaint_color to pad)",
            tuple(x.shape[-2:]),
        )
        mask = (x[:, -2:-1] + x[:, -1:]).clamp(0.0, 1.0).expand_as(x)
        feats = [x]
        masks = [mask]
        for k in range(1, 8):
            h, m = getattr(self, f"enc_{k}")(feats[-1], masks[-1])
            feats.append(h)
            masks.append(m)
        h, m = feats[-1], masks[-1]
        for k in range(7, 0, -1):
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            m = F.interpolate(m, scale_factor=2.0, mode="nearest")
            h, m = getattr(self, f"dec_{k}")(
                torch.cat([h, feats[k - 1]], dim=1), torch.cat([m, masks[k - 1]], dim=1)
            )
        if self.output_activation == "sigmoid":
            h = torch.sigmoid(h)
        return h


@register_model("depth_inpaint")
class DepthInpaintNet(_PartialConvUNet):
    """Depth inpainting net (4 input channels → 1): zero-mean log-depth in, the same out.

    Example:
        >>> net = DepthInpaintNet().eval()
        >>> net(torch.zeros(1, 4, 128, 128)).shape
        torch.Size([1, 1, 128, 128])
    """

    def __init__(self, in_channels: int = 4, out_channels: int = 1, base_channels: int = 64) -> None:
        super().__init__(in_channels, out_channels, (True, True), None, base_channels)


@register_model("color_inpaint")
class ColorInpaintNet(_PartialConvUNet):
    """Colour inpainting net (6 input channels → 3, sigmoid): RGB in [0, 1] in and out.

    Example:
        >>> net = ColorInpaintNet().eval()
        >>> net(torch.zeros(1, 6, 128, 128)).shape
        torch.Size([1, 3, 128, 128])
    """

    def __init__(self, in_channels: int = 6, out_channels: int = 3, base_channels: int = 64) -> None:
        super().__init__(in_channels, out_channels, (), "sigmoid", base_channels)


def _pad_to_unit(x: torch.Tensor, unit: int) -> tuple[torch.Tensor, tuple[slice, slice]]:
    """Zero-pad ``x`` centred to multiples of ``unit``; return it and the slices of the original."""
    h, w = x.shape[-2:]
    ph = math.ceil(h / unit) * unit - h
    pw = math.ceil(w / unit) * unit - w
    top, left = ph // 2, pw // 2
    x = F.pad(x, (left, pw - left, top, ph - top))
    return x, (slice(top, top + h), slice(left, left + w))


def _check_region(name: str, t: torch.Tensor, b: int, h: int, w: int) -> None:
    check(t.shape == (b, 1, h, w), name, f"shape {(b, 1, h, w)}", tuple(t.shape))


def inpaint_depth(
    net: DepthInpaintNet, depth: torch.Tensor, context: torch.Tensor, holes: torch.Tensor
) -> torch.Tensor:
    """Fill ``holes`` of a z-depth map from its ``context`` with the depth inpainting net.

    The depth is normalised as the reference does (log, minus its mean over the context, 0 outside
    the context), padded (zeros, centred) to multiples of 128, inpainted, cropped and mapped back.

    Args:
        net: a :class:`DepthInpaintNet` (eval mode for inference).
        depth: ``(B, 1, H, W)`` z-depth > 0 (valid where ``context`` is 1).
        context: ``(B, 1, H, W)`` 1 on known pixels.
        holes: ``(B, 1, H, W)`` 1 on pixels to fill (disjoint from ``context``).

    Returns:
        ``(B, 1, H, W)`` z-depth predicted by the network everywhere (same units as ``depth``);
        callers keep ``depth`` on the context and use this inside ``holes``.
    """
    b, _, h, w = depth.shape
    _check_region("context", context, b, h, w)
    _check_region("holes", holes, b, h, w)
    check(bool((context > 0).flatten(1).any(dim=1).all()), "context", "at least one known pixel", "none")
    log_depth = torch.log(depth + 1e-8) * context
    mean = log_depth.sum(dim=(1, 2, 3), keepdim=True) / (context > 0).sum(dim=(1, 2, 3), keepdim=True)
    normalised = (log_depth - mean) * context
    x = torch.cat([normalised, torch.zeros_like(holes), context, holes], dim=1)
    x, (rows, cols) = _pad_to_unit(x, 2**net.levels)
    out = net(x)[..., rows, cols]
    return torch.exp(out + mean)


def inpaint_color(
    net: ColorInpaintNet, rgb: torch.Tensor, context: torch.Tensor, holes: torch.Tensor
) -> torch.Tensor:
    """Fill ``holes`` of an image from its ``context`` with the colour inpainting net.

    Args:
        net: a :class:`ColorInpaintNet` (eval mode for inference).
        rgb: ``(B, 3, H, W)`` colour in [0, 1] (only the context is read).
        context: ``(B, 1, H, W)`` 1 on known pixels.
        holes: ``(B, 1, H, W)`` 1 on pixels to fill (disjoint from ``context``).

    Returns:
        ``(B, 3, H, W)`` in [0, 1]: ``rgb`` on the context, the network's colour inside
        ``holes``, 0 elsewhere (as the reference composes it).
    """
    b, _, h, w = rgb.shape
    check(rgb.ndim == 4 and rgb.shape[1] == 3, "rgb", "(B, 3, H, W) tensor", tuple(rgb.shape))
    _check_region("context", context, b, h, w)
    _check_region("holes", holes, b, h, w)
    known = rgb * context
    x = torch.cat([known, torch.zeros_like(holes), context, holes], dim=1)
    x, (rows, cols) = _pad_to_unit(x, 2**net.levels)
    out = net(x)[..., rows, cols]
    return out * holes + known
