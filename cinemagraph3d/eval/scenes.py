"""Analytic ground-truth scenes, ray-cast in numpy independently of the renderer.

A scene is a set of textured planes (finite rectangles or ellipses, or infinite) seen by a pinhole
camera in the OpenCV convention (x right, y down, z forward, pixel centres at integer + 0.5); the
input camera is the world frame. Some planes carry *fluid windows*: inside the window the colour is
a texture advected at a constant velocity ``v`` (plane units per motion step) along the plane, and
the texture is periodic along ``v`` with period ``L = |v|·N``, so the true video at scene time
``t + N`` equals the one at ``t``: the ground-truth loop is exact, not approximate.

Everything the evaluation needs follows from the geometry in closed form:

* frames: each pixel is the mean of ``s × s`` rays (box filter, ``s = supersample``); a ray's
  colour is the texture of the nearest plane it hits at that plane's coordinates ``(a, b)``;
* depth: z-depth of the nearest hit through the pixel centre (scene units);
* motion: a fluid point at ``(a, b)`` is at ``(a, b) + v·Δt`` after ``Δt`` steps; projecting both
  positions gives the exact optical flow between any two frames, including camera parallax;
* regions: ``disoccluded`` where the surface seen is hidden from (or outside) the input view,
  else ``fluid`` inside a fluid window, else ``static``.

All lengths are in scene units and all times in motion steps; nothing here imports the renderer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InputError
from ..geometry.camera import PinholeCamera
from ..geometry.trajectory import Trajectory
from ..types import SceneFlow

__all__ = [
    "Texture",
    "FlowTexture",
    "Fluid",
    "Plane",
    "AnalyticScene",
    "FluidRegionTruth",
    "InputTruth",
    "VideoTruth",
    "AnalyticMotion",
    "SCENES",
    "make_scene",
    "input_truth",
    "video_truth",
    "lake_scene",
    "falls_scene",
    "window_scene",
]

REGIONS = ("fluid", "static", "disoccluded")


# --------------------------------------------------------------------------- textures
@dataclass(frozen=True, eq=False)
class Texture:
    """Band-limited analytic colour on a plane.

    ``c(a, b) = base + a·slope[0] + b·slope[1] + Σ_j colour_j · sin(ka_j·a + kb_j·b + φ_j)``,
    clipped to [0, 1].

    Attributes:
        base: ``(3,)`` RGB in [0, 1].
        slope: ``(2, 3)`` RGB change per plane unit along ``a`` and ``b``.
        waves: ``(J, 6)`` rows ``(ka, kb, φ, r, g, b)``; ``ka, kb`` in radians per plane unit.
    """

    base: np.ndarray
    slope: np.ndarray
    waves: np.ndarray

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(P, 3)`` colour at plane coordinates ``a, b`` ``(P,)``."""
        out = self.base[None, :] + a[:, None] * self.slope[0] + b[:, None] * self.slope[1]
        for ka, kb, ph, r, g, bl in self.waves:
            out = out + np.sin(ka * a + kb * b + ph)[:, None] * np.array([r, g, bl])
        return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class FlowTexture:
    """Texture of a fluid window, periodic in time with period ``N``.

    In flow-aligned coordinates (``s`` along the velocity, ``r`` across it, plane units, measured
    from the window centre) and with ``L = |v|·N``:
    ``c(s, r, t) = base + Σ_j colour_j · sin(2π m_j (s/L − t/N) + k_j r + φ_j)``, clipped to
    [0, 1]. Since ``s/L − t/N = (s − |v| t)/L``, the pattern is carried at velocity ``v`` and
    every ``m_j`` is an integer, so ``c(s, r, t + N) = c(s, r, t)``.

    Attributes:
        base: ``(3,)`` RGB.
        waves: ``(J, 6)`` rows ``(m, k, φ, r, g, b)``: integer cycles per period ``m``, across
            frequency ``k`` (radians per plane unit), phase and colour amplitude.
    """

    base: np.ndarray
    waves: np.ndarray

    def __call__(self, s: np.ndarray, r: np.ndarray, t: float, period: float, num_steps: int) -> np.ndarray:
        out = np.broadcast_to(self.base, (s.shape[0], 3)).astype(np.float64)
        tau = t / num_steps
        for m, k, ph, cr, cg, cb in self.waves:
            out = out + np.sin(2.0 * math.pi * m * (s / period - tau) + k * r + ph)[:, None] * np.array(
                [cr, cg, cb]
            )
        return np.clip(out, 0.0, 1.0)


