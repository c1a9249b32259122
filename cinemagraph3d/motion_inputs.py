"""Turn a project's motion inputs (masks, arrows, hints, anchors, labelme) into displacements.

Rules:
- Every ``--mask`` and the ``motion*`` polygons of a labelme file are regions (labelme polygons
  form one region). ``--region-speed`` values pair with the ``--mask`` files in order.
- Arrows (``--arrow x0,y0,x1,y1`` and labelme ``hint*`` lines) are drawn lines: a line of ``L``
  pixels means ``L × DEFAULT_HINT_SCALE`` (0.02) pixels per motion step, so a 50-px arrow is
  1 px/step. Hints files give ``dx, dy`` in px/step directly.
- Each hint drives every region containing its start; a hint inside no region drives the nearest.
- A region without hints is an error; hints or anchors without any region do nothing moving and
  are an error too (there would be nothing to animate).
"""

from __future__ import annotations

import torch

from .errors import InputError
from .project import Project

__all__ = ["build_motion_field", "build_motion"]


def build_motion_field(project: Project, height: int, width: int):
    """The Eulerian :class:`~cinemagraph3d.types.MotionField` of ``project`` or ``None``."""
    from .motion import (
        DEFAULT_HINT_SCALE,
        MotionHints,
        MotionRegion,
        MotionSettings,
        assign_hints,
        check_points,
        load_hints,
        load_labelme,
        load_mask,
        motion_field,
        parse_arrow,
    )

    has_hints = bool(project.arrows or project.hints)
    if not (project.masks or project.labelme or has_hints or project.anchors):
        return None
    masks = [load_mask(m, height, width, name=f"--mask {m}") for m in project.masks]
    speeds = list(project.region_speeds) or [1.0] * len(masks)
    starts, vectors = [], []
    if project.labelme:
        lm_mask, lm_hints = load_labelme(project.labelme, height, width)
        masks.append(lm_mask)
        speeds.append(1.0)
        starts.append(lm_hints.starts)
        vectors.append(lm_hints.vectors)
    for a in project.arrows:
        s, v = parse_arrow(",".join(f"{x:g}" for x in a), height, width, scale=DEFAULT_HINT_SCALE)
        starts.append(s[None])
        vectors.append(v[None])
    if project.hints:
        h = load_hints(project.hints, height, width)
        starts.append(h.starts)
        vectors.append(h.vectors)
    if not masks:
        raise InputError(
            "motion", "a region (--mask or --labelme) for the arrows/hints/anchors to act on", "no region"
        )
    if not starts:
        raise InputError("motion", "arrows (--arrow, --hints or labelme hint lines) for the masks", "no hints")
    hints = MotionHints(torch.cat(starts).float(), torch.cat(vectors).float())
    per_region = assign_hints(masks, hints)
    regions = []
    for i, (m, h, sp) in enumerate(zip(masks, per_region, speeds)):
        if len(h) == 0:
            raise InputError(f"region {i + 1}", "at least one arrow starting in or near it", "none")
        regions.append(MotionRegion(m, h, float(sp)))
    anchors = check_points(project.anchors, height, width, name="--anchor") if project.anchors else None
    return motion_field(height, width, regions, anchors=anchors, settings=MotionSettings(speed=project.speed))


def build_motion(project: Project, height: int, width: int):
    """Integrated forward/backward displacements of ``project`` (``None`` when nothing moves)."""
    from .motion import integrate_motion

    field = build_motion_field(project, height, width)
    if field is None:
        return None
    return integrate_motion(field, project.loop_steps)
