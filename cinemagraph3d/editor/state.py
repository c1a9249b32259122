"""The editor's state and the pure functions that edit it (no gradio, no files written).

Everything a user does on the photo becomes a change of :class:`EditorState`; the one adapter
:func:`state_to_project` turns a state into the :class:`~cinemagraph3d.project.Project` that
``cinemagraph3d render`` reads, and :func:`project_to_state` is its inverse (regions, arrows,
anchors and freeze masks as saved).

Coordinates: every point (stroke, arrow, anchor, click) is in pixels of the *photo as
displayed* (EXIF orientation applied, full size), pixel centres at integer + 0.5 — the
coordinates of the project file, which the motion stage scales to the working size. Masks are
``(H0, W0)`` bool arrays at the photo's size.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

__all__ = [
    "REGION_COLOURS",
    "RegionState",
    "EditorState",
    "stroke_mask",
    "apply_stroke",
    "drag_to_arrow",
    "point_in_photo",
    "working_arrow",
    "state_to_project",
    "project_to_state",
    "mask_file_name",
    "region_name_from_file",
]

#: Region colours in order (RGB, the palette of :func:`~cinemagraph3d.controls.draw_mask_overlay`).
REGION_COLOURS = [
    (40, 140, 255),
    (255, 120, 40),
    (60, 200, 90),
    (220, 60, 200),
    (240, 220, 40),
    (40, 220, 220),
]

_NAME = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass
class RegionState:
    """One fluid region as the editor holds it.

    Attributes:
        name: the user's name (letters, digits, ``-``, ``_``; it names the mask file).
        mask: ``(H0, W0)`` bool mask at the photo's size.
        speed: region speed multiplier (> 0).
        prompt: motion prompt such as ``"flow left"`` (empty: none; then arrows drive it).
        magnitude: ``"slow"``, ``"medium"``, ``"fast"``, a speed in px/step, or None.
    """

    name: str
    mask: np.ndarray
    speed: float = 1.0
    prompt: str = ""
    magnitude: str | float | None = None


@dataclass
class EditorState:
    """Every user input of one editing session.

    Attributes:
        image: the photo's path on the server (the working folder's copy).
        width, height: the photo's size ``W0, H0`` in pixels (as displayed).
        regions: the fluid regions, in order (colour ``k`` of :data:`REGION_COLOURS`).
        arrows: ``[x0, y0, x1, y1]`` photo pixels; ``L`` pixels long is ``0.02 L`` px/step.
        anchors: ``[x, y]`` photo pixels where the motion is zero.
        freeze: ``(H0, W0)`` bool freeze-brush mask, or None.
        speed: global speed multiplier.
        depth: ``"heuristic"``, ``"file"`` or ``"learned"``.
        depth_file: the uploaded depth file's server path (``depth="file"``).
        depth_kind: ``"depth"`` or ``"disparity"``.
        layers: at most this many layers of the layered depth image (1–5).
        camera: a built-in path name or ``"custom"`` (then ``keyframes``).
        keyframes: custom camera keyframes ``[x, y, z, yaw, pitch, roll]`` (scene units, degrees).
        amplitude, frames, fps: camera amplitude (fraction of the near depth), frames, frames/s.
        loop_steps: motion steps per loop.
        max_side: working size of the full render (None: the photo's size).
        seed: random seed.
        fmt, codec, stereo, live_photo, loops: output suffix (``".mp4"``; ``""`` for a PNG
            folder; ``".png"`` renders one frame), codec (None: the suffix's), stereo mode,
            Apple Live Photo pair, loop repeats.
    """

    image: str
    width: int
    height: int
    regions: list[RegionState] = field(default_factory=list)
    arrows: list[list[float]] = field(default_factory=list)
    anchors: list[list[float]] = field(default_factory=list)
    freeze: np.ndarray | None = None
    speed: float = 1.0
    depth: str = "heuristic"
    depth_file: str | None = None
    depth_kind: str = "depth"
    layers: int = 3
    camera: str = "swing"
    keyframes: list[list[float]] = field(default_factory=list)
    amplitude: float = 0.03
    frames: int = 60
    fps: float = 30.0
    loop_steps: int = 60
    max_side: int | None = None
    seed: int = 0
    fmt: str = ".mp4"
    codec: str | None = None
    stereo: str | None = None
    live_photo: bool = False
    loops: int = 1

    @staticmethod
    def colour(index: int) -> tuple[int, int, int]:
        """RGB colour of region ``index``."""
        return REGION_COLOURS[index % len(REGION_COLOURS)]

    def empty_mask(self) -> np.ndarray:
        """An all-False ``(H0, W0)`` mask."""
        return np.zeros((self.height, self.width), bool)

    def copy(self) -> EditorState:
        """A deep copy (masks copied)."""
        return dataclasses.replace(
            self,
            regions=[dataclasses.replace(r, mask=r.mask.copy()) for r in self.regions],
            arrows=[list(a) for a in self.arrows],
            anchors=[list(a) for a in self.anchors],
            freeze=None if self.freeze is None else self.freeze.copy(),
            keyframes=[list(k) for k in self.keyframes],
        )


def _finite_points(points, name: str) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64) if isinstance(points, (list, tuple, np.ndarray)) else None
    if arr is None or arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0 or not np.isfinite(arr).all():
        raise InputError(name, "a non-empty list of [x, y] points of finite numbers", repr(points)[:60])
    return arr


def stroke_mask(points, radius: float, height: int, width: int) -> np.ndarray:
    """The pixels a round brush of ``radius`` covers along a stroke.

    Pixel ``(i, j)`` (centre ``(j + 0.5, i + 0.5)``) is covered when its centre is within
    ``radius`` of the polyline through ``points`` (a single point is a disc).

    Args:
        points: ``(K, 2)`` stroke points ``(x, y)`` in photo pixels, ``K >= 1``.
        radius: brush radius in photo pixels (> 0).
        height, width: mask size.

    Returns:
        ``(height, width)`` bool array.
    """
    pts = _finite_points(points, "stroke")
    if not (isinstance(radius, (int, float)) and math.isfinite(radius) and radius > 0):
        raise InputError("brush radius", "a finite number > 0 (pixels)", radius)
    x0, y0 = np.floor(pts.min(0) - radius - 1).astype(int)
    x1, y1 = np.ceil(pts.max(0) + radius + 1).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    out = np.zeros((height, width), bool)
    if x0 >= x1 or y0 >= y1:
        return out
    ys, xs = np.mgrid[y0:y1, x0:x1]
    cx, cy = xs + 0.5, ys + 0.5
    best = np.full(cx.shape, np.inf)
    segs = [(pts[k], pts[k + 1]) for k in range(len(pts) - 1)] or [(pts[0], pts[0])]
    for a, b in segs:
        d = b - a
        n2 = float(d @ d)
        t = np.zeros_like(cx) if n2 == 0 else np.clip(((cx - a[0]) * d[0] + (cy - a[1]) * d[1]) / n2, 0, 1)
        dist2 = (cx - a[0] - t * d[0]) ** 2 + (cy - a[1] - t * d[1]) ** 2
        np.minimum(best, dist2, out=best)
    out[y0:y1, x0:x1] = best <= radius * radius
    return out


def apply_stroke(mask: np.ndarray, points, radius: float, erase: bool = False) -> np.ndarray:
    """``mask`` with a brush stroke painted (``erase=False``) or erased; a new array.

    Args:
        mask: ``(H, W)`` bool.
        points: ``(K, 2)`` stroke points in photo pixels.
        radius: brush radius in photo pixels.
        erase: remove the stroke's pixels instead of adding them.
    """
    covered = stroke_mask(points, radius, mask.shape[0], mask.shape[1])
    return mask & ~covered if erase else mask | covered


def point_in_photo(point, width: int, height: int, name: str = "point") -> list[float]:
    """``[x, y]`` clamped into the photo ``[0, W] × [0, H]`` (a drag may leave the canvas)."""
    p = _finite_points([point], name)[0]
    return [float(min(max(p[0], 0.0), width)), float(min(max(p[1], 0.0), height))]


def drag_to_arrow(points, width: int, height: int, min_length: float = 2.0) -> list[float] | None:
    """The arrow of a drag: from its first to its last point, ``[x0, y0, x1, y1]`` in photo
    pixels (clamped into the photo); its length ``L`` means ``0.02 L`` px/step at the photo's
    size (the project's arrow convention). None for a drag shorter than ``min_length`` pixels
    (a click, not an arrow)."""
    pts = _finite_points(points, "arrow drag")
    a = point_in_photo(pts[0], width, height, "arrow drag")
    b = point_in_photo(pts[-1], width, height, "arrow drag")
    if math.hypot(b[0] - a[0], b[1] - a[1]) < min_length:
        return None
    return [a[0], a[1], b[0], b[1]]


def working_arrow(arrow, photo_size: tuple[int, int], working_size: tuple[int, int]) -> list[float]:
    """An arrow in photo pixels → the working image's pixels (``(W0, H0)`` → ``(W, H)``), as
    the motion stage scales it (:func:`~cinemagraph3d.motion.coordinate_scale`)."""
    sx = working_size[0] / photo_size[0]
    sy = working_size[1] / photo_size[1]
    x0, y0, x1, y1 = arrow
    return [x0 * sx, y0 * sy, x1 * sx, y1 * sy]


def mask_file_name(kind: str, index: int, name: str) -> str:
    """File name of a saved mask: ``region-01-water.png`` or ``freeze.png``."""
    if kind == "freeze":
        return "freeze.png"
    safe = _NAME.sub("-", name).strip("-") or "region"
    return f"region-{index + 1:02d}-{safe}.png"


def region_name_from_file(path: str, index: int) -> str:
    """The region name stored in a mask file's name (inverse of :func:`mask_file_name`)."""
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", str(path).replace("\\", "/").rsplit("/", 1)[-1])
    m = re.match(r"^region-\d+-(.+)$", stem)
    return m.group(1) if m else (stem or f"region {index + 1}")


def state_to_project(state: EditorState, mask_dir: str = "masks", trajectory: str = "trajectory.json"):
    """The :class:`~cinemagraph3d.project.Project` of ``state`` — the one place the editor
    builds a project — and the files it refers to, not yet written.

    Built as the command line builds one (:func:`cinemagraph3d.cli.commands.project_from_args`):
    a region without a prompt is a plain mask (``motion.masks`` with ``region_speeds``), a
    region with a prompt is a :class:`~cinemagraph3d.project.RegionSpec` (mask file, prompt and
    magnitude, speed); arrows and anchors are copied in photo pixels; the freeze brush is a
    freeze mask; a custom camera is a keyframe trajectory file.

    Args:
        state: the editor state.
        mask_dir: folder (relative to the project file) of the mask files.
        trajectory: file name (relative to the project file) of a custom camera path.

    Returns:
        ``(project, files)``: the validated project (paths relative to the project's folder)
        and ``{relative path: content}``, content a ``(H0, W0)`` bool mask array or a JSON-able
        dict (the trajectory), for the caller to write.

    Raises:
        InputError: a setting out of range (named as the project's field).
    """
    from ..project import Project, PromptSpec, RegionSpec

    files: dict = {}
    masks, speeds, regions = [], [], []
    for k, r in enumerate(state.regions):
        if not r.mask.any():
            raise InputError(
                f"region {r.name!r}", "a painted mask (brush, click-to-mask or sky)", "an empty mask"
            )
        rel = f"{mask_dir}/{mask_file_name('region', k, r.name)}"
        files[rel] = r.mask
        if r.prompt.strip():
            prompts = [PromptSpec(r.prompt.strip(), r.magnitude)]
            regions.append(RegionSpec(mask=rel, prompts=prompts, speed=float(r.speed)))
        else:
            masks.append(rel)
            speeds.append(float(r.speed))
    freeze = []
    if state.freeze is not None and state.freeze.any():
        rel = f"{mask_dir}/{mask_file_name('freeze', 0, '')}"
        files[rel] = state.freeze
        freeze.append(rel)
    camera = state.camera
    if camera == "custom":
        files[trajectory] = {
            "keyframes": [{"position": list(k[:3]), "rotation_deg": list(k[3:6])} for k in state.keyframes],
            "closed": True,
        }
        camera = trajectory
    depth = {"backend": "heuristic", "kind": "depth"}  # the command line's defaults
    if state.depth == "file":
        if not state.depth_file:
            raise InputError("depth.file", "an uploaded depth file", "none")
        depth = {"file": state.depth_file, "kind": state.depth_kind, "backend": "auto"}
    elif state.depth == "learned":
        depth = {"backend": "auto", "kind": "depth"}
    depth["layers"] = int(state.layers)
    project = Project.from_dict(
        {
            "image": state.image,
            "max_side": state.max_side,
            "seed": int(state.seed),
            "depth": depth,
            "motion": {
                "masks": masks,
                "region_speeds": speeds if any(v != 1.0 for v in speeds) else [],
                "arrows": [[float(v) for v in a] for a in state.arrows],
                "anchors": [[float(v) for v in a] for a in state.anchors],
                "speed": float(state.speed),
                "loop_steps": int(state.loop_steps),
                "regions": regions,
                "freeze": freeze,
            },
            "camera": {
                "path": camera,
                "amplitude": float(state.amplitude),
                "frames": 1 if state.fmt == ".png" else int(state.frames),
            },
            "output": {
                "fps": float(state.fps),
                "codec": state.codec,
                "stereo": state.stereo,
                "live_photo": bool(state.live_photo),
                "loops": int(state.loops),
            },
        }
    )
    return project.validate(), files


def _read_mask(path: str, height: int, width: int, name: str) -> np.ndarray:
    from ..motion import load_mask

    return load_mask(path, height, width, name=name).cpu().numpy().astype(bool)


def project_to_state(project, photo_size: tuple[int, int] | None = None) -> EditorState:
    """The editor state of a loaded project (absolute paths): its masks, prompt regions,
    labelme polygons and hint lines, arrows, anchors, freeze masks, camera and output settings.

    Regions chosen by clicks or by the sky detector become painted masks (segmented here at the
    photo's size), so they can be edited with the brush. Keyframe trajectory files come back as
    keyframes; a per-frame pose file is kept as the camera path.

    Args:
        project: a validated :class:`~cinemagraph3d.project.Project` with resolved paths.
        photo_size: ``(W0, H0)`` of the photo (read from its header when None).
    """
    import json

    from ..checks import image_size
    from ..limits import CAMERA_PATHS

    w0, h0 = photo_size if photo_size is not None else image_size(project.image)
    m = project.motion
    state = EditorState(image=project.image, width=w0, height=h0)
    speeds = list(m.region_speeds) or [1.0] * len(m.masks)
    for k, (path, sp) in enumerate(zip(m.masks, speeds)):
        mask = _read_mask(path, h0, w0, f"motion.masks[{k}] {path}")
        state.regions.append(RegionState(region_name_from_file(path, k), mask, float(sp)))
    arrows = [list(map(float, a)) for a in m.arrows]
    if m.labelme:
        from ..motion import DEFAULT_HINT_SCALE, load_labelme

        lm_mask, hints = load_labelme(m.labelme, h0, w0)
        state.regions.append(RegionState("labelme", lm_mask.cpu().numpy().astype(bool)))
        k = 1.0 / DEFAULT_HINT_SCALE
        for (x, y), (dx, dy) in zip(hints.starts.tolist(), hints.vectors.tolist()):
            arrows.append([x, y, x + k * dx, y + k * dy])
    image = None
    for k, r in enumerate(m.regions):
        name = f"region {len(state.regions) + 1}"
        if r.mask is not None:
            mask = _read_mask(r.mask, h0, w0, f"motion.regions[{k}].mask {r.mask}")
            name = region_name_from_file(r.mask, len(state.regions))
        else:
            if image is None:
                from ..io import read_image

                image = read_image(project.image)
            if r.sky:
                from ..controls import detect_sky

                det = detect_sky(image)
                if not det.found:
                    raise InputError(
                        f"motion.regions[{k}].sky", "a photo with a sky the detector finds", det.note
                    )
                mask, name = det.mask.cpu().numpy().astype(bool), "sky"
            else:
                from ..controls import segment_clicks

                mask = segment_clicks(image, r.clicks, r.unclicks or None).cpu().numpy().astype(bool)
        prompt = r.prompts[0] if r.prompts else None
        state.regions.append(
            RegionState(
                name,
                mask,
                float(r.speed),
                prompt.text if prompt else "",
                prompt.magnitude if prompt else None,
            )
        )
    state.arrows = arrows
    state.anchors = [list(map(float, a)) for a in m.anchors]
    for k, f in enumerate(m.freeze):
        fm = _read_mask(f, h0, w0, f"motion.freeze[{k}] {f}")
        state.freeze = fm if state.freeze is None else state.freeze | fm
    state.speed, state.loop_steps = float(m.speed), int(m.loop_steps)
    d = project.depth
    state.layers = int(d.layers)
    if d.file:
        state.depth, state.depth_file, state.depth_kind = "file", d.file, d.kind
    elif d.backend in ("auto", "hf"):
        state.depth, state.depth_kind = "learned", d.kind
    cam = project.camera
    state.amplitude, state.frames = float(cam.amplitude), int(cam.frames)
    if cam.is_file:
        try:
            data = json.loads(open(cam.path, encoding="utf-8").read())
        except (OSError, ValueError) as exc:
            raise InputError("camera.path", "a readable trajectory .json", str(exc)) from None
        if isinstance(data, dict) and isinstance(data.get("keyframes"), list):
            state.camera = "custom"
            state.keyframes = [
                [*map(float, kf.get("position", [0, 0, 0])), *map(float, kf.get("rotation_deg", [0, 0, 0]))]
                for kf in data["keyframes"]
            ]
        else:
            raise InputError("camera.path", "a built-in path or a keyframe trajectory", cam.path)
    elif cam.path in CAMERA_PATHS:
        state.camera = cam.path
    o = project.output
    state.codec = o.codec
    if cam.frames == 1:
        state.fmt = ".png"
    state.fps, state.stereo, state.live_photo, state.loops = (
        float(o.fps),
        o.stereo,
        bool(o.live_photo),
        int(o.loops),
    )
    state.max_side, state.seed = project.max_side, int(project.seed)
    return state
