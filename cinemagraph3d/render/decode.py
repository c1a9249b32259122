"""Learned decoding of the neural preset: the two splats of a frame → the decoder's input maps →
the image decoder (learned fusion on :func:`cinemagraph3d.ops.fusion_weights`, then a U-Net)."""

from __future__ import annotations

import torch

from ..ops import check_shape, normalised_disparity
from ..types import SplatResult

__all__ = ["decoder_input", "decode_frame"]


def decoder_input(res: SplatResult, disp_range: tuple[float, float]) -> torch.Tensor:
    """The decoder's 37-channel input ``(1, 37, H, W)`` from a 35-channel splat.

    Layout ``[RGB, alpha, 32 features, disp]`` with ``disp = (1/D - lo) / (hi - lo)``
    (:func:`~cinemagraph3d.ops.normalised_disparity`; 0 where nothing landed), ``(lo, hi)`` the
    inverse-depth range of the scene's points.
    """
    C, H, W = check_shape(res.features, ("C", "H", "W"), "splat features").values()
    check_shape(res.depth, (1, H, W), "splat depth")
    check_shape(res.alpha, (1, H, W), "splat alpha")
    lo, hi = disp_range
    disp = normalised_disparity(res.depth, lo, hi)
    f = res.features
    return torch.cat([f[:3], res.alpha, f[3:], disp], dim=0)[None]


@torch.no_grad()
def decode_frame(
    decoder: torch.nn.Module,
    forward: SplatResult,
    backward: SplatResult | None,
    tau: float,
    disp_range: tuple[float, float],
) -> torch.Tensor:
    """Decode one frame ``(3, H, W)`` in [0, 1] from the forward (and backward) splats with the
    :class:`~cinemagraph3d.models.ImageDecoder` (``Models.decoder``); ``tau = t/N``."""
    x_f = decoder_input(forward, disp_range)
    x_b = x_f if backward is None else decoder_input(backward, disp_range)
    return decoder(x_f, x_b, float(tau))[0].clamp(0.0, 1.0)
