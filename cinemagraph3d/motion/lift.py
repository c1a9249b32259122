"""From 2D pixel displacements to 3D scene flow, and filling a flow field into invalid pixels."""

from __future__ import annotations

import torch

from ..errors import InputError
from ..ops import push_pull

__all__ = ["lift_offsets", "lift_displacement", "diffuse_field"]


def _check_rows(x, name: str, cols: int, rows: int | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != cols:
        raise InputError(name, f"a (P, {cols}) tensor", getattr(x, "shape", type(x).__name__))
    if rows is not None and x.shape[0] != rows:
        raise InputError(name, f"{rows} rows (one per point)", x.shape[0])
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


def diffuse_field(field: torch.Tensor, valid: torch.Tensor, levels: int | None = None) -> torch.Tensor:
    """Fill a field into invalid pixels from the valid ones: the push–pull pyramid of
    :func:`cinemagraph3d.ops.push_pull` with the validity as weight (the one diffusion of the
    code base). Valid pixels keep their values exactly; invalid pixels get a smooth normalised
    average of the valid values around them, the nearer ones weighing most.

    Args:
        field: ``(C, H, W)`` float field (e.g. ``(2, H, W)`` motion in px/step).
        valid: ``(H, W)`` bool, True where ``field`` is known.
        levels: number of coarser levels (default: until the coarsest level is 1x1). Fewer levels
            fill only holes up to about ``2**levels`` pixels from valid ones (0 elsewhere).

    Returns:
        ``(C, H, W)`` filled field; all zeros when no pixel is valid.
    """
    if not isinstance(field, torch.Tensor) or field.dim() != 3 or not field.is_floating_point():
        raise InputError("field", "a (C, H, W) float tensor", getattr(field, "shape", type(field).__name__))
    _, h, w = field.shape
    if not isinstance(valid, torch.Tensor) or valid.dtype != torch.bool or tuple(valid.shape) != (h, w):
        raise InputError("valid", f"an ({h}, {w}) bool tensor", getattr(valid, "shape", type(valid).__name__))
    if levels is not None and (isinstance(levels, bool) or not isinstance(levels, int) or levels < 0):
        raise InputError("levels", "None or an integer >= 0", levels)
    valid = valid.to(field.device)
    out = push_pull(field, valid[None].to(field.dtype), levels=levels)
    return torch.where(valid[None], field, out)
