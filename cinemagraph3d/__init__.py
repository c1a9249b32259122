"""cinemagraph3d: one photo → a seamlessly looping 3D cinemagraph.

Stages (each a public function returning a typed object): :func:`read_image` →
:func:`estimate_depth` → :func:`build_ldi` → :func:`lift_ldi` → motion (:mod:`cinemagraph3d.motion`)
→ :func:`splat_points` / :func:`fuse_bidirectional` → :func:`render_frames` → :func:`write_video`.
"""

from .depth import DepthSettings, estimate_depth, heuristic_depth, load_depth_file
from .errors import BackendError, Cinemagraph3DError, InputError, WeightsError
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
from .pipeline import RenderSettings, Scene, prepare_scene, render_frames
from .render import (
    FusionSettings,
    SplatSettings,
    active_backend,
    fill_holes,
    fuse_bidirectional,
    splat_points,
)
from .types import DepthMap, FeatureCloud, LayeredDepthImage, MotionField, SceneFlow, SplatResult

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
