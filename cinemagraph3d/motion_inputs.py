"""Turn a project's motion inputs into an Eulerian motion field and its displacements.

Rules:
- Regions, numbered in this order: every ``masks`` entry (``--mask`` without prompt or video),
  the ``motion*`` polygons of a labelme file (one region), then every :class:`RegionSpec` of
  ``project.regions`` (``--mask``/``--click``/``--sky`` followed by ``--prompt`` or
  ``--motion-video``; see :mod:`cinemagraph3d.cli`). ``region_speeds`` pair with ``masks``; a
  ``RegionSpec`` carries its own speed.
- A ``RegionSpec``'s mask comes from its mask file, from click-to-mask on its clicks
  (:func:`~cinemagraph3d.controls.segment_clicks`; SAM when ``sam_checkpoint`` is set) or from
  the sky detector (:func:`~cinemagraph3d.controls.detect_sky`; no sky found is an error here).
- A region's dense *base* field is the sum of its prompts' fields
  (:func:`~cinemagraph3d.controls.prompt_field`) and of the motion transferred from its reference
  video (:func:`~cinemagraph3d.controls.transfer_motion`).
- Arrows (``--arrow x0,y0,x1,y1`` and labelme ``hint*`` lines) are drawn lines: a line of ``L``
  pixels means ``L × DEFAULT_HINT_SCALE`` (0.02) pixels per motion step, so a 50-px arrow is
  1 px/step. Hints files give ``dx, dy`` in px/step directly. Each hint drives every region
  containing its start; a hint inside no region drives the nearest. Inside a region the
  interpolated arrows are *added* to its base field.
- A region with neither arrows nor a base field is an error; arrows, hints, anchors or a freeze
  mask without any region are an error too (there would be nothing to animate).
- Anchors force the field to 0 at their pixel (Gaussian notch); the freeze masks (union) force
  it to 0 everywhere inside.
"""

from __future__ import annotations

import torch

from .errors import InputError
from .project import Project, RegionSpec

__all__ = [
    "coordinate_scale",
    "estimated_motion_field",
    "build_motion_field",
    "build_motion",
    "build_region_masks",
    "has_motion_inputs",
    "wants_motion_estimator",
]


def coordinate_scale(project: Project, height: int, width: int) -> tuple[float, float]:
    """``(sx, sy)`` from the photo's own pixel coordinates to the working image's.

    Clicks, arrows, anchors and hints files are given in pixels of the photo as it is displayed
    (EXIF orientation applied), like labelme files; with ``max_side`` the working image is
    smaller and these coordinates (and arrow lengths, hint vectors) are scaled by ``W / W0``
    and ``H / H0``. Mask images are resized to the working size. Without ``max_side`` the
    scale is 1.
    """
    if project.max_side is None:
        return 1.0, 1.0
    from .checks import image_size

    w0, h0 = image_size(project.image)
    return width / w0, height / h0


def wants_motion_estimator(project: Project) -> bool:
    """Whether ``project`` leaves the motion to the neural preset's estimator: masks but no
    arrows, hints, labelme or other regions (used when the weights hold ``motion_estimator``)."""
    no_hints = not (project.arrows or project.hints or project.labelme or project.regions)
    return project.preset == "neural" and bool(project.masks) and no_hints


def has_motion_inputs(project: Project) -> bool:
    """Whether ``project`` asks for any fluid motion (regions, arrows, hints, anchors, freeze)."""
    return bool(
        project.masks
        or project.labelme
        or project.regions
        or project.arrows
        or project.hints
        or project.anchors
        or project.freeze
    )


def _working_image(project: Project, height: int, width: int, image):
    from .io import read_image

    if image is None:
        image = read_image(project.image, project.max_side)
    if tuple(image.shape) != (3, height, width):
        raise InputError("image", f"a (3, {height}, {width}) image", tuple(image.shape))
    return image


