"""Project files: every user input of one cinemagraph, JSON-serialisable, so a result can be
reproduced exactly with ``cinemagraph3d render project.json -o OUT``.

Relative paths inside a project file are resolved against the file's directory.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

__all__ = [
    "Project",
    "RegionSpec",
    "PromptSpec",
    "VideoSpec",
    "load_project",
    "save_project",
    "PROJECT_VERSION",
]

PROJECT_VERSION = 1


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _from_dict(cls, data, name: str):
    """Build dataclass ``cls`` from a JSON object, refusing unknown keys."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise InputError(
            name, f"a JSON object with keys {sorted(f.name for f in dataclasses.fields(cls))}", data
        )
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(name, f"only the keys {sorted(names)}", f"unknown keys {unknown}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise InputError(name, "valid fields", str(exc)) from None


def _points(value, name: str) -> list[list[float]]:
    if not isinstance(value, (list, tuple)):
        raise InputError(name, "a list of [x, y] points in pixels", value)
    for p in value:
        if not (isinstance(p, (list, tuple)) and len(p) == 2 and all(_finite(c) for c in p)):
            raise InputError(name, "[x, y] points with finite numbers", p)
    return [[float(c) for c in p] for p in value]


@dataclass
class PromptSpec:
    """A motion prompt of a region (see :mod:`cinemagraph3d.controls.prompts`).

    Attributes:
        text: ``VERB [DIRECTION] [MAGNITUDE]``, e.g. ``"flow left"``.
        magnitude: ``"slow"``, ``"medium"``, ``"fast"``, a speed in px/step, or None (the one in
            ``text``, else the verb's default). Overrides a magnitude written in ``text``.
    """

    text: str
    magnitude: float | str | None = None

    def validate(self, name: str = "--prompt") -> PromptSpec:
        from .controls.prompts import parse_prompt

        parse_prompt(self.text, self.magnitude, name=name)
        return self


@dataclass
class VideoSpec:
    """Motion transferred from a reference clip (see :mod:`cinemagraph3d.controls.transfer`).

    Attributes:
        path: video file (or directory of frames).
        scale: speed multiplier (> 0).
        rotate: direction change in degrees, counter-clockwise on screen.
        fit: ``"region"`` (clip stretched over the region's bounding box) or ``"image"``.
        max_frames: frames read from the clip (>= 2).
    """

    path: str
    scale: float = 1.0
    rotate: float = 0.0
    fit: str = "region"
    max_frames: int = 60

    def validate(self, name: str = "--motion-video") -> VideoSpec:
        if not isinstance(self.path, str) or not self.path:
            raise InputError(name, "a video path", self.path)
        if not (_finite(self.scale) and self.scale > 0):
            raise InputError("--motion-video-scale", "a finite number > 0", self.scale)
        if not _finite(self.rotate):
            raise InputError("--motion-video-rotate", "a finite angle in degrees", self.rotate)
        if self.fit not in ("region", "image"):
            raise InputError("--motion-video-fit", "'region' or 'image'", repr(self.fit))
        if not (
            isinstance(self.max_frames, int)
            and not isinstance(self.max_frames, bool)
            and self.max_frames >= 2
        ):
            raise InputError(f"{name} max_frames", "an integer >= 2", self.max_frames)
        return self


@dataclass
class RegionSpec:
    """One moving region: chosen by exactly one of a mask file, clicks or the sky detector, and
    moved by its prompts and/or a reference video (plus any arrows starting in or near it).

    Attributes:
        mask: mask image path.
        clicks: positive clicks ``[x, y]`` in pixels of the working image (click-to-mask).
        unclicks: negative clicks ``[x, y]`` (only with ``clicks``).
        sky: the region is the automatically detected sky.
        prompts: motion prompts, summed.
        video: motion from a reference clip, added to the prompts.
        speed: region speed multiplier (> 0).
    """

    mask: str | None = None
    clicks: list[list[float]] = field(default_factory=list)
    unclicks: list[list[float]] = field(default_factory=list)
    sky: bool = False
    prompts: list[PromptSpec] = field(default_factory=list)
    video: VideoSpec | None = None
    speed: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.prompts, list):
            self.prompts = [
                PromptSpec(p) if isinstance(p, str) else _from_dict(PromptSpec, p, f"prompts[{k}]")
                for k, p in enumerate(self.prompts)
            ]
        if self.video is not None:
            self.video = _from_dict(VideoSpec, self.video, "video")

    def validate(self, name: str = "region") -> RegionSpec:
        chosen = [self.mask is not None, bool(self.clicks), bool(self.sky)]
        if sum(chosen) != 1:
            raise InputError(name, "exactly one of a mask, clicks or the sky", f"{sum(chosen)} of them")
        if self.mask is not None and (not isinstance(self.mask, str) or not self.mask):
            raise InputError(f"{name} mask", "a mask image path", self.mask)
        self.clicks = _points(self.clicks, "--click")
        self.unclicks = _points(self.unclicks, "--unclick")
        if self.unclicks and not self.clicks:
            raise InputError(
                "--unclick", "negative clicks together with --click in the same region", "no --click"
            )
        if not isinstance(self.sky, bool):
            raise InputError(f"{name} sky", "true or false", self.sky)
        if not isinstance(self.prompts, list):
            raise InputError(f"{name} prompts", "a list of prompts", self.prompts)
        for p in self.prompts:
            p.validate()
        if self.video is not None:
            self.video.validate()
        if not (_finite(self.speed) and self.speed > 0):
            raise InputError("--region-speed", "a finite number > 0", self.speed)
        return self


