"""The stages wired together: photo → scene (LDI + point cloud) → frames.

Layering: stage functions (``estimate_depth``, ``build_ldi``, ``lift_ldi``, ``splat_points``,
``fuse_bidirectional``...) are pure; :func:`prepare_scene` and :func:`render_frames` only wire them.
Nothing here reads CLI arguments or writes files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError
from .features import encode_layers, lift_ldi
from .geometry.camera import PinholeCamera, transform_points, unproject_depth
from .geometry.trajectory import Trajectory, photo_border_points, safe_zoom
from .ldi import LDISettings, build_ldi
from .models.bundle import Models
from .motion.integrate import Displacements, PointDisplacements, _auto_store_every
from .motion.lift import donor_pixels, lift_offsets
from .ops import check_shape
from .render._native import native_pass
from .render.decode import decode_frame
from .render.footprint import MAX_GAP, camera_footprints, grid_neighbours
from .render.fuse import FAR_BIAS, FusionSettings, dissolve_phase, fill_holes, fuse_bidirectional
from .render.splat import SplatSettings, active_backend, splat_points
from .types import DepthMap, FeatureCloud, LayeredDepthImage, SceneFlow, SplatResult

__all__ = [
    "Scene",
    "RenderSettings",
    "prepare_scene",
    "render_frames",
    "scene_times",
    "point_phases",
    "border_ghosts",
    "BorderGhosts",
]


@dataclass(frozen=True)
class Scene:
    """Everything rendering needs about one photo.

    Attributes:
        image: ``(3, H, W)`` photo in [0, 1].
        camera: input camera (the world frame).
        depth: :class:`DepthMap` of the photo.
        ldi: :class:`LayeredDepthImage`.
        cloud: :class:`FeatureCloud` lifted from the LDI.
        donor: ``(P,)`` int64 flat pixel index whose 2-D motion each point follows: its own pixel
            for visible points, the nearest visible pixel of the same layer for inpainted points
            (this is how flow is diffused into revealed background).
        z_near: 5th-percentile depth of the photo (scene units): the amplitude and fusion scale.
        z_subject: median depth of the photo (scene units): the subject plane of swing/dolly-zoom.
    """

    image: torch.Tensor
    camera: PinholeCamera
    depth: DepthMap
    ldi: LayeredDepthImage
    cloud: FeatureCloud
    donor: torch.Tensor
    z_near: float
    z_subject: float


@dataclass(frozen=True)
class RenderSettings:
    """Settings of frame rendering.

    Attributes:
        splat: :class:`SplatSettings`.
        fusion: :class:`FusionSettings`.
        mode: ``"symmetric"`` (forward + backward clouds fused, the method) or ``"forward"``
            (forward cloud only; a baseline).
        safe_zoom: apply the automatic safe zoom (see :func:`geometry.trajectory.safe_zoom`).
        fill_holes: fill uncovered pixels by push–pull.
        fill_far_bias: background preference ``β`` of the hole filling (see
            :func:`~cinemagraph3d.render.fill_holes`; 0: plain push–pull).
        backend: splatting backend (``None``: automatic).
        stretch_footprints: widen the footprint of points the fluid stretches apart (see
            :class:`_MovedClouds`; ``False``: the camera's radius only, as before issue 13).
        border_ghosts: mirror the fluid beyond the image border so fluid flowing in through the
            border brings texture (see :func:`border_ghosts`; ``False``: as before issue 13).
        close_gaps: widen the footprint of points that a new view pulls apart from their grid
            neighbours on the same surface (see :func:`~cinemagraph3d.render.footprint.camera_footprints`),
            so slanted or depth-varying surfaces stay continuous under the camera paths
            (``False``: the depth-scale radius only, as before).
        resample_sharpen: ``κ`` of the resampling compensation of the classic preset (see
            :class:`_Resampling`): a point that lands a fraction ``f`` of a pixel off the pixel
            grid is splatted as a blend of its neighbours, which halves the photo's finest detail
            at ``f = 1/2``; its colour is sharpened by ``κ f (1 − f)`` times its grid Laplacian
            first (0: off, as before).
        clean_fluid_edges: give the moving copies of a fluid's boundary pixels the fluid's own
            colour once they leave their place (see :class:`_FluidEdgeColours`: no streak of the
            neighbouring surface's colour in the wake of a rock). Off by default: the local mean
            colour replaces texture too, which costs 0.4–0.8 dB against the analytic scenes.
    """

    splat: SplatSettings = field(default_factory=SplatSettings)
    fusion: FusionSettings = field(default_factory=FusionSettings)
    mode: str = "symmetric"
    safe_zoom: bool = True
    fill_holes: bool = True
    fill_far_bias: float = FAR_BIAS
    backend: str | None = None
    stretch_footprints: bool = True
    border_ghosts: bool = True
    close_gaps: bool = True
    resample_sharpen: float = 0.6
    clean_fluid_edges: bool = False


def prepare_scene(
    image: torch.Tensor,
    depth: DepthMap,
    camera: PinholeCamera | None = None,
    ldi_settings: LDISettings | None = None,
    features: torch.Tensor | None = None,
    models: Models | None = None,
) -> Scene:
    """Build the LDI and the point cloud of a photo.

    Args:
        image: ``(3, H, W)`` float in [0, 1].
        depth: :class:`DepthMap` ``(1, H, W)``.
        camera: input intrinsics (default ``fx = fy = max(W, H)``, centred principal point).
        ldi_settings: :class:`LDISettings` (``inpaint="learned"`` uses ``models.inpaint``).
        features: optional ``(L, C, H, W)`` per-layer features; default RGB, or with
            ``models`` the neural encoder's (:func:`~cinemagraph3d.features.encode_layers`).
        models: the neural preset's :class:`~cinemagraph3d.models.Models`, or None (classic).

    Returns:
        :class:`Scene`.
    """
    check_shape(image, (3, "H", "W"), "image")
    _, H, W = image.shape
    camera = camera or PinholeCamera.default(W, H)
    if (camera.width, camera.height) != (W, H):
        raise InputError("camera", f"intrinsics for {W}×{H}", f"{camera.width}×{camera.height}")
    ldi = build_ldi(image, depth, ldi_settings, inpaint_nets=None if models is None else models.inpaint)
    if features is None and models is not None and models.encoder is not None:
        features = encode_layers(models.encoder, ldi)
    cloud = lift_ldi(ldi, camera, features)
    z = depth.depth.flatten()
    sample = z[:: max(1, z.numel() // 100000)].float()
    q = torch.quantile(sample, torch.tensor([0.05, 0.5], device=sample.device))
    return Scene(image, camera, depth, ldi, cloud, donor_pixels(ldi, cloud), float(q[0]), float(q[1]))


def scene_times(num_frames: int, num_steps: int) -> list[float]:
    """Scene time of each output frame: ``t_k = k·N/K`` for ``k = 0..K-1`` (fractional allowed)."""
    return [k * num_steps / num_frames for k in range(num_frames)]


def border_points(scene: Scene, per_side: int = 256) -> dict[str, torch.Tensor]:
    """World points of the photo's four borders (at the photo depth), for the safe zoom (see
    :func:`~cinemagraph3d.geometry.photo_border_points`)."""
    return photo_border_points(scene.depth.depth, scene.camera, per_side)


def _splat(
    scene: Scene,
    pts_world: torch.Tensor,
    T: torch.Tensor,
    K: torch.Tensor,
    settings: RenderSettings,
    extra: torch.Tensor | None = None,
    stretch: torch.Tensor | None = None,
    widen: torch.Tensor | None = None,
    sharpen: _Resampling | None = None,
    moving: torch.Tensor | None = None,
    like: tuple[SplatResult, tuple[int, int]] | None = None,
    keep: dict | None = None,
    z0: torch.Tensor | None = None,
) -> tuple[SplatResult, tuple[int, int] | None]:
    """The splat of one cloud and, with ``moving`` ((P,) bool: the points that may differ from the
    other cloud of the frame) and the native CPU passes, the rows ``[lo, hi)`` their footprints
    may touch (else ``None``). With ``like`` (the other cloud's splat and rows) only the rows
    either cloud's moving points may touch are splatted, the others are copied from that splat:
    the still points are the same in both clouds, in the same order, so elsewhere both splats are
    the same bit for bit (``tests/test_prepare_native.py`` checks the frames). ``keep`` (with
    ``moving``, native passes): a dict shared by the frame's two calls; the first leaves its
    prepared points, radii and features there, the second prepares only the blocks of points
    holding a moving point, into those buffers (the others already hold its values). ``z0``:
    the cloud's ``(P,)`` photo depths ``points[:, 2]``, contiguous (taken from the cloud when
    None)."""
    dev, dt = pts_world.device, pts_world.dtype
    rows = None
    Tf = T.to(device=dev, dtype=dt)
    Kf = K.to(device=dev, dtype=dt)
    c = scene.cloud
    if z0 is None:
        z0 = c.points[:, 2].contiguous()
    prepare = _native_prepare(settings, pts_world, c.features)
    join = None  # (P,) extra channel the native pass joins to the features as it copies them
    if extra is None:
        feats = c.features
    elif extra.dim() == 2:  # the features with the extra channel already joined (once per video)
        feats = extra
    elif prepare is not None and sharpen is not None:  # the sharpened copy is made anyway
        feats, join = c.features, extra.to(c.features.dtype).contiguous()
    else:
        feats = torch.cat([c.features, extra.to(c.features.dtype)[:, None]], 1)
    if prepare is not None:  # one pass over the points instead of ~30 element-wise torch ops
        vec = [None if v is None else v.to(dt).contiguous() for v in (stretch, widen)]
        lap = (None, None, 0.0)
        if sharpen is not None:
            lap = (sharpen.lap_u.contiguous(), sharpen.lap_v.contiguous(), sharpen.kappa)
        sp = settings.splat
        reuse = (None, None, None)
        if keep is not None and moving is not None and "prepared" in keep:
            reuse = keep.pop("prepared")
        pts, radius, feats_out, rows_t = prepare(pts_world.contiguous(), Tf, Kf, z0,
                                                 float(scene.camera.fx), *vec, feats.contiguous(), *lap, moving,
                                                 float(sp.znear), float(sp.max_radius), *reuse, join)  # fmt: skip
        if keep is not None and moving is not None and reuse[0] is None:
            keep["prepared"] = (pts, radius, None if feats_out is feats else feats_out)
        feats = feats_out
        if moving is not None:
            rows = (int(rows_t[0]), int(rows_t[1]))
            span = None if like is None else _rows_to_splat(rows, like[1], scene.camera.height)
            if span is not None:
                return _splat_rows(scene, pts, feats, radius, Kf, settings, span, like[0]), rows
    else:
        pts = transform_points(Tf, pts_world)
        radius = _depth_scale_radius(Kf, scene.camera.fx, z0, pts[:, 2])
        if stretch is not None:
            radius = radius * stretch.to(radius.dtype)
        if widen is not None:
            radius = radius * widen.to(radius.dtype)
        if sharpen is not None:
            feats = sharpen(feats, pts, Kf, radius)
    res = splat_points(
        pts,
        feats,
        c.alpha,
        radius,
        Kf,
        scene.camera.height,
        scene.camera.width,
        settings.splat,
        settings.backend,
    )
    return res, rows


# Splat only the rows the moving points may touch when they are fewer than this share of the image.
_ROWS_WORTH_IT = 0.85


def _rows_to_splat(rows: tuple[int, int], other_rows: tuple[int, int], height: int) -> tuple[int, int] | None:
    """Rows ``[lo, hi)`` that either cloud's moving points may touch (``rows``, ``other_rows``:
    unclipped, empty when ``hi <= lo``), with one row of margin, clipped to the image; ``None``
    when they are too many for splatting only them to pay (:data:`_ROWS_WORTH_IT`)."""
    spans = [r for r in (rows, other_rows) if r[1] > r[0]]
    lo = max(0, min((r[0] for r in spans), default=0) - 1)
    hi = max(lo, min(height, max((r[1] for r in spans), default=0) + 1))
    return None if hi - lo >= _ROWS_WORTH_IT * height else (lo, hi)


def _splat_rows(
    scene, pts, feats, radius, K, settings, span: tuple[int, int], other: SplatResult
) -> SplatResult:
    """The native CPU splat of one cloud over the rows ``span`` only, the other rows copied from
    the other cloud's splat ``other`` (the same there, see :func:`_splat`)."""
    H, W = scene.camera.height, scene.camera.width
    lo, hi = span
    sp = settings.splat
    dt = feats.dtype
    of, od, oa = (x.contiguous() for x in other)
    fn = native_pass("splat_forward", (feats,), None)
    args = (pts, feats, scene.cloud.alpha.to(dt).contiguous(), radius, K.to(dt).contiguous(), H, W,
            float(sp.znear), float(sp.depth_tolerance), float(sp.max_radius), float(sp.eps))  # fmt: skip
    if "other_features" in (fn.__doc__ or ""):  # the kernel copies the other splat's rows itself
        out = fn(*args, save_for_backward=False, row_begin=lo, row_end=hi, other_features=of, other_depth=od,
                 other_alpha=oa)  # fmt: skip
    else:  # an extension built before other_*: its rows outside are zeros, copied here
        out = fn(*args, save_for_backward=False, row_begin=lo, row_end=hi)
        for mine, theirs in zip(out[:3], other):
            mine[:, :lo] = theirs[:, :lo]
            mine[:, hi:] = theirs[:, hi:]
    return SplatResult(*out[:3])


