"""Per-layer features and the 3D feature point cloud."""

from __future__ import annotations

import torch

from ..geometry.camera import PinholeCamera, pixel_grid, unproject_depth
from ..types import FeatureCloud, LayeredDepthImage

__all__ = ["lift_ldi", "rgb_features", "encode_layers"]


def rgb_features(ldi: LayeredDepthImage) -> torch.Tensor:
    """Classic-preset features: the LDI colour itself, ``(L, 3, H, W)`` in [0, 1]."""
    return ldi.color


def lift_ldi(
    ldi: LayeredDepthImage, camera: PinholeCamera, features: torch.Tensor | None = None
) -> FeatureCloud:
    """Lift every LDI pixel with ``alpha > 0`` to a point in the input camera frame.

    Args:
        ldi: :class:`LayeredDepthImage` ``(L, ·, H, W)``.
        camera: intrinsics of the input photo.
        features: ``(L, C, H, W)`` per-layer feature maps (default: RGB, :func:`rgb_features`).

    Returns:
        :class:`FeatureCloud`; points are ordered by layer, then row-major pixel index.
    """
    feats = rgb_features(ldi) if features is None else features
    L, _, H, W = ldi.color.shape
    dev = ldi.color.device
    K = camera.matrix(device=dev)
    uv = pixel_grid(H, W, device=dev).permute(1, 2, 0)  # (H, W, 2)
    sel = ldi.alpha[:, 0] > 0  # (L, H, W)
    idx = sel.nonzero()  # (P, 3): layer, row, col
    lyr, row, col = idx[:, 0], idx[:, 1], idx[:, 2]
    z = ldi.depth[lyr, 0, row, col]
    pix = uv[row, col]
    return FeatureCloud(
        points=unproject_depth(pix, z, K),
        features=feats[lyr, :, row, col],
        alpha=ldi.alpha[lyr, 0, row, col],
        pixels=pix,
        layer=lyr.clone(),  # a view of idx would hold all of its (P, 3) int64 storage
        inpainted=~ldi.visible[lyr, 0, row, col],
    )


@torch.no_grad()
def encode_layers(encoder: torch.nn.Module, ldi: LayeredDepthImage) -> torch.Tensor:
    """Neural-preset features: per-layer point features ``(L, 35, H, W)``, the layer colour
    and the 32 channels of the learned encoder (:class:`~cinemagraph3d.models.FeatureEncoder`,
    ``Models.encoder``).

    All layers are encoded as one batch (the encoder normalises with batch statistics, as the
    reference renderer does).
    """
    rgba = torch.cat([ldi.color, ldi.alpha], dim=1)
    feats = encoder(rgba)
    return torch.cat([ldi.color, feats.to(ldi.color.dtype)], dim=1)