def _inside(shape: str | None, centre: np.ndarray, half: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """``(P,)`` bool: plane coordinates ``ab`` ``(P, 2)`` inside a rectangle/ellipse (None: all)."""
    if shape is None:
        return np.ones(ab.shape[0], bool)
    q = (ab - centre) / half
    if shape == "rect":
        return (np.abs(q) <= 1.0).all(axis=1)
    return (q**2).sum(axis=1) <= 1.0


@dataclass(frozen=True, eq=False)
class Fluid:
    """A window of a plane whose texture flows.

    Attributes:
        name: region name (one motion region of the evaluation).
        shape: ``"rect"`` or ``"ellipse"`` in plane coordinates.
        centre: ``(2,)`` window centre ``(a, b)``, plane units.
        half: ``(2,)`` half extents (semi-axes), plane units.
        velocity: ``(2,)`` velocity ``(va, vb)`` in plane units per motion step (non-zero).
        texture: :class:`FlowTexture`.
    """

    name: str
    shape: str
    centre: np.ndarray
    half: np.ndarray
    velocity: np.ndarray
    texture: FlowTexture

    @property
    def speed(self) -> float:
        """``|v|`` in plane units per step."""
        return float(np.hypot(*self.velocity))

    @property
    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors along (``d``) and across (``n``) the flow, plane coordinates."""
        d = self.velocity / self.speed
        return d, np.array([-d[1], d[0]])

    def contains(self, ab: np.ndarray) -> np.ndarray:
        """``(P,)`` bool: points ``(P, 2)`` inside the window."""
        return _inside(self.shape, self.centre, self.half, ab)

    def chord(self, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Signed distances ``(lo <= 0, hi >= 0)`` along the flow from points inside the window to
        the window's upstream and downstream edges, plane units."""
        d, _ = self.axes
        q = ab - self.centre
        if self.shape == "rect":
            lo = np.full(ab.shape[0], -np.inf)
            hi = np.full(ab.shape[0], np.inf)
            for i in range(2):
                if d[i] != 0.0:
                    t1 = (-self.half[i] - q[:, i]) / d[i]
                    t2 = (self.half[i] - q[:, i]) / d[i]
                    lo = np.maximum(lo, np.minimum(t1, t2))
                    hi = np.minimum(hi, np.maximum(t1, t2))
        else:
            qq, e = q / self.half, d / self.half
            A, B, C = (e**2).sum(), (qq * e).sum(axis=1), (qq**2).sum(axis=1) - 1.0
            root = np.sqrt(np.maximum(B * B - A * C, 0.0))
            lo, hi = (-B - root) / A, (-B + root) / A
        return np.minimum(lo, 0.0), np.maximum(hi, 0.0)

    def colour(self, ab: np.ndarray, t: float, num_steps: int) -> np.ndarray:
        d, n = self.axes
        q = ab - self.centre
        return self.texture(q @ d, q @ n, t, self.speed * num_steps, num_steps)


@dataclass(frozen=True, eq=False)
class Plane:
    """A textured plane ``X = origin + a·axis_a + b·axis_b``.

    Attributes:
        name: label.
        origin: ``(3,)`` world point, scene units.
        axis_a, axis_b: ``(3,)`` orthonormal in-plane axes.
        texture: static :class:`Texture` (seen outside the fluid windows).
        shape: ``None`` (infinite), ``"rect"`` or ``"ellipse"`` extent in plane coordinates.
        centre, half: extent centre and half sizes, plane units (ignored when infinite).
        fluids: fluid windows on this plane (must not overlap).
    """

    name: str
    origin: np.ndarray
    axis_a: np.ndarray
    axis_b: np.ndarray
    texture: Texture
    shape: str | None = None
    centre: np.ndarray = field(default_factory=lambda: np.zeros(2))
    half: np.ndarray = field(default_factory=lambda: np.ones(2))
    fluids: tuple[Fluid, ...] = ()

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.axis_a, self.axis_b)

    def point(self, ab: np.ndarray) -> np.ndarray:
        """``(P, 3)`` world points of plane coordinates ``(P, 2)``."""
        return self.origin + ab[:, :1] * self.axis_a + ab[:, 1:] * self.axis_b


# --------------------------------------------------------------------------- ray casting
@dataclass(frozen=True)
class _Hits:
    plane: np.ndarray  # (P,) int, -1 when nothing is hit
    depth: np.ndarray  # (P,) z-depth in the casting camera
    world: np.ndarray  # (P, 3)
    ab: np.ndarray  # (P, 2)