def _native_flag(settings: RenderSettings, device) -> bool | None:
    """``native`` of the renderer's CPU passes (:func:`~cinemagraph3d.render._native.native_pass`):
    ``None`` (use them where they apply) when the splat itself runs natively on the CPU, else
    ``False`` (the torch operations, the reference; ``backend="torch"`` always uses them)."""
    return None if active_backend(device, settings.backend) == "native-cpu" else False


def _native_prepare(settings: RenderSettings, pts: torch.Tensor, feats: torch.Tensor):
    """``cinemagraph3d._C.prepare_splat`` (transform, radius and resampling compensation of
    :func:`_splat` in one pass over the points) when it applies, else ``None``."""
    return native_pass("prepare_splat", (pts, feats), _native_flag(settings, pts.device))


def _depth_scale_radius(K: torch.Tensor, fx: float, z0: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``(P,)`` footprint radius from depth alone: the point's pixel spacing in the view (focal
    ``K[0, 0]``, depth ``z``) relative to the photo's (focal ``fx``, depth ``z0``), at least 1."""
    return ((K[0, 0] * z0) / (fx * z.clamp(min=1e-6))).clamp(min=1.0)


def _grid_inputs(c: FeatureCloud) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return c.pixels, c.layer, c.points[:, 2]


class _GapClosing:
    """Per view, the factor by which each point's footprint is widened so that the surface it
    samples has no cracks in that view (:func:`~cinemagraph3d.render.footprint.camera_footprints`
    on the unmoved cloud, relative to the depth-scale radius; 1 where nothing is stretched, and
    ``None`` for the input view, which stretches nothing). With ``native`` (see
    :func:`~cinemagraph3d.render._native.native_pass`) the same factors come from one pass,
    ``_C.gap_widen``."""

    def __init__(self, scene: Scene, native: bool | None = False, nbrs=None) -> None:
        c = scene.cloud
        self.num_points = c.num_points
        nbrs = grid_neighbours(*_grid_inputs(c), native=native) if nbrs is None else nbrs
        # only slanted pairs can open gaps beyond the depth-scale radius (GridNeighbours.slanted);
        # the neighbours themselves are not kept (≈ 74 MB at 1280×720)
        self.nodes, self.pairs = nbrs.slanted(c.points[:, 2])
        self.points = c.points[self.nodes].contiguous()
        self.nodes, self.pairs = self.nodes.contiguous(), self.pairs.contiguous()
        self.K0 = scene.camera.matrix(device=c.points.device, dtype=torch.float64)
        self.fx = scene.camera.fx
        self.native = native_pass("gap_widen", (self.points,), native)

    def __call__(self, T: torch.Tensor, K: torch.Tensor) -> torch.Tensor | None:
        eye = torch.eye(4, dtype=T.dtype, device=T.device)
        if torch.equal(T, eye) and torch.equal(K.to(self.K0), self.K0):
            return None
        if self.pairs.shape[1] == 0:
            return None
        if self.native is not None:
            return self.native(self.points, T, K, float(self.fx), self.nodes, self.pairs, self.num_points,
                               1e-3, MAX_GAP)  # fmt: skip
        pts = transform_points(T.to(self.points), self.points)
        Kf = K.to(self.points)
        base = _depth_scale_radius(Kf, self.fx, self.points[:, 2], pts[:, 2])
        widen = torch.ones(self.num_points, dtype=base.dtype, device=base.device)
        return widen.index_copy_(0, self.nodes, camera_footprints(pts, Kf, self.pairs, base) / base)


