"""Dense Eulerian motion field from masks, sparse hints, anchors and a freeze mask.

For a region ``r`` with mask ``R``, hints ``(s_k, v_k)`` and speed ``c_r`` the field is

    M_r(x) = S * c_r * e_r(x) * (b_r(x) + sum_k g_k(x) v_k / sum_k g_k(x)),
    g_k(x) = exp(-|x - s_k|^2 / (2 sigma_r^2))

with ``S`` the global speed, ``e_r`` the edge feather of the mask, ``b_r`` the region's optional
dense base field (0 without one; the hint term is 0 without hints) and ``sigma_r`` following the
spacing of the hints. Regions are combined by a feather-weighted average where they overlap, then
multiplied by the anchor notches and cleared by the freeze mask. The full rules are in the
docstrings below and in ``docs/motion.md``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..errors import InputError
from ..types import MotionField
from .hints import MotionHints, check_hints, check_points
from .turbulence import make_turbulence

__all__ = [
    "REGION_KINDS",
    "DEFAULT_TURBULENCE",
    "MotionSettings",
    "MotionRegion",
    "motion_field",
    "kernel_sigma",
    "edge_feather",
    "anchor_notch",
    "assign_hints",
    "draw_motion_field",
]

# Rows of (pixels x hints) processed at once by the kernel interpolation.
_CHUNK_ELEMENTS = 1 << 22

#: Region kinds of :class:`MotionRegion`.
REGION_KINDS = ("water", "clouds", "sky", "smoke", "other")
#: Default turbulence strength of each kind (fraction of the region's median speed).
DEFAULT_TURBULENCE = {"water": 0.1, "clouds": 0.0, "sky": 0.0, "smoke": 0.0, "other": 0.0}


def _positive(value, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InputError(name, "a finite number > 0", value)
    return float(value)


@dataclass(frozen=True)
class MotionSettings:
    """Settings of :func:`motion_field`. Lengths are fractions of the longer image side
    ``D = max(H, W)`` so that a setting looks the same at every resolution.

    Attributes:
        speed: global speed multiplier (> 0) applied to every region.
        kernel_scale: ``c`` in ``sigma = c * mean nearest-neighbour distance between the
            region's hints`` (> 0).
        sigma_min: lower bound of ``sigma`` as a fraction of ``D`` (default 0.02: 25.6 px at 1280).
        sigma_max: upper bound of ``sigma`` as a fraction of ``D`` (default 0.25).
        feather: width of the smooth fall-off inside each mask edge, fraction of ``D``
            (default 0.01: 12.8 px at 1280; at least 1 px). Image borders are not feathered.
        anchor_sigma: standard deviation of the Gaussian notch around each anchor, fraction of
            ``D`` (default 0.01; at least 1 px). The notch reaches 99% of the field at 3 sigma.
        default_direction: motion ``(dx, dy)`` in px/step (before the speed factors) given to a
            region without hints. ``None`` (default): a region without hints is an error.
        hint_radius: radius of the disc around each hint start where the field equals the hint
            exactly (its speed and direction), fraction of ``D`` (default 0.016: 20 px at 1280);
            with it, the kernel average interpolates solved coefficients instead of the hint
            vectors, so that it already passes (nearly) through every hint;
            outside it the field blends back to the kernel interpolation by ``2.5 ×`` that radius
            (both radii shrink to keep the discs of neighbouring hints apart). 0: the kernel
            interpolation alone (the field before issue 13).
        feather_thickness: ``κ``: the edge feather is at most ``κ`` times the local half
            thickness of the region, so thin regions move (default 0.5; 0: the fixed feather).
        turbulence_scale: wavelength of the turbulence, fraction of ``D`` (default 0.08: 102 px at 1280).
        seed: seed of the turbulence waves (deterministic).
    """

    speed: float = 1.0
    kernel_scale: float = 1.0
    sigma_min: float = 0.02
    sigma_max: float = 0.25
    feather: float = 0.01
    anchor_sigma: float = 0.01
    default_direction: tuple[float, float] | None = None
    hint_radius: float = 0.016
    feather_thickness: float = 0.5
    turbulence_scale: float = 0.08
    seed: int = 0

    def __post_init__(self) -> None:
        _positive(self.speed, "speed")
        _positive(self.kernel_scale, "MotionSettings.kernel_scale")
        _positive(self.sigma_min, "MotionSettings.sigma_min")
        _positive(self.sigma_max, "MotionSettings.sigma_max")
        if self.sigma_min > self.sigma_max:
            raise InputError("MotionSettings.sigma_min", "<= sigma_max", (self.sigma_min, self.sigma_max))
        _positive(self.feather, "MotionSettings.feather")
        _positive(self.anchor_sigma, "MotionSettings.anchor_sigma")
        for name in ("hint_radius", "feather_thickness"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise InputError(f"MotionSettings.{name}", "a finite number >= 0", v)
        _positive(self.turbulence_scale, "MotionSettings.turbulence_scale")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InputError("MotionSettings.seed", "an integer", self.seed)
        d = self.default_direction
        if d is not None:
            ok = (
                isinstance(d, (tuple, list))
                and len(d) == 2
                and all(isinstance(c, (int, float)) and math.isfinite(c) for c in d)
                and (d[0] != 0 or d[1] != 0)
            )
            if not ok:
                raise InputError("MotionSettings.default_direction", "None or a non-zero (dx, dy)", d)


@dataclass(frozen=True)
class MotionRegion:
    """One moving region: a mask, the hints that drive it, an optional dense base field and its
    own speed.

    Attributes:
        mask: ``(H, W)`` bool tensor, True inside the region.
        hints: hints interpolated inside the mask (start points may lie outside the mask).
        speed: per-region speed multiplier (> 0), on top of :attr:`MotionSettings.speed`.
        base: optional ``(2, H, W)`` float dense field in pixels per motion step (for example a
            motion prompt's parametric field or motion transferred from a video). Inside the
            mask the region's field is ``base + (interpolated hints)``; values outside the mask
            are ignored. A region with a base needs no hints.
        kind: what the region is, one of :data:`REGION_KINDS` (``"water"`` by default); it
            chooses the default turbulence.
        turbulence: strength of the loop-periodic turbulence (see :func:`motion_field`) as a
            fraction of the region's median speed, ``>= 0``; ``None``: the kind's default
            (:data:`DEFAULT_TURBULENCE`: 0.1 for water, 0 for clouds, sky and smoke).
    """

    mask: torch.Tensor
    hints: MotionHints
    speed: float = 1.0
    base: torch.Tensor | None = None
    kind: str = "water"
    turbulence: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.mask, torch.Tensor) or self.mask.dim() != 2 or self.mask.dtype != torch.bool:
            found = (
                f"{self.mask.dtype} tensor of shape {tuple(self.mask.shape)}"
                if isinstance(self.mask, torch.Tensor)
                else type(self.mask).__name__
            )
            raise InputError("MotionRegion.mask", "an (H, W) bool tensor", found)
        if not isinstance(self.hints, MotionHints):
            raise InputError("MotionRegion.hints", "a MotionHints", type(self.hints).__name__)
        _positive(self.speed, "region speed")
        b = self.base
        if b is not None:
            if (
                not isinstance(b, torch.Tensor)
                or not b.is_floating_point()
                or b.dim() != 3
                or b.shape[0] != 2
                or tuple(b.shape[1:]) != tuple(self.mask.shape)
            ):
                found = (
                    f"{b.dtype} tensor of shape {tuple(b.shape)}"
                    if isinstance(b, torch.Tensor)
                    else type(b).__name__
                )
                raise InputError(
                    "MotionRegion.base",
                    f"a (2, {self.mask.shape[0]}, {self.mask.shape[1]}) float tensor",
                    found,
                )
            if not bool(torch.isfinite(b).all()):
                raise InputError("MotionRegion.base", "finite values", "NaN or infinity")
        if self.kind not in REGION_KINDS:
            raise InputError("MotionRegion.kind", f"one of {', '.join(REGION_KINDS)}", repr(self.kind))
        tb = self.turbulence
        if tb is not None and (
            isinstance(tb, bool) or not isinstance(tb, (int, float)) or not math.isfinite(tb) or tb < 0
        ):
            raise InputError("MotionRegion.turbulence", "None or a finite number >= 0", tb)

    @property
    def turbulence_strength(self) -> float:
        """The turbulence strength in use: :attr:`turbulence`, or the kind's default."""
        return float(DEFAULT_TURBULENCE[self.kind] if self.turbulence is None else self.turbulence)


def kernel_sigma(
    starts: torch.Tensor, height: int, width: int, settings: MotionSettings | None = None
) -> float:
    """Width of the interpolation kernel for one region, in pixels.

    ``sigma = clamp(kernel_scale * mean_k min_{j != k} |s_k - s_j|, sigma_min * D, sigma_max * D)``
    with ``D = max(H, W)``. With a single hint the field is constant and ``sigma_max * D`` is
    returned.

    Args:
        starts: ``(K, 2)`` hint start points in pixels, ``K >= 1``.
        height, width: image size in pixels.
        settings: motion settings (defaults when None).
    """
    settings = settings or MotionSettings()
    d = float(max(height, width))
    lo, hi = settings.sigma_min * d, settings.sigma_max * d
    k = starts.shape[0]
    if k < 2:
        return hi
    s = starts.double()
    nearest = []
    rows = max(1, _CHUNK_ELEMENTS // k)
    for a in range(0, k, rows):
        dist = torch.cdist(s[a : a + rows], s)
        own = torch.arange(a, min(a + rows, k), device=s.device)
        dist[own - a, own] = math.inf
        nearest.append(dist.min(dim=1).values)
    mean_nn = float(torch.cat(nearest).mean())
    return float(min(max(settings.kernel_scale * mean_nn, lo), hi))


def edge_feather(mask: torch.Tensor, width_px: float, thickness: float = 0.0) -> torch.Tensor:
    """Smooth fall-off inside a mask edge.

    ``e(x) = smoothstep(min(d(x) / f(x), 1))`` with ``smoothstep(a) = a^2 (3 - 2a)`` and
    ``d(x)`` the Euclidean distance in pixels from the pixel centre ``x`` to the nearest pixel
    centre outside the mask (1 for a pixel touching the outside; the image border does not count
    as outside). Without ``thickness``, ``f = width_px``; with ``thickness = κ > 0``,
    ``f(x) = clamp(κ h(x), 1, width_px)`` where ``h(x) = max_{|y - x| <= width_px} d(y)`` is the
    local half thickness of the region (the deepest point within ``width_px``), so a region
    thinner than ``2 width_px / κ`` keeps its full speed in its middle instead of never reaching
    it. ``e`` is exactly 0 outside the mask and exactly 1 deeper than ``f``.

    Args:
        mask: ``(H, W)`` bool tensor.
        width_px: largest feather width in pixels (> 0).
        thickness: ``κ`` (>= 0; 0: the fixed width).

    Returns:
        ``(H, W)`` float32 weights in [0, 1] on the mask's device.
    """
    m = mask.detach().cpu().numpy().astype(np.uint8)
    if m.all():
        return torch.ones(mask.shape, dtype=torch.float32, device=mask.device)
    d = cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    f = float(width_px)
    if thickness > 0:
        r = max(1, int(math.ceil(width_px)))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        f = np.clip(float(thickness) * cv2.dilate(d, disc), 1.0, float(width_px))
    a = np.minimum(d / f, 1.0).astype(np.float32)
    e = a * a * (3.0 - 2.0 * a)
    e[m == 0] = 0.0
    return torch.from_numpy(e).to(mask.device)


def anchor_notch(
    anchors: torch.Tensor, height: int, width: int, sigma_px: float, device=None
) -> torch.Tensor:
    """Product of Gaussian notches that force the field to zero at anchors.

    ``n(x) = prod_a (1 - exp(-|x - c_a|^2 / (2 sigma^2)))`` where ``c_a`` is the centre of the
    pixel containing anchor ``a`` (anchors on the right/bottom image border belong to the last
    pixel), so ``n`` is exactly 0 at the anchor pixel. Each notch is evaluated in a window of
    radius ``6 sigma`` (outside it, ``1 - exp(-18)`` rounds to 1 in float32).

    Args:
        anchors: ``(A, 2)`` anchor points ``(x, y)`` in pixels inside the image.
        height, width: image size in pixels.
        sigma_px: notch standard deviation in pixels (> 0).
        device: device of the result.

    Returns:
        ``(H, W)`` float32 factors in [0, 1].
    """
    n = torch.ones(height, width, dtype=torch.float32, device=device)
    r = int(math.ceil(6.0 * sigma_px)) + 1
    for ax, ay in anchors.detach().cpu().double().tolist():
        j = min(int(math.floor(ax)), width - 1)
        i = min(int(math.floor(ay)), height - 1)
        i0, i1 = max(i - r, 0), min(i + r + 1, height)
        j0, j1 = max(j - r, 0), min(j + r + 1, width)
        dy = torch.arange(i0 - i, i1 - i, dtype=torch.float32, device=device)
        dx = torch.arange(j0 - j, j1 - j, dtype=torch.float32, device=device)
        d2 = dy[:, None] ** 2 + dx[None, :] ** 2
        n[i0:i1, j0:j1] *= 1.0 - torch.exp(-d2 / (2.0 * sigma_px**2))
        n[i, j] = 0.0
    return n


def _interpolate(
    coords: torch.Tensor, starts: torch.Tensor, vectors: torch.Tensor, sigma: float
) -> torch.Tensor:
    """``(P, 2)`` normalised Gaussian-kernel average of ``vectors`` at ``coords``.

    Evaluated as a softmax over hints of ``-|x - s_k|^2 / (2 sigma^2)``, which is the same
    ratio but stays finite far from every hint (there the nearest hint dominates).
    """
    k = starts.shape[0]
    if k == 1:
        return vectors.expand(coords.shape[0], 2).clone()
    out = torch.empty(coords.shape[0], 2, dtype=vectors.dtype, device=coords.device)
    rows = max(1, _CHUNK_ELEMENTS // k)
    inv = 1.0 / (2.0 * sigma * sigma)
    for a in range(0, coords.shape[0], rows):
        c = coords[a : a + rows]
        d2 = ((c[:, None, :] - starts[None, :, :]) ** 2).sum(-1)
        w = torch.softmax(-d2 * inv, dim=1)
        out[a : a + rows] = w @ vectors
    return out


def _kernel_coefficients(
    starts: torch.Tensor, vectors: torch.Tensor, sigma: float, ridge: float = 0.05
) -> torch.Tensor:
    """Coefficients ``c`` ``(K, 2)`` with which the normalised kernel average passes (nearly)
    through every hint: ``(A + ridge·I) c = v + ridge·v``, ``A_jk = g_k(s_j) / Σ_i g_i(s_j)``.

    ``A`` is row-stochastic, so ``c = v`` when all hints agree; the ridge keeps ``c`` from
    overshooting the hints' range when close hints disagree. Returns ``vectors`` when the solve
    fails or ``K = 1``."""
    k = starts.shape[0]
    if k < 2:
        return vectors
    s = starts.double()
    d2 = torch.cdist(s, s) ** 2
    a = torch.softmax(-d2 / (2.0 * sigma * sigma), dim=1)
    v = vectors.double()
    try:
        c = torch.linalg.solve(a + ridge * torch.eye(k, dtype=a.dtype, device=a.device), v * (1.0 + ridge))
    except RuntimeError:
        return vectors
    if not bool(torch.isfinite(c).all()):
        return vectors
    return c.to(vectors.dtype)


def _pin_hints(
    coords: torch.Tensor, starts: torch.Tensor, vectors: torch.Tensor, u: torch.Tensor, radius: float
) -> torch.Tensor:
    """Make the interpolated field ``u`` ``(P, 2)`` equal each hint's vector near its start.

    With ``r_k = min(radius, 0.4 n_k)`` and ``R_k = min(2.5 radius, 0.5 n_k)`` (``n_k`` the
    distance to the nearest other hint, so the discs of two hints never overlap),
    ``ψ_k(x) = 1`` for ``|x - s_k| <= r_k``, ``smoothstep((R_k - |x - s_k|) / (R_k - r_k))`` up to
    ``R_k`` and 0 beyond; ``u ← u + ψ_k (v_k - u)``.
    """
    k = starts.shape[0]
    if k > 1:
        dist = torch.cdist(starts.double(), starts.double())
        dist.fill_diagonal_(math.inf)
        nn = dist.min(1).values.float().tolist()
    else:
        nn = [math.inf]
    out = u.clone()
    for (sx, sy), v, n in zip(starts.tolist(), vectors, nn):
        r_in, r_out = min(radius, 0.4 * n), min(2.5 * radius, 0.5 * n)
        if r_out <= 0:
            continue
        dx, dy = coords[:, 0] - sx, coords[:, 1] - sy
        d = torch.sqrt(dx * dx + dy * dy)
        a = ((r_out - d) / max(r_out - r_in, 1e-6)).clamp(0.0, 1.0)
        psi = a * a * (3.0 - 2.0 * a)
        sel = psi > 0
        out[sel] += psi[sel, None] * (v[None, :] - out[sel])
    return out


def motion_field(
    height: int,
    width: int,
    regions: list[MotionRegion],
    anchors=None,
    freeze: torch.Tensor | None = None,
    settings: MotionSettings | None = None,
) -> MotionField:
    """Dense Eulerian motion field from region masks and sparse hints.

    Per region ``r`` (mask ``R``, hints ``(s_k, v_k)``, speed ``c_r``), for pixel centres ``x``:

    * interpolation: ``u_r(x) = sum_k g_k(x) v_k / sum_k g_k(x)``,
      ``g_k(x) = exp(-|x - s_k|^2 / (2 sigma_r^2))``, ``sigma_r`` from :func:`kernel_sigma`
      (a single hint, or identical hints, give a constant field equal to the hint);
    * base field: ``u_r(x) += b_r(x)`` when the region has a dense ``base`` (a region with a
      base and no hints moves with ``b_r`` alone);
    * edge feather: ``e_r(x)`` from :func:`edge_feather` (0 outside ``R``);
    * combination: ``M(x) = S * sum_r e_r c_r u_r / max(1, sum_r e_r)`` (``S`` = global speed;
      regions only mix where they overlap);
    * anchors: ``M *= anchor_notch(...)`` (exactly 0 at each anchor's pixel);
    * freeze: ``M = 0`` where ``freeze`` is True.

    ``M`` is exactly 0 outside the union of the masks, at anchor pixels and in the freeze mask.

    Args:
        height, width: working image size in pixels.
        regions: one or more :class:`MotionRegion`, each with an ``(H, W)`` mask.
        anchors: ``(A, 2)`` points ``(x, y)`` in pixels where the motion must be zero, or None.
        freeze: ``(H, W)`` bool tensor of pixels that must not move, or None.
        settings: :class:`MotionSettings` (defaults when None).

    Returns:
        :class:`MotionField` with ``flow`` ``(2, H, W)`` float32 in pixels per motion step and
        ``mask`` ``(1, H, W)`` float (1 on the union of the region masks minus the freeze mask),
        on the device of the first region's mask.

    Raises:
        InputError: bad size, no regions, a mask of the wrong size or empty, a region without
            hints (unless ``settings.default_direction`` is set), hints starting outside the image
            or of zero length, anchors outside the image, a freeze mask of the wrong size.

    Example:
        >>> m = torch.zeros(48, 64, dtype=torch.bool); m[10:40, 8:56] = True
        >>> h = MotionHints.create([[32.0, 24.0]], [[1.0, 0.0]])
        >>> motion_field(48, 64, [MotionRegion(m, h)]).flow.shape
        torch.Size([2, 48, 64])
    """
    if (
        not (isinstance(height, numbers.Integral) and isinstance(width, numbers.Integral))
        or min(height, width) <= 0
    ):
        raise InputError("image size", "positive integers height, width", (height, width))
    height, width = int(height), int(width)
    settings = settings if settings is not None else MotionSettings()
    if not isinstance(settings, MotionSettings):
        raise InputError("settings", "a MotionSettings", type(settings).__name__)
    if isinstance(regions, MotionRegion):
        regions = [regions]
    if not isinstance(regions, (list, tuple)) or not regions:
        raise InputError("regions", "a non-empty list of MotionRegion", repr(regions))
    for r, region in enumerate(regions):
        if not isinstance(region, MotionRegion):
            raise InputError(f"regions[{r}]", "a MotionRegion", type(region).__name__)
        if tuple(region.mask.shape) != (height, width):
            raise InputError(
                f"regions[{r}].mask",
                f"a {width}x{height} mask",
                f"{region.mask.shape[-1]}x{region.mask.shape[-2]}",
            )
        if not bool(region.mask.any()):
            raise InputError(f"regions[{r}].mask", "a mask with at least one pixel", "an empty mask")
        if len(region.hints) == 0 and region.base is None and settings.default_direction is None:
            raise InputError(
                f"regions[{r}].hints",
                "at least one motion hint (arrow) or a base field for every mask, "
                "or MotionSettings.default_direction",
                "no hints",
            )
        check_hints(region.hints, height, width, name=f"regions[{r}].hints")
    device = regions[0].mask.device
    if anchors is not None:
        anchors = check_points(anchors, height, width, name="anchors")
    if freeze is not None:
        if (
            not isinstance(freeze, torch.Tensor)
            or freeze.dtype != torch.bool
            or tuple(freeze.shape) != (height, width)
        ):
            found = (
                f"{freeze.dtype} tensor of shape {tuple(freeze.shape)}"
                if isinstance(freeze, torch.Tensor)
                else type(freeze).__name__
            )
            raise InputError("freeze", f"an ({height}, {width}) bool tensor", found)
        freeze = freeze.to(device)

    d = float(max(height, width))
    feather_px = max(1.0, settings.feather * d)
    total = torch.zeros(2, height, width, dtype=torch.float32, device=device)
    weight = torch.zeros(height, width, dtype=torch.float32, device=device)
    churn = torch.zeros(height, width, dtype=torch.float32, device=device)
    union = torch.zeros(height, width, dtype=torch.bool, device=device)
    for region in regions:
        mask = region.mask.to(device)
        union |= mask
        e = edge_feather(mask, feather_px, settings.feather_thickness)
        idx = torch.nonzero(mask.reshape(-1)).squeeze(1)
        if len(region.hints) == 0:
            if region.base is not None:
                u = torch.zeros(idx.shape[0], 2, dtype=torch.float32, device=device)
            else:
                vec = torch.tensor(settings.default_direction, dtype=torch.float32, device=device)
                u = vec.expand(idx.shape[0], 2)
        else:
            starts = region.hints.starts.to(device=device, dtype=torch.float32)
            vectors = region.hints.vectors.to(device=device, dtype=torch.float32)
            sigma = kernel_sigma(starts, height, width, settings)
            coords = torch.stack([(idx % width).float() + 0.5, (idx // width).float() + 0.5], dim=1)
            if settings.hint_radius > 0:
                coef = _kernel_coefficients(starts, vectors, sigma)
                u = _pin_hints(coords, starts, vectors, _interpolate(coords, starts, coef, sigma),
                               settings.hint_radius * d)  # fmt: skip
            else:
                u = _interpolate(coords, starts, vectors, sigma)
        if region.base is not None:
            u = u + region.base.to(device=device, dtype=torch.float32).reshape(2, -1)[:, idx].T
        ew = e.reshape(-1)[idx]
        total.view(2, -1)[:, idx] += (ew * float(region.speed))[None, :] * u.T
        weight.view(-1)[idx] += ew
        strength = region.turbulence_strength
        if strength > 0:
            typical = float(torch.linalg.vector_norm(u, dim=1).median()) * float(region.speed)
            churn.view(-1)[idx] += ew * (strength * typical)
    norm = settings.speed / torch.clamp(weight, min=1.0)
    flow = total * norm
    churn = churn * norm
    if anchors is not None and anchors.shape[0] > 0:
        sigma_a = max(1.0, settings.anchor_sigma * d)
        notch = anchor_notch(anchors, height, width, sigma_a, device=device)
        flow = flow * notch
        churn = churn * notch
    still = ~union
    if freeze is not None:
        still = still | freeze
    flow = torch.where(still[None], torch.zeros((), dtype=flow.dtype, device=device), flow)
    flow = flow + 0.0  # turn the -0.0 of the anchor products into +0.0
    turbulence = None
    churn = torch.where(still, torch.zeros((), dtype=churn.dtype, device=device), churn)
    if bool((churn > 0).any()):
        turbulence = make_turbulence(churn, settings.turbulence_scale * d, settings.seed)
    return MotionField(flow=flow.contiguous(), mask=(~still).float()[None], turbulence=turbulence)


def assign_hints(masks: list[torch.Tensor], hints: MotionHints) -> list[MotionHints]:
    """Split hints between region masks by where they start.

    A hint goes to every mask containing its start pixel; a hint inside no mask goes to the mask
    nearest to its start point (Euclidean distance to the mask's nearest pixel centre; the first
    such mask on ties).

    Args:
        masks: ``R`` region masks, each ``(H, W)`` bool.
        hints: all hints, start points inside the image.

    Returns:
        ``R`` :class:`MotionHints`, one per mask, in the masks' order (some may be empty).
    """
    if not masks:
        raise InputError("masks", "at least one region mask", "none")
    h, w = masks[0].shape
    check_hints(hints, h, w)
    if len(hints) == 0:
        return [MotionHints.empty() for _ in masks]
    s = hints.starts.detach().cpu()
    j = s[:, 0].floor().clamp(0, w - 1).long()
    i = s[:, 1].floor().clamp(0, h - 1).long()
    inside = torch.stack([m.detach().cpu()[i, j] for m in masks])  # (R, K)
    dist = []
    for m in masks:
        outside = (~m.detach().cpu()).numpy().astype(np.uint8)
        dt = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        dist.append(torch.from_numpy(dt)[i, j])
    nearest = torch.stack(dist).argmin(dim=0)  # (K,)
    none = ~inside.any(dim=0)
    out = []
    for r in range(len(masks)):
        keep = inside[r] | (none & (nearest == r))
        out.append(
            MotionHints(
                hints.starts[keep.to(hints.starts.device)], hints.vectors[keep.to(hints.starts.device)]
            )
        )
    return out


def _image_to_uint8(image, height: int, width: int) -> np.ndarray:
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3 or t.shape[0] != 3 or tuple(t.shape[1:]) != (height, width):
            raise InputError("image", f"a (3, {height}, {width}) tensor in [0, 1]", tuple(t.shape))
        return (t.float().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy().copy()
    arr = np.asarray(image)
    if arr.shape != (height, width, 3) or arr.dtype != np.uint8:
        raise InputError("image", f"a ({height}, {width}, 3) uint8 RGB array", f"{arr.dtype} {arr.shape}")
    return arr.copy()


def draw_motion_field(field: MotionField, image=None, *, step: int | None = None) -> np.ndarray:
    """Picture of a motion field (pure function: the caller writes the file).

    Without ``image``: a colour wheel, hue = direction (``atan2(dy, dx)``, red pointing right),
    brightness = speed relative to the largest speed, black where the field is 0.
    With ``image``: the photo with the moving region tinted and arrows every ``step`` pixels
    where the field is non-zero, the longest arrow ``0.9 * step`` pixels long.

    Args:
        field: the motion field (``flow`` ``(2, H, W)``).
        image: optional ``(3, H, W)`` float tensor in [0, 1] or ``(H, W, 3)`` uint8 RGB array.
        step: arrow spacing in pixels (default ``max(8, max(H, W) // 40)``).

    Returns:
        ``(H, W, 3)`` uint8 RGB array.
    """
    if not isinstance(field, MotionField):
        raise InputError("field", "a MotionField", type(field).__name__)
    flow = field.flow.detach().cpu().float().numpy()
    _, h, w = flow.shape
    mag = np.hypot(flow[0], flow[1])
    peak = float(mag.max())
    if image is None:
        hsv = np.zeros((h, w, 3), np.uint8)
        ang = (np.degrees(np.arctan2(flow[1], flow[0])) % 360.0) / 2.0
        hsv[..., 0] = np.round(ang).astype(np.int32) % 180
        hsv[..., 1] = 255
        hsv[..., 2] = np.round(255.0 * mag / peak).astype(np.uint8) if peak > 0 else 0
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    out = _image_to_uint8(image, h, w)
    if step is None:
        step = max(8, max(h, w) // 40)
    if not (isinstance(step, int) and step > 0):
        raise InputError("step", "a positive integer", step)
    moving = mag > 0
    tint = np.array([40, 140, 255], np.float32)
    blend = out.astype(np.float32)
    blend[moving] = 0.75 * blend[moving] + 0.25 * tint
    out = np.ascontiguousarray(np.round(blend).astype(np.uint8))
    if peak > 0:
        gain = 0.9 * step / peak
        ii, jj = np.meshgrid(np.arange(step // 2, h, step), np.arange(step // 2, w, step), indexing="ij")
        sel = moving[ii, jj]
        ii, jj = ii[sel], jj[sel]
        ends_x = np.round(jj + flow[0, ii, jj] * gain).astype(int)
        ends_y = np.round(ii + flow[1, ii, jj] * gain).astype(int)
        for i, j, x1, y1 in zip(ii.tolist(), jj.tolist(), ends_x.tolist(), ends_y.tolist()):
            cv2.arrowedLine(out, (j, i), (x1, y1), (255, 230, 40), 1, cv2.LINE_AA, tipLength=0.3)
    return out
