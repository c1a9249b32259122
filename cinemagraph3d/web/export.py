"""Export a prepared 3D cinemagraph as a self-contained interactive web page.

The page (``index.html``) draws the layered depth image as one depth-displaced mesh per layer
with three.js (vendored, ``vendor/three.min.js``) and moves the fluid on the GPU in a fragment
shader (``viewer.js``): two-phase Eulerian advection of each layer's colour through the exported
motion field, mixed with the time weight of the offline fusion
(:func:`~cinemagraph3d.render.fuse.fuse_bidirectional`). ``docs/web.md`` explains the model and
how close it is to the offline render.

Layering: :func:`web_scene` is pure (a prepared scene in, arrays and numbers out);
:func:`write_web` writes a folder through the project's output rule (``docs/safety.md``);
:func:`export_web` wires the two to a :class:`~cinemagraph3d.project.Project` through
:func:`prepared_from_project`, the one place that reads a project's fields.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import os
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError

log = logging.getLogger("cinemagraph3d")

__all__ = [
    "WebSettings",
    "WebInputs",
    "WebScene",
    "WebLayer",
    "prepared_from_project",
    "project_from_photo",
    "web_scene",
    "write_web",
    "export_web",
    "orbit_pose",
    "TEXTURE_FORMATS",
]

#: Colour texture encodings of :class:`WebSettings` (``png`` is lossless).
TEXTURE_FORMATS = ("webp", "jpeg", "png")
_HERE = Path(__file__).resolve().parent
#: Files copied from this package into every exported folder.
_STATIC = ("index.html", "viewer.js", "vendor/three.min.js", "vendor/LICENSE")


@dataclass(frozen=True)
class WebSettings:
    """Settings of the web export.

    Attributes:
        mesh_step: spacing of the mesh vertices, pixels of the working photo (the colour,
            alpha and motion textures keep the full resolution; ``>= 1``).
        texture_format: colour texture encoding, one of :data:`TEXTURE_FORMATS`.
        texture_quality: lossy quality 1–100 of ``webp``/``jpeg`` (ignored for ``png``).
        orbit_amplitude: radius of the interactive camera range as a fraction of the near
            depth (None: the project's camera amplitude, or 0.03 when that is 0).
        substeps: Euler substeps of the shader's backward trace of the fluid (``>= 1``).
        mesh_tolerance: how far (pixels of the view, at the rim of the camera range) the
            simplified mesh may move a surface point from where the full ``mesh_step`` grid
            puts it: blocks of cells whose vertices lie on one plane within this are drawn as
            a few large triangles (``>= 0``; 0 merges exact planes only).
    """

    mesh_step: int = 8
    texture_format: str = "webp"
    texture_quality: int = 90
    orbit_amplitude: float | None = None
    substeps: int = 1
    mesh_tolerance: float = 0.05

    def validate(self) -> WebSettings:
        """Check every field; raises :class:`InputError` naming the field."""
        if (
            isinstance(self.mesh_step, bool)
            or not isinstance(self.mesh_step, int)
            or not 1 <= self.mesh_step <= 64
        ):
            raise InputError("web.mesh_step", "an integer in [1, 64] (pixels)", self.mesh_step)
        if self.texture_format not in TEXTURE_FORMATS:
            raise InputError(
                "web.texture_format", f"one of {', '.join(TEXTURE_FORMATS)}", repr(self.texture_format)
            )
        q = self.texture_quality
        if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 100:
            raise InputError("web.texture_quality", "an integer in [1, 100]", q)
        a = self.orbit_amplitude
        if a is not None and not (isinstance(a, (int, float)) and math.isfinite(a) and 0 <= a <= 0.1):
            raise InputError("web.orbit_amplitude", "a fraction of the near depth in [0, 0.1]", a)
        s = self.substeps
        if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= 64:
            raise InputError("web.substeps", "an integer in [1, 64]", s)
        t = self.mesh_tolerance
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and 0 <= t <= 10):
            raise InputError("web.mesh_tolerance", "pixels in [0, 10]", t)
        return self


@dataclass(frozen=True)
class WebInputs:
    """What the exporter takes from a prepared project.

    Attributes:
        prepared: :class:`~cinemagraph3d.api.Prepared` (scene, trajectory, motion, settings).
        loop_steps: motion steps ``N`` per loop.
        fps: frames per second of the offline video (sets the page's playback rate).
        amplitude: the camera amplitude, fraction of the near depth.
        inputs: the project's input paths (an output may not be one of them).
    """

    prepared: object
    loop_steps: int
    fps: float
    amplitude: float
    inputs: list[str] = field(default_factory=list)


def project_from_photo(photo: str | os.PathLike, **fields):
    """A :class:`~cinemagraph3d.project.Project` for ``photo`` from the command line's flat
    field names (``depth``, ``masks``, ``arrows``, ``camera``, ``frames``...; see
    :data:`cinemagraph3d.project.V1_FIELDS`), validated. Fields left None are not set."""
    from ..project import Project

    given = {k: v for k, v in fields.items() if v is not None}
    return Project.from_flat(image=str(photo), **given).validate()


def prepared_from_project(project, allow_download: bool = False) -> WebInputs:
    """The one adapter from a :class:`~cinemagraph3d.project.Project` to the exporter: check
    its inputs (:func:`~cinemagraph3d.api.check_project`), prepare it
    (:func:`~cinemagraph3d.api.prepare_project`) and read the few project fields the page needs.
    """
    from ..api import check_project, prepare_project

    check_project(project)
    prepared = prepare_project(project, allow_download=allow_download)
    p = prepared.project
    if prepared.trajectory.width != prepared.scene.camera.width:
        raise InputError("camera.path", "frames at the photo's size", prepared.trajectory.width)
    return WebInputs(
        prepared=prepared,
        loop_steps=int(p.motion.loop_steps),
        fps=float(p.output.fps),
        amplitude=float(p.camera.amplitude),
        inputs=[str(x) for x in p.paths() if x],
    )


@dataclass(frozen=True)
class WebLayer:
    """One LDI layer as the page draws it.

    Attributes:
        color: ``(H, W, 3)`` uint8; pixels outside the layer's support hold the nearest
            supported colour (the farthest layer: a push–pull fill), so bilinear filtering
            never darkens an edge.
        alpha: ``(H, W)`` uint8 coverage (the farthest layer: 255 everywhere, the backdrop).
        disparity: ``(Gy, Gx)`` float32 inverse z-depth (1/scene units) at the mesh vertices.
        motion: ``(H, W, 2)`` float16 Eulerian motion of the layer's points in px/step (each
            point follows its donor pixel, as offline), or None where nothing in it moves.
        cells: ``(Gy - 1, Gx - 1)`` uint8 flags of the mesh cells: bit 0 the cell shows
            something (alpha > 0 within 1 px of it), bit 1 the fluid moves in it (M != 0 within
            1 px).
        still: ``(Ts, 3)`` int32 triangles (vertex indices into the row-major ``(Gy, Gx)``
            grid) over the cells that show something and do not move: the simplified mesh
            (:func:`mesh_triangles`), drawn with the plain shader.
        fluid: ``(Tf, 3)`` int32 triangles over the moving cells, drawn with the fluid shader.
    """

    color: np.ndarray
    alpha: np.ndarray
    disparity: np.ndarray
    motion: np.ndarray | None
    cells: np.ndarray
    still: np.ndarray
    fluid: np.ndarray


@dataclass(frozen=True)
class WebScene:
    """Everything the page needs, as arrays and numbers (see :func:`web_scene`).

    Attributes:
        meta: JSON-ready dict: sizes, input intrinsics, mesh grid, loop, fusion, the zoomed
            project trajectory (``auto`` mode) and the interactive camera range (``orbit``).
        layers: :class:`WebLayer` per LDI layer, near (0) to far.
        phase: ``(H, W)`` uint8 switch times of the dissolve fusion (``φ·255``), or None.
    """

    meta: dict
    layers: list[WebLayer]
    phase: np.ndarray | None


def _nearest_fill(values: np.ndarray, support: np.ndarray) -> np.ndarray:
    """``values`` ``(H, W, C)`` with every unsupported pixel set to its nearest supported one."""
    from scipy.ndimage import distance_transform_edt

    if support.all() or not support.any():
        return values
    _, (ri, ci) = distance_transform_edt(~support, return_indices=True)
    return values[ri, ci]


def _grid(n: int, step: int) -> np.ndarray:
    """Vertex coordinates ``0, step, 2·step, …, n`` along one image axis (pixel edges)."""
    g = np.arange(0, n, step, dtype=np.float64)
    return np.append(g, float(n))


def _vertex_disparity(disp: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Disparity ``(H, W)`` at the pixel corners ``(ys × xs)``: the mean of the (up to) four
    pixels touching each corner, borders replicated."""
    p = np.pad(disp, 1, mode="edge")
    c = 0.25 * (p[:-1, :-1] + p[:-1, 1:] + p[1:, :-1] + p[1:, 1:])  # (H+1, W+1) corners
    return c[np.ix_(ys.astype(np.int64), xs.astype(np.int64))].astype(np.float32)


def _cell_flags(covered: np.ndarray, moving: np.ndarray | None, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Per mesh cell: bit 0 any ``covered`` pixel, bit 1 any ``moving`` pixel, each within 1 px
    of the cell (the reach of a bilinear lookup from inside it)."""
    from scipy.ndimage import binary_dilation

    def per_cell(mask: np.ndarray) -> np.ndarray:
        m = binary_dilation(mask, np.ones((3, 3), bool)).astype(np.uint8)
        rows = np.maximum.reduceat(m, ys[:-1].astype(np.int64), axis=0)
        return np.maximum.reduceat(rows, xs[:-1].astype(np.int64), axis=1)

    out = per_cell(covered)
    if moving is not None:
        out = out | (per_cell(moving) << 1)
    return out.astype(np.uint8)


def _block_residual(disp: np.ndarray, s: int) -> np.ndarray:
    """Per block of ``s × s`` cells tiling the vertex grid ``disp`` ``(Gy, Gx)`` from its
    origin: the largest distance of the block's ``(s + 1)²`` vertex values from their
    least-squares affine fit in (column, row); ``(ceil((Gy-1)/s), ceil((Gx-1)/s))``, inf for
    blocks that run past the grid."""
    gy, gx = disp.shape
    nby, nbx = -(-(gy - 1) // s), -(-(gx - 1) // s)
    pad = np.full((nby * s + 1, nbx * s + 1), np.nan)
    pad[:gy, :gx] = disp
    win = np.lib.stride_tricks.sliding_window_view(pad, (s + 1, s + 1))[::s, ::s]
    ii, jj = np.mgrid[0 : s + 1, 0 : s + 1]
    A = np.stack([jj.ravel(), ii.ravel(), np.ones((s + 1) ** 2)], 1)
    hat = A @ np.linalg.pinv(A)  # values -> their affine fit
    v = win.reshape(nby, nbx, -1)
    r = np.abs(v - v @ hat.T).max(-1)
    return np.where(np.isnan(r), np.inf, r)


def mesh_triangles(
    disparity: np.ndarray, cells: np.ndarray, tolerance: float, max_level: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """The layer's mesh, simplified where it is planar: ``(still, fluid)`` triangles.

    A quadtree over the mesh cells: a block of ``2^l × 2^l`` cells (``l <= max_level``) is
    drawn as one piece when its four sub-blocks are, all its cells have one flag (see
    :class:`WebLayer`) and its vertex disparities lie within ``tolerance / 2`` of one affine
    function of the pixel position, i.e. of one 3D plane (inverse depth is affine in the image
    over a plane), so the drawn surface is within ``tolerance`` of the full grid's. A piece
    is two triangles, or, when smaller neighbours have vertices on its border, a fan from its
    centre vertex through every such vertex: the triangulation is conforming (no T-junction,
    no crack). Empty cells (flag 0) are not drawn.

    Args:
        disparity: ``(Gy, Gx)`` inverse depth at the vertices (1/scene units).
        cells: ``(Gy - 1, Gx - 1)`` uint8 cell flags (bit 0 shown, bit 1 moving).
        tolerance: allowed disparity error (1/scene units), ``>= 0``.
        max_level: largest block, ``2^max_level`` cells a side.

    Returns:
        ``still`` ``(Ts, 3)`` and ``fluid`` ``(Tf, 3)`` int32 vertex indices into the
        row-major grid (``index = row · Gx + column``).
    """
    gy, gx = disparity.shape
    cy, cx = gy - 1, gx - 1
    disp = disparity.astype(np.float64)
    flags = cells.astype(np.int16)
    ok = [np.ones((cy, cx), bool)]  # ok[l][bi, bj]: the block (bi, bj) of 2^l cells is one piece
    for lvl in range(1, max_level + 1):
        s = 1 << lvl
        nby, nbx = -(-cy // s), -(-cx // s)
        padded = np.full((nby * s, nbx * s), -1, np.int16)  # -1: outside the grid, never merged
        padded[:cy, :cx] = flags
        blocks = padded.reshape(nby, s, nbx, s)
        fmin, fmax = blocks.min((1, 3)), blocks.max((1, 3))
        kids = np.zeros((2 * nby, 2 * nbx), bool)
        kids[: ok[-1].shape[0], : ok[-1].shape[1]] = ok[-1]
        merge = kids.reshape(nby, 2, nbx, 2).all((1, 3)) & (fmin == fmax) & (fmin >= 0)
        merge &= (fmax == 0) | (_block_residual(disp, s) <= 0.5 * tolerance)
        ok.append(merge)
    # the pieces: the largest blocks that are one piece, top level first; single cells last
    owner = np.zeros((cy, cx), bool)
    pieces = []  # (size in cells, top row, left column), size >= 2
    for lvl in range(len(ok) - 1, 0, -1):
        s = 1 << lvl
        bi, bj = np.nonzero(ok[lvl])
        i0, j0 = bi * s, bj * s
        free = ~owner[i0, j0]
        for i, j in zip(i0[free].tolist(), j0[free].tolist()):
            owner[i : i + s, j : j + s] = True
            if flags[i, j] > 0:
                pieces.append((s, i, j))
    si, sj = np.nonzero(~owner & (flags > 0))  # the drawn single cells
    corner = np.zeros((gy, gx), bool)  # vertices that are a corner of some drawn piece
    corner[si, sj] = corner[si + 1, sj] = corner[si, sj + 1] = corner[si + 1, sj + 1] = True
    for s, i, j in pieces:
        corner[[i, i, i + s, i + s], [j, j + s, j, j + s]] = True
    a, b = si * gx + sj, si * gx + sj + 1
    c, d = a + gx, b + gx
    quads = np.stack([a, c, b, b, c, d], 1).reshape(-1, 2, 3)  # two triangles per cell
    moving = (flags[si, sj] & 2) > 0
    out: dict[bool, list] = {False: [quads[~moving].reshape(-1, 3)], True: [quads[moving].reshape(-1, 3)]}
    for s, i, j in pieces:
        a, b, c, d = i * gx + j, i * gx + j + s, (i + s) * gx + j, (i + s) * gx + j + s
        k = np.arange(s)
        ring_i = np.concatenate([np.full(s, i), i + k, np.full(s, i + s), i + s - k])  # clockwise
        ring_j = np.concatenate([j + k, np.full(s, j + s), j + s - k, np.full(s, j)])
        keep = corner[ring_i, ring_j]
        if int(keep.sum()) == 4:
            tris = np.array([(a, c, b), (b, c, d)])
        else:  # smaller neighbours: a fan from the centre through every vertex on the border
            ring = ring_i[keep] * gx + ring_j[keep]
            m = (i + s // 2) * gx + j + s // 2
            tris = np.stack([np.full(len(ring), m), ring, np.roll(ring, -1)], 1)
        out[bool(flags[i, j] & 2)].append(tris)
    return tuple(np.concatenate(out[f]).astype(np.int32).reshape(-1, 3) for f in (False, True))


def orbit_pose(ox: float, oy: float, dolly: float, radius: float, z_subject: float) -> torch.Tensor:
    """``cam_from_world`` ``(4, 4)`` float64 of the page's orbit camera (the same formula as
    ``viewer.js``): centre ``c = (r·ox, r·oy, r·dolly)`` scene units, turned to look at the
    subject point ``(0, 0, z_subject)`` with the world's +y as down.

    Args:
        ox, oy: position in the unit disc (``ox² + oy² <= 1``; right and down).
        dolly: forward (+) or back (−) in ``[-1, 1]``.
        radius: ``r``, scene units.
        z_subject: depth of the subject point, scene units (> r).
    """
    c = torch.tensor([radius * ox, radius * oy, radius * dolly], dtype=torch.float64)
    f = torch.tensor([0.0, 0.0, z_subject], dtype=torch.float64) - c
    f = f / f.norm()
    r = torch.linalg.cross(torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), f)
    r = r / r.norm()
    d = torch.linalg.cross(f, r)
    R_wc = torch.stack([r, d, f], 1)
    T = torch.eye(4, dtype=torch.float64)
    T[:3, :3] = R_wc.T
    T[:3, 3] = -(R_wc.T @ c)
    return T


def _orbit_zoom(scene, radius: float, enabled: bool) -> float:
    """The safe zoom (:func:`~cinemagraph3d.geometry.trajectory.safe_zoom`, the offline rule)
    over the whole interactive range: poses on the rim of the orbit disc at the dolly extremes
    and in between, and the centre line."""
    from ..geometry.trajectory import Trajectory, safe_zoom
    from ..pipeline import border_points

    if not enabled or radius <= 0:
        return 1.0
    poses = []
    for dolly in (-1.0, 0.0, 1.0):
        poses.append(orbit_pose(0.0, 0.0, dolly, radius, scene.z_subject))
        for k in range(24):
            a = 2 * math.pi * k / 24
            poses.append(orbit_pose(math.cos(a), math.sin(a), dolly, radius, scene.z_subject))
    K = scene.camera.matrix(dtype=torch.float64)
    traj = Trajectory(
        torch.stack(poses), K[None].repeat(len(poses), 1, 1), scene.camera.width, scene.camera.height
    )
    return safe_zoom(traj, border_points(scene))


def _disparity_tolerance(tol_px: float, path, radius: float, orbit_zoom: float, cam) -> float:
    """The disparity error (1/scene units) that moves a point by at most ``tol_px`` pixels in
    any view of the page: a camera offset ``b`` from the input camera shifts a point by
    ``(f·|b_xy| + |u − c|·|b_z|)·Δ(1/z)`` pixels, bounded with the largest focal length, the
    view's half diagonal and the largest offset of the project's path and of the orbit range."""
    centres = torch.linalg.inv(path.cam_from_world.to(torch.float64))[:, :3, 3]
    baseline = max(float(centres.norm(dim=1).max()) if len(centres) else 0.0, math.sqrt(2) * radius)
    f = max(float(path.K[:, 0, 0].max()), float(path.K[:, 1, 1].max()), max(cam.fx, cam.fy) * orbit_zoom)
    scale = (f + 0.5 * math.hypot(cam.width, cam.height)) * baseline
    return math.inf if scale <= 0 else tol_px / scale


def web_scene(inputs: WebInputs, settings: WebSettings | None = None) -> WebScene:
    """The page's data from a prepared project (pure; nothing is written).

    Per layer: colour and alpha at the working resolution, the mesh's vertex disparity every
    ``mesh_step`` pixels, and the layer's Eulerian motion ``M`` (px/step; each point takes the
    motion of its donor pixel, as the offline renderer moves it). ``M`` is the first Euler step
    of the integrated motion, ``F(0→1)``, which is the field itself at every pixel centre (with
    turbulence: the field plus its value at ``t = 0``). The camera path of the project is
    exported already zoomed by the offline safe zoom (``auto`` mode); the interactive range is a
    disc of radius ``orbit_amplitude · z_near`` with a dolly of the same reach, and one safe
    zoom over the whole range.

    Args:
        inputs: :class:`WebInputs` (see :func:`prepared_from_project`).
        settings: :class:`WebSettings`.

    Returns:
        :class:`WebScene`.
    """
    from ..geometry.trajectory import safe_zoom
    from ..pipeline import border_points
    from ..render.fuse import dissolve_phase, fill_holes

    settings = (settings or WebSettings()).validate()
    prep = inputs.prepared
    scene, traj, motion, rs = prep.scene, prep.trajectory, prep.motion, prep.settings
    cam = scene.camera
    H, W = cam.height, cam.width
    ldi, cloud = scene.ldi, scene.cloud
    L = ldi.num_layers
    N = int(inputs.loop_steps)
    xs, ys = _grid(W, settings.mesh_step), _grid(H, settings.mesh_step)
    field_hw = None
    if motion is not None:
        field_hw = motion.forward(min(1.0, float(N))).detach().to("cpu", torch.float64)  # (2, H, W)
        if not bool((field_hw != 0).any()):
            field_hw = None
    # Per-layer motion: each point of the layer takes the motion of its donor pixel.
    layer_motion = [None] * L
    if field_hw is not None:
        flat_pix = (cloud.pixels[:, 1].long() * W + cloud.pixels[:, 0].long()).clamp(0, H * W - 1).cpu()
        donor = scene.donor.cpu()
        lyr = cloud.layer.cpu()
        m_flat = field_hw.reshape(2, -1)
        for k in range(L):
            sel = lyr == k
            mk = torch.zeros(2, H * W, dtype=torch.float64)
            mk[:, flat_pix[sel]] = m_flat[:, donor[sel]]
            if bool((mk != 0).any()):
                layer_motion[k] = mk.reshape(2, H, W).permute(1, 2, 0).numpy().astype(np.float16)
    layers = []
    for k in range(L):
        a = ldi.alpha[k, 0].detach().cpu().float()
        support = (a > 0).numpy()
        col = ldi.color[k].detach().cpu().float()
        if k == L - 1:  # the backdrop: the holes nothing covers get the offline hole filling's colour
            col = fill_holes(col, a[None])
            a = torch.ones_like(a)
        rgb = (col.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
        rgb = _nearest_fill(rgb, support) if k < L - 1 else rgb
        z = ldi.depth[k, 0].detach().cpu().double().numpy()
        ok = support & np.isfinite(z) & (z > 0)
        if not ok.any():  # an empty layer (possible after clustering): far, invisible
            ok = np.ones_like(ok)
            z = np.full_like(z, float(scene.depth.depth.max()))
        disp = _nearest_fill((1.0 / np.where(ok, z, 1.0))[..., None], ok)[..., 0]
        alpha = (a.clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8)
        moving = None if layer_motion[k] is None else (layer_motion[k] != 0).any(-1)
        cells = _cell_flags(alpha > 0, moving, xs, ys)
        layers.append((rgb, alpha, _vertex_disparity(disp, xs, ys), layer_motion[k], cells))
    # Time weighting of the offline fusion.
    fusion = rs.fusion
    method = "dissolve" if (rs.mode == "symmetric" and fusion.method == "dissolve") else "linear"
    if rs.mode != "symmetric":
        method = "forward"
    phase = None
    if method == "dissolve" and field_hw is not None:
        phi = dissolve_phase(H, W, fusion)[0].numpy()
        phase = np.clip(phi * 255.0 + 0.5, 0, 255).astype(np.uint8)
    # Cameras: the project's path with the offline safe zoom, and the interactive range.
    zoom = safe_zoom(traj, border_points(scene)) if rs.safe_zoom else 1.0
    tz = traj.zoomed(zoom)
    frac = settings.orbit_amplitude
    if frac is None:
        frac = inputs.amplitude if inputs.amplitude > 0 else 0.03
    radius = float(frac) * scene.z_near
    radius = min(radius, 0.5 * scene.z_subject)  # the orbit camera stays well in front of the subject
    orbit_zoom = _orbit_zoom(scene, radius, rs.safe_zoom)
    K_frames = len(tz)
    # The mesh: planar blocks simplified within mesh_tolerance pixels over the camera range.
    tol = _disparity_tolerance(settings.mesh_tolerance, tz, radius, orbit_zoom, cam)
    layers = [WebLayer(*ly, *mesh_triangles(ly[2], ly[4], tol)) for ly in layers]
    meta = {
        "format": "cinemagraph3d-web",
        "version": 1,
        "width": W,
        "height": H,
        "camera": {"fx": cam.fx, "fy": cam.fy, "cx": cam.cx, "cy": cam.cy},
        "z_near": scene.z_near,
        "z_subject": scene.z_subject,
        "grid": {"xs": xs.tolist(), "ys": ys.tolist()},
        "loop_steps": N,
        "frames": K_frames,
        "fps": inputs.fps,
        "fusion": {"method": method, "dissolve_width": float(fusion.dissolve_width)},
        "substeps": settings.substeps,
        "trajectory": {
            "cam_from_world": [[float(v) for v in T.flatten()] for T in tz.cam_from_world],
            "K": [
                [float(tz.K[i, 0, 0]), float(tz.K[i, 1, 1]), float(tz.K[i, 0, 2]), float(tz.K[i, 1, 2])]
                for i in range(K_frames)
            ],  # fmt: skip
            "zoom": zoom,
        },
        "orbit": {"radius": radius, "zoom": orbit_zoom, "amplitude": float(frac)},
        "layers": L,
    }
    return WebScene(meta, layers, phase)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _raw(arr: np.ndarray, dtype: str) -> dict:
    """A raw little-endian array, zlib-deflated (the page inflates it with DecompressionStream)."""
    a = np.ascontiguousarray(arr.astype(dtype, copy=False)).astype(np.dtype(dtype).newbyteorder("<"))
    return {
        "enc": "deflate",
        "dtype": dtype,
        "shape": list(a.shape),
        "data": _b64(zlib.compress(a.tobytes(), 9)),
    }


def _image(rgb: np.ndarray, fmt: str, quality: int) -> dict:
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(rgb, "RGB")
    if fmt == "png":
        im.save(buf, "PNG", optimize=True)
    elif fmt == "jpeg":
        im.save(buf, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2)
    else:
        im.save(buf, "WEBP", quality=quality, method=4)
    return {"enc": fmt, "shape": list(rgb.shape), "data": _b64(buf.getvalue())}


def scene_script(web: WebScene, settings: WebSettings | None = None) -> str:
    """``scene.js``: a classic script defining ``window.CG3D_SCENE`` (meta plus the encoded
    textures and meshes as base64), so the page loads from ``file://`` too (no fetch)."""
    settings = (settings or WebSettings()).validate()
    layers = []
    for ly in web.layers:
        layers.append(
            {
                "color": _image(ly.color, settings.texture_format, settings.texture_quality),
                "alpha": _raw(ly.alpha, "u1"),
                "disparity": _raw(ly.disparity, "<f4"),
                "still": _raw(ly.still, "<u4"),
                "fluid": _raw(ly.fluid, "<u4"),
                "motion": None if ly.motion is None else _raw(ly.motion, "<f2"),
            }
        )
    payload = {
        "meta": web.meta,
        "layers": layers,
        "phase": None if web.phase is None else _raw(web.phase, "u1"),
    }
    return "window.CG3D_SCENE = " + json.dumps(payload, separators=(",", ":")) + ";\n"


