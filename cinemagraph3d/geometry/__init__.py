"""Cameras and camera paths."""

from .camera import PinholeCamera, project, unproject_depth
from .trajectory import (
    CAMERA_PATHS,
    Trajectory,
    TrajectorySettings,
    load_trajectory,
    make_trajectory,
    photo_border_points,
    safe_zoom,
)

__all__ = [
    "PinholeCamera",
    "project",
    "unproject_depth",
    "Trajectory",
    "TrajectorySettings",
    "CAMERA_PATHS",
    "make_trajectory",
    "load_trajectory",
    "photo_border_points",
    "safe_zoom",
]