class _FluidEdgeColours:
    """Colours of a fluid's boundary pixels as they move away from their place.

    A pixel of the moving region next to a still one (a rock in a stream, a bank) mixes both
    colours (anti-aliasing, blur, a hand-drawn mask one pixel off), and the flow carries it off
    the still surface: a streak of the rock's colour trailing into its wake. For the visible
    points of those boundary pixels (in the moving region, a still pixel among their 8
    neighbours) the fluid's own colour ``c_f`` is estimated as the mean colour of the moving
    pixels at least 3 px inside the region within 3 px of them (Chebyshev; the point keeps its
    colour where there are none). A moved copy shows ``c + min(1, δ)·(c_f − c)``, ``δ`` its
    displacement in pixels, so it is the photo's colour where it has not moved (frame 0 and the
    loop's wrap stay the photo bit for bit) and the fluid's once it has moved a pixel. The first
    three feature channels only (RGB scenes, the classic preset).
    """

    def __init__(self, scene: Scene, motion) -> None:
        H, W = scene.camera.height, scene.camera.width
        c = scene.cloud
        dev = c.points.device
        moving = torch.zeros(H * W, dtype=torch.bool, device=dev)
        moving[motion.index.to(dev)] = True
        m = moving.reshape(1, 1, H, W).float()
        still = 1.0 - m  # outside the image counts as neither: padding 0 in the pooling below
        boundary = (m > 0) & (F.max_pool2d(still, 3, 1, 1) > 0)
        inner = (m > 0) & ~(F.max_pool2d(still, 7, 1, 3) > 0)
        img = scene.image.to(device=dev, dtype=c.features.dtype)[None]
        w = inner.to(img.dtype)
        num = F.avg_pool2d(img * w, 7, 1, 3, count_include_pad=False)
        den = F.avg_pool2d(w, 7, 1, 3, count_include_pad=False)
        ok = (boundary & (den > 0)).reshape(-1)
        clean = (num / den.clamp(min=1e-12)).reshape(3, -1)
        flat = c.pixels[:, 1].long() * W + c.pixels[:, 0].long()
        sel = (~c.inpainted) & ok[flat.clamp(0, H * W - 1)]
        self.idx = sel.nonzero().squeeze(1)
        self.base = c.features[self.idx, :3].clone()
        self.delta = clean[:, flat[self.idx]].T - self.base
        self.xy0 = c.points[self.idx, :2]
        self.scale = float(scene.camera.fx) / c.points[self.idx, 2]

    def __len__(self) -> int:
        return int(self.idx.numel())

    def apply(self, feats: torch.Tensor, pts: torch.Tensor) -> None:
        """Write the colours of the boundary points, moved to ``pts`` ``(P', 3)`` world points
        (the photo's ``P`` points first), into ``feats`` ``(P', C)`` in place."""
        d = torch.linalg.vector_norm(pts[self.idx, :2] - self.xy0, dim=1) * self.scale
        w = d.clamp(max=1.0)[:, None].to(feats.dtype)
        feats[self.idx, :3] = self.base + w * self.delta