def _spec_mask(spec: RegionSpec, name: str, project: Project, height: int, width: int, get_image):
    from .controls import SegmentSettings, detect_sky, segment_clicks
    from .motion import load_mask

    if spec.mask is not None:
        return load_mask(spec.mask, height, width, name=f"--mask {spec.mask}")
    if spec.sky:
        det = detect_sky(get_image())
        if not det.found:
            raise InputError("--sky", "a photo with a sky the detector finds", det.note)
        return det.mask.cpu()
    settings = SegmentSettings(
        method="sam" if project.sam_checkpoint else "grabcut", sam_checkpoint=project.sam_checkpoint
    )
    sx, sy = coordinate_scale(project, height, width)
    clicks = [[x * sx, y * sy] for x, y in spec.clicks]
    unclicks = [[x * sx, y * sy] for x, y in spec.unclicks]
    return segment_clicks(get_image(), clicks, unclicks, settings)


def _collect(project: Project, height: int, width: int, image=None):
    """Regions as ``(name, mask, speed, spec)`` and the freeze mask (or None)."""
    from .motion import load_labelme, load_mask

    cache = {}

    def get_image():
        if "image" not in cache:
            cache["image"] = _working_image(project, height, width, image)
        return cache["image"]

    entries = []
    speeds = list(project.region_speeds) or [1.0] * len(project.masks)
    for m, sp in zip(project.masks, speeds):
        entries.append(
            (f"region {len(entries) + 1}", load_mask(m, height, width, name=f"--mask {m}"), sp, None)
        )
    lm_hints = None
    if project.labelme:
        lm_mask, lm_hints = load_labelme(project.labelme, height, width)
        entries.append((f"region {len(entries) + 1}", lm_mask, 1.0, None))
    for spec in project.regions:
        name = f"region {len(entries) + 1}"
        entries.append((name, _spec_mask(spec, name, project, height, width, get_image), spec.speed, spec))
    freeze = None
    for f in project.freeze:
        fm = load_mask(f, height, width, name=f"--freeze {f}")
        freeze = fm if freeze is None else freeze | fm
    return entries, freeze, lm_hints


def build_region_masks(project: Project, height: int, width: int, image=None):
    """Masks of every region of ``project`` and the freeze mask, for checking.

    Returns:
        ``(masks, freeze)``: a list of ``(H, W)`` bool tensors in region order, and the union of
        the freeze masks (or None).
    """
    entries, freeze, _ = _collect(project, height, width, image)
    return [e[1] for e in entries], freeze


def _base_field(spec: RegionSpec, mask: torch.Tensor, videos: dict):
    from .controls import (
        VideoMotionSettings,
        estimate_video_motion,
        load_video_frames,
        parse_prompt,
        prompt_field,
        transfer_motion,
    )

    if spec is None:
        return None
    base = None
    for p in spec.prompts:
        f = prompt_field(parse_prompt(p.text, p.magnitude), mask)
        base = f if base is None else base + f
    if spec.video is not None:
        v = spec.video
        key = (v.path, v.max_frames)
        if key not in videos:
            frames = load_video_frames(v.path, v.max_frames)
            videos[key] = estimate_video_motion(frames, VideoMotionSettings(max_frames=v.max_frames))
        f = transfer_motion(videos[key], mask, fit=v.fit, scale=float(v.scale), rotate=float(v.rotate))
        base = f if base is None else base + f
    return base


