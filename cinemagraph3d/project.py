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

__all__ = ["Project", "load_project", "save_project", "PROJECT_VERSION"]

PROJECT_VERSION = 1


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
    extra: dict = field(default_factory=dict)

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
    return project.resolved(path.resolve().parent).validate()
