"""Bidirectional fusion of the forward/backward splats and hole filling."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..types import SplatResult

__all__ = ["FusionSettings", "fuse_bidirectional", "push_pull", "fill_holes"]


@dataclass(frozen=True)
class FusionSettings:
    """Settings of the symmetric fusion.

    Attributes:
        depth_weight: the constant ``a`` of the classic preset; ``exp(a·disp)`` favours the nearer
            of two surfaces (``a = 10``: a surface 10 % nearer in normalised disparity weighs ~2.7×).
        eps: denominator floor.
    """

    depth_weight: float = 10.0
    eps: float = 1e-6


def fuse_bidirectional(
    forward: SplatResult,
    backward: SplatResult,
    t: float,
    num_steps: int,
    depth_ref: float,
    settings: FusionSettings | None = None,
) -> SplatResult:
    r"""Fuse the splats of the forward- and backward-moved clouds at scene time ``t``.

    With ``τ = t / N`` and normalised disparity ``disp = depth_ref / D`` (``depth_ref``: the
    scene's near depth, so ``disp`` is about 1 at the nearest surface),

    .. math::
        w_f = (1-τ)\,α_f\,e^{a\,disp_f},\quad w_b = τ\,α_b\,e^{a\,disp_b},\quad
        X = \frac{w_f X_f + w_b X_b}{\max(w_f + w_b, ε)}

    applied to features, depth and alpha (alpha is 0 where ``w_f + w_b <= ε``). At ``τ = 0`` the
    result is exactly the forward splat, at ``τ = 1`` exactly the backward one.

    Args:
        forward, backward: :class:`SplatResult` with features ``(C, H, W)``, depth and alpha
            ``(1, H, W)``.
        t: scene time in motion steps, ``0 <= t <= num_steps``.
        num_steps: loop length ``N`` in motion steps.
        depth_ref: positive depth (scene units) that normalises disparity.
        settings: :class:`FusionSettings`.

    Returns:
        :class:`SplatResult` of the fused frame.
    """
    settings = settings or FusionSettings()
    if num_steps < 1 or not (0.0 <= t <= num_steps):
        raise InputError("t", f"a scene time in [0, {num_steps}]", t)
    tau = float(t) / float(num_steps)
    a = settings.depth_weight
    if tau == 0.0 or tau == 1.0:  # the formula's limits, returned exactly (the loop closes bit for bit)
        return forward if tau == 0.0 else backward

    def weight(res: SplatResult, k: float) -> torch.Tensor:
        disp = torch.where(res.depth > 0, depth_ref / res.depth.clamp(min=1e-12), torch.zeros_like(res.depth))
        return k * res.alpha * torch.exp(a * disp.clamp(max=4.0))

    wf = weight(forward, 1.0 - tau)
    wb = weight(backward, tau)
    wsum = wf + wb
    denom = wsum.clamp(min=settings.eps)
    feats = (wf * forward.features + wb * backward.features) / denom
    depth = (wf * forward.depth + wb * backward.depth) / denom
    alpha = (wf * forward.alpha + wb * backward.alpha) / denom
    alpha = torch.where(wsum > settings.eps, alpha, torch.zeros_like(wsum))
    # Where both splats agree exactly (e.g. regions nothing moves through) return them bit for bit,
    # so static pixels are identical in every frame.
    same = (forward.features == backward.features).all(0, keepdim=True) & (forward.depth == backward.depth)
    same = same & (forward.alpha == backward.alpha)
    feats = torch.where(same, forward.features, feats)
    depth = torch.where(same, forward.depth, depth)
    alpha = torch.where(same, forward.alpha, alpha)
    return SplatResult(feats, depth, alpha)


def _pull(x: torch.Tensor, C: int) -> torch.Tensor:
    """Push–pull on a premultiplied ``(1, C + 1, H, W)`` tensor ``[v·w, w]`` → ``(1, C, H, W)``."""
    pyramid = [x]
    while min(x.shape[-2:]) > 1:
        x = F.avg_pool2d(x, 2, ceil_mode=True)
        pyramid.append(x)
    out = None
    for x in reversed(pyramid):
        v, w = x[:, :C], x[:, C:]
        cur = v / w.clamp(min=1e-12)
        if out is None:
            out = torch.where(w > 0, cur, torch.zeros_like(cur))
            continue
        up = F.interpolate(out, size=v.shape[-2:], mode="bilinear", align_corners=False)
        out = torch.where(w >= 1, cur, torch.lerp(up, cur, w.clamp(max=1.0)))
    return out


def push_pull(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Fill a weighted image from its valid pixels with a push–pull pyramid.

    Push: ``(v·w, w)`` are average-pooled 2×2 down to 1 pixel. Pull: from the coarsest level up,
    ``out_l = min(w_l, 1)·(v_l / w_l) + (1 - min(w_l, 1))·upsample(out_{l+1})``. Pixels with
    ``w >= 1`` keep their value exactly; holes get a smooth blend of the nearest valid values.

    Args:
        values: ``(C, H, W)``.
        weight: ``(1, H, W)`` non-negative confidence (alpha, or a 0/1 validity mask).

    Returns:
        ``(C, H, W)`` filled values (zeros if no pixel is valid).
    """
    if values.ndim != 3 or weight.shape != (1, *values.shape[1:]):
        raise InputError("push_pull", "values (C, H, W) and weight (1, H, W)", (values.shape, weight.shape))
    C = values.shape[0]
    w0 = weight.to(values.dtype)
    return _pull(torch.cat([values * w0, w0], 0)[None], C)[0]


def _upsample_at(
    coarse: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, H: int, W: int
) -> torch.Tensor:
    """``F.interpolate(coarse, (H, W), bilinear, align_corners=False)`` evaluated only at the
    given full-resolution pixels. ``coarse`` is ``(C, h, w)``; returns ``(C, n)``."""
    _, h, w = coarse.shape

    def axis(idx, n_in, n_out):
        src = ((idx.to(coarse.dtype) + 0.5) * (n_in / n_out) - 0.5).clamp(min=0.0)
        i0 = src.floor().long().clamp(max=n_in - 1)
        return i0, (i0 + 1).clamp(max=n_in - 1), src - i0.to(coarse.dtype)

    r0, r1, fr = axis(rows, h, H)
    c0, c1, fc = axis(cols, w, W)
    top = coarse[:, r0, c0] * (1 - fc) + coarse[:, r0, c1] * fc
    bot = coarse[:, r1, c0] * (1 - fc) + coarse[:, r1, c1] * fc
    return top * (1 - fr) + bot * fr


def _box3(x: torch.Tensor) -> torch.Tensor:
    """3×3 box sums of a ``(C, H, W)`` map (zero outside the image), separable."""
    p = F.pad(x, (1, 1, 1, 1))
    h = p[:, :, :-2] + p[:, :, 1:-1]
    h += p[:, :, 2:]
    v = h[:, :-2] + h[:, 1:-1]
    v += h[:, 2:]
    return v


#: Default strength ``β`` of the background preference of :func:`fill_holes` with a depth map.
FAR_BIAS = 10.0


def fill_holes(
    features: torch.Tensor,
    alpha: torch.Tensor,
    depth: torch.Tensor | None = None,
    far_bias: float = FAR_BIAS,
) -> torch.Tensor:
    """Composite a splatted feature map over a push–pull fill of itself.

    ``out = α·X + (1 - α)·fill`` where ``fill`` is a push–pull of ``X`` weighted by ``α``;
    fully covered pixels (``α >= 1``) are returned unchanged. Only the pixels with ``α < 1`` are
    touched at full resolution (the pyramid starts at half resolution), so the cost is about one
    pass over the frame plus the holes.

    With ``depth``, partly covered pixels (``0 < α < 1``, e.g. the edge pixel of a near surface
    whose far side was rejected by the soft z-buffer) are composited over the background instead:
    their ``fill`` is the mean of the pixel's 3×3 neighbourhood at full resolution weighted by
    ``α·b``, ``b = exp(-β·d / d_max)``, where ``d = 1 / depth`` is a covered pixel's disparity and
    ``d_max`` the largest in the frame. Across an occlusion edge the far side outweighs the near
    side by ``exp(β·Δd / d_max)`` (``β = 10``: a depth ratio of 1.5 at the nearest depth gives
    ≈ 28×), so a pixel a near surface covers by a fraction ``c`` becomes ``c·near + (1 − c)·far``:
    coverage anti-aliasing (the plain fill mixes the near colour in again). Within one surface
    ``d`` barely changes and the weights are uniform. Empty pixels (``α = 0``) next to a covered
    pixel take the same weighted 3×3 mean; those farther inside a hole the plain push–pull.

    Args:
        features: ``(C, H, W)`` normalised features.
        alpha: ``(1, H, W)`` coverage in [0, 1].
        depth: optional ``(1, H, W)`` splatted z-depth (scene units; 0 where nothing landed).
        far_bias: ``β`` (≥ 0; 0 gives the plain push–pull everywhere).

    Returns:
        ``(C, H, W)``.
    """
    aware = depth is not None and far_bias != 0
    if depth is not None and depth.shape != alpha.shape:
        raise InputError("depth", f"a {tuple(alpha.shape)} map like alpha", tuple(depth.shape))
    if not (math.isfinite(far_bias) and far_bias >= 0):
        raise InputError("far_bias", "a finite number >= 0", far_bias)
    holes = alpha[0] < 1
    if not bool(holes.any()):
        return features
    C, H, W = features.shape
    a = alpha.to(features.dtype)
    rows, cols = holes.nonzero(as_tuple=True)
    # Pixels taking the weighted 3×3 mean (depth-aware only) and those taking the pyramid.
    up, pyramid = None, None  # pyramid: indices into rows/cols; None: all of them
    if aware:
        z = depth.to(features.dtype)
        zmin = float(torch.where(a > 0, z, torch.full_like(z, math.inf)).min())
        if math.isfinite(zmin) and zmin > 0:  # something covered, with a usable depth
            # b = exp(-β·d/d_max), d = 1/z, d_max = 1/z_min; 0 where nothing landed (α = 0).
            ba = torch.exp((-far_bias * zmin) / z.clamp(min=1e-12)) * a
            box = _box3(torch.cat([features * ba, ba], 0))
            den = box[C, rows, cols]
            # Partly covered pixels (and empty ones next to covered ones): the background-weighted
            # mean of the 3×3 neighbourhood at full resolution (the pyramid's half-resolution
            # cells would mix the near side in again); empty pixels with no covered neighbour:
            # the push–pull pyramid.
            up = box[:C, rows, cols] / den.clamp(min=1e-30)
            pyramid = (den <= 0).nonzero(as_tuple=True)[0]
    if pyramid is None or pyramid.numel():
        half = F.avg_pool2d(torch.cat([features * a, a], 0)[None], 2, ceil_mode=True)
        coarse = _pull(half, C)[0]
        if pyramid is None:
            up = _upsample_at(coarse, rows, cols, H, W)
        else:
            up[:, pyramid] = _upsample_at(coarse, rows[pyramid], cols[pyramid], H, W)
    out = features.clone()
    out[:, rows, cols] = torch.lerp(up, features[:, rows, cols], a[0, rows, cols])
    return out
