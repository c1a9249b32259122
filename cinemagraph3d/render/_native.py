"""Autograd wrapper around the native splatting kernels (``cinemagraph3d._C``).

Same contract as :func:`cinemagraph3d.render._torch_impl._splat_forward` (see
:func:`cinemagraph3d.render.splat_points` and ``docs/renderer.md``). Gradients flow to
``features`` and ``opacity``; positions, radii, intrinsics and the depth test are constants, and
the depth output is not differentiable.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

__all__ = ["splat_native", "native_pass"]


def _ext():
    from .. import _C  # type: ignore[attr-defined]

    return _C


def native_pass(name: str, tensors, native: bool | None = None):
    """The native CPU pass ``cinemagraph3d._C.<name>`` (the one-pass twins of the renderer's torch
    operations, ``docs/renderer.md``) for these tensors, or ``None`` (use the torch operations).

    ``native=False``: ``None``. ``None`` (auto): the pass when the CPU splat backend is native
    (``CINEMAGRAPH3D_BACKEND``, see :func:`~cinemagraph3d.render.active_backend`), the tensors are
    all CPU float32 or all CPU float64, none needs gradients (the passes have no backward) and the
    built extension has the pass. ``True``: the same, else an
    :class:`~cinemagraph3d.errors.InputError` naming what is missing.
    """
    if native is False:
        return None
    from ..errors import InputError
    from .splat import active_backend

    dt = tensors[0].dtype
    ok = dt in (torch.float32, torch.float64)
    ok = ok and all(t.device.type == "cpu" and t.dtype == dt for t in tensors)
    ok = ok and not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))
    fn = getattr(_ext(), name, None) if ok and active_backend("cpu") == "native-cpu" else None
    if fn is None and native:
        raise InputError("native", f"the native extension with {name} and CPU float tensors without gradients",
                         "unavailable for these inputs")  # fmt: skip
    return fn


class _SplatFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, points, features, opacity, radius, K, height, width, znear, tol, max_radius, eps, save):
        scalars = (int(height), int(width), float(znear), float(tol), float(max_radius), float(eps))
        feat, depth, alpha, wsum, zmin = _ext().splat_forward(
            points, features, opacity, radius, K, *scalars, save_for_backward=save
        )
        ctx.scalars = scalars
        ctx.save_for_backward(points, features, opacity, radius, K, feat, wsum, zmin)
        ctx.mark_non_differentiable(depth)
        return feat, depth, alpha

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_feat, grad_depth, grad_alpha):
        points, features, opacity, radius, K, feat, wsum, zmin = ctx.saved_tensors
        need_f, need_o = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        if not (need_f or need_o):
            return (None,) * 12
        grad_features, grad_opacity = _ext().splat_backward(
            grad_feat.contiguous(),
            grad_alpha.contiguous(),
            points,
            features,
            opacity,
            radius,
            K,
            feat,
            wsum,
            zmin,
            *ctx.scalars,
            need_f,
            need_o,
        )
        return (None, grad_features, grad_opacity) + (None,) * 9


def splat_native(
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
    """Native splat (C++/OpenMP on CPU tensors, CUDA on CUDA tensors).

    Arguments as in :func:`cinemagraph3d.render._torch_impl._splat_forward`; every tensor must
    have the dtype of ``features`` and live on its device. The kernels compute in float32 or
    float64; other floating dtypes (float16, bfloat16) are computed in float32 and cast back.

    Returns:
        ``features (C, H, W)``, ``depth (1, H, W)``, ``alpha (1, H, W)``.
    """
    if features.dtype not in (torch.float32, torch.float64):
        # The kernels exist for float32 and float64: run reduced precisions in float32.
        out = splat_native(
            *(t.float() for t in (points, features, opacity, radius, K)),
            height,
            width,
            znear,
            depth_tolerance,
            max_radius,
            eps,
        )
        return tuple(o.to(features.dtype) for o in out)
    # The coverage and z-min buffers are only kept when a backward pass can follow.
    save = torch.is_grad_enabled() and (features.requires_grad or opacity.requires_grad)
    return _SplatFunction.apply(
        points, features, opacity, radius, K, height, width, znear, depth_tolerance, max_radius, eps, save
    )
