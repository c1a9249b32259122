"""From 2D pixel displacements to 3D scene flow, and the flow of the points hidden behind nearer layers."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..ops import check_shape
from ..types import FeatureCloud, LayeredDepthImage

__all__ = ["lift_offsets", "lift_displacement", "donor_pixels"]


def _check_rows(x, name: str, cols: int, rows: int | None = None) -> torch.Tensor:
    check_shape(x, ("P", cols), name, None if rows is None else {"P": rows})
    if not x.is_floating_point():
        raise InputError(name, "a floating-point tensor", x.dtype)
    return x


def lift_offsets(disp: torch.Tensor, z: torch.Tensor, focal: torch.Tensor) -> torch.Tensor:
    """The fronto-parallel lift of 2-D displacements: ``(d_x z / f_x, d_y z / f_y)``.

    Args:
        disp: ``(P, 2)`` pixel displacements.
        z: ``(P, 1)`` z-depths of the points, scene units.
        focal: ``(2,)`` ``(f_x, f_y)`` in pixels.

    Returns:
        ``(P, 2)`` x/y displacements in scene units (z is unchanged).
    """
    return disp * z / focal


def lift_displacement(
    points: torch.Tensor, pixels: torch.Tensor, disp: torch.Tensor, K: torch.Tensor
) -> torch.Tensor:
    """Lift 2D pixel displacements to 3D, fronto-parallel (the point keeps its z-depth).

    A point seen at pixel ``p`` with depth ``z`` moves to the unprojection of ``p + d`` at the
    same depth ``z``. The returned displacement is
    ``unproject(p + d, z) - unproject(p, z) = (d_x z / f_x, d_y z / f_y, 0)``, which equals
    ``unproject(p + d, z) - point`` for a point lying on its pixel's ray (as LDI points do) and is
    exactly 0 where ``d = 0``.

    Args:
        points: ``(P, 3)`` points in the camera frame, scene units (``z`` is used).
        pixels: ``(P, 2)`` pixel positions ``(u, v)`` of the points, pixels.
        disp: ``(P, 2)`` 2D displacements in pixels.
        K: ``(3, 3)`` intrinsics of the camera the pixels belong to, pixels.

    Returns:
        ``(P, 3)`` displacements in scene units, in the camera frame.
    """
    points = _check_rows(points, "points", 3)
    p = points.shape[0]
    pixels = _check_rows(pixels, "pixels", 2, p)
    disp = _check_rows(disp, "disp", 2, p)
    if not isinstance(K, torch.Tensor) or tuple(K.shape) != (3, 3):
        raise InputError("K", "a (3, 3) intrinsics tensor", getattr(K, "shape", type(K).__name__))
    if not bool(torch.isfinite(K).all()) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise InputError("K", "finite intrinsics with fx, fy > 0", K.tolist())
    dtype = points.dtype
    K = K.to(device=points.device, dtype=dtype)
    disp = disp.to(dtype)
    z = points[:, 2:3]
    xy = lift_offsets(disp, z, torch.stack([K[0, 0], K[1, 1]]))
    return torch.cat([xy, torch.zeros_like(z)], dim=1)


def donor_pixels(ldi: LayeredDepthImage, cloud: FeatureCloud) -> torch.Tensor:
    """How the fluid's motion reaches the points hidden behind nearer layers (the flow
    diffusion of the method): each point follows the 2-D motion of one *donor* pixel, its own
    pixel for a visible point, the nearest visible pixel of its own layer for an inpainted one
    (so revealed background moves with the fluid next to it, never with the occluder).

    Args:
        ldi: :class:`~cinemagraph3d.types.LayeredDepthImage` ``(L, ·, H, W)``.
        cloud: :class:`~cinemagraph3d.types.FeatureCloud` lifted from it (``P`` points).

    Returns:
        ``(P,)`` int64 flat pixel indices ``i·W + j`` on the cloud's device.
    """
    from scipy.ndimage import distance_transform_edt

    H, W = ldi.labels.shape
    flat = (cloud.pixels[:, 1].long() * W + cloud.pixels[:, 0].long()).clamp(0, H * W - 1)
    donor = flat.clone()
    hid = cloud.inpainted
    if hid.any():
        for k in torch.unique(cloud.layer[hid]).tolist():
            vis = ldi.visible[k, 0].cpu().numpy()
            if not vis.any():
                continue
            _, (ri, ci) = distance_transform_edt(~vis, return_indices=True)
            nearest = torch.from_numpy((ri.astype(np.int64) * W + ci).reshape(-1)).to(flat.device)
            sel = hid & (cloud.layer == k)
            donor[sel] = nearest[flat[sel]]
    return donor
