"""Bidirectional fusion of the forward/backward splats and hole filling."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..ops import (
    box3_sum,
    box_sum,
    check_shape,
    fusion_weights,
    normalised_disparity,
    push_pull,
    surface_weight,
)
from ..types import SplatResult
from ._native import native_pass

__all__ = [
    "FUSION_METHODS",
    "FusionSettings",
    "fuse_bidirectional",
    "dissolve_phase",
    "band_pixel_radii",
    "fill_holes",
]

#: Fusion methods of :class:`FusionSettings` (see :func:`fuse_bidirectional`).
FUSION_METHODS = ("linear", "variance", "dissolve")


@dataclass(frozen=True)
class FusionSettings:
    """Settings of the symmetric fusion.

    Attributes:
        depth_weight: the constant ``a`` of the classic preset; ``exp(a·disp)`` favours the nearer
            of two surfaces (``a = 10``: a surface 10 % nearer in normalised disparity weighs ~2.7×).
        eps: denominator floor.
        method: how the time weight ``s`` of the backward splat is chosen and how the two splats
            are mixed (see :func:`fuse_bidirectional`): ``"linear"`` (``s = τ``, a plain
            cross-fade: the photo's detail halves mid-loop and structures appear twice),
            ``"variance"`` (``s = τ``, detail band restored to the blended local variance) or
            ``"dissolve"`` (default: every pixel passes from the forward to the backward splat
            once per loop, at its own time, within ``dissolve_width`` of the loop, with the
            detail band restored).
        dissolve_width: ``δ``, the fraction of the loop a pixel takes to pass from the forward to
            the backward splat (``"dissolve"`` only; ``0 < δ <= 1``).
        phase_scale: correlation length of the per-pixel switch-time field, fraction of the
            longer image side ``D`` (default 0.06: 77 px at 1280).
        detail_radius: the detail band is ``X − box(X)`` with a ``(2r+1)²`` box, ``r`` pixels.
        stats_radius: local variances and covariance of the detail bands are box means over
            ``(2r+1)²`` pixels.
        seed: seed of the switch-time field (deterministic).
        occlusion_ratio: ``"dissolve"`` only: where both splats cover a pixel and one surface is
            nearer than the other by more than this disparity ratio, the nearer one takes over
            whatever the switch time (fully from ``ratio + 0.2`` on): the farther one shows what
            lies behind a gap in the moving surface (fluid flowing out from behind a still rock
            reveals the layer behind, not water), as a z-test would within one splat.
            ``math.inf`` turns it off.
        band_radii: ``"dissolve"`` only: the coarser bands' low-pass box radii, fractions of
            ``D`` (default ``(0.015, 0.05)``: 19 and 64 px at 1280; see :func:`band_pixel_radii`).
            The features split into the detail band ``X − box_{r_0}(X)`` (``r_0 =
            detail_radius``), the bands ``box_{r_{i−1}}(X) − box_{r_i}(X)`` and the residual
            ``box_{r_L}(X)``; band ``i`` passes from the forward to the backward splat within
            ``band_widths[i]`` of the loop instead of ``δ`` (a multi-band blend): fine detail
            switches quickly and stays single and crisp, coarse structure fades slowly and
            smoothly, so the switching regions have no visible edges and each step of the loop
            changes the image as much as the next. ``()`` with ``band_widths=()``: one band, as
            before.
        band_widths: the switch widths of the bands above the detail band, coarsest last
            (``len(band_radii) + 1`` numbers in ``[δ, 1]``, non-decreasing; default
            ``(0.4, 0.7, 0.85)``: the residual fades over most of the loop; 1 would make it a
            uniform cross-fade, whose steady brightness change reads as slower motion to the eye
            and to block matching: 0.88 of a hint's speed on the study photo against 0.97).
        band_decimation: the coarser bands' low passes are computed on a grid ``k`` times
            coarser (``k = min(band_decimation, r // 4)`` for a band of radius ``r`` px, at least
            1): sums over ``k × k`` blocks of the frame (aligned to the frame, not to the moving
            region, so a pixel's low pass does not change when the region does), a box of
            ``round(r / k)`` blocks, bilinear back to the pixels (block centres; weights clamped at
            the frame's edge). 1 computes them at full resolution. Default 4: the low passes of
            radius 19 and 64 px at 1280 × 720 cost 1/16 of the full-resolution box sums, and
            only the pixels the detail band needs are visited (the moving region plus
            ``detail_radius + stats_radius``, not plus the coarsest radius).
    """

    depth_weight: float = 10.0
    eps: float = 1e-6
    method: str = "dissolve"
    dissolve_width: float = 0.2
    phase_scale: float = 0.06
    detail_radius: int = 2
    stats_radius: int = 4
    seed: int = 0
    occlusion_ratio: float = 1.2
    band_radii: tuple[float, ...] = (0.015, 0.05)
    band_widths: tuple[float, ...] = (0.4, 0.7, 0.85)
    band_decimation: int = 4

    def __post_init__(self) -> None:
        if self.method not in FUSION_METHODS:
            raise InputError(
                "FusionSettings.method", f"one of {', '.join(FUSION_METHODS)}", repr(self.method)
            )
        if not (0.0 < float(self.dissolve_width) <= 1.0):
            raise InputError("FusionSettings.dissolve_width", "a number in (0, 1]", self.dissolve_width)
        if not (float(self.phase_scale) > 0.0 and math.isfinite(self.phase_scale)):
            raise InputError("FusionSettings.phase_scale", "a finite number > 0", self.phase_scale)
        r = self.occlusion_ratio
        if isinstance(r, bool) or not isinstance(r, (int, float)) or math.isnan(r) or r < 1.0:
            raise InputError("FusionSettings.occlusion_ratio", "a number >= 1 (math.inf: off)", r)
        for name in ("detail_radius", "stats_radius", "band_decimation"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"FusionSettings.{name}", "an integer >= 1", v)
        radii, widths = tuple(self.band_radii), tuple(self.band_widths)
        if not all(
            isinstance(r, (int, float)) and not isinstance(r, bool) and 0 < r < 1 for r in radii
        ) or any(b <= a for a, b in zip(radii, radii[1:])):
            raise InputError(
                "FusionSettings.band_radii", "increasing fractions of the image size in (0, 1)", radii
            )
        d = float(self.dissolve_width)
        ok = len(widths) == (len(radii) + 1 if radii or widths else 0)
        ok = ok and all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and d <= w <= 1 for w in widths
        )
        if not ok or any(b < a for a, b in zip(widths, widths[1:])):
            raise InputError("FusionSettings.band_widths",
                             f"{len(radii) + 1 if radii else '0 (no band radii) or 1'} non-decreasing widths in "
                             f"[dissolve_width = {d}, 1]", widths)  # fmt: skip
        object.__setattr__(self, "band_radii", radii)
        object.__setattr__(self, "band_widths", widths)


#: Disparity-ratio span over which :attr:`FusionSettings.occlusion_ratio` passes from no effect
#: to the nearer splat alone.
OCCLUSION_RAMP = 0.2

_PHASE_CACHE: dict = {}


def dissolve_phase(
    height: int, width: int, settings: FusionSettings | None = None, device=None
) -> torch.Tensor:
    """Per-pixel switch time ``φ(x)`` of the ``"dissolve"`` fusion, ``(1, H, W)`` float32.

    A smooth random field (uniform values on a grid of cells ``phase_scale · D`` pixels apart,
    ``D = max(H, W)``, drawn with ``settings.seed`` and upsampled bicubically), equalised by rank
    to a uniform distribution and mapped to ``[δ/2, 1 − δ/2]`` (``δ = dissolve_width``): at every
    moment of the loop about the same share of the pixels is switching, none at the loop seam.
    Deterministic: the same size, settings and seed give the same field on every device.
    """
    settings = settings or FusionSettings()
    key = (height, width, settings.phase_scale, settings.dissolve_width, settings.seed)
    phase = _PHASE_CACHE.get(key)
    if phase is None:
        cell = max(2.0, settings.phase_scale * max(height, width))
        gh, gw = int(math.ceil(height / cell)) + 3, int(math.ceil(width / cell)) + 3
        gen = torch.Generator().manual_seed(int(settings.seed))
        grid = torch.rand(
            1, 1, gh, gw, generator=gen, dtype=torch.float64, device="cpu"
        )  # CPU: same on every device
        # Cell k covers pixels [(k - 1.5)·cell, (k - 0.5)·cell): sample the grid at pixel centres.
        ys = ((torch.arange(height, dtype=torch.float64, device="cpu") + 0.5) / cell + 1.5) / (gh - 1) * 2 - 1
        xs = ((torch.arange(width, dtype=torch.float64, device="cpu") + 0.5) / cell + 1.5) / (gw - 1) * 2 - 1
        g = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1)[None]
        smooth = F.grid_sample(grid, g, mode="bicubic", align_corners=True).reshape(-1)
        rank = torch.empty_like(smooth)
        rank[torch.argsort(smooth, stable=True)] = torch.arange(
            smooth.numel(), dtype=torch.float64, device="cpu"
        )
        u = (rank + 0.5) / smooth.numel()
        d = float(settings.dissolve_width)
        phase = (d / 2 + (1 - d) * u).reshape(1, height, width).float()
        if len(_PHASE_CACHE) > 8:
            _PHASE_CACHE.clear()
        _PHASE_CACHE[key] = phase
    return phase.to(device) if device is not None else phase


def _restore_detail(
    xf: torch.Tensor,
    xb: torch.Tensor,
    af: torch.Tensor,
    ab: torch.Tensor,
    wf: torch.Tensor,
    wb: torch.Tensor,
    settings: FusionSettings,
    lows: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Blend two feature maps ``(C, h, w)`` with normalised weights ``wf + wb = 1`` ``(1, h, w)``
    keeping the local variance of the detail band (see :func:`fuse_bidirectional`); ``lows``:
    the two maps' :func:`_lowpass` of ``detail_radius`` when the caller has them."""
    # Coverage-normalised low pass, so empty pixels (features 0) do not leak into the band.
    lf, lb = lows if lows is not None else (_lowpass(xf, af, settings.detail_radius),
                                            _lowpass(xb, ab, settings.detail_radius))  # fmt: skip
    hf, hb = xf - lf, xb - lb
    stats = box_sum(torch.cat([(hf * hf).sum(0, keepdim=True), (hb * hb).sum(0, keepdim=True),
                            (hf * hb).sum(0, keepdim=True)]), settings.stats_radius)  # fmt: skip
    vf, vb, cfb = stats[0:1], stats[1:2], stats[2:3]
    want = wf * vf + wb * vb  # the variance the band would have in either splat, interpolated
    have = wf * wf * vf + wb * wb * vb + 2.0 * wf * wb * cfb  # the variance the cross-fade has
    # At most the gain of two uncorrelated bands (1/sqrt(wf² + wb²)); 1 where they agree.
    cap = torch.rsqrt((wf * wf + wb * wb).clamp(min=0.5))
    gain = torch.minimum(torch.sqrt(want.clamp(min=0) / have.clamp(min=1e-12)), cap).clamp(min=1.0)
    gain = torch.where(have > 1e-10, gain, torch.ones_like(gain))
    return wf * xf + wb * xb + (gain - 1.0) * (wf * hf + wb * hb)


def fuse_bidirectional(
    forward: SplatResult,
    backward: SplatResult,
    t: float,
    num_steps: int,
    depth_ref: float,
    settings: FusionSettings | None = None,
    phase: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None = None,
    native: bool | None = None,
) -> SplatResult:
    r"""Fuse the splats of the forward- and backward-moved clouds at scene time ``t``.

    With ``τ = t / N``, a time weight ``s(x, τ)`` of the backward splat and normalised disparity
    ``disp = depth_ref / D`` (``depth_ref``: the scene's near depth, so ``disp`` is about 1 at
    the nearest surface),

    .. math::
        w_f = (1-s)\,α_f\,e^{a\,disp_f},\quad w_b = s\,α_b\,e^{a\,disp_b},\quad
        X = \frac{w_f X_f + w_b X_b}{\max(w_f + w_b, ε)}

    applied to depth and alpha (alpha is 0 where ``w_f + w_b <= ε``) and, for ``"linear"``, to
    the features. The time weight and the feature mix depend on ``settings.method``:

    * ``"linear"``: ``s = τ`` (the plain cross-fade of the design contract).
    * ``"variance"``: ``s = τ``; the features are split into a low band ``L = box(X)`` (a
      coverage-normalised ``(2r+1)²`` box mean) and a detail band ``H = X − L``. The low band is
      cross-faded; the detail band is cross-faded and multiplied by
      ``g = sqrt((ŵ_f V_f + ŵ_b V_b) / (ŵ_f² V_f + ŵ_b² V_b + 2 ŵ_f ŵ_b C_fb))`` clamped to
      ``[1, 1/sqrt(ŵ_f² + ŵ_b²)]``, with ``ŵ`` the normalised weights and ``V_f, V_b, C_fb``
      local (box) variances and covariance of the two detail bands. Where the splats agree
      (``C = V``) ``g = 1``; where they are unrelated textures the blend keeps their contrast
      instead of halving its variance mid-loop.
    * ``"dissolve"`` (default): ``s(x, τ) = smoothstep((τ − φ(x))/δ + 1/2)`` (clamped to [0, 1]),
      with ``φ(x)`` a switch time in ``[δ/2, 1 − δ/2]``: each pixel shows one splat for most of
      the loop and passes to the other within ``δ`` of the loop, at a time that varies smoothly
      across the image, so a frame shows mostly single, crisp copies of the texture instead of
      two half-transparent ones; the features are mixed as in ``"variance"``. The pipeline gives
      ``φ`` as a pair of splatted maps ``(φ_f, φ_b)`` carried by the points (so the pattern of
      switch times flows with the fluid, see :func:`~cinemagraph3d.pipeline.render_frames`) and
      uses ``φ = (α_f φ_f + α_b φ_b) / (α_f + α_b)``; a single map is used as it is, and without
      one the fixed screen-space field of :func:`dissolve_phase` is used. Where a splat does not
      cover a pixel the other takes over its share ("over" in both orders, mixed by ``s``):
      ``w_f = α_f e^{a disp_f} (1 − s + s (1 − α_b))``, ``w_b = α_b e^{a disp_b} (s + (1 − s)(1 − α_f))``.

    At ``τ = 0`` the result is exactly the forward splat, at ``τ = 1`` exactly the backward one,
    for every method: the loop is exact. Pixels where both splats are identical are returned
    bit for bit.

    Args:
        forward, backward: :class:`SplatResult` with features ``(C, H, W)``, depth and alpha
            ``(1, H, W)``.
        t: scene time in motion steps, ``0 <= t <= num_steps``.
        num_steps: loop length ``N`` in motion steps.
        depth_ref: positive depth (scene units) that normalises disparity.
        settings: :class:`FusionSettings`.
        phase: optional ``(1, H, W)`` switch times (default :func:`dissolve_phase` of the size
            and settings; ``"dissolve"`` only).
        native: ``"dissolve"`` on the CPU: ``True`` runs the one-pass native fusion
            (``cinemagraph3d._C.fuse_dissolve``: the same formulas, box sums accumulated in double;
            equal to the torch operations within 1e-5 of the feature scale), ``False`` the torch
            operations (the reference), ``None`` (default) the native one when the extension is
            built and nothing needs gradients.

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

    def disp(res: SplatResult) -> torch.Tensor:
        return normalised_disparity(res.depth, 0.0, 1.0 / depth_ref).clamp(max=4.0)

    fuse_native = _native_fusion(settings, forward, backward, native)
    if fuse_native is not None:
        _, H, W = forward.features.shape
        pf, pb = _switch_times(phase, H, W, settings, forward.features.device)
        dt = forward.features.dtype
        maps = [x.contiguous() for x in (*forward, *backward, pf.to(dt))]
        radii = band_pixel_radii(settings, H, W) if settings.band_widths else []
        out = fuse_native(*maps, None if pb is None else pb.to(dt).contiguous(), tau,
                          float(settings.dissolve_width), float(a), float(settings.eps), 1.0 / (1.0 / depth_ref),
                          float(settings.occlusion_ratio), OCCLUSION_RAMP, settings.detail_radius,
                          settings.stats_radius, radii, [float(w) for w in settings.band_widths],
                          [band_decimation(settings, r) for r in radii])  # fmt: skip
        return SplatResult(*out)
    # Where both splats agree exactly (e.g. regions nothing moves through) return them bit for bit,
    # so static pixels are identical in every frame.
    same = (forward.features == backward.features).all(0, keepdim=True) & (forward.depth == backward.depth)
    same = same & (forward.alpha == backward.alpha)
    if settings.method == "linear":
        wf, wb = fusion_weights(tau, forward.alpha, disp(forward), backward.alpha, disp(backward), a)
        wsum = wf + wb
        denom = wsum.clamp(min=settings.eps)
        feats = (wf * forward.features + wb * backward.features) / denom
        depth = (wf * forward.depth + wb * backward.depth) / denom
        alpha = (wf * forward.alpha + wb * backward.alpha) / denom
        alpha = torch.where(wsum > settings.eps, alpha, torch.zeros_like(wsum))
        feats = torch.where(same, forward.features, feats)
        depth = torch.where(same, forward.depth, depth)
        alpha = torch.where(same, forward.alpha, alpha)
        return SplatResult(feats, depth, alpha)
    # The other methods work on the bounding box of the pixels that differ (plus the filters'
    # reach): elsewhere the splats are identical.
    feats, depth, alpha = forward.features.clone(), forward.depth.clone(), forward.alpha.clone()
    diff = (~same[0]).nonzero()
    if diff.numel() == 0:
        return SplatResult(feats, depth, alpha)
    _, H, W = feats.shape
    radii = band_pixel_radii(settings, H, W) if settings.method == "dissolve" else []
    # the coarser bands' low passes read the whole frame (_coarse_lowpass): the box only needs
    # the detail band's reach
    pad = settings.detail_radius + settings.stats_radius + 1
    i0, j0 = (diff.min(0).values - pad).clamp(min=0).tolist()
    i1, j1 = (diff.max(0).values + pad + 1).tolist()
    i1, j1 = min(i1, H), min(j1, W)
    box = (slice(None), slice(i0, i1), slice(j0, j1))
    f, b = SplatResult(*(x[box] for x in forward)), SplatResult(*(x[box] for x in backward))
    if settings.method == "variance":
        s = torch.full_like(f.alpha, tau)
    else:
        pf, pb = _switch_times(phase, H, W, settings, feats.device)
        pf = pf[box].to(f.alpha.dtype)
        if pb is not None:
            pb = pb[box].to(f.alpha.dtype)
            cov = f.alpha + b.alpha
            ph = torch.where(cov > 0, (f.alpha * pf + b.alpha * pb) / cov.clamp(min=1e-12), pf)
        else:
            ph = pf
        u = ((tau - ph) / settings.dissolve_width + 0.5).clamp(0.0, 1.0)
        s = u * u * (3.0 - 2.0 * u)
        df, db = disp(f), disp(b)
        near = _nearer_surface(f, b, df, db, settings)
    if settings.method == "variance":
        wf, wb = fusion_weights(s, f.alpha, disp(f), b.alpha, disp(b), a)
    else:
        wf, wb = _dissolve_weights(s, f, b, df, db, near, a)
    wsum = wf + wb
    denom = wsum.clamp(min=settings.eps)
    nf, nb = wf / denom, wb / denom
    bands = settings.method == "dissolve" and settings.band_widths
    lows = None
    if bands:  # the detail band's low passes serve the multi-band blend too
        lows = (_lowpass(f.features, f.alpha, settings.detail_radius),
                _lowpass(b.features, b.alpha, settings.detail_radius))  # fmt: skip
    fx = _restore_detail(f.features, b.features, f.alpha, b.alpha, nf, nb, settings, lows)
    if bands:
        where = (slice(i0, i1), slice(j0, j1))
        fx = _coarse_bands(
            fx, nf, nb, lows, f, b, ph, tau, df, db, near, radii, settings, (forward, backward, where)
        )
    fd = nf * f.depth + nb * b.depth
    fa = torch.where(wsum > settings.eps, nf * f.alpha + nb * b.alpha, torch.zeros_like(wsum))
    sm = same[box]
    feats[box] = torch.where(sm, f.features, fx)
    depth[box] = torch.where(sm, f.depth, fd)
    alpha[box] = torch.where(sm, f.alpha, fa)
    return SplatResult(feats, depth, alpha)


def band_pixel_radii(settings: FusionSettings, height: int, width: int) -> list[int]:
    """The box radii in pixels of the coarser bands of the ``"dissolve"`` fusion for an
    ``height × width`` frame: ``round(r · D)`` for each of ``settings.band_radii`` (``D = max(H,
    W)``), each at least one more than the one before (the first than ``detail_radius``)."""
    out, prev = [], settings.detail_radius
    for r in settings.band_radii:
        prev = max(prev + 1, int(round(float(r) * max(height, width))))
        out.append(prev)
    return out


def _nearer_surface(f: SplatResult, b: SplatResult, df, db, settings: FusionSettings):
    """``(near_f, near_b)`` ``(1, h, w)`` each: how clearly one splat's surface is nearer than
    the other's (:attr:`FusionSettings.occlusion_ratio`, ramped over :data:`OCCLUSION_RAMP`),
    or ``None`` when the rule is off."""
    if not math.isfinite(settings.occlusion_ratio):
        return None
    both = (f.alpha > 0) & (b.alpha > 0)
    r0 = float(settings.occlusion_ratio)
    near_f = torch.where(both, ((df / db.clamp(min=1e-12) - r0) / OCCLUSION_RAMP).clamp(0.0, 1.0), 0.0)
    near_b = torch.where(both, ((db / df.clamp(min=1e-12) - r0) / OCCLUSION_RAMP).clamp(0.0, 1.0), 0.0)
    return near_f, near_b


def _dissolve_weights(s, f: SplatResult, b: SplatResult, df, db, near, a: float):
    """Unnormalised dissolve weights ``(w_f, w_b)`` for the switch ``s`` ``(1, h, w)``: a clearly
    nearer surface wins (``near`` from :func:`_nearer_surface`), a splat's holes show the other."""
    if near is not None:
        s = s * (1.0 - near[0]) + (1.0 - s) * near[1]
    wf = surface_weight(f.alpha, df, a) * (1.0 - s + s * (1.0 - b.alpha))
    wb = surface_weight(b.alpha, db, a) * (s + (1.0 - s) * (1.0 - f.alpha))
    return wf, wb


def _switch_weights(ph, tau: float, width: float, f: SplatResult, b: SplatResult, df, db, near, settings):
    """Normalised weights ``(n_f, n_b)`` of a band whose switch takes ``width`` of the loop: the
    switch times ``φ ∈ [δ/2, 1 − δ/2]`` mapped linearly onto ``[width/2, 1 − width/2]`` (the same
    order of switching, 0 at ``τ = 0`` and 1 at ``τ = 1`` for every pixel), then the occlusion
    and coverage rules of the detail band."""
    d0 = float(settings.dissolve_width)
    u = ((ph - d0 / 2) / (1 - d0)).clamp(0.0, 1.0) if d0 < 1 else torch.full_like(ph, 0.5)
    v = ((tau - (width / 2 + (1 - width) * u)) / width + 0.5).clamp(0.0, 1.0)
    wf, wb = _dissolve_weights(v * v * (3.0 - 2.0 * v), f, b, df, db, near, settings.depth_weight)
    denom = (wf + wb).clamp(min=settings.eps)
    return wf / denom, wb / denom


def _lowpass(x: torch.Tensor, alpha: torch.Tensor, r: int) -> torch.Tensor:
    """Coverage-normalised ``(2r+1)²`` box mean of ``(C, h, w)`` features."""
    lo = box_sum(torch.cat([x * alpha, alpha]), r)
    return lo[: x.shape[0]] / lo[x.shape[0] :].clamp(min=1e-6)


def band_decimation(settings: FusionSettings, radius: int) -> int:
    """The grid decimation ``k`` of a coarser band of ``radius`` pixels
    (:attr:`FusionSettings.band_decimation`): ``min(band_decimation, radius // 4)``, at least 1."""
    return max(1, min(int(settings.band_decimation), int(radius) // 4))


def _coarse_lowpass(x: torch.Tensor, alpha: torch.Tensor, r: int, k: int, where) -> torch.Tensor:
    """Coverage-normalised low pass of radius ``r`` px of the full-frame features ``x`` ``(C,
    H, W)`` (coverage ``alpha`` ``(1, H, W)``), computed on the ``k`` times coarser grid of
    :attr:`FusionSettings.band_decimation` and evaluated at the pixels ``where`` (a pair of row
    and column slices): ``(C, h, w)``. With ``k = 1`` it is the ``(2r+1)²`` box of :func:`_lowpass`."""
    C, H, W = x.shape
    pre = torch.cat([x * alpha, alpha])
    hb, wb = -(-H // k), -(-W // k)
    if k > 1:  # sums over k x k blocks aligned to the frame (partial blocks at its far edges)
        pre = F.pad(pre, (0, wb * k - W, 0, hb * k - H)).reshape(C + 1, hb, k, wb, k).sum((2, 4))
    lo = box_sum(pre, (r + k // 2) // k if k > 1 else r)

    def axis(sl: slice, nb: int):  # bilinear between block centres, clamped at the frame's edge
        u = ((torch.arange(sl.start, sl.stop, device=x.device, dtype=x.dtype) + 0.5) / k - 0.5).clamp(min=0.0)
        b0 = u.floor().long().clamp(max=nb - 1)
        return b0, (b0 + 1).clamp(max=nb - 1), (u - b0.to(x.dtype)).clamp(max=1.0)

    r0, r1, fr = axis(where[0], hb)
    c0, c1, fc = axis(where[1], wb)
    rows = lo[:, r0] * (1 - fr[:, None]) + lo[:, r1] * fr[:, None]  # between block rows, then columns
    v = rows[:, :, c0] * (1 - fc) + rows[:, :, c1] * fc
    return v[:C] / v[C:].clamp(min=1e-6)


def _coarse_bands(
    fx, nf0, nb0, lows, f: SplatResult, b: SplatResult, ph, tau, df, db, near, radii, settings, full
):
    """The detail-band fusion ``fx`` with its low band ``n_f L_f + n_b L_b`` (``lows``: the box
    of ``detail_radius``) replaced by the multi-band blend of :attr:`FusionSettings.band_widths`;
    ``full``: the full-frame splats and the box's ``(rows, cols)``, which the coarser bands' low
    passes read beyond the box."""
    forward, backward, where = full
    lf, lb = lows
    out = fx - (nf0 * lf + nb0 * lb)
    for i, width in enumerate(settings.band_widths):
        if i < len(radii):
            k = band_decimation(settings, radii[i])
            lf2 = _coarse_lowpass(forward.features, forward.alpha, radii[i], k, where)
            lb2 = _coarse_lowpass(backward.features, backward.alpha, radii[i], k, where)
            bf, bb = lf - lf2, lb - lb2
            lf, lb = lf2, lb2
        else:
            bf, bb = lf, lb
        nf, nb = _switch_weights(ph, tau, float(width), f, b, df, db, near, settings)
        out = out + nf * bf + nb * bb
    return out


def _switch_times(phase, H: int, W: int, settings: FusionSettings, device):
    """The ``(1, H, W)`` switch-time maps of the dissolve, ``(φ_f, φ_b)`` for a pair or
    ``(φ, None)`` (default :func:`dissolve_phase`), or an :class:`InputError`."""
    ph = dissolve_phase(H, W, settings, device=device) if phase is None else phase
    pf, pb = ph if isinstance(ph, (tuple, list)) else (ph, None)
    for p in (pf,) if pb is None else (pf, pb):
        if not isinstance(p, torch.Tensor) or p.shape != (1, H, W):
            raise InputError("phase", f"a (1, {H}, {W}) switch-time map or a pair of them",
                             tuple(getattr(p, "shape", ())))  # fmt: skip
    return pf, pb


def _native_fusion(
    settings: FusionSettings, forward: SplatResult, backward: SplatResult, native: bool | None
):
    """``cinemagraph3d._C.fuse_dissolve`` when it applies (see ``native`` of
    :func:`fuse_bidirectional`), else ``None``."""
    if settings.method != "dissolve":
        if native:
            raise InputError("native", "the 'dissolve' method (the native fusion implements it only)",
                             repr(settings.method))  # fmt: skip
        return None
    return native_pass("fuse_dissolve", (*forward, *backward), native)


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


#: Default strength ``β`` of the background preference of :func:`fill_holes` with a depth map.
FAR_BIAS = 10.0


def fill_holes(
    features: torch.Tensor,
    alpha: torch.Tensor,
    depth: torch.Tensor | None = None,
    far_bias: float = FAR_BIAS,
    native: bool | None = None,
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
        native: on the CPU, ``True`` runs the one-pass native fill (``cinemagraph3d._C.fill_holes``:
            the 3×3 sums only at the holes, the pyramid only when a pixel needs it; equal to the
            torch operations within 1e-5), ``False`` the torch operations (the reference),
            ``None`` (default) the native one when the extension is built and nothing needs
            gradients.

    Returns:
        ``(C, H, W)``.
    """
    aware = depth is not None and far_bias != 0
    C, H, W = check_shape(features, ("C", "H", "W"), "features").values()
    check_shape(alpha, (1, H, W), "alpha")
    if depth is not None:
        check_shape(depth, (1, H, W), "depth")
    if not (math.isfinite(far_bias) and far_bias >= 0):
        raise InputError("far_bias", "a finite number >= 0", far_bias)
    if features.shape[0] > 64 and native:
        raise InputError("native", "at most 64 feature channels (the native fill)", features.shape[0])
    maps = (features, alpha) + (() if depth is None else (depth,))
    fill_native = None if features.shape[0] > 64 else native_pass("fill_holes", maps, native)
    if fill_native is not None:
        z = None if depth is None else depth.contiguous()
        return fill_native(features.contiguous(), alpha.contiguous(), z, float(far_bias))
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
            ba = surface_weight(a, normalised_disparity(z, 0.0, 1.0 / (far_bias * zmin)), -1.0)
            box = box3_sum(torch.cat([features * ba, ba], 0))
            den = box[C, rows, cols]
            # Partly covered pixels (and empty ones next to covered ones): the background-weighted
            # mean of the 3×3 neighbourhood at full resolution (the pyramid's half-resolution
            # cells would mix the near side in again); empty pixels with no covered neighbour:
            # the push–pull pyramid.
            up = box[:C, rows, cols] / den.clamp(min=1e-30)
            pyramid = (den <= 0).nonzero(as_tuple=True)[0]
    if pyramid is None or pyramid.numel():
        half = F.avg_pool2d(torch.cat([features * a, a], 0)[None], 2, ceil_mode=True)
        coarse = push_pull(half[0, :C], half[0, C:], premultiplied=True)
        if pyramid is None:
            up = _upsample_at(coarse, rows, cols, H, W)
        else:
            up[:, pyramid] = _upsample_at(coarse, rows[pyramid], cols[pyramid], H, W)
    out = features.clone()
    out[:, rows, cols] = torch.lerp(up, features[:, rows, cols], a[0, rows, cols])
    return out