@dataclass
class Project:
    """All inputs of one cinemagraph.

    Attributes:
        image: photo path.
        depth: depth/disparity file path or None (then ``depth_backend`` estimates it).
        depth_kind: ``"depth"`` or ``"disparity"``.
        depth_backend: ``"heuristic"`` or a learned back-end name (``"hf"``).
        depth_model: model directory for a learned depth back-end.
        max_side: downscale so ``max(H, W) <= max_side`` (None: keep).
        fov: horizontal/vertical field of view in degrees of the longer side (None: ``f = max(W,H)``).
        camera: built-in path name or a trajectory JSON path.
        amplitude: camera amplitude as a fraction of the near depth.
        frames: number of output frames ``K``.
        fps: frames per second.
        loop_steps: motion steps ``N`` per loop.
        safe_zoom: automatic zoom against empty borders.
        seed: random seed.
        masks: mask image paths, one region each.
        region_speeds: per-region speed multipliers (same length as ``masks`` or empty).
        arrows: arrows ``[x0, y0, x1, y1]`` in pixels; each applies to every region containing
            its start.
        hints: hints JSON path.
        anchors: ``[x, y]`` pixels where motion is zero.
        labelme: labelme JSON path.
        speed: global speed multiplier (> 0).
        preset: ``"classic"`` (RGB points, training-free) or ``"neural"`` (learned features,
            decoder and motion estimator loaded from ``weights``).
        weights: directory of converted/trained weights for the neural preset.
        regions: further regions (:class:`RegionSpec`: mask, clicks or sky, with prompts,
            reference video and speed), after the ``masks`` and the labelme region.
        freeze: freeze-brush mask paths: motion is forced to zero in their union.
        sam_checkpoint: Segment Anything checkpoint; clicks are segmented with SAM instead of
            GrabCut when set.
        extra: free-form settings of later features (clicks, prompts...), kept verbatim.
    """

    image: str
    depth: str | None = None
    depth_kind: str = "depth"
    depth_backend: str = "heuristic"
    depth_model: str | None = None
    max_side: int | None = None
    fov: float | None = None
    camera: str = "circle"
    amplitude: float = 0.03
    frames: int = 60
    fps: float = 30.0
    loop_steps: int = 60
    safe_zoom: bool = True
    seed: int = 0
    masks: list[str] = field(default_factory=list)
    region_speeds: list[float] = field(default_factory=list)
    arrows: list[list[float]] = field(default_factory=list)
    hints: str | None = None
    anchors: list[list[float]] = field(default_factory=list)
    labelme: str | None = None
    speed: float = 1.0
    preset: str = "classic"
    weights: str | None = None
    regions: list[RegionSpec] = field(default_factory=list)
    freeze: list[str] = field(default_factory=list)
    sam_checkpoint: str | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.regions, list):
            self.regions = [_from_dict(RegionSpec, r, f"regions[{k}]") for k, r in enumerate(self.regions)]

    def validate(self) -> Project:
        """Check value ranges; raises :class:`InputError` naming the field."""
        if not isinstance(self.frames, int) or isinstance(self.frames, bool) or self.frames < 1:
            raise InputError("--frames", "an integer >= 1", self.frames)
        for name, v in (("--fps", self.fps), ("--speed", self.speed)):
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise InputError(name, "a finite number > 0", v)
        if not isinstance(self.loop_steps, int) or self.loop_steps < 1:
            raise InputError("--loop-steps", "an integer >= 1", self.loop_steps)
        if (
            not isinstance(self.amplitude, (int, float))
            or not math.isfinite(self.amplitude)
            or self.amplitude < 0
        ):
            raise InputError("--amplitude", "a finite number >= 0", self.amplitude)
        if self.preset not in ("classic", "neural"):
            raise InputError("--preset", "'classic' or 'neural'", repr(self.preset))
        if self.preset == "neural" and not self.weights:
            raise InputError("--weights", "a weights directory for --preset neural", "none")
        if self.depth_kind not in ("depth", "disparity"):
            raise InputError("--depth-kind", "'depth' or 'disparity'", self.depth_kind)
        if self.region_speeds and len(self.region_speeds) != len(self.masks):
            raise InputError(
                "region speeds", f"{len(self.masks)} values (one per --mask)", len(self.region_speeds)
            )
        for s in self.region_speeds:
            if not isinstance(s, (int, float)) or not math.isfinite(s) or s <= 0:
                raise InputError("region speed", "a finite number > 0", s)
        if not isinstance(self.regions, list):
            raise InputError("regions", "a list of regions", type(self.regions).__name__)
        for k, r in enumerate(self.regions):
            r.validate(f"region {len(self.masks) + bool(self.labelme) + k + 1}")
        if not isinstance(self.freeze, list) or not all(isinstance(f, str) and f for f in self.freeze):
            raise InputError("--freeze", "a list of mask image paths", self.freeze)
        if self.sam_checkpoint is not None and not isinstance(self.sam_checkpoint, str):
            raise InputError("--sam-checkpoint", "a checkpoint path", self.sam_checkpoint)
        return self

    def resolved(self, base: str | os.PathLike) -> Project:
        """Copy with relative paths made absolute against ``base``."""
        base = Path(base)

        def fix(p):
            if p is None:
                return None
            q = Path(p)
            return str(q if q.is_absolute() else base / q)

        cam = self.camera if not self.camera.endswith(".json") else fix(self.camera)
        regions = [
            dataclasses.replace(
                r,
                mask=fix(r.mask),
                prompts=[dataclasses.replace(p) for p in r.prompts],
                video=None if r.video is None else dataclasses.replace(r.video, path=fix(r.video.path)),
            )
            for r in self.regions
        ]
        return dataclasses.replace(
            self,
            image=fix(self.image),
            depth=fix(self.depth),
            depth_model=fix(self.depth_model),
            camera=cam,
            masks=[fix(m) for m in self.masks],
            hints=fix(self.hints),
            labelme=fix(self.labelme),
            weights=fix(self.weights),
            regions=regions,
            freeze=[fix(f) for f in self.freeze],
            sam_checkpoint=fix(self.sam_checkpoint),
        )


