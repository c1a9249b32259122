"""The editor's server side, without gradio: the working folder, uploads, overlays, the cached
low-resolution preview, saving and the full render.

Files: the editor writes only inside its working folder (created by it and marked with
:data:`~cinemagraph3d.checks.OUTPUT_MARK`): ``photo.<ext>`` (a copy of the photo),
``depth.<ext>``, ``masks/*.png``, ``trajectory.json``, ``project.json`` and ``renders/``. The
browser never names a server path: uploads arrive as files the web server received, and the
only paths opened are the working folder's and the ones given on the command line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .state import (
    EditorState,
    RegionState,
    apply_stroke,
    drag_to_arrow,
    point_in_photo,
    project_to_state,
    state_to_project,
)

__all__ = [
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_PIXELS",
    "PREVIEW_SIDE",
    "PREVIEW_FRAMES",
    "OUTPUT_FORMATS",
    "Workspace",
    "PreviewCache",
    "check_upload",
    "apply_canvas_event",
    "render",
    "initial_state",
    "suggest_sky",
    "overlay_picture",
    "depth_picture",
]

#: Largest upload (photo or depth file), bytes.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Largest uploaded photo, pixels (40 megapixels).
MAX_UPLOAD_PIXELS = 40_000_000
#: Longer side of the preview, pixels.
PREVIEW_SIDE = 320
#: Frames of the preview loop.
PREVIEW_FRAMES = 24
#: Output formats of the Render button: label → suffix ("" is a folder of PNG frames).
OUTPUT_FORMATS = {
    "mp4 (H.264)": ".mp4",
    "mp4 (HEVC)": ".mp4",
    "webm (VP9)": ".webm",
    "mov": ".mov",
    "gif": ".gif",
    "webp": ".webp",
    "jpg (Android Motion Photo)": ".jpg",
    "png (one still)": ".png",
    "png frames (zip)": "",
}
_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
_DEPTH_SUFFIXES = (".png", ".npy", ".exr", ".tif", ".tiff")


def check_upload(path: str | os.PathLike, kind: str = "photo") -> tuple[int, int] | None:
    """Refuse an upload that is too large, of a wrong type or (a photo) of too many pixels.

    Args:
        path: the uploaded file as the web server stored it.
        kind: ``"photo"`` or ``"depth"``.

    Returns:
        ``(W, H)`` of a photo (None for a depth file).

    Raises:
        InputError: naming the upload, what is allowed and what was found.
    """
    from ..checks import image_size

    p = Path(path)
    suffixes = _PHOTO_SUFFIXES if kind == "photo" else _DEPTH_SUFFIXES
    if p.suffix.lower() not in suffixes:
        raise InputError(f"{kind} upload", f"a {'/'.join(suffixes)} file", p.name)
    size = p.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise InputError(
            f"{kind} upload", f"at most {MAX_UPLOAD_BYTES // 2**20} MB", f"{size / 2**20:.1f} MB"
        )
    if kind != "photo":
        return None
    w, h = image_size(p, name="photo upload")
    if w * h > MAX_UPLOAD_PIXELS:
        raise InputError(
            "photo upload",
            f"at most {MAX_UPLOAD_PIXELS // 1_000_000} megapixels",
            f"{w}x{h} ({w * h / 1e6:.1f} MP)",
        )
    return w, h


class Workspace:
    """The editor's working folder: created when missing, reused when the editor made it,
    refused otherwise (it never writes into a folder it did not create)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        from ..checks import OUTPUT_MARK

        self.folder = Path(folder).resolve()
        if self.folder.exists():
            if not (self.folder.is_dir() and (self.folder / OUTPUT_MARK).is_file()):
                raise InputError(
                    "workdir", "a new folder or one the editor created", f"{str(folder)!r} exists"
                )
        else:
            if not self.folder.parent.is_dir():
                raise InputError("workdir", "a folder in an existing directory", str(folder))
            self.folder.mkdir()
            (self.folder / OUTPUT_MARK).touch()
        self._lock = threading.Lock()

    @property
    def project_path(self) -> Path:
        """``project.json`` inside the folder."""
        return self.folder / "project.json"

    def _atomic(self, rel: str, write) -> Path:
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    def import_file(self, source: str | os.PathLike, stem: str) -> Path:
        """Copy ``source`` (an upload, or a file named on the command line) in as
        ``stem<suffix>``; returns the copy's path."""
        suffix = Path(source).suffix.lower()
        if suffix == ".jpeg":
            suffix = ".jpg"
        for old in self.folder.glob(f"{stem}.*"):
            if old.suffix.lower() != suffix:
                old.unlink()
        return self._atomic(f"{stem}{suffix}", lambda tmp: shutil.copyfile(source, tmp))

    def save(self, state: EditorState) -> Path:
        """Write the masks, the trajectory and ``project.json`` of ``state``; returns the project
        file's path. Masks of earlier saves that the state no longer has are removed."""
        from ..io import write_png
        from ..project import save_project

        with self._lock:
            project, files = state_to_project(state)
            for old in (self.folder / "masks").glob("*.png"):
                if f"masks/{old.name}" not in files:
                    old.unlink()
            for rel, content in files.items():
                if isinstance(content, np.ndarray):
                    (self.folder / rel).parent.mkdir(parents=True, exist_ok=True)
                    write_png(self.folder / rel, content.astype(np.uint8) * 255)
                else:
                    text = json.dumps(content, indent=2)
                    self._atomic(rel, lambda tmp, text=text: Path(tmp).write_text(text))
            save_project(project.resolved(self.folder), self.project_path, base=self.folder)
            return self.project_path

    def render_path(self, suffix: str) -> Path:
        """A new path ``renders/render-N<suffix>`` (N counts up; nothing is replaced)."""
        d = self.folder / "renders"
        d.mkdir(exist_ok=True)
        n = 1
        while any(d.glob(f"render-{n}*")) or any(d.glob(f".render-{n}*")):
            n += 1
        return d / f"render-{n}{suffix}"