class _Resampling:
    """Compensation of the blur of resampling (``RenderSettings.resample_sharpen``).

    A grid of points shifted by a fraction ``f`` of a pixel and splatted with unit tents is the
    bilinear interpolation of the grid at that shift, whose response ``|1 − f + f e^{−iω}|`` falls
    to ``|1 − 2f|`` at the finest frequency: a moving texture is crisp at whole-pixel shifts and
    loses up to half its detail in between, so it pulses from crisp to soft as it flows. Before
    each splat every point's colour ``c`` is replaced by
    ``c + κ (f_u (1 − f_u) Δ_u c + f_v (1 − f_v) Δ_v c) / r²`` with ``(f_u, f_v)`` its offset from
    the pixel grid in that view, ``Δ_u c = 2c − c_left − c_right`` (likewise ``v``) over its
    joined grid neighbours (:func:`~cinemagraph3d.render.footprint.grid_neighbours`: none across a
    depth jump) and ``r`` its footprint radius (magnified surfaces have no finest detail left to
    restore). A 3-tap sharpening ``1 + 2a (1 − cos ω)`` with ``a = κ f (1 − f)`` undoes the
    interpolation's loss at mid frequencies for ``κ ≈ 1``. Points on the grid (``f = 0``: the
    photo's own view, still pixels) are returned bit for bit.
    """

    def __init__(self, scene: Scene, nbrs, kappa: float) -> None:
        f = scene.cloud.features[:, :3]
        idx = nbrs.index
        self.lap_u = 2.0 * f - f[idx[0]] - f[idx[1]]
        self.lap_v = 2.0 * f - f[idx[2]] - f[idx[3]]
        self.kappa = float(kappa)

    def __call__(
        self, feats: torch.Tensor, pts: torch.Tensor, K: torch.Tensor, radius: torch.Tensor
    ) -> torch.Tensor:
        iz = 1.0 / pts[:, 2].clamp(min=1e-6)
        out = feats
        n = self.lap_u.shape[0]
        for axis, lap in ((0, self.lap_u), (1, self.lap_v)):
            f = pts[:, axis] * iz
            f.mul_(K[axis, axis]).add_(K[axis, 2] - 0.5)
            f.sub_(torch.floor(f))  # offset from the pixel grid, in [0, 1)
            g = f.mul_(1.0 - f)  # f (1 - f)
            # a point within 10⁻³ px of the grid is on it (the round-off of lifting and projecting)
            g.masked_fill_(g <= 1e-3, 0.0)
            if not bool(g.any()):
                continue
            g.mul_(self.kappa).div_(radius * radius)
            if out is feats:
                out = feats.clone()
            out[:n, :3].addcmul_(g[:n, None].to(out.dtype), lap)
        return out


def _stretch_cap(moving: torch.Tensor) -> torch.Tensor:
    """``(H, W)`` largest stretch of each moving pixel's footprint: ``d + 1`` for a pixel ``d``
    pixels (Chebyshev) from the nearest still pixel, within ``[2, MAX_STRETCH]``, so that a widened
    footprint reaches at most one pixel past the fluid's edge into what stands still (outside the
    image counts as fluid)."""
    m = moving[None, None].float()
    dist = torch.ones_like(m)
    inner = m
    for _ in range(int(MAX_STRETCH) - 1):
        inner = -F.max_pool2d(-F.pad(inner, (1, 1, 1, 1), value=1.0), 3, 1)
        dist = dist + inner
    return (dist[0, 0] + 1.0).clamp(2.0, MAX_STRETCH)


#: Largest footprint widening of :class:`_MovedClouds` for surfaces the fluid stretches, pixels.
MAX_STRETCH = 4.0


