"""The motion stage's entry: a :class:`~cinemagraph3d.project.MotionSpec` → Eulerian
:class:`~cinemagraph3d.types.MotionField` → integrated :class:`~cinemagraph3d.motion.Displacements`.

Rules:
- Regions, numbered in this order: every ``masks`` entry, the ``motion*`` polygons of a labelme
  file (one region), then every :class:`~cinemagraph3d.project.RegionSpec` of ``regions``.
  ``region_speeds`` pair with ``masks``; a ``RegionSpec`` carries its own speed.
- A ``RegionSpec``'s mask comes from its mask file, from click-to-mask on its clicks
  (:func:`~cinemagraph3d.controls.segment_clicks`; SAM when ``sam_checkpoint`` is set) or from
  the sky detector (:func:`~cinemagraph3d.controls.detect_sky`; no sky found is an error here).
- A region's dense *base* field is the sum of its prompts' fields
  (:func:`~cinemagraph3d.controls.prompt_field`) and of the motion transferred from its reference
  video (:func:`~cinemagraph3d.controls.transfer_motion`).
- Arrows (``[x0, y0, x1, y1]`` numbers, and labelme ``hint*`` lines) are drawn lines: a line of
  ``L`` pixels means ``L × DEFAULT_HINT_SCALE`` (0.02) pixels per motion step, so a 50-px arrow is
  1 px/step. Hints files give ``dx, dy`` in px/step directly. Each hint drives every region
  containing its start; a hint inside no region drives the nearest. Inside a region the
  interpolated arrows are *added* to its base field.
- A region with neither arrows nor a base field is an error; arrows, hints, anchors or a freeze
  mask without any region are an error too (there would be nothing to animate).
- Anchors force the field to 0 at their pixel (Gaussian notch); the freeze masks (union) force
  it to 0 everywhere inside.
- Clicks, arrows, anchors and hints are in pixels of the photo as displayed; ``scale``
  ``(sx, sy)`` maps them to the working image (see :func:`coordinate_scale`).
- The learned estimator (:func:`estimated_motion_field`) drives masks that have no arrows, with
  the same region speeds, global speed, anchors and freeze applied.
"""

from __future__ import annotations

import torch

from ..errors import InputError
from ..ops import check_shape
from ..project import MotionSpec, RegionSpec
from ..types import MotionField
from .integrate import Displacements

__all__ = [
    "coordinate_scale",
    "estimated_motion_field",
    "build_motion_field",
    "build_motion",
    "build_region_masks",
    "has_motion_inputs",
    "wants_motion_estimator",
]


def coordinate_scale(photo_size: tuple[int, int], height: int, width: int) -> tuple[float, float]:
    """``(sx, sy)`` from the photo's own pixel coordinates to the working image's.

    Args:
        photo_size: ``(W0, H0)`` of the photo as displayed.
        height, width: the working image's size.


    Clicks, arrows, anchors and hints files are given in pixels of the photo as it is displayed
    (EXIF orientation applied), like labelme files; with ``max_side`` the working image is
    smaller and these coordinates (and arrow lengths, hint vectors) are scaled by ``W / W0``
    and ``H / H0``. Mask images are resized to the working size.
    """
    w0, h0 = photo_size
    if (w0, h0) == (width, height):
        return 1.0, 1.0
    return width / w0, height / h0


def wants_motion_estimator(spec: MotionSpec, preset: str = "neural") -> bool:
    """Whether ``spec`` leaves the motion to the neural preset's estimator: masks but no arrows,
    hints, labelme or other regions (used when the weights hold ``motion_estimator``)."""
    no_hints = not (spec.arrows or spec.hints or spec.labelme or spec.regions)
    return preset == "neural" and bool(spec.masks) and no_hints


def has_motion_inputs(spec: MotionSpec) -> bool:
    """Whether ``spec`` asks for any fluid motion (regions, arrows, hints, anchors, freeze)."""
    return spec.has_inputs


def _check_image(image) -> tuple[int, int]:
    dims = check_shape(image, (3, "H", "W"), "image")
    return dims["H"], dims["W"]


def _spec_mask(region: RegionSpec, name: str, spec: MotionSpec, image, scale, sky_mask=None) -> torch.Tensor:
    from ..controls import SegmentSettings, detect_sky, segment_clicks
    from .hints import load_mask

    _, height, width = image.shape
    if region.mask is not None:
        return load_mask(region.mask, height, width, name=f"{name}.mask {region.mask}")
    if region.sky:
        if sky_mask is not None:  # detected already by the caller (e.g. the automatic sky)
            return sky_mask.to(image.device)
        det = detect_sky(image)
        if not det.found:
            raise InputError(f"{name}.sky", "a photo with a sky the detector finds", det.note)
        return det.mask.to(image.device)
    settings = SegmentSettings(
        method="sam" if spec.sam_checkpoint else "grabcut", sam_checkpoint=spec.sam_checkpoint
    )
    sx, sy = scale
    clicks = [[x * sx, y * sy] for x, y in region.clicks]
    unclicks = [[x * sx, y * sy] for x, y in region.unclicks]
    return segment_clicks(image, clicks, unclicks, settings)