def initial_state(source: str | os.PathLike | None, workspace: Workspace, allow_outside_paths: bool = False):
    """The state of the editor at start: empty, a photo, a project file or a labelme file
    (``.json`` with ``shapes``: its ``imagePath`` photo with the ``motion*`` polygons as one
    region and the ``hint*`` lines as arrows). The photo (and a depth file) is copied into the
    working folder, so what the editor saves is self-contained.

    Raises:
        InputError: an unreadable source (the photo, project or labelme file named).
    """
    if source is None:
        return None
    src = Path(source)
    if not src.is_file():
        raise InputError("source", "an existing photo, project .json or labelme .json", str(src))
    if src.suffix.lower() != ".json":
        check_upload(src, "photo")
        photo = workspace.import_file(src, "photo")
        from ..checks import image_size

        w, h = image_size(photo)
        return EditorState(image=str(photo), width=w, height=h)
    try:
        data = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError("source", "a project or labelme .json", f"{src.name}: {exc}") from None
    from ..project import Project, load_project

    if isinstance(data, dict) and "shapes" in data:
        image = data.get("imagePath")
        if not isinstance(image, str) or not image:
            raise InputError(f"labelme file {src.name}: imagePath", "the photo's file name", repr(image))
        photo = (src.parent / image).resolve()
        project = Project(image=str(photo), motion={"labelme": str(src.resolve())})
    else:
        project = load_project(src, allow_outside_paths=allow_outside_paths)
    state = project_to_state(project)
    state.image = str(workspace.import_file(project.image, "photo"))
    if state.depth_file:
        state.depth_file = str(workspace.import_file(state.depth_file, "depth"))
    return state


def render(
    workspace: Workspace, state: EditorState, progress: bool = False, depth: bool = False, ply: bool = False
) -> tuple[Path, Path, list[Path]]:
    """The Render button: save ``state`` as ``project.json``, load that file back and render it
    at full size with :func:`cinemagraph3d.api.animate` — what ``cinemagraph3d render
    WORKDIR/project.json -o OUT`` does — into a new ``renders/render-N<suffix>``.

    Args:
        workspace, state: the working folder and the state to render.
        progress: show the render's progress bar (tqdm; the page shows it).
        depth: also write each frame's depth as a grey video ``render-N-depth.mp4`` (the
            ``depth_output`` of :func:`cinemagraph3d.api.animate`).
        ply: also write the point cloud with its motion, ``render-N.ply`` (``ply_output``).

    Returns:
        ``(output path, project file path, side output paths)``.

    Raises:
        InputError: a setting or input the render refuses (nothing is left behind then).
    """
    from ..api import animate, check_project
    from ..project import load_project

    path = workspace.save(state)
    project = load_project(path)
    out = workspace.render_path(state.fmt)
    stem = out.with_suffix("") if out.suffix else out
    sides = {
        "depth_output": Path(f"{stem}-depth.mp4") if depth else None,
        "ply_output": stem.with_suffix(".ply") if ply else None,
    }
    check_project(project, out, **sides)
    animate(project, out, progress=progress, **sides)
    return out, path, [p for p in sides.values() if p is not None]


