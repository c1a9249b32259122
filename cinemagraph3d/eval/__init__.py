"""Evaluation: quality metrics, analytic ground-truth scenes, baselines and a quality report.

Typical use::

    from cinemagraph3d.eval import run_suite, format_tables
    result = run_suite("tiny")
    print(format_tables(result)[0])

or the ``cinemagraph3d eval`` command (:mod:`cinemagraph3d.cli.eval`). The metrics
(:mod:`.metrics`) work on any video; the scenes (:mod:`.scenes`) give exact frames, depth, masks,
hints and motion; the baselines (:mod:`.baselines`) are the still photo, 2-D animation without
parallax, the forward splat only, and the full method. See ``docs/quality.md`` for the current numbers.
"""

from typing import TYPE_CHECKING

# Imported on first use (PEP 562): ``cinemagraph3d eval`` registers its sub-command without
# loading torch; ``from cinemagraph3d.eval import run_suite`` works as usual.
from .._lazy import lazy_getattr

_LAZY = {
    "METHODS": ".baselines",
    "MethodOutput": ".baselines",
    "render_method": ".baselines",
    "static_trajectory": ".baselines",
    "zoomed_trajectory": ".baselines",
    "SUITES": ".harness",
    "Case": ".harness",
    "EvalResult": ".harness",
    "Suite": ".harness",
    "get_suite": ".harness",
    "motion_from_hints": ".harness",
    "run_suite": ".harness",
    "score_video": ".harness",
    "endpoint_error": ".metrics",
    "frame_changes": ".metrics",
    "hole_ratio": ".metrics",
    "loop_seam_score": ".metrics",
    "lpips_available": ".metrics",
    "lpips_distance": ".metrics",
    "motion_epe": ".metrics",
    "optical_flow": ".metrics",
    "psnr": ".metrics",
    "ssim": ".metrics",
    "ssim_map": ".metrics",
    "static_stability": ".metrics",
    "warp": ".metrics",
    "warping_error": ".metrics",
    "comparison_picture": ".report",
    "format_tables": ".report",
    "report_markdown": ".report",
    "write_report": ".report",
    "SCENES": ".scenes",
    "AnalyticMotion": ".scenes",
    "AnalyticScene": ".scenes",
    "InputTruth": ".scenes",
    "VideoTruth": ".scenes",
    "input_truth": ".scenes",
    "make_scene": ".scenes",
    "video_truth": ".scenes",
}

if TYPE_CHECKING:
    from .baselines import METHODS, MethodOutput, render_method, static_trajectory, zoomed_trajectory
    from .harness import SUITES, Case, EvalResult, Suite, get_suite, motion_from_hints, run_suite, score_video
    from .metrics import (
        endpoint_error,
        frame_changes,
        hole_ratio,
        loop_seam_score,
        lpips_available,
        lpips_distance,
        motion_epe,
        optical_flow,
        psnr,
        ssim,
        ssim_map,
        static_stability,
        warp,
        warping_error,
    )
    from .report import comparison_picture, format_tables, report_markdown, write_report
    from .scenes import (
        SCENES,
        AnalyticMotion,
        AnalyticScene,
        InputTruth,
        VideoTruth,
        input_truth,
        make_scene,
        video_truth,
    )


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "METHODS",
    "SCENES",
    "SUITES",
    "AnalyticMotion",
    "AnalyticScene",
    "Case",
    "EvalResult",
    "InputTruth",
    "MethodOutput",
    "Suite",
    "VideoTruth",
    "comparison_picture",
    "endpoint_error",
    "format_tables",
    "frame_changes",
    "get_suite",
    "hole_ratio",
    "input_truth",
    "loop_seam_score",
    "lpips_available",
    "lpips_distance",
    "make_scene",
    "motion_epe",
    "motion_from_hints",
    "optical_flow",
    "psnr",
    "render_method",
    "report_markdown",
    "run_suite",
    "score_video",
    "ssim",
    "ssim_map",
    "static_stability",
    "static_trajectory",
    "video_truth",
    "warp",
    "warping_error",
    "write_report",
    "zoomed_trajectory",
]
