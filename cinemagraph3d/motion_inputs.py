"""Turn a project's motion inputs (masks, arrows, hints, anchors, labelme) into displacements."""

from __future__ import annotations

from .project import Project

__all__ = ["build_motion"]


def build_motion(project: Project, height: int, width: int):
    """Integrated motion of ``project`` at ``height × width``, or ``None`` when nothing moves."""
    if not (project.masks or project.arrows or project.hints or project.labelme or project.anchors):
        return None
    raise NotImplementedError("motion inputs are not wired yet")
