"""Project files: every user input of one cinemagraph, JSON-serialisable, so a result can be
reproduced exactly with ``cinemagraph3d render project.json -o OUT``.

Relative paths inside a project file are resolved against the file's directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError

__all__ = [
    "Project",
    "DepthSpec",
    "MotionSpec",
    "CameraSpec",
    "RenderSpec",
    "OutputSpec",
    "V1_FIELDS",
    "nest_flat",
    "RegionSpec",
    "PromptSpec",
    "VideoSpec",
    "load_project",
    "save_project",
    "is_hub_id",
    "check_schema",
    "PROJECT_VERSION",
]

PROJECT_VERSION = 2


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _describe(v) -> str:
    text = json.dumps(v) if isinstance(v, (dict, list, str, int, float, bool, type(None))) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


# Field types of the JSON schemas (the sections' are in ``_SCHEMAS`` below): "str", "str?" (or
# null), "int", "int?", "num", "num?", "bool", "list[str]", "list[num]", "points" (list of [x, y]),
# "arrows" (list of [x0, y0, x1, y1]), "list" and "dict" (checked further by their own classes).
_REGION_SCHEMA = {
    "mask": "str?",
    "clicks": "points",
    "unclicks": "points",
    "sky": "bool",
    "prompts": "list",
    "video": "dict?",
    "speed": "num",
}
_PROMPT_SCHEMA = {"text": "str", "magnitude": "magnitude"}
_VIDEO_SCHEMA = {"path": "str", "scale": "num", "rotate": "num", "fit": "str", "max_frames": "int"}
_TYPE_WORDS = {
    "str": "a non-empty string",
    "int": "an integer",
    "num": "a finite number",
    "bool": "true or false",
    "list[str]": "a list of non-empty strings",
    "list[num]": "a list of finite numbers",
    "points": "a list of [x, y] pairs of finite numbers",
    "arrows": "a list of [x0, y0, x1, y1] lists of finite numbers",
    "list": "a list",
    "dict": "a JSON object",
    "magnitude": "null, 'slow', 'medium', 'fast' or a finite number",
}


def _type_ok(kind: str, v) -> bool:
    if kind.endswith("?"):
        return v is None or _type_ok(kind[:-1], v)
    if kind == "str":
        return isinstance(v, str) and bool(v.strip())
    if kind == "int":
        return _int(v)
    if kind == "num":
        return _finite(v)
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "list[str]":
        return isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v)
    if kind == "list[num]":
        return isinstance(v, list) and all(_finite(x) for x in v)
    if kind in ("points", "arrows"):
        n = 2 if kind == "points" else 4
        return isinstance(v, list) and all(
            isinstance(p, (list, tuple)) and len(p) == n and all(_finite(c) for c in p) for p in v
        )
    if kind == "list":
        return isinstance(v, list)
    if kind == "dict":
        return isinstance(v, dict)
    if kind == "magnitude":
        return v is None or _finite(v) or isinstance(v, str)
    raise AssertionError(kind)


def check_schema(values: dict, schema: dict, where: str) -> None:
    """Check each present field of ``values`` against ``schema`` (see ``_SCHEMAS``);
    raises :class:`InputError` naming ``where.field`` and showing the value."""
    for key, kind in schema.items():
        if key in values and not _type_ok(kind, values[key]):
            expected = _TYPE_WORDS[kind.rstrip("?")] + (" or null" if kind.endswith("?") else "")
            raise InputError(f"{where}{key}", expected, _describe(values[key]))


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
    schema = {
        RegionSpec: _REGION_SCHEMA,
        PromptSpec: _PROMPT_SCHEMA,
        VideoSpec: _VIDEO_SCHEMA,
        **_SCHEMAS,
    }.get(cls)
    if schema is not None:
        check_schema(data, schema, f"{name}.")
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

    def validate(self, name: str = "prompt") -> PromptSpec:
        from .controls.prompts import parse_prompt

        check_schema({"text": self.text, "magnitude": self.magnitude}, _PROMPT_SCHEMA, f"{name}.")

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

    def validate(self, name: str = "video") -> VideoSpec:
        check_schema(
            {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, _VIDEO_SCHEMA, f"{name}."
        )
        if not self.max_frames <= 10_000:
            raise InputError(f"{name}.max_frames", "an integer in [2, 10000]", self.max_frames)
        if not isinstance(self.path, str) or not self.path:
            raise InputError(name, "a video path", self.path)
        if not (_finite(self.scale) and self.scale > 0):
            raise InputError(f"{name}.scale", "a finite number > 0", self.scale)
        if not _finite(self.rotate):
            raise InputError(f"{name}.rotate", "a finite angle in degrees", self.rotate)
        if self.fit not in ("region", "image"):
            raise InputError(f"{name}.fit", "'region' or 'image'", repr(self.fit))
        if not (
            isinstance(self.max_frames, int)
            and not isinstance(self.max_frames, bool)
            and self.max_frames >= 2
        ):
            raise InputError(f"{name}.max_frames", "an integer >= 2", self.max_frames)
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
        if isinstance(self.clicks, tuple):
            self.clicks = list(self.clicks)

    def validate(self, name: str = "region") -> RegionSpec:
        from . import limits as L

        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values.pop("video")  # a VideoSpec by now (checked below)
        check_schema(values, _REGION_SCHEMA, f"{name}.")
        if not all(isinstance(p, PromptSpec) for p in self.prompts):
            raise InputError(f"{name}.prompts", "prompt strings or {text, magnitude} objects", self.prompts)
        if self.video is not None and not isinstance(self.video, VideoSpec):
            raise InputError(f"{name}.video", "a {path, scale, rotate, fit, max_frames} object", self.video)
        if not self.speed <= L.SPEED_MAX:
            raise InputError(f"{name}.speed", f"a number in (0, {L.SPEED_MAX:g}]", self.speed)
        chosen = [self.mask is not None, bool(self.clicks), bool(self.sky)]
        if sum(chosen) != 1:
            raise InputError(name, "exactly one of a mask, clicks or the sky", f"{sum(chosen)} of them")
        if self.mask is not None and (not isinstance(self.mask, str) or not self.mask):
            raise InputError(f"{name}.mask", "a mask image path", self.mask)
        self.clicks = _points(self.clicks, f"{name}.clicks")
        self.unclicks = _points(self.unclicks, f"{name}.unclicks")
        if self.unclicks and not self.clicks:
            raise InputError(
                f"{name}.unclicks", "negative clicks together with clicks in the same region", "no clicks"
            )
        if not isinstance(self.sky, bool):
            raise InputError(f"{name}.sky", "true or false", self.sky)
        if not isinstance(self.prompts, list):
            raise InputError(f"{name}.prompts", "a list of prompts", self.prompts)
        for k, p in enumerate(self.prompts):
            p.validate(f"{name}.prompts[{k}]")
        if self.video is not None:
            self.video.validate(f"{name}.video")
        if not (_finite(self.speed) and self.speed > 0):
            raise InputError(f"{name}.speed", "a finite number > 0", self.speed)
        return self


@dataclass
class DepthSpec:
    """Where the photo's depth comes from (the ``depth`` section of a project).

    Attributes:
        file: depth/disparity file path, or None (then ``backend`` estimates it).
        kind: ``"depth"`` (z-depth, kept in its units) or ``"disparity"`` (of ``file``, or of
            what a learned back-end predicts).
        backend: ``"auto"`` (the fetched learned model, else the heuristic), ``"heuristic"`` or a
            learned back-end name (``"hf"``).
        model: model directory or Hub id of a learned back-end.
        layers: at most this many layers of the layered depth image cut from the depth (1–5;
            see :class:`~cinemagraph3d.ldi.LDISettings`).
    """

    file: str | None = None
    kind: str = "depth"
    backend: str = "auto"
    model: str | None = None
    layers: int = 3

    def validate(self, where: str = "depth") -> DepthSpec:
        check_schema(_values(self), _SCHEMAS[DepthSpec], f"{where}.")
        if self.kind not in ("depth", "disparity"):
            raise InputError(f"{where}.kind", "'depth' or 'disparity'", repr(self.kind))
        if not 1 <= self.layers <= 5:
            raise InputError(f"{where}.layers", "an integer in [1, 5]", self.layers)
        return self


@dataclass
class MotionSpec:
    """The fluid's motion (the ``motion`` section): regions, hints, anchors, speeds, freeze.

    Regions are numbered in this order: every ``masks`` entry, the ``motion*`` polygons of the
    ``labelme`` file (one region), then every :class:`RegionSpec` of ``regions``.

    Attributes:
        masks: mask image paths, one region each.
        region_speeds: per-region speed multipliers (same length as ``masks`` or empty).
        arrows: arrows ``[x0, y0, x1, y1]`` in pixels of the photo; each drives every region
            containing its start; ``L`` pixels long is ``L × 0.02`` px/step.
        hints: hints JSON path (``dx, dy`` in px/step).
        anchors: ``[x, y]`` pixels of the photo where motion is zero.
        labelme: labelme JSON path (``motion*`` polygons, ``hint*`` lines).
        speed: global speed multiplier (> 0).
        loop_steps: motion steps ``N`` per loop.
        regions: further regions (:class:`RegionSpec`: mask, clicks or sky, with prompts,
            reference video and speed).
        freeze: freeze-brush mask paths: motion is forced to zero in their union.
        sam_checkpoint: Segment Anything checkpoint; clicks are segmented with SAM instead of
            GrabCut when set.
    """

    masks: list[str] = field(default_factory=list)
    region_speeds: list[float] = field(default_factory=list)
    arrows: list[list[float]] = field(default_factory=list)
    hints: str | None = None
    anchors: list[list[float]] = field(default_factory=list)
    labelme: str | None = None
    speed: float = 1.0
    loop_steps: int = 60
    regions: list[RegionSpec] = field(default_factory=list)
    freeze: list[str] = field(default_factory=list)
    sam_checkpoint: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.regions, list):
            self.regions = [
                _from_dict(RegionSpec, r, f"motion.regions[{k}]") for k, r in enumerate(self.regions)
            ]

    @property
    def has_inputs(self) -> bool:
        """Whether any fluid motion is asked for (regions, arrows, hints, anchors, freeze)."""
        return bool(
            self.masks
            or self.labelme
            or self.regions
            or self.arrows
            or self.hints
            or self.anchors
            or self.freeze
        )

    @property
    def has_regions_or_hints(self) -> bool:
        """Whether a region or a hint is given (what the automatic sky waits for)."""
        return bool(self.masks or self.regions or self.labelme or self.arrows or self.hints)

    def validate(self, where: str = "motion") -> MotionSpec:
        from . import limits as L

        check_schema(_values(self), _SCHEMAS[MotionSpec], f"{where}.")
        if not 0 < self.speed <= L.SPEED_MAX:
            raise InputError(f"{where}.speed", f"a number in (0, {L.SPEED_MAX:g}]", self.speed)
        if not 1 <= self.loop_steps <= L.MAX_LOOP_STEPS:
            raise InputError(f"{where}.loop_steps", f"an integer in [1, {L.MAX_LOOP_STEPS}]", self.loop_steps)
        if self.region_speeds and len(self.region_speeds) != len(self.masks):
            raise InputError(
                f"{where}.region_speeds", f"{len(self.masks)} values (one per mask)", len(self.region_speeds)
            )
        for v in self.region_speeds:
            if not 0 < v <= L.SPEED_MAX:
                raise InputError(f"{where}.region_speeds", f"numbers in (0, {L.SPEED_MAX:g}]", v)
        for k, r in enumerate(self.regions):
            r.validate(f"{where}.regions[{k}]")
        return self


@dataclass
class CameraSpec:
    """The virtual camera (the ``camera`` section).

    Attributes:
        path: built-in path name (:data:`cinemagraph3d.limits.CAMERA_PATHS`) or a trajectory
            JSON path.
        amplitude: camera amplitude as a fraction of the near depth.
        frames: number of output frames ``K``.
        fov: field of view in degrees of the longer side (None: ``f = max(W, H)`` pixels).
        safe_zoom: automatic zoom against empty borders.
    """

    path: str = "circle"
    amplitude: float = 0.03
    frames: int = 60
    fov: float | None = None
    safe_zoom: bool = True

    @property
    def is_file(self) -> bool:
        """Whether ``path`` names a trajectory file rather than a built-in path."""
        return _is_camera_file(self.path)

    def validate(self, where: str = "camera") -> CameraSpec:
        from . import limits as L

        check_schema(_values(self), _SCHEMAS[CameraSpec], f"{where}.")
        if not 1 <= self.frames <= L.MAX_FRAMES:
            raise InputError(f"{where}.frames", f"an integer in [1, {L.MAX_FRAMES}]", self.frames)
        if not 0 <= self.amplitude <= L.AMPLITUDE_MAX:
            raise InputError(f"{where}.amplitude", f"a number in [0, {L.AMPLITUDE_MAX:g}]", self.amplitude)
        if self.fov is not None and not L.FOV_RANGE[0] <= self.fov <= L.FOV_RANGE[1]:
            raise InputError(f"{where}.fov", "degrees in [{:g}, {:g}]".format(*L.FOV_RANGE), self.fov)
        if not self.is_file and self.path not in L.CAMERA_PATHS:
            raise InputError(
                f"{where}.path", f"one of {', '.join(L.CAMERA_PATHS)} or a trajectory .json", repr(self.path)
            )
        return self


@dataclass
class RenderSpec:
    """How frames are made (the ``render`` section).

    Attributes:
        preset: ``"classic"`` (RGB points, training-free) or ``"neural"`` (learned features,
            decoder and motion estimator loaded from ``weights``).
        weights: directory of converted/trained weights for the neural preset.
        decoder_precision: the neural decoder's U-Net in ``"float32"`` (default) or
            ``"bfloat16"`` (faster on CPUs with AVX-512 BF16/AMX; frames differ by ~2–4e-3 on
            [0, 1]); see :func:`cinemagraph3d.models.runtime.fast_decoder`.
        decoder_runtime: ``"torch"`` (default, channels-last) or ``"openvino"`` (the optional
            ``openvino`` package; compiled at the first frame).
    """

    preset: str = "classic"
    weights: str | None = None
    decoder_precision: str = "float32"
    decoder_runtime: str = "torch"

    def validate(self, where: str = "render") -> RenderSpec:
        check_schema(_values(self), _SCHEMAS[RenderSpec], f"{where}.")
        if self.preset not in ("classic", "neural"):
            raise InputError(f"{where}.preset", "'classic' or 'neural'", repr(self.preset))
        if self.preset == "neural" and not self.weights:
            raise InputError(f"{where}.weights", "a weights directory for the neural preset", "none")
        if self.decoder_precision not in ("float32", "bfloat16"):
            raise InputError(
                f"{where}.decoder_precision", "'float32' or 'bfloat16'", repr(self.decoder_precision)
            )
        if self.decoder_runtime not in ("torch", "openvino"):
            raise InputError(f"{where}.decoder_runtime", "'torch' or 'openvino'", repr(self.decoder_runtime))
        return self


@dataclass
class OutputSpec:
    """The written file (the ``output`` section).

    Attributes:
        fps: frames per second.
        codec: video codec (``h264``, ``hevc``, ``vp9``, ``gif``, ``webp``; None: by the output
            suffix, see :data:`cinemagraph3d.io.CODECS`).
        quality: CRF-style quality of the codec (lower is better; WebP: 0–100, higher is
            better); None: the codec's default.
        bitrate: target bit rate such as ``"4M"`` (None: quality-driven).
        loops: the seamless loop repeated this many times inside the file (1–100).
        stereo: ``"sbs"``, ``"tb"`` or ``"anaglyph"``: a left and a right eye rendered and
            packed (see :func:`cinemagraph3d.api.stereo_pair`); None: one view.
        baseline: stereo eye distance as a fraction of the near depth (None: 0.03).
        live_photo: with a ``.mov`` output, write an Apple Live Photo pair (the movie and a
            ``.jpg`` key photo beside it sharing one content identifier).
    """

    fps: float = 30.0
    codec: str | None = None
    quality: float | None = None
    bitrate: str | None = None
    loops: int = 1
    stereo: str | None = None
    baseline: float | None = None
    live_photo: bool = False

    def validate(self, where: str = "output") -> OutputSpec:
        from . import limits as L

        check_schema(_values(self), _SCHEMAS[OutputSpec], f"{where}.")
        lo, hi = L.FPS_RANGE
        if not lo <= self.fps <= hi:
            raise InputError(f"{where}.fps", f"a number in [{lo:g}, {hi:g}]", self.fps)
        if self.stereo is not None and self.stereo not in ("sbs", "tb", "anaglyph"):
            raise InputError(f"{where}.stereo", "'sbs', 'tb' or 'anaglyph'", repr(self.stereo))
        if self.baseline is not None and not 0 < self.baseline <= 0.2:
            raise InputError(f"{where}.baseline", "a fraction of the near depth in (0, 0.2]", self.baseline)
        if not 1 <= self.loops <= 100:
            raise InputError(f"{where}.loops", "an integer in [1, 100]", self.loops)
        return self


_SECTIONS = {
    "depth": DepthSpec,
    "motion": MotionSpec,
    "camera": CameraSpec,
    "render": RenderSpec,
    "output": OutputSpec,
}
_SCHEMAS = {
    DepthSpec: {"file": "str?", "kind": "str", "backend": "str", "model": "str?", "layers": "int"},
    MotionSpec: {
        "masks": "list[str]",
        "region_speeds": "list[num]",
        "arrows": "arrows",
        "hints": "str?",
        "anchors": "points",
        "labelme": "str?",
        "speed": "num",
        "loop_steps": "int",
        "regions": "list",
        "freeze": "list[str]",
        "sam_checkpoint": "str?",
    },
    CameraSpec: {"path": "str", "amplitude": "num", "frames": "int", "fov": "num?", "safe_zoom": "bool"},
    RenderSpec: {"preset": "str", "weights": "str?", "decoder_precision": "str", "decoder_runtime": "str"},
    OutputSpec: {
        "fps": "num",
        "codec": "str?",
        "quality": "num?",
        "bitrate": "str?",
        "loops": "int",
        "stereo": "str?",
        "baseline": "num?",
        "live_photo": "bool",
    },
}
_TOP_SCHEMA = {"image": "str", "max_side": "int?", "seed": "int"}

#: Version-1 (flat) field → ``(section, field)`` of version 2 (``None``: a top-level field).
#: The migration of old project files and :meth:`Project.from_flat` both read this table.
V1_FIELDS: dict[str, tuple[str | None, str]] = {
    "image": (None, "image"),
    "max_side": (None, "max_side"),
    "seed": (None, "seed"),
    "depth": ("depth", "file"),
    "depth_kind": ("depth", "kind"),
    "depth_backend": ("depth", "backend"),
    "depth_model": ("depth", "model"),
    "layers": ("depth", "layers"),
    "masks": ("motion", "masks"),
    "region_speeds": ("motion", "region_speeds"),
    "arrows": ("motion", "arrows"),
    "hints": ("motion", "hints"),
    "anchors": ("motion", "anchors"),
    "labelme": ("motion", "labelme"),
    "speed": ("motion", "speed"),
    "loop_steps": ("motion", "loop_steps"),
    "regions": ("motion", "regions"),
    "freeze": ("motion", "freeze"),
    "sam_checkpoint": ("motion", "sam_checkpoint"),
    "camera": ("camera", "path"),
    "amplitude": ("camera", "amplitude"),
    "frames": ("camera", "frames"),
    "fov": ("camera", "fov"),
    "safe_zoom": ("camera", "safe_zoom"),
    "preset": ("render", "preset"),
    "weights": ("render", "weights"),
    "decoder_precision": ("render", "decoder_precision"),
    "decoder_runtime": ("render", "decoder_runtime"),
    "fps": ("output", "fps"),
    "codec": ("output", "codec"),
    "quality": ("output", "quality"),
    "bitrate": ("output", "bitrate"),
    "loops": ("output", "loops"),
    "stereo": ("output", "stereo"),
    "baseline": ("output", "baseline"),
    "live_photo": ("output", "live_photo"),
}


def _values(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def nest_flat(flat: dict, where: str = "project") -> dict:
    """A version-2 nested dict from version-1 flat keys (see :data:`V1_FIELDS`).

    ``extra`` (a free-form object of version 1 that nothing read) is dropped when empty and
    refused otherwise. Raises :class:`InputError` naming an unknown key.
    """
    out: dict = {}
    for key, value in flat.items():
        if key == "extra":
            if value not in ({}, None):
                raise InputError(f"{where}.extra", "an empty object (nothing reads it)", _describe(value))
            continue
        if key not in V1_FIELDS:
            raise InputError(where, f"only the keys {sorted(V1_FIELDS)}", f"unknown key {key!r}")
        section, name = V1_FIELDS[key]
        if section is None:
            out[name] = value
        else:
            out.setdefault(section, {})[name] = value
    return out


@dataclass
class Project:
    """All inputs of one cinemagraph, nested by stage.

    Attributes:
        image: photo path.
        max_side: downscale so ``max(H, W) <= max_side`` (None: keep). Clicks, arrows and
            anchors stay in the photo's own pixels (they are scaled to the working size).
        seed: random seed.
        depth: :class:`DepthSpec`.
        motion: :class:`MotionSpec`.
        camera: :class:`CameraSpec`.
        render: :class:`RenderSpec`.
        output: :class:`OutputSpec`.

    A project file is this as JSON with ``"version": 2`` (:func:`save_project`); version-1
    files (flat keys) still load (:func:`load_project` migrates them).
    """

    image: str
    max_side: int | None = None
    seed: int = 0
    depth: DepthSpec = field(default_factory=DepthSpec)
    motion: MotionSpec = field(default_factory=MotionSpec)
    camera: CameraSpec = field(default_factory=CameraSpec)
    render: RenderSpec = field(default_factory=RenderSpec)
    output: OutputSpec = field(default_factory=OutputSpec)

    def __post_init__(self) -> None:
        for name, cls in _SECTIONS.items():
            value = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, _from_dict(cls, value, name))
            elif not isinstance(value, cls):
                raise InputError(name, f"a {cls.__name__} or a JSON object", _describe(value))

    @classmethod
    def from_flat(cls, **fields) -> Project:
        """Build from version-1 flat field names (``Project.from_flat(image=..., frames=24,
        masks=[...])``), the names the command line's options follow."""
        return cls.from_dict(nest_flat(fields))

    @classmethod
    def from_dict(cls, data: dict, where: str = "project") -> Project:
        """Build from a version-2 nested dict (no ``version`` key), refusing unknown keys and
        wrong types with the key named."""
        if not isinstance(data, dict):
            raise InputError(where, "a JSON object", type(data).__name__)
        allowed = set(_TOP_SCHEMA) | set(_SECTIONS)
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InputError(where, f"only the keys {sorted(allowed)}", f"unknown keys {unknown}")
        if "image" not in data:
            raise InputError(f"{where}.image", "an image path string", "no 'image' key")
        check_schema(data, _TOP_SCHEMA, f"{where}.")
        kwargs = dict(data)
        for name, sec in _SECTIONS.items():
            if name in data:
                kwargs[name] = _from_dict(sec, data[name], name)
        return cls(**kwargs)

    def to_dict(self) -> dict:
        """The version-2 JSON form (without ``version``)."""
        return dataclasses.asdict(self)

    def replace(self, **changes) -> Project:
        """Copy with fields changed; a section may be given as a dict of its changed fields,
        e.g. ``p.replace(camera={"frames": 24}, seed=3)``."""
        out = {}
        for key, value in changes.items():
            if key in _SECTIONS and isinstance(value, dict):
                value = dataclasses.replace(getattr(self, key), **value)
            out[key] = value
        return dataclasses.replace(self, **out)

    def validate(self) -> Project:
        """Check every field's type and range (see :mod:`cinemagraph3d.limits`); raises
        :class:`InputError` naming the field (``camera.frames``, ``motion.regions[0].speed``...)
        and showing the value. Files are not opened here."""
        from . import limits as L

        check_schema({k: getattr(self, k) for k in _TOP_SCHEMA}, _TOP_SCHEMA, "")
        if self.max_side is not None and not L.MAX_SIDE_RANGE[0] <= self.max_side <= L.MAX_SIDE_RANGE[1]:
            raise InputError("max_side", "pixels in [{}, {}]".format(*L.MAX_SIDE_RANGE), self.max_side)
        if not 0 <= self.seed <= L.SEED_MAX:
            raise InputError("seed", f"an integer in [0, {L.SEED_MAX}]", self.seed)
        for name in _SECTIONS:
            getattr(self, name).validate(name)
        return self

    def paths(self) -> list[str]:
        """Every input file or directory path of the project (a hub id is not a path)."""
        d, m = self.depth, self.motion
        out = [self.image, d.file, m.hints, m.labelme, self.render.weights, m.sam_checkpoint]
        if d.model and not is_hub_id(d.model):
            out.append(d.model)
        if self.camera.is_file:
            out.append(self.camera.path)
        out += list(m.masks) + list(m.freeze)
        for r in m.regions:
            out += [r.mask, None if r.video is None else r.video.path]
        return [p for p in out if p]

    def resolved(self, base: str | os.PathLike) -> Project:
        """Copy with relative paths made absolute against ``base`` (hub ids kept as they are)."""
        base = Path(base)
        return self.map_paths(lambda p: str(Path(p) if Path(p).is_absolute() else base / p))

    def map_paths(self, fix) -> Project:
        """Copy with ``fix(path)`` applied to every input path (see :meth:`paths`)."""

        def f(p):
            return None if p is None else fix(p)

        d, m = self.depth, self.motion
        model = d.model if d.model and is_hub_id(d.model) else f(d.model)
        regions = [
            dataclasses.replace(
                r,
                mask=f(r.mask),
                prompts=[dataclasses.replace(p) for p in r.prompts],
                video=None if r.video is None else dataclasses.replace(r.video, path=f(r.video.path)),
            )
            for r in m.regions
        ]
        cam = self.camera
        return dataclasses.replace(
            self,
            image=f(self.image),
            depth=dataclasses.replace(d, file=f(d.file), model=model),
            camera=dataclasses.replace(cam, path=f(cam.path)) if cam.is_file else dataclasses.replace(cam),
            motion=dataclasses.replace(
                m,
                masks=[f(x) for x in m.masks],
                hints=f(m.hints),
                labelme=f(m.labelme),
                regions=regions,
                freeze=[f(x) for x in m.freeze],
                sam_checkpoint=f(m.sam_checkpoint),
                arrows=[list(a) for a in m.arrows],
                anchors=[list(a) for a in m.anchors],
                region_speeds=list(m.region_speeds),
            ),
            render=dataclasses.replace(self.render, weights=f(self.render.weights)),
            output=dataclasses.replace(self.output),
        )


