"""Public splatting op and backend dispatch.

Layering: :func:`splat_points` (checks inputs, picks a backend) → ``_native`` (autograd Function
around the C++/CUDA kernels in ``csrc/``) or ``_torch_impl`` (pure PyTorch reference).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch

from ..errors import BackendError, InputError
from ..types import SplatResult
from ._torch_impl import _splat_forward

__all__ = ["SplatSettings", "splat_points", "active_backend", "native_available"]

_BACKENDS = ("auto", "native", "torch")
_warned = False


@dataclass(frozen=True)
class SplatSettings:
    """Settings of the splatting renderer.

    Attributes:
        znear: points with z-depth ``<= znear`` (scene units) are discarded.
        depth_tolerance: relative soft z-buffer tolerance: a point is accepted at a pixel when
            ``z <= zmin * (1 + depth_tolerance)`` (``zmin``: nearest point touching the pixel).
        max_radius: footprint radii are clamped to ``[0.5, max_radius]`` pixels.
        eps: coverage below which a pixel counts as empty.
    """

    znear: float = 1e-3
    depth_tolerance: float = 0.2
    max_radius: float = 4.0
    eps: float = 1e-6


def _load_native():
    try:
        from .. import _C  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - any import failure means "not built"
        return None
    return _C


def native_available() -> bool:
    """True when the compiled extension ``cinemagraph3d._C`` can be imported."""
    return _load_native() is not None


def _requested_backend(backend: str | None) -> str:
    name = backend or os.environ.get("CINEMAGRAPH3D_BACKEND", "auto")
    if name not in _BACKENDS:
        raise InputError("backend (CINEMAGRAPH3D_BACKEND)", f"one of {_BACKENDS}", repr(name))
    # read by the extension itself (csrc/isa.cpp), which cannot refuse it: a typo is refused here
    kernels = os.environ.get("CINEMAGRAPH3D_CPU_KERNELS", "")
    if kernels not in ("", "avx2", "baseline"):
        raise InputError(
            "CPU kernels (CINEMAGRAPH3D_CPU_KERNELS)", "'avx2', 'baseline' or unset", repr(kernels)
        )
    return name


def active_backend(device: str | torch.device = "cpu", backend: str | None = None) -> str:
    """Name of the backend :func:`splat_points` uses for tensors on ``device``.

    Returns ``"native-cpu"``, ``"native-cuda"`` or ``"torch"``. ``backend`` (or the environment
    variable ``CINEMAGRAPH3D_BACKEND``) forces ``"native"`` or ``"torch"``; ``"auto"`` (default)
    takes the native kernel when it is built and supports the device.
    """
    global _warned
    name = _requested_backend(backend)
    dev = torch.device(device)
    if name == "torch":
        return "torch"
    ext = _load_native()
    ok = ext is not None and (dev.type == "cpu" or (dev.type == "cuda" and getattr(ext, "has_cuda", False)))
    if ok:
        return f"native-{dev.type}"
    if name == "native":
        raise BackendError(
            f"native splatting backend requested for device {dev} but the extension is "
            + ("not built" if ext is None else f"not built with {dev.type} support")
        )
    if ext is None and not _warned:
        _warned = True
        warnings.warn(
            "cinemagraph3d native extension not built; using the pure-PyTorch splatting renderer "
            "(slower). Reinstall the package from source without build isolation to build it (README: set-up).",
            RuntimeWarning,
            stacklevel=3,
        )
    return "torch"


def _check_inputs(points, features, opacity, radius, K, height, width) -> None:
    if not isinstance(points, torch.Tensor) or points.ndim != 2 or points.shape[1] != 3:
        raise InputError("points", "a (P, 3) tensor", _shape(points))
    P = points.shape[0]
    if not isinstance(features, torch.Tensor) or features.ndim != 2 or features.shape[0] != P:
        raise InputError("features", f"a ({P}, C) tensor", _shape(features))
    if features.shape[1] < 1:
        raise InputError("features", "at least one channel", _shape(features))
    for name, t in (("opacity", opacity), ("radius", radius)):
        if not isinstance(t, torch.Tensor) or t.shape != (P,):
            raise InputError(name, f"a ({P},) tensor", _shape(t))
    if not isinstance(K, torch.Tensor) or K.shape != (3, 3):
        raise InputError("K", "a (3, 3) tensor", _shape(K))
    if int(height) < 1 or int(width) < 1:
        raise InputError("image size", "height >= 1 and width >= 1", (height, width))
    for name, t in (("points", points), ("opacity", opacity), ("radius", radius), ("K", K)):
        if t.device != features.device:
            raise InputError(name, f"a tensor on {features.device}", f"a tensor on {t.device}")
    if not features.dtype.is_floating_point:
        raise InputError("features", "a floating-point tensor", features.dtype)


def _shape(t) -> str:
    return f"shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__


def splat_points(
    points: torch.Tensor,
    features: torch.Tensor,
    opacity: torch.Tensor,
    radius: torch.Tensor,
    K: torch.Tensor,
    height: int,
    width: int,
    settings: SplatSettings | None = None,
    backend: str | None = None,
) -> SplatResult:
    r"""Splat camera-frame points with features into an image (soft z-buffer, tent footprints).

    For point ``p`` with camera-frame position ``(x, y, z)``, ``z > znear``, projected to
    ``u = fx x / z + cx``, ``v = fy y / z + cy`` with footprint radius ``r = clamp(radius, 0.5,
    max_radius)``, the weight at pixel ``(i, j)`` (centre ``(j + 0.5, i + 0.5)``) is

    .. math:: w_p(i,j) = τ(|j + 0.5 - u| / r) \cdot τ(|i + 0.5 - v| / r),\quad
              τ(s) = 1 - s \text{ if } 1 - s \ge 10^{-3} \text{ else } 0

    (the cut-off ``WEIGHT_CUTOFF = 1e-3`` keeps float round-off from letting a point on a pixel
    centre touch its neighbours)
    (``r = 1`` is bilinear splatting: a dense grid of points has weights summing to one). With
    ``z_min(i,j)`` the smallest z among points with ``w_p(i,j) > 0``, the accepted set is
    ``A(i,j) = {p : w_p(i,j) > 0, z_p <= z_min(i,j)(1 + depth_tolerance)}`` and, with
    ``W = Σ_{p∈A} w_p o_p``,

    .. math::
        F[c,i,j] = Σ_{p∈A} w_p o_p f_{p,c} / W,\quad D[i,j] = Σ_{p∈A} w_p o_p z_p / W,\quad
        α[i,j] = \min(1, W)

    and ``F = D = 0`` where ``W <= eps``. Differentiable with respect to ``features`` and
    ``opacity`` (positions, radii and the depth test are treated as constants).

    Args:
        points: ``(P, 3)`` camera-frame positions, scene units.
        features: ``(P, C)`` features, any C >= 1.
        opacity: ``(P,)`` opacity in [0, 1].
        radius: ``(P,)`` footprint radius in pixels.
        K: ``(3, 3)`` intrinsics in pixels.
        height, width: output size in pixels.
        settings: :class:`SplatSettings`.
        backend: ``"auto"`` (default), ``"native"`` or ``"torch"``; overrides the environment
            variable ``CINEMAGRAPH3D_BACKEND``.

    Returns:
        :class:`SplatResult` ``(features (C, H, W), depth (1, H, W), alpha (1, H, W))``.

    Example:
        >>> pts = torch.tensor([[0.0, 0.0, 2.0]])
        >>> K = torch.tensor([[4.0, 0, 2], [0, 4.0, 2], [0, 0, 1]])
        >>> out = splat_points(pts, torch.ones(1, 3), torch.ones(1), torch.ones(1), K, 4, 4)
        >>> out.features.shape, float(out.alpha.sum())
        (torch.Size([3, 4, 4]), 1.0)
    """
    settings = settings or SplatSettings()
    _check_inputs(points, features, opacity, radius, K, height, width)
    dtype = features.dtype
    points, opacity, radius, K = (t.to(dtype) for t in (points, opacity, radius, K))
    which = active_backend(features.device, backend)
    args = (
        int(height),
        int(width),
        float(settings.znear),
        float(settings.depth_tolerance),
        float(settings.max_radius),
        float(settings.eps),
    )
    if which == "torch":
        out = _splat_forward(points, features, opacity, radius, K, *args)
    else:
        from ._native import splat_native

        out = splat_native(points, features, opacity, radius, K, *args)
    return SplatResult(*out)