def apply_canvas_event(state: EditorState, event: dict, tool: str, region: int, radius: float) -> EditorState:
    """A new state with one canvas gesture applied.

    Args:
        state: the current state (not changed).
        event: ``{"points": [[x, y], ...]}`` in photo pixels, the gesture from press to release.
        tool: ``"paint"``, ``"erase"`` (region ``region``), ``"arrow"`` (the drag's start → end),
            ``"anchor"`` (the release point), ``"freeze"``, ``"unfreeze"`` (freeze brush),
            ``"click"`` / ``"unclick"`` (click-to-mask: GrabCut, or SAM with a checkpoint, on
            the click; the result is added to / cut from region ``region``).
        region: index of the region being edited.
        radius: brush radius in photo pixels.

    Raises:
        InputError: no such region for a region tool, or an unknown tool.
    """
    pts = event.get("points") if isinstance(event, dict) else None
    if not isinstance(pts, list) or not pts:
        raise InputError("canvas event", "a gesture with points", repr(event)[:60])
    new = state.copy()
    if tool in ("paint", "erase", "click", "unclick"):
        if not 0 <= region < len(new.regions):
            raise InputError(
                "region", "a region to edit (press 'New region' first)", f"{len(new.regions)} regions"
            )
        r = new.regions[region]
        if tool in ("paint", "erase"):
            r.mask = apply_stroke(r.mask, pts, radius, erase=tool == "erase")
        else:
            r.mask = _click_mask(
                new, r.mask, point_in_photo(pts[-1], new.width, new.height, "click"), tool == "unclick"
            )
    elif tool in ("freeze", "unfreeze"):
        base = new.freeze if new.freeze is not None else new.empty_mask()
        new.freeze = apply_stroke(base, pts, radius, erase=tool == "unfreeze")
    elif tool == "arrow":
        arrow = drag_to_arrow(pts, new.width, new.height)
        if arrow is not None:
            new.arrows.append(arrow)
    elif tool == "anchor":
        new.anchors.append(point_in_photo(pts[-1], new.width, new.height, "anchor"))
    else:
        raise InputError(
            "tool", "paint, erase, arrow, anchor, freeze, unfreeze, click or unclick", repr(tool)
        )
    return new


def _click_mask(state: EditorState, mask: np.ndarray, point: list[float], negative: bool) -> np.ndarray:
    """Click-to-mask with the project's segmenter at up to 640 px; the segment (positive click)
    is added to ``mask``, or (negative) the segment of that point is removed from it."""
    import cv2

    from ..controls import segment_clicks
    from ..io import read_image

    side = min(640, max(state.width, state.height))
    image = read_image(state.image, side)
    _, h, w = image.shape
    sx, sy = w / state.width, h / state.height
    seg = segment_clicks(image, [[point[0] * sx, point[1] * sy]]).numpy().astype(np.uint8)
    full = cv2.resize(seg, (state.width, state.height), interpolation=cv2.INTER_NEAREST).astype(bool)
    return mask & ~full if negative else mask | full


def suggest_sky(state: EditorState) -> EditorState:
    """A new state with the detected sky as a region drifting with the automatic sky's prompt.

    Raises:
        InputError: no sky found (the detector's one-line note).
    """
    import cv2

    from ..controls import SKY_PROMPT, detect_sky
    from ..io import read_image

    image = read_image(state.image, min(640, max(state.width, state.height)))
    det = detect_sky(image)
    if not det.found:
        raise InputError("sky", "a photo with a sky the detector finds", det.note)
    m = det.mask.cpu().numpy().astype(np.uint8)
    mask = cv2.resize(m, (state.width, state.height), interpolation=cv2.INTER_NEAREST).astype(bool)
    new = state.copy()
    new.regions.append(RegionState("sky", mask, 1.0, SKY_PROMPT, None))
    return new