_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def is_hub_id(text: str) -> bool:
    """Whether ``text`` reads as a Hugging Face Hub model id (``org/name``) rather than a local
    path: one slash, no leading ``.``/``/``, not ``..``, and no such path exists."""
    return (
        isinstance(text, str)
        and bool(_HUB_ID.match(text))
        and ".." not in text.split("/")
        and not os.path.exists(text)
    )


def _is_camera_file(camera) -> bool:
    return isinstance(camera, str) and (camera.lower().endswith(".json") or "/" in camera or os.sep in camera)


def save_project(project: Project, path: str | os.PathLike, base: str | os.PathLike | None = None) -> Path:
    """Write ``project`` as JSON (atomic). Paths are stored relative to the project file's
    folder, so the project and its inputs can be moved together (relative paths in ``project``
    are taken against ``base``, default the current directory). An input outside that folder is
    stored as ``../...``; rendering it then needs ``allow_outside_paths``.
    """
    path = Path(path)
    folder = Path(os.path.abspath(path.parent))
    base = Path(os.path.abspath(base if base is not None else Path.cwd()))

    def rel(p):
        q = Path(p) if Path(p).is_absolute() else base / p
        return os.path.relpath(os.path.abspath(q), folder)

    data = {"version": PROJECT_VERSION, **project.map_paths(rel).to_dict()}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def _check_inside(project: Project, folder: Path, where: str) -> None:
    """Refuse input paths that leave ``folder`` (absolute, ``..`` or a link pointing out)."""
    real_folder = Path(os.path.realpath(folder))
    for p in project.paths():
        q = Path(p)
        target = Path(os.path.realpath(q if q.is_absolute() else folder / q))
        if q.is_absolute() or ".." in q.parts or not (target == real_folder or real_folder in target.parents):
            raise InputError(
                f"{where}: path",
                "a path inside the project's folder (or allow_outside_paths)",
                repr(p),
            )