def _write_files(web: WebScene, folder: Path, settings: WebSettings) -> None:
    """The page's files into the (new, empty) ``folder``."""
    script = scene_script(web, settings)
    (folder / "vendor").mkdir()
    for rel in _STATIC:
        shutil.copyfile(_HERE / rel, folder / rel)
    (folder / "scene.js").write_text(script, encoding="utf-8")


def write_web(
    web: WebScene,
    out_dir: str | os.PathLike,
    *,
    settings: WebSettings | None = None,
    force: bool = False,
    inputs=(),
) -> Path:
    """Write the page folder: ``index.html``, ``viewer.js``, ``scene.js`` and
    ``vendor/three.min.js`` with its ``LICENSE``.

    The folder is written aside and renamed into place when complete; an existing ``out_dir``
    is replaced only with ``force`` and only if cinemagraph3d created it
    (:func:`~cinemagraph3d.checks.check_output_path`).

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.
    """
    from ..checks import check_output_path
    from ..io import make_output_dir, replace_output

    settings = (settings or WebSettings()).validate()
    out = check_output_path(out_dir, name="output", kind="dir", force=force, inputs=inputs)
    tmp = make_output_dir(out)
    try:
        _write_files(web, tmp, settings)
        replace_output(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def export_web(
    project,
    out_dir: str | os.PathLike,
    *,
    settings: WebSettings | None = None,
    force: bool = False,
    allow_download: bool = False,
    auto_sky: bool = False,
    extra_inputs=(),
) -> Path:
    """Export ``project`` as an interactive web page folder ``out_dir`` (see :func:`web_scene`).

    Every input and the output path are checked before any work, and the folder is created
    (aside, as a hidden sibling) before the heavy work too, so an unwritable place fails at
    once; it is renamed into place when complete and removed if anything fails: a failed run
    leaves nothing.

    Args:
        project: a :class:`~cinemagraph3d.project.Project`.
        out_dir: the folder to create (no suffix).
        settings: :class:`WebSettings`.
        force: replace an existing folder that cinemagraph3d created.
        allow_download: as in :func:`~cinemagraph3d.api.prepare_project`.
        auto_sky: with no motion input at all, animate the detected sky
            (:func:`~cinemagraph3d.api.with_auto_sky`; a note is logged when none is found).
        extra_inputs: more paths the output may not be or contain (e.g. the project file).

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.
    """
    from ..checks import check_output_path
    from ..io import make_output_dir, replace_output

    settings = (settings or WebSettings()).validate()
    project.validate()
    inputs = [str(p) for p in (*project.paths(), *extra_inputs) if p]
    out = check_output_path(out_dir, name="output", kind="dir", force=force, inputs=inputs)
    from ..api import check_project

    check_project(project)
    tmp = make_output_dir(out)
    try:
        if auto_sky:
            from ..api import with_auto_sky

            project, note = with_auto_sky(project)
            if note:
                log.info(note)
        web = web_scene(prepared_from_project(project, allow_download=allow_download), settings)
        _write_files(web, tmp, settings)
        replace_output(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