def overlay_picture(
    state: EditorState, selected: int | None = None, field=None, max_side: int = 960, mode: str = "arrows"
) -> np.ndarray:
    """The photo with the regions (tinted and hatched in their colours, the selected one outlined thicker),
    the freeze mask (dark), arrows (white with a black rim), anchors (red rings) and, when
    given, the dense motion field with a legend; at most ``max_side`` pixels.

    Args:
        state: the editor state.
        selected: the region being edited.
        field: optional :class:`~cinemagraph3d.types.MotionField` (any size; resampled).
        max_side: longer side of the picture.
        mode: how ``field`` is drawn: ``"arrows"`` (:func:`~cinemagraph3d.motion.draw_motion_field`
            over the photo) or ``"wheel"`` (its colour wheel, hue = direction and brightness =
            speed, blended over the moving pixels, with a wheel legend in the corner).

    Returns:
        ``(h, w, 3)`` uint8 RGB; coordinates scale by ``w / W0``.
    """
    import cv2

    from ..io import read_image, to_uint8

    side = min(max_side, max(state.width, state.height))
    image = read_image(state.image, side)
    _, h, w = image.shape
    if max(h, w) < min(640, max_side):  # small photos are shown enlarged, so strokes stay crisp
        import torch

        f = min(640, max_side) / max(h, w)
        h, w = round(h * f), round(w * f)
        image = torch.nn.functional.interpolate(image[None], size=(h, w), mode="bilinear")[0].clamp(0, 1)
    out = to_uint8(image).astype(np.float32)

    def small(mask):
        return cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)

    if state.freeze is not None and state.freeze.any():
        f = small(state.freeze)
        out[f] = 0.45 * out[f] + 0.55 * np.array([20, 20, 20], np.float32)
    masks = [small(r.mask) for r in state.regions]
    tint = 0.45 if field is None else 0.3
    yy, xx = np.mgrid[0:h, 0:w]
    hatch = (xx + yy) % 10 < 2  # diagonal stripes: a region stays visible on water of its colour
    for k, m in enumerate(masks):
        colour = np.array(state.colour(k), np.float32)
        out[m] = (1 - tint) * out[m] + tint * colour
        if field is None:
            out[m & hatch] = 0.3 * out[m & hatch] + 0.7 * colour
    peak = None
    if field is not None:
        import torch

        from ..motion import draw_motion_field
        from ..types import MotionField

        fl = field.flow.detach().cpu().float()
        if fl.shape[1:] != (h, w):
            s = torch.tensor([w / fl.shape[2], h / fl.shape[1]]).view(2, 1, 1)
            fl = torch.nn.functional.interpolate(fl[None], size=(h, w), mode="bilinear")[0] * s
        resized = MotionField(fl, field.mask)
        peak = float(torch.linalg.vector_norm(field.flow.float(), dim=0).max())
        if mode == "wheel":
            wheel = draw_motion_field(resized).astype(np.float32)
            moving = np.hypot(fl[0].numpy(), fl[1].numpy()) > 1e-6
            out[moving] = 0.3 * out[moving] + 0.7 * wheel[moving]
        else:
            out = draw_motion_field(resized, np.round(out).astype(np.uint8)).astype(np.float32)
    out = np.ascontiguousarray(np.round(out).astype(np.uint8))
    for k, m in enumerate(masks):
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, state.colour(k), 3 if k == selected else 1)
    sx, sy = w / state.width, h / state.height
    lw = max(2, round(max(w, h) / 320))
    for x0, y0, x1, y1 in state.arrows:
        a = (round(x0 * sx), round(y0 * sy))
        b = (round(x1 * sx), round(y1 * sy))
        cv2.arrowedLine(out, a, b, (0, 0, 0), lw + 2, cv2.LINE_AA, tipLength=0.25)
        cv2.arrowedLine(out, a, b, (255, 255, 255), lw, cv2.LINE_AA, tipLength=0.25)
    for x, y in state.anchors:
        c = (round(x * sx), round(y * sy))
        cv2.circle(out, c, 3 * lw, (0, 0, 0), lw + 2, cv2.LINE_AA)
        cv2.circle(out, c, 3 * lw, (255, 50, 50), lw, cv2.LINE_AA)
    if peak is not None:
        _legend(out, peak, mode)
    return out


