"""The 3D cinemagraph as an interactive, offline web page (``cinemagraph3d export-web``).

See :mod:`cinemagraph3d.web.export` and ``docs/web.md``.
"""

from .export import (
    TEXTURE_FORMATS,
    WebInputs,
    WebLayer,
    WebScene,
    WebSettings,
    export_web,
    orbit_pose,
    prepared_from_project,
    project_from_photo,
    scene_script,
    web_scene,
    write_web,
)

__all__ = [
    "TEXTURE_FORMATS",
    "WebInputs",
    "WebLayer",
    "WebScene",
    "WebSettings",
    "export_web",
    "orbit_pose",
    "prepared_from_project",
    "project_from_photo",
    "scene_script",
    "web_scene",
    "write_web",
]