def _collect(spec: MotionSpec, image, scale, sky_mask=None):
    """Regions as ``(name, mask, speed, region spec)``, the freeze mask (or None) and the
    labelme hints (or None)."""
    from .hints import load_labelme, load_mask

    height, width = _check_image(image)
    entries = []
    speeds = list(spec.region_speeds) or [1.0] * len(spec.masks)
    for k, (m, sp) in enumerate(zip(spec.masks, speeds)):
        mask = load_mask(m, height, width, name=f"motion.masks[{k}] {m}")
        entries.append((f"region {len(entries) + 1}", mask, sp, None))
    lm_hints = None
    if spec.labelme:
        lm_mask, lm_hints = load_labelme(spec.labelme, height, width)
        entries.append((f"region {len(entries) + 1}", lm_mask, 1.0, None))
    for k, region in enumerate(spec.regions):
        name = f"motion.regions[{k}]"
        entries.append((f"region {len(entries) + 1}", _spec_mask(region, name, spec, image, scale, sky_mask),
                        region.speed, region))  # fmt: skip
    freeze = None
    for k, f in enumerate(spec.freeze):
        fm = load_mask(f, height, width, name=f"motion.freeze[{k}] {f}")
        freeze = fm if freeze is None else freeze | fm
    return entries, freeze, lm_hints


def build_region_masks(spec: MotionSpec, image: torch.Tensor, scale=(1.0, 1.0), sky_mask=None):
    """Masks of every region of ``spec`` and the freeze mask (for checks and overlays).

    Args:
        spec: a validated :class:`~cinemagraph3d.project.MotionSpec`.
        image: the ``(3, H, W)`` working photo (clicks and the sky segment it).
        scale: ``(sx, sy)`` from the photo's pixels to the working image's.
        sky_mask: the ``(H, W)`` sky of ``image`` when already detected (sky regions use it).

    Returns:
        ``(masks, freeze)``: a list of ``(H, W)`` bool tensors in region order, and the union of
        the freeze masks (or None).
    """
    entries, freeze, _ = _collect(spec, image, scale, sky_mask)
    return [e[1] for e in entries], freeze


def _base_field(region: RegionSpec | None, mask: torch.Tensor, videos: dict):
    from ..controls import (
        VideoMotionSettings,
        estimate_video_motion,
        load_video_frames,
        parse_prompt,
        prompt_field,
        transfer_motion,
    )

    if region is None:
        return None
    base = None
    for p in region.prompts:
        f = prompt_field(parse_prompt(p.text, p.magnitude), mask)
        base = f if base is None else base + f
    if region.video is not None:
        v = region.video
        key = (v.path, v.max_frames)
        if key not in videos:
            frames = load_video_frames(v.path, v.max_frames)
            videos[key] = estimate_video_motion(frames, VideoMotionSettings(max_frames=v.max_frames))
        f = transfer_motion(videos[key], mask, fit=v.fit, scale=float(v.scale), rotate=float(v.rotate))
        base = f if base is None else base + f
    return base


