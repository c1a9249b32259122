"""Fluid motion: hints and masks, the dense Eulerian field, Euler integration, 3D lifting.

Typical use::

    mask, hints = load_labelme("water.json", H, W)
    field = motion_field(H, W, [MotionRegion(mask, hints)], anchors=anchors)
    disp = integrate_motion(field, num_steps=90)
    fwd, bwd = disp.sample_at(t, cloud.pixels)
    flow3d_fwd = lift_displacement(cloud.points, cloud.pixels, fwd, K)

See ``docs/motion.md`` for formats, formulas and conventions.
"""

from .field import (
    MotionRegion,
    MotionSettings,
    anchor_notch,
    assign_hints,
    draw_motion_field,
    edge_feather,
    kernel_sigma,
    motion_field,
)
from .hints import (
    DEFAULT_HINT_SCALE,
    HINT_UNITS,
    MotionHints,
    arrow_hint,
    check_hints,
    check_points,
    hints_to_dict,
    load_hints,
    load_labelme,
    load_mask,
    parse_arrow,
    parse_point,
)
from .integrate import Displacements, integrate_motion
from .learned import estimate_motion
from .lift import donor_pixels, lift_displacement, lift_offsets
from .spec import (
    build_motion,
    build_motion_field,
    build_region_masks,
    coordinate_scale,
    estimated_motion_field,
    has_motion_inputs,
    wants_motion_estimator,
)

__all__ = [
    "MotionHints",
    "HINT_UNITS",
    "DEFAULT_HINT_SCALE",
    "parse_arrow",
    "arrow_hint",
    "parse_point",
    "load_hints",
    "hints_to_dict",
    "load_labelme",
    "load_mask",
    "check_hints",
    "check_points",
    "MotionSettings",
    "MotionRegion",
    "motion_field",
    "kernel_sigma",
    "edge_feather",
    "anchor_notch",
    "assign_hints",
    "draw_motion_field",
    "Displacements",
    "integrate_motion",
    "lift_displacement",
    "lift_offsets",
    "estimate_motion",
    "build_motion",
    "build_motion_field",
    "build_region_masks",
    "coordinate_scale",
    "estimated_motion_field",
    "has_motion_inputs",
    "wants_motion_estimator",
    "donor_pixels",
]