def build_motion_field(project: Project, height: int, width: int, image=None):
    """The Eulerian :class:`~cinemagraph3d.types.MotionField` of ``project`` or ``None``.

    Args:
        project: a validated :class:`Project`.
        height, width: working image size.
        image: the ``(3, H, W)`` working photo; read from ``project.image`` when clicks or the
            sky need it and it is not given.
    """
    from .motion import (
        DEFAULT_HINT_SCALE,
        MotionHints,
        MotionRegion,
        MotionSettings,
        assign_hints,
        check_points,
        load_hints,
        motion_field,
        parse_arrow,
    )

    if not has_motion_inputs(project):
        return None
    entries, freeze, lm_hints = _collect(project, height, width, image)
    starts, vectors = [], []
    if lm_hints is not None:
        starts.append(lm_hints.starts)
        vectors.append(lm_hints.vectors)
    sx, sy = coordinate_scale(project, height, width)
    for a in project.arrows:
        x0, y0, x1, y1 = (float(v) for v in a)
        text = ",".join(repr(v) for v in (x0 * sx, y0 * sy, x1 * sx, y1 * sy))
        s, v = parse_arrow(text, height, width, scale=DEFAULT_HINT_SCALE)
        starts.append(s[None])
        vectors.append(v[None])
    if project.hints:
        h = load_hints(project.hints, round(height / sy), round(width / sx)).scaled(sx, sy)
        starts.append(h.starts)
        vectors.append(h.vectors)
    if not entries:
        raise InputError(
            "motion",
            "a region (--mask, --click, --sky or --labelme) for the arrows/hints/anchors/freeze to act on",
            "no region",
        )
    masks = [e[1] for e in entries]
    if starts:
        hints = MotionHints(torch.cat(starts).float(), torch.cat(vectors).float())
        per_region = assign_hints(masks, hints)
    else:
        per_region = [MotionHints.empty() for _ in masks]
    regions = []
    videos: dict = {}
    for (name, mask, speed, spec), h in zip(entries, per_region):
        base = _base_field(spec, mask, videos)
        if len(h) == 0 and base is None:
            raise InputError(
                name, "a motion: an arrow starting in or near it, a --prompt or a --motion-video", "none"
            )
        kind = "sky" if spec is not None and spec.sky else "water"  # the sky gets no turbulence
        regions.append(MotionRegion(mask, h, float(speed), base=base, kind=kind))
    anchors = None
    if project.anchors:
        scaled = [[x * sx, y * sy] for x, y in project.anchors]
        anchors = check_points(scaled, height, width, name="--anchor")
    return motion_field(
        height, width, regions, anchors=anchors, freeze=freeze, settings=MotionSettings(speed=project.speed)
    )


def estimated_motion_field(project: Project, image, neural):
    """The Eulerian field of the neural preset's motion estimator for ``project``'s masks, with
    the project's own controls applied as :func:`~cinemagraph3d.motion.motion_field` applies
    them to drawn motion: each mask's region speed (``region_speeds``; where masks overlap the
    later one wins), the global ``speed``, a zero notch at every anchor and zero inside the
    freeze masks.

    Args:
        project: a project for which :func:`wants_motion_estimator` holds.
        image: the ``(3, H, W)`` working photo.
        neural: a :class:`~cinemagraph3d.neural.NeuralPreset` with a motion estimator.

    Returns:
        :class:`~cinemagraph3d.types.MotionField` in px/step.
    """
    from .motion import MotionSettings, anchor_notch, check_points, load_mask
    from .neural import estimate_motion
    from .types import MotionField

    _, height, width = image.shape
    masks = [load_mask(m, height, width, name=f"--mask {m}") for m in project.masks]
    union = torch.zeros(height, width, dtype=torch.bool)
    scale = torch.zeros(height, width)
    speeds = list(project.region_speeds) or [1.0] * len(masks)
    for m, sp in zip(masks, speeds):
        union |= m
        scale[m] = float(sp)
    field = estimate_motion(neural, image, union)
    flow = field.flow * (scale * float(project.speed))[None]
    if project.anchors:
        sx, sy = coordinate_scale(project, height, width)
        pts = check_points([[x * sx, y * sy] for x, y in project.anchors], height, width, name="anchors")
        sigma = max(1.0, MotionSettings().anchor_sigma * max(height, width))
        flow = flow * anchor_notch(pts, height, width, sigma)
    keep = union.clone()
    for f in project.freeze:
        keep &= ~load_mask(f, height, width, name=f"--freeze {f}")
    flow = torch.where(keep[None], flow, torch.zeros((), dtype=flow.dtype)) + 0.0
    return MotionField(flow.float(), keep[None].float())


def build_motion(project: Project, height: int, width: int, image=None):
    """Integrated forward/backward displacements of ``project`` (``None`` when nothing moves)."""
    from .motion import integrate_motion

    field = build_motion_field(project, height, width, image)
    if field is None:
        return None
    return integrate_motion(field, project.loop_steps)
