"""Camera paths: built-in closed loops, custom JSON trajectories, and the automatic safe zoom.

A built-in path with ``K`` frames samples phase ``θ_k = 2π k / K``, so the frame after the last
equals the first and the video loops. Amplitudes are relative to the scene: the peak camera
displacement is ``amplitude × z_near`` (``z_near``: the 5th-percentile depth of the photo).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import InputError
from .camera import PinholeCamera, pixel_grid, unproject_depth

__all__ = [
    "Trajectory",
    "TrajectorySettings",
    "CAMERA_PATHS",
    "make_trajectory",
    "load_trajectory",
    "safe_zoom",
]

from ..limits import CAMERA_PATHS, MAX_FRAMES  # noqa: E402


@dataclass(frozen=True)
class Trajectory:
    """Per-frame camera poses and intrinsics.

    Attributes:
        cam_from_world: ``(T, 4, 4)`` float64 rigid transforms; the world frame is the input
            camera's frame, translations in scene units.
        K: ``(T, 3, 3)`` float64 intrinsics in pixels of a ``width × height`` image.
        width, height: output size in pixels.
    """

    cam_from_world: torch.Tensor
    K: torch.Tensor
    width: int
    height: int

    def __len__(self) -> int:
        return int(self.cam_from_world.shape[0])

    def zoomed(self, zoom: float) -> Trajectory:
        """Same poses with every focal length multiplied by ``zoom`` (principal point kept)."""
        K = self.K.clone()
        K[:, 0, 0] *= zoom
        K[:, 1, 1] *= zoom
        return Trajectory(self.cam_from_world, K, self.width, self.height)


@dataclass(frozen=True)
class TrajectorySettings:
    """Settings of a built-in camera path.

    Attributes:
        name: one of :data:`CAMERA_PATHS`.
        num_frames: number of frames ``K`` (> 0).
        amplitude: peak displacement as a fraction of the scene's near depth.
    """

    name: str = "circle"
    num_frames: int = 60
    amplitude: float = 0.03


def _pose(center: torch.Tensor, R_wc: torch.Tensor | None = None) -> torch.Tensor:
    """cam_from_world for a camera at ``center`` with world-from-camera rotation ``R_wc``."""
    R_wc = torch.eye(3, dtype=torch.float64) if R_wc is None else R_wc
    T = torch.eye(4, dtype=torch.float64)
    T[:3, :3] = R_wc.T
    T[:3, 3] = -(R_wc.T @ center)
    return T


def _yaw(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=torch.float64)


def make_trajectory(
    settings: TrajectorySettings, camera: PinholeCamera, z_near: float, z_subject: float
) -> Trajectory:
    """Build a closed built-in camera path.

    Paths (``A = amplitude·z_near``, ``θ = 2πk/K``; camera centre ``c``, looking along +z unless
    said otherwise): ``circle`` ``c = (A cos θ, A sin θ, 0)``; ``side`` ``c = (A sin θ, 0, 0)``;
    ``up-down`` ``c = (0, A sin θ, 0)``; ``swing`` ``c = (A sin θ, 0, 0)`` turned to keep looking
    at ``(0, 0, z_subject)``; ``zoom-in`` ``c = (0, 0, A (1 - cos θ)/2)``; ``dolly-zoom``
    ``c = (0, 0, -2A (1 - cos θ)/2)`` with focal length ``f (z_subject - c_z) / z_subject``, which
    keeps the plane at ``z_subject`` the same size; ``static`` the input camera.

    Args:
        settings: :class:`TrajectorySettings`.
        camera: input camera intrinsics.
        z_near: near depth of the scene (scene units, > 0).
        z_subject: depth of the subject plane (scene units, > 0).

    Returns:
        :class:`Trajectory` with ``settings.num_frames`` poses.
    """
    name, n = settings.name, settings.num_frames
    if name not in CAMERA_PATHS:
        raise InputError("settings.name", f"one of {', '.join(CAMERA_PATHS)}", repr(name))
    if not isinstance(n, int) or n < 1:
        raise InputError("settings.num_frames", "an integer >= 1", n)
    amp = settings.amplitude
    if not (isinstance(amp, (int, float)) and math.isfinite(amp) and amp >= 0):
        raise InputError("settings.amplitude", "a finite number >= 0", amp)
    A = float(amp) * float(z_near)
    poses, Ks = [], []
    K0 = camera.matrix(dtype=torch.float64)
    for k in range(n):
        th = 2.0 * math.pi * k / n
        K = K0.clone()
        R = None
        if name == "circle":
            c = [A * math.cos(th), A * math.sin(th), 0.0]
        elif name == "side":
            c = [A * math.sin(th), 0.0, 0.0]
        elif name == "up-down":
            c = [0.0, A * math.sin(th), 0.0]
        elif name == "swing":
            c = [A * math.sin(th), 0.0, 0.0]
            R = _yaw(math.atan2(-c[0], z_subject))
        elif name == "zoom-in":
            c = [0.0, 0.0, A * (1.0 - math.cos(th)) / 2.0]
        elif name == "dolly-zoom":
            cz = -2.0 * A * (1.0 - math.cos(th)) / 2.0
            c = [0.0, 0.0, cz]
            K[0, 0] *= (z_subject - cz) / z_subject
            K[1, 1] *= (z_subject - cz) / z_subject
        else:
            c = [0.0, 0.0, 0.0]
        poses.append(_pose(torch.tensor(c, dtype=torch.float64), R))
        Ks.append(K)
    return Trajectory(torch.stack(poses), torch.stack(Ks), camera.width, camera.height)


def _matrix(value, shape: tuple[int, int], name: str) -> torch.Tensor:
    try:
        t = torch.tensor(value, dtype=torch.float64)
    except Exception:  # noqa: BLE001
        raise InputError(name, f"a {shape[0]}×{shape[1]} array of numbers", repr(value)[:60]) from None
    if tuple(t.shape) != shape or not torch.isfinite(t).all():
        raise InputError(name, f"a finite {shape[0]}×{shape[1]} matrix", f"shape {tuple(t.shape)}")
    return t


def _check_rigid(T: torch.Tensor, name: str, scale: float) -> None:
    """Refuse poses that are not rigid: ``R`` orthonormal with det +1 (1e-4), bottom row
    ``[0, 0, 0, 1]``, and a translation under ``1e6 × scale`` scene units (only stops overflow).
    All poses are checked at once; the error names the first bad one."""
    R = T[:, :3, :3]
    eye = torch.eye(3, dtype=T.dtype)
    bottom = torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=T.dtype)
    ortho = ((R.transpose(1, 2) @ R - eye).abs() <= 1e-4).flatten(1).all(1)
    det = (torch.linalg.det(R) - 1.0).abs() <= 1e-4
    last = ((T[:, 3] - bottom).abs() <= 1e-9).all(1)
    bad = torch.nonzero(~(ortho & det & last)).flatten()
    if bad.numel():
        i = int(bad[0])
        raise InputError(
            f"{name}[{i}]",
            "a rigid pose (rotation with det +1, bottom row 0 0 0 1)",
            " ".join(f"{v:.3g}" for v in T[i].flatten().tolist()),
        )
    far = torch.nonzero(T[:, :3, 3].norm(dim=1) > 1e6 * scale).flatten()
    if far.numel():
        i = int(far[0])
        raise InputError(
            f"{name}[{i}]", f"a translation under {1e6 * scale:g} scene units", float(T[i, :3, 3].norm())
        )


def _catmull_rom(points: torch.Tensor, s: float, closed: bool) -> torch.Tensor:
    n = points.shape[0]
    if n == 1:
        return points[0]
    x = s * (n if closed else n - 1)
    i = min(int(math.floor(x)), n - 1 if closed else n - 2)
    u = x - i

    def at(j):
        return points[j % n] if closed else points[min(max(j, 0), n - 1)]

    p0, p1, p2, p3 = at(i - 1), at(i), at(i + 1), at(i + 2)
    return 0.5 * (
        2 * p1
        + (-p0 + p2) * u
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u * u
        + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3
    )


def _euler(deg: torch.Tensor) -> torch.Tensor:
    """world-from-camera rotation from yaw (about y), pitch (about x), roll (about z), degrees."""
    y, p, r = (math.radians(float(a)) for a in deg)
    Ry = _yaw(y)
    cp, sp, cr, sr = math.cos(p), math.sin(p), math.cos(r), math.sin(r)
    Rx = torch.tensor([[1, 0, 0], [0, cp, -sp], [0, sp, cp]], dtype=torch.float64)
    Rz = torch.tensor([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]], dtype=torch.float64)
    return Ry @ Rx @ Rz


def load_trajectory(
    path: str | os.PathLike,
    camera: PinholeCamera,
    num_frames: int | None = None,
    *,
    name: str = "camera.path",
) -> Trajectory:
    """Read a custom trajectory JSON.

    Two forms: per-frame poses ``{"K": 3×3, "width": W, "height": H, "cam_from_world": [4×4, ...]}``
    (``K`` is rescaled if ``width/height`` differ from the working size), or keyframes
    ``{"keyframes": [{"position": [x, y, z], "rotation_deg": [yaw, pitch, roll]}, ...],
    "closed": true}`` interpolated with a Catmull–Rom spline to ``num_frames`` frames (closed
    loops by default) with the input camera's intrinsics. Translations are in scene units.

    Args:
        path: the trajectory ``.json`` file.
        camera: intrinsics of the working image (its size; the keyframe form's ``K``).
        num_frames: frames wanted; the per-frame form must hold exactly this many poses
            (None: as many as it holds), the keyframe form is sampled at it (None: 60).
        name: what the file is called in error messages (followed by the file name).

    Raises:
        InputError: unreadable/malformed JSON or matrices of the wrong shape.
    """
    path = Path(path)
    field_name = name
    name = f"{field_name} {path.name}"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(
            field_name, "an existing trajectory .json file", f"no file at {str(path)!r}"
        ) from None
    except Exception as exc:  # noqa: BLE001
        raise InputError(name, "valid JSON", str(exc)) from None
    if not isinstance(data, dict):
        raise InputError(name, "a JSON object", type(data).__name__)
    if "cam_from_world" in data:
        poses = data["cam_from_world"]
        if not isinstance(poses, list) or not poses:
            raise InputError(f"{name}: cam_from_world", "a non-empty list of 4×4 matrices", repr(poses)[:60])
        if len(poses) > MAX_FRAMES:
            raise InputError(f"{name}: cam_from_world", f"at most {MAX_FRAMES} poses", len(poses))
        if num_frames is not None and len(poses) != num_frames:
            raise InputError(
                f"{name}: cam_from_world",
                f"one pose per frame ({num_frames} frames, or {len(poses)} frames to use them all)",
                f"{len(poses)} poses",
            )
        T = torch.stack([_matrix(p, (4, 4), f"{name}: cam_from_world[{i}]") for i, p in enumerate(poses)])
        _check_rigid(T, f"{name}: cam_from_world", 1.0)
        K = _matrix(data.get("K"), (3, 3), f"{name}: K")
        PinholeCamera.from_matrix(K, camera.width, camera.height)  # validates the layout
        w, h = data.get("width", camera.width), data.get("height", camera.height)
        if not (isinstance(w, int) and isinstance(h, int) and 0 < w <= 65536 and 0 < h <= 65536):
            raise InputError(f"{name}: width/height", "positive integers", (w, h))
        K = K.clone()
        K[0] *= camera.width / w
        K[1] *= camera.height / h
        side = max(camera.width, camera.height)
        if not (0.04 * side <= float(K[0, 0]) <= 12 * side and 0.04 * side <= float(K[1, 1]) <= 12 * side):
            raise InputError(
                f"{name}: K",
                "focal lengths of 0.04–12 × the longer side (5–170° field of view)",
                f"fx {float(K[0, 0]):g}, fy {float(K[1, 1]):g} px at {camera.width}×{camera.height}",
            )
        return Trajectory(T, K[None].repeat(len(T), 1, 1), camera.width, camera.height)
    if "keyframes" in data:
        kf = data["keyframes"]
        if (
            not isinstance(kf, list)
            or not kf
            or not all(isinstance(k, dict) for k in kf)
            or len(kf) > MAX_FRAMES
        ):
            raise InputError(f"{name}: keyframes", "a non-empty list of objects", repr(kf)[:60])
        pos = torch.stack(
            [_matrix([k.get("position", [0, 0, 0])], (1, 3), f"{name}: position")[0] for k in kf]
        )
        rot = torch.stack(
            [_matrix([k.get("rotation_deg", [0, 0, 0])], (1, 3), f"{name}: rotation_deg")[0] for k in kf]
        )
        closed = data.get("closed", True)
        if not isinstance(closed, bool):
            raise InputError(f"{name}: closed", "true or false", repr(closed))
        n = num_frames or 60
        if not (isinstance(n, int) and 1 <= n <= MAX_FRAMES):
            raise InputError("num_frames", f"an integer in [1, {MAX_FRAMES}]", n)
        if float(pos.abs().max()) > 1e6:
            raise InputError(f"{name}: position", "coordinates under 1e6 scene units", float(pos.abs().max()))
        poses = []
        for i in range(n):
            s = i / n if closed else (i / (n - 1) if n > 1 else 0.0)
            poses.append(_pose(_catmull_rom(pos, s, closed), _euler(_catmull_rom(rot, s, closed))))
        K0 = camera.matrix(dtype=torch.float64)
        return Trajectory(torch.stack(poses), K0[None].repeat(n, 1, 1), camera.width, camera.height)
    raise InputError(name, "a 'cam_from_world' list or a 'keyframes' list", f"keys {sorted(data)}")


def photo_border_points(
    depth: torch.Tensor, camera: PinholeCamera, per_side: int = 256
) -> dict[str, torch.Tensor]:
    """World points of the photo's four borders, for :func:`safe_zoom`.

    The outer edge of each border pixel (``u = 0`` or ``W``, ``v = 0`` or ``H``), sampled at most
    ``per_side`` times per side, unprojected with the pixel's depth through the input camera.

    Args:
        depth: ``(1, H, W)`` z-depth of the photo, scene units.
        camera: the input camera (the world frame).
        per_side: samples per side.

    Returns:
        ``{"left"|"right"|"top"|"bottom": (P, 3)}`` float64 points on ``depth``'s device.
    """
    _, H, W = depth.shape
    dev = depth.device
    K = camera.matrix(device=dev, dtype=torch.float64)
    uv = pixel_grid(H, W, device=dev, dtype=torch.float64).permute(1, 2, 0)
    z = depth[0].double()
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


def safe_zoom(
    trajectory: Trajectory, border_points: torch.Tensor, max_zoom: float = 2.0, margin: float = 0.01
) -> float:
    """Smallest constant zoom (>= 1) keeping every frame inside the projected photo.

    The photo's border pixels, lifted with their depth (``border_points``, world frame), are
    projected into every frame. For a border point of the left edge projecting to ``u``, the
    zoomed window ``[cx - cx/s, cx + (W - cx)/s]`` must start right of ``u``:
    ``s >= cx / (cx - u)``; likewise for the other edges. The maximum over points and frames, plus
    ``margin``, clamped to ``[1, max_zoom]``, is returned (one value for the whole video, so the
    zoom does not flicker).

    Args:
        trajectory: the camera path.
        border_points: dict-like ``{"left"|"right"|"top"|"bottom": (P, 3)}`` world points.
        max_zoom: upper bound.
        margin: relative safety margin.

    Returns:
        zoom factor ``s`` to multiply the focal lengths with.
    """
    need = 1.0
    W, H = trajectory.width, trajectory.height
    for T, K in zip(trajectory.cam_from_world, trajectory.K):
        cx, cy = float(K[0, 2]), float(K[1, 2])
        for side, pts in border_points.items():
            p = pts.to(T.device).double() @ T[:3, :3].T.double() + T[:3, 3].double()
            z = p[:, 2].clamp(min=1e-9)
            u = K[0, 0] * p[:, 0] / z + K[0, 2]
            v = K[1, 1] * p[:, 1] / z + K[1, 2]
            if side == "left":
                gap, half = u, cx
            elif side == "right":
                gap, half = W - u, W - cx
            elif side == "top":
                gap, half = v, cy
            else:
                gap, half = H - v, H - cy
            # gap > 0 means the photo edge is inside the frame by `gap` pixels.
            g = float(gap.max())
            if g > 0:
                need = max(need, half / max(half - g, 1e-6))
    return float(min(max(need * (1.0 + margin) if need > 1.0 else 1.0, 1.0), max_zoom))