class _MovedClouds:
    """The cloud moved by the forward and by the backward displacement at scene time ``t``.

    Only points whose donor pixel moves are touched: with integrated motion
    (:class:`~cinemagraph3d.motion.integrate.Displacements`, which stores the ``P_m`` moving
    pixels) each point's row among the moving pixels is found once and each frame gathers the
    displacements of the moving points from :meth:`moving_at`; other
    motion objects (``forward(t)`` / ``backward(t)`` full maps) are gathered for every point.
    The 3-D displacement is fronto-parallel: a point keeps its depth ``z`` and moves by
    ``(dx · z / fx, dy · z / fy, 0)`` scene units for a pixel displacement ``(dx, dy)``.

    Each call also returns the **stretch** of every point: with ``D`` the displacement map of the
    source pixels, the gap along each image axis between the moved positions of a pixel and of
    its two neighbours on that axis, ``|1 + D_x(x ± e_x) − D_x(x)|`` and likewise for ``y`` (a
    neighbour outside the image counts as 1; shear, which slides rows along each other without
    opening gaps for the separable footprint, does not count), maximised over the *moving*
    neighbours and over the gaps up to ``MAX_STRETCH`` (a still pixel's stretch is 1). The splat
    footprint is
    widened by it, so a surface the fluid stretches stays continuous instead of breaking into a
    dot grid (a gap wider than ``MAX_STRETCH`` pixels, e.g. where the fluid pulls away from a still
    edge, is left to the other splat and the hole filling).
    """

    def __init__(
        self, scene: Scene, motion, ghosts: BorderGhosts | None = None, native: bool | None = False
    ) -> None:
        # of the scene only the photo's points (and, for full maps, the donor pixels): not its
        # photo, depth and layers (≈ 80 MB at 1280×720, at the peak of the frame loop)
        self.pts0, self.donor = scene.cloud.points, None
        self.motion, self.ghosts = motion, ghosts
        self.native = None  # ``_C.move_cloud`` (the same values in one pass) where ``native`` allows
        pts = scene.cloud.points
        self.sel: torch.Tensor | None = None
        if not isinstance(motion, Displacements):  # full maps, gathered at every point's donor
            self.donor = scene.donor
        else:
            H, W = scene.camera.height, scene.camera.width
            row = torch.full((H * W,), -1, dtype=torch.int64, device=motion.index.device)
            row[motion.index] = torch.arange(len(motion.index), device=row.device)
            row = row[scene.donor.to(row.device)]
            self.sel = (row >= 0).nonzero().squeeze(1).to(pts.device).contiguous()
            self.rows = row[self.sel.to(row.device)].contiguous()
            self.pts_sel = pts[self.sel]
            # Rows of the four neighbours of every moving pixel: P_m (a zero row) for a still
            # neighbour, the pixel's own row for a neighbour outside the image.
            idx = motion.index
            full = torch.full((H * W,), len(idx), dtype=torch.int64, device=idx.device)
            full[idx] = torch.arange(len(idx), device=idx.device)
            own = torch.arange(len(idx), device=idx.device)
            i, j = torch.div(idx, W, rounding_mode="floor"), idx % W
            self.nbrs = torch.stack([  # (4, P_m): right, left, below, above
                torch.where(ok, full[(idx + off).clamp(0, H * W - 1)], own)
                for ok, off in ((j + 1 < W, 1), (j > 0, -1), (i + 1 < H, W), (i > 0, -W))])  # fmt: skip
            moving = torch.zeros(H * W, dtype=torch.bool, device=idx.device)
            moving[idx] = True
            self.cap_map = _stretch_cap(moving.reshape(H, W)).to(pts.dtype)
            self.src_ij = (i, j)
            if idx.device == pts.device:
                self.native = native_pass("move_cloud", (pts,), native)
        self.z = (pts[:, 2] if self.sel is None else pts[self.sel, 2])[:, None]
        self.focal = torch.tensor([scene.camera.fx, scene.camera.fy], dtype=pts.dtype, device=pts.device)
        # With ``reuse`` (set by render_frames, which uses each frame's clouds only within the
        # frame) the native pass writes every call's clouds into the same two pairs of buffers,
        # where the still points' rows already hold their values: only the moving and ghost rows
        # are rewritten (no copy of the whole cloud per call). A caller keeping clouds across
        # calls must leave it off.
        self.reuse = False
        self._buffers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None, None]

    def _stretch_rows(self, d: torch.Tensor) -> torch.Tensor:
        """``(P_m,)`` stretch of the moving pixels from their displacements ``d`` ``(P_m, 2)``."""
        dz = torch.cat([d, d.new_zeros(1, 2)])
        out = torch.ones(d.shape[0], dtype=d.dtype, device=d.device)
        still = d.shape[0]
        for k, nb in enumerate(self.nbrs):
            a = k // 2
            gap = ((dz[nb, a] - d[:, a] if k % 2 == 0 else d[:, a] - dz[nb, a]) + 1.0).abs()
            # only gaps to moving neighbours, and only stretches, not tears wider than MAX_STRETCH
            gap = torch.where((nb != still) & (gap <= MAX_STRETCH), gap, torch.ones_like(gap))
            out = torch.maximum(out, gap)
        # capped where the point is now (a point flowing towards still ground may not spill on it)
        H, W = self.cap_map.shape
        i = (self.src_ij[0].to(d.dtype) + d[:, 1]).round().long().clamp(0, H - 1)
        j = (self.src_ij[1].to(d.dtype) + d[:, 0]).round().long().clamp(0, W - 1)
        return torch.minimum(out, self.cap_map[i, j].to(out.dtype))

    @staticmethod
    def _stretch_map(m: torch.Tensor) -> torch.Tensor:
        """``(H·W,)`` stretch of every pixel from a full ``(2, H, W)`` displacement map."""
        p = F.pad(m[None], (1, 1, 1, 1), mode="replicate")[0]
        mv = F.pad((m != 0).any(0).to(m.dtype)[None, None], (1, 1, 1, 1))[0, 0] > 0  # moving (0 outside)
        c = p[:, 1:-1, 1:-1]
        out = torch.ones(m.shape[1:], dtype=m.dtype, device=m.device)
        for axis, (a, b), nb in (
            (0, (p[:, 1:-1, 2:], c), mv[1:-1, 2:]),
            (0, (c, p[:, 1:-1, :-2]), mv[1:-1, :-2]),
            (1, (p[:, 2:, 1:-1], c), mv[2:, 1:-1]),
            (1, (c, p[:, :-2, 1:-1]), mv[:-2, 1:-1]),
        ):
            gap = (a[axis] - b[axis] + 1.0).abs()
            out = torch.maximum(out, torch.where(nb & (gap <= MAX_STRETCH), gap, torch.ones_like(gap)))
        out = torch.minimum(out, _stretch_cap(mv[1:-1, 1:-1]).to(out.dtype))
        return torch.where(mv[1:-1, 1:-1], out, torch.ones_like(out)).reshape(-1)

    def __call__(self, t: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(P, 3)`` forward-moved and backward-moved world points at scene time ``t`` and the
        ``(P,)`` stretch of each point in each."""
        pts0 = self.pts0
        P = pts0.shape[0]
        n_all = P + (0 if self.ghosts is None else self.ghosts.cloud.num_points)
        out, stretch = [], []
        if self.sel is None:  # full maps: every point's donor pixel
            donor = self.donor
            for m in (self.motion.forward(t), self.motion.backward(t)):
                m = m.to(device=pts0.device, dtype=pts0.dtype)
                d = m.reshape(2, -1)[:, donor].T
                out.append(torch.cat([pts0[:, :2] + lift_offsets(d, self.z, self.focal), pts0[:, 2:]], 1))
                stretch.append(self._stretch_map(m)[donor])
        elif self.native is not None:  # moving pixels only, one native pass per cloud
            gd = (None, None)
            if self.ghosts is not None:
                gd = tuple(
                    d.to(device=pts0.device, dtype=pts0.dtype).contiguous() for d in self.ghosts.motion.at(t)
                )
            gp = None if self.ghosts is None else self.ghosts.cloud.points.contiguous()
            i, j = self.src_ij
            for k, dm in enumerate(self.motion.moving_at(t)):
                dm = dm.to(device=pts0.device, dtype=pts0.dtype).contiguous()
                buf = self._buffers[k] if self.reuse else None
                o, st = self.native(pts0.contiguous(), self.sel, self.rows, dm, self.nbrs, self.cap_map,
                                    i, j, float(self.focal[0]), float(self.focal[1]), MAX_STRETCH,
                                    gp, gd[k], *(buf or (None, None)))  # fmt: skip
                if self.reuse:
                    self._buffers[k] = (o, st)
                out.append(o)
                stretch.append(st)
            return out[0], out[1], stretch[0], stretch[1]
        else:  # moving pixels only
            for dm in self.motion.moving_at(t):
                dm = dm.to(device=pts0.device, dtype=pts0.dtype)
                d = torch.index_select(dm, 0, self.rows)
                # One (P + ghosts, 3) buffer per cloud, written in place: no (P, 2) + (P, 1) cat along
                # dim 1 (~13 ms per million rows here) and no second copy to append the ghosts.
                new = self.pts_sel.clone()
                new[:, :2] += lift_offsets(d, self.z, self.focal)
                buf = pts0.new_empty((n_all, 3))
                buf[:P].copy_(pts0)
                out.append(buf.index_copy_(0, self.sel, new))
                s = pts0.new_ones(n_all)
                stretch.append(s.index_copy_(0, self.sel, self._stretch_rows(dm)[self.rows]))
        if self.ghosts is not None:  # mirrored points beyond the border, appended
            g = self.ghosts.cloud
            gz = g.points[:, 2:3]
            gones = torch.ones(g.num_points, dtype=pts0.dtype, device=pts0.device)
            for k, d in enumerate(self.ghosts.motion.at(t)):
                d = d.to(device=pts0.device, dtype=pts0.dtype)
                if out[k].shape[0] == n_all:  # the buffers above have the ghosts' rows already
                    dst = out[k][P:]
                    dst.copy_(g.points)
                    dst[:, :2] += lift_offsets(d, gz, self.focal)
                    continue
                moved = g.points.clone()
                moved[:, :2] += lift_offsets(d, gz, self.focal)
                out[k] = torch.cat([out[k], moved])
                stretch[k] = torch.cat([stretch[k], gones])
        return out[0], out[1], stretch[0], stretch[1]


@dataclass(frozen=True)
class BorderGhosts:
    """Points mirrored beyond the image border where the fluid touches it, so that fluid flowing
    in through the border brings texture instead of leaving a strip the other splat fills with
    unrelated texture (a seam that moves inwards over the loop).

    Attributes:
        cloud: :class:`FeatureCloud` of the ghost points (``pixels`` outside the image).
        motion: :class:`~cinemagraph3d.motion.integrate.PointDisplacements` of their pixels.
    """

    cloud: FeatureCloud
    motion: object


#: Candidate ghosts integrated at a time by :func:`border_ghosts` (all their states, for the test
#: of which to keep): 65536 × 2 × 61 states × 8 bytes ≈ 61 MiB at 60 steps.
GHOST_CHUNK = 1 << 16


def border_ghosts(
    scene: Scene, motion, max_band: float = 0.25, margin: float | None = None, native: bool | None = None
) -> BorderGhosts | None:
    """Mirror the moving pixels near each image border to the outside of that border.

    For each side, the moving pixels of the photo (``motion.index``) within ``b`` pixels of it
    are reflected across it (``x → −x`` at the left border, ``x → 2W − x`` at the right, likewise
    top and bottom), with ``b`` the largest displacement of the loop plus 2 px, at most
    ``max_band · D``. A ghost carries the features, opacity and z-depth of the visible point of
    the pixel it mirrors (the photo's texture, mirrored: continuous across the border) and moves
    through the field extended beyond the image by replicating its border values
    (:meth:`~cinemagraph3d.motion.integrate.Displacements.extend`), so where the fluid flows in
    the ghosts enter the frame as a continuation of the photo's texture, and elsewhere they stay
    outside the view. ``None`` when the motion has no moving pixel near a border or cannot be
    extended (it needs ``index`` and ``extend()``, as the integrated
    :class:`~cinemagraph3d.motion.integrate.Displacements` and the evaluation's exact
    :class:`~cinemagraph3d.eval.scenes.AnalyticMotion` have).

    With ``margin`` (pixels), a ghost that stays more than ``margin`` outside the image in every
    state of the loop is dropped too: where the views never see beyond the photo's border (the
    safe zoom) and footprints reach less than ``margin`` (:func:`render_frames` uses twice the
    largest footprint radius), it cannot touch a pixel of any frame. Fluid flowing along or out
    through a border makes most ghosts such (≈ 60 % of them for the demo's lake).

    ``native`` (see :func:`~cinemagraph3d.render._native.native_pass`): which ghosts to keep is
    decided in one native pass over their states (``_C.ghost_keep``, the same result) where it
    applies (``None``, the default), always (``True``) or never (``False``: the torch operations).
    """
    if not (hasattr(motion, "extend") and hasattr(motion, "index")) or motion.num_moving == 0:
        return None
    H, W = scene.camera.height, scene.camera.width
    c = scene.cloud
    if isinstance(motion, Displacements):
        ends = (motion.forward_states[-1], motion.backward_states[-1])
    else:  # any other motion with moving pixels and extend() (e.g. the evaluation's exact motion)
        N = float(motion.num_steps)
        ends = tuple(m.reshape(2, -1)[:, motion.index].T for m in (motion.forward(N), motion.backward(0.0)))
    reach = max(float(torch.linalg.vector_norm(e, dim=1).max()) for e in ends)
    band = int(min(max_band * max(H, W), reach + 2.0))
    if band <= 0:
        return None
    idx = motion.index.to(c.points.device)
    i, j = torch.div(idx, W, rounding_mode="floor"), idx % W
    x, y = j.to(c.points.dtype) + 0.5, i.to(c.points.dtype) + 0.5
    sides = [
        (j < band, -x, y),
        (j >= W - band, 2 * W - x, y),
        (i < band, x, -y),
        (i >= H - band, x, 2 * H - y),
    ]
    src, pos = [], []
    for sel, gx, gy in sides:
        src.append(idx[sel])
        pos.append(torch.stack([gx[sel], gy[sel]], 1))
    src, pos = torch.cat(src), torch.cat(pos)
    if src.numel() == 0:
        return None
    # the visible (non-inpainted) point of each mirrored pixel
    flat = (c.pixels[:, 1].long() * W + c.pixels[:, 0].long()).clamp(0, H * W - 1)
    vis = torch.full((H * W,), -1, dtype=torch.int64, device=flat.device)
    seen = (~c.inpainted).nonzero().squeeze(1)
    vis[flat[seen]] = seen
    pt = vis[src]
    keep = pt >= 0
    pt, pos = pt[keep], pos[keep]
    if pt.numel() == 0:
        return None
    # A ghost that would come to rest inside the image on a still pixel (it drifted along the
    # border past the fluid's edge) is dropped: ghosts may only show inside the moving region.
    # Integrated motion is 0 on still pixels, so a ghost that reaches one stays there. Exact
    # motion (the evaluation's) carries water *behind* a rock standing in the stream and out
    # again: there a still pixel nearer than the ghost is an occluder it passes behind.
    moving = torch.zeros(H * W, dtype=torch.bool, device=idx.device)
    moving[idx] = True
    exact = not isinstance(motion, Displacements)
    if exact:
        front = scene.depth.depth.reshape(-1).to(device=pos.device, dtype=pos.dtype)
        z_ghost = c.points[pt, 2].to(device=pos.device, dtype=pos.dtype)
    # Integrated motion keeps every k-th ghost state (as integrate_motion does for the pixels):
    # the ghosts are integrated GHOST_CHUNK at a time with all their states for the test, and
    # only the kept ghosts' kept states stay (at 3840×2160, ~4 M candidates × 2 × 61 states).
    N = motion.num_steps
    k = _auto_store_every(N, int(pos.shape[0]), pos.element_size()) if not exact else 1
    keep = native_pass("ghost_keep", (pos,), native)
    parts, oks = [], []
    for a in range(0, pos.shape[0], GHOST_CHUNK):
        b = min(a + GHOST_CHUNK, pos.shape[0])
        p_c = pos[a:b]
        ext = motion.extend(p_c)
        zg = z_ghost[a:b] if exact else None
        if keep is not None:  # the loop of _ghost_keep in one pass (the same tests, same precision)
            ok = keep(p_c.contiguous(), ext.forward_states.contiguous(), ext.backward_states.contiguous(),
                      moving, H, W, -1.0 if margin is None else float(margin),
                      front.contiguous() if exact else None, zg.contiguous() if exact else None)  # fmt: skip
        else:
            ok = _ghost_keep(p_c, ext, moving, H, W, margin, front if exact else None, zg)
        oks.append(ok)
        if bool(ok.any()):
            parts.append(ext.subset(ok).thinned(k))
        del ext
    ok = torch.cat(oks)
    if not parts:
        return None
    pt, pos = pt[ok], pos[ok]
    ext = PointDisplacements.cat(parts)
    K = scene.camera.matrix(device=c.points.device, dtype=c.points.dtype)
    z = c.points[pt, 2]
    pts = unproject_depth(pos, z, K)
    ghost = FeatureCloud(
        pts, c.features[pt], c.alpha[pt], pos, c.layer[pt], torch.zeros_like(c.inpainted[pt])
    )
    return BorderGhosts(ghost, ext)


def _ghost_keep(pos, ext, moving, H, W, margin, front, z_ghost) -> torch.Tensor:
    """``(G,)`` bool: the ghosts :func:`border_ghosts` keeps (torch operations, the reference of
    ``_C.ghost_keep``)."""
    exact = front is not None
    ok = torch.ones(pos.shape[0], dtype=torch.bool, device=pos.device)
    near = None if margin is None else torch.zeros_like(ok)  # within margin of the image, ever
    # One state at a time (not all (N + 1) × P positions at once: that peaked at ~1.5 GB).
    for states in (ext.forward_states, ext.backward_states):
        for state in states:
            q = pos + state.to(pos.device)
            qx, qy = q[:, 0], q[:, 1]
            if near is not None:
                near |= (qx >= -margin) & (qx < W + margin) & (qy >= -margin) & (qy < H + margin)
            inside = (qx >= 0) & (qx < W) & (qy >= 0) & (qy < H)
            flat_q = qy.clamp(0, H - 1).long() * W + qx.clamp(0, W - 1).long()
            shows = inside & ~moving[flat_q]
            if exact:
                shows &= ~(front[flat_q] < z_ghost)
            ok &= ~shows
    if near is not None:
        ok &= near
    return ok


def point_phases(
    scene: Scene, motion, num_steps: int, fusion: FusionSettings, ghosts: BorderGhosts | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Switch times of the ``"dissolve"`` fusion carried by the points, ``(P,)`` each.

    With ``φ`` the smooth field of :func:`~cinemagraph3d.render.fuse.dissolve_phase` over the
    photo, a point seen at pixel ``p`` (donor pixel ``q``) carries ``φ(p)`` in the forward cloud
    and ``φ(p + B_N(q))`` in the backward cloud, ``B_N`` the backward displacement of a whole loop
    (``motion.backward(0)``, bilinear, positions clamped to the image). At scene time ``t`` the
    forward cloud shows at a pixel the material that started at ``p_f`` and the backward cloud the
    material ``p_b`` with ``p_b + B_N(p_b) ≈ p_f`` (it is ``N`` steps behind), so both splats carry
    the same switch time there and the pattern of switch times flows with the fluid instead of
    standing still on the screen (where the flow leaves the moving region the two differ; the
    fusion then blends them by coverage). Sampling at ``p + F_N(q)`` instead (as this function
    first did) picks a partner two loops' travel away: unrelated switch times in the two splats.
    """
    H, W = scene.camera.height, scene.camera.width
    c = scene.cloud
    dev, dt = c.points.device, c.points.dtype
    field = dissolve_phase(H, W, fusion, device=dev).to(dt)
    pix = c.pixels.to(device=dev, dtype=dt)
    end = motion.backward(0.0).to(device=dev, dtype=dt).reshape(2, -1)[:, scene.donor.to(dev)].T

    def sample(uv: torch.Tensor) -> torch.Tensor:
        g = torch.stack([uv[:, 0] * (2.0 / W) - 1.0, uv[:, 1] * (2.0 / H) - 1.0], 1).clamp(-1.0, 1.0)
        return F.grid_sample(field[None], g.view(1, 1, -1, 2), mode="bilinear", padding_mode="border",
                             align_corners=False).reshape(-1)  # fmt: skip

    pf, pb = sample(pix), sample(pix + end)
    if ghosts is not None:  # ghosts: the same rule at their (outside) positions, clamped
        gp = ghosts.cloud.pixels.to(device=dev, dtype=dt)
        gend = ghosts.motion.at(0.0)[1].to(device=dev, dtype=dt)
        pf, pb = torch.cat([pf, sample(gp)]), torch.cat([pb, sample(gp + gend)])
    return pf, pb


def render_frames(
    scene: Scene,
    trajectory: Trajectory,
    motion: SceneFlow | None = None,
    num_steps: int = 60,
    settings: RenderSettings | None = None,
    return_aux: bool = False,
    times: list[float] | None = None,
    models: Models | None = None,
) -> Iterator[torch.Tensor]:
    """Render the frames of a (3D) cinemagraph, one at a time.

    Frame ``k`` uses camera ``trajectory[k]`` and scene time ``t = k·N/K``. Without ``motion``
    the cloud is static (a parallax video). With ``motion`` (a
    :class:`~cinemagraph3d.types.SceneFlow`, e.g. the :class:`~cinemagraph3d.motion.Displacements`
    of :func:`cinemagraph3d.motion.integrate_motion`), the cloud is moved by the forward and the
    backward displacement (lifted to 3-D at each point's depth), both are splatted and turned
    into the frame: fused (:func:`fuse_bidirectional`) and hole-filled, or, with ``models``,
    decoded by the learned decoder (:func:`~cinemagraph3d.render.decode_frame`; the scene's
    points must then carry RGB + 32 features).

    Args:
        scene: :class:`Scene`.
        trajectory: :class:`Trajectory` of ``K`` frames at the photo's size.
        motion: integrated displacements or ``None``.
        num_steps: loop length ``N`` in motion steps.
        settings: :class:`RenderSettings`.
        return_aux: yield ``(frame, fused SplatResult)`` instead of frames.
        times: scene time of each frame (default :func:`scene_times`: ``t_k = k·N/K``), each in
            ``[0, N]``; e.g. ``[N]`` renders the wrap-around frame.
        models: the neural preset's :class:`~cinemagraph3d.models.Models` (its decoder makes the
            frames), or None (the classic fusion and hole filling).

    Yields:
        ``(3, H, W)`` frames in [0, 1] (first ``C`` feature channels for RGB scenes).
    """
    settings = settings or RenderSettings()
    if motion is not None and not isinstance(motion, SceneFlow):
        raise InputError("motion", "a SceneFlow (e.g. integrate_motion's Displacements) or None",
                         type(motion).__name__)  # fmt: skip
    if settings.mode not in ("symmetric", "forward"):
        raise InputError("render mode", "'symmetric' or 'forward'", repr(settings.mode))
    if (trajectory.width, trajectory.height) != (scene.camera.width, scene.camera.height):
        raise InputError(
            "trajectory",
            f"{scene.camera.width}×{scene.camera.height} frames",
            f"{trajectory.width}×{trajectory.height}",
        )
    if settings.safe_zoom:
        trajectory = trajectory.zoomed(safe_zoom(trajectory, border_points(scene)))
    K_frames = len(trajectory)
    times = scene_times(K_frames, num_steps) if times is None else list(times)
    if len(times) != K_frames:
        raise InputError("times", f"{K_frames} scene times (one per camera)", len(times))
    pts0 = scene.cloud.points
    decoder = None if models is None else models.decoder
    if decoder is not None:
        inv = 1.0 / pts0[:, 2].clamp(min=1e-12)
        disp_range = (float(inv.min()), float(inv.max()))
    native = _native_flag(settings, pts0.device)  # the CPU passes around the native splat
    ghosts = None
    if motion is not None and settings.border_ghosts:
        # views inside the photo (safe zoom): ghosts that never come near it are never seen
        margin = 2.0 * float(settings.splat.max_radius) if settings.safe_zoom else None
        ghosts = border_ghosts(scene, motion, margin=margin, native=native)
    moved = None if motion is None else _MovedClouds(scene, motion, ghosts, native)
    if moved is not None:
        moved.reuse = True  # each frame's clouds are used within the frame only
    phases = None
    dissolve = settings.mode == "symmetric" and settings.fusion.method == "dissolve" and decoder is None
    if moved is not None and dissolve:
        phases = point_phases(scene, motion, num_steps, settings.fusion, ghosts)
    edge_colours = None  # built on the photo's points (rows 0 … P − 1 of the clouds)
    if (settings.clean_fluid_edges and moved is not None and decoder is None and hasattr(motion, "index")
            and scene.cloud.features.shape[1] >= 3):  # fmt: skip
        edge_colours = _FluidEdgeColours(scene, motion)
        if len(edge_colours) == 0:
            edge_colours = None
    if ghosts is not None:  # splat the photo's points and the ghosts together
        g = ghosts.cloud
        c = scene.cloud
        aug = FeatureCloud(*(torch.cat([a, b]) for a, b in zip(
            (c.points, c.features, c.alpha, c.pixels, c.layer, c.inpainted),
            (g.points, g.features.to(c.features.dtype), g.alpha, g.pixels, g.layer, g.inpainted))))  # fmt: skip
        scene = replace(scene, cloud=aug)
    want_sharpen = settings.resample_sharpen > 0 and decoder is None and scene.cloud.features.shape[1] >= 3
    if phases is not None:
        fc = scene.cloud.features
        if want_sharpen and edge_colours is None and _native_prepare(settings, pts0, fc) is not None:
            # the native pass joins them to its sharpened copy of the features: no (P, C + 1) pair
            phases = tuple(p.to(fc.dtype).contiguous() for p in phases)
        else:  # joined to the features once: a (P, C) + (P, 1) cat costs ~13 ms per splat
            phases = tuple(torch.cat([fc, p.to(fc.dtype)[:, None]], 1) for p in phases)
    own = (None, None)  # each cloud's features, where they differ per frame
    if edge_colours is not None:
        own = phases if phases is not None else (scene.cloud.features.clone(), scene.cloud.features.clone())
    nbrs = (
        grid_neighbours(*_grid_inputs(scene.cloud), native=native)
        if settings.close_gaps or want_sharpen
        else None
    )
    gaps = _GapClosing(scene, native, nbrs) if settings.close_gaps else None
    differs = None  # (P,) bool: the points that may differ between the two clouds of a frame
    if moved is not None and moved.sel is not None and moved.native is not None and decoder is None:
        differs = torch.zeros(scene.cloud.num_points, dtype=torch.bool, device=pts0.device)
        differs[moved.sel] = True
        differs[pts0.shape[0] :] = True  # the ghosts
        if phases is not None:  # still points carry the same switch time in both clouds, but be sure
            pf, pb = (p if p.dim() == 1 else p[:, -1] for p in phases)
            differs |= pf != pb
        if edge_colours is not None:  # recoloured boundary points (in the moving region)
            differs[edge_colours.idx] = True
    sharpen = None
    if want_sharpen:
        sharpen = _Resampling(scene, nbrs, settings.resample_sharpen)
    del nbrs  # what the gap closing and the resampling need of them, they hold
    # Of the cloud (with the ghosts joined: a copy of the photo's points) the frames read only the
    # photo depths (cached here once: a contiguous copy per splat otherwise), the opacities and,
    # where no per-frame features replace them, the features; the rest is let go (≈ 30-45 MB of
    # the joined cloud at 1280×720, at the peak of the frame loop), and so are the photo, its
    # depth and layers (≈ 60 MB more, once the caller holds no other reference to the scene).
    c = scene.cloud
    z0 = c.points[:, 2].contiguous()
    per_frame = moved is not None and ((phases is not None and phases[0].dim() == 2) or own[0] is not None)

    def gone(t: torch.Tensor) -> torch.Tensor:  # a fresh empty tensor (a [:0] view would keep the storage)
        return t.new_empty((0,) + tuple(t.shape[1:]))

    scene = replace(scene, cloud=replace(c, points=gone(c.points), features=gone(c.features) if per_frame else c.features,
                                         pixels=gone(c.pixels), layer=gone(c.layer), inpainted=gone(c.inpainted)),
                    image=gone(scene.image), depth=None, ldi=None, donor=gone(scene.donor))  # fmt: skip
    c = aug = None
    for k in range(K_frames):
        T, K = trajectory.cam_from_world[k], trajectory.K[k]
        t = float(times[k])
        widen = None if gaps is None else gaps(T, K)
        # The two splats of the frame (one when nothing moves or in "forward" mode).
        if motion is None:
            fwd = bwd = _splat(scene, pts0, T, K, settings, widen=widen, sharpen=sharpen, z0=z0)[0]
        else:
            p_fwd, p_bwd, s_fwd, s_bwd = moved(t)
            if not settings.stretch_footprints:
                s_fwd = s_bwd = None
            extra = own if phases is None else phases  # switch times ride as one more channel
            if edge_colours is not None:
                edge_colours.apply(extra[0], p_fwd)
                edge_colours.apply(extra[1], p_bwd)
            # where only the points in `differs` move, the backward splat is computed only on
            # the rows they may touch in either cloud (the rest is the forward splat's)
            # and prepared only on the blocks of points holding a moving point (`keep`)
            keep = None if differs is None or settings.mode == "forward" else {}
            fwd, rows = _splat(
                scene, p_fwd, T, K, settings, extra[0], s_fwd, widen, sharpen, differs, keep=keep, z0=z0
            )
            if settings.mode == "forward":
                bwd = fwd
            else:
                like = None if rows is None else (fwd, rows)
                bwd = _splat(scene, p_bwd, T, K, settings, extra[1], s_bwd, widen, sharpen, differs, like,
                             keep=keep, z0=z0)[0]  # fmt: skip
        # The frame from the two splats: learned decoding, or fusion + hole filling.
        if decoder is not None:
            tau = 0.0 if settings.mode == "forward" else t / num_steps
            frame = decode_frame(decoder, fwd, bwd, tau, disp_range)
            yield (frame, fwd) if return_aux else frame
            continue
        if motion is None or settings.mode == "forward":
            res = fwd
        elif phases is None:
            res = fuse_bidirectional(fwd, bwd, t, num_steps, scene.z_near, settings.fusion)
        else:
            f, b = (SplatResult(r.features[:-1], r.depth, r.alpha) for r in (fwd, bwd))
            res = fuse_bidirectional(f, b, t, num_steps, scene.z_near, settings.fusion,
                                     phase=(fwd.features[-1:], bwd.features[-1:]),
                                     native=native)  # fmt: skip
        feats = (
            fill_holes(res.features, res.alpha, res.depth, settings.fill_far_bias, native=native)
            if settings.fill_holes
            else res.features
        )
        frame = feats[:3].clamp(0.0, 1.0)
        out = (frame, res) if return_aux else frame
        # Let go of the frame's splats and planes before handing it out: the loop's names would
        # otherwise hold them (≈ 90 MB at 1280×720) through the next frame's splats, at the peak.
        fwd = bwd = f = b = res = feats = like = widen = keep = None
        yield out


def seed_everything(seed: int) -> None:
    """Seed torch and numpy (the classic preset draws no random numbers; learned parts may)."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
