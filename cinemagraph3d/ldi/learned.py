"""Learned back-end of the LDI inpainting: the partial-convolution U-Nets of 3D photo inpainting.

For each back layer ``k`` the band to fill (``holes``: pixels of nearer layers within ``band``
pixels of layer ``k``) is inpainted from layer ``k``'s own visible pixels (``context``) in two
steps, in the order 3D photo inpainting (Shih et al. 2020) and 3D-Cinemagraphy use:

1. depth: :func:`~cinemagraph3d.models.inpaint_depth` (log-depth made zero-mean over the context,
   0 outside it; edge channel 0; centred zero padding to multiples of 128);
2. colour: :func:`~cinemagraph3d.models.inpaint_color` on ``RGB · context`` with the same context
   and holes. The colour net has no depth input (its input is RGB·context, edge, context, holes),
   so the depth step does not change the colour; it only fixes where the filled colour sits in 3D.

Pixels that are neither context nor holes (farther layers' pixels, other nearer pixels) are
invalid inputs of the partial convolutions: no colour or depth of another layer reaches the nets.
The LDI stage then clamps the inpainted depth behind the occluder exactly as the classic back-end
does (:func:`cinemagraph3d.ldi.build_ldi`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError, WeightsError

__all__ = ["INPAINT_WEIGHTS", "InpaintNets", "load_inpaint_nets", "learned_fill"]

#: file stems of the two networks in a weights directory (``<stem>.safetensors`` + ``<stem>.json``),
#: as written by ``cinemagraph3d convert-weights`` from ``depth-model.pth`` / ``color-model.pth``.
INPAINT_WEIGHTS = ("depth_inpaint", "color_inpaint")


@dataclass(frozen=True)
class InpaintNets:
    """The two inpainting networks of the learned LDI back-end (eval mode).

    Attributes:
        depth: a :class:`~cinemagraph3d.models.DepthInpaintNet` (4 → 1 channels).
        color: a :class:`~cinemagraph3d.models.ColorInpaintNet` (6 → 3 channels).
    """

    depth: nn.Module
    color: nn.Module

    def __post_init__(self) -> None:
        from ..models import ColorInpaintNet, DepthInpaintNet

        if not isinstance(self.depth, DepthInpaintNet):
            raise InputError("InpaintNets.depth", "a DepthInpaintNet", type(self.depth).__name__)
        if not isinstance(self.color, ColorInpaintNet):
            raise InputError("InpaintNets.color", "a ColorInpaintNet", type(self.color).__name__)


def missing_message(directory: str | os.PathLike[str], missing: list[Path]) -> str:
    """The :class:`WeightsError` text for a weights directory lacking the inpainting nets."""
    needed = ", ".join(f"{n}.safetensors + {n}.json" for n in INPAINT_WEIGHTS)
    where = repr(str(directory)) + ("" if Path(directory).is_dir() else " (not a directory)")
    return (
        f"learned inpainting needs {needed} in {where}; missing "
        f"{', '.join(p.name for p in missing)}. Convert depth-model.pth and color-model.pth "
        "(3D Photo Inpainting / 3D-Cinemagraphy release) with "
        "`cinemagraph3d convert-weights SRC_DIR DST_DIR`, or use inpaint='classic'"
    )


def load_inpaint_nets(weights: str | os.PathLike[str], device: str | torch.device = "cpu") -> InpaintNets:
    """Load the depth and colour inpainting nets from a weights directory.

    Args:
        weights: directory holding ``depth_inpaint`` and ``color_inpaint`` (``.safetensors`` and
            ``.json`` each, see :mod:`cinemagraph3d.weights`).
        device: where to put the networks.

    Raises:
        WeightsError: the directory or any of the four files is missing (all named), or a file
            is refused by :func:`cinemagraph3d.weights.load_model`.
    """
    from ..weights import load_model, missing_weights

    d = Path(weights)
    missing = missing_weights(d, INPAINT_WEIGHTS)
    if missing:
        raise WeightsError(missing_message(d, missing))
    depth = load_model(d, "depth_inpaint", device=device, expected_architecture="depth_inpaint")
    color = load_model(d, "color_inpaint", device=device, expected_architecture="color_inpaint")
    return InpaintNets(depth, color)


@torch.no_grad()
def learned_fill(
    nets: InpaintNets, image: torch.Tensor, depth: torch.Tensor, context: torch.Tensor, holes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw network fill of one layer: depth net first, then colour net.

    Args:
        nets: :class:`InpaintNets`.
        image: ``(3, H, W)`` photo in [0, 1] (only the context is read).
        depth: ``(1, H, W)`` z-depth > 0 (only the context is read).
        context: ``(H, W)`` bool, the layer's own visible pixels (at least one).
        holes: ``(H, W)`` bool, the band to fill (disjoint from ``context``).

    Returns:
        ``(color (3, H, W), z (1, H, W))`` on the device and in the dtype of ``image`` / ``depth``:
        the networks' prediction, to be used inside ``holes`` only (no depth-ordering clamp yet).
    """
    from ..models import inpaint_color, inpaint_depth

    p = next(nets.depth.parameters())
    ctx = context.to(p.device, p.dtype)[None, None]
    hol = holes.to(p.device, p.dtype)[None, None]
    z = torch.where(context[None], depth, torch.ones_like(depth)).to(p.device, p.dtype)[None]
    z_fill = inpaint_depth(nets.depth, z, ctx, hol)[0]
    q = next(nets.color.parameters())
    rgb = image.to(q.device, q.dtype)[None]
    col = inpaint_color(nets.color, rgb, ctx.to(q.device, q.dtype), hol.to(q.device, q.dtype))[0]
    return col.to(image.device, image.dtype), z_fill.to(depth.device, depth.dtype)
