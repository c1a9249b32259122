"""Learned Eulerian motion estimator: a SPADE U-Net with spectral-normalised convolutions.

Input: ``(B, 6, S, S)`` = RGB in [-1, 1], fluid mask in {0, 1}, dense 2-channel motion hint in
pixels/frame at resolution ``S`` (768 for the official weights). Output: ``(B, 2, S, S)`` motion
``(dx, dy)`` in pixels/frame at resolution ``S`` (the raw network output times ``output_scale``,
the reference's ``div_flow = 20``).

Architecture (``f = base_filters = 32``)::

    encoder: conv1..conv8, 4x4 stride-2 convs          f, 2f, 4f, 8f, 8f, 8f, 8f, 8f channels
             e1 = conv1(x);  e_k = SPADE_k(conv_k(leaky_relu_0.2(e_{k-1})), x) for k = 2..7
             e8 = conv8(leaky_relu(e7))                                           (S/256)
    decoder: d = up(relu(e8))
             for k = 1..7: d = relu(cat[up(SPADE(dconv_k(d), x)), up(e_{8-k})])
             flow = dconv8(d)                                                      (S)
    dconv1..dconv8: 3x3 convs (8f, 8f, 8f, 8f, 4f, 2f, f, 2 output channels)

``SPADE(h, x) = InstanceNorm(h) * (1 + gamma(x)) + beta(x)`` with ``gamma, beta`` 3x3 convs on a
shared 3x3 conv + ReLU (128 hidden) of the conditioning input resized to ``h`` (RGB and hint
bilinear, mask nearest). Every encoder/decoder conv is wrapped in spectral normalisation
(``torch.nn.utils.parametrizations.spectral_norm``); in eval mode it uses the stored ``u, v``
vectors (no power iteration), so inference is deterministic.

Reference quirk, reproduced on purpose: ``up`` is bilinear x2 upsampling (align_corners=False)
except for channel 3, which is upsampled by nearest neighbour (the reference reuses the
"RGB, mask, flow" split of its conditioning input for every feature map). The trained weights
expect it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import check
from .registry import register_model

__all__ = ["MotionEstimator", "SPADE"]


def _resize_condition(cond: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize the conditioning input: channel 3 (mask) nearest, every other channel bilinear."""
    if tuple(cond.shape[-2:]) == tuple(size):
        return cond
    out = F.interpolate(cond, size=size, mode="bilinear", align_corners=False)
    if cond.shape[1] > 3:
        out = out.clone()
        out[:, 3:4] = F.interpolate(cond[:, 3:4], size=size, mode="nearest")
    return out


