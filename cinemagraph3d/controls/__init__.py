"""Controls beyond drawn masks and arrows: click-to-mask, motion prompts, motion from a reference
video and the automatic sky. Each returns masks or dense fields that plug into
:class:`cinemagraph3d.motion.MotionRegion` (``mask``, ``base``).

Typical use::

    mask = segment_clicks(image, clicks=[[120.5, 300.5]], unclicks=[[200.5, 310.5]])
    base = prompt_field("flow left fast", mask)
    field = motion_field(H, W, [MotionRegion(mask, MotionHints.empty(), base=base)])

See ``docs/controls.md``.
"""

from .prompts import (
    KNOWN_PROMPTS,
    MAGNITUDE_NAMES,
    PROMPT_VERBS,
    MotionPrompt,
    parse_magnitude,
    parse_prompt,
    prompt_field,
    resolve_magnitude,
)
from .segment import SegmentSettings, check_clicks, draw_mask_overlay, load_sam, segment_clicks
from .sky import SKY_ADVICE, SKY_PROMPT, SkyDetection, SkySettings, detect_sky, sky_candidates
from .transfer import (
    VIDEO_FITS,
    VideoMotionSettings,
    estimate_video_motion,
    load_video_frames,
    transfer_motion,
)

__all__ = [
    "KNOWN_PROMPTS",
    "MAGNITUDE_NAMES",
    "PROMPT_VERBS",
    "MotionPrompt",
    "parse_magnitude",
    "parse_prompt",
    "prompt_field",
    "resolve_magnitude",
    "SegmentSettings",
    "check_clicks",
    "draw_mask_overlay",
    "load_sam",
    "segment_clicks",
    "SKY_ADVICE",
    "SKY_PROMPT",
    "SkyDetection",
    "SkySettings",
    "detect_sky",
    "sky_candidates",
    "VIDEO_FITS",
    "VideoMotionSettings",
    "estimate_video_motion",
    "load_video_frames",
    "transfer_motion",
]