def save_project(project: Project, path: str | os.PathLike) -> Path:
    """Write ``project`` as JSON (atomic); paths are stored as given."""
    path = Path(path)
    data = {"version": PROJECT_VERSION, **dataclasses.asdict(project)}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
    return path


def load_project(path: str | os.PathLike) -> Project:
    """Read and validate a project JSON; relative paths resolve against its directory."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("project", "an existing project .json file", f"no file at {str(path)!r}") from None
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"project {path.name}", "valid JSON", str(exc)) from None
    if not isinstance(data, dict):
        raise InputError(f"project {path.name}", "a JSON object", type(data).__name__)
    version = data.pop("version", None)
    if version != PROJECT_VERSION:
        raise InputError(f"project {path.name}: version", str(PROJECT_VERSION), version)
    names = {f.name for f in dataclasses.fields(Project)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"project {path.name}", f"only the keys {sorted(names)}", f"unknown keys {unknown}")
    if "image" not in data or not isinstance(data["image"], str):
        raise InputError(f"project {path.name}: image", "an image path string", data.get("image"))
    try:
        project = Project(**data)
    except TypeError as exc:
        raise InputError(f"project {path.name}", "valid fields", str(exc)) from None
    except InputError as exc:
        raise InputError(f"project {path.name}: {exc.name}", exc.expected, exc.found) from None
    return project.resolved(path.resolve().parent).validate()