def load_project(path: str | os.PathLike, allow_outside_paths: bool = False) -> Project:
    """Read and validate a project JSON.

    Every field is type-checked against the schema (the error names the field and shows the
    value). Relative paths resolve against the project file's folder; a path leaving that folder
    (absolute, through ``..`` or a link) is refused unless ``allow_outside_paths``. A
    ``depth_model`` of the form ``org/name`` that is no local path is a Hub model id.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("project", "an existing project .json file", f"no file at {str(path)!r}") from None
    except IsADirectoryError:
        raise InputError("project", "a project .json file", f"{str(path)!r} is a directory") from None
    except RecursionError:
        raise InputError(f"project {path.name}", "valid JSON", "nesting too deep") from None
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"project {path.name}", "valid JSON", str(exc)) from None
    where = f"project {path.name}"
    if not isinstance(data, dict):
        raise InputError(where, "a JSON object", type(data).__name__)
    data = dict(data)
    version = data.pop("version", None)
    if version not in (1, PROJECT_VERSION) or isinstance(version, bool):
        raise InputError(f"{where}: version", f"1 or {PROJECT_VERSION}", version)
    try:
        if version == 1:  # flat keys, written before the sections existed
            if "image" not in data:
                raise InputError("image", "an image path string", "no 'image' key")
            data = nest_flat(data, where="project")
        project = Project.from_dict(data, where="project")
        folder = path.resolve().parent
        if not allow_outside_paths:
            _check_inside(project, folder, where)
        return project.resolved(folder).validate()
    except TypeError as exc:
        raise InputError(where, "valid fields", str(exc)) from None
    except InputError as exc:
        if exc.name.startswith(where):
            raise
        name = exc.name[len("project.") :] if exc.name.startswith("project.") else exc.name
        raise InputError(
            f"{where}: {name}" if name != "project" else where, exc.expected, exc.found
        ) from None
