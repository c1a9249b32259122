"""The stages wired together: photo → scene (LDI + point cloud) → frames.

Layering: stage functions (``estimate_depth``, ``build_ldi``, ``lift_ldi``, ``splat_points``,
``fuse_bidirectional``...) are pure; :func:`prepare_scene` and :func:`render_frames` only wire them.
Nothing here reads CLI arguments or writes files.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from .errors import InputError
from .features import lift_ldi
from .geometry.camera import PinholeCamera, pixel_grid, transform_points, unproject_depth
from .geometry.trajectory import Trajectory, safe_zoom
from .ldi import LDISettings, build_ldi
from .render.fuse import FAR_BIAS, FusionSettings, fill_holes, fuse_bidirectional
from .render.splat import SplatSettings, splat_points
from .types import DepthMap, FeatureCloud, LayeredDepthImage, SplatResult

__all__ = ["Scene", "RenderSettings", "prepare_scene", "render_frames", "scene_times"]


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
        neural: a :class:`~cinemagraph3d.neural.NeuralPreset`: frames are decoded by its U-Net
            from 37-channel splats (the scene's points must carry RGB + 32 features); ``None``:
            the classic fusion and hole filling.
    """

    splat: SplatSettings = field(default_factory=SplatSettings)
    fusion: FusionSettings = field(default_factory=FusionSettings)
    mode: str = "symmetric"
    safe_zoom: bool = True
    fill_holes: bool = True
    fill_far_bias: float = FAR_BIAS
    backend: str | None = None
    neural: object | None = None


def _donors(ldi: LayeredDepthImage, cloud: FeatureCloud) -> torch.Tensor:
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


