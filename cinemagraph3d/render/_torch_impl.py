"""Pure-PyTorch reference of the splatting op: the oracle and the fallback.

The native kernels in ``csrc/splat`` implement exactly this math (see ``docs/renderer.md``).
"""

from __future__ import annotations

import math

import torch

__all__ = ["_splat_forward", "WEIGHT_CUTOFF"]

#: Per-axis tent weights below this value count as zero, so float round-off in the projection of a
#: point sitting exactly on a pixel centre cannot make it touch (and z-occlude) its neighbours.
WEIGHT_CUTOFF = 1e-3


def _splat_forward(
    points: torch.Tensor,
    features: torch.Tensor,
    opacity: torch.Tensor,
    radius: torch.Tensor,
    K: torch.Tensor,
    height: int,
    width: int,
    znear: float,
    depth_tolerance: float,
    max_radius: float,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference splat; arguments as in :func:`cinemagraph3d.render.splat_points`.

    Differentiable (autograd) with respect to ``features`` and ``opacity``.
    Returns ``features (C, H, W)``, ``depth (1, H, W)``, ``alpha (1, H, W)``.
    """
    device, dtype = features.device, features.dtype
    P, C = features.shape
    HW = height * width
    if P == 0 or HW == 0:
        z = torch.zeros(1, height, width, device=device, dtype=dtype)
        return features.new_zeros(C, height, width) + 0.0 * features.sum(), z, z.clone()

    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    valid = torch.isfinite(points).all(dim=1) & (z > znear)
    zs = torch.where(valid, z, torch.ones_like(z))
    u = K[0, 0] * x / zs + K[0, 2]
    v = K[1, 1] * y / zs + K[1, 2]
    r = radius.clamp(min=0.5, max=max_radius)
    valid = valid & torch.isfinite(u) & torch.isfinite(v)
    # Discard points whose footprint cannot touch the image (also keeps floor() in range).
    valid = valid & (u > -r) & (u < width + r) & (v > -r) & (v < height + r)
    u = torch.where(valid, u, torch.zeros_like(u))
    v = torch.where(valid, v, torch.zeros_like(v))

    # Footprint window: wide enough for the largest radius present (same result as max_radius).
    r_top = float(r[valid].max()) if bool(valid.any()) else 0.5
    R = int(math.ceil(r_top))
    offs = torch.arange(-R + 1, R + 1, device=device)
    j0 = torch.floor(u - 0.5).long()
    i0 = torch.floor(v - 0.5).long()
    # Candidate pixels: (P, 2R) columns and (P, 2R) rows.
    jj = j0[:, None] + offs[None, :]
    ii = i0[:, None] + offs[None, :]
    wx = (1.0 - ((jj.to(dtype) + 0.5) - u[:, None]).abs() / r[:, None]).clamp(min=0.0)
    wy = (1.0 - ((ii.to(dtype) + 0.5) - v[:, None]).abs() / r[:, None]).clamp(min=0.0)
    wx = torch.where((jj >= 0) & (jj < width) & (wx >= WEIGHT_CUTOFF), wx, torch.zeros_like(wx))
    wy = torch.where((ii >= 0) & (ii < height) & (wy >= WEIGHT_CUTOFF), wy, torch.zeros_like(wy))
    w = (wy[:, :, None] * wx[:, None, :]).reshape(P, -1)  # (P, 4R^2)
    pix = (ii.clamp(0, height - 1)[:, :, None] * width + jj.clamp(0, width - 1)[:, None, :]).reshape(P, -1)
    hit = (w > 0) & valid[:, None]

    pid = torch.arange(P, device=device)[:, None].expand_as(pix)[hit]
    pix = pix[hit]
    w = w[hit].detach()
    zp = z[pid].detach()

    zmin = torch.full((HW,), float("inf"), device=device, dtype=zp.dtype)
    zmin = zmin.scatter_reduce(0, pix, zp, reduce="amin")
    accept = zp <= zmin[pix] * (1.0 + depth_tolerance)
    pid, pix, w, zp = pid[accept], pix[accept], w[accept], zp[accept]

    wo = w * opacity[pid]
    wsum = torch.zeros(HW, device=device, dtype=dtype).index_add(0, pix, wo)
    fsum = torch.zeros(HW, C, device=device, dtype=dtype).index_add(0, pix, wo[:, None] * features[pid])
    zsum = torch.zeros(HW, device=device, dtype=dtype).index_add(0, pix, wo.detach() * zp)
    denom = wsum.clamp(min=eps)
    covered = wsum > eps
    feat = torch.where(covered[:, None], fsum / denom[:, None], torch.zeros_like(fsum))
    depth = torch.where(covered, zsum / denom.detach(), torch.zeros_like(zsum))
    alpha = wsum.clamp(max=1.0)
    return (
        feat.T.reshape(C, height, width),
        depth.reshape(1, height, width),
        alpha.reshape(1, height, width),
    )