def _legend(out: np.ndarray, peak: float, mode: str) -> None:
    """Draw the field's legend in the top-right corner of ``out`` (in place)."""
    import cv2
    import torch

    from ..motion import draw_motion_field
    from ..types import MotionField

    h, w = out.shape[:2]
    r = max(10, min(h, w) // 18)
    x0, y0 = w - 2 * r - 10, 8
    text = f"peak {peak:.2f} px/step"
    scale = max(0.3, r / 60)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    left = min(x0, w - tw - 10)
    cv2.rectangle(out, (left - 6, 2), (w - 2, y0 + 2 * r + th + 12), (0, 0, 0), -1)
    if mode == "wheel":
        yy, xx = torch.meshgrid(torch.arange(2 * r) - r + 0.5, torch.arange(2 * r) - r + 0.5, indexing="ij")
        inside = (xx**2 + yy**2 <= r * r).float()
        disc = draw_motion_field(MotionField(torch.stack([xx, yy]) * inside, inside[None]))
        out[y0 : y0 + 2 * r, x0 : x0 + 2 * r][inside.bool().numpy()] = disc[inside.bool().numpy()]
    else:
        cy = y0 + r
        cv2.arrowedLine(
            out, (x0 + 4, cy), (x0 + 2 * r - 4, cy), (255, 230, 40), 2, cv2.LINE_AA, tipLength=0.3
        )
    cv2.putText(
        out,
        text,
        (left, y0 + 2 * r + th + 6),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )


def depth_picture(depth) -> np.ndarray:
    """A :class:`~cinemagraph3d.types.DepthMap` as a picture: near bright, far dark (inverse
    depth normalised to [0, 1]), ``(H, W, 3)`` uint8."""
    z = depth.depth[0].detach().cpu().float().numpy()
    inv = 1.0 / np.maximum(z, 1e-9)
    lo, hi = float(inv.min()), float(inv.max())
    g = np.zeros_like(inv) if hi <= lo else (inv - lo) / (hi - lo)
    return np.repeat(np.round(g * 255).astype(np.uint8)[:, :, None], 3, axis=2)


@dataclass
class _Entry:
    key: tuple
    image: object
    scene: object


class PreviewCache:
    """The prepared low-resolution scene of the preview (photo, depth, LDI, point cloud), kept
    while only the motion or the camera change: the key is the photo's content, the depth
    settings (and depth file's content) and the preview size. The integrated motion is kept too
    while only the camera changes (key: the motion section and its files' contents).

    Attributes:
        side: longer side of the preview, pixels.
        frames: frames of the preview loop.
        threads: torch threads while a preview is made (restored after; None: unchanged). One
            thread by default: at 320 px the work per operation is too small to share, and on the
            2-core benchmark machine two threads made the preview 3-4× slower
            (``benchmarks/bench_editor.py``).
        hits, misses: how often the scene was reused / built (for the benchmark and tests).
        motion_hits: how often the integrated motion was reused (only the camera changed).
    """

    def __init__(
        self, side: int = PREVIEW_SIDE, frames: int = PREVIEW_FRAMES, threads: int | None = 1
    ) -> None:
        self.side, self.frames, self.threads = side, frames, threads
        self.hits = self.misses = self.motion_hits = 0
        self._entry: _Entry | None = None
        self._motion: tuple | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _digest(path) -> str:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    def key(self, project) -> tuple:
        """The cache key of ``project``'s scene at the preview size."""
        d = project.depth
        return (
            self._digest(project.image),
            self.side,
            d.file and self._digest(d.file),
            d.kind,
            d.backend,
            d.model,
            d.layers,
            project.camera.fov,
        )

    def scene(self, project):
        """``(image, scene)`` of ``project`` at the preview size (cached)."""
        from ..api import read_photo
        from ..depth import DepthSettings, estimate_depth
        from ..geometry.camera import PinholeCamera
        from ..pipeline import prepare_scene

        key = self.key(project)
        with self._lock:
            if self._entry is not None and self._entry.key == key:
                self.hits += 1
                return self._entry.image, self._entry.scene
            small = project.replace(max_side=self._side_for(project))
            image = read_photo(small)
            _, H, W = image.shape
            d = project.depth
            ds = (
                DepthSettings("file", d.file, d.kind) if d.file else DepthSettings(d.backend, d.model, d.kind)
            )
            from ..ldi import LDISettings

            scene = prepare_scene(
                image,
                estimate_depth(image, ds),
                PinholeCamera.default(W, H, project.camera.fov),
                ldi_settings=LDISettings(max_layers=d.layers),
            )
            self._entry = _Entry(key, image, scene)
            self.misses += 1
            return image, scene

    def _side_for(self, project) -> int:
        from ..checks import image_size

        w, h = image_size(project.image)
        return min(self.side, max(w, h))

    def preview_project(self, project):
        """``project`` at the preview's size and frame count: the loop keeps its length in
        seconds (fps = frames / loop seconds) and its motion — it is integrated in as many
        steps as the preview has frames (at most ``motion.loop_steps``), with the speed scaled
        by ``loop_steps / steps``, so a loop moves the fluid as far as the render's does with
        fewer, longer Euler steps (the render itself uses the project's ``loop_steps``)."""
        from ..limits import SPEED_MAX

        seconds = project.camera.frames / project.output.fps
        n = min(self.frames, project.camera.frames)
        fps = min(max(n / seconds, 1.0), 240.0)
        m = project.motion
        steps = min(m.loop_steps, max(n, 1))
        speed = min(m.speed * m.loop_steps / steps, SPEED_MAX)
        return project.replace(
            max_side=self._side_for(project),
            motion={"loop_steps": steps, "speed": speed},
            camera={"frames": n},
            output={
                "fps": fps,
                "stereo": None,
                "live_photo": False,
                "loops": 1,
                "codec": None,
                "quality": None,
            },
        ).validate()

    def frames_of(self, project) -> tuple[list, object]:
        """The preview frames of ``project`` (``(3, h, w)`` tensors) and its motion field
        (None without motion), reusing the cached scene."""
        import torch

        saved = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            return self._frames_of(project)
        finally:
            torch.set_num_threads(saved)

    def _frames_of(self, project) -> tuple[list, object]:
        from ..api import Prepared, project_frames
        from ..checks import image_size
        from ..geometry.trajectory import TrajectorySettings, load_trajectory, make_trajectory
        from ..motion import build_motion, build_motion_field, coordinate_scale
        from ..pipeline import RenderSettings, seed_everything

        p = self.preview_project(project)
        image, scene = self.scene(p)
        seed_everything(p.seed)
        _, H, W = image.shape
        m = p.motion
        files = [*m.masks, *m.freeze, m.labelme, m.hints, *(r.mask for r in m.regions)]
        mkey = (
            self.key(p),
            json.dumps(dataclasses.asdict(m), sort_keys=True),
            tuple(self._digest(f) for f in files if f),
            p.seed,
        )
        if self._motion is not None and self._motion[0] == mkey:
            self.motion_hits += 1
            motion, field = self._motion[1]
        else:
            scale = coordinate_scale(image_size(p.image), H, W)
            motion = build_motion(m, image, scale)
            field = build_motion_field(m, image, scale) if motion is not None else None
            self._motion = (mkey, (motion, field))
        cam = p.camera
        if cam.is_file:
            traj = load_trajectory(cam.path, scene.camera, cam.frames)
        else:
            traj = make_trajectory(
                TrajectorySettings(cam.path, cam.frames, cam.amplitude),
                scene.camera,
                scene.z_near,
                scene.z_subject,
            )
        prepared = Prepared(p, scene, traj, motion, RenderSettings(safe_zoom=cam.safe_zoom))
        return list(project_frames(prepared)), field

    def preview(self, project, out_dir: str | os.PathLike) -> tuple[Path, object]:
        """Render the preview loop of ``project`` into a new mp4 in ``out_dir``; returns its
        path and the motion field."""
        from ..io import VideoWriter

        frames, field = self.frames_of(project)
        fps = self.preview_project(project).output.fps
        fd, name = tempfile.mkstemp(prefix="preview-", suffix=".mp4", dir=out_dir)
        os.close(fd)
        os.unlink(name)
        with VideoWriter(name, fps) as writer:
            for f in frames:
                writer.write(f)
        return Path(name), field