def _upsample2(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 (align_corners=False), channel 3 nearest x2 (reference quirk, see module doc)."""
    out = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    if x.shape[1] > 3:
        out[:, 3:4] = F.interpolate(x[:, 3:4], scale_factor=2.0, mode="nearest")
    return out


class SPADE(nn.Module):
    """Spatially-adaptive normalisation: parameter-free instance norm modulated by a condition.

    Args:
        channels: channels of the normalised feature map.
        cond_channels: channels of the conditioning input.
        hidden: channels of the shared embedding.
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int = 128) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(cond_channels, hidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``h`` ``(B, C, h, w)``, ``cond`` ``(B, cond_channels, h, w)`` (already resized)."""
        actv = self.mlp_shared(cond)
        return self.norm(h) * (1.0 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


def _sn_conv(in_channels: int, out_channels: int, kernel: int, stride: int) -> nn.Conv2d:
    return spectral_norm(nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=1))


@register_model("motion_estimator")
class MotionEstimator(nn.Module):
    """SPADE U-Net predicting an Eulerian motion field from an image, a mask and motion hints.

    Args:
        in_channels: conditioning channels (RGB + mask + 2-channel hint).
        out_channels: 2 (dx, dy).
        base_filters: width ``f`` of the first level.
        spade_hidden: hidden channels of each SPADE block.
        output_scale: factor applied to the raw output (pixels/frame at the network resolution).
        input_size: side of the square network input used by :meth:`estimate`.

    Shapes:
        ``forward(x)``: ``(B, in_channels, S, S')`` with ``S, S'`` multiples of 256 →
        ``(B, 2, S, S')`` pixels/frame at that resolution.

    Example:
        >>> net = MotionEstimator().eval()
        >>> net(torch.rand(1, 6, 256, 256)).shape
        torch.Size([1, 2, 256, 256])
    """

    arch: str
    levels = 8

    def __init__(
        self,
        in_channels: int = 6,
        out_channels: int = 2,
        base_filters: int = 32,
        spade_hidden: int = 128,
        output_scale: float = 20.0,
        input_size: int = 768,
    ) -> None:
        super().__init__()
        self.config = {
            "in_channels": in_channels,
            "out_channels": out_channels,
            "base_filters": base_filters,
            "spade_hidden": spade_hidden,
            "output_scale": output_scale,
            "input_size": input_size,
        }
        f = base_filters
        enc = [in_channels, f, 2 * f, 4 * f, 8 * f, 8 * f, 8 * f, 8 * f, 8 * f]
        for k in range(1, 9):
            setattr(self, f"conv{k}", _sn_conv(enc[k - 1], enc[k], 4, 2))
        dec_out = [8 * f, 8 * f, 8 * f, 8 * f, 4 * f, 2 * f, f, out_channels]
        dec_in = [8 * f] + [2 * c for c in dec_out[:-1]]
        for k in range(1, 9):
            setattr(self, f"dconv{k}", _sn_conv(dec_in[k - 1], dec_out[k - 1], 3, 1))

        def spade(channels: int) -> SPADE:
            return SPADE(channels, in_channels, spade_hidden)

        # Names follow the reference: spade_layer{width multiple}_{index}.
        self.spade_layer = spade(f)
        self.spade_layer2_0 = spade(2 * f)
        self.spade_layer2_1 = spade(2 * f)
        self.spade_layer4_0 = spade(4 * f)
        self.spade_layer4_1 = spade(4 * f)
        for i in range(8):
            setattr(self, f"spade_layer8_{i}", spade(8 * f))

    def _encoder_norms(self) -> list[SPADE]:
        # normalisation after conv2..conv7
        return [
            self.spade_layer2_0,
            self.spade_layer4_0,
            self.spade_layer8_0,
            self.spade_layer8_1,
            self.spade_layer8_2,
            self.spade_layer8_3,
        ]

    def _decoder_norms(self) -> list[SPADE]:
        # normalisation after dconv1..dconv7
        return [
            self.spade_layer8_4,
            self.spade_layer8_5,
            self.spade_layer8_6,
            self.spade_layer8_7,
            self.spade_layer4_1,
            self.spade_layer2_1,
            self.spade_layer,
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict motion at the input resolution.

        Args:
            x: ``(B, in_channels, S, S')``: RGB in [-1, 1], mask, hint (pixels/frame at ``S``).

        Returns:
            ``(B, 2, S, S')`` motion in pixels/frame at the input resolution.
        """
        c = self.config["in_channels"]
        check(x.ndim == 4 and x.shape[1] == c, "motion estimator input", f"(B, {c}, S, S)", tuple(x.shape))
        unit = 2**self.levels
        check(
            x.shape[-2] % unit == 0 and x.shape[-1] % unit == 0,
            "motion estimator input size",
            f"multiples of {unit}",
            tuple(x.shape[-2:]),
        )
        conds: dict[tuple[int, int], torch.Tensor] = {}

        def cond(h: torch.Tensor) -> torch.Tensor:
            size = (h.shape[-2], h.shape[-1])
            if size not in conds:
                conds[size] = _resize_condition(x, size)
            return conds[size]

        skips = [self.conv1(x)]
        for k, norm in enumerate(self._encoder_norms(), start=2):
            h = getattr(self, f"conv{k}")(F.leaky_relu(skips[-1], 0.2))
            skips.append(norm(h, cond(h)))
        d = _upsample2(F.relu(self.conv8(F.leaky_relu(skips[-1], 0.2))))
        for k, norm in enumerate(self._decoder_norms(), start=1):
            h = getattr(self, f"dconv{k}")(d)
            h = norm(h, cond(h))
            d = F.relu(torch.cat([_upsample2(h), _upsample2(skips[7 - k])], dim=1))
        return self.dconv8(d) * self.config["output_scale"]

    def estimate(self, image: torch.Tensor, mask: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
        """Motion field at the working resolution from an image, a fluid mask and a hint map.

        The inputs are resized to ``input_size`` x ``input_size`` (image bicubic with antialias,
        mask by area averaging, hint bilinear with its vectors rescaled), the network runs, and
        the result is post-processed as the reference does: multiplied by the mask, smoothed by
        one 15x15 box filter (zero border), multiplied by the mask again, then rescaled to the
        working resolution (vectors and grid).

        Args:
            image: ``(B, 3, H, W)`` RGB in [0, 1].
            mask: ``(B, 1, H, W)`` fluid region, 1 inside (values in [0, 1]).
            hint: ``(B, 2, H, W)`` dense hint ``(dx, dy)`` in pixels/frame at ``(H, W)``
                (e.g. from the classic motion interpolation; zeros for "no hint").

        Returns:
            ``(B, 2, H, W)`` motion ``(dx, dy)`` in pixels/frame at ``(H, W)``, zero outside the
            mask. Runs under ``torch.no_grad`` only if the caller asks for it.
        """
        check(image.ndim == 4 and image.shape[1] == 3, "image", "(B, 3, H, W) tensor", tuple(image.shape))
        b, _, h, w = image.shape
        check(mask.shape == (b, 1, h, w), "mask", f"shape {(b, 1, h, w)}", tuple(mask.shape))
        check(hint.shape == (b, 2, h, w), "hint", f"shape {(b, 2, h, w)}", tuple(hint.shape))
        s = self.config["input_size"]
        rgb = F.interpolate(image, size=(s, s), mode="bicubic", align_corners=False, antialias=True)
        rgb = rgb.clamp(0.0, 1.0) * 2.0 - 1.0
        mask_s = F.interpolate((mask > 0.5).to(image.dtype), size=(s, s), mode="area")
        to_net = torch.tensor([s / w, s / h], dtype=hint.dtype, device=hint.device).view(1, 2, 1, 1)
        hint_s = F.interpolate(hint * to_net, size=(s, s), mode="bilinear", align_corners=False)
        flow = self(torch.cat([rgb, mask_s, hint_s], dim=1)) * mask_s
        flow = F.avg_pool2d(flow, 15, stride=1, padding=7, count_include_pad=True) * mask_s
        to_work = torch.tensor([w / s, h / s], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
        return F.interpolate(flow * to_work, size=(h, w), mode="bilinear", align_corners=False)