def build_motion_field(
    spec: MotionSpec, image: torch.Tensor, scale=(1.0, 1.0), sky_mask=None
) -> MotionField | None:
    """The Eulerian :class:`~cinemagraph3d.types.MotionField` of ``spec`` (px/step at the
    working size), or ``None`` when ``spec`` asks for no motion.

    Args:
        spec: a validated :class:`~cinemagraph3d.project.MotionSpec`.
        image: the ``(3, H, W)`` working photo in [0, 1].
        scale: ``(sx, sy)`` from the photo's pixels (clicks, arrows, anchors, hints) to the
            working image's (:func:`coordinate_scale`).
        sky_mask: the ``(H, W)`` sky of ``image`` when already detected (sky regions use it).

    Raises:
        InputError: a region without motion, hints without a region, a point outside the image.
    """
    from .field import MotionRegion, MotionSettings, assign_hints, motion_field
    from .hints import DEFAULT_HINT_SCALE, MotionHints, arrow_hint, check_points, load_hints

    if not spec.has_inputs:
        return None
    height, width = _check_image(image)
    entries, freeze, lm_hints = _collect(spec, image, scale, sky_mask)
    starts, vectors = [], []
    if lm_hints is not None:
        starts.append(lm_hints.starts)
        vectors.append(lm_hints.vectors)
    sx, sy = scale
    for k, a in enumerate(spec.arrows):
        x0, y0, x1, y1 = (float(v) for v in a)
        s, v = arrow_hint((x0 * sx, y0 * sy, x1 * sx, y1 * sy), height, width, scale=DEFAULT_HINT_SCALE,
                          name=f"motion.arrows[{k}]")  # fmt: skip
        starts.append(s[None])
        vectors.append(v[None])
    if spec.hints:
        h = load_hints(spec.hints, round(height / sy), round(width / sx)).scaled(sx, sy)
        starts.append(h.starts)
        vectors.append(h.vectors)
    if not entries:
        raise InputError(
            "motion",
            "a region (a mask, clicks, the sky or a labelme file) for the arrows/hints/anchors/freeze to act on",
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
    for (name, mask, speed, region), h in zip(entries, per_region):
        base = _base_field(region, mask, videos)
        if len(h) == 0 and base is None:
            raise InputError(
                name, "a motion: an arrow starting in or near it, a prompt or a reference video", "none"
            )
        kind = "sky" if region is not None and region.sky else "water"  # the sky gets no turbulence
        regions.append(MotionRegion(mask, h, float(speed), base=base, kind=kind))
    anchors = None
    if spec.anchors:
        scaled = [[x * sx, y * sy] for x, y in spec.anchors]
        anchors = check_points(scaled, height, width, name="motion.anchors")
    return motion_field(
        height, width, regions, anchors=anchors, freeze=freeze, settings=MotionSettings(speed=spec.speed)
    )


def estimated_motion_field(spec: MotionSpec, image: torch.Tensor, estimator, scale=(1.0, 1.0)) -> MotionField:
    """The Eulerian field of the learned motion estimator for ``spec``'s masks, with the spec's
    own controls applied as :func:`~cinemagraph3d.motion.motion_field` applies them to drawn
    motion: each mask's region speed (``region_speeds``; where masks overlap the later one
    wins), the global ``speed``, a zero notch at every anchor and zero inside the freeze masks.

    Args:
        spec: a motion spec for which :func:`wants_motion_estimator` holds.
        image: the ``(3, H, W)`` working photo.
        estimator: a :class:`~cinemagraph3d.models.MotionEstimator` (``models.motion``).
        scale: ``(sx, sy)`` from the photo's pixels to the working image's.

    Returns:
        :class:`~cinemagraph3d.types.MotionField` in px/step.
    """
    from .field import MotionSettings, anchor_notch
    from .hints import check_points, load_mask
    from .learned import estimate_motion

    height, width = _check_image(image)
    dev = image.device
    masks = [
        load_mask(m, height, width, name=f"motion.masks[{k}] {m}").to(dev) for k, m in enumerate(spec.masks)
    ]
    union = torch.zeros(height, width, dtype=torch.bool, device=dev)
    gain = torch.zeros(height, width, device=dev)
    speeds = list(spec.region_speeds) or [1.0] * len(masks)
    for m, sp in zip(masks, speeds):
        union |= m
        gain[m] = float(sp)
    field = estimate_motion(estimator, image, union)
    flow = field.flow * (gain * float(spec.speed))[None]
    if spec.anchors:
        sx, sy = scale
        pts = check_points([[x * sx, y * sy] for x, y in spec.anchors], height, width, name="motion.anchors")
        sigma = max(1.0, MotionSettings().anchor_sigma * max(height, width))
        flow = flow * anchor_notch(pts.to(dev), height, width, sigma).to(dev)
    keep = union.clone()
    for k, f in enumerate(spec.freeze):
        keep &= ~load_mask(f, height, width, name=f"motion.freeze[{k}] {f}").to(dev)
    flow = torch.where(keep[None], flow, torch.zeros((), dtype=flow.dtype, device=dev)) + 0.0
    return MotionField(flow.float(), keep[None].float())


def build_motion(
    spec: MotionSpec, image: torch.Tensor, scale=(1.0, 1.0), estimator=None, sky_mask=None
) -> Displacements | None:
    """The whole motion stage: ``spec`` → field (drawn, or from ``estimator`` when
    :func:`wants_motion_estimator` holds) → integrated forward/backward
    :class:`~cinemagraph3d.motion.Displacements` over ``spec.loop_steps`` steps (``None`` when
    nothing moves).

    Args:
        spec: a validated :class:`~cinemagraph3d.project.MotionSpec`.
        image: the ``(3, H, W)`` working photo.
        scale: ``(sx, sy)`` photo pixels → working pixels.
        estimator: the learned motion estimator, or None (drawn motion only).
        sky_mask: the ``(H, W)`` sky of ``image`` when already detected.
    """
    from .integrate import integrate_motion

    if estimator is not None and wants_motion_estimator(spec):
        field = estimated_motion_field(spec, image, estimator, scale)
    else:
        field = build_motion_field(spec, image, scale, sky_mask)
    if field is None:
        return None
    return integrate_motion(field, spec.loop_steps)