def _project(T: np.ndarray, K: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates ``(P, 2)`` and z-depth ``(P,)`` of world points in camera ``T, K``."""
    Xc = X @ T[:3, :3].T + T[:3, 3]
    z = Xc[:, 2]
    zs = np.where(np.abs(z) > 1e-12, z, 1e-12)
    return np.stack([K[0, 0] * Xc[:, 0] / zs + K[0, 2], K[1, 1] * Xc[:, 1] / zs + K[1, 2]], 1), z


def _pixel_centres(height: int, width: int, offsets: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([u.ravel() + offsets[0], v.ravel() + offsets[1]], 1)


@dataclass(frozen=True, eq=False)
class AnalyticScene:
    """A ray-castable scene with fluid windows.

    Attributes:
        name: scene name.
        planes: the planes; the nearest hit along a ray wins.
        camera: input camera (world frame) intrinsics.
        num_steps: loop length ``N`` in motion steps (the fluid textures' period).
        background: ``(3,)`` colour of rays that hit nothing.
    """

    name: str
    planes: tuple[Plane, ...]
    camera: PinholeCamera
    num_steps: int
    background: np.ndarray = field(default_factory=lambda: np.zeros(3))

    @property
    def fluids(self) -> list[tuple[int, Fluid]]:
        """``(plane index, fluid)`` of every fluid window, in a fixed order."""
        return [(i, f) for i, p in enumerate(self.planes) for f in p.fluids]

    @property
    def K0(self) -> np.ndarray:
        return self.camera.matrix(dtype=torch.float64).numpy()

    def hit(self, T: np.ndarray, K: np.ndarray, uv: np.ndarray) -> _Hits:
        """Nearest plane hit by the rays through pixel positions ``uv`` ``(P, 2)`` of camera
        ``cam_from_world = T`` with intrinsics ``K``."""
        R, tr = T[:3, :3], T[:3, 3]
        centre = -R.T @ tr
        d_cam = np.stack(
            [(uv[:, 0] - K[0, 2]) / K[0, 0], (uv[:, 1] - K[1, 2]) / K[1, 1], np.ones(len(uv))], 1
        )
        d_w = d_cam @ R  # rows: R^T d
        best = np.full(len(uv), np.inf)
        plane = np.full(len(uv), -1)
        ab = np.zeros((len(uv), 2))
        for i, p in enumerate(self.planes):
            n = p.normal
            den = d_w @ n
            with np.errstate(divide="ignore", invalid="ignore"):
                lam = np.where(np.abs(den) > 1e-12, ((p.origin - centre) @ n) / den, np.inf)
            X = centre + lam[:, None] * d_w
            rel = X - p.origin
            pab = np.stack([rel @ p.axis_a, rel @ p.axis_b], 1)
            ok = (lam > 1e-9) & np.isfinite(lam) & _inside(p.shape, p.centre, p.half, pab) & (lam < best)
            best = np.where(ok, lam, best)
            plane = np.where(ok, i, plane)
            ab = np.where(ok[:, None], pab, ab)
        world = centre + np.where(np.isfinite(best), best, 0.0)[:, None] * d_w
        return _Hits(plane, best, world, ab)

    def fluid_index(self, hits: _Hits) -> np.ndarray:
        """``(P,)`` index into :attr:`fluids` of the fluid window each hit lies in (-1: none)."""
        out = np.full(len(hits.plane), -1)
        for j, (pi, f) in enumerate(self.fluids):
            sel = hits.plane == pi
            if sel.any():
                idx = np.nonzero(sel)[0]
                out[idx[f.contains(hits.ab[idx])]] = j
        return out

    def shade(self, hits: _Hits, t: float) -> np.ndarray:
        """``(P, 3)`` colour of hits at scene time ``t``."""
        col = np.broadcast_to(self.background, (len(hits.plane), 3)).astype(np.float64).copy()
        for i, p in enumerate(self.planes):
            sel = hits.plane == i
            if sel.any():
                col[sel] = p.texture(hits.ab[sel, 0], hits.ab[sel, 1])
        fl = self.fluid_index(hits)
        for j, (_, f) in enumerate(self.fluids):
            sel = fl == j
            if sel.any():
                col[sel] = f.colour(hits.ab[sel], t, self.num_steps)
        return col

    def render(self, T: np.ndarray, K: np.ndarray, t: float, supersample: int = 2) -> np.ndarray:
        """``(3, H, W)`` float64 frame: mean of ``supersample²`` rays per pixel at time ``t``."""
        H, W = self.camera.height, self.camera.width
        acc = np.zeros((H * W, 3))
        s = max(1, int(supersample))
        for i in range(s):
            for j in range(s):
                uv = _pixel_centres(H, W, ((j + 0.5) / s, (i + 0.5) / s))
                acc += self.shade(self.hit(T, K, uv), t)
        return (acc / (s * s)).T.reshape(3, H, W)

    def visible(self, T: np.ndarray, K: np.ndarray, X: np.ndarray, plane: np.ndarray) -> np.ndarray:
        """``(P,)`` bool: world points ``X`` on planes ``plane`` are the first surface seen by
        camera ``T, K`` at their projection, inside the image."""
        H, W = self.camera.height, self.camera.width
        uv, z = _project(T, K, X)
        ok = (z > 1e-9) & (uv[:, 0] >= 0) & (uv[:, 0] <= W) & (uv[:, 1] >= 0) & (uv[:, 1] <= H)
        out = np.zeros(len(X), bool)
        if ok.any():
            h = self.hit(T, K, uv[ok])
            out[ok] = (h.plane == plane[ok]) & (np.abs(h.depth - z[ok]) <= 1e-6 * np.abs(z[ok]) + 1e-9)
        return out

    def advect(self, hits: _Hits, fluid: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """World positions after ``dt`` steps of the material seen at ``hits`` (fluid points move
        by ``v·dt`` on their plane, static points stay) and whether the material is still inside
        its window (``(P, 3)``, ``(P,)`` bool)."""
        X = hits.world.copy()
        ok = np.ones(len(X), bool)
        for j, (pi, f) in enumerate(self.fluids):
            sel = np.nonzero(fluid == j)[0]
            if len(sel):
                ab = hits.ab[sel] + f.velocity * dt
                X[sel] = self.planes[pi].point(ab)
                ok[sel] = f.contains(ab)
        return X, ok


# --------------------------------------------------------------------------- truth objects
@dataclass(frozen=True)
class FluidRegionTruth:
    """One fluid window as seen in the input view.

    Attributes:
        name: region name.
        mask: ``(H, W)`` bool, pixels whose centre sees the window.
        starts: ``(K, 2)`` float32 hint start points (pixel centres inside ``mask``), pixels.
        vectors: ``(K, 2)`` float32 true image velocity at ``starts``, pixels per step.
    """

    name: str
    mask: torch.Tensor
    starts: torch.Tensor
    vectors: torch.Tensor


class AnalyticMotion(SceneFlow):
    """Exact Lagrangian displacements of the input pixels, usable as ``motion`` by
    :func:`cinemagraph3d.pipeline.render_frames`.

    A fluid point at plane coordinate ``s`` along the flow (window chord ``[s_lo, s_hi]`` along its
    streamline) is at ``clip(s + |v| t, s_lo, s_hi)`` after ``t`` steps: the true advection,
    except that material stops at the window's downstream edge instead of leaving it (the same
    rule as Euler integration of a field that is zero outside the mask). ``forward(t)`` and
    ``backward(t)`` return the image displacement of every input pixel centre to times ``t`` and
    ``t − N`` (``(2, H, W)`` float32, pixels); static pixels get 0.
    """

    def __init__(self, scene: AnalyticScene) -> None:
        H, W = scene.camera.height, scene.camera.width
        self.height, self.width, self.num_steps = H, W, scene.num_steps
        self._scene = scene
        self._groups = self._fluid_groups(_pixel_centres(H, W))

        self.index = torch.from_numpy(np.sort(np.concatenate([g[0] for g in self._groups]))
                                      if self._groups else np.zeros(0, np.int64)).long()  # fmt: skip

    def _fluid_groups(self, uv: np.ndarray) -> list:
        """Per fluid window: the positions ``uv`` ``(P, 2)`` whose ray hits it (indices into
        ``uv``), with their plane coordinates along and across the flow and their chord."""
        hits = self._scene.hit(np.eye(4), self._scene.K0, uv)
        fl = self._scene.fluid_index(hits)
        groups = []
        for j, (pi, f) in enumerate(self._scene.fluids):
            idx = np.nonzero(fl == j)[0]
            if len(idx) == 0:
                continue
            d, n = f.axes
            q = hits.ab[idx] - f.centre
            lo, hi = f.chord(hits.ab[idx])
            groups.append((idx, pi, f, q @ d, q @ n, lo, hi, uv[idx]))
        return groups

    @property
    def num_moving(self) -> int:
        """Number of input pixels inside a fluid window."""
        return int(self.index.numel())

    def _moved(self, groups, shift: float, count: int) -> np.ndarray:
        out = np.zeros((2, count))
        for idx, pi, f, s, r, lo, hi, uv in groups:
            d, n = f.axes
            s_new = s + np.clip(f.speed * shift, lo, hi)
            ab = f.centre + s_new[:, None] * d + r[:, None] * n
            uv_new, _ = _project(np.eye(4), self._scene.K0, self._scene.planes[pi].point(ab))
            out[:, idx] = (uv_new - uv).T
        return out

    def _displacement(self, shift: float) -> torch.Tensor:
        out = self._moved(self._groups, shift, self.height * self.width)
        return torch.from_numpy(out.reshape(2, self.height, self.width)).float()

    def extend(self, sources: torch.Tensor):
        """Exact displacements of extra source positions (anywhere, e.g. beyond the image border),
        as :meth:`cinemagraph3d.motion.Displacements.extend` gives for integrated motion: the
        fluid windows continue beyond the view, so a source there moves as the material at that
        point does (0 where it is not in a fluid window).

        Args:
            sources: ``(P, 2)`` positions ``(x, y)`` in pixels.

        Returns:
            :class:`~cinemagraph3d.motion.integrate.PointDisplacements` with the states at the
            integer steps ``0 … N``.
        """
        from ..motion.integrate import PointDisplacements

        if not isinstance(sources, torch.Tensor) or sources.dim() != 2 or sources.shape[1] != 2:
            raise InputError("sources", "a (P, 2) tensor of positions", getattr(sources, "shape", None))
        uv = sources.detach().cpu().double().numpy()
        groups = self._fluid_groups(uv)
        N, P = self.num_steps, len(uv)
        states = [
            torch.from_numpy(np.stack([self._moved(groups, sign * k, P).T for k in range(N + 1)]))
            for sign in (1.0, -1.0)
        ]
        opts = {
            "dtype": sources.dtype if sources.is_floating_point() else torch.float32,
            "device": sources.device,
        }
        return PointDisplacements(sources.to(**opts), states[0].to(**opts), states[1].to(**opts), N)

    def _check(self, t: float) -> float:
        t = float(t)
        if not (0.0 <= t <= self.num_steps):
            raise InputError("t", f"a scene time in [0, {self.num_steps}]", t)
        return t

    def forward(self, t: float) -> torch.Tensor:
        """``(2, H, W)`` displacement from time 0 to ``t`` (pixels)."""
        return self._displacement(self._check(t))

    def backward(self, t: float) -> torch.Tensor:
        """``(2, H, W)`` displacement from time 0 to ``t − N`` (pixels)."""
        return self._displacement(self._check(t) - self.num_steps)


@dataclass(frozen=True)
class InputTruth:
    """What a user would give the pipeline for the input view, exactly.

    Attributes:
        image: ``(3, H, W)`` float32 photo in [0, 1] (scene time 0, input camera).
        depth: ``(1, H, W)`` float32 z-depth at pixel centres, scene units.
        fluid: ``(H, W)`` bool union of the fluid regions.
        regions: one :class:`FluidRegionTruth` per visible fluid window.
        flow: ``(2, H, W)`` float32 true instantaneous image velocity, pixels per step (0 outside
            the fluid).
        motion: :class:`AnalyticMotion` (exact displacements).
        camera: the input camera.
        num_steps: loop length ``N``.
    """

    image: torch.Tensor
    depth: torch.Tensor
    fluid: torch.Tensor
    regions: list[FluidRegionTruth]
    flow: torch.Tensor
    motion: AnalyticMotion
    camera: PinholeCamera
    num_steps: int


@dataclass(frozen=True)
class VideoTruth:
    """The exact video along a trajectory and everything the metrics compare against.

    Frame ``k`` of ``K`` is at scene time ``t_k = k·N/K``; pairs are cyclic (pair ``k`` is frame
    ``k`` → frame ``(k+1) mod K``, ``Δt = N/K`` steps, the last pair crosses the loop seam).

    Attributes:
        frames: ``(K, 3, H, W)`` float32 in [0, 1].
        depth: ``(K, 1, H, W)`` float32 z-depth at pixel centres.
        regions: ``(K, 3, H, W)`` bool masks ``fluid, static, disoccluded`` (a partition of the
            pixels that see a surface).
        flow_fwd: ``(K, 2, H, W)`` float32 optical flow of pair ``k`` on frame ``k``'s pixels:
            frame ``k`` pixel ``x`` shows the material seen at ``x + flow`` in frame ``k+1``.
        valid_fwd: ``(K, 1, H, W)`` bool, the material is visible in both frames.
        flow_bwd: ``(K, 2, H, W)`` float32 flow of pair ``k`` on frame ``k+1``'s pixels, back to
            frame ``k``.
        valid_bwd: ``(K, 1, H, W)`` bool.
        times: ``(K,)`` scene times.
    """

    frames: torch.Tensor
    depth: torch.Tensor
    regions: torch.Tensor
    flow_fwd: torch.Tensor
    valid_fwd: torch.Tensor
    flow_bwd: torch.Tensor
    valid_bwd: torch.Tensor
    times: list[float]


def _hint_points(mask: np.ndarray, grid: int = 3) -> np.ndarray:
    """Up to ``grid²`` pixel indices (row, col) inside ``mask`` spread over its bounding box."""
    rows, cols = np.nonzero(mask)
    r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
    picks = []
    for fr in np.linspace(0.2, 0.8, grid):
        for fc in np.linspace(0.2, 0.8, grid):
            tr, tc = r0 + fr * (r1 - r0), c0 + fc * (c1 - c0)
            k = int(np.argmin((rows - tr) ** 2 + (cols - tc) ** 2))
            picks.append((rows[k], cols[k]))
    return np.array(sorted(set(picks)))


def input_truth(scene: AnalyticScene, supersample: int = 2) -> InputTruth:
    """The photo, depth, fluid masks, hints, true field and exact motion of the input view.

    Args:
        scene: :class:`AnalyticScene`.
        supersample: rays per pixel side for the photo.
    """
    H, W = scene.camera.height, scene.camera.width
    T0, K0 = np.eye(4), scene.K0
    image = scene.render(T0, K0, 0.0, supersample)
    uv = _pixel_centres(H, W)
    hits = scene.hit(T0, K0, uv)
    if (hits.plane < 0).any():
        raise InputError(
            f"scene {scene.name!r}", "a backdrop behind every input pixel", "rays that hit nothing"
        )
    fl = scene.fluid_index(hits)
    # True velocity: derivative of the projection of the advected point, by a tiny step.
    eps = 1e-4
    X1, _ = scene.advect(hits, fl, eps)
    uv1, _ = _project(T0, K0, X1)
    flow = ((uv1 - uv) / eps).T.reshape(2, H, W)
    flow[:, (fl < 0).reshape(H, W)] = 0.0
    regions = []
    for j, (_, f) in enumerate(scene.fluids):
        mask = (fl == j).reshape(H, W)
        if not mask.any():
            continue
        pts = _hint_points(mask)
        starts = np.stack([pts[:, 1] + 0.5, pts[:, 0] + 0.5], 1)
        vectors = flow[:, pts[:, 0], pts[:, 1]].T
        regions.append(
            FluidRegionTruth(
                f.name,
                torch.from_numpy(mask),
                torch.from_numpy(starts).float(),
                torch.from_numpy(vectors).float(),
            )
        )
    return InputTruth(
        image=torch.from_numpy(image).float(),
        depth=torch.from_numpy(hits.depth.reshape(1, H, W)).float(),
        fluid=torch.from_numpy((fl >= 0).reshape(H, W)),
        regions=regions,
        flow=torch.from_numpy(flow).float(),
        motion=AnalyticMotion(scene),
        camera=scene.camera,
        num_steps=scene.num_steps,
    )


def _pair_flow(
    scene: AnalyticScene, Ta: np.ndarray, Ka: np.ndarray, Tb: np.ndarray, Kb: np.ndarray, ta: float, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """Flow ``(2, H, W)`` and validity ``(H, W)`` from frame ``a`` (time ``ta``) to a frame ``b``
    ``dt`` steps later (``dt`` may be negative), on frame ``a``'s pixel centres."""
    H, W = scene.camera.height, scene.camera.width
    uv = _pixel_centres(H, W)
    hits = scene.hit(Ta, Ka, uv)
    fl = scene.fluid_index(hits)
    X, ok = scene.advect(hits, fl, dt)
    uvb, z = _project(Tb, Kb, X)
    ok &= (hits.plane >= 0) & scene.visible(Tb, Kb, X, hits.plane)
    flow = np.where(ok[:, None], uvb - uv, 0.0)
    return flow.T.reshape(2, H, W), ok.reshape(H, W)


def video_truth(scene: AnalyticScene, trajectory: Trajectory, supersample: int = 2) -> VideoTruth:
    """Ray-cast the exact video of ``scene`` along ``trajectory`` (``K`` frames, one loop).

    Args:
        scene: :class:`AnalyticScene`.
        trajectory: camera path at the scene's image size (poses in scene units).
        supersample: rays per pixel side.

    Returns:
        :class:`VideoTruth`.
    """
    H, W = scene.camera.height, scene.camera.width
    if (trajectory.width, trajectory.height) != (W, H):
        raise InputError("trajectory", f"{W}×{H} frames", f"{trajectory.width}×{trajectory.height}")
    Ts = trajectory.cam_from_world.double().numpy()
    Ks = trajectory.K.double().numpy()
    n = len(trajectory)
    N = scene.num_steps
    times = [k * N / n for k in range(n)]
    dt = N / n
    T0, K0 = np.eye(4), scene.K0
    frames, depth, regions = [], [], []
    ffwd, vfwd, fbwd, vbwd = [], [], [], []
    uv = _pixel_centres(H, W)
    for k in range(n):
        frames.append(scene.render(Ts[k], Ks[k], times[k], supersample))
        hits = scene.hit(Ts[k], Ks[k], uv)
        depth.append(np.where(hits.plane >= 0, hits.depth, 0.0).reshape(1, H, W))
        seen = hits.plane >= 0
        disocc = seen & ~scene.visible(T0, K0, hits.world, hits.plane)
        fluid = seen & ~disocc & (scene.fluid_index(hits) >= 0)
        static = seen & ~disocc & ~fluid
        regions.append(np.stack([fluid, static, disocc]).reshape(3, H, W))
        k1 = (k + 1) % n
        f, v = _pair_flow(scene, Ts[k], Ks[k], Ts[k1], Ks[k1], times[k], dt)
        ffwd.append(f)
        vfwd.append(v[None])
        f, v = _pair_flow(scene, Ts[k1], Ks[k1], Ts[k], Ks[k], times[k] + dt, -dt)
        fbwd.append(f)
        vbwd.append(v[None])

    def t32(a):
        return torch.from_numpy(np.stack(a)).float()

    return VideoTruth(
        frames=t32(frames),
        depth=t32(depth),
        regions=torch.from_numpy(np.stack(regions)),
        flow_fwd=t32(ffwd),
        valid_fwd=torch.from_numpy(np.stack(vfwd)),
        flow_bwd=t32(fbwd),
        valid_bwd=torch.from_numpy(np.stack(vbwd)),
        times=times,
    )


# --------------------------------------------------------------------------- scene library
_X, _Y, _Z = np.eye(3)


def _static_texture(
    rng: np.random.Generator, base, contrast: float, px: float, lam_px=(6.0, 40.0), n: int = 6, slope=None
) -> Texture:
    """Random band-limited texture with wavelengths ``lam_px`` pixels where one pixel spans
    ``px`` plane units."""
    waves = []
    for _ in range(n):
        th = rng.uniform(0, math.pi)
        lam = math.exp(rng.uniform(math.log(lam_px[0]), math.log(lam_px[1]))) * px
        k = 2 * math.pi / lam
        col = contrast / n**0.5 * (0.6 + 0.4 * rng.uniform(-1, 1, 3))
        waves.append([k * math.cos(th), k * math.sin(th), rng.uniform(0, 2 * math.pi), *col])
    slope = np.zeros((2, 3)) if slope is None else np.asarray(slope, float)
    return Texture(np.asarray(base, float), slope, np.asarray(waves, float))


def _flow_texture(
    rng: np.random.Generator, base, contrast: float, px_across: float, max_m: int, n: int = 4
) -> FlowTexture:
    """Random flow texture: ``m`` cycles per loop period (``1 … max_m``) along the flow and
    wavelengths of 10–30 ``px_across`` plane units across it."""
    waves = []
    for j in range(n):
        m = 1 + j % max(1, max_m)
        k = 2 * math.pi / (rng.uniform(10.0, 30.0) * px_across) * rng.choice([-1.0, 1.0])
        col = contrast / n**0.5 * (0.7 + 0.3 * rng.uniform(-1, 1, 3))
        waves.append([m, k, rng.uniform(0, 2 * math.pi), *col])
    return FlowTexture(np.asarray(base, float), np.asarray(waves, float))


def _max_m(speed_px: float, num_steps: int, min_lambda_px: float = 5.0) -> int:
    """Most cycles per loop period whose wavelength stays above ``min_lambda_px``."""
    return max(1, int(speed_px * num_steps / min_lambda_px))


def lake_scene(width: int, height: int, num_steps: int, speed: float = 1.5, seed: int = 0) -> AnalyticScene:
    """A lake on a ground plane flowing to the right, a rock standing in it, a mountain backdrop
    with clouds drifting left.

    Camera 1 unit above the water (ground plane ``Y = 1``), lake from the bottom of the image to
    ``Z = 16``, shore to the backdrop at ``Z = 20``, rock (ellipse) at ``Z = 6``. ``speed`` is the
    water's image speed at ``Z = 8`` in pixels per step; clouds move at 0.4 × that (at ``Z = 20``).
    """
    rng = np.random.default_rng(seed)
    cam = PinholeCamera.default(width, height)
    f = cam.fx
    z_back = 20.0
    # Backdrop: plane coordinates (a, b) = (X, Y) at Z = z_back; sky above, mountains below.
    px_back = z_back / f
    y_sky = (0.22 * height - cam.cy) * px_back  # sky window bottom edge (world Y)
    back_tex = _static_texture(rng, [0.36, 0.40, 0.42], 0.35, px_back, (5, 30))
    v_cloud = 0.4 * speed * z_back / f
    clouds = Fluid(
        "clouds",
        "rect",
        np.array([0.0, y_sky - 50.0]),
        np.array([200.0, 50.0]),
        np.array([-v_cloud, 0.0]),
        _flow_texture(rng, [0.62, 0.72, 0.9], 0.45, px_back, _max_m(0.4 * speed, num_steps)),
    )
    back = Plane("backdrop", np.array([0.0, 0.0, z_back]), _X, _Y, back_tex, fluids=(clouds,))
    # Ground: plane coordinates (a, b) = (X, Z) on Y = 1.
    z_lake = 16.0
    px_ground = 8.0 / f
    v_water = speed * 8.0 / f
    water = Fluid(
        "water",
        "rect",
        np.array([0.0, z_lake / 2]),
        np.array([200.0, z_lake / 2]),
        np.array([v_water, 0.0]),
        # Across the flow (Z) a pixel spans up to ~z²/f units at the far shore: keep it smooth
        # there; along it, bound the cycles by the image speed at the far end (Z = 16).
        _flow_texture(rng, [0.15, 0.35, 0.5], 0.4, 0.4, _max_m(speed * 8.0 / z_lake, num_steps)),
    )
    shore_tex = _static_texture(rng, [0.45, 0.42, 0.3], 0.3, px_ground, (8, 40), n=4)
    shore_tex = Texture(shore_tex.base, shore_tex.slope, shore_tex.waves * np.array([1, 0.05, 1, 1, 1, 1]))
    ground = Plane(
        "ground",
        np.array([0.0, 1.0, 0.0]),
        _X,
        _Z,
        shore_tex,
        "rect",
        np.array([0.0, z_back / 2]),
        np.array([400.0, z_back / 2]),
        (water,),
    )
    # Rock: an ellipse facing the camera at Z = 6, left of centre.
    z_rock = 6.0
    px_rock = z_rock / f
    rock = Plane(
        "rock", np.array([0.0, 0.0, z_rock]), _X, _Y,
        _static_texture(rng, [0.45, 0.38, 0.32], 0.4, px_rock, (4, 20)),
        "ellipse", np.array([-0.22 * width * px_rock, 0.6]), np.array([0.11 * width * px_rock, 0.55]),
    )  # fmt: skip
    return AnalyticScene("lake", (back, ground, rock), cam, num_steps, np.array([0.5, 0.6, 0.8]))


def falls_scene(width: int, height: int, num_steps: int, speed: float = 1.5, seed: int = 1) -> AnalyticScene:
    """A waterfall (a fluid window flowing down) in a cliff at ``Z = 10`` behind a tree trunk at
    ``Z = 4``; ``speed`` is the water's image speed in pixels per step."""
    rng = np.random.default_rng(seed)
    cam = PinholeCamera.default(width, height)
    f = cam.fx
    z_cliff, z_trunk = 10.0, 4.0
    px = z_cliff / f
    fall = Fluid(
        "waterfall",
        "rect",
        np.array([0.05 * width * px, -0.1 * height * px]),
        np.array([0.14 * width * px, 0.45 * height * px]),
        np.array([0.0, speed * px]),
        _flow_texture(rng, [0.7, 0.8, 0.88], 0.45, px, _max_m(speed, num_steps)),
    )
    cliff = Plane(
        "cliff", np.array([0.0, 0.0, z_cliff]), _X, _Y,
        _static_texture(rng, [0.42, 0.36, 0.3], 0.4, px, (5, 30)), fluids=(fall,),
    )  # fmt: skip
    pt = z_trunk / f
    trunk = Plane(
        "trunk", np.array([0.0, 0.0, z_trunk]), _X, _Y,
        _static_texture(rng, [0.3, 0.22, 0.15], 0.3, pt, (3, 12)),
        "rect", np.array([-0.12 * width * pt, 0.1 * height * pt]), np.array([0.06 * width * pt, 0.7 * height * pt]),
    )  # fmt: skip
    return AnalyticScene("falls", (cliff, trunk), cam, num_steps)


def window_scene(width: int, height: int, num_steps: int, speed: float = 1.5, seed: int = 2) -> AnalyticScene:
    """A far landscape (clouds drifting right above still hills, ``Z = 12``) seen through a near
    window frame with a mullion (``Z = 2.5``) and a bush (``Z = 5``): large disocclusions."""
    rng = np.random.default_rng(seed)
    cam = PinholeCamera.default(width, height)
    f = cam.fx
    z_far, z_frame, z_bush = 12.0, 2.5, 5.0
    px = z_far / f
    y_sky = (0.5 * height - cam.cy) * px
    clouds = Fluid(
        "sky",
        "rect",
        np.array([0.0, y_sky - 30.0]),
        np.array([100.0, 30.0]),
        np.array([speed * px, 0.0]),
        _flow_texture(rng, [0.6, 0.7, 0.92], 0.5, px, _max_m(speed, num_steps)),
    )
    far = Plane(
        "landscape", np.array([0.0, 0.0, z_far]), _X, _Y,
        _static_texture(rng, [0.35, 0.48, 0.3], 0.35, px, (5, 30)), fluids=(clouds,),
    )  # fmt: skip
    pf = z_frame / f
    frame_tex = _static_texture(rng, [0.55, 0.5, 0.45], 0.25, pf, (3, 15))
    hw, hh = 0.5 * width * pf, 0.5 * height * pf
    bar, beam = 0.12 * width * pf, 0.16 * height * pf
    planes = [far]
    for name, cx, cy, sx, sy in [
        ("left", -hw + bar / 2, 0.0, bar / 2, 2 * hh),
        ("right", hw - bar / 2, 0.0, bar / 2, 2 * hh),
        ("top", 0.0, -hh + beam / 2, 2 * hw, beam / 2),
        ("mullion", -0.06 * width * pf, 0.0, bar / 5, 2 * hh),
    ]:
        planes.append(
            Plane(f"frame-{name}", np.array([0.0, 0.0, z_frame]), _X, _Y, frame_tex, "rect",
                  np.array([cx, cy]), np.array([sx, sy]))
        )  # fmt: skip
    pb = z_bush / f
    planes.append(
        Plane("bush", np.array([0.0, 0.0, z_bush]), _X, _Y,
              _static_texture(rng, [0.2, 0.4, 0.15], 0.35, pb, (3, 12)), "ellipse",
              np.array([0.15 * width * pb, 0.45 * height * pb]), np.array([0.16 * width * pb, 0.18 * height * pb]))
    )  # fmt: skip
    return AnalyticScene("window", tuple(planes), cam, num_steps)


SCENES: dict[str, Callable[..., AnalyticScene]] = {
    "lake": lake_scene,
    "falls": falls_scene,
    "window": window_scene,
}


def make_scene(name: str, width: int, height: int, num_steps: int, speed: float = 1.5) -> AnalyticScene:
    """Build a library scene by name (see :data:`SCENES`)."""
    if name not in SCENES:
        raise InputError("scene", f"one of {', '.join(SCENES)}", repr(name))
    if width < 16 or height < 16:
        raise InputError("scene size", "at least 16×16", f"{width}×{height}")
    if not (isinstance(num_steps, int) and num_steps >= 1):
        raise InputError("num_steps", "an integer >= 1", num_steps)
    return SCENES[name](width, height, num_steps, speed)