def prepare_scene(
    image: torch.Tensor,
    depth: DepthMap,
    camera: PinholeCamera | None = None,
    ldi_settings: LDISettings | None = None,
    features=None,
) -> Scene:
    """Build the LDI and the point cloud of a photo.

    Args:
        image: ``(3, H, W)`` float in [0, 1].
        depth: :class:`DepthMap` ``(1, H, W)``.
        camera: input intrinsics (default ``fx = fy = max(W, H)``, centred principal point).
        ldi_settings: :class:`LDISettings`.
        features: optional ``(L, C, H, W)`` per-layer features, or a function
            ``ldi -> (L, C, H, W)`` (e.g. the neural encoder); default RGB.

    Returns:
        :class:`Scene`.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise InputError("image", "a (3, H, W) tensor", tuple(image.shape))
    _, H, W = image.shape
    camera = camera or PinholeCamera.default(W, H)
    if (camera.width, camera.height) != (W, H):
        raise InputError("camera", f"intrinsics for {W}×{H}", f"{camera.width}×{camera.height}")
    ldi = build_ldi(image, depth, ldi_settings)
    if callable(features):
        features = features(ldi)
    cloud = lift_ldi(ldi, camera, features)
    z = depth.depth.flatten()
    q = torch.quantile(z[:: max(1, z.numel() // 100000)].float(), torch.tensor([0.05, 0.5]))
    return Scene(image, camera, depth, ldi, cloud, _donors(ldi, cloud), float(q[0]), float(q[1]))


def scene_times(num_frames: int, num_steps: int) -> list[float]:
    """Scene time of each output frame: ``t_k = k·N/K`` for ``k = 0..K-1`` (fractional allowed)."""
    return [k * num_steps / num_frames for k in range(num_frames)]


def border_points(scene: Scene, per_side: int = 256) -> dict[str, torch.Tensor]:
    """World points of the photo's four borders (at the photo depth), for the safe zoom."""
    _, H, W = scene.image.shape
    K = scene.camera.matrix(dtype=torch.float64)
    uv = pixel_grid(H, W, dtype=torch.float64).permute(1, 2, 0)
    z = scene.depth.depth[0].double().cpu()
    sides = {
        "left": (slice(None), 0),
        "right": (slice(None), W - 1),
        "top": (0, slice(None)),
        "bottom": (H - 1, slice(None)),
    }
    out = {}
    for name, (r, c) in sides.items():
        pix, zz = uv[r, c], z[r, c]
        step = max(1, len(zz) // per_side)
        pix, zz = pix[::step].clone(), zz[::step]
        # the outer edge of the border pixel, not its centre
        if name == "left":
            pix[:, 0] = 0.0
        elif name == "right":
            pix[:, 0] = W
        elif name == "top":
            pix[:, 1] = 0.0
        else:
            pix[:, 1] = H
        out[name] = unproject_depth(pix, zz, K)
    return out


def _splat(
    scene: Scene, pts_world: torch.Tensor, T: torch.Tensor, K: torch.Tensor, settings: RenderSettings
) -> SplatResult:
    dev, dt = pts_world.device, pts_world.dtype
    Tf = T.to(device=dev, dtype=dt)
    Kf = K.to(device=dev, dtype=dt)
    pts = transform_points(Tf, pts_world)
    # Footprint radius: the point's pixel spacing in the new view relative to the photo's.
    z0 = scene.cloud.points[:, 2]
    radius = (Kf[0, 0] * z0) / (scene.camera.fx * pts[:, 2].clamp(min=1e-6))
    radius = radius.clamp(min=1.0)
    c = scene.cloud
    return splat_points(
        pts,
        c.features,
        c.alpha,
        radius,
        Kf,
        scene.camera.height,
        scene.camera.width,
        settings.splat,
        settings.backend,
    )


class _MovedClouds:
    """The cloud moved by the forward and by the backward displacement at scene time ``t``.

    Only points whose donor pixel moves are touched: with integrated motion
    (:class:`~cinemagraph3d.motion.integrate.Displacements`, which stores the ``P_m`` moving
    pixels) each point's row among the moving pixels is found once and each frame gathers the
    displacements of the moving points from :meth:`moving_at`; other
    motion objects (``forward(t)`` / ``backward(t)`` full maps) are gathered for every point.
    The 3-D displacement is fronto-parallel: a point keeps its depth ``z`` and moves by
    ``(dx · z / fx, dy · z / fy, 0)`` scene units for a pixel displacement ``(dx, dy)``.
    """

    def __init__(self, scene: Scene, motion) -> None:
        self.scene, self.motion = scene, motion
        pts = scene.cloud.points
        self.sel: torch.Tensor | None = None
        if hasattr(motion, "moving_at") and hasattr(motion, "index"):
            H, W = scene.camera.height, scene.camera.width
            row = torch.full((H * W,), -1, dtype=torch.int64, device=motion.index.device)
            row[motion.index] = torch.arange(len(motion.index), device=row.device)
            row = row[scene.donor.to(row.device)]
            self.sel = (row >= 0).nonzero().squeeze(1).to(pts.device)
            self.rows = row[self.sel.to(row.device)]
            self.pts_sel = pts[self.sel]
        self.z = (pts[:, 2] if self.sel is None else pts[self.sel, 2])[:, None]
        self.focal = torch.tensor([scene.camera.fx, scene.camera.fy], dtype=pts.dtype, device=pts.device)

    def __call__(self, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(P, 3)`` forward-moved and backward-moved world points at scene time ``t``."""
        pts0 = self.scene.cloud.points
        if self.sel is None:  # full maps: every point's donor pixel
            donor = self.scene.donor
            disps = [m.reshape(2, -1)[:, donor].T for m in (self.motion.forward(t), self.motion.backward(t))]
            base = pts0
        else:  # moving pixels only
            disps = [torch.index_select(d.to(pts0.device), 0, self.rows) for d in self.motion.moving_at(t)]
            base = self.pts_sel
        out = []
        for d in disps:
            d = d.to(device=pts0.device, dtype=pts0.dtype)
            new = torch.cat([base[:, :2] + d * self.z / self.focal, base[:, 2:]], 1)
            out.append(new if self.sel is None else pts0.clone().index_copy_(0, self.sel, new))
        return out[0], out[1]


def render_frames(
    scene: Scene,
    trajectory: Trajectory,
    motion=None,
    num_steps: int = 60,
    settings: RenderSettings | None = None,
    return_aux: bool = False,
    times: list[float] | None = None,
) -> Iterator[torch.Tensor]:
    """Render the frames of a (3D) cinemagraph, one at a time.

    Frame ``k`` uses camera ``trajectory[k]`` and scene time ``t = k·N/K``. Without ``motion``
    the cloud is static (a parallax video). With ``motion`` (an object with ``forward(t)`` and
    ``backward(t)`` returning ``(2, H, W)`` pixel displacements, e.g. from
    :func:`cinemagraph3d.motion.integrate_motion`), the cloud is moved by the forward and the
    backward displacement (lifted to 3-D at each point's depth), both are splatted and fused
    (:func:`fuse_bidirectional`).

    Args:
        scene: :class:`Scene`.
        trajectory: :class:`Trajectory` of ``K`` frames at the photo's size.
        motion: integrated displacements or ``None``.
        num_steps: loop length ``N`` in motion steps.
        settings: :class:`RenderSettings`.
        return_aux: yield ``(frame, fused SplatResult)`` instead of frames.
        times: scene time of each frame (default :func:`scene_times`: ``t_k = k·N/K``), each in
            ``[0, N]``; e.g. ``[N]`` renders the wrap-around frame.

    Yields:
        ``(3, H, W)`` frames in [0, 1] (first ``C`` feature channels for RGB scenes).
    """
    settings = settings or RenderSettings()
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
    if settings.neural is not None:
        from .neural import neural_frame

        inv = 1.0 / pts0[:, 2].clamp(min=1e-12)
        disp_range = (float(inv.min()), float(inv.max()))
    moved = None if motion is None else _MovedClouds(scene, motion)
    for k in range(K_frames):
        T, K = trajectory.cam_from_world[k], trajectory.K[k]
        t = float(times[k])
        if settings.neural is not None:
            if motion is None:
                fwd = bwd = _splat(scene, pts0, T, K, settings)
            else:
                p_fwd, p_bwd = moved(t)
                fwd = _splat(scene, p_fwd, T, K, settings)
                bwd = fwd if settings.mode == "forward" else _splat(scene, p_bwd, T, K, settings)
            tau = 0.0 if settings.mode == "forward" else t / num_steps
            frame = neural_frame(settings.neural, fwd, bwd, tau, disp_range)
            yield (frame, fwd) if return_aux else frame
            continue
        if motion is None:
            res = _splat(scene, pts0, T, K, settings)
        else:
            p_fwd, p_bwd = moved(t)
            fwd = _splat(scene, p_fwd, T, K, settings)
            if settings.mode == "forward":
                res = fwd
            else:
                bwd = _splat(scene, p_bwd, T, K, settings)
                res = fuse_bidirectional(fwd, bwd, t, num_steps, scene.z_near, settings.fusion)
        feats = (
            fill_holes(res.features, res.alpha, res.depth, settings.fill_far_bias)
            if settings.fill_holes
            else res.features
        )
        frame = feats[:3].clamp(0.0, 1.0)
        yield (frame, res) if return_aux else frame


def seed_everything(seed: int) -> None:
    """Seed torch and numpy (the classic preset draws no random numbers; learned parts may)."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
