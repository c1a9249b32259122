"""cinemagraph3d: one photo → a seamlessly looping 3D cinemagraph.

Stages (each a public function returning a typed object): :func:`read_image` →
:func:`estimate_depth` → :func:`build_ldi` → :func:`lift_ldi` → motion (:mod:`cinemagraph3d.motion`)
→ :func:`splat_points` / :func:`fuse_bidirectional` → :func:`render_frames` → :func:`write_video`.
"""

from typing import TYPE_CHECKING

# The stages are imported on first use (PEP 562), so ``import cinemagraph3d.cli`` and the CLI's
# argument checks do not load torch; ``cinemagraph3d.X`` and ``from cinemagraph3d import X`` work
# as usual. Add a public name here and in ``__all__``.
from ._lazy import lazy_getattr
from .errors import BackendError, Cinemagraph3DError, InputError, ShapeError, WeightsError

_LAZY = {
    "DepthSettings": ".depth",
    "estimate_depth": ".depth",
    "heuristic_depth": ".depth",
    "load_depth_file": ".depth",
    "lift_ldi": ".features",
    "CAMERA_PATHS": ".geometry",
    "PinholeCamera": ".geometry",
    "Trajectory": ".geometry",
    "TrajectorySettings": ".geometry",
    "load_trajectory": ".geometry",
    "make_trajectory": ".geometry",
    "read_image": ".io",
    "write_layers": ".io",
    "write_ply": ".io",
    "write_video": ".io",
    "LDISettings": ".ldi",
    "build_ldi": ".ldi",
    "RenderSettings": ".pipeline",
    "Scene": ".pipeline",
    "prepare_scene": ".pipeline",
    "render_frames": ".pipeline",
    "FusionSettings": ".render",
    "SplatSettings": ".render",
    "active_backend": ".render",
    "fill_holes": ".render",
    "fuse_bidirectional": ".render",
    "splat_points": ".render",
    "DepthMap": ".types",
    "FeatureCloud": ".types",
    "LayeredDepthImage": ".types",
    "MotionField": ".types",
    "SceneFlow": ".types",
    "SplatResult": ".types",
    "animate": ".api",
    "check_project": ".api",
    "prepare_project": ".api",
    "Project": ".project",
    "RegionSpec": ".project",
    "DepthSpec": ".project",
    "MotionSpec": ".project",
    "CameraSpec": ".project",
    "RenderSpec": ".project",
    "OutputSpec": ".project",
    "Models": ".models",
    "load_models": ".models",
    "Displacements": ".motion",
    "integrate_motion": ".motion",
    "build_motion": ".motion",
    "PromptSpec": ".project",
    "VideoSpec": ".project",
    "load_project": ".project",
    "save_project": ".project",
}

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .api import animate, check_project, prepare_project
    from .depth import DepthSettings, estimate_depth, heuristic_depth, load_depth_file
    from .features import lift_ldi
    from .geometry import (
        CAMERA_PATHS,
        PinholeCamera,
        Trajectory,
        TrajectorySettings,
        load_trajectory,
        make_trajectory,
    )
    from .io import read_image, write_layers, write_ply, write_video
    from .ldi import LDISettings, build_ldi
    from .models import Models, load_models
    from .motion import Displacements, build_motion, integrate_motion
    from .pipeline import RenderSettings, Scene, prepare_scene, render_frames
    from .project import (
        CameraSpec,
        DepthSpec,
        MotionSpec,
        OutputSpec,
        Project,
        PromptSpec,
        RegionSpec,
        RenderSpec,
        VideoSpec,
        load_project,
        save_project,
    )
    from .render import (
        FusionSettings,
        SplatSettings,
        active_backend,
        fill_holes,
        fuse_bidirectional,
        splat_points,
    )
    from .types import DepthMap, FeatureCloud, LayeredDepthImage, MotionField, SceneFlow, SplatResult


__getattr__ = lazy_getattr(__name__, _LAZY, globals(), submodules=True)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "CAMERA_PATHS",
    "Cinemagraph3DError",
    "DepthMap",
    "DepthSettings",
    "FeatureCloud",
    "FusionSettings",
    "InputError",
    "ShapeError",
    "LDISettings",
    "LayeredDepthImage",
    "MotionField",
    "PinholeCamera",
    "RenderSettings",
    "Scene",
    "SceneFlow",
    "SplatResult",
    "SplatSettings",
    "Trajectory",
    "TrajectorySettings",
    "WeightsError",
    "active_backend",
    "animate",
    "check_project",
    "prepare_project",
    "Project",
    "PromptSpec",
    "RegionSpec",
    "VideoSpec",
    "DepthSpec",
    "MotionSpec",
    "CameraSpec",
    "RenderSpec",
    "OutputSpec",
    "Models",
    "load_models",
    "Displacements",
    "integrate_motion",
    "build_motion",
    "load_project",
    "save_project",
    "build_ldi",
    "estimate_depth",
    "fill_holes",
    "fuse_bidirectional",
    "heuristic_depth",
    "lift_ldi",
    "load_depth_file",
    "load_trajectory",
    "make_trajectory",
    "prepare_scene",
    "read_image",
    "render_frames",
    "splat_points",
    "write_layers",
    "write_ply",
    "write_video",
]
